package roadnet

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/convoi/convoi"
)

// TestServiceFindRoutesParts: each part the query asks for is exactly what
// the full route has; a part not asked for is absent; the figures never
// change with the parts.
func TestServiceFindRoutesParts(t *testing.T) {
	g := MustMonaco(t)
	s := NewService(g)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(4, 2))
	b := g.Bounds()
	pt := func() convoi.LatLon {
		return convoi.LatLon{Lat: b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon)}
	}
	checked, withCP := 0, 0
	for checked < 100 {
		from, to := pt(), pt()
		full, err := g.RouteLatLon(ctx, from, to, RouteOptions{})
		if err != nil {
			continue
		}
		checked++
		q := convoi.RouteQuery{From: from, To: to}
		none, err := s.FindRoutes(ctx, q)
		if err != nil || len(none) != 1 {
			t.Fatalf("overview none: %v (%d routes)", err, len(none))
		}
		n := none[0]
		if n.Cost != full.Cost || n.DurationS != full.DurationS || math.Abs(n.DistanceM-full.DistanceM) > 1e-6 {
			t.Fatalf("figures %+v, full route %v/%v/%v", n, full.Cost, full.DurationS, full.DistanceM)
		}
		if n.Geometry != nil || n.Segments != nil || n.Chokepoints != nil {
			t.Fatalf("parts not asked for: %d points, %d segments, %d chokepoints", len(n.Geometry), len(n.Segments), len(n.Chokepoints))
		}
		q.Overview, q.Segments, q.Chokepoints = convoi.OverviewFull, true, true
		all, err := s.FindRoutes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		a := all[0]
		if !slices.Equal(a.Geometry, full.Geometry) || len(a.Segments) != len(full.Segments) || len(a.Chokepoints) != len(full.Chokepoints) {
			t.Fatalf("full answer differs from the route: %d/%d points, %d/%d segments, %d/%d chokepoints",
				len(a.Geometry), len(full.Geometry), len(a.Segments), len(full.Segments), len(a.Chokepoints), len(full.Chokepoints))
		}
		for i, c := range full.Chokepoints {
			if got := a.Chokepoints[i]; got.ID != c.ID || got.OffsetS != c.OffsetS || !slices.Equal(got.Kind, c.Kind.Names()) {
				t.Fatalf("chokepoint %d: %+v, want %+v", i, got, c)
			}
		}
		for i, sg := range full.Segments {
			if got := a.Segments[i]; got.Edge != uint32(sg.Edge) || got.StartS != sg.StartS || got.DistanceM != sg.DistanceM {
				t.Fatalf("segment %d: %+v, want %+v", i, got, sg)
			}
		}
		withCP += min(len(full.Chokepoints), 1)
		// Only chokepoints: the same passages without the geometry.
		q.Overview, q.Segments = convoi.OverviewNone, false
		cp, err := s.FindRoutes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if cp[0].Geometry != nil || !slices.EqualFunc(cp[0].Chokepoints, a.Chokepoints, func(x, y convoi.ChokepointPassage) bool {
			return x.ID == y.ID && x.OffsetS == y.OffsetS
		}) {
			t.Fatalf("chokepoints alone %+v, with geometry %+v", cp[0].Chokepoints, a.Chokepoints)
		}
		q.Overview, q.Chokepoints = convoi.OverviewSimplified, false
		simp, err := s.FindRoutes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sg := simp[0].Geometry
		if len(sg) > len(full.Geometry) || sg[0] != full.Geometry[0] || sg[len(sg)-1] != full.Geometry[len(full.Geometry)-1] {
			t.Fatalf("simplified %d points of %d, ends %v %v", len(sg), len(full.Geometry), sg[0], sg[len(sg)-1])
		}
	}
	if withCP == 0 {
		t.Fatal("no route passed a chokepoint: the chokepoint checks checked nothing")
	}
}

func TestServiceRejects(t *testing.T) {
	s := NewService(MustMonaco(t))
	ctx := context.Background()
	court, west := convoi.LatLon{Lat: 43.7302, Lon: 7.4222}, convoi.LatLon{Lat: 43.7275, Lon: 7.4150}
	for name, q := range map[string]convoi.RouteQuery{
		"too many alternatives":    {From: court, To: west, Alternatives: 6},
		"negative alternatives":    {From: court, To: west, Alternatives: -1},
		"unknown overview":         {From: court, To: west, Overview: "some"},
		"unknown kind":             {From: court, To: west, Avoid: []string{"teleport"}},
		"avoid with alternatives":  {From: court, To: west, Avoid: []string{"toll"}, Alternatives: 2},
		"coordinates out of range": {From: convoi.LatLon{Lat: 95, Lon: 7}, To: west},
	} {
		if _, err := s.FindRoutes(ctx, q); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	for name, q := range map[string]convoi.IsochroneQuery{
		"zero minutes":     {At: court},
		"over 120 minutes": {At: court, Minutes: 121},
		"NaN minutes":      {At: court, Minutes: math.NaN()},
		"unknown kind":     {At: court, Minutes: 5, Avoid: []string{"x"}},
	} {
		if _, err := s.Isochrone(ctx, q); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	for name, f := range map[string]convoi.ChokepointFilter{
		"upside-down box": {BBox: &convoi.BBox{MinLat: 43.8, MinLon: 7.4, MaxLat: 43.7, MaxLon: 7.5}},
		"unknown kind":    {Kinds: []string{"x"}},
	} {
		if _, err := s.FindChokepoints(ctx, f); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	s.MaxChokepoints = 3
	if _, err := s.FindChokepoints(ctx, convoi.ChokepointFilter{}); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Errorf("more than MaxChokepoints: %v", err)
	}
}

// TestSimplify: every dropped point lies within the tolerance of the
// simplified line; the ends stay.
func TestSimplify(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		line := []convoi.LatLon{{Lat: 43.7, Lon: 7.4}}
		for len(line) < 300 {
			p := line[len(line)-1]
			line = append(line, convoi.LatLon{Lat: p.Lat + (rng.Float64()-0.3)*1e-4, Lon: p.Lon + (rng.Float64()-0.3)*1e-4})
		}
		const tol = 5.0
		s := Simplify(line, tol)
		if s[0] != line[0] || s[len(s)-1] != line[len(line)-1] || len(s) >= len(line) {
			t.Fatalf("%d of %d points kept", len(s), len(line))
		}
		// Each original point is within tol (plus projection error) of some kept segment.
		for _, p := range line {
			best := math.Inf(1)
			for i := 0; i+1 < len(s); i++ {
				best = math.Min(best, segmentDistanceM(p, s[i], s[i+1]))
			}
			if best > tol*1.01 {
				t.Fatalf("point %v is %.2f m from the simplified line (tolerance %v)", p, best, tol)
			}
		}
	}
}

func segmentDistanceM(p, a, b convoi.LatLon) float64 {
	kx := math.Cos(p.Lat*math.Pi/180) * 111319.49
	const ky = 111319.49
	ax, ay := (a.Lon-p.Lon)*kx, (a.Lat-p.Lat)*ky
	bx, by := (b.Lon-p.Lon)*kx, (b.Lat-p.Lat)*ky
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}
