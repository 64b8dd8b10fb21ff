package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
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
		for _, n := range storetest.SecretNeedles {
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
		id := storetest.ScheduleWorld(t, NewStore(db))
		storetest.CheckReadBack(t, NewStore(db), id)
		open := scanFiles(t, path)
		must(t, db.Close())
		closed := scanFiles(t, path)
		if sealed && (len(open) > 0 || len(closed) > 0) {
			t.Fatalf("sealed database holds the schedule: open %v, closed %v", open, closed)
		}
		if !sealed && len(closed) < len(storetest.SecretNeedles) {
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
	id := storetest.ScheduleWorld(t, NewStore(db))
	must(t, db.Close())

	keyFile := MustKeyFile(t)
	db = openSealed(t, path, mustKeyring(t, keyFile))
	storetest.CheckReadBack(t, NewStore(db), id) // values in clear still read
	n, err := db.Reseal(ctx)
	must(t, err)
	if n != 6 { // departure, route, strategy, draw, override, response
		t.Fatalf("resealed %d values, want 6", n)
	}
	storetest.CheckReadBack(t, NewStore(db), id)
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
	storetest.CheckReadBack(t, NewStore(db), id) // old key still opens
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
	storetest.CheckReadBack(t, NewStore(db), id)
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
	id := storetest.ScheduleWorld(t, NewStore(db))
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
