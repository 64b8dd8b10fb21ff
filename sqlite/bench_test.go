package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"convoi"
	"convoi/sqlite"
)

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
// server's connections) each storing small batches.
func BenchmarkStorePositionsParallel(b *testing.B) {
	for _, batch := range []int{10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db := MustOpenDB(b, nil)
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
						ps[j] = convoi.Position{DeviceID: id, FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.73, Lon: 7.42, Valid: true}
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
