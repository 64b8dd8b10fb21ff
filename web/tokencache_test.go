package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// TestTokenCache_WritesReachAtOnce: tokens resolve from memory, and every
// change that ends or alters a token's authority, made through the API,
// holds on the very next request with the same token.
func TestTokenCache_WritesReachAtOnce(t *testing.T) {
	w := MustOpenWorld(t, nil)
	me := func(tok string, want int) convoi.User {
		t.Helper()
		var u convoi.User
		w.doJSON("GET", "/api/v1/me", tok, nil, want, &u)
		return u
	}

	// Logout revokes the session that was just answered from memory.
	tok := w.login("control1", testPassword)
	me(tok, 200)
	me(tok, 200)
	if r := w.do("DELETE", "/api/v1/session", tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	me(tok, http.StatusUnauthorized)

	// Disabling the user ends their cached session at once; enabling them
	// gives it back.
	tok = w.login("control1", testPassword)
	me(tok, 200)
	w.doJSON("PATCH", "/api/v1/users/"+itoa(w.users[control].ID), w.tokens[admin], map[string]any{"disabled": true}, 200, nil)
	me(tok, http.StatusUnauthorized)
	w.doJSON("PATCH", "/api/v1/users/"+itoa(w.users[control].ID), w.tokens[admin], map[string]any{"disabled": false}, 200, nil)
	me(tok, 200)

	// A role change is the role of the next request.
	if u := me(tok, 200); u.Role != convoi.RoleControl {
		t.Fatalf("role %s", u.Role)
	}
	w.doJSON("PATCH", "/api/v1/users/"+itoa(w.users[control].ID), w.tokens[admin], map[string]any{"role": "commander"}, 200, nil)
	if u := me(tok, 200); u.Role != convoi.RoleCommander {
		t.Fatalf("role after the change: %s", u.Role)
	}

	// An expired session is refused by the cached entry too.
	tok = w.login("auditor1", testPassword)
	me(tok, 200)
	w.clock.Add(13 * time.Hour)
	me(tok, http.StatusUnauthorized)
}
