package roadnet

import (
	"container/heap"
	"math"
)

// refDijkstra is an independent textbook Dijkstra over the base graph from
// a position's seeds: the oracle the property tests compare against.
func refDijkstra(g *Graph, from RoadPoint, avoid Kind) []int64 {
	dist := make([]int64, g.NumNodes())
	for i := range dist {
		dist[i] = Infinity
	}
	pq := &refHeap{}
	for _, s := range g.sourceSeeds(nil, from) {
		if s.cost < dist[s.node] {
			dist[s.node] = s.cost
			heap.Push(pq, refItem{s.cost, s.node})
		}
	}
	for pq.Len() > 0 {
		it := heap.Pop(pq).(refItem)
		if it.d > dist[it.n] {
			continue
		}
		first, end := g.OutEdges(NodeID(it.n))
		for e := first; e < end; e++ {
			if g.EdgeKinds(e)&avoid != 0 {
				continue
			}
			v := uint32(g.EdgeTo(e))
			if d := it.d + g.EdgeCost(e); d < dist[v] {
				dist[v] = d
				heap.Push(pq, refItem{d, v})
			}
		}
	}
	return dist
}

// refCost is the oracle's cost from one position to another.
func refCost(g *Graph, from, to RoadPoint, avoid Kind) int64 {
	dist := refDijkstra(g, from, avoid)
	best := Infinity
	if from.Edge == NoEdge && to.Edge == NoEdge && from.Node == to.Node {
		return 0
	}
	if c, _, _, _ := g.direct(from, to); c < best {
		best = c
	}
	for _, s := range g.targetSeeds(nil, to) {
		if dist[s.node] != Infinity && dist[s.node]+s.cost < best {
			best = dist[s.node] + s.cost
		}
	}
	_ = math.MaxInt64
	return best
}

type refItem struct {
	d int64
	n uint32
}

type refHeap []refItem

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return h[i].d < h[j].d }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(refItem)) }
func (h *refHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// refTurnCost is the oracle of the turn-aware searches: a textbook Dijkstra
// whose states are the directed edges (a state is reached when its edge has
// been driven to its head), written from the rules of turns.go, not from
// its code. It returns the cheapest cost, edge costs plus turn costs, from
// one position to another, avoiding edges of the kinds in avoid (except
// the ones the route starts and ends on).
func refTurnCost(g *Graph, from, to RoadPoint, avoid Kind) int64 {
	if from.Edge == NoEdge && to.Edge == NoEdge && from.Node == to.Node {
		return 0
	}
	m := g.NumEdges()
	// allowed: every turn but a U-turn (back along the same road) where
	// another way on exists.
	sameRoadBack := func(a, b EdgeID) bool {
		return g.road[a]>>1 == g.road[b]>>1 && g.road[a]&1 != g.road[b]&1
	}
	allowed := func(a, b EdgeID) bool {
		if !sameRoadBack(a, b) {
			return true
		}
		first, end := g.OutEdges(g.EdgeTo(a))
		for c := first; c < end; c++ {
			if !sameRoadBack(a, c) {
				return false
			}
		}
		return true
	}
	partial := func(e EdgeID, f float64) int64 { return int64(math.Round(f * float64(g.EdgeCost(e)))) }
	dist := make([]int64, m)
	for i := range dist {
		dist[i] = Infinity
	}
	pq := &refHeap{}
	push := func(e EdgeID, d int64) {
		if d < dist[e] {
			dist[e] = d
			heap.Push(pq, refItem{d, uint32(e)})
		}
	}
	// Where the route starts: the rest of its edge, either direction.
	if from.Edge == NoEdge {
		first, end := g.OutEdges(from.Node)
		for e := first; e < end; e++ {
			push(e, g.EdgeCost(e))
		}
	} else {
		e := from.Edge
		push(e, g.EdgeCost(e)-partial(e, from.Fraction))
		if t := g.Edge(e).Twin; t != NoEdge {
			push(t, g.EdgeCost(t)-partial(t, 1-from.Fraction))
		}
	}
	for pq.Len() > 0 {
		it := heap.Pop(pq).(refItem)
		a := EdgeID(it.n)
		if it.d > dist[a] {
			continue
		}
		first, end := g.OutEdges(g.EdgeTo(a))
		for b := first; b < end; b++ {
			if g.EdgeKinds(b)&avoid != 0 || !allowed(a, b) {
				continue
			}
			push(b, it.d+g.TurnCost(a, b)+g.EdgeCost(b))
		}
	}
	best := Infinity
	if c, _, _, _ := g.direct(from, to); c < best {
		best = c
	}
	// Where it ends: turned into the target's edge, either direction, and
	// driven up to the point; or arrived at the target node.
	if to.Edge == NoEdge {
		for _, a := range g.InEdges(to.Node) {
			best = min(best, dist[a])
		}
		return best
	}
	ends := []struct {
		e EdgeID
		f float64
	}{{to.Edge, to.Fraction}}
	if t := g.Edge(to.Edge).Twin; t != NoEdge {
		ends = append(ends, struct {
			e EdgeID
			f float64
		}{t, 1 - to.Fraction})
	}
	for _, end := range ends {
		for _, a := range g.InEdges(g.EdgeFrom(end.e)) {
			if dist[a] == Infinity || !allowed(EdgeID(a), end.e) {
				continue
			}
			best = min(best, dist[a]+g.TurnCost(EdgeID(a), end.e)+partial(end.e, end.f))
		}
	}
	return best
}
