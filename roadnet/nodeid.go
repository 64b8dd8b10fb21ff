package roadnet

import (
	"sort"

	"github.com/convoi/convoi"
)

// Node ids of the input. A Graph numbers its nodes densely, in its own
// order: the import drops the nodes outside the largest strongly connected
// component and copies nodes to encode turn restrictions, so NodeID n is
// not node n of the input file. People and other programs name nodes by
// the input's ids: the DIMACS node id (1-based) or the OSM node id. The
// graph keeps them (graph file format version 2) and translates both ways.

// ExternalID returns the input file's id of node n: its DIMACS id or its
// OSM node id. ok is false when the graph does not know it (a graph file
// of format version 1).
func (g *Graph) ExternalID(n NodeID) (id int64, ok bool) {
	if g.ext == nil || int(n) >= len(g.ext) || g.ext[n] == 0 {
		return 0, false
	}
	return g.ext[n], true
}

// NodeByExternalID returns the node whose input-file id is id. When turn
// restrictions copied the node, it returns the original. An id the graph
// does not hold (never in the input, or dropped as unreachable) is
// ENOTFOUND; a graph file without input ids is EINVALID.
func (g *Graph) NodeByExternalID(id int64) (NodeID, error) {
	if g.ext == nil {
		return 0, convoi.Errorf(convoi.EINVALID, "This graph file predates input node ids (graph file version 1): rebuild it with 'convoi graph build' to address nodes by id.")
	}
	i := sort.Search(len(g.extOrder), func(i int) bool { return g.ext[g.extOrder[i]] >= id })
	if id == 0 || i == len(g.extOrder) || g.ext[g.extOrder[i]] != id {
		return 0, convoi.Errorf(convoi.ENOTFOUND, "Node %d is not in the road graph (not in the input, or not connected to the main network).", id)
	}
	return NodeID(g.extOrder[i]), nil
}

// indexExternalIDs sorts the nodes by input id, originals (lower NodeIDs)
// before their restriction copies.
func (g *Graph) indexExternalIDs() {
	if g.ext == nil {
		g.extOrder, g.copied = nil, nil
		return
	}
	g.extOrder = make([]uint32, len(g.ext))
	for i := range g.extOrder {
		g.extOrder[i] = uint32(i)
	}
	sort.Slice(g.extOrder, func(a, b int) bool {
		x, y := g.extOrder[a], g.extOrder[b]
		if g.ext[x] != g.ext[y] {
			return g.ext[x] < g.ext[y]
		}
		return x < y
	})
	// Nodes that share their input id with another (a restriction copy
	// and its original).
	g.copied = nil
	for i := 1; i < len(g.extOrder); i++ {
		x, y := g.extOrder[i-1], g.extOrder[i]
		if g.ext[x] != 0 && g.ext[x] == g.ext[y] {
			if g.copied == nil {
				g.copied = make([]bool, len(g.ext))
			}
			g.copied[x], g.copied[y] = true, true
		}
	}
}
