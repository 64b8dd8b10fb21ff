package convoi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestNextState(t *testing.T) {
	legal := map[convoi.Action]map[convoi.MovementState]convoi.MovementState{
		convoi.ActionAssess:   {convoi.StateRequested: convoi.StateAssessed, convoi.StateAssessed: convoi.StateAssessed, convoi.StatePlanned: convoi.StateAssessed, convoi.StateReleased: convoi.StateAssessed},
		convoi.ActionPlan:     {convoi.StateAssessed: convoi.StatePlanned, convoi.StatePlanned: convoi.StatePlanned},
		convoi.ActionRelease:  {convoi.StatePlanned: convoi.StateReleased},
		convoi.ActionStart:    {convoi.StateReleased: convoi.StateUnderway},
		convoi.ActionComplete: {convoi.StateUnderway: convoi.StateCompleted, convoi.StateIncident: convoi.StateCompleted},
		convoi.ActionCancel:   {convoi.StateRequested: convoi.StateCancelled, convoi.StateAssessed: convoi.StateCancelled, convoi.StatePlanned: convoi.StateCancelled, convoi.StateReleased: convoi.StateCancelled},
		convoi.ActionAbort:    {convoi.StateReleased: convoi.StateAborted, convoi.StateUnderway: convoi.StateAborted, convoi.StateIncident: convoi.StateAborted},
		convoi.ActionIncident: {convoi.StateUnderway: convoi.StateIncident},
		convoi.ActionResume:   {convoi.StateIncident: convoi.StateUnderway},
	}
	// Every (state, action) pair: legal ones lead where the table says, all
	// others are a conflict. A loosened or tightened rule fails here.
	for _, a := range convoi.Actions {
		for _, s := range convoi.MovementStates {
			t.Run(fmt.Sprintf("%s from %s", a, s), func(t *testing.T) {
				got, err := convoi.NextState(s, a)
				want, ok := legal[a][s]
				switch {
				case ok && err != nil:
					t.Fatalf("want %s, got error %v", want, err)
				case ok && got != want:
					t.Fatalf("got %s, want %s", got, want)
				case !ok && convoi.ErrorCode(err) != convoi.ECONFLICT:
					t.Fatalf("got %q, %v; want a conflict", got, err)
				}
			})
		}
	}
	if _, err := convoi.NextState(convoi.StateRequested, "teleport"); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("unknown action: %v", err)
	}
	for _, s := range []convoi.MovementState{convoi.StateCompleted, convoi.StateCancelled, convoi.StateAborted} {
		for _, a := range convoi.Actions {
			if _, err := convoi.NextState(s, a); err == nil {
				t.Errorf("terminal state %s allows %s", s, a)
			}
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := fmt.Errorf("store: %w", convoi.Errorf(convoi.ENOTFOUND, "Movement %d not found.", 7))
	if convoi.ErrorCode(wrapped) != convoi.ENOTFOUND || convoi.ErrorMessage(wrapped) != "Movement 7 not found." {
		t.Fatalf("code %q message %q", convoi.ErrorCode(wrapped), convoi.ErrorMessage(wrapped))
	}
	internal := errors.New("disk I/O error at /var/lib/secret")
	if convoi.ErrorCode(internal) != convoi.EINTERNAL || convoi.ErrorMessage(internal) != "Internal error." {
		t.Fatal("an internal error must not leak its text")
	}
	if convoi.ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
}

func TestLatLonValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    convoi.LatLon
		ok   bool
	}{
		{"monaco", convoi.LatLon{Lat: 43.73, Lon: 7.42}, true},
		{"poles", convoi.LatLon{Lat: -90, Lon: 180}, true},
		{"lat high", convoi.LatLon{Lat: 90.01, Lon: 0}, false},
		{"lon low", convoi.LatLon{Lat: 0, Lon: -180.5}, false},
		{"nan", convoi.LatLon{Lat: math.NaN(), Lon: 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// Palais de Justice de Monaco to the Maison d'arrêt: about 440 m.
	d := convoi.LatLon{Lat: 43.73021, Lon: 7.42223}.DistanceM(convoi.LatLon{Lat: 43.7318, Lon: 7.4271})
	if d < 400 || d > 480 {
		t.Fatalf("distance %.0f m", d)
	}
}

func TestMovementValidate(t *testing.T) {
	valid := func() convoi.Movement {
		return convoi.Movement{Ref: "MC-2026-0042", DetaineeID: 1, FromSiteID: 1, ToSiteID: 2, Purpose: convoi.PurposeMedical,
			AppointmentAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Requester: "greffe"}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*convoi.Movement)
	}{
		{"lower-case ref", func(m *convoi.Movement) { m.Ref = "mc-1" }},
		{"same sites", func(m *convoi.Movement) { m.ToSiteID = m.FromSiteID }},
		{"unknown purpose", func(m *convoi.Movement) { m.Purpose = "picnic" }},
		{"no appointment", func(m *convoi.Movement) { m.AppointmentAt = time.Time{} }},
		{"no requester", func(m *convoi.Movement) { m.Requester = " " }},
		{"level 5", func(m *convoi.Movement) { m.EscortLevel = 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := valid()
			tc.mutate(&m)
			if err := m.Validate(); convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("Validate() = %v, want invalid", err)
			}
		})
	}
	m := valid()
	if err := m.Validate(); err != nil || m.Crew == nil || m.Vehicles == nil {
		t.Fatalf("valid movement: %v (crew %v)", err, m.Crew)
	}
	stale := 3
	m.Version = 4
	if err := (convoi.MovementUpdate{Version: stale}).Apply(&m); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("stale version: %v", err)
	}
}

func TestTransitionRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  convoi.TransitionRequest
		ok   bool
	}{
		{"cancel needs a reason code", convoi.TransitionRequest{Action: convoi.ActionCancel}, false},
		{"cancel for video hearing", convoi.TransitionRequest{Action: convoi.ActionCancel, CancelReason: convoi.CancelVideoHearing}, true},
		{"abort needs text", convoi.TransitionRequest{Action: convoi.ActionAbort}, false},
		{"incident with text", convoi.TransitionRequest{Action: convoi.ActionIncident, Reason: "van rammed"}, true},
		{"cancel reason on plan", convoi.TransitionRequest{Action: convoi.ActionPlan, CancelReason: convoi.CancelOther}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.req.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestMovementObjectRules(t *testing.T) {
	dep := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	m := &convoi.Movement{ID: 1, FromSiteID: 10, ToSiteID: 20, Crew: []convoi.OfficerID{5}, Vehicles: []convoi.VehicleID{3},
		PlannedDeparture: &dep, Route: &convoi.RouteSummary{DurationS: 600}}
	for _, tc := range []struct {
		name     string
		u        *convoi.User
		sees     bool
		schedule bool
	}{
		{"planner", &convoi.User{Role: convoi.RolePlanner}, true, true},
		{"auditor", &convoi.User{Role: convoi.RoleAuditor}, true, true},
		{"assigned crew", &convoi.User{Role: convoi.RoleCrew, OfficerID: 5}, true, true},
		{"other crew", &convoi.User{Role: convoi.RoleCrew, OfficerID: 6}, false, true},
		{"liaison at destination", &convoi.User{Role: convoi.RoleLiaison, SiteID: 20}, true, false},
		{"liaison elsewhere", &convoi.User{Role: convoi.RoleLiaison, SiteID: 30}, false, false},
		{"disabled planner", &convoi.User{Role: convoi.RolePlanner, Disabled: true}, false, false},
		{"nobody", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.u.CanSeeMovement(m); got != tc.sees {
				t.Fatalf("CanSeeMovement = %v, want %v", got, tc.sees)
			}
			_, full := m.View(tc.u).(*convoi.Movement)
			if full != tc.schedule {
				t.Fatalf("schedule visible = %v, want %v", full, tc.schedule)
			}
		})
	}
	var f convoi.MovementFilter
	if !(&convoi.User{Role: convoi.RoleCrew, OfficerID: 5}).ScopeMovements(&f) || f.CrewMember == nil || *f.CrewMember != 5 {
		t.Fatal("crew scope not applied")
	}
	f = convoi.MovementFilter{}
	if !(&convoi.User{Role: convoi.RoleLiaison, SiteID: 20}).ScopeMovements(&f) || f.Site == nil || *f.Site != 20 {
		t.Fatal("liaison scope not applied")
	}
}

func TestGrading(t *testing.T) {
	for g, ok := range map[convoi.Grading]bool{"A1": true, "F6": true, "B2": true, "G1": false, "A7": false, "a1": false, "A": false, "A12": false} {
		if g.Valid() != ok {
			t.Errorf("%q.Valid() = %v", g, !ok)
		}
	}
	if g := convoi.Grading("C4"); g.Reliability() != 'C' || g.Credibility() != 4 {
		t.Fatal("grading parts")
	}
}

// TestLiaisonView checks that nothing a liaison user sees of a movement
// changes between its release and its arrival (so they cannot learn when
// the escort left), and that arrival and cancellation show when they happen.
func TestLiaisonView(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	dep := t0.Add(time.Hour)
	m := &convoi.Movement{ID: 7, Ref: "MC-7", DetaineeID: 3, FromSiteID: 10, ToSiteID: 20, Purpose: convoi.PurposeCourtAppearance,
		AppointmentAt: t0.Add(3 * time.Hour), Requester: "Juge", State: convoi.StateReleased, EscortLevel: 3,
		Crew: []convoi.OfficerID{5}, Vehicles: []convoi.VehicleID{2}, PlannedDeparture: &dep,
		Version: 4, UpdatedBy: 9, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}
	released, _ := json.Marshal(m.ForLiaison())
	for _, st := range []convoi.MovementState{convoi.StateRequested, convoi.StateAssessed, convoi.StatePlanned, convoi.StateUnderway, convoi.StateIncident} {
		u := *m
		u.State, u.Version, u.UpdatedBy, u.UpdatedAt = st, 9, 11, dep.Add(2*time.Minute) // the escort left
		got, _ := json.Marshal(u.ForLiaison())
		if string(got) != string(released) {
			t.Errorf("%s: liaison view changed:\n%s\n%s", st, released, got)
		}
	}
	for _, field := range []string{"state", "version", "updated_at", "updated_by", "planned_departure", "crew", "vehicles", "route", "escort_level"} {
		if strings.Contains(string(released), `"`+field+`"`) {
			t.Errorf("liaison view has %s: %s", field, released)
		}
	}
	done := *m
	done.State, done.UpdatedAt = convoi.StateCompleted, t0.Add(170*time.Minute)
	if v := done.ForLiaison(); v.Status != convoi.LiaisonArrived || v.ArrivedAt == nil || !v.ArrivedAt.Equal(done.UpdatedAt) {
		t.Errorf("completed: %+v", v)
	}
	for _, st := range []convoi.MovementState{convoi.StateCancelled, convoi.StateAborted} {
		c := *m
		c.State = st
		if v := c.ForLiaison(); v.Status != convoi.LiaisonCancelled || v.ArrivedAt != nil {
			t.Errorf("%s: %+v", st, v)
		}
	}
}

func TestRequirementsShortfalls(t *testing.T) {
	lvl4 := convoi.Requirements{Level: 4, MinCrew: 8, VehicleClass: convoi.VehicleArmouredVan, ArmedSupport: true,
		Qualifications: []convoi.QualRequirement{{Qualification: convoi.QualArmed, Count: 4}, {Qualification: convoi.QualSpecialised, Count: 2}}}
	armed := &convoi.Officer{Qualifications: []convoi.Qualification{convoi.QualArmed}}
	spec := &convoi.Officer{Qualifications: []convoi.Qualification{convoi.QualArmed, convoi.QualSpecialised}}
	van := &convoi.Vehicle{Class: convoi.VehicleCellularVan}
	armoured := &convoi.Vehicle{Class: convoi.VehicleArmouredVan}
	car := &convoi.Vehicle{Class: convoi.VehicleCar}
	// The Incarville release of issue 8: 4 officers, a cellular van and a car.
	got := lvl4.Shortfalls(4, []*convoi.Officer{armed, armed, armed, armed}, []*convoi.Vehicle{van, car})
	want := []string{"crew of 4, level 4 needs 8", "0 specialised_team officer(s), level 4 needs 2", "no armoured van assigned"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("shortfalls %q, want %q", got, want)
	}
	crew := []*convoi.Officer{armed, armed, spec, spec, armed, armed, armed, armed}
	if got := lvl4.Shortfalls(8, crew, []*convoi.Vehicle{armoured}); len(got) != 1 || !strings.Contains(got[0], "escort car") {
		t.Errorf("no car for armed support: %q", got)
	}
	if got := lvl4.Shortfalls(8, crew, []*convoi.Vehicle{armoured, car}); len(got) != 0 {
		t.Errorf("a complete escort: %q", got)
	}
	lvl1 := convoi.Requirements{Level: 1, MinCrew: 2}
	if got := lvl1.Shortfalls(2, []*convoi.Officer{armed, armed}, []*convoi.Vehicle{car}); len(got) != 1 || !strings.Contains(got[0], "no van") {
		t.Errorf("nothing to carry the detainee: %q", got)
	}
}

func TestDutyWindowAndStart(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	a := &convoi.Movement{AppointmentAt: t0.Add(10 * time.Hour)} // 18:00: booked 16:00-18:30
	b := &convoi.Movement{AppointmentAt: t0.Add(12*time.Hour + 30*time.Minute)}
	if a.Overlaps(b) || b.Overlaps(a) {
		t.Error("18:00 and 20:30 overlap") // b is booked from 18:30
	}
	c := &convoi.Movement{AppointmentAt: t0.Add(12*time.Hour + 29*time.Minute)}
	if !a.Overlaps(c) || !c.Overlaps(a) {
		t.Error("18:00 and 20:29 do not overlap")
	}
	early := t0.Add(7 * time.Hour) // a departure drawn earlier than two hours before
	a.PlannedDeparture = &early
	if s, _ := a.DutyWindow(); !s.Equal(early) {
		t.Errorf("window starts %s, want the departure %s", s, early)
	}
	from, to := convoi.StartWindow(early)
	if !from.Equal(early.Add(-convoi.StartEarly)) || !to.Equal(early.Add(convoi.StartLate)) {
		t.Errorf("start window %s-%s", from, to)
	}
	home := &convoi.Site{Entry: convoi.LatLon{Lat: 43.7102, Lon: 7.2620}}   // Nice
	monaco := &convoi.Site{Entry: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}} // 13 km
	rouen := &convoi.Site{Entry: convoi.LatLon{Lat: 49.4423, Lon: 1.0924}}  // far
	evreux := &convoi.Site{Entry: convoi.LatLon{Lat: 49.0241, Lon: 1.1508}} // far
	if !convoi.Serves(home, monaco, rouen) || convoi.Serves(home, rouen, evreux) || convoi.Serves(nil, monaco, monaco) {
		t.Error("Serves")
	}
}

func TestIncidentTransitions(t *testing.T) {
	if to, err := convoi.NextState(convoi.StateIncident, convoi.ActionResume); err != nil || to != convoi.StateUnderway {
		t.Fatalf("resume from incident: %s %v", to, err)
	}
	for _, a := range []convoi.Action{convoi.ActionComplete, convoi.ActionAbort} {
		if _, err := convoi.NextState(convoi.StateIncident, a); err != nil {
			t.Errorf("%s from incident: %v", a, err)
		}
	}
	if _, err := convoi.NextState(convoi.StateUnderway, convoi.ActionResume); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Errorf("resume while underway: %v", err)
	}
	for a, want := range map[convoi.Action]string{
		convoi.ActionIncident: "A reason is required to declare an incident.",
		convoi.ActionAbort:    "A reason is required to abort a movement.",
		convoi.ActionResume:   "A reason is required to resume a movement after an incident.",
	} {
		r := convoi.TransitionRequest{Action: a}
		if err := r.Validate(); convoi.ErrorMessage(err) != want {
			t.Errorf("%s without a reason: %q, want %q", a, convoi.ErrorMessage(err), want)
		}
	}
	if _, err := convoi.NextState(convoi.StateRequested, convoi.ActionIncident); !strings.Contains(convoi.ErrorMessage(err), "Cannot declare an incident: the movement is requested") {
		t.Errorf("illegal incident: %q", convoi.ErrorMessage(err))
	}
}
