package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/web"
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

// webPlanner gives the API the ambush planner. Per-request options override
// the planner's defaults for that call only.
type webPlanner struct{ *ambush.Service }

func (p webPlanner) PlanMovement(ctx context.Context, id convoi.MovementID, o web.PlanOptions) (*convoi.Plan, error) {
	svc := *p.Service // configuration only: every call has its own scratch
	if o.Stretch != 0 {
		if o.Stretch < 1 || o.Stretch > 3 {
			return nil, convoi.Errorf(convoi.EINVALID, "stretch must be between 1 and 3.")
		}
		svc.Stretch = o.Stretch
	}
	if o.Slots != 0 {
		if o.Slots < 1 || o.Slots > 96 {
			return nil, convoi.Errorf(convoi.EINVALID, "slots must be between 1 and 96.")
		}
		svc.Slots = o.Slots
	}
	if len(o.Avoid) > 0 {
		k, err := roadnet.ParseKinds(strings.Join(o.Avoid, ","))
		if err != nil {
			return nil, err
		}
		forbid := make(map[int]roadnet.Kind, 4)
		for lvl := 1; lvl <= 4; lvl++ {
			forbid[lvl] = p.Forbid[lvl] | k
		}
		svc.Forbid = forbid
	}
	if o.DepartureFrom != nil || o.DepartureTo != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "departure_from and departure_to are not supported: the window is derived from the appointment (set slots and stretch instead).")
	}
	plan, _, err := svc.PlanMovement(ctx, id)
	return plan, err
}

func (p webPlanner) ReleaseMovement(ctx context.Context, id convoi.MovementID) (*web.Release, error) {
	r, err := p.Release(ctx, id)
	if err != nil {
		return nil, err
	}
	draw := r.Draw
	return &web.Release{Plan: &convoi.Plan{ID: r.PlanID, MovementID: id, Draw: &draw}, Route: r.Route}, nil
}
