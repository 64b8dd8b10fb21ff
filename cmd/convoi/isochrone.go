package main

import (
	"context"
	"fmt"

	"github.com/convoi/convoi/roadnet"
)

// runIsochrone: convoi isochrone --graph FILE --at LAT,LON --minutes M
func runIsochrone(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "isochrone")
	graph := fs.String("graph", "", "graph file (or an OSM extract)")
	at := fs.String("at", "", "start LAT,LON")
	atNode := fs.Int("at-node", -1, "start node id")
	minutes := fs.Float64("minutes", 10, "time budget in minutes")
	avoid := fs.String("avoid", "", "chokepoint kinds to avoid")
	format := fs.String("format", "geojson", "geojson or nodes (node,time_s lines)")
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
	p, err := endpoint(g, *at, *atNode)
	if err != nil {
		return err
	}
	iso, err := g.Isochrone(ctx, p, g.CostOf(*minutes*60), roadnet.RouteOptions{Avoid: kinds})
	if err != nil {
		return err
	}
	if *format == "nodes" {
		for i, n := range iso.Nodes {
			fmt.Fprintf(env.Stdout, "%d,%.3f\n", n, g.Duration(iso.Times[i]))
		}
		return nil
	}
	b, err := iso.GeoJSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
	return err
}
