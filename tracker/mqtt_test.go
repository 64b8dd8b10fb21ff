package tracker_test

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/mqtt"
)

// publish sends payload to topic with QoS 1 as gw-7 with its credentials
// (see setSecret).
func publish(t *testing.T, addr, topic, payload string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("gw-test-" + topic).
		SetUsername("gw-7").SetPassword(gw7Secret))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	// QoS 1: Wait returns on PUBACK, which the broker sends after storing.
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

const gw7Secret = "gw-7-secret"

func TestMQTTEmbedded(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.MQTTAddr = "127.0.0.1:0" })
	e.setSecret(t, "gw-7", gw7Secret)
	addr := e.srv.MQTTAddress()
	publish(t, addr, "convoi/positions/gw-7", `{"time":"2026-03-01T08:00:00Z","lat":43.7384,"lon":7.4246,"speed_kmh":42,"event":"panic","attributes":{"ignition":true}}`)
	ps := e.positionsOf(t, "gw-7") // stored before PUBACK: no waiting
	if len(ps) != 1 || ps[0].SpeedKmh != 42 || ps[0].Attributes["ignition"] != true {
		t.Fatalf("positions %+v", ps)
	}
	if k := kinds(e.eventsOf(t, "gw-7")); len(k) != 1 || k[0] != "panic" {
		t.Fatalf("events %v", k)
	}
	publish(t, addr, "convoi/positions/gw-7", `[{"device_id":"gw-7","time":1772352001000,"lat":43.7,"lon":7.4},{"device_id":"nobody","lat":1,"lon":2}]`)
	if n := len(e.positionsOf(t, "gw-7")); n != 2 {
		t.Fatalf("%d positions after array", n)
	}
	publish(t, addr, "convoi/positions/gw-7", `{"lat":95,"lon":1}`) // invalid: dropped and logged
	publish(t, addr, "elsewhere/gw-7", `{"lat":1,"lon":1}`)         // not our topic
	if n := len(e.positionsOf(t, "gw-7")); n != 2 {
		t.Fatalf("%d positions after bad payloads", n)
	}
}

func TestMQTTExternalBroker(t *testing.T) {
	// An "external" broker: the embedded one, handing nothing to convoi.
	// Like a Mosquitto left open: anyone may connect, publish and subscribe.
	ext := &mqtt.Broker{Addr: "127.0.0.1:0", Topic: "none/#", Handler: func(context.Context, string, []byte) error { return nil },
		Authenticate: func(string, []byte) bool { return true }, Authorize: func(string, string, bool) bool { return true }}
	if err := ext.Open(); err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	e := MustOpenEnv(t, func(s *tracker.Server) { s.MQTTURL = "tcp://" + ext.Address() })
	publish(t, ext.Address(), "convoi/positions/gw-7", `{"time":"2026-03-01T08:00:00Z","lat":43.7384,"lon":7.4246}`)
	waitFor(t, func() bool { return len(e.positionsOf(t, "gw-7")) == 1 })
	if st, ok := e.srv.State("gw-7"); !ok || !st.Online || st.Protocol != convoi.ProtocolMQTT {
		t.Fatalf("state %+v", st)
	}
}
