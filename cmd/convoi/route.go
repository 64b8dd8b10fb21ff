package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/convoi/convoi/roadnet"
)

// runRoute: convoi route --graph FILE (--from LAT,LON --to LAT,LON |
// --from-node N --to-node M) [--alternatives K] [--avoid toll,...]
// [--format json|geojson|table]
func runRoute(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "route")
	graph := fs.String("graph", "", "graph file (or an OSM extract, imported on the fly)")
	from := fs.String("from", "", "start LAT,LON")
	to := fs.String("to", "", "destination LAT,LON")
	fromNode := fs.Int("from-node", -1, "start node id")
	toNode := fs.Int("to-node", -1, "destination node id")
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
	a, err := endpoint(g, *from, *fromNode)
	if err != nil {
		return err
	}
	b, err := endpoint(g, *to, *toNode)
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

func endpoint(g *roadnet.Graph, ll string, node int) (roadnet.Position, error) {
	if node >= 0 {
		return g.NodePosition(roadnet.NodeID(node))
	}
	p, err := parseLatLon(ll)
	if err != nil {
		return roadnet.Position{}, err
	}
	return g.Snap(p)
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
			fmt.Fprintf(tw, "route %d\tcost %d\t%.1f min\t%.2f km\t%d chokepoints\n", i, r.Cost, r.DurationS/60, r.DistanceM/1000, len(r.Chokepoints))
			for _, c := range r.Chokepoints {
				fmt.Fprintf(tw, "  +%.0fs\t%s\t%s/%d\t%s\n", c.OffsetS, c.Kind, c.OSMType, c.OSMID, c.Name)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q (json, geojson, table)", format)
}
