package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func fix(dev convoi.DeviceID, i int) convoi.Position {
	return convoi.Position{DeviceID: dev, TrackerID: 1, FixTime: T0.Add(time.Duration(i) * time.Second),
		Lat: 43.73 + float64(i)*1e-4, Lon: 7.42, SpeedKmh: 42.5, Heading: 90, AltitudeM: 55, Satellites: 11, HDOP: 0.8,
		GNSS: convoi.GNSSFix, Valid: true}
}

func testPosition(t *testing.T, open OpenFunc) {
	const van, phone convoi.DeviceID = "356307042441013", "officer-a-phone"

	t.Run("StoreAndFind", func(t *testing.T) {
		e := newEnv(t, open)
		p0 := fix(van, 0)
		p0.Attributes = map[string]any{"io239": float64(1), "din1": true, "operator": "MC Monaco Telecom"}
		p0.ServerTime = T0.Add(2 * time.Second)
		ps := []convoi.Position{p0, fix(van, 1), fix(van, 2), fix(phone, 1)}
		evs := []convoi.DeviceEvent{
			{DeviceID: van, TrackerID: 1, Kind: convoi.EventPanic, Severity: convoi.SeverityCritical, Time: T0.Add(time.Second), Lat: 43.7301, Lon: 7.42, Value: 1},
			{DeviceID: van, Kind: convoi.EventIgnitionOn, Time: T0},
		}
		np, ne, err := e.Positions.StorePositions(e.ctx, ps, evs)
		must(t, err)
		same(t, "new positions", np, 4)
		same(t, "new events", ne, 2)

		got, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{DeviceID: ptr(van)})
		must(t, err)
		same(t, "count", len(got), 3)
		for i, p := range got {
			sameTime(t, "fix time (oldest first)", p.FixTime, T0.Add(time.Duration(i)*time.Second))
		}
		g := got[0]
		same(t, "device", g.DeviceID, van)
		same(t, "tracker", g.TrackerID, convoi.TrackerID(1))
		same(t, "lat/lon", [2]float64{g.Lat, g.Lon}, [2]float64{p0.Lat, p0.Lon})
		same(t, "speed, heading, altitude, hdop", [4]float64{g.SpeedKmh, g.Heading, g.AltitudeM, g.HDOP}, [4]float64{42.5, 90, 55, 0.8})
		same(t, "satellites", g.Satellites, 11)
		same(t, "gnss", g.GNSS, convoi.GNSSFix)
		same(t, "valid", g.Valid, true)
		same(t, "attributes", g.Attributes, p0.Attributes)
		sameTime(t, "server time kept", g.ServerTime, T0.Add(2*time.Second))
		if g.ID == 0 {
			t.Fatal("ID not set")
		}
		sameTime(t, "server time defaults to the clock", got[1].ServerTime, T0)

		last, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{DeviceID: ptr(van), Latest: true, Limit: 2})
		must(t, err)
		same(t, "latest count", len(last), 2)
		sameTime(t, "latest: newest first", last[0].FixTime, T0.Add(2*time.Second))
		sameTime(t, "latest: then the one before", last[1].FixTime, T0.Add(time.Second))

		evGot, err := e.Positions.FindDeviceEvents(e.ctx, convoi.DeviceEventFilter{DeviceID: ptr(van)})
		must(t, err)
		same(t, "events", len(evGot), 2)
		same(t, "events oldest first", [2]convoi.DeviceEventKind{evGot[0].Kind, evGot[1].Kind}, [2]convoi.DeviceEventKind{convoi.EventIgnitionOn, convoi.EventPanic})
		ev := evGot[1]
		same(t, "event", [4]any{ev.DeviceID, ev.TrackerID, ev.Severity, ev.Value}, [4]any{van, convoi.TrackerID(1), convoi.SeverityCritical, int64(1)})
		same(t, "event position", [2]float64{ev.Lat, ev.Lon}, [2]float64{43.7301, 7.42})
		sameTime(t, "event time", ev.Time, T0.Add(time.Second))
		sameTime(t, "event server time", ev.ServerTime, T0)
	})

	t.Run("DuplicatesStoredOnce", func(t *testing.T) {
		e := newEnv(t, open)
		batch := []convoi.Position{fix(van, 0), fix(van, 1), fix(van, 1)} // duplicate within the batch
		evs := []convoi.DeviceEvent{{DeviceID: van, Kind: convoi.EventPanic, Time: T0}, {DeviceID: van, Kind: convoi.EventPanic, Time: T0}}
		np, ne, err := e.Positions.StorePositions(e.ctx, batch, evs)
		must(t, err)
		same(t, "first batch", [2]int{np, ne}, [2]int{2, 1})

		// The device retransmits, with one new record; a second device reuses the fix times.
		retrans := []convoi.Position{fix(van, 0), fix(van, 1), fix(van, 2), fix(phone, 0)}
		evs = append(evs, convoi.DeviceEvent{DeviceID: van, Kind: convoi.EventCrash, Time: T0}) // same time, other kind
		np, ne, err = e.Positions.StorePositions(e.ctx, retrans, evs)
		must(t, err)
		same(t, "retransmission", [2]int{np, ne}, [2]int{2, 1})

		got, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{})
		must(t, err)
		same(t, "positions stored", len(got), 4)
		evGot, err := e.Positions.FindDeviceEvents(e.ctx, convoi.DeviceEventFilter{})
		must(t, err)
		same(t, "events stored", len(evGot), 2)

		np, ne, err = e.Positions.StorePositions(e.ctx, nil, nil)
		must(t, err)
		same(t, "empty batch", [2]int{np, ne}, [2]int{0, 0})
	})

	t.Run("InvalidBatchWritesNothing", func(t *testing.T) {
		e := newEnv(t, open)
		for _, tc := range []struct {
			name string
			mod  func(p *convoi.Position, ev *convoi.DeviceEvent)
		}{
			{"BadDeviceID", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.DeviceID = "bad id" }},
			{"EmptyDeviceID", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.DeviceID = "" }},
			{"NoFixTime", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.FixTime = time.Time{} }},
			{"LatOutOfRange", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.Lat = 95 }},
			{"NaN", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.Lon = math.NaN() }},
			{"InfiniteSpeed", func(p *convoi.Position, _ *convoi.DeviceEvent) { p.SpeedKmh = math.Inf(1) }},
			{"EventBadDevice", func(_ *convoi.Position, ev *convoi.DeviceEvent) { ev.DeviceID = "" }},
			{"EventNoKind", func(_ *convoi.Position, ev *convoi.DeviceEvent) { ev.Kind = "" }},
			{"EventNoTime", func(_ *convoi.Position, ev *convoi.DeviceEvent) { ev.Time = time.Time{} }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := fix(van, 9)
				ev := convoi.DeviceEvent{DeviceID: van, Kind: convoi.EventTamper, Time: T0}
				tc.mod(&bad, &ev)
				_, _, err := e.Positions.StorePositions(e.ctx, []convoi.Position{fix(van, 0), bad}, []convoi.DeviceEvent{ev})
				wantCode(t, err, convoi.EINVALID)
			})
		}
		got, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{})
		must(t, err)
		same(t, "positions stored", len(got), 0)
		evs, err := e.Positions.FindDeviceEvents(e.ctx, convoi.DeviceEventFilter{})
		must(t, err)
		same(t, "events stored", len(evs), 0)
	})

	t.Run("Filter", func(t *testing.T) {
		e := newEnv(t, open)
		var ps []convoi.Position
		var evs []convoi.DeviceEvent
		for i := range 20 {
			ps = append(ps, fix(van, i), fix(phone, i))
			kind := convoi.EventDoorOpen
			if i%2 == 1 {
				kind = convoi.EventDoorClosed
			}
			evs = append(evs, convoi.DeviceEvent{DeviceID: van, Kind: kind, Time: T0.Add(time.Duration(i) * time.Second)})
		}
		_, _, err := e.Positions.StorePositions(e.ctx, ps, evs)
		must(t, err)
		for _, tc := range []struct {
			name   string
			filter convoi.PositionFilter
			want   int
			first  time.Time
		}{
			{"All", convoi.PositionFilter{}, 40, T0},
			{"Device", convoi.PositionFilter{DeviceID: ptr(phone)}, 20, T0},
			{"FromInclusive", convoi.PositionFilter{DeviceID: ptr(van), From: ptr(T0.Add(15 * time.Second))}, 5, T0.Add(15 * time.Second)},
			{"ToExclusive", convoi.PositionFilter{DeviceID: ptr(van), To: ptr(T0.Add(5 * time.Second))}, 5, T0},
			{"Window", convoi.PositionFilter{DeviceID: ptr(van), From: ptr(T0.Add(5 * time.Second)), To: ptr(T0.Add(8 * time.Second))}, 3, T0.Add(5 * time.Second)},
			{"Limit", convoi.PositionFilter{DeviceID: ptr(van), Limit: 4}, 4, T0},
			{"UnknownDevice", convoi.PositionFilter{DeviceID: ptr(convoi.DeviceID("nobody"))}, 0, time.Time{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := e.Positions.FindPositions(e.ctx, tc.filter)
				must(t, err)
				same(t, "count", len(got), tc.want)
				if len(got) > 0 {
					sameTime(t, "first", got[0].FixTime, tc.first)
				}
				for i := 1; i < len(got); i++ {
					if got[i].FixTime.Before(got[i-1].FixTime) {
						t.Fatal("not oldest first")
					}
				}
			})
		}
		for _, tc := range []struct {
			name   string
			filter convoi.DeviceEventFilter
			want   int
		}{
			{"All", convoi.DeviceEventFilter{}, 20},
			{"Kind", convoi.DeviceEventFilter{Kind: ptr(convoi.EventDoorOpen)}, 10},
			{"KindAndWindow", convoi.DeviceEventFilter{DeviceID: ptr(van), Kind: ptr(convoi.EventDoorClosed), From: ptr(T0.Add(10 * time.Second)), To: ptr(T0.Add(14 * time.Second))}, 2},
			{"Limit", convoi.DeviceEventFilter{Limit: 3}, 3},
			{"OtherDevice", convoi.DeviceEventFilter{DeviceID: ptr(phone)}, 0},
		} {
			t.Run("Events"+tc.name, func(t *testing.T) {
				got, err := e.Positions.FindDeviceEvents(e.ctx, tc.filter)
				must(t, err)
				same(t, "count", len(got), tc.want)
			})
		}
	})
}

// testPositionConcurrentDuplicates has many callers store the same records
// at once: each record must be stored once and counted new exactly once.
func testPositionConcurrentDuplicates(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	var batch []convoi.Position
	for i := range 50 {
		batch = append(batch, fix("356307042441013", i))
	}
	const callers = 16
	counts := make(chan int, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			ps := append([]convoi.Position(nil), batch...)
			n, _, err := e.Positions.StorePositions(e.ctx, ps, nil)
			counts <- n
			errs <- err
		}()
	}
	total := 0
	for range callers {
		total += <-counts
		must(t, <-errs)
	}
	same(t, "new positions over all callers", total, len(batch))
	got, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{})
	must(t, err)
	same(t, "stored", len(got), len(batch))
}
