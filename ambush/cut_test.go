package ambush

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestCutMixWashburnWood: on random interdiction networks (one site an
// edge) with one window that covers every passage, the timed game is the
// static one, whose value is 1/maxflow for capacities 1/p (Washburn and
// Wood). The minimum cut's mix certifies exactly that value, and Dinic's
// flow agrees with the test's Edmonds-Karp.
func TestCutMixWashburnWood(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for n := 0; n < 40; n++ {
		layers, width := 2+rng.IntN(4), 2+rng.IntN(4)
		in := randomInterdiction(rng, layers, width)
		in.Windows = []Window{{-1e9, 1e9}} // past any admissible duration (stretch 1e6, at most 7e7 s)
		t.Run(fmt.Sprintf("%d_%dx%d", n, layers, width), func(t *testing.T) {
			want := washburnWood(in)
			g, err := compile(in)
			if err != nil {
				t.Fatal(err)
			}
			cols, y := g.cutMix()
			if cols == nil {
				t.Fatal("no cut")
			}
			var sum float64
			for _, v := range y {
				sum += v
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("the cut's mix sums to %v", sum)
			}
			if got := g.bucketLowerMix(cols, y, lowerBucketS); math.Abs(got-want) > 1e-9 {
				t.Errorf("cut bound %.12f, want 1/maxflow %.12f", got, want)
			}
		})
	}
}

// TestCutMixBound: on random timed games the minimum cut's mix gives a
// bound no higher than the game's value (the full matrix game solved by
// gonum), and a positive one on most of them.
func TestCutMixBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 21))
	positive, games := 0, 0
	for n := 0; n < 60; n++ {
		in := randomTimed(rng)
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		rs, slots := allPlays(g)
		var all []column
		for j := range g.siteP {
			for w := range in.Windows {
				all = append(all, column{int32(j), w})
			}
		}
		m := make([][]float64, len(rs))
		for i, r := range rs {
			m[i] = make([]float64, len(all))
			for c, col := range all {
				m[i][c] = g.payoff(r, slots[i], col.site, col.w)
			}
		}
		value := gonumValue(t, m)
		cols, y := g.cutMix()
		if cols == nil {
			continue
		}
		games++
		got := g.bucketLowerMix(cols, y, lowerBucketS)
		if got > value+1e-9 || got < 0 {
			t.Fatalf("game %d: cut bound %v above the value %v", n, got, value)
		}
		if got > 0 {
			positive++
		}
	}
	t.Logf("%d of %d games with a cut: positive bound", positive, games)
	if games == 0 || 2*positive < games {
		t.Errorf("positive cut bound in %d of %d games", positive, games)
	}
}

// TestCutMixMapGame: on the Liechtenstein journey the cut's bound is
// certified (at most the value) and not far below it.
func TestCutMixMapGame(t *testing.T) {
	in, st := liechtensteinGame(t)
	g, err := compile(in)
	if err != nil {
		t.Fatal(err)
	}
	cols, y := g.cutMix()
	got := g.bucketLowerMix(cols, y, lowerBucketS)
	t.Logf("cut of %d columns: bound %.5f, value %.5f", len(cols), got, st.Value)
	if got > st.Value+1e-9 || got < st.Value/2 {
		t.Errorf("cut bound %v, value %v", got, st.Value)
	}
}
