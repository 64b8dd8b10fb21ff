package tracker_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/teltonika"
)

// onlineEvents returns d's stored device_online events, oldest first.
func (e *env) onlineEvents(tb testing.TB, d convoi.DeviceID) []*convoi.DeviceEvent {
	tb.Helper()
	var out []*convoi.DeviceEvent
	for _, ev := range e.eventsOf(tb, d) {
		if ev.Kind == convoi.EventDeviceOnline {
			out = append(out, ev)
		}
	}
	return out
}

// TestOnlineEventCarriesLastPosition: a device's device_online event
// carries where it is (the batch that brought it online) or, when it comes
// online without a fix (a Teltonika login after a restart), where it was
// last known; Status reports a device not seen since the restart from the
// store.
func TestOnlineEventCarriesLastPosition(t *testing.T) {
	e := MustOpenEnv(t, nil)
	c, err := net.Dial("udp", e.srv.TeltonikaUDPAddress().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dg, _ := teltonika.AppendUDP(nil, teltonika.UDPHeader{PacketID: 1, AVLPacketID: 1, IMEI: imeiFMC}, mustHex(t, vecT3))
	c.Write(dg)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	ps := e.positionsOf(t, imeiFMC)
	if len(ps) != 1 || ps[0].Lat == 0 {
		t.Fatalf("positions %v", ps)
	}
	at := [2]float64{ps[0].Lat, ps[0].Lon}
	on := e.onlineEvents(t, imeiFMC)
	if len(on) != 1 || [2]float64{on[0].Lat, on[0].Lon} != at {
		t.Fatalf("online events %+v; want one at %v", on, at)
	}

	// A second server on the same store: the process restarted.
	s := tracker.New()
	s.TeltonikaAddr = "127.0.0.1:0"
	s.Trackers, s.Positions, s.Events = e.trackers, e.positions, e.bus
	s.Logger = slog.New(slog.DiscardHandler)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, ok, err := s.Status(context.Background(), imeiFMC)
	if err != nil || !ok || st.Online || st.Position == nil || [2]float64{st.Position.Lat, st.Position.Lon} != at || st.LastSeen.IsZero() {
		t.Fatalf("status after restart: %+v, %v, %v; want offline at %v", st, ok, err, at)
	}
	if _, ok, err := s.Status(context.Background(), osmandID); ok || err != nil {
		t.Fatalf("a device that never reported: ok %v, %v", ok, err)
	}
	conn, err := net.Dial("tcp", s.TeltonikaTCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write(teltonika.AppendIMEI(nil, imeiFMC))
	reply := make([]byte, 1)
	if _, err := conn.Read(reply); err != nil || reply[0] != 1 {
		t.Fatalf("login: %v %v", reply, err)
	}
	waitFor(t, func() bool { return len(e.onlineEvents(t, imeiFMC)) == 2 })
	on = e.onlineEvents(t, imeiFMC)
	if got := [2]float64{on[1].Lat, on[1].Lon}; got != at {
		t.Fatalf("online after login without a fix at %v, want the last known %v", got, at)
	}
	st, ok, err = s.Status(context.Background(), imeiFMC)
	if err != nil || !ok || !st.Online || !st.Connected || st.Position == nil {
		t.Fatalf("status after login: %+v, %v, %v", st, ok, err)
	}
}
