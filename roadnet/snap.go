package roadnet

import (
	"math"
	"sort"

	"github.com/convoi/convoi"
)

// Position is a place on the road network: a point along an edge, or a node.
type Position struct {
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

// NodePosition returns the position of node n.
func (g *Graph) NodePosition(n NodeID) (Position, error) {
	if int(n) >= len(g.lat) {
		return Position{}, convoi.Errorf(convoi.EINVALID, "Node %d does not exist (the graph has %d nodes).", n, len(g.lat))
	}
	return Position{Edge: NoEdge, Node: n, LatLon: g.NodeLatLon(n)}, nil
}

// MaxSnapM is how far from any road Snap still finds one.
const MaxSnapM = 5000

// grid is a uniform grid of road segments for nearest-road queries.
type grid struct {
	minLat, minLon float64
	cell           float64 // degrees
	rows, cols     int
	first          []uint32 // per cell into seg
	seg            []uint32 // point index i: segment i -> i+1
}

func (g *Graph) buildIndex() {
	ix := &g.index
	b := g.Bounds()
	ix.cell = 0.005
	ix.minLat, ix.minLon = b.MinLat, b.MinLon
	ix.rows = int((b.MaxLat-b.MinLat)/ix.cell) + 1
	ix.cols = int((b.MaxLon-b.MinLon)/ix.cell) + 1
	for ix.rows*ix.cols > 1<<22 {
		ix.cell *= 2
		ix.rows = int((b.MaxLat-b.MinLat)/ix.cell) + 1
		ix.cols = int((b.MaxLon-b.MinLon)/ix.cell) + 1
	}
	count := make([]uint32, ix.rows*ix.cols+1)
	each := func(fn func(c int, i uint32)) {
		for r := 0; r+1 < len(g.roadFirst); r++ {
			for i := g.roadFirst[r]; i+1 < g.roadFirst[r+1]; i++ {
				r0, c0 := ix.cellOf(g.ptLat[i], g.ptLon[i])
				r1, c1 := ix.cellOf(g.ptLat[i+1], g.ptLon[i+1])
				if r0 > r1 {
					r0, r1 = r1, r0
				}
				if c0 > c1 {
					c0, c1 = c1, c0
				}
				for y := r0; y <= r1; y++ {
					for x := c0; x <= c1; x++ {
						fn(y*ix.cols+x, i)
					}
				}
			}
		}
	}
	each(func(c int, i uint32) { count[c+1]++ })
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	ix.first = count
	ix.seg = make([]uint32, count[len(count)-1])
	fill := append([]uint32(nil), count[:len(count)-1]...)
	each(func(c int, i uint32) {
		ix.seg[fill[c]] = i
		fill[c]++
	})
}

func (ix *grid) cellOf(lat, lon int32) (int, int) {
	r := int((float64(lat)/1e7 - ix.minLat) / ix.cell)
	c := int((float64(lon)/1e7 - ix.minLon) / ix.cell)
	return min(max(r, 0), ix.rows-1), min(max(c, 0), ix.cols-1)
}

// Snap returns the road position nearest to p. It is an EINVALID error when
// p is not a valid coordinate and ENOTFOUND when no road lies within
// MaxSnapM metres.
func (g *Graph) Snap(p convoi.LatLon) (Position, error) {
	if err := p.Validate(); err != nil {
		return Position{}, err
	}
	ix := &g.index
	if ix.rows == 0 {
		return Position{}, convoi.Errorf(convoi.ENOTFOUND, "The graph has no roads.")
	}
	kx := math.Cos(p.Lat*math.Pi/180) * 111319.49 // metres per degree of longitude
	const ky = 111319.49
	cellM := ix.cell * ky * math.Min(1, math.Cos(p.Lat*math.Pi/180))
	r0 := int(math.Floor((p.Lat - ix.minLat) / ix.cell))
	c0 := int(math.Floor((p.Lon - ix.minLon) / ix.cell))
	best, bestSeg, bestT := math.Inf(1), uint32(0), 0.0
	maxRing := int(MaxSnapM/cellM) + 2
	for ring := 0; ring <= maxRing; ring++ {
		if float64(ring-1)*cellM > best {
			break
		}
		for y := r0 - ring; y <= r0+ring; y++ {
			if y < 0 || y >= ix.rows {
				continue
			}
			for x := c0 - ring; x <= c0+ring; x++ {
				if x < 0 || x >= ix.cols || (y != r0-ring && y != r0+ring && x != c0-ring && x != c0+ring) {
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
					if d := math.Hypot(px, py); d < best || d == best && i < bestSeg {
						best, bestSeg, bestT = d, i, t
					}
				}
			}
		}
	}
	if best > MaxSnapM {
		return Position{}, convoi.Errorf(convoi.ENOTFOUND, "No road within %d m of %.6f,%.6f.", MaxSnapM, p.Lat, p.Lon)
	}
	r := sort.Search(len(g.roadFirst)-1, func(r int) bool { return g.roadFirst[r+1] > bestSeg })
	a, b := g.point(int(bestSeg)), g.point(int(bestSeg)+1)
	on := convoi.LatLon{Lat: a.Lat + bestT*(b.Lat-a.Lat), Lon: a.Lon + bestT*(b.Lon-a.Lon)}
	// Fraction of the road, by distance, up to the snapped point.
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
	pos := Position{LatLon: on, DistanceM: p.DistanceM(on)}
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

// validPosition checks a caller-supplied position.
func (g *Graph) validPosition(p Position) error {
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
func (g *Graph) sourceSeeds(dst []seed, p Position) []seed {
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
func (g *Graph) targetSeeds(dst []seed, p Position) []seed {
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
func (g *Graph) direct(s, t Position) (cost int64, e uint32, fs, ft float64) {
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
