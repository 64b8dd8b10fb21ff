package roadnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
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
	// Written again, it is a current file that still knows no ids.
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

// toVersion1 removes the input-id array and the (absent) turn hierarchy of
// a version 3 file of a DIMACS graph of n nodes and marks it version 1,
// with a fresh checksum.
func toVersion1(t *testing.T, v3 []byte, n int) []byte {
	t.Helper()
	head := len(fileMagic) + 4 + 1 + 8 // magic, version, metric, unit
	ext := head + 2*(8+4*n)            // after lat and lon
	if got := binary.LittleEndian.Uint64(v3[ext:]); got != uint64(n) {
		t.Fatalf("input id array length %d at %d, want %d", got, ext, n)
	}
	if v3[len(v3)-5] != 0 {
		t.Fatal("a DIMACS graph file with a turn hierarchy")
	}
	out := append([]byte(nil), v3[:ext]...)
	out = append(out, v3[ext+8+8*n:len(v3)-5]...)
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

// TestGraphFileVersion2Turns: a version 2 file of an OSM graph (no turn
// hierarchy) still loads and routes with turn costs, by the A* over the
// turns, at the same cost as the hierarchy; written again it has the
// hierarchy back only after a rebuild (it writes what it has).
func TestGraphFileVersion2Turns(t *testing.T) {
	g := MustMonaco(t)
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	v3 := buf.Bytes()
	var th bytes.Buffer
	c := &countWriter{w: &th}
	c.u8(1)
	c.hierarchy(&g.turns.hierarchy)
	cut := len(v3) - 4 - th.Len()
	if !bytes.Equal(v3[cut:len(v3)-4], th.Bytes()) {
		t.Fatal("the turn hierarchy is not at the end of the file")
	}
	v2 := append([]byte(nil), v3[:cut]...)
	binary.LittleEndian.PutUint32(v2[len(fileMagic):], 2)
	v2 = binary.LittleEndian.AppendUint32(v2, crc32.Checksum(v2, castagnoli))
	h, err := ReadGraph(bytes.NewReader(v2))
	if err != nil {
		t.Fatalf("version 2 file: %v", err)
	}
	if h.turns == nil || h.turns.hasHierarchy() {
		t.Fatalf("version 2 file: turn graph %v", h.turns)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	pos := randomRoadPoints(t, g, rng, 20)
	for i := 0; i+1 < len(pos); i += 2 {
		p, err1 := g.ShortestPath(context.Background(), pos[i], pos[i+1], RouteOptions{})
		q, err2 := h.ShortestPath(context.Background(), pos[i], pos[i+1], RouteOptions{})
		if (err1 == nil) != (err2 == nil) || p.Cost+g.turnsOf(p.Edges) != q.Cost+h.turnsOf(q.Edges) {
			t.Fatalf("pair %d: version 3 cost %d (%v), version 2 %d (%v)", i, p.Cost+g.turnsOf(p.Edges), err1, q.Cost+h.turnsOf(q.Edges), err2)
		}
	}
	// A turn hierarchy that does not fit the turns (another profile) is
	// an error that asks for a rebuild.
	bad := append([]byte(nil), v3[:len(v3)-4]...)
	k := &hierarchy{}
	rd := &reader{b: bad[cut+1:]}
	rd.hierarchy(k)
	if len(k.chWeight) == 0 {
		t.Fatal("no turn shortcuts")
	}
	// The shortcut weights follow the rank (a count and 4 bytes a node)
	// and their own count: bump the first one.
	off := cut + 1 + 8 + 4*len(k.rank) + 8
	binary.LittleEndian.PutUint32(bad[off:], binary.LittleEndian.Uint32(bad[off:])+1)
	bad = binary.LittleEndian.AppendUint32(bad, crc32.Checksum(bad, castagnoli))
	if _, err := ReadGraph(bytes.NewReader(bad)); convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(convoi.ErrorMessage(err), "rebuild") {
		t.Fatalf("mismatched turn hierarchy: %v", err)
	}
}
