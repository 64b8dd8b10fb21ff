package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/seal"
	"github.com/convoi/convoi/sqlite"
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

// openSealed opens the database at path with the keyring (nil: in clear).
func openSealed(tb testing.TB, path string, k *seal.Keyring) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(path)
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
	k := mustKeyring(t, MustKeyFile(t))
	storetest.Run(t, func(tb testing.TB, now convoi.Clock) storetest.Store {
		db := sqlite.NewDB(filepath.Join(tb.TempDir(), "convoi.db"))
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
func scheduleWorld(t *testing.T, db *sqlite.DB) convoi.MovementID {
	t.Helper()
	ctx := context.Background()
	sites := sqlite.NewSiteService(db)
	a := &convoi.Site{Name: "Maison d'arrêt", Kind: convoi.SiteKindPrison, Location: convoi.LatLon{Lat: 49.44, Lon: 1.09}}
	b := &convoi.Site{Name: "Tribunal", Kind: convoi.SiteKindCourt, Location: convoi.LatLon{Lat: 49.02, Lon: 1.15}}
	must(t, sites.CreateSite(ctx, a))
	must(t, sites.CreateSite(ctx, b))
	d := &convoi.Detainee{Name: "X", LegalStatus: convoi.LegalStatusRemand, SiteID: a.ID}
	must(t, sqlite.NewDetaineeService(db).CreateDetainee(ctx, d))
	ms := sqlite.NewMovementService(db)
	m := &convoi.Movement{Ref: "RN-2026-0001", DetaineeID: d.ID, FromSiteID: a.ID, ToSiteID: b.ID, Purpose: convoi.PurposeCourtAppearance,
		AppointmentAt: secretDeparture.Add(2 * time.Hour), Requester: "Greffe"}
	must(t, ms.CreateMovement(ctx, m))
	lvl := convoi.EscortLevel(2)
	_, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: &lvl}})
	must(t, err)
	plans := sqlite.NewPlanService(db)
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
	must(t, sqlite.NewIdempotencyService(db).SaveIdempotency(ctx, &convoi.IdempotencyRecord{UserID: 0, Key: "k1", Method: "POST",
		Path: "/x", Status: 200, ContentType: "application/json", Response: resp}))
	if mv.PlannedDeparture == nil || !mv.PlannedDeparture.Equal(secretDeparture) || mv.Route == nil {
		t.Fatalf("released movement %+v", mv)
	}
	return m.ID
}

// checkReadBack reads every sealed value back through the services.
func checkReadBack(t *testing.T, db *sqlite.DB, id convoi.MovementID) {
	t.Helper()
	ctx := context.Background()
	m, err := sqlite.NewMovementService(db).FindMovementByID(ctx, id)
	must(t, err)
	if m.PlannedDeparture == nil || !m.PlannedDeparture.Equal(secretDeparture) || m.Route == nil || m.Route.Geometry[1].Lat != 49.3123457 {
		t.Fatalf("read back %+v", m)
	}
	ps, err := sqlite.NewPlanService(db).FindPlans(ctx, id)
	must(t, err)
	if len(ps) != 1 || ps[0].Draw == nil || !ps[0].Draw.Departure.Equal(secretDeparture) || !strings.Contains(string(ps[0].Strategy), "987654321") {
		t.Fatalf("plans %+v", ps)
	}
	ts, err := sqlite.NewMovementService(db).FindTransitions(ctx, id)
	must(t, err)
	if ts[len(ts)-1].Override != "the drawn departure is 06:47 UTC" {
		t.Fatalf("override %q", ts[len(ts)-1].Override)
	}
	r, err := sqlite.NewIdempotencyService(db).FindIdempotency(ctx, 0, "k1", time.Time{})
	must(t, err)
	if !bytes.Contains(r.Response, []byte("49.3123457")) {
		t.Fatalf("response %s", r.Response)
	}
}

// scanFiles returns the needles found in the database file and its WAL.
func scanFiles(t *testing.T, path string) []string {
	t.Helper()
	var found []string
	for _, f := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		must(t, err)
		for _, n := range secretNeedles {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, filepath.Base(f)+": "+n)
			}
		}
	}
	return found
}

// TestSealedAtRest scans the database file and its WAL, while open and
// after closing: no drawn departure, route geometry or road node appears.
// The same world stored in clear shows every needle, so the scan can fail.
func TestSealedAtRest(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "convoi.db")
		var k *seal.Keyring
		if sealed {
			k = mustKeyring(t, MustKeyFile(t))
		}
		db := openSealed(t, path, k)
		id := scheduleWorld(t, db)
		checkReadBack(t, db, id)
		open := scanFiles(t, path)
		must(t, db.Close())
		closed := scanFiles(t, path)
		if sealed && (len(open) > 0 || len(closed) > 0) {
			t.Fatalf("sealed database holds the schedule: open %v, closed %v", open, closed)
		}
		if !sealed && len(closed) < len(secretNeedles) {
			t.Fatalf("the clear database shows only %v: the scan would miss a leak", closed)
		}
	}
}

// TestSealTurnedOnAndKeyRotation: a database written in clear is sealed by
// Reseal, leaving no trace in the file; a new key is added, everything is
// resealed, the old key dropped, and the data still reads; the old key
// alone no longer opens it, nor does a value moved to another movement.
func TestSealTurnedOnAndKeyRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "convoi.db")
	db := openSealed(t, path, nil)
	id := scheduleWorld(t, db)
	must(t, db.Close())

	keyFile := MustKeyFile(t)
	db = openSealed(t, path, mustKeyring(t, keyFile))
	checkReadBack(t, db, id) // values in clear still read
	n, err := db.Reseal(ctx)
	must(t, err)
	if n != 6 { // departure, route, strategy, draw, override, response
		t.Fatalf("resealed %d values, want 6", n)
	}
	checkReadBack(t, db, id)
	must(t, db.Close())
	if found := scanFiles(t, path); len(found) > 0 {
		t.Fatalf("after sealing, the file still holds %v", found)
	}

	oldKey, err := os.ReadFile(keyFile)
	must(t, err)
	oldFile := filepath.Join(t.TempDir(), "old.key")
	must(t, os.WriteFile(oldFile, oldKey, 0600))
	if _, err := seal.AddKey(keyFile); err != nil {
		t.Fatal(err)
	}
	db = openSealed(t, path, mustKeyring(t, keyFile))
	checkReadBack(t, db, id) // old key still opens
	n, err = db.Reseal(ctx)
	must(t, err)
	if n != 6 {
		t.Fatalf("rotation resealed %d values, want 6", n)
	}
	if n, _ = db.Reseal(ctx); n != 0 {
		t.Fatalf("a second reseal rewrote %d values", n)
	}
	must(t, db.Close())
	must(t, seal.DropKeys(keyFile))
	db = openSealed(t, path, mustKeyring(t, keyFile))
	checkReadBack(t, db, id)
	must(t, db.Close())

	db = openSealed(t, path, mustKeyring(t, keyFile))
	must(t, db.CheckSealKey(ctx))
	must(t, db.Close())

	db = openSealed(t, path, mustKeyring(t, oldFile))
	if _, err := sqlite.NewMovementService(db).FindMovementByID(ctx, id); err == nil {
		t.Fatal("the dropped key still opens the schedule")
	}
	if err := db.CheckSealKey(ctx); err == nil {
		t.Fatal("CheckSealKey accepts the dropped key")
	}
	must(t, db.Close())
}

// TestSealedValueBoundToItsPlace: a sealed route copied onto another
// movement does not open.
func TestSealedValueBoundToItsPlace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "convoi.db")
	db := openSealed(t, path, mustKeyring(t, MustKeyFile(t)))
	defer db.Close()
	id := scheduleWorld(t, db)
	ms := sqlite.NewMovementService(db)
	m, err := ms.FindMovementByID(ctx, id)
	must(t, err)
	other := &convoi.Movement{Ref: "RN-2026-0002", DetaineeID: m.DetaineeID, FromSiteID: m.FromSiteID, ToSiteID: m.ToSiteID,
		Purpose: m.Purpose, AppointmentAt: m.AppointmentAt, Requester: "Greffe"}
	must(t, ms.CreateMovement(ctx, other))
	// Someone with the file copies the sealed route across.
	raw, err := sql.Open("sqlite", path)
	must(t, err)
	_, err = raw.ExecContext(ctx, `UPDATE movements SET route = (SELECT route FROM movements WHERE id = ?) WHERE id = ?`, id, other.ID)
	must(t, err)
	must(t, raw.Close())
	if _, err := ms.FindMovementByID(ctx, other.ID); err == nil {
		t.Fatal("a sealed route moved to another movement opened")
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
