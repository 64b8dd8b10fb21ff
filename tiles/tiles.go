// Package tiles renders the road graph convoi routes on as Mapbox Vector
// Tiles (MVT 2.1, gzip-compressed) for the control room's offline map: the
// same OpenStreetMap extract, the same roads and chokepoints, no tile server.
//
// The graph keeps road geometry, chokepoint kinds and names, and each edge's
// free-flow travel time, but not the OSM highway class or street names. The
// tiles therefore class roads by free-flow speed (which the car profile
// derives from the highway class and maxspeed) and label the named
// chokepoints (tunnels, bridges, toll plazas). This works for any graph
// roadnet builds, from any extract.
//
// Layers:
//   - "roads": lines, properties class ("fast" >= 75 km/h, "main" >= 42,
//     "local" >= 24, "minor", or "ramp" for motorway and trunk links),
//     tunnel, bridge, toll (booleans). Fast roads from zoom 0, main and
//     ramps from 8 and 10, local from 12, minor from 13.
//   - "chokepoints": points, properties kind (roadnet kind name), name (may
//     be empty), slowdown (boolean). Toll booths and toll roads from zoom
//     10; tunnels and bridges from 12; ramps, roundabouts, signals, level
//     crossings and barriers from 14.
//
// A Tiler is safe for concurrent use. It keeps a bounded cache of rendered
// tiles (the graph never changes, so neither does a tile). It returns errors
// and never logs; it imports roadnet, the convoi domain and paulmach/orb.
package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"slices"
	"sync"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/simplify"
)

// Defaults of a Tiler's configuration.
const (
	DefaultMaxZoom    = 14
	DefaultCacheBytes = 64 << 20
	// Extent is the tiles' coordinate extent.
	Extent = mvt.DefaultExtent
	// gridZ is the zoom of the spatial index cells.
	gridZ = 12
)

// Road classes, by free-flow speed.
const (
	ClassFast  = "fast"
	ClassMain  = "main"
	ClassRamp  = "ramp"
	ClassLocal = "local"
	ClassMinor = "minor"
)

var classes = []struct {
	name    string
	minZoom uint8
}{
	{ClassFast, 0}, {ClassMain, 8}, {ClassRamp, 10}, {ClassLocal, 12}, {ClassMinor, 13},
}

// classOf returns the class index of a road with the given kinds and
// free-flow speed.
func classOf(k roadnet.Kind, kmh float64) uint8 {
	switch {
	case k&roadnet.KindRamp != 0:
		return 2
	case kmh >= 75:
		return 0
	case kmh >= 42:
		return 1
	case kmh >= 24:
		return 3
	}
	return 4
}

// cpMinZoom is the zoom from which each chokepoint kind is drawn.
var cpMinZoom = map[roadnet.Kind]int{
	roadnet.KindTollBooth: 10, roadnet.KindToll: 10, roadnet.KindTunnel: 12, roadnet.KindBridge: 12,
	roadnet.KindRamp: 14, roadnet.KindRoundabout: 14,
	roadnet.KindTrafficSignals: 14, roadnet.KindLevelCrossing: 14, roadnet.KindBarrier: 14,
}

// road is one drawn road: the points xs/ys[first:end] in world coordinates
// (Web Mercator scaled to [0,1]).
type road struct {
	first, end             uint32
	class                  uint8
	kinds                  roadnet.Kind
	minX, minY, maxX, maxY float64
}

// Tiler renders tiles of one graph. Build it with New; the exported fields
// may be changed before the first Tile call only.
type Tiler struct {
	// MaxZoom is the deepest zoom served (DefaultMaxZoom); map clients
	// overzoom beyond it.
	MaxZoom int
	// CacheBytes bounds the memory of cached tiles (DefaultCacheBytes); 0
	// disables the cache.
	CacheBytes int

	bounds roadnet.BBox
	xs, ys []float64
	roads  []road  // sorted by the minimum zoom of their class
	upto   [32]int // roads[:upto[z]] are drawn at zoom z
	grid   map[uint64][]uint32
	cps    []roadnet.Chokepoint
	cpX    []float64
	cpY    []float64

	// mu guards the cache.
	mu     sync.Mutex
	cache  map[maptile.Tile][]byte
	cached int
}

// New indexes g's roads and chokepoints for rendering. It reads g only; g
// must stay unchanged (roadnet graphs are immutable).
func New(g *roadnet.Graph) *Tiler {
	t := &Tiler{MaxZoom: DefaultMaxZoom, CacheBytes: DefaultCacheBytes, bounds: g.Bounds(),
		grid: make(map[uint64][]uint32), cache: make(map[maptile.Tile][]byte)}
	type key struct {
		a, b convoi.LatLon
		n    int
	}
	dup := make(map[key]bool)
	var geom []convoi.LatLon
	for e := 0; e < g.NumEdges(); e++ {
		ed := g.Edge(roadnet.EdgeID(e))
		if ed.Twin != roadnet.NoEdge && ed.Twin < ed.ID {
			continue // drawn with its twin
		}
		geom = g.EdgeGeometry(geom[:0], ed.ID)
		if len(geom) < 2 {
			continue
		}
		a, b := geom[0], geom[len(geom)-1]
		if b.Lat < a.Lat || (b.Lat == a.Lat && b.Lon < a.Lon) {
			a, b = b, a
		}
		// Copies of a node made for turn restrictions repeat the road.
		k := key{a, b, len(geom)}
		if dup[k] {
			continue
		}
		dup[k] = true
		secs := g.Duration(ed.Cost)
		if ed.Twin != roadnet.NoEdge {
			secs = min(secs, g.Duration(g.EdgeCost(ed.Twin)))
		}
		kmh := 0.0
		if secs > 0 {
			kmh = ed.DistanceM / secs * 3.6
		}
		r := road{first: uint32(len(t.xs)), class: classOf(ed.Kinds, kmh), kinds: ed.Kinds,
			minX: 2, minY: 2, maxX: -1, maxY: -1}
		for _, p := range geom {
			x, y := world(p)
			t.xs, t.ys = append(t.xs, x), append(t.ys, y)
			r.minX, r.maxX = min(r.minX, x), max(r.maxX, x)
			r.minY, r.maxY = min(r.minY, y), max(r.maxY, y)
		}
		r.end = uint32(len(t.xs))
		t.roads = append(t.roads, r)
	}
	slices.SortStableFunc(t.roads, func(a, b road) int {
		return int(classes[a.class].minZoom) - int(classes[b.class].minZoom)
	})
	for z := range t.upto {
		t.upto[z] = len(t.roads)
		for i, r := range t.roads {
			if int(classes[r.class].minZoom) > z {
				t.upto[z] = i
				break
			}
		}
	}
	n := float64(uint32(1) << gridZ)
	for i, r := range t.roads {
		for cx := cell(r.minX, n); cx <= cell(r.maxX, n); cx++ {
			for cy := cell(r.minY, n); cy <= cell(r.maxY, n); cy++ {
				k := uint64(cx)<<32 | uint64(cy)
				t.grid[k] = append(t.grid[k], uint32(i))
			}
		}
	}
	t.cps = g.Chokepoints(t.bounds, 0)
	for _, c := range t.cps {
		x, y := world(c.LatLon)
		t.cpX, t.cpY = append(t.cpX, x), append(t.cpY, y)
	}
	return t
}

// Bounds returns the box around the graph's roads.
func (t *Tiler) Bounds() roadnet.BBox { return t.bounds }

// NumRoads returns how many road polylines the tiles draw.
func (t *Tiler) NumRoads() int { return len(t.roads) }

// world projects p to Web Mercator scaled to [0,1], y down.
func world(p convoi.LatLon) (x, y float64) {
	lat := math.Max(-85.05112878, math.Min(85.05112878, p.Lat)) * math.Pi / 180
	x = (p.Lon + 180) / 360
	y = (1 - math.Log(math.Tan(lat)+1/math.Cos(lat))/math.Pi) / 2
	return x, y
}

func cell(v, n float64) uint32 {
	c := math.Floor(v * n)
	return uint32(max(0, min(n-1, c)))
}

// Tile returns tile z/x/y as a gzip-compressed MVT, or nil when the tile
// holds nothing. A zoom outside 0..MaxZoom or coordinates outside the zoom
// are an EINVALID error.
func (t *Tiler) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if z < 0 || z > t.MaxZoom || z > 30 || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		return nil, convoi.Errorf(convoi.EINVALID, "No tile %d/%d/%d: zoom must be 0-%d and x, y within it.", z, x, y, t.MaxZoom)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tile := maptile.New(uint32(x), uint32(y), maptile.Zoom(z))
	if t.CacheBytes > 0 {
		t.mu.Lock()
		data, ok := t.cache[tile]
		t.mu.Unlock()
		if ok {
			return data, nil
		}
	}
	data, err := t.render(tile)
	if err != nil {
		return nil, err
	}
	if t.CacheBytes > 0 {
		t.mu.Lock()
		if _, ok := t.cache[tile]; !ok && t.cached+len(data)+64 <= t.CacheBytes {
			t.cache[tile] = data
			t.cached += len(data) + 64
		}
		t.mu.Unlock()
	}
	return data, nil
}

// clipBound is the tile with the buffer map clients draw lines across tile
// edges with: 1/16 of the tile on each side.
var clipBound = orb.Bound{Min: orb.Point{-Extent / 16, -Extent / 16}, Max: orb.Point{Extent + Extent/16, Extent + Extent/16}}

// featureKey groups the roads of a tile into one multi-line feature per
// class and flags, which keeps tiles small.
type featureKey struct {
	class               uint8
	tunnel, bridge, tol bool
}

func (t *Tiler) render(tile maptile.Tile) ([]byte, error) {
	z := int(tile.Z)
	scale := float64(uint64(1) << z)
	// A buffer of 1/16 tile around it, as MapLibre draws lines across
	// tile edges.
	const buf = 1.0 / 16
	x0, y0 := (float64(tile.X)-buf)/scale, (float64(tile.Y)-buf)/scale
	x1, y1 := (float64(tile.X)+1+buf)/scale, (float64(tile.Y)+1+buf)/scale

	groups := make(map[featureKey]orb.MultiLineString)
	tx, ty := float64(tile.X), float64(tile.Y)
	inside := func(v float64) bool { return v >= clipBound.Min[0] && v <= clipBound.Max[0] }
	add := func(i uint32) {
		r := &t.roads[i]
		if r.maxX < x0 || r.minX > x1 || r.maxY < y0 || r.minY > y1 {
			return
		}
		// Project to tile units, dropping points within a unit of the last
		// one kept: at low zooms most of a road's points fall on one.
		ls := make(orb.LineString, 0, r.end-r.first)
		for p := r.first; p < r.end; p++ {
			pt := orb.Point{(t.xs[p]*scale - tx) * Extent, (t.ys[p]*scale - ty) * Extent}
			if n := len(ls); n > 0 && p < r.end-1 && math.Abs(pt[0]-ls[n-1][0]) < 1 && math.Abs(pt[1]-ls[n-1][1]) < 1 {
				continue
			}
			ls = append(ls, pt)
		}
		if len(ls) == 2 && math.Abs(ls[0][0]-ls[1][0]) < 1 && math.Abs(ls[0][1]-ls[1][1]) < 1 {
			return // shorter than a unit: invisible
		}
		k := featureKey{class: r.class, tunnel: r.kinds&roadnet.KindTunnel != 0,
			bridge: r.kinds&roadnet.KindBridge != 0, tol: r.kinds&roadnet.KindToll != 0}
		bx0, by0 := (r.minX*scale-tx)*Extent, (r.minY*scale-ty)*Extent
		bx1, by1 := (r.maxX*scale-tx)*Extent, (r.maxY*scale-ty)*Extent
		if inside(bx0) && inside(bx1) && inside(by0) && inside(by1) {
			groups[k] = append(groups[k], ls)
			return
		}
		groups[k] = append(groups[k], clip.LineString(clipBound, ls, clip.OpenBound(true))...)
	}
	if z >= gridZ {
		c := tile
		for c.Z > gridZ {
			c = c.Parent()
		}
		for _, i := range t.grid[uint64(c.X)<<32|uint64(c.Y)] {
			if int(classes[t.roads[i].class].minZoom) <= z {
				add(i)
			}
		}
	} else {
		for i := range t.upto[z] {
			add(uint32(i))
		}
	}

	roads := &mvt.Layer{Name: "roads", Version: 2, Extent: Extent}
	keys := make([]featureKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	// A stable feature order: the drawing order within a layer.
	slices.SortFunc(keys, func(a, b featureKey) int {
		return cmpKey(a) - cmpKey(b)
	})
	for _, k := range keys {
		f := geojson.NewFeature(groups[k])
		f.Properties["class"] = classes[k.class].name
		f.Properties["tunnel"] = k.tunnel
		f.Properties["bridge"] = k.bridge
		f.Properties["toll"] = k.tol
		roads.Features = append(roads.Features, f)
	}
	if z < t.MaxZoom {
		roads.Simplify(simplify.DouglasPeucker(1))
	}
	roads.RemoveEmpty(1, 1)

	cps := &mvt.Layer{Name: "chokepoints", Version: 2, Extent: Extent}
	for i, c := range t.cps {
		mz, ok := cpMinZoom[c.Kind]
		if !ok || z < mz || t.cpX[i] < x0 || t.cpX[i] > x1 || t.cpY[i] < y0 || t.cpY[i] > y1 {
			continue
		}
		p := orb.Point{(t.cpX[i]*scale - float64(tile.X)) * Extent, (t.cpY[i]*scale - float64(tile.Y)) * Extent}
		f := geojson.NewFeature(p)
		f.Properties["kind"] = c.Kind.String()
		f.Properties["name"] = c.Name
		f.Properties["slowdown"] = c.Slowdown
		cps.Features = append(cps.Features, f)
	}
	var layers mvt.Layers
	for _, l := range []*mvt.Layer{roads, cps} {
		if len(l.Features) > 0 {
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return nil, nil
	}
	raw, err := mvt.Marshal(layers)
	if err != nil {
		return nil, convoi.Errorf(convoi.EINTERNAL, "encode tile %d/%d/%d: %v", tile.Z, tile.X, tile.Y, err)
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// cmpKey orders features: minor roads first, fast last (drawn on top).
func cmpKey(k featureKey) int {
	rank := [...]int{4, 3, 2, 1, 0} // by class index: fast, main, ramp, local, minor
	v := rank[k.class] * 8
	if k.tunnel {
		v++
	}
	if k.bridge {
		v += 2
	}
	if k.tol {
		v += 4
	}
	return v
}

// Range returns the first and last tile columns and rows at zoom z that
// overlap the graph.
func (t *Tiler) Range(z int) (x0, y0, x1, y1 int) {
	n := float64(uint64(1) << z)
	ax, ay := world(convoi.LatLon{Lat: t.bounds.MaxLat, Lon: t.bounds.MinLon})
	bx, by := world(convoi.LatLon{Lat: t.bounds.MinLat, Lon: t.bounds.MaxLon})
	return int(cell(ax, n)), int(cell(ay, n)), int(cell(bx, n)), int(cell(by, n))
}

// Walk renders every tile overlapping the graph from zoom 0 to MaxZoom and
// calls fn with each non-empty one, stopping at the first error.
func (t *Tiler) Walk(ctx context.Context, fn func(z, x, y int, data []byte) error) error {
	for z := 0; z <= t.MaxZoom; z++ {
		x0, y0, x1, y1 := t.Range(z)
		for x := x0; x <= x1; x++ {
			for y := y0; y <= y1; y++ {
				data, err := t.Tile(ctx, z, x, y)
				if err != nil {
					return err
				}
				if data != nil {
					if err := fn(z, x, y, data); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Attribution is the map data credit every map drawn from these tiles shows.
const Attribution = `© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors`

var _ convoi.TileService = (*Tiler)(nil)

// TileSet describes the tiles: bounds of the graph, zooms, attribution,
// layers.
func (t *Tiler) TileSet() convoi.TileSet {
	b := t.bounds
	// The zoom at which the whole extract fits about two 256-pixel tiles.
	x0, y0 := world(convoi.LatLon{Lat: b.MaxLat, Lon: b.MinLon})
	x1, y1 := world(convoi.LatLon{Lat: b.MinLat, Lon: b.MaxLon})
	span := math.Max(math.Max(x1-x0, y1-y0), 1e-9)
	zoom := math.Max(0, math.Min(float64(t.MaxZoom), math.Floor(math.Log2(2/span))))
	return convoi.TileSet{
		Name:    "convoi roads",
		MinZoom: 0, MaxZoom: t.MaxZoom,
		Bounds:      [4]float64{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat},
		Center:      [3]float64{(b.MinLon + b.MaxLon) / 2, (b.MinLat + b.MaxLat) / 2, zoom},
		Attribution: Attribution,
		Layers: []convoi.TileLayer{
			{ID: "roads", MinZoom: 0, MaxZoom: t.MaxZoom, Fields: map[string]string{
				"class": "fast, main, ramp, local or minor (by free-flow speed)", "tunnel": "Boolean", "bridge": "Boolean", "toll": "Boolean"}},
			{ID: "chokepoints", MinZoom: 10, MaxZoom: t.MaxZoom, Fields: map[string]string{
				"kind": "toll_booth, toll_road, bridge, tunnel, ramp, roundabout, traffic_signals, level_crossing or barrier",
				"name": "String", "slowdown": "Boolean"}},
		},
	}
}
