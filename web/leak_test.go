package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web"
)

// auditReads is the audit log's answer for the test: who read which
// movement's schedule. (The audit package provides the real one.)
type auditReads map[convoi.MovementID][]web.ScheduleRead

func (a auditReads) ScheduleReaders(ctx context.Context, id convoi.MovementID) ([]web.ScheduleRead, error) {
	return a[id], nil
}

func TestLeak_LiaisonVariantTracedByAuditor(t *testing.T) {
	var reads auditReads
	w := MustOpenWorld(t, func(s *web.Server) {
		reads = auditReads{}
		s.ScheduleReaders = reads
	})
	lia := w.tokens[liaison]
	arrival := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/arrival"
	// Before release there is nothing to tell.
	w.doJSON("GET", arrival, lia, nil, http.StatusConflict, nil)
	w.underway()
	reads[w.toCourt.ID] = []web.ScheduleRead{{UserID: w.users[control].ID, Username: w.users[control].Username, Op: "GET /api/v1/movements/{id}", Fields: []string{"planned_departure"}}}

	var n convoi.Notice
	r := w.doJSON("GET", arrival, lia, nil, http.StatusOK, &n)
	for _, f := range []string{"planned_departure", "route", "basis", "state"} {
		if strings.Contains(string(r.Body), f) {
			t.Fatalf("liaison's arrival shows %s: %s", f, r.Body)
		}
	}
	m, err := w.srv.MovementService.FindMovementByID(context.Background(), w.toCourt.ID)
	w.must(err)
	exp := m.PlannedDeparture.Add(time.Duration(m.Route.DurationS) * time.Second)
	if n.WindowStart.After(exp) || n.WindowEnd.Before(exp) || n.Recipient != "user:"+itoa(w.users[liaison].ID) {
		t.Fatalf("notice %+v, expected arrival %v", n, exp)
	}
	var again convoi.Notice
	w.doJSON("GET", arrival, lia, nil, http.StatusOK, &again)
	if again.ID != n.ID || again.Code != n.Code {
		t.Fatal("a second read gave another variant")
	}
	// The liaison of another site does not see the hospital movement.
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toHospital.ID)+"/arrival", lia, nil, http.StatusNotFound, nil)

	notices := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/notices"
	var hosp convoi.Notice
	w.doJSON("POST", notices, w.tokens[commander], map[string]any{"recipient": "CHU Rouen, admissions"}, http.StatusCreated, &hosp)
	w.doJSON("POST", notices, w.tokens[commander], map[string]any{"recipient": "user:5"}, http.StatusBadRequest, nil)
	if hosp.Code == n.Code || hosp.WindowStart.Equal(n.WindowStart) || hosp.WindowEnd.Equal(n.WindowEnd) {
		t.Fatalf("two recipients share a fact: %+v and %+v", n, hosp)
	}

	var out struct {
		Candidates []struct {
			Notice  convoi.Notice `json:"notice"`
			Matched []string      `json:"matched"`
			Score   float64       `json:"score"`
		} `json:"candidates"`
		ScheduleReaders map[string][]web.ScheduleRead `json:"schedule_readers"`
		AuditLog        bool                          `json:"audit_log"`
	}
	w.doJSON("POST", "/api/v1/leaks/trace", w.tokens[auditor], map[string]any{"window_end": n.WindowEnd}, http.StatusOK, &out)
	if len(out.Candidates) != 1 || out.Candidates[0].Notice.ID != n.ID || out.Candidates[0].Score != 1 {
		t.Fatalf("trace: %+v", out.Candidates)
	}
	if !out.AuditLog || len(out.ScheduleReaders[itoa(w.toCourt.ID)]) != 1 || out.ScheduleReaders[itoa(w.toCourt.ID)][0].UserID != w.users[control].ID {
		t.Fatalf("schedule readers: %+v", out.ScheduleReaders)
	}
	w.doJSON("POST", "/api/v1/leaks/trace", w.tokens[auditor], map[string]any{}, http.StatusBadRequest, nil)
	w.doJSON("POST", "/api/v1/leaks/trace", w.tokens[auditor], map[string]any{"code": hosp.Code, "movement_id": w.toHospital.ID}, http.StatusOK, &out)
	if len(out.Candidates) != 0 {
		t.Fatalf("a code of another movement matched: %+v", out.Candidates)
	}
}

// The trace lists, from the server's own audit log, who read the exact
// schedule of the movement.
func TestLeak_ScheduleReadersFromAuditLog(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.underway()
	r := w.do("GET", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/schedule", w.tokens[control], nil)
	if r.Status != http.StatusOK {
		t.Fatalf("control reads the schedule: %d %s", r.Status, r.Body)
	}
	var n convoi.Notice
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/arrival", w.tokens[liaison], nil, http.StatusOK, &n)
	var out struct {
		ScheduleReaders map[string][]web.ScheduleRead `json:"schedule_readers"`
		AuditLog        bool                          `json:"audit_log"`
	}
	w.doJSON("POST", "/api/v1/leaks/trace", w.tokens[auditor], map[string]any{"code": n.Code}, http.StatusOK, &out)
	readers := out.ScheduleReaders[itoa(w.toCourt.ID)]
	found := false
	for _, rd := range readers {
		if rd.UserID == w.users[liaison].ID {
			t.Fatalf("the liaison is listed as a schedule reader: %+v", rd)
		}
		found = found || rd.UserID == w.users[control].ID
	}
	if !out.AuditLog || !found {
		t.Fatalf("control's read not listed: %+v", out)
	}
}
