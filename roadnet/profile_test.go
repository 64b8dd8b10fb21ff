package roadnet

import (
	"context"
	"math"
	"testing"

	"github.com/convoi/convoi"
)

// OSRM's car profile prices a 90° turn at about 2.1 s to the right and
// 5.4 s to the left in right-hand traffic, straight on at a few ms and a
// U-turn at about 27.5 s (7.5 s + 20 s).
func TestTurnCostCurve(t *testing.T) {
	for _, c := range []struct {
		angle  float64
		uturn  bool
		lo, hi int64 // ms
	}{
		{0, false, 1, 20},
		{90, false, 2000, 2200},
		{-90, false, 5300, 5500},
		{180, true, 27300, 27500},
	} {
		if got := carTurns.costMS(c.angle, c.uturn); got < c.lo || got > c.hi {
			t.Errorf("turn %v° (U-turn %v): %d ms, want %d-%d", c.angle, c.uturn, got, c.lo, c.hi)
		}
	}
	prevL, prevR := int64(-1), int64(-1)
	for a := 0.0; a <= 180; a += 5 {
		r, l := carTurns.costMS(a, false), carTurns.costMS(-a, false)
		if r < prevR || l < prevL {
			t.Fatalf("turn cost not increasing with the angle at %v°", a)
		}
		if a > 0 && a < 180 && l <= r {
			t.Fatalf("left turn of %v° (%d ms) not dearer than right (%d ms)", a, l, r)
		}
		prevL, prevR = l, r
	}
}

func TestTurnAngle(t *testing.T) {
	// Directions as (east, north).
	north, east, south, west := [2]float64{0, 1}, [2]float64{1, 0}, [2]float64{0, -1}, [2]float64{-1, 0}
	ne := [2]float64{1, 1}
	for _, c := range []struct {
		a, b [2]float64
		want float64
	}{
		{north, north, 0}, {north, east, 90}, {north, west, -90}, {east, south, 90}, {west, south, -90},
		{north, ne, 45}, {ne, north, -45}, {north, south, 180},
	} {
		if got := turnAngle(c.a[0], c.a[1], c.b[0], c.b[1]); math.Abs(math.Abs(got)-math.Abs(c.want)) > 1e-9 || c.want != 180 && math.Abs(got-c.want) > 1e-9 {
			t.Errorf("turnAngle(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// A point delay is paid by the edge that enters the point: on a two-way
// road with traffic signals at one end only, the direction into the signals
// costs exactly their delay more than the other.
func TestSignalDelayOnEntry(t *testing.T) {
	g := MustMonaco(t)
	found := 0
	for e := range g.head {
		tw := g.twin[e]
		if tw == math.MaxUint32 || g.road[e]&1 != 0 {
			continue
		}
		r := g.road[e] >> 1
		n := int32(g.roadFirst[r+1] - g.roadFirst[r])
		var atEnd, other int
		for k := g.roadCPFirst[r]; k < g.roadCPFirst[r+1]; k++ {
			cp := g.cps[g.roadCP[k]]
			if cp.Kind == KindTrafficSignals && g.roadCPPos[k] == n-1 {
				atEnd++
			} else if nodeDelayMS[cp.Kind] != 0 {
				other++
			}
		}
		if atEnd != 1 || other != 0 {
			continue
		}
		found++
		if d := int64(g.weight[e]) - int64(g.weight[tw]); d < 1999 || d > 2001 {
			t.Fatalf("road %d: forward edge (into the signals) %d ms, reverse %d ms: want 2000 ms apart", r, g.weight[e], g.weight[tw])
		}
	}
	if found == 0 {
		t.Fatal("no two-way road with signals at one end in Monaco")
	}
}

// A route's duration is its search cost plus the turns along it, and the
// turns are priced edge pair by edge pair.
func TestRouteDurationIncludesTurns(t *testing.T) {
	g := MustMonaco(t)
	r, err := g.RouteLatLon(context.Background(), courthouse, colDEze, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var turns int64
	for i := 1; i < len(r.Path.Edges); i++ {
		turns += g.TurnCost(r.Path.Edges[i-1], r.Path.Edges[i])
	}
	if turns == 0 {
		t.Fatalf("no turn cost on a %d-edge route through Monaco", len(r.Path.Edges))
	}
	if r.TurnS != g.Duration(turns) || math.Abs(r.DurationS-g.Duration(r.Cost+turns)) > 1e-9 {
		t.Fatalf("duration %v s, turns %v s; want cost %v s + turns %v s", r.DurationS, r.TurnS, g.Duration(r.Cost), g.Duration(turns))
	}
	last := r.Segments[len(r.Segments)-1]
	if math.Abs(last.StartS+last.DurationS-r.DurationS) > 1e-6 {
		t.Fatalf("last segment ends at %v s, route at %v s", last.StartS+last.DurationS, r.DurationS)
	}
}

// Four of the 200 Monaco pairs of scripts/compare-routing.sh (seed 42) had
// no route: one end snapped onto a one-way road kept only because it leaves
// the extract. They route now, from and to the nearest road of the main
// network; a plain Snap still finds the stub.
func TestRouteFromRoadsLeavingTheMap(t *testing.T) {
	g := MustMonaco(t)
	ctx := context.Background()
	for _, c := range [][4]float64{
		{43.7344044, 7.4181987, 43.7610990, 7.4464452},
		{43.7610608, 7.4466530, 43.7483901, 7.4247593},
		{43.7658146, 7.4876605, 43.7527995, 7.3945382},
		{43.7368890, 7.4214517, 43.7689100, 7.4895276},
	} {
		from, to := convoi.LatLon{Lat: c[0], Lon: c[1]}, convoi.LatLon{Lat: c[2], Lon: c[3]}
		a, errA := g.Snap(from)
		b, errB := g.Snap(to)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if _, err := g.Route(ctx, a, b, RouteOptions{}); convoi.ErrorCode(err) != convoi.ENOTFOUND {
			t.Errorf("%v: plain snaps route (%v): the pair no longer shows the stub", c, err)
		}
		r, err := g.RouteLatLon(ctx, from, to, RouteOptions{})
		if err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		if r.Path.From.DistanceM > 500 || r.Path.To.DistanceM > 500 {
			t.Errorf("%v: snapped %v m and %v m away", c, r.Path.From.DistanceM, r.Path.To.DistanceM)
		}
	}
}

// Turns are priced where three or more roads meet, and on U-turns; going
// through a node where one road becomes the next costs nothing.
func TestTurnsOnlyAtJunctions(t *testing.T) {
	g := MustMonaco(t)
	var through, priced int
	for v := 0; v < g.NumNodes(); v++ {
		if g.copied != nil && g.copied[v] {
			continue
		}
		roads := map[uint32]bool{}
		first, end := g.OutEdges(NodeID(v))
		for e := first; e < end; e++ {
			roads[g.road[e]>>1] = true
		}
		for _, e := range g.InEdges(NodeID(v)) {
			roads[g.road[e]>>1] = true
		}
		if g.isJunction(uint32(v)) != (len(roads) >= 3) {
			t.Fatalf("node %d: %d roads, junction %v", v, len(roads), g.isJunction(uint32(v)))
		}
		for _, a := range g.InEdges(NodeID(v)) {
			for b := first; b < end; b++ {
				c := g.TurnCost(EdgeID(a), b)
				switch {
				case g.road[a]>>1 == g.road[b]>>1 && g.road[a] != g.road[b]:
					if c < 20000 {
						t.Fatalf("U-turn %d -> %d costs %d ms", a, b, c)
					}
				case len(roads) < 3:
					through++
					if c != 0 {
						t.Fatalf("through node %d (%d roads): turn %d -> %d costs %d ms", v, len(roads), a, b, c)
					}
				case c > 0:
					priced++
				}
			}
		}
	}
	if through == 0 || priced == 0 {
		t.Fatalf("%d through passages, %d priced turns", through, priced)
	}
}
