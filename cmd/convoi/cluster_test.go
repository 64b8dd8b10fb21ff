package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// pgSchemaDSN returns a DSN on a fresh schema of CONVOI_TEST_POSTGRES,
// dropped at cleanup, or skips the test.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CONVOI_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL tests skipped: set CONVOI_TEST_POSTGRES=postgres://USER:PASS@127.0.0.1:5432/DB (.ci/run does)")
	}
	schema := uniqueName("cmd_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// The demo world copied from SQLite to PostgreSQL reads back the same, and
// a second copy into the now filled database is refused.
func TestCopySQLiteToPostgres(t *testing.T) {
	dsn := pgSchemaDSN(t)
	dir := t.TempDir()
	src := NewApp()
	src.DataDir, src.PasswordParams = dir, auth.TestParams
	// PostgreSQL keeps microseconds (docs/deploy.md): a clock without
	// nanoseconds makes the two stores comparable field by field.
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	src.Now = func() time.Time { return now }
	ctx := context.Background()
	if err := src.OpenStore(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := src.loadDemo(ctx, DefaultDemoPassword); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, src)
	src.Close()

	if code, out, errs := run(t, "migrate", "--store", dsn); code != 0 || !strings.Contains(out, "1 migrations applied") {
		t.Fatalf("migrate: %d %q %q", code, out, errs)
	}
	code, out, errs := run(t, "copy", "--from", dir, "--to", dsn)
	if code != 0 || !strings.Contains(out, "movements ") {
		t.Fatalf("copy: %d %q %q", code, out, errs)
	}
	if strings.Contains(out+errs, "convoi_ci:") || strings.Contains(out+errs, "password") {
		t.Fatalf("output shows the password: %q %q", out, errs)
	}
	dst := NewApp()
	dst.StoreURL = dsn
	if err := dst.OpenStore(ctx); err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if got := snapshot(t, dst); got != want {
		t.Fatalf("copied store reads\n%s\nwant\n%s", got, want)
	}
	// New rows get new IDs past the copied ones.
	s := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Tribunal de Nice", Location: convoi.LatLon{Lat: 43.70, Lon: 7.27}}
	if err := dst.S.Sites.CreateSite(ctx, s); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "copy", "--from", dir, "--to", dsn); code != 1 || !strings.Contains(errs, "already holds data") {
		t.Fatalf("second copy: %d %q", code, errs)
	}
}

// snapshot renders what a store holds, for comparison.
func snapshot(t *testing.T, a *App) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	ms, _, err := a.S.Movements.FindMovements(ctx, convoi.MovementFilter{Page: convoi.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(ms)
	for _, m := range ms {
		trs, err := a.S.Movements.FindTransitions(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		enc.Encode(trs)
		as, err := a.S.Assessments.FindAssessments(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		enc.Encode(as)
	}
	us, _, err := a.S.Users.FindUsers(ctx, convoi.UserFilter{Page: convoi.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(us)
	ts, _, err := a.S.Trackers.FindTrackers(ctx, convoi.TrackerFilter{Page: convoi.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(ts)
	ss, _, err := a.S.Sites.FindSites(ctx, convoi.SiteFilter{Page: convoi.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(ss)
	return b.String()
}

// twoNodeApps opens two nodes (Apps) on one fresh PostgreSQL schema and
// one JetStream stream of their own, with the demo world loaded through A.
func twoNodeApps(t testing.TB) (na, nb *App) {
	t.Helper()
	na, nb, _ = twoNodeDemo(t)
	return na, nb
}

// twoNodeDemo is twoNodeApps that also returns the demo world.
func twoNodeDemo(t testing.TB) (na, nb *App, w *demoWorld) {
	t.Helper()
	dsn := pgSchemaDSN(t)
	natsURL := os.Getenv("CONVOI_TEST_NATS")
	if natsURL == "" {
		t.Skip("NATS tests skipped: set CONVOI_TEST_NATS=nats://127.0.0.1:4222 (.ci/run does)")
	}
	stream := uniqueName("TEST_")
	t.Cleanup(func() {
		if nc, err := nats.Connect(natsURL); err == nil {
			js, _ := jetstream.New(nc)
			js.DeleteStream(context.Background(), stream)
			js.DeleteKeyValue(context.Background(), stream+"_leases")
			nc.Close()
		}
	})
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	node := func(name string) *App {
		a := NewApp()
		a.Addr = "127.0.0.1:0"
		a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr, a.MQTTAddr = "127.0.0.1:0", "", "", ""
		a.StoreURL, a.BusURL, a.BusStream, a.Node = dsn, natsURL, stream, name
		a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		a.PasswordParams = auth.TestParams
		a.Now = func() time.Time { return now }
		a.DataDir = t.TempDir()
		if err := a.OpenStore(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	na, nb = node("a"), node("b")
	w, err := na.loadDemo(ctx, DefaultDemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*App{na, nb} {
		if err := a.Open(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return na, nb, w
}

// Two nodes share one underway movement: exactly one of them, the holder
// of its lease, monitors it; when that node stops (releasing its leases),
// the other takes the movement over.
func TestClusterMonitorsEachMovementOnce(t *testing.T) {
	na, nb, w := twoNodeDemo(t)
	ctx := context.Background()
	m := underwayWestbound(t, na, w)
	na.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
	watching := func() (a, b bool) { return na.Monitor.Watching(m.ID), nb.Monitor.Watching(m.ID) }
	// The keepers take the lease within one renewal interval.
	owner, other := monitorOwner(t, na, nb, m.ID)
	holder, err := owner.Leases.Holder(ctx, monitorKey(m.ID))
	if err != nil || holder != owner.Node {
		t.Fatalf("lease of the movement held by %q (%v), but node %s monitors it", holder, err, owner.Node)
	}
	// Across several renewals and a movement event that reaches both nodes,
	// the other node never starts monitoring it.
	other.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if a, b := watching(); a == b {
			t.Fatalf("node a monitors: %v, node b: %v; want exactly one", a, b)
		}
	}
	// The owner stops: the other takes over within the lease TTL plus one
	// renewal.
	owner.Close()
	for start := time.Now(); !other.Monitor.Watching(m.ID); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("node %s did not take the movement over after %s stopped", other.Node, owner.Node)
		}
	}
}

// Two nodes on one PostgreSQL database and one JetStream stream: a fix a
// tracker sends to node A is stored once and its event reaches node B's
// subscribers; a user created through one node logs in on the other.
func TestTwoNodesShareStoreAndEvents(t *testing.T) {
	na, nb := twoNodeApps(t)
	ctx := context.Background()
	// Users written through A log in on B; a session ended through A is
	// refused on B within milliseconds, although B had it in its token cache.
	token := login(t, nb, "control")
	if code := getJSON(t, nb, token, "/api/v1/me", nil); code != 200 {
		t.Fatalf("GET /me on B: %d", code)
	}
	req, _ := http.NewRequest("DELETE", na.URL()+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE /session on A: %d", resp.StatusCode)
	}
	// The notification crosses NATS: allow it milliseconds, not the cache's
	// minute.
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		code := getJSON(t, nb, token, "/api/v1/me", nil)
		if code == 401 {
			break
		}
		if code != 200 || time.Since(start) > 2*time.Second {
			t.Fatalf("GET /me on B %v after logout on A: %d, want 401", time.Since(start), code)
		}
	}

	sub, err := nb.Events.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	conn, err := net.DialTimeout("tcp", na.Tracker.TeltonikaTCPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	hello, _ := hex.DecodeString("000F313233343536373839303132333435")
	frame, _ := hex.DecodeString("000000000000003508010000014f8e016420002141bbaf0f4e96a7fffa0000120000000602010047030242669c92000002c7000000009100000000000100002df3")
	conn.Write(hello)
	reply := make([]byte, 1)
	if _, err := io.ReadFull(conn, reply); err != nil || reply[0] != 1 {
		t.Fatalf("login %v %v", reply, err)
	}
	conn.Write(frame)
	if _, err := io.ReadFull(conn, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-sub.C():
			if e.Type != convoi.EventTypePosition {
				continue
			}
			if e.Position.DeviceID != "123456789012345" {
				t.Fatalf("position of %s", e.Position.DeviceID)
			}
			dev := convoi.DeviceID("123456789012345")
			ps, err := nb.S.Positions.FindPositions(ctx, convoi.PositionFilter{DeviceID: &dev})
			if err != nil || len(ps) != 1 {
				t.Fatalf("node B reads %d positions (%v), want the one stored through A", len(ps), err)
			}
			return
		case <-deadline:
			t.Fatal("node B saw no position event within 10 s")
		}
	}
}

// BenchmarkAlarmAcrossNodes measures what an operator on node B waits for
// an alarm raised on node A: from RaiseAlarm on A (stored in PostgreSQL,
// published on the JetStream stream) to the alarm event read from B's SSE
// stream over HTTP. One op is one alarm (raised, then resolved so that the
// next raise opens a new one). It reports p50 and p99.
func BenchmarkAlarmAcrossNodes(b *testing.B) {
	na, nb := twoNodeApps(b)
	ctx := context.Background()
	ms, _, err := na.S.Movements.FindMovements(ctx, convoi.MovementFilter{Page: convoi.Page{Limit: 1}})
	if err != nil || len(ms) == 0 {
		b.Fatalf("demo movement: %v", err)
	}
	token := login(b, nb, "control")
	req, _ := http.NewRequest("GET", nb.URL()+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET /stream on B: %d", resp.StatusCode)
	}
	opened := make(chan convoi.AlarmID, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			var e convoi.Event
			if json.Unmarshal([]byte(line[len("data: "):]), &e) == nil && e.Type == convoi.EventTypeAlarm &&
				e.Alarm != nil && e.Alarm.State == convoi.AlarmOpen {
				opened <- e.Alarm.ID
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	seen := time.Date(2026, 11, 21, 8, 59, 0, 0, time.UTC)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		a, created, err := na.Alarms.RaiseAlarm(ctx, &convoi.Alarm{MovementID: ms[0].ID, Rule: convoi.RuleStop,
			Severity: convoi.SeverityWarning, Detail: "stopped", FirstSeen: seen, LastSeen: seen})
		if err != nil || !created {
			b.Fatalf("raise: created %v, %v", created, err)
		}
		for got := convoi.AlarmID(0); got != a.ID; {
			select {
			case got = <-opened:
			case <-time.After(10 * time.Second):
				b.Fatalf("alarm %d did not reach B's SSE stream within 10 s", a.ID)
			}
		}
		lat = append(lat, time.Since(start))
		if _, err := na.Alarms.ResolveAlarm(ctx, a.ID, convoi.ResolutionFalseAlarm, "benchmark"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// A node that dies holding a movement's lease (its NATS connection cut
// without a release: what the cluster sees of a kill -9) loses the
// movement to the other node once the lease expires, not before. The
// survivor rebuilds the movement from the stored fixes and alarms: it
// raises the panic that arrived while no node watched the movement, does
// not raise again the panic the dead node had raised, and goes on
// monitoring live.
func TestClusterTakeoverAfterCrash(t *testing.T) {
	na, nb, w := twoNodeDemo(t)
	ctx := context.Background()
	m := underwayWestbound(t, na, w)
	na.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
	owner, other := monitorOwner(t, na, nb, m.ID)
	if len(m.Vehicles) == 0 {
		t.Fatal("the westbound movement has no vehicle")
	}
	trs, _, err := other.S.Trackers.FindTrackers(ctx, convoi.TrackerFilter{VehicleID: &m.Vehicles[0]})
	if err != nil || len(trs) == 0 {
		t.Fatalf("tracker of the van: %v", err)
	}
	dev := trs[0].DeviceID
	// Panics are ingested by the survivor as its tracker server does:
	// stored, then published. The escort went underway at the nodes'
	// fixed clock, a day before its planned departure: the rebuild must
	// replay from its start. The clocks stand still, so no unit is ever
	// silent for a signal loss.
	at, t0 := m.Route.Geometry[0], other.Now()
	panicAt := func(s int) {
		t.Helper()
		e := convoi.DeviceEvent{DeviceID: dev, TrackerID: trs[0].ID, Kind: convoi.EventPanic, Severity: convoi.SeverityCritical,
			Time: t0.Add(time.Duration(s) * time.Second), Lat: at.Lat, Lon: at.Lon}
		if _, n, err := other.S.Positions.StorePositions(ctx, nil, []convoi.DeviceEvent{e}); err != nil || n != 1 {
			t.Fatalf("store panic: %d stored, %v", n, err)
		}
		other.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeDeviceEvent, DeviceEvent: &e})
	}
	// attack returns the attack alarms of the movement.
	attack := func() []*convoi.Alarm {
		t.Helper()
		rule := convoi.RuleAttack
		as, _, err := other.S.Alarms.FindAlarms(ctx, convoi.AlarmFilter{MovementID: &m.ID, Rule: &rule})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	waitCount := func(what string, want int, within time.Duration) {
		t.Helper()
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			as := attack()
			if len(as) > 1 {
				t.Fatalf("%s: %d attack alarms, want one", what, len(as))
			}
			if len(as) == 1 && as[0].Count == want {
				return
			}
			if time.Since(start) > within {
				for _, a := range as {
					t.Logf("attack alarm %d: count %d, first %v, last %v, %s", a.ID, a.Count, a.FirstSeen, a.LastSeen, a.Detail)
				}
				t.Fatalf("%s: %d attack alarms after %v, want one with count %d (departure %v, now %v)", what, len(as), within, want, m.PlannedDeparture, other.Now())
			}
		}
	}

	panicAt(1) // raised by the owner
	waitCount("first panic, raised by the lease holder", 1, 10*time.Second)

	// The owner dies: no release, no more renewals, no more events.
	owner.NATS.Conn().Close()
	died := time.Now()
	panicAt(2) // stored while nobody watches the movement
	for !other.Monitor.Watching(m.ID) {
		if time.Since(died) > 15*time.Second {
			t.Fatalf("node %s did not take the movement over within 15 s of %s's death", other.Node, owner.Node)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(died)
	ttl := other.Leases.TTL
	t.Logf("node %s took over %v after node %s died (lease TTL %v)", other.Node, took.Round(time.Millisecond), owner.Node, ttl)
	if took < ttl/2 {
		t.Fatalf("taken over %v after the death, before the lease (TTL %v) could expire", took, ttl)
	}
	if bound := ttl + ttl/3 + 2*time.Second; took > bound {
		t.Fatalf("taken over %v after the death, want within TTL + one renewal + 2 s = %v", took, bound)
	}
	if h, err := other.Leases.Holder(ctx, monitorKey(m.ID)); err != nil || h != other.Node {
		t.Fatalf("lease held by %q (%v) after the takeover, want %s", h, err, other.Node)
	}
	// The rebuild raised the second panic from the store, and only it.
	waitCount("after the takeover", 2, 10*time.Second)
	time.Sleep(time.Second)
	waitCount("a second after the takeover", 2, 0)
	if as := attack(); !as[0].LastSeen.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("attack alarm last seen %v, want the second panic's time", as[0].LastSeen)
	}
	panicAt(3) // live, on the new holder
	waitCount("a panic after the takeover", 3, 10*time.Second)
}

// monitorOwner waits (15 s at most) for one of the two nodes to monitor
// movement id and returns it and the other; both monitoring it fails.
func monitorOwner(t *testing.T, na, nb *App, id convoi.MovementID) (owner, other *App) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		switch a, b := na.Monitor.Watching(id), nb.Monitor.Watching(id); {
		case a && b:
			t.Fatal("both nodes monitor the movement")
		case a:
			return na, nb
		case b:
			return nb, na
		}
		if time.Since(start) > 15*time.Second {
			t.Fatal("no node monitors the underway movement after 15 s")
		}
	}
}
