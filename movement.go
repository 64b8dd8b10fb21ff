package convoi

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Purpose is why a detainee is moved.
type Purpose string

const (
	PurposeCourtAppearance Purpose = "court_appearance"
	PurposeJudgeHearing    Purpose = "judge_hearing" // juge d'instruction
	PurposeMedical         Purpose = "medical"
	PurposeTransfer        Purpose = "transfer"
)

// Purposes lists every valid purpose.
var Purposes = []Purpose{PurposeCourtAppearance, PurposeJudgeHearing, PurposeMedical, PurposeTransfer}

// Valid reports whether p is one of Purposes.
func (p Purpose) Valid() bool { return validEnum(p, Purposes) }

// MovementState is where a movement is in its life.
type MovementState string

const (
	StateRequested MovementState = "requested"
	StateAssessed  MovementState = "assessed"
	StatePlanned   MovementState = "planned"
	StateReleased  MovementState = "released"
	StateUnderway  MovementState = "underway"
	StateCompleted MovementState = "completed"
	StateCancelled MovementState = "cancelled"
	StateAborted   MovementState = "aborted"
	StateIncident  MovementState = "incident"
)

// MovementStates lists every state.
var MovementStates = []MovementState{StateRequested, StateAssessed, StatePlanned, StateReleased,
	StateUnderway, StateCompleted, StateCancelled, StateAborted, StateIncident}

// Valid reports whether s is one of MovementStates.
func (s MovementState) Valid() bool { return validEnum(s, MovementStates) }

// Terminal reports whether no action leads out of s.
func (s MovementState) Terminal() bool {
	return s == StateCompleted || s == StateCancelled || s == StateAborted
}

// Action is an explicit transition request, as in POST /movements/{id}/{action}.
type Action string

const (
	ActionAssess   Action = "assess"
	ActionPlan     Action = "plan"
	ActionRelease  Action = "release"
	ActionStart    Action = "start"
	ActionComplete Action = "complete"
	ActionCancel   Action = "cancel"
	ActionAbort    Action = "abort"
	ActionIncident Action = "incident"
	ActionResume   Action = "resume" // a commander stands an incident down: the escort goes on
)

// Actions lists every action.
var Actions = []Action{ActionAssess, ActionPlan, ActionRelease, ActionStart, ActionComplete, ActionCancel, ActionAbort, ActionIncident, ActionResume}

// ActionUpdate is not an action but the kind of the history record that a
// change outside transitions (PATCH) leaves: its state does not change and
// its reason lists the fields changed.
const ActionUpdate Action = "update"

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return validEnum(a, Actions) }

// transitionRule says that Action leads from any of From to To.
type transitionRule struct {
	Action Action
	From   []MovementState
	To     MovementState
}

// transitionRules is the movement state machine as data. Re-assessing and
// re-planning are allowed until the movement is underway: new intelligence
// can always send a released movement back. An incident ends in one of three
// ways: the escort resumes (a false alarm, stood down by a commander with a
// reason), completes, or is aborted.
var transitionRules = []transitionRule{
	{ActionAssess, []MovementState{StateRequested, StateAssessed, StatePlanned, StateReleased}, StateAssessed},
	{ActionPlan, []MovementState{StateAssessed, StatePlanned}, StatePlanned},
	{ActionRelease, []MovementState{StatePlanned}, StateReleased},
	{ActionStart, []MovementState{StateReleased}, StateUnderway},
	{ActionComplete, []MovementState{StateUnderway, StateIncident}, StateCompleted},
	{ActionCancel, []MovementState{StateRequested, StateAssessed, StatePlanned, StateReleased}, StateCancelled},
	{ActionAbort, []MovementState{StateReleased, StateUnderway, StateIncident}, StateAborted},
	{ActionIncident, []MovementState{StateUnderway}, StateIncident},
	{ActionResume, []MovementState{StateIncident}, StateUnderway},
}

// NextState returns the state that action a leads to from s, or an EINVALID
// error naming the states it is allowed from.
func NextState(s MovementState, a Action) (MovementState, error) {
	for _, r := range transitionRules {
		if r.Action != a {
			continue
		}
		if validEnum(s, r.From) {
			return r.To, nil
		}
		return "", Errorf(ECONFLICT, "Cannot %s: the movement is %s (allowed from: %s).", actionPhrase[a], s, joinEnum(r.From))
	}
	return "", Errorf(EINVALID, "Unknown action %q.", a)
}

// CancelReason explains a cancellation.
type CancelReason string

const (
	CancelVideoHearing     CancelReason = "video_hearing_used"
	CancelMagistrateVisit  CancelReason = "magistrate_at_prison"
	CancelHearingAdjourned CancelReason = "hearing_adjourned"
	CancelSecurity         CancelReason = "security"
	CancelOther            CancelReason = "other"
)

// CancelReasons lists every cancellation reason.
var CancelReasons = []CancelReason{CancelVideoHearing, CancelMagistrateVisit, CancelHearingAdjourned, CancelSecurity, CancelOther}

// Valid reports whether r is one of CancelReasons.
func (r CancelReason) Valid() bool { return validEnum(r, CancelReasons) }

// Movement is one escorted journey of one detainee.
//
// PlannedDeparture and Route are schedule details: they are released on a
// need-to-know basis (liaison users never see them; see View and ForLiaison).
type Movement struct {
	ID               MovementID    `json:"id"`
	Ref              string        `json:"ref"` // human-readable, unique, e.g. "MC-2026-0042"
	DetaineeID       DetaineeID    `json:"detainee_id"`
	FromSiteID       SiteID        `json:"from_site_id"`
	ToSiteID         SiteID        `json:"to_site_id"`
	Purpose          Purpose       `json:"purpose"`
	AppointmentAt    time.Time     `json:"appointment_at"`
	Requester        string        `json:"requester"`
	State            MovementState `json:"state"`
	CancelReason     CancelReason  `json:"cancel_reason,omitempty"`
	EscortLevel      EscortLevel   `json:"escort_level,omitempty"` // 0 until assessed
	Crew             []OfficerID   `json:"crew"`
	Vehicles         []VehicleID   `json:"vehicles"`
	PlannedDeparture *time.Time    `json:"planned_departure,omitempty"`
	Route            *RouteSummary `json:"route,omitempty"`
	Version          int           `json:"version"` // incremented on every write
	CreatedBy        UserID        `json:"created_by"`
	UpdatedBy        UserID        `json:"updated_by"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// RouteSummary is the part of a plan an escort crew drives: the chosen
// route's geometry and figures. Schedule-sensitive.
type RouteSummary struct {
	Geometry    []LatLon `json:"geometry"`
	DistanceM   float64  `json:"distance_m"`
	DurationS   float64  `json:"duration_s"`
	Chokepoints []string `json:"chokepoints,omitempty"`
}

var refPattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{2,31}$`)

// Validate checks the fields a caller sets on creation.
func (m *Movement) Validate() error {
	if err := validateTexts(textField{"Movement requester", m.Requester, MaxNameLen}); err != nil {
		return err
	}
	if !refPattern.MatchString(m.Ref) {
		return Errorf(EINVALID, "Movement ref must be 3-32 upper-case letters, digits or dashes.")
	}
	if m.DetaineeID == 0 || m.FromSiteID == 0 || m.ToSiteID == 0 {
		return Errorf(EINVALID, "Movement detainee_id, from_site_id and to_site_id required.")
	}
	if m.FromSiteID == m.ToSiteID {
		return Errorf(EINVALID, "Movement origin and destination must differ.")
	}
	if !m.Purpose.Valid() {
		return Errorf(EINVALID, "Purpose must be one of %s.", joinEnum(Purposes))
	}
	if m.AppointmentAt.IsZero() {
		return Errorf(EINVALID, "Movement appointment_at required.")
	}
	if strings.TrimSpace(m.Requester) == "" {
		return Errorf(EINVALID, "Movement requester required.")
	}
	if m.EscortLevel != 0 && !m.EscortLevel.Valid() {
		return Errorf(EINVALID, "Escort level must be between 1 and 4.")
	}
	if m.PlannedDeparture != nil && !m.PlannedDeparture.Before(m.AppointmentAt) {
		return Errorf(EINVALID, "The planned departure must be before the appointment.")
	}
	if m.Crew == nil {
		m.Crew = []OfficerID{}
	}
	if m.Vehicles == nil {
		m.Vehicles = []VehicleID{}
	}
	return nil
}

// HasCrewMember reports whether officer o is assigned to the movement.
func (m *Movement) HasCrewMember(o OfficerID) bool {
	return o != 0 && validEnum(o, m.Crew)
}

// Touches reports whether the movement starts or ends at site s.
func (m *Movement) Touches(s SiteID) bool { return s != 0 && (m.FromSiteID == s || m.ToSiteID == s) }

// MovementFilter selects movements. CrewMember and Site are how per-object
// rules are enforced in listings.
type MovementFilter struct {
	ID              *MovementID
	Ref             *string
	DetaineeID      *DetaineeID
	State           *MovementState
	Site            *SiteID    // from or to
	CrewMember      *OfficerID // assigned officer
	Vehicle         *VehicleID // assigned vehicle
	AppointmentFrom *time.Time
	AppointmentTo   *time.Time
	Page
}

// MovementUpdate holds the fields a planner may change outside of transitions.
// State is only changed by TransitionMovement.
type MovementUpdate struct {
	Purpose          *Purpose      `json:"purpose"`
	AppointmentAt    *time.Time    `json:"appointment_at"`
	Requester        *string       `json:"requester"`
	Crew             *[]OfficerID  `json:"crew"`
	Vehicles         *[]VehicleID  `json:"vehicles"`
	EscortLevel      *EscortLevel  `json:"escort_level"`
	PlannedDeparture *time.Time    `json:"planned_departure"`
	Route            *RouteSummary `json:"route"`
	// Version, when non-zero, must equal the stored version (optimistic locking).
	Version int `json:"version"`
	// Reason is stored with the history record of the change (optional).
	Reason string `json:"reason"`
}

// Fields lists the JSON names of the fields upd sets, for the history
// record of the change.
func (upd MovementUpdate) Fields() []string {
	var f []string
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"purpose", upd.Purpose != nil}, {"appointment_at", upd.AppointmentAt != nil}, {"requester", upd.Requester != nil},
		{"crew", upd.Crew != nil}, {"vehicles", upd.Vehicles != nil}, {"escort_level", upd.EscortLevel != nil},
		{"planned_departure", upd.PlannedDeparture != nil}, {"route", upd.Route != nil},
	} {
		if x.set {
			f = append(f, x.name)
		}
	}
	return f
}

// Apply copies the set fields of upd onto m and validates the result.
func (upd MovementUpdate) Apply(m *Movement) error {
	if upd.Version != 0 && upd.Version != m.Version {
		return Errorf(ECONFLICT, "Movement was changed by someone else (version %d, yours %d).", m.Version, upd.Version)
	}
	setIf(&m.Purpose, upd.Purpose)
	setIf(&m.AppointmentAt, upd.AppointmentAt)
	setIf(&m.Requester, upd.Requester)
	setIf(&m.Crew, upd.Crew)
	setIf(&m.Vehicles, upd.Vehicles)
	setIf(&m.EscortLevel, upd.EscortLevel)
	if upd.PlannedDeparture != nil {
		t := *upd.PlannedDeparture
		m.PlannedDeparture = &t
	}
	if upd.Route != nil {
		r := *upd.Route
		m.Route = &r
	}
	return m.Validate()
}

// Transition is one stored change of a movement's state: who, when and why.
type Transition struct {
	ID         int64         `json:"id"`
	MovementID MovementID    `json:"movement_id"`
	Action     Action        `json:"action"`
	From       MovementState `json:"from"`
	To         MovementState `json:"to"`
	Reason     string        `json:"reason,omitempty"`
	// Override, when set, is what a commander's override let through
	// (for example "crew of 4, level 4 needs 8"); Reason is why.
	Override string    `json:"override,omitempty"`
	By       UserID    `json:"by"`
	At       time.Time `json:"at"`
}

// TransitionRequest asks for an action. CancelReason is required for
// ActionCancel; Reason is free text stored with the transition (required for
// cancel, abort, incident and resume).
type TransitionRequest struct {
	Action       Action       `json:"-"`
	Reason       string       `json:"reason"`
	CancelReason CancelReason `json:"cancel_reason"`
	// Override is what a commander's override lets through, recorded with
	// the transition; the server sets it after its own checks, never the client.
	Override string `json:"-"`
	// Update is applied in the same transaction as the transition (for example
	// the escort level with assess, the departure and route with plan).
	Update *MovementUpdate `json:"-"`
}

// Validate checks the request independently of the movement's state.
func (r *TransitionRequest) Validate() error {
	if err := validateTexts(textField{"Reason", r.Reason, MaxReasonLen}); err != nil {
		return err
	}
	if !r.Action.Valid() {
		return Errorf(EINVALID, "Unknown action %q.", r.Action)
	}
	switch r.Action {
	case ActionCancel:
		if !r.CancelReason.Valid() {
			return Errorf(EINVALID, "Cancel requires cancel_reason, one of %s.", joinEnum(CancelReasons))
		}
		if strings.TrimSpace(r.Reason) == "" {
			r.Reason = string(r.CancelReason)
		}
	case ActionAbort, ActionIncident, ActionResume:
		if strings.TrimSpace(r.Reason) == "" {
			return Errorf(EINVALID, "A reason is required to %s.", actionPhrase[r.Action])
		}
		if r.CancelReason != "" {
			return Errorf(EINVALID, "cancel_reason only goes with cancel.")
		}
	default:
		if r.CancelReason != "" {
			return Errorf(EINVALID, "cancel_reason only goes with cancel.")
		}
	}
	return nil
}

// actionPhrase is each action as the verb phrase of an error message.
var actionPhrase = map[Action]string{
	ActionAssess: "assess a movement", ActionPlan: "plan a movement", ActionRelease: "release a movement",
	ActionStart: "start a movement", ActionComplete: "complete a movement", ActionCancel: "cancel a movement",
	ActionAbort: "abort a movement", ActionIncident: "declare an incident", ActionResume: "resume a movement after an incident",
}

// MovementService stores movements and their transitions.
type MovementService interface {
	FindMovementByID(ctx context.Context, id MovementID) (*Movement, error)
	FindMovements(ctx context.Context, filter MovementFilter) ([]*Movement, int, error)
	CreateMovement(ctx context.Context, m *Movement) error
	UpdateMovement(ctx context.Context, id MovementID, upd MovementUpdate) (*Movement, error)
	// TransitionMovement applies req atomically: it checks the state machine,
	// applies req.Update, stores the transition with the author from ctx, and
	// returns the updated movement. An illegal transition is ECONFLICT.
	TransitionMovement(ctx context.Context, id MovementID, req TransitionRequest) (*Movement, error)
	FindTransitions(ctx context.Context, id MovementID) ([]*Transition, error)
}
