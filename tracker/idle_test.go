package tracker_test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/convoi/convoi/tracker"
)

// TestIdleConnectionsDoNotStall holds thousands of silent connections open
// (as many as the process's file limit allows, up to 4,000: each costs two
// descriptors in this process) and checks that an active device is still
// served and that the idle ones are all still open.
func TestIdleConnectionsDoNotStall(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	n := min(4000, int(rl.Cur-200)/2)
	if n < 500 {
		t.Fatalf("file limit %d too low for this test", rl.Cur)
	}
	// Every connection comes from loopback: no cap per address here.
	e := MustOpenEnv(t, func(s *tracker.Server) { s.HandshakeTimeout = time.Minute; s.MaxConnsPerAddr = 0 })
	addr := e.srv.TeltonikaTCPAddr().String()
	idle := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(idle), err)
		}
		idle = append(idle, c)
	}
	d, ans := e.dial(t, imeiFMC)
	if ans != 1 {
		t.Fatal("login refused")
	}
	frame := mustHex(t, vecT2)
	for range 20 {
		if d.send(frame) != 1 {
			t.Fatal("active device not acknowledged")
		}
	}
	waitFor(t, func() bool { return e.srv.Conns() == n+1 })
}
