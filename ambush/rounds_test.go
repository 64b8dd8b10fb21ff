package ambush

import (
	"context"
	"math"
	"sync"
	"testing"
)

// TestSlotRounds solves the map games with the heuristic searches spread
// over several iterations: the solve must still end on a pass over every
// slot, with the value and the certified bound of a solve that searches
// every slot every iteration.
func TestSlotRounds(t *testing.T) {
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			in, err := BuildInstance(context.Background(), mustGraph(t, c.graph), mapRequest(c), DefaultSiteModel)
			if err != nil {
				t.Fatal(err)
			}
			var values []float64
			for _, rounds := range []int{1, 12} {
				st, err := Solve(context.Background(), in, Options{SlotRounds: rounds, SkipRefine: true})
				if err != nil {
					t.Fatal(err)
				}
				if !st.Converged || st.Exploitability > 1e-9 || st.Value-st.LowerBound > 1e-9 {
					t.Errorf("%d rounds: converged %v, exploitability %g, value %v, lower bound %v", rounds, st.Converged, st.Exploitability, st.Value, st.LowerBound)
				}
				values = append(values, st.Value)
			}
			if math.Abs(values[0]-values[1]) > 1e-9 {
				t.Errorf("value %v searching every slot, %v in 12 rounds", values[0], values[1])
			}
		})
	}
}

// TestLowerBoundCutShort: a solve stopped by MaxIterations still reports a
// certified lower bound, below the converged value, and a strategy whose
// guarantee (value plus exploitability) is above it.
func TestLowerBoundCutShort(t *testing.T) {
	in, full := liechtensteinGame(t)
	cut, err := Solve(context.Background(), in, Options{SkipRefine: true, MaxIterations: full.Iterations - 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d of %d iterations: lower bound %.5f, guarantee %.5f, value %.5f", cut.Iterations, full.Iterations, cut.LowerBound, cut.Value+cut.Exploitability, full.Value)
	if cut.Converged || cut.LowerBound <= 0 || cut.LowerBound > full.Value+1e-9 || cut.Value+cut.Exploitability < full.Value-1e-9 {
		t.Errorf("cut short: converged %v, lower bound %v, guarantee %v; value %v", cut.Converged, cut.LowerBound, cut.Value+cut.Exploitability, full.Value)
	}
}

// TestStopReportsBestSoFar: Options.Stop ends the solve after the
// iteration where it first says so; the strategy reported is the best mix
// over the routes found (polish): its guarantee is below that of every
// iteration's mix (here strictly: the last restricted game had not yet
// met every site and window that matters), and with the certified lower
// bound it brackets the converged value.
func TestStopReportsBestSoFar(t *testing.T) {
	in, full := liechtensteinGame(t)
	const at = 60
	iter := 0
	least, best, last := math.Inf(1), 0.0, 0.0
	st, err := Solve(context.Background(), in, Options{Stop: func() bool { return iter >= at }, Progress: func(p Progress) {
		least, best, last = math.Min(least, p.Upper), p.Best, p.Upper
		iter = p.Iteration
	}})
	if err != nil {
		t.Fatal(err)
	}
	guarantee := st.Value + st.Exploitability
	t.Logf("stopped at %d of %d iterations: guarantee %.5f (best seen %.5f, least of the iterations %.5f, last %.5f), lower bound %.5f, value %.5f",
		st.Iterations, full.Iterations, guarantee, best, least, last, st.LowerBound, full.Value)
	if st.Exploitability != 0 {
		t.Errorf("exploitability %v: a stopped solve reports its own guarantee as its value", st.Exploitability)
	}
	if st.Converged || st.Refined || st.Iterations != at {
		t.Errorf("converged %v, refined %v, %d iterations; want a stop after %d", st.Converged, st.Refined, st.Iterations, at)
	}
	if guarantee > best-1e-6 || best > least+1e-12 {
		t.Errorf("guarantee %v, want below the best seen %v, itself at most the least of the iterations %v (last %v)", guarantee, best, least, last)
	}
	if guarantee < full.Value-1e-9 || st.LowerBound > full.Value+1e-9 || st.LowerBound < 0 {
		t.Errorf("[%v, %v] does not bracket the value %v", st.LowerBound, guarantee, full.Value)
	}
}

// liechtenstein is the Liechtenstein map game (mapCases[1]) and its
// equilibrium without refinement, built once per test binary for the
// tests that bound or cut it short.
var liechtenstein struct {
	once sync.Once
	in   *Instance
	st   *Strategy
	err  error
}

func liechtensteinGame(t *testing.T) (*Instance, *Strategy) {
	t.Helper()
	liechtenstein.once.Do(func() {
		c := mapCases[1]
		if liechtenstein.in, liechtenstein.err = BuildInstance(context.Background(), mustGraph(t, c.graph), mapRequest(c), DefaultSiteModel); liechtenstein.err == nil {
			liechtenstein.st, liechtenstein.err = Solve(context.Background(), liechtenstein.in, Options{SkipRefine: true})
		}
	})
	if liechtenstein.err != nil {
		t.Fatal(liechtenstein.err)
	}
	if liechtenstein.st == nil { // the first caller failed inside Do
		t.Fatal("the Liechtenstein game could not be built")
	}
	return liechtenstein.in, liechtenstein.st
}
