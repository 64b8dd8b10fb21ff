package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/roadnet"
)

// westExits are where the roads towards Nice leave the bundled Monaco
// extract: the A8 motorway past the La Turbie toll plaza, and the Grande
// and Basse Corniche.
var westExits = []struct {
	name    string
	at      convoi.LatLon
	noTolls bool
}{
	{"A8 La Provençale", convoi.LatLon{Lat: 43.74423, Lon: 7.34907}, false},
	{"Grande Corniche (Col d'Èze)", convoi.LatLon{Lat: 43.74790, Lon: 7.34926}, true},
	{"Basse Corniche", convoi.LatLon{Lat: 43.71500, Lon: 7.34940}, true},
}

// showRoutes prints the escort's ways out of Monaco towards Nice: the
// fastest, on the A8 through the La Turbie toll plaza, with its
// alternatives, and the toll-free routes along the Corniches.
func showRoutes(ctx context.Context, out io.Writer, g *roadnet.Graph, from convoi.LatLon) error {
	fmt.Fprintf(out, "Road network: %d nodes, %d edges (%d shortcuts); %d toll booths on the map.\n",
		g.NumNodes(), g.NumEdges(), g.NumShortcuts(), len(g.Chokepoints(g.Bounds(), roadnet.KindTollBooth)))
	src, err := g.Snap(from)
	if err != nil {
		return fmt.Errorf("snap courthouse: %w", err)
	}
	fmt.Fprintln(out, "Palais de Justice de Monaco -> the western edge of the map towards Nice:")
	for _, x := range westExits {
		dst, err := g.Snap(x.at)
		if err != nil {
			return fmt.Errorf("snap %s: %w", x.name, err)
		}
		if !x.noTolls {
			alts, err := g.Alternatives(ctx, src, dst, roadnet.AlternativeOptions{K: 3})
			if err != nil {
				return fmt.Errorf("alternatives to %s: %w", x.name, err)
			}
			for i, r := range alts {
				label := x.name + ", fastest"
				if i > 0 {
					label = fmt.Sprintf("%s, alternative %d", x.name, i)
				}
				fmt.Fprintf(out, "  %-42s %5.1f min %5.1f km  %s\n", label, r.DurationS/60, r.DistanceM/1000, summarizePassages(r.Chokepoints))
			}
			continue
		}
		r, err := g.Route(ctx, src, dst, roadnet.RouteOptions{Avoid: roadnet.KindTollBooth | roadnet.KindToll})
		if err != nil {
			fmt.Fprintf(out, "  %-42s no route (%s)\n", x.name+", no toll", convoi.ErrorMessage(err))
			continue
		}
		fmt.Fprintf(out, "  %-42s %5.1f min %5.1f km  %s\n", x.name+", no toll", r.DurationS/60, r.DistanceM/1000, summarizePassages(r.Chokepoints))
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

// showPlan plans movement m with the ambush planner, applies the plan
// transition as the API would, and prints the strategy beside the baselines.
func (a *App) showPlan(ctx context.Context, out io.Writer, m *convoi.Movement) error {
	_, rep, err := a.planMovement(ctx, m, "Plan #%d: hit probability at most %.3f.")
	if err != nil {
		return err
	}
	printStrategy(out, m.Ref, rep)
	return nil
}

// planMovement plans m and applies the plan transition with the reason
// format (plan id, value), as POST /movements/{id}/plan does.
func (a *App) planMovement(ctx context.Context, m *convoi.Movement, reason string) (*convoi.Plan, *ambush.PlanReport, error) {
	plan, rep, err := a.Planner.PlanMovement(ctx, m.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("plan %s: %w", m.Ref, err)
	}
	if _, err := a.DBMovements().TransitionMovement(ctx, m.ID, convoi.TransitionRequest{
		Action: convoi.ActionPlan, Reason: fmt.Sprintf(reason, plan.ID, plan.Value),
	}); err != nil {
		return nil, nil, fmt.Errorf("plan %s: %w", m.Ref, err)
	}
	return plan, rep, nil
}

// printStrategy prints a planned strategy for people: the attacker's best
// hit probability against the baselines, the likely routes, where they
// leave the map and the departure slots. `convoi demo` and `convoi plan`
// print it; `convoi plan --format json` prints the whole report instead.
func printStrategy(out io.Writer, ref string, rep *ambush.PlanReport) {
	st := rep.Strategy
	fmt.Fprintf(out, "Plan %s (escort level %d), %d candidate ambush sites, %d departure slots:\n", ref, rep.EscortLevel, st.Sites, len(st.Departures))
	fmt.Fprintf(out, "  attacker's best hit probability: %.3f with this strategy, %.3f on the fixed fastest route at the usual hour, %.3f with a uniform choice of %d alternatives\n",
		st.Value, st.FixedFastest.Value, st.UniformAlternatives.Value, st.UniformAlternatives.K)
	fmt.Fprintf(out, "  best ambush at a site some route avoids: %.3f; expected extra travel time %.0f s (fastest %.0f s); exploitability %.1e\n",
		st.AvoidableBest, st.ExpectedExtraS, st.FastestS, st.Exploitability)
	var toll, rest float64
	var others int
	exits := map[convoi.LatLon]float64{}
	type namedP struct {
		name string
		p    float64
	}
	via := map[convoi.LatLon]namedP{} // the last named chokepoint of the likeliest route
	var exitOrder []convoi.LatLon
	for i, r := range st.Routes {
		var rs *convoi.RouteSummary
		if i < len(rep.RouteSummaries) {
			rs = &rep.RouteSummaries[i]
			if slices.ContainsFunc(rs.Chokepoints, isTollBooth) {
				toll += r.Probability
			}
			if exit, ok := mapExit(rs); ok {
				if _, seen := exits[exit]; !seen {
					exitOrder = append(exitOrder, exit)
				}
				exits[exit] += r.Probability
				if name := lastNamed(rs.Chokepoints); name != "" && r.Probability > via[exit].p {
					via[exit] = namedP{name, r.Probability}
				}
			}
		}
		if r.Probability < 0.02 {
			rest += r.Probability
			others++
			continue
		}
		sum := ""
		if rs != nil {
			sum = fmt.Sprintf("%5.1f km  %s", rs.DistanceM/1000, countKinds(rs.Chokepoints))
		}
		fmt.Fprintf(out, "  route %d  p=%.2f  %5.1f min  %s\n", i+1, r.Probability, r.DurationS/60, sum)
	}
	if others > 0 {
		fmt.Fprintf(out, "  and %d more routes, p=%.2f together\n", others, rest)
	}
	if len(exitOrder) > 0 {
		slices.SortStableFunc(exitOrder, func(a, b convoi.LatLon) int { return cmp.Compare(exits[b], exits[a]) })
		var parts []string
		for _, e := range exitOrder {
			name := ""
			if v := via[e].name; v != "" {
				name = " (after " + v + ")"
			}
			parts = append(parts, fmt.Sprintf("%.4f N %.4f E%s p=%.2f", e.Lat, e.Lon, name, exits[e]))
		}
		fmt.Fprintf(out, "  where the routes leave the map:\n    %s\n", strings.Join(parts, "\n    "))
	}
	fmt.Fprintf(out, "  routes through a toll booth: p=%.2f\n", toll)
	var deps []string
	for _, d := range st.Departures {
		if d.Probability >= 0.005 && d.At != nil {
			deps = append(deps, fmt.Sprintf("%s p=%.2f", d.At.In(demoZone()).Format("15:04 MST"), d.Probability))
		}
	}
	fmt.Fprintf(out, "  departures: %s\n  (the actual route and time are drawn with crypto/rand at release, not before)\n\n", strings.Join(deps, ", "))
}

// isTollBooth reports whether a route summary's chokepoint ("kind name") is a toll booth.
func isTollBooth(c string) bool {
	k, _, _ := strings.Cut(c, " ")
	return k == roadnet.KindTollBooth.String()
}

// mapExit is where a route to a place beyond the map leaves it: the last
// road point before the straight stretch to the destination.
func mapExit(rs *convoi.RouteSummary) (convoi.LatLon, bool) {
	n := len(rs.Geometry)
	if n < 3 || rs.Geometry[n-2].DistanceM(rs.Geometry[n-1]) < 2000 {
		return convoi.LatLon{}, false
	}
	return rs.Geometry[n-2], true
}

// lastNamed is the name of the last named chokepoint ("kind name") of a route.
func lastNamed(cps []string) string {
	for i := len(cps) - 1; i >= 0; i-- {
		if _, name, ok := strings.Cut(cps[i], " "); ok && name != "" {
			return name
		}
	}
	return ""
}

// countKinds summarizes a route summary's chokepoints ("kind name" strings)
// as counts per kind, toll booths first.
func countKinds(cps []string) string {
	n := map[string]int{}
	var order []string
	for _, c := range cps {
		k, _, _ := strings.Cut(c, " ")
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var parts []string
	if t := n["toll_booth"]; t > 0 {
		parts = append(parts, fmt.Sprintf("TOLL x%d", t))
	}
	for _, k := range order {
		if k != "toll_booth" {
			parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return strings.Join(parts, ", ")
}
