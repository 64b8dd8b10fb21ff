package risk_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/risk"
)

func TestDefaultPolicy(t *testing.T) {
	p, err := risk.ParsePolicy(risk.DefaultPolicyJSON())
	if err != nil {
		t.Fatalf("embedded policy.json: %v", err)
	}
	if p.Version == "" || len(p.Factors) != len(risk.FactorCodes) {
		t.Errorf("version %q, %d factors", p.Version, len(p.Factors))
	}
	// DefaultPolicyJSON hands out a copy.
	b := risk.DefaultPolicyJSON()
	b[0] = 'x'
	if _, err := risk.ParsePolicy(risk.DefaultPolicyJSON()); err != nil {
		t.Errorf("default policy changed by a caller: %v", err)
	}
}

// edit decodes the default policy into a generic tree, applies f, and
// re-encodes it, so that each case changes one thing.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(risk.DefaultPolicyJSON(), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m = m[k].(map[string]any)
	}
	return m
}

func elem(m map[string]any, key string, i int) map[string]any {
	return m[key].([]any)[i].(map[string]any)
}

func TestParsePolicyRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		want string // in the error message
	}{
		{"empty", []byte(""), "empty document"},
		{"not JSON", []byte("{version:"), "malformed JSON"},
		{"truncated", risk.DefaultPolicyJSON()[:100], "JSON"},
		{"trailing data", append(risk.DefaultPolicyJSON(), []byte(" {}")...), "after the JSON object"},
		{"array", []byte("[]"), "must be a"},
		{"unknown field", edit(t, func(m map[string]any) { m["weights"] = 1 }), `unknown field "weights"`},
		{"wrong type", edit(t, func(m map[string]any) { m["version"] = 3 }), "version must be a string"},
		{"no version", edit(t, func(m map[string]any) { delete(m, "version") }), "version must be"},
		{"bad version", edit(t, func(m map[string]any) { m["version"] = "v 1" }), "version must be"},
		{"unknown factor", edit(t, func(m map[string]any) { elem(m, "factors", 0)["code"] = "astrology" }), `unknown code "astrology"`},
		{"duplicate factor", edit(t, func(m map[string]any) { elem(m, "factors", 1)["code"] = "escape_history" }), "listed twice"},
		{"missing factor", edit(t, func(m map[string]any) { m["factors"] = m["factors"].([]any)[1:] }), `factor "escape_history" missing`},
		{"negative weight", edit(t, func(m map[string]any) { elem(m, "factors", 2)["weight"] = -1 }), "weight must be"},
		{"bad shape", edit(t, func(m map[string]any) { elem(m, "factors", 2)["shape"] = "cubic" }), "shape must be"},
		{"zero scale", edit(t, func(m map[string]any) { elem(m, "factors", 2)["scale"] = 0 }), "scale must be positive"},
		{"no label", edit(t, func(m map[string]any) { elem(m, "factors", 2)["label"] = " " }), "label required"},
		{"unknown intel kind", edit(t, func(m map[string]any) {
			obj(m, "intelligence", "kinds")["rumour"] = map[string]any{"factor": "intel_escape", "strength": 1, "half_life_days": 1}
		}), `unknown kind "rumour"`},
		{"missing intel kind", edit(t, func(m map[string]any) { delete(obj(m, "intelligence", "kinds"), "phone_found") }), "phone_found missing"},
		{"intel feeds a non-intel factor", edit(t, func(m map[string]any) { obj(m, "intelligence", "kinds", "other")["factor"] = "dps" }), "factor must be one of"},
		{"strength above 1", edit(t, func(m map[string]any) { obj(m, "intelligence", "kinds", "other")["strength"] = 2 }), "strength must be"},
		{"zero half-life", edit(t, func(m map[string]any) { obj(m, "intelligence", "kinds", "other")["half_life_days"] = 0 }), "half_life_days"},
		{"zero max age", edit(t, func(m map[string]any) { obj(m, "intelligence")["max_age_days"] = 0 }), "max_age_days"},
		{"reliability G", edit(t, func(m map[string]any) { obj(m, "intelligence", "reliability")["G"] = 0.1 }), `unknown grade "G"`},
		{"missing credibility 6", edit(t, func(m map[string]any) { delete(obj(m, "intelligence", "credibility"), "6") }), "credibility.6 missing"},
		{"credibility above 1", edit(t, func(m map[string]any) { obj(m, "intelligence", "credibility")["1"] = 1.5 }), "between 0 and 1"},
		{"missing purpose", edit(t, func(m map[string]any) { delete(obj(m, "purposes"), "medical") }), "purposes.medical missing"},
		{"unknown purpose", edit(t, func(m map[string]any) { obj(m, "purposes")["picnic"] = map[string]any{"value": 0} }), `unknown purpose "picnic"`},
		{"missing destination", edit(t, func(m map[string]any) { delete(obj(m, "destinations"), "hospital") }), "destinations.hospital missing"},
		{"bad chokepoint kind", edit(t, func(m map[string]any) { obj(m, "chokepoints")["Toll Booth"] = 1 }), "lower-case"},
		{"no other chokepoint", edit(t, func(m map[string]any) { delete(obj(m, "chokepoints"), "other") }), "chokepoints.other missing"},
		{"zero fallback speed", edit(t, func(m map[string]any) { obj(m, "route_fallback")["speed_kmh"] = 0 }), "speed_kmh"},
		{"three levels", edit(t, func(m map[string]any) { m["levels"] = m["levels"].([]any)[:3] }), "exactly the 4"},
		{"levels out of order", edit(t, func(m map[string]any) {
			l := m["levels"].([]any)
			l[1], l[2] = l[2], l[1]
		}), "levels[1].level must be 2"},
		{"level 1 threshold", edit(t, func(m map[string]any) { elem(m, "levels", 0)["min_score"] = 5 }), "levels[0].min_score must be 0"},
		{"thresholds not rising", edit(t, func(m map[string]any) { elem(m, "levels", 3)["min_score"] = 1 }), "greater than level 3"},
		{"crew shrinking", edit(t, func(m map[string]any) { elem(m, "levels", 3)["min_crew"] = 2 }), "must not be lower"},
		{"no meaning", edit(t, func(m map[string]any) { elem(m, "levels", 2)["meaning"] = "" }), "meaning required"},
		{"unknown qualification", edit(t, func(m map[string]any) {
			elem(m, "levels", 0)["qualifications"] = []any{map[string]any{"qualification": "pilot", "count": 1}}
		}), `unknown qualification "pilot"`},
		{"qualification above crew", edit(t, func(m map[string]any) {
			elem(m, "levels", 0)["qualifications"] = []any{map[string]any{"qualification": "armed", "count": 9}}
		}), "between 1 and min_crew"},
		{"floor on unknown factor", edit(t, func(m map[string]any) { elem(m, "floors", 0)["factor"] = "x" }), `unknown factor "x"`},
		{"floor level 5", edit(t, func(m map[string]any) { elem(m, "floors", 0)["level"] = 5 }), "between 1 and 4"},
		{"bad recommendation", edit(t, func(m map[string]any) { elem(m, "recommendations", 0)["recommendation"] = "escort" }), "recommendation must be"},
		{"recommendation without purposes", edit(t, func(m map[string]any) { elem(m, "recommendations", 0)["purposes"] = []any{} }), "at least one purpose"},
		{"negative armoured threshold", edit(t, func(m map[string]any) { obj(m, "vehicle")["armoured_min_score"] = -1 }), "armoured_min_score"},
		{"too large", append([]byte(`{"version":"x","description":"`), append(bytes.Repeat([]byte("a"), risk.MaxPolicySize), '"', '}')...), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := risk.ParsePolicy(tt.doc)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if convoi.ErrorCode(err) != convoi.EINVALID {
				t.Errorf("code %s, want %s", convoi.ErrorCode(err), convoi.EINVALID)
			}
			if msg := convoi.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q lacks %q", msg, tt.want)
			}
		})
	}
}

func TestParsePolicyAcceptsEdits(t *testing.T) {
	doc := edit(t, func(m map[string]any) {
		m["version"] = "2026-06.strict"
		elem(m, "factors", 0)["weight"] = 0 // disabling a factor is explicit
		obj(m, "chokepoints")["ferry"] = 2
		m["floors"] = []any{}
		m["recommendations"] = []any{}
	})
	p, err := risk.ParsePolicy(doc)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "2026-06.strict" || p.Factor(risk.FactorEscapeHistory).Weight != 0 || p.Chokepoints["ferry"] != 2 {
		t.Errorf("edits lost: %+v", p)
	}
	// A parsed policy re-encodes to a document that parses to the same policy.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := risk.ParsePolicy(b); err != nil {
		t.Errorf("round trip: %v", err)
	}
}

// FuzzParsePolicy checks that ParsePolicy never panics, that everything it
// accepts can be assessed with, and that it survives a JSON round trip.
// Seeds live in testdata/fuzz/FuzzParsePolicy.
func FuzzParsePolicy(f *testing.F) {
	f.Add(risk.DefaultPolicyJSON())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := risk.ParsePolicy(data)
		if err != nil {
			if convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("error code %s: %v", convoi.ErrorCode(err), err)
			}
			return
		}
		if _, err := risk.Assess(p, incarvilleInput(incarvilleIntel())); err != nil {
			t.Fatalf("accepted policy cannot assess: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := risk.ParsePolicy(b); err != nil {
			t.Fatalf("round trip rejected: %v", err)
		}
	})
}
