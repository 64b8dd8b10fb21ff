package web

import (
	"context"
	"time"

	"github.com/convoi/convoi"
)

// Assessor is the risk engine as the API needs it. cmd/convoi wires the
// risk package's implementation; without one, POST .../assess takes an
// explicit escort_level in its body.
type Assessor interface {
	// AssessMovement scores the movement, stores the assessment (append-only)
	// and returns it. It must not change the movement's state: the API then
	// applies the assess transition with the assessment's level.
	AssessMovement(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, error)
}

// PlanOptions are the planner's knobs a planner (the person) may set in the
// body of POST .../plan. Zero values mean the engine's defaults.
type PlanOptions struct {
	// Stretch bounds travel time relative to the fastest route (e.g. 1.3).
	Stretch float64 `json:"stretch,omitempty"`
	// DepartureFrom and DepartureTo bound the departure window.
	DepartureFrom *time.Time `json:"departure_from,omitempty"`
	DepartureTo   *time.Time `json:"departure_to,omitempty"`
	// Slots is the number of departure slots in the window.
	Slots int `json:"slots,omitempty"`
	// Avoid lists chokepoint kinds the route must avoid, e.g. ["toll", "tunnel"].
	Avoid []string `json:"avoid,omitempty"`
}

// Release is what a Planner returns when a movement is released: the stored
// plan with its draw, and the drawn route to store on the movement.
type Release struct {
	Plan  *convoi.Plan         // Plan.Draw is set
	Route *convoi.RouteSummary // the drawn route, schedule-sensitive
}

// Planner is the route and departure planner (the ambush game) as the API
// needs it. cmd/convoi wires the ambush package's implementation; without
// one, POST .../plan takes planned_departure (and optionally route) in its
// body and release keeps them.
type Planner interface {
	// PlanMovement computes a randomized strategy for the movement, stores it
	// and returns it. It must not change the movement's state, nor draw.
	PlanMovement(ctx context.Context, id convoi.MovementID, opts PlanOptions) (*convoi.Plan, error)
	// ReleaseMovement draws the route and departure from the latest plan with
	// crypto/rand, records the draw (once: a second draw is ECONFLICT) and
	// returns it. The API then applies the release transition with the draw.
	ReleaseMovement(ctx context.Context, id convoi.MovementID) (*Release, error)
}

// TrackerCommander sends a text command (Teltonika Codec 12, e.g.
// "setdigout 1") to a connected device and returns its answer. An
// unconnected device is EUNAVAILABLE or ENOTFOUND. The tracker package
// implements it.
type TrackerCommander interface {
	SendCommand(ctx context.Context, device convoi.DeviceID, text string) (string, error)
}

// Reassessor re-assesses the upcoming movements of a detainee when new
// intelligence about them is recorded (the risk engine). It publishes what
// it changes on the event stream itself.
type Reassessor interface {
	OnIntel(ctx context.Context, in *convoi.Intel) ([]*convoi.Assessment, error)
}

// PolicyAdmin reads and replaces the risk policy (the risk engine). The body
// of a replacement is the policy document itself, validated by the engine.
type PolicyAdmin interface {
	PolicyDoc(ctx context.Context) (*convoi.PolicyDoc, error)
	SavePolicy(ctx context.Context, body []byte) (*convoi.PolicyDoc, error)
}
