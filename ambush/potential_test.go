package ambush

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPotential checks the A* potential of the timed defender oracle on
// random timed games with random attacker weights: at every node of every
// admissible play it is at most the cost of the rest of the route, and the
// label-setting search finds the same cost with it as without it, the same
// route with ties by earliest arrival as by time alone, and the same route
// with the sweep stopped at an incumbent (whose potential is, node by node,
// the least of the whole one and the incumbent).
func TestPotential(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 19))
	var pruned, stopped int
	for round := 0; round < 300; round++ {
		in := randomTimed(rng)
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		pen := randomPenalties(rng, g, 4)
		o := newOracle(g)
		rs, slots := allPlays(g)
		for slot := range g.in.Slots {
			if !g.feasibleFn[slot] {
				continue
			}
			slotT := g.in.Slots[slot]
			h := append([]float64(nil), o.potential(pen, slot, g.maxDur[slot], math.Inf(1))...)
			for i, r := range rs {
				if slots[i] != slot {
					continue
				}
				// The cost of the route from each of its nodes on.
				var tk float64
				times := make([]float64, len(r.edges))
				for k, e := range r.edges {
					times[k] = tk
					tk += g.etime[e]
				}
				var rest float64
				for k := len(r.edges) - 1; k >= 0; k-- {
					e := r.edges[k]
					rest += pen.stepPen(g, e, times[k], slotT)
					if v := g.tail[e]; h[v] > rest+1e-12 {
						t.Fatalf("round %d slot %d: potential %v at node %d above the %v the route pays from it", round, slot, h[v], v, rest)
					}
				}
			}
			for _, bucket := range []float64{0, 4} {
				_, c0, ok0 := o.bestBucketed(pen, slot, g.maxDur[slot], math.Inf(1), bucket, nil)
				r1, c1, ok1 := o.bestBucketed(pen, slot, g.maxDur[slot], math.Inf(1), bucket, h)
				if ok0 != ok1 || math.Abs(c0-c1) > 1e-12 {
					t.Fatalf("round %d slot %d bucket %v: %v %v with the potential, %v %v without", round, slot, bucket, c1, ok1, c0, ok0)
				}
				// Ties by time alone (the order before the earliest
				// possible arrival) find the same route.
				o.byTime = true
				r2, c2, ok2 := o.bestBucketed(pen, slot, g.maxDur[slot], math.Inf(1), bucket, h)
				o.byTime = false
				if ok1 != ok2 || ok1 && (c1 != c2 || !slices.Equal(r1.edges, r2.edges)) {
					t.Fatalf("round %d slot %d bucket %v: ties by arrival %v %v, by time %v %v", round, slot, bucket, c1, ok1, c2, ok2)
				}
				if ok0 && h[g.origin] > 0 {
					pruned++
				}
				if !ok0 {
					continue
				}
				// The sweep stopped at an incumbent: the least of the
				// potential and the incumbent, and the same search.
				inc := c0 * (0.5 + rng.Float64())
				hb := o.potential(pen, slot, g.maxDur[slot], inc)
				for v := range hb {
					if want := math.Min(h[v], inc); hb[v] != want {
						t.Fatalf("round %d slot %d: potential stopped at %v is %v at node %d, want %v", round, slot, inc, hb[v], v, want)
					}
				}
				rb, cb, okb := o.bestBucketed(pen, slot, g.maxDur[slot], inc, bucket, hb)
				rf, cf, okf := o.bestBucketed(pen, slot, g.maxDur[slot], inc, bucket, h)
				if okb != okf || okb && (cb != cf || !slices.Equal(rb.edges, rf.edges)) {
					t.Fatalf("round %d slot %d bucket %v incumbent %v: %v %v with the stopped potential, %v %v with the whole one", round, slot, bucket, inc, cb, okb, cf, okf)
				}
				if okb {
					stopped++
				}
			}
		}
	}
	if pruned == 0 || stopped == 0 {
		t.Fatalf("the potential bound %d searches, the stopped one found %d routes", pruned, stopped)
	}
}
