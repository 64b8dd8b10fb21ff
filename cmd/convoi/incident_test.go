package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/cap"
	"github.com/convoi/convoi/internal/captest"
	"github.com/convoi/convoi/sqlite"
)

// laTurbieToll is the La Turbie toll plaza on the A8 (demostory.go);
// basseCorniche a point of the Basse Corniche at Cap-d'Ail.
var (
	laTurbieToll  = convoi.LatLon{Lat: 43.7445, Lon: 7.3755}
	basseCorniche = convoi.LatLon{Lat: 43.7219, Lon: 7.4052}
)

// underwayWestbound takes the demo's Monaco-Nice movement to underway in
// the store, with a departure and a route (the schedule an alert must
// never carry), and returns it.
func underwayWestbound(t *testing.T, a *App, w *demoWorld) *convoi.Movement {
	t.Helper()
	ctx := convoi.NewContextWithUser(context.Background(), &convoi.User{ID: 1, Username: "test", Role: convoi.RoleAdmin})
	ms := a.S.Movements
	m, err := ms.FindMovementByID(ctx, w.Westbound.ID)
	if err != nil {
		t.Fatal(err)
	}
	dep := m.AppointmentAt.Add(-97 * time.Minute).Truncate(time.Minute)
	route := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.73021, Lon: 7.42223}, {Lat: 43.73871, Lon: 7.41533}, {Lat: 43.74447, Lon: 7.37551}}, DistanceM: 21000, DurationS: 1500}
	steps := []convoi.TransitionRequest{
		{Action: convoi.ActionAssess},
		{Action: convoi.ActionPlan, Update: &convoi.MovementUpdate{PlannedDeparture: &dep, Route: route}},
		{Action: convoi.ActionRelease},
		{Action: convoi.ActionStart},
	}
	for _, st := range steps {
		if m.State == convoi.StateUnderway {
			break
		}
		if _, err := convoi.NextState(m.State, st.Action); err != nil {
			continue
		}
		if m, err = ms.TransitionMovement(ctx, m.ID, st); err != nil {
			t.Fatalf("%s: %v", st.Action, err)
		}
	}
	if m.State != convoi.StateUnderway || m.PlannedDeparture == nil || m.Route == nil {
		t.Fatalf("movement %s: state %s, departure %v", m.Ref, m.State, m.PlannedDeparture)
	}
	return m
}

type apiClient struct {
	t     *testing.T
	a     *App
	token string
}

func (c apiClient) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.a.URL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestIncidentResponse runs the response end to end on the demo world: an
// attack alarm at the La Turbie toll plaza, the commander declares the
// incident, reachability and the roadblock plan from the demo's posts, a
// sighting on the Basse Corniche re-plans, units are assigned and
// released, the CAP alert validates and carries no schedule, and the
// stream tells the control room.
func TestIncidentResponse(t *testing.T) {
	a, w := MustOpenDemo(t)
	ctx := context.Background()
	m := underwayWestbound(t, a, w)
	sub, err := a.Bus.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	now := a.Now()
	alarm, _, err := a.Alarms.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: convoi.RuleAttack, Severity: convoi.SeverityCritical,
		Detail: "Van stopped at the toll, doors opened, panic button", Place: laTurbieToll, PlaceName: "Péage de La Turbie (A8)",
		FirstSeen: now.Add(-time.Minute), LastSeen: now})
	if err != nil {
		t.Fatal(err)
	}
	cmd := apiClient{t, a, login(t, a, "commander")}
	control := apiClient{t, a, login(t, a, "control")}
	planner := apiClient{t, a, login(t, a, "planner")}

	if st, _ := planner.do("GET", "/api/v1/incidents", ""); st != 403 {
		t.Fatalf("planner lists incidents: %d", st)
	}
	st, body := cmd.do("POST", "/api/v1/incidents", fmt.Sprintf(`{"alarm_id": %d, "vehicles_sought": ["dark grey Peugeot 5008, AB-123-CD"], "instructions": "Roadblocks on the A8 and the Corniches; report, do not engage."}`, alarm.ID))
	if st != 201 {
		t.Fatalf("declare: %d %s", st, body)
	}
	var inc convoi.Incident
	if err := json.Unmarshal(body, &inc); err != nil {
		t.Fatal(err)
	}
	if inc.MovementID != m.ID || inc.Place != laTurbieToll || !inc.AttackAt.Equal(now.Add(-time.Minute)) || inc.Version != 1 {
		t.Fatalf("incident %+v", inc)
	}
	if got, _ := sqlite.NewMovementService(a.DB).FindMovementByID(ctx, m.ID); got.State != convoi.StateIncident {
		t.Fatalf("movement state %s, want incident", got.State)
	}
	if st, body := cmd.do("POST", "/api/v1/incidents", fmt.Sprintf(`{"alarm_id": %d}`, alarm.ID)); st != 409 {
		t.Fatalf("second incident from the same alarm: %d %s", st, body)
	}
	id := strconv.FormatInt(int64(inc.ID), 10)

	st, body = control.do("GET", "/api/v1/incidents/"+id+"/reachability", "")
	var re convoi.IncidentReachability
	if st != 200 || json.Unmarshal(body, &re) != nil || len(re.Bands) != 4 || re.FromLabel != "the attack" {
		t.Fatalf("reachability: %d %.300s", st, body)
	}
	for i, b := range re.Bands {
		if len(b.Polygons) == 0 || (i > 0 && b.AreaKm2 <= re.Bands[i-1].AreaKm2) {
			t.Fatalf("band %v: %d polygons, %.2f km²", b.Minutes, len(b.Polygons), b.AreaKm2)
		}
	}
	if st, body := control.do("GET", "/api/v1/incidents/"+id+"/reachability?format=geojson", ""); st != 200 || !strings.Contains(string(body), `"MultiPolygon"`) {
		t.Fatalf("geojson: %d %.200s", st, body)
	}

	st, body = cmd.do("GET", "/api/v1/incidents/"+id+"/plan", "")
	var pl convoi.InterceptionPlan
	if st != 200 || json.Unmarshal(body, &pl) != nil {
		t.Fatalf("plan: %d %.300s", st, body)
	}
	if len(pl.Units) != 6 || len(pl.Assignments) != 6 || !pl.Optimal || pl.Fraction <= 0 || pl.Routes != 1000 {
		t.Fatalf("plan: %d units, %d assignments, optimal %v, fraction %v, routes %d", len(pl.Units), len(pl.Assignments), pl.Optimal, pl.Fraction, pl.Routes)
	}

	st, body = cmd.do("GET", "/api/v1/incidents/"+id+"/plan?routes=25", "")
	var withLines convoi.InterceptionPlan
	if st != 200 || json.Unmarshal(body, &withLines) != nil || len(withLines.RouteLines) != 25 {
		t.Fatalf("plan with route lines: %d, %d lines", st, len(withLines.RouteLines))
	}
	for _, l := range withLines.RouteLines {
		if len(l.Points) < 2 || l.Escape.IsZero() {
			t.Fatalf("route line %+v", l)
		}
	}
	if st, _ := cmd.do("GET", "/api/v1/incidents/"+id+"/plan?routes=5000", ""); st != 400 {
		t.Fatalf("plan?routes=5000: %d", st)
	}

	st, body = control.do("POST", "/api/v1/incidents/"+id+"/sightings", fmt.Sprintf(`{"place": {"lat": %v, "lon": %v}, "place_name": "Basse Corniche, Cap-d'Ail", "confidence": 0.9, "note": "grey SUV westbound"}`, basseCorniche.Lat, basseCorniche.Lon))
	var sr struct {
		Sighting convoi.Sighting
		Plan     *convoi.InterceptionPlan
	}
	if st != 201 || json.Unmarshal(body, &sr) != nil || sr.Plan == nil {
		t.Fatalf("sighting: %d %.300s", st, body)
	}
	if sr.Plan.Sightings != 1 || sr.Plan.Version != 2 || sr.Plan.RoutesKept >= sr.Plan.RoutesSampled {
		t.Fatalf("re-plan: sightings %d version %d kept %d of %d", sr.Plan.Sightings, sr.Plan.Version, sr.Plan.RoutesKept, sr.Plan.RoutesSampled)
	}
	if st, body := control.do("POST", "/api/v1/incidents/"+id+"/sightings", `{"place": {"lat": 43.72, "lon": 7.40}, "time": "2030-01-01T00:00:00Z"}`); st != 400 {
		t.Fatalf("sighting in the future: %d %s", st, body)
	}
	if st, body := control.do("POST", "/api/v1/incidents/"+id+"/units/1/assign", ""); st != 403 {
		t.Fatalf("control assigns: %d %s", st, body)
	}
	st, body = control.do("GET", "/api/v1/incidents/"+id+"/reachability", "")
	if st != 200 || json.Unmarshal(body, &re) != nil || !strings.HasPrefix(re.FromLabel, "the sighting (") || re.From != basseCorniche {
		t.Fatalf("reachability after the sighting: %d from %v %q", st, re.From, re.FromLabel)
	}

	// Units: assign the La Turbie brigade; a second incident cannot take
	// it, and the plan of the second incident leaves it out.
	turbie := w.Sites["la-turbie"].ID
	if st, body := cmd.do("POST", fmt.Sprintf("/api/v1/incidents/%s/units/%d/assign", id, turbie), `{"note": "A8 eastbound"}`); st != 200 {
		t.Fatalf("assign: %d %s", st, body)
	}
	st, body = cmd.do("POST", "/api/v1/incidents", fmt.Sprintf(`{"place": {"lat": %v, "lon": %v}, "attack_at": %q}`, basseCorniche.Lat, basseCorniche.Lon, now.Add(-30*time.Second).Format(time.RFC3339)))
	var other convoi.Incident
	if st != 201 || json.Unmarshal(body, &other) != nil {
		t.Fatalf("declare by hand: %d %s", st, body)
	}
	if st, _ := cmd.do("POST", fmt.Sprintf("/api/v1/incidents/%d/units/%d/assign", other.ID, turbie), ""); st != 409 {
		t.Fatalf("assign a committed unit: %d", st)
	}
	st, body = cmd.do("GET", fmt.Sprintf("/api/v1/incidents/%d/plan", other.ID), "")
	if st != 200 || json.Unmarshal(body, &pl) != nil || len(pl.Units) != 5 {
		t.Fatalf("second plan: %d, %d units", st, len(pl.Units))
	}
	if st, _ := cmd.do("POST", fmt.Sprintf("/api/v1/incidents/%d/units/%d/assign", other.ID, w.Sites["monaco-court"].ID), ""); st != 400 {
		t.Fatalf("assign a courthouse: %d", st)
	}
	if st, body := cmd.do("POST", fmt.Sprintf("/api/v1/incidents/%s/units/%d/release", id, turbie), ""); st != 200 {
		t.Fatalf("release: %d %s", st, body)
	}

	// The alert: valid CAP 1.2, an Update of the declaration, and nothing
	// of the schedule: no departure time, no route point, no roadblock.
	st, alert := control.do("GET", "/api/v1/incidents/"+id+"/alert", "")
	if st != 200 {
		t.Fatalf("alert: %d %s", st, alert)
	}
	if err := cap.Check(alert); err != nil {
		t.Fatalf("alert is not valid CAP 1.2: %v\n%s", err, alert)
	}
	capNames, capDocs := []string{"GET alert (Update)"}, [][]byte{alert}
	doc := string(alert)
	for _, want := range []string{"<msgType>Update</msgType>", "dark grey Peugeot 5008, AB-123-CD", "Roadblocks on the A8", "<polygon>", "Basse Corniche", "incident-" + id + ".v1"} {
		if !strings.Contains(doc, want) {
			t.Errorf("alert lacks %q", want)
		}
	}
	assertNoSchedule(t, a, doc, pl)

	// The stream told the subscribers.
	changes := map[string]int{}
	deadline := time.After(2 * time.Second)
	for changes["unit_released"] == 0 {
		select {
		case ev := <-sub.C():
			if ev.Type == convoi.EventTypeIncident {
				changes[ev.Incident.Change]++
			}
		case <-deadline:
			t.Fatalf("incident events: %v", changes)
		}
	}
	if changes["declared"] != 2 || changes["sighting"] != 1 || changes["unit_assigned"] != 1 {
		t.Errorf("incident events: %v", changes)
	}

	// Closing: the alert becomes a Cancel; the plan is refused.
	if st, body := cmd.do("PATCH", "/api/v1/incidents/"+id, `{"state": "closed"}`); st != 200 {
		t.Fatalf("close: %d %s", st, body)
	}
	if st, alert := control.do("GET", "/api/v1/incidents/"+id+"/alert", ""); st != 200 || !strings.Contains(string(alert), "<msgType>Cancel</msgType>") || cap.Check(alert) != nil {
		t.Fatalf("alert after closing: %d %s", st, alert)
	} else {
		capNames, capDocs = append(capNames, "GET alert (Cancel)"), append(capDocs, alert)
	}
	if st, _ := cmd.do("GET", "/api/v1/incidents/"+id+"/plan", ""); st != 409 {
		t.Fatalf("plan of a closed incident: %d", st)
	}

	// The outbox holds an alert for the declaration, the sighting and the
	// closing (versions 1, 2 and 5; not the unit assignments, 3 and 4),
	// and the second incident's declaration; each valid and schedule-free.
	entries, err := os.ReadDir(filepath.Join(a.DataDir, "alerts"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		doc, err := os.ReadFile(filepath.Join(a.DataDir, "alerts", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := cap.Check(doc); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
		capNames, capDocs = append(capNames, "outbox "+e.Name()), append(capDocs, doc)
		assertNoSchedule(t, a, string(doc), pl)
	}
	// Every alert served and sent, valid against the CAP 1.2 XML schema.
	t.Run("CAP 1.2 schema", func(t *testing.T) { captest.AssertValid(t, capNames, capDocs...) })
	want := []string{"convoi.control-room.incident-" + id + ".v1.xml", "convoi.control-room.incident-" + id + ".v2.xml",
		"convoi.control-room.incident-" + id + ".v5.xml", fmt.Sprintf("convoi.control-room.incident-%d.v1.xml", other.ID)}
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("outbox %v, want %v", names, want)
	}
}

// assertNoSchedule fails when the alert holds a departure time or a route
// point of any movement, or a roadblock of the plan.
func assertNoSchedule(t *testing.T, a *App, doc string, pl convoi.InterceptionPlan) {
	t.Helper()
	ms, _, err := sqlite.NewMovementService(a.DB).FindMovements(context.Background(), convoi.MovementFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, m := range ms {
		if m.PlannedDeparture != nil {
			checked++
			d := *m.PlannedDeparture
			for _, form := range []string{d.UTC().Format(time.RFC3339), d.In(demoZone()).Format("2006-01-02T15:04"), d.In(demoZone()).Format("15:04"), d.UTC().Format("15:04")} {
				if strings.Contains(doc, form) {
					t.Errorf("alert carries movement %s's departure (%s)", m.Ref, form)
				}
			}
		}
		if m.Route != nil {
			// Every route point, except the attack point itself (the
			// attack happened on the route, and partners must know where).
			for _, p := range m.Route.Geometry {
				if p.DistanceM(laTurbieToll) < 100 {
					continue
				}
				for _, form := range []string{fmt.Sprintf("%.5f,%.5f", p.Lat, p.Lon), fmt.Sprintf("%.4f,%.4f", p.Lat, p.Lon)} {
					if strings.Contains(doc, form) {
						t.Errorf("alert carries a point of movement %s's route (%s)", m.Ref, form)
					}
				}
			}
		}
		if strings.Contains(doc, m.Ref) {
			t.Errorf("alert names movement %s", m.Ref)
		}
	}
	if checked == 0 {
		t.Fatal("no movement with a departure: the check checked nothing")
	}
	for _, as := range pl.Assignments {
		if strings.Contains(doc, fmt.Sprintf("%.5f,%.5f", as.At.Lat, as.At.Lon)) {
			t.Errorf("alert carries the roadblock of %s", as.Name)
		}
	}
}

// TestDemoOnceResponse: `convoi demo --once` tells the response: the
// reachability areas, a proven-optimal roadblock plan from the six demo
// posts, the re-plan after the Basse Corniche sighting and the CAP alert;
// the incident stays in the store for the API.
func TestDemoOnceResponse(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runCLI(t, "demo", "--once", "--data", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errs)
	}
	i := strings.Index(out, "Response: ")
	if i < 0 {
		t.Fatalf("no response section:\n%s", out)
	}
	resp := out[i:]
	for _, want := range []string{"Péage de La Turbie (A8)", "Reachable by car from the toll plaza: 5 min", "20 min",
		"1000 escape routes sampled", "proven optimal", "Brigade de proximité de La Turbie", "Sighting at",
		"Basse Corniche", "re-planned in", "CAP 1.2 alert for partner forces (status Exercise): convoi.control-room.incident-1.v2"} {
		if !strings.Contains(resp, want) {
			t.Errorf("response section lacks %q:\n%s", want, resp)
		}
	}
	if n := strings.Count(resp, "Roadblock plan at"); n != 2 {
		t.Errorf("%d plans printed, want 2 (before and after the sighting)", n)
	}
	var capDocs [][]byte
	for _, v := range []string{"v1", "v2"} {
		doc, err := os.ReadFile(filepath.Join(dir, "alerts", "convoi.control-room.incident-1."+v+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cap.Check(doc); err != nil || !strings.Contains(string(doc), "<status>Exercise</status>") {
			t.Errorf("outbox alert %s: %v", v, err)
		}
		capDocs = append(capDocs, doc)
	}
	t.Run("CAP 1.2 schema", func(t *testing.T) { captest.AssertValid(t, []string{"demo alert v1", "demo alert v2"}, capDocs...) })
	a := NewApp()
	a.DataDir = dir
	if err := a.OpenExistingStore(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, n, err := sqlite.NewIncidentService(a.DB).FindIncidents(context.Background(), convoi.IncidentFilter{})
	if err != nil || n != 1 || l[0].Version != 2 {
		t.Fatalf("stored incidents: %d (%v)", n, err)
	}
}

// TestPlanUsesTrackerFix: a post whose patrol car sent a fresh fix is
// planned from the fix and ready at once; a stale fix (older than 5 min)
// leaves it at its post.
func TestPlanUsesTrackerFix(t *testing.T) {
	a, w := MustOpenDemo(t)
	ctx := convoi.NewContextWithUser(context.Background(), w.userByName("admin"))
	post := w.Sites["eze"]
	car := &convoi.Vehicle{Registration: "GN-442-EZ", Class: convoi.VehicleCar, Capacity: 0, SiteID: post.ID}
	if err := sqlite.NewVehicleService(a.DB).CreateVehicle(ctx, car); err != nil {
		t.Fatal(err)
	}
	tr := &convoi.Tracker{DeviceID: "eze-patrol-1", Protocol: convoi.ProtocolOsmAnd, VehicleID: car.ID}
	if err := sqlite.NewTrackerService(a.DB).CreateTracker(ctx, tr); err != nil {
		t.Fatal(err)
	}
	now := a.Now()
	patrol := convoi.LatLon{Lat: 43.7420, Lon: 7.3700} // on the A8 near the toll plaza
	fix := convoi.Position{DeviceID: tr.DeviceID, FixTime: now.Add(-time.Minute), ServerTime: now, Lat: patrol.Lat, Lon: patrol.Lon, Valid: true, GNSS: convoi.GNSSFix}
	if _, _, err := sqlite.NewPositionService(a.DB).StorePositions(ctx, []convoi.Position{fix}, nil); err != nil {
		t.Fatal(err)
	}
	inc := &convoi.Incident{Place: laTurbieToll, AttackAt: now.Add(-time.Minute)}
	if err := sqlite.NewIncidentService(a.DB).DeclareIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	unitOf := func(pl *convoi.InterceptionPlan) convoi.ResponseUnit {
		for _, u := range pl.Units {
			if u.SiteID == post.ID {
				return u
			}
		}
		t.Fatal("the Èze post is not in the plan")
		return convoi.ResponseUnit{}
	}
	pl, err := a.Response.Plan(ctx, inc, nil, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u := unitOf(pl); u.Source != "tracker" || u.At != patrol || u.ReadyS != 0 || u.FixTime == nil {
		t.Fatalf("fresh fix: unit %+v", u)
	}
	pl, err = a.Response.Plan(ctx, inc, nil, now.Add(10*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if u := unitOf(pl); u.Source != "post" || u.At != post.Location || u.ReadyS != postReadyS {
		t.Fatalf("stale fix: unit %+v", u)
	}
}
