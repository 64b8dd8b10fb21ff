package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// MustOpenDB opens a fresh database file in a temporary directory, with the
// clock now (time.Now if nil), and closes it when the test ends.
func MustOpenDB(tb testing.TB, now func() time.Time) *sqlite.DB {
	tb.Helper()
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "convoi.db"), now)
}

// MustOpenDBAt opens the database file at path.
func MustOpenDBAt(tb testing.TB, path string, now func() time.Time) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(path)
	if now != nil {
		db.Now = now
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func TestDB_ReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "convoi.db")
	db := sqlite.NewDB(path)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	site := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}}
	if err := sqlite.NewSiteService(db).CreateSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	first, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	} else if len(first) == 0 {
		t.Fatal("no migration recorded")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = MustOpenDBAt(t, path, nil)
	again, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	} else if len(again) != len(first) {
		t.Fatalf("migrations after reopen = %v, want %v", again, first)
	}
	got, err := sqlite.NewSiteService(db).FindSiteByID(ctx, site.ID)
	if err != nil {
		t.Fatal(err)
	} else if got.Name != site.Name || got.Entry != site.Location {
		t.Fatalf("site after reopen = %+v", got)
	}
}

func TestDB_ClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "convoi.db"))
	ps := sqlite.NewPositionService(db)
	p := []convoi.Position{{DeviceID: "dev-1", FixTime: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Lat: 43.7, Lon: 7.4}}
	if _, _, err := ps.StorePositions(ctx, p, nil); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("before open: %v", err)
	}
	if _, err := sqlite.NewSiteService(db).FindSiteByID(ctx, 1); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("before open: %v", err)
	}
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, err := ps.StorePositions(ctx, p, nil); err != nil || n != 1 {
		t.Fatalf("open: %d, %v", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ps.StorePositions(ctx, p, nil); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("after close: %v", err)
	}
}

func TestDB_PragmasAndPositionsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "convoi.db")
	db := MustOpenDBAt(t, path, nil)
	var batch []convoi.Position
	for i := range 100 {
		batch = append(batch, convoi.Position{DeviceID: "356307042441013", FixTime: time.Date(2026, 3, 2, 8, 0, i, 0, time.UTC), Lat: 43.7, Lon: 7.4})
	}
	if n, _, err := sqlite.NewPositionService(db).StorePositions(ctx, batch, nil); err != nil || n != 100 {
		t.Fatalf("store: %d, %v", n, err)
	}
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "5000"},
	} {
		if got := db.Pragma(ctx, tc.pragma); got != tc.want {
			t.Errorf("pragma %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = MustOpenDBAt(t, path, nil)
	got, err := sqlite.NewPositionService(db).FindPositions(ctx, convoi.PositionFilter{})
	if err != nil {
		t.Fatal(err)
	} else if len(got) != 100 {
		t.Fatalf("positions after reopen = %d", len(got))
	}
}
