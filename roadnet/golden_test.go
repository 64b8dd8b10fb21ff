package roadnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
)

var (
	courthouse = convoi.LatLon{Lat: 43.7302, Lon: 7.4222}
	westA8     = convoi.LatLon{Lat: 43.7442349, Lon: 7.3490661} // where the A8 westbound leaves the extract
)

// colDEze is where the Grande Corniche leaves the extract towards Nice.
var colDEze = convoi.LatLon{Lat: 43.74790, Lon: 7.34926}

// a8West is the OSM way of the A8 westbound carriageway from the La Turbie
// toll plaza to the extract's western edge; the import keeps it although it
// runs off the map (it is one-way and leaves the extract).
const a8West = 155228145

func laTurbieBooths(r *Route) int {
	n := 0
	for _, p := range r.Chokepoints {
		if p.Kind == KindTollBooth && p.LatLon.Lat > 43.74 && p.LatLon.Lat < 43.75 && p.LatLon.Lon > 7.37 && p.LatLon.Lon < 7.38 {
			n++
		}
	}
	return n
}

func TestGoldenA8TollPlaza(t *testing.T) {
	g := MustMonaco(t)
	ctx := context.Background()
	r, err := g.RouteLatLon(ctx, courthouse, westA8, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if laTurbieBooths(r) == 0 {
		t.Fatalf("route westwards on the A8 lists no La Turbie toll booth: %+v", r.Chokepoints)
	}
	if last := r.Segments[len(r.Segments)-1]; last.WayID != a8West {
		t.Fatalf("route ends on way %d, not on the A8 westbound (way %d)", last.WayID, a8West)
	}
	// Nothing starts on a carriageway that only leaves the map: from a
	// position on it there is no route; a route asked from its
	// coordinates starts on the nearest road that leads back into the map
	// (as OSRM does), not on it.
	stub, err := g.Snap(westA8)
	if err != nil {
		t.Fatal(err)
	}
	if w := g.Edge(stub.Edge).WayID; w != a8West {
		t.Fatalf("westA8 snaps onto way %d, not the A8 westbound (way %d)", w, a8West)
	}
	home, err := g.Snap(courthouse)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Route(ctx, stub, home, RouteOptions{}); convoi.ErrorCode(err) != convoi.ENOTFOUND {
		t.Fatalf("route from a position on the westbound A8 stub back to Monaco: %v, want not found", err)
	}
	back, err := g.RouteLatLon(ctx, westA8, courthouse, RouteOptions{})
	if err != nil {
		t.Fatalf("route from the westbound A8's end back to Monaco: %v", err)
	}
	if w := back.Segments[0].WayID; w == a8West {
		t.Fatalf("route back to Monaco starts on the westbound A8 stub")
	}
	last := -1.0
	for _, p := range r.Chokepoints {
		if p.OffsetS < last || p.OffsetS > r.DurationS+1e-9 {
			t.Fatalf("chokepoint offsets out of order or beyond arrival: %v after %v (duration %v)", p.OffsetS, last, r.DurationS)
		}
		last = p.OffsetS
	}
	toll, _ := ParseKinds("toll")
	// The A8 itself is a toll road: avoiding tolls there is impossible.
	if _, err := g.RouteLatLon(ctx, courthouse, westA8, RouteOptions{Avoid: toll}); convoi.ErrorCode(err) != convoi.ENOTFOUND {
		t.Fatalf("toll-free route onto the A8: %v, want not found", err)
	}
	// Towards the Col d'Èze, the fastest way climbs through the toll plaza;
	// the toll-free one takes the town roads.
	r, err = g.RouteLatLon(ctx, courthouse, colDEze, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if laTurbieBooths(r) == 0 {
		t.Fatalf("fastest route to the Col d'Èze lists no La Turbie toll booth: %+v", r.Chokepoints)
	}
	avoid, err := g.RouteLatLon(ctx, courthouse, colDEze, RouteOptions{Avoid: toll})
	if err != nil {
		t.Fatal(err)
	}
	if n := laTurbieBooths(avoid); n != 0 {
		t.Fatalf("--avoid toll still passes %d La Turbie booths", n)
	}
	for _, s := range avoid.Segments[1 : len(avoid.Segments)-1] {
		if s.Kinds&toll != 0 {
			t.Fatalf("--avoid toll uses toll edge %d (%v)", s.Edge, s.Kinds)
		}
	}
	if avoid.DurationS < r.DurationS {
		t.Fatalf("avoiding tolls is faster (%v) than the fastest route (%v)", avoid.DurationS, r.DurationS)
	}
	alts, err := g.Alternatives(ctx, r.Path.From, r.Path.To, AlternativeOptions{K: 3})
	if err != nil || len(alts) == 0 || alts[0].Cost != r.Cost {
		t.Fatalf("alternatives: %v, %d routes", err, len(alts))
	}
}

func mustXML(t *testing.T) *Graph {
	t.Helper()
	return MustImportFile(t, "testdata/restriction.osm")
}

func TestTurnRestrictionViaNode(t *testing.T) {
	g := mustXML(t)
	ctx := context.Background()
	from, _ := g.Snap(convoi.LatLon{Lat: 43.7000, Lon: 7.4000})
	to, _ := g.Snap(convoi.LatLon{Lat: 43.7010, Lon: 7.4010})
	r, err := g.Route(ctx, from, to, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ways := map[int64]bool{}
	for _, s := range r.Segments {
		ways[s.WayID] = true
	}
	if !ways[13] {
		t.Fatalf("route ignores no_left_turn 10->11: ways %v", ways)
	}
	if r.Chokepoints == nil || len(r.Chokepoints) == 0 || r.Chokepoints[0].Kind != KindTollBooth {
		t.Fatalf("detour passes the toll booth on way 12, chokepoints %+v", r.Chokepoints)
	}
	// The reverse turn is allowed.
	back, err := g.Route(ctx, to, from, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Segments) != 2 {
		t.Fatalf("reverse route should be 11 then 10, got %d segments", len(back.Segments))
	}
}

func TestGraphFileRoundTrip(t *testing.T) {
	g := MustMonaco(t)
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := ReadGraph(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err1 := g.RouteLatLon(ctx, courthouse, westA8, RouteOptions{})
	b, err2 := h.RouteLatLon(ctx, courthouse, westA8, RouteOptions{})
	if err1 != nil || err2 != nil || a.Cost != b.Cost || len(a.Chokepoints) != len(b.Chokepoints) || len(a.Geometry) != len(b.Geometry) {
		t.Fatalf("loaded graph routes differently: %v %v", err1, err2)
	}
	data := buf.Bytes()
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTAGRPH"), data[8:]...),
		"truncated": data[:len(data)/2],
		"flipped":   flip(data, len(data)/3),
		"version":   flip(data, 8),
	} {
		_, err := ReadGraph(bytes.NewReader(bad))
		if convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: want EINVALID, got %v", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

func TestImportCorruptOSM(t *testing.T) {
	for name, data := range map[string][]byte{
		"truncated pbf": osmdata.Monaco[:len(osmdata.Monaco)/2],
		"garbage pbf":   []byte("this is not a pbf file at all"),
	} {
		_, err := ImportOSM(context.Background(), bytes.NewReader(data), FormatPBF, ImportOptions{})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := ImportOSM(context.Background(), bytes.NewReader([]byte("<osm><node id=")), FormatXML, ImportOptions{})
	if err == nil {
		t.Error("truncated xml: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), FormatPBF, ImportOptions{}); !errors.Is(err, context.Canceled) && err == nil {
		t.Error("cancelled import: no error")
	}
}

func TestParseMaxspeed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"50", 50, true}, {"30 mph", 48.28032, true}, {"FR:urban", 50, true}, {"FR:rural", 80, true},
		{"DE:zone30", 30, true}, {"none", 130, true}, {"walk", 5, true}, {"signals", 0, false}, {"", 0, false},
	} {
		got, ok := ParseMaxspeed(tc.in)
		if ok != tc.ok || ok && (got-tc.want > 1e-6 || tc.want-got > 1e-6) {
			t.Errorf("ParseMaxspeed(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzReadGraph(f *testing.F) {
	f.Add([]byte("CVROADNT"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ReadGraph(bytes.NewReader(data))
		if err != nil && len(data) >= 16 {
			// Fix the checksum so that mutations reach the validators.
			fixed := append([]byte(nil), data...)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], castagnoli))
			g, err = ReadGraph(bytes.NewReader(fixed))
		}
		if err == nil {
			// Whatever loads must answer queries without panicking.
			p, _ := g.NodePoint(0)
			q, _ := g.NodePoint(NodeID(g.NumNodes() - 1))
			g.ShortestPath(context.Background(), p, q, RouteOptions{})
			// And translate input node ids both ways.
			if id, ok := g.ExternalID(q.Node); ok {
				if n, err := g.NodeByExternalID(id); err != nil || g.ext[n] != id {
					t.Fatalf("input id %d: node %d, %v", id, n, err)
				}
			}
		}
	})
}
