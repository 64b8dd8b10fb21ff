package roadnet

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/convoi/convoi"
)

// TestTurnCostsChooseRoute: on testdata/turns.osm the fastest route without
// turns is the hairpin through J (29.4 s), which with its 163° left turn
// (7.5 s) is slower than the detour (33.1 s). Routes are chosen with the
// turns: the detour, from the node S and from a point on the hairpin's
// first road, by the hierarchy and by the A*.
func TestTurnCostsChooseRoute(t *testing.T) {
	g := MustImportFile(t, "testdata/turns.osm")
	ctx := context.Background()
	node := func(osmID int64) RoadPoint {
		n, err := g.NodeByExternalID(osmID)
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.NodePoint(n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	onSJ, err := g.Snap(convoi.LatLon{Lat: 43.7, Lon: 7.40012440}) // 10 m east of S
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from     RoadPoint
		wantWays []int64
	}{
		{"from the node S", node(1), []int64{13}},
		{"from a point on S-J", onSJ, []int64{10, 13}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := node(3)
			for _, opt := range []RouteOptions{{}, {Penalty: make([]uint32, g.NumEdges())}} {
				r, err := g.Route(ctx, tc.from, to, opt)
				if err != nil {
					t.Fatal(err)
				}
				var ways []int64
				for _, s := range r.Segments {
					if len(ways) == 0 || ways[len(ways)-1] != s.WayID {
						ways = append(ways, s.WayID)
					}
				}
				if !slices.Equal(ways, tc.wantWays) {
					t.Fatalf("A* %v: ways %v, want %v (the detour)", opt.Penalty != nil, ways, tc.wantWays)
				}
				// The node-based optimum is the hairpin: cheaper in edge
				// time, dearer once its turn is paid.
				nodeBased := refCost(g, tc.from, to, 0)
				if nodeBased >= r.Cost {
					t.Fatalf("node-based cost %d not below the detour's %d: the fixture does not test turns", nodeBased, r.Cost)
				}
				if want := refTurnCost(g, tc.from, to, 0); int64(r.DurationS*1000+0.5) != want || r.TurnS != 0 {
					t.Fatalf("duration %v s (turns %v s), want %d ms without turns", r.DurationS, r.TurnS, want)
				}
			}
		})
	}
}

// TestUTurnOnlyAtDeadEnds: the turn graph has a U-turn where it is the
// only way on (the spur's dead end X) and none where another road leaves
// (the junction J, the ends S and T of the detour).
func TestUTurnOnlyAtDeadEnds(t *testing.T) {
	g := MustImportFile(t, "testdata/turns.osm")
	uturns := map[int64]bool{} // at OSM node
	for a := uint32(0); int(a) < g.NumEdges(); a++ {
		for i := g.turns.first[a]; i < g.turns.first[a+1]; i++ {
			if b := g.turns.baseHead[i]; g.uturn(a, b) {
				id, _ := g.ExternalID(NodeID(g.head[a]))
				uturns[id] = true
			}
		}
	}
	if !uturns[4] || len(uturns) != 1 {
		t.Fatalf("U-turns at OSM nodes %v, want only at the dead end 4", uturns)
	}
}

// TestNodeStartAvoidsFirstEdge: a route from a node starts on one of the
// node's out-edges, and avoidance and penalties apply to it as to every
// other edge (only an edge the route starts on, from a point along it, is
// exempt): with the fastest route's first edge avoided or heavily penalised
// the route leaves by another one.
func TestNodeStartAvoidsFirstEdge(t *testing.T) {
	g := MustMonaco(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 4))
	checked := 0
	for range 200 {
		a, b := NodeID(rng.IntN(g.NumNodes())), NodeID(rng.IntN(g.NumNodes()))
		from, err1 := g.NodePoint(a)
		to, err2 := g.NodePoint(b)
		if err1 != nil || err2 != nil || a == b {
			continue
		}
		p, err := g.ShortestPath(ctx, from, to, RouteOptions{})
		if err != nil || len(p.Edges) < 2 {
			continue
		}
		first := p.Edges[0]
		penalty := make([]uint32, g.NumEdges())
		penalty[first] = 1 << 30
		if _, err := g.ShortestPath(ctx, from, to, RouteOptions{AvoidEdges: []EdgeID{first}}); err != nil {
			continue // the only way out: the penalised route must take it too
		}
		for _, opt := range []RouteOptions{{AvoidEdges: []EdgeID{first}}, {Penalty: penalty}} {
			q, err := g.ShortestPath(ctx, from, to, opt)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if q.Edges[0] == first {
				t.Fatalf("%d -> %d avoiding edge %d (penalty %v): the route still starts on it", a, b, first, opt.Penalty != nil)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d routes checked", checked)
	}
}
