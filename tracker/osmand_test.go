package tracker_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker"
)

func TestOsmAndServer(t *testing.T) {
	e := MustOpenEnv(t, nil)
	base := "http://" + e.srv.OsmAndAddress().String()
	get := func(q string) int {
		t.Helper()
		resp, err := http.Get(base + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"O2 known device", "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0", 200},
		{"O2 again (stored once)", "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0", 200},
		{"O1 unknown device", "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&speed=40", 404},
		{"O3 no id", "/?timestamp=1377177267&lat=60.0&lon=30.0", 400},
		{"teltonika device over osmand", "/?id=" + imeiFMC + "&lat=1&lon=2", 404},
		{"sos", "/?id=" + osmandID + "&lat=43.7&lon=7.4&timestamp=1772352000&alarm=sos", 200},
	} {
		if got := get(tc.query); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := len(e.positionsOf(t, osmandO2)); n != 1 {
		t.Fatalf("%d positions for O2", n)
	}
	if k := kinds(e.eventsOf(t, osmandID)); len(k) != 1 || k[0] != string(convoi.EventPanic) {
		t.Fatalf("events %v", k)
	}
	resp, err := http.Post(base+"/", "application/json", strings.NewReader(
		`{"location":{"timestamp":"2026-03-01T08:00:01Z","coords":{"latitude":43.73,"longitude":7.42,"speed":10}},"device_id":"`+osmandID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(e.positionsOf(t, osmandID)) != 2 {
		t.Fatalf("JSON: status %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("DELETE", base+"/", nil)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if strings.Contains(e.logs.String(), "40.72") {
		t.Fatal("a position leaked into the log")
	}
}

// gatedPositions holds StorePositions until release is closed.
type gatedPositions struct {
	convoi.PositionService
	entered chan struct{}
	release chan struct{}
}

func (g *gatedPositions) StorePositions(ctx context.Context, ps []convoi.Position, evs []convoi.DeviceEvent) (int, int, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.PositionService.StorePositions(ctx, ps, evs)
}

// A report in flight when the server closes is stored and answered, and
// Close returns only after its handler has finished.
func TestOsmAndCloseDrainsInFlight(t *testing.T) {
	g := &gatedPositions{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := MustOpenEnv(t, func(s *tracker.Server) {
		g.PositionService = s.Positions
		s.Positions = g
	})
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + e.srv.OsmAndAddress().String() + "/?id=" + osmandID + "&lat=43.7&lon=7.4&timestamp=1772352000")
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-g.entered
	closed := make(chan error, 1)
	go func() { closed <- e.srv.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a report was being stored", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := <-status; got != http.StatusOK {
		t.Fatalf("in-flight report answered %d, want 200", got)
	}
	if n := len(e.positionsOf(t, osmandID)); n != 1 {
		t.Fatalf("%d positions stored, want 1", n)
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Fatalf("errors logged: %s", e.logs.String())
	}
}
