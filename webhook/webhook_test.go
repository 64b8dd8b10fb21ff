package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/webhook"
)

var t0 = time.Date(2026, 5, 14, 8, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openDB(t *testing.T, path string, c *clock) *sqlite.DB {
	t.Helper()
	db := sqlite.NewDB(path)
	db.Now = c.Now
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// receiver is a real HTTP endpoint on loopback that verifies every
// delivery like a Standard Webhooks consumer and records the accepted ones.
type receiver struct {
	*httptest.Server
	verifier *webhook.Verifier
	mu       sync.Mutex
	failNext int // answer 503 to this many more requests
	got      []map[string]any
	bodies   []string
	ids      []string
	refused  []error
}

func newReceiver(t *testing.T, secret string, c *clock) *receiver {
	r := &receiver{verifier: &webhook.Verifier{Secret: secret, Now: c.Now}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failNext > 0 {
			r.failNext--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err := r.verifier.Verify(req.Header, body); err != nil {
			r.refused = append(r.refused, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got, r.bodies, r.ids = append(r.got, m), append(r.bodies, string(body)), append(r.ids, req.Header.Get(webhook.HeaderID))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := slices.Clone(r.got)
	slices.SortFunc(got, func(a, b map[string]any) int { return int(a["sequence"].(float64) - b["sequence"].(float64)) })
	var out []string
	for _, m := range got {
		out = append(out, m["type"].(string))
	}
	return out
}

// world stores a movement and takes it through plan, release, start, an
// incident stood down, with an alarm raised at a position.
type world struct {
	db        *sqlite.DB
	m         *convoi.Movement
	dep       time.Time
	route     *convoi.RouteSummary
	alarmAt   convoi.LatLon
	startedAt time.Time
}

func buildWorld(t *testing.T, db *sqlite.DB, c *clock) *world {
	ctx := convoi.NewContextWithUser(context.Background(), &convoi.User{ID: 1, Role: convoi.RoleAdmin})
	sites := sqlite.NewSiteService(db)
	prison := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt", Location: convoi.LatLon{Lat: 43.7310, Lon: 7.4190}}
	court := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}}
	must(t, sites.CreateSite(ctx, prison))
	must(t, sites.CreateSite(ctx, court))
	d := &convoi.Detainee{Name: "Jean Dupont", LegalStatus: convoi.LegalStatusRemand, SiteID: prison.ID}
	must(t, sqlite.NewDetaineeService(db).CreateDetainee(ctx, d))
	van := &convoi.Vehicle{Registration: "AA-001-MC", Class: convoi.VehicleCellularVan, Capacity: 2, SiteID: prison.ID}
	must(t, sqlite.NewVehicleService(db).CreateVehicle(ctx, van))
	ms := sqlite.NewMovementService(db)
	m := &convoi.Movement{Ref: "MC-2026-0042", DetaineeID: d.ID, FromSiteID: prison.ID, ToSiteID: court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: t0.Add(26 * time.Hour), Requester: "Juge Martin"}
	must(t, ms.CreateMovement(ctx, m))
	w := &world{db: db, m: m, dep: t0.Add(24*time.Hour + 17*time.Minute + 23*time.Second),
		route: &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.731234, Lon: 7.419876}, {Lat: 43.730111, Lon: 7.422333}},
			DistanceM: 4123.5, DurationS: 731, Chokepoints: []string{"Péage de La Turbie"}},
		alarmAt: convoi.LatLon{Lat: 43.738765, Lon: 7.411234}}
	step := func(a convoi.Action, upd *convoi.MovementUpdate, reason string) {
		t.Helper()
		_, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: a, Update: upd, Reason: reason})
		must(t, err)
	}
	lvl := convoi.EscortLevel(3)
	step(convoi.ActionAssess, &convoi.MovementUpdate{EscortLevel: &lvl}, "")
	step(convoi.ActionPlan, &convoi.MovementUpdate{PlannedDeparture: &w.dep, Route: w.route,
		Vehicles: &[]convoi.VehicleID{van.ID}}, "")
	step(convoi.ActionRelease, nil, "")
	c.Add(24*time.Hour + 17*time.Minute + 41*time.Second)
	w.startedAt = c.Now()
	step(convoi.ActionStart, nil, "")
	step(convoi.ActionIncident, nil, "car blocking the road at "+w.dep.Format(time.RFC3339))
	as := sqlite.NewAlarmService(db)
	_, _, err := as.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, VehicleID: van.ID, Rule: convoi.AlarmRule("deviation"),
		Severity: convoi.Severity(2), Detail: "left the route", Place: w.alarmAt, PlaceName: "Moyenne Corniche",
		FirstSeen: c.Now(), LastSeen: c.Now()})
	must(t, err)
	step(convoi.ActionResume, nil, "false alarm")
	// The response's incident record: declared at the attack point, closed.
	is := sqlite.NewIncidentService(db)
	inc := &convoi.Incident{MovementID: m.ID, Place: w.alarmAt, PlaceName: "Moyenne Corniche", AttackAt: c.Now(),
		VehiclesSought: []string{"dark grey Peugeot 5008"}, Instructions: "Block the A8 at La Turbie"}
	must(t, is.DeclareIncident(ctx, inc))
	closed := convoi.IncidentClosed
	_, err = is.UpdateIncident(ctx, inc.ID, convoi.IncidentUpdate{State: &closed})
	must(t, err)
	return w
}

func newSender(db *sqlite.DB, c *clock) *webhook.Sender {
	s := webhook.New(sqlite.NewWebhookService(db))
	s.Now = c.Now
	return s
}

func subscribe(t *testing.T, db *sqlite.DB, url string, topics ...convoi.WebhookTopic) string {
	secret, err := webhook.NewSecret()
	must(t, err)
	must(t, sqlite.NewWebhookService(db).CreateWebhook(context.Background(),
		&convoi.Webhook{URL: url, Topics: topics, Secret: secret}))
	return secret
}

func TestDeliver_SignedTopicsAndNoSchedule(t *testing.T) {
	c := &clock{t: t0}
	db := openDB(t, filepath.Join(t.TempDir(), "convoi.db"), c)
	defer db.Close()
	secret, err := webhook.NewSecret()
	must(t, err)
	all := newReceiver(t, secret, c)
	must(t, sqlite.NewWebhookService(db).CreateWebhook(context.Background(), &convoi.Webhook{URL: all.URL,
		Topics: []convoi.WebhookTopic{convoi.WebhookMovement, convoi.WebhookAlarm, convoi.WebhookIncident}, Secret: secret}))
	incSecret := subscribe(t, db, "http://127.0.0.1:1/unused", convoi.WebhookIncident)
	_ = incSecret
	w := buildWorld(t, db, c)

	s := newSender(db, c)
	n, err := s.Flush(context.Background())
	if err != nil {
		t.Logf("flush: %v (the unreachable subscription)", err)
	}
	if n == 0 {
		t.Fatal("no attempts")
	}
	want := []string{"movement.assessed", "movement.planned", "movement.released", "movement.underway",
		"incident.declared", "movement.incident", "alarm.open", "incident.stood_down", "movement.underway",
		"incident.opened", "incident.closed"}
	if got := all.types(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("types = %v, want %v", got, want)
	}
	if len(all.refused) > 0 {
		t.Fatalf("receiver refused: %v", all.refused)
	}

	// No payload carries the route, the departure or a position, in any
	// format a reader could use.
	var forbidden []string
	for _, tm := range []time.Time{w.dep, w.startedAt} {
		forbidden = append(forbidden, tm.Format(time.RFC3339), tm.Format("15:04"), strconv.FormatInt(tm.Unix(), 10), tm.Format(time.RFC3339Nano))
	}
	for _, p := range append(w.route.Geometry, w.alarmAt) {
		forbidden = append(forbidden, strconv.FormatFloat(p.Lat, 'f', -1, 64), strconv.FormatFloat(p.Lon, 'f', -1, 64),
			strconv.FormatFloat(p.Lat, 'f', 4, 64))
	}
	forbidden = append(forbidden, "La Turbie", "Corniche", "731", "4123", "geometry", "planned_departure", "route", "lat", "lon", "place",
		"Peugeot", "A8", "attack", "instructions", "vehicles")
	for i, body := range all.bodies {
		for _, f := range forbidden {
			if strings.Contains(body, f) {
				t.Errorf("payload %d (%s) carries %q: %s", i, all.got[i]["type"], f, body)
			}
		}
	}
	// Every payload names its movement, so that a receiver can act on it.
	for i, m := range all.got {
		data := m["data"].(map[string]any)
		if data["movement_id"] != float64(w.m.ID) {
			t.Errorf("payload %d: movement_id %v", i, data["movement_id"])
		}
	}
	// Message ids are unique: receivers deduplicate retries by them.
	seen := map[string]bool{}
	for _, id := range all.ids {
		if seen[id] || !strings.HasPrefix(id, "msg_") {
			t.Fatalf("message id %q repeated or malformed", id)
		}
		seen[id] = true
	}
}

func TestDeliver_RetriesWithBackoffAndSurvivesRestart(t *testing.T) {
	c := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "convoi.db")
	db := openDB(t, path, c)
	secret, err := webhook.NewSecret()
	must(t, err)
	r := newReceiver(t, secret, c)
	r.failNext = 4
	must(t, sqlite.NewWebhookService(db).CreateWebhook(context.Background(), &convoi.Webhook{URL: r.URL,
		Topics: []convoi.WebhookTopic{convoi.WebhookIncident}, Secret: secret}))
	buildWorld(t, db, c)

	s := newSender(db, c)
	s.Backoff = []time.Duration{time.Minute, time.Hour}
	s.Concurrency = 1
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(r.types()); got != 0 {
		t.Fatalf("delivered %d while the endpoint failed", got)
	}
	// Not due again before the backoff.
	if n, _ := s.Flush(context.Background()); n != 0 {
		t.Fatalf("%d attempts before the backoff elapsed", n)
	}
	ds, _, err := sqlite.NewWebhookService(db).FindWebhookDeliveries(context.Background(), convoi.WebhookDeliveryFilter{})
	must(t, err)
	for _, d := range ds {
		if d.State != convoi.DeliveryPending || d.Attempts != 1 || d.LastStatus != 503 || !d.NextAttempt.Equal(c.Now().Add(time.Minute)) {
			t.Fatalf("after a 503: %+v", d)
		}
	}
	// Restart: a new database handle and a new sender find the outbox.
	must(t, db.Close())
	db = openDB(t, path, c)
	defer db.Close()
	c.Add(time.Minute)
	s = newSender(db, c)
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.types(); strings.Join(got, " ") != "incident.declared incident.stood_down incident.opened incident.closed" {
		t.Fatalf("after restart delivered %v", got)
	}
	if n, _ := s.Flush(context.Background()); n != 0 {
		t.Fatalf("delivered again: %d attempts", n)
	}
}

// A sender that dies mid-attempt (after claiming) leaves its deliveries to
// be retried once the lease ends: none is lost.
func TestDeliver_LeaseBringsBackClaimed(t *testing.T) {
	c := &clock{t: t0}
	db := openDB(t, filepath.Join(t.TempDir(), "convoi.db"), c)
	defer db.Close()
	secret, err := webhook.NewSecret()
	must(t, err)
	r := newReceiver(t, secret, c)
	must(t, sqlite.NewWebhookService(db).CreateWebhook(context.Background(), &convoi.Webhook{URL: r.URL,
		Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: secret}))
	buildWorld(t, db, c)
	svc := sqlite.NewWebhookService(db)
	_, err = svc.FanOutWebhookEvents(context.Background(), 10)
	must(t, err)
	claimed, err := svc.ClaimWebhookDeliveries(context.Background(), c.Now(), time.Minute, 10)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d", len(claimed))
	}
	// The claimer died. Before the lease ends, nobody sends it twice.
	s := newSender(db, c)
	if n, _ := s.Flush(context.Background()); n != 0 {
		t.Fatalf("%d attempts during the lease", n)
	}
	c.Add(time.Minute)
	if n, _ := s.Flush(context.Background()); n != 1 {
		t.Fatalf("%d attempts after the lease, want 1", n)
	}
	if got := r.types(); len(got) != 1 || got[0] != "alarm.open" {
		t.Fatalf("delivered %v", got)
	}
}

func TestDeliver_GivesUpAfterBackoff(t *testing.T) {
	c := &clock{t: t0}
	db := openDB(t, filepath.Join(t.TempDir(), "convoi.db"), c)
	defer db.Close()
	secret, err := webhook.NewSecret()
	must(t, err)
	r := newReceiver(t, secret, c)
	r.failNext = 100
	must(t, sqlite.NewWebhookService(db).CreateWebhook(context.Background(), &convoi.Webhook{URL: r.URL,
		Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: secret}))
	buildWorld(t, db, c)
	s := newSender(db, c)
	s.Backoff = []time.Duration{time.Second, time.Second}
	for i := 0; i < 5; i++ {
		_, _ = s.Flush(context.Background())
		c.Add(time.Second)
	}
	st := convoi.DeliveryFailed
	ds, _, err := sqlite.NewWebhookService(db).FindWebhookDeliveries(context.Background(), convoi.WebhookDeliveryFilter{State: &st})
	must(t, err)
	if len(ds) != 1 || ds[0].Attempts != 3 {
		t.Fatalf("failed deliveries %+v, want one after 3 attempts", ds)
	}
}

func TestVerifier(t *testing.T) {
	c := &clock{t: t0}
	secret, err := webhook.NewSecret()
	must(t, err)
	body := []byte(`{"type":"alarm.open","data":{}}`)
	sig, err := webhook.Sign(secret, "msg_1", c.Now(), body)
	must(t, err)
	h := http.Header{}
	h.Set(webhook.HeaderID, "msg_1")
	h.Set(webhook.HeaderTimestamp, fmt.Sprint(c.Now().Unix()))
	h.Set(webhook.HeaderSignature, "v1,bm90IGl0 "+sig)
	v := &webhook.Verifier{Secret: secret, Now: c.Now}
	must(t, v.Verify(h, body))
	if err := v.Verify(h, body); err == nil {
		t.Fatal("replayed message accepted")
	}
	h.Set(webhook.HeaderID, "msg_2")
	if err := v.Verify(h, body); err == nil {
		t.Fatal("signature of another id accepted")
	}
	sig2, _ := webhook.Sign(secret, "msg_2", c.Now(), body)
	h.Set(webhook.HeaderSignature, sig2)
	if err := v.Verify(h, append([]byte{' '}, body...)); err == nil {
		t.Fatal("changed body accepted")
	}
	c.Add(6 * time.Minute)
	if err := v.Verify(h, body); err == nil {
		t.Fatal("old timestamp accepted")
	}
	other, _ := webhook.NewSecret()
	v2 := &webhook.Verifier{Secret: other, Now: func() time.Time { return t0 }}
	if err := v2.Verify(h, body); err == nil {
		t.Fatal("other secret accepted")
	}
}

// FuzzVerify: no header values make the verifier accept a delivery that
// was not signed with its secret, or panic. Seeds live in
// testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	f.Add("msg_1", "1778745600", "v1,AAAA", []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("msg_1", "-99999999999999999999", "v1, v2,x v1,,", []byte(`{"type":"x"}`))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		secret := "whsec_" + strings.Repeat("QUJD", 11) // a fixed 33-byte key
		v := &webhook.Verifier{Secret: secret, Now: func() time.Time { return time.Unix(1778745600, 0) }}
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sig)
		if v.Verify(h, body) == nil {
			n, _ := strconv.ParseInt(ts, 10, 64)
			want, _ := webhook.Sign(secret, id, time.Unix(n, 0), body)
			if !strings.Contains(" "+sig+" ", " "+want+" ") {
				t.Fatalf("accepted a forged signature %q (want %q)", sig, want)
			}
		}
	})
}
