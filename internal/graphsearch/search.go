package graphsearch

// NoPred is the predecessor of a seed.
const NoPred = ^uint32(0)

// Search is the scratch state of one Dijkstra-like search over n nodes:
// tentative distances, predecessors and the queue. Node entries are valid
// only when their stamp equals the generation, so Reset is O(1). A search
// that closes a node never reopens it: callers use consistent heuristics.
type Search[K Key] struct {
	// Dist is a node's tentative distance, Pred the arc that reached it
	// (NoPred for a seed); both valid only for reached nodes.
	Dist []K
	Pred []uint32
	// Inf is what Get returns for a node not reached.
	Inf   K
	stamp []uint32
	gen   uint32
	heap  Heap[K, NoTie]
	// Touched lists every node given a distance since Reset, in order.
	Touched []uint32
}

// New returns a search over n nodes whose unreached distance is inf.
func New[K Key](n int, inf K) *Search[K] {
	return &Search[K]{
		Dist: make([]K, n), Pred: make([]uint32, n), Inf: inf,
		stamp: make([]uint32, n), heap: Heap[K, NoTie]{pos: make([]int32, n)},
	}
}

// Len is the number of nodes the search covers.
func (s *Search[K]) Len() int { return len(s.stamp) }

// Reset forgets every distance.
func (s *Search[K]) Reset() {
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
	s.heap.Reset()
	s.Touched = s.Touched[:0]
}

// Get returns n's tentative distance, or Inf.
func (s *Search[K]) Get(n uint32) K {
	if s.stamp[n] != s.gen {
		return s.Inf
	}
	return s.Dist[n]
}

// Reached reports whether n has a distance.
func (s *Search[K]) Reached(n uint32) bool { return s.stamp[n] == s.gen }

// Settled reports whether n has left the queue: its distance is final.
func (s *Search[K]) Settled(n uint32) bool { return s.stamp[n] == s.gen && s.heap.pos[n] < 0 }

// Relax lowers n's distance to d (queue key d+h) if that improves it; a
// settled node is left alone.
func (s *Search[K]) Relax(n uint32, d, h K, pred uint32) {
	if s.stamp[n] != s.gen {
		s.stamp[n] = s.gen
		s.Dist[n] = d
		s.Pred[n] = pred
		s.Touched = append(s.Touched, n)
		s.heap.Push(n, d+h, 0)
		return
	}
	if d >= s.Dist[n] || s.heap.pos[n] < 0 {
		return
	}
	s.Dist[n] = d
	s.Pred[n] = pred
	s.heap.Lower(n, d+h, 0)
}

// Empty reports whether the queue is empty.
func (s *Search[K]) Empty() bool { return len(s.heap.items) == 0 }

// MinKey returns the least key in the queue, or Inf.
func (s *Search[K]) MinKey() K {
	if len(s.heap.items) == 0 {
		return s.Inf
	}
	return s.heap.items[0].key
}

// Pop removes the node with the least key from the queue and returns it:
// its distance is final.
func (s *Search[K]) Pop() uint32 { return s.heap.Pop() }
