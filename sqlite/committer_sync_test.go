package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// TestCommitterSyncDuringCommit checks the synchronous setting in force
// inside the position committer's own transactions, where durability is
// decided, not only the setting service calls find afterwards (see
// TestServiceWritesDuringIngest). Triggers on the position and event tables
// record PRAGMA synchronous as seen by the connection that inserts the
// rows, that is by the committer's transaction itself.
//
// By default SQLite must fsync inside the commit: FULL (2) in every
// committer transaction, since nothing else fsyncs the WAL. With
// DB.PipelineSync the committer may commit with NORMAL (1) because the
// store fsyncs the WAL before answering, but never with OFF (0).
func TestCommitterSyncDuringCommit(t *testing.T) {
	for _, mode := range []struct {
		name         string
		pipelineSync bool
		ok           func(level int64) bool
		want         string
	}{
		{"sqlite", false, func(l int64) bool { return l == 2 }, "2 (FULL)"},
		{"store", true, func(l int64) bool { return l == 1 || l == 2 }, "1 (NORMAL) or 2 (FULL)"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "convoi.db")
			db := sqlite.NewDB(path)
			db.PipelineSync = mode.pipelineSync
			if err := db.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			spy := installSyncSpy(t, path)

			ps := sqlite.NewPositionService(db)
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			// A lone batch (a group of one), then concurrent batches that
			// the committer groups into shared transactions.
			one := []convoi.Position{{DeviceID: "dev-0", FixTime: t0, Lat: 43.7, Lon: 7.4}}
			ev := []convoi.DeviceEvent{{DeviceID: "dev-0", Kind: convoi.EventPanic, Time: t0}}
			if n, m, err := ps.StorePositions(ctx, one, ev); err != nil || n != 1 || m != 1 {
				t.Fatalf("StorePositions = %d, %d, %v", n, m, err)
			}
			var wg sync.WaitGroup
			for d := 1; d <= 6; d++ {
				wg.Go(func() {
					for i := range 20 {
						b := []convoi.Position{{DeviceID: convoi.DeviceID(fmt.Sprintf("dev-%d", d)), FixTime: t0.Add(time.Duration(i) * time.Second), Lat: 43.7, Lon: 7.4}}
						if _, _, err := ps.StorePositions(ctx, b, nil); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()

			seen := spy.levels(t)
			if len(seen) != 2+6*20 {
				t.Fatalf("the spy saw %d inserts, want %d", len(seen), 2+6*20)
			}
			for i, l := range seen {
				if !mode.ok(l) {
					t.Fatalf("insert %d ran in a committer transaction with synchronous = %d, want %s", i, l, mode.want)
				}
			}
			// Service calls after the commits still find FULL.
			if got := db.Pragma(ctx, "synchronous"); got != "2" {
				t.Fatalf("after the commits synchronous = %s, want 2 (FULL)", got)
			}
		})
	}
}

type syncSpy struct{ conn *sql.DB }

// installSyncSpy adds, through its own connection to the database file, a
// table and triggers that log the synchronous level of the connection
// inserting each position and device event.
func installSyncSpy(t *testing.T, path string) syncSpy {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, q := range []string{
		`CREATE TABLE sync_spy (id INTEGER PRIMARY KEY, level INTEGER NOT NULL)`,
		`CREATE TRIGGER sync_spy_positions AFTER INSERT ON positions BEGIN
			INSERT INTO sync_spy (level) SELECT synchronous FROM pragma_synchronous;
		END`,
		`CREATE TRIGGER sync_spy_events AFTER INSERT ON device_events BEGIN
			INSERT INTO sync_spy (level) SELECT synchronous FROM pragma_synchronous;
		END`,
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatalf("install the spy: %v", err)
		}
	}
	return syncSpy{conn}
}

func (s syncSpy) levels(t *testing.T) []int64 {
	t.Helper()
	rows, err := s.conn.Query(`SELECT level FROM sync_spy ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var l int64
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
