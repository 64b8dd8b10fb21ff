package web

import (
	"net/http"
	"strconv"

	"github.com/convoi/convoi"
)

// rAuditor reads the audit log: auditors only. An administrator is exactly
// whom the log must hold to account.
var rAuditor = []convoi.Role{convoi.RoleAuditor}

// auditEndpoints is the auditor's API. Every read of it is itself recorded.
func (s *Server) auditEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/audit/entries", Roles: rAuditor, auditReads: true, Summary: "Audit entries, newest first, filtered (object, user_id, field, kind, outcome, since, until, before, limit)", handle: s.handleListAudit},
		{Method: "GET", Path: v + "/audit/entries/{seq}", Roles: rAuditor, auditReads: true, Summary: "One audit entry", handle: s.handleGetAudit},
		{Method: "GET", Path: v + "/audit/checkpoint", Roles: rAuditor, auditReads: true, Summary: "The latest signed checkpoint (C2SP tlog-checkpoint signed note, text/plain)", handle: s.handleAuditCheckpoint},
		{Method: "GET", Path: v + "/audit/proof/inclusion", Roles: rAuditor, auditReads: true, Summary: "Inclusion proof of entry seq in the tree of size entries (default: the latest checkpoint's)", handle: s.handleAuditInclusion},
		{Method: "GET", Path: v + "/audit/proof/consistency", Roles: rAuditor, auditReads: true, Summary: "Consistency proof between the trees of from and to entries (to default: the latest checkpoint's)", handle: s.handleAuditConsistency},
	}
}

func (s *Server) auditLog() (convoi.AuditLog, error) {
	if s.Audit == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "The audit log is not available on this server.")
	}
	return s.Audit, nil
}

// seqParam reads a non-negative integer query parameter.
func seqParam(q *query, name string) *int64 {
	v, ok := q.get(name)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		q.fail("Query parameter %q must be a non-negative integer.", name)
		return nil
	}
	return &n
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) error {
	al, err := s.auditLog()
	if err != nil {
		return err
	}
	q := newQuery(r)
	var f convoi.AuditFilter
	if o := q.String("object"); o != nil {
		f.Object = *o
	}
	if id := idParam[convoi.MovementID](q, "movement_id"); id != nil {
		if f.Object != "" {
			q.fail("Give object or movement_id, not both.")
		}
		f.Object = movementObject(*id)
	}
	f.UserID = idParam[convoi.UserID](q, "user_id")
	if fl := q.String("field"); fl != nil {
		f.Field = *fl
	}
	if k := enumParam(q, "kind", func(k convoi.AuditKind) bool { return k == convoi.AuditRead || k == convoi.AuditWrite },
		[]convoi.AuditKind{convoi.AuditRead, convoi.AuditWrite}); k != nil {
		f.Kind = *k
	}
	if o := enumParam(q, "outcome", func(o convoi.AuditOutcome) bool {
		return o == convoi.AuditAllowed || o == convoi.AuditRefused || o == convoi.AuditFailed
	}, []convoi.AuditOutcome{convoi.AuditAllowed, convoi.AuditRefused, convoi.AuditFailed}); o != nil {
		f.Outcome = *o
	}
	f.Since, f.Until = q.Time("since"), q.Time("until")
	f.Before = seqParam(q, "before")
	if l := q.Int64("limit"); l != nil {
		if *l > 1000 {
			q.fail("Query parameter \"limit\" must be an integer from 1 to 1000.")
		}
		f.Limit = int(*l)
	}
	if err := q.Err(); err != nil {
		return err
	}
	es, err := al.FindAuditEntries(r.Context(), f)
	if err != nil {
		return err
	}
	if es == nil {
		es = []*convoi.AuditEntry{}
	}
	resp := struct {
		Items []*convoi.AuditEntry `json:"items"`
		// Next is the before value of the next (older) page, absent at the end.
		Next *int64 `json:"next,omitempty"`
	}{Items: es}
	if f.Limit == 0 {
		f.Limit = 100
	}
	if len(es) == f.Limit && es[len(es)-1].Seq > 0 {
		n := es[len(es)-1].Seq
		resp.Next = &n
	}
	writeJSON(w, http.StatusOK, &resp)
	return nil
}

func (s *Server) handleGetAudit(w http.ResponseWriter, r *http.Request) error {
	al, err := s.auditLog()
	if err != nil {
		return err
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 0 {
		return convoi.Errorf(convoi.EINVALID, "The entry number in the path must be a non-negative integer.")
	}
	e, err := al.FindAuditEntry(r.Context(), seq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) handleAuditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	al, err := s.auditLog()
	if err != nil {
		return err
	}
	note, _ := al.Checkpoint()
	if note == nil {
		return convoi.Errorf(convoi.ENOTFOUND, "The audit log has no checkpoint yet.")
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(note)
	return nil
}

func (s *Server) handleAuditInclusion(w http.ResponseWriter, r *http.Request) error {
	al, err := s.auditLog()
	if err != nil {
		return err
	}
	q := newQuery(r)
	seq, size := seqParam(q, "seq"), seqParam(q, "size")
	if err := q.Err(); err != nil {
		return err
	}
	if seq == nil {
		return convoi.Errorf(convoi.EINVALID, "Query parameter \"seq\" required.")
	}
	var sz int64
	if size != nil {
		sz = *size
	}
	p, err := al.InclusionProof(r.Context(), *seq, sz)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) handleAuditConsistency(w http.ResponseWriter, r *http.Request) error {
	al, err := s.auditLog()
	if err != nil {
		return err
	}
	q := newQuery(r)
	from, to := seqParam(q, "from"), seqParam(q, "to")
	if err := q.Err(); err != nil {
		return err
	}
	if from == nil {
		return convoi.Errorf(convoi.EINVALID, "Query parameter \"from\" required.")
	}
	var t int64
	if to != nil {
		t = *to
	}
	p, err := al.ConsistencyProof(r.Context(), *from, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
