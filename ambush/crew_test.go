package ambush

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/convoi/convoi"
)

// uTurnInstance is a road east from o to d (two 60 s legs through m) where
// the convoy could also turn north at m, U-turn at the end of a spur and
// come back on the other carriageway (m2, 10 m from m), or take a long
// southern bypass.
func uTurnInstance() *Instance {
	node := uTurnNode
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

// uTurnNode is a node of uTurnInstance's area, dn metres north and de
// metres east of its origin.
func uTurnNode(id string, dn, de float64) Node {
	const lat, lon = 43.70, 7.30
	return Node{ID: id, Lat: lat + dn/111_195, Lon: lon + de/(111_195*math.Cos(lat*math.Pi/180))}
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
			// The label search drops the U-turn where it comes back near
			// m (at m2, 65 s after m) instead of turning it down at the
			// destination, as it does without the look-back.
			for _, lookBack := range []int{0, crewLookBack} {
				g.lookBack = lookBack
				before := o.rejected
				r, _, ok := o.best(pen, 0, g.maxDur[0], math.Inf(1))
				want := 0
				if tc.radius > 0 && lookBack == 0 {
					want = 1
				}
				if !ok || o.rejected-before != want || !slices.ContainsFunc(r.edges, func(e int32) bool { return in.Edges[e].To == tc.wantNode }) {
					t.Errorf("look-back %d: found %v, turned %d routes down (want %d)", lookBack, ok, o.rejected-before, want)
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

// TestCrewLookBack: a way that breaks the crew rule must not hide one
// that keeps it. The U-turn of uTurnInstance now goes on through x, 50 m
// before d, which a way south through a1 also reaches, later and dearer
// (0.2) than the U-turn (free) but cheaper than the bypass (0.5). Looking
// only at the destination, the search lets the U-turn dominate the way
// through a1 at x, turns the U-turn down at d and returns the bypass;
// looking back along the way, it drops the U-turn at m2 and returns the
// way through a1.
func TestCrewLookBack(t *testing.T) {
	in := uTurnInstance()
	in.Nodes = append(in.Nodes, uTurnNode("x", 0, 950), uTurnNode("a1", -300, 500))
	for i, e := range in.Edges {
		if e.From == "m2" && e.To == "d" {
			in.Edges[i].To, in.Edges[i].TimeS = "x", 5
		}
	}
	in.Edges = append(in.Edges, Edge{From: "x", To: "d", TimeS: 5}, Edge{From: "o", To: "a1", TimeS: 70}, Edge{From: "a1", To: "x", TimeS: 70})
	in.Sites = nil
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := compile(in)
	if err != nil {
		t.Fatal(err)
	}
	g.setCrewRule(50, 30)
	pen := &penalties{edge: make([]float64, len(g.etime))}
	via := func(r *route, id string) bool {
		return slices.ContainsFunc(r.edges, func(e int32) bool { return g.in.Nodes[g.nodeID[g.head[e]]].ID == id })
	}
	for e := range g.etime {
		from, to := g.in.Nodes[g.nodeID[g.tail[e]]].ID, g.in.Nodes[g.nodeID[g.head[e]]].ID
		switch {
		case from == "m" && to == "d":
			pen.edge[e] = 1
		case from == "b1" && to == "b2":
			pen.edge[e] = 0.5
		case from == "o" && to == "a1":
			pen.edge[e] = 0.2
		}
	}
	for _, tc := range []struct {
		lookBack, rejected int
		via                string
		cost               float64
	}{{0, 1, "b1", 0.5}, {crewLookBack, 0, "a1", 0.2}} {
		g.lookBack = tc.lookBack
		o := newOracle(g)
		r, cost, ok := o.best(pen, 0, g.maxDur[0], math.Inf(1))
		if !ok || !via(r, tc.via) || math.Abs(cost-tc.cost) > 1e-12 || o.rejected != tc.rejected {
			t.Errorf("look-back %d: found %v at %v, turned %d routes down; want the way through %s at %v, %d turned down",
				tc.lookBack, ok, cost, o.rejected, tc.via, tc.cost, tc.rejected)
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
