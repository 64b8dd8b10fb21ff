package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/sqlite"
)

// TestDemoScheduleSealedAtRest releases every demo movement on the map
// through the API, as the demo serves it with its seal key, then scans the
// database file and its WAL: no drawn departure and no point of a drawn
// route appears. `convoi seal rotate` then rewrites every sealed value
// under a new key, and the schedule still reads.
func TestDemoScheduleSealedAtRest(t *testing.T) {
	a := NewApp()
	a.Addr = "127.0.0.1:0"
	a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr, a.MQTTAddr = "", "", "", ""
	a.DataDir = t.TempDir()
	a.SealKeyFile = filepath.Join(t.TempDir(), "seal.key")
	a.RequireSeal = true
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a.PasswordParams = auth.TestParams
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { return now }
	ctx := context.Background()
	if err := a.OpenStore(ctx); err == nil {
		t.Fatal("opened without the required seal key")
	}
	var out bytes.Buffer
	if code := Run(ctx, &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}, []string{"seal", "keygen", a.SealKeyFile}); code != 0 {
		t.Fatalf("keygen: %s", out.String())
	}
	if err := a.OpenStore(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := a.loadDemo(ctx, DefaultDemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	token := login(t, a, "planner")
	released := 0
	for _, m := range w.Movements {
		_, errFrom := a.Graph.Snap(w.siteByID(m.FromSiteID).Entry)
		_, errTo := a.Graph.Snap(w.siteByID(m.ToSiteID).Entry)
		if errFrom != nil && errTo != nil {
			continue
		}
		base := "/api/v1/movements/" + itoa(int64(m.ID))
		ok := true
		for _, step := range []string{"assess", "plan", "release"} {
			req, _ := http.NewRequest("POST", a.URL()+base+"/"+step, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Idempotency-Key", m.Ref+"-"+step) // the response is stored for replay
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				ok = false
				break
			}
		}
		if ok {
			released++
		}
	}
	if released == 0 {
		t.Fatal("no movement released")
	}
	needles := scheduleNeedles(t, a)
	if len(needles) < 2*released {
		t.Fatalf("only %d needles for %d released movements", len(needles), released)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{a.DBPath(), a.DBPath() + "-wal"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q", filepath.Base(f), n)
			}
		}
	}

	// Rotating with the wrong key file is refused and leaves it as it was;
	// so is any command opening the store with it.
	wrong := filepath.Join(t.TempDir(), "other.key")
	out.Reset()
	if code := Run(ctx, &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}, []string{"seal", "keygen", wrong}); code != 0 {
		t.Fatalf("keygen: %d %s", code, out.String())
	}
	before, err := os.ReadFile(wrong)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := Run(ctx, &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }},
		[]string{"seal", "rotate", "--data", a.DataDir, "--seal-key", wrong}); code != 1 || !strings.Contains(out.String(), "do not open") {
		t.Fatalf("rotate with the wrong key file: %d %s", code, out.String())
	}
	if after, err := os.ReadFile(wrong); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("rotate with the wrong key file changed it (%v)", err)
	}
	out.Reset()
	if code := Run(ctx, &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }},
		[]string{"plan", "--data", a.DataDir, "--seal-key", wrong, "MC-20261207-02"}); code != 1 || !strings.Contains(out.String(), "do not open") {
		t.Fatalf("plan with the wrong key file: %d %s", code, out.String())
	}

	out.Reset()
	if code := Run(ctx, &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }},
		[]string{"seal", "rotate", "--data", a.DataDir, "--seal-key", a.SealKeyFile}); code != 0 || !strings.Contains(out.String(), "old keys dropped") {
		t.Fatalf("rotate: %d %s", code, out.String())
	}
	b := NewApp()
	b.DataDir, b.SealKeyFile, b.Now = a.DataDir, a.SealKeyFile, a.Now
	if err := b.OpenStore(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := scheduleNeedles(t, b); len(got) != len(needles) {
		t.Fatalf("after rotation %d needles read back, want %d", len(got), len(needles))
	}
}

// scheduleNeedles reads every drawn departure and the inner points of every
// drawn route through the store, as the strings they would be written as.
func scheduleNeedles(t *testing.T, a *App) []string {
	t.Helper()
	ms, _, err := sqlite.NewMovementService(a.DB).FindMovements(context.Background(), movementsAll())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.PlannedDeparture == nil || m.Route == nil {
			continue
		}
		out = append(out, m.PlannedDeparture.UTC().Format("2006-01-02T15:04:05"))
		g := m.Route.Geometry
		for _, p := range g[1 : len(g)-1 : len(g)-1][:min(3, len(g)-2)] {
			out = append(out, strconv.FormatFloat(p.Lat, 'f', -1, 64)+","+strconv.FormatFloat(p.Lon, 'f', -1, 64))
			out = append(out, strconv.FormatFloat(p.Lat, 'f', -1, 64))
		}
	}
	return out
}

func movementsAll() convoi.MovementFilter {
	return convoi.MovementFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}}
}
