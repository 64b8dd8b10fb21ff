package roadnet

import (
	"sort"

	"github.com/convoi/convoi"
)

// Roads that only leave (or only enter) the map. The import keeps one-way
// roads cut by the extract's edge (see keepLargestSCC): a route may end on
// the A8 westbound where it leaves the map, but nothing leads from it back
// into the map. A point snapped onto such a road is a dead start: OSRM, on
// the same extract, snaps it to the nearest road of the main network
// instead, and so do SnapSource and SnapTarget.

const (
	roadSource uint8 = 1 // from some direction of the road the main network is reachable
	roadTarget uint8 = 2 // some direction of the road is reachable from the main network
)

// markStubs sets roadUse: for each road, whether a route can start on it
// (roadSource) and end on it (roadTarget). roadUse stays nil when every
// node lies in one strongly connected component (DIMACS graphs, extracts
// without roads cut by their edge).
func (g *Graph) markStubs() {
	g.roadUse = nil
	n := len(g.lat)
	if n == 0 || g.metric != MetricTimeMS {
		return
	}
	// The nodes that reach a node of the main network and those it
	// reaches: two searches from one node of it. The top of the
	// contraction hierarchy is almost surely in it; when the nodes both
	// ways are not most of the graph, a component labelling finds one.
	root := uint32(0)
	for v, r := range g.rank {
		if r > g.rank[root] {
			root = uint32(v)
		}
	}
	toCore, fromCore, both := g.reachBoth(root)
	if both*2 <= n {
		comp, sizes := components(n, g.firstOut, g.head)
		core := uint32(0)
		for c, s := range sizes {
			if s > sizes[core] {
				core = uint32(c)
			}
		}
		for v := range comp {
			if comp[v] == core {
				root = uint32(v)
				break
			}
		}
		toCore, fromCore, both = g.reachBoth(root)
	}
	if both == n {
		return
	}
	g.roadUse = make([]uint8, len(g.roadWay))
	for e, r := range g.road {
		if toCore[g.head[e]] {
			g.roadUse[r>>1] |= roadSource
		}
		if fromCore[g.tail[e]] {
			g.roadUse[r>>1] |= roadTarget
		}
	}
}

// reachBoth returns the nodes that reach root, those root reaches, and how
// many do both.
func (g *Graph) reachBoth(root uint32) (to, from []bool, both int) {
	n := len(g.lat)
	to, from = make([]bool, n), make([]bool, n)
	queue := []uint32{root}
	to[root] = true
	for len(queue) > 0 {
		v := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, e := range g.inEdge[g.firstIn[v]:g.firstIn[v+1]] {
			if u := g.tail[e]; !to[u] {
				to[u] = true
				queue = append(queue, u)
			}
		}
	}
	queue = append(queue[:0], root)
	from[root] = true
	for len(queue) > 0 {
		v := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for e := g.firstOut[v]; e < g.firstOut[v+1]; e++ {
			if w := g.head[e]; !from[w] {
				from[w] = true
				queue = append(queue, w)
			}
		}
	}
	for v := range to {
		if to[v] && from[v] {
			both++
		}
	}
	return to, from, both
}

// roadOfPoint returns the road that point index i (not a road's last
// point) starts a segment of.
func (g *Graph) roadOfPoint(i uint32) int {
	return sort.Search(len(g.roadFirst)-1, func(r int) bool { return g.roadFirst[r+1] > i })
}

// SnapSource is Snap for where a route starts: the nearest road from which
// the main network can be reached. It differs from Snap only near the edge
// of an extract, where the nearest road may be a one-way road leaving it.
func (g *Graph) SnapSource(p convoi.LatLon) (RoadPoint, error) { return g.snap(p, roadSource) }

// SnapTarget is Snap for where a route ends: the nearest road the main
// network reaches.
func (g *Graph) SnapTarget(p convoi.LatLon) (RoadPoint, error) { return g.snap(p, roadTarget) }

// usable reports whether the segment starting at point i lies on a road
// that serves need.
func (g *Graph) usable(i uint32, need uint8) bool {
	return need == 0 || g.roadUse == nil || g.roadUse[g.roadOfPoint(i)]&need != 0
}
