package ambush

import (
	"math"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestAudit(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name                    string
		trips                   []Trip
		routeBits, depBits, max float64
	}{
		{"empty", nil, 0, 0, 0},
		{"same every time", []Trip{{"A", at(8, 0)}, {"A", at(8, 5)}, {"A", at(8, 10)}, {"A", at(8, 14)}}, 0, 0, 1},
		{"two routes alternating", []Trip{{"A", at(8, 0)}, {"B", at(8, 0)}, {"A", at(9, 0)}, {"B", at(9, 0)}}, 1, 1, 0.5},
		{"four of everything", []Trip{{"A", at(7, 0)}, {"B", at(8, 0)}, {"C", at(9, 0)}, {"D", at(10, 0)}}, 2, 2, 0.25},
		{"skewed", []Trip{{"A", at(8, 0)}, {"A", at(8, 0)}, {"A", at(8, 0)}, {"B", at(9, 0)}}, 0.8112781244591328, 0.8112781244591328, 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Audit(tc.trips, 15*time.Minute)
			if math.Abs(p.RouteEntropy-tc.routeBits) > 1e-12 || math.Abs(p.DepartureEntropy-tc.depBits) > 1e-12 || p.RouteMaxShare != tc.max {
				t.Errorf("got %+v", p)
			}
			if p.Trips > 1 && (p.RouteNormalised < 0 || p.RouteNormalised > 1) {
				t.Errorf("normalised %v", p.RouteNormalised)
			}
		})
	}
	r := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.73001, Lon: 7.42}, {Lat: 43.74, Lon: 7.41}}, Chokepoints: []string{"toll_booth"}}
	r2 := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.73002, Lon: 7.42001}, {Lat: 43.74, Lon: 7.41}}, Chokepoints: []string{"toll_booth"}}
	if RouteKey(r) != RouteKey(r2) || RouteKey(r) == RouteKey(&convoi.RouteSummary{}) {
		t.Error("route keys do not absorb GPS noise or do not tell routes apart")
	}
}
