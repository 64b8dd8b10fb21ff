package tracker_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/teltonika"
)

// Devices registered by MustOpenEnv.
const (
	imeiFMC      = "123456789012345" // model FMC130: the Teltonika IO map
	imeiPanicIn  = "222222222222222" // model FMB920
	imeiDisabled = "333333333333333"
	imeiUnknown  = "999999999999999"
	osmandID     = "123456789012345-phone"
	osmandO2     = "902064"
)

const (
	vecT2 = "000000000000003508010000014f8e016420002141bbaf0f4e96a7fffa0000120000000602010047030242669c92000002c7000000009100000000000100002df3"
	vecT3 = "000000000000004508010000015eb70a86d00024089d4d21dee3860137005f12005f000e06ef01f00150011503c800450108b5000bb6000642382718005fcd057ace19d3430f57440000000001000002bf"
)

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// env is a server on a real SQLite store in a temp directory.
type env struct {
	srv       *tracker.Server
	db        *sqlite.DB
	positions *sqlite.PositionService
	trackers  *sqlite.TrackerService
	bus       *bus.EventService
	logs      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustOpenDB opens a SQLite database at path and closes it at the end.
func MustOpenDB(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(path)
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// registerDevices creates the test trackers.
func registerDevices(tb testing.TB, ts convoi.TrackerService) {
	tb.Helper()
	for _, t := range []*convoi.Tracker{
		{DeviceID: imeiFMC, Protocol: convoi.ProtocolTeltonika, Model: "FMC130"},
		{DeviceID: imeiPanicIn, Protocol: convoi.ProtocolTeltonika, Model: "FMB920"},
		{DeviceID: imeiDisabled, Protocol: convoi.ProtocolTeltonika, Model: "FMB920", Disabled: true},
		{DeviceID: osmandID, Protocol: convoi.ProtocolOsmAnd},
		{DeviceID: osmandO2, Protocol: convoi.ProtocolOsmAnd},
		{DeviceID: "gw-7", Protocol: convoi.ProtocolMQTT},
	} {
		if err := ts.CreateTracker(context.Background(), t); err != nil {
			tb.Fatal(err)
		}
	}
}

// MustOpenEnv opens a store with the test devices registered and a server
// with every listener on 127.0.0.1:0; configure runs before Open.
func MustOpenEnv(tb testing.TB, configure func(*tracker.Server)) *env {
	tb.Helper()
	db := MustOpenDB(tb, filepath.Join(tb.TempDir(), "convoi.db"))
	e := &env{db: db, positions: sqlite.NewPositionService(db), trackers: sqlite.NewTrackerService(db), bus: bus.New(), logs: &syncBuffer{}}
	registerDevices(tb, e.trackers)
	s := tracker.New()
	s.TeltonikaAddr, s.TeltonikaUDPAddr, s.OsmAndAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	s.Trackers, s.Positions, s.Events = e.trackers, e.positions, e.bus
	s.DeviceSecrets = sqlite.NewDeviceSecretService(db)
	s.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	if configure != nil {
		configure(s)
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	e.srv = s
	return e
}

// device is a simulated Teltonika device on TCP.
type device struct {
	tb   testing.TB
	conn net.Conn
}

// dial connects and logs in; it returns the server's login answer.
func (e *env) dial(tb testing.TB, imei string) (*device, byte) {
	tb.Helper()
	c, err := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	d := &device{tb: tb, conn: c}
	d.write(teltonika.AppendIMEI(nil, imei))
	var b [1]byte
	d.read(b[:])
	return d, b[0]
}

func (d *device) write(b []byte) {
	d.tb.Helper()
	d.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := d.conn.Write(b); err != nil {
		d.tb.Fatal(err)
	}
}

func (d *device) read(b []byte) {
	d.tb.Helper()
	d.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(d.conn, b); err != nil {
		d.tb.Fatal(err)
	}
}

// send writes a frame and returns the acknowledged record count.
func (d *device) send(frame []byte) int {
	d.tb.Helper()
	d.write(frame)
	var ack [4]byte
	d.read(ack[:])
	return int(ack[0])<<24 | int(ack[1])<<16 | int(ack[2])<<8 | int(ack[3])
}

func (e *env) positionsOf(tb testing.TB, d convoi.DeviceID) []*convoi.Position {
	tb.Helper()
	ps, err := e.positions.FindPositions(context.Background(), convoi.PositionFilter{DeviceID: &d})
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

func (e *env) eventsOf(tb testing.TB, d convoi.DeviceID) []*convoi.DeviceEvent {
	tb.Helper()
	evs, err := e.positions.FindDeviceEvents(context.Background(), convoi.DeviceEventFilter{DeviceID: &d})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// kinds lists the event kinds, leaving out online/offline.
func kinds(evs []*convoi.DeviceEvent) []string {
	var out []string
	for _, e := range evs {
		if e.Kind != convoi.EventDeviceOnline && e.Kind != convoi.EventDeviceOffline {
			out = append(out, string(e.Kind))
		}
	}
	return out
}

func TestTeltonikaLoginAndAck(t *testing.T) {
	e := MustOpenEnv(t, nil)
	sub, _ := e.bus.Subscribe(context.Background())

	if _, ans := e.dial(t, imeiUnknown); ans != 0x00 {
		t.Fatalf("unknown IMEI answered %02x", ans)
	}
	if _, ans := e.dial(t, imeiDisabled); ans != 0x00 {
		t.Fatalf("disabled IMEI answered %02x", ans)
	}
	if !bytes.Contains([]byte(e.logs.String()), []byte("unknown device rejected")) {
		t.Fatalf("rejection not logged: %s", e.logs.String())
	}
	d, ans := e.dial(t, imeiFMC)
	if ans != 0x01 {
		t.Fatalf("known IMEI answered %02x", ans)
	}
	if n := d.send(mustHex(t, vecT2)); n != 1 {
		t.Fatalf("ack %d, want 1", n)
	}
	ps := e.positionsOf(t, imeiFMC)
	if len(ps) != 1 {
		t.Fatalf("%d positions stored", len(ps))
	}
	p := ps[0]
	if !p.FixTime.Equal(time.Date(2015, 9, 2, 12, 21, 40, 0, time.UTC)) || p.Lat != 25.6808615 || p.Lon != 55.7956015 ||
		p.AltitudeM != -6 || p.Satellites != 18 || !p.Valid || p.Attributes["external_voltage_mv"] != float64(26268) {
		t.Fatalf("stored %+v", p)
	}
	// Retransmission: acknowledged again, stored once.
	if n := d.send(mustHex(t, vecT2)); n != 1 {
		t.Fatalf("retransmission ack %d", n)
	}
	if n := len(e.positionsOf(t, imeiFMC)); n != 1 {
		t.Fatalf("%d positions after retransmission", n)
	}
	// Bad CRC: zero acknowledged, nothing stored.
	bad := mustHex(t, vecT3)
	bad[len(bad)-1] ^= 0xff
	if n := d.send(bad); n != 0 {
		t.Fatalf("bad CRC ack %d", n)
	}
	if n := len(e.positionsOf(t, imeiFMC)); n != 1 {
		t.Fatalf("%d positions after a bad frame", n)
	}
	if n := d.send(mustHex(t, vecT3)); n != 1 {
		t.Fatalf("T3 ack %d", n)
	}
	st, ok := e.srv.State(imeiFMC)
	if !ok || !st.Online || !st.Connected || st.Position == nil || st.Position.SpeedKmh != 95 || st.Position.GNSS != convoi.GNSSFix {
		t.Fatalf("state %+v", st)
	}
	// The bus saw the device come online, its positions and ignition.
	var seen []string
	timeout := time.After(5 * time.Second)
	for len(seen) < 5 {
		select {
		case ev := <-sub.C():
			if ev.Position != nil {
				seen = append(seen, "position")
			} else {
				seen = append(seen, string(ev.DeviceEvent.Kind))
			}
		case <-timeout:
			t.Fatalf("bus: %v", seen)
		}
	}
	want := []string{"device_online", "position", "position", "position", "ignition_on"}
	if !equal(seen, want) {
		t.Fatalf("bus: %v, want %v", seen, want)
	}
	// Disconnect: offline at once.
	d.conn.Close()
	waitFor(t, func() bool { st, _ := e.srv.State(imeiFMC); return !st.Online })
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}

func TestTeltonikaGarbageClosesConnection(t *testing.T) {
	e := MustOpenEnv(t, nil)
	for name, payload := range map[string][]byte{
		"oversized length": mustHex(t, "00000000ffffffff"),
		"bad preamble":     mustHex(t, "0000000100000010"),
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := e.dial(t, imeiFMC)
			d.write(payload)
			d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := d.conn.Read(make([]byte, 4)); err == nil {
				t.Fatalf("read %d bytes, want the connection closed", n)
			}
		})
	}
	t.Run("three bad CRCs", func(t *testing.T) {
		d, _ := e.dial(t, imeiFMC)
		bad := mustHex(t, vecT2)
		bad[len(bad)-1] ^= 1
		for range 2 {
			if n := d.send(bad); n != 0 {
				t.Fatalf("ack %d", n)
			}
		}
		d.write(bad)
		d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := d.conn.Read(make([]byte, 4)); err == nil {
			t.Fatal("connection still open after three bad frames")
		}
	})
	t.Run("login garbage", func(t *testing.T) {
		c, _ := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
		defer c.Close()
		c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection open after an HTTP request")
		}
	})
}

func TestTeltonikaSlowClientTimedOut(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) {
		s.HandshakeTimeout, s.FrameTimeout, s.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond, time.Second
	})
	t.Run("silent before login", func(t *testing.T) {
		c, _ := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
		defer c.Close()
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 4*time.Second {
			t.Fatalf("silent client not dropped: %v after %v", err, time.Since(start))
		}
	})
	t.Run("trickling a frame", func(t *testing.T) {
		d, _ := e.dial(t, imeiFMC)
		frame := mustHex(t, vecT2)
		start := time.Now()
		var err error
		for i := 0; i < len(frame) && err == nil; i++ {
			_, err = d.conn.Write(frame[i : i+1]) // one byte every 50 ms: 3.5 s for the frame
			time.Sleep(50 * time.Millisecond)
			if time.Since(start) > 5*time.Second {
				t.Fatal("trickling client never dropped")
			}
		}
		d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, rerr := d.conn.Read(make([]byte, 4)); rerr == nil {
			t.Fatal("trickled frame acknowledged")
		}
		if n := len(e.positionsOf(t, imeiFMC)); n != 0 {
			t.Fatalf("%d positions from a trickled frame", n)
		}
	})
	t.Run("idle after login", func(t *testing.T) {
		d, _ := e.dial(t, imeiFMC)
		d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := d.conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("idle client not dropped")
		}
	})
}

func TestConnectionCap(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.MaxConns = 2 })
	a, _ := e.dial(t, imeiFMC)
	b, _ := e.dial(t, imeiPanicIn)
	c, err := net.Dial("tcp", e.srv.TeltonikaTCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection served over a cap of 2")
	}
	if n := a.send(mustHex(t, vecT2)); n != 1 {
		t.Fatal("capped server stopped serving")
	}
	b.conn.Close()
	waitFor(t, func() bool { return e.srv.Conns() == 1 })
	if _, ans := e.dial(t, imeiPanicIn); ans != 1 {
		t.Fatal("slot not released")
	}
}

func TestSendCommand(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.CommandTimeout = 2 * time.Second })
	ctx := context.Background()
	if _, err := e.srv.SendCommand(ctx, imeiFMC, "getinfo"); convoi.ErrorCode(err) != convoi.ENOTFOUND {
		t.Fatalf("not connected: %v", err)
	}
	d, _ := e.dial(t, imeiFMC)
	type result struct {
		reply string
		err   error
	}
	res := make(chan result, 1)
	go func() {
		r, err := e.srv.SendCommand(ctx, imeiFMC, "setdigout 11")
		res <- result{r, err}
	}()
	// The device reads the command (T7), sends a data frame first (acked
	// meanwhile), then its reply.
	cmd := make([]byte, 32)
	d.read(cmd)
	if want := "00000000000000140c01050000000c7365746469676f7574203131010000bed5"; hex.EncodeToString(cmd) != want {
		t.Fatalf("command frame %x", cmd)
	}
	if n := d.send(mustHex(t, vecT2)); n != 1 {
		t.Fatalf("ack %d during command", n)
	}
	d.write(teltonika.AppendResponse(nil, "DOUT1:1 DOUT2:1"))
	r := <-res
	if r.err != nil || r.reply != "DOUT1:1 DOUT2:1" {
		t.Fatalf("reply %q, %v", r.reply, r.err)
	}
	// No reply: EUNAVAILABLE after the timeout.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := e.srv.SendCommand(cctx, imeiFMC, "getinfo"); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("no reply: %v", err)
	}
	if _, err := e.srv.SendCommand(ctx, imeiFMC, ""); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("empty command: %v", err)
	}
}

func TestTeltonikaUDP(t *testing.T) {
	e := MustOpenEnv(t, nil)
	c, err := net.Dial("udp", e.srv.TeltonikaUDPAddress().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := teltonika.UDPHeader{PacketID: 0xCAFE, AVLPacketID: 9, IMEI: imeiFMC}
	dg, _ := teltonika.AppendUDP(nil, h, mustHex(t, vecT3))
	// unknown device: no answer
	uh := h
	uh.IMEI = imeiUnknown
	udg, _ := teltonika.AppendUDP(nil, uh, mustHex(t, vecT3))
	c.Write(udg)
	c.Write(dg)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 16)
	n, err := c.Read(ack)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 5, 0xCA, 0xFE, 1, 9, 1}; !bytes.Equal(ack[:n], want) {
		t.Fatalf("ack %x, want %x", ack[:n], want)
	}
	if n := len(e.positionsOf(t, imeiFMC)); n != 1 {
		t.Fatalf("%d positions", n)
	}
	if n := len(e.positionsOf(t, imeiUnknown)); n != 0 {
		t.Fatalf("unknown device stored %d", n)
	}
}

func TestOfflineDetection(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := MustOpenEnv(t, func(s *tracker.Server) { s.Now = clock; s.OfflineAfter = 60 * time.Second })
	c, _ := net.Dial("udp", e.srv.TeltonikaUDPAddress().String())
	defer c.Close()
	dg, _ := teltonika.AppendUDP(nil, teltonika.UDPHeader{IMEI: imeiFMC}, mustHex(t, vecT3))
	c.Write(dg)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	e.srv.CheckOffline(now.Add(59 * time.Second))
	if st, _ := e.srv.State(imeiFMC); !st.Online {
		t.Fatal("offline too early")
	}
	e.srv.CheckOffline(now.Add(61 * time.Second))
	if st, _ := e.srv.State(imeiFMC); st.Online {
		t.Fatal("still online after 61 s of silence")
	}
	var got []convoi.DeviceEventKind
	for _, ev := range e.eventsOf(t, imeiFMC) {
		got = append(got, ev.Kind)
	}
	// Oldest first: the record's ignition (2017), then online and offline.
	if len(got) != 3 || got[1] != convoi.EventDeviceOnline || got[2] != convoi.EventDeviceOffline {
		t.Fatalf("events %v", got)
	}
}

// TestTeltonikaQuietHangups: a device hanging up between frames, and the
// connections the server cuts when it closes, are ordinary ends, not
// warnings; a device hanging up mid-frame still is one.
func TestTeltonikaQuietHangups(t *testing.T) {
	e := MustOpenEnv(t, nil)
	d, ans := e.dial(t, imeiFMC)
	if ans != 0x01 {
		t.Fatalf("login answered %02x", ans)
	}
	if n := d.send(mustHex(t, vecT2)); n != 1 {
		t.Fatalf("ack %d, want 1", n)
	}
	d.conn.Close()
	d2, _ := e.dial(t, imeiPanicIn)
	waitFor(t, func() bool { return e.srv.Conns() == 1 })
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	d2.conn.Close()
	if logs := e.logs.String(); strings.Contains(logs, "connection closed") {
		t.Errorf("a clean hangup or the server's close was logged:\n%s", logs)
	}

	e = MustOpenEnv(t, nil)
	d, _ = e.dial(t, imeiFMC)
	frame := mustHex(t, vecT2)
	if _, err := d.conn.Write(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
	d.conn.Close()
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), "connection closed mid-frame") })
}
