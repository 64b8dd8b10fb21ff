package roadnet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/convoi/convoi"
)

// Isochrone is the part of the network reachable from a position within a
// budget: every reached node with its cost from the start.
type Isochrone struct {
	From   RoadPoint `json:"from"`
	Budget int64     `json:"budget"` // cost units (ms for OSM graphs)
	// Nodes reached within Budget, in increasing cost order, and their
	// costs.
	Nodes []NodeID `json:"nodes"`
	Times []int64  `json:"times"`

	g     *Graph
	avoid Kind
}

// Isochrone returns every node reachable from at within budget cost units
// (ms for OSM graphs; see CostOf), avoiding opt.Avoid and opt.AvoidEdges and
// adding opt.Penalty.
func (g *Graph) Isochrone(ctx context.Context, at RoadPoint, budget int64, opt RouteOptions) (*Isochrone, error) {
	if err := g.validRoadPoint(at); err != nil {
		return nil, err
	}
	if err := g.checkOptions(&opt); err != nil {
		return nil, err
	}
	if budget < 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Budget must not be negative.")
	}
	st := g.getState()
	defer g.putState(st)
	st.avoid.Reset(len(g.head))
	for _, e := range opt.AvoidEdges {
		st.avoid.Add(uint32(e))
	}
	f := st.fwd
	f.Reset()
	for _, s := range g.sourceSeeds(nil, at) {
		if s.cost <= budget {
			f.Relax(s.node, s.cost, 0, math.MaxUint32)
		}
	}
	iso := &Isochrone{From: at, Budget: budget, g: g, avoid: opt.Avoid}
	for pops := 0; !f.Empty() && f.MinKey() <= budget; pops++ {
		if pops&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		u := f.Pop()
		du := f.Dist[u]
		iso.Nodes = append(iso.Nodes, NodeID(u))
		iso.Times = append(iso.Times, du)
		for e := g.firstOut[u]; e < g.firstOut[u+1]; e++ {
			if g.kinds[e]&opt.Avoid != 0 || st.avoid.Has(uint32(e)) {
				continue
			}
			c := du + int64(g.weight[e])
			if opt.Penalty != nil {
				c += int64(opt.Penalty[e])
			}
			if c <= budget {
				f.Relax(g.head[e], c, 0, e)
			}
		}
	}
	return iso, nil
}

// GeoJSON returns the isochrone as a GeoJSON FeatureCollection: the reached
// roads (cut where the budget runs out) as a MultiLineString, and their
// convex hull as a Polygon. Properties give the budget in seconds, the
// nodes reached and the feature's kind ("roads", "hull"). Coordinates are
// written to 1e-7 degrees (about a centimetre, the graph's own resolution).
func (iso *Isochrone) GeoJSON() ([]byte, error) {
	g := iso.g
	budget, err := json.Marshal(g.Duration(iso.Budget))
	if err != nil {
		return nil, fmt.Errorf("isochrone budget: %w", err)
	}
	props := func(b []byte, kind string) []byte {
		b = append(b, `{"budget_s":`...)
		b = append(b, budget...)
		b = append(b, `,"kind":"`...)
		b = append(b, kind...)
		b = append(b, `","nodes":`...)
		b = strconv.AppendInt(b, int64(len(iso.Nodes)), 10)
		return append(b, '}')
	}
	b := make([]byte, 0, 128*len(iso.Nodes)+256)
	b = append(b, `{"type":"FeatureCollection","features":[{"type":"Feature","properties":`...)
	b = props(b, "roads")
	b = append(b, `,"geometry":{"type":"MultiLineString","coordinates":[`...)
	all := make([]convoi.LatLon, 0, 2*len(iso.Nodes))
	doneRoad := make([]uint64, (len(g.roadFirst)+63)/64)
	var pts []convoi.LatLon
	var last int
	lines := 0
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
				// The whole road, once whichever way it was reached,
				// written from the stored points (1e-7 degrees) as they are.
				rd := g.road[e] >> 1
				if doneRoad[rd/64]&(1<<(rd%64)) != 0 {
					continue
				}
				doneRoad[rd/64] |= 1 << (rd % 64)
				if lines > 0 {
					b = append(b, ',')
				}
				lines++
				b, last = g.appendRoad(b, rd, g.road[e]&1 == 1)
				all = append(all, g.point(last))
				continue
			}
			frac := 1.0
			if w > 0 {
				frac = float64(left) / float64(w)
			}
			shape, cum := g.edgeShape(uint32(e))
			pts = append(pts[:0], cutPolyline(shape, cum, 0, frac*cum[len(cum)-1])...)
			if lines > 0 {
				b = append(b, ',')
			}
			lines++
			b = appendLine(b, pts, false)
			all = append(all, pts[len(pts)-1])
		}
	}
	b = append(b, `]}}`...)
	if hull := convexHull(all); len(hull) >= 3 {
		b = append(b, `,{"type":"Feature","properties":`...)
		b = props(b, "hull")
		b = append(b, `,"geometry":{"type":"Polygon","coordinates":[`...)
		b = appendLine(b, hull, true)
		b = append(b, `]}}`...)
	}
	return append(b, `]}`...), nil
}

// appendRoad appends the points of road rd, reversed if rev, as a GeoJSON
// position list without repeated points, and returns the last point's index.
func (g *Graph) appendRoad(b []byte, rd uint32, rev bool) ([]byte, int) {
	first, end, step := int(g.roadFirst[rd]), int(g.roadFirst[rd+1]), 1
	if rev {
		first, end, step = end-1, first-1, -1
	}
	b = append(b, '[')
	prev := -1
	for i := first; i != end; i += step {
		if prev >= 0 {
			if g.ptLat[i] == g.ptLat[prev] && g.ptLon[i] == g.ptLon[prev] {
				continue
			}
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendE7(b, int64(g.ptLon[i]))
		b = append(b, ',')
		b = appendE7(b, int64(g.ptLat[i]))
		b = append(b, ']')
		prev = i
	}
	return append(b, ']'), prev
}

// appendLine appends pts as a GeoJSON position list, closed (its first
// point again at the end) when ring is set.
func appendLine(b []byte, pts []convoi.LatLon, ring bool) []byte {
	b = append(b, '[')
	for k, p := range pts {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendLatLon(b, p)
	}
	if ring && len(pts) > 0 {
		b = append(b, ',')
		b = appendLatLon(b, pts[0])
	}
	return append(b, ']')
}

// appendLatLon appends [lon,lat].
func appendLatLon(b []byte, p convoi.LatLon) []byte {
	b = append(b, '[')
	b = appendDegrees(b, p.Lon)
	b = append(b, ',')
	b = appendDegrees(b, p.Lat)
	return append(b, ']')
}

// appendDegrees appends v rounded to 1e-7 as a JSON number, without
// trailing zeros: what encoding/json writes for the rounded value (in
// plain rather than exponent form below 1e-6).
func appendDegrees(b []byte, v float64) []byte { return appendE7(b, int64(math.Round(v*1e7))) }

// appendE7 appends n x 1e-7 as a JSON number without trailing zeros. It
// writes straight into b: it runs for every coordinate of an isochrone.
func appendE7(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	switch ip := n / 1e7; {
	case ip < 10:
		b = append(b, byte('0'+ip))
	case ip < 100:
		b = append(b, byte('0'+ip/10), byte('0'+ip%10))
	case ip < 1000:
		b = append(b, byte('0'+ip/100), byte('0'+ip/10%10), byte('0'+ip%10))
	default:
		b = strconv.AppendInt(b, ip, 10)
	}
	f := n % 1e7
	if f == 0 {
		return b
	}
	b = append(b, '.',
		byte('0'+f/1000000), byte('0'+f/100000%10), byte('0'+f/10000%10), byte('0'+f/1000%10),
		byte('0'+f/100%10), byte('0'+f/10%10), byte('0'+f%10))
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	return b
}

// convexHull returns the hull of pts, counter-clockwise (monotone chain).
// Points strictly inside the octagon of the extreme points cannot be hull
// vertices and are left out before sorting (Akl-Toussaint), which leaves
// the hull as it is.
func convexHull(pts []convoi.LatLon) []convoi.LatLon {
	p := hullCandidates(pts)
	slices.SortFunc(p, func(x, y convoi.LatLon) int {
		if c := cmp.Compare(x.Lon, y.Lon); c != 0 {
			return c
		}
		return cmp.Compare(x.Lat, y.Lat)
	})
	if len(p) < 3 {
		return p
	}
	cross := func(o, a, b convoi.LatLon) float64 {
		return (a.Lon-o.Lon)*(b.Lat-o.Lat) - (a.Lat-o.Lat)*(b.Lon-o.Lon)
	}
	h := make([]convoi.LatLon, 0, 2*len(p))
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

// hullCandidates returns the points of pts not strictly inside the polygon
// of its extremes towards the eight compass points. A flat polygon keeps
// every point: the filter only ever keeps too many.
func hullCandidates(pts []convoi.LatLon) []convoi.LatLon {
	if len(pts) < 16 {
		return slices.Clone(pts)
	}
	// w, sw, s, se, e, ne, n, nw: counter-clockwise with lon as x, lat as y.
	var w, sw, so, se, e, ne, n, nw = pts[0], pts[0], pts[0], pts[0], pts[0], pts[0], pts[0], pts[0]
	for _, q := range pts[1:] {
		if q.Lon < w.Lon {
			w = q
		}
		if q.Lon+q.Lat < sw.Lon+sw.Lat {
			sw = q
		}
		if q.Lat < so.Lat {
			so = q
		}
		if q.Lon-q.Lat > se.Lon-se.Lat {
			se = q
		}
		if q.Lon > e.Lon {
			e = q
		}
		if q.Lon+q.Lat > ne.Lon+ne.Lat {
			ne = q
		}
		if q.Lat > n.Lat {
			n = q
		}
		if q.Lon-q.Lat < nw.Lon-nw.Lat {
			nw = q
		}
	}
	// Consecutive extremes are often one point: drop the repeats, whose
	// zero-length edges would keep every point.
	poly := make([]convoi.LatLon, 0, 8)
	for _, v := range [8]convoi.LatLon{w, sw, so, se, e, ne, n, nw} {
		if len(poly) == 0 || v != poly[len(poly)-1] {
			poly = append(poly, v)
		}
	}
	for len(poly) > 1 && poly[len(poly)-1] == poly[0] {
		poly = poly[:len(poly)-1]
	}
	if len(poly) < 3 {
		return slices.Clone(pts)
	}
	out := make([]convoi.LatLon, 0, len(pts)/8+16)
	for _, q := range pts {
		for k := range poly {
			a, b := poly[k], poly[(k+1)%len(poly)]
			if (b.Lon-a.Lon)*(q.Lat-a.Lat)-(b.Lat-a.Lat)*(q.Lon-a.Lon) <= 0 {
				out = append(out, q) // on or outside an edge: a candidate
				break
			}
		}
	}
	return out
}

// Table returns the fastest-route cost from every source to every target:
// cost[i][j] from sources[i] to targets[j], Infinity when unreachable. It
// uses bucket-based many-to-many search on the hierarchy.
func (g *Graph) Table(ctx context.Context, sources, targets []RoadPoint) ([][]int64, error) {
	for _, p := range sources {
		if err := g.validRoadPoint(p); err != nil {
			return nil, err
		}
	}
	for _, p := range targets {
		if err := g.validRoadPoint(p); err != nil {
			return nil, err
		}
	}
	st := g.getState()
	defer g.putState(st)
	type entry struct {
		node uint32
		t    uint32
		d    int64
	}
	var buckets []entry
	up, down := g.upward(), g.downward()
	for j, p := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := st.bwd
		b.Reset()
		for _, s := range g.targetSeeds(nil, p) {
			b.Relax(s.node, s.cost, 0, math.MaxUint32)
		}
		g.chSweep(b, &down, &up, func(u uint32, du int64) {
			buckets = append(buckets, entry{u, uint32(j), du})
		})
	}
	sort.Slice(buckets, func(a, b int) bool { return buckets[a].node < buckets[b].node })
	out := make([][]int64, len(sources))
	for i, p := range sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row := make([]int64, len(targets))
		for j, q := range targets {
			row[j] = Infinity
			if p.Edge == NoEdge && q.Edge == NoEdge && p.Node == q.Node {
				row[j] = 0
			} else if c, _, _, _ := g.direct(p, q); c < row[j] {
				row[j] = c
			}
		}
		f := st.fwd
		f.Reset()
		for _, s := range g.sourceSeeds(nil, p) {
			f.Relax(s.node, s.cost, 0, math.MaxUint32)
		}
		g.chSweep(f, &up, &down, func(u uint32, du int64) {
			k := sort.Search(len(buckets), func(k int) bool { return buckets[k].node >= u })
			for ; k < len(buckets) && buckets[k].node == u; k++ {
				if c := du + buckets[k].d; c < row[buckets[k].t] {
					row[buckets[k].t] = c
				}
			}
		})
		out[i] = row
	}
	return out, nil
}
