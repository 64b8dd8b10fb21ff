package convoi_test

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// TestMovementObjectRules_NoCrew: a movement not yet crewed (a requested
// movement usually is) is visible to no crew member, and stays so for other
// crew once it has one. Every movement in TestMovementObjectRules has a
// crew, so a rule that let crew see crewless movements would pass there and
// show every crew member every new movement's detainee, sites and
// appointment.
func TestMovementObjectRules_NoCrew(t *testing.T) {
	m := &convoi.Movement{ID: 2, State: convoi.StateRequested, FromSiteID: 10, ToSiteID: 20,
		AppointmentAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Crew: []convoi.OfficerID{}}
	for _, tc := range []struct {
		name string
		u    *convoi.User
		sees bool
	}{
		{"crew", &convoi.User{Role: convoi.RoleCrew, OfficerID: 5}, false},
		{"crew user without an officer", &convoi.User{Role: convoi.RoleCrew}, false},
		{"planner", &convoi.User{Role: convoi.RolePlanner}, true},
		{"liaison at origin", &convoi.User{Role: convoi.RoleLiaison, SiteID: 10}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, crew := range [][]convoi.OfficerID{nil, {}} {
				m.Crew = crew
				if got := tc.u.CanSeeMovement(m); got != tc.sees {
					t.Fatalf("CanSeeMovement(crew %v) = %v, want %v", crew, got, tc.sees)
				}
			}
		})
	}
	m.Crew = []convoi.OfficerID{7}
	if (&convoi.User{Role: convoi.RoleCrew, OfficerID: 5}).CanSeeMovement(m) {
		t.Fatal("crew sees a movement crewed by someone else")
	}
	if !(&convoi.User{Role: convoi.RoleCrew, OfficerID: 7}).CanSeeMovement(m) {
		t.Fatal("crew does not see the movement they were assigned to")
	}
}
