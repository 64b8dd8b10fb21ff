package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/convoi/convoi/roadnet"
)

// runRoute: convoi route --graph FILE (--from LAT,LON --to LAT,LON |
// --from-node N --to-node M) [--alternatives K] [--avoid toll,...]
// [--format json|geojson|table]
func runRoute(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "route")
	graph := fs.String("graph", envDefault(env, "CONVOI_GRAPH", ""), "graph file or OSM extract (CONVOI_GRAPH; default: the embedded Monaco extract)")
	from := fs.String("from", "", "start LAT,LON")
	to := fs.String("to", "", "destination LAT,LON")
	fromNode := fs.Int64("from-node", -1, "start node, by its id in the input file (DIMACS id, OSM node id)")
	toNode := fs.Int64("to-node", -1, "destination node, by its id in the input file")
	alts := fs.Int("alternatives", 0, "also return up to K alternatives")
	avoid := fs.String("avoid", "", "chokepoint kinds to avoid: toll,tunnel,bridge,ramp,roundabout,...")
	format := fs.String("format", "json", "json, geojson or table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kinds, err := roadnet.ParseKinds(*avoid)
	if err != nil {
		return err
	}
	g, err := openGraph(ctx, env, *graph)
	if err != nil {
		return err
	}
	a, err := endpoint(g, "from", *from, *fromNode)
	if err != nil {
		return err
	}
	b, err := endpoint(g, "to", *to, *toNode)
	if err != nil {
		return err
	}
	var routes []*roadnet.Route
	if *alts > 0 && kinds == 0 {
		routes, err = g.Alternatives(ctx, a, b, roadnet.AlternativeOptions{K: *alts + 1})
	} else {
		var r *roadnet.Route
		r, err = g.Route(ctx, a, b, roadnet.RouteOptions{Avoid: kinds})
		routes = []*roadnet.Route{r}
	}
	if err != nil {
		return err
	}
	return printRoutes(env, g, routes, *format)
}

// endpoint is where a route or an isochrone starts or ends: a node by its
// id in the input file (DIMACS id, OSM node id), or a place snapped to the
// nearest road a route can leave ("from", "at") or reach ("to").
// flag names the flags of the endpoint ("from": --from and --from-node).
func endpoint(g *roadnet.Graph, flag, ll string, node int64) (roadnet.RoadPoint, error) {
	if node >= 0 {
		n, err := g.NodeByExternalID(node)
		if err != nil {
			return roadnet.RoadPoint{}, err
		}
		return g.NodePoint(n)
	}
	if ll == "" {
		return roadnet.RoadPoint{}, fmt.Errorf("give --%s LAT,LON or --%s-node ID", flag, flag)
	}
	p, err := parseLatLon(ll)
	if err != nil {
		return roadnet.RoadPoint{}, err
	}
	// As the API does: an end goes onto the nearest road a route can
	// leave (or reach), never a one-way road cut by the map's edge.
	if flag == "to" {
		return g.SnapTarget(p)
	}
	return g.SnapSource(p)
}

// routeJSON is the CLI's JSON form of a route: cost for DIMACS graphs,
// duration_s for OSM graphs.
type routeJSON struct {
	Cost        int64             `json:"cost"`
	DurationS   *float64          `json:"duration_s,omitempty"`
	DistanceM   float64           `json:"distance_m"`
	Chokepoints []roadnet.Passage `json:"chokepoints"`
	Geometry    [][2]float64      `json:"geometry"` // [lon, lat]
	Segments    []roadnet.Segment `json:"segments"`
}

func toJSON(g *roadnet.Graph, r *roadnet.Route) routeJSON {
	j := routeJSON{Cost: r.Cost, DistanceM: r.DistanceM, Chokepoints: r.Chokepoints, Segments: r.Segments}
	if g.Metric() == roadnet.MetricTimeMS {
		d := r.DurationS
		j.DurationS = &d
	}
	for _, p := range r.Geometry {
		j.Geometry = append(j.Geometry, [2]float64{p.Lon, p.Lat})
	}
	return j
}

func printRoutes(env *Env, g *roadnet.Graph, routes []*roadnet.Route, format string) error {
	switch format {
	case "json":
		out := make([]routeJSON, len(routes))
		for i, r := range routes {
			out[i] = toJSON(g, r)
		}
		enc := json.NewEncoder(env.Stdout)
		if len(out) == 1 {
			return enc.Encode(out[0])
		}
		return enc.Encode(map[string]any{"routes": out})
	case "geojson":
		type feature struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
			Geometry   map[string]any `json:"geometry"`
		}
		fc := map[string]any{"type": "FeatureCollection"}
		var fs []feature
		for i, r := range routes {
			j := toJSON(g, r)
			fs = append(fs, feature{"Feature", map[string]any{"rank": i, "cost": r.Cost, "duration_s": r.DurationS, "distance_m": r.DistanceM, "chokepoints": r.Chokepoints},
				map[string]any{"type": "LineString", "coordinates": j.Geometry}})
		}
		fc["features"] = fs
		return json.NewEncoder(env.Stdout).Encode(fc)
	case "table":
		tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
		for i, r := range routes {
			rows := chokepointRows(r.Chokepoints)
			fmt.Fprintf(tw, "route %d\tcost %d\t%.1f min\t%.2f km\t%d chokepoints\n", i, r.Cost, r.DurationS/60, r.DistanceM/1000, len(rows))
			for _, c := range rows {
				fmt.Fprintf(tw, "  +%.0fs\t%s\t%s/%d\t%s\n", c.offsetS, strings.Join(c.kinds, "+"), c.osmType, c.osmID, c.name)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q (json, geojson, table)", format)
}

// chokepointRow is one chokepoint a route passes: one OSM object (a tunnel,
// a roundabout, a toll booth), with all its kinds, at its first passage.
type chokepointRow struct {
	offsetS       float64
	kinds         []string
	osmType, name string
	osmID         int64
}

// chokepointRows merges the passages of one OSM object that follow each
// other (a way that is both a tunnel and a roundabout, a bridge on a ramp)
// into one row.
func chokepointRows(ps []roadnet.Passage) []chokepointRow {
	var rows []chokepointRow
	for _, p := range ps {
		if n := len(rows); n > 0 && rows[n-1].osmType == p.OSMType && rows[n-1].osmID == p.OSMID {
			if k := p.Kind.String(); !slices.Contains(rows[n-1].kinds, k) {
				rows[n-1].kinds = append(rows[n-1].kinds, k)
			}
			continue
		}
		rows = append(rows, chokepointRow{offsetS: p.OffsetS, kinds: []string{p.Kind.String()}, osmType: p.OSMType, osmID: p.OSMID, name: p.Name})
	}
	return rows
}
