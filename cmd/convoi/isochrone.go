package main

import (
	"context"
	"fmt"

	"github.com/convoi/convoi/roadnet"
)

// runIsochrone: convoi isochrone --graph FILE --at LAT,LON --minutes M
func runIsochrone(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "isochrone")
	graph := fs.String("graph", envDefault(env, "CONVOI_GRAPH", ""), "graph file or OSM extract (CONVOI_GRAPH; default: the embedded Monaco extract)")
	at := fs.String("at", "", "start LAT,LON")
	atNode := fs.Int64("at-node", -1, "start node, by its id in the input file (DIMACS id, OSM node id)")
	minutes := fs.Float64("minutes", 10, "time budget in minutes")
	avoid := fs.String("avoid", "", "chokepoint kinds to avoid")
	format := fs.String("format", "geojson", "geojson or nodes (node,time_s lines; node ids of the input file)")
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
	p, err := endpoint(g, "at", *at, *atNode)
	if err != nil {
		return err
	}
	iso, err := g.Isochrone(ctx, p, g.CostOf(*minutes*60), roadnet.RouteOptions{Avoid: kinds})
	if err != nil {
		return err
	}
	if *format == "nodes" {
		for i, n := range iso.Nodes {
			id, ok := g.ExternalID(n)
			if !ok {
				continue // a node the input did not name
			}
			fmt.Fprintf(env.Stdout, "%d,%.3f\n", id, g.Duration(iso.Times[i]))
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
