package ambush

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// randomTimed builds a small game with departure slots, a deadline and
// attacker windows, on a random layered graph with sites on some nodes and
// edges.
func randomTimed(rng *rand.Rand) *Instance {
	in := randomInterdiction(rng, 2+rng.IntN(2), 2+rng.IntN(2))
	// Keep about half the edge sites, add node sites.
	var sites []Site
	for _, s := range in.Sites {
		if rng.IntN(2) == 0 {
			sites = append(sites, s)
		}
	}
	for _, n := range in.Nodes {
		if rng.IntN(3) == 0 {
			sites = append(sites, Site{ID: "at_" + n.ID, Node: n.ID, P: 0.1 + 0.9*rng.Float64()})
		}
	}
	if len(sites) == 0 {
		sites = append(sites, Site{ID: "at_d", Node: "d", P: 0.5})
	}
	in.Sites = sites
	in.Stretch = 1.2 + rng.Float64()
	in.Slots = []float64{0, 10, 20, 30}
	dl := 30 + 40 + 20*rng.Float64()
	in.Deadline = &dl
	for a := -10.0; a < 90; a += 15 {
		in.Windows = append(in.Windows, Window{a, a + 20})
	}
	return in
}

// allPlays enumerates every admissible (simple route, slot) by brute force.
func allPlays(g *game) (rs []*route, slots []int) {
	var edges []int32
	on := make([]bool, g.n)
	var rec func(v int32, t float64)
	rec = func(v int32, t float64) {
		if v == g.dest {
			r := g.makeRoute(append([]int32(nil), edges...))
			for s := range g.in.Slots {
				if g.admissible(r.dur, s) {
					rs, slots = append(rs, r), append(slots, s)
				}
			}
			return
		}
		on[v] = true
		for k := g.out[v]; k < g.out[v+1]; k++ {
			e := g.outE[k]
			if w := g.head[e]; !on[w] {
				edges = append(edges, e)
				rec(w, t+g.etime[e])
				edges = edges[:len(edges)-1]
			}
		}
		on[v] = false
	}
	rec(g.origin, 0)
	return rs, slots
}

// gonumValue solves the full matrix game min_x max_c (xM)_c with gonum's
// simplex in standard form: an LP implementation independent of ours.
func gonumValue(t *testing.T, m [][]float64) float64 {
	t.Helper()
	nr, nc := len(m), len(m[0])
	// Variables: x (nr), v, slacks (nc). Rows: nc payoff rows, one sum row.
	cols := nr + 1 + nc
	a := mat.NewDense(nc+1, cols, nil)
	b := make([]float64, nc+1)
	for c := 0; c < nc; c++ {
		for r := 0; r < nr; r++ {
			a.Set(c, r, m[r][c])
		}
		a.Set(c, nr, -1)
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
		t.Fatalf("gonum simplex on %dx%d game: %v", nr, nc, err)
	}
	return v
}

func TestSolveTimedAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for n := 0; n < 25; n++ {
		in := randomTimed(rng)
		t.Run(fmt.Sprintf("%d", n), func(t *testing.T) {
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			g, err := compile(in)
			if err != nil {
				t.Fatal(err)
			}
			rs, slots := allPlays(g)
			var cols []column
			for j := range g.siteP {
				for w := range in.Windows {
					cols = append(cols, column{int32(j), w})
				}
			}
			m := make([][]float64, len(rs))
			for i, r := range rs {
				m[i] = make([]float64, len(cols))
				for c, col := range cols {
					m[i][c] = g.payoff(r, slots[i], col.site, col.w)
				}
			}
			_, _, ours, err := solveMatrixGame(m)
			if err != nil {
				t.Fatal(err)
			}
			want := gonumValue(t, m)
			if math.Abs(ours-want) > 1e-9 {
				t.Fatalf("full-matrix LP: ours %.12f, gonum %.12f", ours, want)
			}
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !st.ExactOracle || !st.Converged {
				t.Fatalf("exact=%v converged=%v", st.ExactOracle, st.Converged)
			}
			if math.Abs(st.Value-want) > 1e-7 {
				t.Errorf("double oracle value %.10f, full game %.10f (%d plays x %d columns)", st.Value, want, len(rs), len(cols))
			}
			if st.Exploitability > 1e-6 {
				t.Errorf("exploitability %g", st.Exploitability)
			}
			for _, p := range st.Plays {
				if r := st.Routes[p.Route]; in.Slots[p.Slot]+r.DurationS > *in.Deadline+1e-9 {
					t.Errorf("play route %d slot %d arrives at %v after the deadline %v", p.Route, p.Slot, in.Slots[p.Slot]+r.DurationS, *in.Deadline)
				}
				if r := st.Routes[p.Route]; r.DurationS > st.FastestS*in.Stretch*(1+1e-9) {
					t.Errorf("route %d takes %v, over the stretch bound", p.Route, r.DurationS)
				}
			}
			if st.Value > st.FixedFastest.Value+1e-9 {
				t.Errorf("value %v worse than the fixed fastest route %v", st.Value, st.FixedFastest.Value)
			}
			// The heuristic oracle with its relaxed bound brackets the value.
			h, err := Solve(context.Background(), in, Options{ExactBudget: 1})
			if err != nil {
				t.Fatal(err)
			}
			if h.ExactOracle || h.Value < want-1e-9 || h.LowerBound > want+1e-9 {
				t.Errorf("heuristic: exact %v, value %v, lower bound %v, true value %v", h.ExactOracle, h.Value, h.LowerBound, want)
			}
		})
	}
}

func TestSolveMatrixGameDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    [][]float64
		want float64
	}{
		{"pure", [][]float64{{0.3}}, 0.3},
		{"identity", [][]float64{{1, 0}, {0, 1}}, 0.5},
		{"all equal", [][]float64{{0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}, 0.5},
		{"duplicate rows", [][]float64{{1, 0, 0}, {1, 0, 0}, {0, 1, 1}, {0, 1, 1}}, 0.5},
		{"zero row", [][]float64{{1, 1}, {0, 0}}, 0},
		{"dominated", [][]float64{{0.2, 0.9}, {0.1, 0.8}, {0.9, 0.1}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, y, v, err := solveMatrixGame(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want > 0 && math.Abs(v-tc.want) > 1e-12 {
				t.Errorf("value %v, want %v", v, tc.want)
			}
			// Certificate: x holds every column to v, y holds every row to v.
			for c := range tc.m[0] {
				var s float64
				for r := range tc.m {
					s += x[r] * tc.m[r][c]
				}
				if s > v+1e-12 {
					t.Errorf("column %d gets %v > value %v", c, s, v)
				}
			}
			for r := range tc.m {
				var s float64
				for c := range tc.m[r] {
					s += y[c] * tc.m[r][c]
				}
				if s < v-1e-12 {
					t.Errorf("row %d pays %v < value %v", r, s, v)
				}
			}
		})
	}
}

// TestWarmLP grows random games row by row and column by column, as the
// double oracle does, and checks the warm-started LP against a cold solve.
func TestWarmLP(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var w warmLP
	solves := 0
	defer func() {
		if w.warm < solves/2 {
			t.Errorf("only %d of %d solves were warm", w.warm, solves)
		}
	}()
	for n := 0; n < 30; n++ {
		w.reset()
		m := [][]float64{{0.1 + rng.Float64()}}
		for step := 0; step < 40; step++ {
			if rng.IntN(2) == 0 {
				row := make([]float64, len(m[0]))
				for c := range row {
					if rng.IntN(3) > 0 {
						row[c] = float64(rng.IntN(5)) / 4 // many ties: degenerate
					}
				}
				m = append(m, row)
			} else {
				for r := range m {
					v := 0.0
					if rng.IntN(3) > 0 {
						v = float64(rng.IntN(5)) / 4
					}
					m[r] = append(m[r], v)
				}
			}
			_, _, want, err := solveMatrixGame(m)
			if err != nil {
				t.Fatal(err)
			}
			solves++
			x, y, got, err := w.solve(m)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > 1e-9 {
				t.Fatalf("game %d step %d (%dx%d): warm %v, cold %v", n, step, len(m), len(m[0]), got, want)
			}
			// Certificate on the warm solution.
			for c := range m[0] {
				var s float64
				for r := range m {
					s += x[r] * m[r][c]
				}
				if s > got+1e-9 {
					t.Fatalf("game %d step %d: column %d gets %v > %v", n, step, c, s, got)
				}
			}
			for r := range m {
				var s float64
				for c := range m[r] {
					s += y[c] * m[r][c]
				}
				if s < got-1e-9 {
					t.Fatalf("game %d step %d: row %d pays %v < %v", n, step, r, s, got)
				}
			}
		}
	}
}

// TestWarmLPDrift corrupts the kept tableau as rounding does after
// thousands of pivots (a basic variable's value 1 % too high, so a
// constraint of the game is broken) and checks that the next solve sees it
// and answers from the game itself: the value of a cold solve, and no
// column paid more than that value.
func TestWarmLPDrift(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	for n := 0; n < 20; n++ {
		var w warmLP
		m := make([][]float64, 6)
		for r := range m {
			m[r] = make([]float64, 9)
			for c := range m[r] {
				m[r][c] = float64(rng.IntN(5)) / 4
			}
			m[r][rng.IntN(9)] = 1 // no row of zeros
		}
		if _, _, _, err := w.solve(m); err != nil {
			t.Fatal(err)
		}
		corrupted := false
		for i, bc := range w.basis {
			if w.isVar[bc] >= 0 && w.rhs[i] > 0 {
				w.rhs[i] *= 1.01
				corrupted = true
				break
			}
		}
		if !corrupted {
			t.Fatalf("game %d: no basic variable to corrupt", n)
		}
		x, _, got, err := w.solve(m)
		if err != nil {
			t.Fatal(err)
		}
		_, _, want, err := solveMatrixGame(m)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-9 {
			t.Fatalf("game %d: value %v after the drift, cold %v", n, got, want)
		}
		for c := range m[0] {
			var s float64
			for r := range m {
				s += x[r] * m[r][c]
			}
			if s > got+1e-9 {
				t.Fatalf("game %d: column %d gets %v > the value %v", n, c, s, got)
			}
		}
	}
}

// TestWarmLPKeep prunes the warm LP between solves as the double oracle
// does (non-basic rows, columns whose slack is basic, and the rows and
// columns the solver keeps anyway) and checks it against a cold solve and
// that it stays warm.
func TestWarmLPKeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 21))
	var w warmLP
	kept := 0
	for n := 0; n < 30; n++ {
		w.reset()
		m := [][]float64{{0.1 + rng.Float64()}}
		for step := 0; step < 60; step++ {
			switch rng.IntN(3) {
			case 0:
				row := make([]float64, len(m[0]))
				for c := range row {
					if rng.IntN(3) > 0 {
						row[c] = float64(rng.IntN(5)) / 4
					}
				}
				m = append(m, row)
			case 1:
				for r := range m {
					v := 0.0
					if rng.IntN(3) > 0 {
						v = float64(rng.IntN(5)) / 4
					}
					m[r] = append(m[r], v)
				}
			default:
				var keepR, keepC []int
				for r := range m {
					if w.basicRow(r) || rng.IntN(2) == 0 {
						keepR = append(keepR, r)
					}
				}
				for c := range m[0] {
					if w.bindingCol(c) || rng.IntN(2) == 0 {
						keepC = append(keepC, c)
					}
				}
				if len(keepR) == 0 || len(keepC) == 0 {
					continue
				}
				pm := make([][]float64, len(keepR))
				for k, r := range keepR {
					for _, c := range keepC {
						pm[k] = append(pm[k], m[r][c])
					}
				}
				m = pm
				warm := w.ok
				w.keep(keepR, keepC)
				if warm && w.ok {
					kept++
				}
			}
			_, _, want, err := solveMatrixGame(m)
			if err != nil {
				t.Fatal(err)
			}
			x, y, got, err := w.solve(m)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > 1e-9 || len(x) != len(m) || len(y) != len(m[0]) {
				t.Fatalf("game %d step %d (%dx%d): warm %v, cold %v", n, step, len(m), len(m[0]), got, want)
			}
		}
	}
	if kept < 100 {
		t.Errorf("the LP stayed warm through only %d prunings", kept)
	}
}

// TestWindowsAt: the windows containing a time, found among those that
// start in the longest window's length before it, are those a scan of
// every window finds, for windows of any lengths, in any order.
func TestWindowsAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		in := randomTimed(rng)
		in.Windows = nil
		for range 1 + rng.IntN(30) {
			a := -100 + 300*rng.Float64()
			in.Windows = append(in.Windows, Window{a, a + 1 + 60*rng.Float64()})
		}
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			x := -120 + 400*rng.Float64()
			if rng.IntN(4) == 0 { // on an edge
				x = in.Windows[rng.IntN(len(in.Windows))][rng.IntN(2)]
			}
			var want []int
			for w, win := range in.Windows {
				if win.Contains(x) {
					want = append(want, w)
				}
			}
			got := g.windowsAt(nil, x)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: windows at %v: %v, want %v", round, x, got, want)
			}
		}
	}
}

// TestWarmLPStop gives the warm simplex a stop that says yes at once: a
// solve that needs more than 64 pivots gives up with errLPStopped (no
// cold fallback), and the same matrix solves once the stop is gone.
func TestWarmLPStop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	m := make([][]float64, 120)
	for r := range m {
		m[r] = make([]float64, 120)
		for c := range m[r] {
			m[r][c] = rng.Float64()
		}
	}
	var w warmLP
	asked := 0
	w.stop = func() bool { asked++; return true }
	if _, _, _, err := w.solve(m); !errors.Is(err, errLPStopped) || asked == 0 {
		t.Fatalf("with the stop: %v after %d questions, want errLPStopped", err, asked)
	}
	w.stop = nil
	_, _, got, err := w.solve(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, want, _ := solveMatrixGame(m); math.Abs(got-want) > 1e-9 {
		t.Fatalf("after the stop: %v, cold %v", got, want)
	}
	if w.pivots <= 64 {
		t.Fatalf("%d pivots: the stop was never asked for", w.pivots)
	}
}

// TestWarmPacking grows packing programs with right-hand sides of 0, 1 and
// a cap, negative coefficients (as the refinement's are), and checks every
// warm solve against solvePacking's cold one: the same objective, and u
// feasible.
func TestWarmPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	for n := 0; n < 40; n++ {
		var w warmLP
		a := [][]float64{{1}}
		b := []float64{1e3}
		for step := 0; step < 30; step++ {
			if rng.IntN(2) == 0 || len(b) < 2 {
				rhs := 1.0
				if rng.IntN(3) == 0 {
					rhs = 0
				}
				b = append(b, rhs)
				for r := range a {
					v := float64(rng.IntN(5)) / 4
					if rhs == 0 {
						v -= 0.5
					}
					a[r] = append(a[r], v)
				}
			} else {
				row := []float64{1}
				for c := 1; c < len(b); c++ {
					v := float64(rng.IntN(5)) / 4
					if b[c] == 0 {
						v -= 0.5
					}
					row = append(row, v)
				}
				a = append(a, row)
			}
			u, _, err := w.packing(a, b)
			if err != nil {
				t.Fatal(err)
			}
			cu, _, err := solvePacking(a, b)
			if err != nil {
				t.Fatal(err)
			}
			var got, want float64
			for r := range u {
				got += u[r]
				want += cu[r]
			}
			if math.Abs(got-want) > 1e-7*math.Max(1, want) {
				t.Fatalf("program %d step %d (%dx%d): warm %v, cold %v", n, step, len(a), len(b), got, want)
			}
			if !packingFeasible(a, b, u) {
				t.Fatalf("program %d step %d: the warm u breaks a constraint", n, step)
			}
		}
	}
}
