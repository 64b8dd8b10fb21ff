package roadnet

import (
	"context"
	"testing"

	"convoi"
)

func TestSmokeMonaco(t *testing.T) {
	g := MustMonaco(t)
	t.Logf("nodes %d edges %d shortcuts %d cps %d", g.NumNodes(), g.NumEdges(), g.NumShortcuts(), len(g.cps))
	r, err := g.RouteLatLon(context.Background(), convoi.LatLon{Lat: 43.7302, Lon: 7.4222}, convoi.LatLon{Lat: 43.745, Lon: 7.36}, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dur %.1f dist %.0f cps %d", r.DurationS, r.DistanceM, len(r.Chokepoints))
	for _, c := range r.Chokepoints {
		t.Logf("%+v", c)
	}
}
