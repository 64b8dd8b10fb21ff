package convoi_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestPositionValidate(t *testing.T) {
	fix := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	valid := func() convoi.Position {
		return convoi.Position{DeviceID: "352093081234567", FixTime: fix, Lat: 43.7384, Lon: 7.4246, SpeedKmh: 42, HDOP: 0.9}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*convoi.Position)
	}{
		{"no device", func(p *convoi.Position) { p.DeviceID = "" }},
		{"device with space", func(p *convoi.Position) { p.DeviceID = "van 12" }},
		{"device 65 long", func(p *convoi.Position) { p.DeviceID = convoi.DeviceID(strings.Repeat("a", 65)) }},
		{"device non-ASCII", func(p *convoi.Position) { p.DeviceID = "vé" }},
		{"no fix time", func(p *convoi.Position) { p.FixTime = time.Time{} }},
		{"fix time 1979", func(p *convoi.Position) { p.FixTime = convoi.MinFixTime.Add(-time.Nanosecond) }},
		{"fix time 2200", func(p *convoi.Position) { p.FixTime = convoi.MaxFixTime }},
		{"server time 1970", func(p *convoi.Position) { p.ServerTime = time.Unix(0, 0) }},
		{"lat 91", func(p *convoi.Position) { p.Lat = 91 }},
		{"lon NaN", func(p *convoi.Position) { p.Lon = math.NaN() }},
		{"speed +Inf", func(p *convoi.Position) { p.SpeedKmh = math.Inf(1) }},
		{"heading NaN", func(p *convoi.Position) { p.Heading = math.NaN() }},
		{"altitude -Inf", func(p *convoi.Position) { p.AltitudeM = math.Inf(-1) }},
		{"hdop NaN", func(p *convoi.Position) { p.HDOP = math.NaN() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.mutate(&p)
			if err := p.Validate(); convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("Validate() = %v, want invalid", err)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		mutate func(*convoi.Position)
	}{
		{"as is", func(*convoi.Position) {}},
		{"device of every allowed character", func(p *convoi.Position) { p.DeviceID = "aZ09._:-" }},
		{"device 64 long", func(p *convoi.Position) { p.DeviceID = convoi.DeviceID(strings.Repeat("a", 64)) }},
		{"first instant", func(p *convoi.Position) { p.FixTime = convoi.MinFixTime }},
		{"server time set", func(p *convoi.Position) { p.ServerTime = fix.Add(time.Second) }},
		{"null island", func(p *convoi.Position) { p.Lat, p.Lon = 0, 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.mutate(&p)
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestDeviceEventValidate(t *testing.T) {
	valid := func() convoi.DeviceEvent {
		return convoi.DeviceEvent{DeviceID: "van-12", Kind: convoi.EventPanic, Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*convoi.DeviceEvent)
		ok     bool
	}{
		{"as is, without a position", func(*convoi.DeviceEvent) {}, true},
		{"with a position", func(e *convoi.DeviceEvent) { e.Lat, e.Lon = 43.7, 7.4 }, true},
		{"bad device", func(e *convoi.DeviceEvent) { e.DeviceID = "a/b" }, false},
		{"no kind", func(e *convoi.DeviceEvent) { e.Kind = "" }, false},
		{"kind 65 long", func(e *convoi.DeviceEvent) { e.Kind = convoi.DeviceEventKind(strings.Repeat("k", 65)) }, false},
		{"no time", func(e *convoi.DeviceEvent) { e.Time = time.Time{} }, false},
		{"server time 2300", func(e *convoi.DeviceEvent) { e.ServerTime = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"lat out of range", func(e *convoi.DeviceEvent) { e.Lat, e.Lon = -91, 7 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.mutate(&e)
			if err := e.Validate(); (err == nil) != tc.ok || (err != nil && convoi.ErrorCode(err) != convoi.EINVALID) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
