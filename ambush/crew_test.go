package ambush

import (
	"context"
	"math"
	"testing"

	"github.com/convoi/convoi"
)

// uTurnInstance is a road east from o to d (two 60 s legs through m) where
// the convoy could also turn north at m, U-turn at the end of a spur and
// come back on the other carriageway (m2, 10 m from m), or take a long
// southern bypass.
func uTurnInstance() *Instance {
	const lat, lon = 43.70, 7.30
	at := func(dn, de float64) (float64, float64) { // metres north and east
		return lat + dn/111_195, lon + de/(111_195*math.Cos(lat*math.Pi/180))
	}
	node := func(id string, dn, de float64) Node {
		a, b := at(dn, de)
		return Node{ID: id, Lat: a, Lon: b}
	}
	in := &Instance{
		Nodes: []Node{node("o", 0, 0), node("m", 0, 500), node("d", 0, 1000), node("s1", 400, 500), node("s2", 400, 510),
			node("m2", 0, 510), node("b1", -2000, 300), node("b2", -2000, 700)},
		Edges: []Edge{
			{From: "o", To: "m", TimeS: 60}, {From: "m", To: "d", TimeS: 60},
			{From: "m", To: "s1", TimeS: 30}, {From: "s1", To: "s2", TimeS: 5}, {From: "s2", To: "m2", TimeS: 30}, {From: "m2", To: "d", TimeS: 55},
			{From: "o", To: "b1", TimeS: 50}, {From: "b1", To: "b2", TimeS: 50}, {From: "b2", To: "d", TimeS: 50},
		},
		Origin: "o", Destination: "d", Slots: []float64{0}, Stretch: 1.5,
	}
	e1 := 1
	in.Sites = []Site{{ID: "east-leg", Edge: &e1, At: 0.5, P: 0.9}}
	return in
}

// TestCrewRule: with the east leg costly and the bypass less so, the best
// route is the U-turn detour, which the crew rule forbids.
func TestCrewRule(t *testing.T) {
	in := uTurnInstance()
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	edges := func(g *game, ids ...string) []int32 {
		var out []int32
		for i := 0; i+1 < len(ids); i++ {
			for e, ed := range in.Edges {
				if ed.From == ids[i] && ed.To == ids[i+1] {
					out = append(out, int32(e))
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		radius   float64
		wantNode string // a node of the oracle's route
	}{
		{"rule on", 50, "b1"},
		{"rule off", -1, "s2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := compile(in)
			if err != nil {
				t.Fatal(err)
			}
			g.setCrewRule(tc.radius, 30)
			o := newOracle(g)
			uturn := edges(g, "o", "m", "s1", "s2", "m2", "d")
			if got := g.acceptable(uturn, o.seen); got != (tc.radius < 0) {
				t.Errorf("U-turn route acceptable: %v", got)
			}
			if !g.acceptable(edges(g, "o", "b1", "b2", "d"), o.seen) || !g.acceptable(edges(g, "o", "m", "d"), o.seen) {
				t.Errorf("the bypass and the straight road must be acceptable")
			}
			for i, v := range o.seen {
				if v != -1 {
					t.Fatalf("scratch left dirty at %d: %v", i, v)
				}
			}
			pen := &penalties{edge: make([]float64, len(in.Edges))}
			pen.edge[1], pen.edge[7] = 1, 0.5 // the east leg, the bypass
			for _, exact := range []bool{false, true} {
				var r *route
				var ok bool
				if exact {
					r, _, ok, _ = o.bestTimed(pen, 0, g.maxDur[0], math.Inf(1), 1000)
				} else {
					r, _, ok = o.best(pen, 0, g.maxDur[0], math.Inf(1))
				}
				if !ok {
					t.Fatalf("exact %v: no route", exact)
				}
				found := false
				for _, e := range r.edges {
					found = found || in.Edges[e].To == tc.wantNode
				}
				if !found {
					t.Errorf("exact %v: route %v does not pass %s", exact, r.key, tc.wantNode)
				}
			}
		})
	}
	// The solver only plays acceptable routes. With a site on the bypass
	// too, the U-turn would dodge both: the game without it is the two
	// disjoint routes' 1/(1/0.9 + 1/0.3), and the bound from the search
	// without the rule is only a lower bound.
	e7 := 7
	in.Sites = append(in.Sites, Site{ID: "bypass", Edge: &e7, At: 0.5, P: 0.3})
	st, err := Solve(context.Background(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 / (1/0.9 + 1/0.3); math.Abs(st.Value-want) > 1e-9 || st.ExactOracle || st.LowerBound > st.Value+1e-12 {
		t.Errorf("value %v (want %v), exact oracle %v, lower bound %v", st.Value, want, st.ExactOracle, st.LowerBound)
	}
	for _, r := range st.Routes {
		for _, n := range r.Nodes {
			if n == "s2" {
				t.Errorf("strategy plays the U-turn route %v (p=%.2f)", r.Nodes, r.Probability)
			}
		}
	}
}

// TestCrewRuleMapGames checks every route of the real-map strategies with
// an independent test of the rule (great-circle distances over the route's
// road nodes): none comes back within 50 m of a node it passed 30 s or more
// earlier.
func TestCrewRuleMapGames(t *testing.T) {
	_, nice := niceInstance(t)
	eze := mapInstance(t, mapCases[0])
	for name, in := range map[string]*Instance{"nice": nice, "eze": eze} {
		t.Run(name, func(t *testing.T) {
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			idx := map[string]int{}
			for i, n := range in.Nodes {
				idx[n.ID] = i
			}
			for ri, r := range st.Routes {
				type stop struct {
					at convoi.LatLon
					t  float64
				}
				stops := []stop{{convoi.LatLon{Lat: in.Nodes[idx[in.Origin]].Lat, Lon: in.Nodes[idx[in.Origin]].Lon}, 0}}
				var clock float64
				for _, e := range r.Edges {
					clock += in.Edges[e].TimeS
					n := in.Nodes[idx[in.Edges[e].To]]
					stops = append(stops, stop{convoi.LatLon{Lat: n.Lat, Lon: n.Lon}, clock})
				}
				for i := range stops {
					for k := 0; k < i && stops[i].t-stops[k].t >= 30; k++ {
						if d := stops[i].at.DistanceM(stops[k].at); d < 50*(1-1e-3) {
							t.Errorf("route %d (p=%.3f) comes back within %.0f m of a node passed %.0f s earlier", ri, r.Probability, d, stops[i].t-stops[k].t)
						}
					}
				}
			}
		})
	}
}
