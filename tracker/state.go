package tracker

import (
	"context"
	"net"
	"time"

	"github.com/convoi/convoi"
)

// device is the in-memory state of one tracker.
type device struct {
	// immutable
	id        convoi.DeviceID
	trackerID convoi.TrackerID
	protocol  convoi.Protocol

	// mu guards the fields below. The ingest of one device is serialised
	// by its connection (or, for HTTP, MQTT and UDP, by mu itself).
	mu       chan struct{} // a 1-slot lock that ingest may hold across the store call
	lastSeen time.Time
	online   bool
	last     *convoi.Position
	recalled bool             // last was looked up in the store (once per process)
	io       map[uint16]int64 // last value of each mapped IO element
	conn     *tcpConn         // open Teltonika connection, nil if none
}

func (d *device) lock()   { d.mu <- struct{}{} }
func (d *device) unlock() { <-d.mu }

// State is a snapshot of a device's last state.
type State struct {
	DeviceID  convoi.DeviceID
	TrackerID convoi.TrackerID
	Protocol  convoi.Protocol
	Online    bool
	Connected bool      // a Teltonika TCP connection is open (commands can be sent)
	LastSeen  time.Time // server time of the last message
	Position  *convoi.Position
}

// State returns the last state of d, false when it has not been seen since
// the server started.
func (s *Server) State(d convoi.DeviceID) (State, bool) {
	s.mu.Lock()
	dev := s.devices[d]
	s.mu.Unlock()
	if dev == nil {
		return State{}, false
	}
	dev.lock()
	defer dev.unlock()
	return dev.snapshot(), true
}

// States returns the last state of every device seen since the server started.
func (s *Server) States() []State {
	s.mu.Lock()
	devs := make([]*device, 0, len(s.devices))
	for _, d := range s.devices {
		devs = append(devs, d)
	}
	s.mu.Unlock()
	out := make([]State, 0, len(devs))
	for _, d := range devs {
		d.lock()
		out = append(out, d.snapshot())
		d.unlock()
	}
	return out
}

func (d *device) snapshot() State {
	st := State{DeviceID: d.id, TrackerID: d.trackerID, Protocol: d.protocol, Online: d.online,
		Connected: d.conn != nil, LastSeen: d.lastSeen}
	if d.last != nil {
		p := *d.last
		st.Position = &p
	}
	return st
}

// Status returns the state of device d as the control room needs it: the
// live state when the device has been seen since the server started, else
// its last stored position (offline, LastSeen the server time of that
// position). ok is false when the device has never reported.
func (s *Server) Status(ctx context.Context, d convoi.DeviceID) (st State, ok bool, err error) {
	if st, ok := s.State(d); ok {
		return st, true, nil
	}
	p, err := s.lastStored(ctx, d)
	if err != nil || p == nil {
		return State{DeviceID: d}, false, err
	}
	return State{DeviceID: d, TrackerID: p.TrackerID, LastSeen: p.ServerTime, Position: p}, true, nil
}

var _ convoi.DeviceStatusService = (*Server)(nil)

// DeviceStatus is Status as the domain's convoi.DeviceStatus: the zero
// value for a device never seen.
func (s *Server) DeviceStatus(ctx context.Context, d convoi.DeviceID) (convoi.DeviceStatus, error) {
	st, ok, err := s.Status(ctx, d)
	if err != nil || !ok {
		return convoi.DeviceStatus{}, err
	}
	ds := convoi.DeviceStatus{Online: st.Online, Connected: st.Connected, LastPosition: st.Position}
	if !st.LastSeen.IsZero() {
		t := st.LastSeen
		ds.LastSeen = &t
	}
	return ds, nil
}

// lastStored is the newest stored position of d, nil when there is none.
func (s *Server) lastStored(ctx context.Context, d convoi.DeviceID) (*convoi.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, s.StoreTimeout)
	defer cancel()
	ps, err := s.Positions.FindPositions(ctx, convoi.PositionFilter{DeviceID: &d, Latest: true, Limit: 1})
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	return ps[0], nil
}

// recall loads dev's last stored position the first time the device is
// seen since the server started, so that its device_online event and its
// state carry where it was last known. dev must be locked. A store error
// leaves the position unknown: it must not block the ingest.
func (s *Server) recall(ctx context.Context, dev *device) {
	if dev.recalled || dev.last != nil {
		dev.recalled = true
		return
	}
	dev.recalled = true
	if p, err := s.lastStored(ctx, dev.id); err == nil && p != nil {
		dev.last = p
	}
}

// device returns the state of t, creating it.
func (s *Server) device(t *convoi.Tracker) *device {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[t.DeviceID]
	if d == nil {
		// id, trackerID and protocol are immutable: a device re-registered
		// under another tracker ID keeps the first until restart.
		d = &device{id: t.DeviceID, trackerID: t.ID, protocol: t.Protocol, mu: make(chan struct{}, 1), io: make(map[uint16]int64)}
		s.devices[t.DeviceID] = d
	}
	return d
}

// allConnsLocked returns every open TCP connection; s.mu must be held.
func (s *Server) allConnsLocked() []net.Conn {
	out := make([]net.Conn, 0, len(s.tcpConns))
	for c := range s.tcpConns {
		out = append(out, c)
	}
	return out
}

// store writes a batch for dev durably, then updates dev's state and
// publishes. dev must be locked by the caller. It returns only after
// StorePositions returned; a nil error means every record is durable.
func (s *Server) store(ctx context.Context, dev *device, ps []convoi.Position, evs []convoi.DeviceEvent) error {
	now := s.Now()
	if !dev.online {
		s.recall(ctx, dev)
		e := s.statusEvent(dev, convoi.EventDeviceOnline, now)
		// Where the device is now, if this batch says: its newest fix.
		if p := newestFix(ps, dev.last); p != nil {
			e.Lat, e.Lon = p.Lat, p.Lon
		}
		evs = append(evs, e)
	}
	ctx, cancel := context.WithTimeout(ctx, s.StoreTimeout)
	defer cancel()
	if _, _, err := s.Positions.StorePositions(ctx, ps, evs); err != nil {
		return err
	}
	dev.online = true
	dev.lastSeen = now
	for i := range ps {
		if dev.last == nil || !ps[i].FixTime.Before(dev.last.FixTime) {
			dev.last = &ps[i]
		}
	}
	if s.Events != nil {
		for i := range ps {
			s.Events.PublishEvent(convoi.Event{Type: convoi.EventTypePosition, Position: &ps[i]})
		}
		for i := range evs {
			s.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeDeviceEvent, DeviceEvent: &evs[i]})
		}
	}
	return nil
}

// seen marks dev online without data (a login or keep-alive).
func (s *Server) seen(ctx context.Context, dev *device) {
	if dev.online {
		dev.lastSeen = s.Now()
		return
	}
	if err := s.store(ctx, dev, nil, nil); err != nil {
		s.Logger.Error("store device status", "device", dev.id, "error", err)
	}
}

// newestFix is the newest of ps and last that has coordinates (a record
// without a GNSS fix may carry 0, 0), nil when none has.
func newestFix(ps []convoi.Position, last *convoi.Position) *convoi.Position {
	best := last
	if best != nil && best.Lat == 0 && best.Lon == 0 {
		best = nil
	}
	for i := range ps {
		p := &ps[i]
		if p.Lat == 0 && p.Lon == 0 {
			continue
		}
		if best == nil || !p.FixTime.Before(best.FixTime) {
			best = p
		}
	}
	return best
}

func (s *Server) statusEvent(dev *device, k convoi.DeviceEventKind, now time.Time) convoi.DeviceEvent {
	e := convoi.DeviceEvent{DeviceID: dev.id, TrackerID: dev.trackerID, Kind: k, Severity: convoi.SeverityInfo,
		Time: now, ServerTime: now}
	if k == convoi.EventDeviceOffline {
		e.Severity = convoi.SeverityWarning
	}
	if dev.last != nil {
		e.Lat, e.Lon = dev.last.Lat, dev.last.Lon
	}
	return e
}

// setOffline stores and publishes dev's offline event; dev must be locked.
func (s *Server) setOffline(ctx context.Context, dev *device, now time.Time) {
	if !dev.online {
		return
	}
	dev.online = false
	e := s.statusEvent(dev, convoi.EventDeviceOffline, now)
	ctx, cancel := context.WithTimeout(ctx, s.StoreTimeout)
	defer cancel()
	if _, _, err := s.Positions.StorePositions(ctx, nil, []convoi.DeviceEvent{e}); err != nil && ctx.Err() == nil {
		s.Logger.Error("store device status", "device", dev.id, "error", err)
	}
	if s.Events != nil {
		s.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeDeviceEvent, DeviceEvent: &e})
	}
}

// watchOffline declares offline the devices that have been silent for
// OfflineAfter and hold no open TCP connection. It checks every quarter of
// OfflineAfter (at most every 5 s), so a device is offline within
// 1.25 × OfflineAfter of its last message.
func (s *Server) watchOffline() {
	every := min(s.OfflineAfter/4, 5*time.Second)
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.checkOffline(s.ctx, s.Now())
		}
	}
}

func (s *Server) checkOffline(ctx context.Context, now time.Time) {
	s.mu.Lock()
	devs := make([]*device, 0, len(s.devices))
	for _, d := range s.devices {
		devs = append(devs, d)
	}
	s.mu.Unlock()
	for _, d := range devs {
		d.lock()
		if d.online && d.conn == nil && now.Sub(d.lastSeen) > s.OfflineAfter {
			s.setOffline(ctx, d, now)
		}
		d.unlock()
	}
}
