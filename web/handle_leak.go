package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/leak"
)

// ScheduleReaders finds, in the audit log, everyone who read a movement's
// exact schedule (its drawn departure or route). It is what leak tracing
// needs of the audit log: Server.Audit provides it when ScheduleReaders is
// not set.
type ScheduleReaders interface {
	ScheduleReaders(ctx context.Context, id convoi.MovementID) ([]ScheduleRead, error)
}

// ScheduleRead is one read of a movement's schedule, from the audit log.
type ScheduleRead struct {
	UserID   convoi.UserID  `json:"user_id"`
	Username string         `json:"user,omitempty"`
	Role     convoi.Role    `json:"role,omitempty"`
	TokenID  convoi.TokenID `json:"token_id,omitempty"`
	At       time.Time      `json:"at"`
	Op       string         `json:"op"`
	Fields   []string       `json:"fields,omitempty"`
	Seq      int64          `json:"seq"` // the audit entry, for an inclusion proof
}

var (
	rNotice      = []convoi.Role{convoi.RoleControl, convoi.RoleCommander}
	rNoticeRead  = []convoi.Role{convoi.RoleCommander, convoi.RoleAuditor}
	rLiaison     = []convoi.Role{convoi.RoleLiaison}
	noticeStates = []convoi.MovementState{convoi.StateReleased, convoi.StateUnderway, convoi.StateIncident, convoi.StateCompleted}
)

// leakEndpoints are the recipient-notice and leak-tracing endpoints.
func (s *Server) leakEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/movements/{id}/arrival", Roles: rLiaison, Summary: "The arrival window and handover code for this liaison user (a variant recorded for them)", handle: s.handleArrival},
		{Method: "GET", Path: v + "/movements/{id}/notices", Roles: rNoticeRead, Summary: "The arrival variants each recipient of a movement was given", handle: s.handleListNotices},
		{Method: "POST", Path: v + "/movements/{id}/notices", Roles: rNotice, Summary: "Give an outside recipient (a hospital, a court) its own arrival variant", handle: s.handleCreateNotice},
		{Method: "POST", Path: v + "/trackers/{id}/secret", Roles: rAdmin, Summary: "Issue an MQTT tracker's login secret (shown once; replaces the old one)", handle: s.handleSetDeviceSecret, secret: true},
		{Method: "POST", Path: v + "/leaks/trace", Roles: rAuditor, Summary: "Rank the recipients who could have leaked the facts seen, and list who read the exact schedule", handle: s.handleTraceLeak},
	}
}

func (s *Server) issuer() (*leak.Issuer, error) {
	if s.NoticeService == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Arrival notices are not available on this server.")
	}
	return &leak.Issuer{Notices: s.NoticeService, Policy: s.NoticePolicy}, nil
}

// noticeMovement loads the movement and checks that notices may be given.
func (s *Server) noticeMovement(r *http.Request) (*convoi.Movement, error) {
	m, err := s.loadMovement(r)
	if err != nil {
		return nil, err
	}
	for _, st := range noticeStates {
		if m.State == st {
			return m, nil
		}
	}
	// The same words before release and after a cancellation: a liaison
	// learns that from the movement itself.
	return nil, convoi.Errorf(convoi.ECONFLICT, "The arrival window of movement %s is not available.", m.Ref)
}

func (s *Server) handleArrival(w http.ResponseWriter, r *http.Request) error {
	is, err := s.issuer()
	if err != nil {
		return err
	}
	m, err := s.noticeMovement(r)
	if err != nil {
		return err
	}
	u := convoi.UserFromContext(r.Context())
	n, err := is.Issue(r.Context(), m, fmt.Sprintf("user:%d", u.ID), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

type noticeCreate struct {
	Recipient string `json:"recipient"`
}

func (s *Server) handleCreateNotice(w http.ResponseWriter, r *http.Request) error {
	is, err := s.issuer()
	if err != nil {
		return err
	}
	var req noticeCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	req.Recipient = strings.TrimSpace(req.Recipient)
	if req.Recipient == "" || strings.HasPrefix(req.Recipient, "user:") {
		return convoi.Errorf(convoi.EINVALID, "recipient required: the outside recipient's name (not user:N, which liaison users get themselves).")
	}
	if err := convoi.ValidateText("recipient", req.Recipient, convoi.MaxRecipientLen); err != nil {
		return err
	}
	m, err := s.noticeMovement(r)
	if err != nil {
		return err
	}
	n, err := is.Issue(r.Context(), m, req.Recipient, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

func (s *Server) handleListNotices(w http.ResponseWriter, r *http.Request) error {
	if s.NoticeService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Arrival notices are not available on this server.")
	}
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	ns, err := s.NoticeService.FindNotices(r.Context(), convoi.NoticeFilter{MovementID: &m.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(ns, len(ns), convoi.Page{Limit: len(ns)}))
	return nil
}

// traceResponse ranks the recipients and lists the schedule's readers.
type traceResponse struct {
	Candidates []leak.Candidate `json:"candidates"`
	// ScheduleReaders are, per movement concerned, everyone the audit log
	// shows reading its exact schedule; null when no audit log is configured.
	ScheduleReaders map[convoi.MovementID][]ScheduleRead `json:"schedule_readers"`
	AuditLog        bool                                 `json:"audit_log"` // whether ScheduleReaders could be consulted
}

func (s *Server) handleTraceLeak(w http.ResponseWriter, r *http.Request) error {
	if s.NoticeService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Arrival notices are not available on this server.")
	}
	var f leak.Facts
	if err := decodeBody(r, &f); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	var nf convoi.NoticeFilter
	if f.MovementID != 0 {
		if _, err := s.MovementService.FindMovementByID(r.Context(), f.MovementID); err != nil {
			return err
		}
		nf.MovementID = &f.MovementID
	}
	ns, err := s.NoticeService.FindNotices(r.Context(), nf)
	if err != nil {
		return err
	}
	cs, err := leak.Trace(f, ns)
	if err != nil {
		return err
	}
	resp := traceResponse{Candidates: cs, AuditLog: s.ScheduleReaders != nil}
	if cs == nil {
		resp.Candidates = []leak.Candidate{}
	}
	if s.ScheduleReaders != nil {
		resp.ScheduleReaders = map[convoi.MovementID][]ScheduleRead{}
		ids := map[convoi.MovementID]bool{}
		if f.MovementID != 0 {
			ids[f.MovementID] = true
		}
		for _, c := range cs {
			ids[c.Notice.MovementID] = true
		}
		for id := range ids {
			reads, err := s.ScheduleReaders.ScheduleReaders(r.Context(), id)
			if err != nil {
				return err
			}
			if reads == nil {
				reads = []ScheduleRead{}
			}
			resp.ScheduleReaders[id] = reads
		}
	}
	writeJSON(w, http.StatusOK, &resp)
	return nil
}

// AuditScheduleReaders returns ScheduleReaders answered from log, for
// tools that open the audit log themselves (convoi leak trace).
func AuditScheduleReaders(log convoi.AuditLog) ScheduleReaders { return auditScheduleReaders{log} }

// auditScheduleReaders answers ScheduleReaders from the audit log: every
// allowed read that disclosed a movement's drawn departure or route (the
// API, the stream), oldest first.
type auditScheduleReaders struct{ log convoi.AuditLog }

func (a auditScheduleReaders) ScheduleReaders(ctx context.Context, id convoi.MovementID) ([]ScheduleRead, error) {
	f := convoi.AuditFilter{Object: movementObject(id), Kind: convoi.AuditRead, Outcome: convoi.AuditAllowed, Limit: 1000}
	var out []ScheduleRead
	for {
		es, err := a.log.FindAuditEntries(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		for _, e := range es {
			if !slices.Contains(e.Fields, convoi.FieldDeparture) && !slices.Contains(e.Fields, convoi.FieldRoute) {
				continue
			}
			out = append(out, ScheduleRead{UserID: e.UserID, Username: e.Username, Role: e.Role, TokenID: e.TokenID,
				At: e.Time, Op: e.Op, Fields: e.Fields, Seq: e.Seq})
		}
		if len(es) < f.Limit {
			break
		}
		before := es[len(es)-1].Seq
		f.Before = &before
	}
	slices.Reverse(out) // newest first from the log; oldest first here
	return out, nil
}
