package convoi

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AlarmRule names the monitoring rule that raised an alarm. The thresholds of
// each rule are data (the monitor's policy), documented in docs/monitor.md.
type AlarmRule string

const (
	RuleDeviation   AlarmRule = "deviation"   // outside the route corridor
	RuleStop        AlarmRule = "stop"        // unplanned stop
	RuleSignalLoss  AlarmRule = "signal_loss" // no fix for longer than the device allows
	RuleDevice      AlarmRule = "device"      // panic, crash, jamming, power cut, tamper, door
	RuleSplit       AlarmRule = "split"       // vehicles of one movement too far apart
	RuleLate        AlarmRule = "late"        // expected arrival after the deadline
	RuleImplausible AlarmRule = "implausible" // jump faster than a road vehicle, or off every road
	RuleAttack      AlarmRule = "attack"      // a combination: the escort is being attacked
)

// AlarmRules lists every rule, in documentation order.
var AlarmRules = []AlarmRule{RuleDeviation, RuleStop, RuleSignalLoss, RuleDevice, RuleSplit, RuleLate, RuleImplausible, RuleAttack}

// AlarmState is where an alarm is in the control room's workflow:
// open → acknowledged → escalated → resolved (escalated may also come
// straight from open, by hand or when the acknowledgement deadline passes).
type AlarmState string

const (
	AlarmOpen         AlarmState = "open"
	AlarmAcknowledged AlarmState = "acknowledged"
	AlarmEscalated    AlarmState = "escalated"
	AlarmResolved     AlarmState = "resolved"
)

// AlarmResolution says how a resolved alarm ended.
type AlarmResolution string

const (
	ResolutionFalseAlarm AlarmResolution = "false_alarm"
	ResolutionHandled    AlarmResolution = "handled"
	ResolutionIncident   AlarmResolution = "incident_declared" // moves the movement to incident
)

// Alarm is one condition the monitor found on an underway movement, and the
// control room's work on it. While an alarm is not resolved, the same rule on
// the same movement updates it (LastSeen, Count, possibly a higher Severity)
// rather than opening another.
type Alarm struct {
	ID         AlarmID         `json:"id"`
	MovementID MovementID      `json:"movement_id"`
	VehicleID  VehicleID       `json:"vehicle_id,omitempty"`
	Rule       AlarmRule       `json:"rule"`
	Severity   Severity        `json:"severity"`
	Detail     string          `json:"detail"`     // what the rule saw, in words
	Place      LatLon          `json:"place"`      // where it was seen last
	PlaceName  string          `json:"place_name"` // a chokepoint or road name, when known
	FirstSeen  time.Time       `json:"first_seen"` // fix time of the first evidence
	LastSeen   time.Time       `json:"last_seen"`  // fix time of the latest evidence
	Count      int             `json:"count"`      // how many times the rule fired while open
	State      AlarmState      `json:"state"`      //
	Resolution AlarmResolution `json:"resolution,omitempty"`
	AckDue     time.Time       `json:"ack_due"` // escalates by itself when still open then
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Version    int             `json:"version"`
}

// AlarmID identifies an alarm.
type AlarmID int64

// AlarmTransition is one step of an alarm's workflow: who, when, why.
type AlarmTransition struct {
	ID      int64      `json:"id"`
	AlarmID AlarmID    `json:"alarm_id"`
	From    AlarmState `json:"from"`
	To      AlarmState `json:"to"`
	By      UserID     `json:"by,omitempty"` // zero for the system (automatic escalation)
	At      time.Time  `json:"at"`
	Note    string     `json:"note"`
}

// AlarmFilter selects alarms, most severe and newest first.
type AlarmFilter struct {
	State      *AlarmState
	Severity   *Severity
	MovementID *MovementID
	Since      *time.Time // last seen at or after
	Page       Page
	// Rule selects one rule; Active only alarms not resolved.
	Rule   *AlarmRule
	Active bool
	// CrewMember scopes the listing to the movements that officer is
	// assigned to (how the crew's per-object rule is applied in listings).
	CrewMember *OfficerID
}

// AlarmService stores alarms and their workflow. Every write records who
// made it (the user in ctx; none for the system) and bumps Version.
type AlarmService interface {
	// RaiseAlarm records evidence of a rule on a movement. While an alarm of
	// the same movement and rule is not resolved, it updates that alarm
	// (LastSeen, Count+1, Severity raised to the higher of the two, Place,
	// PlaceName, Detail, VehicleID) and returns it with created false;
	// otherwise it opens a new alarm (State open, Count 1, AckDue from the
	// acknowledgement deadline of its severity) and returns created true.
	RaiseAlarm(ctx context.Context, a *Alarm) (alarm *Alarm, created bool, err error)
	FindAlarmByID(ctx context.Context, id AlarmID) (*Alarm, error)
	FindAlarms(ctx context.Context, filter AlarmFilter) ([]*Alarm, int, error)
	// AcknowledgeAlarm, EscalateAlarm and ResolveAlarm apply one workflow
	// step with a note; a step the state does not allow is ECONFLICT.
	AcknowledgeAlarm(ctx context.Context, id AlarmID, note string) (*Alarm, error)
	EscalateAlarm(ctx context.Context, id AlarmID, note string) (*Alarm, error)
	ResolveAlarm(ctx context.Context, id AlarmID, res AlarmResolution, note string) (*Alarm, error)
	FindAlarmTransitions(ctx context.Context, id AlarmID) ([]*AlarmTransition, error)
	// EscalateOverdue escalates every open alarm whose AckDue is not after
	// now, as the system, and returns them.
	EscalateOverdue(ctx context.Context, now time.Time) ([]*Alarm, error)
}

// Progress is where a vehicle of an underway movement is against its plan,
// computed by the monitor from each matched fix. Schedule-sensitive: never
// given to liaison users.
type Progress struct {
	MovementID  MovementID `json:"movement_id"`
	VehicleID   VehicleID  `json:"vehicle_id"`
	FixTime     time.Time  `json:"fix_time"`
	Place       LatLon     `json:"place"`        // the fix
	AlongM      float64    `json:"along_m"`      // distance along the planned route
	RouteM      float64    `json:"route_m"`      // the planned route's length
	OffRouteM   float64    `json:"off_route_m"`  // distance from the route
	ExpectedArr time.Time  `json:"expected_arr"` // now + remaining planned time scaled by pace
	LateS       float64    `json:"late_s"`       // behind the planned timeline (negative: ahead)
	DeadlineS   float64    `json:"deadline_s"`   // expected arrival minus the deadline (positive: late)
}

// Valid reports whether r is one of AlarmRules.
func (r AlarmRule) Valid() bool { return validEnum(r, AlarmRules) }

// AlarmStates lists every alarm state, in workflow order.
var AlarmStates = []AlarmState{AlarmOpen, AlarmAcknowledged, AlarmEscalated, AlarmResolved}

// Valid reports whether s is one of AlarmStates.
func (s AlarmState) Valid() bool { return validEnum(s, AlarmStates) }

// AlarmResolutions lists every resolution.
var AlarmResolutions = []AlarmResolution{ResolutionFalseAlarm, ResolutionHandled, ResolutionIncident}

// Valid reports whether r is one of AlarmResolutions.
func (r AlarmResolution) Valid() bool { return validEnum(r, AlarmResolutions) }

// AlarmSeverities lists every severity an alarm may have, least severe first.
var AlarmSeverities = []Severity{SeverityInfo, SeverityWarning, SeverityCritical}

// severityNames are the words the API accepts for severities.
var severityNames = map[Severity]string{SeverityInfo: "info", SeverityWarning: "warning", SeverityCritical: "critical"}

// ParseSeverity reads a severity given as a word (info, warning, critical)
// or as its number (0, 1, 2); anything else is EINVALID.
func ParseSeverity(s string) (Severity, error) {
	for _, sev := range AlarmSeverities {
		if s == severityNames[sev] || s == string(rune('0'+int(sev))) {
			return sev, nil
		}
	}
	return 0, Errorf(EINVALID, "Severity must be one of info, warning, critical (or 0, 1, 2).")
}

// SeverityName returns the word for a severity ("critical"), or its number.
func SeverityName(s Severity) string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprint(int(s))
}

// AlarmAction is one step of the alarm workflow, by an operator or, for
// escalate, by the system when the acknowledgement deadline passes.
type AlarmAction string

const (
	AlarmActionAcknowledge AlarmAction = "acknowledge"
	AlarmActionEscalate    AlarmAction = "escalate"
	AlarmActionResolve     AlarmAction = "resolve"
)

// AlarmActions lists every workflow step.
var AlarmActions = []AlarmAction{AlarmActionAcknowledge, AlarmActionEscalate, AlarmActionResolve}

// alarmTransitionRules is the alarm workflow as data. An escalated alarm is
// the commander's: it is resolved, not acknowledged again. Resolving is
// allowed straight from open: an operator who sees at once that an alarm is
// false, or that the escort is under attack, must not need two steps; the
// resolution's note says who decided what, as an acknowledgement would.
var alarmTransitionRules = []struct {
	Action AlarmAction
	From   []AlarmState
	To     AlarmState
}{
	{AlarmActionAcknowledge, []AlarmState{AlarmOpen}, AlarmAcknowledged},
	{AlarmActionEscalate, []AlarmState{AlarmOpen, AlarmAcknowledged}, AlarmEscalated},
	{AlarmActionResolve, []AlarmState{AlarmOpen, AlarmAcknowledged, AlarmEscalated}, AlarmResolved},
}

// NextAlarmState returns the state that action a leads to from s, or an
// ECONFLICT error naming the states it is allowed from (EINVALID for an
// unknown action).
func NextAlarmState(s AlarmState, a AlarmAction) (AlarmState, error) {
	for _, r := range alarmTransitionRules {
		if r.Action != a {
			continue
		}
		if validEnum(s, r.From) {
			return r.To, nil
		}
		return "", Errorf(ECONFLICT, "Cannot %s an alarm that is %s (allowed from: %s).", a, s, joinEnum(r.From))
	}
	return "", Errorf(EINVALID, "Unknown alarm action %q.", a)
}

// MaxAlarmNote bounds the note of a workflow step, in bytes.
const MaxAlarmNote = 2000

// ValidateAlarmStep checks a workflow step's input independently of the
// alarm's state: resolve needs one of AlarmResolutions and a note (what was
// found, what was done: the auditor's record); the other steps take no
// resolution and an optional note. It returns the note trimmed.
func ValidateAlarmStep(a AlarmAction, res AlarmResolution, note string) (string, error) {
	note = strings.TrimSpace(note)
	if len(note) > MaxAlarmNote {
		return "", Errorf(EINVALID, "Note must be at most %d bytes.", MaxAlarmNote)
	}
	switch a {
	case AlarmActionResolve:
		if !res.Valid() {
			return "", Errorf(EINVALID, "Resolve requires resolution, one of %s.", joinEnum(AlarmResolutions))
		}
		if note == "" {
			return "", Errorf(EINVALID, "A note is required to resolve an alarm: what was found and what was done.")
		}
	case AlarmActionAcknowledge, AlarmActionEscalate:
		if res != "" {
			return "", Errorf(EINVALID, "resolution only goes with resolve.")
		}
	default:
		return "", Errorf(EINVALID, "Unknown alarm action %q.", a)
	}
	return note, nil
}

// MaxAlarmDetail bounds an alarm's Detail and PlaceName, in bytes.
const MaxAlarmDetail = 1000

// Validate checks the evidence a rule raises an alarm with: movement, rule,
// severity, times and place. A zero LastSeen is taken to be FirstSeen; a
// zero Place means the place is not known (signal loss before any fix).
func (a *Alarm) Validate() error {
	if a.MovementID <= 0 {
		return Errorf(EINVALID, "Alarm movement_id required.")
	}
	if a.VehicleID < 0 {
		return Errorf(EINVALID, "Alarm vehicle_id must not be negative.")
	}
	if !a.Rule.Valid() {
		return Errorf(EINVALID, "Alarm rule must be one of %s.", joinEnum(AlarmRules))
	}
	if !validEnum(a.Severity, AlarmSeverities) {
		return Errorf(EINVALID, "Alarm severity must be 0 (info), 1 (warning) or 2 (critical).")
	}
	if a.FirstSeen.IsZero() {
		return Errorf(EINVALID, "Alarm first_seen required.")
	}
	if a.LastSeen.IsZero() {
		a.LastSeen = a.FirstSeen
	}
	if a.LastSeen.Before(a.FirstSeen) {
		return Errorf(EINVALID, "Alarm last_seen must not be before first_seen.")
	}
	if !a.Place.IsZero() {
		if err := a.Place.Validate(); err != nil {
			return err
		}
	}
	a.Detail, a.PlaceName = strings.TrimSpace(a.Detail), strings.TrimSpace(a.PlaceName)
	if len(a.Detail) > MaxAlarmDetail || len(a.PlaceName) > MaxAlarmDetail {
		return Errorf(EINVALID, "Alarm detail and place_name must be at most %d bytes.", MaxAlarmDetail)
	}
	return nil
}

// AckDeadline is how long an alarm of one severity may stay open (not
// acknowledged) before it escalates by itself to the commander role.
type AckDeadline struct {
	Severity Severity
	Within   time.Duration
	Why      string
}

// AlarmPolicy is the control room's workflow policy, as data.
type AlarmPolicy struct {
	AckDeadlines []AckDeadline
}

// DefaultAlarmPolicy is the policy stores use unless configured otherwise;
// docs/monitor.md ("Working an alarm") explains the figures.
var DefaultAlarmPolicy = AlarmPolicy{AckDeadlines: []AckDeadline{
	{SeverityCritical, 60 * time.Second, "At Incarville the detainee was gone in under two minutes: a commander must know within the first if no operator has taken the alarm."},
	{SeverityWarning, 3 * time.Minute, "A stop or a deviation nobody has looked at for three minutes is the control room failing; the commander is told."},
	{SeverityInfo, 10 * time.Minute, "Informational alarms (a small delay) still need an owner, within the time of a few fixes' worth of routine work."},
}}

// AckWithin returns the acknowledgement deadline of a severity. A severity
// the policy does not list gets the shortest deadline it has (fail safe).
func (p AlarmPolicy) AckWithin(s Severity) time.Duration {
	var least time.Duration
	for _, d := range p.AckDeadlines {
		if d.Severity == s {
			return d.Within
		}
		if least == 0 || d.Within < least {
			least = d.Within
		}
	}
	if least == 0 {
		least = time.Minute
	}
	return least
}

// Validate checks that the policy gives every severity a positive deadline,
// never longer for a more severe alarm.
func (p AlarmPolicy) Validate() error {
	prev := time.Duration(0)
	for _, s := range AlarmSeverities {
		found := false
		for _, d := range p.AckDeadlines {
			if d.Severity == s {
				found = true
				if d.Within <= 0 {
					return Errorf(EINVALID, "Acknowledgement deadline of %s alarms must be positive.", SeverityName(s))
				}
				if prev != 0 && d.Within > prev {
					return Errorf(EINVALID, "A %s alarm may not wait longer for acknowledgement than a less severe one.", SeverityName(s))
				}
				prev = d.Within
			}
		}
		if !found {
			return Errorf(EINVALID, "No acknowledgement deadline for %s alarms.", SeverityName(s))
		}
	}
	return nil
}

// CanSeeAlarms reports whether u's role may read alarms at all: every role
// but liaison (alarms carry positions and schedule) and admin (who manages
// users and devices, not escorts). Crew see only their movements' alarms
// (CanSeeMovement of the alarm's movement).
func (u *User) CanSeeAlarms() bool {
	return u.HasRole(RolePlanner, RoleControl, RoleCommander, RoleAuditor, RoleCrew)
}

// CanWorkAlarms reports whether u may acknowledge, escalate and resolve
// alarms: the control room and incident commanders.
func (u *User) CanWorkAlarms() bool { return u.HasRole(RoleControl, RoleCommander) }
