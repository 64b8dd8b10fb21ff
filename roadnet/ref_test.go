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
