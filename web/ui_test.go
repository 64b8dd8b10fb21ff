package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/convoi/convoi/tiles"
	"github.com/convoi/convoi/web"
)

// The control room's page and assets are served without a token (they hold
// no data) with hardening headers; the tiles need a signed-in user.
func TestUIAndTiles(t *testing.T) {
	g := monacoGraph(t)
	w := MustOpenWorld(t, func(s *web.Server) { s.Tiles = tiles.New(g) })
	tok := w.tokens[liaison]

	r := w.do("GET", "/", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `/ui/js/app.js`) {
		t.Fatalf("GET /: %d %.200s", r.Status, r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/ui/js/app.js", "/ui/js/map.js", "/ui/app.css", "/ui/fonts/DejaVuSans.ttf",
		"/ui/vendor/maplibre-gl/maplibre-gl.mjs", "/ui/vendor/maplibre-gl/maplibre-gl-worker.mjs", "/ui/vendor/maplibre-gl/LICENSE.txt", "/ui/fonts/LICENSE"} {
		if r := w.do("GET", p, "", nil); r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", p, r.Status, len(r.Body))
		}
	}
	// Revalidation by content: 304 for the same ETag.
	js := w.do("GET", "/ui/js/app.js", "", nil)
	if tag := js.Header.Get("ETag"); tag == "" {
		t.Error("no ETag on an asset")
	} else if r := w.do("GET", "/ui/js/app.js", "", nil, "If-None-Match", tag); r.Status != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", r.Status)
	}
	if r := w.do("GET", "/ui/nothing.js", "", nil); r.Status != 404 {
		t.Errorf("unknown asset: %d", r.Status)
	}
	// The API's own 404 is untouched by the UI's routes.
	if r := w.do("GET", "/api/v1/nothing", tok, nil); r.Status != 404 || r.errorCode() != "not_found" {
		t.Errorf("unknown API path: %d %s", r.Status, r.Body)
	}

	// Tiles: authenticated.
	if r := w.do("GET", "/tiles/tiles.json", "", nil); r.Status != 401 {
		t.Errorf("tiles.json without a token: %d", r.Status)
	}
	if r := w.do("GET", "/tiles/14/8529/5974.mvt", "", nil); r.Status != 401 {
		t.Errorf("tile without a token: %d", r.Status)
	}
	var tj web.TileJSON
	r = w.do("GET", "/tiles/tiles.json", tok, nil)
	if err := json.Unmarshal(r.Body, &tj); r.Status != 200 || err != nil {
		t.Fatalf("tiles.json: %d %v", r.Status, err)
	}
	if !strings.HasSuffix(tj.Tiles[0], "/tiles/{z}/{x}/{y}.mvt") || !strings.HasPrefix(tj.Tiles[0], w.srv.URL()) ||
		!strings.Contains(tj.Attribution, "OpenStreetMap") || tj.Bounds[0] > 7.42 || tj.Bounds[2] < 7.43 {
		t.Errorf("tiles.json %+v", tj)
	}
	// Monaco's courthouse is in tile 14/8529/5974.
	const tile = "/tiles/14/8529/5974.mvt"
	gz := w.do("GET", tile, tok, nil, "Accept-Encoding", "gzip")
	if gz.Status != 200 || gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("tile: %d %v", gz.Status, gz.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.Body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	plain := w.do("GET", tile, tok, nil, "Accept-Encoding", "identity")
	if plain.Status != 200 || plain.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain.Body, raw) || len(raw) < 1000 {
		t.Errorf("uncompressed tile: %d, %d bytes, equal %v", plain.Status, len(plain.Body), bytes.Equal(plain.Body, raw))
	}
	// Paris: outside the extract, no content.
	if r := w.do("GET", "/tiles/12/2074/1409.mvt", tok, nil); r.Status != http.StatusNoContent {
		t.Errorf("empty tile: %d", r.Status)
	}
	for _, p := range []string{"/tiles/15/0/0.mvt", "/tiles/3/9/0.mvt", "/tiles/a/0/0.mvt", "/tiles/3/0/0.png"} {
		if r := w.do("GET", p, tok, nil); r.Status != 400 || r.errorCode() != "invalid" {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
}

// Without tiles the endpoints answer 503.
func TestTilesUnavailable(t *testing.T) {
	w := MustOpenWorld(t, nil)
	if r := w.do("GET", "/tiles/tiles.json", w.tokens[planner], nil); r.Status != 503 {
		t.Errorf("tiles.json: %d", r.Status)
	}
}
