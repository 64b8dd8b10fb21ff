package monitor

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
)

var (
	graphOnce sync.Once
	graph     *roadnet.Graph
	graphErr  error
)

func monaco(t testing.TB) *roadnet.Graph {
	graphOnce.Do(func() {
		graph, graphErr = roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	})
	if graphErr != nil {
		t.Fatal(graphErr)
	}
	return graph
}

// Demo places (cmd/convoi/demoworld.go) and the western exits of the map.
var (
	court     = convoi.LatLon{Lat: 43.73021, Lon: 7.42223}
	prison    = convoi.LatLon{Lat: 43.7318, Lon: 7.4271}
	chpg      = convoi.LatLon{Lat: 43.73041, Lon: 7.41141}
	cardio    = convoi.LatLon{Lat: 43.73763, Lon: 7.42486}
	a8Exit    = convoi.LatLon{Lat: 43.74423, Lon: 7.34907}
	grandeCor = convoi.LatLon{Lat: 43.74790, Lon: 7.34926}
	basseCor  = convoi.LatLon{Lat: 43.71500, Lon: 7.34940}
)

// demoRoutes are the routes the demo's movements can draw: each demo trip
// with its alternatives, both ways.
func demoRoutes(t testing.TB) map[string]*convoi.RouteSummary {
	routesOnce.Do(func() { routesCache = buildDemoRoutes(t) })
	return routesCache
}

var (
	routesOnce  sync.Once
	routesCache map[string]*convoi.RouteSummary
)

func buildDemoRoutes(t testing.TB) map[string]*convoi.RouteSummary {
	g := monaco(t)
	ctx := context.Background()
	pairs := []struct {
		name     string
		from, to convoi.LatLon
	}{
		{"court-a8", court, a8Exit}, {"court-grande-corniche", court, grandeCor}, {"court-basse-corniche", court, basseCor},
		{"basse-corniche-court", basseCor, court}, {"prison-court", prison, court}, {"prison-chpg", prison, chpg},
		{"prison-cardio", prison, cardio}, {"court-prison", court, prison},
	}
	out := map[string]*convoi.RouteSummary{}
	for _, p := range pairs {
		a, err := g.Snap(p.from)
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.Snap(p.to)
		if err != nil {
			t.Fatal(err)
		}
		alts, err := g.Alternatives(ctx, a, b, roadnet.AlternativeOptions{K: 3})
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		for i, r := range alts {
			out[fmt.Sprintf("%s/%d", p.name, i)] = &convoi.RouteSummary{Geometry: r.Geometry, DistanceM: r.DistanceM, DurationS: r.DurationS}
		}
	}
	return out
}

// memSink records alarms as the store does: the same rule on the same
// movement while not resolved updates the open alarm.
type memSink struct {
	mu     sync.Mutex
	alarms []*convoi.Alarm
	fail   error
}

func (s *memSink) RaiseAlarm(_ context.Context, a *convoi.Alarm) (*convoi.Alarm, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, false, s.fail
	}
	for _, o := range s.alarms {
		if o.MovementID == a.MovementID && o.Rule == a.Rule && o.State != convoi.AlarmResolved {
			o.Count++
			o.LastSeen, o.Detail, o.Place, o.PlaceName = a.LastSeen, a.Detail, a.Place, a.PlaceName
			o.Severity = max(o.Severity, a.Severity)
			c := *o
			return &c, false, nil
		}
	}
	c := *a
	c.ID, c.State, c.Count = convoi.AlarmID(len(s.alarms)+1), convoi.AlarmOpen, 1
	s.alarms = append(s.alarms, &c)
	cc := c
	return &cc, true, nil
}

func (s *memSink) FindAlarms(_ context.Context, f convoi.AlarmFilter) ([]*convoi.Alarm, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*convoi.Alarm
	for _, a := range s.alarms {
		if f.MovementID == nil || *f.MovementID == a.MovementID {
			c := *a
			out = append(out, &c)
		}
	}
	return out, len(out), nil
}

func (s *memSink) rules() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.alarms {
		out = append(out, string(a.Rule))
	}
	sort.Strings(out)
	return out
}

// world is the store the monitor reads: movements, trackers and the
// positions and events delivered so far.
type world struct {
	mu        sync.Mutex
	movements []*convoi.Movement
	trackers  []*convoi.Tracker
	positions []*convoi.Position
	events    []*convoi.DeviceEvent
	started   map[convoi.MovementID]time.Time // when a movement went underway, if known
}

func (w *world) FindMovementByID(_ context.Context, id convoi.MovementID) (*convoi.Movement, error) {
	for _, m := range w.movements {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, convoi.Errorf(convoi.ENOTFOUND, "no movement")
}

func (w *world) FindMovements(_ context.Context, f convoi.MovementFilter) ([]*convoi.Movement, int, error) {
	var out []*convoi.Movement
	for _, m := range w.movements {
		if f.State == nil || *f.State == m.State {
			out = append(out, m)
		}
	}
	if f.Offset >= len(out) {
		return nil, len(out), nil
	}
	return out[f.Offset:], len(out), nil
}

// FindTransitions returns the start of every movement started (started).
func (w *world) FindTransitions(_ context.Context, id convoi.MovementID) ([]*convoi.Transition, error) {
	at, ok := w.started[id]
	if !ok {
		return nil, nil
	}
	return []*convoi.Transition{{MovementID: id, Action: convoi.ActionStart, From: convoi.StateReleased, To: convoi.StateUnderway, At: at}}, nil
}

func (w *world) FindTrackers(_ context.Context, f convoi.TrackerFilter) ([]*convoi.Tracker, int, error) {
	var out []*convoi.Tracker
	for _, t := range w.trackers {
		if f.VehicleID != nil && t.VehicleID == *f.VehicleID || f.OfficerID != nil && t.OfficerID == *f.OfficerID {
			out = append(out, t)
		}
	}
	return out, len(out), nil
}

func (w *world) FindPositions(_ context.Context, f convoi.PositionFilter) ([]*convoi.Position, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*convoi.Position
	for _, p := range w.positions {
		if (f.DeviceID == nil || *f.DeviceID == p.DeviceID) && (f.From == nil || !p.FixTime.Before(*f.From)) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FixTime.Before(out[j].FixTime) })
	return out, nil
}

func (w *world) FindDeviceEvents(_ context.Context, f convoi.DeviceEventFilter) ([]*convoi.DeviceEvent, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*convoi.DeviceEvent
	for _, e := range w.events {
		if (f.DeviceID == nil || *f.DeviceID == e.DeviceID) && (f.From == nil || !e.Time.Before(*f.From)) {
			out = append(out, e)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// escort is one movement with a van (Teltonika, 1 s) and an escort car
// (a phone, every 5 s) following 4 s behind.
func escort(w *world, id int, rs *convoi.RouteSummary, level convoi.EscortLevel, deadline time.Time) (van, car convoi.DeviceID) {
	dep := t0
	m := &convoi.Movement{ID: convoi.MovementID(id), Ref: fmt.Sprintf("MC-T-%d", id), State: convoi.StateUnderway, EscortLevel: level,
		Vehicles: []convoi.VehicleID{convoi.VehicleID(2*id + 1), convoi.VehicleID(2*id + 2)}, Crew: []convoi.OfficerID{},
		PlannedDeparture: &dep, Route: rs, AppointmentAt: deadline.Add(DefaultPolicies()[level].ArrivalMargin), Version: 1}
	w.movements = append(w.movements, m)
	van = convoi.DeviceID(fmt.Sprintf("35000000000%04d", id))
	car = convoi.DeviceID(fmt.Sprintf("car-%d", id))
	w.trackers = append(w.trackers,
		&convoi.Tracker{ID: convoi.TrackerID(2*id + 1), DeviceID: van, Protocol: convoi.ProtocolTeltonika, VehicleID: m.Vehicles[0]},
		&convoi.Tracker{ID: convoi.TrackerID(2*id + 2), DeviceID: car, Protocol: convoi.ProtocolOsmAnd, VehicleID: m.Vehicles[1]})
	return van, car
}

// feed is one device's reports: its samples and how it reports them.
type feed struct {
	dev      convoi.DeviceID
	samples  []Sample
	every    int  // seconds between reports
	buffered bool // a box that keeps records while out of coverage and sends them later
	// silentAfter, when set, is the time after which nothing more is sent.
	silentAfter time.Time
	events      map[int][]convoi.DeviceEventKind // sample index -> device events in that record
}

// play delivers the feeds second by second to mon (clock at the sample
// time), ticking every second, and records what it delivered in w. It
// stops after until (zero: when every feed is done) or at stopAt.
func play(t testing.TB, mon *Monitor, w *world, feeds []*feed, from, until time.Time) {
	ctx := context.Background()
	var clock time.Time
	mon.Now = func() time.Time { return clock }
	if until.IsZero() {
		for _, f := range feeds {
			if n := len(f.samples); n > 0 && f.samples[n-1].At.After(until) {
				until = f.samples[n-1].At
			}
		}
	}
	held := make([][]*convoi.Position, len(feeds))
	for clock = from; !clock.After(until); clock = clock.Add(time.Second) {
		for fi, f := range feeds {
			if len(f.samples) == 0 {
				continue
			}
			i := int(clock.Sub(f.samples[0].At) / time.Second)
			if i < 0 || i >= len(f.samples) || i%f.every != 0 && f.events[i] == nil {
				continue
			}
			if !f.silentAfter.IsZero() && clock.After(f.silentAfter) {
				continue
			}
			s := f.samples[i]
			p := &convoi.Position{DeviceID: f.dev, FixTime: s.At, ServerTime: clock, Lat: s.Fix.Lat, Lon: s.Fix.Lon,
				SpeedKmh: math.Round(s.SpeedKmh), Heading: math.Round(s.Heading), Satellites: 9, Valid: true}
			if s.Tunnel {
				if !f.buffered {
					continue
				}
				p.Satellites, p.Valid = 0, false
				held[fi] = append(held[fi], p)
				continue
			}
			for _, h := range held[fi] {
				deliver(t, mon, w, h)
			}
			held[fi] = held[fi][:0]
			deliver(t, mon, w, p)
			for _, k := range f.events[i] {
				e := &convoi.DeviceEvent{DeviceID: f.dev, Kind: k, Severity: convoi.SeverityCritical, Time: s.At, ServerTime: clock, Lat: s.Fix.Lat, Lon: s.Fix.Lon}
				w.mu.Lock()
				w.events = append(w.events, e)
				w.mu.Unlock()
				if err := mon.HandleDeviceEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := mon.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func deliver(t testing.TB, mon *Monitor, w *world, p *convoi.Position) {
	w.mu.Lock()
	w.positions = append(w.positions, p)
	w.mu.Unlock()
	if err := mon.HandlePosition(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func newMonitor(t testing.TB, w *world, sink *memSink) *Monitor {
	mon := New(monaco(t))
	mon.Movements, mon.Trackers, mon.Positions, mon.Alarms = w, w, w, sink
	mon.Now = func() time.Time { return t0 }
	if err := mon.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return mon
}

// cleanFeeds drives an escort clean: van and car on the route.
func cleanFeeds(t testing.TB, w *world, id int, rs *convoi.RouteSummary, seed uint64, level convoi.EscortLevel) []*feed {
	r, err := NewPlannedRoute(monaco(t), rs, 70)
	if err != nil {
		t.Fatal(err)
	}
	van, car := escort(w, id, rs, level, t0.Add(24*time.Hour))
	d := Drive{Route: r, Start: t0, Pace: 1, NoiseM: 8, TollStopS: 15, SignalStopP: 0.5, SignalStopS: 40, Seed: seed}
	vs := d.Samples()
	d.DelayS, d.NoiseSeed = 4, seed+1000
	cs := d.Samples()
	return []*feed{{dev: van, samples: vs, every: 1, buffered: true}, {dev: car, samples: cs, every: 5}}
}

// TestCleanDrivesNoAlarm drives every demo route clean, with σ = 8 m of
// GNSS noise and every tunnel, 20 seeds each, at the strictest level: not
// one alarm may be raised.
func TestCleanDrivesNoAlarm(t *testing.T) {
	routes := demoRoutes(t)
	names := make([]string, 0, len(routes))
	for n := range routes {
		names = append(names, n)
	}
	sort.Strings(names)
	seeds := 20
	if testing.Short() {
		seeds = 3
	}
	var drives, fixes, tunnels int
	for _, name := range names {
		for seed := 1; seed <= seeds; seed++ {
			w := &world{}
			sink := &memSink{}
			feeds := cleanFeeds(t, w, 1, routes[name], uint64(seed), 3)
			mon := newMonitor(t, w, sink)
			play(t, mon, w, feeds, t0, time.Time{})
			drives++
			fixes += int(mon.Stats().Matched)
			tunnels += len(mon.watches[1].route.tunnels)
			if len(sink.alarms) > 0 {
				for _, a := range sink.alarms {
					t.Errorf("%s seed %d: false %s alarm: %s at %v (%s)", name, seed, a.Rule, a.Detail, a.Place, a.PlaceName)
				}
			}
		}
	}
	t.Logf("%d clean drives on %d routes, %d fixes matched, %d tunnel passages: %d false alarms", drives, len(names), fixes, tunnels, 0)
	if tunnels == 0 {
		t.Fatal("no route crossed a tunnel: the test does not exercise the tunnel rule")
	}
}

func routeNamed(t testing.TB, prefix string, want roadnet.Kind) *convoi.RouteSummary {
	routes := demoRoutes(t)
	var names []string
	for n := range routes {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if want == 0 {
			return routes[n]
		}
		r, err := NewPlannedRoute(monaco(t), routes[n], 70)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range r.zones {
			if z.kind&want != 0 || want == 0 {
				return routes[n]
			}
		}
	}
	t.Fatalf("no route %s with %s", prefix, want)
	return nil
}

func TestRammingAtTollBoothIsOneAttackAlarm(t *testing.T) {
	rs := routeNamed(t, "court-a8", roadnet.KindTollBooth)
	w := &world{}
	sink := &memSink{}
	van, car := escort(w, 1, rs, 3, t0.Add(24*time.Hour))
	r, _ := NewPlannedRoute(monaco(t), rs, 70)
	var toll Place
	for _, p := range r.Places() {
		if p.Kinds&roadnet.KindTollBooth != 0 {
			toll = p
			break
		}
	}
	tollAlong := toll.AlongM + 75 // the booth: the zone runs 250 m before and 150 m after
	d := Drive{Route: r, Start: t0, Pace: 1, NoiseM: 8, Seed: 7, StopAt: tollAlong, StopForS: 240}
	vs := d.Samples()
	cd := Drive{Route: r, Start: t0, Pace: 1, NoiseM: 8, Seed: 8, DelayS: 4}
	cs := cd.Samples()
	// The van stops at the booth; 3 s later the crash, panic and jamming.
	stopped := -1
	for i, s := range vs {
		if s.AlongM >= tollAlong-1 && s.SpeedKmh < 1 {
			stopped = i
			break
		}
	}
	if stopped < 0 {
		t.Fatal("the van never stopped at the toll booth")
	}
	hit := stopped + 3
	feeds := []*feed{
		{dev: van, samples: vs, every: 1, buffered: true, events: map[int][]convoi.DeviceEventKind{hit: {convoi.EventPanic, convoi.EventCrash, convoi.EventGSMJamming, convoi.EventGNSSJamming}}},
		{dev: car, samples: cs, every: 5},
	}
	mon := newMonitor(t, w, sink)
	play(t, mon, w, feeds, t0, vs[len(vs)-1].At)
	if got := sink.rules(); strings.Join(got, ",") != "attack" {
		t.Fatalf("alarms %v, want exactly one attack alarm; %s", got, details(sink))
	}
	a := sink.alarms[0]
	if a.Severity != convoi.SeverityCritical {
		t.Errorf("attack severity %d, want critical", a.Severity)
	}
	if !a.FirstSeen.Equal(vs[hit].At) {
		t.Errorf("attack first seen %s, want the crash record's time %s", a.FirstSeen, vs[hit].At)
	}
	if d := a.Place.DistanceM(toll.At); d > 300 {
		t.Errorf("attack %.0f m from the toll booth %s", d, toll.Name)
	}
	if a.Count < 3 {
		t.Errorf("attack alarm count %d: the stop, the split or the silence should have been merged into it", a.Count)
	}
	t.Logf("ramming at %s: %s (count %d)", toll.Name, a.Detail, a.Count)
}

func details(s *memSink) string {
	var b strings.Builder
	for _, a := range s.alarms {
		fmt.Fprintf(&b, "\n  %s sev %d at %s first %s: %s", a.Rule, a.Severity, a.PlaceName, a.FirstSeen.Format("15:04:05"), a.Detail)
	}
	return b.String()
}

// deviate builds a drive that follows rs for the first part, then leaves it.
func deviate(t testing.TB, rs *convoi.RouteSummary, frac float64) (*PlannedRoute, *PlannedRoute, float64) {
	r, err := NewPlannedRoute(monaco(t), rs, 70)
	if err != nil {
		t.Fatal(err)
	}
	dr, cut, err := Detour(context.Background(), monaco(t), r, frac)
	if err != nil {
		t.Fatal(err)
	}
	return r, dr, cut
}

func TestDeviationDetectedWithin10s(t *testing.T) {
	rs := routeNamed(t, "prison-court", 0)
	for seed := uint64(1); seed <= 5; seed++ {
		w := &world{}
		sink := &memSink{}
		van, car := escort(w, 1, rs, 2, t0.Add(24*time.Hour))
		planned, dr, cut := deviate(t, rs, 0.4)
		d := Drive{Route: dr, Start: t0, Pace: 1, NoiseM: 8, Seed: seed}
		vs := d.Samples()
		d.DelayS, d.NoiseSeed = 4, seed+100
		cs := d.Samples()
		mon := newMonitor(t, w, sink)
		play(t, mon, w, []*feed{{dev: van, samples: vs, every: 1, buffered: true}, {dev: car, samples: cs, every: 5}}, t0, time.Time{})
		if got := sink.rules(); strings.Join(got, ",") != "deviation" {
			t.Fatalf("seed %d: alarms %v, want exactly deviation; %s", seed, got, details(sink))
		}
		// When did the van's true position first leave the corridor?
		pol := DefaultPolicies()[2]
		var left time.Time
		for _, s := range vs {
			dist, _, seg := planned.project(s.True, 0, planned.LengthM, -1, 0)
			if s.AlongM >= cut-1 && dist > pol.corridor(planned.seg[seg]) {
				left = s.At
				break
			}
		}
		// And when did its fixes (what the control room can know) leave it?
		var seen time.Time
		for _, s := range vs {
			dist, _, seg := planned.project(s.Fix, 0, planned.LengthM, -1, 0)
			if s.AlongM >= cut-1 && dist > pol.corridor(planned.seg[seg]) {
				seen = s.At
				break
			}
		}
		a := sink.alarms[0]
		delay := a.FirstSeen.Sub(seen).Seconds()
		if left.IsZero() || seen.IsZero() || delay > 10 || delay < 0 {
			t.Errorf("seed %d: deviation raised %.0f s after the van's first fix outside the corridor (at %s), want within 10 s", seed, delay, seen.Format("15:04:05"))
		}
		t.Logf("seed %d: deviation detected %.0f s after the first fix outside the corridor, %.0f s after the true exit", seed, delay, a.FirstSeen.Sub(left).Seconds())
	}
}

func TestSignalLoss(t *testing.T) {
	rs := routeNamed(t, "court-a8", roadnet.KindTollBooth)
	w := &world{}
	sink := &memSink{}
	van, car := escort(w, 1, rs, 3, t0.Add(24*time.Hour))
	r, _ := NewPlannedRoute(monaco(t), rs, 70)
	d := Drive{Route: r, Start: t0, Pace: 1, NoiseM: 8, Seed: 3}
	vs := d.Samples()
	d.DelayS, d.NoiseSeed = 4, 4
	cs := d.Samples()
	// Silence from a point outside any tunnel, a third of the way.
	var quiet time.Time
	for _, s := range vs {
		if s.AlongM > r.LengthM/3 && !r.inTunnel(s.AlongM, 600) {
			quiet = s.At
			break
		}
	}
	if quiet.IsZero() {
		t.Fatal("no stretch away from tunnels")
	}
	mon := newMonitor(t, w, sink)
	play(t, mon, w, []*feed{{dev: van, samples: vs, every: 1, buffered: true, silentAfter: quiet}, {dev: car, samples: cs, every: 5}}, t0, time.Time{})
	if got := sink.rules(); strings.Join(got, ",") != "signal_loss" {
		t.Fatalf("alarms %v, want exactly signal_loss; %s", got, details(sink))
	}
	a := sink.alarms[0]
	pol := DefaultPolicies()[3]
	if delay := a.FirstSeen.Sub(quiet).Seconds(); delay < pol.SignalLossMinS || delay > pol.SignalLossMinS+2 {
		t.Errorf("signal loss raised %.0f s after the last fix, want %.0f s", delay, pol.SignalLossMinS)
	}
	if a.Severity != convoi.SeverityCritical {
		t.Errorf("signal loss at level 3: severity %d, want critical", a.Severity)
	}
}

func TestLate(t *testing.T) {
	rs := routeNamed(t, "court-a8", 0)
	w := &world{}
	sink := &memSink{}
	r, _ := NewPlannedRoute(monaco(t), rs, 70)
	// The deadline leaves 3 minutes of margin; the escort crawls at 45 %.
	deadline := t0.Add(time.Duration(r.DurationS)*time.Second + 3*time.Minute)
	van, car := escort(w, 1, rs, 2, deadline)
	d := Drive{Route: r, Start: t0, Pace: 0.45, NoiseM: 8, Seed: 5}
	vs := d.Samples()
	d.DelayS, d.NoiseSeed = 4, 6
	cs := d.Samples()
	mon := newMonitor(t, w, sink)
	play(t, mon, w, []*feed{{dev: van, samples: vs, every: 1, buffered: true}, {dev: car, samples: cs, every: 5}}, t0, time.Time{})
	if got := sink.rules(); strings.Join(got, ",") != "late" {
		t.Fatalf("alarms %v, want exactly late; %s", got, details(sink))
	}
	// Raised once the pace is known, long before the deadline passed.
	if a := sink.alarms[0]; !a.FirstSeen.Before(deadline) {
		t.Errorf("late raised at %s, not before the deadline %s", a.FirstSeen, deadline)
	}
	// The same drive at full pace is not late.
	w2, sink2 := &world{}, &memSink{}
	van2, car2 := escort(w2, 1, rs, 2, deadline)
	d.Pace, d.Seed, d.DelayS = 1, 5, 0
	vs2 := d.Samples()
	mon2 := newMonitor(t, w2, sink2)
	play(t, mon2, w2, []*feed{{dev: van2, samples: vs2, every: 1, buffered: true}, {dev: car2, samples: vs2, every: 5}}, t0, time.Time{})
	if len(sink2.alarms) != 0 {
		t.Errorf("on time drive raised %v", sink2.rules())
	}
}

func TestOutOfOrderDuplicatesAndStrangers(t *testing.T) {
	rs := routeNamed(t, "prison-court", 0)
	w := &world{}
	sink := &memSink{}
	feeds := cleanFeeds(t, w, 1, rs, 11, 3)
	mon := newMonitor(t, w, sink)
	ctx := context.Background()
	van := feeds[0]
	mon.Now = func() time.Time { return van.samples[len(van.samples)-1].At }
	// Every fix three times, in shuffled blocks of ten, and a stranger's fixes.
	for i := 0; i < len(van.samples); i += 10 {
		blk := van.samples[i:min(i+10, len(van.samples))]
		for rep := 0; rep < 3; rep++ {
			for j := len(blk) - 1; j >= 0; j -= 1 + rep {
				s := blk[j]
				p := &convoi.Position{DeviceID: van.dev, FixTime: s.At, Lat: s.Fix.Lat, Lon: s.Fix.Lon, SpeedKmh: s.SpeedKmh, Heading: s.Heading, Valid: true}
				if err := mon.HandlePosition(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range blk {
				p := &convoi.Position{DeviceID: van.dev, FixTime: s.At, Lat: s.Fix.Lat, Lon: s.Fix.Lon, SpeedKmh: s.SpeedKmh, Heading: s.Heading, Valid: true}
				if err := mon.HandlePosition(ctx, p); err != nil {
					t.Fatal(err)
				}
				// A tracker on no underway movement, far off any route.
				q := &convoi.Position{DeviceID: "stranger", FixTime: s.At, Lat: 43.75, Lon: 7.44, SpeedKmh: 300, Valid: true}
				if err := mon.HandlePosition(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The same device event five times.
	for range 5 {
		e := &convoi.DeviceEvent{DeviceID: van.dev, Kind: convoi.EventTamper, Time: van.samples[20].At, Severity: convoi.SeverityCritical}
		if err := mon.HandleDeviceEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st := mon.Stats()
	if st.Ignored == 0 || st.Duplicates == 0 || st.OutOfOrder == 0 {
		t.Errorf("stats %+v: strangers, duplicates and out-of-order fixes should all be counted", st)
	}
	if got := sink.rules(); strings.Join(got, ",") != "device" || sink.alarms[0].Count != 1 {
		t.Errorf("alarms %v (%s), want one device alarm for the tamper event, raised once", got, details(sink))
	}
}

// TestRestartMidDrive stops the monitor in the middle of a drive that
// deviates, builds a new one from the store, and finishes the drive: the
// alarms are those of an uninterrupted run, none lost, none doubled.
func TestRestartMidDrive(t *testing.T) {
	rs := routeNamed(t, "prison-court", 0)
	run := func(restartAfter time.Duration) *memSink {
		w := &world{}
		sink := &memSink{}
		van, car := escort(w, 1, rs, 2, t0.Add(24*time.Hour))
		_, dr, _ := deviate(t, rs, 0.4)
		d := Drive{Route: dr, Start: t0, Pace: 1, NoiseM: 8, Seed: 21}
		vs := d.Samples()
		d.DelayS, d.NoiseSeed = 4, 22
		cs := d.Samples()
		// The van's box also reports a power cut while deviated.
		feeds := []*feed{{dev: van, samples: vs, every: 1, buffered: true, events: map[int][]convoi.DeviceEventKind{len(vs) - 5: {convoi.EventTamper}}},
			{dev: car, samples: cs, every: 5}}
		end := vs[len(vs)-1].At.Add(2 * time.Minute)
		mon := newMonitor(t, w, sink)
		if restartAfter == 0 {
			play(t, mon, w, feeds, t0, end)
			return sink
		}
		cut := t0.Add(restartAfter)
		play(t, mon, w, feeds, t0, cut)
		// The new process: same store, fresh engine.
		mon2 := New(monaco(t))
		mon2.Movements, mon2.Trackers, mon2.Positions, mon2.Alarms = w, w, w, sink
		mon2.Now = func() time.Time { return cut.Add(3 * time.Second) }
		if err := mon2.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		play(t, mon2, w, feeds, cut.Add(time.Second), end)
		return sink
	}
	want := run(0)
	if len(want.alarms) < 2 {
		t.Fatalf("uninterrupted run raised %v; the test needs several alarms", want.rules())
	}
	first := want.alarms[0].FirstSeen.Sub(t0)
	for _, after := range []time.Duration{first - 3*time.Second, first + 2*time.Second, first + 40*time.Second} {
		got := run(after)
		if strings.Join(got.rules(), ",") != strings.Join(want.rules(), ",") {
			t.Errorf("restart after %s: alarms %v, want %v", after, got.rules(), want.rules())
			continue
		}
		for i, a := range got.alarms {
			if a.Count != want.alarms[i].Count || !a.FirstSeen.Equal(want.alarms[i].FirstSeen) {
				t.Errorf("restart after %s: %s count %d first %s, want count %d first %s", after, a.Rule, a.Count, a.FirstSeen, want.alarms[i].Count, want.alarms[i].FirstSeen)
			}
		}
	}
}

// An escort that left two hours before its planned departure is watched
// from its start; a panic pressed an hour before the planned departure and
// never raised (its node died with the alarm queued) is raised by the
// rebuild of the node that takes the escort over, which replays from the
// start, not from half an hour before the planned departure.
func TestRebuildReplaysFromEarlyStart(t *testing.T) {
	rs := routeNamed(t, "prison-court", 0)
	w := &world{}
	sink := &memSink{}
	van, _ := escort(w, 1, rs, 2, t0.Add(24*time.Hour))
	w.started = map[convoi.MovementID]time.Time{1: t0.Add(-2 * time.Hour)}
	at := rs.Geometry[0]
	w.events = append(w.events, &convoi.DeviceEvent{DeviceID: van, Kind: convoi.EventPanic, Severity: convoi.SeverityCritical,
		Time: t0.Add(-time.Hour), Lat: at.Lat, Lon: at.Lon})
	mon := New(monaco(t))
	mon.Movements, mon.Trackers, mon.Positions, mon.Alarms = w, w, w, sink
	mon.Now = func() time.Time { return t0.Add(-59 * time.Minute) }
	if err := mon.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sink.rules(), ","); !strings.Contains(got, string(convoi.RuleAttack)) {
		t.Fatalf("rebuild raised %q, want the attack alarm of the panic before the planned departure", got)
	}
	// A second rebuild (another takeover) raises nothing again.
	n := sink.alarms[0].Count
	mon2 := New(monaco(t))
	mon2.Movements, mon2.Trackers, mon2.Positions, mon2.Alarms = w, w, w, sink
	mon2.Now = mon.Now
	if err := mon2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.alarms) != 1 || sink.alarms[0].Count != n {
		t.Fatalf("second rebuild: alarms %v, count %d, want the one alarm, count %d", sink.rules(), sink.alarms[0].Count, n)
	}
}

// TestPlacesNameTheRoad: a zone of the A8 route is named after its road
// where the map names the chokepoint ("ramp (A 500)"), so an alarm there
// says where, not only what; a zone with no named chokepoint keeps its
// kinds alone.
func TestPlacesNameTheRoad(t *testing.T) {
	rs := routeNamed(t, "court-a8", roadnet.KindRamp)
	r, err := NewPlannedRoute(monaco(t), rs, 70)
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, p := range r.Places() {
		kinds := strings.ReplaceAll((p.Kinds & (chokeKinds | slowKinds)).String(), ",", "/")
		switch {
		case strings.HasPrefix(p.Name, "toll booth"):
		case strings.HasPrefix(p.Name, kinds+" (") && strings.HasSuffix(p.Name, ")") && len(p.Name) > len(kinds)+3:
			named++
		case p.Name != kinds:
			t.Errorf("place %q: want %q or %q (ROAD)", p.Name, kinds, kinds)
		}
	}
	if named == 0 {
		t.Fatalf("no place of the A8 route names its road: %+v", r.Places())
	}
}
