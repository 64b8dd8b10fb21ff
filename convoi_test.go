package convoi_test

import (
	"errors"
	"fmt"
	"math"
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
			r := m.Redact(tc.u)
			hidden := r.PlannedDeparture == nil && r.Route == nil && len(r.Crew) == 0 && len(r.Vehicles) == 0
			if hidden == tc.schedule {
				t.Fatalf("schedule visible = %v, want %v", !hidden, tc.schedule)
			}
			if m.PlannedDeparture == nil || len(m.Crew) != 1 {
				t.Fatal("Redact modified the original")
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
