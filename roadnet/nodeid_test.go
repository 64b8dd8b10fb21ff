package roadnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/convoi/convoi"
)

// smallDIMACS is a graph whose node 1 only leaves (it is outside the
// strongly connected component and dropped), so that every kept node's
// index differs from its DIMACS id.
const (
	smallGR = `c test
p sp 5 9
a 1 2 5
a 2 3 10
a 3 2 10
a 3 4 20
a 4 3 20
a 4 5 7
a 5 4 7
a 2 5 50
a 5 2 50
`
	smallCO = `p aux sp co 5
v 1 7420000 43730000
v 2 7421000 43731000
v 3 7422000 43732000
v 4 7423000 43733000
v 5 7424000 43734000
`
)

func mustSmallDIMACS(t *testing.T) *Graph {
	t.Helper()
	g, err := ImportDIMACS(context.Background(), strings.NewReader(smallGR), strings.NewReader(smallCO), DIMACSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestExternalNodeIDs: nodes are addressed by their DIMACS ids whatever
// the graph renumbered, in memory and through a graph file.
func TestExternalNodeIDs(t *testing.T) {
	g := mustSmallDIMACS(t)
	if g.NumNodes() != 4 {
		t.Fatalf("%d nodes, want 4 (node 1 dropped)", g.NumNodes())
	}
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := ReadGraph(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*Graph{"imported": g, "from file": h} {
		t.Run(name, func(t *testing.T) {
			for id := int64(2); id <= 5; id++ {
				n, err := g.NodeByExternalID(id)
				if err != nil {
					t.Fatalf("node %d: %v", id, err)
				}
				want := convoi.LatLon{Lat: 43.730 + float64(id-1)*0.001, Lon: 7.420 + float64(id-1)*0.001}
				if got := g.NodeLatLon(n); got.DistanceM(want) > 0.5 {
					t.Errorf("node %d is at %v, want %v", id, got, want)
				}
				if back, ok := g.ExternalID(n); !ok || back != id {
					t.Errorf("ExternalID(%d) = %d, %v; want %d", n, back, ok, id)
				}
			}
			for _, id := range []int64{0, 1, 6, -3} {
				if _, err := g.NodeByExternalID(id); convoi.ErrorCode(err) != convoi.ENOTFOUND {
					t.Errorf("node %d: %v, want ENOTFOUND", id, err)
				}
			}
			from, _ := g.NodeByExternalID(2)
			to, _ := g.NodeByExternalID(4)
			a, _ := g.NodePoint(from)
			b, _ := g.NodePoint(to)
			p, err := g.ShortestPath(context.Background(), a, b, RouteOptions{})
			if err != nil || p.Cost != 30 {
				t.Fatalf("2 -> 4: cost %d, %v; want 30 (2-3-4)", p.Cost, err)
			}
		})
	}
}

// TestGraphFileVersion1: a graph file of the previous version, without
// input ids, still loads and routes, and asks for a rebuild to address
// nodes by id.
func TestGraphFileVersion1(t *testing.T) {
	g := mustSmallDIMACS(t)
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	v1 := toVersion1(t, buf.Bytes(), g.NumNodes())
	h, err := ReadGraph(bytes.NewReader(v1))
	if err != nil {
		t.Fatalf("version 1 file: %v", err)
	}
	if _, err := h.NodeByExternalID(2); convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(convoi.ErrorMessage(err), "rebuild") {
		t.Fatalf("NodeByExternalID on a version 1 file: %v", err)
	}
	a, _ := h.NodePoint(0)
	b, _ := h.NodePoint(NodeID(h.NumNodes() - 1))
	if _, err := h.ShortestPath(context.Background(), a, b, RouteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Written again, it is a version 2 file that still knows no ids.
	buf.Reset()
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	k, err := ReadGraph(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.NodeByExternalID(2); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("rewritten version 1 graph: %v", err)
	}
}

// toVersion1 removes the input-id array of a version 2 file of n nodes and
// marks it version 1, with a fresh checksum.
func toVersion1(t *testing.T, v2 []byte, n int) []byte {
	t.Helper()
	head := len(fileMagic) + 4 + 1 + 8 // magic, version, metric, unit
	ext := head + 2*(8+4*n)            // after lat and lon
	if got := binary.LittleEndian.Uint64(v2[ext:]); got != uint64(n) {
		t.Fatalf("input id array length %d at %d, want %d", got, ext, n)
	}
	out := append([]byte(nil), v2[:ext]...)
	out = append(out, v2[ext+8+8*n:len(v2)-4]...)
	binary.LittleEndian.PutUint32(out[len(fileMagic):], 1)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// TestExternalIDsOSM: OSM graphs answer to OSM node ids.
func TestExternalIDsOSM(t *testing.T) {
	g := MustMonaco(t)
	checked := 0
	for n := NodeID(0); int(n) < g.NumNodes(); n += 97 {
		id, ok := g.ExternalID(n)
		if !ok || id <= 0 {
			t.Fatalf("node %d has no OSM id", n)
		}
		m, err := g.NodeByExternalID(id)
		if err != nil {
			t.Fatal(err)
		}
		if g.NodeLatLon(m) != g.NodeLatLon(n) {
			t.Fatalf("OSM node %d: node %d at %v, want %v", id, m, g.NodeLatLon(m), g.NodeLatLon(n))
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked %d nodes", checked)
	}
}

// TestOnePassagePerChokepoint: a way cut into several edges is passed
// once, even when it has several kinds (the tunnel under the Canton
// roundabout, way 120114109, is both).
func TestOnePassagePerChokepoint(t *testing.T) {
	g := MustMonaco(t)
	r, err := g.RouteLatLon(context.Background(), courthouse, westA8, RouteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		kind Kind
		obj  string
		id   int64
	}
	n := map[key]int{}
	for _, p := range r.Chokepoints {
		n[key{p.Kind, p.OSMType, p.OSMID}]++
	}
	if n[key{KindTunnel, "way", 120114109}] != 1 {
		t.Errorf("tunnel way/120114109 passed %d times, want 1", n[key{KindTunnel, "way", 120114109}])
	}
	for k, c := range n {
		if c > 1 {
			t.Errorf("%s %s/%d listed %d times", k.kind, k.obj, k.id, c)
		}
	}
}
