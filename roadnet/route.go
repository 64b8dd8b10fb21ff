package roadnet

import (
	"context"
	"math"
	"sort"

	"github.com/convoi/convoi"
)

// RouteOptions changes what a route may use. The zero value is the fastest
// route, answered by the contraction hierarchy; any avoidance or penalty
// switches to an A* search (still exact for the modified costs). On graphs
// that price turns (OSM) both search the turn graph (turns.go), so that the
// route is the fastest with its turns; DIMACS graphs search the road graph.
type RouteOptions struct {
	// Avoid lists chokepoint kinds whose edges are never used (except the
	// edges the route starts or ends on).
	Avoid Kind
	// AvoidEdges lists edges never used (except the start and end edges).
	AvoidEdges []EdgeID
	// Penalty, when not nil, holds an additive cost per edge (indexed by
	// EdgeID, len NumEdges), in cost units (ms for OSM graphs). Penalties
	// steer the search; the route's Cost stays the real travel cost.
	Penalty []uint32
}

func (o *RouteOptions) plain() bool {
	return o.Avoid == 0 && len(o.AvoidEdges) == 0 && o.Penalty == nil
}

func (g *Graph) checkOptions(o *RouteOptions) error {
	if o.Penalty != nil && len(o.Penalty) != len(g.head) {
		return convoi.Errorf(convoi.EINVALID, "Penalty must have one entry per edge (%d), got %d.", len(g.head), len(o.Penalty))
	}
	for _, e := range o.AvoidEdges {
		if int(e) >= len(g.head) {
			return convoi.Errorf(convoi.EINVALID, "Edge %d does not exist.", e)
		}
	}
	return nil
}

// Path is a route reduced to its edges: what repeated planners need.
type Path struct {
	From, To RoadPoint
	// Edges in travel order. The first and last may be used in part:
	// from FirstFraction of Edges[0] and up to LastFraction of the last.
	Edges         []EdgeID
	FirstFraction float64
	LastFraction  float64
	// Cost is the real travel cost of the edges (ms for OSM graphs, the
	// exact sum of arc weights for DIMACS), without the turns between
	// them (Graph.TurnCost); PenalizedCost adds the caller's penalties.
	Cost          int64
	PenalizedCost int64
}

// Route is a path with everything a crew and a planner need.
type Route struct {
	// Cost is the path's search cost (Path.Cost): edge times with the
	// point delays (signals, toll booths, ...) folded in.
	Cost int64 `json:"cost"`
	// DurationS is the driving time: Cost plus TurnS, the time lost
	// turning at junctions along the path (the car profile's turn
	// costs, docs/roadnet.md). Routes from ShortestPath, Route and the
	// first of Alternatives are those of least DurationS. Segment starts
	// and chokepoint offsets include the turns before them.
	DurationS float64         `json:"duration_s"`
	TurnS     float64         `json:"turn_s"`
	DistanceM float64         `json:"distance_m"`
	Geometry  []convoi.LatLon `json:"geometry"`
	Segments  []Segment       `json:"segments"`
	// Chokepoints passed, in order, with their time from departure.
	Chokepoints []Passage `json:"chokepoints"`
	Path        Path      `json:"-"`
}

// Segment is one edge (or part of one) of a route.
type Segment struct {
	Edge      EdgeID  `json:"edge"`
	WayID     int64   `json:"way_id,omitempty"`
	DistanceM float64 `json:"distance_m"`
	DurationS float64 `json:"duration_s"`
	StartS    float64 `json:"start_s"` // time from departure at the segment's start
	Kinds     Kind    `json:"kinds,omitempty"`
}

// Passage is a chokepoint on a route.
type Passage struct {
	Chokepoint
	OffsetS float64 `json:"offset_s"` // time from departure
}

// ShortestPath returns the cheapest path from one position to another under
// opt. It is an ENOTFOUND error when there is none.
func (g *Graph) ShortestPath(ctx context.Context, from, to RoadPoint, opt RouteOptions) (Path, error) {
	if err := g.validRoadPoint(from); err != nil {
		return Path{}, err
	}
	if err := g.validRoadPoint(to); err != nil {
		return Path{}, err
	}
	if err := g.checkOptions(&opt); err != nil {
		return Path{}, err
	}
	st := g.getState()
	defer g.putState(st)
	return g.shortestPath(ctx, st, from, to, &opt)
}

func (g *Graph) shortestPath(ctx context.Context, st *state, from, to RoadPoint, opt *RouteOptions) (Path, error) {
	if g.turns != nil {
		return g.turnShortestPath(ctx, st, from, to, opt)
	}
	var sbuf, tbuf [2]seed
	src := g.sourceSeeds(sbuf[:0], from)
	dst := g.targetSeeds(tbuf[:0], to)
	if from.Edge == NoEdge && to.Edge == NoEdge && from.Node == to.Node {
		return Path{From: from, To: to}, nil
	}
	var h *hierarchy
	if opt.plain() {
		h = &g.hierarchy
	}
	best, meet, p, done, err := g.pathSearch(ctx, st, h, st.fwd, st.bwd, g.roadSpace(), src, dst, from, to, opt)
	if done {
		return p, err
	}
	var mid []EdgeID
	if opt.plain() {
		mid = chPath(&g.hierarchy, st.fwd, st.bwd, meet, mid)
	} else {
		for v := meet; st.fwd.Pred[v] != math.MaxUint32; v = g.tail[st.fwd.Pred[v]] {
			mid = append(mid, EdgeID(st.fwd.Pred[v]))
		}
		for i, j := 0, len(mid)-1; i < j; i, j = i+1, j-1 {
			mid[i], mid[j] = mid[j], mid[i]
		}
	}
	start, end := meet, meet
	if len(mid) > 0 {
		start, end = g.tail[mid[0]], g.head[mid[len(mid)-1]]
	}
	p.FirstFraction, p.LastFraction = 0, 1
	if from.Edge != NoEdge {
		e, f := g.pickSource(from, start)
		p.Edges = append(p.Edges, EdgeID(e))
		p.FirstFraction = f
	}
	p.Edges = append(p.Edges, mid...)
	if to.Edge != NoEdge {
		e, f := g.pickTarget(to, end)
		p.Edges = append(p.Edges, EdgeID(e))
		p.LastFraction = f
	}
	if from.Edge == NoEdge && len(p.Edges) > 0 {
		p.FirstFraction = 0
	}
	p.Cost = g.pathCost(&p)
	p.PenalizedCost = best
	if opt.plain() {
		p.PenalizedCost = p.Cost
	}
	return p, nil
}

// pathSearch runs the hierarchy h with f and b (when h is not nil) or the
// A* on sp from src to dst, and weighs the direct candidate: done is true
// when p (the direct path) or err (ENOTFOUND, a cancelled context) is the
// answer. Otherwise p has only its ends set and best and meet are the
// search's.
func (g *Graph) pathSearch(ctx context.Context, st *state, h *hierarchy, f, b *search, sp searchSpace, src, dst []seed, from, to RoadPoint, opt *RouteOptions) (best int64, meet uint32, p Path, done bool, err error) {
	dcost, de, dfs, dft := g.direct(from, to)
	if h != nil {
		best, meet = h.chQuery(f, b, src, dst)
	} else if best, meet, err = g.astar(ctx, st, f, sp, src, dst, opt, dcost); err != nil {
		return 0, 0, Path{}, true, err
	}
	p = Path{From: from, To: to}
	if dcost != Infinity && dcost <= best {
		p.Edges = []EdgeID{EdgeID(de)}
		p.FirstFraction, p.LastFraction = dfs, dft
		p.Cost, p.PenalizedCost = dcost, dcost
		return best, meet, p, true, nil
	}
	if best == Infinity {
		return 0, 0, Path{}, true, convoi.Errorf(convoi.ENOTFOUND, "No route between these positions.")
	}
	return best, meet, p, false, nil
}

// pickSource returns the edge (and start fraction) by which a route from p
// reaches node n first.
func (g *Graph) pickSource(p RoadPoint, n uint32) (uint32, float64) {
	e := uint32(p.Edge)
	best, be, bf := Infinity, e, p.Fraction
	if g.head[e] == n {
		best = int64(g.weight[e]) - g.edgeOffset(e, p.Fraction)
	}
	if t := g.twin[e]; t != math.MaxUint32 && g.head[t] == n {
		if c := int64(g.weight[t]) - g.edgeOffset(t, 1-p.Fraction); c < best {
			be, bf = t, 1-p.Fraction
		}
	}
	return be, bf
}

// pickTarget returns the edge (and end fraction) by which a route leaving
// node n reaches p.
func (g *Graph) pickTarget(p RoadPoint, n uint32) (uint32, float64) {
	e := uint32(p.Edge)
	best, be, bf := Infinity, e, p.Fraction
	if g.tail[e] == n {
		best = g.edgeOffset(e, p.Fraction)
	}
	if t := g.twin[e]; t != math.MaxUint32 && g.tail[t] == n {
		if c := g.edgeOffset(t, 1-p.Fraction); c < best {
			be, bf = t, 1-p.Fraction
		}
	}
	return be, bf
}

// pathCost sums the (partial) edge costs of p exactly as the searches do.
func (g *Graph) pathCost(p *Path) int64 {
	var c int64
	for i, e := range p.Edges {
		a, b := 0.0, 1.0
		if i == 0 {
			a = p.FirstFraction
		}
		if i == len(p.Edges)-1 {
			b = p.LastFraction
		}
		if a == 0 && b == 1 {
			c += int64(g.weight[e])
		} else {
			c += g.edgeOffset(uint32(e), b) - g.edgeOffset(uint32(e), a)
		}
	}
	return c
}

// searchSpace is the graph an A* runs on, as arcs in compressed rows: the
// road graph (search nodes are road nodes, arc i is edge i) or the turn
// graph (search nodes are edges, arc i enters edge head[i], and node v lies
// at the road node at the head of edge v).
type searchSpace struct {
	first, head, weight []uint32
	turns               bool
}

func (g *Graph) roadSpace() searchSpace { return searchSpace{g.firstOut, g.head, g.weight, false} }

func (g *Graph) turnSpace() searchSpace {
	t := g.turns
	return searchSpace{t.first, t.baseHead, t.baseWeight, true}
}

// astar searches sp with f (pathSearch gives st.fwd, or st.tf on the turn graph) from src to dst
// under opt: avoidances and penalties apply to the road edge each arc
// enters. bound is a cost already achievable (the direct candidate). It
// returns the best cost and the search node where the best path reaches a
// target seed.
func (g *Graph) astar(ctx context.Context, st *state, f *search, sp searchSpace, src, dst []seed, opt *RouteOptions, bound int64) (int64, uint32, error) {
	if len(dst) == 0 { // a node without in-edges: only the direct candidate
		return bound, math.MaxUint32, nil
	}
	st.avoid.Reset(len(g.head))
	for _, e := range opt.AvoidEdges {
		st.avoid.Add(uint32(e))
	}
	at := func(v uint32) uint32 { return v }
	if sp.turns {
		at = func(v uint32) uint32 { return g.head[v] }
	}
	// Heuristic towards the target point: straight line minus the seeds'
	// own spread, times the cheapest cost per metre of any edge.
	tgt := at(dst[0].node)
	var spread float64
	for _, s := range dst {
		if d := haversineE7(g.lat[at(s.node)], g.lon[at(s.node)], g.lat[tgt], g.lon[tgt]); d > spread {
			spread = d
		}
	}
	h := func(v uint32) int64 {
		if g.costPerM == 0 {
			return 0
		}
		v = at(v)
		d := haversineE7(g.lat[v], g.lon[v], g.lat[tgt], g.lon[tgt]) - spread
		if d <= 0 {
			return 0
		}
		return int64(d * g.costPerM)
	}
	f.Reset()
	for _, s := range src {
		f.Relax(s.node, s.cost, h(s.node), math.MaxUint32)
	}
	best, meet := bound, uint32(math.MaxUint32)
	for pops := 0; !f.Empty() && f.MinKey() < best; pops++ {
		if pops&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
		}
		u := f.Pop()
		du := f.Dist[u]
		for _, s := range dst {
			if s.node == u && du+s.cost < best {
				best, meet = du+s.cost, u
			}
		}
		for i := sp.first[u]; i < sp.first[u+1]; i++ {
			e := i
			if sp.turns {
				e = sp.head[i]
			}
			if g.kinds[e]&opt.Avoid != 0 || st.avoid.Has(e) {
				continue
			}
			c := du + int64(sp.weight[i])
			if opt.Penalty != nil {
				c += int64(opt.Penalty[e])
			}
			v := sp.head[i]
			if !f.Settled(v) {
				f.Relax(v, c, h(v), i)
			}
		}
	}
	if meet == math.MaxUint32 {
		return bound, meet, nil
	}
	return best, meet, nil
}

// Route returns the route from one position to another under opt, with its
// geometry, per-segment times and chokepoints. ENOTFOUND when there is none.
func (g *Graph) Route(ctx context.Context, from, to RoadPoint, opt RouteOptions) (*Route, error) {
	p, err := g.ShortestPath(ctx, from, to, opt)
	if err != nil {
		return nil, err
	}
	return g.PathRoute(p), nil
}

// RouteLatLon snaps both coordinates and returns the route between them.
func (g *Graph) RouteLatLon(ctx context.Context, from, to convoi.LatLon, opt RouteOptions) (*Route, error) {
	a, err := g.SnapSource(from)
	if err != nil {
		return nil, err
	}
	b, err := g.SnapTarget(to)
	if err != nil {
		return nil, err
	}
	return g.Route(ctx, a, b, opt)
}

// PathRoute expands a path into a full route: geometry, segments and
// chokepoints.
func (g *Graph) PathRoute(p Path) *Route { return g.expand(p, partsAll) }

// parts selects what expand builds besides the figures.
type parts uint8

const (
	partGeometry parts = 1 << iota
	partSegments
	partChokepoints
	partsAll = partGeometry | partSegments | partChokepoints
)

// expand builds the route of p with the parts in want; the figures (cost,
// duration, distance) always. A part not wanted stays nil.
func (g *Graph) expand(p Path, want parts) *Route {
	r := &Route{Path: p, Cost: p.Cost}
	var t, turns int64 // time from departure, of which in turns
	// The whole-road chokepoints of the previous edge: a way cut into
	// several edges (a tunnel between two junctions, a roundabout) is
	// one passage, however many kinds it has.
	var prevWhole, curWhole []Chokepoint
	inPrev := func(cp Chokepoint) bool {
		for _, w := range prevWhole {
			if w.Kind == cp.Kind && w.OSMType == cp.OSMType && w.OSMID == cp.OSMID {
				return true
			}
		}
		return false
	}
	for i, e := range p.Edges {
		a, b := 0.0, 1.0
		if i == 0 {
			a = p.FirstFraction
		}
		if i == len(p.Edges)-1 {
			b = p.LastFraction
		}
		ue := uint32(e)
		if i > 0 {
			tc := g.turnCost(uint32(p.Edges[i-1]), ue)
			t += tc
			turns += tc
		}
		c := int64(g.weight[ue])
		if a != 0 || b != 1 {
			c = g.edgeOffset(ue, b) - g.edgeOffset(ue, a)
		}
		dist := float64(g.dist[ue]) * (b - a)
		r.DistanceM += dist
		if want&partSegments != 0 {
			r.Segments = append(r.Segments, Segment{Edge: e, WayID: g.roadWay[g.road[ue]>>1], DistanceM: dist,
				DurationS: g.Duration(c), StartS: g.Duration(t), Kinds: g.kinds[ue]})
		}
		rd, rev := g.road[ue]>>1, g.road[ue]&1 == 1
		var geo []convoi.LatLon
		var cum []float64
		var total float64
		if want&partGeometry != 0 || want&partChokepoints != 0 && g.roadCPFirst[rd] < g.roadCPFirst[rd+1] {
			geo, cum = g.edgeShape(ue)
			total = cum[len(cum)-1]
		}
		if want&partGeometry != 0 {
			// The part of the polyline between fractions a and b.
			pts := cutPolyline(geo, cum, a*total, b*total)
			if len(r.Geometry) > 0 && len(pts) > 0 && r.Geometry[len(r.Geometry)-1] == pts[0] {
				pts = pts[1:]
			}
			r.Geometry = append(r.Geometry, pts...)
		}
		if want&partChokepoints == 0 {
			t += c
			continue
		}
		first := len(r.Chokepoints)
		for k := g.roadCPFirst[rd]; k < g.roadCPFirst[rd+1]; k++ {
			cp := g.cps[g.roadCP[k]]
			pos := g.roadCPPos[k]
			if pos < 0 {
				if inPrev(cp) {
					continue
				}
				r.Chokepoints = append(r.Chokepoints, Passage{cp, g.Duration(t)})
				continue
			}
			idx := int(pos)
			if rev {
				idx = len(cum) - 1 - idx
			}
			fi := 0.0
			if total > 0 {
				fi = cum[idx] / total
			}
			if fi > a && fi <= b || i == 0 && fi == a {
				off := t + g.edgeOffset(ue, fi) - g.edgeOffset(ue, a)
				r.Chokepoints = append(r.Chokepoints, Passage{cp, g.Duration(off)})
			}
		}
		sort.SliceStable(r.Chokepoints[first:], func(x, y int) bool {
			return r.Chokepoints[first+x].OffsetS < r.Chokepoints[first+y].OffsetS
		})
		curWhole = curWhole[:0]
		for k := g.roadCPFirst[rd]; k < g.roadCPFirst[rd+1]; k++ {
			if g.roadCPPos[k] < 0 {
				curWhole = append(curWhole, g.cps[g.roadCP[k]])
			}
		}
		prevWhole, curWhole = curWhole, prevWhole
		t += c
	}
	r.DurationS, r.TurnS = g.Duration(p.Cost+turns), g.Duration(turns)
	if want&partGeometry != 0 && len(r.Geometry) == 0 {
		r.Geometry = []convoi.LatLon{p.From.LatLon}
	}
	if want&partChokepoints != 0 && r.Chokepoints == nil {
		r.Chokepoints = []Passage{}
	}
	return r
}

// edgeShape returns e's polyline in travel direction and the cumulative
// distance at each point.
func (g *Graph) edgeShape(e uint32) ([]convoi.LatLon, []float64) {
	pts := g.EdgeGeometry(nil, EdgeID(e))
	cum := make([]float64, len(pts))
	for i := 1; i < len(pts); i++ {
		cum[i] = cum[i-1] + pts[i-1].DistanceM(pts[i])
	}
	return pts, cum
}

// cutPolyline returns the part of pts between distances a and b.
func cutPolyline(pts []convoi.LatLon, cum []float64, a, b float64) []convoi.LatLon {
	at := func(d float64) convoi.LatLon {
		i := sort.SearchFloat64s(cum, d)
		if i <= 0 {
			return pts[0]
		}
		if i >= len(pts) {
			return pts[len(pts)-1]
		}
		l := cum[i] - cum[i-1]
		if l <= 0 {
			return pts[i]
		}
		t := (d - cum[i-1]) / l
		p, q := pts[i-1], pts[i]
		return convoi.LatLon{Lat: p.Lat + t*(q.Lat-p.Lat), Lon: p.Lon + t*(q.Lon-p.Lon)}
	}
	out := []convoi.LatLon{at(a)}
	for i := range pts {
		if cum[i] > a && cum[i] < b {
			out = append(out, pts[i])
		}
	}
	if end := at(b); end != out[len(out)-1] {
		out = append(out, end)
	}
	return out
}
