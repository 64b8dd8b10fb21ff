package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"convoi"
	"convoi/roadnet"
)

// a8West is where the A8 motorway leaves the bundled Monaco extract towards
// Nice: the road node at the extract's western edge (43.7479 N 7.3493 E).
var a8West = convoi.LatLon{Lat: 43.74790, Lon: 7.34926}

// showRoutes prints the escort's way out of Monaco towards Nice: the fastest
// route on the A8 through the La Turbie toll plaza, its alternatives, and the
// route that avoids tolls.
func showRoutes(ctx context.Context, out io.Writer, g *roadnet.Graph, from convoi.LatLon) error {
	fmt.Fprintf(out, "Road network: %d nodes, %d edges (%d shortcuts); %d toll booths on the map.\n",
		g.NumNodes(), g.NumEdges(), g.NumShortcuts(), len(g.Chokepoints(g.Bounds(), roadnet.KindTollBooth)))
	src, err := g.Snap(from)
	if err != nil {
		return fmt.Errorf("snap courthouse: %w", err)
	}
	dst, err := g.Snap(a8West)
	if err != nil {
		return fmt.Errorf("snap A8 west: %w", err)
	}
	alts, err := g.Alternatives(ctx, src, dst, roadnet.AlternativeOptions{K: 3})
	if err != nil {
		return fmt.Errorf("alternatives: %w", err)
	}
	fmt.Fprintln(out, "Palais de Justice de Monaco -> A8 westbound (map edge towards Nice):")
	for i, r := range alts {
		label := "fastest"
		if i > 0 {
			label = fmt.Sprintf("alternative %d", i)
		}
		fmt.Fprintf(out, "  %-13s %5.1f min %5.1f km  %s\n", label, r.DurationS/60, r.DistanceM/1000, summarizePassages(r.Chokepoints))
	}
	noToll, err := g.Route(ctx, src, dst, roadnet.RouteOptions{Avoid: roadnet.KindTollBooth | roadnet.KindToll})
	if err != nil {
		fmt.Fprintf(out, "  avoiding tolls: no route (%s)\n", convoi.ErrorMessage(err))
	} else {
		fmt.Fprintf(out, "  %-13s %5.1f min %5.1f km  %s\n", "avoid toll", noToll.DurationS/60, noToll.DistanceM/1000, summarizePassages(noToll.Chokepoints))
	}
	fmt.Fprintln(out)
	return nil
}

// summarizePassages names the toll booths a route passes, with their time
// from departure, and counts the other chokepoints.
func summarizePassages(ps []roadnet.Passage) string {
	var tolls []string
	others := map[string]int{}
	for _, p := range ps {
		if p.Kind == roadnet.KindTollBooth {
			name := p.Name
			if name == "" {
				name = "toll booth"
			}
			tolls = append(tolls, fmt.Sprintf("%s at +%.0f s", name, p.OffsetS))
			continue
		}
		others[p.Kind.String()]++
	}
	var parts []string
	if len(tolls) > 0 {
		parts = append(parts, "TOLL: "+strings.Join(tolls, ", "))
	}
	for _, k := range []string{"roundabout", "traffic_signals", "ramp", "bridge", "tunnel"} {
		if n := others[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, "; ")
}

// showAssessments assesses the demo movements that carry the story and
// prints the escort each needs and the factors behind it.
func (a *App) showAssessments(ctx context.Context, out io.Writer, ms ...*convoi.Movement) error {
	for _, m := range ms {
		as, err := a.Risk.AssessMovement(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("assess %s: %w", m.Ref, err)
		}
		fmt.Fprintf(out, "Assessment %s: score %.1f, level %d (%s); crew >= %d, vehicle %s, recommendation %s\n",
			m.Ref, as.Score, as.Level, as.LevelMeaning, as.MinCrew, as.VehicleClass, as.Recommendation)
		for _, f := range as.Factors {
			if f.Points == 0 {
				continue
			}
			ev := ""
			if len(f.Evidence) > 0 {
				ev = " - " + f.Evidence[0]
			}
			fmt.Fprintf(out, "    %+6.1f  %s%s\n", f.Points, f.Label, ev)
		}
	}
	fmt.Fprintln(out)
	return nil
}
