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

// markJunctions sets junction: the nodes where more than two roads meet
// (at the original node when a node is a copy made for a turn restriction,
// so that a copy is a junction when its original is). Only OSM graphs price
// turns.
func (g *Graph) markJunctions() {
	g.junction = nil
	if g.metric != MetricTimeMS {
		return
	}
	n := len(g.lat)
	g.junction = make([]uint64, (n+63)/64)
	var seen [3]uint32
	for v := 0; v < n; v++ {
		k := 0
		add := func(r uint32) {
			for _, s := range seen[:k] {
				if s == r {
					return
				}
			}
			if k < len(seen) {
				seen[k] = r
				k++
			}
		}
		for e := g.firstOut[v]; e < g.firstOut[v+1] && k < 3; e++ {
			add(g.road[e] >> 1)
		}
		for _, e := range g.inEdge[g.firstIn[v]:g.firstIn[v+1]] {
			if k == 3 {
				break
			}
			add(g.road[e] >> 1)
		}
		if k >= 3 {
			g.junction[v>>6] |= 1 << (v & 63)
		}
	}
	if g.copied == nil {
		return
	}
	// A restriction copy has only some of its original's roads.
	for i := 0; i < len(g.extOrder); {
		j, any := i, false
		for ; j < len(g.extOrder) && g.ext[g.extOrder[j]] == g.ext[g.extOrder[i]]; j++ {
			any = any || g.isJunction(g.extOrder[j])
		}
		if any && j-i > 1 && g.ext[g.extOrder[i]] != 0 {
			for _, v := range g.extOrder[i:j] {
				g.junction[v>>6] |= 1 << (v & 63)
			}
		}
		i = j
	}
}

func (g *Graph) isJunction(v uint32) bool { return g.junction[v>>6]&(1<<(v&63)) != 0 }

// TurnCost returns the time, in cost units, of turning from edge a into
// edge b at the node between them (the head of a, the tail of b): the car
// profile's turn price for OSM graphs, 0 for DIMACS graphs, which carry no
// road geometry to measure angles on. Edges that do not meet (the head of
// a is not the tail of b) make no turn: 0.
func (g *Graph) TurnCost(a, b EdgeID) int64 {
	if g.metric != MetricTimeMS {
		return 0
	}
	return g.turnCost(uint32(a), uint32(b))
}

func (g *Graph) turnCost(ua, ub uint32) int64 {
	if g.junction == nil || g.head[ua] != g.tail[ub] {
		return 0
	}
	if g.uturn(ua, ub) {
		return carTurnTable.uturn
	}
	if !g.isJunction(g.head[ua]) {
		return 0
	}
	kx := math.Cos(float64(g.lat[g.head[ua]]) * (math.Pi / 180 / 1e7))
	ax, ay := g.edgeEndDir(ua, true, kx)
	bx, by := g.edgeEndDir(ub, false, kx)
	return carTurnTable.cost(turnAngle(ax, ay, bx, by))
}

// turnTable holds a turnProfile's prices at every tenth of a degree.
type turnTable struct {
	ms    [3601]int64 // angle -180.0 .. 180.0
	uturn int64
}

func newTurnTable(p turnProfile) *turnTable {
	t := &turnTable{uturn: p.costMS(180, true)}
	for i := range t.ms {
		t.ms[i] = p.costMS(float64(i-1800)/10, false)
	}
	return t
}

func (t *turnTable) cost(angle float64) int64 {
	i := int(math.Round(angle*10)) + 1800
	return t.ms[min(max(i, 0), len(t.ms)-1)]
}

var carTurnTable = newTurnTable(carTurns)
