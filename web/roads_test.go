package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/web"
)

var monaco struct {
	once sync.Once
	g    *roadnet.Graph
	err  error
}

// monacoGraph imports the bundled Monaco extract once for all tests.
func monacoGraph(t *testing.T) *roadnet.Graph {
	t.Helper()
	monaco.once.Do(func() {
		monaco.g, monaco.err = roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	})
	if monaco.err != nil {
		t.Fatal(monaco.err)
	}
	return monaco.g
}

func TestRoads(t *testing.T) {
	g := monacoGraph(t)
	w := MustOpenWorld(t, func(s *web.Server) { s.Roads = roadnet.NewService(g) })
	tok := w.tokens[planner]
	const court, west = "43.7302,7.4222", "43.7275,7.4150"

	var rr struct {
		Routes []struct {
			DurationS float64           `json:"duration_s"`
			DistanceM float64           `json:"distance_m"`
			Geometry  []json.RawMessage `json:"geometry"`
		} `json:"routes"`
	}
	w.doJSON("GET", "/api/v1/route?from="+court+"&to="+west, tok, nil, 200, &rr)
	if len(rr.Routes) != 1 || rr.Routes[0].DurationS <= 0 || rr.Routes[0].DistanceM <= 0 || len(rr.Routes[0].Geometry) < 2 {
		t.Fatalf("route: %+v", rr)
	}
	w.doJSON("GET", "/api/v1/route?from="+court+"&to="+west+"&alternatives=2", tok, nil, 200, &rr)
	if len(rr.Routes) < 1 || len(rr.Routes) > 3 {
		t.Fatalf("alternatives: %d routes", len(rr.Routes))
	}
	w.doJSON("GET", "/api/v1/route?from="+court+"&to="+west+"&avoid=toll", tok, nil, 200, &rr)

	// The client asks for the parts it needs; by default it gets them all.
	parts := func(query string) (keys map[string]bool, points int) {
		t.Helper()
		var body struct {
			Routes []map[string]json.RawMessage `json:"routes"`
		}
		w.doJSON("GET", "/api/v1/route?from="+court+"&to="+west+query, tok, nil, 200, &body)
		if len(body.Routes) != 1 {
			t.Fatalf("%s: %d routes", query, len(body.Routes))
		}
		keys = map[string]bool{}
		for k := range body.Routes[0] {
			keys[k] = true
		}
		var geo []json.RawMessage
		if g, ok := body.Routes[0]["geometry"]; ok {
			if err := json.Unmarshal(g, &geo); err != nil {
				t.Fatal(err)
			}
		}
		return keys, len(geo)
	}
	all, full := parts("")
	if !all["geometry"] || !all["segments"] || !all["chokepoints"] || !all["duration_s"] {
		t.Fatalf("default answer has %v", all)
	}
	if k, _ := parts("&overview=none&steps=false&chokepoints=false"); k["geometry"] || k["segments"] || k["chokepoints"] || !k["duration_s"] || !k["distance_m"] {
		t.Fatalf("overview=none, no steps, no chokepoints: %v", k)
	}
	if k, _ := parts("&overview=false&steps=false"); k["geometry"] || k["segments"] || !k["chokepoints"] {
		t.Fatalf("overview=false (OSRM), no steps: %v", k)
	}
	if k, n := parts("&overview=simplified"); !k["geometry"] || n < 2 || n > full {
		t.Fatalf("simplified: %d points of %d", n, full)
	}

	for _, q := range []string{
		"/api/v1/route?from=" + court,
		"/api/v1/route?from=" + court + "&to=" + west + "&avoid=teleport",
		"/api/v1/route?from=" + court + "&to=" + west + "&alternatives=50",
		"/api/v1/route?from=" + court + "&to=" + west + "&alternatives=2&avoid=toll",
		"/api/v1/route?from=" + court + "&to=" + west + "&overview=some",
		"/api/v1/route?from=" + court + "&to=" + west + "&steps=maybe",
		"/api/v1/isochrone?at=" + court + "&minutes=5&avoid=teleport",
		"/api/v1/isochrone?at=" + court,
		"/api/v1/isochrone?at=" + court + "&minutes=-1",
		"/api/v1/isochrone?at=95,7&minutes=5",
		"/api/v1/chokepoints?bbox=43.8,7.4,43.7,7.5",
		"/api/v1/chokepoints?bbox=1,2,3",
	} {
		if r := w.do("GET", q, tok, nil); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, r.Status, r.Body)
		}
	}

	if r := w.do("GET", "/api/v1/isochrone?at="+court+"&minutes=3&avoid=tunnel", tok, nil); r.Status != 200 {
		t.Fatalf("isochrone avoiding tunnels: %d %s", r.Status, r.Body)
	}
	r := w.do("GET", "/api/v1/isochrone?at="+court+"&minutes=3", tok, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/geo+json" || !bytes.Contains(r.Body, []byte("FeatureCollection")) {
		t.Fatalf("isochrone: %d %s %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var cp struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	w.doJSON("GET", "/api/v1/chokepoints?kinds=toll,tunnel", tok, nil, 200, &cp)
	if cp.Total == 0 || cp.Total != len(cp.Items) {
		t.Fatalf("chokepoints: total %d, %d items", cp.Total, len(cp.Items))
	}
	w.doJSON("GET", "/api/v1/chokepoints?bbox=43.72,7.40,43.75,7.44", tok, nil, 200, &cp)
}

func TestRoads_NoGraph(t *testing.T) {
	w := MustOpenWorld(t, nil) // no road service
	if r := w.do("GET", "/api/v1/route?from=43.73,7.42&to=43.72,7.41", w.tokens[planner], nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("route without a graph: %d %s", r.Status, r.Body)
	}
}
