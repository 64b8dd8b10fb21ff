package ambush

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// journeyCases are the regional journeys of the scaling benchmark: the
// Liechtenstein game of mapCases, two Malta journeys of different length
// from Valletta, and a 30 km journey across New York on the DIMACS graph
// (no chokepoint kinds; speeds from the arc times).
var journeyCases = []mapCase{
	mapCases[1],
	{"valletta-to-mdina", "malta", convoi.LatLon{Lat: 35.8968, Lon: 14.5125}, convoi.LatLon{Lat: 35.8860, Lon: 14.4030}, maltaPolice},
	{"valletta-to-mellieha", "malta", convoi.LatLon{Lat: 35.8968, Lon: 14.5125}, convoi.LatLon{Lat: 35.9570, Lon: 14.3620}, maltaPolice},
	{"ny-bronx-to-coney-island", "ny", convoi.LatLon{Lat: 40.8448, Lon: -73.8648}, convoi.LatLon{Lat: 40.5755, Lon: -73.9707}, nil},
}

// journeyBudget is the time limit a journey is given
// (Options.WithTimeLimit) where the double oracle does not converge in a
// time a planner would wait: the benchmark then reports the strategy's
// guarantee as its value, and the certified lower bound and the gap
// between them.
var journeyBudget = map[string]time.Duration{"ny-bronx-to-coney-island": 30 * time.Second}

// maltaPolice is the police general headquarters at Floriana.
var maltaPolice = []convoi.LatLon{{Lat: 35.8959, Lon: 14.5067}}

// mustNY imports the DIMACS New York graph (arc times in units of 3.6 ms,
// as in roadnet's benchmarks).
func mustNY(tb testing.TB) *roadnet.Graph {
	tb.Helper()
	open := func(p string) *gzip.Reader {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		return z
	}
	g, err := roadnet.ImportDIMACS(context.Background(), open("../testdata/dimacs/USA-road-t.NY.gr.gz"), open("../testdata/dimacs/USA-road-d.NY.co.gz"), roadnet.DIMACSOptions{UnitMS: 3.6})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkJourney times the planning of each journey with mapRequest's
// schedule: building the instance, then the equilibrium (SkipRefine) and
// the refined strategy. It reports the sites of the instance, those of the
// corridor the game is played on, the iterations, the certified lower
// bound next to the value, and the process's CPU time per solve (cpu-s/op:
// the figure to compare on a shared machine, where wall time is noisy).
// A journey with a time limit (journeyBudget) ends within it, is not
// refined, and also reports the relative gap (value - lower bound) / value.
func BenchmarkJourney(b *testing.B) {
	for _, c := range journeyCases {
		for _, mode := range []struct {
			name string
			opt  Options
		}{{"equilibrium", Options{SkipRefine: true}}, {"refined", Options{}}} {
			budget := journeyBudget[c.name]
			if budget > 0 && !mode.opt.SkipRefine {
				continue
			}
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				g := mustGraph(b, c.graph)
				start := time.Now()
				in, err := BuildInstance(context.Background(), g, mapRequest(c), DefaultSiteModel)
				if err != nil {
					b.Fatal(err)
				}
				build := time.Since(start)
				var st *Strategy
				cpu0 := processCPU()
				for b.Loop() {
					if st, err = Solve(context.Background(), in, mode.opt.WithTimeLimit(time.Now, budget)); err != nil {
						b.Fatal(err)
					}
				}
				if budget > 0 {
					b.ReportMetric((st.Value-st.LowerBound)/st.Value, "gap")
				}
				b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(build.Seconds(), "build-s")
				b.ReportMetric(float64(len(in.Sites)), "sites")
				b.ReportMetric(float64(st.CorridorSites), "corridor-sites")
				b.ReportMetric(float64(st.Iterations), "iterations")
				b.ReportMetric(st.Value, "value")
				b.ReportMetric(st.LowerBound, "lower-bound")
				b.ReportMetric(st.FixedFastest.Value, "fixed-fastest")
			})
		}
	}
}

// scalingCases are more journeys on the two regional maps, of different
// lengths and corridor sizes, for BenchmarkCorridorScaling. Police: Vaduz
// for Liechtenstein, Floriana for Malta.
var scalingCases = func() []mapCase {
	ll := func(lat, lon float64) convoi.LatLon { return convoi.LatLon{Lat: lat, Lon: lon} }
	vaduz := mapCases[1].police
	return []mapCase{
		mapCases[1],
		{"vaduz-to-schaan", "liechtenstein", ll(47.1410, 9.5209), ll(47.1650, 9.5097), vaduz},
		{"triesenberg-to-eschen", "liechtenstein", ll(47.1181, 9.5433), ll(47.2107, 9.5222), vaduz},
		{"balzers-to-vaduz", "liechtenstein", ll(47.0667, 9.5028), ll(47.1410, 9.5209), vaduz},
		{"schaanwald-to-triesen", "liechtenstein", ll(47.2147, 9.5631), ll(47.1070, 9.5280), vaduz},
		journeyCases[1],
		journeyCases[2],
		{"valletta-to-marsaxlokk", "malta", ll(35.8968, 14.5125), ll(35.8419, 14.5431), maltaPolice},
		{"valletta-to-birzebbuga", "malta", ll(35.8968, 14.5125), ll(35.8258, 14.5269), maltaPolice},
		{"sliema-to-rabat", "malta", ll(35.9122, 14.5042), ll(35.8818, 14.3989), maltaPolice},
		{"zebbug-to-cirkewwa", "malta", ll(35.8717, 14.4411), ll(35.9886, 14.3292), maltaPolice},
		{"birzebbuga-to-st-pauls-bay", "malta", ll(35.8258, 14.5269), ll(35.9485, 14.4016), maltaPolice},
	}
}()

// BenchmarkCorridorScaling solves the equilibrium (SkipRefine) of each
// scaling journey with mapRequest's schedule and reports the map's sites,
// the corridor's nodes and sites, the iterations and the time per
// corridor site (us-per-corridor-site): what the solve's cost follows.
func BenchmarkCorridorScaling(b *testing.B) {
	for _, c := range scalingCases {
		b.Run(c.name, func(b *testing.B) {
			in := mapInstance(b, c)
			var st *Strategy
			var err error
			start := time.Now()
			for b.Loop() {
				if st, err = Solve(context.Background(), in, Options{SkipRefine: true}); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(float64(len(in.Sites)), "sites")
			b.ReportMetric(float64(st.CorridorNodes), "corridor-nodes")
			b.ReportMetric(float64(st.CorridorSites), "corridor-sites")
			b.ReportMetric(float64(st.Iterations), "iterations")
			b.ReportMetric(st.FastestS, "fastest-s")
			b.ReportMetric(per*1e6/float64(st.CorridorSites), "us-per-corridor-site")
		})
	}
}

// BenchmarkManySlots solves the equilibrium (SkipRefine) of Balzers ->
// Ruggell and Valletta -> Mellieħa with mapRequest's windows and police
// but 24 and 48 departure slots ten minutes apart (no deadline): a
// planner's departure window of four or eight hours. It reports the
// iterations, the value and the certified lower bound, and the process's
// CPU time per solve.
func BenchmarkManySlots(b *testing.B) {
	for _, c := range []mapCase{journeyCases[0], journeyCases[2]} {
		for _, n := range []int{24, 48} {
			b.Run(fmt.Sprintf("%s/%d-slots", c.name, n), func(b *testing.B) {
				req := mapRequest(c)
				req.Deadline, req.Slots = time.Time{}, slotsEvery10(n)
				in, err := BuildInstance(context.Background(), mustGraph(b, c.graph), req, DefaultSiteModel)
				if err != nil {
					b.Fatal(err)
				}
				var st *Strategy
				cpu0 := processCPU()
				for b.Loop() {
					if st, err = Solve(context.Background(), in, Options{SkipRefine: true}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(st.Iterations), "iterations")
				b.ReportMetric(st.Value, "value")
				b.ReportMetric(st.LowerBound, "lower-bound")
			})
		}
	}
}
