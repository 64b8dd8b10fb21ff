package roadnet

import (
	"context"
	"math"
	"slices"
)

// The turn graph (edge-expanded graph): fastest routes are searched on it so
// that the turn costs of the car profile (profile.go) choose the route, as
// OSRM does, instead of only being added to a route chosen without them.
//
// Its nodes are the road graph's directed edges; its arcs are the allowed
// turns. Reaching turn-graph node a means having driven edge a to its head;
// the arc a->b costs b's edge cost plus the price of turning from a into b.
// A U-turn (a into the opposite direction of its own road) is allowed only
// where it is the only way on: at a dead end, or where every other road is
// one-way towards the node. Turn restrictions need nothing here: the road
// graph encodes them by node splitting, so the forbidden turns have no edge
// pair to become an arc.
//
// The turn graph's arcs are a function of the road graph and the profile,
// derived at import and at load; its contraction hierarchy (the same code as
// the road graph's, ch.go) is stored in the graph file. Isochrones, tables,
// the stub-road marking, the alternatives' via-node candidates and the
// ambush engine keep the road graph's node-based costs (docs/roadnet.md
// says why).
type turnGraph struct {
	// The turns out of edge a are the base arcs first[a] .. first[a+1]-1
	// of the hierarchy, in the order of the out-edges of a's head.
	first []uint32
	hierarchy
}

// hasHierarchy reports whether the turn graph is contracted (false for a
// graph read from a file of version 2 or older).
func (t *turnGraph) hasHierarchy() bool { return t.rank != nil }

// uturn reports whether b runs back along a's road.
func (g *Graph) uturn(a, b uint32) bool {
	return g.road[a]>>1 == g.road[b]>>1 && g.road[a] != g.road[b]
}

// turnAllowed reports whether a car may turn from a into b at the node
// between them (the head of a, the tail of b): always, but for a U-turn
// where another way on exists.
func (g *Graph) turnAllowed(a, b uint32) bool {
	if !g.uturn(a, b) {
		return true
	}
	v := g.head[a]
	for c := g.firstOut[v]; c < g.firstOut[v+1]; c++ {
		if !g.uturn(a, c) {
			return false
		}
	}
	return true
}

// buildTurnGraph derives the turn graph's arcs (not its hierarchy). It
// returns nil for graphs that do not price turns (DIMACS).
func (g *Graph) buildTurnGraph() *turnGraph {
	if g.junction == nil {
		return nil
	}
	m := len(g.head)
	t := &turnGraph{first: make([]uint32, m+1)}
	for a := 0; a < m; a++ {
		v := g.head[a]
		for b := g.firstOut[v]; b < g.firstOut[v+1]; b++ {
			if !g.turnAllowed(uint32(a), b) {
				continue
			}
			t.baseTail = append(t.baseTail, uint32(a))
			t.baseHead = append(t.baseHead, b)
			t.baseWeight = append(t.baseWeight, g.weight[b]+uint32(g.turnCost(uint32(a), b)))
		}
		t.first[a+1] = uint32(len(t.baseHead))
	}
	return t
}

// NumTurns returns the number of allowed turns (arcs of the turn graph), 0
// for graphs that do not price turns.
func (g *Graph) NumTurns() int {
	if g.turns == nil {
		return 0
	}
	return len(g.turns.baseHead)
}

// NumTurnShortcuts returns the number of shortcuts of the turn graph's
// contraction hierarchy.
func (g *Graph) NumTurnShortcuts() int {
	if g.turns == nil {
		return 0
	}
	return len(g.turns.chWeight)
}

// turnArc returns the cost of the turn from a into b less b's, or false
// when the turn is not allowed.
func (g *Graph) turnArc(a, b uint32) (int64, bool) {
	t := g.turns
	for i := t.first[a]; i < t.first[a+1]; i++ {
		if t.baseHead[i] == b {
			return int64(t.baseWeight[i]) - int64(g.weight[b]), true
		}
	}
	return 0, false
}

// turnSources returns the turn-graph seeds of a route from p: the edge p
// lies on, in each direction, with the cost of the rest of it; from a node,
// each edge out of it, whole, that opt does not avoid, with its penalty (a
// route from a node starts on none of its edges: they are searched like
// any other).
func (g *Graph) turnSources(dst []seed, p RoadPoint, opt *RouteOptions) []seed {
	if p.Edge == NoEdge {
		for e := g.firstOut[p.Node]; e < g.firstOut[p.Node+1]; e++ {
			if g.kinds[e]&opt.Avoid != 0 || slices.Contains(opt.AvoidEdges, EdgeID(e)) {
				continue
			}
			c := int64(g.weight[e])
			if opt.Penalty != nil {
				c += int64(opt.Penalty[e])
			}
			dst = append(dst, seed{e, c})
		}
		return dst
	}
	e := uint32(p.Edge)
	dst = append(dst, seed{e, int64(g.weight[e]) - g.edgeOffset(e, p.Fraction)})
	if t := g.twin[e]; t != math.MaxUint32 {
		dst = append(dst, seed{t, int64(g.weight[t]) - g.edgeOffset(t, 1-p.Fraction)})
	}
	return dst
}

// turnTargets returns the turn-graph seeds of a route to p: every edge from
// which a car may turn into the edge p lies on (in either direction), with
// the cost of that turn and of the part of the edge up to p; to a node,
// each edge into it, at no cost.
func (g *Graph) turnTargets(dst []seed, p RoadPoint) []seed {
	if p.Edge == NoEdge {
		for _, e := range g.inEdge[g.firstIn[p.Node]:g.firstIn[p.Node+1]] {
			dst = append(dst, seed{e, 0})
		}
		return dst
	}
	// A seed may appear twice (a loop road whose two directions start at
	// the same node): the search keeps the cheaper.
	add := func(e uint32, f float64) {
		off := g.edgeOffset(e, f)
		for _, a := range g.inEdge[g.firstIn[g.tail[e]]:g.firstIn[g.tail[e]+1]] {
			if tc, ok := g.turnArc(a, e); ok {
				dst = append(dst, seed{a, tc + off})
			}
		}
	}
	e := uint32(p.Edge)
	add(e, p.Fraction)
	if t := g.twin[e]; t != math.MaxUint32 {
		add(t, 1-p.Fraction)
	}
	return dst
}

// turnTarget returns the edge of p (and the end fraction on it) that a
// route arriving by edge a turns into, the cheaper when both can.
func (g *Graph) turnTarget(p RoadPoint, a uint32) (uint32, float64) {
	e := uint32(p.Edge)
	best, be, bf := Infinity, e, p.Fraction
	if tc, ok := g.turnArc(a, e); ok {
		best = tc + g.edgeOffset(e, p.Fraction)
	}
	if t := g.twin[e]; t != math.MaxUint32 {
		if tc, ok := g.turnArc(a, t); ok && tc+g.edgeOffset(t, 1-p.Fraction) < best {
			be, bf = t, 1-p.Fraction
		}
	}
	return be, bf
}

// turnsOf returns the cost of the turns between consecutive edges.
func (g *Graph) turnsOf(edges []EdgeID) int64 {
	var c int64
	for i := 1; i < len(edges); i++ {
		c += g.turnCost(uint32(edges[i-1]), uint32(edges[i]))
	}
	return c
}

// turnShortestPath is shortestPath on the turn graph: the contraction
// hierarchy for plain queries, an A* over the turns otherwise (and when
// the graph file carried no turn hierarchy).
func (g *Graph) turnShortestPath(ctx context.Context, st *state, from, to RoadPoint, opt *RouteOptions) (Path, error) {
	if from.Edge == NoEdge && to.Edge == NoEdge && from.Node == to.Node {
		return Path{From: from, To: to}, nil
	}
	st.turnSearches(len(g.head))
	src := g.turnSources(st.srcSeeds[:0], from, opt)
	dst := g.turnTargets(st.dstSeeds[:0], to)
	st.srcSeeds, st.dstSeeds = src, dst
	var h *hierarchy
	if opt.plain() && g.turns.hasHierarchy() {
		h = &g.turns.hierarchy
	}
	best, meet, p, done, err := g.pathSearch(ctx, st, h, st.tf, st.tb, g.turnSpace(), src, dst, from, to, opt)
	if done {
		return p, err
	}
	// The turn-graph path is the edges driven, in order.
	if h != nil {
		arcs := chPath(&g.turns.hierarchy, st.tf, st.tb, meet, st.arcs[:0])
		st.arcs = arcs
		p.Edges = make([]EdgeID, 0, len(arcs)+2)
		if len(arcs) == 0 {
			p.Edges = append(p.Edges, EdgeID(meet))
		} else {
			p.Edges = append(p.Edges, EdgeID(g.turns.baseTail[arcs[0]]))
			for _, a := range arcs {
				p.Edges = append(p.Edges, EdgeID(g.turns.baseHead[a]))
			}
		}
	} else {
		for v := meet; ; {
			p.Edges = append(p.Edges, EdgeID(v))
			a := st.tf.Pred[v]
			if a == math.MaxUint32 {
				break
			}
			v = g.turns.baseTail[a]
		}
		slices.Reverse(p.Edges)
	}
	first, last := uint32(p.Edges[0]), uint32(p.Edges[len(p.Edges)-1])
	p.FirstFraction, p.LastFraction = 0, 1
	if from.Edge != NoEdge {
		if first == uint32(from.Edge) {
			p.FirstFraction = from.Fraction
		} else {
			p.FirstFraction = 1 - from.Fraction
		}
	}
	if to.Edge != NoEdge {
		e, f := g.turnTarget(to, last)
		p.Edges = append(p.Edges, EdgeID(e))
		p.LastFraction = f
	}
	p.Cost = g.pathCost(&p)
	p.PenalizedCost = p.Cost
	if !opt.plain() {
		p.PenalizedCost = best - g.turnsOf(p.Edges)
	}
	return p, nil
}
