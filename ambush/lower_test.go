package ambush

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// randomMix draws an attacker mix over random (site, window) columns of a
// timed game.
func randomMix(rng *rand.Rand, g *game) (cols []column, y []float64) {
	ncol := 1 + rng.IntN(len(g.siteP)*g.nw/2+1)
	var sum float64
	for range ncol {
		cols = append(cols, column{site: int32(rng.IntN(len(g.siteP))), w: rng.IntN(g.nw)})
		y = append(y, rng.ExpFloat64())
		sum += y[len(y)-1]
	}
	for c := range y {
		y[c] /= sum
	}
	return cols, y
}

// mixPenalties are the per-site costs of the attacker mix y over cols.
func mixPenalties(g *game, cols []column, y []float64) *penalties {
	p := &penalties{site: make([][]siteCost, len(g.siteP))}
	for c, col := range cols {
		if len(p.site[col.site]) == 0 {
			p.used = append(p.used, col.site)
		}
		p.site[col.site] = append(p.site[col.site], siteCost{w: col.w, wt: y[c] * g.siteP[col.site]})
	}
	return p
}

// TestBucketLowerBruteForce checks the bound against the exact least cost
// of every admissible (route, slot) on small timed games: never above it
// and never below relaxedLower's bound at any bucket width, and with tiny
// buckets mostly equal to it (the relaxation admits walks and ignores the
// crew rule, so it may stay below) and above relaxedLower's bound wherever
// that is below it. The solver's bound must lie between relaxedLower and
// the least route cost.
func TestBucketLowerBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 17))
	var sc lowerScratch
	var cases, exact, loose, tighter, positive int
	for n := 0; n < 200; n++ {
		in := randomTimed(rng)
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.siteP) == 0 {
			continue
		}
		rs, slots := allPlays(g)
		s := &solver{g: g, or: newOracle(g)}
		for mix := 0; mix < 4; mix++ {
			cols, y := randomMix(rng, g)
			p := mixPenalties(g, cols, y)
			least := math.Inf(1)
			for slot := range in.Slots {
				want := math.Inf(1)
				for i, r := range rs {
					if slots[i] == slot {
						want = math.Min(want, p.routeCost(g, r, in.Slots[slot], math.Inf(1)))
					}
				}
				least = math.Min(least, want)
				relaxed := math.Inf(1)
				if g.feasibleFn[slot] {
					relaxed = s.relaxedSlot(p, slot, math.Inf(1))
					// The guided search returns the unguided one's
					// least cost, and nothing at or above below.
					s.or.relaxed = true
					_, plain, ok := s.or.best(g.relaxedPen(p, slot), slot, g.maxDur[slot], math.Inf(1))
					s.or.relaxed = false
					if !ok {
						plain = math.Inf(1)
					}
					if math.Abs(plain-relaxed) > 1e-12 || (math.IsInf(plain, 1) != math.IsInf(relaxed, 1)) {
						t.Errorf("game %d mix %d slot %d: relaxedSlot %.12f, unguided search %.12f", n, mix, slot, relaxed, plain)
					}
					if got := s.relaxedSlot(p, slot, relaxed); !math.IsInf(got, 1) {
						t.Errorf("game %d mix %d slot %d: relaxedSlot below its own bound %.12f gave %.12f", n, mix, slot, relaxed, got)
					}
				}
				tiny := 1e-3 * g.maxDur[slot]
				for _, delta := range []float64{tiny, 1, 5, 30} {
					got := g.bucketLower(p, slot, delta, &sc)
					if math.IsInf(want, 1) != math.IsInf(got, 1) {
						t.Fatalf("game %d mix %d slot %d delta %g: bound %v, brute force %v", n, mix, slot, delta, got, want)
					}
					if math.IsInf(want, 1) {
						continue
					}
					if got > want+1e-12 {
						t.Errorf("game %d mix %d slot %d delta %g: bound %.12f above the least route cost %.12f", n, mix, slot, delta, got, want)
					}
					if got < relaxed-1e-12 {
						t.Errorf("game %d mix %d slot %d delta %g: bound %.12f below relaxedLower's %.12f", n, mix, slot, delta, got, relaxed)
					}
					if delta != tiny {
						continue
					}
					cases++
					if got >= want-1e-9 {
						exact++
					}
					if want > 0 {
						positive++
					}
					if want > relaxed+1e-9 {
						loose++
						if got > relaxed+1e-9 {
							tighter++
						}
					}
				}
			}
			s.cols = cols
			got, relaxed := s.bucketLowerBound(y, 5), s.relaxedLower(y)
			if math.IsInf(least, 1) {
				least = 0
			}
			if got < relaxed-1e-12 || got > least+1e-12 {
				t.Errorf("game %d mix %d: solver bound %.12f, want in [relaxedLower %.12f, least route cost %.12f]", n, mix, got, relaxed, least)
			}
		}
	}
	t.Logf("tiny buckets: %d cases (%d of positive cost), %d equal to the least route cost; relaxedLower below it in %d, the bucket bound above relaxedLower in %d of those",
		cases, positive, exact, loose, tighter)
	if positive < cases/3 || loose < cases/10 {
		t.Fatalf("%d cases, %d of positive cost, %d where relaxedLower is loose: the games test too little", cases, positive, loose)
	}
	if exact < cases*9/10 {
		t.Errorf("tiny buckets: the bound equals the least route cost in %d of %d cases, want 90%%", exact, cases)
	}
	if tighter < loose*9/10 {
		t.Errorf("tiny buckets: the bound beats relaxedLower in %d of the %d cases where it is loose, want 90%%", tighter, loose)
	}
}

// TestBucketLowerMap compares the bounds on the Liechtenstein game. Against
// the equilibrium attacker mix (SkipRefine) relaxedLower already certifies
// the value, and the time-bucket bound must do so on its own at 30 and 60 s
// buckets, without going above the value; against a mix where timing
// matters it must be well above relaxedLower.
func TestBucketLowerMap(t *testing.T) {
	if testing.Short() {
		t.Skip("map game")
	}
	in, st := liechtensteinGame(t)
	if !st.Converged || st.Value <= 0 {
		t.Fatalf("converged %v, value %v: no equilibrium to bound", st.Converged, st.Value)
	}
	s, y := solverFromAttack(t, in, st)
	relaxed := s.relaxedLower(y)
	p := mixPenalties(s.g, s.cols, y)
	var sc lowerScratch
	for _, delta := range []float64{30, 60} {
		start := time.Now()
		raw := math.Inf(1)
		for slot := range in.Slots {
			raw = math.Min(raw, s.g.bucketLower(p, slot, delta, &sc))
		}
		elapsed := time.Since(start)
		got := s.bucketLowerBound(y, delta)
		t.Logf("delta %g s: bucket bound %.9f (%v for %d slots), solver bound %.9f; relaxedLower %.9f, value %.9f",
			delta, raw, elapsed.Round(time.Microsecond), len(in.Slots), got, relaxed, st.Value)
		if got > st.Value+st.Exploitability+1e-9 || raw > got+1e-12 {
			t.Errorf("delta %g: bucket bound %.9f, solver bound %.9f, want at most the value %.9f and the first at most the second", delta, raw, got, st.Value+st.Exploitability)
		}
		if raw < st.Value-1e-6 {
			t.Errorf("delta %g: bucket bound %.9f does not certify the value %.9f", delta, raw, st.Value)
		}
	}

	// A mix on the sites of the fastest route at random windows, where
	// when a route passes each site matters: the bound stays below the
	// fastest route's cost and well above relaxedLower's.
	rng := rand.New(rand.NewPCG(1, 2))
	s.cols, y = nil, nil
	seen := map[int32]bool{}
	for _, ps := range s.g.fastest.pass {
		for w := range s.g.nw {
			if !seen[ps.site] && rng.IntN(2) == 0 {
				s.cols = append(s.cols, column{ps.site, w})
				y = append(y, rng.Float64())
			}
		}
		seen[ps.site] = true
	}
	p = mixPenalties(s.g, s.cols, y)
	for _, slot := range []int{0, 5, 11} {
		fastest := p.routeCost(s.g, s.g.fastest, in.Slots[slot], math.Inf(1))
		relaxed := s.relaxedSlot(p, slot, math.Inf(1))
		for _, delta := range []float64{30, 60} {
			got := s.g.bucketLower(p, slot, delta, &sc)
			t.Logf("random windows, slot %d, delta %g s: bucket bound %.4f, relaxedLower %.4f, fastest route %.4f", slot, delta, got, relaxed, fastest)
			if got > fastest+1e-9 || got < 1.2*relaxed {
				t.Errorf("random windows, slot %d, delta %g: bound %.6f, want in [1.2 x relaxedLower %.6f, fastest route %.6f]", slot, delta, got, relaxed, fastest)
			}
		}
	}
}

// solverFromAttack compiles in and rebuilds the attacker mix of st over
// the columns of a fresh solver.
func solverFromAttack(tb testing.TB, in *Instance, st *Strategy) (*solver, []float64) {
	tb.Helper()
	g, err := compile(in)
	if err != nil {
		tb.Fatal(err)
	}
	local := map[string]int32{}
	for lj, j := range g.siteID {
		local[in.Sites[j].ID] = int32(lj)
	}
	s := &solver{g: g, or: newOracle(g)}
	var y []float64
	for _, a := range st.Attack {
		j, ok := local[a.Site]
		if !ok {
			tb.Fatalf("attack site %q not in the corridor", a.Site)
		}
		s.cols = append(s.cols, column{site: j, w: a.Window})
		y = append(y, a.Probability)
	}
	return s, y
}

// BenchmarkBucketLower times the bound over all slots against the
// equilibrium attacker mix (SkipRefine) of two regional journeys.
func BenchmarkBucketLower(b *testing.B) {
	for _, c := range []mapCase{journeyCases[0], journeyCases[2]} {
		in := mapInstance(b, c)
		st, err := Solve(context.Background(), in, Options{SkipRefine: true})
		if err != nil {
			b.Fatal(err)
		}
		s, y := solverFromAttack(b, in, st)
		for _, delta := range []float64{30, 60} {
			b.Run(fmt.Sprintf("%s/delta=%g", c.name, delta), func(b *testing.B) {
				var got float64
				for b.Loop() {
					got = s.bucketLowerBound(y, delta)
				}
				b.ReportMetric(got, "bound")
				b.ReportMetric(st.Value, "value")
			})
		}
	}
}

// TestAlternativesGuided checks that the baseline's alternative routes,
// searched with the time to the destination as potential, are those of
// the penalty method searched without it, on small timed games and on
// the Liechtenstein map.
func TestAlternativesGuided(t *testing.T) {
	var games []*game
	rng := rand.New(rand.NewPCG(5, 23))
	for n := 0; n < 100; n++ {
		g, err := compile(randomTimed(rng))
		if err != nil {
			t.Fatal(err)
		}
		games = append(games, g)
	}
	g, err := compile(mapInstance(t, mapCases[1]))
	if err != nil {
		t.Fatal(err)
	}
	games = append(games, g)
	var several int
	for n, g := range games {
		s := &solver{g: g, or: newOracle(g)}
		want, got := s.penaltyRoutes(5, nil), s.alternatives(5)
		if len(got) > 2 {
			several++
		}
		if len(got) != len(want) {
			t.Fatalf("game %d: %d alternatives, want %d", n, len(got), len(want))
		}
		for i := range got {
			if got[i].key != want[i].key {
				t.Errorf("game %d: alternative %d differs from the unguided search's", n, i)
			}
		}
	}
	if several < 20 {
		t.Fatalf("only %d games with more than two alternatives: the test tests too little", several)
	}
}
