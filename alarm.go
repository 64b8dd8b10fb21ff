package convoi

import (
	"context"
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
