package ambush

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// MapRequest asks for the ambush game of one journey on a road graph.
type MapRequest struct {
	From, To convoi.LatLon
	// Epoch is the wall-clock time of slot offset 0; Slots are the
	// candidate departures as offsets from it, strictly increasing.
	Epoch time.Time
	Slots []time.Duration
	// UsualSlot is the habitual departure for the baseline figures; -1
	// means the latest slot at which the fastest route is on time.
	UsualSlot int
	// Deadline is the latest arrival; zero means none.
	Deadline time.Time
	Stretch  float64      // 0 means DefaultStretch
	Avoid    roadnet.Kind // chokepoint kinds the escort level forbids
	// Police are the positions of police and gendarmerie units: the longer
	// their drive to a site, the more attractive it is.
	Police []convoi.LatLon
	// Window and WindowStep define the attacker's time windows: windows of
	// length Window every WindowStep from Epoch to the deadline (or the
	// last slot plus twice the stretch-bounded fastest time). Zero Window
	// means the static game.
	Window, WindowStep time.Duration
}

// SiteModel says how attractive a road position is to an attacker: the hit
// probability of a site is
//
//	MaxP x (Floor + (1-Floor) x slow) x (Floor + (1-Floor) x police) x (Floor + (1-Floor) x escape)
//
// where slow in [0, 1] is the forced slowdown (the largest of the edge's
// chokepoint kinds in Slowdown and of 1 - speed/FreeSpeedKmh), police =
// t/(t+PoliceHalfS) with t the drive time of the nearest unit, and escape =
// 1 - exp(-exits/EscapeScale) with exits the number of other roads at the
// two ends of the edge. Sites are placed at every junction and every
// SpacingM metres along every edge, except within SecureRadiusM of the
// origin and destination, which are secured perimeters.
type SiteModel struct {
	MaxP          float64
	Floor         float64
	Slowdown      []KindSlowdown
	FreeSpeedKmh  float64
	PoliceHalfS   float64
	PoliceReachS  float64 // reachability budget; farther counts as this far
	EscapeScale   float64
	SpacingM      float64
	SecureRadiusM float64
	// GatewaySlackM and OffMapSpeedKmh model endpoints beyond the map.
	GatewaySlackM   float64
	GatewaySpacingM float64
	OffMapSpeedKmh  float64
	OffMapDetour    float64
}

// KindSlowdown is how much a chokepoint kind forces an escort to slow down, in [0, 1].
type KindSlowdown struct {
	Kind roadnet.Kind
	Slow float64
}

// DefaultSiteModel is the attractiveness model of docs/ambush.md.
var DefaultSiteModel = SiteModel{
	MaxP:  0.9,
	Floor: 0.2,
	Slowdown: []KindSlowdown{
		{roadnet.KindTollBooth, 1},
		{roadnet.KindLevelCrossing, 0.9},
		{roadnet.KindBarrier, 0.9},
		{roadnet.KindTrafficSignals, 0.75},
		{roadnet.KindRoundabout, 0.7},
		{roadnet.KindRamp, 0.5},
		{roadnet.KindBridge, 0.4},
		{roadnet.KindTunnel, 0.4},
		{roadnet.KindToll, 0.3},
	},
	FreeSpeedKmh:    130,
	PoliceHalfS:     300,
	PoliceReachS:    3600,
	EscapeScale:     3,
	SpacingM:        150,
	SecureRadiusM:   250,
	GatewaySlackM:   4000,
	GatewaySpacingM: 400,
	OffMapSpeedKmh:  110,
	OffMapDetour:    1.3,
}

// BuildInstance returns the game of req on road graph g: every road of the
// graph with its travel time, candidate sites weighted by model, and the
// slots and windows of req. Edge.Ref is the roadnet.EdgeID. Snapping
// failures are the graph's errors (EINVALID, ENOTFOUND).
func BuildInstance(ctx context.Context, g *roadnet.Graph, req MapRequest, model SiteModel) (*Instance, error) {
	if len(req.Slots) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush map game: no departure slots.")
	}
	origin, oGates, err := endpoint(g, req.From, true, model)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	dest, dGates, err := endpoint(g, req.To, false, model)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	if oGates != nil && dGates != nil && !crosses(g.Bounds(), req.From, req.To) {
		b := g.Bounds()
		return nil, notCovered{convoi.Errorf(convoi.EINVALID, "The road graph (%.4f,%.4f to %.4f,%.4f) does not cover the movement: its origin is %.0f km and its destination %.0f km from the map's area, and the way between them does not cross it.",
			b.MinLat, b.MinLon, b.MaxLat, b.MaxLon, distToBox(b, req.From)/1000, distToBox(b, req.To)/1000)}
	}
	if origin == dest && oGates == nil && dGates == nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush map game: origin and destination snap to the same junction.")
	}

	police, err := policeTimes(ctx, g, req.Police, model)
	if err != nil {
		return nil, err
	}
	in := &Instance{
		Origin:      nodeName(origin),
		Destination: nodeName(dest),
		Stretch:     req.Stretch,
		Forbid:      req.Avoid.Names(),
	}
	n := g.NumNodes()
	in.Nodes = make([]Node, n)
	for v := 0; v < n; v++ {
		ll := g.NodeLatLon(roadnet.NodeID(v))
		in.Nodes[v] = Node{ID: nodeName(roadnet.NodeID(v)), Lat: ll.Lat, Lon: ll.Lon}
	}
	secure := func(p convoi.LatLon) bool {
		return p.DistanceM(req.From) < model.SecureRadiusM || p.DistanceM(req.To) < model.SecureRadiusM
	}
	// exits counts the distinct other roads at a junction.
	exits := func(v roadnet.NodeID) int {
		seen := map[roadnet.NodeID]bool{}
		a, b := g.OutEdges(v)
		for e := a; e < b; e++ {
			seen[g.EdgeTo(e)] = true
		}
		for _, e := range g.InEdges(v) {
			seen[g.EdgeFrom(roadnet.EdgeID(e))] = true
		}
		return len(seen)
	}
	ex := make([]int, n)
	for v := range ex {
		ex[v] = exits(roadnet.NodeID(v))
	}
	m := g.NumEdges()
	in.Edges = make([]Edge, 0, m)
	slowOf := func(k roadnet.Kind) float64 {
		var s float64
		for _, ks := range model.Slowdown {
			if k&ks.Kind != 0 {
				s = math.Max(s, ks.Slow)
			}
		}
		return s
	}
	attract := func(slow, policeS float64, exits int) float64 {
		f := model.Floor
		pol := policeS / (policeS + model.PoliceHalfS)
		esc := 1 - math.Exp(-float64(exits)/model.EscapeScale)
		return model.MaxP * (f + (1-f)*slow) * (f + (1-f)*pol) * (f + (1-f)*esc)
	}
	// Junction sites: the slowdown of the slowest road into them.
	nodeSlow := make([]float64, n)
	for e := 0; e < m; e++ {
		if err := ctxEvery(ctx, e); err != nil {
			return nil, err
		}
		ed := g.Edge(roadnet.EdgeID(e))
		secs := g.Duration(ed.Cost)
		if secs <= 0 {
			secs = 1e-3
		}
		in.Edges = append(in.Edges, Edge{From: nodeName(ed.From), To: nodeName(ed.To), TimeS: secs, Tags: ed.Kinds.Names(), Ref: int64(e)})
		slow := slowOf(ed.Kinds)
		if secs > 0 && ed.DistanceM > 0 {
			slow = math.Max(slow, math.Max(0, 1-ed.DistanceM/secs*3.6/model.FreeSpeedKmh))
		}
		nodeSlow[ed.To] = math.Max(nodeSlow[ed.To], slowOf(ed.Kinds&(roadnet.KindTollBooth|roadnet.KindTrafficSignals|roadnet.KindLevelCrossing|roadnet.KindBarrier|roadnet.KindRoundabout)))
		k := max(1, int(ed.DistanceM/model.SpacingM))
		a, b := g.NodeLatLon(ed.From), g.NodeLatLon(ed.To)
		for i := 0; i < k; i++ {
			at := (float64(i) + 0.5) / float64(k)
			pos := convoi.LatLon{Lat: a.Lat + at*(b.Lat-a.Lat), Lon: a.Lon + at*(b.Lon-a.Lon)}
			if secure(pos) {
				continue
			}
			pt := police[ed.From] + at*(police[ed.To]-police[ed.From])
			ei := e
			in.Sites = append(in.Sites, Site{
				ID: "e" + strconv.Itoa(e) + "." + strconv.Itoa(i), Edge: &ei, At: at,
				P: attract(slow, pt, ex[ed.From]+ex[ed.To]-2), Tags: ed.Kinds.Names(),
			})
		}
	}
	for v := 0; v < n; v++ {
		if ll := g.NodeLatLon(roadnet.NodeID(v)); secure(ll) || ex[v] == 0 {
			continue
		}
		in.Sites = append(in.Sites, Site{ID: "n" + strconv.Itoa(v), Node: nodeName(roadnet.NodeID(v)),
			P: attract(nodeSlow[v], police[v], ex[v])})
	}
	// Endpoints off the map: a virtual node joined to the gateways.
	for _, gw := range []struct {
		gates []gateway
		at    convoi.LatLon
		out   bool
	}{{oGates, req.From, true}, {dGates, req.To, false}} {
		if gw.gates == nil {
			continue
		}
		id := "offmap-destination"
		if gw.out {
			id, in.Origin = "offmap-origin", "offmap-origin"
		} else {
			in.Destination = id
		}
		in.Nodes = append(in.Nodes, Node{ID: id, Lat: gw.at.Lat, Lon: gw.at.Lon, Tags: []string{"off_map"}})
		for _, c := range gw.gates {
			e := Edge{From: nodeName(c.node), To: id, TimeS: c.timeS, Tags: []string{"off_map"}, Ref: -1}
			if gw.out {
				e.From, e.To = id, nodeName(c.node)
			}
			in.Edges = append(in.Edges, e)
		}
	}
	in.SetSchedule(req.Epoch, req.Slots, req.UsualSlot, req.Deadline, req.Window, req.WindowStep)
	return in, in.Validate()
}

// SetSchedule sets the departure slots (offsets from epoch), the usual slot
// (-1: default), the deadline (zero: none) and the attacker windows: length
// window every step from epoch to the deadline (or four hours past the last
// slot); a zero window means the static game.
func (in *Instance) SetSchedule(epoch time.Time, slots []time.Duration, usual int, deadline time.Time, window, step time.Duration) {
	in.Epoch, in.Slots, in.UsualSlot, in.Deadline, in.Windows = epoch, nil, nil, nil, nil
	for _, s := range slots {
		in.Slots = append(in.Slots, s.Seconds())
	}
	if usual >= 0 && usual < len(slots) {
		in.UsualSlot = &usual
	}
	if !deadline.IsZero() {
		d := deadline.Sub(epoch).Seconds()
		in.Deadline = &d
	}
	if window <= 0 || len(slots) == 0 {
		return
	}
	if step <= 0 {
		step = window
	}
	end := deadline
	if end.IsZero() {
		end = epoch.Add(slots[len(slots)-1] + 4*time.Hour)
	}
	for t := -window + step; epoch.Add(t).Before(end); t += step {
		in.Windows = append(in.Windows, Window{t.Seconds(), (t + window).Seconds()})
	}
}

// ErrNotCovered is in the chain of the error of a plan whose origin and
// destination are both off the road graph with the map not on the way
// between them (errors.Is): the graph of another region is needed.
var ErrNotCovered = errors.New("the road graph does not cover the movement")

// notCovered is a convoi error that is also ErrNotCovered.
type notCovered struct{ err error }

func (e notCovered) Error() string   { return e.err.Error() }
func (e notCovered) Unwrap() []error { return []error{e.err, ErrNotCovered} }

// crosses reports whether the straight way from a to b passes through box
// b (sampled every kilometre or so, enough for a map's area).
func crosses(box roadnet.BBox, a, b convoi.LatLon) bool {
	n := max(1, int(a.DistanceM(b)/1000))
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		if box.Contains(convoi.LatLon{Lat: a.Lat + t*(b.Lat-a.Lat), Lon: a.Lon + t*(b.Lon-a.Lon)}) {
			return true
		}
	}
	return false
}

// distToBox is the distance in metres from p to the nearest point of box.
func distToBox(box roadnet.BBox, p convoi.LatLon) float64 {
	q := convoi.LatLon{Lat: min(max(p.Lat, box.MinLat), box.MaxLat), Lon: min(max(p.Lon, box.MinLon), box.MaxLon)}
	return p.DistanceM(q)
}

// gateway is a road node where a journey to or from a place off the map
// leaves or enters it, with the estimated time for the rest of the way.
type gateway struct {
	node  roadnet.NodeID
	timeS float64
}

// endpoint snaps p to the road graph. A place more than roadnet.MaxSnapM
// from any road (a destination beyond the extract, like Nice from the
// Monaco map) is reached through gateways instead: the road nodes within
// model.GatewaySlackM of the closest one, at least model.GatewaySpacingM
// apart, the fastest ways out first, each with the rest of the way
// estimated as the crow-fly distance times model.OffMapDetour at the speed
// of the gateway's fastest road (between 30 km/h and model.OffMapSpeedKmh).
func endpoint(g *roadnet.Graph, p convoi.LatLon, origin bool, model SiteModel) (roadnet.NodeID, []gateway, error) {
	pos, err := g.Snap(p)
	if err == nil {
		if pos.Edge == roadnet.NoEdge {
			return pos.Node, nil, nil
		}
		// Start where the road leads, end where it starts: the last
		// metres are inside the site.
		if origin {
			return g.EdgeTo(pos.Edge), nil, nil
		}
		return g.EdgeFrom(pos.Edge), nil, nil
	}
	if convoi.ErrorCode(err) != convoi.ENOTFOUND || g.NumNodes() == 0 {
		return 0, nil, err
	}
	type cand struct {
		n roadnet.NodeID
		d float64
	}
	all := make([]cand, g.NumNodes())
	for v := range all {
		all[v] = cand{roadnet.NodeID(v), g.NodeLatLon(roadnet.NodeID(v)).DistanceM(p)}
	}
	slices.SortFunc(all, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
	// The rest of the way continues the node's fastest road.
	rest := func(c cand) float64 {
		kmh := 30.0
		var edges []uint32
		if origin {
			a, b := g.OutEdges(c.n)
			for e := a; e < b; e++ {
				edges = append(edges, uint32(e))
			}
		} else {
			edges = g.InEdges(c.n)
		}
		for _, e := range edges {
			if ed := g.Edge(roadnet.EdgeID(e)); ed.Cost > 0 {
				kmh = math.Max(kmh, ed.DistanceM/g.Duration(ed.Cost)*3.6)
			}
		}
		return math.Max(1, c.d*model.OffMapDetour/(math.Min(kmh, model.OffMapSpeedKmh)/3.6))
	}
	var band []gateway
	for _, c := range all {
		if c.d > all[0].d+model.GatewaySlackM {
			break
		}
		band = append(band, gateway{c.n, rest(c)})
	}
	// Fastest ways out first, then thinned to one per GatewaySpacingM.
	slices.SortStableFunc(band, func(a, b gateway) int { return cmp.Compare(a.timeS, b.timeS) })
	var gates []gateway
	for _, c := range band {
		ll := g.NodeLatLon(c.node)
		if !slices.ContainsFunc(gates, func(gw gateway) bool { return g.NodeLatLon(gw.node).DistanceM(ll) < model.GatewaySpacingM }) {
			gates = append(gates, c)
		}
	}
	if len(gates) == 0 {
		return 0, nil, err
	}
	return gates[0].node, gates, nil
}

// policeTimes returns, per node, the drive time in seconds from the nearest
// police unit, capped at model.PoliceReachS: one reachability query per unit.
func policeTimes(ctx context.Context, g *roadnet.Graph, units []convoi.LatLon, model SiteModel) ([]float64, error) {
	t := make([]float64, g.NumNodes())
	for i := range t {
		t[i] = model.PoliceReachS
	}
	budget := g.CostOf(model.PoliceReachS)
	for _, u := range units {
		pos, err := g.Snap(u)
		if err != nil {
			continue // a unit off the map does not help
		}
		iso, err := g.Isochrone(ctx, pos, budget, roadnet.RouteOptions{})
		if err != nil {
			return nil, fmt.Errorf("police reachability: %w", err)
		}
		for i, v := range iso.Nodes {
			t[v] = math.Min(t[v], g.Duration(iso.Times[i]))
		}
	}
	return t, nil
}

// RouteSummary turns a strategy route on an instance built by
// BuildInstance into what the crew drives: geometry, distance, duration and
// chokepoints from the road graph.
func RouteSummary(g *roadnet.Graph, in *Instance, r StrategyRoute) (*convoi.RouteSummary, error) {
	p := roadnet.Path{LastFraction: 1}
	var offS, offM float64
	var offAt []convoi.LatLon
	for _, ei := range r.Edges {
		if ei >= 0 && ei < len(in.Edges) && in.Edges[ei].Ref == -1 {
			// A virtual edge to or from a place off the map.
			e := in.Edges[ei]
			offS += e.TimeS
			var ends []convoi.LatLon
			for _, n := range in.Nodes {
				if n.ID == e.From || n.ID == e.To {
					ends = append(ends, convoi.LatLon{Lat: n.Lat, Lon: n.Lon})
					if slices.Contains(n.Tags, "off_map") {
						offAt = append(offAt, ends[len(ends)-1])
					}
				}
			}
			if len(ends) == 2 {
				offM += ends[0].DistanceM(ends[1]) * DefaultSiteModel.OffMapDetour
			}
			continue
		}
		if ei < 0 || ei >= len(in.Edges) || in.Edges[ei].Ref < 0 || in.Edges[ei].Ref >= int64(g.NumEdges()) {
			return nil, convoi.Errorf(convoi.EINVALID, "Route edge %d is not an edge of the road graph.", ei)
		}
		e := roadnet.EdgeID(in.Edges[ei].Ref)
		p.Edges = append(p.Edges, e)
		p.Cost += g.EdgeCost(e)
	}
	if len(p.Edges) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Route has no edges.")
	}
	rt := g.PathRoute(p)
	s := &convoi.RouteSummary{Geometry: rt.Geometry, DistanceM: rt.DistanceM + offM, DurationS: rt.DurationS + offS}
	if len(offAt) > 0 && len(r.Edges) > 0 && in.Edges[r.Edges[0]].Ref == -1 {
		s.Geometry = append([]convoi.LatLon{offAt[0]}, s.Geometry...)
		offAt = offAt[1:]
	}
	s.Geometry = append(s.Geometry, offAt...)
	for _, c := range rt.Chokepoints {
		name := c.Kind.String()
		if c.Name != "" {
			name += " " + c.Name
		}
		s.Chokepoints = append(s.Chokepoints, name)
	}
	return s, nil
}

func nodeName(v roadnet.NodeID) string { return strconv.FormatUint(uint64(v), 10) }

func ctxEvery(ctx context.Context, i int) error {
	if i&4095 == 0 {
		return ctx.Err()
	}
	return nil
}
