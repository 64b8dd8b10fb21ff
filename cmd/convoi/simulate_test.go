package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/internal/captest"
	"github.com/convoi/convoi/monitor"
	"github.com/convoi/convoi/sqlite"
)

// alarmLine matches what simulate prints for each alarm the server opens.
var alarmLine = regexp.MustCompile(`(?m)^ALARM #\d+ (\w+) (\w+) at (.*?) \(\d\d:\d\d:\d\d `)

func runSim(t *testing.T, args ...string) (string, [][]string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), env, append([]string{"simulate"}, args...)); code != 0 {
		t.Fatalf("simulate %v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
	}
	return out.String(), alarmLine.FindAllStringSubmatch(out.String(), -1)
}

// TestSimulateRammingEndToEnd runs the Incarville pattern through the real
// app: the van's Teltonika box over TCP, the car and a crew phone over
// OsmAnd HTTP, the monitor on the bus, the sqlite alarm store. One attack
// alarm: a critical attack at the toll booth or on its approach. The only
// other alarm allowed is the lateness warning, which the monitor keeps
// apart from the attack (the court must hear of it) and which comes within
// the run when the drawn departure leaves little slack.
func TestSimulateRammingEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	out, alarms := runSim(t, "--scenario", "ramming", "--speed", "50", "--wait", "3s")
	// The attackers wait for the escort at the toll booth and strike on
	// its approach, where the link road from Monaco reaches the La Turbie
	// junction (a ramp), or at the booth when that leaves them a way out.
	if len(alarms) == 0 || alarms[0][1] != "critical" || alarms[0][2] != "attack" || !(strings.Contains(alarms[0][3], "toll booth") || strings.HasPrefix(alarms[0][3], "ramp")) {
		t.Fatalf("alarms %q, want first a critical attack at the toll booth or on its approach\n%s", alarms, out)
	}
	for _, a := range alarms[1:] {
		if a[1] != "warning" || a[2] != "late" {
			t.Fatalf("alarms %q, want after the attack at most the lateness warning\n%s", alarms, out)
		}
	}
	if len(alarms) > 2 {
		t.Fatalf("alarms %q, want the attack and at most one lateness warning\n%s", alarms, out)
	}
	if !strings.Contains(out, "the van is rammed") {
		t.Fatalf("no ramming in\n%s", out)
	}
}

// TestSimulateCleanEndToEnd drives the same escort clean: no alarm.
func TestSimulateCleanEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	out, alarms := runSim(t, "--scenario", "clean", "--speed", "50", "--wait", "2s")
	if len(alarms) != 0 {
		t.Fatalf("clean drive raised %q\n%s", alarms, out)
	}
	if !strings.Contains(out, "1 alarm(s)") && !strings.Contains(out, "0 alarm(s)") {
		t.Fatalf("no summary in\n%s", out)
	}
}

// TestDemoTakenPortGoesOn: a listener whose port is taken is left off with
// a note; the others stay.
func TestDemoTakenPortGoesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := NewApp()
	a.Addr, a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0"
	a.MQTTAddr = ln.Addr().String()
	notes := a.freeListeners()
	if len(notes) != 1 || !strings.Contains(notes[0], "MQTT broker listener on "+ln.Addr().String()+" left off") || a.MQTTAddr != "" {
		t.Fatalf("notes %q, MQTT %q: want the MQTT listener left off with its reason", notes, a.MQTTAddr)
	}
	if a.TeltonikaAddr == "" || a.OsmAndAddr == "" {
		t.Fatal("free listeners were left off too")
	}
	a.Addr = ln.Addr().String()
	notes = a.freeListeners()
	if len(notes) != 1 || !strings.HasSuffix(a.Addr, ":0") {
		t.Fatalf("taken API address: notes %q, addr %q: want a free port instead", notes, a.Addr)
	}
}

// TestSimulateScenariosEndToEnd: each scenario through the real app raises
// exactly its alarm.
func TestSimulateScenariosEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives whole escorts")
	}
	for _, c := range []struct{ scenario, rule string }{
		{"deviation", "deviation"}, {"signal-loss", "signal_loss"}, {"late", "late"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			t.Parallel()
			out, alarms := runSim(t, "--scenario", c.scenario, "--speed", "25", "--wait", "3s", "--seed", "2")
			if len(alarms) != 1 || alarms[0][2] != c.rule {
				t.Fatalf("alarms %q, want exactly one %s\n%s", alarms, c.rule, out)
			}
		})
	}
}

// TestRestartMidDriveEndToEnd stops the whole app in the middle of a drive
// that deviates and starts a new one on the same data directory: the
// deviation that began before the restart is raised once, after it; a
// restart after the alarm does not raise it again.
func TestRestartMidDriveEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	for _, c := range []struct {
		name  string
		after time.Duration // restart this long after the van's first fix out of the corridor
	}{{"before detection", 4 * time.Second}, {"after detection", 40 * time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			open := func() *App {
				a := NewApp()
				a.DataDir = dir
				a.Addr, a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr, a.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0", ""
				a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
				a.PasswordParams = auth.TestParams
				if err := a.OpenStore(ctx); err != nil {
					t.Fatal(err)
				}
				return a
			}
			a := open()
			w, err := a.loadDemo(ctx, DefaultDemoPassword)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.OpenEngines(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.Open(ctx); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			sim := &simulation{app: a, out: &out, speed: 25, seed: 3}
			e, err := sim.putOnRoad(ctx, w, escortWestbound, "deviation", "")
			if err != nil {
				t.Fatal(err)
			}
			route, err := monitor.NewPlannedRoute(a.Graph, e.m.Route, 70)
			if err != nil {
				t.Fatal(err)
			}
			var van *simUnit
			for _, u := range e.units {
				if u.protocol == convoi.ProtocolTeltonika {
					van = u
				}
			}
			var out1 time.Time
			for _, s := range van.samples {
				if d, _ := route.Project(s.Fix); d > 45 {
					out1 = s.At
					break
				}
			}
			if out1.IsZero() {
				t.Fatal("the van never left the route")
			}
			cut := out1.Add(c.after)
			split := func(before bool) *simEscort {
				part := &simEscort{m: e.m}
				for _, u := range e.units {
					cu := *u
					cu.samples = nil
					for _, s := range u.samples {
						if s.At.Before(cut) == before {
							cu.samples = append(cu.samples, s)
						}
					}
					cu.events = nil
					part.units = append(part.units, &cu)
				}
				return part
			}
			if err := sim.drive(ctx, []*simEscort{split(true)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // the last frames stored
			a.Close()

			a2 := open()
			defer a2.Close()
			if err := a2.OpenEngines(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a2.Open(ctx); err != nil {
				t.Fatal(err)
			}
			sim.app = a2
			if err := sim.drive(ctx, []*simEscort{split(false)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			id := e.m.ID
			as, _, err := a2.Alarms.FindAlarms(ctx, convoi.AlarmFilter{MovementID: &id, Page: convoi.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			// The oracle: every fix the server stored, replayed at once
			// through a fresh engine, as if nothing had restarted.
			ref := &replaySink{}
			m := monitor.New(a2.Graph)
			m.Movements, m.Trackers, m.Positions, m.Alarms = a2.DBMovements(), sqlite.NewTrackerService(a2.DB), sqlite.NewPositionService(a2.DB), ref
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			same := len(as) == len(ref.alarms)
			deviation := false
			for _, x := range as {
				deviation = deviation || x.Rule == convoi.RuleDeviation
				found := false
				for _, y := range ref.alarms {
					found = found || x.Rule == y.Rule && x.Count == y.Count && x.FirstSeen.Equal(y.FirstSeen)
				}
				same = same && found
			}
			if !same || !deviation {
				for _, x := range as {
					t.Logf("stored: %s count %d first %s: %s", x.Rule, x.Count, x.FirstSeen, x.Detail)
				}
				for _, x := range ref.alarms {
					t.Logf("replayed: %s count %d first %s: %s", x.Rule, x.Count, x.FirstSeen, x.Detail)
				}
				t.Fatal("the alarms across the restart differ from a replay of the same fixes without one")
			}
		})
	}
}

// replaySink merges alarms as the store does, in memory.
type replaySink struct{ alarms []*convoi.Alarm }

func (s *replaySink) RaiseAlarm(_ context.Context, a *convoi.Alarm) (*convoi.Alarm, bool, error) {
	for _, o := range s.alarms {
		if o.MovementID == a.MovementID && o.Rule == a.Rule {
			o.Count++
			return o, false, nil
		}
	}
	c := *a
	c.Count = 1
	s.alarms = append(s.alarms, &c)
	return &c, true, nil
}

// TestDemoRammingResponse: the demo's live ramming continues into the
// response. The simulator drives the westbound escort (x60) into the
// ramming at the toll booth; on the monitor's critical attack alarm the
// commander declares the incident from it through the API; reachability
// and the roadblock plan follow, and a sighting on the Basse Corniche
// re-plans.
func TestDemoRammingResponse(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	a, w := openUIDemo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	sim := &simulation{app: a, out: &out, speed: 60, seed: 1}
	responded := make(chan struct{})
	sim.onAttack = func(al *convoi.Alarm) {
		defer close(responded)
		text, err := a.respondToAttack(ctx, al, DefaultDemoPassword)
		if err != nil {
			text = "RESPONSE FAILED: " + err.Error() + "\n"
		}
		sim.printf("%s", text)
	}
	stop := sim.printAlarms(ctx)
	e, err := sim.putOnRoad(ctx, w, escortWestbound, "ramming", "toll_booth")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- sim.drive(ctx, []*simEscort{e}) }()
	select {
	case <-responded:
	case err := <-errc:
		t.Fatalf("the drive ended before the response: %v\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("no attack alarm and response within 3 min\n%s", out.String())
	}
	cancel()
	<-errc
	stop()
	text := out.String()
	t.Log(text)
	for _, want := range []string{"critical attack", "the commander declares incident", "resolved as incident declared",
		"Reachable by car from the attack: 5 min", "Roadblock plan at", "Sighting at", "re-planned "} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// The ramming is where the attackers still have ways out, so the
	// response has something to plan: areas of square kilometres and
	// roadblocks that cut most of the escape routes before any sighting
	// (not the one-way ramp past the toll booths, which leads only out of
	// the map: 0.7 km² and nothing to cut).
	if m := regexp.MustCompile(`Reachable by car from the attack: 5 min ([\d.]+) km², 10 min ([\d.]+) km²`).FindStringSubmatch(text); m == nil {
		t.Errorf("no reachability areas in\n%s", text)
	} else if a5, _ := strconv.ParseFloat(m[1], 64); a5 < 2 {
		t.Errorf("5-minute area %.1f km² from the ramming, want at least 2 km²", a5)
	}
	if m := regexp.MustCompile(`Roadblock plan at [\d:]+ [A-Z]+: (\d+) of (\d+) routes cut \(([\d.]+)%`).FindStringSubmatch(text); m == nil {
		t.Errorf("no roadblock plan in\n%s", text)
	} else if pct, _ := strconv.ParseFloat(m[3], 64); pct < 50 {
		t.Errorf("the first plan cuts %s of %s routes (%.1f%%), want at least half", m[1], m[2], pct)
	}
	// The store agrees: the incident is the alarm's, the alarm is resolved
	// as incident declared, the movement is in incident.
	admin := convoi.NewContextWithUser(context.Background(), w.userByName("commander"))
	incs, _, err := a.S.Incidents.FindIncidents(admin, convoi.IncidentFilter{})
	if err != nil || len(incs) != 1 || incs[0].AlarmID == 0 || incs[0].MovementID != e.m.ID || incs[0].PlaceName != demoRammingPlaceName {
		t.Fatalf("incidents %+v, %v; want one, from the alarm, on %s, at %s", incs, err, e.m.Ref, demoRammingPlaceName)
	}
	al, err := a.Alarms.FindAlarmByID(admin, incs[0].AlarmID)
	if err != nil || al.Rule != convoi.RuleAttack || al.State != convoi.AlarmResolved || al.Resolution != convoi.ResolutionIncident {
		t.Fatalf("alarm of the incident: %+v, %v", al, err)
	}
	sg, err := a.S.Incidents.FindSightings(admin, incs[0].ID)
	if err != nil || len(sg) != 1 {
		t.Fatalf("sightings %v, %v", sg, err)
	}
	m, err := a.S.Movements.FindMovementByID(admin, e.m.ID)
	if err != nil || m.State != convoi.StateIncident {
		t.Fatalf("movement %v, %v; want in incident", m, err)
	}
	// The alerts the live demo sent partner forces (the outbox), valid
	// against the CAP 1.2 XML schema.
	dir := filepath.Join(a.DataDir, "alerts")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("outbox %s: %d alerts, %v", dir, len(entries), err)
	}
	var names []string
	var docs [][]byte
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		names, docs = append(names, en.Name()), append(docs, b)
	}
	t.Run("CAP 1.2 schema", func(t *testing.T) { captest.AssertValid(t, names, docs...) })
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPassProbability checks the ramming scenario's odds: the probability
// of the routes whose chokepoints match the place (kind or name, an
// underscore for a space), and a number of draws that misses such a
// route less than once in a billion runs.
func TestPassProbability(t *testing.T) {
	rep := &ambush.PlanReport{
		Strategy: &ambush.Strategy{Routes: []ambush.StrategyRoute{{Probability: 0.5}, {Probability: 0.3}, {Probability: 0.2}}},
		RouteSummaries: []convoi.RouteSummary{
			{Chokepoints: []string{"bridge Pont de la Siagne"}},
			{Chokepoints: []string{"ramp", "toll_booth Monaco"}},
			{Chokepoints: []string{"toll_booth La Turbie", "toll_booth Monaco"}},
		},
	}
	for _, c := range []struct {
		place string
		want  float64
	}{{"toll_booth", 0.5}, {"toll booth", 0.5}, {"Monaco", 0.5}, {"la turbie", 0.2}, {"bridge", 0.5}, {"tunnel", 0}} {
		if got := passProbability(rep, c.place); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("passProbability(%q) = %g, want %g", c.place, got, c.want)
		}
	}
	if got := passProbability(&ambush.PlanReport{}, "toll_booth"); got != 0 {
		t.Errorf("no strategy: %g, want 0", got)
	}
	for _, p := range []float64{0.01, 0.05, 0.128, 0.5, 0.9} {
		n := drawsToPass(p)
		if miss := math.Pow(1-p, float64(n)); miss > 1e-9 && n < 2000 {
			t.Errorf("p %g: %d draws all miss with probability %g", p, n, miss)
		}
		if n < 20 || n > 2000 {
			t.Errorf("p %g: %d draws, want 20-2000", p, n)
		}
	}
	if n := drawsToPass(0.128); n < 100 || n > 200 {
		t.Errorf("Monaco's toll booth (p 0.128): %d draws", n)
	}
	if drawsToPass(1) != 20 || drawsToPass(1e-6) != 2000 {
		t.Errorf("drawsToPass(1) = %d, drawsToPass(1e-6) = %d", drawsToPass(1), drawsToPass(1e-6))
	}
}
