package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"convoi"
	"convoi/osmdata"
	"convoi/risk"
	"convoi/roadnet"
)

// loadGraph returns the road graph the server plans and routes on: the
// embedded Monaco extract when path is empty, a graph file written by
// `convoi graph build` when path ends in .graph, else an OSM extract.
func loadGraph(ctx context.Context, path string) (*roadnet.Graph, error) {
	if path == "" {
		g, err := roadnet.ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
		if err != nil {
			return nil, fmt.Errorf("import embedded Monaco extract: %w", err)
		}
		return g, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if strings.HasSuffix(path, ".graph") {
		g, err := roadnet.ReadGraph(f)
		if err != nil {
			return nil, fmt.Errorf("read graph %s: %w", path, err)
		}
		return g, nil
	}
	format, err := roadnet.FormatOf(path)
	if err != nil {
		return nil, err
	}
	g, err := roadnet.ImportOSM(ctx, f, format, roadnet.ImportOptions{})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return g, nil
}

// routeFacts adapts the road graph to what the risk engine needs: exposure
// time and the chokepoints of the fastest route, counted by kind.
func routeFacts(g *roadnet.Graph) risk.RouteFactsFunc {
	return func(ctx context.Context, from, to convoi.LatLon) (risk.Facts, error) {
		r, err := g.RouteLatLon(ctx, from, to, roadnet.RouteOptions{})
		if err != nil {
			return risk.Facts{}, err
		}
		f := risk.Facts{ExposureS: r.DurationS, DistanceM: r.DistanceM, Chokepoints: map[string]int{}}
		for _, p := range r.Chokepoints {
			f.Chokepoints[p.Kind.String()]++
		}
		return f, nil
	}
}

// webAssessor gives the API the risk engine's scoring without its transition:
// the API applies the assess transition itself.
type webAssessor struct{ *risk.Service }

func (w webAssessor) AssessMovement(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, error) {
	a, _, err := w.Assess(ctx, id)
	return a, err
}
