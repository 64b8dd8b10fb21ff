package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/webhook"
)

// TestWebhooks_AdminSubscribes: the secret is shown once and signs what
// the sender delivers; listings never show it; bad subscriptions are 400.
func TestWebhooks_AdminSubscribes(t *testing.T) {
	w := MustOpenWorld(t, nil)
	svc := w.srv.WebhookService
	admin := w.tokens[convoi.RoleAdmin]

	for name, body := range map[string]map[string]any{
		"no topics":    {"url": "http://127.0.0.1:9/x"},
		"bad topic":    {"url": "http://127.0.0.1:9/x", "topics": []string{"position"}},
		"not http":     {"url": "file:///etc/passwd", "topics": []string{"alarm"}},
		"credentials":  {"url": "http://u:p@127.0.0.1:9/x", "topics": []string{"alarm"}},
		"control char": {"url": "http://127.0.0.1:9/x", "topics": []string{"alarm"}, "description": "a\x1b[2Jb"},
	} {
		if r := w.doJSON("POST", "/api/v1/webhooks", admin, body, http.StatusBadRequest, nil); !strings.Contains(string(r.Body), "invalid") {
			t.Errorf("%s: %s", name, r.Body)
		}
	}

	var created struct {
		ID     convoi.WebhookID `json:"id"`
		Secret string           `json:"secret"`
	}
	w.doJSON("POST", "/api/v1/webhooks", admin, map[string]any{"url": "http://127.0.0.1:9/hook", "topics": []string{"alarm", "incident"}},
		http.StatusCreated, &created)
	if !strings.HasPrefix(created.Secret, webhook.SecretPrefix) {
		t.Fatalf("secret %q", created.Secret)
	}
	for _, path := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + itoa(int64(created.ID))} {
		r := w.do("GET", path, w.tokens[convoi.RoleAuditor], nil)
		if r.Status != 200 || strings.Contains(string(r.Body), strings.TrimPrefix(created.Secret, webhook.SecretPrefix)) || strings.Contains(string(r.Body), "secret") {
			t.Fatalf("GET %s: %d, shows the secret: %s", path, r.Status, r.Body)
		}
	}
	stored, err := svc.FindWebhookByID(context.Background(), created.ID)
	w.must(err)
	if stored.Secret != created.Secret {
		t.Fatal("the secret shown is not the one stored")
	}
	w.doJSON("PATCH", "/api/v1/webhooks/"+itoa(int64(created.ID)), admin, map[string]any{"disabled": true}, http.StatusOK, nil)
	w.doJSON("GET", "/api/v1/webhooks/"+itoa(int64(created.ID))+"/deliveries", admin, nil, http.StatusOK, nil)
	w.doJSON("DELETE", "/api/v1/webhooks/"+itoa(int64(created.ID)), admin, nil, http.StatusNoContent, nil)
	w.doJSON("GET", "/api/v1/webhooks/"+itoa(int64(created.ID)), admin, nil, http.StatusNotFound, nil)
}
