package ambush

import (
	"bytes"
	"context"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
)

var graphs struct {
	sync.Mutex
	m map[string]*roadnet.Graph
}

// mustGraph imports a bundled extract once per test binary.
func mustGraph(tb testing.TB, name string) *roadnet.Graph {
	tb.Helper()
	graphs.Lock()
	defer graphs.Unlock()
	if g := graphs.m[name]; g != nil {
		return g
	}
	var data []byte
	switch name {
	case "monaco":
		data = osmdata.Monaco
	case "liechtenstein", "malta":
		b, err := os.ReadFile("../testdata/osm/" + name + ".osm.pbf")
		if err != nil {
			tb.Fatal(err)
		}
		data = b
	case "ny":
		g := mustNY(tb)
		if graphs.m == nil {
			graphs.m = map[string]*roadnet.Graph{}
		}
		graphs.m[name] = g
		return g
	default:
		tb.Fatalf("unknown graph %q", name)
	}
	g, err := roadnet.ImportOSM(context.Background(), bytes.NewReader(data), roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if graphs.m == nil {
		graphs.m = map[string]*roadnet.Graph{}
	}
	graphs.m[name] = g
	return g
}

// mapCase is a real journey on a bundled extract.
type mapCase struct {
	name, graph string
	from, to    convoi.LatLon
	police      []convoi.LatLon
}

var mapCases = []mapCase{
	{"monaco-prison-to-eze", "monaco", convoi.LatLon{Lat: 43.7318, Lon: 7.4271}, convoi.LatLon{Lat: 43.7316, Lon: 7.3600},
		[]convoi.LatLon{{Lat: 43.73452, Lon: 7.42072}, {Lat: 43.72570, Lon: 7.41848}, {Lat: 43.74656, Lon: 7.40039}, {Lat: 43.73162, Lon: 7.35933}}},
	{"balzers-to-ruggell", "liechtenstein", convoi.LatLon{Lat: 47.0666, Lon: 9.5030}, convoi.LatLon{Lat: 47.2420, Lon: 9.5260},
		[]convoi.LatLon{{Lat: 47.1410, Lon: 9.5215}}},
}

// mapRequest is the planning request of the benchmarks: 12 departure slots
// ten minutes apart, 20-minute attacker windows every 10 minutes.
func mapRequest(c mapCase) MapRequest {
	epoch := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	req := MapRequest{From: c.from, To: c.to, Epoch: epoch, UsualSlot: -1, Police: c.police,
		Deadline: epoch.Add(170 * time.Minute), Window: 20 * time.Minute, WindowStep: 10 * time.Minute}
	req.Slots = slotsEvery10(12)
	return req
}

// slotsEvery10 is n departure slots ten minutes apart from the epoch.
func slotsEvery10(n int) []time.Duration {
	slots := make([]time.Duration, n)
	for i := range slots {
		slots[i] = time.Duration(i) * 10 * time.Minute
	}
	return slots
}

// mapInstance builds the instance of journey c with mapRequest's schedule.
func mapInstance(tb testing.TB, c mapCase) *Instance {
	tb.Helper()
	in, err := BuildInstance(context.Background(), mustGraph(tb, c.graph), mapRequest(c), DefaultSiteModel)
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

func TestMapGames(t *testing.T) {
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			g := mustGraph(t, c.graph)
			in, err := BuildInstance(context.Background(), g, mapRequest(c), DefaultSiteModel)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Sites) < 5000 || len(in.Slots) != 12 {
				t.Fatalf("%d sites and %d slots, want >= 5000 and 12", len(in.Sites), len(in.Slots))
			}
			start := time.Now()
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("lower bound %.6g (gap %.2g); %d nodes %d edges %d sites %d windows: value %.4f (fixed fastest %.4f, uniform %d alternatives %.4f), avoidable best %.4f, %d routes, extra %.0f s, exploitability %.2g, %d iterations, %v",
				st.LowerBound, st.Value-st.LowerBound, len(in.Nodes), len(in.Edges), len(in.Sites), len(in.Windows), st.Value, st.FixedFastest.Value, st.UniformAlternatives.K,
				st.UniformAlternatives.Value, st.AvoidableBest, len(st.Routes), st.ExpectedExtraS, st.Exploitability, st.Iterations, time.Since(start))
			if !st.Converged || !st.Refined || st.Exploitability > 1e-3 {
				t.Errorf("converged %v, refined %v, exploitability %g", st.Converged, st.Refined, st.Exploitability)
			}
			if st.Value > st.FixedFastest.Value+1e-9 {
				t.Errorf("value %v above the fixed fastest route's %v", st.Value, st.FixedFastest.Value)
			}
			// The relaxed bound certifies how far the heuristic timed
			// oracle can be from the optimum.
			if st.LowerBound > st.Value+1e-9 || st.Value-st.LowerBound > 1e-3 {
				t.Errorf("lower bound %v vs value %v", st.LowerBound, st.Value)
			}
			var sum float64
			for _, p := range st.Plays {
				sum += p.Probability
				r := st.Routes[p.Route]
				if r.DurationS > st.FastestS*DefaultStretch*(1+1e-9) || in.Slots[p.Slot]+r.DurationS > *in.Deadline+1e-6 {
					t.Errorf("play %+v: route of %.0f s breaks the stretch or the deadline", p, r.DurationS)
				}
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("plays sum to %v", sum)
			}
			for _, r := range st.Routes {
				rs, err := RouteSummary(g, in, r)
				if err != nil {
					t.Fatal(err)
				}
				// The summary is the driving time: the game's edge times
				// plus the turns along the route (roadnet's car profile).
				want := r.DurationS + routeTurnS(g, in, r)
				if len(rs.Geometry) < 2 || math.Abs(rs.DurationS-want) > 0.01*want+1 {
					t.Errorf("summary: %d points, %.1f s for a %.1f s route with its turns", len(rs.Geometry), rs.DurationS, want)
				}
			}
		})
	}
}

// TestMapGamesStatic solves the static game (no attacker windows) on the
// real maps, where the defender oracle is exact: the attacker's mix then
// certifies the value from below.
func TestMapGamesStatic(t *testing.T) {
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			req := mapRequest(c)
			req.Window = 0
			in, err := BuildInstance(context.Background(), mustGraph(t, c.graph), req, DefaultSiteModel)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("static: value %.4f lower bound %.4f (fixed fastest %.4f), %d routes, %d iterations", st.Value, st.LowerBound, st.FixedFastest.Value, len(st.Routes), st.Iterations)
			if !st.ExactOracle || !st.Converged || st.Exploitability > 1e-6 || math.Abs(st.LowerBound-st.Value) > 1e-6 {
				t.Errorf("exact %v converged %v exploitability %g, lower bound %v vs value %v", st.ExactOracle, st.Converged, st.Exploitability, st.LowerBound, st.Value)
			}
		})
	}
}

// BenchmarkSolveMap times Solve on the map games: "equilibrium" is the
// double oracle alone (SkipRefine), "refined" adds the selection among
// equal-value equilibria that Solve does by default.
func BenchmarkSolveMap(b *testing.B) {
	for _, c := range mapCases {
		for _, mode := range []struct {
			name string
			opt  Options
		}{{"equilibrium", Options{SkipRefine: true}}, {"refined", Options{}}} {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				g := mustGraph(b, c.graph)
				in, err := BuildInstance(context.Background(), g, mapRequest(c), DefaultSiteModel)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var st *Strategy
				for b.Loop() {
					if st, err = Solve(context.Background(), in, mode.opt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(in.Sites)), "sites")
				b.ReportMetric(float64(st.Iterations), "iterations")
				b.ReportMetric(st.Value, "value")
				b.ReportMetric(st.Exploitability, "exploitability")
			})
		}
	}
}

// TestMapGameOffMap plans from the Monaco prison to the Nice prison, beyond
// the western edge of the bundled map: the journey leaves the map through
// gateways, and the strategy spreads over several of them.
func TestMapGameOffMap(t *testing.T) {
	g := mustGraph(t, "monaco")
	c := mapCases[0]
	c.to = convoi.LatLon{Lat: 43.7102, Lon: 7.2620}
	in, err := BuildInstance(context.Background(), g, mapRequest(c), DefaultSiteModel)
	if err != nil {
		t.Fatal(err)
	}
	if in.Destination != "offmap-destination" {
		t.Fatalf("destination %q, want the off-map node", in.Destination)
	}
	st, err := Solve(context.Background(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) < 2 || st.Value >= st.FixedFastest.Value || st.Exploitability > 1e-3 {
		t.Errorf("%d routes, value %v vs fixed fastest %v, exploitability %g", len(st.Routes), st.Value, st.FixedFastest.Value, st.Exploitability)
	}
	for _, r := range st.Routes {
		rs, err := RouteSummary(g, in, r)
		if err != nil {
			t.Fatal(err)
		}
		if last := rs.Geometry[len(rs.Geometry)-1]; last != c.to {
			t.Errorf("route ends at %v, not at the off-map destination", last)
		}
		if want := r.DurationS + routeTurnS(g, in, r); rs.DurationS < want-1 || rs.DurationS > want+1 {
			t.Errorf("summary %.0f s for a %.0f s route with its turns", rs.DurationS, want)
		}
	}
	t.Logf("value %.4f (fixed fastest %.4f, uniform %.4f), %d routes, %d sites, extra %.0f s, gap %.2g", st.Value, st.FixedFastest.Value, st.UniformAlternatives.Value, len(st.Routes), len(in.Sites), st.ExpectedExtraS, st.Value-st.LowerBound)
}

func BenchmarkBuildInstance(b *testing.B) {
	for _, c := range mapCases {
		b.Run(c.name, func(b *testing.B) {
			g := mustGraph(b, c.graph)
			for b.Loop() {
				if _, err := BuildInstance(context.Background(), g, mapRequest(c), DefaultSiteModel); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// niceInstance is the demo's westbound movement as the Service builds it:
// the Monaco courthouse to the Nice prison (off the map), the demo's police
// and gendarmerie posts, level crossings forbidden (escort level 3), 12
// slots 10 minutes apart ending at the latest on-time departure.
func niceInstance(tb testing.TB) (*roadnet.Graph, *Instance) {
	tb.Helper()
	g := mustGraph(tb, "monaco")
	police := []convoi.LatLon{{Lat: 43.73452, Lon: 7.42072}, {Lat: 43.73211, Lon: 7.41972}, {Lat: 43.72570, Lon: 7.41848},
		{Lat: 43.72238, Lon: 7.40771}, {Lat: 43.74656, Lon: 7.40039}, {Lat: 43.73162, Lon: 7.35933}}
	req := MapRequest{From: convoi.LatLon{Lat: 43.73021, Lon: 7.42223}, To: convoi.LatLon{Lat: 43.7102, Lon: 7.2620},
		Slots: []time.Duration{0}, UsualSlot: -1, Avoid: roadnet.KindLevelCrossing, Police: police}
	in, err := BuildInstance(context.Background(), g, req, DefaultSiteModel)
	if err != nil {
		tb.Fatal(err)
	}
	fast, err := fastestS(in)
	if err != nil {
		tb.Fatal(err)
	}
	epoch := time.Date(2026, 11, 22, 13, 30, 0, 0, time.UTC)
	slots := slotsEvery10(12)
	deadline := epoch.Add(110*time.Minute + time.Duration(fast*float64(time.Second)) + time.Minute)
	in.SetSchedule(epoch, slots, 11, deadline, 20*time.Minute, 10*time.Minute)
	return g, in
}

// routeTurnS is the time roadnet charges for the turns between the route's
// consecutive graph edges.
func routeTurnS(g *roadnet.Graph, in *Instance, r StrategyRoute) float64 {
	var turns int64
	prev := roadnet.NoEdge
	for _, ei := range r.Edges {
		ref := in.Edges[ei].Ref
		if ref < 0 {
			continue
		}
		e := roadnet.EdgeID(ref)
		if prev != roadnet.NoEdge {
			turns += g.TurnCost(prev, e)
		}
		prev = e
	}
	return g.Duration(turns)
}
