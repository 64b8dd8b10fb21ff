package intercept

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/convoi/convoi"
)

func mustSmall(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSmall(t *testing.T) {
	in, err := ParseInstance(bytes.NewReader(mustSmall(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Nodes) != 4 || in.Nodes[3].ID != 9007199254740000 || len(in.Edges) != 4 || in.Edges[1].TravelTimeS != 60.5 ||
		len(in.Units) != 2 || in.Units[1].Start != 2 || len(in.Routes) != 3 || len(in.Routes[2]) != 0 ||
		in.Routes[0][1] != (Visit{Node: 2, TimeS: 70}) || in.FugitiveStart != 1 || in.EscapeNodes[0] != 3 {
		t.Fatalf("parsed %+v", in)
	}
	p := mustCompile(t, in)
	// Unit 0 reaches 1 at 60 (route 0 passes at 0.001: too early), 2 at
	// 120.5 (route 0 at 70: too early), 3 at 150.5; unit 1 is at 2 at 0
	// (route 0 at 70) and reaches 3 at 30 (route 0 at 100), 0 at 120.
	// Only unit 0 at node 0 (reached at 0) catches route 1 (there at 40).
	pl, err := p.Solve(context.Background())
	if err != nil || pl.Intercepted != 2 || !pl.Optimal || pl.Positions[0] != 0 {
		t.Fatalf("plan %+v, %v", pl, err)
	}
	if n, _ := p.Evaluate([]int{0, 2}); n != 2 {
		t.Fatalf("[0 2] intercepts %d, want 2", n)
	}
	if n, _ := p.Evaluate([]int{1, 0}); n != 0 {
		t.Fatalf("[1 0] intercepts %d, want 0", n)
	}
}

// TestParseStrict: every kind of bad input is EINVALID and names the
// element at fault.
func TestParseStrict(t *testing.T) {
	good := string(mustSmall(t))
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown top-level field", `"city": "Testville"`, `"city": "Testville", "cty": 1`, `unknown field "cty"`},
		{"unknown unit field", `"start": 2,`, `"start": 2, "speed": 3,`, `units[1]: unknown field "speed"`},
		{"unknown node field", `"id": 11,`, `"id": 11, "x": 1,`, `graph.nodes[1]: unknown field "x"`},
		{"unknown graph field", `"directed": true,`, `"directed": true, "weighted": true,`, `unknown field "weighted"`},
		{"unknown variant key", `"coarsening": "none"`, `"coarsening": "none", "zoom": 2`, `variant: unknown field "zoom"`},
		{"unknown reference field", `"solver": "by hand"`, `"solver": "by hand", "gap": 0`, `reference_results: unknown field "gap"`},
		{"unknown paper solution field", `"ssr": "with_SSR"`, `"ssr": "with_SSR", "x": 0`, `paper_solutions[0]: unknown field "x"`},
		{"wrong format", `"fip-instance/v1"`, `"fip-instance/v2"`, `format`},
		{"no format", `"format": "fip-instance/v1",`, ``, `format: missing`},
		{"no horizon", `"horizon_s": 1800,`, ``, `horizon_s: missing`},
		{"negative horizon", `"horizon_s": 1800,`, `"horizon_s": -1,`, `horizon_s`},
		{"undirected", `"directed": true`, `"directed": false`, `graph.directed`},
		{"node count", `"num_nodes": 4`, `"num_nodes": 5`, `graph.num_nodes`},
		{"edge count", `"num_edges": 4`, `"num_edges": 3`, `graph.num_edges`},
		{"edge to nowhere", `[2, 3, 30]`, `[2, 4, 30]`, `graph.edges[2]`},
		{"edge fraction index", `[2, 3, 30]`, `[2.5, 3, 30]`, `graph.edges[2]`},
		{"short edge", `[2, 3, 30]`, `[2, 3]`, `graph.edges[2]`},
		{"edge of strings", `[2, 3, 30]`, `["2", 3, 30]`, `graph.edges[2]`},
		{"negative travel time", `[2, 3, 30]`, `[2, 3, -30]`, `graph.edges[2]`},
		{"node without id", `{"id": 11, `, `{`, `graph.nodes[1].id: missing`},
		{"node id as string", `"id": 11,`, `"id": "11",`, `graph.nodes[1].id`},
		{"bad latitude", `"lat": 51.94`, `"lat": 91.94`, `graph.nodes[1]`},
		{"unit start out of range", `{"start": 2,`, `{"start": 7,`, `units[1].start`},
		{"unit start as string", `{"start": 2,`, `{"start": "2",`, `units[1].start`},
		{"unit without start", `{"start": 2, `, `{`, `units[1].start: missing`},
		{"candidate out of range", `"candidates": [2, 3]`, `"candidates": [2, 4]`, `units[1].candidates[1]`},
		{"candidates unsorted", `"candidates": [2, 3]`, `"candidates": [3, 2]`, `units[1].candidates[1]`},
		{"negative delay", `"start": 2, "start_delay_s": 0.0`, `"start": 2, "start_delay_s": -1`, `units[1].start_delay_s`},
		{"no units", `"units": [`, `"unitz": [`, `unknown field "unitz"`},
		{"route visit out of range", `[0, 40.0]`, `[5, 40.0]`, `routes[1][1]`},
		{"route visit not a pair", `[0, 40.0]`, `[0, 40.0, 1]`, `routes[1][1]`},
		{"route visit of strings", `[0, 40.0]`, `["0", 40.0]`, `routes[1][1]`},
		{"route out of order", `[0, 40.0]`, `[0, 0.0]`, `routes[1][1]`},
		{"route past the horizon", `[0, 40.0]`, `[0, 1800.0]`, `routes[1][1]`},
		{"fugitive start out of range", `"fugitive_start": 1`, `"fugitive_start": 9`, `fugitive_start`},
		{"escape node out of range", `"escape_nodes": [3]`, `"escape_nodes": [-1]`, `escape_nodes[0]`},
		{"paper positions out of range", `"positions": [0, 2]`, `"positions": [0, 4]`, `paper_solutions[0].positions[1]`},
		{"paper positions count", `"positions": [0, 2]`, `"positions": [0]`, `paper_solutions[0].positions`},
		{"reference positions out of range", `"exact_optimum_positions": [0, 3]`, `"exact_optimum_positions": [0, 30]`, `reference_results.exact_optimum_positions[1]`},
		{"trailing data", "\n}\n", "\n}\n{}", `trailing data`},
		{"not JSON", `"format"`, `format`, `Instance`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := ParseInstance(strings.NewReader(strings.Replace(good, tc.old, tc.new, 1)))
			if convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(convoi.ErrorMessage(err), tc.want) {
				t.Fatalf("error %v, want EINVALID naming %q", err, tc.want)
			}
		})
	}
}

// FuzzParseInstance: any input either parses into an instance that
// validates and solves, or is a clean EINVALID error.
func FuzzParseInstance(f *testing.F) {
	small, err := os.ReadFile("testdata/small.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add([]byte(`{"format":"fip-instance/v1","horizon_s":10,"graph":{"directed":true,"nodes":[{"id":1,"lat":0,"lon":0}],"edges":[]},"units":[{"start":0}],"routes":[[[0,1]]]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInstance(bytes.NewReader(data))
		if err != nil {
			if convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("parsed instance does not validate: %v", err)
		}
		if len(in.Nodes) > 200 || len(in.Routes) > 200 || len(in.Units) > 4 {
			return // keep each input cheap to solve
		}
		p, err := Compile(in)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the incumbent and its bound only: the fuzzer wants speed
		pl, err := p.Solve(ctx)
		if err != nil || pl.Intercepted > pl.BoundIntercepted || len(pl.Positions) != len(in.Units) {
			t.Fatalf("plan %+v, %v", pl, err)
		}
	})
}

// TestSmallReferences: the fixture's stated results hold.
func TestSmallReferences(t *testing.T) {
	in, err := ParseInstance(bytes.NewReader(mustSmall(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, in)
	for _, pp := range in.Reference.Published {
		if n, _ := p.Evaluate(pp.Positions); n != pp.Intercepted {
			t.Errorf("%v intercepts %d, stated %d", pp.Positions, n, pp.Intercepted)
		}
	}
	if n, _ := p.Evaluate(in.Reference.OptimumPositions); n != in.Reference.OptimumIntercepted {
		t.Errorf("optimum %v intercepts %d, stated %d", in.Reference.OptimumPositions, n, in.Reference.OptimumIntercepted)
	}
	if g := p.Greedy(); g.Intercepted != in.Reference.GreedyIntercepted || !equalInts(g.Positions, in.Reference.GreedyPositions) {
		t.Errorf("greedy %v intercepts %d, stated %v with %d", g.Positions, g.Intercepted, in.Reference.GreedyPositions, in.Reference.GreedyIntercepted)
	}
}

// TestNearestUnitHolds: when two units can hold the one roadblock that
// matters, the plan gives it to the one there first and leaves the other
// idle at its start: the same interception, and what a commander expects.
func TestNearestUnitHolds(t *testing.T) {
	in := &Instance{
		Name: "two units, one roadblock", HorizonS: 600, FugitiveStart: -1,
		Nodes: []Node{{ID: 1, Lat: 51.90, Lon: 6.70}, {ID: 2, Lat: 51.91, Lon: 6.70}, {ID: 3, Lat: 51.92, Lon: 6.70}, {ID: 4, Lat: 51.93, Lon: 6.70}},
		Edges: []Edge{{From: 0, To: 1, TravelTimeS: 100}, {From: 1, To: 2, TravelTimeS: 10}, {From: 2, To: 3, TravelTimeS: 10}},
		// Unit 0 reaches node 2 at 110 s, unit 1 at 10 s; the route passes
		// there at 200 s and at node 3 at 210 s.
		Units:  []Unit{{Start: 0}, {Start: 1}},
		Routes: [][]Visit{{{Node: 2, TimeS: 200}, {Node: 3, TimeS: 210}}},
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, in)
	pl, err := p.Solve(context.Background())
	if err != nil || pl.Intercepted != 1 || !pl.Optimal {
		t.Fatalf("plan %+v, %v", pl, err)
	}
	if v := pl.Positions[1]; p.RoutesCut(1, v) != 1 || p.RoutesCut(0, pl.Positions[0]) != 0 || pl.Positions[0] != 0 {
		t.Errorf("positions %v: want unit 1 (there at 10 s) holding the roadblock and unit 0 (110 s) idle at its start", pl.Positions)
	}
	// A unit only goes to its candidates: unit 1 limited to its start and
	// node 3 holds node 3, and unit 0, limited to node 2, holds that.
	in.Units[0].Candidates, in.Units[1].Candidates = []int{2}, []int{1, 3}
	p = mustCompile(t, in)
	if pl, err = p.Solve(context.Background()); err != nil || pl.Intercepted != 1 {
		t.Fatalf("plan %+v, %v", pl, err)
	}
	for u, v := range pl.Positions {
		if !slices.Contains(in.Units[u].Candidates, v) {
			t.Errorf("positions %v: unit %d at %d, not one of its candidates %v", pl.Positions, u, v, in.Units[u].Candidates)
		}
	}
}
