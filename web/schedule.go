package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Need-to-know release of the schedule (issue 12 part A). Role rules say
// who may read a movement; the release policy (Server.ReleasePolicy) and
// grants (Server.GrantService) say when its drawn departure and route open
// to them. Every place that hands a movement or a plan to a user goes
// through viewMovement, viewPlan or streamView, which redact the schedule
// until it opens; GET /movements/{id}/schedule refuses it with when it opens.

// scheduleEndpoints are the schedule and grant endpoints.
func (s *Server) scheduleEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/movements/{id}/schedule", Roles: rSchedule, Summary: "The drawn departure and route, once released to the caller (409 says when it opens)", handle: s.handleGetSchedule},
		{Method: "GET", Path: v + "/movements/{id}/grants", Roles: rGrantsR, Summary: "Grants of the movement's schedule, with revocations", handle: s.handleListGrants},
		{Method: "POST", Path: v + "/movements/{id}/grants", Roles: rPlanner, Summary: "Grant one user the movement's schedule until a time, with a reason", handle: s.handleCreateGrant},
		{Method: "DELETE", Path: v + "/movements/{id}/grants/{grant}", Roles: rPlanner, Summary: "Revoke a schedule grant", handle: s.handleRevokeGrant},
		{Method: "GET", Path: v + "/policies/release", Roles: rPolicy, Summary: "The need-to-know release policy in force", handle: s.handleGetReleasePolicy},
		{Method: "PUT", Path: v + "/policies/release", Roles: rAdmin, Summary: "Replace the release policy with a new version", handle: s.handlePutReleasePolicy},
	}
}

var (
	// rSchedule may ask for the schedule: the roles a release rule or a
	// grant can open it to. Planners see the strategy, never the draw;
	// administrators and liaison never.
	rSchedule = []convoi.Role{convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor, convoi.RoleCrew}
	rGrantsR  = []convoi.Role{convoi.RolePlanner, convoi.RoleAuditor}
)

// ReleasePolicyName is the release policy's name in the PolicyService.
const ReleasePolicyName = "release"

// releasePolicy returns the policy in force: the latest saved through PUT
// /policies/release (or in the PolicyService when the server started),
// else ReleasePolicy, else convoi.DefaultReleasePolicy.
func (s *Server) releasePolicy() *convoi.ReleasePolicy {
	if p := s.release.Load(); p != nil {
		return p
	}
	if s.ReleasePolicy != nil {
		return s.ReleasePolicy
	}
	return &convoi.DefaultReleasePolicy
}

// loadReleasePolicy reads the saved release policy, if any, at init.
func (s *Server) loadReleasePolicy(ctx context.Context) error {
	if s.PolicyService == nil {
		return nil
	}
	doc, err := s.PolicyService.FindPolicy(ctx, ReleasePolicyName)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return nil
	} else if err != nil {
		return fmt.Errorf("web: load the release policy: %w", err)
	}
	var p convoi.ReleasePolicy
	if err := json.Unmarshal(doc.Body, &p); err != nil {
		return fmt.Errorf("web: release policy %s: %w", doc.Version, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("web: release policy %s: %w", doc.Version, err)
	}
	s.release.Store(&p)
	return nil
}

// scheduleAccess applies the release policy, then the caller's grants, to m.
// A failed grant lookup leaves the schedule closed.
func (s *Server) scheduleAccess(ctx context.Context, m *convoi.Movement) convoi.ScheduleAccess {
	u := convoi.UserFromContext(ctx)
	now := s.Now()
	a := s.releasePolicy().Access(u, m, now)
	if h, ok := s.Audit.(interface{ Err() error }); ok && h.Err() != nil {
		// Fail closed: a schedule read that leaves no trace is not served.
		return convoi.ScheduleAccess{Opens: a.Opens, Why: "is withheld from everyone while the audit log cannot record (see the server log)"}
	}
	if a.Open || s.GrantService == nil || u == nil || !u.SeesSchedule() {
		return a
	}
	if g := s.activeGrant(ctx, u.ID, m.ID, now); g != nil {
		return convoi.ScheduleAccess{Open: true, Opens: a.Opens,
			Why: fmt.Sprintf("opened by grant %d until %s", g.ID, g.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	return a
}

func (s *Server) activeGrant(ctx context.Context, u convoi.UserID, m convoi.MovementID, now time.Time) *convoi.ScheduleGrant {
	if s.GrantService == nil {
		return nil
	}
	gs, err := s.GrantService.FindGrants(ctx, convoi.GrantFilter{MovementID: &m, UserID: &u, ActiveAt: &now})
	if err != nil {
		s.Logger.Error("grant lookup failed", "error", err.Error())
		return nil
	}
	if len(gs) == 0 {
		return nil
	}
	return gs[0]
}

// withheldMovement is a movement whose schedule is not yet released to the
// caller, and when it opens.
type withheldMovement struct {
	*convoi.Movement
	Schedule *convoi.ScheduleAccess `json:"schedule"`
}

// viewMovement returns m as the caller may see it now: the liaison view,
// the movement without its schedule until it opens, or all of it. It notes
// the schedule fields it discloses in the audit record.
func (s *Server) viewMovement(ctx context.Context, m *convoi.Movement) any {
	v := m.View(convoi.UserFromContext(ctx))
	full, ok := v.(*convoi.Movement)
	if !ok {
		return v
	}
	if fields := scheduleFields(full); len(fields) > 0 {
		a := s.scheduleAccess(ctx, m)
		if !a.Open {
			return &withheldMovement{Movement: full.Redacted(), Schedule: &a}
		}
		noteSchedule(ctx, m.ID, fields...)
	}
	return full
}

// viewPlan returns p without its draw unless the schedule is open to the
// caller. The strategy is the planners' (and the roles' that read plans).
func (s *Server) viewPlan(ctx context.Context, m *convoi.Movement, p *convoi.Plan) *convoi.Plan {
	if p == nil {
		return nil
	}
	noteSchedule(ctx, m.ID, convoi.FieldStrategy)
	if p.Draw == nil || s.scheduleAccess(ctx, m).Open {
		if p.Draw != nil {
			noteSchedule(ctx, m.ID, convoi.FieldDeparture, convoi.FieldRoute)
		}
		return p
	}
	c := *p
	c.Draw = nil
	return &c
}

// streamView redacts a movement event for a subscriber the schedule is not
// yet released to.
func (s *Server) streamView(ctx context.Context, out any) any {
	ev, ok := out.(convoi.Event)
	if !ok || ev.Movement == nil || len(scheduleFields(ev.Movement)) == 0 || s.scheduleAccess(ctx, ev.Movement).Open {
		return out
	}
	ev.Movement = ev.Movement.Redacted()
	return ev
}

// scheduleOpen reports whether the schedule of m is open to the caller.
func (s *Server) scheduleOpen(ctx context.Context, m *convoi.Movement) bool {
	return s.scheduleAccess(ctx, m).Open
}

type scheduleResponse struct {
	MovementID       convoi.MovementID     `json:"movement_id"`
	Ref              string                `json:"ref"`
	PlannedDeparture *time.Time            `json:"planned_departure"`
	Route            *convoi.RouteSummary  `json:"route"`
	Access           convoi.ScheduleAccess `json:"access"`
}

func (s *Server) handleGetSchedule(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	fields := []string{convoi.FieldDeparture, convoi.FieldRoute}
	a := s.scheduleAccess(r.Context(), m)
	if !a.Open {
		noteRefusal(r.Context(), m.ID, "need-to-know: "+a.Why, fields...)
		u := convoi.UserFromContext(r.Context())
		if a.Opens == convoi.OpensNever {
			return convoi.Errorf(convoi.EFORBIDDEN, "The schedule of movement %s is not released to you: it %s.", m.Ref, a.Why)
		}
		return convoi.Errorf(convoi.ECONFLICT, "The schedule of movement %s is not released to you (%s) yet: it %s.", m.Ref, u.Role, a.Why)
	}
	if m.PlannedDeparture == nil {
		return convoi.Errorf(convoi.ECONFLICT, "Movement %s has no drawn departure yet.", m.Ref)
	}
	noteSchedule(r.Context(), m.ID, scheduleFields(m)...)
	writeJSON(w, http.StatusOK, &scheduleResponse{MovementID: m.ID, Ref: m.Ref, PlannedDeparture: m.PlannedDeparture, Route: m.Route, Access: a})
	return nil
}

func (s *Server) grants() (convoi.GrantService, error) {
	if s.GrantService == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Schedule grants are not available on this server.")
	}
	return s.GrantService, nil
}

func (s *Server) handleListGrants(w http.ResponseWriter, r *http.Request) error {
	gsvc, err := s.grants()
	if err != nil {
		return err
	}
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	gs, err := gsvc.FindGrants(r.Context(), convoi.GrantFilter{MovementID: &m.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(gs, len(gs), convoi.Page{Limit: len(gs)}))
	return nil
}

type grantCreate struct {
	UserID    convoi.UserID `json:"user_id"`
	From      *time.Time    `json:"from"`
	ExpiresAt time.Time     `json:"expires_at"`
	Reason    string        `json:"reason"`
}

func (s *Server) handleCreateGrant(w http.ResponseWriter, r *http.Request) error {
	gsvc, err := s.grants()
	if err != nil {
		return err
	}
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	var req grantCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if m.State.Terminal() {
		return convoi.Errorf(convoi.ECONFLICT, "Movement %s is %s: nothing to grant.", m.Ref, m.State)
	}
	grantee, err := s.UserService.FindUserByID(r.Context(), req.UserID)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return convoi.Errorf(convoi.EINVALID, "User %d does not exist.", req.UserID)
	} else if err != nil {
		return err
	}
	if !grantee.SeesSchedule() || !grantee.HasRole(rSchedule...) {
		return convoi.Errorf(convoi.EINVALID, "The %s role cannot be granted a schedule.", grantee.Role)
	}
	g := &convoi.ScheduleGrant{MovementID: m.ID, UserID: req.UserID, ExpiresAt: req.ExpiresAt, Reason: req.Reason}
	if req.From != nil {
		g.From = *req.From
	}
	if err := gsvc.CreateGrant(r.Context(), g); err != nil {
		return err
	}
	noteAudit(r.Context(), fmt.Sprintf("grant %d to user %d until %s", g.ID, g.UserID, g.ExpiresAt.UTC().Format(time.RFC3339)),
		"grant:"+strconv.FormatInt(int64(g.ID), 10), "user:"+strconv.FormatInt(int64(g.UserID), 10))
	writeJSON(w, http.StatusCreated, g)
	return nil
}

func (s *Server) handleRevokeGrant(w http.ResponseWriter, r *http.Request) error {
	gsvc, err := s.grants()
	if err != nil {
		return err
	}
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("grant"), 10, 64)
	if err != nil || id <= 0 {
		return convoi.Errorf(convoi.EINVALID, "The grant id in the path must be a positive integer.")
	}
	g, err := gsvc.RevokeGrant(r.Context(), m.ID, convoi.GrantID(id))
	if err != nil {
		return err
	}
	noteAudit(r.Context(), fmt.Sprintf("revoke grant %d of user %d", g.ID, g.UserID),
		"grant:"+strconv.FormatInt(id, 10), "user:"+strconv.FormatInt(int64(g.UserID), 10))
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) handleGetReleasePolicy(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.releasePolicy())
	return nil
}

// grantedMovement reports whether a grant lets a user who may not otherwise
// read m (crew of another escort) read it: a grant names one person and
// one movement.
func (s *Server) grantedMovement(ctx context.Context, m *convoi.Movement) bool {
	u := convoi.UserFromContext(ctx)
	return u != nil && u.SeesSchedule() && u.HasRole(rSchedule...) && s.activeGrant(ctx, u.ID, m.ID, s.Now()) != nil
}

// withheldOverride stands for an override's text (which may quote the
// drawn departure) until the schedule opens to the reader.
const withheldOverride = "(withheld: the schedule is not yet released to you)"

// viewTransitions withholds the overrides of a movement whose schedule is
// not yet released to the caller.
func (s *Server) viewTransitions(ctx context.Context, m *convoi.Movement, ts []*convoi.Transition) []*convoi.Transition {
	if s.scheduleOpen(ctx, m) {
		return ts
	}
	out := make([]*convoi.Transition, len(ts))
	for i, t := range ts {
		if t.Override != "" {
			c := *t
			c.Override = withheldOverride
			t = &c
		}
		out[i] = t
	}
	return out
}

// slotProblemsFor states a start outside the departure's window without
// its clock times to a caller the schedule is not yet released to.
func (s *Server) slotProblemsFor(ctx context.Context, m *convoi.Movement) []string {
	p := s.slotProblems(m)
	if len(p) == 0 || s.scheduleOpen(ctx, m) {
		return p
	}
	return []string{"the escort is outside the start window of its drawn departure (the times are withheld: the schedule is not yet released to you)"}
}

// requireSchedule refuses, as a conflict saying when it opens, a read that
// discloses m's schedule (its track, its ETA against the planned timeline)
// to a caller it is not released to, and records the read or the refusal.
// Before the start there is no track nor progress to disclose.
func (s *Server) requireSchedule(r *http.Request, m *convoi.Movement) error {
	switch m.State {
	case convoi.StateUnderway, convoi.StateIncident, convoi.StateCompleted, convoi.StateAborted:
	default:
		return nil
	}
	a := s.scheduleAccess(r.Context(), m)
	if !a.Open {
		noteRefusal(r.Context(), m.ID, "need-to-know: "+a.Why, convoi.FieldRoute)
		return convoi.Errorf(convoi.ECONFLICT, "The schedule of movement %s is not released to you (%s): it %s.", m.Ref, convoi.UserFromContext(r.Context()).Role, a.Why)
	}
	noteSchedule(r.Context(), m.ID, convoi.FieldRoute)
	return nil
}

// handlePutReleasePolicy validates the body as a release policy and saves it
// as a new version (a version already stored is a conflict); it is in force
// for the next request. The audit log records who changed it.
func (s *Server) handlePutReleasePolicy(w http.ResponseWriter, r *http.Request) error {
	if s.PolicyService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Release policies cannot be changed on this server.")
	}
	var p convoi.ReleasePolicy
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	if strings.TrimSpace(p.Version) == "" {
		return convoi.Errorf(convoi.EINVALID, "A release policy needs a version.")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	if err := s.PolicyService.SavePolicy(r.Context(), &convoi.PolicyDoc{Name: ReleasePolicyName, Version: p.Version, Body: body}); err != nil {
		return err
	}
	s.release.Store(&p)
	noteAudit(r.Context(), "release policy version "+p.Version, "policy:"+ReleasePolicyName)
	writeJSON(w, http.StatusOK, &p)
	return nil
}
