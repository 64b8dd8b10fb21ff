package intercept

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Plan is a choice of one node per unit and what it is worth.
type Plan struct {
	// Positions[u] is unit u's node (an index into Instance.Nodes).
	Positions []int `json:"positions"`
	// Intercepted is the number of routes the plan intercepts, of Routes.
	Intercepted int     `json:"intercepted"`
	Routes      int     `json:"routes"`
	Fraction    float64 `json:"fraction"`
	// Optimal is true when the search proved that no plan intercepts more:
	// then BoundIntercepted == Intercepted.
	Optimal bool `json:"optimal"`
	// BoundIntercepted is a proven upper bound on what any plan
	// intercepts; Bound is the same as a fraction, and Gap = Bound -
	// Fraction (0 when optimal).
	BoundIntercepted int     `json:"bound_intercepted"`
	Bound            float64 `json:"bound"`
	Gap              float64 `json:"gap"`
	// RootBound is the bound before any branching (the sum of each unit's
	// best single coverage, capped at the routes some unit can reach), and
	// Nodes the number of search nodes explored: how hard the proof was.
	RootBound int   `json:"root_bound"`
	Nodes     int64 `json:"nodes"`
}

func (p *Problem) plan(positions []int, bound int) *Plan {
	n, _ := p.Evaluate(positions)
	pl := &Plan{Positions: positions, Intercepted: n, Routes: p.routes, BoundIntercepted: max(bound, n)}
	pl.Optimal = pl.BoundIntercepted == n
	pl.Fraction = float64(n) / float64(p.routes)
	pl.Bound = float64(pl.BoundIntercepted) / float64(p.routes)
	pl.Gap = pl.Bound - pl.Fraction
	return pl
}

// Greedy returns the plan of the published greedy rule: repeatedly give
// the (unassigned unit, candidate node) pair that intercepts the most new
// routes its node, ties to the lowest unit then the lowest node index,
// until no pair adds a route; the units left stay at their start. Its
// bound is the trivial one (every route some unit can intercept).
func (p *Problem) Greedy() *Plan {
	pos, _ := p.greedy()
	return p.plan(pos, p.reachable())
}

func (p *Problem) greedy() ([]int, []uint64) {
	covered := make([]uint64, p.words)
	pos := make([]int, len(p.units))
	done := make([]bool, len(p.units))
	for u := range pos {
		pos[u] = p.in.Units[u].Start
	}
	for {
		bu, bv, bg := -1, -1, 0
		for u, opts := range p.units {
			if done[u] {
				continue
			}
			for _, o := range opts {
				// Options are in node order, so the first best is the
				// lowest node.
				if g := gain(o.set, covered); g > bg {
					bu, bv, bg = u, o.node, g
				}
			}
		}
		if bu < 0 {
			return pos, covered
		}
		done[bu], pos[bu] = true, bv
		for _, o := range p.units[bu] {
			if o.node == bv {
				or(covered, covered, o.set)
				break
			}
		}
	}
}

// reachable counts the routes some option of some unit intercepts.
func (p *Problem) reachable() int {
	all := make([]uint64, p.words)
	for _, opts := range p.units {
		for _, o := range opts {
			or(all, all, o.set)
		}
	}
	return popcount(all)
}

func gain(set, covered []uint64) int {
	n := 0
	for i, w := range set {
		n += bits.OnesCount64(w &^ covered[i])
	}
	return n
}

func popcount(set []uint64) int {
	n := 0
	for _, w := range set {
		n += bits.OnesCount64(w)
	}
	return n
}

func or(dst, a, b []uint64) {
	for i := range dst {
		dst[i] = a[i] | b[i]
	}
}

func subset(a, b []uint64) bool {
	for i, w := range a {
		if w&^b[i] != 0 {
			return false
		}
	}
	return true
}

// Solve returns a plan intercepting the most routes, with the proof: the
// search is complete, so BoundIntercepted equals Intercepted and Optimal
// is true. When ctx ends first (a time limit is ctx's deadline) it returns
// the best plan found, Optimal false, and the bound still open, with a nil
// error: a plan is always better than none.
//
// The method is branch and bound over the units, one level per unit:
//   - the options of each unit are reduced by dominance: a node whose
//     routes are a subset of another node's (for the same unit) is dropped,
//     as is a node that intercepts nothing;
//   - units that are interchangeable (same options, same sets) choose in
//     non-decreasing option order, so that no plan is explored twice;
//   - the bound at a node is first the routes already intercepted plus, for
//     every unit still to place, the most new routes any one of its nodes
//     adds (coverage is submodular, so no completion does better); when
//     that does not prune and two units or more are left, the Lagrangian
//     bound (see lagrange), which converges to the LP relaxation's value;
//   - the children are explored best first, and the incumbent starts from
//     the greedy plan improved by moving one unit at a time.
func (p *Problem) Solve(ctx context.Context) (*Plan, error) { return p.solve(ctx, true) }

// solve is Solve, with or without the Lagrangian bound (the tests compare
// both).
func (p *Problem) solve(ctx context.Context, lagrangian bool) (*Plan, error) {
	s := &searcher{ctx: ctx, words: p.words, lagrangian: lagrangian}
	// Units with something to intercept, reduced by dominance, strongest
	// first.
	type unitOpts struct {
		u    int
		opts []option
		top  int
	}
	var us []unitOpts
	for u, opts := range p.units {
		red := reduce(opts)
		if len(red) == 0 {
			continue
		}
		us = append(us, unitOpts{u, red, red[0].count})
	}
	sort.SliceStable(us, func(i, j int) bool { return us[i].top > us[j].top })
	// Group identical units together (stable within equal tops).
	for i := 1; i < len(us); i++ {
		for j := i; j < len(us); j++ {
			if sameOptions(us[i-1].opts, us[j].opts) {
				us[i], us[j] = us[j], us[i]
				break
			}
		}
	}
	L := len(us)
	s.units = make([][]option, L)
	s.same = make([]bool, L)
	for d, x := range us {
		s.units[d] = x.opts
		s.same[d] = d > 0 && sameOptions(us[d-1].opts, x.opts)
	}
	s.S = make([][]uint64, L+1)
	for d := range s.S {
		s.S[d] = make([]uint64, p.words)
	}
	s.cov = make([]int, L+1)
	s.gains = make([][]int, L)
	s.order = make([][]int, L)
	for d := range L {
		s.gains[d] = make([]int, len(s.units[d]))
		s.order[d] = make([]int, 0, len(s.units[d]))
	}
	s.choice = make([]int, L)
	s.bestChoice = make([]int, L)
	s.lists = make([][][]int32, L)
	for d := range L {
		s.lists[d] = make([][]int32, len(s.units[d]))
		for i, o := range s.units[d] {
			l := make([]int32, 0, o.count)
			for w, x := range o.set {
				for ; x != 0; x &= x - 1 {
					l = append(l, int32(w*64+bits.TrailingZeros64(x)))
				}
			}
			s.lists[d][i] = l
		}
	}
	s.lambda = make([]float64, p.routes)
	for r := range s.lambda {
		s.lambda[r] = 1
	}
	s.grad = make([]float64, p.routes)
	s.arg = make([]int, L)

	// Incumbent: greedy, then one unit at a time to its best node.
	pos, _ := p.greedy()
	pos = p.improve(pos)
	s.best, _ = p.Evaluate(pos)
	s.bestPos = pos

	root := 0
	for d := range L {
		root += s.units[d][0].count
	}
	reach := p.reachable()
	root = min(root, reach)
	if lagrangian && L > 1 && s.best < root {
		root = min(root, s.lagrange(0, s.S[0], 0, s.best, rootIterations))
	}
	if L > 0 && s.best < root {
		s.dfs(0)
	}
	if s.found {
		out := make([]int, len(p.units))
		for u := range out {
			out[u] = p.in.Units[u].Start
		}
		for d, x := range us {
			out[x.u] = s.units[d][s.bestChoice[d]].node
		}
		s.bestPos = out
	}
	s.bestPos = p.firstThere(s.bestPos)
	bound := s.best
	if s.stopped {
		bound = max(bound, min(s.pending, root))
	}
	pl := p.plan(s.bestPos, bound)
	pl.RootBound = root
	pl.Nodes = s.nodes
	return pl, nil
}

// firstThere hands each roadblock of pos to a unit that gets there no
// later, making the roadblocks' arrival times earlier where it can: a unit
// that intercepts nothing where it is (idle) takes the node of a unit that
// reaches it later, which goes back to its start (or, when that is not one
// of its candidates, to the idle unit's place); two units holding
// roadblocks swap them when neither gets there later. Each step takes the
// move that saves the most time in all. A unit there no later intercepts
// every route the one before did, so the plan never intercepts less. The
// search sees only the count; a commander expects the nearest free unit to
// go.
func (p *Problem) firstThere(pos []int) []int {
	orig := pos
	pos = slices.Clone(pos)
	at := p.arrival
	holds := make([]bool, len(pos))
	// A unit sent back to its start may hold a roadblock there, so the
	// sum is not a strict measure in every case: the moves are bounded
	// too, and a plan that would intercept less is never returned.
	for range 4*len(pos)*len(pos) + 16 {
		for u := range pos {
			holds[u] = p.RoutesCut(u, pos[u]) > 0
		}
		best, ba, bb, back := 0.0, -1, -1, 0
		for a, v := range pos {
			if !holds[a] {
				continue
			}
			for b, w := range pos {
				switch {
				case b == a || !p.allowed(b, v):
				case !holds[b]:
					// a goes back to its start, or else to b's place.
					to := p.in.Units[a].Start
					if !p.allowed(a, to) {
						to = w
					}
					if d := at[a][v] - at[b][v]; d > best && p.allowed(a, to) {
						best, ba, bb, back = d, a, b, to
					}
				case w != v && p.allowed(a, w) && at[b][v] <= at[a][v] && at[a][w] <= at[b][w]:
					if d := at[a][v] - at[b][v] + at[b][w] - at[a][w]; d > best {
						best, ba, bb = d, a, b
					}
				}
			}
		}
		if ba < 0 {
			break
		}
		if v := pos[ba]; holds[bb] {
			pos[ba], pos[bb] = pos[bb], v
		} else {
			pos[bb], pos[ba] = v, back
		}
	}
	before, _ := p.Evaluate(orig)
	if after, _ := p.Evaluate(pos); after < before {
		return orig
	}
	return pos
}

// allowed reports whether unit u may stand at node v: one of its
// candidates, when it has a list.
func (p *Problem) allowed(u, v int) bool {
	c := p.in.Units[u].Candidates
	if len(c) == 0 {
		return true
	}
	_, ok := slices.BinarySearch(c, v)
	return ok
}

// improve moves one unit at a time to the node that intercepts the most
// with the others fixed, until no move helps.
func (p *Problem) improve(pos []int) []int {
	pos = append([]int(nil), pos...)
	others := make([]uint64, p.words)
	for changed := true; changed; {
		changed = false
		for u, opts := range p.units {
			clear(others)
			for w, v := range pos {
				if w == u {
					continue
				}
				for _, o := range p.units[w] {
					if o.node == v {
						or(others, others, o.set)
						break
					}
				}
			}
			cur := -1
			for _, o := range opts {
				if o.node == pos[u] {
					cur = gain(o.set, others)
					break
				}
			}
			for _, o := range opts {
				if g := gain(o.set, others); g > cur {
					cur, pos[u], changed = g, o.node, true
				}
			}
		}
	}
	return pos
}

// reduce drops the options that intercept nothing and those dominated by
// another (their routes a subset of its; of equal sets the lowest node
// stays), and returns the rest by decreasing coverage.
func reduce(opts []option) []option {
	var c []option
	for _, o := range opts {
		if o.count > 0 {
			c = append(c, o)
		}
	}
	sort.SliceStable(c, func(i, j int) bool { return c[i].count > c[j].count })
	var out []option
	for _, o := range c {
		dominated := false
		for _, k := range out {
			if k.count >= o.count && subset(o.set, k.set) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, o)
		}
	}
	return out
}

func sameOptions(a, b []option) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].count != b[i].count {
			return false
		}
		for w, x := range a[i].set {
			if b[i].set[w] != x {
				return false
			}
		}
	}
	return true
}

// searcher is one Solve's branch and bound state.
type searcher struct {
	ctx        context.Context
	lagrangian bool
	words      int
	units      [][]option // per level
	same       []bool     // level d's unit is interchangeable with level d-1's
	S          [][]uint64 // routes intercepted before level d
	cov        []int      // their number
	gains      [][]int    // per level, per option: new routes
	order      [][]int    // per level: options by decreasing gain
	// choice is the option taken at each level on the current path.
	choice     []int
	best       int
	bestChoice []int
	bestPos    []int
	found      bool // bestChoice beats the incumbent plan
	nodes      int64
	stopped    bool
	pending    int // when stopped: the best bound left unexplored

	// The Lagrangian bound's state: each option's routes as a list, the
	// multipliers (one per route, kept from node to node as a warm start)
	// and scratch.
	lists  [][][]int32 // per level, per option
	lambda []float64
	grad   []float64
	free   []int32
	arg    []int
}

func (s *searcher) dfs(d int) {
	s.nodes++
	if s.nodes&1023 == 1 && s.ctx.Err() != nil { // at the first node, then every 1024
		s.stopped = true
	}
	L := len(s.units)
	S, cov := s.S[d], s.cov[d]
	lo := 0
	if s.same[d] {
		lo = s.choice[d-1]
	}
	g := s.gains[d]
	for i := lo; i < len(s.units[d]); i++ {
		g[i] = gain(s.units[d][i].set, S)
	}
	if d == L-1 {
		bi := lo
		for i := lo; i < len(g); i++ {
			if g[i] > g[bi] {
				bi = i
			}
		}
		if cov+g[bi] > s.best {
			s.record(d, bi, cov+g[bi])
		}
		return
	}
	rest := 0
	for e := d + 1; e < L; e++ {
		m := 0
		for _, o := range s.units[e] {
			if o.count <= m {
				break // sorted by count: no later option can add more
			}
			m = max(m, gain(o.set, S))
		}
		rest += m
	}
	b := cov + maxOf(g[lo:]) + rest
	if b <= s.best {
		return
	}
	if s.lagrangian && L-d >= 2 {
		if b = min(b, s.lagrange(d, S, cov, s.best, nodeIterations)); b <= s.best {
			return
		}
	}
	if s.stopped {
		s.pending = max(s.pending, b)
		return
	}
	ord := s.order[d][:0]
	for i := lo; i < len(g); i++ {
		ord = append(ord, i)
	}
	sort.Slice(ord, func(a, b int) bool { return g[ord[a]] > g[ord[b]] })
	for _, i := range ord {
		b := cov + g[i] + rest
		if b <= s.best {
			break
		}
		or(s.S[d+1], S, s.units[d][i].set)
		s.cov[d+1] = cov + g[i]
		s.choice[d] = i
		s.dfs(d + 1)
		if s.stopped {
			s.pending = max(s.pending, b)
			return
		}
	}
}

func (s *searcher) record(d, i, value int) {
	s.choice[d] = i
	s.best = value
	copy(s.bestChoice, s.choice)
	s.found = true
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// Iterations of the subgradient method for the Lagrangian bound, at the
// root (the bound reported) and at other nodes (where it only has to
// prune).
const (
	rootIterations = 200
	nodeIterations = 30
)

// lagrange returns an upper bound on the routes any completion of the node
// at level d intercepts (cov of them, the set S, already are): the
// Lagrangian relaxation of "route r counts only if an option taken covers
// it" with a multiplier lambda_r in [0, 1] per route,
//
//	L(lambda) = cov + sum over free r of (1 - lambda_r)
//	          + sum over units e >= d of max over options o of sum over r in o, not in S, of lambda_r,
//
// which is at least the optimum for every lambda (weak duality) and whose
// minimum is the LP relaxation's value. With lambda = 1 it is the simple
// bound; the subgradient method (Polyak steps towards target, the
// incumbent) lowers it. It stops early once the bound is at most target.
func (s *searcher) lagrange(d int, S []uint64, cov, target, iterations int) int {
	L := len(s.units)
	lam, grad := s.lambda, s.grad
	in := func(r int32) bool { return S[r>>6]&(1<<(r&63)) != 0 }
	// The free routes: not intercepted yet, and coverable by some unit left.
	free := s.free[:0]
	for e := d; e < L; e++ {
		for _, l := range s.lists[e] {
			for _, r := range l {
				if !in(r) && grad[r] != -2 {
					grad[r] = -2 // mark
					free = append(free, r)
				}
			}
		}
	}
	s.free = free
	best := math.Inf(1)
	theta, stall := 1.0, 0
	for it := 0; it < iterations; it++ {
		val := float64(cov)
		for _, r := range free {
			val += 1 - lam[r]
			grad[r] = -1
		}
		for e := d; e < L; e++ {
			bv, bo := 0.0, -1
			for oi, l := range s.lists[e] {
				v := 0.0
				for _, r := range l {
					if !in(r) {
						v += lam[r]
					}
				}
				if v > bv {
					bv, bo = v, oi
				}
			}
			val += bv
			s.arg[e] = bo
		}
		if val < best-1e-9 {
			best, stall = val, 0
		} else if stall++; stall >= 3 {
			theta, stall = theta/2, 0
		}
		if math.Floor(best+1e-9) <= float64(target) {
			break
		}
		for e := d; e < L; e++ {
			if s.arg[e] < 0 {
				continue
			}
			for _, r := range s.lists[e][s.arg[e]] {
				if !in(r) {
					grad[r]++
				}
			}
		}
		norm := 0.0
		for _, r := range free {
			if lam[r] >= 1 && grad[r] < 0 || lam[r] <= 0 && grad[r] > 0 {
				grad[r] = 0 // the step would leave [0, 1]
			}
			norm += grad[r] * grad[r]
		}
		if norm == 0 {
			break // lambda is optimal
		}
		step := theta * (val - float64(target)) / norm
		for _, r := range free {
			lam[r] = min(1, max(0, lam[r]-step*grad[r]))
		}
	}
	for _, r := range free {
		grad[r] = 0
	}
	return int(math.Floor(best + 1e-9))
}
