package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestInterceptSolve(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), env, []string{"intercept", "solve", "--instance", "../../testdata/intercept/winterswijk.json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var pl struct {
		Intercepted int      `json:"intercepted"`
		Fraction    float64  `json:"fraction"`
		Positions   []int    `json:"positions"`
		Optimal     bool     `json:"optimal"`
		Bound       float64  `json:"bound"`
		ElapsedMS   *float64 `json:"elapsed_ms"`
	}
	if err := json.Unmarshal(out.Bytes(), &pl); err != nil {
		t.Fatal(err)
	}
	if pl.Intercepted != 750 || pl.Fraction != 0.75 || len(pl.Positions) != 3 || !pl.Optimal || pl.Bound != 0.75 || pl.ElapsedMS == nil {
		t.Errorf("plan %s", out.Bytes())
	}

	errb.Reset()
	env.Stdin = strings.NewReader(`{"format":"fip-instance/v1","horizon_s":10,"graph":{"directed":true,"nodes":[{"id":1,"lat":0,"lon":0}],"edges":[]},"units":[{"start":3}],"routes":[[[0,1]]]}`)
	if code := Run(context.Background(), env, []string{"intercept", "solve", "--instance", "-"}); code != 1 || !strings.Contains(errb.String(), "units[0].start") {
		t.Errorf("bad reference: exit %d, stderr %q", code, errb.String())
	}
	if code := Run(context.Background(), env, []string{"intercept", "solve"}); code != 2 {
		t.Errorf("missing --instance: exit %d", code)
	}
	if code := Run(context.Background(), env, []string{"intercept"}); code != 2 {
		t.Errorf("missing solve: exit %d", code)
	}
}
