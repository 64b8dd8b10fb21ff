package roadnet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/convoi/convoi"
)

// TestSnapNearestSegment checks Snap against a brute-force nearest road
// segment over every road of the graph, for random points on each bundled
// extract: half uniform in the graph's box (sea and mountains included, so
// some lie beyond MaxSnapM), half within a few hundred metres of a random
// node, where the nearest road is often just across a cell boundary of
// whatever spatial index Snap uses. It uses the public API only (edge
// geometry), so that it holds for any index.
//
// Distances are compared in the local equirectangular projection centred
// on the query point, with a tolerance of 5 cm plus 1e-4 of the distance
// for an index that measures slightly differently.
func TestSnapNearestSegment(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    func(t *testing.T) *Graph
		n    int
	}{
		{"monaco", func(t *testing.T) *Graph { return MustMonaco(t) }, 300},
		{"andorra", func(t *testing.T) *Graph { return MustImportFile(t, "../testdata/osm/andorra.osm.pbf") }, 100},
		{"liechtenstein", func(t *testing.T) *Graph { return MustImportFile(t, "../testdata/osm/liechtenstein.osm.pbf") }, 100},
		{"malta", func(t *testing.T) *Graph { return MustImportFile(t, "../testdata/osm/malta.osm.pbf") }, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g(t)
			segs := roadSegments(g)
			rng := rand.New(rand.NewPCG(16, uint64(len(segs))))
			b := g.Bounds()
			for i := range tc.n {
				var p convoi.LatLon
				if i%2 == 0 {
					p = convoi.LatLon{Lat: b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon)}
				} else {
					n := g.NodeLatLon(NodeID(rng.IntN(g.NumNodes())))
					p = convoi.LatLon{Lat: n.Lat + (rng.Float64()-0.5)*0.006, Lon: n.Lon + (rng.Float64()-0.5)*0.008}
				}
				checkSnap(t, g, segs, p)
			}
		})
	}
}

// segment is one straight piece of a road, on edge e (in e's direction).
type segment struct {
	a, b convoi.LatLon
	e    EdgeID
}

// roadSegments lists the segments of every road once (one edge per road:
// an edge and its twin share the polyline).
func roadSegments(g *Graph) []segment {
	var out []segment
	var pts []convoi.LatLon
	for e := EdgeID(0); int(e) < g.NumEdges(); e++ {
		if tw := g.Edge(e).Twin; tw != NoEdge && tw < e {
			continue
		}
		pts = g.EdgeGeometry(pts[:0], e)
		for i := 1; i < len(pts); i++ {
			out = append(out, segment{pts[i-1], pts[i], e})
		}
	}
	return out
}

// localDist returns the distance in metres from p to the segment a-b, in the
// equirectangular projection centred on p, and the parameter of the closest
// point along a-b.
func localDist(p, a, b convoi.LatLon) (d, t float64) {
	const ky = 111319.49
	kx := math.Cos(p.Lat*math.Pi/180) * ky
	ax, ay := (a.Lon-p.Lon)*kx, (a.Lat-p.Lat)*ky
	bx, by := (b.Lon-p.Lon)*kx, (b.Lat-p.Lat)*ky
	dx, dy := bx-ax, by-ay
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
	}
	return math.Hypot(ax+t*dx, ay+t*dy), t
}

func checkSnap(t *testing.T, g *Graph, segs []segment, p convoi.LatLon) {
	t.Helper()
	best, bestSeg := math.Inf(1), -1
	for i, s := range segs {
		if d, _ := localDist(p, s.a, s.b); d < best {
			best, bestSeg = d, i
		}
	}
	tol := 0.05 + 1e-4*best
	pos, err := g.Snap(p)
	if best > MaxSnapM+tol {
		if convoi.ErrorCode(err) != convoi.ENOTFOUND {
			t.Fatalf("Snap(%v): nearest road %.1f m away, beyond MaxSnapM, got %+v, %v, want ENOTFOUND", p, best, pos, err)
		}
		return
	}
	if err != nil {
		if best > MaxSnapM-tol && convoi.ErrorCode(err) == convoi.ENOTFOUND {
			return // at the limit: either answer is right
		}
		t.Fatalf("Snap(%v): %v, nearest road %.1f m away (edge %d)", p, err, best, segs[bestSeg].e)
	}
	got, _ := localDist(p, pos.LatLon, pos.LatLon)
	if got > best+tol {
		s := segs[bestSeg]
		t.Fatalf("Snap(%v) = edge %d at %v, %.3f m away; edge %d (way %d) passes %.3f m away",
			p, pos.Edge, pos.LatLon, got, s.e, g.Edge(s.e).WayID, best)
	}
	if math.Abs(pos.DistanceM-p.DistanceM(pos.LatLon)) > 0.01 {
		t.Fatalf("Snap(%v).DistanceM = %.3f, the point is %.3f m away", p, pos.DistanceM, p.DistanceM(pos.LatLon))
	}
	// The point lies on pos.Edge, Fraction of its length from its start.
	if pos.Edge == NoEdge || int(pos.Edge) >= g.NumEdges() {
		t.Fatalf("Snap(%v) = %+v: not on an edge", p, pos)
	}
	pts := g.EdgeGeometry(nil, pos.Edge)
	on, before, total := math.Inf(1), 0.0, 0.0
	for i := 1; i < len(pts); i++ {
		l := pts[i-1].DistanceM(pts[i])
		if d, u := localDist(pos.LatLon, pts[i-1], pts[i]); d < on {
			on, before = d, total+u*l
		}
		total += l
	}
	if on > 0.05 {
		t.Fatalf("Snap(%v) = %v, %.3f m off its edge %d", p, pos.LatLon, on, pos.Edge)
	}
	if math.Abs(pos.Fraction*total-before) > 0.5 {
		t.Fatalf("Snap(%v) on edge %d: fraction %.4f (%.1f m of %.1f), the point is %.1f m along",
			p, pos.Edge, pos.Fraction, pos.Fraction*total, total, before)
	}
}
