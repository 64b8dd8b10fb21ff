package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// Bounds of the progress cache: per vehicle, the progress of its most recent
// fixes (the track's progress column); in all, the movements followed.
// 4,096 points is over an hour of 1 Hz fixes, at 24 bytes each.
const (
	progressHistory      = 4096
	progressMaxMovements = 4096
)

// progressCache keeps what the monitor last said about each vehicle of
// each movement (the live ETA) and the progress of recent fixes (the
// track), from the Progress events on the bus. It is memory only: after a
// restart it fills again from the next fixes, and the track shows the
// earlier fixes without progress.
type progressCache struct {
	mu        sync.RWMutex
	movements map[convoi.MovementID]map[convoi.VehicleID]*vehicleProgress
}

type vehicleProgress struct {
	latest convoi.Progress
	recent []progressPoint // in arrival order; at most progressHistory
}

// progressPoint is the progress of one fix, compactly.
type progressPoint struct {
	fix                   int64 // unix nanoseconds
	along, offRoute, late float32
}

func newProgressCache() *progressCache {
	return &progressCache{movements: map[convoi.MovementID]map[convoi.VehicleID]*vehicleProgress{}}
}

// record stores p. A fix older than the vehicle's latest (out of order)
// joins the history without replacing the latest.
func (c *progressCache) record(p *convoi.Progress) {
	if p == nil || p.MovementID == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := c.movements[p.MovementID]
	if vs == nil {
		if len(c.movements) >= progressMaxMovements {
			c.evictOldest()
		}
		vs = map[convoi.VehicleID]*vehicleProgress{}
		c.movements[p.MovementID] = vs
	}
	v := vs[p.VehicleID]
	if v == nil {
		v = &vehicleProgress{}
		vs[p.VehicleID] = v
	}
	if !p.FixTime.Before(v.latest.FixTime) {
		v.latest = *p
	}
	if len(v.recent) >= progressHistory {
		n := copy(v.recent, v.recent[progressHistory/2:])
		v.recent = v.recent[:n]
	}
	v.recent = append(v.recent, progressPoint{fix: p.FixTime.UnixNano(),
		along: float32(p.AlongM), offRoute: float32(p.OffRouteM), late: float32(p.LateS)})
}

// evictOldest forgets the movement whose latest progress is the oldest.
func (c *progressCache) evictOldest() {
	var oldest convoi.MovementID
	var at time.Time
	for id, vs := range c.movements {
		for _, v := range vs {
			if oldest == 0 || v.latest.FixTime.Before(at) {
				oldest, at = id, v.latest.FixTime
			}
		}
	}
	delete(c.movements, oldest)
}

// forget drops a movement that ended.
func (c *progressCache) forget(id convoi.MovementID) {
	c.mu.Lock()
	delete(c.movements, id)
	c.mu.Unlock()
}

// latest returns a copy of the latest progress of each vehicle of the
// movement, by vehicle ID.
func (c *progressCache) latest(id convoi.MovementID) []convoi.Progress {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := []convoi.Progress{}
	for _, v := range c.movements[id] {
		out = append(out, v.latest)
	}
	slices.SortFunc(out, func(a, b convoi.Progress) int { return int(a.VehicleID - b.VehicleID) })
	return out
}

// points returns the progress of the vehicle's recent fixes by fix time.
func (c *progressCache) points(id convoi.MovementID, v convoi.VehicleID) map[int64]progressPoint {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vp := c.movements[id][v]
	if vp == nil {
		return nil
	}
	out := make(map[int64]progressPoint, len(vp.recent))
	for _, p := range vp.recent {
		out[p.fix] = p
	}
	return out
}

// followProgress feeds the cache from the bus until ctx ends. The bus
// drops a subscriber that falls behind; then it subscribes again (what
// was missed is superseded by the next fixes).
func (s *Server) followProgress(ctx context.Context) {
	for ctx.Err() == nil {
		sub, err := s.EventService.Subscribe(ctx)
		if err != nil {
			return
		}
		for ev := range sub.C() {
			switch ev.Type {
			case convoi.EventTypeProgress:
				s.progress.record(ev.Progress)
			case convoi.EventTypeMovement:
				if ev.Movement != nil && ev.Movement.State.Terminal() {
					s.progress.forget(ev.Movement.ID)
				}
			}
		}
		sub.Close()
	}
}

// Bounds of a track request, fixes per vehicle.
const (
	defaultTrackLimit = 2000
	maxTrackLimit     = 10000
)

type trackResponse struct {
	MovementID convoi.MovementID    `json:"movement_id"`
	State      convoi.MovementState `json:"state"`
	Started    *time.Time           `json:"started,omitempty"` // when it went underway; no fixes before
	Ended      *time.Time           `json:"ended,omitempty"`   // completed or aborted; no fixes after
	Vehicles   []trackVehicle       `json:"vehicles"`
}

type trackVehicle struct {
	VehicleID convoi.VehicleID `json:"vehicle_id"`
	Fixes     []trackFix       `json:"fixes"`
	// More is true when the limit cut the fixes: ask again with since set
	// to the last fix_time.
	More bool `json:"more"`
}

type trackFix struct {
	FixTime  time.Time      `json:"fix_time"`
	Lat      float64        `json:"lat"`
	Lon      float64        `json:"lon"`
	SpeedKmh float64        `json:"speed_kmh"`
	Heading  float64        `json:"heading"`
	Valid    bool           `json:"valid"`
	Progress *trackProgress `json:"progress,omitempty"`
}

// trackProgress is the monitor's match of one fix, when the server saw it.
type trackProgress struct {
	AlongM    float64 `json:"along_m"`
	OffRouteM float64 `json:"off_route_m"`
	LateS     float64 `json:"late_s"`
}

// handleTrack serves the stored fixes of the trackers of the movement's
// vehicles from the moment it went underway until it completed or was
// aborted (or now), oldest first, per vehicle, with the monitor's progress
// for the fixes still in the cache. since (exclusive) and limit page
// through a long track.
func (s *Server) handleTrack(w http.ResponseWriter, r *http.Request) error {
	if s.PositionService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Tracks are not available on this server.")
	}
	q := newQuery(r)
	since := q.Time("since")
	limit := defaultTrackLimit
	if s, ok := q.get("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTrackLimit {
			q.fail("Query parameter \"limit\" must be an integer from 1 to %d.", maxTrackLimit)
		}
		limit = n
	}
	if err := q.Err(); err != nil {
		return err
	}
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	if err := s.requireSchedule(r, m); err != nil { // the track is the drawn route, driven
		return err
	}
	ctx := r.Context()
	resp := trackResponse{MovementID: m.ID, State: m.State, Vehicles: []trackVehicle{}}
	trs, err := s.MovementService.FindTransitions(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, t := range trs {
		switch {
		case t.To == convoi.StateUnderway && resp.Started == nil:
			at := t.At
			resp.Started = &at
		case resp.Started != nil && resp.Ended == nil && (t.To == convoi.StateCompleted || t.To == convoi.StateAborted):
			at := t.At
			resp.Ended = &at
		}
	}
	for _, vid := range m.Vehicles {
		tv := trackVehicle{VehicleID: vid, Fixes: []trackFix{}}
		if resp.Started == nil {
			resp.Vehicles = append(resp.Vehicles, tv)
			continue
		}
		from := *resp.Started
		if since != nil && !since.Before(from) {
			from = since.Add(time.Nanosecond)
		}
		pf := convoi.PositionFilter{From: &from, To: resp.Ended, Limit: limit + 1}
		ts, _, err := s.TrackerService.FindTrackers(ctx, convoi.TrackerFilter{VehicleID: &vid, Page: convoi.Page{Limit: convoi.MaxPageLimit}})
		if err != nil {
			return err
		}
		var ps []*convoi.Position
		for _, t := range ts {
			dev := t.DeviceID
			pf.DeviceID = &dev
			got, err := s.PositionService.FindPositions(ctx, pf)
			if err != nil {
				return err
			}
			ps = append(ps, got...)
		}
		slices.SortStableFunc(ps, func(a, b *convoi.Position) int { return a.FixTime.Compare(b.FixTime) })
		if len(ps) > limit {
			ps, tv.More = ps[:limit], true
		}
		points := s.progress.points(m.ID, vid)
		for _, p := range ps {
			f := trackFix{FixTime: p.FixTime, Lat: p.Lat, Lon: p.Lon, SpeedKmh: p.SpeedKmh, Heading: p.Heading, Valid: p.Valid}
			if pp, ok := points[p.FixTime.UnixNano()]; ok {
				f.Progress = &trackProgress{AlongM: float64(pp.along), OffRouteM: float64(pp.offRoute), LateS: float64(pp.late)}
			}
			tv.Fixes = append(tv.Fixes, f)
		}
		resp.Vehicles = append(resp.Vehicles, tv)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type etaResponse struct {
	MovementID convoi.MovementID    `json:"movement_id"`
	State      convoi.MovementState `json:"state"`
	// ExpectedArrival is when the last vehicle is expected at the
	// destination: the convoy has arrived when all of it has.
	ExpectedArrival *time.Time `json:"expected_arrival,omitempty"`
	LateS           *float64   `json:"late_s,omitempty"`     // the most behind vehicle, against the planned timeline
	DeadlineS       *float64   `json:"deadline_s,omitempty"` // expected arrival minus the deadline (positive: late)
	// AsOf is the oldest of the vehicles' latest fixes: how fresh this is.
	AsOf     *time.Time        `json:"as_of,omitempty"`
	AgeS     *float64          `json:"age_s,omitempty"` // now minus AsOf
	Vehicles []convoi.Progress `json:"vehicles"`        // the latest progress of each vehicle
}

// handleETA serves the monitor's latest progress for each vehicle of the
// movement and the convoy's expected arrival; without progress yet (not
// underway, or the server restarted since the last fix) only the movement
// and an empty vehicles list.
func (s *Server) handleETA(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	if err := s.requireSchedule(r, m); err != nil { // the track is the drawn route, driven
		return err
	}
	resp := etaResponse{MovementID: m.ID, State: m.State, Vehicles: s.progress.latest(m.ID)}
	for i, p := range resp.Vehicles {
		if i == 0 {
			arr, late, dl, asOf := p.ExpectedArr, p.LateS, p.DeadlineS, p.FixTime
			resp.ExpectedArrival, resp.LateS, resp.DeadlineS, resp.AsOf = &arr, &late, &dl, &asOf
			continue
		}
		if p.ExpectedArr.After(*resp.ExpectedArrival) {
			*resp.ExpectedArrival = p.ExpectedArr
		}
		*resp.LateS = max(*resp.LateS, p.LateS)
		*resp.DeadlineS = max(*resp.DeadlineS, p.DeadlineS)
		if p.FixTime.Before(*resp.AsOf) {
			*resp.AsOf = p.FixTime
		}
	}
	if resp.AsOf != nil {
		age := s.Now().Sub(*resp.AsOf).Seconds()
		resp.AgeS = &age
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
