package response

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
)

var (
	monacoOnce sync.Once
	monacoG    *roadnet.Graph
	monacoErr  error
)

func monaco(tb testing.TB) *roadnet.Graph {
	tb.Helper()
	monacoOnce.Do(func() {
		monacoG, monacoErr = roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	})
	if monacoErr != nil {
		tb.Fatal(monacoErr)
	}
	return monacoG
}

func mustEngine(tb testing.TB, p Params) *Engine {
	tb.Helper()
	e, err := New(monaco(tb), p)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// The La Turbie toll plaza on the A8 (osmdata/monaco), where the demo
// escort passes, and the demo's police and gendarmerie posts
// (cmd/convoi/demoworld.go).
var (
	laTurbieToll = convoi.LatLon{Lat: 43.7445, Lon: 7.3755}
	demoPosts    = []Unit{
		{ID: "surete", Name: "Sûreté Publique de Monaco", At: convoi.LatLon{Lat: 43.73452, Lon: 7.42072}, ReadyS: 60},
		{ID: "condamine", Name: "Commissariat de la Condamine", At: convoi.LatLon{Lat: 43.73211, Lon: 7.41972}, ReadyS: 60},
		{ID: "fontvieille", Name: "Poste de Police de Fontvieille", At: convoi.LatLon{Lat: 43.72570, Lon: 7.41848}, ReadyS: 60},
		{ID: "cap-dail", Name: "Brigade de Cap-d'Ail", At: convoi.LatLon{Lat: 43.72238, Lon: 7.40771}, ReadyS: 60},
		{ID: "la-turbie", Name: "Brigade de La Turbie", At: convoi.LatLon{Lat: 43.74656, Lon: 7.40039}, ReadyS: 60},
		{ID: "eze", Name: "Brigade d'Èze", At: convoi.LatLon{Lat: 43.73162, Lon: 7.35933}, ReadyS: 60},
	}
)

func TestReachabilityGrowsAndContainsTheAttack(t *testing.T) {
	e := mustEngine(t, Params{})
	r, err := e.Reachability(context.Background(), laTurbieToll)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Bands) != 4 {
		t.Fatalf("%d bands, want 4", len(r.Bands))
	}
	for i, b := range r.Bands {
		if len(b.Polygons) == 0 || b.AreaKm2 <= 0 {
			t.Fatalf("band %v: no area", b.Minutes)
		}
		if !pointInRing(laTurbieToll, b.Polygons[0]) {
			t.Errorf("band %v: the attack point is outside the largest polygon", b.Minutes)
		}
		for _, ring := range b.Polygons {
			if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
				t.Fatalf("band %v: ring not closed: %v", b.Minutes, ring)
			}
			if i, j, ok := selfCrossing(ring); ok {
				t.Fatalf("band %v: ring of %d points crosses itself (segments %d and %d)", b.Minutes, len(ring), i, j)
			}
		}
		if i > 0 && !(b.AreaKm2 > r.Bands[i-1].AreaKm2 && b.Nodes >= r.Bands[i-1].Nodes) {
			t.Errorf("band %v (%.2f km², %d nodes) not larger than band %v (%.2f km², %d nodes)", b.Minutes, b.AreaKm2, b.Nodes, r.Bands[i-1].Minutes, r.Bands[i-1].AreaKm2, r.Bands[i-1].Nodes)
		}
		t.Logf("%v min: %d polygons, %.2f km², %d nodes", b.Minutes, len(b.Polygons), b.AreaKm2, b.Nodes)
	}
	// Every road node reached within 5 minutes lies inside the 5-minute
	// area, and a node that takes longer than 20 minutes (or is never
	// reached) is not in the 5-minute area unless close to a reached road.
	g := monaco(t)
	pos, _ := g.Snap(laTurbieToll)
	iso, err := g.Isochrone(context.Background(), pos, g.CostOf(300), roadnet.RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range iso.Nodes {
		if !inAny(g.NodeLatLon(v), r.Bands[0].Polygons) {
			t.Fatalf("node %d reached in 5 min is outside the 5-min area", v)
		}
	}
	// Monaco-Ville (the Rock) is more than 5 minutes from the toll plaza.
	rock := convoi.LatLon{Lat: 43.7311, Lon: 7.4236}
	if inAny(rock, r.Bands[0].Polygons) {
		t.Errorf("the Rock of Monaco is inside the 5-minute area from La Turbie")
	}
}

func inAny(p convoi.LatLon, rings [][]convoi.LatLon) bool {
	for _, r := range rings {
		if pointInRing(p, r) {
			return true
		}
	}
	return false
}

func TestOutlineOfKnownCells(t *testing.T) {
	// Two cells touching at a corner after dilation form one block; two
	// cells far apart form two rings; a ring of cells gets its hole filled.
	cases := []struct {
		name  string
		cells [][2]int
		rings int
		area  float64 // in cells
	}{
		{"one", [][2]int{{0, 0}}, 1, 9},
		{"two apart", [][2]int{{0, 0}, {10, 0}}, 2, 18},
		{"diagonal after dilation", [][2]int{{0, 0}, {3, 3}}, 2, 18},
		{"ring filled", [][2]int{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {0, 4}, {1, 4}, {2, 4}, {3, 4}, {4, 4}, {0, 1}, {0, 2}, {0, 3}, {4, 1}, {4, 2}, {4, 3}}, 1, 49},
		{"L", [][2]int{{0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}}, 1, 5*5 - 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGrid(convoi.LatLon{Lat: 43.7, Lon: 7.4}, 100)
			for _, cl := range c.cells {
				g.cells[cl] = true
			}
			rings := g.outline()
			if len(rings) != c.rings {
				t.Fatalf("%d rings, want %d", len(rings), c.rings)
			}
			a := 0.0
			for _, r := range rings {
				a += ringAreaM2(r)
			}
			if got := a / 1e4; got < c.area*0.99 || got > c.area*1.01 {
				t.Errorf("area %.2f cells, want %v", got, c.area)
			}
		})
	}
}

func TestSampleRoutesReproducible(t *testing.T) {
	e := mustEngine(t, Params{Routes: 200})
	ctx := context.Background()
	a, err := e.SampleRoutes(ctx, laTurbieToll, 0, 200, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.SampleRoutes(ctx, laTurbieToll, 0, 200, 7)
	c, _ := e.SampleRoutes(ctx, laTurbieToll, 0, 200, 8)
	same := func(x, y *EscapeRoutes) bool {
		for i := range x.Routes {
			if len(x.Routes[i].Nodes) != len(y.Routes[i].Nodes) {
				return false
			}
			for k := range x.Routes[i].Nodes {
				if x.Routes[i].Nodes[k] != y.Routes[i].Nodes[k] {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("the same seed gave different routes")
	}
	if same(a, c) {
		t.Fatal("another seed gave the same routes")
	}
	g := monaco(t)
	escapes := map[roadnet.NodeID]bool{}
	for i, r := range a.Routes {
		if len(r.Nodes) == 0 {
			continue
		}
		escapes[r.Escape] = true
		for k := 1; k < len(r.Nodes); k++ {
			if r.TimesS[k] < r.TimesS[k-1] {
				t.Fatalf("route %d: times out of order", i)
			}
			// consecutive nodes are joined by an edge
			ok := false
			first, end := g.OutEdges(r.Nodes[k-1])
			for ed := first; ed < end; ed++ {
				if g.EdgeTo(ed) == r.Nodes[k] {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("route %d: no road from node %d to %d", i, r.Nodes[k-1], r.Nodes[k])
			}
		}
		if last := r.Nodes[len(r.Nodes)-1]; last != r.Escape && r.TimesS[len(r.TimesS)-1] < e.p.Horizon.Seconds()-120 {
			t.Fatalf("route %d ends at node %d, not at its escape node %d, early (%.0f s)", i, last, r.Escape, r.TimesS[len(r.TimesS)-1])
		}
	}
	if len(escapes) < 3 {
		t.Errorf("routes lead to %d escape nodes only", len(escapes))
	}
}

func TestPlanFromDemoPosts(t *testing.T) {
	e := mustEngine(t, Params{})
	ctx := context.Background()
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	s := Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}
	pl, err := e.Plan(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Optimal || pl.Routes != 1000 || len(pl.Assignments) != len(demoPosts) {
		t.Fatalf("plan %+v", pl)
	}
	if pl.Fraction <= 0 || pl.Fraction > 1 {
		t.Fatalf("fraction %v", pl.Fraction)
	}
	maxShare := 0.0
	for _, a := range pl.Assignments {
		if a.Share > pl.Fraction+1e-9 {
			t.Errorf("%s cuts %v alone, more than the plan's %v", a.UnitID, a.Share, pl.Fraction)
		}
		if a.ArrivalS < 60 {
			t.Errorf("%s arrives in %v s, before its 60 s ready time", a.UnitID, a.ArrivalS)
		}
		maxShare = max(maxShare, a.Share)
		t.Logf("%-12s node %d at %.5f,%.5f in %4.0f s cuts %.3f", a.UnitID, a.Node, a.At.Lat, a.At.Lon, a.ArrivalS, a.Share)
	}
	t.Logf("fraction %.3f", pl.Fraction)
	if pl.Fraction < maxShare {
		t.Errorf("plan %v below its best single roadblock %v", pl.Fraction, maxShare)
	}
	// Later, the units can cut fewer routes: the fugitives are further.
	s.Now = at.Add(8 * time.Minute)
	late, err := e.Plan(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if late.Fraction > pl.Fraction {
		t.Errorf("plan 8 min after the attack cuts %v, more than 1 min after (%v)", late.Fraction, pl.Fraction)
	}
}

func TestSightingFiltersRoutes(t *testing.T) {
	e := mustEngine(t, Params{})
	ctx := context.Background()
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	routes, err := e.SampleRoutes(ctx, laTurbieToll, 0, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Take a point on one route as the sighting: that route stays, and
	// every route kept passes near it.
	r0 := routes.Routes[0]
	k := len(r0.Nodes) / 2
	g := monaco(t)
	seen := Sighting{At: g.NodeLatLon(r0.Nodes[k]), Time: at.Add(time.Duration(r0.TimesS[k] * float64(time.Second))), Confidence: 1}
	s := Situation{Attack: laTurbieToll, AttackAt: at, Now: seen.Time, Units: demoPosts, Sightings: []Sighting{seen}}
	pl, err := e.Plan(ctx, s, routes)
	if err != nil {
		t.Fatal(err)
	}
	if pl.RoutesKept == 0 || pl.RoutesKept >= 1000 {
		t.Fatalf("sure sighting kept %d of 1000 routes", pl.RoutesKept)
	}
	kept, _ := e.filter(routes.Routes, s)
	for i, r := range kept {
		if !e.consistent(r, seen, at) {
			t.Fatalf("kept route %d does not pass the sighting", i)
		}
	}
	if pl.Routes != pl.RoutesKept+pl.RoutesAdded {
		t.Fatalf("plan on %d routes, kept %d + added %d", pl.Routes, pl.RoutesKept, pl.RoutesAdded)
	}
	// A doubtful sighting keeps more routes than a sure one.
	s.Sightings[0].Confidence = 0.3
	doubt, err := e.Plan(ctx, s, routes)
	if err != nil {
		t.Fatal(err)
	}
	if doubt.RoutesKept <= pl.RoutesKept {
		t.Errorf("a 0.3 sighting kept %d routes, a sure one %d", doubt.RoutesKept, pl.RoutesKept)
	}
	// A sighting no route passes adds routes onwards from it.
	far := Sighting{At: convoi.LatLon{Lat: 43.7275, Lon: 7.4152}, Time: at.Add(2 * time.Minute), Confidence: 0.9}
	s.Sightings = []Sighting{far}
	s.Now = far.Time
	pf, err := e.Plan(ctx, s, routes)
	if err != nil {
		t.Fatal(err)
	}
	if pf.RoutesAdded == 0 || pf.Routes < e.p.MinRoutes {
		t.Errorf("inconsistent sighting: kept %d, added %d", pf.RoutesKept, pf.RoutesAdded)
	}
}

func TestBadInput(t *testing.T) {
	e := mustEngine(t, Params{})
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	for name, s := range map[string]Situation{
		"no units":      {Attack: laTurbieToll, AttackAt: at, Now: at},
		"before":        {Attack: laTurbieToll, AttackAt: at, Now: at.Add(-time.Second), Units: demoPosts},
		"far from map":  {Attack: convoi.LatLon{Lat: 48.85, Lon: 2.35}, AttackAt: at, Now: at, Units: demoPosts},
		"bad ready":     {Attack: laTurbieToll, AttackAt: at, Now: at, Units: []Unit{{ID: "x", At: laTurbieToll, ReadyS: -1}}},
		"units off map": {Attack: laTurbieToll, AttackAt: at, Now: at, Units: []Unit{{ID: "rouen", At: convoi.LatLon{Lat: 49.44, Lon: 1.09}}}},
	} {
		if _, err := e.Plan(context.Background(), s, nil); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := New(monaco(t), Params{Bands: []time.Duration{10 * time.Minute, 5 * time.Minute}}); err == nil {
		t.Error("decreasing bands accepted")
	}
}

func TestRouteLinesAndCut(t *testing.T) {
	e := mustEngine(t, Params{Routes: 300})
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	pl, err := e.Plan(context.Background(), Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i, c := range pl.Cut {
		if c {
			cut++
		}
		line := e.RouteLine(pl.Kept[i])
		if len(pl.Kept[i].Nodes) > 1 && len(line) < len(pl.Kept[i].Nodes) {
			t.Fatalf("route %d: line of %d points for %d nodes", i, len(line), len(pl.Kept[i].Nodes))
		}
		for k := 1; k < len(line); k++ {
			if d := line[k-1].DistanceM(line[k]); d > 2000 {
				t.Fatalf("route %d: a jump of %.0f m in its line", i, d)
			}
		}
	}
	if cut != pl.Intercepted {
		t.Fatalf("%d routes marked cut, the plan intercepts %d", cut, pl.Intercepted)
	}
}

// TestConcurrentPlans: one engine, plans in parallel (as concurrent API
// requests make them) give the same answer as one alone (run with -race).
func TestConcurrentPlans(t *testing.T) {
	e := mustEngine(t, Params{Routes: 200})
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	s := Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}
	want, err := e.Plan(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Plan, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = e.Plan(context.Background(), s, nil)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Intercepted != want.Intercepted || got[i].Assignments[0].Node != want.Assignments[0].Node {
			t.Fatalf("plan %d: %v, %d intercepted, want %d", i, errs[i], got[i].Intercepted, want.Intercepted)
		}
	}
}

// selfCrossing finds two non-adjacent segments of a closed ring that
// intersect.
func selfCrossing(ring []convoi.LatLon) (int, int, bool) {
	n := len(ring) - 1
	orient := func(a, b, c convoi.LatLon) float64 {
		return (b.Lon-a.Lon)*(c.Lat-a.Lat) - (b.Lat-a.Lat)*(c.Lon-a.Lon)
	}
	for i := 0; i < n; i++ {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent through the closing point
			}
			a, b, c, d := ring[i], ring[i+1], ring[j], ring[j+1]
			if orient(a, b, c)*orient(a, b, d) < 0 && orient(c, d, a)*orient(c, d, b) < 0 {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// TestUnitsOffTheMap: a post of another region is left out of the plan
// and reported, the others planned.
func TestUnitsOffTheMap(t *testing.T) {
	e := mustEngine(t, Params{Routes: 200})
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	units := append([]Unit{{ID: "rouen", Name: "Hôtel de police de Rouen", At: convoi.LatLon{Lat: 49.4406, Lon: 1.0934}, ReadyS: 60}}, demoPosts...)
	pl, err := e.Plan(context.Background(), Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: units}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.OffMap) != 1 || pl.OffMap[0] != "rouen" || len(pl.Assignments) != len(demoPosts) {
		t.Fatalf("off map %v, %d assignments", pl.OffMap, len(pl.Assignments))
	}
	for i, a := range pl.Assignments {
		if a.UnitID != demoPosts[i].ID {
			t.Fatalf("assignment %d is %s's, want %s's", i, a.UnitID, demoPosts[i].ID)
		}
	}
}

// TestPlanPastDeadline: a plan whose solve runs out of time (the caller's
// context) still answers, with its proven bound.
func TestPlanPastDeadline(t *testing.T) {
	e := mustEngine(t, Params{})
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	routes, err := e.SampleRoutes(context.Background(), laTurbieToll, 0, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	full, err := e.Plan(context.Background(), Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}, routes)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pl, err := e.Plan(ctx, Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}, routes)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Assignments) != len(demoPosts) || pl.Fraction > full.Fraction || pl.Bound < full.Fraction {
		t.Fatalf("stopped plan: fraction %v bound %v; the finished search proves %v", pl.Fraction, pl.Bound, full.Fraction)
	}
}
