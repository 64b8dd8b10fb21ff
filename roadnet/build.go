package roadnet

import (
	"context"
	"math"

	"github.com/convoi/convoi"
)

// builder collects a raw graph before it is frozen into a Graph.
type builder struct {
	metric Metric
	unitMS float64

	lat, lon []int32
	osmNode  []int64 // OSM id of each node, 0 when none

	roadFirst []uint32
	ptLat     []int32
	ptLon     []int32
	roadWay   []int64
	roadKind  []Kind
	roadCPs   [][]roadCP

	cps []Chokepoint

	edges        []bedge
	restrictions []restriction
}

type roadCP struct {
	pos int32 // point index in the road, -1 for the whole road
	cp  uint32
}

type bedge struct {
	tail, head uint32
	w          uint32
	dist       float32
	road       uint32 // road<<1 | reversed
}

// restriction is a turn restriction via a node: from way fromWay into via,
// then (only) onto toWay or (no) not onto toWay.
type restriction struct {
	via           uint32
	fromWay, toWy int64
	only          bool
}

func newBuilder(metric Metric, unitMS float64) *builder {
	return &builder{metric: metric, unitMS: unitMS, roadFirst: []uint32{0}}
}

func (b *builder) addNode(ll convoi.LatLon, osmID int64) uint32 {
	b.lat = append(b.lat, toE7(ll.Lat))
	b.lon = append(b.lon, toE7(ll.Lon))
	b.osmNode = append(b.osmNode, osmID)
	return uint32(len(b.lat) - 1)
}

func toE7(d float64) int32 { return int32(math.Round(d * 1e7)) }

// addRoad appends a polyline and returns its index.
func (b *builder) addRoad(lats, lons []int32, way int64, kind Kind, cps []roadCP) uint32 {
	b.ptLat = append(b.ptLat, lats...)
	b.ptLon = append(b.ptLon, lons...)
	b.roadFirst = append(b.roadFirst, uint32(len(b.ptLat)))
	b.roadWay = append(b.roadWay, way)
	b.roadKind = append(b.roadKind, kind)
	b.roadCPs = append(b.roadCPs, cps)
	return uint32(len(b.roadWay) - 1)
}

func (b *builder) addEdge(tail, head, w uint32, dist float64, road uint32, rev bool) {
	r := road << 1
	if rev {
		r |= 1
	}
	b.edges = append(b.edges, bedge{tail: tail, head: head, w: w, dist: float32(dist), road: r})
}

// finish applies turn restrictions, keeps the largest strongly connected
// component, lays the graph out and contracts it.
func (b *builder) finish(ctx context.Context, progress func(string)) (*Graph, error) {
	b.applyRestrictions()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.keepLargestSCC()
	if len(b.lat) < 2 || len(b.edges) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "The input has no routable road network.")
	}
	g := b.layout()
	if progress != nil {
		progress("contracting")
	}
	if err := g.contract(ctx, len(g.lat)); err != nil {
		return nil, err
	}
	if g.turns != nil {
		if progress != nil {
			progress("contracting the turns")
		}
		if err := g.turns.contract(ctx, len(g.head)); err != nil {
			return nil, err
		}
	}
	g.buildIndex()
	return g, nil
}

// applyRestrictions encodes via-node turn restrictions by node splitting: the
// edges of the from-way into the via node are redirected to a copy of the
// via node whose out-edges are only the allowed ones.
func (b *builder) applyRestrictions() {
	if len(b.restrictions) == 0 {
		return
	}
	type key struct {
		via     uint32
		fromWay int64
	}
	groups := map[key][]restriction{}
	var order []key
	for _, r := range b.restrictions {
		k := key{r.via, r.fromWay}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make(map[uint32][]int, len(order))
	in := make(map[uint32][]int, len(order))
	for _, k := range order {
		out[k.via], in[k.via] = nil, nil
	}
	for i, e := range b.edges {
		if _, ok := out[e.tail]; ok {
			out[e.tail] = append(out[e.tail], i)
		}
		if _, ok := in[e.head]; ok {
			in[e.head] = append(in[e.head], i)
		}
	}
	// override[road<<1|rev] is the new head of every edge along that
	// road direction into the via node.
	override := map[uint32]uint32{}
	type split struct {
		node    uint32
		allowed []int
	}
	var splits []split
	for _, k := range order {
		rs := groups[k]
		var from []int
		for _, ei := range in[k.via] {
			if b.roadWay[b.edges[ei].road>>1] == k.fromWay {
				from = append(from, ei)
			}
		}
		if len(from) == 0 {
			continue
		}
		var allowed []int
		for _, ei := range out[k.via] {
			w := b.roadWay[b.edges[ei].road>>1]
			ok := true
			for _, r := range rs {
				if r.only && w != r.toWy || !r.only && w == r.toWy {
					ok = false
				}
			}
			if ok {
				allowed = append(allowed, ei)
			}
		}
		if len(allowed) == len(out[k.via]) {
			continue
		}
		n := b.addNode(convoi.LatLon{Lat: float64(b.lat[k.via]) / 1e7, Lon: float64(b.lon[k.via]) / 1e7}, b.osmNode[k.via])
		for _, ei := range from {
			override[b.edges[ei].road] = n
		}
		splits = append(splits, split{n, allowed})
	}
	for _, s := range splits {
		for _, ei := range s.allowed {
			e := b.edges[ei]
			e.tail = s.node
			b.edges = append(b.edges, e)
		}
	}
	for i := range b.edges {
		e := &b.edges[i]
		if n, ok := override[e.road]; ok && b.lat[n] == b.lat[e.head] && b.lon[n] == b.lon[e.head] && b.osmNode[n] == b.osmNode[e.head] {
			e.head = n
		}
	}
}

// boundaryM is how close to the edge of an OSM extract a one-way dead end
// must be to count as a road that leaves the map.
const boundaryM = 300

// boundaryNodes returns the nodes of an OSM graph where a one-way road
// leaves or enters the extract: nodes without an out-edge or without an
// in-edge, within boundaryM of the box of all road nodes. A motorway
// carriageway cut by the extract's edge (the A8 west of La Turbie in the
// Monaco extract) ends in one; it is not a dead end in reality.
func (b *builder) boundaryNodes() []uint32 {
	n := len(b.lat)
	if n == 0 || b.metric != MetricTimeMS {
		return nil
	}
	in, out := make([]bool, n), make([]bool, n)
	for _, e := range b.edges {
		out[e.tail], in[e.head] = true, true
	}
	minLat, maxLat, minLon, maxLon := b.lat[0], b.lat[0], b.lon[0], b.lon[0]
	for i := range b.lat {
		minLat, maxLat = min(minLat, b.lat[i]), max(maxLat, b.lat[i])
		minLon, maxLon = min(minLon, b.lon[i]), max(maxLon, b.lon[i])
	}
	const mPerE7Lat = 111195.0 / 1e7
	mPerE7Lon := mPerE7Lat * math.Cos(float64(minLat+maxLat)/2/1e7*math.Pi/180)
	var nodes []uint32
	for i := range b.lat {
		if in[i] == out[i] { // isolated nodes or through nodes
			continue
		}
		d := min(float64(b.lat[i]-minLat)*mPerE7Lat, float64(maxLat-b.lat[i])*mPerE7Lat,
			float64(b.lon[i]-minLon)*mPerE7Lon, float64(maxLon-b.lon[i])*mPerE7Lon)
		if d <= boundaryM {
			nodes = append(nodes, uint32(i))
		}
	}
	return nodes
}

// keepLargestSCC drops every node outside the largest strongly connected
// component, and the edges that touch them. Roads that leave an OSM extract
// count as connected through the world outside it (a virtual node joined to
// every boundary node, for this computation only), so a one-way motorway
// carriageway that runs off the map is kept: routes can follow it to the
// edge, though none starts on it.
func (b *builder) keepLargestSCC() {
	n := len(b.lat)
	outside := uint32(n)
	var extra []bedge
	for _, v := range b.boundaryNodes() {
		extra = append(extra, bedge{tail: v, head: outside}, bedge{tail: outside, head: v})
	}
	m := n + 1 // with the outside node
	first := make([]uint32, m+1)
	for _, es := range [2][]bedge{b.edges, extra} {
		for _, e := range es {
			first[e.tail+1]++
		}
	}
	for i := 0; i < m; i++ {
		first[i+1] += first[i]
	}
	adj := make([]uint32, len(b.edges)+len(extra))
	fill := append([]uint32(nil), first[:m]...)
	for _, es := range [2][]bedge{b.edges, extra} {
		for _, e := range es {
			adj[fill[e.tail]] = e.head
			fill[e.tail]++
		}
	}
	comp, compSize := components(m, first, adj)
	const unvisited = math.MaxUint32
	best := uint32(0)
	for c, s := range compSize {
		if s > compSize[best] {
			best = uint32(c)
		}
	}
	remap := make([]uint32, n)
	k := uint32(0)
	for i := 0; i < n; i++ {
		if comp[i] == best {
			remap[i] = k
			b.lat[k], b.lon[k], b.osmNode[k] = b.lat[i], b.lon[i], b.osmNode[i]
			k++
		} else {
			remap[i] = unvisited
		}
	}
	b.lat, b.lon, b.osmNode = b.lat[:k], b.lon[:k], b.osmNode[:k]
	j := 0
	for _, e := range b.edges {
		if remap[e.tail] == unvisited || remap[e.head] == unvisited {
			continue
		}
		e.tail, e.head = remap[e.tail], remap[e.head]
		b.edges[j] = e
		j++
	}
	b.edges = b.edges[:j]
}

// layout freezes the builder into a Graph without the CH.
func (b *builder) layout() *Graph {
	n, m := len(b.lat), len(b.edges)
	g := &Graph{metric: b.metric, unitMS: b.unitMS, lat: b.lat, lon: b.lon, ext: b.osmNode}
	g.firstOut = make([]uint32, n+1)
	g.head = make([]uint32, m)
	g.weight = make([]uint32, m)
	g.dist = make([]float32, m)
	g.road = make([]uint32, m)
	g.kinds = make([]Kind, m)
	for _, e := range b.edges {
		g.firstOut[e.tail+1]++
	}
	for i := 0; i < n; i++ {
		g.firstOut[i+1] += g.firstOut[i]
	}
	// A counting sort by tail, stable: original edges stay before
	// restriction copies.
	fill := append([]uint32(nil), g.firstOut[:n]...)
	for _, e := range b.edges {
		i := fill[e.tail]
		fill[e.tail]++
		g.head[i], g.weight[i], g.dist[i], g.road[i] = e.head, e.w, e.dist, e.road
	}
	// Roads: keep only those some edge uses, renumbered.
	nr := len(b.roadWay)
	used := make([]uint32, nr)
	for i := range used {
		used[i] = math.MaxUint32
	}
	g.roadFirst = []uint32{0}
	g.roadCPFirst = []uint32{0}
	for i := range g.road {
		r := g.road[i] >> 1
		if used[r] == math.MaxUint32 {
			used[r] = uint32(len(g.roadWay))
			a, z := b.roadFirst[r], b.roadFirst[r+1]
			g.ptLat = append(g.ptLat, b.ptLat[a:z]...)
			g.ptLon = append(g.ptLon, b.ptLon[a:z]...)
			g.roadFirst = append(g.roadFirst, uint32(len(g.ptLat)))
			g.roadWay = append(g.roadWay, b.roadWay[r])
			g.roadKind = append(g.roadKind, b.roadKind[r])
			for _, c := range b.roadCPs[r] {
				g.roadCP = append(g.roadCP, c.cp)
				g.roadCPPos = append(g.roadCPPos, c.pos)
			}
			g.roadCPFirst = append(g.roadCPFirst, uint32(len(g.roadCP)))
		}
		g.road[i] = used[r]<<1 | g.road[i]&1
	}
	g.cps = b.cps
	g.derive()
	return g
}

// derive computes everything that is a function of the stored arrays: tails,
// in-edges, twins, edge kinds and the A* bound. ReadGraph calls it too.
func (g *Graph) derive() {
	n, m := len(g.lat), len(g.head)
	g.tail = make([]uint32, m)
	for v := 0; v < n; v++ {
		for e := g.firstOut[v]; e < g.firstOut[v+1]; e++ {
			g.tail[e] = uint32(v)
		}
	}
	g.firstIn = make([]uint32, n+1)
	for _, h := range g.head {
		g.firstIn[h+1]++
	}
	for i := 0; i < n; i++ {
		g.firstIn[i+1] += g.firstIn[i]
	}
	g.inEdge = make([]uint32, m)
	fill := append([]uint32(nil), g.firstIn[:n]...)
	for e, h := range g.head {
		g.inEdge[fill[h]] = uint32(e)
		fill[h]++
	}
	// Twins: the first edge of each road direction is the original one
	// (restriction copies come after it in tail order only by chance, so
	// prefer the edge whose tail is not a split copy: the lowest node id).
	nr := len(g.roadWay)
	dirEdge := make([]uint32, 2*nr)
	for i := range dirEdge {
		dirEdge[i] = math.MaxUint32
	}
	for e, r := range g.road {
		if cur := dirEdge[r]; cur == math.MaxUint32 || g.tail[e] < g.tail[cur] {
			dirEdge[r] = uint32(e)
		}
	}
	g.twin = make([]uint32, m)
	for e, r := range g.road {
		g.twin[e] = dirEdge[r^1]
	}
	g.roadEdge = dirEdge
	g.markStubs()
	g.kinds = make([]Kind, m)
	for e, rr := range g.road {
		r := rr >> 1
		k := g.roadKind[r]
		for i := g.roadCPFirst[r]; i < g.roadCPFirst[r+1]; i++ {
			k |= g.cps[g.roadCP[i]].Kind
		}
		g.kinds[e] = k
	}
	g.costPerM = math.Inf(1)
	for e := 0; e < m; e++ {
		// The straight line is never longer than the edge's own length
		// (a sum of great-circle pieces; the margin covers float32
		// rounding), so an edge whose cost per metre of length already
		// reaches the minimum cannot lower it: skip its haversine.
		if l := float64(g.dist[e]); l > 0 && float64(g.weight[e]) >= g.costPerM*l*(1+1e-3) {
			continue
		}
		d := haversineE7(g.lat[g.tail[e]], g.lon[g.tail[e]], g.lat[g.head[e]], g.lon[g.head[e]])
		if d > 1 {
			if c := float64(g.weight[e]) / d; c < g.costPerM {
				g.costPerM = c
			}
		}
	}
	if math.IsInf(g.costPerM, 1) {
		g.costPerM = 0
	}
	g.costPerM *= 0.999 // float slack: the bound must never exceed a true cost
	g.indexExternalIDs()
	g.markJunctions()
	g.hierarchy.baseTail, g.hierarchy.baseHead, g.hierarchy.baseWeight = g.tail, g.head, g.weight
	g.turns = g.buildTurnGraph()
}

func haversineE7(lat1, lon1, lat2, lon2 int32) float64 {
	p := convoi.LatLon{Lat: float64(lat1) / 1e7, Lon: float64(lon1) / 1e7}
	q := convoi.LatLon{Lat: float64(lat2) / 1e7, Lon: float64(lon2) / 1e7}
	return p.DistanceM(q)
}

// components labels the strongly connected components of the graph with
// out-arcs adj[first[v]:first[v+1]] (iterative Tarjan) and returns each
// node's component and each component's size.
func components(m int, first, adj []uint32) (comp []uint32, compSize []int) {
	const unvisited = math.MaxUint32
	index := make([]uint32, m)
	low := make([]uint32, m)
	onStack := make([]bool, m)
	comp = make([]uint32, m)
	for i := range index {
		index[i] = unvisited
	}
	var stack, callNode, callEdge []uint32
	var next, ncomp uint32
	for root := 0; root < m; root++ {
		if index[root] != unvisited {
			continue
		}
		callNode = append(callNode[:0], uint32(root))
		callEdge = append(callEdge[:0], first[root])
		index[root], low[root] = next, next
		next++
		stack = append(stack, uint32(root))
		onStack[root] = true
		for len(callNode) > 0 {
			top := len(callNode) - 1
			v := callNode[top]
			if ei := callEdge[top]; ei < first[v+1] {
				callEdge[top]++
				w := adj[ei]
				if index[w] == unvisited {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					callNode = append(callNode, w)
					callEdge = append(callEdge, first[w])
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			callNode = callNode[:top]
			callEdge = callEdge[:top]
			if top > 0 {
				p := callNode[top-1]
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				size := 0
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					size++
					if w == v {
						break
					}
				}
				compSize = append(compSize, size)
				ncomp++
			}
		}
	}
	return comp, compSize
}
