package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/convoi/convoi"
)

var _ convoi.WebhookService = (*WebhookService)(nil)

// WebhookService implements convoi.WebhookService: subscriptions and the
// outbox. Events enter the outbox by the triggers of migration 4, inside
// the transaction of the movement or alarm change; FanOutWebhookEvents then
// copies each into one delivery per subscription, with a fresh message id.
type WebhookService struct{ db *Store }

// NewWebhookService returns a WebhookService on db.
func NewWebhookService(db *Store) *WebhookService { return &WebhookService{db: db} }

const webhookColumns = `id, url, topics, description, secret, disabled, created_by, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (*convoi.Webhook, error) {
	var w convoi.Webhook
	err := row.Scan(&w.ID, &w.URL, jsonCol{&w.Topics}, &w.Description, &w.Secret, &w.Disabled, &w.CreatedBy,
		timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Webhook not found.")
	}
	return &w, err
}

// CreateWebhook stores w. Secret must be set by the caller (webhook.NewSecret).
func (s *WebhookService) CreateWebhook(ctx context.Context, w *convoi.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.Secret == "" {
		return convoi.Errorf(convoi.EINVALID, "Webhook secret required.")
	}
	topics, err := toJSON("Webhook topics", w.Topics)
	if err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, err := tx.insertContext(ctx, `INSERT INTO webhooks (url, topics, description, secret, disabled, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, w.URL, topics, w.Description, w.Secret, w.Disabled, tx.by, tx.time(tx.now), tx.time(tx.now))
	if err != nil {
		return tx.writeErr(err, "Webhook exists.")
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.ID, w.CreatedBy, w.CreatedAt, w.UpdatedAt = convoi.WebhookID(id), tx.by, tx.now, tx.now
	return nil
}

func (s *WebhookService) FindWebhookByID(ctx context.Context, id convoi.WebhookID) (*convoi.Webhook, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
}

func (s *WebhookService) FindWebhooks(ctx context.Context) ([]*convoi.Webhook, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *WebhookService) UpdateWebhook(ctx context.Context, id convoi.WebhookID, upd convoi.WebhookUpdate) (*convoi.Webhook, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w, err := scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(w); err != nil {
		return nil, err
	}
	topics, err := toJSON("Webhook topics", w.Topics)
	if err != nil {
		return nil, err
	}
	w.UpdatedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, topics = ?, description = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		w.URL, topics, w.Description, w.Disabled, tx.time(w.UpdatedAt), id); err != nil {
		return nil, err
	}
	return w, tx.Commit()
}

func (s *WebhookService) DeleteWebhook(ctx context.Context, id convoi.WebhookID) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	n, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return convoi.Errorf(convoi.ENOTFOUND, "Webhook not found.")
	}
	return tx.Commit()
}

const deliveryColumns = `id, webhook_id, message_id, type, payload, state, attempts, next_attempt, last_status, last_error, created_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }) (*convoi.WebhookDelivery, error) {
	var d convoi.WebhookDelivery
	var payload string
	err := row.Scan(&d.ID, &d.WebhookID, &d.MessageID, &d.Type, &payload, &d.State, &d.Attempts, timeCol{&d.NextAttempt},
		&d.LastStatus, &d.LastError, timeCol{&d.CreatedAt}, nullTimeCol{&d.DeliveredAt})
	d.Payload = json.RawMessage(payload)
	return &d, err
}

func (s *WebhookService) FindWebhookDeliveries(ctx context.Context, f convoi.WebhookDeliveryFilter) ([]*convoi.WebhookDelivery, int, error) {
	var w where
	if f.WebhookID != nil {
		w.add("webhook_id = ?", *f.WebhookID)
	}
	if f.State != nil {
		w.add("state = ?", *f.State)
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	n, err := tx.count(ctx, "webhook_deliveries", &w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries`+w.String()+` ORDER BY id DESC`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*convoi.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, n, rows.Err()
}

// messageID returns a fresh Standard Webhooks message id.
func messageID() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "msg_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// webhookPayload is the body of every delivery: the Standard Webhooks
// envelope of type and data, plus the event's sequence number (increasing
// in the order the store accepted the changes; deliveries may arrive out
// of order). It has no timestamp: the time of a movement.underway event is
// the escort's departure time. (The webhook-timestamp header, which the
// signature needs, is the time of the attempt.)
type webhookPayload struct {
	Type     string          `json:"type"`
	Sequence int64           `json:"sequence"`
	Data     json.RawMessage `json:"data"`
}

func (s *WebhookService) FanOutWebhookEvents(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	type event struct {
		id               int64
		topic, typ, data string
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, topic, type, data FROM webhook_events ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return 0, err
	}
	var evs []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.id, &e.topic, &e.typ, &e.data); err != nil {
			rows.Close()
			return 0, err
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}
	hooks, err := tx.QueryContext(ctx, `SELECT id, topics FROM webhooks WHERE disabled = false`)
	if err != nil {
		return 0, err
	}
	subs := map[convoi.WebhookTopic][]convoi.WebhookID{}
	for hooks.Next() {
		var id convoi.WebhookID
		var topics []convoi.WebhookTopic
		if err := hooks.Scan(&id, jsonCol{&topics}); err != nil {
			hooks.Close()
			return 0, err
		}
		for _, t := range topics {
			subs[t] = append(subs[t], id)
		}
	}
	hooks.Close()
	if err := hooks.Err(); err != nil {
		return 0, err
	}
	for _, e := range evs {
		body, err := json.Marshal(webhookPayload{Type: e.typ, Sequence: e.id, Data: json.RawMessage(e.data)})
		if err != nil {
			return 0, fmt.Errorf("webhook event %d: %w", e.id, err)
		}
		for _, hook := range subs[convoi.WebhookTopic(e.topic)] {
			mid, err := messageID()
			if err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, message_id, type, payload, state, next_attempt, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, hook, mid, e.typ, string(body), convoi.DeliveryPending, tx.time(tx.now), tx.time(tx.now)); err != nil {
				return 0, err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE id = ?`, e.id); err != nil {
			return 0, err
		}
	}
	return len(evs), tx.Commit()
}

func (s *WebhookService) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*convoi.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 16
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE state = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, tx.time(now), limit)
	if err != nil {
		return nil, err
	}
	var out []*convoi.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	until := now.Add(lease)
	for _, d := range out {
		d.Attempts++
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = ?, next_attempt = ? WHERE id = ?`,
			d.Attempts, tx.time(until), d.ID); err != nil {
			return nil, err
		}
		d.NextAttempt = until
	}
	return out, tx.Commit()
}

func (s *WebhookService) CompleteWebhookDelivery(ctx context.Context, id int64, res convoi.DeliveryResult) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	errText := res.Error
	if len(errText) > 500 {
		errText = errText[:500]
	}
	var q string
	var args []any
	switch {
	case res.Delivered:
		q, args = `UPDATE webhook_deliveries SET state = 'delivered', last_status = ?, last_error = '', delivered_at = ? WHERE id = ?`,
			[]any{res.Status, tx.time(tx.now), id}
	case res.Retry != nil:
		q, args = `UPDATE webhook_deliveries SET last_status = ?, last_error = ?, next_attempt = ? WHERE id = ?`,
			[]any{res.Status, errText, tx.time(*res.Retry), id}
	default:
		q, args = `UPDATE webhook_deliveries SET state = 'failed', last_status = ?, last_error = ? WHERE id = ?`,
			[]any{res.Status, errText, id}
	}
	n, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return convoi.Errorf(convoi.ENOTFOUND, "Webhook delivery not found.")
	}
	return tx.Commit()
}
