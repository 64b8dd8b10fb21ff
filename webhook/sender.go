package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// Outbox is what the Sender needs of the store (a convoi.WebhookService).
type Outbox interface {
	FindWebhookByID(ctx context.Context, id convoi.WebhookID) (*convoi.Webhook, error)
	FanOutWebhookEvents(ctx context.Context, limit int) (int, error)
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*convoi.WebhookDelivery, error)
	CompleteWebhookDelivery(ctx context.Context, id int64, res convoi.DeliveryResult) error
}

// Defaults of Sender's configuration.
const (
	DefaultPoll        = time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultLease       = time.Minute
	DefaultConcurrency = 4
)

// DefaultBackoff is the wait after each failed attempt, as the Standard
// Webhooks specification suggests: after the 8th failure (about 27 hours
// in all), the delivery fails for good.
var DefaultBackoff = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Sender delivers the outbox. Create it with New, set the fields, then
// Open; Close waits for attempts in flight. Only one Sender should run per
// database (leases make a second one harmless but wasteful).
type Sender struct {
	Outbox Outbox
	// Client sends the requests (one with DefaultTimeout when nil). It
	// must not follow redirects to another host: the default one does
	// not follow any.
	Client *http.Client
	Now    convoi.Clock
	// Backoff lists the waits after the 1st, 2nd, ... failed attempt; when
	// they run out the delivery fails.
	Backoff []time.Duration
	// Poll is how often the outbox is read when nothing wakes the sender.
	Poll time.Duration
	// Lease is how long a claimed delivery is reserved; one whose sender
	// died is retried after it.
	Lease       time.Duration
	Concurrency int
	// OnError, when set, receives errors of the outbox itself (not of
	// endpoints, which are recorded on the delivery).
	OnError func(error)

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Sender with defaults on outbox.
func New(outbox Outbox) *Sender {
	return &Sender{
		Outbox: outbox,
		Client: &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Now:         time.Now,
		Backoff:     DefaultBackoff,
		Poll:        DefaultPoll,
		Lease:       DefaultLease,
		Concurrency: DefaultConcurrency,
		wake:        make(chan struct{}, 1),
	}
}

// Wake asks the sender to read the outbox now (after a movement or alarm
// change). It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Open starts delivering in the background.
func (s *Sender) Open() error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.Poll)
		defer t.Stop()
		for {
			if _, err := s.Flush(ctx); err != nil && ctx.Err() == nil && s.OnError != nil {
				s.OnError(err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.wake:
			}
		}
	}()
	return nil
}

// Close stops the sender and waits for attempts in flight; deliveries not
// yet attempted stay in the outbox for the next start.
func (s *Sender) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// Flush fans new events out and makes one attempt at every delivery due
// now, and returns how many attempts it made.
func (s *Sender) Flush(ctx context.Context) (int, error) {
	for {
		n, err := s.Outbox.FanOutWebhookEvents(ctx, 256)
		if err != nil {
			return 0, fmt.Errorf("webhook fan-out: %w", err)
		}
		if n < 256 {
			break
		}
	}
	total := 0
	for {
		ds, err := s.Outbox.ClaimWebhookDeliveries(ctx, s.Now(), s.Lease, 64)
		if err != nil {
			return total, fmt.Errorf("webhook claim: %w", err)
		}
		if len(ds) == 0 {
			return total, nil
		}
		sem := make(chan struct{}, max(s.Concurrency, 1))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for _, d := range ds {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := s.deliver(ctx, d); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		total += len(ds)
		if firstErr != nil {
			return total, firstErr
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// deliver makes one attempt and records its outcome.
func (s *Sender) deliver(ctx context.Context, d *convoi.WebhookDelivery) error {
	hook, err := s.Outbox.FindWebhookByID(ctx, d.WebhookID)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return nil // deleted with its deliveries
	} else if err != nil {
		return err
	}
	res := s.attempt(ctx, hook, d)
	if ctx.Err() != nil {
		return nil // shutting down: the lease brings it back
	}
	if !res.Delivered {
		if hook.Disabled {
			// A disabled subscription keeps its deliveries waiting.
			t := s.Now().Add(s.Poll * 60)
			res.Retry = &t
		} else if i := d.Attempts - 1; i < len(s.Backoff) {
			t := s.Now().Add(s.Backoff[i])
			res.Retry = &t
		}
	}
	return s.Outbox.CompleteWebhookDelivery(context.WithoutCancel(ctx), d.ID, res)
}

func (s *Sender) attempt(ctx context.Context, hook *convoi.Webhook, d *convoi.WebhookDelivery) convoi.DeliveryResult {
	if hook.Disabled {
		return convoi.DeliveryResult{Error: "subscription disabled"}
	}
	ts := s.Now()
	sig, err := Sign(hook.Secret, d.MessageID, ts, d.Payload)
	if err != nil {
		return convoi.DeliveryResult{Error: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return convoi.DeliveryResult{Error: "bad url"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "convoi-webhooks/1")
	req.Header.Set(HeaderID, d.MessageID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := s.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a token in its query
		}
		return convoi.DeliveryResult{Error: err.Error()}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return convoi.DeliveryResult{Status: resp.StatusCode, Delivered: true}
	}
	return convoi.DeliveryResult{Status: resp.StatusCode, Error: "endpoint answered " + resp.Status}
}
