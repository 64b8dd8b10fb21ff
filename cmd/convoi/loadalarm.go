package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
)

// alarmLoad is loadgen's --monitor mode: the full app (tracker listeners,
// monitor, alarm store, API) in this process on a fresh data directory,
// the first N devices bound to the vans of N underway movements whose
// released routes are the loops the devices drive, a panic record from one
// of them every panicEvery, and an SSE client (logged in as control, on
// /api/v1/stream?types=alarm) timing each panic frame to its alarm event.
type alarmLoad struct {
	n          int
	panicEvery time.Duration

	mu   sync.Mutex
	sent map[string]time.Time // "device/fix time" -> when the panic frame was written
	want []bool               // per device: put a panic in the next frame
	lat  []time.Duration      // to the alarm event on the SSE stream
	ing  []time.Duration      // to the panic device event on the bus (ingest alone)
	bus  []time.Duration      // to the alarm event on the bus
	miss int
}

func (al *alarmLoad) key(dev string, fix time.Time) string {
	return dev + "/" + fix.UTC().Format(time.RFC3339Nano)
}

// panicDue reports whether device i should send a panic now, and clears it.
func (al *alarmLoad) panicDue(i int) bool {
	if al == nil || i >= len(al.want) {
		return false
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	due := al.want[i]
	al.want[i] = false
	return due
}

func (al *alarmLoad) sentPanic(dev string, fix, at time.Time) {
	al.mu.Lock()
	al.sent[al.key(dev, fix)] = at
	al.mu.Unlock()
}

func runAlarmLoad(ctx context.Context, env *Env, lg *loadgen, al *alarmLoad) error {
	dir, err := os.MkdirTemp("", "convoi-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a := NewApp()
	a.DataDir = dir
	a.Addr, a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr, a.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0", ""
	a.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a.TrackerConnsPerAddr = lg.devices + 1 // every simulated device connects from 127.0.0.1
	a.PasswordParams = auth.DefaultParams
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	w, err := a.loadDemo(ctx, DefaultDemoPassword)
	if err != nil {
		return err
	}
	if err := a.OpenEngines(ctx); err != nil {
		return err
	}
	if err := lg.planRoutes(ctx, a.Graph, rand.New(rand.NewPCG(1, 1))); err != nil {
		return err
	}
	lg.base = a.Now().Truncate(time.Second)
	if err := lg.putOnRoad(ctx, a, w, al.n); err != nil {
		return err
	}
	ts := a.S.Trackers
	if err := lg.register(ctx, ts); err != nil {
		return err
	}
	if err := a.Open(ctx); err != nil {
		return err
	}
	lg.addr = a.Tracker.TeltonikaTCPAddr().String()
	select { // the steady state: the monitor has loaded its movements
	case <-a.Monitor.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	al.sent, al.want = map[string]time.Time{}, make([]bool, al.n)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	streamDone, err := al.streamAlarms(sctx, a.URL(), ts)
	if err != nil {
		return err
	}
	// In-process, the same panics as the tracker publishes them and the
	// alarms as the alarm service publishes them: where the time goes.
	bs, ok := a.Events.(bufferedSubscriber)
	if !ok {
		return fmt.Errorf("the event bus cannot subscribe by event type")
	}
	bsub, err := bs.SubscribeTypes(sctx, 1<<16, []convoi.EventType{convoi.EventTypeDeviceEvent, convoi.EventTypeAlarm})
	if err != nil {
		return err
	}
	go func() {
		devOf := map[convoi.VehicleID]string{}
		trs, _, _ := ts.FindTrackers(ctx, convoi.TrackerFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}})
		for _, t := range trs {
			devOf[t.VehicleID] = string(t.DeviceID)
		}
		for e := range bsub.C() {
			now := time.Now()
			var k string
			var into *[]time.Duration
			switch {
			case e.DeviceEvent != nil && e.DeviceEvent.Kind == convoi.EventPanic:
				k, into = al.key(string(e.DeviceEvent.DeviceID), e.DeviceEvent.Time), &al.ing
			case e.Alarm != nil && e.Alarm.Rule == convoi.RuleAttack:
				k, into = al.key(devOf[e.Alarm.VehicleID], e.Alarm.LastSeen), &al.bus
			default:
				continue
			}
			al.mu.Lock()
			if t, ok := al.sent[k]; ok {
				*into = append(*into, now.Sub(t))
			}
			al.mu.Unlock()
		}
	}()
	go al.pickPanics(sctx, rand.New(rand.NewPCG(2, 2)))
	lg.alarms = al
	res, err := lg.run(ctx)
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the last panics' alarms
	st := a.Monitor.Stats()
	stop()
	streamErr := streamDone()
	res.print(env.Stdout, lg)
	secs := res.elapsed.Seconds()
	fmt.Fprintf(env.Stdout, "monitor: %d fixes evaluated (%.0f/s), %d matched on underway movements, %d of no movement, %d duplicates, %d out of order, dropped by the bus %d times; %d alarms opened, %d merged\n",
		st.Fixes, float64(st.Fixes)/secs, st.Matched, st.Ignored, st.Duplicates, st.OutOfOrder, st.Resubscribed, st.Alarms, st.Merged)
	if as, _, err := a.Alarms.FindAlarms(ctx, convoi.AlarmFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}}); err == nil {
		byRule := map[convoi.AlarmRule]int{}
		for _, x := range as {
			byRule[x.Rule]++
		}
		fmt.Fprintf(env.Stdout, "alarms by rule: %v\n", byRule)
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	fmt.Fprintf(env.Stdout, "panic frame -> panic event on the bus (ingest):   %s\n", percentiles(al.ing))
	fmt.Fprintf(env.Stdout, "panic frame -> attack alarm event on the bus:     %s\n", percentiles(al.bus))
	fmt.Fprintf(env.Stdout, "panic frame -> attack alarm on the SSE stream:    %s; %d panics without an alarm event\n", percentiles(al.lat), len(al.sent))
	return streamErr
}

// percentiles sorts lat and formats its p50, p90, p99, maximum and count.
func percentiles(lat []time.Duration) string {
	slices.Sort(lat)
	p := func(q float64) time.Duration { return quantile(lat, q) }
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  max %v  (%d)", p(0.5), p(0.9), p(0.99), p(1), len(lat))
}

// quantile is the q-quantile of the sorted lat (0 when empty), to the
// microsecond.
func quantile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(time.Microsecond)
}

// pickPanics asks a random monitored device for a panic record every
// panicEvery until ctx ends.
func (al *alarmLoad) pickPanics(ctx context.Context, rng *rand.Rand) {
	t := time.NewTicker(al.panicEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			al.mu.Lock()
			al.want[rng.IntN(al.n)] = true
			al.mu.Unlock()
		}
	}
}

// streamAlarms logs in as control on the API at base and reads its alarm
// stream (GET /api/v1/stream?types=alarm) until ctx ends, timing each
// attack alarm to the panic frame it answers (al.sent, keyed by device and
// the alarm's last evidence). The returned wait ends the reader and
// reports a stream the server dropped as too slow.
func (al *alarmLoad) streamAlarms(ctx context.Context, base string, ts convoi.TrackerService) (wait func() error, err error) {
	devOf := map[convoi.VehicleID]string{}
	for off := 0; ; {
		trs, n, err := ts.FindTrackers(ctx, convoi.TrackerFilter{Page: convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}})
		if err != nil {
			return nil, err
		}
		for _, t := range trs {
			if t.VehicleID != 0 {
				devOf[t.VehicleID] = string(t.DeviceID)
			}
		}
		off += len(trs)
		if len(trs) == 0 || off >= n {
			break
		}
	}
	token, err := apiLogin(ctx, base, "control", DefaultDemoPassword)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/stream?types=alarm", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("stream: %s", resp.Status)
	}
	var streamErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "event: dropped") {
				streamErr = fmt.Errorf("the SSE stream was dropped as too slow")
				return
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			now := time.Now()
			var e convoi.Event
			if json.Unmarshal([]byte(data), &e) != nil || e.Alarm == nil || e.Alarm.Rule != convoi.RuleAttack {
				continue
			}
			k := al.key(devOf[e.Alarm.VehicleID], e.Alarm.LastSeen)
			al.mu.Lock()
			if t, ok := al.sent[k]; ok {
				al.lat = append(al.lat, now.Sub(t))
				delete(al.sent, k)
			}
			al.mu.Unlock()
		}
	}()
	return func() error { <-done; return streamErr }, nil
}

// putOnRoad binds the first n devices to the vans of n underway movements
// (refs LG-0000...) whose released routes are the loops the devices drive,
// departing at lg.base, in a's store with a's demo world w.
func (lg *loadgen) putOnRoad(ctx context.Context, a *App, w *demoWorld, n int) error {
	// Each monitored device drives its loop; its movement's route is that
	// loop repeated for as long as the run lasts (records are one second
	// of road apart, so a device covers rate/devices seconds of road per
	// second).
	roadS := lg.duration.Seconds()*lg.rate/float64(lg.devices) + 120
	ctxP := convoi.NewContextWithUser(ctx, w.userByName("planner"))
	ms, vs, ts := a.S.Movements, a.S.Vehicles, a.S.Trackers
	for i := 0; i < n; i++ {
		loop := lg.routes[i%len(lg.routes)]
		var loopM float64
		for j := range loop {
			loopM += loop[j].DistanceM(loop[(j+1)%len(loop)])
		}
		loopS := loopM / lg.speeds[i%len(lg.routes)]
		// The device starts i*37 s into its loop (loadgen spreads them).
		reps := int(math.Ceil((roadS+float64(i*37))/loopS)) + 1
		var geo []convoi.LatLon
		for range reps {
			geo = append(geo, loop...)
		}
		rs := &convoi.RouteSummary{Geometry: geo, DistanceM: loopM * float64(reps), DurationS: loopS * float64(reps)}
		v := &convoi.Vehicle{Registration: fmt.Sprintf("LG-%04d", lg.first+i), Class: convoi.VehicleCellularVan, Capacity: 2}
		if err := vs.CreateVehicle(ctxP, v); err != nil {
			return err
		}
		if err := ts.CreateTracker(ctxP, &convoi.Tracker{DeviceID: convoi.DeviceID(lg.deviceID(i)), Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: v.ID}); err != nil {
			return err
		}
		dep, lvl := lg.base, convoi.EscortLevel(3)
		m := &convoi.Movement{Ref: fmt.Sprintf("LG-%04d", lg.first+i), DetaineeID: w.Detainees["hearing"].ID, FromSiteID: w.Sites["monaco-prison"].ID,
			ToSiteID: w.Sites["monaco-court"].ID, Purpose: convoi.PurposeCourtAppearance, AppointmentAt: dep.Add(24 * time.Hour),
			Requester: "loadgen", Vehicles: []convoi.VehicleID{v.ID}}
		if err := ms.CreateMovement(ctxP, m); err != nil {
			return err
		}
		for _, req := range []convoi.TransitionRequest{
			{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: &lvl}},
			{Action: convoi.ActionPlan}, {Action: convoi.ActionRelease, Update: &convoi.MovementUpdate{PlannedDeparture: &dep, Route: rs}},
			{Action: convoi.ActionStart},
		} {
			if _, err := ms.TransitionMovement(ctxP, m.ID, req); err != nil {
				return fmt.Errorf("movement %s %s: %w", m.Ref, req.Action, err)
			}
		}
	}
	return nil
}

// apiLogin opens a session and returns its token.
func apiLogin(ctx context.Context, base, user, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/session", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login %s: %s", user, resp.Status)
	}
	return out.Token, nil
}
