package intercept

import (
	"context"
	"math/rand/v2"
	"testing"
)

// withUnits returns the Winterswijk instance with k units at random starts
// and delays (0-240 s): harder than the published three, and too large to
// enumerate.
func withUnits(tb testing.TB, k int, seed uint64) *Instance {
	in := *mustWinterswijk(tb)
	in.Units, in.Reference = nil, nil
	rng := rand.New(rand.NewPCG(seed, uint64(k)))
	for range k {
		in.Units = append(in.Units, Unit{Start: rng.IntN(len(in.Nodes)), StartDelayS: float64(rng.IntN(240))})
	}
	return &in
}

// TestLagrangianAgrees: with and without the Lagrangian bound the search is
// exact by different proofs, so both must reach the same value, and the
// Lagrangian root bound must lie between the optimum and the simple bound.
func TestLagrangianAgrees(t *testing.T) {
	for _, k := range []int{4, 6} {
		for seed := range uint64(3) {
			p := mustCompile(t, withUnits(t, k, seed))
			a, err := p.solve(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.solve(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Optimal || !b.Optimal || a.Intercepted != b.Intercepted {
				t.Fatalf("k=%d seed=%d: with Lagrangian %+v, without %+v", k, seed, a, b)
			}
			if a.RootBound < a.Intercepted || a.RootBound > b.RootBound {
				t.Fatalf("k=%d seed=%d: Lagrangian root bound %d outside [%d, %d]", k, seed, a.RootBound, a.Intercepted, b.RootBound)
			}
			if n, _ := p.Evaluate(a.Positions); n != a.Intercepted {
				t.Fatalf("k=%d seed=%d: positions intercept %d, plan says %d", k, seed, n, a.Intercepted)
			}
		}
	}
}

// BenchmarkSolveTenUnits: ten units on Winterswijk (seed 0: 818 of 1000).
func BenchmarkSolveTenUnits(b *testing.B) {
	p := mustCompile(b, withUnits(b, 10, 0))
	ctx := context.Background()
	for b.Loop() {
		pl, err := p.Solve(ctx)
		if err != nil || !pl.Optimal {
			b.Fatalf("%+v %v", pl, err)
		}
	}
}

// TestStoppedBoundIsValid: a search stopped at once (its context over)
// returns a plan and a bound that the finished search confirms: the bound
// is at least the optimum, the plan's value exact, the gap their difference.
func TestStoppedBoundIsValid(t *testing.T) {
	stoppedOnce := false
	for _, k := range []int{6, 10} {
		for seed := range uint64(3) {
			p := mustCompile(t, withUnits(t, k, seed))
			full, err := p.Solve(context.Background())
			if err != nil || !full.Optimal {
				t.Fatalf("k=%d seed=%d: %+v %v", k, seed, full, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			pl, err := p.Solve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := p.Evaluate(pl.Positions)
			if n != pl.Intercepted || pl.BoundIntercepted < full.Intercepted || pl.Intercepted > full.Intercepted ||
				pl.Optimal != (pl.Intercepted == pl.BoundIntercepted) || pl.Gap != pl.Bound-pl.Fraction {
				t.Fatalf("k=%d seed=%d: stopped %+v, optimum %d", k, seed, pl, full.Intercepted)
			}
			stoppedOnce = stoppedOnce || !pl.Optimal
		}
	}
	if !stoppedOnce {
		t.Fatal("no instance left a gap when stopped: the test does not exercise the stopped search")
	}
}
