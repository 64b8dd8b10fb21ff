package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web"
)

type movementList struct {
	Items []map[string]any `json:"items"`
	Total int              `json:"total"`
}

func TestMovements_LiaisonSeesNoSchedule(t *testing.T) {
	w := MustOpenWorld(t, nil)
	tok := w.tokens[liaison]
	var l movementList
	w.doJSON("GET", "/api/v1/movements", tok, nil, 200, &l)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0]["ref"] != w.toCourt.Ref {
		t.Fatalf("liaison lists %+v, want only %s", l, w.toCourt.Ref)
	}
	// Asking for another site does not widen the scope.
	w.doJSON("GET", "/api/v1/movements?site_id="+itoa(w.hospital.ID), tok, nil, 200, &l)
	for _, m := range l.Items {
		if m["ref"] == w.toHospital.Ref {
			t.Fatal("liaison sees a movement to another site")
		}
	}
	var one map[string]any
	r := w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), tok, nil, 200, &one)
	for _, body := range [][]byte{r.Body, mustMarshal(t, l)} {
		for _, field := range []string{"planned_departure", "route", "geometry"} {
			if strings.Contains(string(body), field) {
				t.Errorf("liaison sees %s: %s", field, body)
			}
		}
	}
	if one["appointment_at"] == nil {
		t.Error("liaison must see the appointment time")
	}
	if c, _ := one["crew"].([]any); len(c) != 0 {
		t.Errorf("liaison sees the crew: %v", one["crew"])
	}
	hidden := w.do("GET", "/api/v1/movements/"+itoa(w.toHospital.ID), tok, nil)
	if hidden.Status != http.StatusNotFound {
		t.Fatalf("liaison reading another site's movement: %d, want 404", hidden.Status)
	}
	// Nothing dates the last change or tells the escort's state (issue 8, item 4).
	for _, body := range [][]byte{r.Body, mustMarshal(t, l)} {
		for _, field := range []string{`"state"`, `"version"`, `"updated_at"`, `"updated_by"`, `"escort_level"`} {
			if strings.Contains(string(body), field) {
				t.Errorf("liaison sees %s: %s", field, body)
			}
		}
	}
	if one["status"] != "scheduled" {
		t.Errorf("liaison status %v, want scheduled", one["status"])
	}
	// A hidden movement and a missing one answer the same.
	missing := w.do("GET", "/api/v1/movements/999999", tok, nil)
	if missing.Status != hidden.Status || string(missing.Body) != string(hidden.Body) {
		t.Errorf("hidden %d %s, missing %d %s", hidden.Status, hidden.Body, missing.Status, missing.Body)
	}
	// Filters whose totals would reveal crew assignments or departures are refused.
	for _, q := range []string{"crew_member=" + itoa(w.officer1.ID), "crew_member=" + itoa(w.officer2.ID), "state=underway", "state=released"} {
		if r := w.do("GET", "/api/v1/movements?"+q, tok, nil); r.Status != http.StatusBadRequest {
			t.Errorf("liaison filtering by %s: %d %s", q, r.Status, r.Body)
		}
	}
	// Planners see the strategy, never the draw (issue 12): the movement
	// comes without its schedule, saying why.
	one = nil
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[planner], nil, 200, &one)
	if one["planned_departure"] != nil || one["route"] != nil || one["schedule"] == nil || one["schedule"].(map[string]any)["opens"] != "never" {
		t.Fatalf("planner sees the drawn schedule: %v", one)
	}
}

func TestMovements_CrewSeesOnlyAssigned(t *testing.T) {
	w := MustOpenWorld(t, nil)
	tok := w.tokens[crew]
	var l movementList
	w.doJSON("GET", "/api/v1/movements", tok, nil, 200, &l)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0]["ref"] != w.toCourt.Ref {
		t.Fatalf("crew lists %+v, want only %s", l, w.toCourt.Ref)
	}
	w.doJSON("GET", "/api/v1/movements?crew_member="+itoa(w.officer2.ID), tok, nil, 200, &l)
	if l.Total != 1 || l.Items[0]["ref"] != w.toCourt.Ref {
		t.Fatalf("crew widened the scope with crew_member: %+v", l)
	}
	// The crew lead learns route and departure at the briefing, once the
	// movement is released (issue 12): not yet.
	var one map[string]any
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), tok, nil, 200, &one)
	if one["route"] != nil || one["planned_departure"] != nil || one["schedule"].(map[string]any)["opens"] != "briefing" {
		t.Fatalf("crew see the schedule before its release: %v", one)
	}
	for _, p := range []string{"", "/transitions"} {
		if r := w.do("GET", "/api/v1/movements/"+itoa(w.toHospital.ID)+p, tok, nil); r.Status != http.StatusNotFound {
			t.Errorf("crew reading an unassigned movement%s: %d, want 404", p, r.Status)
		}
	}
	if r := w.do("POST", "/api/v1/movements/"+itoa(w.toHospital.ID)+"/incident", tok, []byte(`{"reason":"x"}`)); r.Status != http.StatusNotFound {
		t.Errorf("crew acting on an unassigned movement: %d, want 404", r.Status)
	}
	var all movementList
	w.doJSON("GET", "/api/v1/movements", w.tokens[control], nil, 200, &all)
	if all.Total != 2 {
		t.Fatalf("control lists %d movements, want 2", all.Total)
	}
}

func TestMovements_Lifecycle(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	var m convoi.Movement
	w.doJSON("POST", "/api/v1/movements", pl, map[string]any{
		"ref": "MC-2026-0100", "detainee_id": w.detainee.ID, "from_site_id": w.prison.ID, "to_site_id": w.court.ID,
		"purpose": "judge_hearing", "appointment_at": w.clock.Now().Add(4 * time.Hour), "requester": "Juge Z",
		"crew": []convoi.OfficerID{w.officer1.ID},
	}, 201, &m)
	if m.State != convoi.StateRequested || m.CreatedBy != w.users[planner].ID {
		t.Fatalf("created %+v", m)
	}
	base := "/api/v1/movements/" + itoa(m.ID)
	var ar struct {
		Movement convoi.Movement `json:"movement"`
	}
	// Illegal transition: 409 and nothing written.
	if r := w.do("POST", base+"/start", w.tokens[crew], nil); r.Status != http.StatusConflict {
		t.Fatalf("start a requested movement: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", base+"/assess", pl, []byte(`{}`)); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "escort_level") {
		t.Fatalf("assess without engine nor level: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", base+"/assess", pl, []byte(`{"escort_level":5}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("assess level 5: %d %s", r.Status, r.Body)
	}
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 3, "reason": "organised crime"}, 200, &ar)
	if ar.Movement.State != convoi.StateAssessed || ar.Movement.EscortLevel != 3 {
		t.Fatalf("assessed %+v", ar.Movement)
	}
	if r := w.do("POST", base+"/plan", pl, []byte(`{}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("plan without departure: %d %s", r.Status, r.Body)
	}
	late := m.AppointmentAt.Add(time.Minute)
	if r := w.do("POST", base+"/plan", pl, mustMarshal(t, map[string]any{"planned_departure": late})); r.Status != http.StatusBadRequest {
		t.Fatalf("plan departing after the appointment: %d %s", r.Status, r.Body)
	}
	dep := m.AppointmentAt.Add(-time.Hour)
	w.doJSON("POST", base+"/plan", pl, map[string]any{"planned_departure": dep, "vehicles": []convoi.VehicleID{w.vehicle1.ID}}, 200, &ar)
	stored, err := w.srv.MovementService.FindMovementByID(context.Background(), m.ID)
	w.must(err)
	if ar.Movement.State != convoi.StatePlanned || stored.PlannedDeparture == nil || len(ar.Movement.Vehicles) != 1 {
		t.Fatalf("planned %+v", ar.Movement)
	}
	if ar.Movement.PlannedDeparture != nil {
		t.Fatal("the planner is shown the departure (issue 12: never the draw)")
	}
	// Release is held to the assessment in force (issue 8, item 1).
	r := w.do("POST", base+"/release", pl, nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "no risk assessment is in force") {
		t.Fatalf("release without an assessment: %d %s", r.Status, r.Body)
	}
	w.assess(&m, 2)
	r = w.do("POST", base+"/release", pl, nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "crew of 1, level 1 needs 2") {
		t.Fatalf("release with one officer of two: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", base+"/release", pl, []byte(`{"override":true,"reason":"urgent"}`)); r.Status != http.StatusForbidden {
		t.Fatalf("planner overriding: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", base+"/release", w.tokens[commander], []byte(`{"override":true}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("override without a reason: %d %s", r.Status, r.Body)
	}
	w.doJSON("POST", base+"/release", w.tokens[commander], map[string]any{"override": true, "reason": "Second officer joins at the court."}, 200, &ar)
	// Start is held to the drawn departure (item 2): now is 3 h before it.
	// Control, to whom release opened the schedule, is told the times; the
	// crew, before their briefing, are not (issue 12).
	r = w.do("POST", base+"/start", w.tokens[control], nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "may start from") {
		t.Fatalf("start 3 h early: %d %s", r.Status, r.Body)
	}
	r = w.do("POST", base+"/start", w.tokens[crew], nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "times are withheld") || strings.Contains(string(r.Body), "UTC") {
		t.Fatalf("crew starting 3 h early: %d %s", r.Status, r.Body)
	}
	w.clock.Add(3*time.Hour - 10*time.Minute)
	w.doJSON("POST", base+"/start", w.tokens[crew], nil, 200, &ar)
	r = w.do("POST", base+"/incident", w.tokens[crew], []byte(`{}`))
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "A reason is required to declare an incident.") {
		t.Fatalf("incident without a reason: %d %s", r.Status, r.Body)
	}
	w.doJSON("POST", base+"/incident", w.tokens[crew], map[string]any{"reason": "vehicle blocked"}, 200, &ar)
	// A false alarm is stood down by a commander, with a reason (item 3).
	if r := w.do("POST", base+"/resume", w.tokens[control], []byte(`{"reason":"false alarm"}`)); r.Status != http.StatusForbidden {
		t.Fatalf("control resuming: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", base+"/resume", w.tokens[commander], []byte(`{}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("resume without a reason: %d %s", r.Status, r.Body)
	}
	w.doJSON("POST", base+"/resume", w.tokens[commander], map[string]any{"reason": "False alarm: a delivery van."}, 200, &ar)
	if ar.Movement.State != convoi.StateUnderway {
		t.Fatalf("resumed: %s", ar.Movement.State)
	}
	w.doJSON("POST", base+"/complete", w.tokens[control], map[string]any{"reason": "handed over"}, 200, &ar)
	if ar.Movement.State != convoi.StateCompleted {
		t.Fatalf("state %s", ar.Movement.State)
	}
	if r := w.do("POST", base+"/cancel", pl, []byte(`{"cancel_reason":"video_hearing_used"}`)); r.Status != http.StatusConflict {
		t.Fatalf("cancel a completed movement: %d %s", r.Status, r.Body)
	}
	var tl struct {
		Items []convoi.Transition `json:"items"`
	}
	w.doJSON("GET", base+"/transitions", w.tokens[auditor], nil, 200, &tl)
	want := []convoi.Action{"assess", "plan", "release", "start", "incident", "resume", "complete"}
	if len(tl.Items) != len(want) {
		t.Fatalf("transitions %+v", tl.Items)
	}
	for i, tr := range tl.Items {
		if tr.Action != want[i] {
			t.Errorf("transition %d is %s, want %s", i, tr.Action, want[i])
		}
	}
	if tl.Items[3].By != w.users[crew].ID || tl.Items[0].By != w.users[planner].ID || tl.Items[4].Reason != "vehicle blocked" {
		t.Errorf("transitions do not record who and why: %+v", tl.Items)
	}
	rel := tl.Items[2]
	if rel.By != w.users[commander].ID || rel.Reason != "Second officer joins at the court." || !strings.Contains(rel.Override, "crew of 1, level 1 needs 2") {
		t.Errorf("the override is not recorded: %+v", rel)
	}
	if tl.Items[3].Override != "" || tl.Items[5].By != w.users[commander].ID || tl.Items[5].Reason != "False alarm: a delivery van." {
		t.Errorf("start or resume: %+v %+v", tl.Items[3], tl.Items[5])
	}
}

// TestMovements_ReleaseChecksEscort is issue 8's level 4 release: four
// officers and two vehicles, one based too far away, against an assessment
// asking for eight, an armoured van and a specialised team; and an officer
// already on another released movement at the same time.
func TestMovements_ReleaseChecksEscort(t *testing.T) {
	w := MustOpenWorld(t, nil)
	ctx := context.Background()
	pl := w.tokens[planner]
	far := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt d'Évreux", Location: convoi.LatLon{Lat: 49.0241, Lon: 1.1508}}
	w.must(w.srv.SiteService.CreateSite(ctx, far))
	farVan := &convoi.Vehicle{Registration: "EV-001-RX", Class: convoi.VehicleCellularVan, Capacity: 2, SiteID: far.ID}
	w.must(w.srv.VehicleService.CreateVehicle(ctx, farVan))
	var crewIDs []convoi.OfficerID
	for i := 0; i < 3; i++ {
		o := &convoi.Officer{Name: "Officer " + itoa(int64(i+3)), Unit: "PREJ", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: w.prison.ID}
		w.must(w.srv.OfficerService.CreateOfficer(ctx, o))
		crewIDs = append(crewIDs, o.ID)
	}
	crewIDs = append(crewIDs, w.officer2.ID) // also on toHospital, released below
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("PATCH", base, pl, map[string]any{"crew": crewIDs, "vehicles": []convoi.VehicleID{w.vehicle1.ID, farVan.ID}}, 200, nil)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 4}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	a := w.assess(w.toCourt, 8)
	a.Level, a.VehicleClass, a.ArmedSupport = 4, convoi.VehicleArmouredVan, true
	a.Qualifications = []convoi.QualRequirement{{Qualification: convoi.QualArmed, Count: 4}, {Qualification: convoi.QualSpecialised, Count: 2}}
	w.must(w.srv.AssessmentService.CreateAssessment(ctx, a)) // the newer one is in force

	// toHospital (officer2, vehicle2) is released for an overlapping time.
	hb := "/api/v1/movements/" + itoa(w.toHospital.ID)
	w.doJSON("PATCH", hb, pl, map[string]any{"crew": []convoi.OfficerID{w.officer1.ID, w.officer2.ID}}, 200, nil)
	w.doJSON("POST", hb+"/assess", pl, map[string]any{"escort_level": 1}, 200, nil)
	w.doJSON("POST", hb+"/plan", pl, nil, 200, nil)
	w.assess(w.toHospital, 1)
	w.doJSON("POST", hb+"/release", pl, nil, 200, nil)

	r := w.do("POST", base+"/release", pl, nil)
	if r.Status != http.StatusConflict {
		t.Fatalf("release of a short escort: %d %s", r.Status, r.Body)
	}
	for _, want := range []string{
		"crew of 4, level 4 needs 8",
		"0 specialised_team officer(s), level 4 needs 2",
		"no armoured van assigned",
		"no escort car",
		"vehicle EV-001-RX is based at Maison d'arrêt d'Évreux, more than 30 km from either end",
		"officer Officer Two is on MC-2026-0002 (released) at the same time",
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("the refusal does not say %q: %s", want, r.Body)
		}
	}
	var m convoi.Movement
	w.doJSON("GET", base, pl, nil, 200, &m)
	if m.State != convoi.StatePlanned {
		t.Fatalf("refused release left the movement %s", m.State)
	}
}

func TestMovements_Cancel(t *testing.T) {
	w := MustOpenWorld(t, nil)
	base := "/api/v1/movements/" + itoa(w.toHospital.ID)
	for _, body := range []string{`{}`, `{"cancel_reason":"bored"}`, `{"cancel_reason":"other","extra":1}`} {
		if r := w.do("POST", base+"/cancel", w.tokens[planner], []byte(body)); r.Status != http.StatusBadRequest {
			t.Errorf("cancel %s: %d %s", body, r.Status, r.Body)
		}
	}
	var ar struct {
		Movement convoi.Movement `json:"movement"`
	}
	w.doJSON("POST", base+"/cancel", w.tokens[planner], map[string]any{"cancel_reason": "video_hearing_used"}, 200, &ar)
	if ar.Movement.State != convoi.StateCancelled || ar.Movement.CancelReason != convoi.CancelVideoHearing {
		t.Fatalf("cancelled %+v", ar.Movement)
	}
}

// stubAssessor stands in for the risk engine's scoring (an engine, not the
// store); its other methods are not called here.
type stubAssessor struct {
	convoi.RiskService
	level convoi.EscortLevel
}

func (a stubAssessor) ScoreMovement(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, error) {
	return &convoi.Assessment{MovementID: id, Level: a.level, Score: 42, PolicyVersion: "test"}, nil
}

func TestMovements_AssessWithEngine(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) { s.Risk = stubAssessor{level: 3} })
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	if r := w.do("POST", base+"/assess", w.tokens[planner], []byte(`{"escort_level":2}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("lowering the assessed level: %d %s", r.Status, r.Body)
	}
	var ar struct {
		Movement   convoi.Movement    `json:"movement"`
		Assessment *convoi.Assessment `json:"assessment"`
	}
	w.doJSON("POST", base+"/assess", w.tokens[planner], nil, 200, &ar)
	if ar.Movement.EscortLevel != 3 || ar.Assessment == nil || ar.Assessment.Level != 3 {
		t.Fatalf("assess with engine: %+v", ar)
	}
	w.doJSON("POST", base+"/assess", w.tokens[planner], map[string]any{"escort_level": 4}, 200, &ar)
	if ar.Movement.EscortLevel != 4 {
		t.Fatalf("raising the level: %d", ar.Movement.EscortLevel)
	}
}

func TestMovements_Update(t *testing.T) {
	w := MustOpenWorld(t, nil)
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	var m convoi.Movement
	w.doJSON("PATCH", base, w.tokens[planner], map[string]any{"requester": "Juge W", "version": w.toCourt.Version}, 200, &m)
	if m.Requester != "Juge W" || m.UpdatedBy != w.users[planner].ID {
		t.Fatalf("updated %+v", m)
	}
	if r := w.do("PATCH", base, w.tokens[planner], mustMarshal(t, map[string]any{"requester": "Juge V", "version": w.toCourt.Version})); r.Status != http.StatusConflict {
		t.Fatalf("stale version: %d %s", r.Status, r.Body)
	}
	if r := w.do("PATCH", base, w.tokens[planner], []byte(`{"state":"completed"}`)); r.Status != http.StatusBadRequest {
		t.Fatalf("setting state by PATCH: %d %s", r.Status, r.Body)
	}
	bad := `{"route":{"geometry":[{"lat":91,"lon":7}],"distance_m":1,"duration_s":1}}`
	if r := w.do("PATCH", base, w.tokens[planner], []byte(bad)); r.Status != http.StatusBadRequest {
		t.Fatalf("route out of range: %d %s", r.Status, r.Body)
	}
}

// TestMovements_PatchOnlyWhatNoActionGoverns is issue 8 item 5.
func TestMovements_PatchOnlyWhatNoActionGoverns(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 3}, 200, nil)
	afterAppointment := w.toCourt.AppointmentAt.Add(time.Hour)
	for name, body := range map[string]any{
		"lowering the level":               map[string]any{"escort_level": 1},
		"raising the level":                map[string]any{"escort_level": 4},
		"departure after the appointment":  map[string]any{"planned_departure": afterAppointment},
		"departure before the appointment": map[string]any{"planned_departure": w.toCourt.AppointmentAt.Add(-2 * time.Hour)},
		"appointment before the departure": map[string]any{"appointment_at": w.toCourt.PlannedDeparture.Add(-time.Minute)},
		"nothing":                          map[string]any{},
		"route":                            map[string]any{"route": map[string]any{"geometry": []any{}, "distance_m": 1, "duration_s": 1}},
	} {
		if r := w.do("PATCH", base, pl, mustMarshal(t, body)); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	m, err := w.srv.MovementService.FindMovementByID(context.Background(), w.toCourt.ID)
	w.must(err)
	if m.EscortLevel != 3 || !m.PlannedDeparture.Equal(*w.toCourt.PlannedDeparture) {
		t.Fatalf("a refused PATCH changed the movement: level %d, departure %s", m.EscortLevel, m.PlannedDeparture)
	}
	// What no action governs may change, and the change is recorded.
	w.doJSON("PATCH", base, pl, map[string]any{"requester": "Juge W", "reason": "Case reassigned."}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	w.assess(w.toCourt, 1)
	w.doJSON("POST", base+"/release", pl, nil, 200, nil)
	for name, body := range map[string]any{
		"crew after release":        map[string]any{"crew": []convoi.OfficerID{w.officer2.ID}},
		"vehicles after release":    map[string]any{"vehicles": []convoi.VehicleID{w.vehicle2.ID}},
		"appointment after release": map[string]any{"appointment_at": w.toCourt.AppointmentAt.Add(time.Hour)},
		"purpose after release":     map[string]any{"purpose": "medical"},
	} {
		if r := w.do("PATCH", base, pl, mustMarshal(t, body)); r.Status != http.StatusConflict {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var tl struct {
		Items []convoi.Transition `json:"items"`
	}
	w.doJSON("GET", base+"/transitions", w.tokens[auditor], nil, 200, &tl)
	var found bool
	for _, tr := range tl.Items {
		if tr.Action == convoi.ActionUpdate && tr.Reason == "Changed requester. Case reassigned." && tr.By == w.users[planner].ID && tr.From == convoi.StateAssessed {
			found = true
		}
	}
	if !found {
		t.Errorf("the PATCH is not in the history: %+v", tl.Items)
	}
}

// TestNeedToKnow is issue 8 item 6: a court clerk reads who is arriving,
// crew read the vehicles and crewmates of their movements, and nothing else.
func TestNeedToKnow(t *testing.T) {
	w := MustOpenWorld(t, nil)
	ctx := context.Background()
	other := &convoi.Detainee{Name: "Jean Autre", LegalStatus: convoi.LegalStatusSentenced, SiteID: w.prison.ID, BirthDate: "1990-01-02"}
	w.must(w.srv.DetaineeService.CreateDetainee(ctx, other))
	var id map[string]any
	r := w.doJSON("GET", "/api/v1/detainees/"+itoa(w.detainee.ID), w.tokens[liaison], nil, 200, &id)
	if id["name"] != w.detainee.Name || id["legal_status"] != "remand" {
		t.Errorf("liaison identity: %s", r.Body)
	}
	for _, field := range []string{"risk", "aliases", "site_id", "escape", "organised_crime", "created_by"} {
		if strings.Contains(string(r.Body), field) {
			t.Errorf("liaison sees %s: %s", field, r.Body)
		}
	}
	hidden := w.do("GET", "/api/v1/detainees/"+itoa(other.ID), w.tokens[liaison], nil)
	missing := w.do("GET", "/api/v1/detainees/999999", w.tokens[liaison], nil)
	if hidden.Status != http.StatusNotFound || string(hidden.Body) != string(missing.Body) {
		t.Errorf("a detainee not due at the liaison's site: %d %s (missing: %s)", hidden.Status, hidden.Body, missing.Body)
	}
	var full convoi.Detainee
	w.doJSON("GET", "/api/v1/detainees/"+itoa(w.detainee.ID), w.tokens[planner], nil, 200, &full)
	if !full.Risk.OrganisedCrime {
		t.Error("planner must see the risk record")
	}

	// Crew (officer1, on toCourt with vehicle1) read vehicle1, not vehicle2.
	w.doJSON("GET", "/api/v1/vehicles/"+itoa(w.vehicle1.ID), w.tokens[crew], nil, 200, nil)
	if r := w.do("GET", "/api/v1/vehicles/"+itoa(w.vehicle2.ID), w.tokens[crew], nil); r.Status != http.StatusNotFound {
		t.Errorf("crew reading a vehicle of another movement: %d %s", r.Status, r.Body)
	}
	w.doJSON("GET", "/api/v1/officers/"+itoa(w.officer1.ID), w.tokens[crew], nil, 200, nil)
	if r := w.do("GET", "/api/v1/officers/"+itoa(w.officer2.ID), w.tokens[crew], nil); r.Status != http.StatusNotFound {
		t.Errorf("crew reading an officer of another movement: %d %s", r.Status, r.Body)
	}
	w.doJSON("PATCH", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[planner], map[string]any{"crew": []convoi.OfficerID{w.officer1.ID, w.officer2.ID}}, 200, nil)
	w.doJSON("GET", "/api/v1/officers/"+itoa(w.officer2.ID), w.tokens[crew], nil, 200, nil)
	// Once the movement is over, its vehicles are no longer theirs to read.
	w.doJSON("POST", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/cancel", w.tokens[planner], map[string]any{"cancel_reason": "hearing_adjourned"}, 200, nil)
	if r := w.do("GET", "/api/v1/vehicles/"+itoa(w.vehicle1.ID), w.tokens[crew], nil); r.Status != http.StatusNotFound {
		t.Errorf("crew reading the vehicle of a cancelled movement: %d", r.Status)
	}
	if r := w.do("GET", "/api/v1/detainees/"+itoa(w.detainee.ID), w.tokens[liaison], nil); r.Status != http.StatusNotFound {
		t.Errorf("liaison reading the detainee of a cancelled movement: %d", r.Status)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMovements_StartEmergencyOverride is issue 8 item 2: a crew member
// cannot start hours before the drawn departure; a commander can, for an
// emergency, with a reason that the transition keeps.
func TestMovements_StartEmergencyOverride(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("PATCH", base, pl, map[string]any{"crew": []convoi.OfficerID{w.officer1.ID, w.officer2.ID}}, 200, nil)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 1}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	w.assess(w.toCourt, 2)
	w.doJSON("POST", base+"/release", pl, nil, 200, nil)
	w.clock.Add(-35 * time.Hour) // issue 8: a start about 35 hours early
	for _, tok := range []string{w.tokens[crew], w.tokens[control]} {
		// The crew, before their briefing, are not told the departure's
		// time (issue 12); control, to whom release opened it, are.
		want := "the drawn departure is Mon 2 Mar 08:30 UTC" // another day: named
		if tok == w.tokens[crew] {
			want = "the times are withheld"
		}
		r := w.do("POST", base+"/start", tok, nil)
		if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), want) {
			t.Fatalf("start 35 h early: %d %s", r.Status, r.Body)
		}
		// Durations for people, not Go's "35h0m0s" or "15m0s".
		if tok == w.tokens[control] && (!strings.Contains(string(r.Body), "36 h 30 min from now") || !strings.Contains(string(r.Body), "(15 min before it)") || !strings.Contains(string(r.Body), "start within the window")) {
			t.Errorf("start 35 h early, durations: %s", r.Body)
		}
		if r := w.do("POST", base+"/start", tok, []byte(`{"override":true,"reason":"fire at the prison"}`)); r.Status != http.StatusForbidden {
			t.Fatalf("override by a non-commander: %d %s", r.Status, r.Body)
		}
	}
	w.clock.Add(35*time.Hour + 90*time.Minute + 21*time.Minute) // 21 min late
	if r := w.do("POST", base+"/start", w.tokens[crew], nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "may start until") {
		t.Fatalf("start 21 min late: %d %s", r.Status, r.Body)
	}
	w.doJSON("POST", base+"/start", w.tokens[commander], map[string]any{"override": true, "reason": "Fire at the prison: evacuation ordered."}, 200, nil)
	var tl struct {
		Items []convoi.Transition `json:"items"`
	}
	// Auditors read overrides once the movement is over; the commander now.
	w.doJSON("GET", base+"/transitions", w.tokens[auditor], nil, 200, &tl)
	if o := tl.Items[len(tl.Items)-1].Override; o != "(withheld: the schedule is not yet released to you)" {
		t.Fatalf("auditor reads the override of an escort underway: %q", o)
	}
	w.doJSON("GET", base+"/transitions", w.tokens[commander], nil, 200, &tl)
	last := tl.Items[len(tl.Items)-1]
	if last.Action != convoi.ActionStart || last.By != w.users[commander].ID || last.Reason != "Fire at the prison: evacuation ordered." ||
		!strings.Contains(last.Override, "the drawn departure was 08:30 UTC, 21 min ago") {
		t.Fatalf("start override: %+v", last)
	}
}
