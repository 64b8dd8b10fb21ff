package response

import (
	"math"
	"sort"

	"github.com/convoi/convoi"
)

// Polygon outlines: the reached road geometry is drawn on a grid of square
// cells (CellM metres) around the attack point, each cell a road passes
// through filled together with its 8 neighbours (so the area reaches about
// one cell either side of a road), enclosed gaps filled (a block between
// reached roads is reachable on foot from them), and the outline of each
// connected group of cells traced as a ring. It is a concave hull at the
// scale of the cell: unlike the convex hull it follows valleys and coasts
// without reaching over the sea or unreached hills.

// grid is a set of cells in a local metric frame around an origin.
type grid struct {
	origin     convoi.LatLon
	cell       float64 // metres
	mPerDegLat float64
	mPerDegLon float64
	cells      map[[2]int]bool
}

func newGrid(origin convoi.LatLon, cellM float64) *grid {
	const mPerDeg = 6371008.8 * math.Pi / 180
	return &grid{
		origin: origin, cell: cellM, cells: map[[2]int]bool{},
		mPerDegLat: mPerDeg, mPerDegLon: mPerDeg * math.Cos(origin.Lat*math.Pi/180),
	}
}

func (g *grid) xy(p convoi.LatLon) (float64, float64) {
	return (p.Lon - g.origin.Lon) * g.mPerDegLon, (p.Lat - g.origin.Lat) * g.mPerDegLat
}

func (g *grid) latLon(x, y float64) convoi.LatLon {
	return convoi.LatLon{Lat: round7(g.origin.Lat + y/g.mPerDegLat), Lon: round7(g.origin.Lon + x/g.mPerDegLon)}
}

func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }

func (g *grid) cellOf(p convoi.LatLon) [2]int {
	x, y := g.xy(p)
	return [2]int{int(math.Floor(x / g.cell)), int(math.Floor(y / g.cell))}
}

// addLine marks the cells along the polyline, sampled at a third of a cell.
func (g *grid) addLine(pts []convoi.LatLon) {
	for i := range pts {
		g.cells[g.cellOf(pts[i])] = true
		if i == 0 {
			continue
		}
		d := pts[i-1].DistanceM(pts[i])
		n := int(d / (g.cell / 3))
		for k := 1; k < n; k++ {
			f := float64(k) / float64(n)
			g.cells[g.cellOf(convoi.LatLon{
				Lat: pts[i-1].Lat + f*(pts[i].Lat-pts[i-1].Lat),
				Lon: pts[i-1].Lon + f*(pts[i].Lon-pts[i-1].Lon),
			})] = true
		}
	}
}

// outline dilates the cells by one, fills enclosed gaps and returns the
// outer rings, counter-clockwise, closed (first point repeated), largest
// first.
func (g *grid) outline() [][]convoi.LatLon {
	if len(g.cells) == 0 {
		return nil
	}
	filled := map[[2]int]bool{}
	for c := range g.cells {
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				filled[[2]int{c[0] + dx, c[1] + dy}] = true
			}
		}
	}
	minX, minY, maxX, maxY := math.MaxInt, math.MaxInt, math.MinInt, math.MinInt
	for c := range filled {
		minX, minY = min(minX, c[0]), min(minY, c[1])
		maxX, maxY = max(maxX, c[0]), max(maxY, c[1])
	}
	// Flood the empty cells from outside the box; empty cells not reached
	// are enclosed gaps.
	minX, minY, maxX, maxY = minX-1, minY-1, maxX+1, maxY+1
	w, h := maxX-minX+1, maxY-minY+1
	outside := make([]bool, w*h)
	stack := [][2]int{{minX, minY}}
	outside[0] = true
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
			n := [2]int{c[0] + d[0], c[1] + d[1]}
			if n[0] < minX || n[0] > maxX || n[1] < minY || n[1] > maxY || filled[n] {
				continue
			}
			i := (n[1]-minY)*w + n[0] - minX
			if !outside[i] {
				outside[i] = true
				stack = append(stack, n)
			}
		}
	}
	in := func(x, y int) bool {
		if x < minX || x > maxX || y < minY || y > maxY {
			return false
		}
		return !outside[(y-minY)*w+x-minX]
	}
	// Directed boundary edges, interior on the left (counter-clockwise
	// around filled cells), keyed by their start vertex.
	type vtx = [2]int
	next := map[vtx][]vtx{}
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			if !in(x, y) {
				continue
			}
			if !in(x, y-1) { // bottom, eastwards
				next[vtx{x, y}] = append(next[vtx{x, y}], vtx{x + 1, y})
			}
			if !in(x+1, y) { // right, northwards
				next[vtx{x + 1, y}] = append(next[vtx{x + 1, y}], vtx{x + 1, y + 1})
			}
			if !in(x, y+1) { // top, westwards
				next[vtx{x + 1, y + 1}] = append(next[vtx{x + 1, y + 1}], vtx{x, y + 1})
			}
			if !in(x-1, y) { // left, southwards
				next[vtx{x, y + 1}] = append(next[vtx{x, y + 1}], vtx{x, y})
			}
		}
	}
	starts := make([]vtx, 0, len(next))
	for v := range next {
		starts = append(starts, v)
	}
	sort.Slice(starts, func(i, j int) bool {
		if starts[i][1] != starts[j][1] {
			return starts[i][1] < starts[j][1]
		}
		return starts[i][0] < starts[j][0]
	})
	type ring struct {
		pts  []convoi.LatLon
		area float64
	}
	var rings []ring
	for _, s := range starts {
		for len(next[s]) > 0 {
			var vs []vtx
			prev, cur := s, s
			for {
				outs := next[cur]
				if len(outs) == 0 {
					break // cannot happen on a closed boundary
				}
				k := 0
				if len(outs) > 1 && cur != prev {
					// At a vertex shared by two diagonal cells, turn left:
					// the two cells stay separate rings.
					dx, dy := cur[0]-prev[0], cur[1]-prev[1]
					for i, o := range outs {
						if ox, oy := o[0]-cur[0], o[1]-cur[1]; ox == -dy && oy == dx {
							k = i
						}
					}
				}
				nx := outs[k]
				next[cur] = append(outs[:k:k], outs[k+1:]...)
				vs = append(vs, cur)
				prev, cur = cur, nx
				if cur == s && len(vs) > 1 {
					break
				}
			}
			vs = simplify(vs)
			if len(vs) < 3 {
				continue
			}
			// The staircase of cell edges, smoothed: Douglas-Peucker with
			// a tolerance of half a cell (the area still reaches half a
			// cell beyond every road).
			fs := make([][2]float64, len(vs))
			for i, v := range vs {
				fs[i] = [2]float64{float64(v[0]), float64(v[1])}
			}
			fs = douglasPeuckerRing(fs, 0.5)
			pts := make([]convoi.LatLon, 0, len(fs)+1)
			a := 0.0
			for i, v := range fs {
				u := fs[(i+1)%len(fs)]
				a += v[0]*u[1] - u[0]*v[1]
				pts = append(pts, g.latLon(v[0]*g.cell, v[1]*g.cell))
			}
			pts = append(pts, pts[0])
			rings = append(rings, ring{pts, a / 2 * g.cell * g.cell})
		}
	}
	sort.SliceStable(rings, func(i, j int) bool { return rings[i].area > rings[j].area })
	out := make([][]convoi.LatLon, 0, len(rings))
	for _, r := range rings {
		if r.area > 0 { // holes cannot occur (gaps are filled); keep outer rings
			out = append(out, r.pts)
		}
	}
	return out
}

// simplify drops the vertices where the outline goes straight on.
func simplify(vs []vtx2) []vtx2 {
	n := len(vs)
	out := make([]vtx2, 0, n)
	for i, v := range vs {
		p, q := vs[(i+n-1)%n], vs[(i+1)%n]
		if (v[0]-p[0])*(q[1]-v[1])-(v[1]-p[1])*(q[0]-v[0]) != 0 {
			out = append(out, v)
		}
	}
	return out
}

type vtx2 = [2]int

// ringAreaM2 returns the area of a closed lat/lon ring in square metres
// (equirectangular around its first point; exact enough at city scale).
func ringAreaM2(ring []convoi.LatLon) float64 {
	if len(ring) < 4 {
		return 0
	}
	g := newGrid(ring[0], 1)
	a := 0.0
	for i := 0; i+1 < len(ring); i++ {
		x1, y1 := g.xy(ring[i])
		x2, y2 := g.xy(ring[i+1])
		a += x1*y2 - x2*y1
	}
	return math.Abs(a) / 2
}

// pointInRing reports whether p lies inside the closed ring (even-odd rule).
func pointInRing(p convoi.LatLon, ring []convoi.LatLon) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		a, b := ring[i], ring[j]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) &&
			p.Lon < (b.Lon-a.Lon)*(p.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lon {
			in = !in
		}
	}
	return in
}

// douglasPeuckerRing simplifies a closed ring (first point not repeated)
// within tol: it splits the ring at its first vertex and the vertex
// farthest from it and simplifies both halves. Rings of four points or
// fewer are kept.
func douglasPeuckerRing(ring [][2]float64, tol float64) [][2]float64 {
	n := len(ring)
	if n <= 4 {
		return ring
	}
	far, fd := 0, -1.0
	for i, p := range ring {
		if d := (p[0]-ring[0][0])*(p[0]-ring[0][0]) + (p[1]-ring[0][1])*(p[1]-ring[0][1]); d > fd {
			far, fd = i, d
		}
	}
	keep := make([]bool, n)
	keep[0], keep[far] = true, true
	closed := append(ring[:n:n], ring[0])
	dp(closed, 0, far, tol, keep)
	dp(closed, far, n, tol, keep)
	out := make([][2]float64, 0, n)
	for i, k := range keep {
		if k {
			out = append(out, ring[i])
		}
	}
	if len(out) < 3 {
		return ring
	}
	return out
}

// dp marks the points of pts[a..b] to keep (a and b are kept).
func dp(pts [][2]float64, a, b int, tol float64, keep []bool) {
	if b-a < 2 {
		return
	}
	ax, ay, bx, by := pts[a][0], pts[a][1], pts[b][0], pts[b][1]
	dx, dy := bx-ax, by-ay
	l := math.Hypot(dx, dy)
	best, bd := -1, tol
	for i := a + 1; i < b; i++ {
		var d float64
		if l == 0 {
			d = math.Hypot(pts[i][0]-ax, pts[i][1]-ay)
		} else {
			d = math.Abs(dx*(pts[i][1]-ay)-dy*(pts[i][0]-ax)) / l
		}
		if d > bd {
			best, bd = i, d
		}
	}
	if best < 0 {
		return
	}
	keep[best%len(keep)] = true
	dp(pts, a, best, tol, keep)
	dp(pts, best, b, tol, keep)
}
