package osmand_test

import (
	"errors"
	"math"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker/osmand"
)

var now = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDecodeVectors(t *testing.T) {
	t.Run("O1", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24", nil)
		m, err := osmand.DecodeRequest(r, now)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Position
		if m.DeviceID != "123456789012345" || !p.FixTime.Equal(time.Unix(1504763810, 0)) || p.Lat != 40.7232948571 || p.Lon != -74.0061408571 ||
			!near(p.SpeedKmh, 40*1.852) || p.Heading != 7.19889788244 || p.Attributes["ignition"] != true || p.Attributes["rpm"] != 933.0 || !p.Valid {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("O2", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0", nil)
		m, err := osmand.DecodeRequest(r, now)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Position
		if !p.FixTime.Equal(time.Date(2016, 1, 27, 18, 55, 47, 0, time.UTC)) || p.HDOP != 6 || p.AltitudeM != 224 || p.SpeedKmh != 0 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("O3", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/?timestamp=1377177267&lat=60.0&lon=30.0", nil)
		if _, err := osmand.DecodeRequest(r, now); !errors.Is(err, osmand.ErrInvalid) {
			t.Fatalf("no id: %v", err)
		}
	})
}

func TestDecodeForms(t *testing.T) {
	cases := []struct {
		name, method, target, ctype, body string
		check                             func(*testing.T, osmand.Message)
	}{
		{"form body", "POST", "/", "application/x-www-form-urlencoded", "deviceid=phone-1&lat=43.7&lon=7.4&alarm=sos&batt=80", func(t *testing.T, m osmand.Message) {
			if m.DeviceID != "phone-1" || m.Alarm != "sos" || m.Position.Attributes["batt"] != 80.0 || !m.Position.FixTime.Equal(now) {
				t.Fatalf("%+v", m)
			}
			if ev, ok := m.Event(); !ok || ev.Kind != convoi.EventPanic || ev.Severity != convoi.SeverityCritical {
				t.Fatalf("event %+v", ev)
			}
		}},
		{"location param, ms timestamp", "GET", "/?id=a&location=43.7,7.4&timestamp=1772352000000&valid=false", "", "", func(t *testing.T, m osmand.Message) {
			if m.Position.Lat != 43.7 || m.Position.Lon != 7.4 || m.Position.Valid || !m.Position.FixTime.Equal(time.UnixMilli(1772352000000)) {
				t.Fatalf("%+v", m.Position)
			}
		}},
		{"space timestamp", "GET", "/?id=a&lat=1&lon=2&timestamp=2026-03-01%2008:00:05", "", "", func(t *testing.T, m osmand.Message) {
			if !m.Position.FixTime.Equal(now.Add(5 * time.Second)) {
				t.Fatalf("%v", m.Position.FixTime)
			}
		}},
		{"json body", "POST", "/", "application/json", `{"location":{"timestamp":"2026-03-01T08:00:00.000Z","coords":{"latitude":43.73,"longitude":7.42,"accuracy":5,"speed":10,"heading":90,"altitude":50},"is_moving":true,"odometer":1200,"event":"motionchange","battery":{"level":0.5,"is_charging":false},"activity":{"type":"in_vehicle"},"extras":{"alarm":"tampering"}},"device_id":"phone-2"}`, func(t *testing.T, m osmand.Message) {
			p := m.Position
			if m.DeviceID != "phone-2" || p.Lat != 43.73 || p.Lon != 7.42 || !near(p.SpeedKmh, 36) || p.Heading != 90 || p.AltitudeM != 50 ||
				p.Attributes["battery_level"] != 50.0 || p.Attributes["activity"] != "in_vehicle" || p.Attributes["motion"] != true || !p.FixTime.Equal(now) {
				t.Fatalf("%+v", m)
			}
			if ev, ok := m.Event(); !ok || ev.Kind != convoi.EventTamper {
				t.Fatalf("event %+v", ev)
			}
		}},
		{"json unknown speed", "POST", "/", "", `{"location":{"coords":{"latitude":1,"longitude":2,"speed":-1,"heading":-1}},"device_id":"x"}`, func(t *testing.T, m osmand.Message) {
			if m.Position.SpeedKmh != 0 || m.Position.Heading != 0 {
				t.Fatalf("%+v", m.Position)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			m, err := osmand.DecodeRequest(r, now)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, m)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, q := range map[string]string{
		"no id":          "lat=1&lon=2",
		"bad id":         "id=a%20b&lat=1&lon=2",
		"no coordinates": "id=a",
		"lat only":       "id=a&lat=1",
		"lat 91":         "id=a&lat=91&lon=2",
		"lat NaN":        "id=a&lat=NaN&lon=2",
		"speed Inf":      "id=a&lat=1&lon=2&speed=Inf",
		"bad timestamp":  "id=a&lat=1&lon=2&timestamp=yesterday",
		"bad location":   "id=a&location=1",
		"bad valid":      "id=a&lat=1&lon=2&valid=maybe",
		"huge timestamp": "id=a&lat=1&lon=2&timestamp=1e300",
	} {
		t.Run(name, func(t *testing.T) {
			v, _ := url.ParseQuery(q)
			if _, err := osmand.DecodeValues(v, now); !errors.Is(err, osmand.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	for name, body := range map[string]string{
		"bad json":       `{"location":`,
		"json no coords": `{"location":{},"device_id":"a"}`,
		"json no id":     `{"location":{"coords":{"latitude":1,"longitude":2}}}`,
		"json bad time":  `{"location":{"timestamp":"x","coords":{"latitude":1,"longitude":2}},"device_id":"a"}`,
		"oversized":      `{"device_id":"` + strings.Repeat("a", osmand.MaxBodyBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			if _, err := osmand.DecodeRequest(r, now); !errors.Is(err, osmand.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzDecodeValues: never panics; what it accepts is a valid position.
func FuzzDecodeValues(f *testing.F) {
	for _, s := range []string{
		"id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
		"id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
		"timestamp=1377177267&lat=60.0&lon=30.0",
		"id=a&location=1,2&alarm=sos",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		m, err := osmand.DecodeValues(v, now)
		if err != nil {
			if !errors.Is(err, osmand.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkValid(t, m)
	})
}

// FuzzDecodeJSON: never panics; what it accepts is a valid position.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"location":{"timestamp":"2026-03-01T08:00:00.000Z","coords":{"latitude":43.73,"longitude":7.42,"accuracy":5,"speed":10,"heading":90,"altitude":50},"is_moving":true,"odometer":1200,"event":"motionchange","battery":{"level":0.5,"is_charging":false},"activity":{"type":"in_vehicle"},"extras":{"alarm":"sos"}},"device_id":"phone-2"}`)
	f.Add(`{"location":{"coords":{"latitude":1,"longitude":2}},"device_id":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := osmand.DecodeJSON([]byte(body), now)
		if err != nil {
			if !errors.Is(err, osmand.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkValid(t, m)
	})
}

func checkValid(t *testing.T, m osmand.Message) {
	t.Helper()
	p := m.Position
	if !m.DeviceID.Valid() || p.DeviceID != m.DeviceID {
		t.Fatalf("device id %q", m.DeviceID)
	}
	if err := (convoi.LatLon{Lat: p.Lat, Lon: p.Lon}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{p.SpeedKmh, p.Heading, p.AltitudeM, p.HDOP} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("non-finite %+v", p)
		}
	}
	if p.FixTime.IsZero() {
		t.Fatal("zero fix time")
	}
}
