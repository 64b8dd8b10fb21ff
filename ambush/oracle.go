package ambush

import (
	"math"
	"slices"

	"github.com/convoi/convoi/internal/graphsearch"
)

// penalties are the defender's costs in a best-response query: additive
// per-edge and per-node costs (the static game, or route diversification),
// and, in the timed game, per-site costs that apply only inside windows.
type penalties struct {
	edge []float64 // per edge; nil means zero
	node []float64 // per node, paid on arrival (and at the origin); nil means zero
	site [][]siteCost
	// hotEdge and hotNode, when not nil, hold the edges and nodes with a
	// site that has costs: the others are passed without a look at their
	// sites.
	hotEdge, hotNode *graphsearch.Set
	// used lists the sites with costs in site (for potential).
	used []int32
}

// siteCost is the attacker's weight on (site, window) times the site's hit probability.
type siteCost struct {
	w  int
	wt float64
}

// label is a partial route in the label-setting search.
type label struct {
	node   int32
	edge   int32 // edge that reached node, -1 at the origin
	parent int32 // label index, -1 at the origin
	cell   int32 // its (node, time bucket) cell in a bucketed search
	pen, t float64
}

// oracle answers best-response queries on one game. Not safe for concurrent
// use: it owns per-query scratch.
type oracle struct {
	g       *game
	labels  []label
	pq      *graphsearch.Heap[float64, float64] // label indices by (pen + h, t + lbT)
	minT    []float64
	touched []int32
	// bucketed dominance: least popped time per (node, bucket), valid
	// when bstamp equals gen; qpen and qt are a label queued in the cell
	// (per node and bucket, or per node without buckets), valid when
	// qstamp equals gen.
	bmin, qpen, qt []float64
	bstamp, qstamp []uint32
	gen            uint32
	// bases caches bucketBase per slot for buckets of width baseWidth.
	bases     map[int][]float64
	baseWidth float64
	// crew rule: per-node scratch for acceptable (all -1 between uses).
	seen []float64
	// relaxed searches ignore the crew rule (for lower bounds); rejected
	// counts the routes a search turned down for breaking it, after which
	// the label-setting search is no longer exact.
	relaxed  bool
	rejected int
	// byTime breaks ties by time alone, not by the earliest possible
	// arrival (for tests: the routes must be the same).
	byTime bool
	// dfs state for exact timed queries
	onPath   []bool
	pathT    []float64
	dfsEdges []int32
	dfsBest  []int32
	dfsBud   int
	// pot is potential's state.
	pot costToGo
}

func newOracle(g *game) *oracle {
	o := &oracle{g: g, minT: make([]float64, g.n), seen: make([]float64, g.n), pq: graphsearch.NewQueue[float64, float64]()}
	for i := range o.minT {
		o.minT[i] = math.Inf(1)
		o.seen[i] = -1
	}
	return o
}

// accept reports whether a route found by a search passes the crew rule
// (the fastest route always does: it is the reference).
func (o *oracle) accept(edges []int32) bool {
	g := o.g
	if g.fastest != nil && len(edges) == len(g.fastest.edges) && slices.Equal(edges, g.fastest.edges) {
		return true
	}
	return g.acceptable(edges, o.seen)
}

// charge adds c to the additive penalty of site j's edge or node.
func (p *penalties) charge(g *game, j int32, c float64) {
	if e := g.siteEdge[j]; e >= 0 {
		p.edge[e] += c
	} else {
		p.node[g.siteNode[j]] += c
	}
}

// staticPen returns the static game's additive costs of the attacker mix
// y over cols: each site's weight times its p, on its edge or node.
func (g *game) staticPen(cols []column, y []float64) *penalties {
	p := &penalties{edge: make([]float64, len(g.etime)), node: make([]float64, g.n)}
	for c, col := range cols {
		if y[c] > 0 {
			p.charge(g, col.site, y[c]*g.siteP[col.site])
		}
	}
	return p
}

// mixCosts returns the timed site costs of the attacker mix y over cols:
// per site, the weight of each of its windows times the site's p, and the
// sites that have any.
func (g *game) mixCosts(cols []column, y []float64) *penalties {
	p := &penalties{site: make([][]siteCost, len(g.siteP))}
	p.used = g.fillMixCosts(p.site, nil, cols, y)
	return p
}

// fillMixCosts is mixCosts into site, which holds costs for the sites in
// used (emptied first, keeping their storage); it returns the new used.
func (g *game) fillMixCosts(site [][]siteCost, used []int32, cols []column, y []float64) []int32 {
	for _, j := range used {
		site[j] = site[j][:0]
	}
	used = used[:0]
	for c, col := range cols {
		if c < len(y) && y[c] > 0 {
			if len(site[col.site]) == 0 {
				used = append(used, col.site)
			}
			site[col.site] = append(site[col.site], siteCost{w: col.w, wt: y[c] * g.siteP[col.site]})
		}
	}
	return used
}

// sitePen is the timed cost of passing site j at absolute time t.
func (p *penalties) sitePen(g *game, j int32, t float64) float64 {
	var c float64
	for _, sc := range p.site[j] {
		if g.windows[sc.w].Contains(t) {
			c += sc.wt
		}
	}
	return c
}

// stepPen is the cost of traversing edge e entered at offset t from a
// departure at slotT.
func (p *penalties) stepPen(g *game, e int32, t, slotT float64) float64 {
	var c float64
	if p == nil {
		return 0
	}
	if p.edge != nil {
		c += p.edge[e]
	}
	v := g.head[e]
	if p.node != nil {
		c += p.node[v]
	}
	if p.site != nil {
		if p.hotEdge == nil || p.hotEdge.Has(uint32(e)) {
			for _, j := range g.edgeS[e] {
				if len(p.site[j]) > 0 {
					c += p.sitePen(g, j, slotT+t+g.siteAt[j]*g.etime[e])
				}
			}
		}
		if p.hotNode == nil || p.hotNode.Has(uint32(v)) {
			for _, j := range g.nodeS[v] {
				if len(p.site[j]) > 0 {
					c += p.sitePen(g, j, slotT+t+g.etime[e])
				}
			}
		}
	}
	return c
}

// routeCost is the timed cost of route r departing at slotT, or some value
// at least limit once the cost reaches it (the terms are non-negative).
func (p *penalties) routeCost(g *game, r *route, slotT, limit float64) float64 {
	return p.passCost(g, r.pass, slotT, limit)
}

// passCost is routeCost over the passages pass.
func (p *penalties) passCost(g *game, pass []passage, slotT, limit float64) float64 {
	var c float64
	for _, ps := range pass {
		if len(p.site[ps.site]) > 0 {
			if c += p.sitePen(g, ps.site, slotT+ps.off); c >= limit {
				return c
			}
		}
	}
	return c
}

func (p *penalties) startPen(g *game, slotT float64) float64 {
	var c float64
	if p == nil {
		return 0
	}
	if p.node != nil {
		c += p.node[g.origin]
	}
	if p.site != nil {
		for _, j := range g.nodeS[g.origin] {
			if len(p.site[j]) > 0 {
				c += p.sitePen(g, j, slotT)
			}
		}
	}
	return c
}

// best returns the least-penalty route of duration at most maxDur departing
// at slot (slot < 0: the static game), if its penalty is below incumbent.
//
// It is a bi-criteria label-setting search over (penalty, time) popped in
// lexicographic order, pruned by the exact time-to-destination bound. With
// additive penalties a label popped at a node is dominated exactly when an
// earlier pop there had a smaller or equal time, so the first label popped
// at the destination is optimal: the query is exact for the static game
// under the stretch and deadline constraints. With timed site costs that
// dominance is a heuristic (arriving later can dodge a window); bestTimed
// handles that case.
func (o *oracle) best(p *penalties, slot int, maxDur, incumbent float64) (*route, float64, bool) {
	return o.bestBucketed(p, slot, maxDur, incumbent, 0, nil)
}

// bestBucketed is best with dominance restricted to labels whose absolute
// times fall in the same bucket of width bucket (0: no buckets). Buckets
// keep later labels alive in the timed game, where arriving later can dodge
// a window; they make the heuristic stronger, not exact.
//
// pot, when not nil, is a consistent lower bound on the cost from each node
// to the destination (potential): labels are then popped by cost plus
// potential, and those that cannot get below the incumbent are never
// queued. At one node the pop order is unchanged (the potential is the same
// for all its labels, and consistency lets no label overtake its parent), so
// dominance, and the route found, are those of the search without it.
//
// Labels of equal cost plus potential pop by their earliest possible
// arrival, t + lbT (push): most of a search's labels lie on such plateaus
// (the potential knows no time, and most of the corridor costs nothing),
// and this order reaches the destination through them, where the time
// alone widens in every direction. At one node it is the order by time, as
// before, and lbT being consistent it lets no label overtake its parent
// either: the same routes, with 12 % fewer labels on Valletta -> Mellieħa
// and 8 % fewer on Liechtenstein.
func (o *oracle) bestBucketed(p *penalties, slot int, maxDur, incumbent, bucket float64, pot []float64) (*route, float64, bool) {
	g := o.g
	slotT := 0.0
	if slot >= 0 {
		slotT = g.in.Slots[slot]
	}
	for _, v := range o.touched {
		o.minT[v] = math.Inf(1)
	}
	o.touched, o.labels = o.touched[:0], o.labels[:0]
	o.pq.Reset()
	// Labels at v have times in [lbO[v], maxDur-lbT[v]]: nb buckets
	// counted from the bucket of lbO[v] cover that range.
	nb := 1
	if bucket > 0 {
		nb = int(math.Max(0, maxDur-g.lbT[g.origin])/bucket) + 2
	}
	if len(o.qstamp) < g.n*nb {
		o.bmin, o.bstamp = make([]float64, g.n*nb), make([]uint32, g.n*nb)
		o.qpen, o.qt, o.qstamp = make([]float64, g.n*nb), make([]float64, g.n*nb), make([]uint32, g.n*nb)
	}
	if o.gen++; o.gen == 0 {
		clear(o.bstamp)
		clear(o.qstamp)
		o.gen = 1
	}
	var base []float64
	if bucket > 0 {
		base = o.bucketBase(slot, slotT, bucket)
	}
	slot2 := func(v int32, t float64) int {
		k := int(math.Floor((slotT+t)/bucket) - base[v])
		return int(v)*nb + min(max(k, 0), nb-1)
	}
	// dominated reports whether a label at v at time t, in cell i of a
	// bucketed search, is dominated.
	dominated := func(v int32, t float64, i int) bool {
		if bucket <= 0 {
			return o.minT[v] <= t
		}
		return o.bstamp[i] == o.gen && o.bmin[i] <= t
	}
	cell := func(v int32, t float64) int {
		if bucket <= 0 {
			return int(v)
		}
		return slot2(v, t)
	}
	tol := 1e-9 * math.Max(1, maxDur)
	if g.lbT[g.origin] > maxDur+tol {
		return nil, 0, false
	}
	h := func(v int32) float64 {
		if pot == nil {
			return 0
		}
		return pot[v]
	}
	start := p.startPen(g, slotT)
	if start+h(g.origin) >= incumbent {
		return nil, 0, false
	}
	rule := slot >= 0 && !o.relaxed && g.lookBack > 0 && g.fastRule
	o.push(label{node: g.origin, edge: -1, parent: -1, cell: int32(cell(g.origin, 0)), pen: start}, h(g.origin))
	for o.pq.Len() > 0 {
		li := o.pop()
		l := o.labels[li]
		if l.pen+h(l.node) >= incumbent {
			return nil, 0, false
		}
		v := l.node
		if dominated(v, l.t, int(l.cell)) {
			continue
		}
		// A way that already breaks the crew rule ends in no acceptable
		// route: drop it, so that it neither dominates a label that may
		// nor reaches the destination only to be turned down there.
		// (Without buckets a way back to one of its own nodes is
		// dominated already: only the rule's radius needs a look.)
		if rule && o.breaksRule(li, bucket > 0) {
			continue
		}
		var path []int32
		if v == g.dest {
			if path = o.path(li); !o.relaxed && !o.accept(path) {
				o.rejected++
				continue // a later label may still pass the crew rule
			}
		}
		if bucket > 0 {
			i := l.cell
			o.bstamp[i], o.bmin[i] = o.gen, l.t
		}
		// The earliest time popped at v: dominance without buckets,
		// and breaksRule's first test.
		if math.IsInf(o.minT[v], 1) {
			o.touched = append(o.touched, v)
		}
		o.minT[v] = math.Min(o.minT[v], l.t)
		if v == g.dest {
			return g.makeRoute(path), l.pen, true
		}
		for k := g.out[v]; k < g.out[v+1]; k++ {
			e := g.outE[k]
			w := g.head[e]
			t := l.t + g.etime[e]
			if t+g.lbT[w] > maxDur+tol {
				continue
			}
			i := cell(w, t)
			if dominated(w, t, i) {
				continue
			}
			np := l.pen + p.stepPen(g, e, l.t, slotT)
			if np+h(w) >= incumbent {
				continue
			}
			// A label queued in the cell (the node, without buckets) with
			// no more cost and no later time pops first and dominates
			// this one: leave it out. (Not at the destination, where the
			// crew rule may turn the first one down.) Without buckets
			// that saves Mellieħa 7 % of its pushes.
			if w != g.dest {
				if o.qstamp[i] != o.gen {
					o.qstamp[i], o.qpen[i], o.qt[i] = o.gen, np, t
				} else if o.qpen[i] <= np && o.qt[i] <= t {
					continue
				} else if np <= o.qpen[i] && t <= o.qt[i] {
					o.qpen[i], o.qt[i] = np, t
				}
			}
			o.push(label{node: w, edge: e, parent: li, cell: int32(i), pen: np, t: t}, h(w))
		}
	}
	return nil, 0, false
}

// bucketBase returns, per node v, the bucket of the earliest time a route
// departing at slot can reach v, floor((slotT + lbO[v]) / bucket), computed
// once per slot and bucket width.
func (o *oracle) bucketBase(slot int, slotT, bucket float64) []float64 {
	if o.baseWidth != bucket {
		o.baseWidth, o.bases = bucket, map[int][]float64{}
	}
	if b, ok := o.bases[slot]; ok {
		return b
	}
	b := make([]float64, o.g.n)
	for v := range b {
		b[v] = math.Floor((slotT + o.g.lbO[v]) / bucket)
	}
	o.bases[slot] = b
	return b
}

// bestTimed is the exact timed best response for small games: a depth-first
// branch and bound over simple routes, pruned by time bounds and the
// incumbent. It gives up (ok == false, exhausted == true) after budget node
// expansions.
func (o *oracle) bestTimed(p *penalties, slot int, maxDur, incumbent float64, budget int) (r *route, pen float64, found, exhausted bool) {
	g := o.g
	if o.onPath == nil {
		o.onPath, o.pathT = make([]bool, g.n), make([]float64, g.n)
	}
	slotT := g.in.Slots[slot]
	tol := 1e-9 * math.Max(1, maxDur)
	o.dfsBud = budget
	o.dfsEdges, o.dfsBest = o.dfsEdges[:0], o.dfsBest[:0]
	best := incumbent
	var rec func(v int32, t, pen float64) bool
	rec = func(v int32, t, pen float64) bool {
		if o.dfsBud--; o.dfsBud < 0 {
			return false
		}
		if v == g.dest {
			if pen < best {
				best = pen
				o.dfsBest = append(o.dfsBest[:0], o.dfsEdges...)
				found = true
			}
			return true
		}
		o.onPath[v], o.pathT[v] = true, t
		defer func() { o.onPath[v] = false }()
	next:
		for k := g.out[v]; k < g.out[v+1]; k++ {
			e := g.outE[k]
			w := g.head[e]
			nt := t + g.etime[e]
			if o.onPath[w] || nt+g.lbT[w] > maxDur+tol {
				continue
			}
			if g.nearFirst != nil {
				for _, u := range g.nearOf(w) {
					if o.onPath[u] && nt-o.pathT[u] >= g.retGap {
						continue next
					}
				}
			}
			np := pen + p.stepPen(g, e, t, slotT)
			if np >= best {
				continue
			}
			o.dfsEdges = append(o.dfsEdges, e)
			ok := rec(w, nt, np)
			o.dfsEdges = o.dfsEdges[:len(o.dfsEdges)-1]
			if !ok {
				return false
			}
		}
		return true
	}
	start := p.startPen(g, slotT)
	if start >= incumbent || g.lbT[g.origin] > maxDur+tol {
		return nil, 0, false, false
	}
	if !rec(g.origin, 0, start) {
		return nil, 0, false, true
	}
	if !found {
		return nil, 0, false, false
	}
	return g.makeRoute(slices.Clone(o.dfsBest)), best, true, false
}

func (o *oracle) path(li int32) []int32 {
	var edges []int32
	for ; o.labels[li].edge >= 0; li = o.labels[li].parent {
		edges = append(edges, o.labels[li].edge)
	}
	slices.Reverse(edges)
	return edges
}

// crewLookBack is how many labels back along a way the timed searches look
// for a return that breaks the crew rule (breaksRule, game.lookBack). On
// Valletta -> Mellieħa the label search had 699 labels reach the
// destination by ways that broke the rule, most of them a U-turn or a loop
// round a block to wait out a window, only to be turned down there; and
// those ways dominated others that keep the rule, which the search then
// missed (see docs/benchmarks.md, ninth round).
const crewLookBack = 8

// breaksRule reports whether label li's way breaks the crew rule at its
// last node v within its last g.lookBack labels: it comes back to one of
// their nodes, or within the rule's radius of one passed retGap or more
// earlier. Every route through such a way breaks the rule (acceptable
// tests the whole route), so the search may drop it, unless the fastest
// route, acceptable whatever its shape, breaks the rule (game.fastRule).
// A return further back is still caught at the destination.
//
// The way is only walked when the earliest time a route can come back near
// v (game.nearT) and the earliest times popped at v and at the nodes near
// it (minT) allow such a return, which for most labels they do not.
// Without buckets (revisits false) a way back to one of its own nodes is
// dominated already and is not looked for.
func (o *oracle) breaksRule(li int32, revisits bool) bool {
	g := o.g
	v, t := o.labels[li].node, o.labels[li].t
	var near []int32
	if g.nearFirst != nil && t >= g.nearT[v] {
		near = g.nearOf(v)
	}
	possible := revisits && o.minT[v] < t
	for _, u := range near {
		possible = possible || o.minT[u] <= t-g.retGap
	}
	if !possible {
		return false
	}
	for k, n := o.labels[li].parent, 0; k >= 0 && n < g.lookBack; k, n = o.labels[k].parent, n+1 {
		u := o.labels[k].node
		if u == v || t-o.labels[k].t >= g.retGap && slices.Contains(near, u) {
			return true
		}
	}
	return false
}

// push queues a new label, ordered by (pen + h, t + lbT) for the
// potential h of its node: ties go to the earliest possible arrival (see
// bestBucketed).
func (o *oracle) push(l label, h float64) {
	o.labels = append(o.labels, l)
	tie := l.t + o.g.lbT[l.node]
	if o.byTime {
		tie = l.t
	}
	o.pq.Push(uint32(len(o.labels)-1), l.pen+h, tie)
}

// pop returns the queued label of least (pen + h, t + lbT).
func (o *oracle) pop() int32 { return int32(o.pq.Pop()) }

// leastCost is the least that site j can cost a route departing at slotT
// of duration at most maxDur, whatever time it passes the site: its costs
// are a step function of the passage time, whose least value over the
// times an admissible route can pass j (from the forward and backward time
// bounds) is at the earliest of them or at a window edge inside; widen
// seconds more on either side (against rounding) only lower it. ok is
// false when no admissible route passes j.
func (g *game) leastCost(j int32, costs []siteCost, slotT, maxDur, widen float64) (least float64, ok bool) {
	lo, hi := g.passRange(j, maxDur)
	if !(lo-widen <= hi+widen) {
		return 0, false
	}
	return g.minSiteCost(costs, slotT+lo-widen, slotT+hi+widen), true
}

// potential fills o.pot with, per node, a lower bound on the timed cost
// of any admissible way from it to the destination for a departure at
// slot: the least-cost path where each site with costs in p (p.used lists
// them) costs its leastCost. It is consistent (a shortest-path distance
// under costs that never exceed the true ones), so the label-setting search
// can use it as an A* potential and prune labels whose cost plus potential
// reaches the incumbent. The sweep is costToGo's, which stops at bound:
// nodes whose cost is bound or more get bound (still a consistent lower
// bound, as the least of one and a constant), which is all a search with
// that incumbent needs (costs are never negative, so it prunes every label
// there). +Inf sweeps the whole corridor.
func (o *oracle) potential(p *penalties, slot int, maxDur, bound float64) []float64 {
	return o.pot.least(o.g, p, o.g.in.Slots[slot], maxDur, 0, bound)
}

// costToGo is the backward sweep of the A* potentials (oracle.potential,
// lowerPotential): per node, the least cost from it to the destination
// when each site costs what charge put on its edge (or on the edges into
// its node). Most edges cost nothing: those are settled from a stack at
// the current distance, and only the few positive ones go through the
// heap, so a sweep costs about a breadth-first search of the game. Its
// slices are reused from one sweep to the next (and reallocated for
// another game).
type costToGo struct {
	h, w  []float64 // per node the answer; per edge the charged cost
	edges []int32   // the edges with a cost in w
	done  []uint32  // settled marks, valid when equal to gen
	gen   uint32
	stack []int32
	q     *graphsearch.Heap[float64, graphsearch.NoTie]
}

// reset clears the charges, sizing the state for g.
func (c *costToGo) reset(g *game) {
	if len(c.h) != g.n || len(c.w) != len(g.head) {
		c.h, c.w, c.done = make([]float64, g.n), make([]float64, len(g.head)), make([]uint32, g.n)
		c.q, c.edges, c.gen = graphsearch.NewQueue[float64, graphsearch.NoTie](), c.edges[:0], 0
	}
	for _, e := range c.edges {
		c.w[e] = 0
	}
	c.edges = c.edges[:0]
}

// least charges each site with costs in p (p.used lists them) its
// leastCost for a departure at slotT, durations up to maxDur and passage
// ranges widened by widen, and returns the sweep up to bound.
func (c *costToGo) least(g *game, p *penalties, slotT, maxDur, widen, bound float64) []float64 {
	c.reset(g)
	for _, j := range p.used {
		if least, ok := g.leastCost(j, p.site[j], slotT, maxDur, widen); ok && least > 0 {
			c.charge(g, j, least)
		}
	}
	return c.sweep(g, bound)
}

// charge adds cost to passing site j: to its edge, or to every edge into
// its node.
func (c *costToGo) charge(g *game, j int32, cost float64) {
	if e := g.siteEdge[j]; e >= 0 {
		c.w[e] += cost
		c.edges = append(c.edges, e)
		return
	}
	v := g.siteNode[j]
	for k := g.inFirst[v]; k < g.inFirst[v+1]; k++ {
		e := g.inE[k]
		c.w[e] += cost
		c.edges = append(c.edges, e)
	}
}

// sweep returns the least charged cost from every node to the
// destination (+Inf where it cannot be reached), or bound where that is
// bound or more: it settles nodes in the order of their cost and stops
// at the first that costs bound or more.
func (c *costToGo) sweep(g *game, bound float64) []float64 {
	if c.gen++; c.gen == 0 {
		clear(c.done)
		c.gen = 1
	}
	h, done, gen := c.h, c.done, c.gen
	for v := range h {
		h[v] = math.Inf(1)
	}
	stack := append(c.stack[:0], g.dest)
	h[g.dest], done[g.dest] = 0, gen
	c.q.Reset()
	for {
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			du := h[u]
			for k := g.inFirst[u]; k < g.inFirst[u+1]; k++ {
				e := g.inE[k]
				v := g.tail[e]
				if done[v] == gen {
					continue
				}
				if w := c.w[e]; w == 0 {
					h[v], done[v] = du, gen
					stack = append(stack, v)
				} else if d := du + w; d < h[v] {
					h[v] = d
					c.q.Push(uint32(v), d, 0)
				}
			}
		}
		for c.q.Len() > 0 {
			v, d := c.q.Top()
			if d >= bound {
				// Every node not settled costs bound or more.
				for u := range h {
					if done[u] != gen {
						h[u] = bound
					}
				}
				c.q.Reset()
				break
			}
			c.q.Pop()
			if done[v] != gen && d <= h[v] {
				done[v] = gen
				stack = append(stack, int32(v))
				break
			}
		}
		if len(stack) == 0 {
			break
		}
	}
	c.stack = stack
	return h
}
