package web

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// FuzzIncidentBodies checks the decoding and validation of the bodies of
// POST /incidents (by hand), PATCH /incidents/{id} and POST
// /incidents/{id}/sightings: never a panic, only EINVALID errors with a
// message, and what is accepted is within the domain's bounds.
func FuzzIncidentBodies(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"place":{"lat":43.7445,"lon":7.3755},"attack_at":"2026-05-14T09:30:00+02:00","vehicles_sought":["grey SUV"]}`,
		`{"place":{"lat":91,"lon":0},"attack_at":"2026-05-14T09:30:00Z"}`, `{"vehicles_sought":[""]}`, `{"state":"closed"}`,
		`{"state":"lost"}`, `{"place":{"lat":43.72,"lon":7.40},"confidence":0.5,"time":"2026-05-14T09:34:00Z"}`,
		`{"confidence":0}`, `{"confidence":1e309}`, `{"route":[1,2]}`, `[]`, `null`, `{"place":{"lat":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	check := func(t *testing.T, what string, err error) bool {
		t.Helper()
		if err != nil {
			if convoi.ErrorCode(err) != convoi.EINVALID || convoi.ErrorMessage(err) == "" {
				t.Fatalf("%s: error %v is not an EINVALID with a message", what, err)
			}
			return false
		}
		return true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d declareBody
		if check(t, "declare", decodeJSON(data, &d, false)) {
			inc := &convoi.Incident{PlaceName: d.PlaceName, VehiclesSought: d.VehiclesSought, Instructions: d.Instructions}
			if d.Place != nil {
				inc.Place = *d.Place
			}
			if d.AttackAt != nil {
				inc.AttackAt = *d.AttackAt
			}
			if check(t, "declare validate", inc.Validate()) {
				if inc.Place.IsZero() || inc.AttackAt.IsZero() || len(inc.VehiclesSought) > convoi.MaxVehiclesSought || len(inc.Instructions) > convoi.MaxIncidentText {
					t.Fatalf("accepted %+v", inc)
				}
			}
		}
		var u convoi.IncidentUpdate
		if check(t, "update", decodeJSON(data, &u, false)) && check(t, "update state", u.Validate()) {
			inc := &convoi.Incident{Place: convoi.LatLon{Lat: 43.7, Lon: 7.4}, AttackAt: time.Unix(1, 0), State: convoi.IncidentActive}
			u.Apply(inc)
			if check(t, "update validate", inc.Validate()) && !inc.State.Valid() {
				t.Fatalf("accepted state %q", inc.State)
			}
		}
		var sb sightingBody
		if check(t, "sighting", decodeJSON(data, &sb, false)) {
			sg := &convoi.Sighting{Place: sb.Place, Confidence: 1, Time: time.Unix(1, 0)}
			if sb.Confidence != nil {
				sg.Confidence = *sb.Confidence
			}
			if check(t, "sighting validate", sg.Validate()) && !(sg.Confidence > 0 && sg.Confidence <= 1) {
				t.Fatalf("accepted confidence %v", sg.Confidence)
			}
		}
	})
}
