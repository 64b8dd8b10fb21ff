package roadnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"slices"

	"github.com/convoi/convoi"
)

// Graph file format, version 3 (all integers little-endian):
//
//	magic   "CVROADNT" (8 bytes)
//	version uint32
//	payload: metric uint8, unitMS float64, then the graph arrays, each a
//	         uint64 element count followed by the elements (see WriteTo)
//	crc     uint32, CRC-32C of everything before it
//
// Version 2 adds, after the node coordinates, each node's id in the input
// (int64: DIMACS id or OSM node id). Version 1 files are still read; they
// route as before but cannot translate input node ids (NodeByExternalID is
// EINVALID, asking for a rebuild).
//
// Version 3 adds, at the end, the contraction hierarchy of the turn graph
// (turns.go): a uint8 1 and the same ten arrays as the road graph's
// hierarchy, or a uint8 0 for graphs without turn pricing (DIMACS). The
// turn graph's arcs are not stored: they are derived at load from the road
// graph and the profile, and the shortcut sums are checked against them.
// Files of versions 1 and 2 still load and route with turn costs, by an
// exact A* over the turns (milliseconds rather than microseconds per
// route) until rebuilt.
//
// The reader checks the magic, version, checksum and every index before it
// returns a graph, so that a corrupt file is an error and never a panic.
const (
	fileMagic   = "CVROADNT"
	fileVersion = 3
	// fileVersionNoTurns is the newest version without the turn hierarchy.
	fileVersionNoTurns = 2
	// fileVersionNoIDs is the oldest version read: no input node ids.
	fileVersionNoIDs = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type countWriter struct {
	w   io.Writer
	n   int64
	crc uint32
	err error
	buf [8]byte
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.err = err
	return n, err
}

func (c *countWriter) u8(v uint8)   { c.Write([]byte{v}) }
func (c *countWriter) u32(v uint32) { binary.LittleEndian.PutUint32(c.buf[:4], v); c.Write(c.buf[:4]) }
func (c *countWriter) u64(v uint64) { binary.LittleEndian.PutUint64(c.buf[:8], v); c.Write(c.buf[:8]) }

func (c *countWriter) u32s(s []uint32) {
	c.u64(uint64(len(s)))
	b := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	c.Write(b)
}

func (c *countWriter) i32s(s []int32) {
	c.u64(uint64(len(s)))
	b := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	c.Write(b)
}

func (c *countWriter) i64s(s []int64) {
	c.u64(uint64(len(s)))
	b := make([]byte, 8*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	c.Write(b)
}

func (c *countWriter) str(s string) {
	c.u32(uint32(len(s)))
	c.Write([]byte(s))
}

// WriteTo writes the graph, with its contraction hierarchy, in the graph
// file format. It implements io.WriterTo.
func (g *Graph) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	c := &countWriter{w: bw}
	c.Write([]byte(fileMagic))
	c.u32(fileVersion)
	c.u8(uint8(g.metric))
	c.u64(math.Float64bits(g.unitMS))
	c.i32s(g.lat)
	c.i32s(g.lon)
	ext := g.ext
	if ext == nil {
		ext = make([]int64, len(g.lat)) // unknown ids stay unknown (0)
	}
	c.i64s(ext)
	c.u32s(g.firstOut)
	c.u32s(g.head)
	c.u32s(g.weight)
	dist := make([]uint32, len(g.dist))
	for i, d := range g.dist {
		dist[i] = math.Float32bits(d)
	}
	c.u32s(dist)
	c.u32s(g.road)
	c.u32s(g.roadFirst)
	c.i32s(g.ptLat)
	c.i32s(g.ptLon)
	c.i64s(g.roadWay)
	c.u32s(kindsU32(g.roadKind))
	c.u32s(g.roadCPFirst)
	c.u32s(g.roadCP)
	c.i32s(g.roadCPPos)
	c.u64(uint64(len(g.cps)))
	for _, p := range g.cps {
		c.u32(uint32(p.Kind))
		c.u32(uint32(toE7(p.LatLon.Lat)))
		c.u32(uint32(toE7(p.LatLon.Lon)))
		if p.OSMType == "way" {
			c.u8(1)
		} else {
			c.u8(0)
		}
		c.u64(uint64(p.OSMID))
		c.str(p.Name)
	}
	c.hierarchy(&g.hierarchy)
	if g.turns != nil && g.turns.hasHierarchy() {
		c.u8(1)
		c.hierarchy(&g.turns.hierarchy)
	} else {
		c.u8(0)
	}
	if c.err != nil {
		return c.n, fmt.Errorf("write graph: %w", c.err)
	}
	crc := c.crc
	binary.LittleEndian.PutUint32(c.buf[:4], crc)
	c.Write(c.buf[:4])
	if c.err == nil {
		c.err = bw.Flush()
	}
	if c.err != nil {
		return c.n, fmt.Errorf("write graph: %w", c.err)
	}
	return c.n, nil
}

func (c *countWriter) hierarchy(h *hierarchy) {
	c.u32s(h.rank)
	c.u32s(h.chWeight)
	c.u32s(h.chA)
	c.u32s(h.chB)
	c.u32s(h.upFirst)
	c.u32s(h.upHead)
	c.u32s(h.upEdge)
	c.u32s(h.downFirst)
	c.u32s(h.downTail)
	c.u32s(h.downEdge)
}

func (r *reader) hierarchy(h *hierarchy) {
	h.rank = r.u32s()
	h.chWeight, h.chA, h.chB = r.u32s(), r.u32s(), r.u32s()
	h.upFirst, h.upHead, h.upEdge = r.u32s(), r.u32s(), r.u32s()
	h.downFirst, h.downTail, h.downEdge = r.u32s(), r.u32s(), r.u32s()
}

func kindsU32(k []Kind) []uint32 {
	s := make([]uint32, len(k))
	for i, v := range k {
		s[i] = uint32(v)
	}
	return s
}

// reader decodes a payload with bounds checks; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = convoi.Errorf(convoi.EINVALID, "Corrupt graph file: "+format+".", args...)
	}
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated")
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) count(size uint64) uint64 {
	n := r.u64()
	if r.err == nil && n > uint64(len(r.b))/size {
		r.fail("array length %d beyond end of file", n)
		return 0
	}
	return n
}

func (r *reader) u32s() []uint32 {
	n := r.count(4)
	b := r.take(4 * n)
	s := make([]uint32, len(b)/4)
	for i := range s {
		s[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return s
}

func (r *reader) i32s() []int32 {
	n := r.count(4)
	b := r.take(4 * n)
	s := make([]int32, len(b)/4)
	for i := range s {
		s[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return s
}

func (r *reader) i64s() []int64 {
	n := r.count(8)
	b := r.take(8 * n)
	s := make([]int64, len(b)/8)
	for i := range s {
		s[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return s
}

// ReadGraph reads a graph file written by WriteTo. A file that is not a
// graph file, of another version, truncated or corrupt is an EINVALID
// error.
func ReadGraph(r io.Reader) (*Graph, error) {
	var data []byte
	var err error
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		// A file: read it into a buffer of its size at once rather than
		// growing one (a New York graph is 53 MB).
		if fi, serr := st.Stat(); serr == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() < 1<<40 {
			data = make([]byte, 0, fi.Size()+1)
		}
	}
	if data != nil {
		for err == nil {
			var n int
			n, err = r.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if len(data) == cap(data) {
				// Grown since Stat: fall back to reading the rest.
				var rest []byte
				rest, err = io.ReadAll(r)
				data = append(data, rest...)
				break
			}
		}
		if err == io.EOF {
			err = nil
		}
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return nil, fmt.Errorf("read graph: %w", err)
	}
	return decodeGraph(data)
}

func decodeGraph(data []byte) (*Graph, error) {
	if len(data) < len(fileMagic)+8 || string(data[:len(fileMagic)]) != fileMagic {
		return nil, convoi.Errorf(convoi.EINVALID, "Not a convoi graph file.")
	}
	version := binary.LittleEndian.Uint32(data[len(fileMagic):])
	if version < fileVersionNoIDs || version > fileVersion {
		return nil, convoi.Errorf(convoi.EINVALID, "Graph file version %d, this convoi reads versions %d to %d: rebuild the graph.", version, fileVersionNoIDs, fileVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, convoi.Errorf(convoi.EINVALID, "Corrupt graph file: checksum mismatch (truncated or damaged).")
	}
	rd := &reader{b: body[len(fileMagic)+4:]}
	g := &Graph{}
	g.metric = Metric(rd.u8())
	g.unitMS = math.Float64frombits(rd.u64())
	g.lat, g.lon = rd.i32s(), rd.i32s()
	if version >= 2 {
		g.ext = rd.i64s()
		if !slices.ContainsFunc(g.ext, func(id int64) bool { return id != 0 }) {
			g.ext = nil // written from a version 1 graph: still unknown
		}
	}
	g.firstOut, g.head, g.weight = rd.u32s(), rd.u32s(), rd.u32s()
	dist := rd.u32s()
	g.dist = make([]float32, len(dist))
	for i, d := range dist {
		g.dist[i] = math.Float32frombits(d)
	}
	g.road = rd.u32s()
	g.roadFirst, g.ptLat, g.ptLon = rd.u32s(), rd.i32s(), rd.i32s()
	g.roadWay = rd.i64s()
	rk := rd.u32s()
	g.roadKind = make([]Kind, len(rk))
	for i, k := range rk {
		g.roadKind[i] = Kind(k)
	}
	g.roadCPFirst, g.roadCP, g.roadCPPos = rd.u32s(), rd.u32s(), rd.i32s()
	ncp := rd.count(25)
	g.cps = make([]Chokepoint, 0, ncp)
	for i := uint64(0); i < ncp && rd.err == nil; i++ {
		var c Chokepoint
		c.ID = uint32(i)
		c.Kind = Kind(rd.u32())
		c.LatLon = convoi.LatLon{Lat: float64(int32(rd.u32())) / 1e7, Lon: float64(int32(rd.u32())) / 1e7}
		c.OSMType = "node"
		if rd.u8() == 1 {
			c.OSMType = "way"
		}
		c.OSMID = int64(rd.u64())
		c.Name = string(rd.take(uint64(rd.u32())))
		c.Slowdown = c.Kind.Slowdown()
		g.cps = append(g.cps, c)
	}
	rd.hierarchy(&g.hierarchy)
	var turnCH *hierarchy
	if version > fileVersionNoTurns && rd.u8() == 1 {
		turnCH = &hierarchy{}
		rd.hierarchy(turnCH)
	}
	if rd.err != nil {
		return nil, rd.err
	}
	if len(rd.b) != 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Corrupt graph file: %d trailing bytes.", len(rd.b))
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	g.derive()
	if turnCH != nil {
		if g.turns == nil {
			return nil, convoi.Errorf(convoi.EINVALID, "Corrupt graph file: a turn hierarchy for a graph without turns.")
		}
		turnCH.baseTail, turnCH.baseHead, turnCH.baseWeight = g.turns.baseTail, g.turns.baseHead, g.turns.baseWeight
		if err := turnCH.validate(len(g.head)); err != nil {
			return nil, convoi.Errorf(convoi.EINVALID, "Corrupt graph file: turn hierarchy: %s (a file written with another turn profile: rebuild it).", err)
		}
		g.turns.hierarchy = *turnCH
	}
	g.buildIndex()
	return g, nil
}

// validate checks every length and index so that no query on g can go out
// of range or loop.
func (g *Graph) validate() error {
	bad := func(what string) error {
		return convoi.Errorf(convoi.EINVALID, "Corrupt graph file: %s.", what)
	}
	n, m := len(g.lat), len(g.head)
	if g.metric != MetricTimeMS && g.metric != MetricDIMACS {
		return bad("unknown metric")
	}
	if !(g.unitMS > 0) || math.IsInf(g.unitMS, 0) {
		return bad("bad cost unit")
	}
	if n == 0 || len(g.lon) != n || n >= math.MaxUint32 || m >= math.MaxUint32 || g.ext != nil && len(g.ext) != n {
		return bad("node arrays")
	}
	if !monotone(g.firstOut, n+1, m) {
		return bad("edge index")
	}
	if len(g.weight) != m || len(g.dist) != m || len(g.road) != m {
		return bad("edge arrays")
	}
	for _, h := range g.head {
		if int(h) >= n {
			return bad("edge head")
		}
	}
	nr := len(g.roadWay)
	if len(g.roadKind) != nr || !monotone(g.roadFirst, nr+1, len(g.ptLat)) || len(g.ptLon) != len(g.ptLat) {
		return bad("road arrays")
	}
	for r := 0; r < nr; r++ {
		if g.roadFirst[r+1]-g.roadFirst[r] < 2 {
			return bad("road with fewer than 2 points")
		}
	}
	for _, r := range g.road {
		if int(r>>1) >= nr {
			return bad("edge road")
		}
	}
	if !monotone(g.roadCPFirst, nr+1, len(g.roadCP)) || len(g.roadCPPos) != len(g.roadCP) {
		return bad("chokepoint index")
	}
	for r := 0; r < nr; r++ {
		l := int32(g.roadFirst[r+1] - g.roadFirst[r])
		for i := g.roadCPFirst[r]; i < g.roadCPFirst[r+1]; i++ {
			if int(g.roadCP[i]) >= len(g.cps) || g.roadCPPos[i] < -1 || g.roadCPPos[i] >= l {
				return bad("chokepoint reference")
			}
		}
	}
	g.tail = make([]uint32, m)
	for v := 0; v < n; v++ {
		for e := g.firstOut[v]; e < g.firstOut[v+1]; e++ {
			g.tail[e] = uint32(v)
		}
	}
	g.hierarchy.baseTail, g.hierarchy.baseHead, g.hierarchy.baseWeight = g.tail, g.head, g.weight
	if err := g.hierarchy.validate(n); err != nil {
		return bad(err.Error())
	}
	return nil
}

// validate checks the hierarchy over n nodes against its base arcs.
func (h *hierarchy) validate(n int) error {
	m := len(h.baseHead)
	if len(h.rank) != n {
		return errors.New("rank")
	}
	seen := make([]bool, n)
	for _, r := range h.rank {
		if int(r) >= n || seen[r] {
			return errors.New("rank is not a permutation")
		}
		seen[r] = true
	}
	ns := len(h.chWeight)
	if len(h.chA) != ns || len(h.chB) != ns {
		return errors.New("shortcut arrays")
	}
	for i := 0; i < ns; i++ {
		id := uint32(m + i)
		if h.chA[i] >= id || h.chB[i] >= id {
			return errors.New("shortcut child")
		}
	}
	// First and last node of every CH edge, in id order: children come
	// before their parent, so each is one lookup (chTail and chHead would
	// walk the whole chain for every shortcut and arc).
	from := make([]uint32, m+ns)
	to := make([]uint32, m+ns)
	copy(from, h.baseTail)
	copy(to, h.baseHead)
	for i := 0; i < ns; i++ {
		a, b := h.chA[i], h.chB[i]
		if to[a] != from[b] || int64(h.chWeight[i]) != h.chCost(a)+h.chCost(b) {
			return errors.New("shortcut does not join its children")
		}
		from[m+i], to[m+i] = from[a], to[b]
	}
	if !monotone(h.upFirst, n+1, len(h.upHead)) || len(h.upEdge) != len(h.upHead) ||
		!monotone(h.downFirst, n+1, len(h.downTail)) || len(h.downEdge) != len(h.downTail) {
		return errors.New("hierarchy index")
	}
	for u := 0; u < n; u++ {
		for i := h.upFirst[u]; i < h.upFirst[u+1]; i++ {
			id := h.upEdge[i]
			if int(id) >= m+ns || int(h.upHead[i]) >= n || from[id] != uint32(u) || to[id] != h.upHead[i] {
				return errors.New("upward arc")
			}
		}
		for i := h.downFirst[u]; i < h.downFirst[u+1]; i++ {
			id := h.downEdge[i]
			if int(id) >= m+ns || int(h.downTail[i]) >= n || to[id] != uint32(u) || from[id] != h.downTail[i] {
				return errors.New("downward arc")
			}
		}
	}
	return nil
}

// monotone reports whether s has length l, starts at 0, never decreases and
// ends at end.
func monotone(s []uint32, l, end int) bool {
	if len(s) != l || s[0] != 0 || int(s[l-1]) != end {
		return false
	}
	for i := 1; i < l; i++ {
		if s[i] < s[i-1] {
			return false
		}
	}
	return true
}
