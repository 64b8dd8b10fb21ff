package convoi

import "context"

// RoadService is the road network (package roadnet): routes between places,
// where an escort can be within a time, and the chokepoints of an area.
// Queries are in coordinates; the engine snaps them to the nearest road
// (ENOTFOUND when there is none near) and owns every bound on a query.
// Answers are schedule-neutral: no movement or time of day is involved.
type RoadService interface {
	// FindRoutes returns the fastest route first, then up to q.Alternatives
	// others. No route between the places is ENOTFOUND.
	FindRoutes(ctx context.Context, q RouteQuery) ([]*Itinerary, error)
	// Isochrone returns what is reachable from q.At within q.Minutes as a
	// GeoJSON FeatureCollection (RFC 7946).
	Isochrone(ctx context.Context, q IsochroneQuery) ([]byte, error)
	// FindChokepoints returns the chokepoints in f.BBox (the whole network
	// when nil) of the kinds f.Kinds (all when empty).
	FindChokepoints(ctx context.Context, f ChokepointFilter) ([]Chokepoint, error)
}

// Overview is how much of a route's geometry an answer carries, as OSRM's
// overview parameter: every point, a simplified line, or none.
type Overview string

const (
	OverviewFull       Overview = "full"
	OverviewSimplified Overview = "simplified"
	OverviewNone       Overview = "none"
)

// Overviews lists the valid overviews.
var Overviews = []Overview{OverviewFull, OverviewSimplified, OverviewNone}

// Valid reports whether o is one of Overviews.
func (o Overview) Valid() bool { return validEnum(o, Overviews) }

// RouteQuery asks for the fastest route between two places. The zero
// values of the answer's parts leave them out: set Overview, Segments and
// Chokepoints to what the caller needs (each costs time and bytes).
type RouteQuery struct {
	From, To LatLon
	// Avoid lists chokepoint kinds whose roads the routes never use, e.g.
	// "toll", "tunnel" (roadnet documents the names).
	Avoid []string
	// Alternatives asks for that many routes besides the fastest.
	Alternatives int
	// Overview selects the geometry: "" is OverviewNone.
	Overview Overview
	// Segments asks for the per-road breakdown (OSRM's steps).
	Segments bool
	// Chokepoints asks for the chokepoints passed, with their times.
	Chokepoints bool
}

// Itinerary is one route between two places as the road network answers
// it: the figures always; the geometry, segments and chokepoints when asked
// for. A part asked for is never nil (its JSON is a list, perhaps empty);
// a part not asked for is nil and left out of the JSON.
type Itinerary struct {
	Cost int64 `json:"cost"` // the engine's search cost (ms for OSM graphs), turns not included
	// DurationS is the driving time: the cost plus the time lost turning at
	// junctions along the route.
	DurationS float64  `json:"duration_s"`
	DistanceM float64  `json:"distance_m"`
	Geometry  []LatLon `json:"geometry,omitzero"`
	// Segments are the roads in travel order (OSRM's steps).
	Segments []RoadSegment `json:"segments,omitzero"`
	// Chokepoints passed, in order, with their time from departure.
	Chokepoints []ChokepointPassage `json:"chokepoints,omitzero"`
}

// RoadSegment is one edge of the road graph (or part of one) on a route.
type RoadSegment struct {
	Edge      uint32   `json:"edge"`
	WayID     int64    `json:"way_id,omitempty"` // the OpenStreetMap way
	DistanceM float64  `json:"distance_m"`
	DurationS float64  `json:"duration_s"`
	StartS    float64  `json:"start_s"` // time from departure at the segment's start
	Kinds     []string `json:"kinds,omitempty"`
}

// Chokepoint is a place where an escort is constrained: a point (toll
// booth, signals, level crossing) or a stretch of road (bridge, tunnel,
// ramp, roundabout, toll road), located at its first point.
type Chokepoint struct {
	ID uint32 `json:"id"`
	// Kind holds exactly one kind name, as a one-element list.
	Kind     []string `json:"kind"`
	Location LatLon   `json:"location"`
	// OSMType is "node" or "way"; OSMID its OpenStreetMap id (0 when unknown).
	OSMType  string `json:"osm_type"`
	OSMID    int64  `json:"osm_id"`
	Name     string `json:"name,omitempty"`
	Slowdown bool   `json:"slowdown"` // a forced slowdown
}

// ChokepointPassage is a chokepoint on a route and when it is passed.
type ChokepointPassage struct {
	Chokepoint
	OffsetS float64 `json:"offset_s"` // time from departure
}

// IsochroneQuery asks what is reachable from At within Minutes.
type IsochroneQuery struct {
	At      LatLon
	Minutes float64
	Avoid   []string // chokepoint kinds never used
}

// BBox is a latitude/longitude box in degrees, edges included.
type BBox struct {
	MinLat, MinLon, MaxLat, MaxLon float64
}

// Validate reports an EINVALID error when a corner is out of range or the
// box is upside down.
func (b BBox) Validate() error {
	if err := (LatLon{Lat: b.MinLat, Lon: b.MinLon}).Validate(); err != nil {
		return err
	}
	if err := (LatLon{Lat: b.MaxLat, Lon: b.MaxLon}).Validate(); err != nil {
		return err
	}
	if b.MinLat > b.MaxLat || b.MinLon > b.MaxLon {
		return Errorf(EINVALID, "bbox minimum must not exceed its maximum (MINLAT,MINLON,MAXLAT,MAXLON).")
	}
	return nil
}

// ChokepointFilter selects chokepoints.
type ChokepointFilter struct {
	BBox  *BBox    // nil: the whole network
	Kinds []string // kind names or groups; empty: every kind
}
