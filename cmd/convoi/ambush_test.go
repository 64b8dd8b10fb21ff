package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestAmbushSolve(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), env, []string{"ambush", "solve", "--instance", "../../ambush/testdata/two-routes.json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var st struct {
		Value  float64 `json:"value"`
		Routes []struct {
			Probability float64 `json:"probability"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if math.Abs(st.Value-0.8/3) > 1e-9 || len(st.Routes) != 2 {
		t.Errorf("value %v with %d routes, want 0.2667 with 2", st.Value, len(st.Routes))
	}

	out.Reset()
	errb.Reset()
	env.Stdin = strings.NewReader(`{"nodes":[]}`)
	if code := Run(context.Background(), env, []string{"ambush", "solve", "--instance", "-"}); code != 1 || !strings.Contains(errb.String(), "no nodes") {
		t.Errorf("invalid instance: exit %d, stderr %q", code, errb.String())
	}
	if code := Run(context.Background(), env, []string{"ambush", "solve"}); code != 2 {
		t.Errorf("missing --instance: exit %d", code)
	}

	// A time limit spent at once: the strategy of the first iteration,
	// polished, with its guarantee as value and a certified bound below
	// the game's value (0.0788: docs/ambush.md).
	out.Reset()
	if code := Run(context.Background(), env, []string{"ambush", "solve", "--instance", "../../ambush/testdata/timed-grid.json", "--time-limit", "1ns"}); code != 0 {
		t.Fatalf("--time-limit: exit %d: %s", code, errb.String())
	}
	var cut struct {
		Value      float64 `json:"value"`
		LowerBound float64 `json:"lower_bound"`
		Converged  bool    `json:"converged"`
		Iterations int     `json:"iterations"`
	}
	if err := json.Unmarshal(out.Bytes(), &cut); err != nil {
		t.Fatal(err)
	}
	if cut.Converged || cut.Iterations != 1 || cut.Value < 0.0788-1e-4 || cut.LowerBound > 0.0788+1e-4 {
		t.Errorf("cut short: %+v", cut)
	}
}
