package web

import (
	"net/http"
	"strings"

	"github.com/convoi/convoi"
)

// Role sets of the alarm, track and ETA endpoints. Liaison never receive
// positions, tracks, ETAs or alarms; admin manages users and devices, not
// escorts (deny by default). Planners read alarms (what happened on the
// routes they draw) but do not work them; auditors read everything.
var (
	rAlarmRead = []convoi.Role{convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor, convoi.RoleCrew}
	rAlarmWork = []convoi.Role{convoi.RoleControl, convoi.RoleCommander}
)

// alarmEndpoints are the alarm, track and ETA endpoints, appended to the endpoint table.
func (s *Server) alarmEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/alarms", Roles: rAlarmRead, Summary: "List alarms, most severe and newest first (crew: their movements')", handle: s.handleListAlarms},
		{Method: "GET", Path: v + "/alarms/{id}", Roles: rAlarmRead, Summary: "Read an alarm and its history", handle: s.handleGetAlarm},
		{Method: "POST", Path: v + "/alarms/{id}/acknowledge", Roles: rAlarmWork, Summary: "Acknowledge an open alarm: it is yours", handle: s.alarmStep(convoi.AlarmActionAcknowledge)},
		{Method: "POST", Path: v + "/alarms/{id}/escalate", Roles: rAlarmWork, Summary: "Escalate an alarm to the commander role", handle: s.alarmStep(convoi.AlarmActionEscalate)},
		{Method: "POST", Path: v + "/alarms/{id}/resolve", Roles: rAlarmWork, Summary: "Resolve an alarm: false alarm, handled, or incident declared", handle: s.alarmStep(convoi.AlarmActionResolve)},
		{Method: "GET", Path: v + "/movements/{id}/track", Roles: rAlarmRead, Summary: "The stored fixes of a movement's vehicles since it started, with progress", handle: s.handleTrack},
		{Method: "GET", Path: v + "/movements/{id}/eta", Roles: rAlarmRead, Summary: "A movement's live progress and expected arrival", handle: s.handleETA},
	}
}

func (s *Server) alarms() (convoi.AlarmService, error) {
	if s.AlarmService == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Alarms are not available on this server.")
	}
	return s.AlarmService, nil
}

func (s *Server) handleListAlarms(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.alarms()
	if err != nil {
		return err
	}
	q := newQuery(r)
	f := convoi.AlarmFilter{
		MovementID: idParam[convoi.MovementID](q, "movement_id"),
		Rule:       enumParam(q, "rule", convoi.AlarmRule.Valid, convoi.AlarmRules),
		Since:      q.Time("since"),
		Page:       q.Page(),
	}
	// state is one of the states, or "active" for every unresolved alarm.
	if st := q.String("state"); st != nil {
		switch state := convoi.AlarmState(*st); {
		case *st == "active":
			f.Active = true
		case state.Valid():
			f.State = &state
		default:
			q.fail("Query parameter \"state\" must be active or one of %s.", joinStates())
		}
	}
	if sv := q.String("severity"); sv != nil {
		sev, err := convoi.ParseSeverity(*sv)
		if err != nil {
			q.fail("Query parameter \"severity\": %s", convoi.ErrorMessage(err))
		}
		f.Severity = &sev
	}
	if err := q.Err(); err != nil {
		return err
	}
	u := convoi.UserFromContext(r.Context())
	if u.Role == convoi.RoleCrew {
		id := u.OfficerID
		f.CrewMember = &id
	}
	as, n, err := svc.FindAlarms(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(as, n, f.Page))
	return nil
}

func joinStates() string {
	names := make([]string, len(convoi.AlarmStates))
	for i, s := range convoi.AlarmStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// loadAlarm returns the alarm of the {id} path value if the caller may see
// it: crew only their movements' alarms. An alarm the caller may not see
// does not exist for them (ENOTFOUND), as for movements.
func (s *Server) loadAlarm(r *http.Request) (convoi.AlarmService, *convoi.Alarm, error) {
	svc, err := s.alarms()
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	a, err := svc.FindAlarmByID(r.Context(), convoi.AlarmID(id))
	if err != nil {
		return nil, nil, err
	}
	u := convoi.UserFromContext(r.Context())
	if u.Role == convoi.RoleCrew {
		m, err := s.MovementService.FindMovementByID(r.Context(), a.MovementID)
		if err != nil || !u.CanSeeMovement(m) {
			return nil, nil, convoi.Errorf(convoi.ENOTFOUND, "Alarm not found.")
		}
	}
	return svc, a, nil
}

// alarmWithHistory is one alarm and its workflow, oldest step first.
type alarmWithHistory struct {
	*convoi.Alarm
	History []*convoi.AlarmTransition `json:"history"`
}

func (s *Server) handleGetAlarm(w http.ResponseWriter, r *http.Request) error {
	svc, a, err := s.loadAlarm(r)
	if err != nil {
		return err
	}
	h, err := svc.FindAlarmTransitions(r.Context(), a.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, alarmWithHistory{Alarm: a, History: h})
	return nil
}

// alarmStepBody is the body of POST /alarms/{id}/{step}; the body may be
// empty for acknowledge and escalate.
type alarmStepBody struct {
	Note       string                 `json:"note"`
	Resolution convoi.AlarmResolution `json:"resolution"`
}

// alarmStep applies one workflow step for the user of the request and
// answers with the alarm and its history. A step the alarm's state does not
// allow (already acknowledged by someone else, say) is 409 with who did it.
func (s *Server) alarmStep(act convoi.AlarmAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, a, err := s.loadAlarm(r)
		if err != nil {
			return err
		}
		var b alarmStepBody
		if err := decodeOptionalBody(r, &b); err != nil {
			return err
		}
		if _, err := convoi.ValidateAlarmStep(act, b.Resolution, b.Note); err != nil {
			return err
		}
		switch act {
		case convoi.AlarmActionAcknowledge:
			a, err = svc.AcknowledgeAlarm(r.Context(), a.ID, b.Note)
		case convoi.AlarmActionEscalate:
			a, err = svc.EscalateAlarm(r.Context(), a.ID, b.Note)
		default:
			a, err = svc.ResolveAlarm(r.Context(), a.ID, b.Resolution, b.Note)
		}
		if err != nil {
			return err
		}
		h, err := svc.FindAlarmTransitions(r.Context(), a.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, alarmWithHistory{Alarm: a, History: h})
		return nil
	}
}
