package intercept

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
)

var (
	winterswijkOnce sync.Once
	winterswijk     *Instance
	winterswijkErr  error
)

// mustWinterswijk parses testdata/intercept/winterswijk.json once per
// test binary.
func mustWinterswijk(tb testing.TB) *Instance {
	tb.Helper()
	winterswijkOnce.Do(func() {
		f, err := os.Open("../testdata/intercept/winterswijk.json")
		if err != nil {
			winterswijkErr = err
			return
		}
		defer f.Close()
		winterswijk, winterswijkErr = ParseInstance(f)
	})
	if winterswijkErr != nil {
		tb.Fatal(winterswijkErr)
	}
	return winterswijk
}

func mustCompile(tb testing.TB, in *Instance) *Problem {
	tb.Helper()
	p, err := Compile(in)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestWinterswijkOptimum: the published exact optimum (CBC, checked by
// enumeration) is 750 of 1000 routes; the solver must find it and prove it.
func TestWinterswijkOptimum(t *testing.T) {
	in := mustWinterswijk(t)
	p := mustCompile(t, in)
	pl, err := p.Solve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pl.Intercepted != 750 || pl.Routes != 1000 || pl.Fraction != 0.75 || !pl.Optimal || pl.BoundIntercepted != 750 || pl.Bound != 0.75 {
		t.Fatalf("plan %+v, want 750 of 1000 intercepted, proven optimal", pl)
	}
	if n, err := p.Evaluate(pl.Positions); err != nil || n != 750 {
		t.Fatalf("the plan's positions %v intercept %d (%v)", pl.Positions, n, err)
	}
	t.Logf("positions %v, root bound %d, %d nodes", pl.Positions, pl.RootBound, pl.Nodes)
}

// TestWinterswijkReferences checks the evaluator and the greedy rule against
// the results the instance file publishes: the Borg plans of the paper, the
// exact optimum's positions, and the greedy rule's 737.
func TestWinterswijkReferences(t *testing.T) {
	in := mustWinterswijk(t)
	p := mustCompile(t, in)
	ref := in.Reference
	if ref == nil || len(ref.Published) == 0 || ref.OptimumIntercepted != 750 || ref.GreedyIntercepted != 737 {
		t.Fatalf("reference results not read: %+v", ref)
	}
	for i, pp := range ref.Published {
		if n, err := p.Evaluate(pp.Positions); err != nil || n != pp.Intercepted {
			t.Errorf("paper solution %d (%s) %v: %d intercepted (%v), published %d", i, pp.Source, pp.Positions, n, err, pp.Intercepted)
		}
	}
	if n, _ := p.Evaluate(ref.OptimumPositions); n != 750 {
		t.Errorf("published optimum %v intercepts %d", ref.OptimumPositions, n)
	}
	g := p.Greedy()
	if g.Intercepted != 737 || !equalInts(g.Positions, ref.GreedyPositions) {
		t.Errorf("greedy %v intercepts %d, published %v with 737", g.Positions, g.Intercepted, ref.GreedyPositions)
	}
	if g.Optimal || g.BoundIntercepted < 750 {
		t.Errorf("greedy claims a bound of %d (optimal %v)", g.BoundIntercepted, g.Optimal)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSolveTimeLimit: with its context already over, Solve still returns a
// plan, not proven optimal unless the incumbent meets the root bound, with
// a bound no lower than the optimum.
func TestSolveTimeLimit(t *testing.T) {
	p := mustCompile(t, mustWinterswijk(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pl, err := p.Solve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Intercepted < 737 || pl.BoundIntercepted < 750 || pl.Gap < 0 {
		t.Fatalf("stopped plan %+v: want at least the greedy 737 and a bound of at least 750", pl)
	}
}

func BenchmarkSolveWinterswijk(b *testing.B) {
	in := mustWinterswijk(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := Compile(in)
		if err != nil {
			b.Fatal(err)
		}
		pl, err := p.Solve(ctx)
		if err != nil || pl.Intercepted != 750 || !pl.Optimal {
			b.Fatalf("%+v %v", pl, err)
		}
	}
}

func BenchmarkParseWinterswijk(b *testing.B) {
	data, err := os.ReadFile("../testdata/intercept/winterswijk.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseInstance(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
