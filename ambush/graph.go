package ambush

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/graphsearch"
)

// game is an Instance compiled for the solver on its corridor (see
// compile): dense indices, adjacency in compressed rows, sites attached to
// nodes and edges. Node, edge and site indices are the corridor's; nodeID,
// edgeID and siteID map them back to the instance's. Immutable once built;
// per-query scratch lives in an oracle.
type game struct {
	in     *Instance
	n      int
	nodeID []int32
	edgeID []int32
	siteID []int32
	// siteAt, siteEdge and siteNode describe each site: its place along
	// its edge, and its edge or node (-1 for the other).
	siteAt             []float64
	siteEdge, siteNode []int32
	head               []int32   // edge -> target node
	tail               []int32   // edge -> source node
	etime              []float64 // edge -> travel time
	out                []int32   // CSR offsets, len n+1 (allowed edges only)
	outE               []int32
	inFirst            []int32 // the same for edges into each node
	inE                []int32
	nodeS              [][]int32 // node -> sites on it
	edgeS              [][]int32 // edge -> sites on it
	siteP              []float64
	lbT                []float64 // lower bound on time to destination
	lbO                []float64 // lower bound on time from origin
	origin             int32
	dest               int32
	timed              bool // attacker windows are modelled
	windows            []Window
	// byStart lists the windows by start, with their starts in starts
	// and the longest length in maxLen: windowsAt looks only at those
	// that start within maxLen before a time.
	byStart []int32
	starts  []float64
	maxLen  float64
	nw      int // number of attacker windows (1 when static)
	bound   float64
	maxDur  []float64 // per slot: longest admissible route
	// fastest route and its duration
	fastest    *route
	usual      int
	feasibleFn []bool // per slot: the fastest route meets the deadline
	// The crew rule (setCrewRule): nearOf(v) are the other nodes within
	// retRadius metres of v, nearAt[nearFirst[v]:nearFirst[v+1]] (one
	// array, for the searches' locality); a route may not pass within
	// retRadius of a node it passed retGap seconds or more earlier. nil
	// nearFirst: off.
	nearFirst []int32
	nearAt    []int32
	retRadius float64
	retGap    float64
	// fastRule: the fastest route keeps the crew rule (the searches may
	// then cut a way off as soon as it breaks the rule; see
	// oracle.breaksRule).
	fastRule bool
	// nearT[v] is the earliest offset a route can be at v after coming
	// back near a node it passed retGap earlier: retGap plus the least
	// lbO of nearOf(v) (+Inf when it is empty).
	nearT []float64
	// lookBack is how many labels back along a way the timed searches
	// look for a return that breaks the rule (crewLookBack; 0: none,
	// for tests).
	lookBack int
}

// route is one origin-destination path with the sites it passes.
type route struct {
	edges []int32
	dur   float64
	pass  []passage // sorted by site, then offset
	key   string
}

// passage is the time offset from departure at which a route passes a site.
type passage struct {
	site int32
	off  float64
}

// compile builds the game of an instance on its corridor: the nodes and
// edges some admissible route can use. A node v is in the corridor when
// lbO(v) + lbT(v), the fastest route through it, is within the longest
// admissible duration and it lies on some simple path from the origin to
// the destination (graphsearch.OnSimplePath: not in a dead end or a part
// hung on one node, which a route could only leave the way it came); an
// edge when the fastest route through it is within that duration and both
// its ends are in the corridor. The sites elsewhere no admissible route
// passes: they can never hit, so leaving them out of the game changes no
// payoff, and every search, bound and table of the solver scales with the
// corridor instead of the map. It validates the instance first
// (Instance.Validate's errors) and reuses the index of the nodes that
// validation builds.
func compile(in *Instance) (*game, error) {
	x, err := in.validate()
	if err != nil {
		return nil, err
	}
	n, nodeIdx := len(in.Nodes), x.node
	forbid := make(map[string]bool, len(in.Forbid))
	for _, f := range in.Forbid {
		forbid[f] = true
	}
	tagged := func(tags []string) bool {
		for _, t := range tags {
			if forbid[t] {
				return true
			}
		}
		return false
	}
	nodeOK := make([]bool, n)
	for i, nd := range in.Nodes {
		nodeOK[i] = !tagged(nd.Tags)
	}
	// The whole map first, for the bounds that decide the corridor.
	m := len(in.Edges)
	head, tail, etime := x.head, x.tail, make([]float64, m)
	allowed := make([]bool, m)
	for i, e := range in.Edges {
		u, v := tail[i], head[i]
		etime[i] = e.TimeS
		allowed[i] = nodeOK[u] && nodeOK[v] && !tagged(e.Tags) && u != v
	}
	origin, dest := nodeIdx[in.Origin], nodeIdx[in.Destination]
	if !nodeOK[origin] || !nodeOK[dest] {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance: the origin or destination carries a forbidden tag.")
	}
	full := &game{n: n, head: head, tail: tail, etime: etime}
	full.rows(allowed)
	// Exact times to the destination (the pruning bound) and from the origin.
	s := graphsearch.New[float64](n, math.Inf(1))
	graphsearch.Dijkstra(s, full.backward(), []int32{dest}, graphsearch.Options[float64]{})
	lbT := distances(s)
	fastest := lbT[origin]
	if math.IsInf(fastest, 1) {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance: no allowed route from %q to %q.", in.Origin, in.Destination)
	}
	// The search from the origin need not go past the stretch bound.
	bound := fastest * in.stretch()
	graphsearch.Dijkstra(s, full.forward(), []int32{origin}, graphsearch.Options[float64]{Lower: lbT, Bound: bound + 1e-9*math.Max(1, bound)})
	lbO := distances(s)

	g := &game{in: in, bound: bound}
	g.maxDur = make([]float64, len(in.Slots))
	g.feasibleFn = make([]bool, len(in.Slots))
	g.usual = -1
	for s, t := range in.Slots {
		g.maxDur[s] = g.bound
		if in.Deadline != nil {
			g.maxDur[s] = math.Min(g.bound, *in.Deadline-t)
		}
		g.feasibleFn[s] = g.admissible(fastest, s)
		if g.feasibleFn[s] {
			g.usual = s
		}
	}
	if g.usual < 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance: no departure slot lets even the fastest route (%.0f s) arrive before the deadline.", fastest)
	}
	if in.UsualSlot != nil {
		if !g.feasibleFn[*in.UsualSlot] {
			return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance: the usual slot %d cannot meet the deadline.", *in.UsualSlot)
		}
		g.usual = *in.UsualSlot
	}

	// The corridor, numbered in the instance's order: first what the time
	// bounds admit, then of that only what lies on some simple route.
	limit := g.staticMaxDur()
	limit += 1e-9 * math.Max(1, limit)
	var cand, candEdge []int32 // nodes and edges within the time bounds
	local := make([]int32, n)
	for v := range n {
		local[v] = -1
		if lbO[v]+lbT[v] <= limit {
			local[v] = int32(len(cand))
			cand = append(cand, int32(v))
		}
	}
	var ct, ch []int32
	for e := range m {
		if allowed[e] && local[tail[e]] >= 0 && local[head[e]] >= 0 && lbO[tail[e]]+etime[e]+lbT[head[e]] <= limit {
			candEdge = append(candEdge, int32(e))
			ct, ch = append(ct, local[tail[e]]), append(ch, local[head[e]])
		}
	}
	on := graphsearch.OnSimplePath(len(cand), ct, ch, local[origin], local[dest])
	for i, v := range cand {
		local[v] = -1
		if on[i] {
			local[v] = int32(len(g.nodeID))
			g.nodeID = append(g.nodeID, v)
		}
	}
	edgeLocal := make([]int32, m)
	for e := range edgeLocal {
		edgeLocal[e] = -1
	}
	for _, e := range candEdge {
		if local[tail[e]] >= 0 && local[head[e]] >= 0 {
			edgeLocal[e] = int32(len(g.edgeID))
			g.edgeID = append(g.edgeID, e)
		}
	}
	g.n = len(g.nodeID)
	g.lbT, g.lbO = make([]float64, g.n), make([]float64, g.n)
	for lv, v := range g.nodeID {
		g.lbT[lv], g.lbO[lv] = lbT[v], lbO[v]
	}
	mc := len(g.edgeID)
	g.head, g.tail, g.etime = make([]int32, mc), make([]int32, mc), make([]float64, mc)
	for le, e := range g.edgeID {
		g.head[le], g.tail[le], g.etime[le] = local[head[e]], local[tail[e]], etime[e]
	}
	g.rows(nil)
	g.nodeS, g.edgeS = make([][]int32, g.n), make([][]int32, mc)
	for j, st := range in.Sites {
		le, lv := int32(-1), int32(-1)
		if st.Edge != nil {
			if le = edgeLocal[*st.Edge]; le < 0 {
				continue
			}
		} else if lv = local[nodeIdx[st.Node]]; lv < 0 {
			continue
		}
		lj := int32(len(g.siteID))
		g.siteID = append(g.siteID, int32(j))
		g.siteP = append(g.siteP, st.P)
		g.siteAt = append(g.siteAt, st.At)
		g.siteEdge = append(g.siteEdge, le)
		g.siteNode = append(g.siteNode, lv)
		if le >= 0 {
			g.edgeS[le] = append(g.edgeS[le], lj)
		} else {
			g.nodeS[lv] = append(g.nodeS[lv], lj)
		}
	}
	g.origin, g.dest = local[origin], local[dest]
	g.timed = len(in.Windows) > 0
	g.windows = in.Windows
	g.byStart = make([]int32, len(g.windows))
	for w := range g.byStart {
		g.byStart[w] = int32(w)
		g.maxLen = math.Max(g.maxLen, g.windows[w].End()-g.windows[w].Start())
	}
	slices.SortStableFunc(g.byStart, func(a, b int32) int { return cmp.Compare(g.windows[a].Start(), g.windows[b].Start()) })
	g.starts = make([]float64, len(g.byStart))
	for k, w := range g.byStart {
		g.starts[k] = g.windows[w].Start()
	}
	g.nw = max(1, len(in.Windows))
	o := newOracle(g)
	r, _, ok := o.best(nil, -1, g.bound, math.Inf(1))
	if !ok {
		return nil, convoi.Errorf(convoi.EINTERNAL, "Ambush instance: fastest route not found.")
	}
	g.fastest, g.fastRule = r, true // a fastest route visits no node twice
	g.lookBack = crewLookBack
	return g, nil
}

// rows builds the forward and backward compressed rows of the edges that
// allowed admits (nil: all) from head and tail.
func (g *game) rows(allowed []bool) {
	g.out, g.inFirst = make([]int32, g.n+1), make([]int32, g.n+1)
	for e := range g.head {
		if allowed == nil || allowed[e] {
			g.out[g.tail[e]+1]++
			g.inFirst[g.head[e]+1]++
		}
	}
	for i := 0; i < g.n; i++ {
		g.out[i+1] += g.out[i]
		g.inFirst[i+1] += g.inFirst[i]
	}
	g.outE, g.inE = make([]int32, g.out[g.n]), make([]int32, g.inFirst[g.n])
	fill, fillIn := slices.Clone(g.out[:g.n]), slices.Clone(g.inFirst[:g.n])
	for e := range g.head {
		if allowed == nil || allowed[e] {
			u, v := g.tail[e], g.head[e]
			g.outE[fill[u]] = int32(e)
			fill[u]++
			g.inE[fillIn[v]] = int32(e)
			fillIn[v]++
		}
	}
}

// setCrewRule turns on the crew-acceptability rule: an admissible route
// never comes back within radiusM metres of a node it passed gapS seconds
// or more earlier (a U-turn, a loop round a block, the opposite carriageway
// of a road already driven). The rule needs node coordinates: an instance
// with a node at (0, 0) leaves it off, and so does radiusM <= 0. The
// fastest route is the reference and stays admissible whatever its shape.
func (g *game) setCrewRule(radiusM, gapS float64) {
	g.nearFirst, g.nearAt, g.nearT, g.retRadius, g.retGap = nil, nil, nil, radiusM, gapS
	defer g.checkFastRule()
	if radiusM <= 0 {
		return
	}
	for _, n := range g.in.Nodes {
		if n.Lat == 0 && n.Lon == 0 {
			return
		}
	}
	// Local planar metres and a grid of radiusM cells.
	lat0 := g.in.Nodes[0].Lat * math.Pi / 180
	const mPerDeg = 111_195.0
	x, y := make([]float64, g.n), make([]float64, g.n)
	type cell struct{ i, j int64 }
	grid := map[cell][]int32{}
	cellOf := func(v int) cell {
		return cell{int64(math.Floor(x[v] / radiusM)), int64(math.Floor(y[v] / radiusM))}
	}
	for v, iv := range g.nodeID {
		n := g.in.Nodes[iv]
		x[v], y[v] = n.Lon*mPerDeg*math.Cos(lat0), n.Lat*mPerDeg
		c := cellOf(v)
		grid[c] = append(grid[c], int32(v))
	}
	g.nearFirst, g.nearT = make([]int32, g.n+1), make([]float64, g.n)
	r2 := radiusM * radiusM
	for v := range g.n {
		c := cellOf(v)
		g.nearT[v] = math.Inf(1)
		for di := int64(-1); di <= 1; di++ {
			for dj := int64(-1); dj <= 1; dj++ {
				for _, u := range grid[cell{c.i + di, c.j + dj}] {
					if dx, dy := x[u]-x[v], y[u]-y[v]; int(u) != v && dx*dx+dy*dy < r2 {
						g.nearAt = append(g.nearAt, u)
						g.nearT[v] = math.Min(g.nearT[v], gapS+g.lbO[u])
					}
				}
			}
		}
		g.nearFirst[v+1] = int32(len(g.nearAt))
	}
}

// nearOf returns the nodes within the crew rule's radius of v (the rule
// must be on: nearFirst not nil).
func (g *game) nearOf(v int32) []int32 {
	return g.nearAt[g.nearFirst[v]:g.nearFirst[v+1]]
}

// checkFastRule sets fastRule: whether the fastest route (the reference,
// admissible whatever its shape) keeps the crew rule.
func (g *game) checkFastRule() {
	g.fastRule = true
	if g.fastest != nil {
		seen := make([]float64, g.n)
		for v := range seen {
			seen[v] = -1
		}
		g.fastRule = g.acceptable(g.fastest.edges, seen)
	}
}

// acceptable reports whether a route passes the crew rule: it visits no
// node twice and, when the rule is on, never comes back within retRadius of
// a node passed retGap seconds or more earlier. seen is per-node scratch
// of g.n entries, all negative on entry and on return.
func (g *game) acceptable(edges []int32, seen []float64) bool {
	ok := true
	v, t := g.origin, 0.0
	seen[v] = 0
	var k int
	for k = 0; k < len(edges) && ok; k++ {
		e := edges[k]
		t += g.etime[e]
		v = g.head[e]
		if seen[v] >= 0 {
			ok = false
			break
		}
		if g.nearFirst != nil {
			for _, u := range g.nearOf(v) {
				if seen[u] >= 0 && t-seen[u] >= g.retGap {
					ok = false
					break
				}
			}
		}
		seen[v] = t
	}
	seen[g.origin] = -1
	for _, e := range edges[:min(k+1, len(edges))] {
		seen[g.head[e]] = -1
	}
	return ok
}

// fastestS returns the fastest admissible travel time of an instance,
// whatever its schedule.
func fastestS(in *Instance) (float64, error) {
	c := *in
	c.Deadline, c.UsualSlot, c.Slots, c.Windows = nil, nil, []float64{0}, nil
	g, err := compile(&c)
	if err != nil {
		return 0, err
	}
	return g.fastest.dur, nil
}

// passRange returns the offsets from departure between which a route of
// duration at most maxDur can pass site j, from the forward and backward
// time bounds (lo > hi: none can).
func (g *game) passRange(j int32, maxDur float64) (lo, hi float64) {
	if e := g.siteEdge[j]; e >= 0 {
		at := g.siteAt[j]
		return g.lbO[g.tail[e]] + at*g.etime[e], maxDur - g.lbT[g.head[e]] - (1-at)*g.etime[e]
	}
	v := g.siteNode[j]
	return g.lbO[v], maxDur - g.lbT[v]
}

// admissible reports whether a route of duration dur may depart at slot.
func (g *game) admissible(dur float64, slot int) bool {
	return dur <= g.maxDur[slot]+1e-9*math.Max(1, g.maxDur[slot])
}

// staticMaxDur is the longest admissible route in the static game: the one
// that still meets the deadline from the earliest slot.
func (g *game) staticMaxDur() float64 {
	return slices.Max(g.maxDur)
}

// makeRoute builds a route from its edges, computing its passages.
func (g *game) makeRoute(edges []int32) *route {
	r := &route{edges: edges}
	var t float64
	for _, j := range g.nodeS[g.origin] {
		r.pass = append(r.pass, passage{j, 0})
	}
	var b strings.Builder
	for i, e := range edges {
		for _, j := range g.edgeS[e] {
			r.pass = append(r.pass, passage{j, t + g.siteAt[j]*g.etime[e]})
		}
		t += g.etime[e]
		for _, j := range g.nodeS[g.head[e]] {
			r.pass = append(r.pass, passage{j, t})
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(e)))
	}
	r.dur, r.key = t, b.String()
	slices.SortFunc(r.pass, func(a, b passage) int {
		if a.site != b.site {
			return int(a.site - b.site)
		}
		return cmp.Compare(a.off, b.off)
	})
	return r
}

// windowsAt appends to dst the indices of the windows containing t (in no
// particular order): those that start at or before t, and no more than
// the longest window's length before it.
func (g *game) windowsAt(dst []int, t float64) []int {
	k, _ := slices.BinarySearch(g.starts, math.Nextafter(t, math.Inf(1)))
	for k--; k >= 0 && g.starts[k] > t-g.maxLen-1; k-- {
		if w := g.byStart[k]; g.windows[w].Contains(t) {
			dst = append(dst, int(w))
		}
	}
	return dst
}

// hits calls fn(site, window) once for every attacker strategy that hits
// route r departing at slot s (slot < 0 in the static game).
func (g *game) hits(r *route, s int, scratch []int, fn func(site int32, w int)) []int {
	for i := 0; i < len(r.pass); {
		j := r.pass[i].site
		k := i
		for k < len(r.pass) && r.pass[k].site == j {
			k++
		}
		if !g.timed {
			fn(j, 0)
		} else {
			scratch = scratch[:0]
			for _, p := range r.pass[i:k] {
				scratch = g.windowsAt(scratch, g.in.Slots[s]+p.off)
			}
			slices.Sort(scratch)
			for q, w := range scratch {
				if q == 0 || scratch[q-1] != w {
					fn(j, w)
				}
			}
		}
		i = k
	}
	return scratch
}

// payoff is the hit probability of attacker (site j, window w) against route r at slot s.
func (g *game) payoff(r *route, s int, j int32, w int) float64 {
	i, found := slices.BinarySearchFunc(r.pass, j, func(p passage, j int32) int { return int(p.site - j) })
	if !found {
		return 0
	}
	if !g.timed {
		return g.siteP[j]
	}
	for ; i < len(r.pass) && r.pass[i].site == j; i++ {
		if g.windows[w].Contains(g.in.Slots[s] + r.pass[i].off) {
			return g.siteP[j]
		}
	}
	return 0
}

// forward is the game's graph as a search from the origin walks it.
func (g *game) forward() graphsearch.Graph[float64] {
	return graphsearch.Graph[float64]{First: g.out, Arc: g.outE, Other: g.head, Weight: g.etime}
}

// backward is the game's graph as a search towards the destination walks it.
func (g *game) backward() graphsearch.Graph[float64] {
	return graphsearch.Graph[float64]{First: g.inFirst, Arc: g.inE, Other: g.tail, Weight: g.etime}
}

// distances returns the distances of a finished search, +Inf where it did
// not reach.
func distances(s *graphsearch.Search[float64]) []float64 {
	d := make([]float64, s.Len())
	for v := range d {
		d[v] = s.Get(uint32(v))
	}
	return d
}
