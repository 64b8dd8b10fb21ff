package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
)

// BenchmarkStorePositions1000Devices measures acknowledged ingest: 1,000
// concurrent callers, one per device (as the tracker server's connections),
// each storing batches of fixes with the IO attributes of a Teltonika
// record and waiting for the commit. It reports records/s and the p99 of
// the time from the call to its acknowledgement. The committers write by
// COPY (path=copy, the default) or by INSERT ... ON CONFLICT alone
// (path=insert, what a group holding a retransmitted record falls back to).
func BenchmarkStorePositions1000Devices(b *testing.B) {
	for _, bench := range []struct {
		path  string
		batch int
	}{{"copy", 1}, {"copy", 10}, {"copy", 50}, {"insert", 10}} {
		b.Run(fmt.Sprintf("path=%s/batch=%d", bench.path, bench.batch), func(b *testing.B) {
			batch := bench.batch
			defer postgres.SetCopyPositions(postgres.SetCopyPositions(bench.path == "copy"))
			db := MustOpenDB(b, nil)
			s := postgres.NewPositionService(db)
			ctx := context.Background()
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			const devices = 1000
			var dev atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism((devices + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := convoi.DeviceID(fmt.Sprintf("35630704%07d", dev.Add(1)))
				ps := make([]convoi.Position, batch)
				var mine []time.Duration
				n := 0
				for pb.Next() {
					for j := range ps {
						n++
						ps[j] = convoi.Position{DeviceID: id, FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.73, Lon: 7.42,
							SpeedKmh: 50, Heading: 90, Satellites: 10, Valid: true, GNSS: convoi.GNSSFix,
							Attributes: map[string]any{"priority": 0, "ignition": int64(1), "movement": int64(1), "gnss_status": int64(1),
								"external_voltage": int64(13800), "hdop": 0.9}}
					}
					start := time.Now()
					if np, _, err := s.StorePositions(ctx, ps, nil); err != nil {
						b.Error(err)
						return
					} else if np != batch {
						b.Errorf("stored %d, want %d", np, batch)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
			if len(lat) > 0 {
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ack-ms")
			}
		})
	}
}

// BenchmarkStorePositionsPaced offers a fixed load instead of saturating
// the store: 1,000 devices each send a batch of 10 fixes every 200 ms
// (50,000 records/s offered; the devices' phases are spread over the
// period). One op is one period. It reports the rate achieved and the p99
// of the acknowledgement latency at that load, which is what a tracker
// waits for.
func BenchmarkStorePositionsPaced(b *testing.B) {
	const devices, batch, period = 1000, 10, 200 * time.Millisecond
	db := MustOpenDB(b, nil)
	s := postgres.NewPositionService(db)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var lat []time.Duration
	var stored atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := convoi.DeviceID(fmt.Sprintf("35630705%07d", d))
			ps := make([]convoi.Position, batch)
			var mine []time.Duration
			next := start.Add(period * time.Duration(d) / devices)
			n := 0
			for range b.N {
				time.Sleep(time.Until(next))
				next = next.Add(period)
				for j := range ps {
					n++
					ps[j] = convoi.Position{DeviceID: id, FixTime: t0.Add(time.Duration(n) * time.Second), Lat: 43.73, Lon: 7.42,
						SpeedKmh: 50, Heading: 90, Satellites: 10, Valid: true, GNSS: convoi.GNSSFix,
						Attributes: map[string]any{"priority": 0, "ignition": int64(1), "movement": int64(1), "gnss_status": int64(1),
							"external_voltage": int64(13800), "hdop": 0.9}}
				}
				t := time.Now()
				np, _, err := s.StorePositions(ctx, ps, nil)
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t))
				stored.Add(int64(np))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got, want := stored.Load(), int64(b.N*devices*batch); got != want {
		b.Fatalf("stored %d, want %d", got, want)
	}
	b.ReportMetric(float64(stored.Load())/time.Since(start).Seconds(), "records/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ack-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ack-ms")
	}
}
