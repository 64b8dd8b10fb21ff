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
	From   Position `json:"from"`
	Budget int64    `json:"budget"` // cost units (ms for OSM graphs)
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
func (g *Graph) Isochrone(ctx context.Context, at Position, budget int64, opt RouteOptions) (*Isochrone, error) {
	if err := g.validPosition(at); err != nil {
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
	st.avoid.reset(len(g.head))
	for _, e := range opt.AvoidEdges {
		st.avoid.add(uint32(e))
	}
	f := st.fwd
	f.reset()
	for _, s := range g.sourceSeeds(nil, at) {
		if s.cost <= budget {
			f.relax(s.node, s.cost, 0, math.MaxUint32)
		}
	}
	iso := &Isochrone{From: at, Budget: budget, g: g, avoid: opt.Avoid}
	for pops := 0; !f.empty() && f.minKey() <= budget; pops++ {
		if pops&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		u := f.pop()
		du := f.dist[u]
		iso.Nodes = append(iso.Nodes, NodeID(u))
		iso.Times = append(iso.Times, du)
		for e := g.firstOut[u]; e < g.firstOut[u+1]; e++ {
			if g.kinds[e]&opt.Avoid != 0 || st.avoid.has(uint32(e)) {
				continue
			}
			c := du + int64(g.weight[e])
			if opt.Penalty != nil {
				c += int64(opt.Penalty[e])
			}
			if c <= budget {
				f.relax(g.head[e], c, 0, e)
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
	b := make([]byte, 0, 64*len(iso.Nodes)+256)
	b = append(b, `{"type":"FeatureCollection","features":[{"type":"Feature","properties":`...)
	b = props(b, "roads")
	b = append(b, `,"geometry":{"type":"MultiLineString","coordinates":[`...)
	all := make([]convoi.LatLon, 0, 2*len(iso.Nodes))
	doneRoad := make([]uint64, (len(g.roadFirst)+63)/64)
	var pts []convoi.LatLon
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
				// The whole road, once whichever way it was reached.
				rd := g.road[e] >> 1
				if doneRoad[rd/64]&(1<<(rd%64)) != 0 {
					continue
				}
				doneRoad[rd/64] |= 1 << (rd % 64)
				pts = g.EdgeGeometry(pts[:0], e)
				k := 1
				for _, p := range pts[1:] { // drop repeated points
					if p != pts[k-1] {
						pts[k] = p
						k++
					}
				}
				pts = pts[:k]
			} else {
				frac := 1.0
				if w > 0 {
					frac = float64(left) / float64(w)
				}
				shape, cum := g.edgeShape(uint32(e))
				pts = append(pts[:0], cutPolyline(shape, cum, 0, frac*cum[len(cum)-1])...)
			}
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

// appendLine appends pts as a GeoJSON position list, closed (its first
// point again at the end) when ring is set.
func appendLine(b []byte, pts []convoi.LatLon, ring bool) []byte {
	b = append(b, '[')
	for k, p := range pts {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendPosition(b, p)
	}
	if ring && len(pts) > 0 {
		b = append(b, ',')
		b = appendPosition(b, pts[0])
	}
	return append(b, ']')
}

// appendPosition appends [lon,lat].
func appendPosition(b []byte, p convoi.LatLon) []byte {
	b = append(b, '[')
	b = appendDegrees(b, p.Lon)
	b = append(b, ',')
	b = appendDegrees(b, p.Lat)
	return append(b, ']')
}

// appendDegrees appends v rounded to 1e-7 as a JSON number, without
// trailing zeros: what encoding/json writes for the rounded value.
func appendDegrees(b []byte, v float64) []byte {
	n := int64(math.Round(v * 1e7))
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/1e7, 10)
	if f := n % 1e7; f != 0 {
		var d [8]byte
		d[0] = '.'
		for i := 7; i >= 1; i-- {
			d[i] = byte('0' + f%10)
			f /= 10
		}
		k := 8
		for d[k-1] == '0' {
			k--
		}
		b = append(b, d[:k]...)
	}
	return b
}

// convexHull returns the hull of pts, counter-clockwise (monotone chain).
func convexHull(pts []convoi.LatLon) []convoi.LatLon {
	p := slices.Clone(pts)
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

// Table returns the fastest-route cost from every source to every target:
// cost[i][j] from sources[i] to targets[j], Infinity when unreachable. It
// uses bucket-based many-to-many search on the hierarchy.
func (g *Graph) Table(ctx context.Context, sources, targets []Position) ([][]int64, error) {
	for _, p := range sources {
		if err := g.validPosition(p); err != nil {
			return nil, err
		}
	}
	for _, p := range targets {
		if err := g.validPosition(p); err != nil {
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
	for j, p := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := st.bwd
		b.reset()
		for _, s := range g.targetSeeds(nil, p) {
			b.relax(s.node, s.cost, 0, math.MaxUint32)
		}
		for !b.empty() {
			u := b.pop()
			du := b.dist[u]
			if g.stalled(b, u, du, g.upFirst, g.upHead, g.upEdge) {
				continue
			}
			buckets = append(buckets, entry{u, uint32(j), du})
			for i := g.downFirst[u]; i < g.downFirst[u+1]; i++ {
				b.relax(g.downTail[i], du+g.chCost(g.downEdge[i]), 0, g.downEdge[i])
			}
		}
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
		f.reset()
		for _, s := range g.sourceSeeds(nil, p) {
			f.relax(s.node, s.cost, 0, math.MaxUint32)
		}
		for !f.empty() {
			u := f.pop()
			du := f.dist[u]
			if g.stalled(f, u, du, g.downFirst, g.downTail, g.downEdge) {
				continue
			}
			k := sort.Search(len(buckets), func(k int) bool { return buckets[k].node >= u })
			for ; k < len(buckets) && buckets[k].node == u; k++ {
				if c := du + buckets[k].d; c < row[buckets[k].t] {
					row[buckets[k].t] = c
				}
			}
			for i := g.upFirst[u]; i < g.upFirst[u+1]; i++ {
				f.relax(g.upHead[i], du+g.chCost(g.upEdge[i]), 0, g.upEdge[i])
			}
		}
		out[i] = row
	}
	return out, nil
}
