package ambush

import (
	"errors"
	"math"
)

// errLPIterations reports a simplex that did not finish within its pivot budget.
var errLPIterations = errors.New("simplex: pivot limit reached")

// solveMatrixGame returns optimal mixed strategies of the zero-sum game with
// payoff m[r][c] >= 0 (row player minimizes, column player maximizes) and its
// value. It is a dense tableau simplex on the classic transformation
//
//	maximize sum(u) subject to sum_r u_r m[r][c] <= 1 for every c, u >= 0,
//
// with x = u / sum(u), value = 1 / sum(u) and the column strategy read from
// the duals of the constraints. The slack basis is feasible from the start
// (no phase one). Game matrices are highly degenerate (many equal entries,
// ties in the ratio test); Dantzig pricing is used until a run of degenerate
// pivots, then Bland's rule, which cannot cycle.
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

	// Tableau: nc constraint rows, then the objective row. Columns: nr
	// structural variables, nc slacks, then the right-hand side.
	width := nr + nc + 1
	t := make([]float64, (nc+1)*width)
	row := func(i int) []float64 { return t[i*width : (i+1)*width] }
	basis := make([]int, nc)
	for c := 0; c < nc; c++ {
		tr := row(c)
		for r := 0; r < nr; r++ {
			tr[r] = m[r][c]
		}
		tr[nr+c] = 1
		tr[width-1] = 1
		basis[c] = nr + c
	}
	obj := row(nc)
	for r := 0; r < nr; r++ {
		obj[r] = -1
	}

	const eps = 1e-12
	maxPivots := 50 * (nr + nc + 10)
	degenerate := 0
	for pivots := 0; ; pivots++ {
		if pivots > maxPivots {
			return nil, nil, 0, errLPIterations
		}
		bland := degenerate > 20
		enter := -1
		best := -eps
		for j := 0; j < width-1; j++ {
			if obj[j] < best {
				enter = j
				if bland {
					break
				}
				best = obj[j]
			}
		}
		if enter < 0 {
			break
		}
		leave := -1
		var ratio float64
		for i := 0; i < nc; i++ {
			a := row(i)[enter]
			if a <= eps {
				continue
			}
			q := row(i)[width-1] / a
			if leave < 0 || q < ratio-eps || (q <= ratio+eps && basis[i] < basis[leave]) {
				leave, ratio = i, q
			}
		}
		if leave < 0 {
			return nil, nil, 0, errors.New("matrix game: unbounded program")
		}
		if ratio <= eps {
			degenerate++
		} else {
			degenerate = 0
		}
		pr := row(leave)
		inv := 1 / pr[enter]
		for j := range pr {
			pr[j] *= inv
		}
		pr[enter] = 1
		for i := 0; i <= nc; i++ {
			if i == leave {
				continue
			}
			ri := row(i)
			f := ri[enter]
			if f == 0 {
				continue
			}
			for j := range ri {
				ri[j] -= f * pr[j]
			}
			ri[enter] = 0
		}
		basis[leave] = enter
	}

	var su float64
	for i, b := range basis {
		if b < nr {
			v := math.Max(0, row(i)[width-1])
			x[b] = v
			su += v
		}
	}
	if su <= 0 {
		return nil, nil, 0, errors.New("matrix game: degenerate optimum")
	}
	var sw float64
	for c := 0; c < nc; c++ {
		w := math.Max(0, obj[nr+c])
		y[c] = w
		sw += w
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
