package ambush

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUnbucketedSearch checks the label-setting search without time
// buckets (the rotating turns' search) against a plain reference on random
// timed games with random attacker weights: labels popped by (cost, time),
// one dominated by an earlier pop at its node no later, every extension
// queued, the crew rule checked at the destination. The oracle's
// shortcuts (the time bound to the destination, leaving out a label that
// one queued at its node dominates) must not change the cost it finds.
func TestUnbucketedSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 29))
	found := 0
	for round := 0; round < 300; round++ {
		in := randomTimed(rng)
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		g.setCrewRule(50, 30) // off where the nodes have no coordinates
		pen := randomPenalties(rng, g, 3)
		o := newOracle(g)
		for slot := range g.in.Slots {
			if !g.feasibleFn[slot] {
				continue
			}
			_, c, ok := o.bestBucketed(pen, slot, g.maxDur[slot], math.Inf(1), 0, nil)
			rc, rok := referenceSearch(g, pen, slot, o.seen)
			if ok != rok || ok && math.Abs(c-rc) > 1e-12 {
				t.Fatalf("round %d slot %d: the oracle finds %v (%v), the reference %v (%v)", round, slot, c, ok, rc, rok)
			}
			if ok {
				found++
			}
		}
	}
	if found == 0 {
		t.Fatal("no route found in any game")
	}
}

type refLabel struct {
	node   int32
	edge   int32
	parent int
	pen, t float64
}

type refQueue struct {
	labels []refLabel
	idx    []int
}

func (q *refQueue) Len() int { return len(q.idx) }
func (q *refQueue) Less(i, j int) bool {
	a, b := q.labels[q.idx[i]], q.labels[q.idx[j]]
	return a.pen < b.pen || a.pen == b.pen && a.t < b.t
}
func (q *refQueue) Swap(i, j int) { q.idx[i], q.idx[j] = q.idx[j], q.idx[i] }
func (q *refQueue) Push(x any)    { q.idx = append(q.idx, x.(int)) }
func (q *refQueue) Pop() any {
	x := q.idx[len(q.idx)-1]
	q.idx = q.idx[:len(q.idx)-1]
	return x
}

// referenceSearch is the plain form of the search without buckets.
func referenceSearch(g *game, p *penalties, slot int, seen []float64) (float64, bool) {
	slotT, maxDur := g.in.Slots[slot], g.maxDur[slot]
	tol := 1e-9 * math.Max(1, maxDur)
	minT := make([]float64, g.n)
	for v := range minT {
		minT[v] = math.Inf(1)
	}
	q := &refQueue{labels: []refLabel{{node: g.origin, edge: -1, parent: -1, pen: p.startPen(g, slotT)}}, idx: []int{0}}
	for q.Len() > 0 {
		li := heap.Pop(q).(int)
		l := q.labels[li]
		if minT[l.node] <= l.t {
			continue
		}
		if l.node == g.dest {
			var edges []int32
			for k := li; q.labels[k].edge >= 0; k = q.labels[k].parent {
				edges = append([]int32{q.labels[k].edge}, edges...)
			}
			if !(slices.Equal(edges, g.fastest.edges)) && !g.acceptable(edges, seen) {
				continue
			}
			return l.pen, true
		}
		minT[l.node] = l.t
		for k := g.out[l.node]; k < g.out[l.node+1]; k++ {
			e := g.outE[k]
			if t := l.t + g.etime[e]; t+g.lbT[g.head[e]] <= maxDur+tol {
				q.labels = append(q.labels, refLabel{node: g.head[e], edge: e, parent: li, pen: l.pen + p.stepPen(g, e, l.t, slotT), t: t})
				heap.Push(q, len(q.labels)-1)
			}
		}
	}
	return 0, false
}

// randomPenalties gives about one (site, window) in oneIn a random
// attacker weight.
func randomPenalties(rng *rand.Rand, g *game, oneIn int) *penalties {
	pen := &penalties{site: make([][]siteCost, len(g.siteP))}
	for j := range g.siteP {
		for w := range g.windows {
			if rng.IntN(oneIn) == 0 {
				if len(pen.site[j]) == 0 {
					pen.used = append(pen.used, int32(j))
				}
				pen.site[j] = append(pen.site[j], siteCost{w: w, wt: rng.Float64() * g.siteP[j]})
			}
		}
	}
	return pen
}

// TestPoolBest checks the known routes' prices at every slot (poolBest
// prices only each route's passages at the sites with costs, listed by
// hotPassages) against routeCost over every passage, on random timed games
// with random attacker weights: the same costs to the last bit, and the
// cheapest route not yet played at each slot.
func TestPoolBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	checked := 0
	for n := 0; n < 60; n++ {
		in := randomTimed(rng)
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		s := newSolver(g, Options{}.withDefaults(len(in.Slots)))
		rs, slots := allPlays(g)
		for i, r := range rs {
			k := s.addRoute(r)
			if rng.IntN(4) == 0 {
				s.addRow(play{r: k, slot: slots[i]})
			}
		}
		for round := 0; round < 3; round++ {
			pen := randomPenalties(rng, g, 2+rng.IntN(6))
			s.penSite, s.penUsed = pen.site, pen.used
			s.hotPassages()
			for slot := range g.in.Slots {
				wantI, wantC := -1, 0.5
				for i, r := range s.routes {
					full := pen.routeCost(g, r, g.in.Slots[slot], math.Inf(1))
					hot := pen.passCost(g, s.hotPass[s.hotFirst[i]:s.hotFirst[i+1]], g.in.Slots[slot], math.Inf(1))
					if hot != full {
						t.Fatalf("game %d route %d slot %d: %v over its passages at sites with costs, %v over all", n, i, slot, hot, full)
					}
					checked++
					if _, played := s.rowIdx[play{r: i, slot: slot}]; !played && g.admissible(r.dur, slot) && full < wantC {
						wantI, wantC = i, full
					}
				}
				if i, c := s.poolBest(pen, slot, 0.5); i != wantI || c != wantC {
					t.Fatalf("game %d slot %d: poolBest gave route %d at %v, want %d at %v", n, slot, i, c, wantI, wantC)
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d route prices checked", checked)
	}
}
