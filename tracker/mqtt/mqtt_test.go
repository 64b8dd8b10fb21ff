package mqtt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker/mqtt"

	paho "github.com/eclipse/paho.mqtt.golang"
)

var now = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func TestDecode(t *testing.T) {
	ms, err := mqtt.Decode("convoi/positions/van-12", []byte(`{"time":"2026-03-01T07:59:00Z","lat":43.7384,"lon":7.4246,"speed_kmh":42.5,"heading":270,"altitude_m":55,"satellites":9,"hdop":0.9,"valid":true,"event":"gnss_jamming","attributes":{"ignition":true}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	p := ms[0].Position
	if len(ms) != 1 || p.DeviceID != "van-12" || !p.FixTime.Equal(now.Add(-time.Minute)) || p.SpeedKmh != 42.5 || p.Satellites != 9 ||
		ms[0].Event == nil || ms[0].Event.Kind != convoi.EventGNSSJamming || ms[0].Event.Severity != convoi.SeverityCritical {
		t.Fatalf("%+v", ms)
	}
	ms, err = mqtt.Decode("t", []byte(`[{"device_id":"a","lat":1,"lon":2,"time":1772352000000},{"device_id":"b","lat":3,"lon":4,"valid":false}]`), now)
	if err != nil || len(ms) != 2 || !ms[0].Position.FixTime.Equal(now) || ms[1].Position.Valid || !ms[1].Position.FixTime.Equal(now) {
		t.Fatalf("%+v %v", ms, err)
	}
	for name, b := range map[string]string{
		"not json":      `{`,
		"no device":     `{"lat":1,"lon":2}`,
		"no lat":        `{"device_id":"a","lon":2}`,
		"lat 91":        `{"device_id":"a","lat":91,"lon":2}`,
		"bad time":      `{"device_id":"a","lat":1,"lon":2,"time":"noon"}`,
		"negative time": `{"device_id":"a","lat":1,"lon":2,"time":-5}`,
		"unknown event": `{"device_id":"a","lat":1,"lon":2,"event":"party"}`,
		"empty array":   `[]`,
		"huge speed":    `{"device_id":"a","lat":1,"lon":2,"speed_kmh":1e300}`,
	} {
		if _, err := mqtt.Decode("", []byte(b), now); !errors.Is(err, mqtt.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		f, t string
		want bool
	}{
		{"convoi/positions/#", "convoi/positions/a", true},
		{"convoi/positions/#", "convoi/positions", true},
		{"convoi/+/a", "convoi/x/a", true},
		{"convoi/+/a", "convoi/x/b", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
	} {
		if got := mqtt.Match(tc.f, tc.t); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.f, tc.t, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("convoi/positions/van-12", `{"time":"2026-03-01T07:59:00Z","lat":43.7384,"lon":7.4246,"event":"panic"}`)
	f.Add("x", `[{"device_id":"a","lat":1,"lon":2,"time":1772352000000}]`)
	f.Fuzz(func(t *testing.T, topic, payload string) {
		ms, err := mqtt.Decode(topic, []byte(payload), now)
		if err != nil {
			if !errors.Is(err, mqtt.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, m := range ms {
			if !m.Position.DeviceID.Valid() || (convoi.LatLon{Lat: m.Position.Lat, Lon: m.Position.Lon}).Validate() != nil {
				t.Fatalf("accepted %+v", m.Position)
			}
		}
	})
}

// TestBrokerCloseEndsHandler: a Handler still storing when the broker closes
// sees its context cancelled at once, not after HandlerTimeout.
func TestBrokerCloseEndsHandler(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	b := &mqtt.Broker{Addr: "127.0.0.1:0", Topic: "convoi/positions/#", Handler: func(ctx context.Context, _ string, _ []byte) error {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}, Authenticate: func(u string, pw []byte) bool { return u == "a" && string(pw) == "pw" }}
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.Address()).SetClientID("close-test").SetUsername("a").SetPassword("pw"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	c.Publish("convoi/positions/a", 1, false, `{"lat":1,"lon":2}`) // not waited for: never acknowledged
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	go b.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context ended with %v, want context.Canceled", err)
		}
	case <-time.After(mqtt.HandlerTimeout / 3):
		t.Fatal("Close did not cancel the running handler")
	}
}
