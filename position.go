package convoi

import (
	"context"
	"math"
	"time"
)

// GNSSStatus is the state of a tracker's satellite receiver.
type GNSSStatus int

const (
	GNSSUnknown GNSSStatus = iota
	GNSSFix
	GNSSNoFix
	GNSSOff
	GNSSSleep
)

// Position is one normalised fix from any tracker protocol. FixTime is the
// device's clock; ServerTime when convoi received it.
type Position struct {
	ID         int64          `json:"id,omitempty"`
	DeviceID   DeviceID       `json:"device_id"`
	TrackerID  TrackerID      `json:"tracker_id,omitempty"`
	FixTime    time.Time      `json:"fix_time"`
	ServerTime time.Time      `json:"server_time"`
	Lat        float64        `json:"lat"`
	Lon        float64        `json:"lon"`
	SpeedKmh   float64        `json:"speed_kmh"`
	Heading    float64        `json:"heading"` // degrees clockwise from north
	AltitudeM  float64        `json:"altitude_m"`
	Satellites int            `json:"satellites"`
	HDOP       float64        `json:"hdop,omitempty"`
	GNSS       GNSSStatus     `json:"gnss"`
	Valid      bool           `json:"valid"`
	Attributes map[string]any `json:"attributes,omitempty"` // raw IO values and protocol extras
}

// Fix times a store accepts: trackers report from 1980 (GPS epoch), and
// unix nanoseconds fit an int64 until 2262.
var (
	MinFixTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxFixTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func validFixTime(t time.Time) bool { return !t.Before(MinFixTime) && t.Before(MaxFixTime) }

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// Validate reports an EINVALID error naming the first field that no store
// may accept: a device ID that is not 1-64 of letters, digits and ._:-, a
// fix time (or a set server time) outside [MinFixTime, MaxFixTime), a
// coordinate out of range, a speed, heading, altitude or HDOP that is not a
// finite number. Attributes are not checked here: a store that cannot
// encode one says so.
func (p *Position) Validate() error {
	if !p.DeviceID.Valid() {
		return Errorf(EINVALID, "Position device_id must be 1-64 letters, digits or ._:-.")
	}
	if !validFixTime(p.FixTime) {
		return Errorf(EINVALID, "Position fix_time must be between 1980 and 2200.")
	}
	if !p.ServerTime.IsZero() && !validFixTime(p.ServerTime) {
		return Errorf(EINVALID, "Position server_time must be between 1980 and 2200.")
	}
	if err := (LatLon{Lat: p.Lat, Lon: p.Lon}).Validate(); err != nil {
		return err
	}
	if !finite(p.SpeedKmh, p.Heading, p.AltitudeM, p.HDOP) {
		return Errorf(EINVALID, "Position speed, heading, altitude and HDOP must be finite numbers.")
	}
	return nil
}

// DeviceEventKind is a device alarm or state change mapped from protocol data.
type DeviceEventKind string

const (
	EventPanic         DeviceEventKind = "panic"
	EventCrash         DeviceEventKind = "crash"
	EventGSMJamming    DeviceEventKind = "gsm_jamming"
	EventGNSSJamming   DeviceEventKind = "gnss_jamming"
	EventNoGNSSFix     DeviceEventKind = "no_gnss_fix"
	EventIgnitionOn    DeviceEventKind = "ignition_on"
	EventIgnitionOff   DeviceEventKind = "ignition_off"
	EventDoorOpen      DeviceEventKind = "door_open"
	EventDoorClosed    DeviceEventKind = "door_closed"
	EventTamper        DeviceEventKind = "tamper"
	EventPowerCut      DeviceEventKind = "power_cut"
	EventTowing        DeviceEventKind = "towing"
	EventDeviceOnline  DeviceEventKind = "device_online"
	EventDeviceOffline DeviceEventKind = "device_offline"
)

// Severity orders alarms for a control room.
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityCritical
)

// DeviceEvent is one event reported by (or about) a tracker.
type DeviceEvent struct {
	ID         int64           `json:"id,omitempty"`
	DeviceID   DeviceID        `json:"device_id"`
	TrackerID  TrackerID       `json:"tracker_id,omitempty"`
	Kind       DeviceEventKind `json:"kind"`
	Severity   Severity        `json:"severity"`
	Time       time.Time       `json:"time"` // device time of the record that carried it
	ServerTime time.Time       `json:"server_time"`
	Lat        float64         `json:"lat"`
	Lon        float64         `json:"lon"`
	Value      int64           `json:"value"` // the raw IO value, when there is one
}

// Validate reports an EINVALID error for an event no store may accept: a
// bad device ID, an empty kind or one longer than 64 bytes, a time (or a
// set server time) outside [MinFixTime, MaxFixTime), a position out of range
// (0,0 means "no position" and is accepted).
func (e *DeviceEvent) Validate() error {
	if !e.DeviceID.Valid() {
		return Errorf(EINVALID, "Device event device_id must be 1-64 letters, digits or ._:-.")
	}
	if e.Kind == "" || len(e.Kind) > 64 {
		return Errorf(EINVALID, "Device event kind required (at most 64 characters).")
	}
	if !validFixTime(e.Time) {
		return Errorf(EINVALID, "Device event time must be between 1980 and 2200.")
	}
	if !e.ServerTime.IsZero() && !validFixTime(e.ServerTime) {
		return Errorf(EINVALID, "Device event server_time must be between 1980 and 2200.")
	}
	if !(e.Lat == 0 && e.Lon == 0) {
		if err := (LatLon{Lat: e.Lat, Lon: e.Lon}).Validate(); err != nil {
			return err
		}
	}
	return nil
}

// PositionFilter selects stored positions, oldest first (Latest: newest
// first).
type PositionFilter struct {
	DeviceID *DeviceID
	From, To *time.Time // fix time
	Limit    int
	// Latest selects the Limit newest positions instead of the oldest,
	// newest first: Latest with Limit 1 is a device's last known position.
	Latest bool
}

// DeviceEventFilter selects stored device events, oldest first.
type DeviceEventFilter struct {
	DeviceID *DeviceID
	Kind     *DeviceEventKind
	From, To *time.Time
	Limit    int
}

// PositionService stores what trackers send.
type PositionService interface {
	// StorePositions writes a batch in one transaction and returns only once
	// it is durable. A record already stored (same device and fix time, or for
	// events same device, time and kind) is skipped, so a device's
	// retransmission is stored once. It returns how many were newly stored.
	StorePositions(ctx context.Context, ps []Position, evs []DeviceEvent) (newPositions, newEvents int, err error)
	FindPositions(ctx context.Context, filter PositionFilter) ([]*Position, error)
	FindDeviceEvents(ctx context.Context, filter DeviceEventFilter) ([]*DeviceEvent, error)
}

// EventType names what happened in a bus Event.
type EventType string

const (
	EventTypePosition    EventType = "position"
	EventTypeDeviceEvent EventType = "device_event"
	EventTypeMovement    EventType = "movement"
	EventTypeAssessment  EventType = "assessment"
	EventTypeAlarm       EventType = "alarm"
	EventTypeProgress    EventType = "progress"
	EventTypeIncident    EventType = "incident"
)

// Event is a message on the in-process (or NATS) event bus. Exactly one of
// the payload fields is set, the one matching Type.
type Event struct {
	Type        EventType    `json:"type"`
	Position    *Position    `json:"position,omitempty"`
	DeviceEvent *DeviceEvent `json:"device_event,omitempty"`
	Movement    *Movement    `json:"movement,omitempty"`
	Assessment  *Assessment  `json:"assessment,omitempty"`
	Alarm       *Alarm       `json:"alarm,omitempty"`
	Progress    *Progress    `json:"progress,omitempty"`

	// Incident is an incident change (issue 13).
	Incident *IncidentEvent `json:"incident,omitempty"`
}

// EventService publishes events to subscribers. Publish never blocks on a
// slow subscriber: a subscriber whose buffer is full is dropped (its channel
// closed) so that ingest never waits.
type EventService interface {
	PublishEvent(e Event)
	Subscribe(ctx context.Context) (Subscription, error)
}

// Subscription delivers events until it is closed, its context ends or it is
// dropped for being slow; then C is closed.
type Subscription interface {
	C() <-chan Event
	Close() error
}
