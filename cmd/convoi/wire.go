package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/roadnet"
)

// loadGraph returns the road graph the server plans and routes on: the
// embedded Monaco extract when path is empty, else what openGraph reads (a
// graph file from `convoi graph build`, or an OSM extract), without progress
// output.
func loadGraph(ctx context.Context, path string) (*roadnet.Graph, error) {
	if path == "" {
		g, err := roadnet.ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
		if err != nil {
			return nil, fmt.Errorf("import embedded Monaco extract: %w", err)
		}
		return g, nil
	}
	return openGraph(ctx, &Env{Stdout: io.Discard, Stderr: io.Discard}, path)
}

// routeFacts adapts the road graph to what the risk engine needs: exposure
// time and the chokepoints of the fastest route, counted by kind. A
// destination beyond the map (Nice from the Monaco extract) is reached
// through the map's edge: the route ends at the road node closest to it
// (of the few nearest, the one that gives the shortest estimated journey)
// and Facts.BeyondMapM is the straight-line rest, which the risk engine
// estimates under its policy. An origin off the map is an error: the risk
// engine then estimates the whole journey.
func routeFacts(g *roadnet.Graph) risk.RouteFactsFunc {
	return func(ctx context.Context, from, to convoi.LatLon) (risk.Facts, error) {
		src, err := g.Snap(from)
		if err != nil {
			return risk.Facts{}, err
		}
		var r *roadnet.Route
		var beyond float64
		if dst, err := g.Snap(to); err == nil {
			if r, err = g.Route(ctx, src, dst, roadnet.RouteOptions{}); err != nil {
				return risk.Facts{}, err
			}
		} else if convoi.ErrorCode(err) != convoi.ENOTFOUND {
			return risk.Facts{}, err
		} else if r, beyond, err = routeToEdge(ctx, g, src, to); err != nil {
			return risk.Facts{}, err
		}
		f := risk.Facts{ExposureS: r.DurationS, DistanceM: r.DistanceM, Chokepoints: map[string]int{}, BeyondMapM: beyond}
		for _, p := range r.Chokepoints {
			f.Chokepoints[p.Kind.String()]++
		}
		return f, nil
	}
}

// Where a route towards a place beyond the map ends: among the road nodes
// within edgeSlackM of the closest one to it, at most edgeCandidates at
// least edgeSpacingM apart, the one whose route plus the rest of the way at
// edgeRestKmh is the shortest.
const (
	edgeSlackM     = 3000
	edgeSpacingM   = 300
	edgeCandidates = 12
	edgeRestKmh    = 50
)

// routeToEdge routes from src towards to, a place beyond the map, and
// returns the route and the straight-line distance left from its end.
func routeToEdge(ctx context.Context, g *roadnet.Graph, src roadnet.RoadPoint, to convoi.LatLon) (*roadnet.Route, float64, error) {
	type cand struct {
		n roadnet.NodeID
		d float64
	}
	all := make([]cand, g.NumNodes())
	for v := range all {
		all[v] = cand{roadnet.NodeID(v), g.NodeLatLon(roadnet.NodeID(v)).DistanceM(to)}
	}
	if len(all) == 0 {
		return nil, 0, convoi.Errorf(convoi.ENOTFOUND, "The road map is empty.")
	}
	slices.SortFunc(all, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
	var picked []cand
	for _, c := range all {
		if c.d > all[0].d+edgeSlackM || len(picked) == edgeCandidates {
			break
		}
		ll := g.NodeLatLon(c.n)
		if !slices.ContainsFunc(picked, func(p cand) bool { return g.NodeLatLon(p.n).DistanceM(ll) < edgeSpacingM }) {
			picked = append(picked, c)
		}
	}
	var best *roadnet.Route
	var bestRest, bestTotal float64
	var lastErr error
	for _, c := range picked {
		dst, err := g.NodePoint(c.n)
		if err != nil {
			return nil, 0, err
		}
		r, err := g.Route(ctx, src, dst, roadnet.RouteOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			lastErr = err
			continue
		}
		if total := r.DurationS + c.d/(edgeRestKmh/3.6); best == nil || total < bestTotal {
			best, bestRest, bestTotal = r, c.d, total
		}
	}
	if best == nil {
		return nil, 0, fmt.Errorf("no route to the edge of the map towards %.4f,%.4f: %w", to.Lat, to.Lon, lastErr)
	}
	return best, bestRest, nil
}
