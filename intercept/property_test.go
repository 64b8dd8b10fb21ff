package intercept

import (
	"context"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// randomInstance builds a small instance: a random directed graph, units
// (some sharing a start, so interchangeable), routes that are random walks
// in time order, and candidates either empty (every node) or by the
// published rule.
func randomInstance(rng *rand.Rand) *Instance {
	n := 4 + rng.IntN(9)
	in := &Instance{Name: "random", HorizonS: 300, FugitiveStart: rng.IntN(n)}
	for i := range n {
		in.Nodes = append(in.Nodes, Node{ID: int64(1000 + i), Lat: 52, Lon: 6})
	}
	for range n * (1 + rng.IntN(3)) {
		a, b := rng.IntN(n), rng.IntN(n)
		if a != b {
			in.Edges = append(in.Edges, Edge{From: a, To: b, TravelTimeS: float64(1 + rng.IntN(60))})
		}
	}
	units := 1 + rng.IntN(4)
	for u := range units {
		un := Unit{Start: rng.IntN(n)}
		if u > 0 && rng.IntN(3) == 0 {
			un.Start = in.Units[u-1].Start // interchangeable with the previous unit
		} else if rng.IntN(3) == 0 {
			un.StartDelayS = float64(rng.IntN(30))
		}
		in.Units = append(in.Units, un)
	}
	for range 5 + rng.IntN(60) { // at most 64 routes (bruteForce)
		var route []Visit
		v, t := rng.IntN(n), float64(rng.IntN(2))*0.001 // 0: ties with integral arrival times
		for range 1 + rng.IntN(8) {
			route = append(route, Visit{Node: v, TimeS: t})
			v, t = rng.IntN(n), t+float64(rng.IntN(40)) // may repeat nodes and times
			if t >= in.HorizonS {
				break
			}
		}
		in.Routes = append(in.Routes, route)
	}
	if rng.IntN(2) == 0 {
		for u := range in.Units {
			a := bellmanFord(in, u)
			var c []int
			for v := range n {
				onRoute := false
				for _, r := range in.Routes {
					for _, x := range r {
						onRoute = onRoute || x.Node == v
					}
				}
				if v == in.Units[u].Start || onRoute && a[v] <= in.HorizonS {
					c = append(c, v)
				}
			}
			in.Units[u].Candidates = c
		}
	}
	return in
}

// bellmanFord is the test's own shortest arrival times.
func bellmanFord(in *Instance, u int) []float64 {
	a := make([]float64, len(in.Nodes))
	for i := range a {
		a[i] = math.Inf(1)
	}
	a[in.Units[u].Start] = 0
	for range in.Nodes {
		for _, e := range in.Edges {
			a[e.To] = math.Min(a[e.To], a[e.From]+e.TravelTimeS)
		}
	}
	for i := range a {
		a[i] += in.Units[u].StartDelayS
	}
	return a
}

// bruteForce tries every node for every unit (not only the candidates) with
// the reference evaluator of FORMAT.md: route r is intercepted by unit u
// at v when r visits v at some t >= a_u(v). Instances have at most 64
// routes, so a set of routes is a uint64.
func bruteForce(in *Instance) int {
	if len(in.Routes) > 64 {
		panic("bruteForce takes at most 64 routes")
	}
	cover := make([][]uint64, len(in.Units))
	for u := range in.Units {
		a := bellmanFord(in, u)
		cover[u] = make([]uint64, len(in.Nodes))
		for r, route := range in.Routes {
			for _, x := range route {
				if x.TimeS >= a[x.Node] {
					cover[u][x.Node] |= 1 << r
				}
			}
		}
	}
	best := 0
	var rec func(u int, hit uint64)
	rec = func(u int, hit uint64) {
		if u == len(cover) {
			best = max(best, bits.OnesCount64(hit))
			return
		}
		for v := range in.Nodes {
			rec(u+1, hit|cover[u][v])
		}
	}
	rec(0, 0)
	return best
}

// TestSolveMatchesBruteForce compares Solve with exhaustive enumeration on
// random small instances, and checks the plan it returns: one candidate
// per unit, its value re-evaluated, the proof closed.
func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	for i := range 1500 {
		in := randomInstance(rng)
		p, err := Compile(in)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		want := bruteForce(in)
		pl, err := p.Solve(context.Background())
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if pl.Intercepted != want || !pl.Optimal || pl.BoundIntercepted != want {
			t.Fatalf("instance %d (%d nodes, %d units, %d routes): solve %+v, brute force %d", i, len(in.Nodes), len(in.Units), len(in.Routes), pl, want)
		}
		if n, err := p.Evaluate(pl.Positions); err != nil || n != pl.Intercepted {
			t.Fatalf("instance %d: positions %v intercept %d (%v), plan says %d", i, pl.Positions, n, err, pl.Intercepted)
		}
		for u, v := range pl.Positions {
			if c := in.Units[u].Candidates; len(c) > 0 && !contains(c, v) {
				t.Fatalf("instance %d: unit %d at node %d, not a candidate %v", i, u, v, c)
			}
		}
		if g := p.Greedy(); g.Intercepted > want || g.BoundIntercepted < want {
			t.Fatalf("instance %d: greedy %d, bound %d, optimum %d", i, g.Intercepted, g.BoundIntercepted, want)
		}
		if pl.Fraction != float64(want)/float64(len(in.Routes)) {
			t.Fatalf("instance %d: fraction %v for %d of %d", i, pl.Fraction, want, len(in.Routes))
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
