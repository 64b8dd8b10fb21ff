package web

import (
	"net/http"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/webhook"
)

// webhookEndpoints are the subscription endpoints: administrators manage them,
// auditors read them (and the deliveries, whose payloads hold no schedule).
func (s *Server) webhookEndpoints() []Endpoint {
	const v = "/api/v1"
	return []Endpoint{
		{Method: "GET", Path: v + "/webhooks", Roles: rAdminAud, Summary: "List webhook subscriptions", handle: s.handleListWebhooks},
		{Method: "POST", Path: v + "/webhooks", Roles: rAdmin, Summary: "Subscribe an endpoint to movement, alarm or incident events; the signing secret is shown once", handle: s.handleCreateWebhook, secret: true},
		{Method: "GET", Path: v + "/webhooks/{id}", Roles: rAdminAud, Summary: "Read a webhook subscription", handle: s.handleGetWebhook},
		{Method: "PATCH", Path: v + "/webhooks/{id}", Roles: rAdmin, Summary: "Change or disable a webhook subscription", handle: s.handleUpdateWebhook},
		{Method: "DELETE", Path: v + "/webhooks/{id}", Roles: rAdmin, Summary: "Delete a webhook subscription and its deliveries", handle: s.handleDeleteWebhook},
		{Method: "GET", Path: v + "/webhooks/{id}/deliveries", Roles: rAdminAud, Summary: "A subscription's deliveries, newest first: state, attempts, last status", handle: s.handleListDeliveries},
	}
}

func (s *Server) webhooks() (convoi.WebhookService, error) {
	if s.WebhookService == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Webhooks are not available on this server.")
	}
	return s.WebhookService, nil
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.webhooks()
	if err != nil {
		return err
	}
	hs, err := svc.FindWebhooks(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(hs, len(hs), convoi.Page{Limit: len(hs)}))
	return nil
}

type webhookCreate struct {
	URL         string                `json:"url"`
	Topics      []convoi.WebhookTopic `json:"topics"`
	Description string                `json:"description"`
	Disabled    bool                  `json:"disabled"`
}

// webhookCreated carries the signing secret: shown once, never again.
type webhookCreated struct {
	*convoi.Webhook
	Secret string `json:"secret"`
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.webhooks()
	if err != nil {
		return err
	}
	var req webhookCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	h := &convoi.Webhook{URL: req.URL, Topics: req.Topics, Description: req.Description, Disabled: req.Disabled}
	if err := h.Validate(); err != nil {
		return err
	}
	if h.Secret, err = webhook.NewSecret(); err != nil {
		return err
	}
	if err := svc.CreateWebhook(r.Context(), h); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, &webhookCreated{Webhook: h, Secret: h.Secret})
	return nil
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.webhookOfPath(r)
	if err != nil {
		return err
	}
	h, err := svc.FindWebhookByID(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.webhookOfPath(r)
	if err != nil {
		return err
	}
	var upd convoi.WebhookUpdate
	if err := decodeBody(r, &upd); err != nil {
		return err
	}
	h, err := svc.UpdateWebhook(r.Context(), id, upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.webhookOfPath(r)
	if err != nil {
		return err
	}
	if err := svc.DeleteWebhook(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.webhooks()
	if err != nil {
		return err
	}
	n, err := pathID(r)
	if err != nil {
		return err
	}
	id := convoi.WebhookID(n)
	if _, err := svc.FindWebhookByID(r.Context(), id); err != nil {
		return err
	}
	q := newQuery(r)
	f := convoi.WebhookDeliveryFilter{WebhookID: &id, Page: q.Page(),
		State: enumParam(q, "state", func(d convoi.DeliveryState) bool {
			return d == convoi.DeliveryPending || d == convoi.DeliveryDelivered || d == convoi.DeliveryFailed
		}, []convoi.DeliveryState{convoi.DeliveryPending, convoi.DeliveryDelivered, convoi.DeliveryFailed})}
	if err := q.Err(); err != nil {
		return err
	}
	ds, total, err := svc.FindWebhookDeliveries(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(ds, total, f.Page.Normalize()))
	return nil
}

// webhookOfPath returns the webhook service and the {id} path value.
func (s *Server) webhookOfPath(r *http.Request) (convoi.WebhookService, convoi.WebhookID, error) {
	svc, err := s.webhooks()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathID(r)
	return svc, convoi.WebhookID(id), err
}
