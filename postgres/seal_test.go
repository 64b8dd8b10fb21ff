package postgres_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/seal"
	"github.com/convoi/convoi/storetest"
)

// MustKeyFile writes a fresh seal key file.
func MustKeyFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "seal.key")
	if err := seal.CreateKeyFile(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

func mustKeyring(tb testing.TB, path string) *seal.Keyring {
	tb.Helper()
	k, err := seal.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// openSealed opens a fresh schema with the keyring (nil: in clear); path
// is a DSN from NewSchemaDSN, or "" for a fresh one.
func openSealed(tb testing.TB, path string, k *seal.Keyring) *postgres.DB {
	tb.Helper()
	if path == "" {
		path = NewSchemaDSN(tb)
	}
	db := postgres.NewDB(path)
	db.Now = func() time.Time { return time.Date(2026, 5, 13, 8, 0, 0, 0, time.UTC) }
	if k != nil {
		db.Sealer = k
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// TestStoreSealed runs the conformance suite on a sealing database.
func TestStoreSealed(t *testing.T) {
	testDSN(t)
	k := mustKeyring(t, MustKeyFile(t))
	storetest.Run(t, func(tb testing.TB, now convoi.Clock) storetest.Store {
		db := postgres.NewDB(NewSchemaDSN(tb))
		db.Now = now
		db.Sealer = k
		if err := db.Open(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return NewStore(db)
	})
}

// The schedule of the escort in scheduleWorld, in every form it could be
// written in: the departure's stored text and its minutes, a geometry
// coordinate, a road node of the strategy and the override's words.
var (
	secretDeparture = time.Date(2026, 5, 14, 6, 47, 13, 0, time.UTC)
	secretNeedles   = []string{"2026-05-14T06:47:13", "06:47", "49.3123457", "1.1789012", "987654321", "Incarville-A154"}
)

// scheduleWorld writes a planned, drawn and released movement through
// every path that stores schedule details.
func scheduleWorld(t *testing.T, db *postgres.DB) convoi.MovementID {
	t.Helper()
	ctx := context.Background()
	sites := postgres.NewSiteService(db)
	a := &convoi.Site{Name: "Maison d'arrêt", Kind: convoi.SiteKindPrison, Location: convoi.LatLon{Lat: 49.44, Lon: 1.09}}
	b := &convoi.Site{Name: "Tribunal", Kind: convoi.SiteKindCourt, Location: convoi.LatLon{Lat: 49.02, Lon: 1.15}}
	must(t, sites.CreateSite(ctx, a))
	must(t, sites.CreateSite(ctx, b))
	d := &convoi.Detainee{Name: "X", LegalStatus: convoi.LegalStatusRemand, SiteID: a.ID}
	must(t, postgres.NewDetaineeService(db).CreateDetainee(ctx, d))
	ms := postgres.NewMovementService(db)
	m := &convoi.Movement{Ref: "RN-2026-0001", DetaineeID: d.ID, FromSiteID: a.ID, ToSiteID: b.ID, Purpose: convoi.PurposeCourtAppearance,
		AppointmentAt: secretDeparture.Add(2 * time.Hour), Requester: "Greffe"}
	must(t, ms.CreateMovement(ctx, m))
	lvl := convoi.EscortLevel(2)
	_, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: &lvl}})
	must(t, err)
	plans := postgres.NewPlanService(db)
	p := &convoi.Plan{MovementID: m.ID, Value: 0.2,
		Strategy: []byte(`{"routes":[{"nodes":[987654321,12],"geometry":[[49.3123457,1.1789012]]}],"departures":["2026-05-14T06:47:13Z"],"chokepoints":["Incarville-A154"]}`)}
	must(t, plans.CreatePlan(ctx, p))
	route := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 49.44, Lon: 1.09}, {Lat: 49.3123457, Lon: 1.1789012}, {Lat: 49.02, Lon: 1.15}},
		DistanceM: 52000, DurationS: 2900, Chokepoints: []string{"Incarville-A154"}}
	_, err = ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionPlan})
	must(t, err)
	must(t, plans.SetPlanDraw(ctx, p.ID, convoi.PlanDraw{RouteIndex: 0, Departure: secretDeparture}))
	dep := secretDeparture
	mv, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease, Reason: "ok",
		Override: "the drawn departure is 06:47 UTC", Update: &convoi.MovementUpdate{PlannedDeparture: &dep, Route: route}})
	must(t, err)
	resp := []byte(`{"movement":{"planned_departure":"2026-05-14T06:47:13Z","route":{"geometry":[{"lat":49.3123457,"lon":1.1789012}]}}}`)
	must(t, postgres.NewIdempotencyService(db).SaveIdempotency(ctx, &convoi.IdempotencyRecord{UserID: 0, Key: "k1", Method: "POST",
		Path: "/x", Status: 200, ContentType: "application/json", Response: resp}))
	if mv.PlannedDeparture == nil || !mv.PlannedDeparture.Equal(secretDeparture) || mv.Route == nil {
		t.Fatalf("released movement %+v", mv)
	}
	return m.ID
}

// checkReadBack reads every sealed value back through the services.
func checkReadBack(t *testing.T, db *postgres.DB, id convoi.MovementID) {
	t.Helper()
	ctx := context.Background()
	m, err := postgres.NewMovementService(db).FindMovementByID(ctx, id)
	must(t, err)
	if m.PlannedDeparture == nil || !m.PlannedDeparture.Equal(secretDeparture) || m.Route == nil || m.Route.Geometry[1].Lat != 49.3123457 {
		t.Fatalf("read back %+v", m)
	}
	ps, err := postgres.NewPlanService(db).FindPlans(ctx, id)
	must(t, err)
	if len(ps) != 1 || ps[0].Draw == nil || !ps[0].Draw.Departure.Equal(secretDeparture) || !strings.Contains(string(ps[0].Strategy), "987654321") {
		t.Fatalf("plans %+v", ps)
	}
	ts, err := postgres.NewMovementService(db).FindTransitions(ctx, id)
	must(t, err)
	if ts[len(ts)-1].Override != "the drawn departure is 06:47 UTC" {
		t.Fatalf("override %q", ts[len(ts)-1].Override)
	}
	r, err := postgres.NewIdempotencyService(db).FindIdempotency(ctx, 0, "k1", time.Time{})
	must(t, err)
	if !bytes.Contains(r.Response, []byte("49.3123457")) {
		t.Fatalf("response %s", r.Response)
	}
}

// must fails on a non-nil error.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// scanRows returns the needles found in the text of any stored row.
func scanRows(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	must(t, err)
	var tables []string
	for rows.Next() {
		var s string
		must(t, rows.Scan(&s))
		tables = append(tables, s)
	}
	must(t, rows.Err())
	var found []string
	for _, table := range tables {
		rows, err := db.Pool().Query(ctx, `SELECT t::text FROM `+table+` t`)
		must(t, err)
		for rows.Next() {
			var s string
			must(t, rows.Scan(&s))
			for _, n := range secretNeedles {
				if strings.Contains(s, n) {
					found = append(found, table+": "+n)
				}
			}
		}
		must(t, rows.Err())
	}
	return found
}

// TestSealedInDatabase: with a key, no stored row holds the schedule in
// clear (departure, route, strategy, draw, override, replayed response),
// and every value reads back; without one, the needles are there (the
// scan can find them).
func TestSealedInDatabase(t *testing.T) {
	testDSN(t)
	clear := openSealed(t, "", nil)
	defer clear.Close()
	id := scheduleWorld(t, clear)
	checkReadBack(t, clear, id)
	if found := scanRows(t, clear); len(found) < len(secretNeedles) {
		t.Fatalf("in clear the scan finds only %v", found)
	}

	k := mustKeyring(t, MustKeyFile(t))
	db := openSealed(t, "", k)
	defer db.Close()
	id = scheduleWorld(t, db)
	checkReadBack(t, db, id)
	if found := scanRows(t, db); len(found) > 0 {
		t.Fatalf("sealed store holds in clear: %v", found)
	}
}
