package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
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
	var apart float64
	for i := range westExits {
		for j := range i {
			apart = max(apart, westExits[i].at.DistanceM(westExits[j].at))
		}
	}
	fmt.Fprintf(out, "Palais de Justice de Monaco -> where each road towards Nice leaves the map. Each row ends at its\n"+
		"own exit (up to %.1f km apart), so the rows compare the roads out of Monaco, not arrivals in Nice;\n"+
		"the plan below routes every way to Nice itself:\n", apart/1000)
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
				// The fastest way to this exit, through the toll plaza; not
				// the fastest row (each row ends at its own exit).
				label := x.name + ", toll"
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
			name := "toll booth"
			if p.Name != "" {
				name = fmt.Sprintf("toll booth %q", p.Name)
			}
			if plaza := tollPlazaAt(p.LatLon); plaza != "" {
				name = plaza + " (" + name + ")"
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

// tollPlazas are the toll plazas the demo's story names: OSM tags their
// booths (La Turbie's are named "Monaco", after the A500 towards it, or not
// at all), not the plaza.
var tollPlazas = []struct {
	name    string
	at      convoi.LatLon
	radiusM float64
}{
	{"La Turbie toll plaza on the A8", convoi.LatLon{Lat: 43.7445, Lon: 7.3755}, 600},
}

// tollPlazaAt names the toll plaza at p, "" when it is none of tollPlazas.
func tollPlazaAt(p convoi.LatLon) string {
	for _, t := range tollPlazas {
		if p.DistanceM(t.at) <= t.radiusM {
			return t.name
		}
	}
	return ""
}

// tollPlazaOn names the toll plaza a route summary passes: a toll booth
// among its chokepoints and its geometry through a known plaza.
func tollPlazaOn(rs *convoi.RouteSummary) string {
	if !slices.ContainsFunc(rs.Chokepoints, isTollBooth) {
		return ""
	}
	for _, p := range rs.Geometry {
		if name := tollPlazaAt(p); name != "" {
			return name
		}
	}
	return "a toll booth"
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
	plan, rep, err := a.Planner.Plan(ctx, m.ID, convoi.PlanOptions{})
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
	level := ""
	if rep.EscortLevel > 0 {
		level = fmt.Sprintf(" (escort level %d)", rep.EscortLevel)
	}
	fmt.Fprintf(out, "Plan %s%s, %d candidate ambush sites, %d departure slots:\n", ref, level, st.Sites, len(st.Departures))
	fmt.Fprintf(out, "  attacker's best hit probability: %.3f with this strategy, %.3f on the fixed fastest route at the usual hour, %.3f with a uniform choice of %d alternatives\n",
		st.Value, st.FixedFastest.Value, st.UniformAlternatives.Value, st.UniformAlternatives.K)
	fmt.Fprintf(out, "  best ambush at a site some route avoids: %.3f; expected extra travel time %.0f s (fastest %.0f s)\n",
		st.AvoidableBest, st.ExpectedExtraS, st.FastestS)
	if st.Converged {
		fmt.Fprintf(out, "  exploitability %.1e: how much an attacker who knew this strategy could still gain above %.3f\n"+
			"    by choosing a better site and hour; about 0 means the %.3f is an exact guarantee\n",
			st.Exploitability, st.Value, st.Value)
	} else {
		fmt.Fprintf(out, "  the solve stopped before the equilibrium: %.3f is exact for this strategy (an attacker who knew it\n"+
			"    gets no more), and no strategy can do better than the certified lower bound %.4f\n", st.Value, st.LowerBound)
	}

	// Routes that look the same at this precision (time, length,
	// chokepoints, the road they leave the map by) are one line: they
	// differ in a few metres of side street or in where exactly they cross
	// the map's edge, which a crew would not tell apart.
	type row struct {
		key   string
		ids   []string
		p     float64
		label string
	}
	var rows []*row
	byKey := map[string]*row{}
	tolls := map[string]float64{}
	var tollOrder []string
	// Where each route leaves the map, named after the last named
	// chokepoint of the likeliest route there; points with one name (the
	// Basse Corniche crosses the map's edge several times) are one exit.
	type point struct {
		p, best float64
		via     string
	}
	points := map[convoi.LatLon]*point{}
	for i, r := range st.Routes {
		if i >= len(rep.RouteSummaries) {
			break
		}
		rs := &rep.RouteSummaries[i]
		exit, ok := mapExit(rs)
		if !ok {
			continue
		}
		pt := points[exit]
		if pt == nil {
			pt = &point{via: fmt.Sprintf("%.4f N %.4f E", exit.Lat, exit.Lon)}
			points[exit] = pt
		}
		pt.p += r.Probability
		if name := lastNamed(rs.Chokepoints); name != "" && r.Probability > pt.best {
			pt.best, pt.via = r.Probability, name
		}
	}
	type exitGroup struct {
		p   float64
		pts []convoi.LatLon
	}
	exits := map[string]*exitGroup{}
	var exitOrder []string
	for i, r := range st.Routes {
		label := fmt.Sprintf("%5.1f min", r.DurationS/60)
		if i < len(rep.RouteSummaries) {
			rs := &rep.RouteSummaries[i]
			label = fmt.Sprintf("%5.1f min  %5.1f km  %s", r.DurationS/60, rs.DistanceM/1000, countKinds(rs.Chokepoints))
			if exit, ok := mapExit(rs); ok {
				via := points[exit].via
				x := exits[via]
				if x == nil {
					x = &exitGroup{}
					exits[via] = x
					exitOrder = append(exitOrder, via)
				}
				if !slices.Contains(x.pts, exit) {
					x.pts = append(x.pts, exit)
				}
				x.p += r.Probability
				label += "  leaves the map after " + via
			}
			if plaza := tollPlazaOn(rs); plaza != "" {
				if _, seen := tolls[plaza]; !seen {
					tollOrder = append(tollOrder, plaza)
				}
				tolls[plaza] += r.Probability
			}
		}
		w := byKey[label]
		if w == nil {
			w = &row{key: label, label: label}
			byKey[label] = w
			rows = append(rows, w)
		}
		w.ids = append(w.ids, strconv.Itoa(i+1))
		w.p += r.Probability
	}
	var rest float64
	var others int
	for _, w := range rows {
		if w.p < 0.02 {
			rest += w.p
			others += len(w.ids)
			continue
		}
		name := "route " + w.ids[0]
		if len(w.ids) > 1 {
			name = "routes " + strings.Join(w.ids, ", ")
		}
		fmt.Fprintf(out, "  %-16s p=%.2f  %s\n", name, w.p, w.label)
	}
	switch {
	case others == 1:
		fmt.Fprintf(out, "  and 1 more route, p=%.2f\n", rest)
	case others > 1:
		fmt.Fprintf(out, "  and %d more routes, p=%.2f together\n", others, rest)
	}
	if len(exitOrder) > 0 {
		slices.SortStableFunc(exitOrder, func(a, b string) int { return cmp.Compare(exits[b].p, exits[a].p) })
		fmt.Fprintln(out, "  where the routes leave the map:")
		for _, via := range exitOrder {
			x := exits[via]
			where := fmt.Sprintf("at %.4f N %.4f E", x.pts[0].Lat, x.pts[0].Lon)
			if len(x.pts) > 1 {
				var far float64
				for _, a := range x.pts {
					for _, b := range x.pts {
						far = max(far, a.DistanceM(b))
					}
				}
				where = fmt.Sprintf("at %d points up to %.1f km apart", len(x.pts), far/1000)
			}
			fmt.Fprintf(out, "    after %s, %s: p=%.2f\n", via, where, x.p)
		}
	}
	if len(tollOrder) == 0 {
		fmt.Fprintln(out, "  no route passes a toll booth")
	}
	for _, t := range tollOrder {
		fmt.Fprintf(out, "  routes through %s: p=%.2f\n", t, tolls[t])
	}
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
