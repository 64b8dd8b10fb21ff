// Package natsbus is the convoi.EventService of a cluster: events go
// through a durable NATS JetStream stream, so that an event published on one
// node reaches the subscribers (SSE clients, the monitor, the alarm service)
// of every node, and an event the server has acknowledged survives the loss
// of the node that published it (and, on a three-server NATS cluster with
// replicas, of a NATS server).
//
// Each node publishes asynchronously (PublishEvent never blocks the tracker
// ingest) and reads the stream with one ordered consumer from the moment it
// started (or from Since), fanning the events out to its local subscribers
// through a bus.EventService, with the same semantics as the in-process bus:
// bounded channels, a slow subscriber is dropped. A node's own events come
// back to it through the stream, so every node sees the same order.
//
// Subjects are PREFIX.TYPE.KEY (for example convoi.events.position.dev-1,
// convoi.events.alarm.42); the stream keeps them for MaxAge.
//
// It imports convoi, bus, the standard library and nats.go.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of EventService.
const (
	DefaultStream     = "CONVOI_EVENTS"
	DefaultPrefix     = "convoi.events"
	DefaultMaxAge     = 24 * time.Hour
	DefaultMaxPending = 65536
)

var _ convoi.EventService = (*EventService)(nil)

// EventService is the JetStream event bus of one node. Create it with New,
// set the exported fields, then call Open.
type EventService struct {
	// URL is the NATS server URL (nats://host:4222, several comma-separated
	// for a cluster).
	URL string
	// Stream and Prefix name the stream and its subjects; tests use their
	// own. Defaults DefaultStream and DefaultPrefix.
	Stream, Prefix string
	// MaxAge is how long the stream keeps events; Replicas is the number of
	// NATS servers that store each (1 on a single server, 3 on a cluster).
	MaxAge   time.Duration
	Replicas int
	// Since, if not zero, makes the node read events from that time on
	// instead of from Open (a restarted node replays what it missed). Open
	// then does not start reading: make the subscriptions that must see the
	// replay, then call Start.
	Since time.Time
	// MaxPending bounds the events published but not yet acknowledged by
	// the server; past it PublishEvent drops the event and counts it.
	MaxPending int
	// Name identifies the node's connection on the NATS server.
	Name string
	// OnNotify, if set, is called with the kind of every notification
	// (Notify) of any node, this one included; set it before Open.
	OnNotify func(kind string)
	// OnError, if set, is called with errors of the background publishing
	// and consuming (an unacknowledged publish, an undecodable message).
	OnError func(error)

	local  *bus.EventService
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cc     jetstream.ConsumeContext
	nsub   *nats.Subscription

	dropped atomic.Int64 // events not published (too many pending, or no connection)
	mu      sync.Mutex
}

// New returns an EventService for the NATS server at url.
func New(url string) *EventService {
	return &EventService{URL: url, Stream: DefaultStream, Prefix: DefaultPrefix, MaxAge: DefaultMaxAge,
		Replicas: 1, MaxPending: DefaultMaxPending, Name: "convoi", local: bus.New()}
}

// Open connects, creates or updates the stream and starts consuming it.
func (s *EventService) Open(ctx context.Context) error {
	if s.local == nil {
		s.local = bus.New()
	}
	nc, err := nats.Connect(s.URL, nats.Name(s.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return fmt.Errorf("connect to NATS %s: %w", s.URL, err)
	}
	s.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(s.MaxPending),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			s.dropped.Add(1)
			s.report(fmt.Errorf("publish %s: %w", m.Subject, err))
		}))
	if err != nil {
		nc.Close()
		return err
	}
	s.js = js
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       s.Stream,
		Subjects:   []string{s.Prefix + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     s.MaxAge,
		Replicas:   max(1, s.Replicas),
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		nc.Close()
		return fmt.Errorf("create stream %s: %w", s.Stream, err)
	}
	if s.OnNotify != nil {
		s.nsub, err = nc.Subscribe(s.notifySubject("*"), func(m *nats.Msg) {
			s.OnNotify(m.Subject[len(s.notifySubject("")):])
		})
		if err != nil {
			nc.Close()
			return fmt.Errorf("subscribe to notifications: %w", err)
		}
	}
	s.stream = st
	if s.Since.IsZero() {
		if err := s.Start(ctx); err != nil {
			nc.Close()
			return err
		}
	}
	return nil
}

// Start starts reading the stream: from now on, or from Since. Open calls
// it unless Since is set; call it once after Open otherwise.
func (s *EventService) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	if s.cc != nil {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if !s.Since.IsZero() {
		t := s.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("consume stream %s: %w", s.Stream, err)
	}
	if s.cc, err = cons.Consume(s.deliver); err != nil {
		return fmt.Errorf("consume stream %s: %w", s.Stream, err)
	}
	return nil
}

// deliver decodes one message of the stream and fans it out locally.
func (s *EventService) deliver(m jetstream.Msg) {
	var e convoi.Event
	if err := json.Unmarshal(m.Data(), &e); err != nil {
		s.report(fmt.Errorf("decode event on %s: %w", m.Subject(), err))
		return
	}
	s.local.PublishEvent(e)
}

func (s *EventService) report(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}

// Subject returns the subject an event is published on.
func (s *EventService) Subject(e convoi.Event) string {
	key := "_"
	switch {
	case e.Position != nil:
		key = subjectToken(string(e.Position.DeviceID))
	case e.DeviceEvent != nil:
		key = subjectToken(string(e.DeviceEvent.DeviceID))
	case e.Movement != nil:
		key = strconv.FormatInt(int64(e.Movement.ID), 10)
	case e.Alarm != nil:
		key = strconv.FormatInt(int64(e.Alarm.MovementID), 10)
	case e.Assessment != nil:
		key = strconv.FormatInt(int64(e.Assessment.MovementID), 10)
	case e.Progress != nil:
		key = strconv.FormatInt(int64(e.Progress.MovementID), 10)
	}
	typ := string(e.Type)
	if typ == "" {
		typ = "_"
	}
	return s.Prefix + "." + subjectToken(typ) + "." + key
}

// subjectToken makes s one valid subject token: device IDs are letters,
// digits and ._:- (convoi.DeviceID.Valid), of which '.' separates tokens.
func subjectToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '.' || c == '*' || c == '>' || c <= ' ' || c >= 0x7f {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// PublishEvent publishes e on the stream without waiting for the server's
// acknowledgement. It never blocks: when MaxPending events already wait
// for one, or the service is not open, the event is dropped and counted
// (Dropped). The stored state (the database) remains the truth; the bus
// carries notifications of it.
func (s *EventService) PublishEvent(e convoi.Event) {
	if s.js == nil {
		s.dropped.Add(1)
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		s.dropped.Add(1)
		s.report(fmt.Errorf("encode %s event: %w", e.Type, err))
		return
	}
	if _, err := s.js.PublishAsync(s.Subject(e), data, jetstream.WithStallWait(time.Millisecond)); err != nil {
		s.dropped.Add(1)
		s.report(fmt.Errorf("publish %s event: %w", e.Type, err))
	}
}

// notifySubject is where notifications of kind go: beside the stream's
// subjects (PREFIX_notify.KIND), not in the stream.
func (s *EventService) notifySubject(kind string) string { return s.Prefix + "_notify." + kind }

// Notify tells every node's OnNotify (this one's included) that something
// of kind changed, for example "auth" when a token was revoked or a user
// updated, so that each empties its caches. Notifications are not stored:
// a node disconnected at that moment misses it, and its caches then expire
// on their own (a minute for tokens).
func (s *EventService) Notify(kind string) error {
	if s.nc == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	if err := s.nc.Publish(s.notifySubject(subjectToken(kind)), nil); err != nil {
		return err
	}
	return s.nc.Flush()
}

// Flush waits until every event published so far has been acknowledged by
// the server (stored), or ctx ends.
func (s *EventService) Flush(ctx context.Context) error {
	if s.js == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	select {
	case <-s.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Subscribe returns a subscription to every event of the stream from now
// on, from every node, with the in-process bus's semantics.
func (s *EventService) Subscribe(ctx context.Context) (convoi.Subscription, error) {
	if s.local == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	return s.local.Subscribe(ctx)
}

// SubscribeBuffer is Subscribe with a channel of n events (the monitor
// takes a large one).
func (s *EventService) SubscribeBuffer(ctx context.Context, n int) (convoi.Subscription, error) {
	if s.local == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	return s.local.SubscribeBuffer(ctx, n)
}

// SubscribeTypes is SubscribeBuffer for the given event types only.
func (s *EventService) SubscribeTypes(ctx context.Context, n int, types []convoi.EventType) (convoi.Subscription, error) {
	if s.local == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Event bus is not open.")
	}
	return s.local.SubscribeTypes(ctx, n, types)
}

// Dropped returns the number of events this node could not publish.
func (s *EventService) Dropped() int64 { return s.dropped.Load() }

// Conn returns the NATS connection, for the lease (see Leases).
func (s *EventService) Conn() *nats.Conn { return s.nc }

// JetStream returns the JetStream context.
func (s *EventService) JetStream() jetstream.JetStream { return s.js }

// Close waits briefly for pending publishes, stops consuming and closes
// the connection and every local subscription.
func (s *EventService) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.js != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush events: %w", err))
		}
		cancel()
	}
	if s.cc != nil {
		s.cc.Stop()
		s.cc = nil
	}
	if s.nc != nil {
		s.nc.Close()
		s.nc = nil
	}
	s.stream = nil
	if s.local != nil {
		errs = append(errs, s.local.Close())
	}
	return errors.Join(errs...)
}
