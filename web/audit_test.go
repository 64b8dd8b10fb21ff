package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"
	"github.com/convoi/convoi/web"
)

type auditList struct {
	Items []*convoi.AuditEntry `json:"items"`
	Next  *int64               `json:"next"`
}

// syncAudit waits until every recorded request is written.
func (w *world) syncAudit() {
	w.t.Helper()
	if err := w.audit.Sync(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

// releaseToCourt takes toCourt through assess, plan and release, so that
// its schedule opens to control and commanders.
func (w *world) releaseToCourt() {
	w.t.Helper()
	pl := w.tokens[planner]
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("PATCH", base, pl, map[string]any{"crew": []convoi.OfficerID{w.officer1.ID, w.officer2.ID}}, 200, nil)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 2}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	w.assess(w.toCourt, 2)
	w.doJSON("POST", base+"/release", pl, nil, 200, nil)
}

func TestAuditRecordsScheduleReadsWritesAndRefusals(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.releaseToCourt()
	mv := itoa(w.toCourt.ID)
	w.doJSON("GET", "/api/v1/movements/"+mv, w.tokens[control], nil, 200, nil)
	w.doJSON("GET", "/api/v1/movements", w.tokens[commander], nil, 200, nil)
	w.doJSON("GET", "/api/v1/movements/"+mv, w.tokens[liaison], nil, 200, nil) // no schedule: not a schedule read
	w.doJSON("GET", "/api/v1/sites", w.tokens[control], nil, 200, nil)         // no schedule: not recorded
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toHospital.ID), w.tokens[crew], nil, 404, nil)
	w.doJSON("PATCH", "/api/v1/movements/"+mv, w.tokens[planner], map[string]any{"requester": "Greffe"}, 200, nil)
	w.do("GET", "/api/v1/movements/"+mv, "cvs_bogus", nil)
	w.syncAudit()

	// Who saw the court movement's departure, and when?
	var got auditList
	w.doJSON("GET", "/api/v1/audit/entries?movement_id="+mv+"&field=planned_departure", w.tokens[auditor], nil, 200, &got)
	var who []string
	for _, e := range got.Items {
		who = append(who, fmt.Sprintf("%s %s %s", e.Username, e.Kind, e.Outcome))
		if e.TokenID == 0 || e.Remote == "" || !strings.HasPrefix(e.Remote, "127.0.0.1:") || e.Time.IsZero() {
			t.Errorf("entry %d lacks who or where: %+v", e.Seq, e)
		}
	}
	if want := []string{
		w.users[commander].Username + " read allowed",
		w.users[control].Username + " read allowed",
	}; fmt.Sprint(who) != fmt.Sprint(want) {
		t.Fatalf("who saw the schedule: %v, want %v", who, want)
	}
	var writes auditList
	w.doJSON("GET", "/api/v1/audit/entries?movement_id="+mv+"&kind=write&user_id="+itoa(w.users[planner].ID), w.tokens[auditor], nil, 200, &writes)
	if len(writes.Items) != 5 || writes.Items[0].Op != "PATCH /api/v1/movements/{id}" || fmt.Sprint(writes.Items[0].Fields) != "[requester]" ||
		writes.Items[1].Op != "POST /api/v1/movements/{id}/release" {
		t.Fatalf("the planner's writes: %+v", writes.Items)
	}

	var refused auditList
	w.doJSON("GET", "/api/v1/audit/entries?outcome=refused", w.tokens[auditor], nil, 200, &refused)
	if len(refused.Items) != 2 {
		t.Fatalf("refusals: %+v", refused.Items)
	}
	if e := refused.Items[0]; e.Status != 401 || e.UserID != 0 {
		t.Errorf("unauthenticated attempt: %+v", e)
	}
	if e := refused.Items[1]; e.Username != w.users[crew].Username || e.Objects[0] != "movement:"+itoa(w.toHospital.ID) || e.Status != 404 {
		t.Errorf("crew reading another crew's movement: %+v", e)
	}

	// Nothing of the schedule itself is in the log.
	w.syncAudit()
	var all auditList
	w.doJSON("GET", "/api/v1/audit/entries?limit=1000", w.tokens[auditor], nil, 200, &all)
	b, _ := json.Marshal(all)
	if dep := w.toCourt.PlannedDeparture; dep != nil && strings.Contains(string(b), dep.UTC().Format("2006-01-02T15:04")) {
		t.Fatal("the audit log holds a departure time")
	}
	for _, e := range all.Items {
		if e.Op == "GET /api/v1/sites" || e.Username == w.users[liaison].Username && e.Op == "GET /api/v1/movements/{id}" {
			t.Errorf("a read without schedule fields was recorded: %+v", e)
		}
	}
	// Logins are writes that name who logged in and the session's token.
	var logins auditList
	w.doJSON("GET", "/api/v1/audit/entries?kind=write&user_id="+itoa(w.users[control].ID), w.tokens[auditor], nil, 200, &logins)
	if n := len(logins.Items); n == 0 || logins.Items[n-1].Op != "POST /api/v1/session" || logins.Items[n-1].TokenID == 0 {
		t.Errorf("control's login: %+v", logins.Items)
	}
	// The auditor's own reads are recorded too.
	if all.Items[0].Op != "GET /api/v1/audit/entries" || all.Items[0].Username != w.users[auditor].Username {
		t.Errorf("newest entry %+v, want the auditor's previous query", all.Items[0])
	}
}

func TestAuditProofsOverAPI(t *testing.T) {
	w := MustOpenWorld(t, nil)
	for range 5 {
		w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[control], nil, 200, nil)
	}
	cp1, err := w.audit.CheckpointNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[planner], nil, 200, nil)
	}
	cp2, err := w.audit.CheckpointNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := w.do("GET", "/api/v1/audit/checkpoint", w.tokens[auditor], nil)
	if r.Status != 200 || string(r.Body) != string(cp2.Note) {
		t.Fatalf("checkpoint %d: %s", r.Status, r.Body)
	}
	parsed, err := audit.ParseCheckpoint(r.Body, w.audit.VerifierKey())
	if err != nil || parsed.Size != cp2.Size {
		t.Fatalf("served checkpoint: %v", err)
	}
	var p convoi.AuditProof
	w.doJSON("GET", fmt.Sprintf("/api/v1/audit/proof/inclusion?seq=2&size=%d", cp2.Size), w.tokens[auditor], nil, 200, &p)
	var e json.RawMessage
	w.doJSON("GET", "/api/v1/audit/entries/2", w.tokens[auditor], nil, 200, &e)
	var entry convoi.AuditEntry
	if err := json.Unmarshal(e, &entry); err != nil {
		t.Fatal(err)
	}
	leaf, _ := json.Marshal(&entry) // the log stores json.Marshal of the entry
	if err := audit.CheckInclusion(&p, leaf, cp2.Root); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	var c convoi.AuditProof
	w.doJSON("GET", fmt.Sprintf("/api/v1/audit/proof/consistency?from=%d&to=%d", cp1.Size, cp2.Size), w.tokens[auditor], nil, 200, &c)
	if err := audit.CheckConsistency(&c, cp1.Root, cp2.Root); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	w.doJSON("GET", "/api/v1/audit/proof/consistency?from=0", w.tokens[auditor], nil, 400, nil)
	w.doJSON("GET", "/api/v1/audit/entries?object=x&movement_id=1", w.tokens[auditor], nil, 400, nil)
}

// TestAuditStreamedSchedule: a schedule sent over the live stream is a
// read, recorded per event.
func TestAuditStreamedSchedule(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	w.releaseToCourt()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl := w.openStream(ctx, w.tokens[control])
	lia := w.openStream(ctx, w.tokens[liaison])
	w.doJSON("PATCH", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[planner], map[string]any{"requester": "Juge W"}, 200, nil)
	collect(t, ctl, func(e sseEvent) bool { return e.Type == "movement" })
	collect(t, lia, func(e sseEvent) bool { return e.Type == "movement" })
	w.syncAudit()
	var got auditList
	w.doJSON("GET", "/api/v1/audit/entries?movement_id="+itoa(w.toCourt.ID)+"&kind=read&field=route", w.tokens[auditor], nil, 200, &got)
	if len(got.Items) != 1 {
		t.Fatalf("stream reads: %+v", got.Items)
	}
	if e := got.Items[0]; e.Op != "GET /api/v1/stream" || e.Username != w.users[control].Username || len(e.Fields) != 2 || e.TokenID == 0 {
		t.Fatalf("stream read: %+v", e)
	}
}

// BenchmarkAuditedRead measures what the audit hook adds to a request: GET
// /movements/{id} of a released movement by control (a schedule read,
// recorded) with and without the audit log, through Server.Handler.
func BenchmarkAuditedRead(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "audit=off"
		if on {
			name = "audit=on"
		}
		b.Run(name, func(b *testing.B) {
			w := MustOpenWorld(b, func(s *web.Server) {
				if !on {
					s.Audit = nil
				}
			})
			w.releaseToCourt() // a schedule read: recorded
			path := "/api/v1/movements/" + itoa(w.toCourt.ID)
			tok := w.tokens[control]
			// In process, as issue 9's request benchmarks: no socket, so
			// the loaded machine's network stack does not drown the hook.
			h, err := w.srv.Handler()
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.RemoteAddr = "127.0.0.1:40000"
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				t := time.Now()
				h.ServeHTTP(rec, req)
				lat = append(lat, time.Since(t))
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), "planned_departure") {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-us")
		})
	}
}
