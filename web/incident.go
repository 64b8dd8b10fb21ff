package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/convoi/convoi"
)

// Role sets of the incident endpoints (issue 13). The commander runs the
// response: declares, updates and closes incidents, assigns and releases
// units. The control room reads everything and records the sightings it
// takes by phone or radio; auditors read. Planners, crew, liaison and
// admin have no part in it (deny by default).
var (
	rIncRead  = []convoi.Role{convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor}
	rIncWork  = []convoi.Role{convoi.RoleCommander}
	rIncSight = []convoi.Role{convoi.RoleControl, convoi.RoleCommander}
)

// incidentEndpoints are the incident endpoints, appended to the endpoint table.
func (s *Server) incidentEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/incidents", Roles: rIncRead, Summary: "List incidents, newest first", handle: s.handleListIncidents},
		{Method: "POST", Path: v + "/incidents", Roles: rIncWork, Summary: "Declare an incident from an alarm (which is resolved as incident_declared) or by hand", handle: s.handleDeclareIncident},
		{Method: "GET", Path: v + "/incidents/{id}", Roles: rIncRead, Summary: "Read an incident with its sightings and units", handle: s.handleGetIncident},
		{Method: "PATCH", Path: v + "/incidents/{id}", Roles: rIncWork, Summary: "Update an incident (place, time, vehicles sought, instructions) or close it", handle: s.handleUpdateIncident},
		{Method: "GET", Path: v + "/incidents/{id}/reachability", Roles: rIncRead, Summary: "Escape reachability areas (5/10/15/20 min by car), JSON or GeoJSON", handle: s.handleIncidentReachability},
		{Method: "GET", Path: v + "/incidents/{id}/plan", Roles: rIncRead, Summary: "The optimal roadblock plan for the available units", handle: s.handleIncidentPlan},
		{Method: "GET", Path: v + "/incidents/{id}/sightings", Roles: rIncRead, Summary: "An incident's sightings, oldest first", handle: s.handleListSightings},
		{Method: "POST", Path: v + "/incidents/{id}/sightings", Roles: rIncSight, Summary: "Record a sighting (place, time, confidence) and re-plan", handle: s.handleAddSighting},
		{Method: "POST", Path: v + "/incidents/{id}/units/{site}/assign", Roles: rIncWork, Summary: "Commit a police or gendarmerie unit to the incident", handle: s.unitStep(true)},
		{Method: "POST", Path: v + "/incidents/{id}/units/{site}/release", Roles: rIncWork, Summary: "Release a unit from the incident", handle: s.unitStep(false)},
		{Method: "GET", Path: v + "/incidents/{id}/alert", Roles: rIncRead, Summary: "The CAP 1.2 alert for partner forces (XML)", handle: s.handleIncidentAlert},
	}
}

func (s *Server) incidents() (convoi.IncidentService, error) {
	if s.IncidentService == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Incidents are not available on this server.")
	}
	return s.IncidentService, nil
}

func (s *Server) responder() (convoi.ResponseService, error) {
	if s.Response == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "The response engine is not available on this server (no road graph).")
	}
	return s.Response, nil
}

func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.incidents()
	if err != nil {
		return err
	}
	q := newQuery(r)
	f := convoi.IncidentFilter{
		State:      enumParam(q, "state", convoi.IncidentState.Valid, convoi.IncidentStates),
		MovementID: idParam[convoi.MovementID](q, "movement_id"),
		Page:       q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	l, n, err := svc.FindIncidents(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(l, n, f.Page))
	return nil
}

// declareBody is the body of POST /incidents. With alarm_id, the place,
// place name, attack time and movement default to the alarm's.
type declareBody struct {
	AlarmID        convoi.AlarmID    `json:"alarm_id"`
	MovementID     convoi.MovementID `json:"movement_id"`
	Place          *convoi.LatLon    `json:"place"`
	PlaceName      string            `json:"place_name"`
	AttackAt       *time.Time        `json:"attack_at"`
	VehiclesSought []string          `json:"vehicles_sought"`
	Instructions   string            `json:"instructions"`
	Note           string            `json:"note"` // for the alarm's resolution
}

func (s *Server) handleDeclareIncident(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.incidents()
	if err != nil {
		return err
	}
	var b declareBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	inc := &convoi.Incident{MovementID: b.MovementID, AlarmID: b.AlarmID, PlaceName: b.PlaceName,
		VehiclesSought: b.VehiclesSought, Instructions: b.Instructions}
	if b.Place != nil {
		inc.Place = *b.Place
	}
	if b.AttackAt != nil {
		inc.AttackAt = *b.AttackAt
	}
	var alarm *convoi.Alarm
	if b.AlarmID != 0 {
		as, err := s.alarms()
		if err != nil {
			return err
		}
		if alarm, err = as.FindAlarmByID(r.Context(), b.AlarmID); convoi.ErrorCode(err) == convoi.ENOTFOUND {
			return convoi.Errorf(convoi.EINVALID, "Alarm %d does not exist.", b.AlarmID)
		} else if err != nil {
			return err
		}
		if b.MovementID != 0 && b.MovementID != alarm.MovementID {
			return convoi.Errorf(convoi.EINVALID, "Alarm %d is about movement %d, not %d.", alarm.ID, alarm.MovementID, b.MovementID)
		}
		inc.MovementID = alarm.MovementID
		if b.Place == nil {
			inc.Place = alarm.Place
			if inc.PlaceName == "" {
				inc.PlaceName = alarm.PlaceName
			}
		}
		if b.AttackAt == nil {
			inc.AttackAt = alarm.FirstSeen
		}
		if alarm.State == convoi.AlarmResolved && alarm.Resolution != convoi.ResolutionIncident {
			return convoi.Errorf(convoi.ECONFLICT, "Alarm %d was resolved as %s: no incident can be declared from it.", alarm.ID, alarm.Resolution)
		}
	}
	if err := inc.Validate(); err != nil {
		return err
	}
	if alarm != nil && alarm.State != convoi.AlarmResolved {
		// Resolving moves the movement to incident (alarm service).
		note := b.Note
		if note == "" {
			note = "Incident declared by the commander."
		}
		if alarm, err = s.AlarmService.ResolveAlarm(r.Context(), alarm.ID, convoi.ResolutionIncident, note); err != nil {
			return err
		}
	}
	if err := svc.DeclareIncident(r.Context(), inc); err != nil {
		return err
	}
	s.publishIncident(inc, "declared", nil, nil)
	s.sendAlert(r.Context(), inc)
	writeJSON(w, http.StatusCreated, inc)
	return nil
}

// loadIncident returns the incident of the {id} path value.
func (s *Server) loadIncident(r *http.Request) (convoi.IncidentService, *convoi.Incident, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	inc, err := svc.FindIncidentByID(r.Context(), convoi.IncidentID(id))
	return svc, inc, err
}

// loadIncidentSightings returns the incident of the {id} path value and
// its sightings.
func (s *Server) loadIncidentSightings(r *http.Request) (convoi.IncidentService, *convoi.Incident, []*convoi.Sighting, error) {
	svc, inc, err := s.loadIncident(r)
	if err != nil {
		return nil, nil, nil, err
	}
	sg, err := svc.FindSightings(r.Context(), inc.ID)
	return svc, inc, sg, err
}

// incidentView is an incident with its sightings and unit assignments.
type incidentView struct {
	*convoi.Incident
	Sightings []*convoi.Sighting       `json:"sightings"`
	Units     []*convoi.UnitAssignment `json:"units"`
}

func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request) error {
	svc, inc, sg, err := s.loadIncidentSightings(r)
	if err != nil {
		return err
	}
	us, err := svc.FindUnitAssignments(r.Context(), convoi.UnitAssignmentFilter{IncidentID: &inc.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, incidentView{inc, sg, us})
	return nil
}

func (s *Server) handleUpdateIncident(w http.ResponseWriter, r *http.Request) error {
	svc, inc, err := s.loadIncident(r)
	if err != nil {
		return err
	}
	var upd convoi.IncidentUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	if inc, err = svc.UpdateIncident(r.Context(), inc.ID, upd); err != nil {
		return err
	}
	change := "updated"
	if inc.State == convoi.IncidentClosed {
		change = "closed"
	}
	s.publishIncident(inc, change, nil, nil)
	s.sendAlert(r.Context(), inc)
	writeJSON(w, http.StatusOK, inc)
	return nil
}

func (s *Server) handleIncidentReachability(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.responder()
	if err != nil {
		return err
	}
	q := newQuery(r)
	format := enumParam(q, "format", func(f string) bool { return f == "json" || f == "geojson" }, []string{"json", "geojson"})
	if err := q.Err(); err != nil {
		return err
	}
	_, inc, sg, err := s.loadIncidentSightings(r)
	if err != nil {
		return err
	}
	re, err := rs.Reachability(r.Context(), inc, sg)
	if err != nil {
		return err
	}
	if format != nil && *format == "geojson" {
		writeGeoJSON(w, re)
		return nil
	}
	writeJSON(w, http.StatusOK, re)
	return nil
}

// writeGeoJSON writes the bands as a FeatureCollection: one MultiPolygon
// feature per band (largest band first, so that smaller ones draw on top),
// and the From point.
func writeGeoJSON(w http.ResponseWriter, re *convoi.IncidentReachability) {
	type geom struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   geom           `json:"geometry"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	for i := len(re.Bands) - 1; i >= 0; i-- {
		b := re.Bands[i]
		polys := make([][][][2]float64, 0, len(b.Polygons))
		for _, ring := range b.Polygons {
			rr := make([][2]float64, len(ring))
			for k, p := range ring {
				rr[k] = [2]float64{p.Lon, p.Lat}
			}
			polys = append(polys, [][][2]float64{rr})
		}
		fc.Features = append(fc.Features, feature{"Feature",
			map[string]any{"kind": "reachability", "minutes": b.Minutes, "area_km2": b.AreaKm2},
			geom{"MultiPolygon", polys}})
	}
	fc.Features = append(fc.Features, feature{"Feature",
		map[string]any{"kind": "from", "label": re.FromLabel, "since": re.Since},
		geom{"Point", [2]float64{re.From.Lon, re.From.Lat}}})
	w.Header().Set("Content-Type", "application/geo+json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(fc)
}

func (s *Server) handleIncidentPlan(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.responder()
	if err != nil {
		return err
	}
	q := newQuery(r)
	lines := 0
	if n := q.Int64("routes"); n != nil {
		if *n < 0 || *n > convoi.MaxRouteLines {
			q.fail("Query parameter \"routes\" must be 0 to %d.", convoi.MaxRouteLines)
		} else {
			lines = int(*n)
		}
	}
	if err := q.Err(); err != nil {
		return err
	}
	_, inc, sg, err := s.loadIncidentSightings(r)
	if err != nil {
		return err
	}
	pl, err := rs.Plan(r.Context(), inc, sg, s.Now(), lines)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pl)
	return nil
}

func (s *Server) handleListSightings(w http.ResponseWriter, r *http.Request) error {
	_, _, sg, err := s.loadIncidentSightings(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sg)
	return nil
}

// sightingBody is the body of POST /incidents/{id}/sightings; time
// defaults to now, confidence to 1.
type sightingBody struct {
	Place      convoi.LatLon `json:"place"`
	PlaceName  string        `json:"place_name"`
	Time       *time.Time    `json:"time"`
	Confidence *float64      `json:"confidence"`
	Note       string        `json:"note"`
}

// sightingResult answers a sighting with the plan it leads to (null when
// the response engine is not available or cannot plan).
type sightingResult struct {
	Sighting  *convoi.Sighting         `json:"sighting"`
	Plan      *convoi.InterceptionPlan `json:"plan"`
	PlanError string                   `json:"plan_error,omitempty"`
}

func (s *Server) handleAddSighting(w http.ResponseWriter, r *http.Request) error {
	svc, inc, err := s.loadIncident(r)
	if err != nil {
		return err
	}
	var b sightingBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	sg := &convoi.Sighting{IncidentID: inc.ID, Place: b.Place, PlaceName: b.PlaceName, Note: b.Note, Confidence: 1, Time: s.Now()}
	if b.Time != nil {
		sg.Time = *b.Time
	}
	if b.Confidence != nil {
		sg.Confidence = *b.Confidence
	}
	if sg.Time.After(s.Now().Add(time.Minute)) {
		return convoi.Errorf(convoi.EINVALID, "A sighting cannot be in the future.")
	}
	if sg.Time.Before(inc.AttackAt) {
		return convoi.Errorf(convoi.EINVALID, "A sighting cannot be before the attack.")
	}
	if err := svc.AddSighting(r.Context(), sg); err != nil {
		return err
	}
	res := sightingResult{Sighting: sg}
	if inc, err = svc.FindIncidentByID(r.Context(), inc.ID); err != nil {
		return err
	}
	if rs, err := s.responder(); err == nil {
		all, err := svc.FindSightings(r.Context(), inc.ID)
		if err != nil {
			return err
		}
		if res.Plan, err = rs.Plan(r.Context(), inc, all, s.Now(), 0); err != nil {
			// The sighting is stored; say why there is no plan.
			res.PlanError = convoi.ErrorMessage(err)
			res.Plan = nil
		}
	}
	s.publishIncident(inc, "sighting", sg, nil)
	s.sendAlert(r.Context(), inc)
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// unitStep assigns or releases the unit of the {site} path value.
func (s *Server) unitStep(assign bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, inc, err := s.loadIncident(r)
		if err != nil {
			return err
		}
		site, err := strconv.ParseInt(r.PathValue("site"), 10, 64)
		if err != nil || site <= 0 {
			return convoi.Errorf(convoi.EINVALID, "Site ID must be a positive integer.")
		}
		var b struct {
			Note string `json:"note"`
		}
		if err := decodeOptionalBody(r, &b); err != nil {
			return err
		}
		var a *convoi.UnitAssignment
		change := "unit_assigned"
		if assign {
			a, err = svc.AssignUnit(r.Context(), inc.ID, convoi.SiteID(site), b.Note)
		} else {
			change = "unit_released"
			a, err = svc.ReleaseUnit(r.Context(), inc.ID, convoi.SiteID(site), b.Note)
		}
		if err != nil {
			return err
		}
		if inc, err = svc.FindIncidentByID(r.Context(), inc.ID); err != nil {
			return err
		}
		s.publishIncident(inc, change, nil, a)
		writeJSON(w, http.StatusOK, a)
		return nil
	}
}

func (s *Server) handleIncidentAlert(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.responder()
	if err != nil {
		return err
	}
	_, inc, sg, err := s.loadIncidentSightings(r)
	if err != nil {
		return err
	}
	doc, err := rs.Alert(r.Context(), inc, sg)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/cap+xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
	return nil
}

// publishIncident puts an incident change on the event stream.
func (s *Server) publishIncident(inc *convoi.Incident, change string, sg *convoi.Sighting, u *convoi.UnitAssignment) {
	if s.EventService == nil || inc == nil {
		return
	}
	s.EventService.PublishEvent(convoi.Event{Type: convoi.EventTypeIncident,
		Incident: &convoi.IncidentEvent{Change: change, Incident: inc, Sighting: sg, Unit: u}})
}

// sendAlert hands the incident's alert to the outbox, if there is one.
func (s *Server) sendAlert(ctx context.Context, inc *convoi.Incident) {
	if s.Alerts == nil || inc == nil {
		return
	}
	if err := s.Alerts.SendIncidentAlert(ctx, inc); err != nil {
		s.Logger.LogAttrs(ctx, slog.LevelError, "incident alert not sent",
			slog.Int64("incident_id", int64(inc.ID)), slog.String("error", convoi.ErrorMessage(err)))
	}
}
