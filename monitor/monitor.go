// Package monitor watches every escort live against its plan. Each vehicle
// (and crew phone) of an underway movement is matched, fix by fix, against
// the movement's released draw: its route geometry and the planned passage
// time at every point. The rules (deviation, unplanned stop, signal loss,
// device alarms, convoy split, late, implausible track, and their
// combination into one "escort attacked" alarm) have their thresholds as
// data, a Policy per escort level; docs/monitor.md documents them.
//
// The monitor is an engine: it reads through small interfaces, reports
// alarms through a Sink (convoi.AlarmService satisfies it) and progress
// through a Publisher (the event bus), never logs, and takes its clock from
// Now.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// Sink records alarms. convoi.AlarmService satisfies it: RaiseAlarm merges
// repeated evidence of the same rule on the same movement into the open
// alarm.
type Sink interface {
	RaiseAlarm(ctx context.Context, a *convoi.Alarm) (alarm *convoi.Alarm, created bool, err error)
}

// AlarmFinder lists stored alarms; when the Sink also is one, a rebuild
// after a restart skips the evidence already recorded.
type AlarmFinder interface {
	FindAlarms(ctx context.Context, filter convoi.AlarmFilter) ([]*convoi.Alarm, int, error)
}

// Publisher receives the monitor's progress events (and alarm events when
// PublishAlarms is set). The event bus satisfies it.
type Publisher interface {
	PublishEvent(e convoi.Event)
}

// MovementFinder reads movements.
type MovementFinder interface {
	FindMovementByID(ctx context.Context, id convoi.MovementID) (*convoi.Movement, error)
	FindMovements(ctx context.Context, filter convoi.MovementFilter) ([]*convoi.Movement, int, error)
}

// TransitionFinder reads a movement's state history. When Movements also
// is one (convoi.MovementService is), a rebuild replays from the time the
// movement went underway if that is earlier than its usual window.
type TransitionFinder interface {
	FindTransitions(ctx context.Context, id convoi.MovementID) ([]*convoi.Transition, error)
}

// TrackerFinder reads trackers.
type TrackerFinder interface {
	FindTrackers(ctx context.Context, filter convoi.TrackerFilter) ([]*convoi.Tracker, int, error)
}

// PositionFinder reads stored positions and device events (the rebuild).
type PositionFinder interface {
	FindPositions(ctx context.Context, filter convoi.PositionFilter) ([]*convoi.Position, error)
	FindDeviceEvents(ctx context.Context, filter convoi.DeviceEventFilter) ([]*convoi.DeviceEvent, error)
}

// Subscriber is the event bus.
type Subscriber interface {
	Subscribe(ctx context.Context) (convoi.Subscription, error)
}

// Monitor is the live monitoring engine. New sets the defaults; the exported
// fields are the configuration. Safe for concurrent use.
type Monitor struct {
	Graph     *roadnet.Graph
	Policies  map[convoi.EscortLevel]Policy // by escort level; DefaultPolicies
	Now       convoi.Clock
	Movements MovementFinder
	Trackers  TrackerFinder
	Positions PositionFinder // nil: no rebuild from the store
	Alarms    Sink
	Events    Publisher // nil: no progress events
	// PublishAlarms publishes every raised alarm on Events (leave it off
	// when the alarm store publishes them itself).
	PublishAlarms bool
	// ProgressEvery is the fix time between two progress events of one unit.
	ProgressEvery time.Duration
	// MaxAhead bounds how far ahead of Now a fix time may move a movement's
	// clock (simulations at a speed-up report ahead of the server's clock).
	MaxAhead time.Duration
	// RebuildWindow is how far back a rebuild replays stored fixes.
	RebuildWindow time.Duration
	// OnError receives errors of the background loop (Run); the engine
	// itself never logs.
	OnError func(error)
	// Owns, if set, says whether this monitor watches a movement: in a
	// cluster, each underway movement is watched by the one node holding
	// its lease (natsbus.Keeper). Nil: every underway movement. When the
	// answer changes, call Watch with the movement.
	Owns func(convoi.MovementID) bool

	mu      sync.Mutex
	watches map[convoi.MovementID]*watch
	units   map[convoi.DeviceID][]*unit
	stats   Stats
	queue   chan queued // set by Run: alarms to store
	routes  map[convoi.MovementID]cachedRoute

	readyOnce sync.Once
	ready     chan struct{}

	opened, merged, resubscribed atomic.Int64
	pending                      sync.WaitGroup // alarms queued, not yet stored
}

// Stats counts what the monitor saw: fixes handed to it (Fixes), fixes
// evaluated against a route (Matched, rebuilds included), fixes of devices
// on no underway movement (Ignored), alarms opened and merged, and how
// often the bus dropped the monitor as too slow (Resubscribed).
type Stats struct {
	Fixes, Matched, Ignored, Duplicates, OutOfOrder, DeviceEvents, Alarms, Merged, Resubscribed int64
}

// New returns a Monitor with the default policies.
func New(g *roadnet.Graph) *Monitor {
	return &Monitor{Graph: g, Policies: DefaultPolicies(), Now: time.Now, ProgressEvery: time.Second,
		MaxAhead: 12 * time.Hour, RebuildWindow: 6 * time.Hour,
		watches: map[convoi.MovementID]*watch{}, units: map[convoi.DeviceID][]*unit{}}
}

// Ready is closed once Run has loaded the underway movements (and rebuilt
// their state) the first time.
func (m *Monitor) Ready() chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready == nil {
		m.ready = make(chan struct{})
	}
	return m.ready
}

// Watching reports whether the monitor watches movement id.
func (m *Monitor) Watching(id convoi.MovementID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watches[id] != nil
}

// Stats returns the counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stats
	st.Alarms, st.Merged, st.Resubscribed = m.opened.Load(), m.merged.Load(), m.resubscribed.Load()
	return st
}

// indicator is one kind of evidence that combinations look at.
type indicator int

const (
	indPanic indicator = iota
	indCrash
	indJamming
	indPowerTamper
	indStop
	indStopChoke
	indSignalLoss
	indJump
	indSplit
	indDeviation
	numIndicators
)

var indicatorNames = [numIndicators]string{"panic", "crash", "jamming", "power cut/tamper", "stop", "stop at a chokepoint",
	"signal loss", "implausible jump", "convoy split", "deviation"}

// attackPatterns are the combinations that make one "escort attacked"
// alarm: every indicator of a pattern seen within the policy's ComboWindowS.
var attackPatterns = [][]indicator{
	{indPanic},
	{indCrash},
	{indJamming, indStop},
	{indJamming, indSignalLoss},
	{indJamming, indJump},
	{indJamming, indSplit},
	{indJamming, indDeviation},
	{indPowerTamper, indStop},
	{indPowerTamper, indSignalLoss},
	{indPowerTamper, indDeviation},
	{indStopChoke, indSplit},
}

// watch is one underway movement.
type watch struct {
	m        *convoi.Movement
	route    *PlannedRoute
	pol      Policy
	dep      time.Time // planned departure
	deadline time.Time
	since    time.Time // watched since (units never heard are silent from then)
	latest   time.Time // newest fix time of any unit
	units    []*unit

	ind    [numIndicators]time.Time
	attack bool
	// evidence names what the open attack alarm has gathered so far.
	evidence []string
	// stored holds, during a rebuild, the LastSeen of the alarms already
	// recorded for each rule; evidence not newer is not raised again.
	stored map[convoi.AlarmRule]time.Time

	splitSince  time.Time
	splitActive bool
}

// unit is one device of a movement: a vehicle's box or a crew phone.
type unit struct {
	w       *watch
	device  convoi.DeviceID
	vehicle convoi.VehicleID
	label   string

	lastFix   time.Time // newest fix time, valid or not
	lastValid time.Time
	pos       convoi.LatLon
	speedKmh  float64
	interval  float64 // learnt reporting interval, seconds
	along     float64
	matched   bool
	departed  time.Time // estimated actual departure
	progress  time.Time // fix time of the last progress event
	offM      float64

	lastIn     time.Time
	outFixes   int
	devActive  bool
	stillSince time.Time
	stillAt    convoi.LatLon
	stopActive bool
	silent     bool
	lateSince  time.Time
	lateActive bool
	offRoad    bool

	seen [8]evKey // recent device events, for duplicates
	next int
}

type evKey struct {
	kind convoi.DeviceEventKind
	at   int64
}

func (m *Monitor) policy(level convoi.EscortLevel) Policy {
	if p, ok := m.Policies[level]; ok {
		return p
	}
	if level > convoi.MaxEscortLevel {
		return m.Policies[convoi.MaxEscortLevel]
	}
	return m.Policies[convoi.MinEscortLevel]
}

// Load watches every underway movement and rebuilds each one's state from
// the stored fixes (see Rebuild).
func (m *Monitor) Load(ctx context.Context) error {
	st := convoi.StateUnderway
	var ms []*convoi.Movement
	for off := 0; ; {
		page, n, err := m.Movements.FindMovements(ctx, convoi.MovementFilter{State: &st, Page: convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}})
		if err != nil {
			return fmt.Errorf("underway movements: %w", err)
		}
		ms = append(ms, page...)
		off += len(page)
		if len(page) == 0 || off >= n {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[convoi.MovementID]bool{}
	var errs []error
	for _, mv := range ms {
		keep[mv.ID] = true
		if err := m.watchLocked(ctx, mv, true); err != nil {
			errs = append(errs, fmt.Errorf("movement %s: %w", mv.Ref, err))
		}
	}
	for id := range m.watches {
		if !keep[id] {
			m.unwatchLocked(id)
		}
	}
	return errors.Join(errs...)
}

// Watch starts, refreshes or stops watching movement mv according to its
// state: only underway movements with a released route are watched.
func (m *Monitor) Watch(ctx context.Context, mv *convoi.Movement) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mv.State != convoi.StateUnderway {
		m.unwatchLocked(mv.ID)
		delete(m.routes, mv.ID)
		return nil
	}
	return m.watchLocked(ctx, mv, true)
}

func (m *Monitor) unwatchLocked(id convoi.MovementID) {
	w := m.watches[id]
	if w == nil {
		return
	}
	for _, u := range w.units {
		us := slices.DeleteFunc(m.units[u.device], func(x *unit) bool { return x == u })
		if len(us) == 0 {
			delete(m.units, u.device)
		} else {
			m.units[u.device] = us
		}
	}
	delete(m.watches, id)
}

func (m *Monitor) watchLocked(ctx context.Context, mv *convoi.Movement, rebuild bool) error {
	if m.Owns != nil && !m.Owns(mv.ID) {
		m.unwatchLocked(mv.ID)
		return nil
	}
	if old := m.watches[mv.ID]; old != nil && old.m.Version == mv.Version {
		return nil
	}
	if mv.Route == nil || len(mv.Route.Geometry) < 2 || mv.PlannedDeparture == nil {
		m.unwatchLocked(mv.ID)
		return convoi.Errorf(convoi.EINVALID, "Movement %s is underway without a released route and departure.", mv.Ref)
	}
	pol := m.policy(mv.EscortLevel)
	c, ok := m.routes[mv.ID]
	if !ok || c.version != mv.Version {
		r, err := NewPlannedRoute(m.Graph, mv.Route, pol.FastKmh)
		if err != nil {
			return err
		}
		c = cachedRoute{mv.Version, r}
		if m.routes == nil {
			m.routes = map[convoi.MovementID]cachedRoute{}
		}
		m.routes[mv.ID] = c
	}
	r := c.r
	var trackers []*convoi.Tracker
	add := func(f convoi.TrackerFilter) error {
		f.Page = convoi.Page{Limit: convoi.MaxPageLimit}
		ts, _, err := m.Trackers.FindTrackers(ctx, f)
		if err != nil {
			return fmt.Errorf("trackers: %w", err)
		}
		for _, t := range ts {
			if !t.Disabled {
				trackers = append(trackers, t)
			}
		}
		return nil
	}
	for _, v := range mv.Vehicles {
		if err := add(convoi.TrackerFilter{VehicleID: &v}); err != nil {
			return err
		}
	}
	for _, o := range mv.Crew {
		if err := add(convoi.TrackerFilter{OfficerID: &o}); err != nil {
			return err
		}
	}
	old := m.watches[mv.ID]
	m.unwatchLocked(mv.ID)
	now := m.Now()
	w := &watch{m: mv, route: r, pol: pol, dep: *mv.PlannedDeparture,
		deadline: mv.AppointmentAt.Add(-pol.ArrivalMargin), since: now}
	if old != nil {
		// A new version of the same movement (crew or vehicles changed):
		// keep the state of the devices that stay.
		w.since, w.latest, w.ind, w.attack = old.since, old.latest, old.ind, old.attack
		w.splitSince, w.splitActive = old.splitSince, old.splitActive
	}
	for _, t := range trackers {
		u := &unit{w: w, device: t.DeviceID, vehicle: t.VehicleID, label: string(t.DeviceID)}
		if old != nil {
			for _, ou := range old.units {
				if ou.device == t.DeviceID {
					*u = *ou
					u.w = w
				}
			}
		}
		w.units = append(w.units, u)
		m.units[t.DeviceID] = append(m.units[t.DeviceID], u)
	}
	m.watches[mv.ID] = w
	if rebuild && old == nil && m.Positions != nil {
		return m.rebuildLocked(ctx, w)
	}
	return nil
}

// rebuildLocked replays the stored fixes and device events of w's devices
// since 30 minutes before its planned departure, or since it went underway
// when that was earlier (an escort that left early is watched live from
// its start, so a rebuild must replay from there too), at most
// RebuildWindow back, so that the engine's state is what it was before a
// restart or on the node it is taken over from. Alarms already stored
// (found through Alarms when it is an AlarmFinder) are not raised again;
// evidence newer than them is.
func (m *Monitor) rebuildLocked(ctx context.Context, w *watch) error {
	from := w.dep.Add(-30 * time.Minute)
	if tf, ok := m.Movements.(TransitionFinder); ok {
		trs, err := tf.FindTransitions(ctx, w.m.ID)
		if err != nil {
			return fmt.Errorf("transitions of %s: %w", w.m.Ref, err)
		}
		var started time.Time // the last time it went underway
		for _, tr := range trs {
			if tr.To == convoi.StateUnderway {
				started = tr.At
			}
		}
		if !started.IsZero() && started.Before(from) {
			from = started
		}
	}
	if lim := m.Now().Add(-m.RebuildWindow); from.Before(lim) {
		from = lim
	}
	w.stored = map[convoi.AlarmRule]time.Time{}
	defer func() { w.stored = nil }()
	if af, ok := m.Alarms.(AlarmFinder); ok {
		id := w.m.ID
		for off := 0; ; {
			as, n, err := af.FindAlarms(ctx, convoi.AlarmFilter{MovementID: &id, Page: convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}})
			if err != nil {
				return fmt.Errorf("stored alarms: %w", err)
			}
			for _, a := range as {
				if a.LastSeen.After(w.stored[a.Rule]) {
					w.stored[a.Rule] = a.LastSeen
				}
				if a.Rule == convoi.RuleAttack && a.State != convoi.AlarmResolved {
					w.attack = true
				}
			}
			off += len(as)
			if len(as) == 0 || off >= n {
				break
			}
		}
	}
	type item struct {
		at  time.Time
		p   *convoi.Position
		ev  *convoi.DeviceEvent
		seq int
	}
	var items []item
	for _, u := range w.units {
		d := u.device
		ps, err := m.Positions.FindPositions(ctx, convoi.PositionFilter{DeviceID: &d, From: &from, Limit: 100000})
		if err != nil {
			return fmt.Errorf("stored positions of %s: %w", d, err)
		}
		for _, p := range ps {
			items = append(items, item{at: p.FixTime, p: p, seq: len(items)})
		}
		evs, err := m.Positions.FindDeviceEvents(ctx, convoi.DeviceEventFilter{DeviceID: &d, From: &from, Limit: 100000})
		if err != nil {
			return fmt.Errorf("stored device events of %s: %w", d, err)
		}
		for _, e := range evs {
			items = append(items, item{at: e.Time, ev: e, seq: len(items)})
		}
	}
	// Positions before the events of the same time, as the tracker
	// publishes them.
	sort.SliceStable(items, func(i, j int) bool {
		if !items[i].at.Equal(items[j].at) {
			return items[i].at.Before(items[j].at)
		}
		return items[i].p != nil && items[j].p == nil
	})
	var errs []error
	for _, it := range items {
		if it.p != nil {
			for _, u := range m.units[it.p.DeviceID] {
				if u.w == w {
					errs = append(errs, m.position(ctx, u, it.p))
				}
			}
		} else {
			for _, u := range m.units[it.ev.DeviceID] {
				if u.w == w {
					errs = append(errs, m.deviceEvent(ctx, u, it.ev))
				}
			}
		}
	}
	// Silence since the last stored fix counts from then, not from now.
	return errors.Join(errs...)
}

// HandleEvent feeds one bus event to the monitor.
func (m *Monitor) HandleEvent(ctx context.Context, e convoi.Event) error {
	switch e.Type {
	case convoi.EventTypePosition:
		if e.Position != nil {
			return m.HandlePosition(ctx, e.Position)
		}
	case convoi.EventTypeDeviceEvent:
		if e.DeviceEvent != nil {
			return m.HandleDeviceEvent(ctx, e.DeviceEvent)
		}
	case convoi.EventTypeMovement:
		if e.Movement != nil {
			return m.Watch(ctx, e.Movement)
		}
	}
	return nil
}

// HandlePosition evaluates one fix. Fixes of devices on no underway
// movement, duplicates and fixes older than the device's newest are counted
// and otherwise ignored.
func (m *Monitor) HandlePosition(ctx context.Context, p *convoi.Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Fixes++
	us := m.units[p.DeviceID]
	if len(us) == 0 {
		m.stats.Ignored++
		return nil
	}
	var errs []error
	for _, u := range us {
		errs = append(errs, m.position(ctx, u, p))
	}
	return errors.Join(errs...)
}

// HandleDeviceEvent evaluates one device event.
func (m *Monitor) HandleDeviceEvent(ctx context.Context, e *convoi.DeviceEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.DeviceEvents++
	var errs []error
	for _, u := range m.units[e.DeviceID] {
		errs = append(errs, m.deviceEvent(ctx, u, e))
	}
	return errors.Join(errs...)
}

// clock is the movement's time: the server's clock, or the newest fix of
// its units when that is ahead (a simulation at a speed-up).
func (m *Monitor) clock(w *watch) time.Time {
	now := m.Now()
	if w.latest.After(now) {
		return w.latest
	}
	return now
}

func (m *Monitor) position(ctx context.Context, u *unit, p *convoi.Position) error {
	w, pol, r := u.w, &u.w.pol, u.w.route
	switch {
	case p.FixTime.Equal(u.lastFix):
		m.stats.Duplicates++
		return nil
	case p.FixTime.Before(u.lastFix):
		m.stats.OutOfOrder++
		return nil
	}
	if !u.lastFix.IsZero() {
		gap := math.Min(p.FixTime.Sub(u.lastFix).Seconds(), 60)
		if u.interval == 0 {
			u.interval = gap
		} else {
			u.interval = 0.8*u.interval + 0.2*gap
		}
	}
	u.lastFix = p.FixTime
	if p.FixTime.After(w.latest) && p.FixTime.Before(m.Now().Add(m.MaxAhead)) {
		w.latest = p.FixTime
	}
	u.silent = false
	if !p.Valid || p.Lat == 0 && p.Lon == 0 {
		return nil // alive, but no position to judge
	}
	m.stats.Matched++
	at := convoi.LatLon{Lat: p.Lat, Lon: p.Lon}
	var errs []error
	now := p.FixTime

	// Implausible jump.
	prevValid := u.lastValid
	if !prevValid.IsZero() {
		d := u.pos.DistanceM(at)
		dt := now.Sub(prevValid).Seconds()
		if d > 2*pol.JumpNoiseM && d-pol.JumpNoiseM > pol.MaxSpeedKmh/3.6*dt {
			w.ind[indJump] = now
			errs = append(errs, m.raise(ctx, w, u, convoi.RuleImplausible, indJump,
				fmt.Sprintf("Jump of %.0f m in %.0f s (%.0f km/h): faster than a road vehicle, a spoofing indicator.", d, dt, d/math.Max(dt, 0.5)*3.6), at, now))
		}
	}
	prevSpeed := u.speedKmh
	u.pos, u.lastValid, u.speedKmh = at, now, p.SpeedKmh

	// Match against the route: monotone progress, windowed around the last
	// match, heading used; a miss searches the rest of the route ahead.
	heading := p.Heading
	if heading < 0 || heading > 360 {
		heading = -1
	}
	lo, hi, expect := 0.0, r.LengthM, -1.0
	if u.matched {
		dt := math.Max(now.Sub(prevValid).Seconds(), 1)
		lo, hi = u.along-60, u.along+pol.MaxSpeedKmh/3.6*dt+200
		v := math.Max(p.SpeedKmh, prevSpeed) / 3.6
		if v < 1 {
			v = r.LengthM / math.Max(r.DurationS, 1) // speed unknown: the planned average
		}
		expect = u.along + v*dt
	}
	dist, along, seg := r.projectNear(at, lo, hi, heading, p.SpeedKmh, expect)
	corr := pol.corridor(r.seg[seg])
	if dist > corr && u.matched {
		if d2, a2, s2 := r.project(at, u.along-60, r.LengthM, heading, p.SpeedKmh); d2 < dist {
			dist, along, seg, corr = d2, a2, s2, pol.corridor(r.seg[s2])
		}
	}
	inside := dist <= corr
	u.offM = dist
	if inside {
		if !u.matched || along > u.along {
			u.along = along
		}
		u.matched = true
	}

	// Deviation.
	if inside {
		u.lastIn, u.outFixes = now, 0
		u.devActive, u.offRoad = false, false
	} else {
		if u.lastIn.IsZero() {
			u.lastIn = now
		}
		u.outFixes++
		if !u.devActive && u.outFixes >= pol.DeviationFixes && now.Sub(u.lastIn).Seconds() >= pol.DeviationS {
			u.devActive = true
			w.ind[indDeviation] = now
			errs = append(errs, m.raise(ctx, w, u, convoi.RuleDeviation, indDeviation,
				fmt.Sprintf("%s is %.0f m off the planned route (corridor %.0f m) for %.0f s.", u.label, dist, corr, now.Sub(u.lastIn).Seconds()), at, now))
		}
		if u.devActive && !u.offRoad && m.Graph != nil && !r.seg[seg].offMap {
			if sp, err := m.Graph.Snap(at); err == nil && sp.DistanceM > pol.OffRoadM {
				u.offRoad = true
				w.ind[indJump] = now
				errs = append(errs, m.raise(ctx, w, u, convoi.RuleImplausible, indJump,
					fmt.Sprintf("Fix %.0f m from the nearest road: a spoofing indicator.", sp.DistanceM), at, now))
			}
		}
	}

	// Unplanned stop.
	if p.SpeedKmh <= pol.StopKmh && (u.stillSince.IsZero() || u.stillAt.DistanceM(at) <= pol.StopRadiusM) {
		if u.stillSince.IsZero() {
			u.stillSince, u.stillAt = now, at
		}
	} else if p.SpeedKmh > pol.StopKmh || u.stillAt.DistanceM(at) > pol.StopRadiusM {
		u.stillSince, u.stopActive = time.Time{}, false
		if p.SpeedKmh <= pol.StopKmh {
			u.stillSince, u.stillAt = now, at
		}
	}
	if !u.stillSince.IsZero() && !u.stopActive && u.along > pol.EndZoneM && u.along < r.LengthM-pol.EndZoneM {
		allow := pol.StopS
		z, inZone := r.zoneAt(u.along)
		if !inside {
			inZone = false
		}
		switch {
		case inZone && z.chokepoint:
			allow = pol.StopChokepointS
		case inZone:
			allow += pol.SlowPointExtraS
		}
		if d := now.Sub(u.stillSince).Seconds(); d >= allow {
			u.stopActive = true
			w.ind[indStop] = now
			ind := indStop
			where := ""
			if inZone && z.chokepoint {
				w.ind[indStopChoke] = now
				ind = indStopChoke
				where = " at a chokepoint (" + z.name + ")"
			}
			errs = append(errs, m.raise(ctx, w, u, convoi.RuleStop, ind,
				fmt.Sprintf("%s stopped for %.0f s%s (allowed %.0f s).", u.label, d, where, allow), u.stillAt, now))
		}
	}

	// Progress and lateness.
	pr := m.progress(u, at, now)
	// Off the route the planned ETA means nothing (the deviation rule has
	// it); lateness is judged on the route only.
	if !inside {
		u.lateSince = time.Time{}
	} else if pr.DeadlineS > 0 && u.departedOrDue(now) {
		if u.lateSince.IsZero() {
			u.lateSince = now
		}
		if !u.lateActive && now.Sub(u.lateSince).Seconds() >= pol.LateConfirmS {
			u.lateActive = true
			errs = append(errs, m.raise(ctx, w, u, convoi.RuleLate, -1,
				fmt.Sprintf("Expected arrival %s is %.0f min after the deadline %s.", pr.ExpectedArr.Format("15:04:05 MST"), pr.DeadlineS/60, w.deadline.Format("15:04 MST")), at, now))
		}
	} else if pr.DeadlineS < -30 {
		u.lateSince, u.lateActive = time.Time{}, false
	}
	if m.Events != nil && w.stored == nil && (u.progress.IsZero() || now.Sub(u.progress) >= m.ProgressEvery) {
		u.progress = now
		m.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeProgress, Progress: &pr})
	}

	// Convoy split.
	errs = append(errs, m.checkSplit(ctx, w, u, now))
	return errors.Join(errs...)
}

// departedOrDue reports whether the unit has left or should have left.
func (u *unit) departedOrDue(now time.Time) bool {
	return !u.departed.IsZero() || now.After(u.w.dep)
}

// progress computes where u is against the plan and its expected arrival.
func (m *Monitor) progress(u *unit, at convoi.LatLon, now time.Time) convoi.Progress {
	w, r := u.w, u.w.route
	tPlan := r.timeAt(u.along)
	if u.departed.IsZero() && u.along > w.pol.EndZoneM {
		u.departed = now.Add(-time.Duration(tPlan * float64(time.Second)))
	}
	pace := 1.0
	var exp time.Time
	if u.departed.IsZero() {
		start := now
		if w.dep.After(now) {
			start = w.dep
		}
		exp = start.Add(time.Duration(r.DurationS * float64(time.Second)))
	} else {
		if tPlan >= w.pol.PaceAfterS {
			pace = math.Min(math.Max(now.Sub(u.departed).Seconds()/tPlan, 0.5), 4)
		}
		exp = now.Add(time.Duration((r.DurationS - tPlan) * pace * float64(time.Second)))
	}
	return convoi.Progress{MovementID: w.m.ID, VehicleID: u.vehicle, FixTime: now, Place: at,
		AlongM: u.along, RouteM: r.LengthM, OffRouteM: u.offM, ExpectedArr: exp,
		LateS:     now.Sub(w.dep).Seconds() - tPlan,
		DeadlineS: exp.Sub(w.deadline).Seconds()}
}

// checkSplit compares the units heard recently along the route.
func (m *Monitor) checkSplit(ctx context.Context, w *watch, u *unit, now time.Time) error {
	pol := &w.pol
	// Compare the units at the newest fix time among them, each moved on
	// at its last speed since its own fix; units not heard for SplitFreshS
	// are left to the signal-loss rule.
	var ref time.Time
	for _, x := range w.units {
		if x.matched && x.lastValid.After(ref) {
			ref = x.lastValid
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var n int
	var back, front *unit
	for _, x := range w.units {
		dt := ref.Sub(x.lastValid).Seconds()
		if !x.matched || x.devActive || dt > pol.SplitFreshS {
			continue
		}
		a := x.along + x.speedKmh/3.6*dt
		n++
		if a < lo {
			lo, back = a, x
		}
		if a > hi {
			hi, front = a, x
		}
	}
	if n < 2 {
		return nil
	}
	gap := hi - lo
	if gap <= pol.SplitM {
		if gap < 0.8*pol.SplitM {
			w.splitSince, w.splitActive = time.Time{}, false
		}
		return nil
	}
	if w.splitSince.IsZero() {
		w.splitSince = now
	}
	if w.splitActive || now.Sub(w.splitSince).Seconds() < pol.SplitS {
		return nil
	}
	w.splitActive = true
	w.ind[indSplit] = now
	return m.raise(ctx, w, back, convoi.RuleSplit, indSplit,
		fmt.Sprintf("%s is %.0f m behind %s along the route (allowed %.0f m).", back.label, gap, front.label, pol.SplitM), back.pos, now)
}

func (m *Monitor) deviceEvent(ctx context.Context, u *unit, e *convoi.DeviceEvent) error {
	k := evKey{e.Kind, e.Time.UnixNano()}
	if slices.Contains(u.seen[:], k) {
		m.stats.Duplicates++
		return nil
	}
	u.seen[u.next%len(u.seen)] = k
	u.next++
	w := u.w
	at := convoi.LatLon{Lat: e.Lat, Lon: e.Lon}
	if at.IsZero() {
		at = u.pos
	}
	now := e.Time
	if e.Time.After(w.latest) && e.Time.Before(m.Now().Add(m.MaxAhead)) {
		w.latest = e.Time
	}
	var ind indicator = -1
	var what string
	switch e.Kind {
	case convoi.EventPanic:
		ind, what = indPanic, "panic button pressed"
	case convoi.EventCrash:
		ind, what = indCrash, "crash detected"
	case convoi.EventGSMJamming, convoi.EventGNSSJamming:
		ind, what = indJamming, strings.ReplaceAll(string(e.Kind), "_", " ")+" detected"
	case convoi.EventPowerCut, convoi.EventTamper, convoi.EventTowing:
		ind, what = indPowerTamper, strings.ReplaceAll(string(e.Kind), "_", " ")
	case convoi.EventDoorOpen:
		if u.speedKmh <= w.pol.StopKmh {
			return nil // a door opened at a stop is routine
		}
		what = fmt.Sprintf("door opened while moving at %.0f km/h", u.speedKmh)
	default:
		return nil
	}
	if ind >= 0 {
		w.ind[ind] = now
	}
	a := &alarmArgs{sev: e.Severity}
	return m.raiseWith(ctx, w, u, convoi.RuleDevice, ind, fmt.Sprintf("%s: %s.", u.label, what), at, now, a)
}

type alarmArgs struct{ sev convoi.Severity }

// Tick applies the time-driven rules (signal loss, a unit never heard) at
// the monitor's clock.
func (m *Monitor) Tick(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, w := range m.watches {
		now := m.clock(w)
		pol := &w.pol
		for _, u := range w.units {
			if u.silent {
				continue
			}
			last := u.lastFix
			if last.IsZero() {
				last = w.since
				if w.dep.After(last) {
					last = w.dep
				}
			}
			if u.matched && u.along >= w.route.LengthM-pol.EndZoneM {
				continue // arrived: parked at the destination
			}
			allow := math.Max(pol.SignalLossMinS, pol.SignalLossFactor*u.interval)
			tunnel := ""
			if exit, ok := w.route.tunnelExitAfter(u.along, pol.TunnelApproachM); ok && u.matched {
				allow += pol.TunnelSlack * (w.route.timeAt(exit) - w.route.timeAt(u.along))
				tunnel = " (allowance extended for the tunnel ahead)"
			}
			silence := now.Sub(last).Seconds()
			if silence < allow {
				continue
			}
			u.silent = true
			w.ind[indSignalLoss] = now
			place := u.pos
			if place.IsZero() {
				place = w.route.PointAt(0)
			}
			errs = append(errs, m.raise(ctx, w, u, convoi.RuleSignalLoss, indSignalLoss,
				fmt.Sprintf("No fix from %s for %.0f s (allowed %.0f s)%s.", u.label, silence, allow, tunnel), place, now))
		}
	}
	return errors.Join(errs...)
}

func (m *Monitor) raise(ctx context.Context, w *watch, u *unit, rule convoi.AlarmRule, ind indicator, detail string, at convoi.LatLon, when time.Time) error {
	return m.raiseWith(ctx, w, u, rule, ind, detail, at, when, nil)
}

// raiseWith raises rule on w, or the attack alarm when the new evidence
// completes an attack pattern or an attack is already open on w: the
// evidence then goes into that one alarm.
func (m *Monitor) raiseWith(ctx context.Context, w *watch, u *unit, rule convoi.AlarmRule, ind indicator, detail string, at convoi.LatLon, when time.Time, a *alarmArgs) error {
	pol := &w.pol
	sev := pol.Severity[rule]
	if a != nil && a.sev > sev {
		sev = a.sev
	}
	var placeName string
	if u != nil && u.matched {
		if z, ok := w.route.zoneAt(u.along); ok && u.offM <= pol.corridor(w.route.seg[w.route.segAt(u.along)]) {
			placeName = z.name
			if z.chokepoint && (rule == convoi.RuleStop || rule == convoi.RuleDeviation || rule == convoi.RuleSignalLoss) && sev < convoi.SeverityCritical {
				sev++
			}
		}
	}
	if !w.attack && ind >= 0 {
		if pat := m.attackPattern(w, when); pat != nil {
			w.attack = true
			for _, i := range pat {
				w.addEvidence(indicatorNames[i])
			}
			detail = "Escort attacked: " + strings.Join(w.evidence, " + ") + ". Latest: " + detail
			rule, sev = convoi.RuleAttack, pol.Severity[convoi.RuleAttack]
		}
	} else if w.attack && rule != convoi.RuleLate {
		if ind >= 0 {
			w.addEvidence(indicatorNames[ind])
		}
		detail = "Escort attacked: " + strings.Join(w.evidence, " + ") + ". Latest: " + detail
		rule, sev = convoi.RuleAttack, pol.Severity[convoi.RuleAttack]
	}
	if last, ok := w.stored[rule]; ok && !when.After(last) {
		return nil // recorded before the restart
	}
	al := &convoi.Alarm{MovementID: w.m.ID, Rule: rule, Severity: sev, Detail: detail,
		Place: at, PlaceName: placeName, FirstSeen: when, LastSeen: when}
	if u != nil {
		al.VehicleID = u.vehicle
	}
	if m.Alarms == nil {
		return nil
	}
	if m.queue != nil {
		// Run's writer stores it: evaluation never waits for the store.
		m.pending.Add(1)
		m.queue <- queued{al, w.m.Ref}
		return nil
	}
	return m.store(ctx, al, w.m.Ref)
}

// cachedRoute is a movement's derived route, kept across reloads.
type cachedRoute struct {
	version int
	r       *PlannedRoute
}

type queued struct {
	a   *convoi.Alarm
	ref string
}

// store raises al through the sink and counts it.
func (m *Monitor) store(ctx context.Context, al *convoi.Alarm, ref string) error {
	got, created, err := m.Alarms.RaiseAlarm(ctx, al)
	if err != nil {
		return fmt.Errorf("raise %s alarm on %s: %w", al.Rule, ref, err)
	}
	if created {
		m.opened.Add(1)
	} else {
		m.merged.Add(1)
	}
	if m.PublishAlarms && m.Events != nil && got != nil {
		m.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeAlarm, Alarm: got})
	}
	return nil
}

func (w *watch) addEvidence(name string) {
	if !slices.Contains(w.evidence, name) {
		w.evidence = append(w.evidence, name)
	}
}

// attackPattern returns the first attack pattern whose indicators were all
// seen within the combination window before now.
func (m *Monitor) attackPattern(w *watch, now time.Time) []indicator {
	win := time.Duration(w.pol.ComboWindowS * float64(time.Second))
	for _, pat := range attackPatterns {
		ok := true
		for _, i := range pat {
			t := w.ind[i]
			if t.IsZero() || now.Sub(t) > win || t.Sub(now) > win {
				ok = false
				break
			}
		}
		if ok {
			return pat
		}
	}
	return nil
}

// Run feeds the monitor from the bus until ctx ends: it loads the underway
// movements, handles every event, ticks every second, and when the bus
// drops it for being slow, subscribes again and rebuilds from the store.
// Alarms are stored by a writer of their own, in the order raised, so that
// evaluation keeps pace with ingest while the store is busy.
func (m *Monitor) Run(ctx context.Context, bus Subscriber) error {
	q := make(chan queued, 4096)
	m.mu.Lock()
	m.queue = q
	m.mu.Unlock()
	written := make(chan struct{})
	go func() {
		defer close(written)
		for it := range q {
			// Stored even while shutting down: evidence is not dropped.
			m.report(m.store(context.WithoutCancel(ctx), it.a, it.ref))
			m.pending.Done()
		}
	}()
	defer func() {
		m.mu.Lock()
		m.queue = nil
		m.mu.Unlock()
		close(q)
		<-written
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		sub, err := bus.Subscribe(ctx)
		if err != nil {
			return fmt.Errorf("subscribe to events: %w", err)
		}
		// Load (and rebuild) while keeping up with the bus: what arrives
		// meanwhile waits in memory, then is handled (what the rebuild
		// already replayed is skipped as duplicate).
		loaded := make(chan error, 1)
		go func() { loaded <- m.Load(ctx) }()
		var backlog []convoi.Event
		dropped := false
	loading:
		for {
			select {
			case e, ok := <-sub.C():
				if !ok {
					dropped = ctx.Err() == nil
					<-loaded
					break loading
				}
				backlog = append(backlog, e)
			case err := <-loaded:
				if err != nil && ctx.Err() == nil {
					m.report(err)
				}
				break loading
			}
		}
		for _, e := range backlog {
			if err := m.HandleEvent(ctx, e); err != nil {
				m.report(err)
			}
		}
		m.readyOnce.Do(func() { close(m.Ready()) })
		if !dropped {
			dropped = m.serve(ctx, sub, tick.C)
		}
		sub.Close()
		if !dropped {
			return ctx.Err()
		}
		m.resubscribed.Add(1)
		m.pending.Wait() // the rebuild must see every alarm raised so far
		m.mu.Lock()
		// Forget the devices' state: the rebuild replays what was missed.
		for id := range m.watches {
			m.unwatchLocked(id)
		}
		m.mu.Unlock()
	}
}

// serve handles events until ctx ends (false) or the bus drops the
// subscription (true).
func (m *Monitor) serve(ctx context.Context, sub convoi.Subscription, tick <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case e, ok := <-sub.C():
			if !ok {
				return ctx.Err() == nil
			}
			if err := m.HandleEvent(ctx, e); err != nil {
				m.report(err)
			}
		case <-tick:
			if err := m.Tick(ctx); err != nil {
				m.report(err)
			}
		}
	}
}

func (m *Monitor) report(err error) {
	if m.OnError != nil && err != nil {
		m.OnError(err)
	}
}
