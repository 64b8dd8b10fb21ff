package roadnet

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/convoi/convoi"
)

// snapReference is the snapping of the first version, with its uniform grid
// replaced by a scan of every segment: the exact nearest segment by the
// same formula, ties to the lowest index, the road fraction summed point by
// point. Snap must answer exactly what it answers.
func snapReference(g *Graph, p convoi.LatLon) (RoadPoint, error) {
	if err := p.Validate(); err != nil {
		return RoadPoint{}, err
	}
	kx := math.Cos(p.Lat*math.Pi/180) * 111319.49
	const ky = 111319.49
	best, bestSeg, bestT := math.Inf(1), uint32(0), 0.0
	for r := 0; r+1 < len(g.roadFirst); r++ {
		for i := g.roadFirst[r]; i+1 < g.roadFirst[r+1]; i++ {
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
	if best > MaxSnapM {
		return RoadPoint{}, convoi.Errorf(convoi.ENOTFOUND, "no road")
	}
	r := sort.Search(len(g.roadFirst)-1, func(r int) bool { return g.roadFirst[r+1] > bestSeg })
	a, b := g.point(int(bestSeg)), g.point(int(bestSeg)+1)
	on := convoi.LatLon{Lat: a.Lat + bestT*(b.Lat-a.Lat), Lon: a.Lon + bestT*(b.Lon-a.Lon)}
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

// TestSnapMatchesReference: the grid answers exactly what a scan of every
// segment answers, for random points in and around the network (up to 8 km
// out, beyond MaxSnapM), for every shape point (ties between the segments
// meeting there) and for segment midpoints.
func TestSnapMatchesReference(t *testing.T) {
	for name, g := range map[string]*Graph{"monaco": MustMonaco(t), "rouen": mustRouen(t)} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			b := g.Bounds()
			const out = 0.08 // degrees beyond the box
			var pts []convoi.LatLon
			for range 3000 {
				pts = append(pts, convoi.LatLon{
					Lat: b.MinLat - out + rng.Float64()*(b.MaxLat-b.MinLat+2*out),
					Lon: b.MinLon - out + rng.Float64()*(b.MaxLon-b.MinLon+2*out)})
			}
			for i := 0; i+1 < len(g.ptLat); i += 7 {
				a, c := g.point(i), g.point(i+1)
				pts = append(pts, a, convoi.LatLon{Lat: (a.Lat + c.Lat) / 2, Lon: (a.Lon + c.Lon) / 2})
			}
			found := 0
			for _, p := range pts {
				got, err := g.Snap(p)
				want, werr := snapReference(g, p)
				if (err == nil) != (werr == nil) || got != want {
					t.Fatalf("Snap(%v) = %+v, %v; the full scan %+v, %v", p, got, err, want, werr)
				}
				if err == nil {
					found++
				}
			}
			if found < len(pts)/4 || found == len(pts) {
				t.Fatalf("%d of %d points snapped: the far points did not test the MaxSnapM bound", found, len(pts))
			}
		})
	}
}
