package tracker_test

import (
	"context"
	"crypto/sha256"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/tracker"
)

// setSecret gives device its MQTT secret.
func (e *env) setSecret(t *testing.T, device convoi.DeviceID, secret string) {
	t.Helper()
	tr, err := e.trackers.FindTrackerByDeviceID(context.Background(), device)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(secret))
	if err := sqlite.NewDeviceSecretService(e.db).SetDeviceSecret(context.Background(), tr.ID, h[:]); err != nil {
		t.Fatal(err)
	}
}

func mqttConnect(addr, id, user, pass string) (paho.Client, error) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetConnectRetry(false).SetAutoReconnect(false))
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, context.DeadlineExceeded
	}
	return c, tok.Error()
}

// E4: the embedded broker admits only trackers with their credentials; a
// tracker publishes its own positions only and reads nothing.
func TestHardening_MQTTAuthenticated(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.MQTTAddr = "127.0.0.1:0" })
	e.setSecret(t, "gw-7", "s3cret-of-gw-7")
	addr := e.srv.MQTTAddress()

	for name, creds := range map[string][2]string{"anonymous": {"", ""}, "wrong password": {"gw-7", "guess"}, "unknown device": {"gw-99", "x"}} {
		if c, err := mqttConnect(addr, "probe-"+name, creds[0], creds[1]); err == nil {
			c.Disconnect(0)
			t.Errorf("%s: connected", name)
		}
	}
	c, err := mqttConnect(addr, "gw-7-client", "gw-7", "s3cret-of-gw-7")
	if err != nil {
		t.Fatalf("the device's own credentials: %v", err)
	}
	defer c.Disconnect(100)
	// Reading positions: every subscription is refused.
	sub := c.Subscribe("#", 1, func(paho.Client, paho.Message) { t.Error("a device received a message") })
	sub.WaitTimeout(5 * time.Second)
	if res := sub.(*paho.SubscribeToken).Result(); res["#"] != 0x80 {
		t.Errorf("subscribe # granted: %v", res)
	}
	pub := func(c paho.Client, topic, payload string) {
		tok := c.Publish(topic, 1, false, payload)
		tok.WaitTimeout(5 * time.Second)
	}
	pub(c, "convoi/positions/gw-7", `{"time":"2026-03-01T08:00:00Z","lat":43.7384,"lon":7.4246}`)
	pub(c, "convoi/positions/gw-7", `{"device_id":"gw-other","time":"2026-03-01T08:00:02Z","lat":43.7,"lon":7.4,"event":"panic"}`)
	pub(c, "convoi/positions/gw-7", `{"time":"2026-03-01T08:00:03Z","lat":43.7385,"lon":7.4247}`)
	// Publishing to another device's topic is not authorised: MQTT 3
	// has no way to say so but to drop the client.
	c2, err := mqttConnect(addr, "gw-7-b", "gw-7", "s3cret-of-gw-7")
	if err != nil {
		t.Fatal(err)
	}
	pub(c2, "convoi/positions/gw-8", `{"device_id":"gw-8","time":"2026-03-01T08:00:01Z","lat":43.7,"lon":7.4,"event":"panic"}`)
	waitFor(t, func() bool { return !c2.IsConnectionOpen() })
	waitFor(t, func() bool { return len(e.positionsOf(t, "gw-7")) == 2 })
	if n := len(e.positionsOf(t, "gw-8")) + len(e.positionsOf(t, "gw-other")); n != 0 {
		t.Fatalf("%d positions stored for other devices", n)
	}
}

// E4: without credentials configured the embedded broker does not start.
func TestHardening_MQTTOffWithoutCredentials(t *testing.T) {
	db := MustOpenDB(t, t.TempDir()+"/convoi.db")
	s := tracker.New()
	s.MQTTAddr = "127.0.0.1:0"
	s.Trackers, s.Positions = sqlite.NewTrackerService(db), sqlite.NewPositionService(db)
	if err := s.Open(); err == nil {
		s.Close()
		t.Fatal("broker opened without device credentials")
	}
}

// E6: connections are capped per address, and in all below the process's
// open-file limit.
func TestHardening_ConnCaps(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.MaxConnsPerAddr = 2; s.MaxConns = 1 << 30 })
	if max := e.srv.EffectiveMaxConns(); max <= 0 || max >= tracker.OpenFileLimit() {
		t.Fatalf("max conns %d with an open-file limit of %d", max, tracker.OpenFileLimit())
	}
	a, _ := e.dial(t, imeiFMC)
	e.dial(t, imeiPanicIn)
	c, err := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection from one address served over a cap of 2")
	}
	if n := a.send(mustHex(t, vecT2)); n != 1 {
		t.Fatal("capped server stopped serving")
	}
}

// E8: junk from unauthenticated peers is logged a bounded number of times.
func TestHardening_JunkLogsBounded(t *testing.T) {
	e := MustOpenEnv(t, nil)
	u, err := net.Dial("udp", e.srv.TeltonikaUDPAddress().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for i := range 500 {
		u.Write([]byte{byte(i), 0xff, 0x00, 0x13, 0x37})
	}
	for range 60 {
		c, err := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 16))
		c.Close()
	}
	time.Sleep(300 * time.Millisecond) // let the UDP reader drain
	lines := strings.Count(e.logs.String(), "\n")
	if lines > 40 {
		t.Fatalf("%d log lines for 500 junk datagrams and 60 junk connections:\n%.2000s", lines, e.logs.String())
	}
}
