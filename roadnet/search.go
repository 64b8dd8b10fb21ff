package roadnet

import (
	"runtime"
	"sync"
)

// search is the scratch state of one Dijkstra-like search over n nodes. Node
// entries are valid only when their stamp equals gen, so reset is O(1).
type search struct {
	dist  []int64
	pred  []uint32 // edge that reached the node (base or CH id), NoEdge for a seed
	stamp []uint32
	hpos  []int32 // position in heap; -1 settled
	gen   uint32
	heap  []hitem
	// touched lists every node given a distance since reset, in order.
	touched []uint32
}

type hitem struct {
	key  int64
	node uint32
}

func newSearch(n int) *search {
	return &search{
		dist: make([]int64, n), pred: make([]uint32, n),
		stamp: make([]uint32, n), hpos: make([]int32, n),
	}
}

func (s *search) reset() {
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
	s.heap = s.heap[:0]
	s.touched = s.touched[:0]
}

// get returns n's tentative distance, or Infinity.
func (s *search) get(n uint32) int64 {
	if s.stamp[n] != s.gen {
		return Infinity
	}
	return s.dist[n]
}

func (s *search) reached(n uint32) bool { return s.stamp[n] == s.gen }

func (s *search) settled(n uint32) bool { return s.stamp[n] == s.gen && s.hpos[n] < 0 }

// relax lowers n's distance to d (queue key d+h) if that improves it. A
// settled node is never reopened: callers use consistent heuristics.
func (s *search) relax(n uint32, d, h int64, pred uint32) {
	if s.stamp[n] != s.gen {
		s.stamp[n] = s.gen
		s.dist[n] = d
		s.pred[n] = pred
		s.touched = append(s.touched, n)
		s.push(n, d+h)
		return
	}
	if d >= s.dist[n] || s.hpos[n] < 0 {
		return
	}
	s.dist[n] = d
	s.pred[n] = pred
	i := int(s.hpos[n])
	s.heap[i].key = d + h
	s.up(i)
}

func (s *search) empty() bool { return len(s.heap) == 0 }

// minKey returns the smallest key in the queue, or Infinity.
func (s *search) minKey() int64 {
	if len(s.heap) == 0 {
		return Infinity
	}
	return s.heap[0].key
}

// pop removes and returns the node with the smallest key and marks it settled.
func (s *search) pop() uint32 {
	top := s.heap[0].node
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap = s.heap[:last]
	if last > 0 {
		s.hpos[s.heap[0].node] = 0
		s.down(0)
	}
	s.hpos[top] = -1
	return top
}

func (s *search) push(n uint32, key int64) {
	s.heap = append(s.heap, hitem{key, n})
	i := len(s.heap) - 1
	s.hpos[n] = int32(i)
	s.up(i)
}

func (s *search) up(i int) {
	h := s.heap
	it := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= it.key {
			break
		}
		h[i] = h[p]
		s.hpos[h[i].node] = int32(i)
		i = p
	}
	h[i] = it
	s.hpos[it.node] = int32(i)
}

func (s *search) down(i int) {
	h := s.heap
	n := len(h)
	it := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].key < h[c].key {
			c++
		}
		if h[c].key >= it.key {
			break
		}
		h[i] = h[c]
		s.hpos[h[i].node] = int32(i)
		i = c
	}
	h[i] = it
	s.hpos[it.node] = int32(i)
}

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
}

// markSet is a set of small integers that empties in O(1): i is in the set
// when mark[i] equals the current generation.
type markSet struct {
	mark []uint32
	gen  uint32
}

// reset empties the set, for members below n.
func (m *markSet) reset(n int) {
	if len(m.mark) < n {
		m.mark = make([]uint32, n)
	}
	m.gen++
	if m.gen == 0 {
		clear(m.mark)
		m.gen = 1
	}
}

func (m *markSet) add(i uint32)      { m.mark[i] = m.gen }
func (m *markSet) has(i uint32) bool { return m.mark[i] == m.gen }

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
