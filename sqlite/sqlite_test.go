package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"convoi"
	"convoi/sqlite"
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
