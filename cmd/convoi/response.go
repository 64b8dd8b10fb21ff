package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/cap"
	"github.com/convoi/convoi/response"
	"github.com/convoi/convoi/roadnet"
)

// incidentResponder implements convoi.ResponseService: it gathers an incident's
// units (the police and gendarmerie posts of the site list, at their
// vehicles' latest tracker fix when fresh) and sightings, and asks the
// response engine for reachability, the plan and the CAP alert.
type incidentResponder struct {
	Engine    *response.Engine
	Incidents convoi.IncidentService
	Sites     convoi.SiteService
	Vehicles  convoi.VehicleService
	Trackers  convoi.TrackerService
	Positions convoi.PositionService
	Now       convoi.Clock
	// AlertSender identifies this control room in CAP alerts;
	// AlertSenderName names it; Exercise marks the alerts as an exercise
	// (the demo).
	AlertSender, AlertSenderName string
	Exercise                     bool
	Zone                         *time.Location

	mu     sync.Mutex
	routes map[routeKey]*response.EscapeRoutes // the attack's sample, per attack
}

var _ convoi.ResponseService = (*incidentResponder)(nil)

// Unit readiness: a crew at its post needs a minute to reach its car; a
// unit whose vehicle sent a fix within freshFix is driving (or sitting in
// its car) and sets off at once.
const (
	postReadyS    = 60
	freshFix      = 5 * time.Minute
	planTimeLimit = 2 * time.Second
)

type routeKey struct {
	lat, lon float64
	at       int64
}

func newIncidentResponder(g *roadnet.Graph, s stores) (*incidentResponder, error) {
	e, err := response.New(g, response.Params{})
	if err != nil {
		return nil, err
	}
	return &incidentResponder{Engine: e, Incidents: s.Incidents, Sites: s.Sites, Vehicles: s.Vehicles, Trackers: s.Trackers,
		Positions: s.Positions, Now: time.Now, AlertSender: "convoi.control-room", AlertSenderName: "convoi control room",
		routes: map[routeKey]*response.EscapeRoutes{}}, nil
}

// stores are the services the responder reads.
type stores struct {
	Incidents convoi.IncidentService
	Sites     convoi.SiteService
	Vehicles  convoi.VehicleService
	Trackers  convoi.TrackerService
	Positions convoi.PositionService
}

// from returns where the reachability starts: the latest sighting with a
// confidence of at least one half, else the attack.
func from(inc *convoi.Incident, sightings []*convoi.Sighting, zone *time.Location) (convoi.LatLon, time.Time, string, *convoi.Sighting) {
	var last *convoi.Sighting
	for _, s := range sightings {
		if s.Confidence >= 0.5 && (last == nil || !s.Time.Before(last.Time)) {
			last = s
		}
	}
	if zone == nil {
		zone = time.UTC
	}
	if last == nil {
		return inc.Place, inc.AttackAt, "the attack", nil
	}
	label := "the sighting"
	if last.PlaceName != "" {
		label += " (" + last.PlaceName + ")"
	}
	return last.Place, last.Time, label, last
}

// Reachability answers from the attack or the latest confident sighting.
func (r *incidentResponder) Reachability(ctx context.Context, inc *convoi.Incident, sightings []*convoi.Sighting) (*convoi.IncidentReachability, error) {
	at, since, label, _ := from(inc, sightings, r.Zone)
	re, err := r.Engine.Reachability(ctx, at)
	if err != nil {
		return nil, err
	}
	return &convoi.IncidentReachability{IncidentID: inc.ID, Version: inc.Version, From: at, FromLabel: label, Since: since, Bands: re.Bands}, nil
}

// attackRoutes returns the attack's route sample, sampled once per attack
// point and time (the seed is fixed, so a resample gives the same routes).
func (r *incidentResponder) attackRoutes(ctx context.Context, inc *convoi.Incident) (*response.EscapeRoutes, error) {
	k := routeKey{inc.Place.Lat, inc.Place.Lon, inc.AttackAt.UnixNano()}
	r.mu.Lock()
	rs := r.routes[k]
	r.mu.Unlock()
	if rs != nil {
		return rs, nil
	}
	p := r.Engine.Params()
	rs, err := r.Engine.SampleRoutes(ctx, inc.Place, 0, p.Routes, p.Seed)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.routes) >= 32 {
		clear(r.routes) // a few incidents at a time; resampling is cheap
	}
	r.routes[k] = rs
	r.mu.Unlock()
	return rs, nil
}

// Plan plans with the units available now.
func (r *incidentResponder) Plan(ctx context.Context, inc *convoi.Incident, sightings []*convoi.Sighting, now time.Time, lines int) (*convoi.InterceptionPlan, error) {
	start := r.Now()
	if inc.State != convoi.IncidentActive {
		return nil, convoi.Errorf(convoi.ECONFLICT, "Incident %d is closed: there is nothing to plan.", inc.ID)
	}
	if now.Before(inc.AttackAt) {
		now = inc.AttackAt
	}
	units, err := r.units(ctx, inc, now)
	if err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "No police or gendarmerie unit is available: every post is committed to another incident, or the site list has none.")
	}
	routes, err := r.attackRoutes(ctx, inc)
	if err != nil {
		return nil, err
	}
	sit := response.Situation{Attack: inc.Place, AttackAt: inc.AttackAt, Now: now}
	for _, u := range units {
		sit.Units = append(sit.Units, response.Unit{ID: fmt.Sprint(u.SiteID), Name: u.Name, At: u.At, ReadyS: u.ReadyS})
	}
	for _, s := range sightings {
		sit.Sightings = append(sit.Sightings, response.Sighting{At: s.Place, Time: s.Time, Confidence: s.Confidence})
	}
	// The solver proves its plan within this limit on every instance the
	// demo and the tests make (milliseconds); past it, the best plan found
	// comes with its proven bound (Optimal false) rather than no plan.
	solveCtx, cancel := context.WithTimeout(ctx, planTimeLimit)
	defer cancel()
	pl, err := r.Engine.Plan(solveCtx, sit, routes)
	if err != nil {
		return nil, err
	}
	off := map[string]bool{}
	for _, id := range pl.OffMap {
		off[id] = true
	}
	var onMap []convoi.ResponseUnit
	for _, u := range units {
		if !off[fmt.Sprint(u.SiteID)] {
			onMap = append(onMap, u)
		}
	}
	out := &convoi.InterceptionPlan{IncidentID: inc.ID, Version: inc.Version, At: now, Units: onMap,
		Assignments: pl.Assignments, Intercepted: pl.Intercepted, Routes: pl.Routes, Fraction: pl.Fraction,
		Optimal: pl.Optimal, Bound: pl.Bound, RoutesSampled: pl.RoutesSampled, RoutesKept: pl.RoutesKept,
		RoutesAdded: pl.RoutesAdded, Sightings: pl.Sightings}
	for i := 0; i < len(pl.Kept) && i < lines; i++ {
		// The sample is random: its first routes are a random subset.
		rt := pl.Kept[i]
		out.RouteLines = append(out.RouteLines, convoi.EscapeRoute{Points: r.Engine.RouteLine(rt), Escape: r.Engine.NodeLatLon(rt.Escape), Cut: pl.Cut[i]})
	}
	out.ElapsedMS = float64(r.Now().Sub(start).Microseconds()) / 1000
	return out, nil
}

// units are the police and gendarmerie posts not committed to another
// incident, each at its vehicles' freshest tracker fix or at the post.
func (r *incidentResponder) units(ctx context.Context, inc *convoi.Incident, now time.Time) ([]convoi.ResponseUnit, error) {
	active, err := r.Incidents.FindUnitAssignments(ctx, convoi.UnitAssignmentFilter{Active: true})
	if err != nil {
		return nil, err
	}
	committed := map[convoi.SiteID]convoi.IncidentID{}
	for _, a := range active {
		committed[a.SiteID] = a.IncidentID
	}
	var out []convoi.ResponseUnit
	for _, kind := range []convoi.SiteKind{convoi.SiteKindPolice, convoi.SiteKindGendarmerie} {
		f := convoi.SiteFilter{Kind: &kind, Page: convoi.Page{Limit: convoi.MaxPageLimit}}
		for {
			sites, n, err := r.Sites.FindSites(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, s := range sites {
				if other, ok := committed[s.ID]; ok && other != inc.ID {
					continue
				}
				u := convoi.ResponseUnit{SiteID: s.ID, Name: s.Name, Kind: s.Kind, At: s.Location, Source: "post", ReadyS: postReadyS}
				_, u.Assigned = committed[s.ID]
				if fix, err := r.freshestFix(ctx, s.ID, now); err != nil {
					return nil, err
				} else if fix != nil {
					t := fix.FixTime
					u.At, u.Source, u.FixTime, u.ReadyS = convoi.LatLon{Lat: fix.Lat, Lon: fix.Lon}, "tracker", &t, 0
				}
				out = append(out, u)
			}
			f.Offset += len(sites)
			if len(sites) == 0 || f.Offset >= n {
				break
			}
		}
	}
	return out, nil
}

// freshestFix is the newest valid fix, within freshFix of now, of a tracker
// on a vehicle based at the site; nil if none.
func (r *incidentResponder) freshestFix(ctx context.Context, site convoi.SiteID, now time.Time) (*convoi.Position, error) {
	if r.Vehicles == nil || r.Trackers == nil || r.Positions == nil {
		return nil, nil
	}
	vs, _, err := r.Vehicles.FindVehicles(ctx, convoi.VehicleFilter{SiteID: &site, Page: convoi.Page{Limit: convoi.MaxPageLimit}})
	if err != nil {
		return nil, err
	}
	var best *convoi.Position
	for _, v := range vs {
		ts, _, err := r.Trackers.FindTrackers(ctx, convoi.TrackerFilter{VehicleID: &v.ID, Page: convoi.Page{Limit: convoi.MaxPageLimit}})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Disabled {
				continue
			}
			from, to := now.Add(-freshFix), now.Add(time.Minute)
			ps, err := r.Positions.FindPositions(ctx, convoi.PositionFilter{DeviceID: &t.DeviceID, From: &from, To: &to, Latest: true, Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(ps) == 1 && ps[0].Valid && (best == nil || ps[0].FixTime.After(best.FixTime)) {
				best = ps[0]
			}
		}
	}
	return best, nil
}

// Alert builds the CAP 1.2 alert: the incident, the reachability areas
// from the attack or the latest confident sighting, nothing else.
func (r *incidentResponder) Alert(ctx context.Context, inc *convoi.Incident, sightings []*convoi.Sighting) ([]byte, error) {
	at, since, label, last := from(inc, sightings, r.Zone)
	in := cap.IncidentAlertInput{Sender: r.AlertSender, SenderName: r.AlertSenderName, Exercise: r.Exercise, Incident: inc,
		From: at, FromLabel: label, Since: since, LatestSighting: last, Zone: r.Zone}
	if inc.State == convoi.IncidentActive {
		re, err := r.Engine.Reachability(ctx, at)
		if err != nil {
			return nil, err
		}
		for _, b := range re.Bands {
			in.Areas = append(in.Areas, cap.AreaBand{Minutes: b.Minutes, Polygons: b.Polygons})
		}
	}
	a, err := cap.IncidentAlert(in)
	if err != nil {
		return nil, err
	}
	return cap.Marshal(a)
}
