package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/storetest"
)

// The webhook outbox across a cluster (storetest covers one store): the
// events an alarm writes on one node are fanned out by the other, and two
// nodes claiming deliveries at once never hand out the same one within its
// lease, so a partner is not called twice for one event.
func TestWebhookClaimsAcrossNodes(t *testing.T) {
	a, b, m, clock := twoNodes(t)
	ctx := context.Background()
	hooks := []*postgres.WebhookService{postgres.NewWebhookService(a), postgres.NewWebhookService(b)}
	for i := range 3 {
		w := &convoi.Webhook{URL: "https://partner.example/hook", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: "s3cret-s3cret-s3cret"}
		must(t, hooks[i%2].CreateWebhook(ctx, w))
	}
	alarms := postgres.NewAlarmService(a)
	al, _, err := alarms.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: convoi.RuleStop, Severity: convoi.SeverityWarning,
		FirstSeen: storetest.T0, LastSeen: storetest.T0})
	must(t, err)
	_, err = alarms.AcknowledgeAlarm(ctx, al.ID, "seen")
	must(t, err)
	n, err := hooks[1].FanOutWebhookEvents(ctx, 100)
	must(t, err)
	if n != 2 {
		t.Fatalf("node b fanned out %d events written on node a, want 2", n)
	}
	const want = 6 // 2 events x 3 webhooks
	now := clock.Now()
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		wg      sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			s := hooks[w%2]
			for range 4 * want { // more than enough for a share of want
				ds, err := s.ClaimWebhookDeliveries(ctx, now, time.Minute, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				claimed[ds[0].ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != want {
		t.Errorf("%d deliveries claimed, want %d", len(claimed), want)
	}
	for id, k := range claimed {
		if k != 1 {
			t.Errorf("delivery %d claimed %d times within its lease", id, k)
		}
	}
	// Past the lease the other node may claim them again (the first one
	// is taken to have died).
	ds, err := hooks[1].ClaimWebhookDeliveries(ctx, now.Add(time.Minute+time.Second), time.Minute, 10)
	must(t, err)
	if len(ds) != want {
		t.Errorf("%d deliveries claimable after the lease, want %d", len(ds), want)
	}
}
