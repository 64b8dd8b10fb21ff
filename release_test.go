package convoi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestReleasePolicy_Access(t *testing.T) {
	dep := time.Date(2026, 5, 14, 8, 30, 0, 0, time.UTC)
	m := &convoi.Movement{ID: 1, State: convoi.StateReleased, EscortLevel: 2, Crew: []convoi.OfficerID{7, 8}, PlannedDeparture: &dep}
	lead := &convoi.User{Role: convoi.RoleCrew, OfficerID: 7}
	mate := &convoi.User{Role: convoi.RoleCrew, OfficerID: 8}
	p := &convoi.DefaultReleasePolicy
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		u     *convoi.User
		state convoi.MovementState
		level convoi.EscortLevel
		now   time.Time
		open  bool
	}{
		{"control before release", &convoi.User{Role: convoi.RoleControl}, convoi.StatePlanned, 2, dep.Add(-5 * time.Hour), false},
		{"control at release", &convoi.User{Role: convoi.RoleControl}, convoi.StateReleased, 2, dep.Add(-5 * time.Hour), true},
		{"commander at release", &convoi.User{Role: convoi.RoleCommander}, convoi.StateReleased, 2, dep.Add(-5 * time.Hour), true},
		{"crew lead before the briefing", lead, convoi.StateReleased, 2, dep.Add(-121 * time.Minute), false},
		{"crew lead at the briefing", lead, convoi.StateReleased, 2, dep.Add(-120 * time.Minute), true},
		{"crew lead at level 4: one hour", lead, convoi.StateReleased, 4, dep.Add(-61 * time.Minute), false},
		{"crew lead at level 4 at the briefing", lead, convoi.StateReleased, 4, dep.Add(-60 * time.Minute), true},
		{"crew lead, briefing time but not released", lead, convoi.StatePlanned, 2, dep.Add(-time.Hour), false},
		{"crew before the departure", mate, convoi.StateReleased, 2, dep.Add(-time.Minute), false},
		{"crew at the departure", mate, convoi.StateReleased, 2, dep, true},
		{"crew underway early (commander's override)", mate, convoi.StateUnderway, 2, dep.Add(-time.Hour), true},
		{"planner never", &convoi.User{Role: convoi.RolePlanner}, convoi.StateUnderway, 2, dep, false},
		{"admin never", &convoi.User{Role: convoi.RoleAdmin}, convoi.StateCompleted, 2, dep, false},
		{"liaison never", &convoi.User{Role: convoi.RoleLiaison, SiteID: 1}, convoi.StateCompleted, 2, dep, false},
		{"auditor while underway", &convoi.User{Role: convoi.RoleAuditor}, convoi.StateUnderway, 2, dep, false},
		{"auditor once over", &convoi.User{Role: convoi.RoleAuditor}, convoi.StateCompleted, 2, dep, true},
		{"disabled control", &convoi.User{Role: convoi.RoleControl, Disabled: true}, convoi.StateReleased, 2, dep, false},
	} {
		mm := *m
		mm.State, mm.EscortLevel = tc.state, tc.level
		if a := p.Access(tc.u, &mm, tc.now); a.Open != tc.open || a.Why == "" {
			t.Errorf("%s: %+v, want open=%v", tc.name, a, tc.open)
		}
	}
	// The why is for people: "opens to auditors", "opens to the crew lead".
	over := *m
	over.State = convoi.StateUnderway
	for u, want := range map[*convoi.User]string{
		{Role: convoi.RoleAuditor}: "opens to auditors once the movement is over",
		lead:                       "opens to the crew lead at the briefing, 2 h before",
		{Role: convoi.RolePlanner}: "never opens to planners",
	} {
		if a := p.Access(u, &over, dep); !strings.Contains(a.Why, want) {
			t.Errorf("%s: why %q, want %q", u.Role, a.Why, want)
		}
	}
	// No rule: never.
	empty := &convoi.ReleasePolicy{}
	if a := empty.Access(&convoi.User{Role: convoi.RoleControl}, m, dep); a.Open || a.Opens != convoi.OpensNever {
		t.Errorf("empty policy: %+v", a)
	}
}

func TestReleasePolicy_Validate(t *testing.T) {
	for name, r := range map[string]convoi.ReleaseRule{
		"unknown audience":      {Audience: "janitor", Opens: convoi.OpensRelease},
		"unknown opening":       {Audience: "control", Opens: "soon"},
		"briefing without lead": {Audience: "crew_lead", Opens: convoi.OpensBriefing},
		"lead without briefing": {Audience: "crew", Opens: convoi.OpensDeparture, LeadMinutes: 10},
		"level 5":               {Audience: "crew", Opens: convoi.OpensDeparture, Levels: []convoi.EscortLevel{5}},
	} {
		p := convoi.ReleasePolicy{Rules: []convoi.ReleaseRule{r}}
		if err := p.Validate(); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}
