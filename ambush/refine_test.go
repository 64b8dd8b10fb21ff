package ambush

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// gonumRefined solves the refinement on the full matrix with gonum:
// minimise t s.t. every unavoidable column stays at most bound and every
// avoidable one at most t, over all plays.
func gonumRefined(t *testing.T, m [][]float64, unavoidable []bool, bound float64) float64 {
	t.Helper()
	nr, nc := len(m), len(m[0])
	if !slices.Contains(unavoidable, false) {
		return 0
	}
	// Variables: x (nr), t, slacks (nc). Rows: nc column rows, one sum row.
	cols := nr + 1 + nc
	a := mat.NewDense(nc+1, cols, nil)
	b := make([]float64, nc+1)
	for c := 0; c < nc; c++ {
		for r := 0; r < nr; r++ {
			a.Set(c, r, m[r][c])
		}
		if unavoidable[c] {
			b[c] = bound
		} else {
			a.Set(c, nr, -1)
		}
		a.Set(c, nr+1+c, 1)
	}
	for r := 0; r < nr; r++ {
		a.Set(nc, r, 1)
	}
	b[nc] = 1
	cost := make([]float64, cols)
	cost[nr] = 1
	v, _, err := lp.Simplex(cost, a, b, 1e-12, nil)
	if err != nil {
		t.Fatalf("gonum simplex on the %dx%d refinement: %v", nr, nc, err)
	}
	return v
}

// TestRefineAgainstBruteForce checks the refinement on small timed games
// against the full-matrix program: the refined strategy keeps the value,
// reaches the least best hit probability at avoidable sites, and is never
// worse there than the unrefined equilibrium.
func TestRefineAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	improved := 0
	for n := 0; n < 25; n++ {
		in := randomTimed(rng)
		t.Run(fmt.Sprintf("%d", n), func(t *testing.T) {
			g, err := compile(in)
			if err != nil {
				t.Fatal(err)
			}
			rs, slots := allPlays(g)
			var cols []column
			for j := range in.Sites {
				for w := range in.Windows {
					cols = append(cols, column{int32(j), w})
				}
			}
			m := make([][]float64, len(rs))
			unavoidable := make([]bool, len(cols))
			for c := range cols {
				unavoidable[c] = true
			}
			for i, r := range rs {
				m[i] = make([]float64, len(cols))
				for c, col := range cols {
					m[i][c] = g.payoff(r, slots[i], col.site, col.w)
					if !passes(r, col.site) {
						unavoidable[c] = false
					}
				}
			}
			base, err := Solve(context.Background(), in, Options{SkipRefine: true})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if base.Value == 0 {
				return // a route avoids every site: nothing to refine
			}
			if !st.Refined || base.Refined {
				t.Fatalf("refined %v, unrefined run refined %v", st.Refined, base.Refined)
			}
			if math.Abs(st.Value-base.Value) > 1e-9 || st.Exploitability > 1e-6 {
				t.Errorf("refined value %.12f (exploitability %g), unrefined %.12f", st.Value, st.Exploitability, base.Value)
			}
			want := gonumRefined(t, m, unavoidable, base.Value+1e-9)
			if math.Abs(st.AvoidableBest-want) > 1e-7 {
				t.Errorf("refined avoidable best %.10f, full program %.10f", st.AvoidableBest, want)
			}
			if st.AvoidableBest > base.AvoidableBest+1e-9 {
				t.Errorf("refined avoidable best %v worse than unrefined %v", st.AvoidableBest, base.AvoidableBest)
			}
			if st.AvoidableBest < base.AvoidableBest-1e-6 {
				improved++
			}
		})
	}
	if improved == 0 {
		t.Errorf("the refinement improved none of the games")
	}
	t.Logf("refinement improved %d of 25 games", improved)
}

// passes reports whether route r passes site j.
func passes(r *route, j int32) bool {
	for _, p := range r.pass {
		if p.site == j {
			return true
		}
	}
	return false
}

// TestRefineMapGames compares the refined and unrefined strategies on the
// Monaco journeys: same value, and a lower best hit probability at the
// sites a route can avoid.
func TestRefineMapGames(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(testing.TB) *Instance
	}{
		{"monaco-prison-to-eze", func(tb testing.TB) *Instance {
			return mapInstance(tb, mapCases[0])
		}},
		{"monaco-court-to-nice", func(tb testing.TB) *Instance { _, in := niceInstance(tb); return in }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(t)
			base, err := Solve(context.Background(), in, Options{SkipRefine: true})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("value %.4f (unrefined %.4f), avoidable best %.4f (unrefined %.4f), %d routes (%d), extra %.0f s (%.0f s)",
				st.Value, base.Value, st.AvoidableBest, base.AvoidableBest, len(st.Routes), len(base.Routes), st.ExpectedExtraS, base.ExpectedExtraS)
			if !st.Refined || math.Abs(st.Value-base.Value) > 1e-9 || st.Exploitability > 1e-3 {
				t.Errorf("refined %v, value %v vs unrefined %v, exploitability %g", st.Refined, st.Value, base.Value, st.Exploitability)
			}
			if st.AvoidableBest >= base.AvoidableBest {
				t.Errorf("avoidable best %v, unrefined %v: the refinement should lower it here", st.AvoidableBest, base.AvoidableBest)
			}
		})
	}
}
