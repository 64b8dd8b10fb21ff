package convoi

import (
	"context"
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

// EventKind is a device alarm or state change mapped from protocol data.
type EventKind string

const (
	EventPanic        EventKind = "panic"
	EventCrash        EventKind = "crash"
	EventGSMJamming   EventKind = "gsm_jamming"
	EventGNSSJamming  EventKind = "gnss_jamming"
	EventNoGNSSFix    EventKind = "no_gnss_fix"
	EventIgnitionOn   EventKind = "ignition_on"
	EventIgnitionOff  EventKind = "ignition_off"
	EventDoorOpen     EventKind = "door_open"
	EventDoorClosed   EventKind = "door_closed"
	EventTamper       EventKind = "tamper"
	EventPowerCut     EventKind = "power_cut"
	EventTowing       EventKind = "towing"
	EventDeviceOnline EventKind = "device_online"
	EventDeviceOffln  EventKind = "device_offline"
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
	ID         int64     `json:"id,omitempty"`
	DeviceID   DeviceID  `json:"device_id"`
	TrackerID  TrackerID `json:"tracker_id,omitempty"`
	Kind       EventKind `json:"kind"`
	Severity   Severity  `json:"severity"`
	Time       time.Time `json:"time"` // device time of the record that carried it
	ServerTime time.Time `json:"server_time"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	Value      int64     `json:"value"` // the raw IO value, when there is one
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
	Kind     *EventKind
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
