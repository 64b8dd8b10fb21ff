package ambush

import (
	"context"
	"errors"
	"math"
	"slices"

	"github.com/convoi/convoi/internal/graphsearch"
)

// The refinement. A game's optimal strategies are rarely unique: when every
// admissible route crosses the same bottleneck, the value is decided there
// by the departure spread alone and any route mix with that spread is
// optimal, so the LP returns whichever vertex it meets first. Among the
// strategies that keep the attacker's best hit probability at the value v,
// refine picks one that also minimises the attacker's best hit probability
// at the sites the defender can avoid (those some admissible route does not
// pass): the second-best ambush is made as poor as the first allows, which
// spreads the routes wherever avoiding a site is possible. Unavoidable sites
// only keep their bound v; minimising their hit would be a race between
// sites that no route choice changes.
//
// In the packing form of the restricted game (u = x/t):
//
//	maximise Σu  s.t.  Σ_r u_r M[r][c] ≤ 1          (c an avoidable site)
//	                   Σ_r u_r (M[r][c] − V) ≤ 0    (c unavoidable, V = v + tolerance)
//	                   Σ_r u_r ≤ refineCap
//
// x = u/Σu and t = 1/Σu is the avoidable sites' best hit probability. It
// grows by column generation like the game itself: the attacker oracle adds
// sites above their bound, the defender oracle routes whose reduced cost is
// negative (penalty Σ_c y_c M[r][c] below 1 + V Σ_unavoidable y_c − y_cap
// for the duals y).
const refineCap = 1e12

// refineColumns is how many violated sites one refinement iteration adds
// (its violations come in runs along a route).
const refineColumns = 8

// refine returns the refined mix over s.rows (extended with the rows it
// adds; len(x) == len(s.rows)) or ok false when it cannot improve on the
// equilibrium mix x0, which stays the answer.
func (s *solver) refine(ctx context.Context, x0 []float64, v float64) (x []float64, ok bool, err error) {
	bound := v + s.opt.Tolerance
	if s.unavoidable == nil {
		s.unavoidable = map[int32]bool{}
	}
	// The equilibrium's own second level, the figure to beat.
	t0, _ := s.avoidableBest(x0, 0, bound, 0)
	// The LP starts from the columns that bind or nearly bind under x0
	// (within half of their bound); the others come back through the
	// attacker oracle if the refined mix raises them.
	var act []int
	for c, col := range s.cols {
		var h float64
		for r := range x0 {
			h += x0[r] * s.m[r][c]
		}
		lim := t0
		if s.isUnavoidable(col.site) {
			lim = bound
		}
		if h >= 0.5*lim {
			act = append(act, c)
		}
	}
	// The program grows like the restricted game: constraint 0 is the
	// cap, 1.. the columns of act, and rows and constraints are only
	// appended, so a kept tableau takes each round from the last one's
	// optimum (Liechtenstein: the refinement's CPU 62 -> 25 ms).
	var (
		lp     warmLP
		capped bool // the last round's cap bound
		a      [][]float64
		rhs    = []float64{refineCap}
		unav   []bool
	)
	for iter := 0; iter < s.opt.MaxIterations; iter++ {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		nc := len(act)
		old := len(unav)
		for _, c := range act[old:] {
			u := s.isUnavoidable(s.cols[c].site)
			unav = append(unav, u)
			if u {
				rhs = append(rhs, 0)
			} else {
				rhs = append(rhs, 1)
			}
		}
		coef := func(r, k int) float64 {
			if unav[k] {
				return s.m[r][act[k]] - bound
			}
			return s.m[r][act[k]]
		}
		for r := range a {
			for k := old; k < nc; k++ {
				a[r] = append(a[r], coef(r, k))
			}
		}
		for r := len(a); r < len(s.rows); r++ {
			row := make([]float64, 1, nc+1)
			row[0] = 1
			for k := range act {
				row = append(row, coef(r, k))
			}
			a = append(a, row)
		}
		var u, dual []float64
		warm := false
		if !capped {
			var err error
			u, dual, err = lp.packing(a, rhs)
			if warm = err == nil && packingFeasible(a, rhs, u); !warm {
				lp.reset()
			}
		}
		if !warm {
			// After a capped round, or when the kept tableau gave up (its
			// pivot budget, or rounding): cold.
			var err error
			if u, dual, err = solvePacking(a, rhs); err != nil {
				return nil, false, err
			}
		}
		// A round where the cap binds has pivoted its 1e12 through the
		// tableau, whose rounding (1e12 x 2^-52, about 2e-4) would stay
		// in every later round: the next round starts cold.
		if capped = dual[0] > 0; capped {
			lp.reset()
		}
		var su float64
		for _, ur := range u {
			su += ur
		}
		if su <= 0 {
			return nil, false, errors.New("refine: empty strategy")
		}
		x = make([]float64, len(u))
		for r := range u {
			x[r] = u[r] / su
		}
		t := 1 / su
		_, newCols := s.avoidableBest(x, t+s.opt.Tolerance, bound, refineColumns)
		// The defender oracle prices routes with the duals as weights on
		// s.cols (zero off the LP).
		y := make([]float64, len(s.cols))
		theta := 1 - dual[0]
		for k, c := range act {
			y[c] = dual[k+1]
			if unav[k] {
				theta += bound * dual[k+1]
			}
		}
		// As in the double oracle, the heuristic searches take the slots
		// in turns, and the refinement stops after a pass over all.
		s.part = -1
		if s.opt.SlotRounds > 1 && !s.useDFS {
			s.part = iter % s.opt.SlotRounds
		}
		newRows, _, err := s.defenderBR(ctx, y, theta-1e-9*math.Max(1, theta))
		if err == nil && len(newCols) == 0 && len(newRows) == 0 && s.part >= 0 {
			s.part = -1
			newRows, _, err = s.defenderBR(ctx, y, theta-1e-9*math.Max(1, theta))
		}
		s.part = -1
		if err != nil {
			return nil, false, err
		}
		if len(newCols) == 0 && len(newRows) == 0 {
			return x, t <= t0+s.opt.Tolerance, nil
		}
		for _, c := range newCols {
			if _, in := s.colIdx[c]; !in {
				s.addCol(c)
				act = append(act, len(s.cols)-1)
			} else if i := s.colIdx[c]; !slices.Contains(act, i) {
				act = append(act, i)
			}
		}
		for _, r := range newRows {
			s.addRow(r)
		}
	}
	return nil, false, nil
}

// avoidableBest evaluates every (site, window) against the mix x over
// s.rows and returns the best hit probability among avoidable sites and up
// to limit columns that break their bound: above threshold
// for an avoidable site, above bound for an unavoidable one; best first.
func (s *solver) avoidableBest(x []float64, threshold, bound float64, limit int) (float64, []column) {
	// With a finite threshold only the violations are wanted: the columns
	// above the lower bound suffice. The best avoidable hit needs them all.
	floor := math.Min(threshold, bound)
	if math.IsInf(floor, 1) || floor <= 0 {
		floor = 0
	}
	_, cand, hits := s.attackerBR(x, floor, -1)
	best, found := 0.0, false
	var out []column
	for i, c := range cand {
		hit := hits[i]
		if found && hit <= math.Min(threshold, bound) {
			break
		}
		if s.isUnavoidable(c.site) {
			if hit > bound+1e-12 && len(out) < limit {
				out = append(out, c)
			}
			continue
		}
		if !found {
			best, found = hit, true
		}
		if hit > threshold && len(out) < limit {
			out = append(out, c)
		}
	}
	return best, out
}

// isUnavoidable reports whether every admissible route passes site j: the
// fastest route that avoids its node or edge is longer than the longest
// admissible duration. Cached per solve.
func (s *solver) isUnavoidable(j int32) bool {
	if u, ok := s.unavoidable[j]; ok {
		return u
	}
	g := s.g
	// A known route, or a route found by an earlier check, that avoids the
	// site settles it without a search.
	avoids := func(r *route) bool {
		_, found := slices.BinarySearchFunc(r.pass, j, func(p passage, j int32) int { return int(p.site - j) })
		return !found
	}
	if slices.ContainsFunc(s.routes, avoids) || slices.ContainsFunc(s.witness, avoids) {
		s.unavoidable[j] = false
		return false
	}
	skipNode, skipEdge := g.siteNode[j], g.siteEdge[j]
	u := true
	if skipNode != g.origin && skipNode != g.dest {
		if edges, ok := g.fastestAvoiding(skipNode, skipEdge, g.staticMaxDur()*(1+1e-9), &s.avoidScr); ok {
			u = false
			s.witness = append(s.witness, g.makeRoute(edges))
		}
	}
	s.unavoidable[j] = u
	return u
}

// avoidScratch is fastestAvoiding's per-solver scratch.
type avoidScratch struct {
	s            *graphsearch.Search[float64]
	nodes, edges graphsearch.Set
}

// fastestAvoiding returns the edges of the fastest allowed route from
// origin to destination without node skipNode and edge skipEdge (-1: none)
// when it takes at most maxDur; ok is false otherwise.
func (g *game) fastestAvoiding(skipNode, skipEdge int32, maxDur float64, scr *avoidScratch) (edges []int32, ok bool) {
	if scr.s == nil {
		scr.s = graphsearch.New[float64](g.n, math.Inf(1))
	}
	opt := graphsearch.Options[float64]{Target: g.dest, HasTarget: true, Lower: g.lbT, Bound: maxDur}
	if skipNode >= 0 {
		scr.nodes.Reset(g.n)
		scr.nodes.Add(uint32(skipNode))
		opt.AvoidNodes = &scr.nodes
	}
	if skipEdge >= 0 {
		scr.edges.Reset(len(g.head))
		scr.edges.Add(uint32(skipEdge))
		opt.AvoidEdges = &scr.edges
	}
	if !graphsearch.Dijkstra(scr.s, g.forward(), []int32{g.origin}, opt) {
		return nil, false
	}
	for v := uint32(g.dest); scr.s.Pred[v] != graphsearch.NoPred; v = uint32(g.tail[scr.s.Pred[v]]) {
		edges = append(edges, int32(scr.s.Pred[v]))
	}
	slices.Reverse(edges)
	return edges, true
}

// solvePacking solves maximise Σu s.t. Σ_r u_r a[r][c] ≤ rhs[c], u ≥ 0,
// with rhs ≥ 0 (the slack basis is feasible, no phase one), by a dense
// tableau simplex: steepest-edge pricing (the entering column's reduced
// cost relative to its norm in the current basis) until a run of
// degenerate pivots, then Bland's rule, which cannot cycle. It returns u
// and the constraint duals. (Steepest edge in place of Dantzig's rule
// halved the refinement's time on Liechtenstein: 0.17 -> 0.09 s.)
// Coefficients may be negative; the program must be bounded.
// solveMatrixGame uses it with rhs = 1.
func solvePacking(a [][]float64, rhs []float64) (u, y []float64, err error) {
	nr := len(a)
	if nr == 0 {
		return nil, nil, errors.New("packing: no variables")
	}
	nc := len(rhs)
	width := nr + nc + 1
	t := make([]float64, (nc+1)*width)
	rows := make([][]float64, nc+1)
	for i := range rows {
		rows[i] = t[i*width : (i+1)*width]
	}
	basis := make([]int, nc)
	for c := 0; c < nc; c++ {
		tr := rows[c]
		for r := 0; r < nr; r++ {
			tr[r] = a[r][c]
		}
		tr[nr+c] = 1
		tr[width-1] = rhs[c]
		basis[c] = nr + c
	}
	obj := rows[nc]
	for r := 0; r < nr; r++ {
		obj[r] = -1
	}
	const eps = 1e-12
	maxPivots := 50 * (nr + nc + 10)
	degenerate := 0
	var nz []int
	for pivots := 0; ; pivots++ {
		if pivots > maxPivots {
			return nil, nil, errLPIterations
		}
		bland := degenerate > 20
		enter := -1
		if bland {
			for j := 0; j < width-1; j++ {
				if obj[j] < -eps {
					enter = j
					break
				}
			}
		} else {
			// Steepest edge (as in warmLP.iterate): the reduced cost
			// relative to the norm of the column in the current basis.
			var best float64
			for j := 0; j < width-1; j++ {
				if d := obj[j]; d < -eps {
					q := 1.0
					for i := 0; i < nc; i++ {
						q += rows[i][j] * rows[i][j]
					}
					if sc := d * d / q; sc > best {
						enter, best = j, sc
					}
				}
			}
		}
		if enter < 0 {
			break
		}
		leave := -1
		var ratio float64
		for i := 0; i < nc; i++ {
			v := rows[i][enter]
			if v <= 1e-9 {
				continue
			}
			q := math.Max(0, rows[i][width-1]) / v
			if leave < 0 || q < ratio-eps || (q <= ratio+eps && basis[i] < basis[leave]) {
				leave, ratio = i, q
			}
		}
		if leave < 0 {
			return nil, nil, errors.New("packing: unbounded program")
		}
		if ratio <= eps {
			degenerate++
		} else {
			degenerate = 0
		}
		nz = pivotRows(rows, nil, leave, enter, nz)
		basis[leave] = enter
	}
	u, y = make([]float64, nr), make([]float64, nc)
	for i, b := range basis {
		if b < nr {
			u[b] = math.Max(0, rows[i][width-1])
		}
	}
	for c := range y {
		y[c] = math.Max(0, obj[nr+c])
	}
	return u, y, nil
}
