package ambush

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/convoi/convoi"
)

func TestParseInstanceErrors(t *testing.T) {
	const ok = `{"nodes":[{"id":"a"},{"id":"b"}],"edges":[{"from":"a","to":"b","time_s":10}],
		"origin":"a","destination":"b","slots_s":[0,60],"sites":[{"id":"s","edge":0,"p":0.5}]}`
	if _, err := UnmarshalInstance([]byte(ok)); err != nil {
		t.Fatalf("valid instance: %v", err)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not json", `{`, "not valid JSON"},
		{"unknown field", strings.Replace(ok, `"origin"`, `"orign":"a","origin"`, 1), "unknown field"},
		{"trailing", ok + `{}`, "trailing data"},
		{"no nodes", `{"nodes":[],"origin":"a","destination":"b","slots_s":[0],"sites":[]}`, "no nodes"},
		{"duplicate node", strings.Replace(ok, `{"id":"b"}`, `{"id":"a"}`, 1), "duplicate node"},
		{"dangling edge", strings.Replace(ok, `"to":"b"`, `"to":"x"`, 1), "unknown node"},
		{"zero time", strings.Replace(ok, `"time_s":10`, `"time_s":0`, 1), "travel time"},
		{"same ends", strings.Replace(ok, `"destination":"b"`, `"destination":"a"`, 1), "same node"},
		{"no slots", strings.Replace(ok, `"slots_s":[0,60]`, `"slots_s":[]`, 1), "no departure slots"},
		{"unsorted slots", strings.Replace(ok, `"slots_s":[0,60]`, `"slots_s":[60,0]`, 1), "strictly increasing"},
		{"bad p", strings.Replace(ok, `"p":0.5`, `"p":1.5`, 1), "hit probability"},
		{"zero p", strings.Replace(ok, `"p":0.5`, `"p":0`, 1), "hit probability"},
		{"site on both", strings.Replace(ok, `"edge":0`, `"edge":0,"node":"a"`, 1), "exactly one"},
		{"site edge out of range", strings.Replace(ok, `"edge":0`, `"edge":3`, 1), "not an edge index"},
		{"stretch below 1", strings.Replace(ok, `"slots_s"`, `"stretch":0.5,"slots_s"`, 1), "stretch"},
		{"empty window", strings.Replace(ok, `"slots_s"`, `"windows_s":[[5,5]],"slots_s"`, 1), "window 0"},
		{"usual slot", strings.Replace(ok, `"slots_s"`, `"usual_slot":2,"slots_s"`, 1), "usual_slot"},
		{"huge number", strings.Replace(ok, `"time_s":10`, `"time_s":1e400`, 1), "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalInstance([]byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(convoi.ErrorMessage(err), tc.want) {
				t.Errorf("error %v, want EINVALID containing %q", err, tc.want)
			}
			if strings.Contains(convoi.ErrorMessage(err), "json: ") {
				t.Errorf("error %q shows Go's json: prefix", convoi.ErrorMessage(err))
			}
		})
	}
}

func TestSolveInfeasible(t *testing.T) {
	const base = `{"nodes":[{"id":"a"},{"id":"b"},{"id":"c"}],"edges":[{"from":"a","to":"b","time_s":100,"tags":["toll_booth"]}],
		"origin":"a","destination":"b","slots_s":[0,60],"sites":[{"id":"s","edge":0,"p":0.5}]`
	for _, tc := range []struct{ name, extra, want string }{
		{"deadline", `,"deadline_s":90}`, "deadline"},
		{"forbidden", `,"forbid":["toll_booth"]}`, "no allowed route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := UnmarshalInstance([]byte(base + tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Solve(context.Background(), in, Options{})
			if convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(convoi.ErrorMessage(err), tc.want) {
				t.Errorf("error %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

func TestSolveContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Solve(ctx, disjointInstance([]float64{0.5, 0.5}), Options{}); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSolveExamples(t *testing.T) {
	for _, tc := range []struct {
		file      string
		wantValue float64
	}{
		// Two routes: p 0.8 (+0.05 at the gate) and 0.4 (+0.05): the
		// attacker's best is the toll (0.8 x) or the bend (0.4 (1-x)),
		// equalised at x = 1/3: 0.8/3 = 0.2667, above the gate's 0.05.
		{"two-routes.json", 0.8 / 3},
		{"timed-grid.json", -1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in := mustReadInstance(t, "testdata/"+tc.file)
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantValue >= 0 && math.Abs(st.Value-tc.wantValue) > 1e-9 {
				t.Errorf("value %v, want %v", st.Value, tc.wantValue)
			}
			if st.Exploitability > 1e-6 || !st.Converged {
				t.Errorf("exploitability %g converged %v", st.Exploitability, st.Converged)
			}
			if st.Value > st.FixedFastest.Value+1e-12 || st.Value > st.UniformAlternatives.Value+1e-12 {
				t.Errorf("value %v above a baseline (fixed %v, uniform %v)", st.Value, st.FixedFastest.Value, st.UniformAlternatives.Value)
			}
			// The report survives a JSON round trip.
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var back Strategy
			if err := json.Unmarshal(b, &back); err != nil || back.Value != st.Value || len(back.Plays) != len(st.Plays) {
				t.Errorf("round trip: %v", err)
			}
		})
	}
}

func mustReadInstance(tb testing.TB, path string) *Instance {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	in, err := ParseInstance(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

func FuzzParseInstance(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := UnmarshalInstance(b)
		if err != nil {
			if convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("error code %q for %v", convoi.ErrorCode(err), err)
			}
			return
		}
		// A valid instance survives a round trip.
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalInstance(out); err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if len(in.Nodes) > 40 || len(in.Edges) > 120 || len(in.Slots) > 8 || len(in.Windows) > 8 {
			return
		}
		st, err := Solve(context.Background(), in, Options{MaxIterations: 200})
		if err != nil {
			if c := convoi.ErrorCode(err); c != convoi.EINVALID {
				t.Fatalf("solve: %v", err)
			}
			return
		}
		var sum float64
		for _, p := range st.Plays {
			sum += p.Probability
		}
		if math.Abs(sum-1) > 1e-6 || st.Value < -1e-12 || st.Value > 1+1e-12 {
			t.Fatalf("strategy sums to %v, value %v", sum, st.Value)
		}
		if st.Converged && st.Exploitability > 1e-6 {
			t.Fatalf("exploitability %v", st.Exploitability)
		}
	})
}
