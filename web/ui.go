package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/web/ui"
)

// TileJSON is the TileJSON 3.0.0 document of GET /tiles/tiles.json: the
// domain's TileSet with the address of the tiles.
type TileJSON struct {
	TileJSON     string             `json:"tilejson"`
	Name         string             `json:"name"`
	Tiles        []string           `json:"tiles"`
	MinZoom      int                `json:"minzoom"`
	MaxZoom      int                `json:"maxzoom"`
	Bounds       [4]float64         `json:"bounds"` // west, south, east, north
	Center       [3]float64         `json:"center"` // lon, lat, zoom
	Attribution  string             `json:"attribution"`
	VectorLayers []convoi.TileLayer `json:"vector_layers"`
}

// mountUI adds the control room (GET / and /ui/...) and the map tiles
// (GET /tiles/tiles.json and /tiles/{z}/{x}/{y}.mvt, for any signed-in
// user) to the router.
func (s *Server) mountUI() {
	assets := http.FileServerFS(ui.FS())
	index, _ := fs.ReadFile(ui.FS(), "index.html")
	// Embedded files have no modification time: an ETag of their content
	// lets browsers revalidate (304) instead of fetching them again.
	etags := map[string]string{}
	_ = fs.WalkDir(ui.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := fs.ReadFile(ui.FS(), p); err == nil {
				sum := sha256.Sum256(b)
				etags["/"+p] = `"` + hex.EncodeToString(sum[:12]) + `"`
			}
		}
		return nil
	})
	s.mux.Handle("GET /{$}", s.plain("/", func(w http.ResponseWriter, r *http.Request) error {
		uiHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
		return nil
	}))
	s.mux.Handle("GET /ui/", s.plain("/ui/", func(w http.ResponseWriter, r *http.Request) error {
		uiHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-cache")
		if tag, ok := etags[strings.TrimPrefix(r.URL.Path, "/ui")]; ok {
			w.Header().Set("ETag", tag)
		}
		http.StripPrefix("/ui", assets).ServeHTTP(w, r)
		return nil
	}))
	tileRoute := func(path string, h handlerFunc) {
		s.mux.Handle("GET "+path, s.wrap(Endpoint{Method: "GET", Path: path, Roles: rAll, handle: h}))
	}
	tileRoute("/tiles/tiles.json", s.handleTileJSON)
	tileRoute("/tiles/{z}/{x}/{y}", s.handleTile)
}

// uiHeaders are the browser hardening headers of the application: its own
// origin only (MapLibre needs blob: workers and images), no framing.
func uiHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; worker-src 'self' blob:; "+
		"img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; font-src 'self'; connect-src 'self'; "+
		"media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

func (s *Server) handleTileJSON(w http.ResponseWriter, r *http.Request) error {
	if s.Tiles == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No map tiles on this server.")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ts := s.Tiles.TileSet()
	writeJSON(w, http.StatusOK, TileJSON{
		TileJSON: "3.0.0", Name: ts.Name, Tiles: []string{scheme + "://" + r.Host + "/tiles/{z}/{x}/{y}.mvt"},
		MinZoom: ts.MinZoom, MaxZoom: ts.MaxZoom, Bounds: ts.Bounds, Center: ts.Center,
		Attribution: ts.Attribution, VectorLayers: ts.Layers,
	})
	return nil
}

func (s *Server) handleTile(w http.ResponseWriter, r *http.Request) error {
	if s.Tiles == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No map tiles on this server.")
	}
	ys, ok := strings.CutSuffix(r.PathValue("y"), ".mvt")
	z, errZ := strconv.Atoi(r.PathValue("z"))
	x, errX := strconv.Atoi(r.PathValue("x"))
	y, errY := strconv.Atoi(ys)
	if !ok || errZ != nil || errX != nil || errY != nil {
		return convoi.Errorf(convoi.EINVALID, "A tile is /tiles/{z}/{x}/{y}.mvt with integers z, x, y.")
	}
	data, err := s.Tiles.Tile(r.Context(), z, x, y)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "private, max-age=3600")
	if data == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	h.Set("Content-Type", "application/vnd.mapbox-vector-tile")
	h.Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		_, _ = w.Write(data)
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	_, _ = io.Copy(w, zr)
	return nil
}
