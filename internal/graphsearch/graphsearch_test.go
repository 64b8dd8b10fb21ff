package graphsearch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHeapOrder pushes, lowers, updates and pops random keys and checks
// every pop against a plain sorted reference.
func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		h := &Heap[int64, int64]{} // ids grow as they come
		ref := map[uint32]kv{}
		n := 1 + rng.IntN(60)
		for id := uint32(0); id < uint32(n); id++ {
			k := kv{rng.Int64N(20), rng.Int64N(3)}
			h.Push(id, k.key, k.tie)
			ref[id] = k
		}
		for range n / 2 {
			id := uint32(rng.IntN(n))
			if _, ok := ref[id]; !ok {
				continue
			}
			if rng.IntN(2) == 0 {
				k := kv{ref[id].key - 1 - rng.Int64N(5), rng.Int64N(3)}
				h.Lower(id, k.key, k.tie)
				ref[id] = k
			} else {
				k := kv{rng.Int64N(30), ref[id].tie}
				h.Update(id, k.key)
				ref[id] = k
			}
			if rng.IntN(3) == 0 {
				top, key := h.Top()
				got := h.Pop()
				if got != top || ref[got].key != key {
					t.Fatalf("pop %d, top said %d at %d", got, top, key)
				}
				checkLeast(t, ref, got)
				delete(ref, got)
				if h.In(got) {
					t.Fatalf("%d still queued after its pop", got)
				}
			}
		}
		for h.Len() > 0 {
			got := h.Pop()
			checkLeast(t, ref, got)
			delete(ref, got)
		}
		if len(ref) != 0 {
			t.Fatalf("%d ids never popped", len(ref))
		}
	}
}

type kv struct{ key, tie int64 }

// TestQueueOrder pops a plain queue, repeated ids included, in key order.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	q := NewQueue[float64, NoTie]()
	var want []float64
	for range 500 {
		k := float64(rng.IntN(50))
		q.Push(uint32(rng.IntN(10)), k, 0)
		want = append(want, k)
	}
	slices.Sort(want)
	for i, w := range want {
		if _, k := q.Top(); k != w {
			t.Fatalf("pop %d: key %v, want %v", i, k, w)
		}
		q.Pop()
	}
	if q.Len() != 0 {
		t.Fatal("queue not empty")
	}
}

func checkLeast(t *testing.T, ref map[uint32]kv, got uint32) {
	t.Helper()
	g := ref[got]
	for id, k := range ref {
		if k.key < g.key || k.key == g.key && k.tie < g.tie {
			t.Fatalf("popped %d at %v while %d at %v waits", got, g, id, k)
		}
	}
}

// randomGraph returns a graph of n nodes with forward and backward rows.
func randomGraph(rng *rand.Rand, n, m int) (fwd, bwd Graph[float64], tail, head []int32) {
	w := make([]float64, m)
	tail, head = make([]int32, m), make([]int32, m)
	for e := range m {
		tail[e], head[e], w[e] = int32(rng.IntN(n)), int32(rng.IntN(n)), float64(rng.IntN(10))
	}
	rows := func(from []int32) (first, arc []int32) {
		first = make([]int32, n+1)
		for _, u := range from {
			first[u+1]++
		}
		for i := range n {
			first[i+1] += first[i]
		}
		fill := slices.Clone(first)
		arc = make([]int32, m)
		for e, u := range from {
			arc[fill[u]] = int32(e)
			fill[u]++
		}
		return first, arc
	}
	f1, a1 := rows(tail)
	f2, a2 := rows(head)
	return Graph[float64]{f1, a1, head, w}, Graph[float64]{f2, a2, tail, w}, tail, head
}

// bellmanFord is the reference: distances from src over the edges from ->
// to that avoid the marked nodes and edges.
func bellmanFord(n int, from, to []int32, w []float64, src int32, avoidN, avoidE map[int32]bool) []float64 {
	d := make([]float64, n)
	for i := range d {
		d[i] = math.Inf(1)
	}
	d[src] = 0
	for range n {
		for e := range from {
			if avoidE[int32(e)] || avoidN[to[e]] {
				continue
			}
			if nd := d[from[e]] + w[e]; nd < d[to[e]] {
				d[to[e]] = nd
			}
		}
	}
	return d
}

// TestDijkstra checks both directions, avoid sets and the target against
// Bellman-Ford, and that predecessor edges rebuild each distance.
func TestDijkstra(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := New[float64](40, math.Inf(1))
	var nodes, edges Set
	for round := 0; round < 300; round++ {
		n, m := 40, 1+rng.IntN(160)
		fwd, bwd, tail, head := randomGraph(rng, n, m)
		src := int32(rng.IntN(n))
		avoidN, avoidE := map[int32]bool{}, map[int32]bool{}
		nodes.Reset(n)
		edges.Reset(m)
		for range rng.IntN(4) {
			if v := int32(rng.IntN(n)); v != src {
				avoidN[v] = true
				nodes.Add(uint32(v))
			}
			e := int32(rng.IntN(m))
			avoidE[e] = true
			edges.Add(uint32(e))
		}
		opt := Options[float64]{AvoidNodes: &nodes, AvoidEdges: &edges}
		for dir, g := range []Graph[float64]{fwd, bwd} {
			from, to := tail, head
			if dir == 1 {
				from, to = head, tail
			}
			want := bellmanFord(n, from, to, g.Weight, src, avoidN, avoidE)
			if Dijkstra(s, g, []int32{src}, opt) {
				t.Fatal("a search without a target reported one")
			}
			for v := range n {
				if got := s.Get(uint32(v)); got != want[v] {
					t.Fatalf("round %d dir %d node %d: %v, want %v", round, dir, v, got, want[v])
				}
				if !s.Reached(uint32(v)) {
					continue
				}
				// The predecessor chain adds up to the distance.
				var sum float64
				for u := uint32(v); s.Pred[u] != NoPred; u = uint32(from[s.Pred[u]]) {
					sum += g.Weight[s.Pred[u]]
				}
				if sum != want[v] {
					t.Fatalf("node %d: path of %v for a distance %v", v, sum, want[v])
				}
			}
			// A target within the bound is settled at its distance, one
			// beyond it is not.
			tgt := int32(rng.IntN(n))
			lower := make([]float64, n)
			o := opt
			o.Target, o.HasTarget, o.Lower, o.Bound = tgt, true, lower, want[tgt]
			if got := Dijkstra(s, g, []int32{src}, o); got != !math.IsInf(want[tgt], 1) || got && s.Dist[tgt] != want[tgt] {
				t.Fatalf("target %d: reached %v at %v, want %v", tgt, got, s.Dist[tgt], want[tgt])
			}
			if o.Bound = want[tgt] - 1; Dijkstra(s, g, []int32{src}, o) {
				t.Fatalf("target %d at %v reached within a bound of %v", tgt, want[tgt], o.Bound)
			}
		}
	}
}

func TestSet(t *testing.T) {
	var m Set
	if m.Has(3) {
		t.Fatal("a set never reset has members")
	}
	m.Reset(10)
	m.Add(3)
	if !m.Has(3) || m.Has(4) {
		t.Fatal("membership")
	}
	m.Reset(10)
	if m.Has(3) {
		t.Fatal("reset kept a member")
	}
}
