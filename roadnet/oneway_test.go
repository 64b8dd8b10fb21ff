package roadnet

import (
	"context"
	"testing"

	"github.com/convoi/convoi"

	"github.com/paulmach/osm"
)

// TestOnewayTags is the table of the one-way tag rules: 1 is forward only
// (in the way's drawing order), -1 backward only, 0 both directions.
func TestOnewayTags(t *testing.T) {
	for _, tc := range []struct {
		tags []string // key, value, ...
		want int8
	}{
		{[]string{"highway", "residential"}, 0},
		{[]string{"highway", "residential", "oneway", "yes"}, 1},
		{[]string{"highway", "residential", "oneway", "true"}, 1},
		{[]string{"highway", "residential", "oneway", "1"}, 1},
		{[]string{"highway", "residential", "oneway", "-1"}, -1},
		{[]string{"highway", "residential", "oneway", "reverse"}, -1},
		{[]string{"highway", "residential", "oneway", "no"}, 0},
		{[]string{"highway", "residential", "oneway", "false"}, 0},
		{[]string{"highway", "residential", "oneway", "0"}, 0},
		// Roundabouts and motorways are one-way unless tagged otherwise.
		{[]string{"highway", "primary", "junction", "roundabout"}, 1},
		{[]string{"highway", "primary", "junction", "circular"}, 1},
		{[]string{"highway", "primary", "junction", "roundabout", "oneway", "-1"}, -1},
		{[]string{"highway", "primary", "junction", "roundabout", "oneway", "no"}, 0},
		{[]string{"highway", "motorway"}, 1},
		{[]string{"highway", "motorway", "oneway", "no"}, 0},
		{[]string{"highway", "motorway", "oneway", "-1"}, -1},
		{[]string{"highway", "trunk"}, 0},
	} {
		var tags osm.Tags
		for i := 0; i < len(tc.tags); i += 2 {
			tags = append(tags, osm.Tag{Key: tc.tags[i], Value: tc.tags[i+1]})
		}
		if got := onewayOf(tags); got != tc.want {
			t.Errorf("onewayOf(%v) = %d, want %d", tags, got, tc.want)
		}
		if w, ok := wayProfile(tags); !ok || w.oneway != tc.want {
			t.Errorf("wayProfile(%v) = oneway %d (%v), want %d", tags, w.oneway, ok, tc.want)
		}
	}
}

// TestOnewayEdges imports testdata/oneway.osm and checks the direction of
// every way's edges: the oneway=-1 way gets only the edge against its
// drawing order, the oneway=yes way only the one along it, two-way streets
// both; and routes follow them.
func TestOnewayEdges(t *testing.T) {
	g := MustImportFile(t, "testdata/oneway.osm")
	pt := map[int]convoi.LatLon{1: {Lat: 43.7000, Lon: 7.4000}, 2: {Lat: 43.7000, Lon: 7.4010},
		3: {Lat: 43.7010, Lon: 7.4010}, 4: {Lat: 43.7010, Lon: 7.4000}}
	type dir struct{ from, to int }
	want := map[int64][]dir{
		20: {{2, 1}},
		21: {{2, 3}, {3, 2}},
		22: {{3, 4}},
		23: {{4, 1}, {1, 4}},
		24: {{1, 3}, {3, 1}},
	}
	at := func(p convoi.LatLon) int {
		for n, q := range pt {
			if q.DistanceM(p) < 0.05 {
				return n
			}
		}
		return 0
	}
	got := map[int64][]dir{}
	for e := EdgeID(0); int(e) < g.NumEdges(); e++ {
		geo := g.EdgeGeometry(nil, e)
		d := dir{at(geo[0]), at(geo[len(geo)-1])}
		if d.from == 0 || d.to == 0 || at(g.NodeLatLon(g.EdgeFrom(e))) != d.from || at(g.NodeLatLon(g.EdgeTo(e))) != d.to {
			t.Fatalf("edge %d: geometry %v does not run between its nodes", e, geo)
		}
		w := g.Edge(e).WayID
		got[w] = append(got[w], d)
	}
	for w, ds := range want {
		if len(got[w]) != len(ds) {
			t.Errorf("way %d: edges %v, want %v", w, got[w], ds)
			continue
		}
		for _, d := range ds {
			found := false
			for _, x := range got[w] {
				found = found || x == d
			}
			if !found {
				t.Errorf("way %d: edges %v, want %v", w, got[w], ds)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("edges on ways %v, want ways 20-24", got)
	}

	// Routes: 2 -> 1 takes the one-way street, 1 -> 2 must go round.
	node := func(n int) RoadPoint {
		for i := range g.NumNodes() {
			if at(g.NodeLatLon(NodeID(i))) == n {
				p, err := g.NodePoint(NodeID(i))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
		}
		t.Fatalf("node %d is not in the graph", n)
		return RoadPoint{}
	}
	ways := func(from, to int) []int64 {
		r, err := g.Route(context.Background(), node(from), node(to), RouteOptions{})
		if err != nil {
			t.Fatalf("route %d -> %d: %v", from, to, err)
		}
		var ws []int64
		for _, s := range r.Segments {
			ws = append(ws, s.WayID)
		}
		return ws
	}
	if ws := ways(2, 1); len(ws) != 1 || ws[0] != 20 {
		t.Errorf("route 2 -> 1 on ways %v, want the one-way street 20", ws)
	}
	if ws := ways(1, 2); len(ws) != 2 || ws[0] != 24 || ws[1] != 21 {
		t.Errorf("route 1 -> 2 on ways %v, want 24 then 21 (20 is one-way towards 1)", ws)
	}
	if ws := ways(4, 3); len(ws) != 2 || ws[0] != 23 || ws[1] != 24 {
		t.Errorf("route 4 -> 3 on ways %v, want 23 then 24 (22 is one-way towards 4)", ws)
	}
}
