package convoi

import (
	"context"
	"time"
)

// The live response to an incident as the API reaches it (package
// response computes it; cmd/convoi wires it to the stores). See
// docs/intercept.md, "Live response".

// ReachabilityBand is the area a car can reach within Minutes.
type ReachabilityBand struct {
	Minutes float64 `json:"minutes"`
	// Polygons are the outer rings (closed, counter-clockwise), largest
	// first.
	Polygons [][]LatLon `json:"polygons"`
	AreaKm2  float64    `json:"area_km2"`
	Nodes    int        `json:"nodes"` // road nodes reached
}

// IncidentReachability is where the attackers can be: the bands from the
// attack point or from the latest confident sighting.
type IncidentReachability struct {
	IncidentID IncidentID         `json:"incident_id"`
	Version    int                `json:"version"`
	From       LatLon             `json:"from"`
	FromLabel  string             `json:"from_label"` // "the attack", "the sighting (place)"; Since says when
	Since      time.Time          `json:"since"`      // when the attackers were at From
	Bands      []ReachabilityBand `json:"bands"`
}

// Roadblock is one unit's assignment in an interception plan.
type Roadblock struct {
	UnitID string `json:"unit_id"` // the site ID of the unit's post
	Name   string `json:"name"`
	Node   int64  `json:"node"` // the OSM node id of the roadblock
	At     LatLon `json:"at"`
	// ArrivalS is the unit's readiness plus travel time to the roadblock;
	// Arrival the time it is in place.
	ArrivalS float64   `json:"arrival_s"`
	Arrival  time.Time `json:"arrival"`
	// RoutesCut is how many of the plan's routes this roadblock cuts on
	// its own and Share that as a fraction (shares overlap).
	RoutesCut int     `json:"routes_cut"`
	Share     float64 `json:"share"`
	// Reserve is true when nothing the unit can reach in time is left to
	// cut: it stays where it is (At is then its start).
	Reserve bool `json:"reserve"`
}

// ResponseUnit is a police or gendarmerie unit a plan considered.
type ResponseUnit struct {
	SiteID   SiteID     `json:"site_id"`
	Name     string     `json:"name"`
	Kind     SiteKind   `json:"kind"`
	At       LatLon     `json:"at"`
	Source   string     `json:"source"` // "tracker" (a fix of its vehicle) or "post"
	FixTime  *time.Time `json:"fix_time,omitempty"`
	ReadyS   float64    `json:"ready_s"`
	Assigned bool       `json:"assigned"` // committed to this incident
}

// EscapeRoute is a sampled escape route on the map.
type EscapeRoute struct {
	Points []LatLon `json:"points"`
	Escape LatLon   `json:"escape"` // where it leaves the area
	Cut    bool     `json:"cut"`    // a roadblock of the plan intercepts it
}

// InterceptionPlan is the roadblock plan of an incident at a time: one
// roadblock per unit, proven optimal for the sampled escape routes kept
// by the sightings.
type InterceptionPlan struct {
	IncidentID  IncidentID  `json:"incident_id"`
	Version     int         `json:"version"`
	At          time.Time   `json:"at"`
	Assignments []Roadblock `json:"assignments"`
	Intercepted int         `json:"intercepted"`
	Routes      int         `json:"routes"`
	Fraction    float64     `json:"fraction"`
	Optimal     bool        `json:"optimal"`
	Bound       float64     `json:"bound"`
	// RoutesSampled is the sample before sightings, RoutesKept what stayed
	// consistent with them, RoutesAdded what was sampled onwards from the
	// latest sighting; Sightings how many filtered the routes.
	RoutesSampled int            `json:"routes_sampled"`
	RoutesKept    int            `json:"routes_kept"`
	RoutesAdded   int            `json:"routes_added"`
	Sightings     int            `json:"sightings"`
	Units         []ResponseUnit `json:"units"`
	ElapsedMS     float64        `json:"elapsed_ms"`
	// RouteLines are escape routes for the map when asked for: a random
	// subset of the routes planned for.
	RouteLines []EscapeRoute `json:"route_lines,omitempty"`
}

// MaxRouteLines bounds the route lines of one plan.
const MaxRouteLines = 1000

// ResponseService computes the live response of an incident.
type ResponseService interface {
	Reachability(ctx context.Context, inc *Incident, sightings []*Sighting) (*IncidentReachability, error)
	// Plan uses the units available at now: the police and gendarmerie
	// posts not committed to another incident. lines (0 to MaxRouteLines)
	// is how many route lines to include. A closed incident is ECONFLICT;
	// no unit available is EINVALID.
	Plan(ctx context.Context, inc *Incident, sightings []*Sighting, now time.Time, lines int) (*InterceptionPlan, error)
	// Alert returns the CAP 1.2 alert for partner forces of the incident
	// as it stands (XML). It never carries a route, a departure time or a
	// plan.
	Alert(ctx context.Context, inc *Incident, sightings []*Sighting) ([]byte, error)
}

// IncidentAlertService sends the CAP alert of an incident as it stands to
// the partner forces (an outbox, a feed, a relay).
type IncidentAlertService interface {
	SendIncidentAlert(ctx context.Context, inc *Incident) error
}
