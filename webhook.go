package convoi

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// WebhookID identifies a webhook subscription.
type WebhookID int64

// WebhookTopic is a family of events a subscription receives.
type WebhookTopic string

const (
	WebhookMovement WebhookTopic = "movement" // every state change of a movement: movement.released, movement.completed, ...
	WebhookAlarm    WebhookTopic = "alarm"    // every step of an alarm: alarm.open, alarm.acknowledged, alarm.escalated, alarm.resolved
	WebhookIncident WebhookTopic = "incident" // incident.declared and incident.stood_down
)

// WebhookTopics lists every topic.
var WebhookTopics = []WebhookTopic{WebhookMovement, WebhookAlarm, WebhookIncident}

// Valid reports whether t is one of WebhookTopics.
func (t WebhookTopic) Valid() bool { return validEnum(t, WebhookTopics) }

// Webhook is an administrator's subscription of an outside system to
// events. Deliveries follow the Standard Webhooks specification: each is
// signed with Secret (HMAC-SHA256, "whsec_" + base64 of the key), which is
// shown once when the subscription is created and never again.
//
// Payloads never carry a route, a departure time or a position: only
// identifiers, states, alarm rules and severities (see docs/security.md).
type Webhook struct {
	ID          WebhookID      `json:"id"`
	URL         string         `json:"url"`
	Topics      []WebhookTopic `json:"topics"`
	Description string         `json:"description"`
	Disabled    bool           `json:"disabled"`
	Secret      string         `json:"-"`
	CreatedBy   UserID         `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// MaxWebhookURLLen bounds a subscription's URL.
const MaxWebhookURLLen = 2048

// Validate checks the fields an administrator sets.
func (w *Webhook) Validate() error {
	if len(w.URL) > MaxWebhookURLLen {
		return Errorf(EINVALID, "Webhook url longer than %d bytes.", MaxWebhookURLLen)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Errorf(EINVALID, "Webhook url must be an absolute http or https URL without credentials or fragment.")
	}
	if len(w.Topics) == 0 {
		return Errorf(EINVALID, "Webhook topics required (any of: %s).", joinEnum(WebhookTopics))
	}
	seen := map[WebhookTopic]bool{}
	for _, t := range w.Topics {
		if !t.Valid() {
			return Errorf(EINVALID, "Unknown webhook topic %q (allowed: %s).", t, joinEnum(WebhookTopics))
		}
		if seen[t] {
			return Errorf(EINVALID, "Webhook topic %q given twice.", t)
		}
		seen[t] = true
	}
	if err := ValidateText("description", w.Description, 500); err != nil {
		return err
	}
	return nil
}

// WebhookUpdate changes a subscription; nil fields are kept.
type WebhookUpdate struct {
	URL         *string         `json:"url"`
	Topics      *[]WebhookTopic `json:"topics"`
	Description *string         `json:"description"`
	Disabled    *bool           `json:"disabled"`
}

// Apply applies upd to w and validates the result.
func (upd WebhookUpdate) Apply(w *Webhook) error {
	if upd.URL != nil {
		w.URL = *upd.URL
	}
	if upd.Topics != nil {
		w.Topics = *upd.Topics
	}
	if upd.Description != nil {
		w.Description = *upd.Description
	}
	if upd.Disabled != nil {
		w.Disabled = *upd.Disabled
	}
	return w.Validate()
}

// DeliveryState is where a delivery is in the outbox.
type DeliveryState string

const (
	DeliveryPending   DeliveryState = "pending"   // waiting for its next attempt
	DeliveryDelivered DeliveryState = "delivered" // the endpoint answered 2xx
	DeliveryFailed    DeliveryState = "failed"    // attempts exhausted, or the subscription was deleted
)

// WebhookDelivery is one message to one subscription, kept in the outbox
// until it is delivered or its attempts are exhausted. MessageID is the
// webhook-id header: the same on every retry, so that receivers deduplicate.
type WebhookDelivery struct {
	ID          int64           `json:"id"`
	WebhookID   WebhookID       `json:"webhook_id"`
	MessageID   string          `json:"message_id"`
	Type        string          `json:"type"` // e.g. movement.released
	Payload     json.RawMessage `json:"payload"`
	State       DeliveryState   `json:"state"`
	Attempts    int             `json:"attempts"`
	NextAttempt time.Time       `json:"next_attempt"`
	LastStatus  int             `json:"last_status,omitempty"` // HTTP status of the last attempt, 0 when none came
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at,omitempty"`
}

// DeliveryResult is the outcome of one attempt.
type DeliveryResult struct {
	Status    int    // HTTP status, 0 when no response
	Error     string // why it failed, for the operator; never the payload
	Delivered bool
	// Retry is when to try again; nil gives up (the delivery fails).
	Retry *time.Time
}

// WebhookDeliveryFilter selects deliveries, newest first.
type WebhookDeliveryFilter struct {
	WebhookID *WebhookID
	State     *DeliveryState
	Page      Page
}

// WebhookService stores subscriptions and the persistent outbox of their
// deliveries. Movement and alarm changes enter the outbox in the same
// transaction that stores them, so that an event the store accepted is
// delivered even if the process stops at once.
type WebhookService interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	FindWebhookByID(ctx context.Context, id WebhookID) (*Webhook, error)
	FindWebhooks(ctx context.Context) ([]*Webhook, error)
	UpdateWebhook(ctx context.Context, id WebhookID, upd WebhookUpdate) (*Webhook, error)
	// DeleteWebhook removes a subscription and its deliveries.
	DeleteWebhook(ctx context.Context, id WebhookID) error
	FindWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]*WebhookDelivery, int, error)

	// FanOutWebhookEvents turns up to limit stored events into one pending
	// delivery per enabled subscription of their topic, and returns how
	// many events it consumed.
	FanOutWebhookEvents(ctx context.Context, limit int) (int, error)
	// ClaimWebhookDeliveries returns up to limit pending deliveries due at
	// now and leases them until now+lease (their next attempt moves there),
	// so that a sender that dies mid-attempt leaves them to be retried.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*WebhookDelivery, error)
	// CompleteWebhookDelivery records an attempt's outcome.
	CompleteWebhookDelivery(ctx context.Context, id int64, res DeliveryResult) error
}
