package web

import (
	"context"
	"net/http"
	"time"

	"github.com/convoi/convoi"
)

// Create requests name exactly the fields a caller sets, so that strict
// decoding rejects attempts to set id, author or timestamps.

type siteCreate struct {
	Kind     convoi.SiteKind `json:"kind"`
	Name     string          `json:"name"`
	Location convoi.LatLon   `json:"location"`
	Entry    convoi.LatLon   `json:"entry"`
	Address  string          `json:"address"`
}

func (s *Server) handleListSites(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.SiteFilter{
		Kind: enumParam(q, "kind", convoi.SiteKind.Valid, convoi.SiteKinds),
		Name: q.String("name"),
		Page: q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.SiteService.FindSites(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(xs, n, f.Page))
	return nil
}

func (s *Server) handleGetSite(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.SiteService.FindSiteByID(r.Context(), convoi.SiteID(id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

func (s *Server) handleCreateSite(w http.ResponseWriter, r *http.Request) error {
	var req siteCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Site{Kind: req.Kind, Name: req.Name, Location: req.Location, Entry: req.Entry, Address: req.Address}
	if err := x.Validate(); err != nil {
		return err
	}
	if err := s.SiteService.CreateSite(r.Context(), x); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

func (s *Server) handleUpdateSite(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var upd convoi.SiteUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	for _, p := range []*convoi.LatLon{upd.Location, upd.Entry} {
		if p != nil {
			if err := p.Validate(); err != nil {
				return err
			}
		}
	}
	x, err := s.SiteService.UpdateSite(r.Context(), convoi.SiteID(id), upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

type detaineeCreate struct {
	Name        string             `json:"name"`
	Aliases     []string           `json:"aliases"`
	BirthDate   string             `json:"birth_date"`
	LegalStatus convoi.LegalStatus `json:"legal_status"`
	SiteID      convoi.SiteID      `json:"site_id"`
	Risk        convoi.RiskRecord  `json:"risk"`
}

func (s *Server) handleListDetainees(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.DetaineeFilter{
		SiteID: idParam[convoi.SiteID](q, "site_id"),
		Name:   q.String("name"),
		DPS:    q.Bool("dps"),
		Page:   q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.DetaineeService.FindDetainees(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(xs, n, f.Page))
	return nil
}

func (s *Server) handleGetDetainee(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	u := convoi.UserFromContext(r.Context())
	did := convoi.DetaineeID(id)
	if u.Role == convoi.RoleLiaison {
		// Court and hospital staff must know who is arriving: the identity
		// of a detainee with a movement to or from their site, nothing else.
		ok, err := s.hasMovement(r.Context(), u, convoi.MovementFilter{DetaineeID: &did}, nil)
		if err != nil {
			return err
		}
		if !ok {
			return errDetaineeNotFound
		}
	}
	x, err := s.DetaineeService.FindDetaineeByID(r.Context(), did)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return errDetaineeNotFound
	} else if err != nil {
		return err
	}
	if u.Role == convoi.RoleLiaison {
		writeJSON(w, http.StatusOK, x.Identity())
		return nil
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

var (
	errDetaineeNotFound = convoi.Errorf(convoi.ENOTFOUND, "Detainee not found.")
	errVehicleNotFound  = convoi.Errorf(convoi.ENOTFOUND, "Vehicle not found.")
	errOfficerNotFound  = convoi.Errorf(convoi.ENOTFOUND, "Officer not found.")
)

// hasMovement reports whether u may see at least one movement, not
// cancelled, completed or aborted, that matches f. It is the object rule of
// the records a crew or liaison user reaches through their movements.
// When match is set, a movement must also satisfy it.
func (s *Server) hasMovement(ctx context.Context, u *convoi.User, f convoi.MovementFilter, match func(*convoi.Movement) bool) (bool, error) {
	if !u.ScopeMovements(&f) {
		return false, nil
	}
	f.Page = convoi.Page{Limit: convoi.MaxPageLimit}
	for {
		ms, total, err := s.MovementService.FindMovements(ctx, f)
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			if !m.State.Terminal() && u.CanSeeMovement(m) && (match == nil || match(m)) {
				return true, nil
			}
		}
		f.Offset += len(ms)
		if len(ms) == 0 || f.Offset >= total {
			return false, nil
		}
	}
}

func (s *Server) handleCreateDetainee(w http.ResponseWriter, r *http.Request) error {
	var req detaineeCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Detainee{Name: req.Name, Aliases: req.Aliases, BirthDate: req.BirthDate,
		LegalStatus: req.LegalStatus, SiteID: req.SiteID, Risk: req.Risk}
	if err := x.Validate(); err != nil {
		return err
	}
	if err := s.DetaineeService.CreateDetainee(r.Context(), x); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

func (s *Server) handleUpdateDetainee(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var upd convoi.DetaineeUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	x, err := s.DetaineeService.UpdateDetainee(r.Context(), convoi.DetaineeID(id), upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

type intelCreate struct {
	DetaineeID convoi.DetaineeID `json:"detainee_id"`
	ObservedAt time.Time         `json:"observed_at"`
	Grading    convoi.Grading    `json:"grading"`
	Kind       convoi.IntelKind  `json:"kind"`
	Text       string            `json:"text"`
}

func (s *Server) handleListIntel(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.IntelFilter{
		DetaineeID:    idParam[convoi.DetaineeID](q, "detainee_id"),
		ObservedSince: q.Time("observed_since"),
		Page:          q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.IntelService.FindIntel(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(xs, n, f.Page))
	return nil
}

func (s *Server) handleGetIntel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.IntelService.FindIntelByID(r.Context(), convoi.IntelID(id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

func (s *Server) handleCreateIntel(w http.ResponseWriter, r *http.Request) error {
	var req intelCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Intel{DetaineeID: req.DetaineeID, ObservedAt: req.ObservedAt, Grading: req.Grading, Kind: req.Kind, Text: req.Text}
	if err := x.Validate(); err != nil {
		return err
	}
	if x.ObservedAt.After(s.Now().Add(5 * time.Minute)) {
		return convoi.Errorf(convoi.EINVALID, "Intelligence observed_at must not be in the future.")
	}
	if err := s.IntelService.CreateIntel(r.Context(), x); err != nil {
		return err
	}
	// The entry is stored whatever happens next: a failed re-assessment is
	// logged (never with the entry's text) and the planners see the entry.
	if s.Risk != nil {
		if _, err := s.Risk.OnIntel(r.Context(), x); err != nil {
			s.Logger.Error("re-assessment after intelligence failed", "intel_id", x.ID, "detainee_id", x.DetaineeID, "error", err)
		}
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

type vehicleCreate struct {
	Registration string              `json:"registration"`
	Class        convoi.VehicleClass `json:"class"`
	Capacity     int                 `json:"capacity"`
	SiteID       convoi.SiteID       `json:"site_id"`
}

func (s *Server) handleListVehicles(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.VehicleFilter{
		Registration: q.String("registration"),
		Class:        enumParam(q, "class", convoi.VehicleClass.Valid, convoi.VehicleClasses),
		SiteID:       idParam[convoi.SiteID](q, "site_id"),
		Page:         q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.VehicleService.FindVehicles(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(xs, n, f.Page))
	return nil
}

func (s *Server) handleGetVehicle(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	vid := convoi.VehicleID(id)
	if u := convoi.UserFromContext(r.Context()); u.Role == convoi.RoleCrew {
		// Crew read the vehicles of their own current movements.
		ok, err := s.hasMovement(r.Context(), u, convoi.MovementFilter{Vehicle: &vid}, nil)
		if err != nil {
			return err
		}
		if !ok {
			return errVehicleNotFound
		}
	}
	x, err := s.VehicleService.FindVehicleByID(r.Context(), vid)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return errVehicleNotFound
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

func (s *Server) handleCreateVehicle(w http.ResponseWriter, r *http.Request) error {
	var req vehicleCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Vehicle{Registration: req.Registration, Class: req.Class, Capacity: req.Capacity, SiteID: req.SiteID}
	if err := x.Validate(); err != nil {
		return err
	}
	if err := s.VehicleService.CreateVehicle(r.Context(), x); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

func (s *Server) handleUpdateVehicle(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var upd convoi.VehicleUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	x, err := s.VehicleService.UpdateVehicle(r.Context(), convoi.VehicleID(id), upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

type officerCreate struct {
	Name           string                 `json:"name"`
	Unit           string                 `json:"unit"`
	Qualifications []convoi.Qualification `json:"qualifications"`
	SiteID         convoi.SiteID          `json:"site_id"`
}

func (s *Server) handleListOfficers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.OfficerFilter{
		Unit:          q.String("unit"),
		SiteID:        idParam[convoi.SiteID](q, "site_id"),
		Qualification: enumParam(q, "qualification", convoi.Qualification.Valid, convoi.Qualifications),
		Page:          q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.OfficerService.FindOfficers(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(xs, n, f.Page))
	return nil
}

func (s *Server) handleGetOfficer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	oid := convoi.OfficerID(id)
	if u := convoi.UserFromContext(r.Context()); u.Role == convoi.RoleCrew && u.OfficerID != oid {
		// Crew read their crewmates on their own current movements.
		ok, err := s.hasMovement(r.Context(), u, convoi.MovementFilter{}, func(m *convoi.Movement) bool { return m.HasCrewMember(oid) })
		if err != nil {
			return err
		}
		if !ok {
			return errOfficerNotFound
		}
	}
	x, err := s.OfficerService.FindOfficerByID(r.Context(), oid)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return errOfficerNotFound
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

func (s *Server) handleCreateOfficer(w http.ResponseWriter, r *http.Request) error {
	var req officerCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Officer{Name: req.Name, Unit: req.Unit, Qualifications: req.Qualifications, SiteID: req.SiteID}
	if err := x.Validate(); err != nil {
		return err
	}
	if err := s.OfficerService.CreateOfficer(r.Context(), x); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

func (s *Server) handleUpdateOfficer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var upd convoi.OfficerUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	x, err := s.OfficerService.UpdateOfficer(r.Context(), convoi.OfficerID(id), upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

type trackerCreate struct {
	DeviceID  convoi.DeviceID  `json:"device_id"`
	Protocol  convoi.Protocol  `json:"protocol"`
	Model     string           `json:"model"`
	VehicleID convoi.VehicleID `json:"vehicle_id"`
	OfficerID convoi.OfficerID `json:"officer_id"`
	Disabled  bool             `json:"disabled"`
}

func (s *Server) handleListTrackers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.TrackerFilter{
		Protocol:  enumParam(q, "protocol", convoi.Protocol.Valid, convoi.Protocols),
		VehicleID: idParam[convoi.VehicleID](q, "vehicle_id"),
		OfficerID: idParam[convoi.OfficerID](q, "officer_id"),
		Page:      q.Page(),
	}
	if d := q.String("device_id"); d != nil {
		id := convoi.DeviceID(*d)
		f.DeviceID = &id
	}
	if err := q.Err(); err != nil {
		return err
	}
	xs, n, err := s.TrackerService.FindTrackers(r.Context(), f)
	if err != nil {
		return err
	}
	vs, err := s.trackerViews(r.Context(), convoi.UserFromContext(r.Context()), xs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(vs, n, f.Page))
	return nil
}

func (s *Server) handleGetTracker(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.TrackerService.FindTrackerByID(r.Context(), convoi.TrackerID(id))
	if err != nil {
		return err
	}
	vs, err := s.trackerViews(r.Context(), convoi.UserFromContext(r.Context()), []*convoi.Tracker{x})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &vs[0])
	return nil
}

func (s *Server) handleCreateTracker(w http.ResponseWriter, r *http.Request) error {
	var req trackerCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	x := &convoi.Tracker{DeviceID: req.DeviceID, Protocol: req.Protocol, Model: req.Model,
		VehicleID: req.VehicleID, OfficerID: req.OfficerID, Disabled: req.Disabled}
	if err := x.Validate(); err != nil {
		return err
	}
	if err := s.TrackerService.CreateTracker(r.Context(), x); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

func (s *Server) handleUpdateTracker(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var upd convoi.TrackerUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	x, err := s.TrackerService.UpdateTracker(r.Context(), convoi.TrackerID(id), upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

type trackerCommand struct {
	Command string `json:"command"`
}

type trackerCommandResponse struct {
	DeviceID convoi.DeviceID `json:"device_id"`
	Response string          `json:"response"`
}

// maxCommandLen bounds a Codec 12 command's text.
const maxCommandLen = 512

func (s *Server) handleTrackerCommand(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req trackerCommand
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if len(req.Command) == 0 || len(req.Command) > maxCommandLen || !printableASCII(req.Command) {
		return convoi.Errorf(convoi.EINVALID, "command must be 1-%d printable ASCII characters.", maxCommandLen)
	}
	// Every command, refused or sent, is in the audit log by its name.
	noteAudit(r.Context(), "command "+commandName(req.Command))
	if err := convoi.CheckDeviceCommand(convoi.UserFromContext(r.Context()).Role, req.Command); err != nil {
		return err
	}
	t, err := s.TrackerService.FindTrackerByID(r.Context(), convoi.TrackerID(id))
	if err != nil {
		return err
	}
	if s.Commander == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Device commands are not available on this server.")
	}
	if t.Protocol != convoi.ProtocolTeltonika {
		return convoi.Errorf(convoi.EINVALID, "Commands can only be sent to Teltonika trackers.")
	}
	if t.Disabled {
		return convoi.Errorf(convoi.ECONFLICT, "Tracker is disabled.")
	}
	// The audit hook for tracker commands (issue 12 E3 may record more,
	// such as the command's arguments once their secrets are masked).
	resp, err := s.Commander.SendCommand(r.Context(), t.DeviceID, req.Command)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &trackerCommandResponse{DeviceID: t.DeviceID, Response: resp})
	return nil
}
