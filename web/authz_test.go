package web_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/convoi/convoi"
)

// Role shorthands for the access policy below.
const (
	admin     = convoi.RoleAdmin
	planner   = convoi.RolePlanner
	control   = convoi.RoleControl
	commander = convoi.RoleCommander
	auditor   = convoi.RoleAuditor
	crew      = convoi.RoleCrew
	liaison   = convoi.RoleLiaison
)

// public marks the endpoints served without authentication.
var public = []convoi.Role{"<public>"}

// accessPolicy is the intended access of every endpoint, written out by hand
// and independently of the endpoint table. TestAccess fails when an endpoint
// has no row here, when a row has no endpoint, and when the endpoint table or
// the server admits a role this table does not (a loosened rule) or denies
// one it does.
var accessPolicy = map[string][]convoi.Role{
	"POST /api/v1/session":       public,
	"DELETE /api/v1/session":     {admin, planner, control, commander, auditor, crew, liaison},
	"GET /api/v1/me":             {admin, planner, control, commander, auditor, crew, liaison},
	"GET /api/v1/openapi.json":   {admin, planner, control, commander, auditor, crew, liaison},
	"GET /api/v1/tokens":         {admin, planner, control, commander, auditor, crew, liaison},
	"POST /api/v1/tokens":        {admin, planner, control, commander, auditor, crew, liaison},
	"DELETE /api/v1/tokens/{id}": {admin, planner, control, commander, auditor, crew, liaison},

	"GET /api/v1/users":        {admin, auditor},
	"POST /api/v1/users":       {admin},
	"GET /api/v1/users/{id}":   {admin, auditor},
	"PATCH /api/v1/users/{id}": {admin},

	"GET /api/v1/sites":        {admin, planner, control, commander, auditor, crew, liaison},
	"POST /api/v1/sites":       {admin, planner},
	"GET /api/v1/sites/{id}":   {admin, planner, control, commander, auditor, crew, liaison},
	"PATCH /api/v1/sites/{id}": {admin, planner},

	"GET /api/v1/detainees":        {planner, control, commander, auditor},
	"POST /api/v1/detainees":       {planner},
	"GET /api/v1/detainees/{id}":   {planner, control, commander, auditor, liaison},
	"PATCH /api/v1/detainees/{id}": {planner},

	"GET /api/v1/intelligence":      {planner, control, commander, auditor},
	"POST /api/v1/intelligence":     {planner, control, commander},
	"GET /api/v1/intelligence/{id}": {planner, control, commander, auditor},

	"GET /api/v1/movements":                  {admin, planner, control, commander, auditor, crew, liaison},
	"POST /api/v1/movements":                 {planner},
	"GET /api/v1/movements/{id}":             {admin, planner, control, commander, auditor, crew, liaison},
	"PATCH /api/v1/movements/{id}":           {planner},
	"GET /api/v1/movements/{id}/transitions": {admin, planner, control, commander, auditor, crew},
	"GET /api/v1/movements/{id}/assessments": {planner, control, commander, auditor},
	"GET /api/v1/movements/{id}/plans":       {planner, commander, auditor},
	"POST /api/v1/movements/{id}/assess":     {planner},
	"POST /api/v1/movements/{id}/plan":       {planner},
	"POST /api/v1/movements/{id}/release":    {planner, commander},
	"POST /api/v1/movements/{id}/start":      {control, crew, commander},
	"POST /api/v1/movements/{id}/complete":   {control, crew},
	"POST /api/v1/movements/{id}/cancel":     {planner},
	"POST /api/v1/movements/{id}/abort":      {control, commander},
	"POST /api/v1/movements/{id}/incident":   {control, commander, crew},
	"POST /api/v1/movements/{id}/resume":     {commander},

	"GET /api/v1/vehicles":        {admin, planner, control, commander, auditor},
	"POST /api/v1/vehicles":       {admin, planner},
	"GET /api/v1/vehicles/{id}":   {admin, planner, control, commander, auditor, crew},
	"PATCH /api/v1/vehicles/{id}": {admin, planner},

	"GET /api/v1/officers":        {admin, planner, control, commander, auditor},
	"POST /api/v1/officers":       {admin, planner},
	"GET /api/v1/officers/{id}":   {admin, planner, control, commander, auditor, crew},
	"PATCH /api/v1/officers/{id}": {admin, planner},

	"GET /api/v1/trackers":                {admin, control, commander, auditor},
	"POST /api/v1/trackers":               {admin},
	"GET /api/v1/trackers/{id}":           {admin, control, commander, auditor},
	"PATCH /api/v1/trackers/{id}":         {admin},
	"POST /api/v1/trackers/{id}/commands": {admin, control},

	"GET /api/v1/stream": {admin, planner, control, commander, auditor, crew, liaison},

	"GET /api/v1/route":         {admin, planner, control, commander, auditor, crew},
	"GET /api/v1/isochrone":     {admin, planner, control, commander, auditor, crew},
	"GET /api/v1/chokepoints":   {admin, planner, control, commander, auditor, crew},
	"GET /api/v1/policies/risk": {admin, planner, auditor},
	"PUT /api/v1/policies/risk": {admin},

	// Alarms, tracks and ETAs: never liaison (positions and the escort's
	// situation), not admin (need to know); planners and auditors read.
	"GET /api/v1/alarms":                           {planner, control, commander, auditor, crew},
	"GET /api/v1/alarms/{id}":                      {planner, control, commander, auditor, crew},
	"POST /api/v1/alarms/{id}/acknowledge":         {control, commander},
	"POST /api/v1/alarms/{id}/escalate":            {control, commander},
	"POST /api/v1/alarms/{id}/resolve":             {control, commander},
	"GET /api/v1/movements/{id}/track":             {planner, control, commander, auditor, crew},
	"GET /api/v1/movements/{id}/eta":               {planner, control, commander, auditor, crew},
	"GET /api/v1/audit/entries":                    {auditor},
	"GET /api/v1/audit/entries/{seq}":              {auditor},
	"GET /api/v1/audit/checkpoint":                 {auditor},
	"GET /api/v1/audit/proof/inclusion":            {auditor},
	"GET /api/v1/audit/proof/consistency":          {auditor},
	"GET /api/v1/movements/{id}/schedule":          {control, commander, auditor, crew},
	"GET /api/v1/movements/{id}/grants":            {planner, auditor},
	"POST /api/v1/movements/{id}/grants":           {planner},
	"DELETE /api/v1/movements/{id}/grants/{grant}": {planner},
	"GET /api/v1/policies/release":                 {admin, planner, auditor},
	"PUT /api/v1/policies/release":                 {admin},

	// Incidents (issue 13): the commander runs the response, the control
	// room reads it and records sightings, auditors read; planners, crew,
	// liaison and admin have no part in it.
	"GET /api/v1/incidents":                            {control, commander, auditor},
	"POST /api/v1/incidents":                           {commander},
	"GET /api/v1/incidents/{id}":                       {control, commander, auditor},
	"PATCH /api/v1/incidents/{id}":                     {commander},
	"GET /api/v1/incidents/{id}/reachability":          {control, commander, auditor},
	"GET /api/v1/incidents/{id}/plan":                  {control, commander, auditor},
	"GET /api/v1/incidents/{id}/sightings":             {control, commander, auditor},
	"POST /api/v1/incidents/{id}/sightings":            {control, commander},
	"POST /api/v1/incidents/{id}/units/{site}/assign":  {commander},
	"POST /api/v1/incidents/{id}/units/{site}/release": {commander},
	"GET /api/v1/incidents/{id}/alert":                 {control, commander, auditor},
	// Webhooks: admin manages subscriptions, auditors read them.
	"GET /api/v1/webhooks":                 {admin, auditor},
	"POST /api/v1/webhooks":                {admin},
	"GET /api/v1/webhooks/{id}":            {admin, auditor},
	"PATCH /api/v1/webhooks/{id}":          {admin},
	"DELETE /api/v1/webhooks/{id}":         {admin},
	"GET /api/v1/webhooks/{id}/deliveries": {admin, auditor},

	// Leak tracing: a liaison reads their own arrival variant; control and
	// commanders notify outside recipients; auditors trace.
	"GET /api/v1/movements/{id}/arrival":  {liaison},
	"GET /api/v1/movements/{id}/notices":  {commander, auditor},
	"POST /api/v1/movements/{id}/notices": {control, commander},
	"POST /api/v1/leaks/trace":            {auditor},
	"POST /api/v1/trackers/{id}/secret":   {admin},
}

// TestAccess walks every endpoint of the endpoint table with every role (and
// with no token) against the running server.
func TestAccess(t *testing.T) {
	w := MustOpenWorld(t, nil)
	routes := w.srv.Endpoints()
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		seen[key] = true
		want, ok := accessPolicy[key]
		if !ok {
			t.Errorf("%s has no row in accessPolicy: decide who may use it and add one", key)
			continue
		}
		if slices.Equal(want, public) != rt.Public {
			t.Errorf("%s: Public=%v, policy says %v", key, rt.Public, want)
		}
		if !rt.Public {
			got := sorted(rt.Roles)
			if !slices.Equal(got, sorted(want)) {
				t.Errorf("%s: endpoint table admits %v, policy says %v", key, got, sorted(want))
			}
		}
	}
	for key := range accessPolicy {
		if !seen[key] {
			t.Errorf("accessPolicy has %s, which is not a route", key)
		}
	}

	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		want := accessPolicy[key]
		path := strings.NewReplacer("{id}", idFor(w, rt.Path), "{site}", "1").Replace(rt.Path)
		body := []byte(nil)
		if rt.Method == "POST" || rt.Method == "PATCH" {
			body = []byte(`{}`)
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			w := w.with(t)
			if rt.Public {
				return
			}
			if r := w.do(rt.Method, path, "", body); r.Status != http.StatusUnauthorized || r.errorCode() != convoi.EUNAUTHORIZED {
				t.Errorf("no token: status %d %s, want 401", r.Status, r.Body)
			}
			for _, role := range convoi.Roles {
				token := w.tokens[role]
				if key == "DELETE /api/v1/session" {
					token = w.login(w.users[role].Username, testPassword) // it revokes the token it is sent with
				}
				r := w.do(rt.Method, path, token, body)
				admitted := slices.Contains(want, role)
				switch {
				case admitted && (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden):
					t.Errorf("%s: status %d, want admitted: %s", role, r.Status, r.Body)
				case !admitted && r.Status != http.StatusForbidden:
					t.Errorf("%s: status %d, want 403 (denied): %.200s", role, r.Status, r.Body)
				case !admitted && r.errorCode() != convoi.EFORBIDDEN:
					t.Errorf("%s: error code %q, want forbidden", role, r.errorCode())
				}
			}
		})
	}
}

// idFor returns an existing ID for a route's {id}: a movement every role
// that may read movements can see (crew1 is assigned, it goes to the
// liaison's court), and the first record otherwise.
func idFor(w *world, path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v1/movements/"):
		return itoa(w.toCourt.ID)
	case strings.HasPrefix(path, "/api/v1/tokens/"):
		return "999999"
	case strings.HasPrefix(path, "/api/v1/trackers/"):
		return itoa(w.tracker1.ID)
	}
	return "1"
}

func sorted(rs []convoi.Role) []convoi.Role {
	out := slices.Clone(rs)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestAuthentication(t *testing.T) {
	w := MustOpenWorld(t, nil)
	path := "/api/v1/me"
	for _, tc := range []struct {
		name, header string
	}{
		{"missing", ""},
		{"basic scheme", "Basic cGxhbm5lcjE6dGVzdA=="},
		{"empty bearer", "Bearer "},
		{"unknown token", "Bearer cvs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"no prefix", "Bearer " + strings.TrimPrefix(w.tokens[planner], "cvs_")},
		{"huge", "Bearer cvs_" + strings.Repeat("A", 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.with(t)
			var r *response
			if tc.header == "" {
				r = w.do("GET", path, "", nil)
			} else {
				r = w.do("GET", path, "", nil, "Authorization", tc.header)
			}
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("status %d (WWW-Authenticate %q), want 401", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		w := w.with(t)
		for _, body := range []string{
			`{"username":"planner1","password":"not-the-password"}`,
			`{"username":"nobody","password":"test-password"}`,
		} {
			r := w.do("POST", "/api/v1/session", "", []byte(body))
			if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "Invalid username or password") {
				t.Fatalf("%s: %d %s", body, r.Status, r.Body)
			}
		}
	})

	t.Run("bearer scheme is case-insensitive", func(t *testing.T) {
		w := w.with(t)
		if r := w.do("GET", path, "", nil, "Authorization", "bearer "+w.tokens[planner]); r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
	})

	t.Run("disabled user", func(t *testing.T) {
		w := w.with(t)
		tok := w.login("control1", testPassword)
		w.doJSON("PATCH", "/api/v1/users/"+itoa(w.users[control].ID), w.tokens[admin], map[string]any{"disabled": true}, 200, nil)
		if r := w.do("GET", path, tok, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("disabled user's token: status %d", r.Status)
		}
		if r := w.do("POST", "/api/v1/session", "", []byte(`{"username":"control1","password":"test-password"}`)); r.Status != http.StatusUnauthorized {
			t.Fatalf("disabled user's login: status %d", r.Status)
		}
		w.doJSON("PATCH", "/api/v1/users/"+itoa(w.users[control].ID), w.tokens[admin], map[string]any{"disabled": false}, 200, nil)
		w.login("control1", testPassword)
	})

	t.Run("session expires", func(t *testing.T) {
		w := w.with(t)
		tok := w.login("auditor1", testPassword)
		w.clock.Add(11 * 3600e9)
		if r := w.do("GET", path, tok, nil); r.Status != 200 {
			t.Fatalf("after 11 h: status %d", r.Status)
		}
		w.clock.Add(3600e9 + 1)
		if r := w.do("GET", path, tok, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("after 12 h: status %d", r.Status)
		}
	})

	t.Run("logout revokes", func(t *testing.T) {
		w := w.with(t)
		tok := w.login("commander1", testPassword)
		if r := w.do("DELETE", "/api/v1/session", tok, nil); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := w.do("GET", path, tok, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("after logout: status %d", r.Status)
		}
	})
}

func TestTokens(t *testing.T) {
	w := MustOpenWorld(t, nil)
	var created struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
		Kind  string `json:"kind"`
	}
	w.doJSON("POST", "/api/v1/tokens", w.tokens[control], map[string]any{"name": "wall display"}, 201, &created)
	if !strings.HasPrefix(created.Token, "cva_") || created.Kind != "api" {
		t.Fatalf("created %+v", created)
	}
	var me convoi.User
	w.doJSON("GET", "/api/v1/me", created.Token, nil, 200, &me)
	if me.Username != "control1" {
		t.Fatalf("API token authenticates as %q", me.Username)
	}
	r := w.doJSON("GET", "/api/v1/tokens", w.tokens[control], nil, 200, nil)
	if strings.Contains(string(r.Body), created.Token) || strings.Contains(string(r.Body), "hash") {
		t.Fatalf("token listing shows a secret: %s", r.Body)
	}
	// Another non-admin cannot see or revoke it.
	if r := w.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), w.tokens[planner], nil); r.Status != http.StatusNotFound {
		t.Fatalf("planner revoking control's token: %d", r.Status)
	}
	if r := w.do("GET", "/api/v1/tokens?user_id="+itoa(w.users[control].ID), w.tokens[planner], nil); r.Status != http.StatusForbidden {
		t.Fatalf("planner listing control's tokens: %d", r.Status)
	}
	if r := w.do("POST", "/api/v1/tokens", w.tokens[planner], []byte(`{"name":"x","user_id":`+itoa(w.users[admin].ID)+`}`)); r.Status != http.StatusForbidden {
		t.Fatalf("planner creating admin's token: %d", r.Status)
	}
	if r := w.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), w.tokens[control], nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := w.do("GET", "/api/v1/me", created.Token, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", r.Status)
	}
	// An admin creates a token for a machine user.
	w.doJSON("POST", "/api/v1/tokens", w.tokens[admin], map[string]any{"name": "gateway", "user_id": w.users[auditor].ID}, 201, &created)
	w.doJSON("GET", "/api/v1/me", created.Token, nil, 200, &me)
	if me.Role != auditor {
		t.Fatalf("admin-made token is %s", me.Role)
	}
}

func TestUsers(t *testing.T) {
	w := MustOpenWorld(t, nil)
	var u convoi.User
	r := w.doJSON("POST", "/api/v1/users", w.tokens[admin], map[string]any{
		"username": "liaison2", "role": "liaison", "site_id": w.hospital.ID, "password": "a-good-password",
	}, 201, &u)
	if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "a-good-password") {
		t.Fatalf("user body shows the password or its hash: %s", r.Body)
	}
	if u.CreatedBy != w.users[admin].ID {
		t.Fatalf("created_by %d, want the admin %d", u.CreatedBy, w.users[admin].ID)
	}
	tok := w.login("liaison2", "a-good-password")
	w.doJSON("PATCH", "/api/v1/users/"+itoa(u.ID), w.tokens[admin], map[string]any{"password": "another-password"}, 200, nil)
	if r := w.do("POST", "/api/v1/session", "", []byte(`{"username":"liaison2","password":"a-good-password"}`)); r.Status != 401 {
		t.Fatalf("old password still works: %d", r.Status)
	}
	w.login("liaison2", "another-password")
	_ = tok
	for name, body := range map[string]string{
		"short password":      `{"username":"x2","role":"planner","password":"short"}`,
		"crew without office": `{"username":"x3","role":"crew","password":"long-enough-1"}`,
		"bad role":            `{"username":"x4","role":"king","password":"long-enough-1"}`,
		"password hash field": `{"username":"x5","role":"planner","password":"long-enough-1","password_hash":"$argon2id$"}`,
		"duplicate":           `{"username":"planner1","role":"planner","password":"long-enough-1"}`,
	} {
		r := w.do("POST", "/api/v1/users", w.tokens[admin], []byte(body))
		want := http.StatusBadRequest
		if name == "duplicate" {
			want = http.StatusConflict
		}
		if r.Status != want {
			t.Errorf("%s: status %d, want %d: %s", name, r.Status, want, r.Body)
		}
	}
	if r := w.do("PATCH", "/api/v1/users/"+itoa(w.users[admin].ID), w.tokens[admin], []byte(`{"disabled":true}`)); r.Status != 400 {
		t.Fatalf("admin disabling themselves: %d", r.Status)
	}
}
