package roadnet

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/convoi/convoi"
)

// isochroneGeoJSONReference is the GeoJSON writer of the first version
// (encoding/json over nested slices), kept to check the hand-written one.
func isochroneGeoJSONReference(iso *Isochrone) ([]byte, error) {
	g := iso.g
	var lines [][][2]float64
	var all []convoi.LatLon
	doneRoad := map[uint32]bool{}
	for i, u := range iso.Nodes {
		du := iso.Times[i]
		all = append(all, g.NodeLatLon(u))
		first, end := g.OutEdges(u)
		for e := first; e < end; e++ {
			if g.kinds[e]&iso.avoid != 0 {
				continue
			}
			left, w := iso.Budget-du, int64(g.weight[e])
			if left >= w {
				if doneRoad[g.road[e]>>1] {
					continue
				}
				doneRoad[g.road[e]>>1] = true
			}
			frac := 1.0
			if w > 0 && left < w {
				frac = float64(left) / float64(w)
			}
			pts, cum := g.edgeShape(uint32(e))
			part := cutPolyline(pts, cum, 0, frac*cum[len(cum)-1])
			line := make([][2]float64, len(part))
			for k, p := range part {
				line[k] = [2]float64{p.Lon, p.Lat}
			}
			all = append(all, part[len(part)-1])
			lines = append(lines, line)
		}
	}
	hull := convexHull(all)
	ring := make([][2]float64, 0, len(hull)+1)
	for _, p := range hull {
		ring = append(ring, [2]float64{p.Lon, p.Lat})
	}
	if len(ring) > 0 {
		ring = append(ring, ring[0])
	}
	props := map[string]any{"budget_s": g.Duration(iso.Budget), "nodes": len(iso.Nodes)}
	type geom struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   geom           `json:"geometry"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection"}
	if lines == nil {
		lines = [][][2]float64{}
	}
	fc.Features = append(fc.Features, feature{"Feature", withKindReference(props, "roads"), geom{"MultiLineString", lines}})
	if len(ring) >= 4 {
		fc.Features = append(fc.Features, feature{"Feature", withKindReference(props, "hull"), geom{"Polygon", [][][2]float64{ring}}})
	}
	return json.Marshal(fc)
}
func withKindReference(p map[string]any, kind string) map[string]any {
	q := map[string]any{"kind": kind}
	for k, v := range p {
		q[k] = v
	}
	return q
}

type geoJSONDoc struct {
	Type     string `json:"type"`
	Features []struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	} `json:"features"`
}

// TestIsochroneGeoJSONMatchesReference: the hand-written GeoJSON is the
// first version's document, coordinates rounded to 1e-7 degrees and
// repeated points of whole roads dropped.
func TestIsochroneGeoJSONMatchesReference(t *testing.T) {
	for name, g := range map[string]*Graph{"monaco": MustMonaco(t), "rouen": mustRouen(t)} {
		rng := rand.New(rand.NewPCG(3, 3))
		for k, pos := range randomRoadPoints(t, g, rng, 8) {
			iso, err := g.Isochrone(context.Background(), pos, g.CostOf(float64(30+k*40)), RouteOptions{Avoid: Kind(k%2) * KindTunnel})
			if err != nil {
				t.Fatal(err)
			}
			got, err := iso.GeoJSON()
			if err != nil {
				t.Fatal(err)
			}
			want, err := isochroneGeoJSONReference(iso)
			if err != nil {
				t.Fatal(err)
			}
			var a, b geoJSONDoc
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatalf("%s: not JSON: %v\n%.300s", name, err, got)
			}
			if err := json.Unmarshal(want, &b); err != nil {
				t.Fatal(err)
			}
			if a.Type != b.Type || len(a.Features) != len(b.Features) {
				t.Fatalf("%s: %s with %d features, want %s with %d", name, a.Type, len(a.Features), b.Type, len(b.Features))
			}
			for i := range a.Features {
				fa, fb := a.Features[i], b.Features[i]
				if fa.Type != fb.Type || fa.Geometry.Type != fb.Geometry.Type || len(fa.Properties) != len(fb.Properties) {
					t.Fatalf("%s feature %d: %+v, want %+v", name, i, fa, fb)
				}
				for key, v := range fb.Properties {
					if fa.Properties[key] != v {
						t.Fatalf("%s feature %d property %s = %v, want %v", name, i, key, fa.Properties[key], v)
					}
				}
				var ca, cb [][][2]float64
				if err := json.Unmarshal(fa.Geometry.Coordinates, &ca); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(fb.Geometry.Coordinates, &cb); err != nil {
					t.Fatal(err)
				}
				if len(ca) != len(cb) {
					t.Fatalf("%s feature %d: %d lines, want %d", name, i, len(ca), len(cb))
				}
				for l := range ca {
					if !sameLine(ca[l], cb[l]) {
						t.Fatalf("%s feature %d line %d:\n got %v\nwant %v", name, i, l, ca[l], cb[l])
					}
				}
			}
		}
	}
}

// sameLine compares positions to 1e-7 degrees, ignoring repeated points.
func sameLine(a, b [][2]float64) bool {
	dedup := func(l [][2]float64) [][2]float64 {
		var out [][2]float64
		for _, p := range l {
			if len(out) == 0 || math.Abs(p[0]-out[len(out)-1][0]) > 0.6e-7 || math.Abs(p[1]-out[len(out)-1][1]) > 0.6e-7 {
				out = append(out, p)
			}
		}
		return out
	}
	a, b = dedup(a), dedup(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i][0]-b[i][0]) > 0.6e-7 || math.Abs(a[i][1]-b[i][1]) > 0.6e-7 {
			return false
		}
	}
	return true
}

func TestAppendDegrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	vals := []float64{0, -0.0, 1, -1, 7.4222, -73.9857, 43.73020004, 179.99999996, -0.00000004, -0.00000005, 1e-7, 12.5}
	for range 10000 {
		vals = append(vals, (rng.Float64()*2-1)*180)
	}
	for _, v := range vals {
		s := string(appendDegrees(nil, v))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%v written %q: %v", v, s, err)
		}
		if want := math.Round(v*1e7) / 1e7; math.Abs(back-want) > 1e-12 || !json.Valid([]byte(s)) {
			t.Fatalf("%v written %q, want %v", v, s, want)
		}
	}
}

// TestConvexHullCandidates: leaving out the points inside the extremes'
// octagon changes no hull.
func TestConvexHullCandidates(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	full := func(pts []convoi.LatLon) []convoi.LatLon { // the monotone chain on every point
		p := append([]convoi.LatLon(nil), pts...)
		sort.Slice(p, func(i, j int) bool {
			if p[i].Lon != p[j].Lon {
				return p[i].Lon < p[j].Lon
			}
			return p[i].Lat < p[j].Lat
		})
		cross := func(o, a, b convoi.LatLon) float64 {
			return (a.Lon-o.Lon)*(b.Lat-o.Lat) - (a.Lat-o.Lat)*(b.Lon-o.Lon)
		}
		var h []convoi.LatLon
		for _, q := range p {
			for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		lo := len(h) + 1
		for i := len(p) - 2; i >= 0; i-- {
			for len(h) >= lo && cross(h[len(h)-2], h[len(h)-1], p[i]) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, p[i])
		}
		return h[:len(h)-1]
	}
	for trial := range 300 {
		n := 16 + rng.IntN(2000)
		pts := make([]convoi.LatLon, n)
		for i := range pts {
			switch trial % 3 {
			case 0: // a disc
				r, a := math.Sqrt(rng.Float64()), rng.Float64()*2*math.Pi
				pts[i] = convoi.LatLon{Lat: 43.7 + 0.05*r*math.Sin(a), Lon: 7.4 + 0.05*r*math.Cos(a)}
			case 1: // a grid, with collinear and repeated points
				pts[i] = convoi.LatLon{Lat: 43.7 + 0.001*float64(rng.IntN(20)), Lon: 7.4 + 0.001*float64(rng.IntN(20))}
			default: // a thin line
				x := rng.Float64()
				pts[i] = convoi.LatLon{Lat: 43.7 + 0.01*x, Lon: 7.4 + 0.02*x}
			}
		}
		got, want := convexHull(pts), full(pts)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (%d points): hull %v, want %v", trial, n, got, want)
		}
		if c := len(hullCandidates(pts)); trial%3 == 0 && n >= 200 && c > n/2 {
			t.Fatalf("trial %d: %d candidates of %d points in a disc: the filter does not filter", trial, c, n)
		}
	}
	// Road networks put one point at several extremes (the westmost is also
	// the north-westmost): the filter must still filter.
	g := MustMonaco(t)
	var nodes []convoi.LatLon
	for u := range g.NumNodes() {
		nodes = append(nodes, g.NodeLatLon(NodeID(u)))
	}
	if c := len(hullCandidates(nodes)); c > len(nodes)/2 || !slices.Equal(convexHull(nodes), full(nodes)) {
		t.Fatalf("Monaco's %d nodes: %d candidates", len(nodes), c)
	}
}
