package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/web"
)

// E9: a body of null is not an empty object, on any endpoint that takes a
// body; nothing changes.
func TestHardening_NullBodyRefused(t *testing.T) {
	w := MustOpenWorld(t, nil)
	before, err := w.srv.MovementService.FindMovementByID(t.Context(), w.toCourt.ID)
	w.must(err)
	for _, rt := range w.srv.Endpoints() {
		if rt.Public || (rt.Method != "POST" && rt.Method != "PATCH" && rt.Method != "PUT") {
			continue
		}
		path := strings.ReplaceAll(rt.Path, "{id}", idFor(w, rt.Path))
		role := rt.Roles[0]
		r := w.do(rt.Method, path, w.tokens[role], []byte("null"))
		if r.Status < 400 {
			t.Errorf("%s %s with null as %s: %d %s", rt.Method, rt.Path, role, r.Status, r.Body)
		}
	}
	after, err := w.srv.MovementService.FindMovementByID(t.Context(), w.toCourt.ID)
	w.must(err)
	if after.Version != before.Version || after.State != before.State {
		t.Fatalf("a null body changed the movement: %s v%d -> %s v%d", before.State, before.Version, after.State, after.Version)
	}
}

// E9: a site needs a location; text fields are bounded and refuse NUL and
// terminal escapes.
func TestHardening_SiteInput(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	for name, body := range map[string]map[string]any{
		"no location":    {"kind": "court", "name": "Tribunal"},
		"zero location":  {"kind": "court", "name": "Tribunal", "location": map[string]float64{"lat": 0, "lon": 0}},
		"huge name":      {"kind": "court", "name": strings.Repeat("x", 1_000_000), "location": w.court.Location},
		"NUL in name":    {"kind": "court", "name": "Tri\x00bunal", "location": w.court.Location},
		"escape in name": {"kind": "court", "name": "Tri\x1b[2Jbunal", "location": w.court.Location},
		"huge address":   {"kind": "court", "name": "Tribunal", "address": strings.Repeat("y", 5000), "location": w.court.Location},
	} {
		r := w.do("POST", "/api/v1/sites", pl, mustMarshal(t, body))
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s", name, r.Status, r.Body)
		}
	}
	w.doJSON("PATCH", "/api/v1/sites/"+itoa(w.court.ID), pl, map[string]any{"name": "a\x07b"}, http.StatusBadRequest, nil)
	// Other free-text fields, through their endpoints.
	w.doJSON("POST", "/api/v1/detainees", pl, map[string]any{"name": "A\x00B", "legal_status": "remand", "site_id": w.prison.ID}, http.StatusBadRequest, nil)
	w.doJSON("POST", "/api/v1/vehicles", w.tokens[admin], map[string]any{"registration": strings.Repeat("Z", 10000), "class": "cellular_van", "capacity": 1, "site_id": w.prison.ID}, http.StatusBadRequest, nil)
	w.doJSON("POST", "/api/v1/intelligence", pl, map[string]any{"detainee_id": w.detainee.ID, "observed_at": w.clock.Now(), "grading": "B2", "kind": "escape_tools", "text": "x\x1b]0;pwned\x07"}, http.StatusBadRequest, nil)
	w.doJSON("POST", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/cancel", pl, map[string]any{"cancel_reason": "court_cancelled", "reason": strings.Repeat("r", 100_000)}, http.StatusBadRequest, nil)
	// Tabs, newlines and accents stay allowed.
	w.doJSON("POST", "/api/v1/sites", pl, map[string]any{"kind": "court", "name": "Tribunal d'Évreux", "address": "1 rue\tX\n27000", "location": w.court.Location}, http.StatusCreated, nil)
}

// E9: a body over the limit is 413 on the risk policy too.
func TestHardening_PolicyBodyTooLarge(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) {
		rs := risk.NewService()
		rs.Now = s.Now
		s.Risk = rs
	})
	_ = sqlite.NewDB
	body := bytes.Repeat([]byte(" "), 10<<20)
	r := w.do("PUT", "/api/v1/policies/risk", w.tokens[admin], body)
	if r.Status != http.StatusRequestEntityTooLarge || r.errorCode() != convoi.EINVALID {
		t.Fatalf("10 MB policy: %d %s", r.Status, r.Body)
	}
}

// E5: an admin's password reset ends the user's sessions and API tokens;
// the admin's own are untouched, and the new password logs in.
func TestHardening_PasswordResetRevokes(t *testing.T) {
	w := MustOpenWorld(t, nil)
	victim := w.users[control]
	session := w.tokens[control]
	var api struct {
		Token string `json:"token"`
	}
	w.doJSON("POST", "/api/v1/tokens", session, map[string]any{"name": "script"}, http.StatusCreated, &api)
	w.doJSON("GET", "/api/v1/me", api.Token, nil, http.StatusOK, nil)

	// Another change than the password revokes nothing.
	w.doJSON("PATCH", "/api/v1/users/"+itoa(victim.ID), w.tokens[admin], map[string]any{"name": "Control Room"}, http.StatusOK, nil)
	w.doJSON("GET", "/api/v1/me", session, nil, http.StatusOK, nil)

	w.doJSON("PATCH", "/api/v1/users/"+itoa(victim.ID), w.tokens[admin], map[string]any{"password": "a-brand-new-password"}, http.StatusOK, nil)
	for name, tok := range map[string]string{"session": session, "api token": api.Token} {
		if r := w.do("GET", "/api/v1/me", tok, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s after the reset: %d", name, r.Status)
		}
	}
	w.doJSON("GET", "/api/v1/me", w.tokens[admin], nil, http.StatusOK, nil)
	w.login(victim.Username, "a-brand-new-password")
}

// E7: /metrics needs an admin's or auditor's token, and counts no release
// or start by name: actions on movements share one label.
func TestHardening_MetricsProtected(t *testing.T) {
	w := MustOpenWorld(t, nil)
	w.underway()
	if r := w.do("GET", "/metrics", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous /metrics: %d", r.Status)
	}
	if r := w.do("GET", "/metrics", w.tokens[crew], nil); r.Status != http.StatusForbidden {
		t.Fatalf("crew /metrics: %d", r.Status)
	}
	r := w.do("GET", "/metrics", w.tokens[auditor], nil)
	if r.Status != http.StatusOK {
		t.Fatalf("auditor /metrics: %d", r.Status)
	}
	m := string(r.Body)
	for _, a := range []string{"{id}/release", "{id}/start", "{id}/assess", "{id}/plan"} {
		if strings.Contains(m, a) {
			t.Errorf("metrics name the %s action:\n%s", a, grepLines(m, a))
		}
	}
	if !strings.Contains(m, `route="POST /api/v1/movements/{id}/{action}"`) {
		t.Errorf("actions not counted under one label:\n%s", grepLines(m, "movements"))
	}
}

// E2: one user cannot take every stream slot, and slots are kept for
// control and commanders.
func TestHardening_StreamSlots(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) {
		withBus(s)
		s.MaxStreams, s.MaxStreamsPerUser, s.StreamsReserved = 6, 2, 2
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.openStream(ctx, w.tokens[liaison])
	w.openStream(ctx, w.tokens[liaison])
	if r := w.do("GET", "/api/v1/stream", w.login(w.users[liaison].Username, testPassword), nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("third stream of one user (another session): %d %s", r.Status, r.Body)
	}
	w.openStream(ctx, w.tokens[crew])
	w.openStream(ctx, w.tokens[planner])
	if r := w.do("GET", "/api/v1/stream", w.tokens[auditor], nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("unreserved slots full: auditor got %d", r.Status)
	}
	w.openStream(ctx, w.tokens[control])
	w.openStream(ctx, w.tokens[commander])
}

// E1: wrong passwords are throttled per account and per address (429 with
// Retry-After), unknown accounts exactly like known ones; a success
// resets the account; the throttle expires.
func TestHardening_LoginThrottled(t *testing.T) {
	w := MustOpenWorld(t, nil)
	try := func(user, pw string) *response {
		return w.do("POST", "/api/v1/session", "", mustMarshal(t, map[string]string{"username": user, "password": pw}))
	}
	firstRefusal := func(user string) int {
		for i := 1; i <= 200; i++ {
			r := try(user, "wrong-password-"+itoa(int64(i)))
			switch r.Status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				if r.Header.Get("Retry-After") == "" {
					t.Fatalf("%s: 429 without Retry-After", user)
				}
				return i
			default:
				t.Fatalf("%s: attempt %d: %d %s", user, i, r.Status, r.Body)
			}
		}
		return 0
	}
	known := firstRefusal("control1")
	if known == 0 || known > 20 {
		t.Fatalf("known account: first 429 at attempt %d", known)
	}
	// While the account is throttled even its right password is refused.
	if r := try("control1", testPassword); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right password on a throttled account: %d", r.Status)
	}
	w.clock.Add(time.Hour)
	unknown := firstRefusal("nobody-here")
	if unknown != known {
		t.Fatalf("unknown account throttled at %d, known at %d", unknown, known)
	}
	w.clock.Add(time.Hour)
	// A success resets the account's count.
	for range known - 2 {
		try("planner1", "wrong")
	}
	w.login("planner1", testPassword)
	for range known - 2 {
		if r := try("planner1", "wrong"); r.Status != http.StatusUnauthorized {
			t.Fatalf("after a success: %d", r.Status)
		}
	}
	// One address trying many accounts is throttled as an address.
	w.clock.Add(time.Hour)
	got429 := false
	for i := range 200 {
		if try("user"+itoa(int64(i)), "wrong").Status == http.StatusTooManyRequests {
			got429 = true
			break
		}
	}
	if !got429 {
		t.Fatal("200 accounts from one address: never throttled")
	}
}

// E1: a login waits a bounded time for a password-hashing slot, then 503.
func TestHardening_LoginWaitBounded(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) { s.LoginWait = 50 * time.Millisecond })
	slots := w.srv.HashSlots()
	for range cap(slots) {
		slots <- struct{}{}
	}
	r := w.do("POST", "/api/v1/session", "", mustMarshal(t, map[string]string{"username": "control1", "password": testPassword}))
	for range cap(slots) {
		<-slots
	}
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("login with every hashing slot taken: %d %s", r.Status, r.Body)
	}
	w.login("control1", testPassword)
}

// E3: device commands are allowed per role, as data; a command that would
// re-point or reconfigure a tracker is refused to everyone.
func TestHardening_TrackerCommandPolicy(t *testing.T) {
	w := MustOpenWorld(t, nil)
	path := "/api/v1/trackers/" + itoa(w.tracker1.ID) + "/commands"
	for _, tc := range []struct {
		role    convoi.Role
		command string
		allowed bool
	}{
		{control, "getinfo", true},
		{control, "getgps", true},
		{control, "setdigout 1", true},
		{admin, "getparam 2004", true},
		{control, "setparam 2004:attacker.example", false},
		{admin, "setparam 2004:attacker.example", false},
		{admin, "setparam 2005:5027", false},
		{control, "flush 356307042441013,internet,,,attacker.example,5027,0", false},
		{control, "getparam 2004", false},
		{control, "cpureset", false},
		{admin, "cpureset", true},
		{control, "getinfo extra", false},
		{control, "setdigout 1;setparam 2004:x", false},
		{control, "unknowncmd", false},
		{control, "GETINFO", true},
	} {
		r := w.do("POST", path, w.tokens[tc.role], mustMarshal(t, map[string]string{"command": tc.command}))
		refused := r.Status == http.StatusForbidden || r.Status == http.StatusBadRequest
		if refused == tc.allowed {
			t.Errorf("%s %q: %d %s", tc.role, tc.command, r.Status, r.Body)
		}
	}
}

// E4: an admin issues an MQTT tracker's secret, shown once; only its hash
// is stored, and a new one replaces it.
func TestHardening_DeviceSecret(t *testing.T) {
	w := MustOpenWorld(t, nil)
	gw := &convoi.Tracker{DeviceID: "gw-rouen-1", Protocol: convoi.ProtocolMQTT}
	w.must(w.srv.TrackerService.CreateTracker(t.Context(), gw))
	var out struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	w.doJSON("POST", "/api/v1/trackers/"+itoa(gw.ID)+"/secret", w.tokens[admin], nil, http.StatusCreated, &out)
	if out.Username != "gw-rouen-1" || len(out.Password) < 40 {
		t.Fatalf("credentials %+v", out)
	}
	h, err := w.srv.DeviceSecretService.FindDeviceSecret(t.Context(), "gw-rouen-1")
	w.must(err)
	if sum := sha256.Sum256([]byte(out.Password)); !bytes.Equal(h, sum[:]) {
		t.Fatal("stored hash is not the secret's")
	}
	first := out.Password
	w.doJSON("POST", "/api/v1/trackers/"+itoa(gw.ID)+"/secret", w.tokens[admin], nil, http.StatusCreated, &out)
	if h2, _ := w.srv.DeviceSecretService.FindDeviceSecret(t.Context(), "gw-rouen-1"); out.Password == first || bytes.Equal(h, h2) {
		t.Fatal("a new secret did not replace the old")
	}
	w.doJSON("POST", "/api/v1/trackers/"+itoa(w.tracker1.ID)+"/secret", w.tokens[admin], nil, http.StatusBadRequest, nil)
}

// E1: one address has at most one login waiting for or using a hashing
// slot; more are refused at once, so that a flood cannot queue ahead of
// everyone else.
func TestHardening_LoginsInFlightPerAddress(t *testing.T) {
	w := MustOpenWorld(t, func(s *web.Server) { s.LoginWait = 10 * time.Second })
	slots := w.srv.HashSlots()
	for range cap(slots) {
		slots <- struct{}{}
	}
	body := mustMarshal(t, map[string]string{"username": "nobody", "password": "wrong-password"})
	done := make(chan int, 1)
	go func() { done <- w.do("POST", "/api/v1/session", "", body).Status }()
	time.Sleep(200 * time.Millisecond) // it waits for a slot
	// Without the cap it would wait for a slot (LoginWait) and get 503.
	if r := w.do("POST", "/api/v1/session", "", body); r.Status != http.StatusTooManyRequests {
		t.Fatalf("second login in flight: %d %s", r.Status, r.Body)
	}
	for range cap(slots) {
		<-slots
	}
	if st := <-done; st != http.StatusUnauthorized {
		t.Fatalf("the waiting login ended with %d", st)
	}
}

// E3: every tracker command, refused or sent, is in the audit log by name
// (never its arguments, which may hold a server address).
func TestHardening_CommandsAudited(t *testing.T) {
	w := MustOpenWorld(t, nil)
	path := "/api/v1/trackers/" + itoa(w.tracker1.ID) + "/commands"
	w.do("POST", path, w.tokens[control], mustMarshal(t, map[string]string{"command": "setparam 2004:attacker.example"}))
	w.do("POST", path, w.tokens[control], mustMarshal(t, map[string]string{"command": "getinfo"}))
	var out struct {
		Items []convoi.AuditEntry `json:"items"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.doJSON("GET", "/api/v1/audit/entries?object=tracker:"+itoa(w.tracker1.ID), w.tokens[auditor], nil, http.StatusOK, &out)
		if len(out.Items) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := map[string]convoi.AuditOutcome{}
	for _, e := range out.Items {
		if strings.Contains(e.Detail, "attacker") {
			t.Fatalf("an argument reached the audit log: %+v", e)
		}
		for _, c := range []string{"setparam", "getinfo"} {
			if strings.Contains(e.Detail, "command "+c) {
				got[c] = e.Outcome
			}
		}
	}
	if got["setparam"] != convoi.AuditRefused || got["getinfo"] == "" {
		t.Fatalf("commands in the audit log: %v (entries %+v)", got, out.Items)
	}
}
