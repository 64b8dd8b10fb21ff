package roadnet

import (
	"math"
	"slices"
	"sort"

	"github.com/convoi/convoi"
)

// RoadPoint is a place on the road network: a point along an edge, or a
// node: where a GPS fix (convoi.Position) or an address lands once snapped
// to the road.
type RoadPoint struct {
	// Edge is the edge the position lies on, or NoEdge for a node.
	Edge EdgeID `json:"edge"`
	// Node is the node when Edge is NoEdge.
	Node NodeID `json:"node"`
	// Fraction is how far along Edge (by distance, in travel direction) the
	// position lies, in [0, 1].
	Fraction float64 `json:"fraction"`
	// LatLon is the position on the road.
	LatLon convoi.LatLon `json:"location"`
	// DistanceM is the distance from the snapped query point to LatLon.
	DistanceM float64 `json:"distance_m"`
}

// NodePoint returns the position of node n.
func (g *Graph) NodePoint(n NodeID) (RoadPoint, error) {
	if int(n) >= len(g.lat) {
		return RoadPoint{}, convoi.Errorf(convoi.EINVALID, "Node %d does not exist (the graph has %d nodes).", n, len(g.lat))
	}
	return RoadPoint{Edge: NoEdge, Node: n, LatLon: g.NodeLatLon(n)}, nil
}

// MaxSnapM is how far from any road Snap still finds one.
const MaxSnapM = 5000

// grid is a uniform grid of road segments for nearest-road queries, its
// cell sized to the network (about two segments per cell, 55-550 m), with
// each segment registered in the cells it crosses (not its bounding box, so
// that a long motorway segment does not fill hundreds of cells).
type grid struct {
	minLat, minLon float64
	cell           float64 // degrees
	rows, cols     int
	first          []uint32 // per cell into seg
	seg            []uint32 // point index i: segment i -> i+1
}

// Cell sizes of the grid, in degrees.
const (
	minGridCell = 0.0005
	maxGridCell = 0.005
)

func (g *Graph) buildIndex() {
	ix := &g.index
	b := g.Bounds()
	nseg := len(g.ptLat) - max(len(g.roadFirst)-1, 0)
	ix.cell = maxGridCell
	if nseg > 0 {
		ix.cell = math.Sqrt((b.MaxLat - b.MinLat) * (b.MaxLon - b.MinLon) / float64(2*nseg))
		if !(ix.cell >= minGridCell) {
			ix.cell = minGridCell
		}
		ix.cell = math.Min(ix.cell, maxGridCell)
	}
	ix.minLat, ix.minLon = b.MinLat, b.MinLon
	ix.rows = int((b.MaxLat-b.MinLat)/ix.cell) + 1
	ix.cols = int((b.MaxLon-b.MinLon)/ix.cell) + 1
	for ix.rows*ix.cols > 1<<22 {
		ix.cell *= 2
		ix.rows = int((b.MaxLat-b.MinLat)/ix.cell) + 1
		ix.cols = int((b.MaxLon-b.MinLon)/ix.cell) + 1
	}
	// One pass over the segments collects (cell, segment) pairs, a
	// counting sort by cell files them.
	var pairs []uint64 // cell << 32 | segment
	var cells []int
	for r := 0; r+1 < len(g.roadFirst); r++ {
		for i := g.roadFirst[r]; i+1 < g.roadFirst[r+1]; i++ {
			cells = ix.segmentCells(cells[:0], g.point(int(i)), g.point(int(i)+1))
			for _, c := range cells {
				pairs = append(pairs, uint64(c)<<32|uint64(i))
			}
		}
	}
	count := make([]uint32, ix.rows*ix.cols+1)
	for _, p := range pairs {
		count[p>>32+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	ix.first = count
	ix.seg = make([]uint32, len(pairs))
	fill := append([]uint32(nil), count[:len(count)-1]...)
	for _, p := range pairs {
		c := p >> 32
		ix.seg[fill[c]] = uint32(p)
		fill[c]++
	}
}

// segmentCells appends the cells the segment a-b crosses, each once: the
// segment is cut into pieces no longer than a cell, and each piece
// registered in the cells of its box, widened by 1e-9 degrees (0.1 mm) so
// that rounding never leaves out a cell the segment touches.
func (ix *grid) segmentCells(dst []int, a, b convoi.LatLon) []int {
	const eps = 1e-9
	r0, c0 := ix.cellOf(math.Min(a.Lat, b.Lat)-eps, math.Min(a.Lon, b.Lon)-eps)
	r1, c1 := ix.cellOf(math.Max(a.Lat, b.Lat)+eps, math.Max(a.Lon, b.Lon)+eps)
	if r1-r0 <= 1 && c1-c0 <= 1 { // within a 2x2 block (most segments): its box, sorted
		for y := r0; y <= r1; y++ {
			for x := c0; x <= c1; x++ {
				dst = append(dst, y*ix.cols+x)
			}
		}
		return dst
	}
	n := int(math.Max(math.Abs(b.Lat-a.Lat), math.Abs(b.Lon-a.Lon))/ix.cell) + 1
	for k := 0; k < n; k++ {
		t0, t1 := float64(k)/float64(n), float64(k+1)/float64(n)
		lat0, lat1 := a.Lat+t0*(b.Lat-a.Lat), a.Lat+t1*(b.Lat-a.Lat)
		lon0, lon1 := a.Lon+t0*(b.Lon-a.Lon), a.Lon+t1*(b.Lon-a.Lon)
		r0, c0 := ix.cellOf(math.Min(lat0, lat1)-eps, math.Min(lon0, lon1)-eps)
		r1, c1 := ix.cellOf(math.Max(lat0, lat1)+eps, math.Max(lon0, lon1)+eps)
		for y := r0; y <= r1; y++ {
			for x := c0; x <= c1; x++ {
				dst = append(dst, y*ix.cols+x)
			}
		}
	}
	if len(dst) > 1 {
		slices.Sort(dst)
		dst = slices.Compact(dst)
	}
	return dst
}

// cellOf returns the cell of a position, clamped to the grid.
func (ix *grid) cellOf(lat, lon float64) (int, int) {
	r := int(math.Floor((lat - ix.minLat) / ix.cell))
	c := int(math.Floor((lon - ix.minLon) / ix.cell))
	return min(max(r, 0), ix.rows-1), min(max(c, 0), ix.cols-1)
}

// Snap returns the road position nearest to p: the exact nearest segment
// (ties to the lowest segment index) by planar distance on a local
// equirectangular projection. It is an EINVALID error when p is not a
// valid coordinate and ENOTFOUND when no road lies within MaxSnapM metres.
//
// It scans the grid in rings around p's cell and stops once no unscanned
// cell can hold a segment nearer than the best so far.
func (g *Graph) Snap(p convoi.LatLon) (RoadPoint, error) { return g.snap(p, 0) }

// snap is Snap among the roads that serve need (0: all roads).
func (g *Graph) snap(p convoi.LatLon, need uint8) (RoadPoint, error) {
	if err := p.Validate(); err != nil {
		return RoadPoint{}, err
	}
	ix := &g.index
	if ix.rows == 0 {
		return RoadPoint{}, convoi.Errorf(convoi.ENOTFOUND, "The graph has no roads.")
	}
	kx := math.Cos(p.Lat*math.Pi/180) * 111319.49 // metres per degree of longitude
	const ky = 111319.49
	cellM := ix.cell * ky * math.Min(1, math.Cos(p.Lat*math.Pi/180))
	r0 := int(math.Floor((p.Lat - ix.minLat) / ix.cell))
	c0 := int(math.Floor((p.Lon - ix.minLon) / ix.cell))
	best, bestSeg, bestT := math.Inf(1), uint32(0), 0.0
	best2 := math.Inf(1) // best squared, widened: nothing farther can beat or tie best
	maxRing := int(MaxSnapM/cellM) + 2
	for ring := 0; ring <= maxRing; ring++ {
		if float64(ring-1)*cellM > best {
			break
		}
		for y := max(r0-ring, 0); y <= min(r0+ring, ix.rows-1); y++ {
			edge := y == r0-ring || y == r0+ring
			for x := max(c0-ring, 0); x <= min(c0+ring, ix.cols-1); x++ {
				if !edge && x != c0-ring && x != c0+ring {
					if x < c0+ring {
						x = c0 + ring - 1 // jump to the ring's right column
					}
					continue
				}
				c := y*ix.cols + x
				for _, i := range ix.seg[ix.first[c]:ix.first[c+1]] {
					ax, ay := (float64(g.ptLon[i])/1e7-p.Lon)*kx, (float64(g.ptLat[i])/1e7-p.Lat)*ky
					bx, by := (float64(g.ptLon[i+1])/1e7-p.Lon)*kx, (float64(g.ptLat[i+1])/1e7-p.Lat)*ky
					dx, dy := bx-ax, by-ay
					t := 0.0
					if l := dx*dx + dy*dy; l > 0 {
						t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
					}
					px, py := ax+t*dx, ay+t*dy
					if px*px+py*py > best2 {
						continue
					}
					if d := math.Hypot(px, py); (d < best || d == best && i < bestSeg) && g.usable(i, need) {
						best, bestSeg, bestT = d, i, t
						best2 = d * d * (1 + 1e-9)
					}
				}
			}
		}
	}
	if best > MaxSnapM {
		return RoadPoint{}, convoi.Errorf(convoi.ENOTFOUND, "No road within %d m of %.6f,%.6f.", MaxSnapM, p.Lat, p.Lon)
	}
	r := sort.Search(len(g.roadFirst)-1, func(r int) bool { return g.roadFirst[r+1] > bestSeg })
	a, b := g.point(int(bestSeg)), g.point(int(bestSeg)+1)
	on := convoi.LatLon{Lat: a.Lat + bestT*(b.Lat-a.Lat), Lon: a.Lon + bestT*(b.Lon-a.Lon)}
	// Fraction of the road, by distance, up to the snapped point (a road
	// runs between two junctions: a few points).
	var before, total float64
	for i := int(g.roadFirst[r]); i+1 < int(g.roadFirst[r+1]); i++ {
		d := g.point(i).DistanceM(g.point(i + 1))
		if uint32(i) < bestSeg {
			before += d
		} else if uint32(i) == bestSeg {
			before += d * bestT
		}
		total += d
	}
	f := 0.0
	if total > 0 {
		f = math.Min(1, before/total)
	}
	pos := RoadPoint{LatLon: on, DistanceM: p.DistanceM(on)}
	if e := g.roadEdge[r<<1]; e != math.MaxUint32 {
		pos.Edge, pos.Fraction = EdgeID(e), f
	} else {
		pos.Edge, pos.Fraction = EdgeID(g.roadEdge[r<<1|1]), 1-f
	}
	pos.Node = NodeID(g.tail[pos.Edge])
	return pos, nil
}

// edgeOffset returns the cost from the start of e to fraction f of it.
func (g *Graph) edgeOffset(e uint32, f float64) int64 {
	return int64(math.Round(f * float64(g.weight[e])))
}

// validRoadPoint checks a caller-supplied position.
func (g *Graph) validRoadPoint(p RoadPoint) error {
	if p.Edge == NoEdge {
		if int(p.Node) >= len(g.lat) {
			return convoi.Errorf(convoi.EINVALID, "Node %d does not exist.", p.Node)
		}
		return nil
	}
	if int(p.Edge) >= len(g.head) || !(p.Fraction >= 0 && p.Fraction <= 1) {
		return convoi.Errorf(convoi.EINVALID, "Invalid road position (edge %d, fraction %v).", p.Edge, p.Fraction)
	}
	return nil
}

// sourceSeeds returns where a search from p starts.
func (g *Graph) sourceSeeds(dst []seed, p RoadPoint) []seed {
	if p.Edge == NoEdge {
		return append(dst, seed{uint32(p.Node), 0})
	}
	e := uint32(p.Edge)
	dst = append(dst, seed{g.head[e], int64(g.weight[e]) - g.edgeOffset(e, p.Fraction)})
	if t := g.twin[e]; t != math.MaxUint32 {
		dst = append(dst, seed{g.head[t], int64(g.weight[t]) - g.edgeOffset(t, 1-p.Fraction)})
	}
	return dst
}

// targetSeeds returns where a search towards p ends, with the cost still to
// spend from each node.
func (g *Graph) targetSeeds(dst []seed, p RoadPoint) []seed {
	if p.Edge == NoEdge {
		return append(dst, seed{uint32(p.Node), 0})
	}
	e := uint32(p.Edge)
	dst = append(dst, seed{g.tail[e], g.edgeOffset(e, p.Fraction)})
	if t := g.twin[e]; t != math.MaxUint32 {
		dst = append(dst, seed{g.tail[t], g.edgeOffset(t, 1-p.Fraction)})
	}
	return dst
}

// direct returns the cheapest way from s to t along one edge without
// passing a node: the cost, the edge and the fractions along it.
func (g *Graph) direct(s, t RoadPoint) (cost int64, e uint32, fs, ft float64) {
	cost = Infinity
	if s.Edge == NoEdge || t.Edge == NoEdge {
		return
	}
	for _, d := range [2]uint32{uint32(s.Edge), g.twin[s.Edge]} {
		if d == math.MaxUint32 {
			continue
		}
		a := s.Fraction
		if d != uint32(s.Edge) {
			a = 1 - a
		}
		var b float64
		switch {
		case uint32(t.Edge) == d:
			b = t.Fraction
		case g.twin[t.Edge] == d:
			b = 1 - t.Fraction
		default:
			continue
		}
		if b < a {
			continue
		}
		if c := g.edgeOffset(d, b) - g.edgeOffset(d, a); c < cost {
			cost, e, fs, ft = c, d, a, b
		}
	}
	return
}
