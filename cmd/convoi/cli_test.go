package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLI runs convoi in-process with args and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := Run(context.Background(), env, args)
	return out.String(), errb.String(), code
}

// TestParseFlagsAnywhere: flags before, between and after positional
// arguments; "--" ends the flags; a wrong count of arguments is a usage
// error.
func TestParseFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
		data string
		code error
	}{
		{"before", []string{"--data", "D", "REF"}, []string{"REF"}, "D", nil},
		{"after", []string{"REF", "--data", "D"}, []string{"REF"}, "D", nil},
		{"equals after", []string{"REF", "--data=D"}, []string{"REF"}, "D", nil},
		{"double dash", []string{"--data", "D", "--", "-REF"}, []string{"-REF"}, "D", nil},
		{"missing", []string{"--data", "D"}, nil, "D", errUsage},
		{"too many", []string{"A", "--data", "D", "B"}, nil, "D", errUsage},
		{"bad flag after", []string{"REF", "--nope"}, nil, "", errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errb bytes.Buffer
			fs := newFlagSet(&Env{Stderr: &errb}, "x").args("REF", 1, 1)
			data := fs.String("data", "", "")
			err := parseFlags(fs, tc.args)
			if err != tc.code {
				t.Fatalf("err %v, want %v (%s)", err, tc.code, errb.String())
			}
			if err != nil {
				if !strings.Contains(errb.String(), "Usage: convoi x [flags] REF") {
					t.Errorf("usage not printed: %s", errb.String())
				}
				return
			}
			if got := fs.Args(); strings.Join(got, " ") != strings.Join(tc.want, " ") || *data != tc.data {
				t.Errorf("args %q data %q, want %q %q", got, *data, tc.want, tc.data)
			}
		})
	}
}

// TestPlanCommand: `convoi plan REF --data DIR` (flags after the reference)
// prints the demo's human summary, --format json the whole strategy.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runCLI(t, "demo", "--once", "--data", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errs)
	}
	out0 := out
	refs := regexp.MustCompile(`MC-\d{8}-0[456]`).FindAllString(out, -1)
	if len(refs) < 2 {
		t.Fatalf("demo output has no medical movements:\n%s", out)
	}
	out, errs, code = runCLI(t, "plan", refs[0], "--data", dir)
	if code != 0 {
		t.Fatalf("plan %s --data: exit %d: %s", refs[0], code, errs)
	}
	for _, want := range []string{refs[0] + " assessed", refs[0] + " planned", "attacker's best hit probability", "departures:"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n > 60 || strings.Contains(out, `"route_summaries"`) {
		t.Errorf("plan printed %d lines, JSON instead of a summary?\n%s", n, out)
	}
	out, errs, code = runCLI(t, "plan", "--format", "json", refs[1], "--data", dir)
	if code != 0 {
		t.Fatalf("plan --format json: exit %d: %s", code, errs)
	}
	var rep struct {
		Value          float64           `json:"value"`
		Routes         []json.RawMessage `json:"routes"`
		RouteSummaries []json.RawMessage `json:"route_summaries"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Routes) == 0 || len(rep.RouteSummaries) != len(rep.Routes) {
		t.Fatalf("plan --format json: %v, %d routes:\n%.300s", err, len(rep.Routes), out)
	}
	if !strings.Contains(errs, refs[1]+" planned") {
		t.Errorf("notes beside JSON go to stderr: %q", errs)
	}
	if _, errs, code := runCLI(t, "plan", "--data", dir, "--format", "yaml", refs[1]); code == 0 || !strings.Contains(errs, "--format") {
		t.Errorf("--format yaml: exit %d, %s", code, errs)
	}
	// A Rouen movement on the default Monaco graph: both ends ~900 km off
	// the map. The error says so and how to pass the right graph.
	rouen := regexp.MustCompile(`RO-\d{8}-\d\d`).FindString(out0)
	if rouen == "" {
		t.Fatalf("demo output has no Rouen movement:\n%s", out0)
	}
	out, errs, code = runCLI(t, "plan", rouen, "--data", dir)
	if code != 1 || !strings.Contains(errs, "does not cover") || !strings.Contains(errs, "--graph FILE") ||
		!strings.Contains(errs, "embedded Monaco extract") || strings.Contains(errs, "no edges") {
		t.Errorf("plan %s on the Monaco graph: exit %d\nstdout %s\nstderr %s", rouen, code, out, errs)
	}
}

// TestPlanRefusesMissingDataDir: without a database, plan and user add say
// so and create nothing (not even ./convoi-data).
func TestPlanRefusesMissingDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	missing := filepath.Join(t.TempDir(), "nope")
	for _, args := range [][]string{
		{"plan", "MC-20261207-01"},
		{"plan", "MC-20261207-01", "--data", missing},
		{"user", "add", "--username", "ops", "--role", "admin", "--data", missing},
	} {
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
			Getenv: func(k string) string {
				if k == "CONVOI_PASSWORD" {
					return "a-long-enough-password"
				}
				return ""
			}}
		code := Run(context.Background(), env, args)
		errs := env.Stderr.(*bytes.Buffer).String()
		if code != 1 || !strings.Contains(errs, "no convoi database in") || !strings.Contains(errs, "--data") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
		for _, d := range []string{"convoi-data", missing} {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("%q created %s", args, d)
			}
		}
	}
}

// TestErrorMessagesForPeople: a failing command prints the message, not
// the Go form of the error; user add names its flags.
func TestErrorMessagesForPeople(t *testing.T) {
	_, errs, code := runCLI(t, "route", "--from", "48.85,2.35", "--to", "43.73,7.42")
	if code != 1 || strings.Contains(errs, "code=") || strings.Contains(errs, "convoi error") || !strings.HasPrefix(errs, "convoi route: ") {
		t.Errorf("route far from the map: exit %d, stderr %q", code, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "--username", "crew9", "--role", "crew"}, "--officer"},
		{[]string{"user", "add", "--username", "clerk", "--role", "liaison"}, "--site"},
		{[]string{"user", "add", "--role", "admin"}, "--username"},
		{[]string{"user", "add", "--username", "x1", "--role", "boss"}, "--role"},
	} {
		_, errs, code := runCLI(t, tc.args...)
		// A subcommand's failure is named after it: "convoi user add: ...".
		if code != 1 || !strings.Contains(errs, tc.want) || strings.Contains(errs, "_id") || strings.Contains(errs, "code=") || !strings.HasPrefix(errs, "convoi user add: ") {
			t.Errorf("%q: exit %d, stderr %q; want it to name %s", tc.args, code, errs, tc.want)
		}
	}
}

// TestRouteEmbeddedDefault: route without --graph uses the embedded Monaco
// extract, as serve does; the table lists each chokepoint once.
func TestRouteEmbeddedDefault(t *testing.T) {
	out, errs, code := runCLI(t, "route", "--from", "43.7302,7.4222", "--to", "43.7442349,7.3490661", "--format", "table")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`\s((?:way|node)/\d+)`).FindStringSubmatch(line); m != nil {
			seen[m[1]]++
		}
	}
	if len(seen) < 5 || seen["node/247692673"] != 1 {
		t.Fatalf("table lists %v; want the chokepoints of the way to the A8 with the La Turbie booth:\n%s", seen, out)
	}
	for obj, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times:\n%s", obj, n, out)
		}
	}
}

// TestRouteFromRoadLeavingTheMap: a --from that lies nearest to a one-way
// road leaving the map (way 155081341 by the A8, issue 9 item 7's "no
// route" pair of scripts/compare-routing.sh) starts on the nearest road
// that leads back into the network, as the API's routes do.
func TestRouteFromRoadLeavingTheMap(t *testing.T) {
	out, errs, code := runCLI(t, "route", "--from", "43.7344044,7.4181987", "--to", "43.7610990,7.4464452")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"duration_s"`) {
		t.Fatalf("no duration in %.300s", out)
	}
}

// TestGroupHelp: commands made of subcommands list them on --help (exit 0)
// and without a subcommand (exit 2).
func TestGroupHelp(t *testing.T) {
	for group, sub := range map[string]string{"user": "add", "ambush": "solve", "graph": "build", "bench": "route",
		"audit": "verify", "seal": "keygen", "intercept": "solve"} {
		out, _, code := runCLI(t, group, "--help")
		if code != 0 || !strings.Contains(out, "Subcommands:") || !strings.Contains(out, "  "+sub+" ") {
			t.Errorf("%s --help: exit %d, stdout %q", group, code, out)
		}
		_, errs, code := runCLI(t, group)
		if code != 2 || !strings.Contains(errs, sub) {
			t.Errorf("%s: exit %d, stderr %q", group, code, errs)
		}
		_, errs, code = runCLI(t, group, sub, "--help")
		if code != 0 || !strings.Contains(errs, "Usage: convoi "+group+" "+sub) {
			t.Errorf("%s %s --help: exit %d, stderr %q", group, sub, code, errs)
		}
	}
	if _, errs, code := runCLI(t, "plan", "MC-1", "--format", "xml"); code != 2 || !strings.Contains(errs, "want text or json") {
		t.Errorf("plan --format xml: exit %d, %q", code, errs)
	}
	// "seal keygen --help" once wrote a key file named "--help".
	dir := t.TempDir()
	t.Chdir(dir)
	if _, _, code := runCLI(t, "seal", "keygen", "--help"); code != 0 {
		t.Errorf("seal keygen --help: exit %d", code)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("seal keygen --help left %v behind", left)
	}
	if out, _, code := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "loadgen") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

// TestLoadgenFailsWhenRefused: nothing listening, nothing acknowledged: a
// failed run.
func TestLoadgenFailsWhenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out, errs, code := runCLI(t, "loadgen", "--addr", addr, "--devices", "2", "--rate", "20", "--duration", "300ms")
	if code != 1 || !strings.Contains(errs, "no record acknowledged") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// TestDemoOnceCleansUp: without --data, demo --once leaves no temporary
// directory behind.
func TestDemoOnceCleansUp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, errs, code := runCLI(t, "demo", "--once"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind: %s", filepath.Join(tmp, e.Name()))
	}
}

// TestRouteDIMACSNodeIDs: --from-node and --to-node are the DIMACS file's
// ids, through `graph build` and a graph file, although the import drops
// node 1 (it can leave but not be reached) and renumbers the others.
func TestRouteDIMACSNodeIDs(t *testing.T) {
	dir := t.TempDir()
	gr, co, graph := filepath.Join(dir, "t.gr"), filepath.Join(dir, "t.co"), filepath.Join(dir, "t.graph")
	os.WriteFile(gr, []byte("p sp 5 9\na 1 2 5\na 2 3 10\na 3 2 10\na 3 4 20\na 4 3 20\na 4 5 7\na 5 4 7\na 2 5 50\na 5 2 50\n"), 0o600)
	os.WriteFile(co, []byte("p aux sp co 5\nv 1 7420000 43730000\nv 2 7421000 43731000\nv 3 7422000 43732000\nv 4 7423000 43733000\nv 5 7424000 43734000\n"), 0o600)
	if _, errs, code := runCLI(t, "graph", "build", "--dimacs", gr, "--coords", co, "-o", graph); code != 0 {
		t.Fatalf("graph build: exit %d: %s", code, errs)
	}
	out, errs, code := runCLI(t, "route", "--graph", graph, "--from-node", "2", "--to-node", "4")
	if code != 0 {
		t.Fatalf("route: exit %d: %s", code, errs)
	}
	var r routeJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Cost != 30 || len(r.Geometry) < 2 || r.Geometry[0] != [2]float64{7.421, 43.731} || r.Geometry[len(r.Geometry)-1] != [2]float64{7.423, 43.733} {
		t.Fatalf("route 2 -> 4: cost %d, geometry %v; want 30 from (7.421, 43.731) to (7.423, 43.733)", r.Cost, r.Geometry)
	}
	if _, errs, code := runCLI(t, "route", "--graph", graph, "--from-node", "1", "--to-node", "4"); code != 1 || !strings.Contains(errs, "Node 1 is not in the road graph") {
		t.Errorf("dropped node 1: exit %d, %s", code, errs)
	}
	out, errs, code = runCLI(t, "isochrone", "--graph", graph, "--at-node", "5", "--minutes", "1", "--format", "nodes")
	if code != 0 || !strings.HasPrefix(out, "5,0.000\n") || !strings.Contains(out, "\n4,0.007\n") {
		t.Errorf("isochrone from node 5: exit %d, %q %s", code, out, errs)
	}
}

// TestDemoStory: the story says the Monaco rows end at different exits,
// names the La Turbie toll plaza, explains exploitability, and lists each
// kind of route once.
func TestDemoStory(t *testing.T) {
	out, errs, code := runCLI(t, "demo", "--once")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Each row ends at its\nown exit", "TOLL: La Turbie toll plaza", "routes through La Turbie toll plaza",
		"exploitability", "exact guarantee", "where the routes leave the map:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Route rows: one line per distinguishable route, one line per exit road.
	rows := regexp.MustCompile(`(?m)^  routes? [\d, ]+\s+p=[\d.]+\s+(.*)$`).FindAllStringSubmatch(out, -1)
	exitRows := regexp.MustCompile(`(?m)^    after (.*?), at `).FindAllStringSubmatch(out, -1)
	if len(rows) < 3 || len(exitRows) < 2 {
		t.Fatalf("%d route rows, %d exit rows:\n%s", len(rows), len(exitRows), out)
	}
	for _, set := range [][][]string{rows, exitRows} {
		seen := map[string]bool{}
		for _, r := range set {
			if seen[r[1]] {
				t.Errorf("listed twice: %q\n%s", r[1], out)
			}
			seen[r[1]] = true
		}
	}
}

// TestDemoAccessURLs: the URLs the serving demo prints answer, and the one
// that needs a token says so.
func TestDemoAccessURLs(t *testing.T) {
	a, w := MustOpenDemo(t)
	var out bytes.Buffer
	printDemoAccess(&out, a, w, DefaultDemoPassword, true)
	urls := regexp.MustCompile(`http://[^\s)'"]+`).FindAllString(out.String(), -1)
	if len(urls) < 3 {
		t.Fatalf("urls %v in\n%s", urls, out.String())
	}
	for _, u := range urls {
		if strings.HasSuffix(u, "/session") {
			continue // a POST, run by the curl line itself
		}
		code := getJSON(t, a, "", strings.TrimPrefix(u, a.URL()), nil)
		switch {
		case strings.HasSuffix(u, "/openapi.json") || strings.HasSuffix(u, "/movements"):
			if code != 401 || !strings.Contains(out.String(), "token") {
				t.Errorf("%s: %d without a token", u, code)
			}
		case code != 200:
			t.Errorf("%s: %d", u, code)
		}
	}
}

// FuzzParseFlags: whatever the arguments, parsing never panics, and when
// it succeeds every argument is accounted for: each positional argument
// is one of the inputs, in order.
func FuzzParseFlags(f *testing.F) {
	f.Add("REF\x00--data\x00D")
	f.Add("--data=D\x00--\x00-x\x00y")
	f.Add("--format\x00json\x00A\x00B\x00--graph")
	f.Add("-h")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs := newFlagSet(&Env{Stderr: io.Discard}, "fuzz").args("A [B]", 0, 2)
		fs.String("data", "", "")
		fs.String("format", "text", "")
		fs.Bool("v", false, "")
		if err := parseFlags(fs, args); err != nil {
			return
		}
		i := 0
		for _, p := range fs.Args() {
			for i < len(args) && args[i] != p {
				i++
			}
			if i == len(args) {
				t.Fatalf("positional %q of %q is not an input argument in order", p, args)
			}
			i++
		}
	})
}

// TestUserAdd: a crew user is created in an existing database, linked to
// an officer that exists; an unknown officer is refused by flag name.
func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	if _, errs, code := runCLI(t, "migrate", "--data", dir); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader("a-long-enough-password\n"), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		code := Run(context.Background(), env, args)
		return out.String(), errb.String(), code
	}
	out, errs, code := run("user", "add", "--username", "ops", "--role", "admin", "--password-stdin", "--data", dir)
	if code != 0 || !strings.Contains(out, "user ops") {
		t.Fatalf("admin: exit %d: %s %s", code, out, errs)
	}
	_, errs, code = run("user", "add", "--data", dir, "--username", "crew9", "--role", "crew", "--officer", "999", "--password-stdin")
	if code != 1 || !strings.Contains(errs, "--officer 999") {
		t.Fatalf("unknown officer: exit %d: %s", code, errs)
	}
}

// TestListenHint: a listener address already taken (another convoi on
// 8080, say) is explained with the flags that move or turn off a listener.
func TestListenHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = net.Listen("tcp", l.Addr().String())
	if err == nil {
		t.Fatal("second listener on the same address")
	}
	if got := listenHint(err).Error(); !strings.Contains(got, "--osmand-addr ''") || !strings.Contains(got, "address already in use") {
		t.Errorf("listenHint: %s", got)
	}
	if other := errors.New("x"); listenHint(other) != other {
		t.Error("listenHint changed an unrelated error")
	}
}

// TestPlanTimeLimitFlag: serve and demo bound a plan's solve by
// --plan-time-limit, 30 s unless given.
func TestPlanTimeLimitFlag(t *testing.T) {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{{nil, 30 * time.Second}, {[]string{"--plan-time-limit", "5s"}, 5 * time.Second}} {
		a := &App{}
		fs := newFlagSet(env, "serve")
		appFlags(fs, env, a)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if a.PlanTimeLimit != tc.want {
			t.Errorf("%v: plan time limit %v, want %v", tc.args, a.PlanTimeLimit, tc.want)
		}
	}
}
