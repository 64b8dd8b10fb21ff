package web

import (
	"context"
	"net/http"
	"time"

	"github.com/convoi/convoi"
)

// loadMovement returns the movement of the {id} path value if the caller
// may see it. A movement the caller may not see does not exist for them:
// ENOTFOUND, never EFORBIDDEN, so that its existence does not leak.
func (s *Server) loadMovement(r *http.Request) (*convoi.Movement, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	m, err := s.MovementService.FindMovementByID(r.Context(), convoi.MovementID(id))
	if err == nil && !convoi.UserFromContext(r.Context()).CanSeeMovement(m) && !s.grantedMovement(r.Context(), m) {
		noteRefusal(r.Context(), m.ID, "not the caller's movement")
		return nil, errMovementNotFound // the same words for a hidden and a missing movement
	}
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return nil, errMovementNotFound
	} else if err != nil {
		return nil, err
	}
	return m, nil
}

var errMovementNotFound = convoi.Errorf(convoi.ENOTFOUND, "Movement not found.")

// publish announces a movement change on the event bus, if there is one.
// Subscribers apply their own object rules (see handleStream).
func (s *Server) publish(m *convoi.Movement) {
	if s.EventService != nil {
		s.EventService.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
	}
}

func (s *Server) handleListMovements(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.MovementFilter{
		Ref:             q.String("ref"),
		DetaineeID:      idParam[convoi.DetaineeID](q, "detainee_id"),
		State:           enumParam(q, "state", convoi.MovementState.Valid, convoi.MovementStates),
		Site:            idParam[convoi.SiteID](q, "site_id"),
		CrewMember:      idParam[convoi.OfficerID](q, "crew_member"),
		AppointmentFrom: q.Time("appointment_from"),
		AppointmentTo:   q.Time("appointment_to"),
		Page:            q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	u := convoi.UserFromContext(r.Context())
	if !u.SeesSchedule() && (f.CrewMember != nil || f.State != nil) {
		// The totals would tell who escorts whom, or that an escort left.
		return convoi.Errorf(convoi.EINVALID, "The %s role may not filter movements by crew_member or state.", u.Role)
	}
	// Crew and liaison filters are overwritten with their own scope.
	if !u.ScopeMovements(&f) {
		return convoi.Errorf(convoi.EFORBIDDEN, "The %s role may not read movements.", u.Role)
	}
	ms, n, err := s.MovementService.FindMovements(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		if u.CanSeeMovement(m) { // defence in depth: the store applied the scope
			out = append(out, s.viewMovement(r.Context(), m))
		}
	}
	writeJSON(w, http.StatusOK, list(out, n, f.Page))
	return nil
}

func (s *Server) handleGetMovement(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewMovement(r.Context(), m))
	return nil
}

type movementCreate struct {
	Ref           string             `json:"ref"`
	DetaineeID    convoi.DetaineeID  `json:"detainee_id"`
	FromSiteID    convoi.SiteID      `json:"from_site_id"`
	ToSiteID      convoi.SiteID      `json:"to_site_id"`
	Purpose       convoi.Purpose     `json:"purpose"`
	AppointmentAt time.Time          `json:"appointment_at"`
	Requester     string             `json:"requester"`
	Crew          []convoi.OfficerID `json:"crew"`
	Vehicles      []convoi.VehicleID `json:"vehicles"`
}

func (s *Server) handleCreateMovement(w http.ResponseWriter, r *http.Request) error {
	var req movementCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	m := &convoi.Movement{Ref: req.Ref, DetaineeID: req.DetaineeID, FromSiteID: req.FromSiteID, ToSiteID: req.ToSiteID,
		Purpose: req.Purpose, AppointmentAt: req.AppointmentAt, Requester: req.Requester,
		State: convoi.StateRequested, Crew: req.Crew, Vehicles: req.Vehicles}
	if err := m.Validate(); err != nil {
		return err
	}
	if err := s.MovementService.CreateMovement(r.Context(), m); err != nil {
		return err
	}
	s.publish(m)
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) handleUpdateMovement(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	var upd convoi.MovementUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	if err := validateRoute(upd.Route); err != nil {
		return err
	}
	if m.State.Terminal() {
		return convoi.Errorf(convoi.ECONFLICT, "Movement is %s and can no longer change.", m.State)
	}
	if err := patchAllowed(m, upd); err != nil {
		return err
	}
	noteSchedule(r.Context(), m.ID, upd.Fields()...) // the fields changed
	m, err = s.MovementService.UpdateMovement(r.Context(), m.ID, upd)
	if err != nil {
		return err
	}
	s.publish(m)
	writeJSON(w, http.StatusOK, s.viewMovement(r.Context(), m))
	return nil
}

// patchAllowed enforces that PATCH changes only what no action governs:
// the escort level is the assessment's (assess), departure and route are
// the plan's and its draw's (plan, release); purpose and appointment are
// what the movement was assessed on and planned for, and crew and vehicles
// what was checked at release. The store records every change.
func patchAllowed(m *convoi.Movement, upd convoi.MovementUpdate) error {
	if len(upd.Fields()) == 0 {
		return convoi.Errorf(convoi.EINVALID, "Nothing to change: send at least one of purpose, appointment_at, requester, crew, vehicles.")
	}
	if upd.EscortLevel != nil {
		return convoi.Errorf(convoi.EINVALID, "escort_level is set by POST /movements/{id}/assess, which records the assessment behind it; PATCH cannot change it.")
	}
	if upd.PlannedDeparture != nil || upd.Route != nil {
		return convoi.Errorf(convoi.EINVALID, "planned_departure and route are set by POST /movements/{id}/plan and release; PATCH cannot change them.")
	}
	if (upd.Purpose != nil || upd.AppointmentAt != nil) && m.State != convoi.StateRequested && m.State != convoi.StateAssessed {
		return convoi.Errorf(convoi.ECONFLICT, "The movement is %s: its purpose and appointment were planned for. Send it back with assess before changing them.", m.State)
	}
	if (upd.Crew != nil || upd.Vehicles != nil) && m.State.Committed() {
		return convoi.Errorf(convoi.ECONFLICT, "The movement is %s: its crew and vehicles were checked at release. Send it back with assess before changing them.", m.State)
	}
	return nil
}

func (s *Server) handleListTransitions(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	ts, err := s.MovementService.FindTransitions(r.Context(), m.ID)
	if err != nil {
		return err
	}
	ts = s.viewTransitions(r.Context(), m, ts)
	writeJSON(w, http.StatusOK, list(ts, len(ts), convoi.Page{Limit: len(ts)}))
	return nil
}

func (s *Server) handleListAssessments(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	if s.AssessmentService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Assessments are not available on this server.")
	}
	as, err := s.AssessmentService.FindAssessments(r.Context(), m.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(as, len(as), convoi.Page{Limit: len(as)}))
	return nil
}

// validateRoute checks the coordinates of a route given by a client.
func validateRoute(rs *convoi.RouteSummary) error {
	if rs == nil {
		return nil
	}
	for _, p := range rs.Geometry {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	if rs.DistanceM < 0 || rs.DurationS < 0 {
		return convoi.Errorf(convoi.EINVALID, "Route distance and duration must not be negative.")
	}
	return nil
}

// Action bodies. Each action accepts only its own fields; all may be empty
// except cancel (cancel_reason), abort and incident (reason). Version, when
// non-zero, must equal the movement's version (optimistic locking).
type (
	assessBody struct {
		Reason      string              `json:"reason"`
		EscortLevel *convoi.EscortLevel `json:"escort_level"`
		Version     int                 `json:"version"`
	}
	planBody struct {
		Reason           string               `json:"reason"`
		PlannedDeparture *time.Time           `json:"planned_departure"`
		Route            *convoi.RouteSummary `json:"route"`
		Crew             *[]convoi.OfficerID  `json:"crew"`
		Vehicles         *[]convoi.VehicleID  `json:"vehicles"`
		Options          *convoi.PlanOptions  `json:"options"`
		Version          int                  `json:"version"`
	}
	reasonBody struct {
		Reason  string `json:"reason"`
		Version int    `json:"version"`
	}
	// releaseBody is the body of release and start. Override (commander
	// only, with a reason) lets through what the checks refuse: an escort
	// that does not meet the assessment, officers or vehicles busy or
	// based too far, a start outside the drawn departure's tolerance.
	releaseBody struct {
		Reason   string `json:"reason"`
		Override bool   `json:"override"`
		Version  int    `json:"version"`
	}
	cancelBody struct {
		Reason       string              `json:"reason"`
		CancelReason convoi.CancelReason `json:"cancel_reason"`
		Version      int                 `json:"version"`
	}
)

// actionResponse is the answer to every transition.
type actionResponse struct {
	Movement   any                `json:"movement"` // *convoi.Movement, or the liaison view
	Assessment *convoi.Assessment `json:"assessment,omitempty"`
	Plan       *convoi.Plan       `json:"plan,omitempty"`
}

// action returns the handler of POST /api/v1/movements/{id}/{a}.
func (s *Server) action(a convoi.Action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.loadMovement(r)
		if err != nil {
			return err
		}
		req := convoi.TransitionRequest{Action: a}
		var resp actionResponse
		var version int
		var opts *convoi.PlanOptions
		var override bool
		switch a {
		case convoi.ActionAssess:
			var b assessBody
			if err := decodeOptionalBody(r, &b); err != nil {
				return err
			}
			req.Reason, version = b.Reason, b.Version
			err = s.prepareAssess(r.Context(), m, &b, &req, &resp)
		case convoi.ActionPlan:
			var b planBody
			if err := decodeOptionalBody(r, &b); err != nil {
				return err
			}
			req.Reason, version, opts = b.Reason, b.Version, b.Options
			err = s.preparePlan(r.Context(), m, &b, &req, &resp)
		case convoi.ActionRelease, convoi.ActionStart:
			var b releaseBody
			if err := decodeOptionalBody(r, &b); err != nil {
				return err
			}
			req.Reason, version, override = b.Reason, b.Version, b.Override
			if a == convoi.ActionRelease {
				err = s.prepareRelease(r.Context(), m, &req, &resp)
			}
		case convoi.ActionCancel:
			var b cancelBody
			if err := decodeBody(r, &b); err != nil {
				return err
			}
			req.Reason, req.CancelReason, version = b.Reason, b.CancelReason, b.Version
		default:
			var b reasonBody
			if err := decodeOptionalBody(r, &b); err != nil {
				return err
			}
			req.Reason, version = b.Reason, b.Version
		}
		if err != nil {
			return err
		}
		if version != 0 {
			if req.Update == nil {
				req.Update = &convoi.MovementUpdate{}
			}
			req.Update.Version = version
		}
		if err := req.Validate(); err != nil {
			return err
		}
		// Check the state machine before any engine work (the store checks
		// again, atomically).
		if _, err := convoi.NextState(m.State, a); err != nil {
			return err
		}
		// Release and start are held to the assessment and the plan, before
		// the draw (a refused release must not spend it).
		if a == convoi.ActionRelease || a == convoi.ActionStart {
			if err := s.checkDeparture(r.Context(), m, a, override, &req); err != nil {
				return err
			}
		}
		if err := s.runEngine(r.Context(), m, a, &req, opts, &resp); err != nil {
			return err
		}
		if req.Update != nil {
			noteSchedule(r.Context(), m.ID, req.Update.Fields()...) // the fields the action sets
		}
		m, err = s.MovementService.TransitionMovement(r.Context(), m.ID, req)
		if err != nil {
			return err
		}
		s.publish(m)
		resp.Movement = s.viewMovement(r.Context(), m)
		resp.Plan = s.viewPlan(r.Context(), m, resp.Plan)
		writeJSON(w, http.StatusOK, &resp)
		return nil
	}
}

// prepareAssess validates an assess body; the engine (if any) runs later.
func (s *Server) prepareAssess(ctx context.Context, m *convoi.Movement, b *assessBody, req *convoi.TransitionRequest, resp *actionResponse) error {
	if b.EscortLevel != nil && !b.EscortLevel.Valid() {
		return convoi.Errorf(convoi.EINVALID, "escort_level must be between 1 and 4.")
	}
	if s.Risk == nil && b.EscortLevel == nil {
		return convoi.Errorf(convoi.EINVALID, "escort_level (1-4) required: no risk engine is wired on this server.")
	}
	req.Update = &convoi.MovementUpdate{EscortLevel: b.EscortLevel}
	return nil
}

func (s *Server) preparePlan(ctx context.Context, m *convoi.Movement, b *planBody, req *convoi.TransitionRequest, resp *actionResponse) error {
	if err := validateRoute(b.Route); err != nil {
		return err
	}
	upd := &convoi.MovementUpdate{Crew: b.Crew, Vehicles: b.Vehicles}
	if s.Planner != nil {
		if b.PlannedDeparture != nil || b.Route != nil {
			return convoi.Errorf(convoi.EINVALID, "The planning engine draws route and departure at release: send options, not planned_departure or route.")
		}
	} else {
		if b.Options != nil {
			return convoi.Errorf(convoi.EINVALID, "No planning engine is wired on this server: send planned_departure (and optionally route) instead of options.")
		}
		dep := b.PlannedDeparture
		if dep == nil {
			dep = m.PlannedDeparture
		}
		if dep == nil {
			return convoi.Errorf(convoi.EINVALID, "planned_departure required: no planning engine is wired on this server.")
		}
		if !dep.Before(m.AppointmentAt) {
			return convoi.Errorf(convoi.EINVALID, "planned_departure must be before the appointment.")
		}
		upd.PlannedDeparture, upd.Route = b.PlannedDeparture, b.Route
	}
	req.Update = upd
	return nil
}

func (s *Server) prepareRelease(ctx context.Context, m *convoi.Movement, req *convoi.TransitionRequest, resp *actionResponse) error {
	if s.Planner == nil && m.PlannedDeparture == nil {
		return convoi.Errorf(convoi.ECONFLICT, "Movement has no planned departure: plan it first.")
	}
	return nil
}

// runEngine calls the risk or planning engine for assess, plan and release,
// after the state machine allowed the action, and folds the result into req.
func (s *Server) runEngine(ctx context.Context, m *convoi.Movement, a convoi.Action, req *convoi.TransitionRequest, opts *convoi.PlanOptions, resp *actionResponse) error {
	switch {
	case a == convoi.ActionAssess && s.Risk != nil:
		as, err := s.Risk.ScoreMovement(ctx, m.ID)
		if err != nil {
			return err
		}
		lvl := as.Level
		if req.Update.EscortLevel != nil {
			if *req.Update.EscortLevel < as.Level {
				return convoi.Errorf(convoi.EINVALID, "escort_level may raise the assessed level %d, never lower it.", as.Level)
			}
			lvl = *req.Update.EscortLevel
		}
		req.Update.EscortLevel = &lvl
		resp.Assessment = as
	case a == convoi.ActionPlan && s.Planner != nil:
		var o convoi.PlanOptions
		if opts != nil {
			o = *opts
		}
		p, err := s.Planner.PlanMovement(ctx, m.ID, o)
		if err != nil {
			return err
		}
		resp.Plan = p
	case a == convoi.ActionRelease && s.Planner != nil:
		rel, err := s.Planner.ReleaseMovement(ctx, m.ID)
		if err != nil {
			return err
		}
		if rel == nil || rel.Plan == nil || rel.Plan.Draw == nil {
			return convoi.Errorf(convoi.EINTERNAL, "planner returned no draw")
		}
		dep := rel.Plan.Draw.Departure
		if req.Update == nil {
			req.Update = &convoi.MovementUpdate{}
		}
		req.Update.PlannedDeparture, req.Update.Route = &dep, rel.Route
		resp.Plan = rel.Plan
	}
	return nil
}
