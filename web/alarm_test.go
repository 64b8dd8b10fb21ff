package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/alarm"
	"github.com/convoi/convoi/web"
)

// withAlarms wires the bus and the publishing alarm service, as the app does.
func withAlarms(s *web.Server) {
	withBus(s)
	svc := alarm.New(s.AlarmService)
	svc.Events, svc.Movements = s.EventService, s.MovementService
	s.AlarmService = svc
}

// underway takes both seeded movements underway (toCourt is crew1's) at
// their drawn departure, 90 min after the seed's clock. The test escort
// does not meet an assessment (one officer each), so a commander releases
// with an override, as release checks require.
func (w *world) underway() {
	w.t.Helper()
	pl := w.tokens[planner]
	for _, m := range []*convoi.Movement{w.toCourt, w.toHospital} {
		base := "/api/v1/movements/" + itoa(m.ID)
		w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 1}, 200, nil)
		w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
		w.assess(m, 1)
		w.doJSON("POST", base+"/release", w.tokens[commander], map[string]any{"override": true, "reason": "Alarm tests: escort of one."}, 200, nil)
	}
	w.clock.Add(90 * time.Minute)
	for _, m := range []*convoi.Movement{w.toCourt, w.toHospital} {
		w.doJSON("POST", "/api/v1/movements/"+itoa(m.ID)+"/start", w.tokens[control], nil, 200, nil)
	}
}

// raise stores evidence as the monitor would: through the server's alarm service, as the system.
func (w *world) raise(m convoi.MovementID, rule convoi.AlarmRule, sev convoi.Severity) *convoi.Alarm {
	w.t.Helper()
	a, _, err := w.srv.AlarmService.RaiseAlarm(context.Background(), &convoi.Alarm{MovementID: m, Rule: rule, Severity: sev,
		Detail: "Stopped 95 s at the toll plaza", Place: convoi.LatLon{Lat: 43.7395, Lon: 7.4030}, PlaceName: "Péage de La Turbie",
		FirstSeen: w.clock.Now().Add(-95 * time.Second), LastSeen: w.clock.Now()})
	w.must(err)
	return a
}

type alarmList struct {
	Items []*convoi.Alarm `json:"items"`
	Total int             `json:"total"`
}

type alarmDetail struct {
	convoi.Alarm
	History []*convoi.AlarmTransition `json:"history"`
}

func ids(as []*convoi.Alarm) []convoi.AlarmID {
	out := []convoi.AlarmID{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestAlarms_ListAndRead(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.underway()
	stop := w.raise(w.toCourt.ID, convoi.RuleStop, convoi.SeverityCritical)
	late := w.raise(w.toCourt.ID, convoi.RuleLate, convoi.SeverityInfo)
	other := w.raise(w.toHospital.ID, convoi.RuleDeviation, convoi.SeverityWarning)

	for _, tc := range []struct {
		name, query string
		role        convoi.Role
		want        []convoi.AlarmID
	}{
		{"control sees all, most severe first", "", control, []convoi.AlarmID{stop.ID, other.ID, late.ID}},
		{"severity word", "?severity=critical", control, []convoi.AlarmID{stop.ID}},
		{"severity number", "?severity=1", auditor, []convoi.AlarmID{other.ID}},
		{"movement", "?movement_id=" + itoa(w.toHospital.ID), commander, []convoi.AlarmID{other.ID}},
		{"state", "?state=open", planner, []convoi.AlarmID{stop.ID, other.ID, late.ID}},
		{"active", "?state=active&rule=late", control, []convoi.AlarmID{late.ID}},
		{"since", "?since=" + w.clock.Now().Add(time.Second).Format(time.RFC3339), control, []convoi.AlarmID{}},
		{"crew see their movement's only", "", crew, []convoi.AlarmID{stop.ID, late.ID}},
		{"crew asking for another movement", "?movement_id=" + itoa(w.toHospital.ID), crew, []convoi.AlarmID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.with(t)
			var out alarmList
			w.doJSON("GET", "/api/v1/alarms"+tc.query, w.tokens[tc.role], nil, 200, &out)
			if got := ids(out.Items); !equalIDs(got, tc.want) || out.Total != len(tc.want) {
				t.Fatalf("ids %v (total %d), want %v", got, out.Total, tc.want)
			}
		})
	}
	for _, q := range []string{"?state=asleep", "?severity=huge", "?severity=3", "?since=yesterday", "?rule=bored", "?movement_id=-1", "?colour=red"} {
		if r := w.do("GET", "/api/v1/alarms"+q, w.tokens[control], nil); r.Status != 400 {
			t.Errorf("%s: status %d, want 400", q, r.Status)
		}
	}

	var d alarmDetail
	w.doJSON("GET", "/api/v1/alarms/"+itoa(stop.ID), w.tokens[crew], nil, 200, &d)
	if d.ID != stop.ID || d.PlaceName != "Péage de La Turbie" || len(d.History) != 1 || d.History[0].To != convoi.AlarmOpen {
		t.Fatalf("alarm with history: %+v", d)
	}
	// Another movement's alarm does not exist for crew; liaison and admin may not ask.
	if r := w.do("GET", "/api/v1/alarms/"+itoa(other.ID), w.tokens[crew], nil); r.Status != 404 {
		t.Fatalf("crew reading another movement's alarm: %d", r.Status)
	}
	for _, role := range []convoi.Role{liaison, admin} {
		if r := w.do("GET", "/api/v1/alarms/"+itoa(stop.ID), w.tokens[role], nil); r.Status != 403 {
			t.Fatalf("%s reading an alarm: %d", role, r.Status)
		}
	}
	if r := w.do("GET", "/api/v1/alarms/99999", w.tokens[control], nil); r.Status != 404 {
		t.Fatalf("missing alarm: %d", r.Status)
	}
}

func equalIDs(a, b []convoi.AlarmID) bool {
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

func TestAlarms_Workflow(t *testing.T) {
	w := MustOpenWorld(t, withAlarms)
	w.underway()
	a := w.raise(w.toCourt.ID, convoi.RuleAttack, convoi.SeverityCritical)
	base := "/api/v1/alarms/" + itoa(a.ID)

	// Crew and auditors read but do not act.
	for _, role := range []convoi.Role{crew, auditor, planner} {
		if r := w.do("POST", base+"/acknowledge", w.tokens[role], []byte(`{}`)); r.Status != 403 {
			t.Fatalf("%s acknowledging: %d", role, r.Status)
		}
	}
	var d alarmDetail
	r1 := w.doJSON("POST", base+"/acknowledge", w.tokens[control], map[string]any{"note": "Calling the van."}, 200, &d,
		"Idempotency-Key", "ack-1")
	if d.State != convoi.AlarmAcknowledged || len(d.History) != 2 || d.History[1].By != w.users[control].ID || d.History[1].Note != "Calling the van." {
		t.Fatalf("acknowledged: %+v %+v", d.Alarm, d.History)
	}
	// The same request again replays the first answer; another operator's is refused, naming who has it.
	r2 := w.do("POST", base+"/acknowledge", w.tokens[control], []byte(`{"note":"Calling the van."}`), "Idempotency-Key", "ack-1")
	if r2.Status != 200 || !bytes.Equal(r1.Body, r2.Body) {
		t.Fatalf("replay: %d %s", r2.Status, r2.Body)
	}
	r3 := w.do("POST", base+"/acknowledge", w.tokens[commander], nil)
	if r3.Status != http.StatusConflict || !strings.Contains(string(r3.Body), "control1") {
		t.Fatalf("second acknowledgement: %d %s", r3.Status, r3.Body)
	}

	for name, body := range map[string]string{
		"no note":            `{"resolution":"handled"}`,
		"no resolution":      `{"note":"x"}`,
		"unknown resolution": `{"note":"x","resolution":"ignored"}`,
		"unknown field":      `{"note":"x","resolution":"handled","by":1}`,
		"not json":           `note=x`,
	} {
		if r := w.do("POST", base+"/resolve", w.tokens[commander], []byte(body)); r.Status != 400 {
			t.Errorf("resolve with %s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := w.do("POST", base+"/acknowledge", w.tokens[control], []byte(`{"resolution":"handled"}`)); r.Status != 400 {
		t.Errorf("acknowledge with a resolution: %d", r.Status)
	}

	w.doJSON("POST", base+"/escalate", w.tokens[control], nil, 200, &d)
	if d.State != convoi.AlarmEscalated {
		t.Fatalf("escalated: %+v", d.Alarm)
	}
	w.doJSON("POST", base+"/resolve", w.tokens[commander],
		map[string]any{"resolution": "incident_declared", "note": "Van rammed at the toll; units dispatched."}, 200, &d)
	if d.State != convoi.AlarmResolved || d.Resolution != convoi.ResolutionIncident || len(d.History) != 4 {
		t.Fatalf("resolved: %+v", d)
	}
	var m convoi.Movement
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[control], nil, 200, &m)
	if m.State != convoi.StateIncident {
		t.Fatalf("movement %s after incident declared", m.State)
	}
	var trs struct{ Items []*convoi.Transition }
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/transitions", w.tokens[auditor], nil, 200, &trs)
	last := trs.Items[len(trs.Items)-1]
	if last.Action != convoi.ActionIncident || last.By != w.users[commander].ID || !strings.Contains(last.Reason, "Van rammed") {
		t.Fatalf("movement transition %+v", last)
	}
	if r := w.do("POST", base+"/escalate", w.tokens[control], nil); r.Status != http.StatusConflict {
		t.Fatalf("escalating a resolved alarm: %d", r.Status)
	}
}

func TestAlarms_Stream(t *testing.T) {
	w := MustOpenWorld(t, withAlarms)
	w.underway()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := map[convoi.Role]<-chan sseEvent{}
	for _, role := range []convoi.Role{crew, liaison, control, admin} {
		streams[role] = w.openStream(ctx, w.tokens[role])
	}
	ev := w.srv.EventService
	now := w.clock.Now()
	mine := w.raise(w.toCourt.ID, convoi.RuleStop, convoi.SeverityWarning)
	theirs := w.raise(w.toHospital.ID, convoi.RuleStop, convoi.SeverityWarning)
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeProgress, Progress: &convoi.Progress{MovementID: w.toCourt.ID, VehicleID: w.vehicle1.ID, FixTime: now}})
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeProgress, Progress: &convoi.Progress{MovementID: w.toHospital.ID, VehicleID: w.vehicle2.ID, FixTime: now}})
	w.doJSON("POST", "/api/v1/alarms/"+itoa(mine.ID)+"/acknowledge", w.tokens[control], nil, 200, nil)
	w.doJSON("POST", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/complete", w.tokens[crew], nil, 200, nil) // the sentinel every role sees

	// The completion ends every stream; liaison see it as "arrived" in their view.
	isEnd := func(e sseEvent) bool {
		return e.Type == "movement" && e.Data.Movement != nil &&
			(e.Data.Movement.State == convoi.StateCompleted || strings.Contains(e.Raw, `"status":"arrived"`))
	}
	count := func(evs []sseEvent, typ string, m convoi.MovementID) int {
		n := 0
		for _, e := range evs {
			if e.Type != typ {
				continue
			}
			if (e.Data.Alarm != nil && e.Data.Alarm.MovementID == m) || (e.Data.Progress != nil && e.Data.Progress.MovementID == m) {
				n++
			}
		}
		return n
	}
	got := map[convoi.Role][]sseEvent{}
	for role, ch := range streams {
		got[role] = collect(t, ch, isEnd)
	}
	c := got[control]
	if count(c, "alarm", w.toCourt.ID) != 2 || count(c, "alarm", w.toHospital.ID) != 1 || count(c, "progress", w.toCourt.ID) != 1 || count(c, "progress", w.toHospital.ID) != 1 {
		t.Errorf("control: %+v", c)
	}
	c = got[crew]
	if count(c, "alarm", w.toCourt.ID) != 2 || count(c, "alarm", w.toHospital.ID) != 0 || count(c, "progress", w.toCourt.ID) != 1 || count(c, "progress", w.toHospital.ID) != 0 {
		t.Errorf("crew: %+v", c)
	}
	for _, role := range []convoi.Role{liaison, admin} {
		for _, e := range got[role] {
			if e.Type == "alarm" || e.Type == "progress" || e.Type == "position" {
				t.Errorf("%s received %s", role, e.Type)
			}
		}
	}
	_ = theirs
}

func TestTrackAndETA(t *testing.T) {
	w := MustOpenWorld(t, withAlarms)
	ctx := context.Background()
	fix := func(at time.Time, lat float64) convoi.Position {
		return convoi.Position{DeviceID: w.tracker1.DeviceID, TrackerID: w.tracker1.ID, FixTime: at, ServerTime: at,
			Lat: lat, Lon: 7.42, SpeedKmh: 40, Valid: true, Attributes: map[string]any{"ignition": 1}}
	}
	pos := w.srv.PositionService
	t0 := w.clock.Now()
	_, _, err := pos.StorePositions(ctx, []convoi.Position{fix(t0.Add(-time.Minute), 43.70)}, nil) // before the start: not in the track
	w.must(err)

	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	var tr struct {
		Started  *time.Time `json:"started"`
		Vehicles []struct {
			VehicleID convoi.VehicleID `json:"vehicle_id"`
			Fixes     []struct {
				FixTime  time.Time `json:"fix_time"`
				Lat      float64   `json:"lat"`
				Progress *struct {
					AlongM float64 `json:"along_m"`
				} `json:"progress"`
			} `json:"fixes"`
			More bool `json:"more"`
		} `json:"vehicles"`
	}
	w.doJSON("GET", base+"/track", w.tokens[control], nil, 200, &tr)
	if tr.Started != nil || len(tr.Vehicles) != 1 || len(tr.Vehicles[0].Fixes) != 0 {
		t.Fatalf("track before the start: %+v", tr)
	}
	w.underway()
	w.clock.Add(time.Second)
	var ps []convoi.Position
	for i := range 5 {
		ps = append(ps, fix(w.clock.Now().Add(time.Duration(i)*time.Second), 43.731+float64(i)*0.0001))
	}
	_, _, err = pos.StorePositions(ctx, ps, nil)
	w.must(err)
	// The monitor's progress for the third fix, and its latest for the movement.
	prog := convoi.Progress{MovementID: w.toCourt.ID, VehicleID: w.vehicle1.ID, FixTime: ps[2].FixTime,
		AlongM: 120, RouteM: 400, ExpectedArr: w.clock.Now().Add(100 * time.Second), LateS: 12, DeadlineS: -3600}
	w.srv.EventService.PublishEvent(convoi.Event{Type: convoi.EventTypeProgress, Progress: &prog})

	var eta struct {
		ExpectedArrival *time.Time        `json:"expected_arrival"`
		LateS           *float64          `json:"late_s"`
		Vehicles        []convoi.Progress `json:"vehicles"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.doJSON("GET", base+"/eta", w.tokens[crew], nil, 200, &eta)
		if len(eta.Vehicles) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the cache follows the bus asynchronously
	}
	if len(eta.Vehicles) != 1 || eta.ExpectedArrival == nil || !eta.ExpectedArrival.Equal(prog.ExpectedArr) || *eta.LateS != 12 {
		t.Fatalf("eta: %+v", eta)
	}

	w.doJSON("GET", base+"/track", w.tokens[crew], nil, 200, &tr)
	fs := tr.Vehicles[0].Fixes
	if tr.Started == nil || len(fs) != 5 || fs[0].Lat != 43.731 || tr.Vehicles[0].More {
		t.Fatalf("track: %+v", tr)
	}
	for i, f := range fs {
		if (f.Progress != nil) != (i == 2) || (i == 2 && f.Progress.AlongM != 120) {
			t.Fatalf("fix %d progress %+v", i, f.Progress)
		}
	}
	// Paging: since is exclusive, limit cuts with more set.
	w.doJSON("GET", base+"/track?limit=2&since="+fs[1].FixTime.Format(time.RFC3339Nano), w.tokens[control], nil, 200, &tr)
	if fs := tr.Vehicles[0].Fixes; len(fs) != 2 || !fs[0].FixTime.Equal(ps[2].FixTime) || !tr.Vehicles[0].More {
		t.Fatalf("page: %+v", tr)
	}
	r := w.do("GET", base+"/track", w.tokens[control], nil)
	if strings.Contains(string(r.Body), "ignition") || strings.Contains(string(r.Body), string(w.tracker1.DeviceID)) {
		t.Fatalf("track exposes raw attributes or the device ID: %s", r.Body)
	}

	// Crew of another movement, liaison and admin get nothing.
	if r := w.do("GET", "/api/v1/movements/"+itoa(w.toHospital.ID)+"/track", w.tokens[crew], nil); r.Status != 404 {
		t.Fatalf("crew reading another movement's track: %d", r.Status)
	}
	for _, p := range []string{"/track", "/eta"} {
		for _, role := range []convoi.Role{liaison, admin} {
			if r := w.do("GET", base+p, w.tokens[role], nil); r.Status != 403 {
				t.Fatalf("%s reading %s: %d", role, p, r.Status)
			}
		}
	}
	for _, q := range []string{"?limit=0", "?limit=10001", "?since=now", "?x=1"} {
		if r := w.do("GET", base+"/track"+q, w.tokens[control], nil); r.Status != 400 {
			t.Errorf("track%s: %d", q, r.Status)
		}
	}

	// Completed: later fixes are not the movement's, and its live progress is forgotten.
	w.clock.Add(time.Minute)
	w.doJSON("POST", base+"/complete", w.tokens[crew], nil, 200, nil)
	_, _, err = pos.StorePositions(ctx, []convoi.Position{fix(w.clock.Now().Add(time.Second), 43.75)}, nil)
	w.must(err)
	var done struct {
		Ended    *time.Time `json:"ended"`
		Vehicles []struct {
			Fixes []json.RawMessage `json:"fixes"`
		} `json:"vehicles"`
	}
	w.doJSON("GET", base+"/track", w.tokens[control], nil, 200, &done)
	if done.Ended == nil || len(done.Vehicles[0].Fixes) != 5 {
		t.Fatalf("track after completion: ended %v, %d fixes", done.Ended, len(done.Vehicles[0].Fixes))
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		w.doJSON("GET", base+"/eta", w.tokens[control], nil, 200, &eta)
		if len(eta.Vehicles) == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("eta of a completed movement: %+v", eta)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
