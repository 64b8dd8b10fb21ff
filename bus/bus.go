// Package bus is the in-process convoi.EventService: positions, device
// events, movement changes, assessments, alarms and progress fan out to
// every subscriber (the API's SSE stream, engines that watch escorts) over
// bounded channels.
//
// Publishing never blocks. A subscriber whose buffer is full when an event
// arrives is dropped: its channel is closed and it must subscribe again. The
// producer (tracker ingest) is never slowed by a slow consumer.
//
// It imports only convoi and the standard library.
package bus

import (
	"context"
	"sync"

	"github.com/convoi/convoi"
)

// DefaultBuffer is the channel capacity of each subscription.
const DefaultBuffer = 1024

var _ convoi.EventService = (*EventService)(nil)

// EventService is safe for concurrent use. The zero value is not usable;
// call New.
type EventService struct {
	// Buffer is the channel capacity given to each new subscription.
	Buffer int

	// OnDrop, if set, is called (without locks held) with the number of
	// subscribers dropped so far each time one is dropped for being slow.
	OnDrop func(total int)

	mu      sync.RWMutex
	subs    map[*Subscription]struct{}
	dropped int
	closed  bool
}

// New returns an EventService with DefaultBuffer.
func New() *EventService {
	return &EventService{Buffer: DefaultBuffer, subs: make(map[*Subscription]struct{})}
}

// PublishEvent delivers e to every subscriber whose buffer has room and
// drops the others. It never blocks.
func (s *EventService) PublishEvent(e convoi.Event) {
	var slow []*Subscription
	s.mu.RLock()
	for sub := range s.subs {
		if sub.types != nil && !sub.types[e.Type] {
			continue
		}
		select {
		case sub.c <- e:
		default:
			slow = append(slow, sub)
		}
	}
	s.mu.RUnlock()
	for _, sub := range slow {
		if s.remove(sub, true) && s.OnDrop != nil {
			s.mu.RLock()
			n := s.dropped
			s.mu.RUnlock()
			s.OnDrop(n)
		}
	}
}

// Subscribe returns a subscription that ends when ctx ends, Close is called,
// or it is dropped for being slow; then its channel is closed.
func (s *EventService) Subscribe(ctx context.Context) (convoi.Subscription, error) {
	return s.SubscribeBuffer(ctx, s.Buffer)
}

// SubscribeBuffer is Subscribe with a buffer of n events (DefaultBuffer when
// n <= 0), for a subscriber that must ride out short stalls at full ingest
// rate without being dropped (the monitor).
func (s *EventService) SubscribeBuffer(ctx context.Context, n int) (convoi.Subscription, error) {
	return s.SubscribeTypes(ctx, n, nil)
}

// SubscribeTypes is SubscribeBuffer for the given event types only (all
// when types is empty): events of other types never reach the buffer, so an
// alarm screen is not dropped for the fixes it does not want.
func (s *EventService) SubscribeTypes(ctx context.Context, n int, types []convoi.EventType) (convoi.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = DefaultBuffer
	}
	sub := &Subscription{service: s, c: make(chan convoi.Event, n)}
	if len(types) > 0 {
		sub.types = map[convoi.EventType]bool{}
		for _, t := range types {
			sub.types[t] = true
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Event service closed.")
	}
	s.subs[sub] = struct{}{}
	// Set under the lock: remove reads it. If ctx ends at once, the
	// callback waits for the lock and then removes sub.
	sub.stop = context.AfterFunc(ctx, func() { s.remove(sub, false) })
	s.mu.Unlock()
	return sub, nil
}

// Len returns the number of live subscriptions.
func (s *EventService) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.subs)
}

// Close ends every subscription; later Subscribe calls fail.
func (s *EventService) Close() error {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = make(map[*Subscription]struct{})
	var stops []func() bool
	for sub := range subs {
		close(sub.c)
		stops = append(stops, sub.stop)
	}
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	return nil
}

// remove unregisters sub and closes its channel, once; it reports whether
// this call did it.
func (s *EventService) remove(sub *Subscription, slow bool) bool {
	s.mu.Lock()
	_, ok := s.subs[sub]
	stop := sub.stop
	if ok {
		delete(s.subs, sub)
		close(sub.c)
		if slow {
			s.dropped++
		}
	}
	s.mu.Unlock()
	if ok && stop != nil {
		stop()
	}
	return ok
}

// Subscription is one subscriber's bounded channel.
type Subscription struct {
	service *EventService
	c       chan convoi.Event
	stop    func() bool               // guarded by service.mu
	types   map[convoi.EventType]bool // nil: every type; set before publishing sees it
}

// C returns the channel of events; it is closed when the subscription ends.
func (sub *Subscription) C() <-chan convoi.Event { return sub.c }

// Close ends the subscription. It is safe to call more than once.
func (sub *Subscription) Close() error {
	sub.service.remove(sub, false)
	return nil
}
