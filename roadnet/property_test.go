package roadnet

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/convoi/convoi"
)

// randomRoadPoints snaps n random points of the graph's box, plus n random
// nodes.
func randomRoadPoints(tb testing.TB, g *Graph, rng *rand.Rand, n int) []RoadPoint {
	tb.Helper()
	b := g.Bounds()
	var out []RoadPoint
	for len(out) < n {
		p := convoi.LatLon{Lat: b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon)}
		if pos, err := g.Snap(p); err == nil {
			out = append(out, pos)
		}
	}
	for i := 0; i < n; i++ {
		pos, err := g.NodePoint(NodeID(rng.IntN(g.NumNodes())))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, pos)
	}
	return out
}

// checkPath verifies a path is connected and its cost is its edges' sum.
func checkPath(t *testing.T, g *Graph, p Path) {
	t.Helper()
	for i := 1; i < len(p.Edges); i++ {
		if g.EdgeTo(p.Edges[i-1]) != g.EdgeFrom(p.Edges[i]) {
			t.Fatalf("path not connected at %d", i)
		}
	}
	if c := g.pathCost(&p); c != p.Cost {
		t.Fatalf("path cost %d, edges sum %d", p.Cost, c)
	}
}

func testRoutesExact(t *testing.T, g *Graph, pairs int, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 1))
	pos := randomRoadPoints(t, g, rng, pairs)
	zero := make([]uint32, g.NumEdges())
	for i := 0; i+1 < len(pos); i += 2 {
		from, to := pos[i], pos[i+1]
		// Graphs that price turns search with them: the oracle is the
		// edge-based Dijkstra, the cost the edges' plus the turns'.
		ref, cost := refCost, func(p Path) int64 { return p.Cost }
		if g.turns != nil {
			ref, cost = refTurnCost, func(p Path) int64 { return p.Cost + g.turnsOf(p.Edges) }
		}
		want := ref(g, from, to, 0)
		p, err := g.ShortestPath(ctx, from, to, RouteOptions{})
		if want == Infinity {
			if convoi.ErrorCode(err) != convoi.ENOTFOUND {
				t.Fatalf("pair %d: want not found, got %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
		if cost(p) != want {
			t.Fatalf("pair %d %+v -> %+v: CH cost %d, Dijkstra %d", i, from, to, cost(p), want)
		}
		checkPath(t, g, p)
		// A* with a zero penalty takes the other code path: same cost.
		q, err := g.ShortestPath(ctx, from, to, RouteOptions{Penalty: zero})
		if err != nil || cost(q) != want {
			t.Fatalf("pair %d: A* cost %d (%v), Dijkstra %d", i, cost(q), err, want)
		}
		checkPath(t, g, q)
	}
}

func TestRouteExactMonaco(t *testing.T) { testRoutesExact(t, MustMonaco(t), 40, 1) }

func TestRouteExactExtracts(t *testing.T) {
	for _, name := range []string{"andorra", "liechtenstein", "malta"} {
		t.Run(name, func(t *testing.T) {
			g := MustImportFile(t, "../testdata/osm/"+name+".osm.pbf")
			testRoutesExact(t, g, 12, 2)
		})
	}
}

func TestRouteExactRouen(t *testing.T) { testRoutesExact(t, mustRouen(t), 30, 3) }

func TestIsochroneMatchesDijkstra(t *testing.T) {
	g := MustMonaco(t)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, at := range randomRoadPoints(t, g, rng, 3) {
		budget := int64(300_000) // 5 minutes
		iso, err := g.Isochrone(context.Background(), at, budget, RouteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ref := refDijkstra(g, at, 0)
		got := map[NodeID]int64{}
		for i, n := range iso.Nodes {
			got[n] = iso.Times[i]
		}
		for n, d := range ref {
			if d <= budget {
				if got[NodeID(n)] != d {
					t.Fatalf("node %d: isochrone %d, Dijkstra %d", n, got[NodeID(n)], d)
				}
				delete(got, NodeID(n))
			}
		}
		if len(got) != 0 {
			t.Fatalf("%d nodes reached beyond the budget", len(got))
		}
		if _, err := iso.GeoJSON(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTableMatchesRoutes(t *testing.T) {
	g := MustMonaco(t)
	rng := rand.New(rand.NewPCG(5, 5))
	src := randomRoadPoints(t, g, rng, 3)
	dst := randomRoadPoints(t, g, rng, 4)
	tab, err := g.Table(context.Background(), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src {
		for j := range dst {
			if want := refCost(g, src[i], dst[j], 0); tab[i][j] != want {
				t.Fatalf("table[%d][%d] = %d, want %d", i, j, tab[i][j], want)
			}
		}
	}
}

func TestAlternativesBounds(t *testing.T) {
	g := MustMonaco(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(6, 6))
	pos := randomRoadPoints(t, g, rng, 10)
	opt := AlternativeOptions{K: 3}
	opt.defaults()
	found := 0
	for i := 0; i+1 < len(pos); i += 2 {
		paths, err := g.AlternativePaths(ctx, pos[i], pos[i+1], opt)
		if err != nil {
			continue
		}
		// Monaco prices turns: durations are edge costs plus turns.
		best := paths[0].Cost + g.turnsOf(paths[0].Edges)
		if want := refTurnCost(g, pos[i], pos[i+1], 0); best != want {
			t.Fatalf("fastest %d, Dijkstra %d", best, want)
		}
		for k, p := range paths[1:] {
			found++
			checkPath(t, g, p)
			if c := p.Cost + g.turnsOf(p.Edges); float64(c) > opt.MaxStretch*float64(best) {
				t.Fatalf("alternative %d stretch %d/%d", k, c, best)
			}
			for _, q := range paths[:k+1] {
				if s := g.sharedCost(p, edgeSet(q.Edges)); float64(s) > opt.MaxOverlap*float64(p.Cost) {
					t.Fatalf("alternative %d overlaps %d of %d", k, s, p.Cost)
				}
			}
			// The concatenated halves are shortest paths: check each edge
			// prefix up to the via node against the oracle.
			st := g.getState()
			simple := g.simple(st, p)
			g.putState(st)
			if !simple {
				t.Fatalf("alternative %d visits a node twice", k)
			}
		}
	}
	if found == 0 {
		t.Fatal("no alternative found on any pair")
	}
}
