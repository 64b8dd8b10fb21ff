package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// streamWriteTimeout bounds one write to a stream client: a client that
// cannot take an event within it is disconnected.
const streamWriteTimeout = 10 * time.Second

// activeStates are the states in which a crew member sees the live
// positions of their movement's vehicles and officers.
var activeStates = []convoi.MovementState{convoi.StateReleased, convoi.StateUnderway, convoi.StateIncident}

// streamScope is what one stream subscriber may receive.
type streamScope struct {
	user *convoi.User
	// For crew: the devices and movements of their active movements. Nil
	// for roles that see every position.
	devices   map[convoi.DeviceID]bool
	movements map[convoi.MovementID]bool
	// For liaison: the view of each movement of their site as last seen,
	// so that only a change of what they may see is sent (not the timing of
	// changes they may not see, such as the escort leaving).
	views map[convoi.MovementID]string
}

// liaisonEvent is a movement event as a liaison user receives it.
type liaisonEvent struct {
	Type     convoi.EventType        `json:"type"`
	Movement *convoi.LiaisonMovement `json:"movement"`
}

// scopeFor computes the scope of u. Liaison see movement changes for their
// site only (redacted) and never positions, device events or assessments;
// crew see the positions and device events of the vehicles and officers of
// their active movements, and those movements; other roles see everything.
func (s *Server) scopeFor(ctx context.Context, u *convoi.User) (*streamScope, error) {
	sc := &streamScope{user: u}
	if !u.SeesSchedule() {
		return sc, s.liaisonViews(ctx, sc)
	}
	if u.Role != convoi.RoleCrew {
		return sc, nil
	}
	sc.devices, sc.movements = map[convoi.DeviceID]bool{}, map[convoi.MovementID]bool{}
	for _, st := range activeStates {
		f := convoi.MovementFilter{State: &st, Page: convoi.Page{Limit: convoi.MaxPageLimit}}
		if !u.ScopeMovements(&f) {
			return sc, nil
		}
		ms, _, err := s.MovementService.FindMovements(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !u.CanSeeMovement(m) {
				continue
			}
			sc.movements[m.ID] = true
			var fs []convoi.TrackerFilter
			for _, o := range m.Crew {
				fs = append(fs, convoi.TrackerFilter{OfficerID: &o})
			}
			for _, v := range m.Vehicles {
				fs = append(fs, convoi.TrackerFilter{VehicleID: &v})
			}
			for _, tf := range fs {
				tf.Page = convoi.Page{Limit: convoi.MaxPageLimit}
				ts, _, err := s.TrackerService.FindTrackers(ctx, tf)
				if err != nil {
					return nil, err
				}
				for _, t := range ts {
					sc.devices[t.DeviceID] = true
				}
			}
		}
	}
	return sc, nil
}

// liaisonViews records the current view of every movement of the liaison
// user's site: an event that leaves it unchanged is not sent.
func (s *Server) liaisonViews(ctx context.Context, sc *streamScope) error {
	sc.views = map[convoi.MovementID]string{}
	f := convoi.MovementFilter{Page: convoi.Page{Limit: convoi.MaxPageLimit}}
	if !sc.user.ScopeMovements(&f) {
		return nil
	}
	for {
		ms, total, err := s.MovementService.FindMovements(ctx, f)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if sc.user.CanSeeMovement(m) {
				sc.views[m.ID] = viewKey(m.ForLiaison())
			}
		}
		f.Offset += len(ms)
		if len(ms) == 0 || f.Offset >= total {
			return nil
		}
	}
}

func viewKey(v *convoi.LiaisonMovement) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// filter returns the event as the subscriber may see it (a convoi.Event or
// a liaisonEvent), and whether they may see it at all. refresh reports
// that the scope may have changed.
func (sc *streamScope) filter(ev convoi.Event) (out any, ok, refresh bool) {
	u := sc.user
	switch ev.Type {
	case convoi.EventTypePosition:
		if ev.Position == nil || !u.SeesSchedule() {
			return out, false, false
		}
		return ev, sc.devices == nil || sc.devices[ev.Position.DeviceID], false
	case convoi.EventTypeDeviceEvent:
		if ev.DeviceEvent == nil || !u.SeesSchedule() {
			return out, false, false
		}
		return ev, sc.devices == nil || sc.devices[ev.DeviceEvent.DeviceID], false
	case convoi.EventTypeMovement:
		m := ev.Movement
		if m == nil {
			return out, false, false
		}
		if !u.SeesSchedule() {
			if !u.CanSeeMovement(m) {
				return out, false, false
			}
			v := m.ForLiaison()
			key := viewKey(v)
			if sc.views[m.ID] == key {
				return out, false, false // nothing they may see changed
			}
			sc.views[m.ID] = key
			if v.Status != convoi.LiaisonScheduled {
				delete(sc.views, m.ID) // arrived or cancelled: it will not change again
			}
			return liaisonEvent{Type: ev.Type, Movement: v}, true, false
		}
		if u.Role == convoi.RoleCrew && (sc.movements[m.ID] || u.CanSeeMovement(m)) {
			// Assigned, unassigned, or a state change that starts or
			// stops position sharing.
			refresh = true
		}
		if !u.CanSeeMovement(m) {
			return out, false, refresh
		}
		return convoi.Event{Type: ev.Type, Movement: m}, true, refresh
	case convoi.EventTypeAssessment:
		// The same roles as GET /movements/{id}/assessments: an assessment
		// cites intelligence.
		if ev.Assessment == nil || !u.HasRole(rCase...) {
			return out, false, false
		}
		return ev, sc.movements == nil || sc.movements[ev.Assessment.MovementID], false
	case convoi.EventTypeAlarm:
		// Alarms carry positions and the escort's situation: never to
		// liaison (nor admin); crew only their active movements'.
		if ev.Alarm == nil || !u.CanSeeAlarms() {
			return out, false, false
		}
		return ev, sc.movements == nil || sc.movements[ev.Alarm.MovementID], false
	case convoi.EventTypeIncident:
		// Incidents: the roles of GET /incidents only.
		return ev, ev.Incident != nil && u.HasRole(rIncRead...), false
	case convoi.EventTypeProgress:
		if ev.Progress == nil || !u.CanSeeAlarms() {
			return out, false, false
		}
		return ev, sc.movements == nil || sc.movements[ev.Progress.MovementID], false
	}
	return out, false, false // unknown types are denied by default
}

// handleStream serves GET /api/v1/stream as Server-Sent Events. Each event
// is "event: TYPE" and "data: JSON of convoi.Event", filtered by the
// subscriber's scope. A heartbeat comment is sent every StreamHeartbeat,
// when the token and user are also checked again: a revoked token, an
// expired session or a disabled user ends the stream. A subscriber too slow
// for the bus is dropped by it and receives a final "event: dropped".
// typedSubscriber is an event service that filters by type before buffering
// (bus.EventService): a stream of alarms then never fills with fixes.
type typedSubscriber interface {
	SubscribeTypes(ctx context.Context, n int, types []convoi.EventType) (convoi.Subscription, error)
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) error {
	if s.EventService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "The live stream is not available on this server.")
	}
	release, err := s.streams.acquire(convoi.UserFromContext(r.Context()))
	if err != nil {
		return err
	}
	defer release()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	u := convoi.UserFromContext(ctx)
	sc, err := s.scopeFor(ctx, u)
	if err != nil {
		return err
	}
	// ?types=alarm,progress keeps only those event types: a control-room
	// screen that shows alarms need not receive every fix.
	var types map[convoi.EventType]bool
	var list []convoi.EventType
	if q := r.URL.Query().Get("types"); q != "" {
		types = map[convoi.EventType]bool{}
		for _, t := range strings.Split(q, ",") {
			types[convoi.EventType(strings.TrimSpace(t))] = true
		}
		for t := range types {
			list = append(list, t)
		}
		// Movement events still refresh a crew member's scope.
		list = append(list, convoi.EventTypeMovement)
	}
	var sub convoi.Subscription
	if ts, ok := s.EventService.(typedSubscriber); ok && types != nil {
		sub, err = ts.SubscribeTypes(ctx, 0, list)
	} else {
		sub, err = s.EventService.Subscribe(ctx)
	}
	if err != nil {
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the request is read; the stream lives on
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": convoi stream for %s\n\n", u.Role) {
		return nil
	}

	tick := time.NewTicker(s.StreamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			nu, _, err := s.authenticate(r)
			if err != nil || nu.Role != u.Role || nu.OfficerID != u.OfficerID || nu.SiteID != u.SiteID {
				send("event: closed\ndata: {\"reason\":\"credentials changed\"}\n\n")
				return nil
			}
			if u.Role == convoi.RoleCrew {
				if sc, err = s.scopeFor(ctx, u); err != nil {
					return nil
				}
			}
			if !send(": keep-alive\n\n") {
				return nil
			}
		case ev, ok := <-sub.C():
			if !ok {
				send("event: dropped\ndata: {\"reason\":\"subscriber too slow\"}\n\n")
				return nil
			}
			if types != nil && !types[ev.Type] && ev.Type != convoi.EventTypeMovement {
				continue // movement events still refresh a crew member's scope below
			}
			out, ok, refresh := sc.filter(ev)
			if types != nil && !types[ev.Type] {
				ok = false
			}
			if refresh {
				if sc, err = s.scopeFor(ctx, u); err != nil {
					return nil
				}
			}
			if !ok {
				continue
			}
			out = s.streamView(ctx, out)
			data, err := json.Marshal(out)
			if err != nil {
				continue
			}
			if !send("event: %s\ndata: %s\n\n", ev.Type, data) {
				return nil
			}
			s.auditStreamed(ctx, out)
		}
	}
}
