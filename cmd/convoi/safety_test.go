package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/sqlite"
)

// post sends body as token and returns the status and the answer.
func post(tb testing.TB, a *App, token, path, body string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest("POST", a.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestDemoReleasesEveryMovement is issue 8 item 1 on the demo world: every
// movement, assessed and planned through the API, can be released with
// the crew and vehicles the demo gives it, which the release checks
// against the assessment, the other movements and the units' home sites.
func TestDemoReleasesEveryMovement(t *testing.T) {
	a, w := MustOpenDemo(t)
	token := login(t, a, "planner")
	ctx := context.Background()
	assessments, officers, vehicles := sqlite.NewAssessmentService(a.DB), sqlite.NewOfficerService(a.DB), sqlite.NewVehicleService(a.DB)
	for _, m := range w.Movements {
		base := "/api/v1/movements/" + itoa(int64(m.ID))
		if code, body := post(t, a, token, base+"/assess", `{}`); code != 200 {
			t.Fatalf("assess %s: %d %s", m.Ref, code, body)
		}
		as, err := assessments.FindAssessments(ctx, m.ID)
		if err != nil || len(as) == 0 {
			t.Fatalf("assessments of %s: %v", m.Ref, err)
		}
		var os []*convoi.Officer
		for _, id := range m.Crew {
			o, err := officers.FindOfficerByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			os = append(os, o)
		}
		var vs []*convoi.Vehicle
		for _, id := range m.Vehicles {
			v, err := vehicles.FindVehicleByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		if short := as[0].Requirements().Shortfalls(len(os), os, vs); len(short) > 0 {
			t.Errorf("%s at level %d: %v", m.Ref, as[0].Level, short)
		}
		_, errFrom := a.Graph.Snap(w.siteByID(m.FromSiteID).Entry)
		_, errTo := a.Graph.Snap(w.siteByID(m.ToSiteID).Entry)
		if errFrom != nil && errTo != nil {
			t.Logf("%s lies off the map the demo serves: not planned", m.Ref)
			continue
		}
		for _, step := range []string{"plan", "release"} {
			if code, body := post(t, a, token, base+"/"+step, `{}`); code != 200 {
				t.Errorf("%s %s: %d %s", step, m.Ref, code, body)
				break
			}
		}
	}
}

// TestDemoIntelligenceNotInTheFuture is issue 8 item 8: a demo started at
// 03:18 in Paris, before the morning cell search of its story, dates no
// intelligence after its clock.
func TestDemoIntelligenceNotInTheFuture(t *testing.T) {
	a := NewApp()
	a.DataDir = t.TempDir()
	a.PasswordParams = auth.TestParams
	now := time.Date(2026, 12, 6, 2, 18, 0, 0, time.UTC) // 03:18 CET
	a.Now = func() time.Time { return now }
	ctx := context.Background()
	if err := a.OpenStore(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.loadDemo(ctx, DefaultDemoPassword); err != nil {
		t.Fatal(err)
	}
	es, n, err := sqlite.NewIntelService(a.DB).FindIntel(ctx, convoi.IntelFilter{Page: convoi.Page{Limit: 100}})
	if err != nil || n == 0 {
		t.Fatalf("intelligence: %d, %v", n, err)
	}
	for _, e := range es {
		if e.ObservedAt.After(now) {
			t.Errorf("intelligence #%d observed %s, after the demo's clock %s", e.ID, e.ObservedAt, now)
		}
	}
}

// TestRouteFactsBeyondMap is issue 8 item 7: the Monaco -> Nice movement is
// assessed on the road engine's route to the edge of the map and its
// chokepoints, not on a straight line with chokepoints assumed.
func TestRouteFactsBeyondMap(t *testing.T) {
	ctx := context.Background()
	g, err := loadGraph(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	court := convoi.LatLon{Lat: 43.73021, Lon: 7.42223}
	nice := convoi.LatLon{Lat: 43.7102, Lon: 7.2620}
	f, err := routeFacts(g)(ctx, court, nice)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("to the edge: %.0f s, %.0f m, %.0f m beyond, chokepoints %v", f.ExposureS, f.DistanceM, f.BeyondMapM, f.Chokepoints)
	n := 0
	for _, c := range f.Chokepoints {
		n += c
	}
	if f.Estimated || f.ExposureS < 300 || f.DistanceM < 6000 || n == 0 || f.BeyondMapM < 3000 || f.BeyondMapM > 15000 {
		t.Fatalf("facts %+v", f)
	}
	// An origin off the map is left to the risk engine's estimate.
	rouen, evreux := convoi.LatLon{Lat: 49.44233, Lon: 1.09241}, convoi.LatLon{Lat: 49.0241, Lon: 1.1508}
	if _, err := routeFacts(g)(ctx, rouen, evreux); err == nil {
		t.Fatal("Rouen -> Évreux on the Monaco map: no error")
	}
}

func TestDemoWestboundAssessedOnTheRoad(t *testing.T) {
	a, w := MustOpenDemo(t)
	ctx := convoi.NewContextWithUser(context.Background(), w.userByName("planner"))
	as, err := a.Risk.AssessMovement(ctx, w.Westbound.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ev []string
	for _, f := range as.Factors {
		ev = append(ev, f.Evidence...)
		if f.Code == risk.FactorExposure && !strings.Contains(strings.Join(f.Evidence, " "), "fastest route to the edge of the map") {
			t.Errorf("exposure: %q", f.Evidence)
		}
	}
	all := strings.Join(ev, "\n")
	if strings.Contains(all, "no computed route") || strings.Contains(all, "straight-line distance") {
		t.Errorf("assessed on a straight line:\n%s", all)
	}
}
