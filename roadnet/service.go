package roadnet

import (
	"context"
	"math"
	"strings"

	"github.com/convoi/convoi"
)

// Bounds of a query to Service; NewService sets them.
const (
	DefaultMaxAlternatives     = 5
	DefaultMaxIsochroneMinutes = 120
	DefaultMaxChokepoints      = 10000
)

// Service is the road graph as convoi.RoadService: queries in coordinates,
// answers in the domain's types, and every rule on a query (its bounds, the
// kinds it may name, what may be combined) in one place. Safe for
// concurrent use; the fields must not change once it is in use.
type Service struct {
	Graph *Graph
	// MaxAlternatives bounds RouteQuery.Alternatives.
	MaxAlternatives int
	// MaxIsochroneMinutes bounds IsochroneQuery.Minutes.
	MaxIsochroneMinutes float64
	// MaxChokepoints bounds one FindChokepoints answer: a larger area is
	// EINVALID and must be split.
	MaxChokepoints int
}

var _ convoi.RoadService = (*Service)(nil)

// NewService returns a Service on g with the default bounds.
func NewService(g *Graph) *Service {
	return &Service{Graph: g, MaxAlternatives: DefaultMaxAlternatives,
		MaxIsochroneMinutes: DefaultMaxIsochroneMinutes, MaxChokepoints: DefaultMaxChokepoints}
}

func parseKindList(names []string) (Kind, error) {
	if len(names) == 0 {
		return 0, nil
	}
	return ParseKinds(strings.Join(names, ","))
}

// FindRoutes snaps q.From and q.To and returns the fastest route, then up
// to q.Alternatives others (via-node alternatives, which cannot avoid
// kinds: combining both is EINVALID). Only the parts q asks for are built.
func (s *Service) FindRoutes(ctx context.Context, q convoi.RouteQuery) ([]*convoi.Itinerary, error) {
	if q.Alternatives < 0 || q.Alternatives > s.MaxAlternatives {
		return nil, convoi.Errorf(convoi.EINVALID, "alternatives must be between 0 and %d.", s.MaxAlternatives)
	}
	overview := q.Overview
	if overview == "" {
		overview = convoi.OverviewNone
	}
	if !overview.Valid() {
		return nil, convoi.Errorf(convoi.EINVALID, "overview must be full, simplified or none.")
	}
	avoid, err := parseKindList(q.Avoid)
	if err != nil {
		return nil, err
	}
	if q.Alternatives > 0 && avoid != 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "avoid cannot be combined with alternatives.")
	}
	g := s.Graph
	a, err := g.SnapSource(q.From)
	if err != nil {
		return nil, err
	}
	b, err := g.SnapTarget(q.To)
	if err != nil {
		return nil, err
	}
	var paths []Path
	if q.Alternatives > 0 {
		if paths, err = g.AlternativePaths(ctx, a, b, AlternativeOptions{K: q.Alternatives + 1}); err != nil {
			return nil, err
		}
	} else {
		p, err := g.ShortestPath(ctx, a, b, RouteOptions{Avoid: avoid})
		if err != nil {
			return nil, err
		}
		paths = []Path{p}
	}
	var want parts
	if overview != convoi.OverviewNone {
		want |= partGeometry
	}
	if q.Segments {
		want |= partSegments
	}
	if q.Chokepoints {
		want |= partChokepoints
	}
	out := make([]*convoi.Itinerary, len(paths))
	for i, p := range paths {
		r := g.expand(p, want)
		it := &convoi.Itinerary{Cost: r.Cost, DurationS: r.DurationS, DistanceM: r.DistanceM, Geometry: r.Geometry}
		if overview == convoi.OverviewSimplified {
			it.Geometry = Simplify(r.Geometry, simplifyTolerance(r.Geometry))
		}
		if q.Segments {
			it.Segments = make([]convoi.RoadSegment, len(r.Segments))
			for k, sg := range r.Segments {
				it.Segments[k] = convoi.RoadSegment{Edge: uint32(sg.Edge), WayID: sg.WayID, DistanceM: sg.DistanceM,
					DurationS: sg.DurationS, StartS: sg.StartS}
				if sg.Kinds != 0 {
					it.Segments[k].Kinds = sg.Kinds.Names()
				}
			}
		}
		if q.Chokepoints {
			it.Chokepoints = make([]convoi.ChokepointPassage, len(r.Chokepoints))
			for k, c := range r.Chokepoints {
				it.Chokepoints[k] = convoi.ChokepointPassage{Chokepoint: c.Chokepoint.domain(), OffsetS: c.OffsetS}
			}
		}
		out[i] = it
	}
	return out, nil
}

// domain returns c in the domain's form.
func (c Chokepoint) domain() convoi.Chokepoint {
	return convoi.Chokepoint{ID: c.ID, Kind: c.Kind.Names(), Location: c.LatLon, OSMType: c.OSMType,
		OSMID: c.OSMID, Name: c.Name, Slowdown: c.Slowdown}
}

// simplifyTolerance is the overview "simplified" tolerance: a thousandth of
// the line's extent (what a screen showing the whole route cannot tell
// apart), at least 2 m.
func simplifyTolerance(line []convoi.LatLon) float64 {
	if len(line) < 3 {
		return 0
	}
	lo, hi := line[0], line[0]
	for _, p := range line[1:] {
		lo.Lat, lo.Lon = math.Min(lo.Lat, p.Lat), math.Min(lo.Lon, p.Lon)
		hi.Lat, hi.Lon = math.Max(hi.Lat, p.Lat), math.Max(hi.Lon, p.Lon)
	}
	return math.Max(2, lo.DistanceM(hi)/1000)
}

// Simplify returns line without the points that lie within toleranceM
// metres of the simplified line (Douglas-Peucker, on a local equirectangular
// projection). The first and last points always stay; the result is a new
// slice when points are dropped.
func Simplify(line []convoi.LatLon, toleranceM float64) []convoi.LatLon {
	if len(line) < 3 || toleranceM <= 0 {
		return line
	}
	kx := math.Cos(line[0].Lat*math.Pi/180) * 111319.49
	const ky = 111319.49
	keep := make([]bool, len(line))
	keep[0], keep[len(line)-1] = true, true
	tol2 := toleranceM * toleranceM
	stack := [][2]int{{0, len(line) - 1}}
	for len(stack) > 0 {
		i, j := stack[len(stack)-1][0], stack[len(stack)-1][1]
		stack = stack[:len(stack)-1]
		ax, ay := line[i].Lon*kx, line[i].Lat*ky
		dx, dy := line[j].Lon*kx-ax, line[j].Lat*ky-ay
		l := dx*dx + dy*dy
		far, farD := -1, tol2
		for k := i + 1; k < j; k++ {
			px, py := line[k].Lon*kx-ax, line[k].Lat*ky-ay
			t := 0.0
			if l > 0 {
				t = math.Max(0, math.Min(1, (px*dx+py*dy)/l))
			}
			ex, ey := px-t*dx, py-t*dy
			if d := ex*ex + ey*ey; d > farD {
				far, farD = k, d
			}
		}
		if far >= 0 {
			keep[far] = true
			stack = append(stack, [2]int{i, far}, [2]int{far, j})
		}
	}
	out := make([]convoi.LatLon, 0, len(line)/4+2)
	for k, p := range line {
		if keep[k] {
			out = append(out, p)
		}
	}
	return out
}

// Isochrone snaps q.At and returns what is reachable within q.Minutes, in
// (0, MaxIsochroneMinutes], as GeoJSON (see Isochrone.GeoJSON).
func (s *Service) Isochrone(ctx context.Context, q convoi.IsochroneQuery) ([]byte, error) {
	if !(q.Minutes > 0 && q.Minutes <= s.MaxIsochroneMinutes) {
		return nil, convoi.Errorf(convoi.EINVALID, "minutes must be in (0, %g].", s.MaxIsochroneMinutes)
	}
	avoid, err := parseKindList(q.Avoid)
	if err != nil {
		return nil, err
	}
	g := s.Graph
	at, err := g.SnapSource(q.At)
	if err != nil {
		return nil, err
	}
	iso, err := g.Isochrone(ctx, at, g.CostOf(q.Minutes*60), RouteOptions{Avoid: avoid})
	if err != nil {
		return nil, err
	}
	return iso.GeoJSON()
}

// FindChokepoints returns the chokepoints of f's kinds in f's box (the
// graph's bounds when nil), in ID order; more than MaxChokepoints is
// EINVALID (ask for a smaller box).
func (s *Service) FindChokepoints(ctx context.Context, f convoi.ChokepointFilter) ([]convoi.Chokepoint, error) {
	box := s.Graph.Bounds()
	if f.BBox != nil {
		if err := f.BBox.Validate(); err != nil {
			return nil, err
		}
		box = BBox(*f.BBox)
	}
	kinds, err := parseKindList(f.Kinds)
	if err != nil {
		return nil, err
	}
	cs := s.Graph.Chokepoints(box, kinds)
	if len(cs) > s.MaxChokepoints {
		return nil, convoi.Errorf(convoi.EINVALID, "%d chokepoints in this area; ask for a smaller bbox (at most %d).", len(cs), s.MaxChokepoints)
	}
	out := make([]convoi.Chokepoint, len(cs))
	for i, c := range cs {
		out[i] = c.domain()
	}
	return out, nil
}
