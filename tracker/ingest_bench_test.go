package tracker

import (
	"context"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/tracker/teltonika"
)

// discardPositions is a PositionService that stores nothing, so that the
// ingest benchmark measures the server's own work.
type discardPositions struct{ convoi.PositionService }

func (discardPositions) StorePositions(ctx context.Context, ps []convoi.Position, evs []convoi.DeviceEvent) (int, int, error) {
	return len(ps), len(evs), nil
}

// BenchmarkIngestPacket measures what the server does for one Codec 8
// frame of 10 records with loadgen's IO elements, once decoded: convert to
// positions and events (IO map, edge rules, attributes), store (here: a
// no-op) and publish on the bus. It reports records/s and allocations.
func BenchmarkIngestPacket(b *testing.B) {
	s := New()
	s.Positions, s.Events = discardPositions{}, bus.New()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	dev := s.device(&convoi.Tracker{ID: 1, DeviceID: "359000000000001", Protocol: convoi.ProtocolTeltonika, Model: "FMC130"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]teltonika.Record, 10)
	for i := range recs {
		recs[i] = teltonika.Record{Time: t0.Add(time.Duration(i) * time.Second), Lat: 43.73, Lon: 7.42, Angle: 90,
			Satellites: 9, Speed: 40, Altitude: 40,
			IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}, {ID: 240, Size: 1, Value: 1}, {ID: 69, Size: 1, Value: 1}, {ID: 66, Size: 2, Value: 13800}}}
	}
	frame, err := teltonika.AppendFrame(nil, teltonika.Codec8, recs)
	if err != nil {
		b.Fatal(err)
	}
	var p teltonika.Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Decode(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ingestPacket(dev, &p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
