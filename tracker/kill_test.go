package tracker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/teltonika"
)

// TestKill9Child is the server process of TestKill9: it runs only when
// re-executed with CONVOI_KILL9_DB set, prints its address and serves
// until killed.
func TestKill9Child(t *testing.T) {
	path := os.Getenv("CONVOI_KILL9_DB")
	if path == "" {
		return // not the child
	}
	db := sqlite.NewDB(path)
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := tracker.New()
	s.TeltonikaAddr = "127.0.0.1:0"
	s.Trackers, s.Positions = sqlite.NewTrackerService(db), sqlite.NewPositionService(db)
	s.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", s.TeltonikaTCPAddr())
	select {} // until SIGKILL
}

// startChild runs the server in a subprocess on the database at path.
func startChild(t *testing.T, path string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CONVOI_KILL9_DB="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var addr string
		if _, err := fmt.Sscanf(sc.Text(), "ADDR %s", &addr); err == nil {
			go io.Copy(io.Discard, out)
			return cmd, addr
		}
	}
	t.Fatalf("child exited without an address: %v", sc.Err())
	return nil, ""
}

// TestKill9 acknowledges records, kills the server with SIGKILL while
// devices are still sending, and checks that every acknowledged record is
// in the reopened database; then every frame is sent again to a new server
// and stored once.
func TestKill9(t *testing.T) {
	const devices, framesPerDevice, recsPerFrame = 20, 200, 10
	path := filepath.Join(t.TempDir(), "convoi.db")
	func() {
		db := MustOpenDB(t, path)
		ts := sqlite.NewTrackerService(db)
		for i := range devices {
			if err := ts.CreateTracker(context.Background(), &convoi.Tracker{DeviceID: imei(i), Protocol: convoi.ProtocolTeltonika, Model: "FMC130"}); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}()
	frames := make([][][]byte, devices) // per device, per frame
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for d := range devices {
		for f := range framesPerDevice {
			recs := make([]teltonika.Record, recsPerFrame)
			for r := range recs {
				k := f*recsPerFrame + r
				recs[r] = teltonika.Record{Time: base.Add(time.Duration(k) * time.Second), Lat: 43.7 + float64(k)*1e-5, Lon: 7.4, Satellites: 7, Speed: 40,
					IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}}}
			}
			fr, err := teltonika.AppendFrame(nil, teltonika.Codec8, recs)
			if err != nil {
				t.Fatal(err)
			}
			frames[d] = append(frames[d], fr)
		}
	}

	cmd, addr := startChild(t, path)
	acked := make([]int, devices) // frames acknowledged per device
	var wg sync.WaitGroup
	var ackCount sync.WaitGroup
	ackCount.Add(devices)
	for d := range devices {
		wg.Go(func() {
			once := sync.OnceFunc(ackCount.Done)
			defer once()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Write(teltonika.AppendIMEI(nil, string(imei(d))))
			var b [4]byte
			if _, err := io.ReadFull(c, b[:1]); err != nil || b[0] != 1 {
				t.Errorf("login: %v %x", err, b[0])
				return
			}
			for f := range framesPerDevice {
				if _, err := c.Write(frames[d][f]); err != nil {
					return
				}
				if _, err := io.ReadFull(c, b[:]); err != nil {
					return // killed
				}
				if b[3] != recsPerFrame {
					t.Errorf("ack %x", b)
					return
				}
				acked[d] = f + 1
				if f == 5 {
					once() // this device has had acks: the kill may come
				}
			}
		})
	}
	ackCount.Wait()
	time.Sleep(30 * time.Millisecond) // mid-stream
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	cmd.Wait()

	total := 0
	func() {
		db := MustOpenDB(t, path)
		ps := sqlite.NewPositionService(db)
		for d := range devices {
			id := imei(d)
			got, err := ps.FindPositions(context.Background(), convoi.PositionFilter{DeviceID: &id, Limit: 100000})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < acked[d]*recsPerFrame {
				t.Fatalf("device %d: %d frames acknowledged, %d positions stored", d, acked[d], len(got))
			}
			total += acked[d]
		}
		db.Close()
	}()
	if total == devices*framesPerDevice {
		t.Fatalf("every frame was acknowledged before the kill: the test did not test anything")
	}
	t.Logf("%d of %d frames acknowledged before SIGKILL", total, devices*framesPerDevice)

	// A restarted server: every device sends everything again.
	_, addr = startChild(t, path)
	for d := range devices {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Write(teltonika.AppendIMEI(nil, string(imei(d))))
			var b [4]byte
			io.ReadFull(c, b[:1])
			for f := range framesPerDevice {
				c.Write(frames[d][f])
				if _, err := io.ReadFull(c, b[:]); err != nil || b[3] != recsPerFrame {
					t.Errorf("resend ack %x %v", b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	db := MustOpenDB(t, path)
	ps := sqlite.NewPositionService(db)
	for d := range devices {
		id := imei(d)
		got, err := ps.FindPositions(context.Background(), convoi.PositionFilter{DeviceID: &id, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != framesPerDevice*recsPerFrame {
			t.Fatalf("device %d: %d positions after retransmission, want %d", d, len(got), framesPerDevice*recsPerFrame)
		}
	}
}

func imei(i int) convoi.DeviceID { return convoi.DeviceID(fmt.Sprintf("35%013d", i)) }
