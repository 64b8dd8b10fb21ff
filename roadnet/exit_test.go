package roadnet

import (
	"testing"

	"convoi"
)

// TestExitsTowardsNice: Nice lies west of the Monaco extract. The ways off the
// map towards it are the coast road, the Moyenne Corniche and the road from
// La Turbie over the Col d'Èze, all on the western side, best estimate first,
// at least SeparationM apart, with the remaining distance the straight line
// times the circuity.
func TestExitsTowardsNice(t *testing.T) {
	g := MustMonaco(t)
	nice := convoi.LatLon{Lat: 43.7102, Lon: 7.2620}
	exits, err := g.Exits(nice, ExitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(exits) < 2 {
		t.Fatalf("%d exits, want the A8 and the coast roads", len(exits))
	}
	b := g.Bounds()
	upper := -1
	for i, e := range exits {
		ll := e.Position.LatLon
		if ll.Lon > b.MinLon+0.005 {
			t.Errorf("exit %d at %v is not on the western edge (min lon %.4f)", i, ll, b.MinLon)
		}
		if i > 0 && e.RemainingS < exits[i-1].RemainingS {
			t.Errorf("exits not sorted by remaining time at %d", i)
		}
		for j := 0; j < i; j++ {
			if d := ll.DistanceM(exits[j].Position.LatLon); d < 1000 {
				t.Errorf("exits %d and %d only %.0f m apart", j, i, d)
			}
		}
		if ll.DistanceM(convoi.LatLon{Lat: 43.74790, Lon: 7.34926}) < 300 {
			upper = i
		}
		if d := e.RemainingM - 1.3*ll.DistanceM(nice); d < -1 || d > 1 || e.RemainingS <= 0 {
			t.Errorf("exit %d: remaining %.0f m %.0f s, straight line %.0f m", i, e.RemainingM, e.RemainingS, ll.DistanceM(nice))
		}
	}
	if upper < 0 {
		t.Fatalf("no exit on the road over the Col d'Èze: %+v", exits)
	}
}

func TestExitsErrors(t *testing.T) {
	g := MustMonaco(t)
	if _, err := g.Exits(convoi.LatLon{Lat: 43.7302, Lon: 7.4222}, ExitOptions{}); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("a point on the map: %v, want invalid", err)
	}
	if _, err := g.Exits(convoi.LatLon{Lat: 91, Lon: 0}, ExitOptions{}); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("out of range: %v, want invalid", err)
	}
}
