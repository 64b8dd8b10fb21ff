package ambush

import (
	"math"

	"github.com/convoi/convoi/internal/graphsearch"
)

// lowerScratch is bucketLower's per-call state, kept between calls so that
// they do not reallocate. Not safe for concurrent use: one per goroutine.
type lowerScratch struct {
	// first[v] is the index of node v's first cell, kLo[v] its bucket;
	// node v has cells first[v] .. first[v+1]-1.
	first []int32
	kLo   []int32
	// bmin is the least start of a label settled in each cell, valid when
	// stamp equals gen; qc and qa the cost and start of a label queued
	// there, valid when qstamp equals gen.
	bmin, qc, qa  []float64
	stamp, qstamp []uint32
	gen           uint32
	labels        []lowerLabel
	q             *graphsearch.Heap[float64, float64] // label indices by (cost, a)
	// hotE and hotN mark the edges and nodes that carry a site with costs.
	hotE, hotN graphsearch.Set
	// pot is lowerPotential's state.
	pot costToGo
}

// lowerLabel stands for the routes that reach node v at an offset time
// between a and the end of its cell, at a charged cost of c.
type lowerLabel struct {
	v, cell int32
	a, c    float64
}

// maxLowerCells caps the cells of one bucketLower call: a bucket width so
// small that the cells would not fit is widened to keep within it (wider
// buckets only weaken the bound; it stays valid).
const maxLowerCells = 1 << 26

// bucketLower returns a certified lower bound on the cost, under the timed
// site costs of p (p.site and p.used; p.edge and p.node are ignored), of
// every admissible route departing at slot: a simple path from origin to
// destination of duration at most maxDur[slot]. It is +Inf when no
// admissible route departs at slot. delta is the width of the time buckets
// in seconds (> 0; a width that would make too many cells is widened).
//
// It is a label-setting search in which a label (v, k, a) stands for the
// routes that reach node v at an offset time in [a, e(v, k)], where e(v, k)
// is the end of bucket k, (k+1)·delta, or the latest time an admissible
// route can be at v, maxDur - lbT[v], if earlier; a >= lbO[v], the earliest.
// The origin's one label is the time 0. Moving along edge e of time τ to
// v, the times [a+τ, e(u, k)+τ] are cut at the bucket ends into one label
// per bucket k' they meet, with a' the start of the piece J; the move costs,
// for each site on e or v with costs, the least value of the site's cost
// (the sum of the weights of its windows that contain the passage time)
// over the passage times it allows: J at v, the times of u the piece comes
// from plus at·τ at a site at fraction at of e. Sites at the origin cost
// their exact value at departure. Labels are popped by cost, the first at
// the destination gives the bound, and in a cell (v, k) a label is dropped
// when one popped there started no later (it stands for more routes at no
// more cost, and every move from it costs no more). The start a advances
// by τ along every edge, however short, so the search keeps the
// duration limit exactly: coarse buckets blur when a site is passed, not
// how long a route takes (cell-wide intervals would let a chain of short
// edges stay in one bucket for ever).
//
// Why it is a lower bound: an admissible route is at each node v at a time
// t_v in [lbO[v], maxDur - lbT[v]]. By induction along the route, some
// label in the search (or one that dominated it, whose moves cost no more)
// holds t_v in its interval: the piece of the next edge's times that holds
// t_v+τ is one of the new labels. Each move charges every site the route
// passes on it at most what the route pays there, as the true passage time
// is one of the times the minimum runs over. A simple path passes each site
// once, so the route pays at least the sum of the charges, and the first
// label popped at the destination costs no more than that. (The search also
// admits walks and ignores the crew rule: that only lowers the bound.)
// Interval ends are widened by a relative 1e-9 so that rounding never
// leaves a route's time outside.
func (g *game) bucketLower(p *penalties, slot int, delta float64, sc *lowerScratch) float64 {
	return g.bucketLowerBelow(p, slot, delta, math.Inf(1), sc)
}

// bucketLowerBelow is bucketLower, cut short once the bound is known to be
// at least limit: it then returns some value in [limit, bucketLower].
//
// Labels are popped by cost plus a potential (lowerPotential): a lower
// bound on the cost still to come, consistent with the moves' costs, so the
// first label popped at the destination still gives the bound, and the
// labels of a cell, which share their node's potential, are still popped by
// cost. It keeps the search to the labels that could still end below the
// bound.
func (g *game) bucketLowerBelow(p *penalties, slot int, delta, limit float64, sc *lowerScratch) float64 {
	if !g.feasibleFn[slot] {
		return math.Inf(1)
	}
	slotT, maxDur := g.in.Slots[slot], g.maxDur[slot]
	tol := 1e-9 * math.Max(1, maxDur)
	eps := 1e-9 * math.Max(1, math.Abs(slotT)+maxDur)
	rlo := func(v int32) float64 { return g.lbO[v] - eps }
	rhi := func(v int32) float64 { return maxDur + tol - g.lbT[v] + eps }
	if rlo(g.origin) > rhi(g.origin) {
		return math.Inf(1)
	}

	// Dense cells: per node the buckets of its admissible times, one cell
	// at the origin.
	if len(sc.first) < g.n+1 {
		sc.first, sc.kLo = make([]int32, g.n+1), make([]int32, g.n)
	}
	if !(delta > 0) {
		delta = 1
	}
	var total int
	for {
		total = 0
		for v := range int32(g.n) {
			if lo, hi := rlo(v), rhi(v); v == g.origin {
				total++
			} else if lo <= hi {
				total += int(math.Floor(hi/delta)-math.Floor(lo/delta)) + 1
			}
		}
		if total <= maxLowerCells {
			break
		}
		delta *= 2
	}
	total = 0
	for v := range int32(g.n) {
		sc.first[v], sc.kLo[v] = int32(total), 0
		lo, hi := rlo(v), rhi(v)
		switch {
		case v == g.origin:
			total++
		case lo <= hi:
			sc.kLo[v] = int32(math.Floor(lo / delta))
			total += int(math.Floor(hi/delta)-float64(sc.kLo[v])) + 1
		}
	}
	sc.first[g.n] = int32(total)
	if len(sc.bmin) < total {
		sc.bmin, sc.qc, sc.qa = make([]float64, total), make([]float64, total), make([]float64, total)
		sc.stamp, sc.qstamp = make([]uint32, total), make([]uint32, total)
		sc.gen = 0
	}
	if sc.gen++; sc.gen == 0 {
		clear(sc.stamp)
		clear(sc.qstamp)
		sc.gen = 1
	}
	if sc.q == nil {
		sc.q = graphsearch.NewQueue[float64, float64]()
	}
	sc.q.Reset()
	gen := sc.gen

	// The edges and nodes whose sites have costs.
	sc.hotE.Reset(len(g.head))
	sc.hotN.Reset(g.n)
	for _, j := range p.used {
		if len(p.site[j]) == 0 {
			continue
		}
		if e := g.siteEdge[j]; e >= 0 {
			sc.hotE.Add(uint32(e))
		} else {
			sc.hotN.Add(uint32(g.siteNode[j]))
		}
	}

	// end is e(v, k) for cell c of node v.
	end := func(v, c int32) float64 {
		if v == g.origin {
			return 0
		}
		k := float64(sc.kLo[v] + c - sc.first[v])
		return math.Min((k+1)*delta+eps, rhi(v))
	}
	// least is the least cost of site j at an offset time in [lo, hi].
	least := func(j int32, lo, hi float64) float64 {
		return g.minSiteCost(p.site[j], slotT+lo-eps, slotT+hi+eps)
	}
	// settled reports whether a label starting at a in cell c is
	// dominated by one popped there.
	settled := func(c int32, a float64) bool {
		return sc.stamp[c] == gen && sc.bmin[c] <= a
	}

	start := p.startPen(g, slotT)
	h := g.lowerPotential(p, slotT, maxDur, tol, eps, sc)
	if start+h[g.origin] >= limit {
		return start + h[g.origin]
	}
	labels := append(sc.labels[:0], lowerLabel{v: g.origin, cell: sc.first[g.origin]})
	defer func() { sc.labels = labels[:0] }()
	sc.q.Push(0, h[g.origin], 0)
	pruned := false
	for sc.q.Len() > 0 {
		l := labels[sc.q.Pop()]
		if settled(l.cell, l.a) {
			continue
		}
		sc.stamp[l.cell], sc.bmin[l.cell] = gen, l.a
		u, a, b := l.v, l.a, end(l.v, l.cell)
		if u == g.dest {
			return start + l.c
		}
		for i := g.out[u]; i < g.out[u+1]; i++ {
			e := g.outE[i]
			v := g.head[e]
			if v == g.origin || math.IsInf(h[v], 1) { // a simple path never comes back
				continue
			}
			tau := g.etime[e]
			lo, hi := math.Max(a+tau, rlo(v)), math.Min(b+tau, rhi(v))
			if !(lo <= hi) {
				continue
			}
			kv := sc.kLo[v]
			nv := sc.first[v+1] - sc.first[v]
			k0 := max(int32(math.Floor(lo/delta))-kv, 0)
			k1 := min(int32(math.Floor(hi/delta))-kv, nv-1)
			hotE, hotN := sc.hotE.Has(uint32(e)), sc.hotN.Has(uint32(v))
			for k := k0; k <= k1; k++ {
				c := sc.first[v] + k
				jlo := lo
				if k > k0 {
					jlo = math.Max(lo, float64(kv+k)*delta-eps)
				}
				jhi := math.Min(hi, end(v, c))
				if !(jlo <= jhi) || settled(c, jlo) {
					continue
				}
				cost := l.c
				if hotE {
					ulo, uhi := math.Max(a, jlo-tau), math.Min(b, jhi-tau)
					for _, j := range g.edgeS[e] {
						if len(p.site[j]) > 0 {
							at := g.siteAt[j] * tau
							cost += least(j, ulo+at, uhi+at)
						}
					}
				}
				if hotN {
					for _, j := range g.nodeS[v] {
						if len(p.site[j]) > 0 {
							cost += least(j, jlo, jhi)
						}
					}
				}
				key := cost + h[v]
				if start+key >= limit {
					pruned = true
					continue
				}
				// A label queued in the cell at no more cost and no later
				// start pops first and settles the cell before this one
				// (or is dropped for one that does): leave this one out.
				if sc.qstamp[c] != gen {
					sc.qstamp[c], sc.qc[c], sc.qa[c] = gen, cost, jlo
				} else if sc.qc[c] <= cost && sc.qa[c] <= jlo {
					continue
				} else if cost <= sc.qc[c] && jlo <= sc.qa[c] {
					sc.qc[c], sc.qa[c] = cost, jlo
				}
				labels = append(labels, lowerLabel{v: v, cell: c, a: jlo, c: cost})
				sc.q.Push(uint32(len(labels)-1), key, jlo)
			}
		}
	}
	if pruned {
		return limit
	}
	return math.Inf(1)
}

// lowerPotential returns, per node v, a lower bound on what bucketLower's
// moves charge from v to the destination: the least-cost path where each
// site with costs costs its least over every time an admissible route can
// pass it, widened by a few eps so that it never exceeds a move's charge
// (+Inf where the destination cannot be reached). It is a shortest-path
// distance under costs no larger than the moves', hence consistent. The
// sweep is costToGo's.
func (g *game) lowerPotential(p *penalties, slotT, maxDur, tol, eps float64, sc *lowerScratch) []float64 {
	return sc.pot.least(g, p, slotT, maxDur+tol, 4*eps, math.Inf(1))
}

// minSiteCost is the least, over absolute times t in [lo, hi], of the sum
// of the weights of costs whose windows contain t: a step function that
// only changes at window ends, so its least value is at lo or at one of
// them inside. In the static game the costs hold at all times.
func (g *game) minSiteCost(costs []siteCost, lo, hi float64) float64 {
	cost := func(t float64) float64 {
		var c float64
		for _, sc := range costs {
			if !g.timed || g.windows[sc.w].Contains(t) {
				c += sc.wt
			}
		}
		return c
	}
	m := cost(lo)
	for _, sc := range costs {
		if m == 0 || !g.timed {
			break
		}
		for _, t := range g.windows[sc.w] {
			if t > lo && t <= hi {
				m = math.Min(m, cost(t))
			}
		}
	}
	return m
}

// bucketLowerBound is a certified lower bound on the game value from the
// attacker mix y over s.cols: the least, over the slots where some route
// meets the deadline, of bucketLower with buckets of delta seconds (0 when
// none is finite). Like relaxedLower, it holds for any y; it is at least
// relaxedLower's bound (up to the 1e-9 tolerances of the durations), as its
// labels keep exact durations and charge each site over a subset of the
// times relaxedLower does.
func (s *solver) bucketLowerBound(y []float64, delta float64) float64 {
	return s.g.bucketLowerMix(s.cols, y, delta)
}

// bucketLowerMix is the certified lower bound on the game's value given by
// the attacker mix y over cols: the least bucketLower over the feasible
// slots (0 when none is finite).
func (g *game) bucketLowerMix(cols []column, y []float64, delta float64) float64 {
	pen := g.mixCosts(cols, y)
	var sc lowerScratch
	lower := math.Inf(1)
	for slot := range g.in.Slots {
		if g.feasibleFn[slot] {
			lower = math.Min(lower, g.bucketLowerBelow(pen, slot, delta, lower, &sc))
		}
	}
	if math.IsInf(lower, 1) {
		return 0
	}
	return lower
}
