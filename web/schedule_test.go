package web_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web"
)

// TestScheduleReleasedOnNeedToKnow is issue 12 part A: who learns the drawn
// departure and route, and when, follows the release policy; a read before
// its time is refused with when it opens (never its clock time), and the
// refusal is in the audit log.
func TestScheduleReleasedOnNeedToKnow(t *testing.T) {
	w := MustOpenWorld(t, nil)
	sched := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/schedule"
	// Before release: nobody but a grantee.
	r := w.do("GET", sched, w.tokens[control], nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "opens to the control room when the movement is released") {
		t.Fatalf("control before release: %d %s", r.Status, r.Body)
	}
	w.releaseToCourt()
	dep := w.toCourt.PlannedDeparture.UTC()
	var s struct {
		PlannedDeparture *time.Time           `json:"planned_departure"`
		Route            *convoi.RouteSummary `json:"route"`
	}
	w.doJSON("GET", sched, w.tokens[control], nil, 200, &s)
	if s.PlannedDeparture == nil || !s.PlannedDeparture.Equal(dep) || s.Route == nil {
		t.Fatalf("control after release: %+v", s)
	}
	w.doJSON("GET", sched, w.tokens[commander], nil, 200, nil)

	// The crew lead (officer1 leads toCourt's crew) at the briefing, two
	// hours before the departure at level 2.
	w.clock.Add(dep.Add(-2*time.Hour - time.Minute).Sub(w.clock.Now()))
	r = w.do("GET", sched, w.tokens[crew], nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "at the briefing, 2 h before the drawn departure") {
		t.Fatalf("crew lead before the briefing: %d %s", r.Status, r.Body)
	}
	for _, leak := range []string{dep.Format("15:04"), dep.Add(-2 * time.Hour).Format("15:04"), dep.Format("2006-01-02T15")} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("the refusal dates the departure (%s): %s", leak, r.Body)
		}
	}
	var m map[string]any
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[crew], nil, 200, &m)
	if m["planned_departure"] != nil || m["route"] != nil || m["schedule"] == nil {
		t.Fatalf("the movement shows the crew its schedule before the briefing: %v", m)
	}
	w.clock.Add(2 * time.Minute)
	w.doJSON("GET", sched, w.tokens[crew], nil, 200, &s)
	m = nil
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[crew], nil, 200, &m)
	if m["planned_departure"] == nil || m["schedule"] != nil {
		t.Fatalf("the crew lead at the briefing: %v", m)
	}

	// Auditors once the movement is over; planners, admins and liaison never.
	if r := w.do("GET", sched, w.tokens[auditor], nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "once the movement is over") {
		t.Fatalf("auditor: %d %s", r.Status, r.Body)
	}
	for _, role := range []convoi.Role{planner, admin, liaison} {
		if r := w.do("GET", sched, w.tokens[role], nil); r.Status != http.StatusForbidden {
			t.Fatalf("%s: %d %s", role, r.Status, r.Body)
		}
	}
	w.syncAudit()
	var refused auditList
	w.doJSON("GET", "/api/v1/audit/entries?movement_id="+itoa(w.toCourt.ID)+"&outcome=refused&field=planned_departure", w.tokens[auditor], nil, 200, &refused)
	if len(refused.Items) < 3 || !strings.Contains(refused.Items[len(refused.Items)-1].Detail, "need-to-know") {
		t.Fatalf("refused schedule reads in the audit log: %+v", refused.Items)
	}
}

// TestScheduleGrants: a planner grants one user one movement's schedule
// until a time; revoked or expired, it closes again; each is in the log.
func TestScheduleGrants(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	grants := "/api/v1/movements/" + itoa(w.toHospital.ID) + "/grants"
	sched := "/api/v1/movements/" + itoa(w.toHospital.ID) + "/schedule"
	// The crew user is not on toHospital's crew: they cannot read it.
	if r := w.do("GET", sched, w.tokens[crew], nil); r.Status != http.StatusNotFound {
		t.Fatalf("crew of another escort: %d %s", r.Status, r.Body)
	}
	for name, tc := range map[string]struct {
		token string
		body  map[string]any
		want  int
	}{
		"control gives":     {w.tokens[control], map[string]any{"user_id": w.users[crew].ID, "expires_at": w.clock.Now().Add(time.Hour), "reason": "x"}, 403},
		"to a planner":      {pl, map[string]any{"user_id": w.users[planner].ID, "expires_at": w.clock.Now().Add(time.Hour), "reason": "x"}, 400},
		"to a liaison":      {pl, map[string]any{"user_id": w.users[liaison].ID, "expires_at": w.clock.Now().Add(time.Hour), "reason": "x"}, 400},
		"without a reason":  {pl, map[string]any{"user_id": w.users[crew].ID, "expires_at": w.clock.Now().Add(time.Hour)}, 400},
		"already expired":   {pl, map[string]any{"user_id": w.users[crew].ID, "expires_at": w.clock.Now().Add(-time.Hour), "reason": "x"}, 400},
		"for three days":    {pl, map[string]any{"user_id": w.users[crew].ID, "expires_at": w.clock.Now().Add(73 * time.Hour), "reason": "x"}, 400},
		"to a missing user": {pl, map[string]any{"user_id": 999, "expires_at": w.clock.Now().Add(time.Hour), "reason": "x"}, 400},
	} {
		if r := w.do("POST", grants, tc.token, mustMarshal(t, tc.body)); r.Status != tc.want {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var g convoi.ScheduleGrant
	w.doJSON("POST", grants, pl, map[string]any{"user_id": w.users[crew].ID, "expires_at": w.clock.Now().Add(2 * time.Hour),
		"reason": "Armed support unit on the Évreux leg."}, 201, &g)
	var s struct {
		PlannedDeparture *time.Time `json:"planned_departure"`
		Access           struct{ Why string }
	}
	w.doJSON("GET", sched, w.tokens[crew], nil, 200, &s)
	if s.PlannedDeparture == nil || !strings.Contains(s.Access.Why, "grant") {
		t.Fatalf("grantee: %+v", s)
	}
	// Only that movement.
	if r := w.do("GET", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/schedule", w.tokens[crew], nil); r.Status != http.StatusConflict {
		t.Fatalf("the grant opened another movement: %d", r.Status)
	}
	w.doJSON("DELETE", grants+"/"+itoa(g.ID), pl, nil, 200, nil)
	if r := w.do("GET", sched, w.tokens[crew], nil); r.Status != http.StatusNotFound {
		t.Fatalf("after revocation: %d %s", r.Status, r.Body)
	}
	if r := w.do("DELETE", grants+"/"+itoa(g.ID), pl, nil); r.Status != http.StatusConflict {
		t.Fatalf("second revocation: %d", r.Status)
	}
	// Expiry.
	w.doJSON("POST", grants, pl, map[string]any{"user_id": w.users[control].ID, "expires_at": w.clock.Now().Add(time.Hour), "reason": "Relief shift."}, 201, nil)
	w.doJSON("GET", sched, w.tokens[control], nil, 200, nil)
	w.clock.Add(time.Hour)
	if r := w.do("GET", sched, w.tokens[control], nil); r.Status != http.StatusConflict {
		t.Fatalf("after expiry: %d %s", r.Status, r.Body)
	}
	var l struct{ Items []convoi.ScheduleGrant }
	w.doJSON("GET", grants, w.tokens[auditor], nil, 200, &l)
	if len(l.Items) != 2 || l.Items[0].RevokedAt == nil || l.Items[0].RevokedBy != w.users[planner].ID {
		t.Fatalf("grant history: %+v", l.Items)
	}
	// Given and revoked, each in the audit log, naming the grantee.
	w.syncAudit()
	var al auditList
	w.doJSON("GET", "/api/v1/audit/entries?object=user:"+itoa(w.users[crew].ID), w.tokens[auditor], nil, 200, &al)
	var ops []string
	for _, e := range al.Items {
		ops = append(ops, e.Op+" "+string(e.Outcome))
	}
	b, _ := json.Marshal(ops)
	if len(ops) < 2 || ops[0] != "DELETE /api/v1/movements/{id}/grants/{grant} allowed" || ops[len(ops)-1] != "POST /api/v1/movements/{id}/grants allowed" {
		t.Fatalf("grant entries: %s", b)
	}
}

// TestTrackFollowsRelease: an escort's track and ETA are its drawn route,
// driven: planners never read them, auditors once the movement is over.
func TestTrackFollowsRelease(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	w.underway()
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	for _, p := range []string{"/track", "/eta"} {
		w.doJSON("GET", base+p, w.tokens[control], nil, 200, nil)
		for _, role := range []convoi.Role{planner, auditor} {
			if r := w.do("GET", base+p, w.tokens[role], nil); r.Status != http.StatusConflict {
				t.Fatalf("%s reading %s underway: %d %s", role, p, r.Status, r.Body)
			}
		}
	}
	w.doJSON("POST", base+"/complete", w.tokens[control], map[string]any{"reason": "handed over"}, 200, nil)
	w.doJSON("GET", base+"/track", w.tokens[auditor], nil, 200, nil)
	if r := w.do("GET", base+"/track", w.tokens[planner], nil); r.Status != http.StatusConflict {
		t.Fatalf("planner reading the track once over: %d", r.Status)
	}
}

// TestReleasePolicyAsData: an admin replaces the release policy with a new
// version; it is in force at once, validated, versioned and audited.
func TestReleasePolicyAsData(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.releaseToCourt()
	sched := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/schedule"
	w.doJSON("GET", sched, w.tokens[control], nil, 200, nil)
	later := map[string]any{"version": "2026-12-2", "rules": []map[string]any{
		{"audience": "control", "opens": "departure"},
		{"audience": "crew_lead", "opens": "briefing", "lead_minutes": 30},
	}}
	for name, tc := range map[string]struct {
		token string
		body  any
		want  int
	}{
		"planner":       {w.tokens[planner], later, 403},
		"no version":    {w.tokens[admin], map[string]any{"rules": []any{}}, 400},
		"bad audience":  {w.tokens[admin], map[string]any{"version": "x", "rules": []map[string]any{{"audience": "janitor", "opens": "release"}}}, 400},
		"unknown field": {w.tokens[admin], map[string]any{"version": "x", "rules": []any{}, "extra": 1}, 400},
	} {
		if r := w.do("PUT", "/api/v1/policies/release", tc.token, mustMarshal(t, tc.body)); r.Status != tc.want {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	w.doJSON("PUT", "/api/v1/policies/release", w.tokens[admin], later, 200, nil)
	if r := w.do("GET", sched, w.tokens[control], nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "at the drawn departure") {
		t.Fatalf("control under the new policy: %d %s", r.Status, r.Body)
	}
	if r := w.do("GET", sched, w.tokens[commander], nil); r.Status != http.StatusForbidden {
		t.Fatalf("commander, whom no rule names now: %d %s", r.Status, r.Body)
	}
	if r := w.do("PUT", "/api/v1/policies/release", w.tokens[admin], mustMarshal(t, later)); r.Status != http.StatusConflict {
		t.Fatalf("the same version again: %d", r.Status)
	}
	var got convoi.ReleasePolicy
	w.doJSON("GET", "/api/v1/policies/release", w.tokens[auditor], nil, 200, &got)
	if got.Version != "2026-12-2" || len(got.Rules) != 2 {
		t.Fatalf("policy in force: %+v", got)
	}
	// A server started later on the same store has it in force.
	s2 := web.New()
	s2.Addr, s2.Logger, s2.Now = "127.0.0.1:0", slog.New(slog.DiscardHandler), w.clock.Now
	o := w.srv
	s2.UserService, s2.TokenService, s2.SiteService, s2.DetaineeService, s2.IntelService = o.UserService, o.TokenService, o.SiteService, o.DetaineeService, o.IntelService
	s2.MovementService, s2.VehicleService, s2.OfficerService, s2.TrackerService, s2.IdempotencyService = o.MovementService, o.VehicleService, o.OfficerService, o.TrackerService, o.IdempotencyService
	s2.PolicyService = o.PolicyService
	w.must(s2.Open())
	defer s2.Close()
	req, _ := http.NewRequest("GET", s2.URL()+sched, nil)
	req.Header.Set("Authorization", "Bearer "+w.tokens[control])
	resp, err := http.DefaultClient.Do(req)
	w.must(err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("control on a restarted server: %d, want the saved policy's 409", resp.StatusCode)
	}
	w.syncAudit()
	var al auditList
	w.doJSON("GET", "/api/v1/audit/entries?object=policy:release", w.tokens[auditor], nil, 200, &al)
	if len(al.Items) != 1 || al.Items[0].Username != w.users[admin].Username || !strings.Contains(al.Items[0].Detail, "2026-12-2") {
		t.Fatalf("policy change in the audit log: %+v", al.Items)
	}
}

// TestScheduleWithheldWithoutAudit: no schedule is served while the audit
// log cannot record the read.
func TestScheduleWithheldWithoutAudit(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.releaseToCourt()
	sched := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/schedule"
	w.doJSON("GET", sched, w.tokens[control], nil, 200, nil)
	w.must(w.audit.Close())
	if r := w.do("GET", sched, w.tokens[control], nil); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "audit log") {
		t.Fatalf("schedule read without an audit log: %d %s", r.Status, r.Body)
	}
	var m map[string]any
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[control], nil, 200, &m)
	if m["planned_departure"] != nil {
		t.Fatal("the movement shows its departure without an audit log")
	}
}
