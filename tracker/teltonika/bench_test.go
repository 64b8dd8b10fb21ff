package teltonika_test

import (
	"testing"
	"time"

	"github.com/convoi/convoi/tracker/teltonika"
)

// BenchmarkDecodeCodec8 decodes a frame of 25 typical Codec 8 records (10
// IO elements each); records/s is the figure to compare with the 2 M/s
// per-core target.
func BenchmarkDecodeCodec8(b *testing.B) {
	recs := make([]teltonika.Record, 25)
	for i := range recs {
		recs[i] = teltonika.Record{
			Time: time.Date(2026, 3, 1, 8, 0, i, 0, time.UTC), Lon: 7.42, Lat: 43.73, Satellites: 9, Speed: 50,
			IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}, {ID: 240, Size: 1, Value: 1}, {ID: 69, Size: 1, Value: 1},
				{ID: 21, Size: 1, Value: 4}, {ID: 66, Size: 2, Value: 12800}, {ID: 67, Size: 2, Value: 4100},
				{ID: 181, Size: 2, Value: 9}, {ID: 182, Size: 2, Value: 7}, {ID: 241, Size: 4, Value: 20801}, {ID: 16, Size: 4, Value: 123456}},
		}
	}
	frame, err := teltonika.AppendFrame(nil, teltonika.Codec8, recs)
	if err != nil {
		b.Fatal(err)
	}
	var p teltonika.Packet
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(recs))/b.Elapsed().Seconds(), "records/s")
}
