package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// TestStorePositionsAttributesJSON checks that the attributes are stored as
// the very bytes json.Marshal writes (the store encodes the common value
// types itself, for speed), and refused as json.Marshal refuses them.
func TestStorePositionsAttributesJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "convoi.db")
	db := MustOpenDBAt(t, path, nil)
	s := sqlite.NewPositionService(db)
	ctx := context.Background()
	cases := []map[string]any{
		{"priority": 0, "ignition": int64(1), "hdop": 0.9, "pdop": 1.2000000000000002},
		{"a": true, "b": false, "c": nil, "d": "", "e": "FMC130", "f": -42, "g": uint64(1 << 63)},
		{"tiny": 1e-7, "huge": 1e21, "neg": -2.5e-9, "zero": 0.0, "int": 3.0, "big": 123456789012345.0},
		{"html": "<a href=x>&</a>", "quote": `say "hi" \ there`, "ctl": "tab\tnl\n", "utf8": "Évreux ☃", "bad": "\xff\xfe", "sep": "\u2028"},
		{"é": 1, "Z": 2, "a": 3, "_": 4, "10": 5, "9": 6},
		{"nested": map[string]any{"x": 1}, "list": []int{1, 2}, "f32": float32(0.1), "u8": uint8(7), "i16": int16(-3)},
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var ps []convoi.Position
	for i, attrs := range cases {
		ps = append(ps, convoi.Position{DeviceID: "356307042441013", FixTime: t0.Add(time.Duration(i) * time.Second),
			Lat: 43.7, Lon: 7.4, Attributes: attrs})
	}
	ps = append(ps, convoi.Position{DeviceID: "356307042441013", FixTime: t0.Add(time.Hour), Lat: 43.7, Lon: 7.4})
	if n, _, err := s.StorePositions(ctx, ps, nil); err != nil || n != len(ps) {
		t.Fatalf("store: %d, %v", n, err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, `SELECT attributes FROM positions ORDER BY fix_time`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var got sql.NullString
		if err := rows.Scan(&got); err != nil {
			t.Fatal(err)
		}
		if i == len(cases) {
			if got.Valid {
				t.Errorf("no attributes stored as %q, want NULL", got.String)
			}
			continue
		}
		want, err := json.Marshal(cases[i])
		if err != nil {
			t.Fatal(err)
		}
		if got.String != string(want) {
			t.Errorf("case %d stored\n%s\nwant\n%s", i, got.String, want)
		}
	}
	if err := rows.Err(); err != nil || i != len(ps) {
		t.Fatalf("read %d rows: %v", i, err)
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), make(chan int)} {
		p := convoi.Position{DeviceID: "356307042441013", FixTime: t0.Add(2 * time.Hour), Lat: 43.7, Lon: 7.4,
			Attributes: map[string]any{"x": bad}}
		if _, _, err := s.StorePositions(ctx, []convoi.Position{p}, nil); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("attribute %v: got %v, want EINVALID", bad, err)
		}
	}
}

// mustOpenDBSync opens a fresh database with the given DB.PipelineSync.
func mustOpenDBSync(tb testing.TB, pipelineSync bool) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "convoi.db"))
	db.PipelineSync = pipelineSync
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

// syncModes are the two ways the position committer makes a group durable.
var syncModes = []struct {
	name         string
	pipelineSync bool
}{
	{"sqlite", false}, // default: synchronous=FULL, the fsync inside the commit
	{"store", true},   // NORMAL + the store's fsync, pipelined
}

// TestServiceWritesDuringIngest checks that service calls get the writer
// connection while the position committer is kept busy, and always find it
// with synchronous=FULL (the committer switches to NORMAL only while it
// holds the connection), in both sync modes.
func TestServiceWritesDuringIngest(t *testing.T) {
	for _, mode := range syncModes {
		t.Run(mode.name, func(t *testing.T) { testServiceWritesDuringIngest(t, mustOpenDBSync(t, mode.pipelineSync)) })
	}
}

func testServiceWritesDuringIngest(t *testing.T, db *sqlite.DB) {
	ps := sqlite.NewPositionService(db)
	sites := sqlite.NewSiteService(db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var stored atomic.Int64
	var wg sync.WaitGroup
	for d := range 8 {
		wg.Go(func() {
			batch := make([]convoi.Position, 10)
			for n := 0; ctx.Err() == nil; {
				for j := range batch {
					n++
					batch[j] = convoi.Position{DeviceID: convoi.DeviceID(fmt.Sprintf("dev-%d", d)), FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.7, Lon: 7.4}
				}
				if _, _, err := ps.StorePositions(ctx, batch, nil); err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				stored.Add(int64(len(batch)))
			}
		})
	}
	for i := range 20 {
		s := &convoi.Site{Kind: convoi.SiteKindCourt, Name: fmt.Sprintf("Site %d", i), Location: convoi.LatLon{Lat: 43.7, Lon: 7.4}}
		if err := sites.CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got := db.Pragma(ctx, "synchronous"); got != "2" {
			t.Fatalf("service call %d found synchronous = %s, want 2 (FULL)", i, got)
		}
	}
	cancel()
	wg.Wait()
	if stored.Load() == 0 {
		t.Fatal("no position stored")
	}
}

// BenchmarkStorePositions measures durable ingest (synchronous=FULL) in
// batches as the tracker server sends them; it reports records/s.
func BenchmarkStorePositions(b *testing.B) {
	for _, batch := range []int{1, 10, 100, 300, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db := MustOpenDB(b, nil)
			s := sqlite.NewPositionService(db)
			ctx := context.Background()
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			ps := make([]convoi.Position, batch)
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range ps {
					n++
					ps[j] = convoi.Position{DeviceID: convoi.DeviceID(fmt.Sprintf("35630704244%04d", n%1000)),
						FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.73, Lon: 7.42, SpeedKmh: 50, Heading: 90,
						Satellites: 10, Valid: true, GNSS: convoi.GNSSFix}
				}
				if np, _, err := s.StorePositions(ctx, ps, nil); err != nil {
					b.Fatal(err)
				} else if np != batch {
					b.Fatalf("stored %d, want %d", np, batch)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStorePositionsParallel measures concurrent callers (the tracker
// server's connections) each storing small batches of fixes with the IO
// attributes of a Teltonika record.
//
// sync=sqlite is the default (synchronous=FULL, the fsync inside the
// commit), sync=store is DB.PipelineSync (SQLite commits with
// synchronous=NORMAL and the store fsyncs the WAL while the next group is
// written).
func BenchmarkStorePositionsParallel(b *testing.B) {
	for _, bench := range []struct {
		batch int
		mode  string
		sync  bool
	}{{10, "sqlite", false}, {10, "store", true}, {100, "sqlite", false}} {
		batch := bench.batch
		b.Run(fmt.Sprintf("batch=%d/sync=%s", batch, bench.mode), func(b *testing.B) {
			db := mustOpenDBSync(b, bench.sync)
			s := sqlite.NewPositionService(db)
			ctx := context.Background()
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			var dev atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := convoi.DeviceID(fmt.Sprintf("dev-%d", dev.Add(1)))
				ps := make([]convoi.Position, batch)
				n := 0
				for pb.Next() {
					for j := range ps {
						n++
						ps[j] = convoi.Position{DeviceID: id, FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.73, Lon: 7.42, Valid: true,
							Attributes: map[string]any{"priority": 0, "ignition": int64(1), "movement": int64(1), "gnss_status": int64(1),
								"external_voltage": int64(13800), "hdop": 0.9}}
					}
					if _, _, err := s.StorePositions(ctx, ps, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkFindMovements lists a page of 50 out of 10,000 movements, with
// and without the per-object filters used for crew and liaison users.
func BenchmarkFindMovements(b *testing.B) {
	db := MustOpenDB(b, nil)
	ctx := context.Background()
	st := NewStore(db)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var sites []convoi.SiteID
	for i := range 20 {
		s := &convoi.Site{Kind: convoi.SiteKindCourt, Name: fmt.Sprintf("Site %d", i), Location: convoi.LatLon{Lat: 43.7, Lon: 7.4}}
		if err := st.Sites.CreateSite(ctx, s); err != nil {
			b.Fatal(err)
		}
		sites = append(sites, s.ID)
	}
	var officers []convoi.OfficerID
	for i := range 100 {
		o := &convoi.Officer{Name: fmt.Sprintf("Officer %d", i), Unit: "PREJ"}
		if err := st.Officers.CreateOfficer(ctx, o); err != nil {
			b.Fatal(err)
		}
		officers = append(officers, o.ID)
	}
	d := &convoi.Detainee{Name: "D", LegalStatus: convoi.LegalStatusRemand, SiteID: sites[0]}
	if err := st.Detainees.CreateDetainee(ctx, d); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		m := &convoi.Movement{Ref: fmt.Sprintf("MC-%05d", i), DetaineeID: d.ID, FromSiteID: sites[i%20], ToSiteID: sites[(i+1)%20],
			Purpose: convoi.PurposeCourtAppearance, AppointmentAt: t0.Add(time.Duration(i) * time.Minute), Requester: "R",
			Crew: []convoi.OfficerID{officers[i%100], officers[(i+7)%100], officers[(i+31)%100]}}
		if err := st.Movements.CreateMovement(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	from := t0.Add(5000 * time.Minute)
	for _, tc := range []struct {
		name   string
		filter convoi.MovementFilter
	}{
		{"All", convoi.MovementFilter{}},
		{"Window", convoi.MovementFilter{AppointmentFrom: &from}},
		{"Site", convoi.MovementFilter{Site: &sites[3]}},
		{"CrewMember", convoi.MovementFilter{CrewMember: &officers[42]}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ms, n, err := st.Movements.FindMovements(ctx, tc.filter)
				if err != nil {
					b.Fatal(err)
				} else if len(ms) == 0 || n == 0 {
					b.Fatal("empty listing")
				}
			}
		})
	}
}

// BenchmarkFindPositions reads one device's track over a 10-minute window
// from 1,000 devices reporting every second for an hour (3.6 million
// fixes): the cost of the time-major key.
func BenchmarkFindPositions(b *testing.B) {
	db := MustOpenDB(b, nil)
	ctx := context.Background()
	s := sqlite.NewPositionService(db)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const devices, seconds = 1000, 3600
	ps := make([]convoi.Position, 0, 5000)
	for sec := range seconds {
		for d := range devices {
			ps = append(ps, convoi.Position{DeviceID: convoi.DeviceID(fmt.Sprintf("dev-%04d", d)),
				FixTime: t0.Add(time.Duration(sec) * time.Second), Lat: 43.7, Lon: 7.4, Valid: true})
		}
		if len(ps) >= 5000 || sec == seconds-1 {
			if _, _, err := s.StorePositions(ctx, ps, nil); err != nil {
				b.Fatal(err)
			}
			ps = ps[:0]
		}
	}
	dev := convoi.DeviceID("dev-0042")
	from, to := t0.Add(30*time.Minute), t0.Add(40*time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := s.FindPositions(ctx, convoi.PositionFilter{DeviceID: &dev, From: &from, To: &to})
		if err != nil {
			b.Fatal(err)
		} else if len(got) != 600 {
			b.Fatalf("got %d fixes, want 600", len(got))
		}
	}
}
