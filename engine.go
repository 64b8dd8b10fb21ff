package convoi

import (
	"context"
	"time"
)

// The engines as the API (and any other caller) reaches them. Each engine
// package implements its interface and owns its rules: what it accepts, its
// bounds, its defaults. Callers pass requests through unchanged and map the
// engine's errors; they never re-check an engine's input.

// RiskService is the risk engine (package risk).
type RiskService interface {
	// ScoreMovement scores the movement, stores the assessment (append-only)
	// and returns it. It does not change the movement's state: the caller
	// applies the assess transition with the assessment's level. A movement
	// that can no longer be assessed is ECONFLICT.
	ScoreMovement(ctx context.Context, id MovementID) (*Assessment, error)
	// OnIntel re-assesses the upcoming movements of the entry's detainee and
	// returns the new assessments; it publishes what it changes itself.
	OnIntel(ctx context.Context, in *Intel) ([]*Assessment, error)
	// PolicyDoc returns the risk policy in force.
	PolicyDoc(ctx context.Context) (*PolicyDoc, error)
	// SavePolicy validates body as a policy document and stores it as the
	// new version; a document that does not validate is EINVALID.
	SavePolicy(ctx context.Context, body []byte) (*PolicyDoc, error)
}

// PlanOptions are the knobs a planner (the person) may set for one plan,
// the body of POST .../plan's "options". Zero values mean the engine's
// defaults; the planning engine validates them (EINVALID) and documents its
// bounds.
type PlanOptions struct {
	// Stretch bounds travel time relative to the fastest route (e.g. 1.3).
	Stretch float64 `json:"stretch,omitempty"`
	// DepartureFrom and DepartureTo bound the departure window: no slot
	// before DepartureFrom nor after DepartureTo. Either may be left out.
	DepartureFrom *time.Time `json:"departure_from,omitempty"`
	DepartureTo   *time.Time `json:"departure_to,omitempty"`
	// Slots is the number of departure slots in the window.
	Slots int `json:"slots,omitempty"`
	// Avoid lists chokepoint kinds the routes must avoid, e.g. ["toll", "tunnel"].
	Avoid []string `json:"avoid,omitempty"`
}

// PlanRelease is a drawn plan: the stored plan with its draw, and the drawn
// route to store on the movement. Schedule-sensitive.
type PlanRelease struct {
	Plan  *Plan         // Plan.Draw is set
	Route *RouteSummary // the drawn route
}

// PlanningService is the route and departure planner (package ambush).
type PlanningService interface {
	// PlanMovement computes a randomized strategy for the movement under
	// opts, stores it and returns it. It changes neither the movement's
	// state nor draws.
	PlanMovement(ctx context.Context, id MovementID, opts PlanOptions) (*Plan, error)
	// ReleaseMovement draws the route and departure from the latest plan
	// with crypto/rand, records the draw (once: a second draw is ECONFLICT)
	// and returns it. The caller applies the release transition.
	ReleaseMovement(ctx context.Context, id MovementID) (*PlanRelease, error)
}

// DeviceStatus is a tracker's live state as the control room sees it.
// LastSeen and LastPosition are nil when the device never reported.
// LastPosition is schedule-sensitive.
type DeviceStatus struct {
	Online       bool       `json:"online"`
	Connected    bool       `json:"connected"` // a Teltonika TCP connection is open: commands can be sent
	LastSeen     *time.Time `json:"last_seen"`
	LastPosition *Position  `json:"last_position"`
}

// DeviceStatusService reports trackers' live state (package tracker). A
// device never seen is the zero DeviceStatus, not an error.
type DeviceStatusService interface {
	DeviceStatus(ctx context.Context, d DeviceID) (DeviceStatus, error)
}

// DeviceCommandService sends a text command (Teltonika Codec 12, e.g.
// "setdigout 1") to a connected tracker and returns its answer (package
// tracker). An unconnected device is EUNAVAILABLE or ENOTFOUND.
type DeviceCommandService interface {
	SendCommand(ctx context.Context, device DeviceID, text string) (string, error)
}
