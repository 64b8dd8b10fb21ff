package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web"
)

func TestBadInput(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	siteOK := `{"kind":"court","name":"Tribunal de Nice","location":{"lat":43.70,"lon":7.26}}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		message                  string // a substring of the error message
	}{
		{"malformed", "POST", "/api/v1/sites", `{"kind":"court",`, 400, "Malformed JSON"},
		{"syntax", "POST", "/api/v1/sites", `{"kind" "court"}`, 400, "Malformed JSON at byte"},
		{"unknown field", "POST", "/api/v1/sites", `{"kind":"court","name":"x","location":{"lat":1,"lon":1},"colour":"red"}`, 400, `Unknown field "colour"`},
		{"server field", "POST", "/api/v1/sites", `{"id":7,"kind":"court","name":"x","location":{"lat":1,"lon":1}}`, 400, `Unknown field "id"`},
		{"wrong type", "POST", "/api/v1/sites", `{"kind":"court","name":42,"location":{"lat":1,"lon":1}}`, 400, `Field "name" must be a string`},
		{"wrong nested type", "POST", "/api/v1/sites", `{"kind":"court","name":"x","location":{"lat":"north","lon":1}}`, 400, `"location.lat" must be a number`},
		{"array body", "POST", "/api/v1/sites", `[1,2]`, 400, "must be a JSON object"},
		{"trailing data", "POST", "/api/v1/sites", siteOK + `{}`, 400, "Unexpected data after"},
		{"empty body", "POST", "/api/v1/sites", ``, 400, "Request body required"},
		{"lat out of range", "POST", "/api/v1/sites", `{"kind":"court","name":"x","location":{"lat":91,"lon":7}}`, 400, "Coordinates out of range"},
		{"lon out of range", "POST", "/api/v1/sites", `{"kind":"court","name":"x","location":{"lat":43,"lon":-181}}`, 400, "Coordinates out of range"},
		{"entry out of range", "PATCH", "/api/v1/sites/" + itoa(w.court.ID), `{"entry":{"lat":0,"lon":500}}`, 400, "Coordinates out of range"},
		{"bad enum", "POST", "/api/v1/sites", `{"kind":"castle","name":"x","location":{"lat":1,"lon":1}}`, 400, "Site kind must be one of"},
		{"bad time", "POST", "/api/v1/intelligence", `{"detainee_id":1,"observed_at":"yesterday","grading":"B2","kind":"other","text":"x"}`, 400, "RFC 3339"},
		{"bad grading", "POST", "/api/v1/intelligence", `{"detainee_id":1,"observed_at":"2026-03-01T00:00:00Z","grading":"Z9","kind":"other","text":"x"}`, 400, "Admiralty"},
		{"duplicate ref", "POST", "/api/v1/movements", `{"ref":"MC-2026-0001","detainee_id":1,"from_site_id":1,"to_site_id":2,"purpose":"medical","appointment_at":"2026-03-03T09:00:00Z","requester":"x"}`, 409, ""},
		{"duplicate registration", "POST", "/api/v1/vehicles", `{"registration":"AB-123-CD","class":"car","capacity":1}`, 409, ""},
		{"unknown detainee", "GET", "/api/v1/detainees/9999", ``, 404, ""},
		{"bad id", "GET", "/api/v1/sites/abc", ``, 400, "positive integer"},
		{"negative id", "GET", "/api/v1/sites/-1", ``, 400, "positive integer"},
		{"unknown query", "GET", "/api/v1/sites?colour=red", ``, 400, `Unknown query parameter "colour"`},
		{"bad limit", "GET", "/api/v1/sites?limit=100000", ``, 400, "limit"},
		{"bad offset", "GET", "/api/v1/sites?offset=-1", ``, 400, "offset"},
		{"repeated query", "GET", "/api/v1/sites?kind=court&kind=prison", ``, 400, "more than once"},
		{"bad state", "GET", "/api/v1/movements?state=flying", ``, 400, "must be one of"},
		{"bad route query", "GET", "/api/v1/route?from=91,7&to=43,7", ``, 400, "Coordinates out of range"},
		{"unknown endpoint", "GET", "/api/v1/nothing", ``, 404, "No such endpoint"},
		{"wrong method", "DELETE", "/api/v1/sites", ``, 405, "not allowed"},
		{"illegal transition", "POST", "/api/v1/movements/" + itoa(w.toCourt.ID) + "/release", ``, 409, "allowed from"},
		{"action field of another action", "POST", "/api/v1/movements/" + itoa(w.toCourt.ID) + "/release", `{"escort_level":2}`, 400, "Unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" || tc.method != "GET" {
				body = []byte(tc.body)
			}
			r := w.with(t).do(tc.method, tc.path, pl, body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if !strings.Contains(string(r.Body), `"error":{"code":"`) || !strings.Contains(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("not the error shape: %s", r.Body)
			}
			var e web.ErrorResponse
			if err := json.Unmarshal(r.Body, &e); err != nil || !strings.Contains(e.Error.Message, tc.message) {
				t.Fatalf("message %s lacks %q", r.Body, tc.message)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		big := `{"kind":"court","name":"` + strings.Repeat("x", 2<<20) + `","location":{"lat":1,"lon":1}}`
		if r := w.with(t).do("POST", "/api/v1/sites", pl, []byte(big)); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", r.Status)
		}
	})
	t.Run("content type", func(t *testing.T) {
		r := w.with(t).do("POST", "/api/v1/sites", pl, []byte(siteOK), "Content-Type", "text/plain")
		if r.Status != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d", r.Status)
		}
	})
	t.Run("nothing half-written", func(t *testing.T) {
		w := w.with(t)
		var before, after struct{ Total int }
		w.doJSON("GET", "/api/v1/sites", pl, nil, 200, &before)
		w.doJSON("GET", "/api/v1/movements", pl, nil, 200, &after)
		if before.Total != 3 || after.Total != 2 {
			t.Fatalf("bad requests wrote something: %d sites, %d movements", before.Total, after.Total)
		}
		var m convoi.Movement
		w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), pl, nil, 200, &m)
		if m.State != convoi.StateRequested || m.Version != w.toCourt.Version {
			t.Fatalf("movement changed by failed requests: %+v", m)
		}
	})
}

func TestIdempotency(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	site := []byte(`{"kind":"court","name":"Tribunal de Nice","location":{"lat":43.70,"lon":7.26}}`)
	r1 := w.do("POST", "/api/v1/sites", pl, site, "Idempotency-Key", "k-1")
	if r1.Status != http.StatusCreated {
		t.Fatalf("first: %d %s", r1.Status, r1.Body)
	}
	r2 := w.do("POST", "/api/v1/sites", pl, site, "Idempotency-Key", "k-1")
	if r2.Status != http.StatusCreated || string(r2.Body) != string(r1.Body) || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (replayed=%q), want the first response %s", r2.Status, r2.Body, r2.Header.Get("Idempotent-Replayed"), r1.Body)
	}
	var l struct{ Total int }
	w.doJSON("GET", "/api/v1/sites?kind=court", pl, nil, 200, &l)
	if l.Total != 2 {
		t.Fatalf("%d courts after a replay, want 2 (one created)", l.Total)
	}
	other := []byte(`{"kind":"court","name":"Tribunal de Grasse","location":{"lat":43.66,"lon":6.92}}`)
	if r := w.do("POST", "/api/v1/sites", pl, other, "Idempotency-Key", "k-1"); r.Status != http.StatusConflict {
		t.Fatalf("same key, other body: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", "/api/v1/vehicles", pl, site, "Idempotency-Key", "k-1"); r.Status != http.StatusConflict {
		t.Fatalf("same key, other path: %d %s", r.Status, r.Body)
	}
	// Keys are per user: another user's identical key runs anew.
	if r := w.do("POST", "/api/v1/sites", w.tokens[admin], other, "Idempotency-Key", "k-1"); r.Status != http.StatusCreated {
		t.Fatalf("other user, same key: %d %s", r.Status, r.Body)
	}
	// Errors below 500 are replayed too: the request is not re-run.
	bad := []byte(`{"kind":"castle"}`)
	if r := w.do("POST", "/api/v1/sites", pl, bad, "Idempotency-Key", "k-2"); r.Status != 400 {
		t.Fatalf("bad: %d", r.Status)
	}
	if r := w.do("POST", "/api/v1/sites", pl, bad, "Idempotency-Key", "k-2"); r.Status != 400 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("bad replay: %d %v", r.Status, r.Header)
	}
	// A transition is applied once.
	path := "/api/v1/movements/" + itoa(w.toCourt.ID) + "/assess"
	body := []byte(`{"escort_level":2}`)
	for i := 0; i < 3; i++ {
		if r := w.do("POST", path, pl, body, "Idempotency-Key", "assess-1"); r.Status != 200 {
			t.Fatalf("assess %d: %d %s", i, r.Status, r.Body)
		}
	}
	var tl struct{ Items []convoi.Transition }
	w.doJSON("GET", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/transitions", pl, nil, 200, &tl)
	if n := countAction(tl.Items, convoi.ActionAssess); n != 1 {
		t.Fatalf("%d assess transitions after 3 idempotent assesses, want 1", n)
	}
	// After 24 h the key is forgotten.
	w.clock.Add(24*3600e9 + 1)
	pl = w.login("planner1", testPassword)
	if r := w.do("POST", "/api/v1/sites", pl, site, "Idempotency-Key", "k-1"); r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after 24 h: %d replayed=%q", r.Status, r.Header.Get("Idempotent-Replayed"))
	}
	// Secrets are never stored for replay.
	tok := []byte(`{"name":"display"}`)
	r := w.do("POST", "/api/v1/tokens", pl, tok, "Idempotency-Key", "tok-1")
	if r.Status != 201 {
		t.Fatalf("token: %d", r.Status)
	}
	if r := w.do("POST", "/api/v1/tokens", pl, tok, "Idempotency-Key", "tok-1"); r.Status != http.StatusConflict || strings.Contains(string(r.Body), "cva_") {
		t.Fatalf("token replay: %d %s", r.Status, r.Body)
	}
	if r := w.do("POST", "/api/v1/sites", pl, site, "Idempotency-Key", strings.Repeat("k", 300)); r.Status != 400 {
		t.Fatalf("overlong key: %d", r.Status)
	}
}

func TestIdempotency_Concurrent(t *testing.T) {
	w := MustOpenWorld(t, nil)
	pl := w.tokens[planner]
	site := []byte(`{"kind":"police","name":"Sûreté publique","location":{"lat":43.73,"lon":7.42}}`)
	const n = 8
	status := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			status <- w.do("POST", "/api/v1/sites", pl, site, "Idempotency-Key", "race").Status
		}()
	}
	for i := 0; i < n; i++ {
		if s := <-status; s != http.StatusCreated {
			t.Errorf("status %d", s)
		}
	}
	var l struct{ Total int }
	w.doJSON("GET", "/api/v1/sites?kind=police", pl, nil, 200, &l)
	if l.Total != 1 {
		t.Fatalf("%d police sites after %d concurrent identical requests, want 1", l.Total, n)
	}
}

func countAction(ts []convoi.Transition, a convoi.Action) int {
	n := 0
	for _, t := range ts {
		if t.Action == a {
			n++
		}
	}
	return n
}
