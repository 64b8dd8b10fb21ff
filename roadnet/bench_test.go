package roadnet

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

var (
	nyOnce  sync.Once
	nyGraph *Graph
)

// mustNY imports the DIMACS New York graph once (benchmarks only: about
// half a minute on the reference machine).
func mustNY(b *testing.B) *Graph {
	b.Helper()
	nyOnce.Do(func() {
		open := func(p string) *gzip.Reader {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			z, err := gzip.NewReader(f)
			if err != nil {
				b.Fatal(err)
			}
			return z
		}
		g, err := ImportDIMACS(context.Background(), open("../testdata/dimacs/USA-road-t.NY.gr.gz"), open("../testdata/dimacs/USA-road-d.NY.co.gz"), DIMACSOptions{UnitMS: 3.6})
		if err != nil {
			b.Fatal(err)
		}
		nyGraph = g
	})
	return nyGraph
}

func benchRoutes(b *testing.B, g *Graph) {
	rng := rand.New(rand.NewPCG(9, 9))
	pos := randomRoadPoints(b, g, rng, 500)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := (2 * i) % (len(pos) - 1)
		g.ShortestPath(ctx, pos[k], pos[k+1], RouteOptions{})
	}
}

func BenchmarkRouteMalta(b *testing.B) {
	benchRoutes(b, MustImportFile(b, "../testdata/osm/malta.osm.pbf"))
}

func BenchmarkRouteNY(b *testing.B) { benchRoutes(b, mustNY(b)) }

func BenchmarkAlternativesMalta(b *testing.B) {
	g := MustImportFile(b, "../testdata/osm/malta.osm.pbf")
	rng := rand.New(rand.NewPCG(9, 9))
	pos := randomRoadPoints(b, g, rng, 200)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := (2 * i) % (len(pos) - 1)
		g.AlternativePaths(ctx, pos[k], pos[k+1], AlternativeOptions{K: 3})
	}
}

func BenchmarkIsochrone30MinNY(b *testing.B) {
	g := mustNY(b)
	rng := rand.New(rand.NewPCG(9, 9))
	pos := randomRoadPoints(b, g, rng, 50)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.Isochrone(ctx, pos[i%len(pos)], g.CostOf(30*60), RouteOptions{})
	}
}

func BenchmarkLoadMonaco(b *testing.B) {
	var buf bytes.Buffer
	MustMonaco(b).WriteTo(&buf)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ReadGraph(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImportMonaco(b *testing.B) {
	for i := 0; i < b.N; i++ {
		MustImportFile(b, "../../main/osmdata/monaco.osm.pbf")
	}
}
