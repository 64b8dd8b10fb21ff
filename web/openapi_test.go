package web_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web"
)

type openAPIDoc struct {
	OpenAPI    string                           `json:"openapi"`
	Paths      map[string]map[string]openAPIOp  `json:"paths"`
	Components struct{ Schemas map[string]any } `json:"components"`
	Security   []map[string][]string            `json:"security"`
}

type openAPIOp struct {
	Summary  string                `json:"summary"`
	Roles    []convoi.Role         `json:"x-roles"`
	Security []map[string][]string `json:"security"`
	Params   []openAPIParam        `json:"parameters"`
}

type openAPIParam struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

// TestOpenAPI_MatchesRoutes fails when the embedded OpenAPI document and
// the route table drift apart, in either direction: an endpoint missing
// from either, other roles, or another authentication rule.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(web.OpenAPI()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	routes := map[string]web.Route{}
	for _, rt := range web.New().Routes() {
		routes[strings.ToLower(rt.Method)+" "+rt.Path] = rt
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := method + " " + path
			inDoc[key] = true
			rt, ok := routes[key]
			if !ok {
				t.Errorf("openapi.json documents %s, which the server does not serve", key)
				continue
			}
			if got, want := sorted(op.Roles), sorted(rt.Roles); !slices.Equal(got, want) {
				t.Errorf("%s: openapi.json x-roles %v, route table %v", key, got, want)
			}
			public := op.Security != nil && len(op.Security) == 0
			if public != rt.Public {
				t.Errorf("%s: openapi.json public=%v, route table %v", key, public, rt.Public)
			}
			if strings.Contains(path, "{id}") && !slices.ContainsFunc(op.Params, func(p openAPIParam) bool {
				return p.Name == "id" && p.In == "path"
			}) {
				t.Errorf("%s: the id path parameter is not documented", key)
			}
			if op.Summary == "" {
				t.Errorf("%s: no summary", key)
			}
		}
	}
	for key := range routes {
		if !inDoc[key] {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}

	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref": "#/components/schemas/([A-Za-z]+)"`).FindAllSubmatch(web.OpenAPI(), -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}

func TestOpenAPI_Served(t *testing.T) {
	w := MustOpenWorld(t, nil)
	r := w.do("GET", "/api/v1/openapi.json", w.tokens[liaison], nil)
	if r.Status != 200 || !bytes.Equal(r.Body, web.OpenAPI()) {
		t.Fatalf("served document differs from the embedded one (status %d)", r.Status)
	}
}
