package monitor

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// Drive plays a vehicle along a route as a simulator needs it: the planned
// speed of every stretch (times Pace), braking and accelerating, slowing at
// ramps and roundabouts, stopping at toll booths and, now and then, at
// traffic signals; GNSS noise correlated in time; no fix in tunnels. It is
// the ground truth of `convoi simulate` and of the monitor's tests.
type Drive struct {
	Route *PlannedRoute
	Start time.Time // departure (fix time of the first sample)
	Pace  float64   // 1: as planned; 0.5: half the planned speed
	// NoiseM is the GNSS error's standard deviation per axis, metres.
	NoiseM float64
	// TollStopS is the longest stop at a toll booth (paying), seconds;
	// SignalStopP the probability of stopping at a traffic signal, for at
	// most SignalStopS.
	TollStopS, SignalStopP, SignalStopS float64
	// StopAt, when positive, ends the drive with a stop at that along,
	// held for StopForS seconds (a ramming).
	StopAt, StopForS float64
	// DelayS holds the vehicle at the start (a follower of the convoy).
	DelayS float64
	// Seed draws the stops (vehicles of one convoy share it); NoiseSeed
	// the GNSS noise (0: from Seed).
	Seed, NoiseSeed uint64
}

// Sample is the vehicle's state at one second of the drive.
type Sample struct {
	At       time.Time
	True     convoi.LatLon // where the vehicle is
	Fix      convoi.LatLon // what its receiver says (True + noise)
	SpeedKmh float64
	Heading  float64
	AlongM   float64
	Tunnel   bool // no satellite in view
}

// Samples returns the drive second by second until the end of the route
// (or of the final stop).
func (d *Drive) Samples() []Sample {
	r := d.Route
	rng := rand.New(rand.NewPCG(d.Seed, d.Seed^0x9e3779b97f4a7c15))
	ns := d.NoiseSeed
	if ns == 0 {
		ns = d.Seed
	}
	noise := rand.New(rand.NewPCG(ns, ns^0x5851f42d4c957f2d))
	pace := d.Pace
	if pace <= 0 {
		pace = 1
	}
	// Stops along the route: toll booths, some signals, the final stop.
	type stop struct{ at, hold float64 }
	var stops []stop
	var caps []struct{ a, b, v float64 }
	for _, z := range r.zones {
		mid := (z.a + z.b) / 2
		switch {
		case z.kind&roadnet.KindTollBooth != 0:
			stops = append(stops, stop{z.a + 250, rng.Float64() * d.TollStopS})
			caps = append(caps, struct{ a, b, v float64 }{z.a, z.b, 30 / 3.6})
		case z.kind&roadnet.KindTrafficSignals != 0 && rng.Float64() < d.SignalStopP:
			stops = append(stops, stop{mid, 3 + rng.Float64()*d.SignalStopS})
		case z.kind&(roadnet.KindRoundabout|roadnet.KindRamp) != 0:
			caps = append(caps, struct{ a, b, v float64 }{z.a + 30, z.b - 30, 35 / 3.6})
		}
	}
	end := r.LengthM
	if d.StopAt > 0 && d.StopAt < end {
		end = d.StopAt
		stops = append(stops, stop{d.StopAt, d.StopForS})
	}
	const accel, decel = 1.5, 2.5 // m/s²
	vmax := func(a float64) float64 {
		i := r.segAt(a)
		dt := r.t[i+1] - r.t[i]
		v := 13.9
		if dt > 0 {
			v = (r.cum[i+1] - r.cum[i]) / dt
		}
		// A stretch planned very slow carries a fixed delay (the graph's
		// toll booth or signal penalty): drive it at town speed, the stops
		// above take the time.
		v = math.Max(v, 5) * pace
		for _, c := range caps {
			if a >= c.a && a <= c.b {
				v = math.Min(v, c.v*math.Max(pace, 0.5))
			}
		}
		return v
	}
	var out []Sample
	t := d.Start
	a, v := 0.0, 0.0
	var ex, ey float64 // noise state, metres
	rho := 0.9
	heading := r.seg[0].bearing
	held, hold := 0.0, d.DelayS
	next := 0 // next stop index, by along
	sortStops := func() {
		for i := 1; i < len(stops); i++ {
			for j := i; j > 0 && stops[j].at < stops[j-1].at; j-- {
				stops[j], stops[j-1] = stops[j-1], stops[j]
			}
		}
	}
	sortStops()
	for step := 0; step < 6*3600; step++ {
		// Sample.
		p := r.PointAt(a)
		ex = rho*ex + math.Sqrt(1-rho*rho)*d.NoiseM*noise.NormFloat64()
		ey = rho*ey + math.Sqrt(1-rho*rho)*d.NoiseM*noise.NormFloat64()
		if v > 1 {
			heading = r.seg[r.segAt(a)].bearing
		}
		fix := convoi.LatLon{Lat: p.Lat + ey/r.ky, Lon: p.Lon + ex/r.kx}
		out = append(out, Sample{At: t, True: p, Fix: fix, SpeedKmh: v * 3.6, Heading: heading, AlongM: a,
			Tunnel: r.KindsAt(a)&roadnet.KindTunnel != 0})
		if a >= end && (next >= len(stops) || held >= stops[next].hold) {
			break
		}
		// Advance one second.
		t = t.Add(time.Second)
		if hold > 0 {
			hold--
			continue
		}
		if next < len(stops) && a >= stops[next].at-0.5 {
			v = 0
			if held < stops[next].hold {
				held++
				continue
			}
			if stops[next].at >= end {
				break
			}
			next, held = next+1, 0
		}
		target := vmax(a)
		if next < len(stops) {
			dist := math.Max(stops[next].at-a, 0)
			target = math.Min(target, math.Sqrt(2*decel*dist))
		}
		if a >= end {
			target = 0
		}
		nv := v
		switch {
		case target > v:
			nv = math.Min(target, v+accel)
		default:
			nv = math.Max(target, v-decel)
		}
		step := (v + nv) / 2
		if next < len(stops) && a+step > stops[next].at {
			step = math.Max(stops[next].at-a, 0)
			nv = 0
		}
		if step < 0.3 && target > 0 && nv < 1 {
			nv, step = 1, 0.5 // creep forward rather than stall short of a stop line
		}
		a = math.Min(a+step, end)
		v = nv
	}
	return out
}

// Detour returns a drive route that follows r up to frac of its length on the map,
// then leaves it by the road network towards a place 700-1500 m away and at
// least 400 m from r (the wrong turn of a deviation scenario), and the along
// where it leaves.
func Detour(ctx context.Context, g *roadnet.Graph, r *PlannedRoute, frac float64) (*PlannedRoute, float64, error) {
	// frac of the part on the map: the stretch to a place beyond it has no
	// road to leave by.
	first, last := -1.0, 0.0
	for i, s := range r.seg {
		if !s.offMap {
			if first < 0 {
				first = r.cum[i]
			}
			last = r.cum[i+1]
		}
	}
	if first < 0 {
		return nil, 0, convoi.Errorf(convoi.ENOTFOUND, "The route has no road on the map.")
	}
	var best *roadnet.Route
	var cut float64
	// Near frac first, then farther along or back, until a road leads away.
	for _, f := range []float64{0, 0.1, -0.1, 0.2, -0.2, 0.3, -0.3} {
		if frac+f <= 0.05 || frac+f >= 0.95 {
			continue
		}
		cut = first + (last-first)*(frac+f)
		if best = detourFrom(ctx, g, r, cut); best != nil {
			break
		}
	}
	if best == nil {
		return nil, 0, convoi.Errorf(convoi.ENOTFOUND, "No road leads away from the route.")
	}
	var geo []convoi.LatLon
	for i := range r.pts {
		if r.cum[i] >= cut {
			break
		}
		geo = append(geo, r.pts[i])
	}
	geo = append(geo, best.Geometry...)
	dr, err := NewPlannedRoute(g, &convoi.RouteSummary{Geometry: geo, DurationS: r.timeAt(cut) + best.DurationS}, 70)
	return dr, cut, err
}

// detourFrom returns a road route from along cut of r to a place 700-1500 m
// away, at least 400 m from r, through no tunnel; nil when there is none.
func detourFrom(ctx context.Context, g *roadnet.Graph, r *PlannedRoute, cut float64) *roadnet.Route {
	from := r.PointAt(cut)
	for n := 0; n < g.NumNodes(); n += 3 {
		p := g.NodeLatLon(roadnet.NodeID(n))
		if d := p.DistanceM(from); d < 700 || d > 1500 {
			continue
		}
		if d, _ := r.Project(p); d < 400 {
			continue
		}
		rt, err := g.RouteLatLon(ctx, from, p, roadnet.RouteOptions{})
		if err != nil || rt.DistanceM > 3000 || slices.ContainsFunc(rt.Segments, func(s roadnet.Segment) bool { return s.Kinds&roadnet.KindTunnel != 0 }) {
			continue // no tunnel on the detour: the scenario is a deviation, not a silence
		}
		return rt
	}
	return nil
}
