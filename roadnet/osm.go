package roadnet

import (
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/convoi/convoi"

	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"
)

// Format is an OSM file format.
type Format string

const (
	FormatPBF      Format = "pbf"     // .osm.pbf
	FormatXML      Format = "xml"     // .osm
	FormatXMLGzip  Format = "xml.gz"  // .osm.gz
	FormatXMLBzip2 Format = "xml.bz2" // .osm.bz2
)

// FormatOf guesses the format from a file name. Unknown suffixes are an
// EINVALID error.
func FormatOf(name string) (Format, error) {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".pbf"):
		return FormatPBF, nil
	case strings.HasSuffix(n, ".osm.gz"):
		return FormatXMLGzip, nil
	case strings.HasSuffix(n, ".osm.bz2"):
		return FormatXMLBzip2, nil
	case strings.HasSuffix(n, ".osm"), strings.HasSuffix(n, ".xml"):
		return FormatXML, nil
	}
	return "", convoi.Errorf(convoi.EINVALID, "Unknown OSM file type %q (want .osm.pbf, .osm, .osm.gz or .osm.bz2).", name)
}

// ImportOptions tunes ImportOSM. The zero value is the car profile.
type ImportOptions struct {
	// Progress, when set, is called now and then with a short description
	// of the current step (for a terminal progress line).
	Progress func(msg string)
}

// Implicit speed limits (km/h) of maxspeed zone values like "FR:urban".
var zoneSpeeds = map[string]float64{
	"urban": 50, "rural": 80, "motorway": 130, "trunk": 110, "living_street": 20,
	"zone30": 30, "zone20": 20, "walk": 5, "school": 30, "bicycle_road": 30,
}

// ParseMaxspeed parses an OSM maxspeed value into km/h: numbers, "mph",
// "knots", country zones ("FR:urban", "DE:zone30"), "none" and "walk". ok is
// false when the value says nothing usable ("signals", "variable").
func ParseMaxspeed(v string) (kmh float64, ok bool) {
	v = strings.TrimSpace(strings.ToLower(v))
	switch v {
	case "":
		return 0, false
	case "none", "unlimited":
		return 130, true
	case "walk":
		return 5, true
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, ':'); i > 0 {
		z := strings.ReplaceAll(v[i+1:], ":", "")
		if s, ok := zoneSpeeds[z]; ok {
			return s, true
		}
		if strings.HasPrefix(z, "zone") {
			if n, err := strconv.ParseFloat(z[4:], 64); err == nil && n > 0 {
				return n, true
			}
		}
		return 0, false
	}
	unit := 1.0
	switch {
	case strings.HasSuffix(v, "mph"):
		unit, v = 1.609344, strings.TrimSuffix(v, "mph")
	case strings.HasSuffix(v, "knots"):
		unit, v = 1.852, strings.TrimSuffix(v, "knots")
	case strings.HasSuffix(v, "km/h"):
		v = strings.TrimSuffix(v, "km/h")
	case strings.HasSuffix(v, "kmh"):
		v = strings.TrimSuffix(v, "kmh")
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n <= 0 || n > 400 || math.IsNaN(n) {
		return 0, false
	}
	return n * unit, true
}

// accessAllowed applies the car access hierarchy: the most specific tag
// present decides.
func accessAllowed(t osm.Tags) bool {
	for _, k := range []string{"motorcar", "motor_vehicle", "vehicle", "access"} {
		switch t.Find(k) {
		case "":
			continue
		case "no", "private", "agricultural", "forestry", "delivery", "emergency", "bus", "psv", "discouraged":
			return false
		default:
			return true
		}
	}
	return true
}

// onewayOf returns 1 (forward only), -1 (backward only) or 0 (both).
func onewayOf(t osm.Tags) int8 {
	switch t.Find("oneway") {
	case "yes", "true", "1":
		return 1
	case "-1", "reverse":
		return -1
	case "no", "false", "0":
		return 0
	}
	switch t.Find("junction") {
	case "roundabout", "circular":
		return 1
	}
	if t.Find("highway") == "motorway" {
		return 1
	}
	return 0
}

type osmWay struct {
	id     int64
	first  int // into refs
	n      int
	speed  float64 // km/h
	oneway int8
	kind   Kind
	name   string
}

type osmNodeCP struct {
	kind    Kind
	blocked bool
	name    string
}

var blockingBarriers = map[string]bool{
	"bollard": true, "block": true, "jersey_barrier": true, "log": true, "debris": true,
	"fence": true, "wall": true, "chain": true, "bus_trap": true, "planter": true,
}

// ImportOSM reads an OpenStreetMap extract in the given format, streaming,
// and builds a car routing graph with its contraction hierarchy. A
// malformed or truncated file is an EINVALID error.
func ImportOSM(ctx context.Context, r io.Reader, format Format, opts ImportOptions) (*Graph, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	var sc osm.Scanner
	switch format {
	case FormatPBF:
		s := osmpbf.New(ctx, r, 2)
		sc = s
	case FormatXML:
		sc = osmxml.New(ctx, r)
	case FormatXMLGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, convoi.Errorf(convoi.EINVALID, "Not a gzip file: %v.", err)
		}
		defer zr.Close()
		sc = osmxml.New(ctx, zr)
	case FormatXMLBzip2:
		sc = osmxml.New(ctx, bzip2.NewReader(r))
	default:
		return nil, convoi.Errorf(convoi.EINVALID, "Unknown OSM format %q.", format)
	}
	defer sc.Close()

	var (
		nodeIDs  []int64
		nodeLat  []int32
		nodeLon  []int32
		sorted   = true
		nodeCPs  = map[int64]osmNodeCP{}
		ways     []osmWay
		refs     []int64
		restrs   []osmRestriction
		count    int
		lastNode int64 = math.MinInt64
	)
	for sc.Scan() {
		count++
		if count&0xffff == 0 {
			progress(fmt.Sprintf("read %d objects", count))
		}
		switch o := sc.Object().(type) {
		case *osm.Node:
			id := int64(o.ID)
			if id <= lastNode {
				sorted = false
			}
			lastNode = id
			nodeIDs = append(nodeIDs, id)
			nodeLat = append(nodeLat, toE7(o.Lat))
			nodeLon = append(nodeLon, toE7(o.Lon))
			if len(o.Tags) > 0 {
				if cp, ok := nodeChokepoint(o.Tags); ok {
					nodeCPs[id] = cp
				}
			}
		case *osm.Way:
			w, ok := wayProfile(o.Tags)
			if !ok || len(o.Nodes) < 2 {
				continue
			}
			w.id = int64(o.ID)
			w.first, w.n = len(refs), len(o.Nodes)
			for _, n := range o.Nodes {
				refs = append(refs, int64(n.ID))
			}
			ways = append(ways, w)
		case *osm.Relation:
			if rr, ok := parseRestriction(o); ok {
				restrs = append(restrs, rr)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, convoi.Errorf(convoi.EINVALID, "Cannot read the OSM file: %v.", err)
	}
	if len(ways) == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "The OSM file has no drivable roads.")
	}
	if !sorted {
		idx := make([]int, len(nodeIDs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return nodeIDs[idx[a]] < nodeIDs[idx[b]] })
		ids, la, lo := make([]int64, len(idx)), make([]int32, len(idx)), make([]int32, len(idx))
		for i, j := range idx {
			ids[i], la[i], lo[i] = nodeIDs[j], nodeLat[j], nodeLon[j]
		}
		nodeIDs, nodeLat, nodeLon = ids, la, lo
	}
	progress(fmt.Sprintf("building graph from %d roads", len(ways)))
	find := func(id int64) int {
		i := sort.Search(len(nodeIDs), func(i int) bool { return nodeIDs[i] >= id })
		if i < len(nodeIDs) && nodeIDs[i] == id {
			return i
		}
		return -1
	}
	// A node splits roads where ways meet and at way ends.
	uses := make(map[int64]int32, len(refs))
	for _, w := range ways {
		for i, id := range refs[w.first : w.first+w.n] {
			uses[id]++
			if i == 0 || i == w.n-1 {
				uses[id]++
			}
		}
	}
	b := newBuilder(MetricTimeMS, 1)
	graphNode := map[int64]uint32{}
	nodeOf := func(id int64, k int) uint32 {
		if n, ok := graphNode[id]; ok {
			return n
		}
		n := b.addNode(convoi.LatLon{Lat: float64(nodeLat[k]) / 1e7, Lon: float64(nodeLon[k]) / 1e7}, id)
		graphNode[id] = n
		return n
	}
	pointCP := map[int64]uint32{} // OSM node -> chokepoint id
	var lats, lons []int32
	var ids []int64
	var ks []int
	for wi, w := range ways {
		if wi&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		lats, lons, ids, ks = lats[:0], lons[:0], ids[:0], ks[:0]
		flush := func() {
			if len(ids) >= 2 {
				b.osmRoad(w, lats, lons, ids, ks, nodeOf, nodeCPs, pointCP)
			}
			lats, lons, ids, ks = lats[:0], lons[:0], ids[:0], ks[:0]
		}
		for i, id := range refs[w.first : w.first+w.n] {
			k := find(id)
			if k < 0 || nodeCPs[id].blocked {
				flush()
				continue
			}
			lats, lons, ids, ks = append(lats, nodeLat[k]), append(lons, nodeLon[k]), append(ids, id), append(ks, k)
			if len(ids) >= 2 && uses[id] >= 2 && i < w.n-1 {
				flush()
				lats, lons, ids, ks = append(lats, nodeLat[k]), append(lons, nodeLon[k]), append(ids, id), append(ks, k)
			}
		}
		flush()
	}
	for _, r := range restrs {
		if via, ok := graphNode[r.via]; ok {
			b.restrictions = append(b.restrictions, restriction{via: via, fromWay: r.from, toWy: r.to, only: r.only})
		}
	}
	progress(fmt.Sprintf("%d nodes, %d edges, %d turn restrictions", len(b.lat), len(b.edges), len(b.restrictions)))
	g, err := b.finish(ctx, progress)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// osmRoad adds one road (a way between two split nodes) and its edges.
func (b *builder) osmRoad(w osmWay, lats, lons []int32, ids []int64, ks []int, nodeOf func(int64, int) uint32, nodeCPs map[int64]osmNodeCP, pointCP map[int64]uint32) {
	var dist float64
	for i := 1; i < len(lats); i++ {
		dist += haversineE7(lats[i-1], lons[i-1], lats[i], lons[i])
	}
	var cps []roadCP
	// A point's delay is charged to the edge that enters it: a forward
	// edge enters every point but the first, a reverse edge every point but
	// the last. A junction's signals are thus paid once per passage, not by
	// both roads that meet there.
	var fwdDelay, revDelay uint32
	for _, k := range kindNames {
		if w.kind&k.k != 0 {
			b.cps = append(b.cps, Chokepoint{ID: uint32(len(b.cps)), Kind: k.k, OSMType: "way", OSMID: w.id, Name: w.name,
				LatLon: convoi.LatLon{Lat: float64(lats[0]) / 1e7, Lon: float64(lons[0]) / 1e7}, Slowdown: k.k.Slowdown()})
			cps = append(cps, roadCP{pos: -1, cp: uint32(len(b.cps) - 1)})
		}
	}
	for i, id := range ids {
		nc, ok := nodeCPs[id]
		if !ok || nc.kind == 0 {
			continue
		}
		c, ok := pointCP[id]
		if !ok {
			c = uint32(len(b.cps))
			b.cps = append(b.cps, Chokepoint{ID: c, Kind: nc.kind, OSMType: "node", OSMID: id, Name: nc.name,
				LatLon: convoi.LatLon{Lat: float64(lats[i]) / 1e7, Lon: float64(lons[i]) / 1e7}, Slowdown: nc.kind.Slowdown()})
			pointCP[id] = c
		}
		cps = append(cps, roadCP{pos: int32(i), cp: c})
		if i > 0 {
			fwdDelay += nodeDelayMS[nc.kind]
		}
		if i < len(ids)-1 {
			revDelay += nodeDelayMS[nc.kind]
		}
	}
	road := b.addRoad(lats, lons, w.id, w.kind, cps)
	ms := dist / (w.speed / 3.6) * 1000
	weight := func(delay uint32) uint32 {
		return uint32(math.Max(1, math.Min(math.Round(ms+float64(delay)), math.MaxUint32/4)))
	}
	u, v := nodeOf(ids[0], ks[0]), nodeOf(ids[len(ids)-1], ks[len(ks)-1])
	if w.oneway >= 0 {
		b.addEdge(u, v, weight(fwdDelay), dist, road, false)
	}
	if w.oneway <= 0 {
		b.addEdge(v, u, weight(revDelay), dist, road, true)
	}
}

func nodeChokepoint(t osm.Tags) (osmNodeCP, bool) {
	var c osmNodeCP
	c.name = t.Find("name")
	switch bar := t.Find("barrier"); {
	case bar == "toll_booth":
		c.kind = KindTollBooth
	case blockingBarriers[bar]:
		c.blocked = !accessAllowedExplicit(t)
	case bar == "gate" || bar == "lift_gate" || bar == "swing_gate" || bar == "sliding_gate":
		c.kind = KindBarrier
		c.blocked = !accessAllowed(t)
	}
	if c.kind == 0 {
		switch {
		case t.Find("highway") == "traffic_signals":
			c.kind = KindTrafficSignals
		case t.Find("railway") == "level_crossing":
			c.kind = KindLevelCrossing
		}
	}
	return c, c.kind != 0 || c.blocked
}

// accessAllowedExplicit reports whether a blocking barrier says cars pass.
func accessAllowedExplicit(t osm.Tags) bool {
	for _, k := range []string{"motorcar", "motor_vehicle", "vehicle", "access"} {
		switch t.Find(k) {
		case "yes", "permissive", "designated", "destination":
			return true
		}
	}
	return false
}

// wayProfile returns the car attributes of a way, ok false when cars may not
// use it.
func wayProfile(t osm.Tags) (osmWay, bool) {
	hw := t.Find("highway")
	speed, ok := carSpeeds[hw]
	if !ok || t.Find("area") == "yes" || t.Find("impassable") == "yes" {
		return osmWay{}, false
	}
	if !accessAllowed(t) {
		return osmWay{}, false
	}
	if ms, ok := ParseMaxspeed(t.Find("maxspeed")); ok {
		speed = ms * maxspeedFactor // free flow under the limit
	}
	if speed < 1 {
		speed = 1
	}
	w := osmWay{speed: speed, oneway: onewayOf(t)}
	if t.Find("toll") == "yes" {
		w.kind |= KindToll
	}
	if v := t.Find("bridge"); v != "" && v != "no" {
		w.kind |= KindBridge
	}
	if v := t.Find("tunnel"); v != "" && v != "no" {
		w.kind |= KindTunnel
	}
	if hw == "motorway_link" || hw == "trunk_link" {
		w.kind |= KindRamp
	}
	if j := t.Find("junction"); j == "roundabout" || j == "circular" {
		w.kind |= KindRoundabout
	}
	w.name = t.Find("name")
	if ref := t.Find("ref"); ref != "" {
		if w.name == "" {
			w.name = ref
		} else {
			w.name = ref + " " + w.name
		}
	}
	return w, true
}

type osmRestriction struct {
	from, to, via int64
	only          bool
}

// parseRestriction reads a via-node turn restriction that applies to cars.
func parseRestriction(r *osm.Relation) (osmRestriction, bool) {
	if r.Tags.Find("type") != "restriction" {
		return osmRestriction{}, false
	}
	v := r.Tags.Find("restriction")
	if v == "" {
		v = r.Tags.Find("restriction:motorcar")
	}
	if ex := r.Tags.Find("except"); strings.Contains(ex, "motorcar") {
		return osmRestriction{}, false
	}
	var res osmRestriction
	switch {
	case strings.HasPrefix(v, "no_"):
	case strings.HasPrefix(v, "only_"):
		res.only = true
	default:
		return osmRestriction{}, false
	}
	var nf, nv, nt int
	for _, m := range r.Members {
		switch {
		case m.Role == "from" && m.Type == osm.TypeWay:
			res.from = m.Ref
			nf++
		case m.Role == "to" && m.Type == osm.TypeWay:
			res.to = m.Ref
			nt++
		case m.Role == "via" && m.Type == osm.TypeNode:
			res.via = m.Ref
			nv++
		case m.Role == "via":
			return osmRestriction{}, false // via ways are not supported
		}
	}
	if nf != 1 || nv != 1 || nt != 1 {
		return osmRestriction{}, false
	}
	return res, true
}
