package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/monitor"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/tracker/teltonika"
)

// Scenarios of `convoi simulate`.
var simScenarios = []string{"clean", "ramming", "deviation", "signal-loss", "late"}

// runSimulate: convoi simulate [--scenario S] [--at PLACE] [--speed N] [--seed N]
//
// It starts a convoi on a fresh data directory with the demo world, puts
// the Monaco-Nice escort on the road (a movement of today, assessed,
// planned, released with a departure in the first minutes, started) and
// drives its van (a Teltonika box, Codec 8E over TCP), its escort car and a
// crew phone (OsmAnd over HTTP) along the drawn route through the real
// listeners, with GNSS noise, tunnel gaps and slowing at toll booths and
// junctions. It prints the alarms as the server raises them.
func runSimulate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "simulate")
	scenario := fs.String("scenario", "clean", "clean, ramming, deviation, signal-loss or late")
	at := fs.String("at", "toll_booth", "ramming: where the van is stopped (a chokepoint name or kind on the drawn route)")
	speed := fs.Float64("speed", 10, "speed-up of the simulated clock (1: real time)")
	seed := fs.Uint64("seed", 1, "seed of the GNSS noise and the stops")
	keep := fs.Duration("wait", 5*time.Second, "how long to wait for alarms after the drive")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(simScenarios, *scenario) {
		fmt.Fprintf(env.Stderr, "simulate: --scenario must be one of %s\n", strings.Join(simScenarios, ", "))
		return errUsage
	}
	if *speed < 0.1 || *speed > 100 {
		fmt.Fprintln(env.Stderr, "simulate: --speed must be between 0.1 and 100")
		return errUsage
	}
	dir, err := os.MkdirTemp("", "convoi-simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a := NewApp()
	a.DataDir = dir
	a.Addr, a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr, a.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0", ""
	a.Logger = newLogger(env.Stderr, slog.LevelWarn)
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	w, err := a.loadDemo(ctx, DefaultDemoPassword)
	if err != nil {
		return fmt.Errorf("load demo world: %w", err)
	}
	if err := a.OpenEngines(ctx); err != nil {
		return err
	}
	if err := a.Open(ctx); err != nil {
		return err
	}
	sim := &simulation{app: a, out: env.Stdout, speed: *speed, seed: *seed}
	alarms := sim.printAlarms(ctx)
	e, err := sim.putOnRoad(ctx, w, escortWestbound, *scenario, *at)
	if err != nil {
		return err
	}
	if err := sim.drive(ctx, []*simEscort{e}); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(*keep):
	}
	n := alarms()
	fmt.Fprintf(env.Stdout, "simulation %s done: %d alarm(s) raised\n", *scenario, n)
	return nil
}

// rammingSpot returns where on route (metres along it) attackers waiting
// for the escort at place strike, and how far before the place that is.
// They want the van slowed down (at the place or on its approach) and a
// way out: within rammingWindowM before the place and 75 m past it, the
// latest point from which a car reaches at least half as many road nodes
// in 5 minutes as from the best point of that stretch. On the demo map
// that keeps them off the one-way ramp through La Turbie's toll booths,
// which leads only onto the A8 westbound and out of the area: they strike
// where the Monaco link road comes out at the La Turbie junction, before
// the split.
func rammingSpot(ctx context.Context, g *roadnet.Graph, route *monitor.PlannedRoute, place monitor.Place) (along, before float64, err error) {
	const rammingWindowM, step = 800.0, 25.0
	last := math.Min(place.AlongM+75, route.LengthM)
	first := math.Max(last-rammingWindowM, 0)
	type cand struct{ along, nodes float64 }
	var cs []cand
	best := 0.0
	for a := first; a <= last; a += step {
		p, err := g.Snap(route.PointAt(a))
		if err != nil {
			continue // off the map
		}
		iso, err := g.Isochrone(ctx, p, g.CostOf(300), roadnet.RouteOptions{})
		if err != nil {
			return 0, 0, err
		}
		n := float64(len(iso.Nodes))
		cs = append(cs, cand{a, n})
		best = math.Max(best, n)
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].nodes >= best/2 {
			return cs[i].along, math.Max(place.AlongM+75-cs[i].along, 0), nil
		}
	}
	return last, 0, nil
}

// simulation drives escorts through the real tracker listeners of app.
type simulation struct {
	app   *App
	out   io.Writer
	speed float64
	seed  uint64
	mu    sync.Mutex // guards out
	// onAttack, if set, is called once, in its own goroutine, with the
	// first critical attack alarm printAlarms sees.
	onAttack func(*convoi.Alarm)
}

// simEscort is one movement on the road and its devices.
type simEscort struct {
	m        *convoi.Movement
	scenario string
	units    []*simUnit
}

// simUnit is one device: its drive and how it reports.
type simUnit struct {
	device   convoi.DeviceID
	protocol convoi.Protocol
	every    int // seconds between reports
	samples  []monitor.Sample
	// silentFrom: no report from this sample index on (signal loss).
	silentFrom int
	// events: sample index -> IO raised in that record (ramming).
	events map[int]bool
}

// escortSpec says which demo movement to put on the road.
type escortSpec struct {
	ref      string
	detainee string
	from, to string
	purpose  convoi.Purpose
	crew     []int
	vehicles []int
}

var (
	escortWestbound = escortSpec{"MC-LIVE-01", "westbound", "monaco-court", "nice-prison", convoi.PurposeTransfer, []int{0, 1, 2, 9, 10}, []int{0, 2}}
	escortMedical   = escortSpec{"MC-LIVE-02", "medical", "monaco-prison", "chpg", convoi.PurposeMedical, []int{4, 5}, []int{3}}
)

// namesPlace reports whether a chokepoint's name or kinds, text, contains
// place, ignoring case, an underscore matching a space.
func namesPlace(text, place string) bool {
	fold := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", " ") }
	return strings.Contains(fold(text), fold(place))
}

// passProbability is the probability that a draw of the plan rep takes a
// route past a chokepoint that namesPlace matches (the route summaries'
// "kind name" strings).
func passProbability(rep *ambush.PlanReport, place string) float64 {
	if rep == nil || rep.Strategy == nil {
		return 0
	}
	var p float64
	for i, r := range rep.Routes {
		if i >= len(rep.RouteSummaries) {
			break
		}
		if slices.ContainsFunc(rep.RouteSummaries[i].Chokepoints, func(c string) bool { return namesPlace(c, place) }) {
			p += r.Probability
		}
	}
	return min(p, 1)
}

// drawsToPass is how many draws of probability p of passing the place
// the ramming scenario allows: enough that all of them miss it less than
// once in a billion runs (Monaco's toll booth, one draw in eight: 152),
// at least 20 and at most 2,000.
func drawsToPass(p float64) int {
	if p >= 1 {
		return 20
	}
	n := math.Ceil(math.Log(1e-9) / math.Log1p(-p))
	return int(min(max(n, 20), 2000))
}

// putOnRoad creates the movement of spec for today, assesses, plans and
// releases it with a departure in the next minutes, starts it, and builds
// its devices' drives for the scenario.
func (s *simulation) putOnRoad(ctx context.Context, w *demoWorld, spec escortSpec, scenario, place string) (*simEscort, error) {
	a := s.app
	ctx = convoi.NewContextWithUser(ctx, w.userByName("planner"))
	now := a.Now()
	g := a.Graph
	from, to := w.Sites[spec.from], w.Sites[spec.to]
	fast, err := g.RouteLatLon(ctx, from.Entry, to.Entry, roadnet.RouteOptions{})
	// The fastest time, at least the straight line at 12 m/s (a place
	// beyond the map is reached by a straight virtual stretch).
	fastS := from.Location.DistanceM(to.Location) / 12
	if err == nil {
		fastS = max(fastS, fast.DurationS)
	}
	// The appointment puts the planner's latest on-time departure (the
	// appointment minus its arrival margin, the fastest time and a minute)
	// a few minutes from now: the drawn departure is in the first minutes.
	appt := now.Add(6*time.Minute + time.Duration(fastS*1.1)*time.Second + planMargin(a) + time.Minute).Truncate(time.Minute)
	m := &convoi.Movement{Ref: fmt.Sprintf("%s-%s", spec.ref, now.In(demoZone()).Format("150405")), DetaineeID: w.Detainees[spec.detainee].ID,
		FromSiteID: from.ID, ToSiteID: to.ID, Purpose: spec.purpose, AppointmentAt: appt, Requester: "convoi simulate"}
	for _, i := range spec.crew {
		m.Crew = append(m.Crew, w.Officers[i].ID)
	}
	for _, i := range spec.vehicles {
		m.Vehicles = append(m.Vehicles, w.Vehicles[i].ID)
	}
	movements := a.DBMovements()
	if err := movements.CreateMovement(ctx, m); err != nil {
		return nil, fmt.Errorf("movement %s: %w", m.Ref, err)
	}
	planner := a.Planner
	depFrom, depTo := now.Add(2*time.Minute), now.Add(6*time.Minute)
	opts := convoi.PlanOptions{Slots: 3, DepartureFrom: &depFrom, DepartureTo: &depTo}
	var route *monitor.PlannedRoute
	var zone *monitor.Place
	maxDraws := 0
	for draw := 1; ; draw++ {
		if _, err := a.Risk.AssessMovement(ctx, m.ID); err != nil {
			return nil, fmt.Errorf("assess %s: %w", m.Ref, err)
		}
		_, rep, err := planner.Plan(ctx, m.ID, opts)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", m.Ref, err)
		}
		if scenario == "ramming" && maxDraws == 0 {
			// How often a draw takes the escort past PLACE, from the
			// plan itself (each day's plan is the same game): enough
			// days to find one such day but once in a billion runs.
			p := passProbability(rep, place)
			if p <= 0 {
				return nil, fmt.Errorf("no route of the plan of %s passes a chokepoint matching %q", m.Ref, place)
			}
			maxDraws = drawsToPass(p)
			s.printf("the plan of %s takes the escort past %q with probability %.1f %%\n", m.Ref, place, 100*p)
		}
		if _, err := movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionPlan, Reason: "convoi simulate"}); err != nil {
			return nil, err
		}
		rel, err := planner.Release(ctx, m.ID)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", m.Ref, err)
		}
		if m, err = movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease, Update: &rel.Update}); err != nil {
			return nil, err
		}
		if route, err = monitor.NewPlannedRoute(g, m.Route, monitor.DefaultPolicies()[1].FastKmh); err != nil {
			return nil, err
		}
		if scenario != "ramming" {
			break
		}
		// The attackers wait at PLACE: replay the day the draw took the
		// escort there (the randomized plan makes that the exception).
		for _, p := range route.Places() {
			if p.Chokepoint && (namesPlace(p.Name, place) || namesPlace(p.Kinds.String(), place)) {
				zone = &p
				break
			}
		}
		if zone != nil {
			s.printf("draw %d of the plan of %s passes %s: the attackers are waiting there\n", draw, m.Ref, zone.Name)
			break
		}
		if draw >= maxDraws {
			return nil, fmt.Errorf("no draw of %d passed a chokepoint matching %q", draw, place)
		}
	}
	if m, err = movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionStart}); err != nil {
		return nil, fmt.Errorf("start %s: %w", m.Ref, err)
	}
	a.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
	s.printf("%s on the road: level %d, %.1f km, %.0f min planned, %d places to watch\n", m.Ref, m.EscortLevel, route.LengthM/1000, route.DurationS/60, len(route.Places()))

	var ramAt float64
	if scenario == "ramming" {
		var before float64
		if ramAt, before, err = rammingSpot(ctx, g, route, *zone); err != nil {
			return nil, err
		}
		if before > 0 {
			s.printf("they strike on its approach, %.0f m before it, where the road still has ways out (past that the ramp leads only onto the motorway)\n", before)
		}
	}
	e := &simEscort{m: m, scenario: scenario}
	drive := monitor.Drive{Route: route, Start: *m.PlannedDeparture, Pace: 1, NoiseM: 8, TollStopS: 12, SignalStopP: 0.4, SignalStopS: 30, Seed: s.seed}
	switch scenario {
	case "late":
		drive.Pace = 0.45
	case "deviation":
		dr, _, err := monitor.Detour(ctx, g, route, 0.4)
		if err != nil {
			return nil, err
		}
		drive.Route = dr
	}
	trackers, _, err := a.Tracker.Trackers.FindTrackers(ctx, convoi.TrackerFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}})
	if err != nil {
		return nil, err
	}
	for i, t := range trackers {
		onVehicle := slices.Contains(m.Vehicles, t.VehicleID) && t.VehicleID != 0
		onCrew := slices.Contains(m.Crew, t.OfficerID) && t.OfficerID != 0
		if !onVehicle && !onCrew || t.Protocol == convoi.ProtocolMQTT {
			continue
		}
		d := drive
		d.NoiseSeed = s.seed*100 + uint64(i) + 1
		inVan := t.Protocol == convoi.ProtocolTeltonika || onCrew && t.OfficerID == w.Officers[0].ID
		if !inVan {
			d.DelayS = 4 // the escort car follows the van
		}
		u := &simUnit{device: t.DeviceID, protocol: t.Protocol, every: 5, silentFrom: -1}
		if t.Protocol == convoi.ProtocolTeltonika {
			u.every = 1
		}
		if scenario == "ramming" && inVan {
			d.StopAt, d.StopForS = ramAt, 300
		}
		u.samples = d.Samples()
		if scenario == "ramming" && t.Protocol == convoi.ProtocolTeltonika {
			for j, smp := range u.samples {
				if smp.AlongM >= d.StopAt-1 && smp.SpeedKmh < 1 {
					u.events = map[int]bool{j + 3: true}
					break
				}
			}
		}
		if scenario == "signal-loss" && t.Protocol == convoi.ProtocolTeltonika {
			for j, smp := range u.samples {
				if smp.AlongM > route.LengthM/3 && !smp.Tunnel {
					u.silentFrom = j
					break
				}
			}
		}
		e.units = append(e.units, u)
	}
	return e, nil
}

// planMargin is the planner's arrival margin.
func planMargin(a *App) time.Duration { return a.Planner.ArrivalMargin }

// drive plays every unit of every escort at the simulation's speed.
func (s *simulation) drive(ctx context.Context, es []*simEscort) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wall0 := time.Now()
	sim0 := s.app.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for _, e := range es {
		for _, u := range e.units {
			wg.Go(func() {
				if err := s.play(ctx, u, wall0, sim0); err != nil && ctx.Err() == nil {
					errc <- fmt.Errorf("%s: %w", u.device, err)
					cancel()
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	// An escort that arrived as planned (or late) is completed by its
	// crew; the others stay underway for the control room to decide.
	for _, e := range es {
		if ctx.Err() != nil || e.scenario != "clean" && e.scenario != "late" {
			continue
		}
		m, err := s.app.DBMovements().TransitionMovement(ctx, e.m.ID, convoi.TransitionRequest{Action: convoi.ActionComplete})
		if err != nil {
			return fmt.Errorf("complete %s: %w", e.m.Ref, err)
		}
		s.app.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
		s.printf("%s arrived and completed\n", m.Ref)
	}
	return nil
}

// due returns how long until the simulated time t, in wall time.
func (s *simulation) due(t time.Time, wall0, sim0 time.Time) time.Duration {
	return time.Duration(float64(t.Sub(sim0))/s.speed) - time.Since(wall0)
}

// wait sleeps until the simulated time t.
func (s *simulation) wait(ctx context.Context, t time.Time, wall0, sim0 time.Time) error {
	d := s.due(t, wall0, sim0)
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (s *simulation) play(ctx context.Context, u *simUnit, wall0, sim0 time.Time) error {
	if u.protocol == convoi.ProtocolTeltonika {
		return s.playTeltonika(ctx, u, wall0, sim0)
	}
	return s.playOsmAnd(ctx, u, wall0, sim0)
}

// playTeltonika sends the van's records as its box does: one Codec 8E
// frame a second, records kept while in a tunnel (no GNSS, no GSM) and sent
// together on the way out, the crash with panic priority and jamming IO.
func (s *simulation) playTeltonika(ctx context.Context, u *simUnit, wall0, sim0 time.Time) error {
	conn, err := net.Dial("tcp", s.app.Tracker.TeltonikaTCPAddr().String())
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if _, err := conn.Write(teltonika.AppendIMEI(nil, string(u.device))); err != nil {
		return err
	}
	if b, err := r.ReadByte(); err != nil || b != 1 {
		return fmt.Errorf("IMEI refused (%v)", err)
	}
	var held []teltonika.Record
	var last monitor.Sample
	ack := make([]byte, 4)
	for i := 0; i < len(u.samples); {
		if u.silentFrom >= 0 && i >= u.silentFrom {
			break
		}
		if err := s.wait(ctx, u.samples[i].At, wall0, sim0); err != nil {
			return err
		}
		// Every record due by now goes in this frame: a box behind (slow
		// acknowledgements, a speed-up) sends its backlog together.
		var recs []teltonika.Record
		first := i
		for ; i < len(u.samples) && (u.silentFrom < 0 || i < u.silentFrom) && len(recs) < 200; i++ {
			smp := u.samples[i]
			if i > first && s.due(smp.At, wall0, sim0) > 0 {
				break
			}
			rec := teltonika.Record{Time: smp.At, Lat: smp.Fix.Lat, Lon: smp.Fix.Lon, Angle: uint16(smp.Heading),
				Speed: uint16(math.Round(smp.SpeedKmh)), Satellites: 10, Altitude: 60,
				IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}, {ID: 240, Size: 1, Value: boolIO(smp.SpeedKmh > 2)}, {ID: 21, Size: 1, Value: 4}}}
			if smp.Tunnel {
				// No GNSS and no GSM: the box keeps the record.
				rec.Lat, rec.Lon, rec.Satellites, rec.Speed = last.Fix.Lat, last.Fix.Lon, 0, 0
				held = append(held, rec)
				continue
			}
			last = smp
			if u.events[i] {
				rec.Priority = teltonika.PriorityPanic
				rec.EventID = 247
				rec.IO = append(rec.IO, teltonika.IO{ID: 247, Size: 1, Value: 1}, teltonika.IO{ID: 249, Size: 1, Value: 1}, teltonika.IO{ID: 318, Size: 1, Value: 2})
				s.printf("  %s: the van is rammed at %.5f,%.5f: crash, panic, GSM and GNSS jamming\n", smp.At.In(demoZone()).Format("15:04:05"), smp.True.Lat, smp.True.Lon)
			}
			recs = append(recs, held...)
			recs = append(recs, rec)
			held = held[:0]
		}
		for len(recs) > 0 {
			n := min(len(recs), 255)
			frame, err := teltonika.AppendFrame(nil, teltonika.Codec8E, recs[:n])
			if err != nil {
				return err
			}
			if _, err := conn.Write(frame); err != nil {
				return err
			}
			if _, err := io.ReadFull(r, ack); err != nil {
				return fmt.Errorf("acknowledgement: %w", err)
			}
			recs = recs[n:]
		}
	}
	return nil
}

func boolIO(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// playOsmAnd sends a phone's fixes as the Traccar Client does: an HTTP
// request every few seconds, nothing without satellites.
func (s *simulation) playOsmAnd(ctx context.Context, u *simUnit, wall0, sim0 time.Time) error {
	base := "http://" + s.app.Tracker.OsmAndAddress().String() + "/"
	client := &http.Client{Timeout: 10 * time.Second}
	for i, smp := range u.samples {
		if i%u.every != 0 || smp.Tunnel || u.silentFrom >= 0 && i >= u.silentFrom {
			continue
		}
		if err := s.wait(ctx, smp.At, wall0, sim0); err != nil {
			return err
		}
		v := url.Values{"id": {string(u.device)}, "timestamp": {strconv.FormatInt(smp.At.Unix(), 10)},
			"lat": {strconv.FormatFloat(smp.Fix.Lat, 'f', 6, 64)}, "lon": {strconv.FormatFloat(smp.Fix.Lon, 'f', 6, 64)},
			"speed": {strconv.FormatFloat(smp.SpeedKmh/1.852, 'f', 1, 64)}, "bearing": {strconv.FormatFloat(smp.Heading, 'f', 0, 64)},
			"accuracy": {"8"}, "batt": {"87"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"?"+v.Encode(), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("OsmAnd report refused: %s", resp.Status)
		}
	}
	return nil
}

func (s *simulation) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format, args...)
}

// printAlarms prints every alarm the server raises, once when it opens and
// again when new evidence raises its severity; the returned function stops
// and returns how many alarms were opened.
func (s *simulation) printAlarms(ctx context.Context) func() int {
	ctx, cancel := context.WithCancel(ctx)
	sub, err := s.app.Events.Subscribe(ctx)
	if err != nil {
		cancel()
		return func() int { return 0 }
	}
	seen := map[convoi.AlarmID]convoi.Severity{}
	done := make(chan struct{})
	var responding sync.WaitGroup
	go func() {
		defer close(done)
		defer responding.Wait()
		for e := range sub.C() {
			al := e.Alarm
			if e.Type != convoi.EventTypeAlarm || al == nil {
				continue
			}
			sev, ok := seen[al.ID]
			if ok && al.Severity <= sev {
				continue
			}
			seen[al.ID] = al.Severity
			place := al.PlaceName
			if place == "" {
				place = fmt.Sprintf("%.5f,%.5f", al.Place.Lat, al.Place.Lon)
			}
			s.printf("ALARM #%d %s %s at %s (%s): %s\n", al.ID, convoi.SeverityName(al.Severity), al.Rule, place,
				al.FirstSeen.In(demoZone()).Format("15:04:05 MST"), al.Detail)
			if al.Rule == convoi.RuleAttack && al.Severity >= convoi.SeverityCritical && s.onAttack != nil {
				f := s.onAttack
				s.onAttack = nil
				responding.Go(func() { f(al) })
			}
		}
	}()
	return func() int {
		cancel()
		<-done
		return len(seen)
	}
}
