package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/storetest"
)

// The webhook outbox on PostgreSQL: an alarm raised and acknowledged
// writes events through the triggers, in the same transaction; fan-out
// turns them into one delivery per subscribed webhook, in order, with the
// payload SQLite writes.
func TestWebhookOutbox(t *testing.T) {
	a, _, m, _ := twoNodes(t)
	ctx := context.Background()
	hooks := postgres.NewWebhookService(a)
	w := &convoi.Webhook{URL: "https://partner.example/hook", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: "s3cret-s3cret-s3cret"}
	must(t, hooks.CreateWebhook(ctx, w))
	other := &convoi.Webhook{URL: "https://partner.example/movements", Topics: []convoi.WebhookTopic{convoi.WebhookMovement}, Secret: "s3cret-s3cret-s3cret"}
	must(t, hooks.CreateWebhook(ctx, other))
	alarms := postgres.NewAlarmService(a)
	al, _, err := alarms.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: convoi.RuleStop, Severity: convoi.SeverityWarning,
		FirstSeen: storetest.T0, LastSeen: storetest.T0})
	must(t, err)
	_, err = alarms.AcknowledgeAlarm(ctx, al.ID, "seen")
	must(t, err)
	n, err := hooks.FanOutWebhookEvents(ctx, 100)
	must(t, err)
	if n != 2 {
		t.Fatalf("fanned out %d events, want 2", n)
	}
	ds, total, err := hooks.FindWebhookDeliveries(ctx, convoi.WebhookDeliveryFilter{WebhookID: &w.ID})
	must(t, err)
	if total != 2 || len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", total)
	}
	var types []string
	for _, d := range ds {
		var p struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		must(t, json.Unmarshal([]byte(d.Payload), &p))
		types = append(types, p.Type)
		var data map[string]any
		must(t, json.Unmarshal(p.Data, &data))
		if data["alarm_id"] != float64(al.ID) || data["rule"] != string(convoi.RuleStop) {
			t.Fatalf("payload data %v", data)
		}
	}
	if types[0] != "alarm.acknowledged" || types[1] != "alarm.open" { // newest first
		t.Fatalf("delivery types %v", types)
	}
	if _, n, _ := hooks.FindWebhookDeliveries(ctx, convoi.WebhookDeliveryFilter{WebhookID: &other.ID}); n != 0 {
		t.Fatalf("the movement webhook got %d alarm deliveries", n)
	}
	// Claiming is exclusive: a second claim within the lease gets nothing.
	now := time.Now()
	c1, err := hooks.ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
	must(t, err)
	c2, err := postgres.NewWebhookService(a).ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
	must(t, err)
	if len(c1) != 2 || len(c2) != 0 {
		t.Fatalf("claims %d and %d, want 2 and 0", len(c1), len(c2))
	}
}
