package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/web"
)

// The request-path benchmarks (issue 9 item 6) run the same 200 Malta pairs
// and the same 5-minute Malta isochrone twice: through the whole server-side
// HTTP path (authentication, routing, snapping, search, answer, JSON, log
// and metrics: Server.Handler on a recorder, no socket) and as the bare
// in-process search on the snapped positions. Each reports the median and
// p90 of its own per-request times.

var malta struct {
	once  sync.Once
	g     *roadnet.Graph
	pairs [][2]convoi.LatLon
	err   error
}

// maltaBench imports the Malta extract once and draws 200 routable pairs:
// uniform points on the main island (seed 9) that lie within 250 m of a road.
func maltaBench(b *testing.B) (*roadnet.Graph, [][2]convoi.LatLon) {
	b.Helper()
	malta.once.Do(func() {
		f, err := os.Open("../testdata/osm/malta.osm.pbf")
		if err != nil {
			malta.err = err
			return
		}
		defer f.Close()
		g, err := roadnet.ImportOSM(context.Background(), f, roadnet.FormatPBF, roadnet.ImportOptions{})
		if err != nil {
			malta.err = err
			return
		}
		rng := rand.New(rand.NewPCG(9, 9))
		point := func() (convoi.LatLon, roadnet.RoadPoint) {
			for {
				p := convoi.LatLon{Lat: 35.80 + rng.Float64()*0.19, Lon: 14.33 + rng.Float64()*0.24}
				if s, err := g.Snap(p); err == nil && s.DistanceM < 250 {
					return p, s
				}
			}
		}
		for len(malta.pairs) < 200 {
			a, sa := point()
			c, sc := point()
			if _, err := g.ShortestPath(context.Background(), sa, sc, roadnet.RouteOptions{}); err == nil {
				malta.pairs = append(malta.pairs, [2]convoi.LatLon{a, c})
			}
		}
		malta.g = g
	})
	if malta.err != nil {
		b.Fatal(malta.err)
	}
	return malta.g, malta.pairs
}

// maltaIsoAt is where the 5-minute isochrone starts: Birkirkara, in the
// middle of the island's network (about 3,400 nodes within 5 minutes).
var maltaIsoAt = convoi.LatLon{Lat: 35.8833, Lon: 14.4667}

func ll(p convoi.LatLon) string { return fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lon) }

// timings collects per-request durations and reports their median and p90.
type timings []time.Duration

func (t timings) report(b *testing.B) {
	if len(t) == 0 {
		return
	}
	s := slices.Clone(t)
	slices.Sort(s)
	b.ReportMetric(float64(s[len(s)/2].Nanoseconds())/1e3, "median-µs")
	b.ReportMetric(float64(s[len(s)*9/10].Nanoseconds())/1e3, "p90-µs")
	b.ReportMetric(0, "ns/op") // the per-request figures above are the result
}

// discard is the response writer of the benchmarks: it counts the body
// and keeps nothing, so that what is timed is the server's work, not a
// recorder's growing buffer (nor, as with a socket, the kernel's).
type discard struct {
	h    http.Header
	code int
	n    int
	head []byte // the start of the body, for error messages
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discard) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	if len(d.head) < 512 {
		d.head = append(d.head, p[:min(len(p), 512-len(d.head))]...)
	}
	d.n += len(p)
	return len(p), nil
}

// serve runs one request through the server's handler, server-side only.
func serve(b *testing.B, h http.Handler, token, path string, want int) (time.Duration, int) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &discard{h: http.Header{}}
	start := time.Now()
	h.ServeHTTP(w, req)
	d := time.Since(start)
	if w.code != want {
		b.Fatalf("%s: %d %s", path, w.code, w.head)
	}
	return d, w.n
}

func benchHTTP(b *testing.B, paths []string) {
	g, _ := maltaBench(b)
	w := MustOpenWorld(b, func(s *web.Server) { s.Roads = roadnet.NewService(g) })
	h, err := w.srv.Handler()
	if err != nil {
		b.Fatal(err)
	}
	tok := w.tokens[planner]
	for _, p := range paths { // warm up: pools, caches
		serve(b, h, tok, p, 200)
	}
	ts := make(timings, 0, b.N)
	var bytes int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, n := serve(b, h, tok, paths[i%len(paths)], 200)
		ts = append(ts, d)
		bytes += n
	}
	b.StopTimer()
	ts.report(b)
	b.ReportMetric(float64(bytes)/float64(b.N), "B/answer")
}

func routePaths(b *testing.B, query string) []string {
	_, pairs := maltaBench(b)
	var paths []string
	for _, p := range pairs {
		paths = append(paths, "/api/v1/route?from="+ll(p[0])+"&to="+ll(p[1])+query)
	}
	return paths
}

// BenchmarkRequestMe is the floor of every API call: GET /me,
// authentication and nothing else.
func BenchmarkRequestMe(b *testing.B) { benchHTTP(b, []string{"/api/v1/me"}) }

// BenchmarkRequestRouteMalta: GET /route on the 200 pairs, full answer.
func BenchmarkRequestRouteMalta(b *testing.B) { benchHTTP(b, routePaths(b, "")) }

// BenchmarkRequestRouteMaltaOverviewNone: the same with OSRM's
// overview=false and no steps: what a client needing times and distances asks.
func BenchmarkRequestRouteMaltaOverviewNone(b *testing.B) {
	benchHTTP(b, routePaths(b, "&overview=none&steps=false&chokepoints=false"))
}

// BenchmarkRequestRouteMaltaSimplified: overview=simplified with chokepoints, no steps.
func BenchmarkRequestRouteMaltaSimplified(b *testing.B) {
	benchHTTP(b, routePaths(b, "&overview=simplified&steps=false"))
}

// BenchmarkRequestIsochroneMalta: GET /isochrone, 5 minutes from Valletta.
func BenchmarkRequestIsochroneMalta(b *testing.B) {
	benchHTTP(b, []string{"/api/v1/isochrone?at=" + ll(maltaIsoAt) + "&minutes=5"})
}

// BenchmarkSearchRouteMalta is the in-process search on the same pairs,
// snapped beforehand: what the HTTP path adds is the difference.
func BenchmarkSearchRouteMalta(b *testing.B) {
	g, pairs := maltaBench(b)
	var pos [][2]roadnet.RoadPoint
	for _, p := range pairs {
		x, _ := g.Snap(p[0])
		y, _ := g.Snap(p[1])
		pos = append(pos, [2]roadnet.RoadPoint{x, y})
	}
	ctx := context.Background()
	ts := make(timings, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pos[i%len(pos)]
		start := time.Now()
		if _, err := g.ShortestPath(ctx, p[0], p[1], roadnet.RouteOptions{}); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(start))
	}
	b.StopTimer()
	ts.report(b)
}

// BenchmarkSnapMalta snaps the 400 endpoints of the pairs.
func BenchmarkSnapMalta(b *testing.B) {
	g, pairs := maltaBench(b)
	ts := make(timings, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pairs[(i/2)%len(pairs)][i%2]
		start := time.Now()
		if _, err := g.Snap(p); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(start))
	}
	b.StopTimer()
	ts.report(b)
}

// BenchmarkSearchIsochroneMalta is the in-process 5-minute search alone.
func BenchmarkSearchIsochroneMalta(b *testing.B) {
	g, _ := maltaBench(b)
	at, err := g.Snap(maltaIsoAt)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ts := make(timings, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := g.Isochrone(ctx, at, g.CostOf(300), roadnet.RouteOptions{}); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(start))
	}
	b.StopTimer()
	ts.report(b)
}
