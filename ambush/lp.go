package ambush

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
)

// denseFill: a pivot row with more than one non-zero in denseFill is
// subtracted whole (eliminate).
const denseFill = 3

// errLPIterations reports a simplex that did not finish within its pivot budget.
var errLPIterations = errors.New("simplex: pivot limit reached")

// errLPDrift reports a kept tableau whose solution breaks a constraint of
// the program it stands for.
var errLPDrift = errors.New("simplex: rounding drift")

// errLPStopped reports a warm simplex that warmLP.stop ended.
var errLPStopped = errors.New("simplex: stopped")

// solveMatrixGame returns optimal mixed strategies of the zero-sum game with
// payoff m[r][c] >= 0 (row player minimizes, column player maximizes) and its
// value. It solves, with solvePacking's dense tableau simplex, the classic
// transformation
//
//	maximize sum(u) subject to sum_r u_r m[r][c] <= 1 for every c, u >= 0,
//
// with x = u / sum(u), value = 1 / sum(u) and the column strategy read from
// the duals of the constraints. The slack basis is feasible from the start
// (no phase one). Game matrices are highly degenerate (many equal entries,
// ties in the ratio test); steepest-edge pricing is used until a run of
// degenerate pivots, then Bland's rule, which cannot cycle.
//
// A row of zeros means the row player can avoid every column: the value is 0
// and that row is returned as a pure strategy.
func solveMatrixGame(m [][]float64) (x, y []float64, value float64, err error) {
	nr := len(m)
	if nr == 0 {
		return nil, nil, 0, errors.New("matrix game: no rows")
	}
	nc := len(m[0])
	x, y = make([]float64, nr), make([]float64, nc)
	if nc == 0 {
		x[0] = 1
		return x, y, 0, nil
	}
	for r := range m {
		zero := true
		for _, v := range m[r] {
			if v > 0 {
				zero = false
				break
			}
		}
		if zero {
			x[r] = 1
			for c := range y {
				y[c] = 1 / float64(nc)
			}
			return x, y, 0, nil
		}
	}

	// max Σx s.t. Σ_r x_r m[r][c] ≤ 1: x/Σx is the row player's optimal
	// mix, 1/Σx the value, and the duals normalised the column player's.
	ones := make([]float64, nc)
	for c := range ones {
		ones[c] = 1
	}
	u, w, err := solvePacking(m, ones)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("matrix game: %w", err)
	}
	var su, sw float64
	for r, v := range u {
		x[r] = v
		su += v
	}
	if su <= 0 {
		return nil, nil, 0, errors.New("matrix game: degenerate optimum")
	}
	for c, v := range w {
		y[c] = v
		sw += v
	}
	for r := range x {
		x[r] /= su
	}
	if sw > 0 {
		for c := range y {
			y[c] /= sw
		}
	}
	return x, y, 1 / su, nil
}

// warmLP is the restricted game's LP kept between double-oracle iterations:
// new defender strategies enter as new variables (primal simplex from the
// previous optimal basis), new attacker strategies as new constraints (dual
// simplex, since the previous basis stays dual feasible). It solves the
// same program as solveMatrixGame.
type warmLP struct {
	ok     bool        // the tableau holds an optimal basis
	nv, nc int         // variables (game rows) and constraints (game columns) incorporated
	t      [][]float64 // constraint rows over tableau columns
	rhs    []float64
	obj    []float64 // reduced costs
	z      float64   // objective value
	basis  []int     // tableau column basic in each row
	isVar  []int     // tableau column -> game row, or -1 for a slack
	varCol []int     // game row -> tableau column
	slkCol []int     // game column -> tableau column of its slack
	warm   int       // solves answered from the kept tableau (for tests)
	nz     []int     // pivot scratch
	pivots int       // pivots made (for tests)
	seq    int       // variables added, for costPerturbation
	norm   []float64 // pricing scratch
	b      []float64 // the right-hand sides during packing (nil: all 1)
	cand   []int     // pricing scratch
	// stop, when not nil, is asked every 64 pivots whether to give the
	// solve up (errLPStopped; the tableau is then reset).
	stop func() bool
}

func (w *warmLP) reset() {
	*w = warmLP{warm: w.warm, nz: w.nz, pivots: w.pivots, seq: w.seq, norm: w.norm, cand: w.cand, stop: w.stop}
}

// solve returns the equilibrium of m, which must extend the matrix of the
// previous call by appended rows and columns (call reset otherwise).
func (w *warmLP) solve(m [][]float64) (x, y []float64, value float64, err error) {
	nc := 0
	if len(m) > 0 {
		nc = len(m[0])
	}
	for r := range m {
		zero := true
		for _, v := range m[r] {
			if v > 0 {
				zero = false
				break
			}
		}
		if zero || nc == 0 {
			w.reset()
			return solveMatrixGame(m)
		}
	}
	x, y, err = w.packing(m, nil)
	if errors.Is(err, errLPStopped) {
		return nil, nil, 0, err
	}
	if err == nil && !packingFeasible(m, nil, x) {
		// The kept tableau has drifted: after thousands of pivots its
		// rounding lets a constraint of the game be broken (Valletta ->
		// Mellieħa with 32 columns an iteration: columns of the
		// restricted game paying 4e-4 more than its value, which the
		// attacker oracle then offered again every iteration). A cold
		// solve starts from the game itself.
		w.reset()
		err = errLPDrift
	}
	if err != nil {
		return solveMatrixGame(m)
	}
	var su, sw float64
	for _, bc := range w.basis { // in the basis's order, as ever: the sum's rounding steers the solve
		if r := w.isVar[bc]; r >= 0 {
			su += x[r]
		}
	}
	for _, v := range y {
		sw += v
	}
	if su <= 0 || sw <= 0 {
		w.reset()
		return solveMatrixGame(m)
	}
	for r := range x {
		x[r] /= su
	}
	for c := range y {
		y[c] /= sw
	}
	w.warm++
	return x, y, 1 / su, nil
}

// packing solves maximise Σu s.t. Σ_r u_r m[r][c] ≤ b[c], u ≥ 0 (b nil:
// every right-hand side 1; b ≥ 0, so the slack basis is feasible) from the
// tableau kept since the previous call, whose m and b this call's must
// extend by appended rows and columns: new constraints by the dual
// simplex, then new variables by the primal. It returns u and the
// constraint duals, not normalised. On an error the tableau is reset.
func (w *warmLP) packing(m [][]float64, b []float64) (u, y []float64, err error) {
	nr, nc := len(m), 0
	if nr > 0 {
		nc = len(m[0])
	}
	if !w.ok || nr < w.nv || nc < w.nc {
		w.reset()
		w.ok = true
	}
	w.b = b
	// New constraints first: the basis stays dual feasible.
	for c := w.nc; c < nc; c++ {
		w.addConstraint(m, c)
	}
	w.nc = nc
	err = w.iterate(true)
	if err == nil {
		// Then new variables: the basis stays primal feasible.
		for r := w.nv; r < nr; r++ {
			w.addVariable(m, r)
		}
		w.nv = nr
		err = w.iterate(false)
	}
	w.b = nil
	if err != nil {
		w.reset()
		return nil, nil, err
	}
	u, y = make([]float64, nr), make([]float64, nc)
	for i, bc := range w.basis {
		if r := w.isVar[bc]; r >= 0 {
			u[r] = math.Max(0, w.rhs[i])
		}
	}
	for c := range y {
		y[c] = math.Max(0, w.obj[w.slkCol[c]])
	}
	return u, y, nil
}

// packingFeasible reports whether u meets every constraint of the packing
// program (a, rhs) within a relative 1e-9 (rhs nil: all 1).
func packingFeasible(a [][]float64, rhs, u []float64) bool {
	if len(a) == 0 {
		return true
	}
	n := len(rhs)
	if rhs == nil {
		n = len(a[0])
	}
	for c := range n {
		b := 1.0
		if rhs != nil {
			b = rhs[c]
		}
		var sum, mag float64
		for r, ur := range u {
			sum += ur * a[r][c]
			mag += math.Abs(ur * a[r][c])
		}
		if sum > b+1e-9*math.Max(1, math.Max(mag, b)) {
			return false
		}
	}
	return true
}

// basicRow reports whether game row r is a basic variable of the kept
// tableau; bindingCol whether game column c's slack is non-basic.
func (w *warmLP) basicRow(r int) bool {
	return w.ok && r < w.nv && slices.Contains(w.basis, w.varCol[r])
}

func (w *warmLP) bindingCol(c int) bool {
	return w.ok && c < w.nc && !slices.Contains(w.basis, w.slkCol[c])
}

// keep restricts the kept tableau to game rows keepR and columns keepC
// (increasing), which become rows and columns 0, 1, ... of the next
// matrix. The dropped rows must be non-basic variables and the dropped
// columns constraints whose slack is basic (see basicRow, bindingCol):
// removing a non-basic column leaves the basis as it is, and removing a
// constraint with its basic slack leaves the other rows of the basis
// inverse unchanged, so the basis stays optimal and the next solve warm.
// Otherwise the LP starts cold.
func (w *warmLP) keep(keepR, keepC []int) {
	if !w.ok {
		return
	}
	dropCol := make([]bool, len(w.obj)) // tableau columns
	dropRow := make([]bool, len(w.t))
	rowOf := make([]int, len(w.obj)) // basic tableau column -> its row
	for j := range rowOf {
		rowOf[j] = -1
	}
	for i, b := range w.basis {
		rowOf[b] = i
	}
	newVar := make([]int, w.nv)
	for r := range newVar {
		newVar[r] = -1
	}
	for k, r := range keepR {
		if r < w.nv {
			newVar[r] = k
		}
	}
	for r := 0; r < w.nv; r++ {
		if newVar[r] < 0 {
			if rowOf[w.varCol[r]] >= 0 {
				w.reset()
				return
			}
			dropCol[w.varCol[r]] = true
		}
	}
	kc := make([]bool, w.nc)
	for _, c := range keepC {
		if c < w.nc {
			kc[c] = true
		}
	}
	for c := 0; c < w.nc; c++ {
		if !kc[c] {
			i := rowOf[w.slkCol[c]]
			if i < 0 {
				w.reset()
				return
			}
			dropCol[w.slkCol[c]], dropRow[i] = true, true
		}
	}
	// New tableau column indices.
	newCol := make([]int, len(w.obj))
	n := 0
	for j := range newCol {
		newCol[j] = -1
		if !dropCol[j] {
			newCol[j] = n
			n++
		}
	}
	compact := func(row []float64) []float64 {
		k := 0
		for j, v := range row {
			if !dropCol[j] {
				row[k] = v
				k++
			}
		}
		return row[:k]
	}
	var t [][]float64
	var rhs []float64
	var basis []int
	for i, row := range w.t {
		if dropRow[i] {
			continue
		}
		t = append(t, compact(row))
		rhs = append(rhs, w.rhs[i])
		basis = append(basis, newCol[w.basis[i]])
	}
	w.t, w.rhs, w.basis = t, rhs, basis
	w.obj = compact(w.obj)
	isVar := make([]int, n)
	for j, r := range w.isVar {
		if newCol[j] < 0 {
			continue
		}
		isVar[newCol[j]] = -1
		if r >= 0 {
			isVar[newCol[j]] = newVar[r]
		}
	}
	w.isVar = isVar
	varCol := make([]int, 0, len(keepR))
	for _, r := range keepR {
		if r < w.nv {
			varCol = append(varCol, newCol[w.varCol[r]])
		}
	}
	slkCol := make([]int, 0, len(keepC))
	for _, c := range keepC {
		if c < w.nc {
			slkCol = append(slkCol, newCol[w.slkCol[c]])
		}
	}
	w.varCol, w.slkCol = varCol, slkCol
	w.nv, w.nc = len(varCol), len(slkCol)
}

func (w *warmLP) addColumn(isVar int) int {
	for i := range w.t {
		w.t[i] = append(w.t[i], 0)
	}
	w.obj = append(w.obj, 0)
	w.isVar = append(w.isVar, isVar)
	return len(w.obj) - 1
}

// addConstraint adds sum_r u_r m[r][c] <= b[c] (1 without b) with its slack basic,
// expressed in the current basis.
func (w *warmLP) addConstraint(m [][]float64, c int) {
	s := w.addColumn(-1)
	w.slkCol = append(w.slkCol, s)
	row := make([]float64, len(w.obj))
	rhs := 1.0
	if w.b != nil {
		rhs = w.b[c]
	}
	for r := 0; r < w.nv; r++ {
		row[w.varCol[r]] = m[r][c]
	}
	row[s] = 1
	for i, b := range w.basis {
		if f := row[b]; f != 0 {
			floats.AddScaled(row, -f, w.t[i])
			row[b] = 0
			rhs -= f * w.rhs[i]
		}
	}
	w.t = append(w.t, row)
	w.rhs = append(w.rhs, rhs)
	w.basis = append(w.basis, s)
}

// addVariable adds game row r as a variable, its column expressed in the
// current basis through the slack columns (which hold the basis inverse).
func (w *warmLP) addVariable(m [][]float64, r int) {
	j := w.addColumn(r)
	w.varCol = append(w.varCol, j)
	// A route meets few of the columns in play: the sums run over its
	// non-zero entries only (in the same order, so the same sums).
	nz := w.nz[:0]
	for c := 0; c < w.nc; c++ {
		if m[r][c] != 0 {
			nz = append(nz, c)
		}
	}
	for i := range w.t {
		var v float64
		ti := w.t[i]
		for _, c := range nz {
			v += ti[w.slkCol[c]] * m[r][c]
		}
		ti[j] = v
	}
	w.nz = nz
	w.seq++
	d := -1 - costPerturbation(w.seq)
	for c := 0; c < w.nc; c++ {
		d += w.obj[w.slkCol[c]] * m[r][c]
	}
	w.obj[j] = d
}

// pivotRows pivots the tableau rows on (leave, enter): it divides the
// pivot row by its element and eliminates column enter from the other
// rows, carrying rhs (one right-hand side per row; nil when the rows hold
// theirs as a column) along. Game tableaux are sparse (a route passes few
// of the sites in play), so only the pivot row's non-zero columns are
// updated. nz is scratch space, returned for reuse.
func pivotRows(rows [][]float64, rhs []float64, leave, enter int, nz []int) []int {
	pr := rows[leave]
	inv := 1 / pr[enter]
	nz = nz[:0]
	for j := range pr {
		if pr[j] != 0 {
			pr[j] *= inv
			nz = append(nz, j)
		}
	}
	pr[enter] = 1
	if rhs != nil {
		rhs[leave] *= inv
	}
	for i, ri := range rows {
		if i == leave {
			continue
		}
		if f := eliminate(ri, pr, nz, enter); f != 0 && rhs != nil {
			rhs[i] -= f * rhs[leave]
		}
	}
	return nz
}

// eliminate subtracts f times the normalised pivot row pr (non-zero at
// nz) from row ri, where f is ri's entry in column enter, and returns f.
// A pivot row that has filled in is walked densely: subtracting its zeros
// changes nothing, and gonum's vectorised AXPY (floats.AddScaled, two
// products per instruction) is three times the plain loop's speed, with
// the same roundings (a product, then a sum), so the same pivots follow.
func eliminate(ri, pr []float64, nz []int, enter int) float64 {
	f := ri[enter]
	if f == 0 {
		return 0
	}
	if denseFill*len(nz) > len(pr) {
		floats.AddScaled(ri[:len(pr)], -f, pr)
	} else {
		for _, j := range nz {
			ri[j] -= f * pr[j]
		}
	}
	ri[enter] = 0
	return f
}

func (w *warmLP) pivot(l, e int) {
	w.pivots++
	w.nz = pivotRows(w.t, w.rhs, l, e, w.nz)
	// The objective row, whose right-hand side is -z.
	if f := eliminate(w.obj, w.t[l], w.nz, e); f != 0 {
		w.z -= f * w.rhs[l]
	}
	w.basis[l] = e
}

// iterate runs the dual simplex (restore rhs >= 0) or the primal simplex
// (restore reduced costs >= 0), with Bland's rule after degenerate runs.
// Otherwise both price by steepest edge, exactly: the dual picks the row
// whose infeasibility is largest relative to the norm of its row of the
// basis inverse (the slack columns; only infeasible rows are weighed), the
// primal the column whose reduced cost is largest relative to the norm of
// the column in the current basis (only the columns that could enter are
// weighed). Against Dantzig's rule that halves the pivots of the regional
// games (Valletta -> Mellieħa: 14,854 -> 5,717, a third of the dual
// pivots), and the different vertices it finds took fewer iterations too.
func (w *warmLP) iterate(dual bool) error {
	const (
		eps    = 1e-12
		feas   = 1e-10 // rhs this negative is infeasible
		pivTol = 1e-9  // smallest pivot element accepted
	)
	// A warm start needs few pivots; past this budget a cold solve is cheaper.
	limit := 4*(len(w.t)+len(w.obj)) + 100
	degenerate := 0
	step := func(l, e int, ratio float64) {
		if ratio <= eps {
			degenerate++
		} else {
			degenerate = 0
		}
		w.pivot(l, e)
	}
	for it := 0; it < limit; it++ {
		if it&63 == 63 && w.stop != nil && w.stop() {
			return errLPStopped
		}
		bland := degenerate > 20
		if dual {
			l := -1
			var lScore float64
			for i, v := range w.rhs {
				if v >= -feas {
					continue
				}
				if bland {
					if l < 0 || w.basis[i] < w.basis[l] {
						l = i
					}
					continue
				}
				// Dual steepest edge: the infeasibility relative to the
				// norm of the row's basis inverse (the slack columns).
				beta := 0.0
				for _, j := range w.slkCol {
					a := w.t[i][j]
					beta += a * a
				}
				if sc := v * v / beta; l < 0 || sc > lScore {
					l, lScore = i, sc
				}
			}
			if l < 0 {
				return nil
			}
			e := -1
			var best, piv float64
			for j, a := range w.t[l] {
				if a >= -pivTol {
					continue
				}
				q := math.Max(0, w.obj[j]) / -a
				better := e < 0 || q < best-eps
				if !better && q <= best+eps {
					// Ties: the largest pivot (stability), or the
					// smallest index under Bland's rule.
					better = (!bland && -a > piv) || (bland && j < e)
				}
				if better {
					e, best, piv = j, q, -a
				}
			}
			if e < 0 {
				return errors.New("dual simplex: infeasible")
			}
			step(l, e, best)
			continue
		}
		e := -1
		best := -eps
		if bland {
			for j, v := range w.obj {
				if v < best {
					e = j
					break
				}
			}
		} else {
			// Primal steepest edge: the reduced cost relative to the
			// norm of the column in the current basis, for the columns
			// that could enter (often a few: then column by column,
			// else in one pass over the tableau).
			cand := w.cand[:0]
			for j, v := range w.obj {
				if v < -eps {
					cand = append(cand, j)
				}
			}
			w.cand = cand
			norm := w.norm[:0]
			if 4*len(cand) < len(w.obj) {
				// Row by row, for the memory's sake (the same sums in
				// the same order as column by column).
				for range cand {
					norm = append(norm, 1)
				}
				for _, ri := range w.t {
					for k, j := range cand {
						norm[k] += ri[j] * ri[j]
					}
				}
			} else {
				for range w.obj {
					norm = append(norm, 1)
				}
				for _, ri := range w.t {
					for j, a := range ri {
						norm[j] += a * a
					}
				}
				for k, j := range cand {
					norm[k] = norm[j]
				}
			}
			w.norm = norm
			best = 0
			for k, j := range cand {
				v := w.obj[j]
				if sc := v * v / norm[k]; sc > best {
					e, best = j, sc
				}
			}
		}
		if e < 0 {
			return nil
		}
		l := -1
		var ratio float64
		for i := range w.t {
			a := w.t[i][e]
			if a <= pivTol {
				continue
			}
			q := math.Max(0, w.rhs[i]) / a
			if l < 0 || q < ratio-eps || (q <= ratio+eps && ((bland && w.basis[i] < w.basis[l]) || (!bland && a > w.t[l][e]))) {
				l, ratio = i, q
			}
		}
		if l < 0 {
			return errors.New("simplex: unbounded")
		}
		step(l, e, ratio)
	}
	return errLPIterations
}

// costPerturbation is the tiny amount, below 1e-10, by which the warm LP
// raises the objective coefficient of the k-th variable it adds. Game LPs are massively
// dual degenerate: every route the defender oracle brought in was a best
// response once, so many variables have a reduced cost of exactly 0, and
// the dual simplex that adds attacker strategies then stalls in long runs
// of degenerate pivots. Distinct costs break those ties. The vertex found
// is optimal for the perturbed costs, so its value 1/Σu is within a
// relative 1e-10 of the restricted game's; x stays feasible (no column gets
// more than the value reported) and the duals' bound stays valid, so
// exploitability and lower bounds are unaffected.
func costPerturbation(k int) float64 {
	h := uint64(k) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	return float64(h>>11) / (1 << 53) * 1e-10
}
