package monitor

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/convoi/convoi"
)

// FuzzRouteProject derives routes from arbitrary geometry (a stored
// RouteSummary is input: repeated points, zero-length pieces, points off the
// map) and projects arbitrary fixes: no panic, and every answer in range.
func FuzzRouteProject(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}, 120.0, int16(10), int16(-20))
	f.Add([]byte{5, 5, 5, 5, 5, 5, 5, 5}, 0.0, int16(0), int16(0))
	f.Add([]byte{255, 0, 255, 0, 0, 255, 0, 255, 128, 128, 1, 2, 3, 4, 5, 6}, -5.0, int16(300), int16(300))
	g := monaco(f)
	f.Fuzz(func(t *testing.T, geo []byte, durS float64, dx, dy int16) {
		var pts []convoi.LatLon
		for len(geo) >= 4 && len(pts) < 200 {
			a, b := binary.BigEndian.Uint16(geo), binary.BigEndian.Uint16(geo[2:])
			geo = geo[4:]
			// Around Monaco and up to ~20 km west (off the map).
			pts = append(pts, convoi.LatLon{Lat: 43.70 + float64(a)/65535*0.06, Lon: 7.25 + float64(b)/65535*0.2})
		}
		r, err := NewPlannedRoute(g, &convoi.RouteSummary{Geometry: pts, DurationS: durS}, 70)
		if len(pts) < 2 {
			if err == nil {
				t.Fatal("a route of fewer than two points was accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(r.DurationS) || r.DurationS < 0 || r.LengthM < 0 {
			t.Fatalf("length %v duration %v", r.LengthM, r.DurationS)
		}
		p := r.PointAt(r.LengthM / 2)
		fix := convoi.LatLon{Lat: p.Lat + float64(dy)/111000, Lon: p.Lon + float64(dx)/80000}
		d, a := r.Project(fix)
		if math.IsNaN(d) || d < 0 || a < 0 || a > r.LengthM+1e-6 {
			t.Fatalf("project: dist %v along %v of %v", d, a, r.LengthM)
		}
		if tt := r.TimeAt(a); math.IsNaN(tt) || tt < 0 || tt > r.DurationS+1e-6 {
			t.Fatalf("time at %v: %v of %v", a, tt, r.DurationS)
		}
	})
}
