// Package alarm is the control room's alarm service: it wraps a store's
// convoi.AlarmService so that every alarm raised or changed is published on
// the event bus (the SSE stream, the control-room UI), and runs the
// escalation loop that hands alarms nobody acknowledged in time to the
// commander role.
//
// The monitor engine raises alarms through a *Service, never the store
// directly, so that an alarm reaches the stream as soon as it is stored; the
// web API works alarms through the same *Service. Events are published
// after the store's transaction commits, so a subscriber never sees an
// alarm the store does not have.
//
// It imports convoi and the standard library only.
package alarm

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// DefaultInterval is how often the escalation loop looks for overdue alarms.
// Deadlines are a minute or more (convoi.DefaultAlarmPolicy), so an alarm
// escalates at most this late.
const DefaultInterval = 2 * time.Second

var _ convoi.AlarmService = (*Service)(nil)

// Service is a convoi.AlarmService that publishes what it changes. Create
// it with New, set the optional fields, then call Open to start the
// escalation loop (the other methods work without it). Safe for concurrent
// use; fields must not change after Open.
type Service struct {
	// Store holds the alarms (required).
	Store convoi.AlarmService
	// Events receives an EventTypeAlarm event for every alarm raised,
	// merged, acknowledged, escalated or resolved, and an EventTypeMovement
	// event when resolving declares an incident. Optional.
	Events convoi.EventService
	// Movements reads the movement an incident was declared on, for its
	// event. Optional: without it, no movement event is published.
	Movements convoi.MovementService
	// Now is the clock the escalation loop judges deadlines by (time.Now).
	Now convoi.Clock
	// Interval between two looks for overdue alarms (DefaultInterval).
	Interval time.Duration
	// OnError receives the escalation loop's errors (a store that is
	// briefly unavailable, say); the loop carries on. Optional.
	OnError func(error)

	mu     sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Service on store with the defaults.
func New(store convoi.AlarmService) *Service {
	return &Service{Store: store, Now: time.Now, Interval: DefaultInterval}
}

// RaiseAlarm stores the evidence (see convoi.AlarmService) and publishes
// the alarm as it now stands.
func (s *Service) RaiseAlarm(ctx context.Context, a *convoi.Alarm) (*convoi.Alarm, bool, error) {
	out, created, err := s.Store.RaiseAlarm(ctx, a)
	if err != nil {
		return nil, false, err
	}
	s.publish(out)
	return out, created, nil
}

// FindAlarmByID reads through to the store.
func (s *Service) FindAlarmByID(ctx context.Context, id convoi.AlarmID) (*convoi.Alarm, error) {
	return s.Store.FindAlarmByID(ctx, id)
}

// FindAlarms reads through to the store.
func (s *Service) FindAlarms(ctx context.Context, f convoi.AlarmFilter) ([]*convoi.Alarm, int, error) {
	return s.Store.FindAlarms(ctx, f)
}

// FindAlarmTransitions reads through to the store.
func (s *Service) FindAlarmTransitions(ctx context.Context, id convoi.AlarmID) ([]*convoi.AlarmTransition, error) {
	return s.Store.FindAlarmTransitions(ctx, id)
}

// AcknowledgeAlarm applies the step and publishes the alarm.
func (s *Service) AcknowledgeAlarm(ctx context.Context, id convoi.AlarmID, note string) (*convoi.Alarm, error) {
	return s.after(s.Store.AcknowledgeAlarm(ctx, id, note))
}

// EscalateAlarm applies the step and publishes the alarm.
func (s *Service) EscalateAlarm(ctx context.Context, id convoi.AlarmID, note string) (*convoi.Alarm, error) {
	return s.after(s.Store.EscalateAlarm(ctx, id, note))
}

// ResolveAlarm applies the step and publishes the alarm; with
// convoi.ResolutionIncident, also the movement now in incident.
func (s *Service) ResolveAlarm(ctx context.Context, id convoi.AlarmID, res convoi.AlarmResolution, note string) (*convoi.Alarm, error) {
	a, err := s.after(s.Store.ResolveAlarm(ctx, id, res, note))
	if err != nil {
		return nil, err
	}
	if res == convoi.ResolutionIncident && s.Events != nil && s.Movements != nil {
		// The alarm is resolved and the movement in incident, committed
		// together; only the announcement can fail here, and the next
		// change of the movement announces it again.
		if m, err := s.Movements.FindMovementByID(ctx, a.MovementID); err == nil {
			s.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: m})
		}
	}
	return a, nil
}

// EscalateOverdue escalates the overdue alarms and publishes each.
func (s *Service) EscalateOverdue(ctx context.Context, now time.Time) ([]*convoi.Alarm, error) {
	as, err := s.Store.EscalateOverdue(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		s.publish(a)
	}
	return as, nil
}

func (s *Service) after(a *convoi.Alarm, err error) (*convoi.Alarm, error) {
	if err != nil {
		return nil, err
	}
	s.publish(a)
	return a, nil
}

func (s *Service) publish(a *convoi.Alarm) {
	if s.Events != nil {
		c := *a // subscribers get their own copy
		s.Events.PublishEvent(convoi.Event{Type: convoi.EventTypeAlarm, Alarm: &c})
	}
}

// Open starts the escalation loop: every Interval, EscalateOverdue(Now()).
// It returns at once; Close stops the loop.
func (s *Service) Open() error {
	if s.Store == nil {
		return errors.New("alarm: Service.Store required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("alarm: escalation loop already running")
	}
	now, every := s.Now, s.Interval
	if now == nil {
		now = time.Now
	}
	if every <= 0 {
		every = DefaultInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx, now, every, s.done)
	return nil
}

// Close stops the escalation loop and waits for it to end.
func (s *Service) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// run looks for overdue alarms at once (alarms may have fallen due while
// the server was down), then every interval, until ctx ends.
func (s *Service) run(ctx context.Context, now convoi.Clock, every time.Duration, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.EscalateOverdue(ctx, now()); err != nil && ctx.Err() == nil && s.OnError != nil {
			s.OnError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
