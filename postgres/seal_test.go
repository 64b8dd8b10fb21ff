package postgres_test

import (
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
			for _, n := range storetest.SecretNeedles {
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
	id := storetest.ScheduleWorld(t, NewStore(clear))
	storetest.CheckReadBack(t, NewStore(clear), id)
	if found := scanRows(t, clear); len(found) < len(storetest.SecretNeedles) {
		t.Fatalf("in clear the scan finds only %v", found)
	}

	k := mustKeyring(t, MustKeyFile(t))
	db := openSealed(t, "", k)
	defer db.Close()
	id = storetest.ScheduleWorld(t, NewStore(db))
	storetest.CheckReadBack(t, NewStore(db), id)
	if found := scanRows(t, db); len(found) > 0 {
		t.Fatalf("sealed store holds in clear: %v", found)
	}
}
