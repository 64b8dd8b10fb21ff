package web_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
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

// TestOpenAPI_MatchesEndpoints fails when the embedded OpenAPI document and
// the endpoint table drift apart, in either direction: an endpoint missing
// from either, other roles, or another authentication rule.
func TestOpenAPI_MatchesEndpoints(t *testing.T) {
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(web.OpenAPI()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	routes := map[string]web.Endpoint{}
	for _, rt := range web.New().Endpoints() {
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
				t.Errorf("%s: openapi.json x-roles %v, endpoint table %v", key, got, want)
			}
			public := op.Security != nil && len(op.Security) == 0
			if public != rt.Public {
				t.Errorf("%s: openapi.json public=%v, endpoint table %v", key, public, rt.Public)
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

// TestOpenAPI_RequiredFields fails when the document and the server
// disagree on what a request body must hold:
//   - a body schema with required properties must be a required body;
//   - for every movement action, each documented body property is
//     required exactly when the server's validation of the action
//     (convoi.TransitionRequest.Validate, which the handler applies)
//     refuses the body without it;
//   - the server answers such an action posted with {} with a 400 that
//     names a required field.
func TestOpenAPI_RequiredFields(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Roles       []convoi.Role `json:"x-roles"`
			RequestBody *struct {
				Required bool `json:"required"`
				Content  map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		}
		return s
	}
	strs := func(v any) []string {
		var out []string
		if a, ok := v.([]any); ok {
			for _, x := range a {
				out = append(out, x.(string))
			}
		}
		return out
	}
	w := MustOpenWorld(t, nil)
	actions := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			key := method + " " + path
			schema := resolve(op.RequestBody.Content["application/json"].Schema)
			required := strs(schema["required"])
			if len(required) > 0 && !op.RequestBody.Required {
				t.Errorf("%s: the body requires %v but is marked optional", key, required)
			}
			action, isAction := strings.CutPrefix(path, "/api/v1/movements/{id}/")
			if !isAction || method != "post" || !convoi.Action(action).Valid() {
				continue
			}
			actions++
			props, _ := schema["properties"].(map[string]any)
			// A body with every documented property set to a valid value.
			full := map[string]any{}
			for name, p := range props {
				p := resolve(p.(map[string]any))
				switch {
				case len(strs(p["enum"])) > 0:
					full[name] = strs(p["enum"])[0]
				case p["type"] == "string":
					full[name] = "Checked with the control room."
				}
			}
			validates := func(body map[string]any) error {
				raw, _ := json.Marshal(body)
				req := convoi.TransitionRequest{Action: convoi.Action(action)}
				if err := json.Unmarshal(raw, &req); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				return req.Validate()
			}
			if err := validates(full); err != nil {
				t.Errorf("%s: the server refuses a body with every documented field: %v", key, err)
				continue
			}
			for name := range props {
				if _, set := full[name]; !set {
					continue
				}
				without := maps.Clone(full)
				delete(without, name)
				needed := validates(without) != nil
				if documented := slices.Contains(required, name); needed != documented {
					t.Errorf("%s: %q required by the server %v, by openapi.json %v", key, name, needed, documented)
				}
			}
			if len(required) == 0 {
				continue
			}
			// Through the server: {} is refused, naming what is missing.
			r := w.do("POST", strings.Replace(path, "{id}", strconv.FormatInt(int64(w.toCourt.ID), 10), 1), w.tokens[op.Roles[0]], []byte(`{}`))
			if r.Status != 400 || !slices.ContainsFunc(required, func(f string) bool { return bytes.Contains(r.Body, []byte(f)) }) {
				t.Errorf("%s with {}: %d %s; want 400 naming one of %v", key, r.Status, r.Body, required)
			}
		}
	}
	if actions < 8 {
		t.Fatalf("checked %d movement actions", actions)
	}
}

// TestOpenAPI_PlanOptions: the options the document advertises for a plan
// are exactly the fields the planning service takes.
func TestOpenAPI_PlanOptions(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for k := range doc.Components.Schemas["PlanOptions"].Properties {
		documented = append(documented, k)
	}
	var fields []string
	rt := reflect.TypeFor[convoi.PlanOptions]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	slices.Sort(documented)
	slices.Sort(fields)
	if got, want := documented, fields; !slices.Equal(got, want) {
		t.Fatalf("PlanOptions documented %v, convoi.PlanOptions has %v", got, want)
	}
}

// TestOpenAPI_QueryParameters: every query parameter the document
// advertises is one the server reads (an unknown one is a 400 that names it).
func TestOpenAPI_QueryParameters(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	w := MustOpenWorld(t, nil)
	checked := 0
	for path, ops := range doc.Paths {
		op, ok := ops["get"]
		if !ok || strings.HasSuffix(path, "/stream") {
			continue
		}
		for _, p := range op.Params {
			if p.In != "query" {
				continue
			}
			url := strings.ReplaceAll(path, "{id}", "1") + "?" + p.Name + "=1"
			r := w.do("GET", url, w.tokens[convoi.RoleAdmin], nil)
			if bytes.Contains(r.Body, []byte("Unknown query parameter")) {
				t.Errorf("%s documents ?%s, which the server refuses: %s", path, p.Name, r.Body)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d query parameters checked", checked)
	}
}
