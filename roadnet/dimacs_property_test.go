package roadnet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// The 9th DIMACS challenge New York graph is too large to import under the
// race detector in every test run (15 s of CPU without it, ten times that
// with it), so the property tests run on a real part of it: every node of
// the .co file inside nyBox (Newark, Elizabeth and Bayonne: 9,144 nodes in
// the largest SCC) and every arc of the .gr file between two of them,
// renumbered and fed to ImportDIMACS as DIMACS text, so that the import,
// the largest-SCC filter and the contraction run exactly as on the full
// file. The dense Brooklyn-Queens grid (23,000 nodes) took 45-75 s per
// metric under the race detector.
var nyBox = BBox{MinLat: 40.60, MinLon: -74.20, MaxLat: 40.75, MaxLon: -74.05}

const (
	nyCoords   = "../testdata/dimacs/USA-road-d.NY.co.gz"
	nyDistance = "../testdata/dimacs/USA-road-d.NY.gr.gz"
	nyTime     = "../testdata/dimacs/USA-road-t.NY.gr.gz"
)

var (
	nyBoxMu     sync.Mutex
	nyBoxCo     []byte
	nyBoxRemap  []uint32
	nyBoxGraphs = map[string]*Graph{}
)

// mustNYBox imports the nyBox part of the New York graph with the arc file
// gr, once per test binary.
func mustNYBox(tb testing.TB, gr string) *Graph {
	tb.Helper()
	nyBoxMu.Lock()
	defer nyBoxMu.Unlock()
	if g := nyBoxGraphs[gr]; g != nil {
		return g
	}
	if nyBoxCo == nil {
		nyBoxCo, nyBoxRemap = dimacsBoxCoords(tb, nyCoords, nyBox)
	}
	arcs := dimacsBoxArcs(tb, gr, nyBoxRemap)
	g, err := ImportDIMACS(context.Background(), bytes.NewReader(arcs), bytes.NewReader(nyBoxCo), DIMACSOptions{UnitMS: 3.6})
	if err != nil {
		tb.Fatal(err)
	}
	nyBoxGraphs[gr] = g
	return g
}

// gzipLines calls fn for every line of a gzipped text file.
func gzipLines(tb testing.TB, path string, fn func(line []byte)) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}

// dimacsBoxCoords returns a .co text with the nodes of path inside box,
// renumbered from 1, and remap[old id] = new id (0 when outside).
func dimacsBoxCoords(tb testing.TB, path string, box BBox) ([]byte, []uint32) {
	tb.Helper()
	var remap []uint32
	var body bytes.Buffer
	k := uint32(0)
	gzipLines(tb, path, func(line []byte) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			return
		}
		switch string(f[0]) {
		case "p":
			n, err := strconv.Atoi(string(f[4]))
			if err != nil {
				tb.Fatal(err)
			}
			remap = make([]uint32, n+1)
		case "v":
			id, e1 := strconv.Atoi(string(f[1]))
			x, e2 := strconv.Atoi(string(f[2]))
			y, e3 := strconv.Atoi(string(f[3]))
			if e1 != nil || e2 != nil || e3 != nil {
				tb.Fatalf("bad coordinate line %q", line)
			}
			lat, lon := float64(y)/1e6, float64(x)/1e6
			if lat < box.MinLat || lat > box.MaxLat || lon < box.MinLon || lon > box.MaxLon {
				return
			}
			k++
			remap[id] = k
			b := append(body.AvailableBuffer(), "v "...)
			b = strconv.AppendUint(b, uint64(k), 10)
			b = append(b, ' ')
			b = append(b, f[2]...)
			b = append(b, ' ')
			b = append(b, f[3]...)
			body.Write(append(b, '\n'))
		}
	})
	return append([]byte(fmt.Sprintf("p aux sp co %d\n", k)), body.Bytes()...), remap
}

// dimacsBoxArcs returns a .gr text with the arcs of path between nodes kept
// by remap, renumbered.
func dimacsBoxArcs(tb testing.TB, path string, remap []uint32) []byte {
	tb.Helper()
	var body bytes.Buffer
	n, m := 0, 0
	for _, r := range remap {
		if r != 0 {
			n++
		}
	}
	gzipLines(tb, path, func(line []byte) {
		if len(line) == 0 || line[0] != 'a' {
			return
		}
		f := bytes.Fields(line)
		u, e1 := strconv.Atoi(string(f[1]))
		v, e2 := strconv.Atoi(string(f[2]))
		if e1 != nil || e2 != nil || u >= len(remap) || v >= len(remap) {
			tb.Fatalf("bad arc line %q", line)
		}
		if remap[u] == 0 || remap[v] == 0 {
			return
		}
		m++
		b := append(body.AvailableBuffer(), "a "...)
		b = strconv.AppendUint(b, uint64(remap[u]), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(remap[v]), 10)
		b = append(b, ' ')
		b = append(b, f[3]...)
		body.Write(append(b, '\n'))
	})
	return append([]byte(fmt.Sprintf("p sp %d %d\n", n, m)), body.Bytes()...)
}

// TestRouteExactDIMACS: on real DIMACS New York data (travel times and
// distances), the contraction-hierarchy query returns exactly the cost of
// plain Dijkstra on the base arcs, for 300 random node pairs and 20 snapped
// position pairs, and the isochrone's node times are Dijkstra's.
func TestRouteExactDIMACS(t *testing.T) {
	for _, tc := range []struct {
		name, gr string
		seed     uint64
	}{
		{"time", nyTime, 11},
		{"distance", nyDistance, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustNYBox(t, tc.gr)
			if g.NumNodes() < 8000 || g.Metric() != MetricDIMACS {
				t.Fatalf("box graph: %d nodes, metric %v", g.NumNodes(), g.Metric())
			}
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			randomNode := func() RoadPoint {
				p, err := g.NodePoint(NodeID(rng.IntN(g.NumNodes())))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			// 20 sources x 15 targets: one reference Dijkstra per source.
			pairs := 0
			for s := 0; s < 20; s++ {
				from := randomNode()
				ref := refDijkstra(g, from, 0)
				for k := 0; k < 15; k++ {
					to := randomNode()
					want := ref[to.Node]
					if from.Node == to.Node {
						want = 0
					}
					p, err := g.ShortestPath(ctx, from, to, RouteOptions{})
					if err != nil {
						t.Fatalf("node %d -> %d: %v", from.Node, to.Node, err)
					}
					if p.Cost != want {
						t.Fatalf("node %d -> %d: CH cost %d, Dijkstra %d", from.Node, to.Node, p.Cost, want)
					}
					checkPath(t, g, p)
					var sum int64
					for _, e := range p.Edges {
						sum += g.EdgeCost(e)
					}
					if sum != want {
						t.Fatalf("node %d -> %d: arc weights sum to %d, Dijkstra %d", from.Node, to.Node, sum, want)
					}
					pairs++
				}
			}
			// Snapped positions: partial first and last arcs.
			pos := randomRoadPoints(t, g, rng, 20)[:20]
			for i := 0; i+1 < len(pos); i += 2 {
				want := refCost(g, pos[i], pos[i+1], 0)
				p, err := g.ShortestPath(ctx, pos[i], pos[i+1], RouteOptions{})
				if err != nil || p.Cost != want {
					t.Fatalf("snapped pair %d: CH cost %d (%v), Dijkstra %d", i, p.Cost, err, want)
				}
				checkPath(t, g, p)
			}
			// Isochrones: every node within a budget that reaches about
			// half the graph, with Dijkstra's time.
			for k := 0; k < 3; k++ {
				at := randomNode()
				ref := refDijkstra(g, at, 0)
				sorted := append([]int64(nil), ref...)
				sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
				budget := sorted[len(sorted)/2]
				iso, err := g.Isochrone(ctx, at, budget, RouteOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(iso.Nodes) < g.NumNodes()/2 {
					t.Fatalf("isochrone reached %d of %d nodes", len(iso.Nodes), g.NumNodes())
				}
				got := make(map[NodeID]int64, len(iso.Nodes))
				for i, n := range iso.Nodes {
					got[n] = iso.Times[i]
				}
				for n, d := range ref {
					if d > budget {
						continue
					}
					if c, ok := got[NodeID(n)]; !ok || c != d {
						t.Fatalf("isochrone from %d, node %d: %d (reached %v), Dijkstra %d", at.Node, n, c, ok, d)
					}
					delete(got, NodeID(n))
				}
				if len(got) != 0 {
					t.Fatalf("isochrone from %d: %d nodes beyond the budget", at.Node, len(got))
				}
			}
			t.Logf("%d nodes, %d arcs, %d shortcuts; %d node pairs exact", g.NumNodes(), g.NumEdges(), g.NumShortcuts(), pairs)
		})
	}
}
