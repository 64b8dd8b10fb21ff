package tiles_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/tiles"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
)

var (
	monacoOnce  sync.Once
	monacoGraph *roadnet.Graph
	monacoErr   error
)

func mustMonaco(tb testing.TB) *roadnet.Graph {
	tb.Helper()
	monacoOnce.Do(func() {
		monacoGraph, monacoErr = roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	})
	if monacoErr != nil {
		tb.Fatal(monacoErr)
	}
	return monacoGraph
}

// decode gunzips and decodes a tile into layers in tile coordinates.
func decode(tb testing.TB, data []byte) mvt.Layers {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	ls, err := mvt.Unmarshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return ls
}

func layer(ls mvt.Layers, name string) *mvt.Layer {
	for _, l := range ls {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// tileAt returns the tile at zoom z holding p and p's tile coordinates.
func tileAt(p convoi.LatLon, z int) (maptile.Tile, orb.Point) {
	t := maptile.At(orb.Point{p.Lon, p.Lat}, maptile.Zoom(z))
	f := maptile.Fraction(orb.Point{p.Lon, p.Lat}, maptile.Zoom(z))
	return t, orb.Point{(f[0] - float64(t.X)) * tiles.Extent, (f[1] - float64(t.Y)) * tiles.Extent}
}

// nearest returns the distance, in tile units, from p to the nearest line
// of the layer.
func nearest(l *mvt.Layer, p orb.Point) float64 {
	best := math.Inf(1)
	seg := func(ls orb.LineString) {
		for i := 1; i < len(ls); i++ {
			a, b := ls[i-1], ls[i]
			dx, dy := b[0]-a[0], b[1]-a[1]
			u := 0.0
			if d := dx*dx + dy*dy; d > 0 {
				u = math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/d))
			}
			best = math.Min(best, math.Hypot(a[0]+u*dx-p[0], a[1]+u*dy-p[1]))
		}
	}
	for _, f := range l.Features {
		switch g := f.Geometry.(type) {
		case orb.LineString:
			seg(g)
		case orb.MultiLineString:
			for _, ls := range g {
				seg(ls)
			}
		}
	}
	return best
}

// Every node of the graph lies on a road of the deepest tile that holds it:
// the tiles draw the network the engine routes on, whatever the extract.
func TestTile_EveryNodeOnARoad(t *testing.T) {
	rouen, err := roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.RouenCentre), roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		g    *roadnet.Graph
	}{{"monaco", mustMonaco(t)}, {"rouen", rouen}} {
		t.Run(c.name, func(t *testing.T) { everyNodeOnARoad(t, c.g) })
	}
}

func everyNodeOnARoad(t *testing.T, g *roadnet.Graph) {
	tl := tiles.New(g)
	ctx := context.Background()
	z := tl.MaxZoom
	decoded := map[maptile.Tile]*mvt.Layer{}
	for n := 0; n < g.NumNodes(); n += 7 {
		p := g.NodeLatLon(roadnet.NodeID(n))
		tile, at := tileAt(p, z)
		l, ok := decoded[tile]
		if !ok {
			data, err := tl.Tile(ctx, z, int(tile.X), int(tile.Y))
			if err != nil {
				t.Fatal(err)
			}
			if data == nil {
				t.Fatalf("node %d at %v: tile %v is empty", n, p, tile)
			}
			l = layer(decode(t, data), "roads")
			decoded[tile] = l
		}
		if l == nil {
			t.Fatalf("tile %v has no roads layer", tile)
		}
		// Rounding to integer tile coordinates moves points by < 1 unit.
		if d := nearest(l, at); d > 1.5 {
			t.Errorf("node %d at %v: nearest road %.1f tile units away", n, p, d)
		}
	}
}

func TestTile_LayersAndProperties(t *testing.T) {
	g := mustMonaco(t)
	tl := tiles.New(g)
	ctx := context.Background()
	b := tl.Bounds()
	centre := convoi.LatLon{Lat: (b.MinLat + b.MaxLat) / 2, Lon: (b.MinLon + b.MaxLon) / 2}

	classes := map[string]bool{}
	kinds := map[string]bool{}
	named := 0
	err := tl.Walk(ctx, func(z, x, y int, data []byte) error {
		if z != 14 {
			return nil
		}
		ls := decode(t, data)
		for _, l := range ls {
			if l.Version != 2 || l.Extent != tiles.Extent {
				t.Errorf("%d/%d/%d layer %s: version %d extent %d", z, x, y, l.Name, l.Version, l.Extent)
			}
		}
		if l := layer(ls, "roads"); l != nil {
			for _, f := range l.Features {
				classes[f.Properties.MustString("class")] = true
			}
		}
		if l := layer(ls, "chokepoints"); l != nil {
			for _, f := range l.Features {
				kinds[f.Properties.MustString("kind")] = true
				if f.Properties.MustString("name") != "" {
					named++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Monaco has the A8's links, main roads, streets and service roads.
	for _, c := range []string{tiles.ClassMain, tiles.ClassLocal, tiles.ClassMinor, tiles.ClassRamp} {
		if !classes[c] {
			t.Errorf("no %q road in Monaco's zoom-14 tiles (saw %v)", c, classes)
		}
	}
	for _, k := range []string{"tunnel", "traffic_signals", "roundabout"} {
		if !kinds[k] {
			t.Errorf("no %q chokepoint in Monaco's zoom-14 tiles (saw %v)", k, kinds)
		}
	}
	if named == 0 {
		t.Error("no named chokepoint: labels would be empty")
	}

	// Low zooms draw only the roads of their classes.
	tile, _ := tileAt(centre, 9)
	data, err := tl.Tile(ctx, 9, int(tile.X), int(tile.Y))
	if err != nil {
		t.Fatal(err)
	}
	if data != nil {
		if l := layer(decode(t, data), "roads"); l != nil {
			for _, f := range l.Features {
				if c := f.Properties.MustString("class"); c == tiles.ClassLocal || c == tiles.ClassMinor {
					t.Errorf("zoom 9 draws %s roads", c)
				}
			}
		}
	}
}

func TestTile_OutsideAndInvalid(t *testing.T) {
	tl := tiles.New(mustMonaco(t))
	ctx := context.Background()
	// Paris is not in the Monaco extract.
	tile, _ := tileAt(convoi.LatLon{Lat: 48.85, Lon: 2.35}, 12)
	data, err := tl.Tile(ctx, 12, int(tile.X), int(tile.Y))
	if err != nil || data != nil {
		t.Errorf("tile outside the extract: %d bytes, %v; want none", len(data), err)
	}
	for _, c := range [][3]int{{-1, 0, 0}, {15, 0, 0}, {3, 8, 0}, {3, 0, -1}} {
		_, err := tl.Tile(ctx, c[0], c[1], c[2])
		var ce *convoi.Error
		if !errors.As(err, &ce) || ce.Code != convoi.EINVALID {
			t.Errorf("tile %v: %v, want invalid", c, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tl.Tile(cctx, 0, 0, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The cache returns the same bytes as a fresh render.
func TestTile_Cache(t *testing.T) {
	g := mustMonaco(t)
	cached, fresh := tiles.New(g), tiles.New(g)
	fresh.CacheBytes = 0
	ctx := context.Background()
	x0, y0, x1, y1 := cached.Range(13)
	for x := x0; x <= x1; x++ {
		for y := y0; y <= y1; y++ {
			a, _ := cached.Tile(ctx, 13, x, y)
			a2, _ := cached.Tile(ctx, 13, x, y)
			b, _ := fresh.Tile(ctx, 13, x, y)
			if !bytes.Equal(a, b) || !bytes.Equal(a2, b) {
				t.Errorf("13/%d/%d: cached tile differs from a fresh render", x, y)
			}
		}
	}
}

// maltaPath is the Malta extract the tile benchmarks run on.
const maltaPath = "../testdata/osm/malta.osm.pbf"

func mustMalta(b *testing.B) *roadnet.Graph {
	b.Helper()
	f, err := os.Open(maltaPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	g, err := roadnet.ImportOSM(context.Background(), f, roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkTile renders, without the cache, the busiest tile of each zoom
// on Malta (the one with the most encoded bytes).
func BenchmarkTile(b *testing.B) {
	g := mustMalta(b)
	tl := tiles.New(g)
	tl.CacheBytes = 0
	ctx := context.Background()
	for z := 0; z <= tl.MaxZoom; z++ {
		x0, y0, x1, y1 := tl.Range(z)
		bx, by, size := x0, y0, -1
		for x := x0; x <= x1; x++ {
			for y := y0; y <= y1; y++ {
				data, err := tl.Tile(ctx, z, x, y)
				if err != nil {
					b.Fatal(err)
				}
				if len(data) > size {
					bx, by, size = x, y, len(data)
				}
			}
		}
		b.Run("z"+itoa(z), func(b *testing.B) {
			for b.Loop() {
				if _, err := tl.Tile(ctx, z, bx, by); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "bytes/tile")
		})
	}
}

// BenchmarkPyramid renders every tile of Malta from zoom 0 to 14 without
// the cache, and reports their number and total size.
func BenchmarkPyramid(b *testing.B) {
	g := mustMalta(b)
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			tiles.New(g)
		}
	})
	b.Run("all", func(b *testing.B) {
		tl := tiles.New(g)
		tl.CacheBytes = 0
		var n, size int
		for b.Loop() {
			n, size = 0, 0
			err := tl.Walk(context.Background(), func(z, x, y int, data []byte) error {
				n++
				size += len(data)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "tiles")
		b.ReportMetric(float64(size)/(1<<20), "MiB")
	})
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// FuzzTile: any z/x/y either renders a tile that decodes, or is an
// EINVALID error; never a panic.
func FuzzTile(f *testing.F) {
	for _, c := range [][3]int{{0, 0, 0}, {14, 8529, 5974}, {12, 2132, 1493}, {15, 0, 0}, {-1, 0, 0}, {3, 8, 8}, {30, 1 << 29, 1 << 29}, {64, -5, 7}} {
		f.Add(c[0], c[1], c[2])
	}
	tl := tiles.New(mustMonaco(f))
	f.Fuzz(func(t *testing.T, z, x, y int) {
		data, err := tl.Tile(context.Background(), z, x, y)
		if err != nil {
			var ce *convoi.Error
			if !errors.As(err, &ce) || ce.Code != convoi.EINVALID {
				t.Fatalf("%d/%d/%d: %v", z, x, y, err)
			}
			return
		}
		if data != nil {
			decode(t, data)
		}
	})
}
