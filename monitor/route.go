package monitor

import (
	"math"
	"sort"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// PlannedRoute is the reference a vehicle is matched against: the released draw's
// geometry with the planned time from departure at every point. A movement
// stores only the geometry and the total duration (convoi.RouteSummary), so
// the timing is derived here from the road graph: every piece of the
// geometry lies on an edge, whose cost gives its planned duration; pieces
// off the map (the straight stretch to a place beyond the extract) share
// what is left of the summary's duration. A PlannedRoute is immutable once built.
type PlannedRoute struct {
	pts  []convoi.LatLon
	x, y []float64 // local plane, metres
	cum  []float64 // distance from the start at each point
	t    []float64 // planned seconds from departure at each point
	seg  []segment // pts[i] -> pts[i+1]

	lat0, lon0, kx, ky float64

	tunnels []span // merged runs of tunnel segments
	zones   []zone // chokepoints and slow points, by along

	LengthM   float64
	DurationS float64
}

// segment is one straight piece of the route geometry.
type segment struct {
	kinds   roadnet.Kind
	offMap  bool    // not on any road of the graph
	fast    bool    // planned at or above the policy's fast-road speed
	bearing float64 // degrees clockwise from north
}

type span struct{ a, b float64 } // along interval, metres

// zone is a place along the route where stopping means something: a
// chokepoint (toll booth, ramp, tunnel: a stop there is worse) or a slow
// point (signals, roundabout, level crossing, barrier: a stop there is
// expected for a while).
type zone struct {
	span
	chokepoint bool
	kind       roadnet.Kind
	name       string
	at         convoi.LatLon
}

// zoneKinds are the kinds that make a zone; chokeKinds those that make it a
// chokepoint.
const (
	chokeKinds = roadnet.KindTollBooth | roadnet.KindRamp | roadnet.KindTunnel
	tunnelKind = roadnet.KindTunnel
	slowKinds  = roadnet.KindTrafficSignals | roadnet.KindRoundabout | roadnet.KindLevelCrossing | roadnet.KindBarrier
)

// NewPlannedRoute derives the reference of a released route on graph g. fastKmh
// classes a segment as a fast road (wider corridor). A route with fewer than
// two points is EINVALID.
func NewPlannedRoute(g *roadnet.Graph, rs *convoi.RouteSummary, fastKmh float64) (*PlannedRoute, error) {
	if rs == nil || len(rs.Geometry) < 2 {
		return nil, convoi.Errorf(convoi.EINVALID, "A released route needs at least two points.")
	}
	r := &PlannedRoute{pts: rs.Geometry}
	n := len(r.pts)
	r.lat0, r.lon0 = r.pts[0].Lat, r.pts[0].Lon
	r.ky = 111319.49
	r.kx = r.ky * math.Cos(r.lat0*math.Pi/180)
	r.x, r.y, r.cum, r.t = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, p := range r.pts {
		r.x[i], r.y[i] = r.local(p)
		if i > 0 {
			r.cum[i] = r.cum[i-1] + math.Hypot(r.x[i]-r.x[i-1], r.y[i]-r.y[i-1])
		}
	}
	r.LengthM = r.cum[n-1]
	r.seg = make([]segment, n-1)
	dur := make([]float64, n-1)
	var onS, offM float64
	var b roadnet.BBox
	if g != nil {
		b = g.Bounds()
	}
	// A route that repeats a stretch (a loop driven twice) snaps it once.
	type snapped struct {
		kinds roadnet.Kind
		ok    bool
		speed float64 // m/s, 0 when unknown
		fast  bool
	}
	memo := map[[2]convoi.LatLon]snapped{}
	for i := range r.seg {
		s := &r.seg[i]
		l := r.cum[i+1] - r.cum[i]
		s.bearing = math.Mod(math.Atan2(r.x[i+1]-r.x[i], r.y[i+1]-r.y[i])*180/math.Pi+360, 360)
		mid := convoi.LatLon{Lat: (r.pts[i].Lat + r.pts[i+1].Lat) / 2, Lon: (r.pts[i].Lon + r.pts[i+1].Lon) / 2}
		s.offMap = true
		key := [2]convoi.LatLon{r.pts[i], r.pts[i+1]}
		sn, seen := memo[key]
		if !seen && g != nil && b.Contains(mid) {
			if pos, err := g.Snap(mid); err == nil && pos.DistanceM < 5 {
				e := g.Edge(pos.Edge)
				sn.ok, sn.kinds = true, e.Kinds
				if sec := g.Duration(e.Cost); sec > 0 && e.DistanceM > 0 {
					sn.speed = e.DistanceM / sec
					sn.fast = sn.speed*3.6 >= fastKmh
				}
			}
			memo[key] = sn
		}
		if sn.ok {
			s.offMap, s.kinds, s.fast = false, sn.kinds, sn.fast
			if sn.speed > 0 {
				dur[i] = l / sn.speed
			}
			onS += dur[i]
		}
		if s.offMap {
			offM += l
		}
	}
	// Share the summary's duration: off-map pieces get what is left (at
	// most 35 m/s), or the on-road times are scaled to the total.
	total := rs.DurationS
	if !(total > 0) || math.IsInf(total, 0) {
		total = 0 // unknown: the graph's times alone, off-map pieces at 35 m/s
	}
	switch {
	case offM > 0:
		left := math.Max(total-onS, offM/35)
		for i := range r.seg {
			if r.seg[i].offMap {
				dur[i] = left * (r.cum[i+1] - r.cum[i]) / offM
				r.seg[i].fast = true
			}
		}
	case onS > 0 && total > 0:
		for i := range dur {
			dur[i] *= total / onS
		}
	case total > 0 && r.LengthM > 0:
		for i := range dur {
			dur[i] = total * (r.cum[i+1] - r.cum[i]) / r.LengthM
		}
	}
	for i := range dur {
		r.t[i+1] = r.t[i] + dur[i]
	}
	r.DurationS = r.t[n-1]
	r.buildZones(g)
	return r, nil
}

// buildZones collects the tunnels, chokepoints and slow points along r.
func (r *PlannedRoute) buildZones(g *roadnet.Graph) {
	const pad = 40.0 // metres before and after a zone that still count
	for i := 0; i < len(r.seg); {
		k := r.seg[i].kinds & (chokeKinds | slowKinds)
		if k == 0 {
			i++
			continue
		}
		// One zone per maximal run of segments with the same kinds.
		j := i
		for j < len(r.seg) && r.seg[j].kinds&(chokeKinds|slowKinds) == k {
			j++
		}
		a, b := r.cum[i], r.cum[j]
		z := zone{span: span{a - pad, b + pad}, chokepoint: k&chokeKinds != 0, kind: k, at: r.pts[i]}
		if k&roadnet.KindTunnel != 0 {
			if len(r.tunnels) > 0 && a-r.tunnels[len(r.tunnels)-1].b < 150 {
				r.tunnels[len(r.tunnels)-1].b = b
			} else {
				r.tunnels = append(r.tunnels, span{a, b})
			}
		}
		z.name = strings.ReplaceAll((k & (chokeKinds | slowKinds)).String(), ",", "/")
		box := roadnet.BBox{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
		for q := i; q <= j; q++ {
			p := r.pts[q]
			box.MinLat, box.MaxLat = math.Min(box.MinLat, p.Lat-0.001), math.Max(box.MaxLat, p.Lat+0.001)
			box.MinLon, box.MaxLon = math.Min(box.MinLon, p.Lon-0.001), math.Max(box.MaxLon, p.Lon+0.001)
		}
		switch {
		case g == nil:
			// No graph to name it from: the zone is named by its kinds.
		case k&roadnet.KindTollBooth != 0:
			// Name and place of the toll booth from the graph's chokepoints.
			best := math.Inf(1)
			for _, c := range g.Chokepoints(box, roadnet.KindTollBooth) {
				d, along, _ := r.project(c.LatLon, a-pad, b+pad, -1, 0)
				if d < best {
					best, z.at = d, c.LatLon
					z.name = "toll booth"
					if c.Name != "" {
						z.name = "toll booth " + c.Name
					}
					z.span = span{along - 250, along + 150} // the plaza: queue before, exit after
				}
			}
		default:
			// The road's name from the nearest named chokepoint of the
			// zone's kinds ("ramp (A 500)"), so that an operator reads
			// where, not only what.
			kinds, best := z.name, 60.0 // metres from the zone's stretch
			for _, c := range g.Chokepoints(box, k&(chokeKinds|slowKinds)) {
				if c.Name == "" {
					continue
				}
				if d, _, _ := r.project(c.LatLon, a-pad, b+pad, -1, 0); d < best {
					best, z.name = d, kinds+" ("+c.Name+")"
				}
			}
		}
		r.zones = append(r.zones, z)
		i = j
	}
}

func (r *PlannedRoute) local(p convoi.LatLon) (float64, float64) {
	return (p.Lon - r.lon0) * r.kx, (p.Lat - r.lat0) * r.ky
}

// segAt returns the index of the segment holding along a.
func (r *PlannedRoute) segAt(a float64) int {
	i := sort.SearchFloat64s(r.cum, a) - 1
	return min(max(i, 0), len(r.seg)-1)
}

// project finds the point of the route between alongs lo and hi nearest to
// p and returns its distance, its along and its segment. A heading (degrees,
// negative when unknown) steers the choice away from segments driven the
// other way: where the route passes a place twice, the fix goes to the pass
// in its direction of travel. An expected along (negative: none) breaks
// near-ties towards the pass the vehicle should have reached.
func (r *PlannedRoute) project(p convoi.LatLon, lo, hi, heading, speedKmh float64) (dist, along float64, seg int) {
	return r.projectNear(p, lo, hi, heading, speedKmh, -1)
}

func (r *PlannedRoute) projectNear(p convoi.LatLon, lo, hi, heading, speedKmh, expect float64) (dist, along float64, seg int) {
	px, py := r.local(p)
	i0, i1 := r.segAt(lo), r.segAt(hi)
	best, bestScore := math.Inf(1), math.Inf(1)
	for i := i0; i <= i1; i++ {
		ax, ay, bx, by := r.x[i], r.y[i], r.x[i+1], r.y[i+1]
		dx, dy := bx-ax, by-ay
		t := 0.0
		if l := dx*dx + dy*dy; l > 0 {
			t = math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/l))
		}
		d := math.Hypot(ax+t*dx-px, ay+t*dy-py)
		a := r.cum[i] + t*(r.cum[i+1]-r.cum[i])
		score := d
		if expect >= 0 {
			score += 0.1 * math.Abs(a-expect)
		}
		if heading >= 0 && speedKmh >= 15 {
			diff := math.Abs(math.Mod(heading-r.seg[i].bearing+540, 360) - 180)
			if diff > 100 {
				score += 60
			}
		}
		if score < bestScore {
			bestScore, best, seg, along = score, d, i, a
		}
	}
	return best, along, seg
}

// timeAt returns the planned seconds from departure at along a.
func (r *PlannedRoute) timeAt(a float64) float64 {
	if a <= 0 {
		return 0
	}
	if a >= r.LengthM {
		return r.DurationS
	}
	i := r.segAt(a)
	l := r.cum[i+1] - r.cum[i]
	if l <= 0 {
		return r.t[i]
	}
	return r.t[i] + (a-r.cum[i])/l*(r.t[i+1]-r.t[i])
}

// alongAt returns the along planned at s seconds from departure.
func (r *PlannedRoute) alongAt(s float64) float64 {
	if s <= 0 {
		return 0
	}
	if s >= r.DurationS {
		return r.LengthM
	}
	i := sort.SearchFloat64s(r.t, s) - 1
	i = min(max(i, 0), len(r.seg)-1)
	dt := r.t[i+1] - r.t[i]
	if dt <= 0 {
		return r.cum[i]
	}
	return r.cum[i] + (s-r.t[i])/dt*(r.cum[i+1]-r.cum[i])
}

// PointAt returns the route's point at along a.
func (r *PlannedRoute) PointAt(a float64) convoi.LatLon {
	if a <= 0 {
		return r.pts[0]
	}
	if a >= r.LengthM {
		return r.pts[len(r.pts)-1]
	}
	i := r.segAt(a)
	l := r.cum[i+1] - r.cum[i]
	f := 0.0
	if l > 0 {
		f = (a - r.cum[i]) / l
	}
	p, q := r.pts[i], r.pts[i+1]
	return convoi.LatLon{Lat: p.Lat + f*(q.Lat-p.Lat), Lon: p.Lon + f*(q.Lon-p.Lon)}
}

// zoneAt returns the zone holding along a, chokepoints first.
func (r *PlannedRoute) zoneAt(a float64) (zone, bool) {
	var found zone
	ok := false
	for _, z := range r.zones {
		if a >= z.a && a <= z.b && (!ok || z.chokepoint && !found.chokepoint || z.kind&roadnet.KindTollBooth != 0) {
			found, ok = z, true
		}
	}
	return found, ok
}

// inTunnel reports whether along a lies in a tunnel (with pad metres around).
func (r *PlannedRoute) inTunnel(a, pad float64) bool {
	for _, t := range r.tunnels {
		if a >= t.a-pad && a <= t.b+pad {
			return true
		}
	}
	return false
}

// tunnelExitAfter returns the end of the tunnel that along a is in or is
// within approach metres before, and whether there is one.
func (r *PlannedRoute) tunnelExitAfter(a, approach float64) (float64, bool) {
	for _, t := range r.tunnels {
		if a >= t.a-approach && a <= t.b {
			return t.b, true
		}
	}
	return 0, false
}

// Tunnels returns the route's tunnel stretches as along intervals, metres.
func (r *PlannedRoute) Tunnels() [][2]float64 {
	out := make([][2]float64, len(r.tunnels))
	for i, t := range r.tunnels {
		out[i] = [2]float64{t.a, t.b}
	}
	return out
}

// Place is a named place along the route: a toll booth, a ramp, a tunnel.
type Place struct {
	Name       string
	At         convoi.LatLon
	AlongM     float64
	Chokepoint bool
	Kinds      roadnet.Kind
}

// Places lists the route's chokepoints and slow points in order.
func (r *PlannedRoute) Places() []Place {
	out := make([]Place, 0, len(r.zones))
	for _, z := range r.zones {
		out = append(out, Place{Name: z.name, At: z.at, AlongM: (z.a + z.b) / 2, Chokepoint: z.chokepoint, Kinds: z.kind})
	}
	return out
}

// Point returns the geometry point i, its along and the planned time there, for
// drivers that follow the route (the simulator).
func (r *PlannedRoute) Point(i int) (convoi.LatLon, float64, float64) {
	return r.pts[i], r.cum[i], r.t[i]
}

// NumPoints returns the number of points of the route geometry.
func (r *PlannedRoute) NumPoints() int { return len(r.pts) }

// OffMapAt reports whether along a lies on a stretch off the road map.
func (r *PlannedRoute) OffMapAt(a float64) bool { return r.seg[r.segAt(a)].offMap }

// KindsAt returns the road kinds at along a.
func (r *PlannedRoute) KindsAt(a float64) roadnet.Kind { return r.seg[r.segAt(a)].kinds }

// Project returns the distance of p from the route and its along, searching
// the whole route (heading unknown).
func (r *PlannedRoute) Project(p convoi.LatLon) (dist, along float64) {
	d, a, _ := r.project(p, 0, r.LengthM, -1, 0)
	return d, a
}

// TimeAt returns the planned seconds from departure at along a.
func (r *PlannedRoute) TimeAt(a float64) float64 { return r.timeAt(a) }

// AlongAt returns the along planned s seconds after departure.
func (r *PlannedRoute) AlongAt(s float64) float64 { return r.alongAt(s) }
