package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
)

func pos(i int) convoi.Event {
	return convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{ID: int64(i)}}
}

func TestDeliverInOrder(t *testing.T) {
	s := bus.New()
	sub, err := s.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 10 {
		s.PublishEvent(pos(i))
	}
	for i := range 10 {
		e := <-sub.C()
		if e.Position.ID != int64(i) {
			t.Fatalf("event %d has id %d", i, e.Position.ID)
		}
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	s := bus.New()
	s.Buffer = 4
	var drops int
	s.OnDrop = func(n int) { drops = n }
	slow, _ := s.Subscribe(context.Background())
	fast, _ := s.Subscribe(context.Background())
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast.C() {
			got++
			if got == 100 {
				return
			}
		}
	}()
	for i := range 100 {
		s.PublishEvent(pos(i)) // must never block
		for len(fast.C()) > 0 {
			time.Sleep(10 * time.Microsecond) // let the fast reader keep up
		}
	}
	<-done
	n := 0
	for range slow.C() { // closed after the buffered events
		n++
	}
	if n != 4 {
		t.Fatalf("slow subscriber got %d events, want its 4 buffered", n)
	}
	if drops != 1 || s.Len() != 1 {
		t.Fatalf("drops %d, live %d", drops, s.Len())
	}
	fast.Close()
	fast.Close()
	if s.Len() != 0 {
		t.Fatal("Close left the subscription")
	}
}

func TestContextEndsSubscription(t *testing.T) {
	s := bus.New()
	ctx, cancel := context.WithCancel(context.Background())
	sub, _ := s.Subscribe(ctx)
	cancel()
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
	if _, err := s.Subscribe(ctx); err == nil {
		t.Fatal("Subscribe with a done context succeeded")
	}
}

func TestCloseService(t *testing.T) {
	s := bus.New()
	sub, _ := s.Subscribe(context.Background())
	s.Close()
	if _, ok := <-sub.C(); ok {
		t.Fatal("channel open after Close")
	}
	sub.Close()
	if _, err := s.Subscribe(context.Background()); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	s.PublishEvent(pos(1))
}

// TestConcurrent is for the race detector: publishers, subscribers that
// come and go, and slow ones being dropped, all at once.
func TestConcurrent(t *testing.T) {
	s := bus.New()
	s.Buffer = 8
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for p := range 4 {
		pubs.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.PublishEvent(pos(p*10000 + i))
			}
		})
	}
	for range 8 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				sub, err := s.Subscribe(ctx)
				if err != nil {
					t.Error(err)
					cancel()
					return
				}
				for range 3 {
					<-sub.C()
				}
				if time.Now().UnixNano()%2 == 0 {
					cancel()
				} else {
					sub.Close()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(stop)
	pubs.Wait()
}

func TestSubscribeTypes(t *testing.T) {
	s := bus.New()
	s.Buffer = 2
	sub, err := s.SubscribeTypes(context.Background(), 2, []convoi.EventType{convoi.EventTypeAlarm})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // would overflow a buffer of 2 were they delivered
		s.PublishEvent(convoi.Event{Type: convoi.EventTypePosition, Position: &convoi.Position{}})
	}
	s.PublishEvent(convoi.Event{Type: convoi.EventTypeAlarm, Alarm: &convoi.Alarm{ID: 7}})
	select {
	case e, ok := <-sub.C():
		if !ok || e.Type != convoi.EventTypeAlarm || e.Alarm.ID != 7 {
			t.Fatalf("got %+v (open %v), want the alarm", e, ok)
		}
	default:
		t.Fatal("alarm not delivered")
	}
}
