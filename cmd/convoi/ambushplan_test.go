package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestAmbushPlan plans the Monaco prison to Eze journey of the ambush
// tests from the command line, in JSON and as the demo's summary.
func TestAmbushPlan(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	args := []string{"ambush", "plan", "--graph", "../../osmdata/monaco.osm.pbf", "--from", "43.7318,7.4271", "--to", "43.7316,7.3600",
		"--slots", "4", "--deadline", "90m", "--police", "43.73452,7.42072", "--police", "43.73162,7.35933", "--epoch", "2026-03-02T07:00:00Z"}
	if code := Run(context.Background(), env, append(args, "--format", "json")); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res ambushPlanJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	st := res.Strategy
	if st == nil || len(st.Routes) == 0 || len(res.RouteSummaries) != len(st.Routes) {
		t.Fatalf("strategy %+v with %d summaries", st, len(res.RouteSummaries))
	}
	if st.Value <= 0 || st.Value > st.FixedFastest.Value+1e-9 || st.LowerBound > st.Value+1e-9 {
		t.Errorf("value %v, fixed fastest %v, lower bound %v", st.Value, st.FixedFastest.Value, st.LowerBound)
	}
	if st.CorridorSites <= 0 || st.CorridorSites >= st.Sites {
		t.Errorf("%d corridor sites of %d", st.CorridorSites, st.Sites)
	}
	var sum float64
	for _, d := range st.Departures {
		sum += d.Probability
		if d.Slot >= 4 {
			t.Errorf("departure slot %d of 4", d.Slot)
		}
	}
	if math.Abs(sum-1) > 1e-9 || res.SolveS <= 0 {
		t.Errorf("departures sum to %v, solve %v s", sum, res.SolveS)
	}

	out.Reset()
	if code := Run(context.Background(), env, args); code != 0 {
		t.Fatalf("text: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"candidate ambush sites", "attacker's best hit probability", "departures: 08:00 CET", "certified lower bound", "solved in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	for _, bad := range [][]string{
		{"ambush", "plan", "--graph", "../../osmdata/monaco.osm.pbf", "--from", "43.7318,7.4271"},
		{"ambush", "plan", "--graph", "x", "--from", "1,2", "--to", "3,4", "--police", "north"},
	} {
		errb.Reset()
		if code := Run(context.Background(), env, bad); code != 2 {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errb.String())
		}
	}
	errb.Reset()
	if code := Run(context.Background(), env, append(args[:len(args):len(args)], "--slots", "0")); code != 1 || !strings.Contains(errb.String(), "--slots") {
		t.Errorf("--slots 0: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := Run(context.Background(), env, append(args[:len(args):len(args)], "--time-limit", "-1s")); code != 1 || !strings.Contains(errb.String(), "--time-limit") {
		t.Errorf("--time-limit -1s: exit %d, stderr %q", code, errb.String())
	}

	// A time limit spent at the first iteration: the best strategy found,
	// bracketed by its guarantee and the certified lower bound.
	out.Reset()
	if code := Run(context.Background(), env, append(args[:len(args):len(args)], "--time-limit", "1ns", "--format", "json")); code != 0 {
		t.Fatalf("--time-limit: exit %d: %s", code, errb.String())
	}
	var cut ambushPlanJSON
	if err := json.Unmarshal(out.Bytes(), &cut); err != nil {
		t.Fatal(err)
	}
	if c := cut.Strategy; c.Converged || c.Iterations != 1 || c.Value < st.Value-1e-9 || c.LowerBound > st.Value+1e-9 {
		t.Errorf("cut short: converged %v after %d iterations, [%v, %v] around %v", c.Converged, c.Iterations, c.LowerBound, c.Value, st.Value)
	}
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), env, append(args[:len(args):len(args)], "--time-limit", "1ns", "--progress")); code != 0 {
		t.Fatalf("--time-limit text: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"the solve stopped before the equilibrium", "stopped at iteration 1 before converging: the game's value is between the certified lower bound"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.HasPrefix(errb.String(), "iteration 1 (") || !strings.Contains(errb.String(), "best guarantee so far") {
		t.Errorf("--progress printed %q", errb.String())
	}
}
