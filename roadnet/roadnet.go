// Package roadnet is convoi's road network engine: it imports OpenStreetMap
// extracts (and DIMACS road graphs) into an immutable, compact graph with a
// contraction-hierarchy speed-up index, and answers routing questions on it:
// snapping, fastest routes with their chokepoints and per-segment times,
// diverse alternatives, travel-time tables, reachability (isochrones) and
// searches with caller-supplied avoidances and per-edge penalties.
//
// Costs are integers: milliseconds of travel time for OSM graphs, the raw
// arc weights for DIMACS graphs. Every speed-up query therefore returns
// exactly the cost plain Dijkstra returns on the same graph. On OSM graphs
// routes are searched on the turn graph (one node per directed edge, one
// arc per allowed turn, turns.go), so that turn costs choose the route;
// isochrones, tables and the alternatives' via-node candidates use node-based costs.
//
// A *Graph never changes after ImportOSM, ImportDIMACS or ReadGraph return
// it; any number of goroutines may query it at once. Per-query scratch space
// comes from a pool inside the graph.
//
// The engine returns errors and never logs, prints or reads the clock.
// It imports the convoi domain package, the standard library and
// github.com/paulmach/osm only; it must not import web, stores or other
// engines.
package roadnet

import (
	"math"

	"github.com/convoi/convoi"
)

// NodeID identifies a node of a Graph: an intersection, a dead end, or a copy
// of an intersection made to encode a turn restriction. IDs are dense,
// 0 <= id < NumNodes.
type NodeID uint32

// EdgeID identifies a directed edge of a Graph, 0 <= id < NumEdges. Edges
// out of one node have consecutive IDs.
type EdgeID uint32

// NoEdge is the EdgeID of "no edge": the twin of a one-way edge, or the
// Edge of a Position that lies exactly on a node.
const NoEdge EdgeID = math.MaxUint32

// Infinity is the cost of an unreachable target in a Table and the time of
// an unreached node.
const Infinity int64 = math.MaxInt64

// Metric says what a graph's integer costs measure.
type Metric uint8

const (
	// MetricTimeMS: costs are travel times in milliseconds (OSM graphs).
	MetricTimeMS Metric = 1
	// MetricDIMACS: costs are the DIMACS arc weights, in their own unit.
	MetricDIMACS Metric = 2
)

func (m Metric) String() string {
	switch m {
	case MetricTimeMS:
		return "time_ms"
	case MetricDIMACS:
		return "dimacs"
	}
	return "unknown"
}

// Graph is an immutable road graph with its speed-up index and spatial
// index. The zero value is not usable; build one with ImportOSM,
// ImportDIMACS or ReadGraph.
type Graph struct {
	metric Metric
	// unitMS is how many milliseconds one cost unit stands for; 1 for OSM.
	unitMS float64

	// Nodes, coordinates in 1e-7 degrees.
	lat, lon []int32
	// ext is each node's id in the input (DIMACS id, OSM node id; 0 when
	// none), nil for graph files of version 1; extOrder lists the nodes by
	// ext (derived).
	ext      []int64
	extOrder []uint32
	// copied marks the nodes that share their input id with another: a
	// copy made for a turn restriction and its original (derived; nil
	// when there are none).
	copied []bool
	// junction is a bit set of the nodes where more than two roads meet,
	// where turns are priced (derived; nil for DIMACS graphs).
	junction []uint64

	// Directed edges sorted by tail: the out-edges of n are
	// firstOut[n] .. firstOut[n+1]-1.
	firstOut []uint32
	head     []uint32
	weight   []uint32  // cost, >= 1
	dist     []float32 // metres
	road     []uint32  // road index << 1 | 1 when traversed against the road's point order
	twin     []uint32  // the opposite edge on the same road, or NoEdge
	kinds    []Kind    // chokepoint kinds on the edge (whole road plus point chokepoints)

	// In-edges: inEdge[firstIn[n] .. firstIn[n+1]-1] are the edges into n.
	firstIn []uint32
	inEdge  []uint32
	tail    []uint32 // tail of each edge (derived from firstOut)

	// Roads: polylines shared by the edges that run along them.
	roadFirst []uint32 // points roadFirst[r] .. roadFirst[r+1]-1
	ptLat     []int32
	ptLon     []int32
	roadWay   []int64 // OSM way id, 0 for DIMACS
	roadKind  []Kind
	// Chokepoints along each road: roadCP[roadCPFirst[r] .. roadCPFirst[r+1]-1]
	// with the index of their point in the road (-1 for whole-road kinds).
	roadCPFirst []uint32
	roadCP      []uint32
	roadCPPos   []int32

	cps []Chokepoint
	// roadEdge[r<<1|rev] is the original edge along road r in that
	// direction, or NoEdge (derived).
	roadEdge []uint32
	// roadUse[r] says whether routes can start (roadSource) and end
	// (roadTarget) on road r; nil when all can (derived, stubs.go).
	roadUse []uint8

	// Contraction hierarchy of the road graph, its base arcs the edges
	// above (set by derive).
	hierarchy
	// turns is the turn graph with its own hierarchy, on which fastest
	// routes are searched (turns.go); nil for DIMACS graphs, which have no
	// turn geometry.
	turns *turnGraph

	// A* lower bound: cost per metre of straight-line distance never
	// exceeded by any edge.
	costPerM float64

	index grid
	pool  pool
}

// NumNodes returns the number of nodes.
func (g *Graph) NumNodes() int { return len(g.lat) }

// NumEdges returns the number of directed edges.
func (g *Graph) NumEdges() int { return len(g.head) }

// NumShortcuts returns the number of contraction-hierarchy shortcuts.
func (g *Graph) NumShortcuts() int { return len(g.chWeight) }

// Metric returns what the costs measure.
func (g *Graph) Metric() Metric { return g.metric }

// UnitMS returns how many milliseconds one cost unit stands for: 1 for OSM
// graphs, the value given at import for DIMACS graphs.
func (g *Graph) UnitMS() float64 { return g.unitMS }

// NodeLatLon returns the position of node n.
func (g *Graph) NodeLatLon(n NodeID) convoi.LatLon {
	return convoi.LatLon{Lat: float64(g.lat[n]) / 1e7, Lon: float64(g.lon[n]) / 1e7}
}

// OutEdges returns the first and one-past-last IDs of the edges out of n.
func (g *Graph) OutEdges(n NodeID) (first, end EdgeID) {
	return EdgeID(g.firstOut[n]), EdgeID(g.firstOut[n+1])
}

// InEdges returns the edges into n. The slice belongs to the graph: do not
// modify it.
func (g *Graph) InEdges(n NodeID) []uint32 {
	return g.inEdge[g.firstIn[n]:g.firstIn[n+1]]
}

// Edge describes one directed edge.
type Edge struct {
	ID        EdgeID  `json:"id"`
	From      NodeID  `json:"from"`
	To        NodeID  `json:"to"`
	Cost      int64   `json:"cost"` // ms for OSM graphs
	DistanceM float64 `json:"distance_m"`
	Kinds     Kind    `json:"kinds"`
	Twin      EdgeID  `json:"twin"`   // the opposite direction of the same road, or NoEdge
	WayID     int64   `json:"way_id"` // OSM way, 0 for DIMACS graphs
}

// Edge returns edge e's attributes.
func (g *Graph) Edge(e EdgeID) Edge {
	return Edge{
		ID: e, From: NodeID(g.tail[e]), To: NodeID(g.head[e]),
		Cost: int64(g.weight[e]), DistanceM: float64(g.dist[e]), Kinds: g.kinds[e],
		Twin: EdgeID(g.twin[e]), WayID: g.roadWay[g.road[e]>>1],
	}
}

// EdgeFrom returns the tail of e.
func (g *Graph) EdgeFrom(e EdgeID) NodeID { return NodeID(g.tail[e]) }

// EdgeTo returns the head of e.
func (g *Graph) EdgeTo(e EdgeID) NodeID { return NodeID(g.head[e]) }

// EdgeCost returns the cost of e (ms for OSM graphs).
func (g *Graph) EdgeCost(e EdgeID) int64 { return int64(g.weight[e]) }

// EdgeKinds returns the chokepoint kinds on e.
func (g *Graph) EdgeKinds(e EdgeID) Kind { return g.kinds[e] }

// EdgeGeometry appends e's polyline, in travel direction, to dst.
func (g *Graph) EdgeGeometry(dst []convoi.LatLon, e EdgeID) []convoi.LatLon {
	r, rev := g.road[e]>>1, g.road[e]&1 == 1
	a, b := int(g.roadFirst[r]), int(g.roadFirst[r+1])
	if !rev {
		for i := a; i < b; i++ {
			dst = append(dst, g.point(i))
		}
	} else {
		for i := b - 1; i >= a; i-- {
			dst = append(dst, g.point(i))
		}
	}
	return dst
}

func (g *Graph) point(i int) convoi.LatLon {
	return convoi.LatLon{Lat: float64(g.ptLat[i]) / 1e7, Lon: float64(g.ptLon[i]) / 1e7}
}

// Duration converts a cost to seconds (using UnitMS).
func (g *Graph) Duration(cost int64) float64 { return float64(cost) * g.unitMS / 1000 }

// CostOf converts seconds to cost units, rounding down.
func (g *Graph) CostOf(seconds float64) int64 { return int64(seconds * 1000 / g.unitMS) }

// BBox is a latitude/longitude box, inclusive.
type BBox struct {
	MinLat, MinLon, MaxLat, MaxLon float64
}

// Contains reports whether p is inside b.
func (b BBox) Contains(p convoi.LatLon) bool {
	return p.Lat >= b.MinLat && p.Lat <= b.MaxLat && p.Lon >= b.MinLon && p.Lon <= b.MaxLon
}

// Bounds returns the box around every node of the graph.
func (g *Graph) Bounds() BBox {
	b := BBox{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
	for i := range g.lat {
		p := g.NodeLatLon(NodeID(i))
		b.MinLat, b.MaxLat = math.Min(b.MinLat, p.Lat), math.Max(b.MaxLat, p.Lat)
		b.MinLon, b.MaxLon = math.Min(b.MinLon, p.Lon), math.Max(b.MaxLon, p.Lon)
	}
	return b
}
