package monitor

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// BenchmarkHandlePosition evaluates fixes at the ingest target's mix: 1,000
// devices, 200 of them on 100 underway movements (van and car), the others
// on none. Reported as fixes/s.
func BenchmarkHandlePosition(b *testing.B) {
	routes := demoRoutes(b)
	names := make([]string, 0, len(routes))
	for n := range routes {
		names = append(names, n)
	}
	sort.Strings(names)
	w := &world{}
	var fixes []*convoi.Position
	for i := 0; i < 100; i++ {
		rs := routes[names[i%len(names)]]
		feeds := cleanFeeds(b, w, i+1, rs, uint64(i+1), 3)
		for _, f := range feeds {
			for j, s := range f.samples {
				if j%f.every != 0 || s.Tunnel {
					continue
				}
				fixes = append(fixes, &convoi.Position{DeviceID: f.dev, FixTime: s.At, Lat: s.Fix.Lat, Lon: s.Fix.Lon, SpeedKmh: s.SpeedKmh, Heading: s.Heading, Valid: true})
			}
		}
	}
	// 800 devices on no movement: one stranger fix for every matched one.
	n := len(fixes)
	for i := 0; i < n; i++ {
		p := fixes[i]
		fixes = append(fixes, &convoi.Position{DeviceID: convoi.DeviceID(fmt.Sprintf("idle-%d", i%800)), FixTime: p.FixTime, Lat: p.Lat, Lon: p.Lon, Valid: true})
	}
	sort.SliceStable(fixes, func(i, j int) bool { return fixes[i].FixTime.Before(fixes[j].FixTime) })
	sink := &memSink{}
	ctx := context.Background()
	b.ResetTimer()
	var done int
	for done < b.N {
		b.StopTimer()
		mon := New(monaco(b))
		mon.Movements, mon.Trackers, mon.Alarms = w, w, sink
		mon.Now = func() time.Time { return t0 }
		if err := mon.Load(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, p := range fixes {
			if done == b.N {
				break
			}
			if err := mon.HandlePosition(ctx, p); err != nil {
				b.Fatal(err)
			}
			done++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fixes/s")
}
