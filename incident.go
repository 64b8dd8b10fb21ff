package convoi

import (
	"context"
	"math"
	"strings"
	"time"
)

// IncidentID identifies an incident; SightingID a sighting.
type (
	IncidentID int64
	SightingID int64
)

// IncidentState is where the response to an incident stands.
type IncidentState string

const (
	IncidentActive IncidentState = "active" // the response is under way
	IncidentClosed IncidentState = "closed" // the commander closed it
)

// IncidentStates lists every valid state.
var IncidentStates = []IncidentState{IncidentActive, IncidentClosed}

// Valid reports whether s is one of IncidentStates.
func (s IncidentState) Valid() bool { return validEnum(s, IncidentStates) }

// Incident is an attack on an escort (or any event that starts a manhunt)
// and the response to it, declared by a commander from an alarm or by
// hand. Its attack point and time anchor the escape reachability and the
// fugitive routes; the vehicles sought and the instructions go out to the
// partner forces in CAP alerts. It holds nothing of the movement's
// schedule: the movement is referenced by ID only.
type Incident struct {
	ID IncidentID `json:"id"`
	// MovementID and AlarmID are the movement hit and the alarm the
	// incident was declared from; zero when declared by hand.
	MovementID MovementID `json:"movement_id,omitempty"`
	AlarmID    AlarmID    `json:"alarm_id,omitempty"`
	// Place and AttackAt are where and when the attack happened.
	Place     LatLon    `json:"place"`
	PlaceName string    `json:"place_name"`
	AttackAt  time.Time `json:"attack_at"`
	// VehiclesSought describes the attackers' vehicles, one line each
	// ("dark grey Peugeot 5008, AB-123-CD").
	VehiclesSought []string `json:"vehicles_sought"`
	// Instructions are what partner forces are asked to do.
	Instructions string        `json:"instructions"`
	State        IncidentState `json:"state"`
	DeclaredBy   UserID        `json:"declared_by"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	// Version counts the writes (declaration 1; each update, sighting,
	// unit assignment or release adds one): the CAP alert sequence.
	Version int `json:"version"`
}

// Limits on incident text.
const (
	MaxVehiclesSought = 10
	MaxIncidentText   = 2000
)

// Validate checks the fields a caller sets.
func (i *Incident) Validate() error {
	if err := i.Place.Validate(); err != nil {
		return err
	}
	if i.Place.IsZero() {
		return Errorf(EINVALID, "The attack place is required.")
	}
	if i.AttackAt.IsZero() {
		return Errorf(EINVALID, "The attack time is required.")
	}
	if len(i.VehiclesSought) > MaxVehiclesSought {
		return Errorf(EINVALID, "At most %d vehicles sought.", MaxVehiclesSought)
	}
	for k, v := range i.VehiclesSought {
		if strings.TrimSpace(v) == "" || len(v) > 200 {
			return Errorf(EINVALID, "vehicles_sought[%d] must be 1 to 200 characters.", k)
		}
	}
	if len(i.Instructions) > MaxIncidentText || len(i.PlaceName) > 200 {
		return Errorf(EINVALID, "Instructions (at most %d characters) or place name (200) too long.", MaxIncidentText)
	}
	if i.State != "" && !i.State.Valid() {
		return Errorf(EINVALID, "Incident state must be one of %s.", joinEnum(IncidentStates))
	}
	return nil
}

// IncidentFilter selects incidents; nil fields match all.
type IncidentFilter struct {
	State      *IncidentState
	MovementID *MovementID
	Page       Page
}

// IncidentUpdate changes an active incident; nil fields stay. Closing
// (State closed) is final.
type IncidentUpdate struct {
	Place          *LatLon        `json:"place"`
	PlaceName      *string        `json:"place_name"`
	AttackAt       *time.Time     `json:"attack_at"`
	VehiclesSought *[]string      `json:"vehicles_sought"`
	Instructions   *string        `json:"instructions"`
	State          *IncidentState `json:"state"`
}

// Validate checks what Incident.Validate cannot see once applied: a state
// given must be one of IncidentStates (not empty).
func (upd IncidentUpdate) Validate() error {
	if upd.State != nil && !upd.State.Valid() {
		return Errorf(EINVALID, "Incident state must be one of %s.", joinEnum(IncidentStates))
	}
	return nil
}

// Apply sets the non-nil fields of upd on i.
func (upd IncidentUpdate) Apply(i *Incident) {
	setIf(&i.Place, upd.Place)
	setIf(&i.PlaceName, upd.PlaceName)
	setIf(&i.AttackAt, upd.AttackAt)
	setIf(&i.VehiclesSought, upd.VehiclesSought)
	setIf(&i.Instructions, upd.Instructions)
	setIf(&i.State, upd.State)
}

// Sighting is a report of the attackers: where, when, and how sure the
// reporter is (confidence in (0, 1]).
type Sighting struct {
	ID         SightingID `json:"id"`
	IncidentID IncidentID `json:"incident_id"`
	Place      LatLon     `json:"place"`
	PlaceName  string     `json:"place_name"`
	Time       time.Time  `json:"time"`
	Confidence float64    `json:"confidence"`
	Note       string     `json:"note"`
	RecordedBy UserID     `json:"recorded_by"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Validate checks the fields a caller sets.
func (s *Sighting) Validate() error {
	if err := s.Place.Validate(); err != nil {
		return err
	}
	if s.Place.IsZero() {
		return Errorf(EINVALID, "The sighting's place is required.")
	}
	if s.Time.IsZero() {
		return Errorf(EINVALID, "The sighting's time is required.")
	}
	if math.IsNaN(s.Confidence) || s.Confidence <= 0 || s.Confidence > 1 {
		return Errorf(EINVALID, "Confidence must be in (0, 1].")
	}
	if len(s.Note) > MaxIncidentText || len(s.PlaceName) > 200 {
		return Errorf(EINVALID, "Note (at most %d characters) or place name (200) too long.", MaxIncidentText)
	}
	return nil
}

// UnitState is whether a unit is committed to an incident.
type UnitState string

const (
	UnitAssigned UnitState = "assigned"
	UnitReleased UnitState = "released"
)

// UnitAssignment records a police or gendarmerie unit (its post, a site of
// kind police or gendarmerie) committed to an incident by a commander, and
// its release. A unit is assigned to at most one active incident at a
// time; the rows are kept as the record.
type UnitAssignment struct {
	ID         int64      `json:"id"`
	IncidentID IncidentID `json:"incident_id"`
	SiteID     SiteID     `json:"site_id"`
	State      UnitState  `json:"state"`
	Note       string     `json:"note"`
	AssignedBy UserID     `json:"assigned_by"`
	AssignedAt time.Time  `json:"assigned_at"`
	ReleasedBy UserID     `json:"released_by,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// UnitAssignmentFilter selects assignments; nil fields match all.
type UnitAssignmentFilter struct {
	IncidentID *IncidentID
	SiteID     *SiteID
	Active     bool // only units still assigned
}

// IncidentService stores incidents, their sightings and unit assignments.
// Every write records its author (the user in ctx) and bumps the
// incident's Version; a write to a closed incident is ECONFLICT.
type IncidentService interface {
	// DeclareIncident stores a new active incident (Version 1). A missing
	// movement or alarm is EINVALID; an alarm that already has an incident
	// is ECONFLICT.
	DeclareIncident(ctx context.Context, i *Incident) error
	FindIncidentByID(ctx context.Context, id IncidentID) (*Incident, error)
	// FindIncidents lists incidents newest first, and the number of matches.
	FindIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, int, error)
	UpdateIncident(ctx context.Context, id IncidentID, upd IncidentUpdate) (*Incident, error)
	// AddSighting stores a sighting of an active incident.
	AddSighting(ctx context.Context, s *Sighting) error
	// FindSightings returns an incident's sightings, oldest first (by time,
	// then ID).
	FindSightings(ctx context.Context, id IncidentID) ([]*Sighting, error)
	// AssignUnit commits the unit of a police or gendarmerie site to an
	// active incident: EINVALID for another kind of site, ECONFLICT when
	// the unit is assigned to an incident already.
	AssignUnit(ctx context.Context, id IncidentID, site SiteID, note string) (*UnitAssignment, error)
	// ReleaseUnit frees a unit assigned to the incident; ENOTFOUND when it
	// is not assigned to it.
	ReleaseUnit(ctx context.Context, id IncidentID, site SiteID, note string) (*UnitAssignment, error)
	// FindUnitAssignments lists assignments by ID.
	FindUnitAssignments(ctx context.Context, f UnitAssignmentFilter) ([]*UnitAssignment, error)
}

// IncidentEvent is an incident change on the event stream: Change is
// declared, updated, sighting, unit_assigned, unit_released or closed.
type IncidentEvent struct {
	Change   string          `json:"change"`
	Incident *Incident       `json:"incident"`
	Sighting *Sighting       `json:"sighting,omitempty"`
	Unit     *UnitAssignment `json:"unit,omitempty"`
}
