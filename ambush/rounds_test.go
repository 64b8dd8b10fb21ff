package ambush

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// TestSlotRounds solves the map games with the heuristic searches spread
// over several iterations: the solve must still end on a pass over every
// slot, with the value and the certified bound of a solve that searches
// every slot every iteration.
func TestSlotRounds(t *testing.T) {
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			in := mapInstance(t, c)
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
	const at = 30
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

// TestFinishEndsPolish: Options.Finish ends the polish after a stopped
// search; asked at once and saying yes, it leaves the best mix the
// search saw (no polish), whose guarantee TestStopReportsBestSoFar's
// polish beats.
func TestFinishEndsPolish(t *testing.T) {
	in, full := liechtensteinGame(t)
	const at = 30
	iter, asked := 0, 0
	best := 0.0
	st, err := Solve(context.Background(), in, Options{
		Stop:     func() bool { return iter >= at },
		Finish:   func() bool { asked++; return true },
		Progress: func(p Progress) { best, iter = p.Best, p.Iteration },
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("Finish asked %d times, want once (it said yes)", asked)
	}
	guarantee := st.Value + st.Exploitability
	if math.Abs(guarantee-best) > 1e-9 || st.Converged || st.Iterations != at {
		t.Errorf("guarantee %v after %d iterations (converged %v), want the best seen %v after %d", guarantee, st.Iterations, st.Converged, best, at)
	}
	if st.LowerBound > full.Value+1e-9 || guarantee < full.Value-1e-9 {
		t.Errorf("[%v, %v] does not bracket the value %v", st.LowerBound, guarantee, full.Value)
	}
}

// TestPolishKeepsBest: the polish offers every mix it solves, so ending it
// later (Finish saying yes after more of its questions, on the same path)
// never reports a worse guarantee, although its successive mixes' guarantees
// go up and down.
func TestPolishKeepsBest(t *testing.T) {
	in, full := liechtensteinGame(t)
	const at = 20
	prev := math.Inf(1)
	var seen []float64
	for n := 1; n <= 30; n++ {
		iter, asked := 0, 0
		st, err := Solve(context.Background(), in, Options{SkipRefine: true,
			Stop:     func() bool { return iter >= at },
			Finish:   func() bool { asked++; return asked > n },
			Progress: func(p Progress) { iter = p.Iteration },
		})
		if err != nil {
			t.Fatal(err)
		}
		g := st.Value + st.Exploitability
		seen = append(seen, g)
		if g > prev+1e-12 {
			t.Fatalf("guarantees as the polish goes on %v: %v after %d of Finish's questions, %v after %d", seen, g, n, prev, n-1)
		}
		if g < full.Value-1e-9 || st.LowerBound > full.Value+1e-9 {
			t.Fatalf("[%v, %v] does not bracket the value %v", st.LowerBound, g, full.Value)
		}
		prev = g
	}
	if seen[len(seen)-1] >= seen[0] {
		t.Errorf("guarantees %v: the polish never improved on the search's best", seen)
	}
}

// TestWithTimeLimit: the searches stop at 80 % of the limit and the
// polish at 93 %, on the caller's clock.
func TestWithTimeLimit(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	if o := (Options{}).WithTimeLimit(clock, 0); o.Stop != nil || o.Finish != nil {
		t.Fatal("a zero limit set Stop or Finish")
	}
	o := Options{MaxIterations: 7}.WithTimeLimit(clock, 100*time.Second)
	if o.MaxIterations != 7 {
		t.Errorf("MaxIterations %d, want 7 kept", o.MaxIterations)
	}
	for _, c := range []struct {
		at           time.Duration
		stop, finish bool
	}{{0, false, false}, {79 * time.Second, false, false}, {80 * time.Second, true, false}, {92 * time.Second, true, false}, {93 * time.Second, true, true}, {time.Hour, true, true}} {
		now = t0.Add(c.at)
		if o.Stop() != c.stop || o.Finish() != c.finish {
			t.Errorf("at %v: stop %v finish %v, want %v %v", c.at, o.Stop(), o.Finish(), c.stop, c.finish)
		}
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
