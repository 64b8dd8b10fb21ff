// Package response is the engine of the live response to an attack on an
// escort: where the attackers can be (escape reachability areas), where
// they are likely to go (fugitive escape routes sampled on the road graph
// towards the area's escape nodes), and where the units that are close
// should set roadblocks (the proven-optimal plan of package intercept),
// re-planned as sightings narrow the routes down.
//
// It imports convoi, roadnet and intercept and the standard library only.
// It never logs and reads no clock: the attack time and "now" are
// arguments. An Engine is immutable once built and safe for concurrent use;
// the road graph is shared, never modified.
package response

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/intercept"
	"github.com/convoi/convoi/roadnet"
)

// Params are the documented parameters of the response (docs/intercept.md).
// Zero fields take the defaults of DefaultParams.
type Params struct {
	// Bands are the reachability budgets, increasing (default 5, 10, 15,
	// 20 minutes).
	Bands []time.Duration
	// CellM is the grid cell of the reachability outline in metres
	// (default 100): the polygon reaches about one cell beyond a road.
	CellM float64
	// Horizon is how long an escape route is followed (default 20 min,
	// the largest band): visits later than that are dropped.
	Horizon time.Duration
	// Routes is the number of sampled escape routes (default 1000).
	Routes int
	// Seed makes the sample reproducible (default 1).
	Seed uint64
	// Noise is the spread of the fugitive's route choice: each route
	// weighs every road by a factor exp(Noise·|Z|), Z standard normal,
	// and takes the fastest way under those weights (default 0.4). Times
	// along the route stay the real travel times.
	Noise float64
	// EdgeM is how close to the edge of the map a node counts as leaving
	// the area (default 400 m); ClusterM merges escape nodes closer than
	// that into one target (default 500 m), so that a road with many
	// nodes at the edge does not draw more routes than a motorway exit.
	EdgeM, ClusterM float64
	// SightingRadiusM and SightingSlack say when a route is consistent
	// with a sighting: it passes within SightingRadiusM (default 300 m) of
	// the place at a time within SightingSlack (default 2 min) plus
	// SightingSlackShare (default 0.3) of the time since the attack.
	SightingRadiusM    float64
	SightingSlack      time.Duration
	SightingSlackShare float64
	// MinRoutes: when sightings leave fewer routes than this, routes
	// sampled onwards from the latest confident sighting make up the
	// number (default 200).
	MinRoutes int
}

// DefaultParams returns the defaults.
func DefaultParams() Params {
	return Params{
		Bands:   []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute},
		CellM:   100,
		Horizon: 20 * time.Minute, Routes: 1000, Seed: 1, Noise: 0.4,
		EdgeM: 400, ClusterM: 500,
		SightingRadiusM: 300, SightingSlack: 2 * time.Minute, SightingSlackShare: 0.3,
		MinRoutes: 200,
	}
}

func (p *Params) fill() error {
	d := DefaultParams()
	if len(p.Bands) == 0 {
		p.Bands = d.Bands
	}
	for i, b := range p.Bands {
		if b <= 0 || (i > 0 && b <= p.Bands[i-1]) {
			return convoi.Errorf(convoi.EINVALID, "Reachability bands must be positive and increasing.")
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&p.CellM, d.CellM)
	setF(&p.Noise, d.Noise)
	setF(&p.EdgeM, d.EdgeM)
	setF(&p.ClusterM, d.ClusterM)
	setF(&p.SightingRadiusM, d.SightingRadiusM)
	setF(&p.SightingSlackShare, d.SightingSlackShare)
	if p.Horizon == 0 {
		p.Horizon = p.Bands[len(p.Bands)-1]
	}
	if p.Routes == 0 {
		p.Routes = d.Routes
	}
	if p.Seed == 0 {
		p.Seed = d.Seed
	}
	if p.SightingSlack == 0 {
		p.SightingSlack = d.SightingSlack
	}
	if p.MinRoutes == 0 {
		p.MinRoutes = d.MinRoutes
	}
	if p.CellM < 10 || p.Horizon < 0 || p.Routes < 1 || p.Routes > 100000 || p.Noise < 0 || p.EdgeM < 0 || p.ClusterM < 0 || p.SightingRadiusM < 0 {
		return convoi.Errorf(convoi.EINVALID, "Response parameters out of range.")
	}
	return nil
}

// Engine answers reachability, route and plan questions on one road graph.
type Engine struct {
	g      *roadnet.Graph
	p      Params
	escape []roadnet.NodeID // one per cluster, sorted
	inst   intercept.Instance
}

// New builds an engine on g (which it never modifies) with the parameters
// p (zero fields default). It finds the escape nodes once.
func New(g *roadnet.Graph, p Params) (*Engine, error) {
	if g == nil || g.NumNodes() == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "The response needs a road graph.")
	}
	if err := p.fill(); err != nil {
		return nil, err
	}
	e := &Engine{g: g, p: p}
	e.escape = e.findEscapeNodes()
	if len(e.escape) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "The road graph has no escape node (no motorway junction, no road leaving the map).")
	}
	// The interception instance's graph is the road graph itself: node i
	// is roadnet node i, edges with their travel times in seconds.
	n := g.NumNodes()
	e.inst.Nodes = make([]intercept.Node, n)
	for i := range n {
		ll := g.NodeLatLon(roadnet.NodeID(i))
		id, _ := g.ExternalID(roadnet.NodeID(i))
		e.inst.Nodes[i] = intercept.Node{ID: id, Lat: ll.Lat, Lon: ll.Lon}
	}
	e.inst.Edges = make([]intercept.Edge, g.NumEdges())
	for i := range e.inst.Edges {
		id := roadnet.EdgeID(i)
		e.inst.Edges[i] = intercept.Edge{From: int(g.EdgeFrom(id)), To: int(g.EdgeTo(id)), TravelTimeS: g.Duration(g.EdgeCost(id))}
	}
	return e, nil
}

// Params returns the engine's parameters with the defaults filled in.
func (e *Engine) Params() Params { return e.p }

// NodeLatLon returns the position of a graph node (a route's Escape, say).
func (e *Engine) NodeLatLon(n roadnet.NodeID) convoi.LatLon { return e.g.NodeLatLon(n) }

// EscapeNodes returns where the sampled routes lead: motorway junctions
// (a node where a motorway or trunk link meets another road) and nodes
// within EdgeM of the edge of the map, one per ClusterM cluster.
func (e *Engine) EscapeNodes() []convoi.LatLon {
	out := make([]convoi.LatLon, len(e.escape))
	for i, v := range e.escape {
		out[i] = e.g.NodeLatLon(v)
	}
	return out
}

func (e *Engine) findEscapeNodes() []roadnet.NodeID {
	g := e.g
	b := g.Bounds()
	mid := convoi.LatLon{Lat: (b.MinLat + b.MaxLat) / 2, Lon: (b.MinLon + b.MaxLon) / 2}
	gr := newGrid(mid, 1)
	x0, y0 := gr.xy(convoi.LatLon{Lat: b.MinLat, Lon: b.MinLon})
	x1, y1 := gr.xy(convoi.LatLon{Lat: b.MaxLat, Lon: b.MaxLon})
	var cands []roadnet.NodeID
	for i := range g.NumNodes() {
		v := roadnet.NodeID(i)
		first, end := g.OutEdges(v)
		in := g.InEdges(v)
		if end == first && len(in) == 0 {
			continue
		}
		ramp, other := false, false
		for ed := first; ed < end; ed++ {
			if g.EdgeKinds(ed)&roadnet.KindRamp != 0 {
				ramp = true
			} else {
				other = true
			}
		}
		for _, ed := range in {
			if g.EdgeKinds(roadnet.EdgeID(ed))&roadnet.KindRamp != 0 {
				ramp = true
			} else {
				other = true
			}
		}
		x, y := gr.xy(g.NodeLatLon(v))
		edge := x-x0 <= e.p.EdgeM || x1-x <= e.p.EdgeM || y-y0 <= e.p.EdgeM || y1-y <= e.p.EdgeM
		if (ramp && other) || edge {
			cands = append(cands, v)
		}
	}
	// One node per cluster: greedy in node order, a node joins the first
	// kept node within ClusterM.
	var kept []roadnet.NodeID
	for _, v := range cands {
		p := g.NodeLatLon(v)
		near := false
		for _, k := range kept {
			if g.NodeLatLon(k).DistanceM(p) < e.p.ClusterM {
				near = true
				break
			}
		}
		if !near {
			kept = append(kept, v)
		}
	}
	return kept
}

// Reachability is where a vehicle leaving at from can be after each band.
type Reachability struct {
	From  convoi.LatLon             `json:"from"`
	Bands []convoi.ReachabilityBand `json:"bands"`
}

// Reachability computes the escape areas from at: one isochrone (roadnet)
// for the largest band, then for each band the reached road geometry (cut
// where the time runs out) outlined as polygons (polygon.go).
func (e *Engine) Reachability(ctx context.Context, at convoi.LatLon) (*Reachability, error) {
	g := e.g
	pos, err := e.snap(at)
	if err != nil {
		return nil, err
	}
	last := e.p.Bands[len(e.p.Bands)-1]
	iso, err := g.Isochrone(ctx, pos, g.CostOf(last.Seconds()), roadnet.RouteOptions{})
	if err != nil {
		return nil, err
	}
	out := &Reachability{From: at}
	var pts []convoi.LatLon
	for _, band := range e.p.Bands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		budget := g.CostOf(band.Seconds())
		gr := newGrid(at, e.p.CellM)
		gr.addLine([]convoi.LatLon{at, pos.LatLon})
		n := 0
		for i, u := range iso.Nodes {
			du := iso.Times[i]
			if du > budget {
				break // Nodes are in increasing cost order
			}
			n++
			first, end := g.OutEdges(u)
			for ed := first; ed < end; ed++ {
				pts = g.EdgeGeometry(pts[:0], ed)
				left, w := budget-du, g.EdgeCost(ed)
				if left < w && w > 0 {
					pts = cutLine(pts, float64(left)/float64(w))
				}
				gr.addLine(pts)
			}
		}
		rings := gr.outline()
		area := 0.0
		for _, r := range rings {
			area += ringAreaM2(r)
		}
		out.Bands = append(out.Bands, convoi.ReachabilityBand{Minutes: band.Minutes(), Polygons: rings, AreaKm2: math.Round(area/1e4) / 100, Nodes: n})
	}
	return out, nil
}

// snap places a point on the road graph; a point off the map (no road
// within roadnet.MaxSnapM) is EINVALID, saying so.
func (e *Engine) snap(at convoi.LatLon) (roadnet.RoadPoint, error) {
	p, err := e.g.Snap(at)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return p, convoi.Errorf(convoi.EINVALID, "%.5f,%.5f is off this server's road map (no road within %d m).", at.Lat, at.Lon, roadnet.MaxSnapM)
	}
	return p, err
}

// cutLine keeps the first share f of the polyline's length.
func cutLine(pts []convoi.LatLon, f float64) []convoi.LatLon {
	total := 0.0
	for i := 1; i < len(pts); i++ {
		total += pts[i-1].DistanceM(pts[i])
	}
	want := f * total
	for i := 1; i < len(pts); i++ {
		d := pts[i-1].DistanceM(pts[i])
		if want <= d {
			t := 0.0
			if d > 0 {
				t = want / d
			}
			pts[i] = convoi.LatLon{Lat: pts[i-1].Lat + t*(pts[i].Lat-pts[i-1].Lat), Lon: pts[i-1].Lon + t*(pts[i].Lon-pts[i-1].Lon)}
			return pts[:i+1]
		}
		want -= d
	}
	return pts
}

// EscapeRoute is one sampled escape route on the graph: the road nodes it
// passes and when (convoi.EscapeRoute is its map form for the API).
type EscapeRoute struct {
	// Nodes are graph nodes; TimesS the seconds since the attack at each.
	Nodes  []roadnet.NodeID `json:"-"`
	TimesS []float64        `json:"-"`
	// Escape is the escape node the route leads to.
	Escape roadnet.NodeID `json:"-"`
}

// EscapeRoutes is a sample of escape routes from one place and time.
type EscapeRoutes struct {
	From   convoi.LatLon
	Routes []EscapeRoute
}

// routesPerTree is how many routes share one perturbed weighting: one
// search from the start under those weights, then the way to each of
// routesPerTree escape nodes drawn for it.
const routesPerTree = 10

// SampleRoutes draws count escape routes from at, leaving startS seconds
// after the attack (0 for the attack point itself), with a random
// generator seeded by seed: the same arguments give the same routes. The
// routes come in groups of routesPerTree: each group weighs every road by
// its own random factor exp(Noise·|Z|) and searches once (roadnet's
// isochrone under those weights); each of its routes picks an escape node
// uniformly among those reachable and follows the fastest way to it under
// the group's weights. Times are the real travel times; visits after the
// Horizon are dropped.
func (e *Engine) SampleRoutes(ctx context.Context, at convoi.LatLon, startS float64, count int, seed uint64) (*EscapeRoutes, error) {
	g := e.g
	pos, err := e.snap(at)
	if err != nil {
		return nil, err
	}
	if count < 1 {
		return nil, convoi.Errorf(convoi.EINVALID, "The number of routes must be positive.")
	}
	horizon := e.p.Horizon.Seconds()
	rng := rand.New(rand.NewPCG(seed, 0x636f6e766f69)) // "convoi"
	n := g.NumNodes()
	pen := make([]uint32, g.NumEdges())
	cost := make([]int64, n)
	var reach []int
	budget := g.CostOf(math.Max(2*horizon-startS, 60)) * int64(1+math.Ceil(math.Exp(3*e.p.Noise)))
	out := &EscapeRoutes{From: at, Routes: make([]EscapeRoute, 0, count)}
	var back []roadnet.NodeID
	for len(out.Routes) < count {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range pen {
			f := math.Exp(e.p.Noise*math.Abs(rng.NormFloat64())) - 1
			pen[i] = uint32(math.Min(float64(g.EdgeCost(roadnet.EdgeID(i)))*f, math.MaxUint32/8))
		}
		iso, err := g.Isochrone(ctx, pos, budget, roadnet.RouteOptions{Penalty: pen})
		if err != nil {
			return nil, err
		}
		for i := range cost {
			cost[i] = -1
		}
		for i, v := range iso.Nodes {
			cost[v] = iso.Times[i]
		}
		reach = reach[:0]
		for i, v := range e.escape {
			if cost[v] > 0 {
				reach = append(reach, i)
			}
		}
		if len(reach) == 0 {
			return nil, convoi.Errorf(convoi.EINVALID, "No escape node can be reached from %.5f,%.5f.", at.Lat, at.Lon)
		}
		for k := 0; k < routesPerTree && len(out.Routes) < count; k++ {
			t := e.escape[reach[rng.IntN(len(reach))]]
			// Walk the search tree back from t: the in-edge whose tail's
			// cost plus the edge's perturbed weight is t's cost.
			back = append(back[:0], t)
			var edges []roadnet.EdgeID
			for v := t; len(back) <= n; {
				found := false
				for _, ed := range g.InEdges(v) {
					id := roadnet.EdgeID(ed)
					u := g.EdgeFrom(id)
					if cost[u] >= 0 && cost[u]+g.EdgeCost(id)+int64(pen[ed]) == cost[v] && u != v {
						edges = append(edges, id)
						back = append(back, u)
						v, found = u, true
						break
					}
				}
				if !found {
					break // v is where the search started (a seed)
				}
			}
			// back is t ... first node; its first node's time is its
			// (unperturbed) seed cost.
			first := back[len(back)-1]
			r := EscapeRoute{Escape: t}
			ts := startS + g.Duration(cost[first])
			if ts < horizon {
				r.Nodes = append(r.Nodes, first)
				r.TimesS = append(r.TimesS, ts)
			}
			for i := len(edges) - 1; i >= 0 && ts < horizon; i-- {
				ts += g.Duration(g.EdgeCost(edges[i]))
				if ts >= horizon {
					break
				}
				r.Nodes = append(r.Nodes, g.EdgeTo(edges[i]))
				r.TimesS = append(r.TimesS, ts)
			}
			out.Routes = append(out.Routes, r)
		}
	}
	return out, nil
}

// Unit is a police or gendarmerie unit the plan may use.
type Unit struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// At is where the unit is now: its tracker's latest fix, or its post.
	At convoi.LatLon `json:"at"`
	// ReadyS is how long the unit needs before it drives off (a crew at
	// its post must reach its car; a patrol already driving needs none).
	ReadyS float64 `json:"ready_s"`
}

// Sighting is a report of the attackers' vehicle.
type Sighting struct {
	At         convoi.LatLon
	Time       time.Time
	Confidence float64 // in (0, 1]
}

// Situation is what a plan is made from.
type Situation struct {
	Attack   convoi.LatLon
	AttackAt time.Time
	// Now is when the units set off (the plan's reference time); not
	// before AttackAt.
	Now       time.Time
	Units     []Unit
	Sightings []Sighting
}

// Plan is the interception plan for a situation.
type Plan struct {
	Assignments []convoi.Roadblock `json:"assignments"`
	Intercepted int                `json:"intercepted"`
	Routes      int                `json:"routes"`
	Fraction    float64            `json:"fraction"`
	Optimal     bool               `json:"optimal"`
	Bound       float64            `json:"bound"`
	// RoutesSampled is the sample size before sightings; RoutesKept how
	// many stayed consistent with them; RoutesAdded how many were sampled
	// onwards from the latest sighting to reach MinRoutes.
	RoutesSampled int `json:"routes_sampled"`
	RoutesKept    int `json:"routes_kept"`
	RoutesAdded   int `json:"routes_added"`
	// Sightings is how many sightings filtered the routes.
	Sightings int `json:"sightings"`
	// OffMap lists the units left out because they are more than
	// roadnet.MaxSnapM from every road of the map (posts of another
	// region).
	OffMap []string `json:"off_map,omitempty"`

	// Kept are the routes the plan was made for (after the sightings) and
	// Cut says which of them the plan intercepts: for the map (RouteLine).
	Kept []EscapeRoute `json:"-"`
	Cut  []bool        `json:"-"`
}

// RouteLine returns the road geometry of a route, from its first visit to
// its last (the fugitive's way, for the map).
func (e *Engine) RouteLine(r EscapeRoute) []convoi.LatLon {
	g := e.g
	var out, pts []convoi.LatLon
	for i, v := range r.Nodes {
		if i == 0 {
			out = append(out, g.NodeLatLon(v))
			continue
		}
		u := r.Nodes[i-1]
		best, bestCost := roadnet.NoEdge, int64(math.MaxInt64)
		first, end := g.OutEdges(u)
		for ed := first; ed < end; ed++ {
			if g.EdgeTo(ed) == v && g.EdgeCost(ed) < bestCost {
				best, bestCost = ed, g.EdgeCost(ed)
			}
		}
		if best == roadnet.NoEdge {
			out = append(out, g.NodeLatLon(v))
			continue
		}
		pts = g.EdgeGeometry(pts[:0], best)
		if len(pts) > 1 {
			out = append(out, pts[1:]...)
		}
	}
	return out
}

// Plan samples the escape routes from the attack point (fixed seed), keeps
// those consistent with the sightings, and solves the interception problem
// for the units at their current positions: a unit is at a node no sooner
// than (Now - AttackAt) + ReadyS + its travel time. routes may be a sample
// from an earlier call (SampleRoutes from the same attack point with
// startS 0) to save sampling; nil samples afresh.
func (e *Engine) Plan(ctx context.Context, s Situation, routes *EscapeRoutes) (*Plan, error) {
	if len(s.Units) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "No unit is available for the plan.")
	}
	if s.Now.Before(s.AttackAt) {
		return nil, convoi.Errorf(convoi.EINVALID, "The plan's time is before the attack.")
	}
	var err error
	if routes == nil {
		if routes, err = e.SampleRoutes(ctx, s.Attack, 0, e.p.Routes, e.p.Seed); err != nil {
			return nil, err
		}
	}
	kept, last := e.filter(routes.Routes, s)
	pl := &Plan{RoutesSampled: len(routes.Routes), RoutesKept: len(kept), Sightings: len(s.Sightings)}
	if len(kept) < e.p.MinRoutes && last != nil {
		startS := last.Time.Sub(s.AttackAt).Seconds()
		more, err := e.SampleRoutes(ctx, last.At, startS, e.p.MinRoutes-len(kept), e.p.Seed+uint64(len(s.Sightings)))
		if err != nil {
			return nil, err
		}
		pl.RoutesAdded = len(more.Routes)
		kept = append(kept, more.Routes...)
	}
	elapsed := s.Now.Sub(s.AttackAt).Seconds()
	in := e.inst // shallow copy: Nodes and Edges shared, read only
	in.Name = "response"
	in.HorizonS = e.p.Horizon.Seconds() + 1
	in.FugitiveStart = -1
	var used []Unit
	for _, un := range s.Units {
		if un.ReadyS < 0 || math.IsNaN(un.ReadyS) {
			return nil, convoi.Errorf(convoi.EINVALID, "Unit %s: ready time must not be negative.", un.ID)
		}
		p, err := e.g.Snap(un.At)
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			// A post of another region, off this road map: not a unit
			// of this response.
			pl.OffMap = append(pl.OffMap, un.ID)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("unit %s: %w", un.ID, err)
		}
		start := p.Node
		if p.Edge != roadnet.NoEdge {
			start = e.g.EdgeTo(p.Edge)
		}
		used = append(used, un)
		in.Units = append(in.Units, intercept.Unit{Start: int(start), StartDelayS: elapsed + un.ReadyS})
	}
	if len(used) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "No unit is on the road map of this response (%d off it).", len(pl.OffMap))
	}
	in.Routes = make([][]intercept.Visit, len(kept))
	for r, rt := range kept {
		vs := make([]intercept.Visit, len(rt.Nodes))
		for i, v := range rt.Nodes {
			vs[i] = intercept.Visit{Node: int(v), TimeS: rt.TimesS[i]}
		}
		in.Routes[r] = vs
	}
	if len(in.Routes) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "No escape route is left to plan for.")
	}
	prob, err := intercept.Compile(&in)
	if err != nil {
		return nil, err
	}
	sol, err := prob.Solve(ctx)
	if err != nil {
		return nil, err
	}
	pl.Intercepted, pl.Routes, pl.Fraction, pl.Optimal, pl.Bound = sol.Intercepted, sol.Routes, sol.Fraction, sol.Optimal, sol.Bound
	pl.Kept, pl.Cut = kept, make([]bool, len(kept))
	for r, rt := range kept {
		for u, v := range sol.Positions {
			for i, n := range rt.Nodes {
				if int(n) == v && rt.TimesS[i] >= prob.ArrivalS(u, v) {
					pl.Cut[r] = true
				}
			}
		}
	}
	for u, v := range sol.Positions {
		cut := prob.RoutesCut(u, v)
		reserve := cut == 0
		if reserve {
			v = in.Units[u].Start
		}
		arr := prob.ArrivalS(u, v) - elapsed
		id, _ := e.g.ExternalID(roadnet.NodeID(v))
		pl.Assignments = append(pl.Assignments, convoi.Roadblock{
			UnitID: used[u].ID, Name: used[u].Name, Node: id, At: e.g.NodeLatLon(roadnet.NodeID(v)),
			ArrivalS: math.Round(arr*10) / 10, Arrival: s.Now.Add(time.Duration(arr * float64(time.Second))).Truncate(time.Second),
			RoutesCut: cut, Share: float64(cut) / float64(sol.Routes), Reserve: reserve,
		})
	}
	return pl, nil
}

// filter keeps the routes consistent with the sightings (see Params): a
// consistent route always; an inconsistent one with probability
// 1 - confidence (seeded), so that a sure sighting keeps only consistent
// routes and a doubtful one thins the others out. It returns the latest
// sighting with confidence of at least one half, or nil.
func (e *Engine) filter(routes []EscapeRoute, s Situation) ([]EscapeRoute, *Sighting) {
	if len(s.Sightings) == 0 {
		return routes, nil
	}
	sights := append([]Sighting(nil), s.Sightings...)
	sort.SliceStable(sights, func(i, j int) bool { return sights[i].Time.Before(sights[j].Time) })
	var last *Sighting
	for i := range sights {
		if sights[i].Confidence >= 0.5 {
			last = &sights[i]
		}
	}
	rng := rand.New(rand.NewPCG(e.p.Seed, uint64(len(sights))))
	var kept []EscapeRoute
	for _, r := range routes {
		keep := true
		for _, si := range sights {
			if !e.consistent(r, si, s.AttackAt) && rng.Float64() >= 1-si.Confidence {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, r)
		}
	}
	return kept, last
}

func (e *Engine) consistent(r EscapeRoute, si Sighting, attackAt time.Time) bool {
	ts := si.Time.Sub(attackAt).Seconds()
	slack := e.p.SightingSlack.Seconds() + e.p.SightingSlackShare*math.Max(ts, 0)
	for i, v := range r.Nodes {
		if math.Abs(r.TimesS[i]-ts) <= slack && e.g.NodeLatLon(v).DistanceM(si.At) <= e.p.SightingRadiusM {
			return true
		}
	}
	return false
}
