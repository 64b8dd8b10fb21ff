package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/web"
)

// withBus wires the in-process event bus, which the stream needs.
func withBus(s *web.Server) {
	ev := bus.New()
	s.EventService = ev
}

type sseEvent struct {
	Type string
	Data convoi.Event
	Raw  string
}

// openStream subscribes as token and returns the events until ctx ends.
func (w *world) openStream(ctx context.Context, token string) <-chan sseEvent {
	return w.openStreamQuery(ctx, token, "")
}

func (w *world) openStreamQuery(ctx context.Context, token, query string) <-chan sseEvent {
	w.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", w.srv.URL()+"/api/v1/stream"+query, nil)
	w.must(err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	w.must(err)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		w.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var typ string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				raw := strings.TrimPrefix(line, "data: ")
				var e convoi.Event
				_ = json.Unmarshal([]byte(raw), &e)
				ch <- sseEvent{Type: typ, Data: e, Raw: raw}
			}
		}
	}()
	return ch
}

// collect reads events until one satisfies stop, or fails after a timeout.
func collect(t *testing.T, ch <-chan sseEvent, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, e)
			if stop(e) {
				return out
			}
		case <-timeout:
			t.Fatalf("timeout; got %+v", out)
		}
	}
}

func TestStream_FilteredPerRole(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	pl := w.tokens[planner]
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("PATCH", base, pl, map[string]any{"crew": []convoi.OfficerID{w.officer1.ID, w.officer2.ID}}, 200, nil)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 2}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	w.assess(w.toCourt, 2)
	w.doJSON("POST", base+"/release", pl, nil, 200, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := map[convoi.Role]<-chan sseEvent{}
	for _, role := range []convoi.Role{crew, liaison, control} {
		streams[role] = w.openStream(ctx, w.tokens[role])
	}
	ev := w.srv.EventService
	now := w.clock.Now()
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{DeviceID: w.tracker1.DeviceID, FixTime: now, Lat: 43.73, Lon: 7.42}})
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{DeviceID: w.tracker2.DeviceID, FixTime: now, Lat: 43.72, Lon: 7.41}})
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeDeviceEvent, DeviceEvent: &convoi.DeviceEvent{DeviceID: w.tracker2.DeviceID, Kind: convoi.EventPanic}})
	// An assessment cites intelligence: only the roles that may read
	// assessments receive it (not crew, issue 8 item 4).
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeAssessment, Assessment: &convoi.Assessment{MovementID: w.toCourt.ID, Level: 2,
		Factors: []convoi.Factor{{Code: "intel", Evidence: []string{"Phone and sawn cell bar found."}}}}})
	w.doJSON("PATCH", "/api/v1/movements/"+itoa(w.toHospital.ID), pl, map[string]any{"requester": "Dr Z"}, 200, nil)
	w.clock.Add(90 * time.Minute) // the drawn departure
	w.doJSON("POST", base+"/start", w.tokens[crew], nil, 200, nil)
	// What a liaison may see changes only after the start: the sentinel.
	w.doJSON("PATCH", base, pl, map[string]any{"requester": "Juge W"}, 200, nil)

	isSentinel := func(e sseEvent) bool {
		return e.Type == "movement" && strings.Contains(e.Raw, `"requester":"Juge W"`)
	}
	got := map[convoi.Role][]sseEvent{}
	for role, ch := range streams {
		got[role] = collect(t, ch, isSentinel)
	}
	count := func(evs []sseEvent, f func(sseEvent) bool) int {
		n := 0
		for _, e := range evs {
			if f(e) {
				n++
			}
		}
		return n
	}
	isPos := func(dev convoi.DeviceID) func(sseEvent) bool {
		return func(e sseEvent) bool { return e.Type == "position" && e.Data.Position.DeviceID == dev }
	}
	isMove := func(id convoi.MovementID) func(sseEvent) bool {
		return func(e sseEvent) bool { return e.Type == "movement" && e.Data.Movement.ID == id }
	}
	isType := func(typ string) func(sseEvent) bool { return func(e sseEvent) bool { return e.Type == typ } }
	isStart := func(e sseEvent) bool {
		return e.Type == "movement" && e.Data.Movement != nil && e.Data.Movement.State == convoi.StateUnderway && e.Data.Movement.Requester == "Juge X"
	}
	// Control sees everything.
	if c := got[control]; count(c, isPos(w.tracker1.DeviceID)) != 1 || count(c, isPos(w.tracker2.DeviceID)) != 1 ||
		count(c, isType("device_event")) != 1 || count(c, isMove(w.toHospital.ID)) != 1 || count(c, isType("assessment")) != 1 || count(c, isStart) != 1 {
		t.Errorf("control: %+v", c)
	}
	// Crew see their van, not the other one nor its panic, nor the other
	// movement, nor assessments.
	if c := got[crew]; count(c, isPos(w.tracker1.DeviceID)) != 1 || count(c, isPos(w.tracker2.DeviceID)) != 0 ||
		count(c, isType("device_event")) != 0 || count(c, isMove(w.toHospital.ID)) != 0 || count(c, isType("assessment")) != 0 || count(c, isStart) != 1 {
		t.Errorf("crew: %+v", c)
	}
	// Liaison see no position, and of their movement only what changed for
	// them: not the start, nor anything that dates it.
	l := got[liaison]
	if len(l) != 1 {
		t.Errorf("liaison got %d events, want only the requester change: %+v", len(l), l)
	}
	for _, e := range l {
		if e.Type != "movement" {
			t.Errorf("liaison got a %s event", e.Type)
		}
		for _, field := range []string{"state", "version", "updated_at", "updated_by", "planned_departure", "route", "crew", "vehicles", "underway"} {
			if strings.Contains(e.Raw, `"`+field+`"`) {
				t.Errorf("liaison event has %s: %s", field, e.Raw)
			}
		}
		if !strings.Contains(e.Raw, `"status":"scheduled"`) {
			t.Errorf("liaison event: %s", e.Raw)
		}
	}
}

// TestStream_LiaisonLearnsArrival: the arrival is what a court may learn
// when it happens.
func TestStream_LiaisonLearnsArrival(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	pl := w.tokens[planner]
	base := "/api/v1/movements/" + itoa(w.toCourt.ID)
	w.doJSON("POST", base+"/assess", pl, map[string]any{"escort_level": 1}, 200, nil)
	w.doJSON("POST", base+"/plan", pl, nil, 200, nil)
	w.assess(w.toCourt, 1)
	w.doJSON("POST", base+"/release", pl, nil, 200, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := w.openStream(ctx, w.tokens[liaison])
	w.clock.Add(85 * time.Minute)
	w.doJSON("POST", base+"/start", w.tokens[crew], nil, 200, nil)
	w.clock.Add(3 * time.Minute)
	w.doJSON("POST", base+"/complete", w.tokens[crew], nil, 200, nil)
	evs := collect(t, ch, func(e sseEvent) bool { return e.Type == "movement" })
	if len(evs) != 1 || !strings.Contains(evs[0].Raw, `"status":"arrived"`) || !strings.Contains(evs[0].Raw, `"arrived_at":"2026-03-02T08:28:00Z"`) {
		t.Fatalf("liaison events: %+v", evs)
	}
}

func TestStream_EndsWhenTokenRevoked(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	tok := w.login("control1", testPassword)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := w.openStream(ctx, tok)
	w.doJSON("DELETE", "/api/v1/session", tok, nil, http.StatusNoContent, nil)
	evs := collect(t, ch, func(e sseEvent) bool { return e.Type == "closed" })
	if len(evs) == 0 || evs[len(evs)-1].Type != "closed" {
		t.Fatalf("stream not closed after logout: %+v", evs)
	}
}

func TestStream_Bounded(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) { withBus(s); s.MaxStreams = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.openStream(ctx, w.tokens[control])
	if r := w.do("GET", "/api/v1/stream", w.tokens[control], nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("second stream over the limit: %d", r.Status)
	}
}

// TestStream_Types: ?types= keeps only the listed event types.
func TestStream_Types(t *testing.T) {
	w := MustOpenWorld(t, withBus)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := w.openStreamQuery(ctx, w.tokens[control], "?types=device_event,alarm")
	ev := w.srv.EventService
	now := w.clock.Now()
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{DeviceID: w.tracker1.DeviceID, FixTime: now, Lat: 43.73, Lon: 7.42}})
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: w.toCourt})
	ev.PublishEvent(convoi.Event{Type: convoi.EventTypeDeviceEvent, DeviceEvent: &convoi.DeviceEvent{DeviceID: w.tracker2.DeviceID, Kind: convoi.EventPanic}})
	got := collect(t, ch, func(e sseEvent) bool { return e.Type == "device_event" })
	if len(got) != 1 {
		t.Fatalf("got %+v, want only the device event", got)
	}
}
