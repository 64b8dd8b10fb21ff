package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// TestIncidents_Stream: incident events reach control, commander and
// auditor, never planners, crew, liaison or admin; without the response
// engine a sighting is stored all the same and its plan is null.
func TestIncidents_Stream(t *testing.T) {
	w := MustOpenWorld(t, withAlarms)
	w.underway()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := map[convoi.Role]<-chan sseEvent{}
	for _, role := range convoi.Roles {
		streams[role] = w.openStream(ctx, w.tokens[role])
	}
	now := w.clock.Now()
	var inc convoi.Incident
	w.doJSON("POST", "/api/v1/incidents", w.tokens[commander], map[string]any{
		"place": map[string]float64{"lat": 43.7445, "lon": 7.3755}, "attack_at": now.Add(-time.Minute),
		"vehicles_sought": []string{"grey SUV"},
	}, 201, &inc)
	var res struct {
		Sighting *convoi.Sighting `json:"sighting"`
		Plan     *struct{}        `json:"plan"`
	}
	w.doJSON("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/sightings", w.tokens[control], map[string]any{
		"place": map[string]float64{"lat": 43.7219, "lon": 7.4052}, "confidence": 0.8,
	}, 201, &res)
	if res.Sighting == nil || res.Sighting.ID == 0 || res.Plan != nil {
		t.Fatalf("sighting answer %+v", res)
	}
	var got convoi.Incident
	w.doJSON("GET", "/api/v1/incidents/"+itoa(inc.ID), w.tokens[auditor], nil, 200, &got)
	if got.Version != 2 {
		t.Fatalf("version %d after a sighting", got.Version)
	}
	w.doJSON("GET", "/api/v1/incidents/"+itoa(inc.ID)+"/plan", w.tokens[commander], nil, 503, nil)
	w.doJSON("POST", "/api/v1/movements/"+itoa(w.toCourt.ID)+"/complete", w.tokens[crew], nil, 200, nil) // the sentinel

	isEnd := func(e sseEvent) bool {
		return e.Type == "movement" && e.Data.Movement != nil &&
			(e.Data.Movement.State == convoi.StateCompleted || strings.Contains(e.Raw, `"status":"arrived"`))
	}
	for role, ch := range streams {
		evs := collect(t, ch, isEnd)
		n := 0
		for _, e := range evs {
			if e.Type == "incident" {
				n++
				if e.Data.Incident == nil || e.Data.Incident.Incident == nil || e.Data.Incident.Incident.ID != inc.ID {
					t.Errorf("%s: incident event %s", role, e.Raw)
				}
			}
		}
		want := 0
		if role == control || role == commander || role == auditor {
			want = 2
		}
		if n != want {
			t.Errorf("%s received %d incident events, want %d", role, n, want)
		}
	}
}
