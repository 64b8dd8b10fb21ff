package roadnet

import (
	"context"
	"math"
	"sort"
)

// AlternativeOptions bounds the alternatives Alternatives returns. Zero
// fields take the defaults.
type AlternativeOptions struct {
	// K is how many routes to return at most, the fastest included. Default 3.
	K int
	// MaxStretch: an alternative takes at most MaxStretch times the
	// fastest's time, turns included. Default 1.4.
	MaxStretch float64
	// MaxOverlap: an alternative shares at most this share of its cost
	// with any route returned before it. Default 0.7.
	MaxOverlap float64
	// LocalOptimality: every alternative is a shortest path over the
	// stretch of cost LocalOptimality x fastest around its via node.
	// Default 0.25.
	LocalOptimality float64
}

func (o *AlternativeOptions) defaults() {
	if o.K <= 0 {
		o.K = 3
	}
	if o.MaxStretch <= 1 {
		o.MaxStretch = 1.4
	}
	if o.MaxOverlap <= 0 || o.MaxOverlap > 1 {
		o.MaxOverlap = 0.7
	}
	if o.LocalOptimality <= 0 {
		o.LocalOptimality = 0.25
	}
}

// maxAltCandidates bounds the via nodes tried, so that a query stays fast.
const maxAltCandidates = 40

// Alternatives returns up to K diverse routes, the fastest first, by the
// via-node method on the hierarchy: each alternative is the fastest route
// to a via node followed by the fastest route from it, within MaxStretch,
// overlapping earlier routes by at most MaxOverlap, and locally optimal
// around its via node. ENOTFOUND when there is no route at all. The via
// nodes are drawn from the road graph's (node-based) search spaces; the
// routes to and from them, and the local-optimality test, are turn-aware
// where the graph prices turns (the turn at the via node itself is paid in
// the duration but not weighed in the choice).
func (g *Graph) Alternatives(ctx context.Context, from, to RoadPoint, opt AlternativeOptions) ([]*Route, error) {
	opt.defaults()
	paths, err := g.AlternativePaths(ctx, from, to, opt)
	if err != nil {
		return nil, err
	}
	out := make([]*Route, len(paths))
	for i, p := range paths {
		out[i] = g.PathRoute(p)
	}
	return out, nil
}

// AlternativePaths is Alternatives without the geometry.
func (g *Graph) AlternativePaths(ctx context.Context, from, to RoadPoint, opt AlternativeOptions) ([]Path, error) {
	opt.defaults()
	best, err := g.ShortestPath(ctx, from, to, RouteOptions{})
	if err != nil {
		return nil, err
	}
	paths := []Path{best}
	if opt.K == 1 || best.Cost == 0 {
		return paths, nil
	}
	st := g.getState()
	defer g.putState(st)
	// Full upward search spaces from both ends.
	f, b := st.fwd, st.bwd
	f.Reset()
	b.Reset()
	for _, s := range g.sourceSeeds(nil, from) {
		f.Relax(s.node, s.cost, 0, math.MaxUint32)
	}
	for _, s := range g.targetSeeds(nil, to) {
		b.Relax(s.node, s.cost, 0, math.MaxUint32)
	}
	up, down := g.upward(), g.downward()
	for !f.Empty() {
		u := f.Pop()
		g.relaxArcs(f, u, f.Dist[u], &up)
	}
	for !b.Empty() {
		u := b.Pop()
		g.relaxArcs(b, u, b.Dist[u], &down)
	}
	// Durations with the turns (equal to Cost on DIMACS graphs); the
	// node-based estimates below never exceed them, so they stay a valid
	// first filter.
	limit := int64(float64(best.Cost+g.turnsOf(best.Edges)) * opt.MaxStretch)
	type cand struct {
		v   uint32
		est int64
	}
	var cands []cand
	// tried marks the nodes of the fastest route and of every via path
	// computed: a candidate on one would give that path again.
	st.tried.Reset(len(g.lat))
	for _, e := range best.Edges {
		st.tried.Add(g.head[e])
	}
	for _, v := range f.Touched {
		if db := b.Get(v); db != Infinity && !st.tried.Has(v) {
			if est := f.Dist[v] + db; est <= limit {
				cands = append(cands, cand{v, est})
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		return cands[i].est < cands[j].est || cands[i].est == cands[j].est && cands[i].v < cands[j].v
	})
	if len(cands) > maxAltCandidates {
		cands = cands[:maxAltCandidates]
	}
	// From here on st's searches serve the via-path and T-test queries:
	// the candidates keep all they need of the search spaces.
	edgeSets := []map[EdgeID]bool{edgeSet(best.Edges)}
	for _, c := range cands {
		if len(paths) >= opt.K {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.tried.Has(c.v) {
			continue
		}
		p, ok := g.viaPath(ctx, st, from, to, NodeID(c.v))
		if !ok || p.Cost+g.turnsOf(p.Edges) > limit {
			continue
		}
		for _, e := range p.Edges {
			st.tried.Add(g.head[e])
		}
		if !g.simple(st, p) {
			continue
		}
		okOverlap := true
		for _, q := range edgeSets {
			if float64(g.sharedCost(p, q)) > opt.MaxOverlap*float64(p.Cost) {
				okOverlap = false
				break
			}
		}
		if !okOverlap || !g.locallyOptimal(ctx, st, p, NodeID(c.v), int64(opt.LocalOptimality*float64(best.Cost))) {
			continue
		}
		paths = append(paths, p)
		edgeSets = append(edgeSets, edgeSet(p.Edges))
	}
	return paths, nil
}

func edgeSet(es []EdgeID) map[EdgeID]bool {
	m := make(map[EdgeID]bool, len(es))
	for _, e := range es {
		m[e] = true
	}
	return m
}

// sharedCost is the cost of p's full edges that are in q. Partial end edges
// count as their used part.
func (g *Graph) sharedCost(p Path, q map[EdgeID]bool) int64 {
	var c int64
	for i, e := range p.Edges {
		if !q[e] && (g.twin[e] == math.MaxUint32 || !q[EdgeID(g.twin[e])] || i != 0 && i != len(p.Edges)-1) {
			continue
		}
		c += g.partCost(p, i)
	}
	return c
}

// partCost is the cost of the i-th edge of p as p uses it.
func (g *Graph) partCost(p Path, i int) int64 {
	e := uint32(p.Edges[i])
	a, b := 0.0, 1.0
	if i == 0 {
		a = p.FirstFraction
	}
	if i == len(p.Edges)-1 {
		b = p.LastFraction
	}
	if a == 0 && b == 1 {
		return int64(g.weight[e])
	}
	return g.edgeOffset(e, b) - g.edgeOffset(e, a)
}

// viaPath is the fastest route from -> v followed by v -> to, searched
// with st.
func (g *Graph) viaPath(ctx context.Context, st *state, from, to RoadPoint, v NodeID) (Path, bool) {
	vp := RoadPoint{Edge: NoEdge, Node: v, LatLon: g.NodeLatLon(v)}
	var plain RouteOptions
	a, err := g.shortestPath(ctx, st, from, vp, &plain)
	if err != nil {
		return Path{}, false
	}
	b, err := g.shortestPath(ctx, st, vp, to, &plain)
	if err != nil {
		return Path{}, false
	}
	p := Path{From: from, To: to, FirstFraction: 0, LastFraction: 1}
	p.Edges = append(append([]EdgeID(nil), a.Edges...), b.Edges...)
	if len(a.Edges) > 0 {
		p.FirstFraction = a.FirstFraction
	} else if len(b.Edges) > 0 {
		p.FirstFraction = b.FirstFraction
	}
	if len(b.Edges) > 0 {
		p.LastFraction = b.LastFraction
	} else if len(a.Edges) > 0 {
		p.LastFraction = a.LastFraction
	}
	if len(a.Edges) == 0 || len(b.Edges) == 0 {
		return Path{}, false
	}
	p.Cost = g.pathCost(&p)
	p.PenalizedCost = p.Cost
	return p, true
}

// simple reports whether p visits no node twice, marking nodes in st.
func (g *Graph) simple(st *state, p Path) bool {
	st.seen.Reset(len(g.lat))
	for _, e := range p.Edges {
		if st.seen.Has(g.head[e]) {
			return false
		}
		st.seen.Add(g.head[e])
	}
	return true
}

// locallyOptimal runs the T-test: the subpath of p from T/2 before v to T/2
// after v (clamped to p's full edges) must be a fastest route.
func (g *Graph) locallyOptimal(ctx context.Context, st *state, p Path, v NodeID, t int64) bool {
	a, z, ok := localWindow(g, p, v, t)
	if !ok {
		return true
	}
	// With the turns between the window's edges: shortestPath searches
	// the turn graph where the graph prices turns (0 otherwise).
	sub := g.turnsOf(p.Edges[a : z+1])
	for i := a; i <= z; i++ {
		sub += int64(g.weight[p.Edges[i]])
	}
	sp, _ := g.NodePoint(NodeID(g.tail[p.Edges[a]]))
	tp, _ := g.NodePoint(NodeID(g.head[p.Edges[z]]))
	var plain RouteOptions
	q, err := g.shortestPath(ctx, st, sp, tp, &plain)
	return err == nil && q.Cost+g.turnsOf(q.Edges) == sub
}

// localWindow returns the indices of the first and last full edges of p
// within t/2 of v on either side. ok is false when the window is empty.
func localWindow(g *Graph, p Path, v NodeID, t int64) (a, z int, ok bool) {
	k := -1 // index of the edge ending at v
	for i, e := range p.Edges {
		if NodeID(g.head[e]) == v {
			k = i
			break
		}
	}
	if k < 0 {
		return 0, 0, false
	}
	lo, hi := 0, len(p.Edges)-1
	if p.From.Edge != NoEdge {
		lo = 1
	}
	if p.To.Edge != NoEdge {
		hi--
	}
	a, z = k+1, k
	for sum := int64(0); a-1 >= lo && sum < t/2; {
		a--
		sum += int64(g.weight[p.Edges[a]])
	}
	for sum := int64(0); z+1 <= hi && sum < t/2; {
		z++
		sum += int64(g.weight[p.Edges[z]])
	}
	if a > z || a < lo || z > hi {
		return 0, 0, false
	}
	return a, z, true
}
