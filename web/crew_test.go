package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// TestMovements_CrewCannotSeeUncrewed: a movement just requested, with no
// crew yet, is 404 for crew (read, transitions, actions) and absent from
// their listing, while control sees it. The seeded movements all have a
// crew, so this is the case that catches a rule letting crew see crewless
// movements.
func TestMovements_CrewCannotSeeUncrewed(t *testing.T) {
	w := MustOpenWorld(t, nil)
	var m convoi.Movement
	w.doJSON("POST", "/api/v1/movements", w.tokens[planner], map[string]any{
		"ref": "MC-2026-0200", "detainee_id": w.detainee.ID, "from_site_id": w.prison.ID, "to_site_id": w.hospital.ID,
		"purpose": "medical", "appointment_at": w.clock.Now().Add(6 * time.Hour), "requester": "Dr W",
	}, 201, &m)
	if len(m.Crew) != 0 || m.State != convoi.StateRequested {
		t.Fatalf("created %+v, want a requested movement without crew", m)
	}
	tok := w.tokens[crew]
	base := "/api/v1/movements/" + itoa(m.ID)
	for _, p := range []string{"", "/transitions"} {
		if r := w.do("GET", base+p, tok, nil); r.Status != http.StatusNotFound {
			t.Errorf("crew reading an uncrewed movement%s: %d %s, want 404", p, r.Status, r.Body)
		}
	}
	if r := w.do("POST", base+"/incident", tok, []byte(`{"reason":"x"}`)); r.Status != http.StatusNotFound {
		t.Errorf("crew acting on an uncrewed movement: %d, want 404", r.Status)
	}
	var l movementList
	w.doJSON("GET", "/api/v1/movements", tok, nil, 200, &l)
	for _, it := range l.Items {
		if it["ref"] == m.Ref {
			t.Fatal("crew lists the uncrewed movement")
		}
	}
	w.doJSON("GET", base, w.tokens[control], nil, 200, nil)
}
