package graphsearch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOnSimplePath checks OnSimplePath against the enumeration of every
// simple undirected path from s to t on small random graphs, sparse ones
// (trees with a few chords: dead ends and articulation points) and dense
// ones, and on a road-like case written out.
func TestOnSimplePath(t *testing.T) {
	// 0 - 1 - 2 - 3 with a loop 1 - 4 - 5 - 1 hung on 1 and a dead end
	// 2 - 6: only the line is on a simple path from 0 to 3; from 4 to 3,
	// the loop and the line from 1.
	tail := []int32{0, 1, 2, 1, 4, 5, 2, 1, 2, 6}
	head := []int32{1, 2, 3, 4, 5, 1, 6, 0, 1, 2}
	if got, want := OnSimplePath(7, tail, head, 0, 3), []bool{true, true, true, true, false, false, false}; !slices.Equal(got, want) {
		t.Fatalf("0 -> 3: %v, want %v", got, want)
	}
	if got, want := OnSimplePath(7, tail, head, 4, 3), []bool{false, true, true, true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("4 -> 3: %v, want %v", got, want)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	marked := 0
	for k := 0; k < 300; k++ {
		n := 2 + rng.IntN(10)
		var tail, head []int32
		for v := 1; v < n; v++ { // a random tree...
			if rng.IntN(8) > 0 {
				tail, head = append(tail, int32(rng.IntN(v))), append(head, int32(v))
			}
		}
		for c := rng.IntN(1 + n*(k%3)); c > 0; c-- { // ...with chords
			tail, head = append(tail, int32(rng.IntN(n))), append(head, int32(rng.IntN(n)))
		}
		for i := range tail { // either direction
			if rng.IntN(2) == 0 {
				tail[i], head[i] = head[i], tail[i]
			}
		}
		s, d := int32(rng.IntN(n)), int32(rng.IntN(n))
		got := OnSimplePath(n, tail, head, s, d)
		want := bruteSimple(n, tail, head, s, d)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: n %d, arcs %v -> %v, %d to %d: got %v, want %v", k, n, tail, head, s, d, got, want)
		}
		for _, b := range want {
			if b {
				marked++
			}
		}
	}
	if marked == 0 {
		t.Fatal("no node marked in any case")
	}
}

// bruteSimple marks the nodes of every simple undirected path from s to t.
func bruteSimple(n int, tail, head []int32, s, t int32) []bool {
	on := make([]bool, n)
	path := []int32{s}
	inPath := make([]bool, n)
	inPath[s] = true
	var rec func(v int32)
	rec = func(v int32) {
		if v == t {
			for _, u := range path {
				on[u] = true
			}
			return
		}
		for i := range tail {
			for _, ends := range [2][2]int32{{tail[i], head[i]}, {head[i], tail[i]}} {
				if ends[0] != v || inPath[ends[1]] {
					continue
				}
				w := ends[1]
				inPath[w] = true
				path = append(path, w)
				rec(w)
				path = path[:len(path)-1]
				inPath[w] = false
			}
		}
	}
	rec(s)
	return on
}
