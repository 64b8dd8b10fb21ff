// Package graphsearch holds the shortest-path machinery that roadnet and
// ambush share: an indexed binary heap generic over its key, the per-query
// state of a Dijkstra-like search with O(1) reset, a generation-marked set,
// and one Dijkstra over a graph in compressed rows, either direction, with
// avoided nodes and edges.
package graphsearch

// Heap is an indexed binary min-heap of ids ordered by a key K, then by a
// tie-break key T (NoTie when there is none: it costs no space, as the
// item is padded to its id anyway). Every id has one place, so a key can
// be lowered or changed in place. The zero Heap is empty; ids may grow as
// they come.
type Heap[K, T Key] struct {
	items []item[K, T]
	pos   []int32 // id -> index in items; -1 once popped
	queue bool    // no index kept (NewQueue)
}

// NoTie is the tie-break key of heaps that need none; pass 0.
type NoTie uint8

type item[K, T Key] struct {
	key K
	tie T
	id  uint32
}

func (a *item[K, T]) less(b *item[K, T]) bool {
	return a.key < b.key || a.key == b.key && a.tie < b.tie
}

// NewHeap returns an empty heap with room for ids below n.
func NewHeap[K, T Key](n int) *Heap[K, T] {
	return &Heap[K, T]{pos: make([]int32, n)}
}

// NewQueue returns an empty heap that keeps no index of its ids: a plain
// priority queue (ids may repeat), for searches that never change a key
// in place. Lower, Update and In are not available on it.
func NewQueue[K, T Key]() *Heap[K, T] { return &Heap[K, T]{queue: true} }

// Reset empties the heap. Positions of ids are stale until pushed again.
func (h *Heap[K, T]) Reset() { h.items = h.items[:0] }

// Len is the number of ids in the heap.
func (h *Heap[K, T]) Len() int { return len(h.items) }

// Top returns the id with the least key and that key; the heap must not be
// empty.
func (h *Heap[K, T]) Top() (uint32, K) { return h.items[0].id, h.items[0].key }

// In reports whether id, pushed since the last Reset, is still queued.
func (h *Heap[K, T]) In(id uint32) bool { return h.pos[id] >= 0 }

// Push adds id, which must not be queued, with key and tie.
func (h *Heap[K, T]) Push(id uint32, key K, tie T) {
	if int(id) >= len(h.pos) && !h.queue {
		h.pos = append(h.pos, make([]int32, int(id)+1-len(h.pos)+len(h.pos)/2)...)
	}
	h.items = append(h.items, item[K, T]{key, tie, id})
	h.up(len(h.items)-1, &h.items[len(h.items)-1])
}

// Pop removes and returns the id with the least key (and tie); the heap
// must not be empty.
func (h *Heap[K, T]) Pop() uint32 {
	top := h.items[0].id
	last := len(h.items) - 1
	it := h.items[last]
	h.items = h.items[:last]
	if last > 0 {
		h.down(0, &it)
	}
	if !h.queue {
		h.pos[top] = -1
	}
	return top
}

// Lower sets the key of queued id to key (with tie), which must not be
// above its current one.
func (h *Heap[K, T]) Lower(id uint32, key K, tie T) {
	i := int(h.pos[id])
	h.items[i].key, h.items[i].tie = key, tie
	it := h.items[i]
	h.up(i, &it)
}

// Update sets the key of queued id to key, up or down.
func (h *Heap[K, T]) Update(id uint32, key K) {
	i := int(h.pos[id])
	h.items[i].key = key
	it := h.items[i]
	h.up(i, &it)
	i = int(h.pos[id])
	h.down(i, &it)
}

// up moves it, bound for index i, towards the root to its place.
func (h *Heap[K, T]) up(i int, it *item[K, T]) {
	v := *it
	for i > 0 {
		p := (i - 1) / 2
		if !v.less(&h.items[p]) {
			break
		}
		h.set(i, h.items[p])
		i = p
	}
	h.set(i, v)
}

// down moves it, bound for index i, towards the leaves to its place.
func (h *Heap[K, T]) down(i int, it *item[K, T]) {
	s := h.items
	n := len(s)
	v := *it
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].less(&s[c]) {
			c++
		}
		if !s[c].less(&v) {
			break
		}
		h.set(i, s[c])
		i = c
	}
	h.set(i, v)
}

// set puts v at index i.
func (h *Heap[K, T]) set(i int, v item[K, T]) {
	h.items[i] = v
	if !h.queue {
		h.pos[v.id] = int32(i)
	}
}

// Key is what a heap orders by and a search adds up: a number.
type Key interface {
	~int | ~int32 | ~int64 | ~uint8 | ~uint32 | ~uint64 | ~float32 | ~float64
}
