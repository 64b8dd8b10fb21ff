package natsbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/natsbus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsURL returns the NATS server the tests use, or skips the test.
func natsURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("CONVOI_TEST_NATS")
	if u == "" {
		tb.Skip("NATS tests skipped: set CONVOI_TEST_NATS=nats://127.0.0.1:4222 (a server with JetStream; .ci/run does)")
	}
	return u
}

func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// cluster is a stream and subject prefix of its own, deleted at cleanup.
type cluster struct {
	url, stream, prefix string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{url: natsURL(t), stream: uniqueName("TEST_"), prefix: uniqueName("test.")}
	t.Cleanup(func() {
		nc, err := nats.Connect(c.url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		js.DeleteStream(context.Background(), c.stream)
	})
	return c
}

// node opens one node's bus on the cluster's stream.
func (c *cluster) node(t *testing.T, name string, since time.Time) *natsbus.EventService {
	t.Helper()
	s := natsbus.New(c.url)
	s.Stream, s.Prefix, s.Name, s.Since, s.MaxAge = c.stream, c.prefix, name, since, time.Hour
	s.OnError = func(err error) { t.Errorf("%s: %v", name, err) }
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func receive(t *testing.T, sub convoi.Subscription) convoi.Event {
	t.Helper()
	select {
	case e, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return convoi.Event{}
}

func TestEventReachesEveryNode(t *testing.T) {
	c := newCluster(t)
	a, b := c.node(t, "a", time.Time{}), c.node(t, "b", time.Time{})
	ctx := context.Background()
	subA, err := a.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fix := time.Date(2026, 3, 2, 8, 0, 0, 123456789, time.UTC)
	events := []convoi.Event{
		{Type: convoi.EventTypePosition, Position: &convoi.Position{DeviceID: "dev.1", FixTime: fix, ServerTime: fix, Lat: 43.73, Lon: 7.42, Valid: true}},
		{Type: convoi.EventTypeAlarm, Alarm: &convoi.Alarm{ID: 9, MovementID: 4, Rule: "stop", Severity: convoi.SeverityCritical, State: convoi.AlarmOpen,
			FirstSeen: fix, LastSeen: fix, AckDue: fix.Add(time.Minute), CreatedAt: fix, UpdatedAt: fix}},
	}
	for _, e := range events {
		a.PublishEvent(e)
	}
	for _, sub := range []convoi.Subscription{subA, subB} {
		for i, want := range events {
			if got := receive(t, sub); !reflect.DeepEqual(got, want) {
				t.Fatalf("event %d =\n%+v\nwant\n%+v", i, got, want)
			}
		}
	}
	if n := a.Dropped(); n != 0 {
		t.Errorf("dropped %d", n)
	}
}

// An event acknowledged by the server is not lost with the node that
// published it: a node started later replays it from the stream.
func TestAcknowledgedEventSurvivesNode(t *testing.T) {
	c := newCluster(t)
	start := time.Now().Add(-time.Second)
	a := c.node(t, "a", time.Time{})
	for i := range 100 {
		a.PublishEvent(convoi.Event{Type: convoi.EventTypeMovement, Movement: &convoi.Movement{ID: convoi.MovementID(i + 1), Ref: fmt.Sprint(i)}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := c.node(t, "b", start)
	sub, err := b.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		e := receive(t, sub)
		if e.Movement == nil || e.Movement.ID != convoi.MovementID(i+1) {
			got := "no movement"
			if e.Movement != nil {
				got = fmt.Sprintf("movement %d", e.Movement.ID)
			}
			t.Fatalf("event %d is %s %s, want movement %d", i, e.Type, got, i+1)
		}
	}
}

func TestSubjectKeepsTokensValid(t *testing.T) {
	s := natsbus.New("nats://unused")
	got := s.Subject(convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{DeviceID: "a.b:c*>"}})
	if want := "convoi.events.position.a_b:c__"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if got := s.Subject(convoi.Event{Type: convoi.EventTypeAlarm, Alarm: &convoi.Alarm{MovementID: 12}}); got != "convoi.events.alarm.12" {
		t.Errorf("alarm subject = %q", got)
	}
}

// leases opens the leases of n nodes on a bucket of their own.
func leases(t *testing.T, ttl time.Duration, nodes ...string) []*natsbus.Leases {
	t.Helper()
	url := natsURL(t)
	bucket := uniqueName("test_leases_")
	var out []*natsbus.Leases
	for _, n := range nodes {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		l, err := natsbus.OpenLeases(context.Background(), js, bucket, n, ttl, 1)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
		if len(out) == 1 {
			t.Cleanup(func() { js.DeleteKeyValue(context.Background(), bucket) })
		}
	}
	return out
}

func hold(t *testing.T, l *natsbus.Leases, key string) bool {
	t.Helper()
	ok, err := l.Hold(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestLeaseExclusiveRenewedAndTakenOver(t *testing.T) {
	const ttl = time.Second
	ls := leases(t, ttl, "a", "b")
	a, b := ls[0], ls[1]
	const key = "movement.42"
	if !hold(t, a, key) {
		t.Fatal("a cannot take a free lease")
	}
	// a renews for longer than the TTL: b never gets it meanwhile.
	for range 6 {
		if hold(t, b, key) {
			t.Fatal("b took a lease a holds")
		}
		if !hold(t, a, key) {
			t.Fatal("a lost a lease it renews")
		}
		time.Sleep(ttl / 3)
	}
	if h, _ := a.Holder(context.Background(), key); h != "a" {
		t.Fatalf("holder = %q, want a", h)
	}
	// a dies (stops renewing): b takes over once the lease expired.
	died := time.Now()
	for !hold(t, b, key) {
		if time.Since(died) > 10*time.Second {
			t.Fatal("b did not take over within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if took := time.Since(died); took < ttl/2 {
		t.Fatalf("b took over after %v, before the lease could expire", took)
	}
	if hold(t, a, key) {
		t.Fatal("a still holds after b took over")
	}
	// A clean release lets the other take it at once.
	if err := b.Release(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if !hold(t, a, key) {
		t.Fatal("a cannot take a released lease")
	}
	if err := b.Release(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if h, _ := b.Holder(context.Background(), key); h != "a" {
		t.Fatalf("b's release of a's lease changed the holder to %q", h)
	}
}

func TestLeaseRaceHasOneWinner(t *testing.T) {
	names := []string{"n1", "n2", "n3", "n4", "n5", "n6"}
	ls := leases(t, 5*time.Second, names...)
	for round := range 5 {
		key := fmt.Sprintf("movement.%d", round)
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.Hold(context.Background(), key)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners = append(winners, l.Node)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
	}
}

// BenchmarkCrossNodeLatency measures how long an event published on node
// A takes to reach a subscriber on node B through the JetStream stream
// (what an alarm raised on A takes to reach an SSE client on B, less the
// HTTP write). One op is one event; events are paced 1 ms apart, as a
// busy control room's alarms and positions are, not a saturating burst.
func BenchmarkCrossNodeLatency(b *testing.B) {
	url := natsURL(b)
	stream := uniqueName("BENCH_")
	prefix := uniqueName("bench.")
	open := func(name string) *natsbus.EventService {
		s := natsbus.New(url)
		s.Stream, s.Prefix, s.Name = stream, prefix, name
		if err := s.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	a, nb := open("a"), open("b")
	b.Cleanup(func() {
		if js := a.JetStream(); js != nil {
			js.DeleteStream(context.Background(), stream)
		}
	})
	sub, err := nb.Subscribe(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(lat) < b.N {
			e, ok := <-sub.C()
			if !ok {
				return
			}
			lat = append(lat, time.Since(e.Alarm.UpdatedAt))
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		a.PublishEvent(convoi.Event{Type: convoi.EventTypeAlarm, Alarm: &convoi.Alarm{ID: convoi.AlarmID(i + 1), MovementID: 1,
			Rule: convoi.RuleStop, State: convoi.AlarmOpen, UpdatedAt: time.Now()}})
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("received %d of %d", len(lat), b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// Two keepers share 10 movements; when A dies (stops without releasing),
// B gains A's movements within TTL plus one interval, each movement is
// held by exactly one node at every round, and none is lost.
func TestKeeperTakeover(t *testing.T) {
	const ttl = time.Second
	ls := leases(t, ttl, "a", "b")
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("movement.%d", i+1)
	}
	want := func(context.Context) ([]string, error) { return keys, nil }
	var mu sync.Mutex
	gained := map[string][]string{}
	keeper := func(l *natsbus.Leases) *natsbus.Keeper {
		return &natsbus.Keeper{Leases: l, Interval: ttl / 3, Want: want,
			OnGain: func(_ context.Context, key string) {
				mu.Lock()
				gained[l.Node] = append(gained[l.Node], key)
				mu.Unlock()
			},
			OnError: func(err error) { t.Error(err) }}
	}
	ka, kb := keeper(ls[0]), keeper(ls[1])
	ctx := context.Background()
	ka.Step(ctx) // A is up first and takes every movement
	kb.Step(ctx)
	if len(ka.Held()) != 10 || len(kb.Held()) != 0 {
		t.Fatalf("A holds %d, B %d; want 10 and 0", len(ka.Held()), len(kb.Held()))
	}
	for range 3 { // A renews: B gets nothing
		time.Sleep(ttl / 3)
		ka.Step(ctx)
		kb.Step(ctx)
		if len(kb.Held()) != 0 {
			t.Fatalf("B took %v while A renews", kb.Held())
		}
	}
	died := time.Now() // A is killed: no more steps, no release
	for len(kb.Held()) < 10 {
		if time.Since(died) > 10*time.Second {
			t.Fatalf("B holds %d of 10 movements 10 s after A died", len(kb.Held()))
		}
		time.Sleep(ttl / 3)
		kb.Step(ctx)
	}
	t.Logf("takeover of 10 movements: %v (lease TTL %v)", time.Since(died).Round(10*time.Millisecond), ttl)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(gained["b"])
	want10 := slices.Clone(keys)
	slices.Sort(want10)
	if !slices.Equal(gained["b"], want10) {
		t.Fatalf("B gained %v, want each movement once", gained["b"])
	}
	// A comes back: it holds nothing and gains nothing while B renews.
	ka.Step(ctx)
	if len(ka.Held()) != 0 {
		t.Fatalf("A came back holding %v", ka.Held())
	}
}
