package roadnet

import (
	"runtime"
	"sync"

	"github.com/convoi/convoi/internal/graphsearch"
)

// search is the scratch state of one Dijkstra-like search over the graph's
// nodes (see graphsearch.Search): distances in cost units, predecessors
// that are base or CH edge ids, NoPred (math.MaxUint32) for a seed.
type search = graphsearch.Search[int64]

func newSearch(n int) *search { return graphsearch.New[int64](n, Infinity) }

// state is everything one query needs; it comes from the graph's pool.
type state struct {
	g        *Graph
	fwd, bwd *search
	// avoid marks edges a query must not use. Allocated on first use:
	// plain CH queries never need it.
	avoid markSet
	// Node marks of the alternatives search (allocated on first use):
	// tried for nodes already on a route or a via path, seen for the nodes
	// of the path being checked.
	tried, seen markSet
	// Searches over the turn graph, one node per edge (allocated on first
	// use: DIMACS graphs have no turn graph), and their buffers.
	tf, tb             *search
	srcSeeds, dstSeeds []seed
	arcs               []uint32
}

// turnSearches makes sure st has the turn graph's searches, over m edges.
func (st *state) turnSearches(m int) {
	if st.tf == nil {
		st.tf, st.tb = newSearch(m), newSearch(m)
	}
}

// markSet is a set of small integers that empties in O(1).
type markSet = graphsearch.Set

// pool keeps per-query states for reuse. Unlike a sync.Pool it survives
// garbage collections: a state of a large graph is megabytes that a query
// would otherwise allocate and clear again after every collection, which
// showed as the slowest queries of a benchmark. It keeps at most
// maxPooledStates(), so its memory is bounded.
type pool struct {
	mu   sync.Mutex
	free []*state
}

func maxPooledStates() int { return max(2, runtime.GOMAXPROCS(0)) }

func (g *Graph) getState() *state {
	g.pool.mu.Lock()
	if k := len(g.pool.free); k > 0 {
		st := g.pool.free[k-1]
		g.pool.free[k-1] = nil
		g.pool.free = g.pool.free[:k-1]
		g.pool.mu.Unlock()
		return st
	}
	g.pool.mu.Unlock()
	n := len(g.lat)
	return &state{g: g, fwd: newSearch(n), bwd: newSearch(n)}
}

func (g *Graph) putState(st *state) {
	g.pool.mu.Lock()
	if len(g.pool.free) < maxPooledStates() {
		g.pool.free = append(g.pool.free, st)
	}
	g.pool.mu.Unlock()
}
