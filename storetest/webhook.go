package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

const hookSecret = "whsec_c3RvcmV0ZXN0LXN0b3JldGVzdC1zdG9yZXRlc3Q="

func newHook(url string, topics ...convoi.WebhookTopic) *convoi.Webhook {
	return &convoi.Webhook{URL: url, Topics: topics, Description: "Partner " + url, Secret: hookSecret}
}

func testWebhook(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	court := newHook("https://court.example/hooks", convoi.WebhookMovement)
	ops := newHook("https://ops.example/hooks?src=convoi", convoi.WebhookAlarm, convoi.WebhookIncident)

	t.Run("CreateAndFind", func(t *testing.T) {
		must(t, e.Webhooks.CreateWebhook(e.ctx, court))
		e.clock.Add(time.Minute)
		must(t, e.Webhooks.CreateWebhook(e.ctx2, ops))
		if court.ID == 0 || ops.ID == 0 || court.ID == ops.ID {
			t.Fatalf("ids %d and %d", court.ID, ops.ID)
		}
		same(t, "created_by set on create", ops.CreatedBy, author2)
		sameTime(t, "created_at set on create", ops.CreatedAt, T0.Add(time.Minute))
		got, err := e.Webhooks.FindWebhookByID(e.ctx, ops.ID)
		must(t, err)
		same(t, "url", got.URL, ops.URL)
		same(t, "topics", got.Topics, []convoi.WebhookTopic{convoi.WebhookAlarm, convoi.WebhookIncident})
		same(t, "description", got.Description, ops.Description)
		same(t, "secret", got.Secret, hookSecret)
		same(t, "disabled", got.Disabled, false)
		same(t, "created_by", got.CreatedBy, author2)
		sameTime(t, "created_at", got.CreatedAt, T0.Add(time.Minute))
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Minute))
		_, err = e.Webhooks.FindWebhookByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
		all, err := e.Webhooks.FindWebhooks(e.ctx)
		must(t, err)
		same(t, "webhooks by id", webhookIDs(all), []convoi.WebhookID{court.ID, ops.ID})
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			w    convoi.Webhook
		}{
			{"NoSecret", convoi.Webhook{URL: "https://x.example/", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}}},
			{"NotHTTP", convoi.Webhook{URL: "ftp://x.example/", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: hookSecret}},
			{"Credentials", convoi.Webhook{URL: "https://u:p@x.example/", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm}, Secret: hookSecret}},
			{"NoTopics", convoi.Webhook{URL: "https://x.example/", Secret: hookSecret}},
			{"UnknownTopic", convoi.Webhook{URL: "https://x.example/", Topics: []convoi.WebhookTopic{"position"}, Secret: hookSecret}},
			{"TopicTwice", convoi.Webhook{URL: "https://x.example/", Topics: []convoi.WebhookTopic{convoi.WebhookAlarm, convoi.WebhookAlarm}, Secret: hookSecret}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := tc.w
				wantCode(t, e.Webhooks.CreateWebhook(e.ctx, &w), convoi.EINVALID)
			})
		}
		all, err := e.Webhooks.FindWebhooks(e.ctx)
		must(t, err)
		same(t, "webhooks stored", len(all), 2)
	})

	t.Run("Update", func(t *testing.T) {
		e.clock.Add(time.Hour)
		topics := []convoi.WebhookTopic{convoi.WebhookMovement, convoi.WebhookIncident}
		got, err := e.Webhooks.UpdateWebhook(e.ctx, court.ID, convoi.WebhookUpdate{Topics: &topics, Disabled: ptr(true),
			Description: ptr("Greffe, paused")})
		must(t, err)
		same(t, "returned topics", got.Topics, topics)
		sameTime(t, "returned updated_at", got.UpdatedAt, T0.Add(61*time.Minute))
		got, err = e.Webhooks.FindWebhookByID(e.ctx, court.ID)
		must(t, err)
		same(t, "topics", got.Topics, topics)
		same(t, "disabled", got.Disabled, true)
		same(t, "description", got.Description, "Greffe, paused")
		same(t, "url kept", got.URL, court.URL)
		same(t, "secret kept", got.Secret, hookSecret)
		same(t, "created_by kept", got.CreatedBy, author)
		sameTime(t, "created_at kept", got.CreatedAt, T0)
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(61*time.Minute))

		_, err = e.Webhooks.UpdateWebhook(e.ctx, court.ID, convoi.WebhookUpdate{URL: ptr("not a url"), Disabled: ptr(false)})
		wantCode(t, err, convoi.EINVALID)
		got, err = e.Webhooks.FindWebhookByID(e.ctx, court.ID)
		must(t, err)
		same(t, "url after a refused update", got.URL, court.URL)
		same(t, "disabled after a refused update", got.Disabled, true)
		_, err = e.Webhooks.UpdateWebhook(e.ctx, 9999, convoi.WebhookUpdate{Disabled: ptr(true)})
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Delete", func(t *testing.T) {
		must(t, e.Webhooks.DeleteWebhook(e.ctx, court.ID))
		_, err := e.Webhooks.FindWebhookByID(e.ctx, court.ID)
		wantCode(t, err, convoi.ENOTFOUND)
		wantCode(t, e.Webhooks.DeleteWebhook(e.ctx, court.ID), convoi.ENOTFOUND)
		all, err := e.Webhooks.FindWebhooks(e.ctx)
		must(t, err)
		same(t, "webhooks left", webhookIDs(all), []convoi.WebhookID{ops.ID})
	})
}

func webhookIDs(ws []*convoi.Webhook) []convoi.WebhookID {
	var ids []convoi.WebhookID
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	return ids
}

// payload is a delivery's body as the store writes it.
type payload struct {
	Type     string         `json:"type"`
	Sequence int64          `json:"sequence"`
	Data     map[string]any `json:"data"`
}

func decodePayload(tb testing.TB, d *convoi.WebhookDelivery) payload {
	tb.Helper()
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		tb.Fatalf("delivery %d payload %q: %v", d.ID, d.Payload, err)
	}
	return p
}

// testWebhookOutbox checks the durable outbox: movement and alarm changes
// enter it in their own transaction, and fan-out turns each event into one
// delivery per enabled subscription of its topic.
func testWebhookOutbox(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	all := newHook("https://all.example/", convoi.WebhookMovement, convoi.WebhookAlarm)
	incidents := newHook("https://incidents.example/", convoi.WebhookIncident)
	paused := newHook("https://paused.example/", convoi.WebhookMovement)
	paused.Disabled = true
	for _, h := range []*convoi.Webhook{all, incidents, paused} {
		must(t, e.Webhooks.CreateWebhook(e.ctx, h))
	}
	n, err := e.Webhooks.FanOutWebhookEvents(e.ctx, 100)
	must(t, err)
	same(t, "events before any change", n, 0)

	m := e.underway(t, w, "MC-WH1", nil, nil) // assessed, planned, released, underway
	_, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Requester: ptr("Greffe"), Reason: "no event for an update"})
	must(t, err)
	_, err = e.Movements.TransitionMovement(e.ctx, m.ID, request(convoi.ActionRelease)) // illegal: writes nothing
	wantCode(t, err, convoi.ECONFLICT)
	a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, T0))
	must(t, err)

	t.Run("FanOut", func(t *testing.T) {
		n, err := e.Webhooks.FanOutWebhookEvents(e.ctx, 3)
		must(t, err)
		same(t, "first fan-out, limited", n, 3)
		e.clock.Add(time.Second)
		n, err = e.Webhooks.FanOutWebhookEvents(e.ctx, 100)
		must(t, err)
		same(t, "second fan-out", n, 2)
		n, err = e.Webhooks.FanOutWebhookEvents(e.ctx, 100)
		must(t, err)
		same(t, "third fan-out", n, 0)
	})

	t.Run("Deliveries", func(t *testing.T) {
		ds, total, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{WebhookID: &all.ID})
		must(t, err)
		same(t, "total", total, 5)
		var types []string
		seen := map[string]bool{}
		for i, d := range ds {
			p := decodePayload(t, d)
			types = append(types, d.Type)
			same(t, "payload type", p.Type, d.Type)
			same(t, "webhook", d.WebhookID, all.ID)
			same(t, "state", d.State, convoi.DeliveryPending)
			same(t, "attempts", d.Attempts, 0)
			same(t, "last status", d.LastStatus, 0)
			if d.DeliveredAt != nil {
				t.Fatalf("delivery %d delivered at %v", d.ID, d.DeliveredAt)
			}
			if !strings.HasPrefix(d.MessageID, "msg_") || seen[d.MessageID] {
				t.Fatalf("message id %q (seen before: %v)", d.MessageID, seen[d.MessageID])
			}
			seen[d.MessageID] = true
			if i > 0 {
				if d.ID >= ds[i-1].ID {
					t.Fatalf("deliveries not newest first: %d after %d", d.ID, ds[i-1].ID)
				}
				if prev := decodePayload(t, ds[i-1]); p.Sequence >= prev.Sequence {
					t.Fatalf("sequence %d after %d, want decreasing (newest first)", p.Sequence, prev.Sequence)
				}
			}
			want := T0
			if i < 2 { // the last two events were fanned out a second later
				want = T0.Add(time.Second)
			}
			sameTime(t, "created_at", d.CreatedAt, want)
			sameTime(t, "next_attempt", d.NextAttempt, want)
			for _, secret := range []string{"route", "planned_departure", "departure", "lat", "lon", "place_name"} {
				if _, ok := p.Data[secret]; ok {
					t.Fatalf("payload of %s carries %q: %s", d.Type, secret, d.Payload)
				}
			}
		}
		same(t, "types, newest first", types, []string{"alarm.open", "movement.underway", "movement.released",
			"movement.planned", "movement.assessed"})
		underway := decodePayload(t, ds[1]).Data
		same(t, "movement id", underway["movement_id"], float64(m.ID))
		same(t, "ref", underway["ref"], "MC-WH1")
		same(t, "action", underway["action"], string(convoi.ActionStart))
		same(t, "from", underway["from"], string(convoi.StateReleased))
		same(t, "to", underway["to"], string(convoi.StateUnderway))
		alarm := decodePayload(t, ds[0]).Data
		same(t, "alarm id", alarm["alarm_id"], float64(a.ID))
		same(t, "alarm movement", alarm["movement_id"], float64(m.ID))
		same(t, "rule", alarm["rule"], string(convoi.RuleStop))
		same(t, "severity", alarm["severity"], float64(convoi.SeverityWarning))
		same(t, "alarm to", alarm["to"], string(convoi.AlarmOpen))

		for _, h := range []*convoi.Webhook{incidents, paused} {
			_, total, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{WebhookID: &h.ID})
			must(t, err)
			same(t, "deliveries of "+h.URL, total, 0)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		ds, total, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{Page: convoi.Page{Limit: 2, Offset: 1}})
		must(t, err)
		same(t, "total of a page", total, 5)
		same(t, "page types", []string{ds[0].Type, ds[1].Type}, []string{"movement.underway", "movement.released"})
		same(t, "page length", len(ds), 2)
		_, total, err = e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{State: ptr(convoi.DeliveryPending)})
		must(t, err)
		same(t, "pending", total, 5)
		_, total, err = e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{State: ptr(convoi.DeliveryDelivered)})
		must(t, err)
		same(t, "delivered", total, 0)
	})

	t.Run("DeleteDropsDeliveries", func(t *testing.T) {
		must(t, e.Webhooks.DeleteWebhook(e.ctx, all.ID))
		_, total, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{})
		must(t, err)
		same(t, "deliveries after the subscription was deleted", total, 0)
		_, err = e.Alarms.AcknowledgeAlarm(e.ctx, a.ID, "seen")
		must(t, err)
		n, err := e.Webhooks.FanOutWebhookEvents(e.ctx, 100)
		must(t, err)
		same(t, "an event nobody subscribes to is consumed", n, 1)
		_, total, err = e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{})
		must(t, err)
		same(t, "deliveries", total, 0)
	})
}

// testWebhookDelivery checks the delivery state machine: claims lease a
// delivery (and replay it when the lease runs out), completion records
// delivered, retry or failed.
func testWebhookDelivery(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	hook := newHook("https://partner.example/", convoi.WebhookMovement)
	must(t, e.Webhooks.CreateWebhook(e.ctx, hook))
	m := w.movement("MC-WH2", T0.Add(2*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m))
	for _, a := range pathTo[convoi.StatePlanned] {
		_, err := e.Movements.TransitionMovement(e.ctx, m.ID, request(a))
		must(t, err)
	}
	n, err := e.Webhooks.FanOutWebhookEvents(e.ctx, 100)
	must(t, err)
	same(t, "events", n, 2)
	ds, _, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{})
	must(t, err)
	planned, assessed := ds[0], ds[1]
	byID := func(t *testing.T, id int64) *convoi.WebhookDelivery {
		t.Helper()
		ds, _, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{})
		must(t, err)
		for _, d := range ds {
			if d.ID == id {
				return d
			}
		}
		t.Fatalf("delivery %d not found", id)
		return nil
	}
	claimIDs := func(t *testing.T, at time.Time, limit int) []int64 {
		t.Helper()
		ds, err := e.Webhooks.ClaimWebhookDeliveries(e.ctx, at, time.Minute, limit)
		must(t, err)
		var ids []int64
		for _, d := range ds {
			ids = append(ids, d.ID)
			sameTime(t, "claimed next_attempt (the lease)", d.NextAttempt, at.Add(time.Minute))
		}
		return ids
	}

	t.Run("Claim", func(t *testing.T) {
		same(t, "claim before due", claimIDs(t, T0.Add(-time.Second), 10), []int64(nil))
		same(t, "claim, limited", claimIDs(t, T0, 1), []int64{assessed.ID})
		same(t, "claim, oldest first", claimIDs(t, T0, 10), []int64{planned.ID})
		same(t, "claim within the lease", claimIDs(t, T0.Add(59*time.Second), 10), []int64(nil))
		d := byID(t, assessed.ID)
		same(t, "attempts", d.Attempts, 1)
		same(t, "state while leased", d.State, convoi.DeliveryPending)
		sameTime(t, "next_attempt", d.NextAttempt, T0.Add(time.Minute))
		// The sender died: once the lease runs out both are claimed again.
		same(t, "replay after the lease", claimIDs(t, T0.Add(time.Minute), 10), []int64{assessed.ID, planned.ID})
		same(t, "attempts after replay", byID(t, assessed.ID).Attempts, 2)
	})

	t.Run("Complete", func(t *testing.T) {
		e.clock.Add(90 * time.Second)
		must(t, e.Webhooks.CompleteWebhookDelivery(e.ctx, assessed.ID, convoi.DeliveryResult{Status: 204, Delivered: true}))
		d := byID(t, assessed.ID)
		same(t, "state", d.State, convoi.DeliveryDelivered)
		same(t, "last status", d.LastStatus, 204)
		same(t, "last error", d.LastError, "")
		if d.DeliveredAt == nil {
			t.Fatal("delivered_at not set")
		}
		sameTime(t, "delivered_at (store clock)", *d.DeliveredAt, T0.Add(90*time.Second))

		retry := T0.Add(10 * time.Minute)
		must(t, e.Webhooks.CompleteWebhookDelivery(e.ctx, planned.ID, convoi.DeliveryResult{Status: 503, Error: "busy", Retry: &retry}))
		d = byID(t, planned.ID)
		same(t, "state after a retry", d.State, convoi.DeliveryPending)
		same(t, "last status", d.LastStatus, 503)
		same(t, "last error", d.LastError, "busy")
		sameTime(t, "next attempt", d.NextAttempt, retry)
		same(t, "claim before the retry", claimIDs(t, retry.Add(-time.Second), 10), []int64(nil))
		same(t, "claim at the retry", claimIDs(t, retry, 10), []int64{planned.ID})

		long := strings.Repeat("x", 600)
		must(t, e.Webhooks.CompleteWebhookDelivery(e.ctx, planned.ID, convoi.DeliveryResult{Error: long}))
		d = byID(t, planned.ID)
		same(t, "state after giving up", d.State, convoi.DeliveryFailed)
		same(t, "last status", d.LastStatus, 0)
		same(t, "last error, cut", d.LastError, long[:500])
		same(t, "attempts", d.Attempts, 3)
		same(t, "nothing left to claim", claimIDs(t, retry.Add(time.Hour), 10), []int64(nil))

		wantCode(t, e.Webhooks.CompleteWebhookDelivery(e.ctx, 9999, convoi.DeliveryResult{Delivered: true}), convoi.ENOTFOUND)
	})

	t.Run("FilterByState", func(t *testing.T) {
		for _, tc := range []struct {
			state convoi.DeliveryState
			want  []int64
		}{
			{convoi.DeliveryPending, nil},
			{convoi.DeliveryDelivered, []int64{assessed.ID}},
			{convoi.DeliveryFailed, []int64{planned.ID}},
		} {
			ds, total, err := e.Webhooks.FindWebhookDeliveries(e.ctx, convoi.WebhookDeliveryFilter{WebhookID: &hook.ID, State: &tc.state})
			must(t, err)
			var ids []int64
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			same(t, string(tc.state), ids, tc.want)
			same(t, string(tc.state)+" total", total, len(tc.want))
		}
	})
}
