package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/roadnet"
)

// latLonList is a repeatable LAT,LON flag.
type latLonList []convoi.LatLon

func (l *latLonList) String() string { return fmt.Sprint([]convoi.LatLon(*l)) }

func (l *latLonList) Set(s string) error {
	p, err := parseLatLon(s)
	if err != nil {
		return errors.New(convoi.ErrorMessage(err))
	}
	*l = append(*l, p)
	return nil
}

// ambushPlanJSON is what `convoi ambush plan --format json` prints.
type ambushPlanJSON struct {
	Strategy       *ambush.Strategy      `json:"strategy"`
	RouteSummaries []convoi.RouteSummary `json:"route_summaries"`
	BuildS         float64               `json:"build_s"`
	SolveS         float64               `json:"solve_s"`
}

// runAmbushPlan runs `convoi ambush plan --graph FILE --from LAT,LON --to
// LAT,LON [--slots 12 --slot-every 10m --window 20m --police LAT,LON ...]
// [--format json]`: the ambush game of one journey on any road graph,
// without a stored movement, for planners and benchmarks. It prints the
// demo's summary of the strategy and the time the solve took.
func runAmbushPlan(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "ambush plan")
	graph := fs.String("graph", "", "graph `FILE` (or an OSM extract, imported on the fly)")
	from := fs.String("from", "", "start `LAT,LON`")
	to := fs.String("to", "", "destination `LAT,LON`")
	slots := fs.Int("slots", 12, "number of departure slots")
	every := fs.Duration("slot-every", 10*time.Minute, "time between departure slots")
	window := fs.Duration("window", 20*time.Minute, "length of the attacker's time windows (0: the static game)")
	step := fs.Duration("window-step", 10*time.Minute, "time between the starts of the attacker's windows")
	deadline := fs.Duration("deadline", 0, "latest arrival after the first slot (0: none)")
	epochS := fs.String("epoch", "", "first departure slot, RFC 3339 (default: the next full hour)")
	stretch := fs.Float64("stretch", 0, "longest admissible route as a multiple of the fastest (0: default)")
	avoid := fs.String("avoid", "", "chokepoint kinds the escort level forbids: level_crossing,toll_booth,...")
	var police latLonList
	fs.Var(&police, "police", "position `LAT,LON` of a police or gendarmerie unit (repeatable)")
	skipRefine := fs.Bool("skip-refine", false, "stop at the equilibrium, without the refinement among optimal strategies")
	progress := fs.Bool("progress", false, "print the solve's progress to stderr (the first iteration, then every 25th)")
	limit := fs.Duration("time-limit", 0, "end the solve within about `D`: search for 80 % of it, polish, and print the best strategy found with its certified bounds (0: solve to the equilibrium)")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *from == "" || *to == "" || *graph == "" {
		fmt.Fprintln(env.Stderr, "convoi ambush plan: --graph, --from and --to are required")
		return errUsage
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("unknown format %q (text or json)", *format)
	}
	if *slots < 1 || *slots > 96 {
		return fmt.Errorf("--slots must be between 1 and 96")
	}
	if *limit < 0 {
		return fmt.Errorf("--time-limit must not be negative")
	}
	if *every <= 0 && *slots > 1 {
		return fmt.Errorf("--slot-every must be positive")
	}
	a, err := parseLatLon(*from)
	if err != nil {
		return errors.New(convoi.ErrorMessage(err))
	}
	b, err := parseLatLon(*to)
	if err != nil {
		return errors.New(convoi.ErrorMessage(err))
	}
	kinds, err := roadnet.ParseKinds(*avoid)
	if err != nil {
		return err
	}
	epoch := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	if *epochS != "" {
		if epoch, err = time.Parse(time.RFC3339, *epochS); err != nil {
			return fmt.Errorf("--epoch: %w", err)
		}
	}
	g, err := openGraph(ctx, env, *graph)
	if err != nil {
		return err
	}
	req := ambush.MapRequest{From: a, To: b, Epoch: epoch, UsualSlot: -1, Stretch: *stretch, Avoid: kinds,
		Police: police, Window: *window, WindowStep: *step}
	for i := range *slots {
		req.Slots = append(req.Slots, time.Duration(i)*(*every))
	}
	if *deadline > 0 {
		req.Deadline = epoch.Add(*deadline)
	}
	start := time.Now()
	in, err := ambush.BuildInstance(ctx, g, req, ambush.DefaultSiteModel)
	if err != nil {
		return errors.New(ambushMessage(err))
	}
	built := time.Since(start)
	start = time.Now()
	opt := ambush.Options{SkipRefine: *skipRefine}
	if *progress {
		opt.Progress = func(p ambush.Progress) {
			if p.Iteration == 1 || p.Iteration%25 == 0 {
				fmt.Fprintf(env.Stderr, "iteration %d (%.1f s): best guarantee so far %.4f; restricted game %d x %d, value %.4f\n",
					p.Iteration, time.Since(start).Seconds(), p.Best, p.Rows, p.Cols, p.Value)
			}
		}
	}
	st, err := ambush.Solve(ctx, in, opt.WithTimeLimit(time.Now, *limit))
	if err != nil {
		return errors.New(ambushMessage(err))
	}
	solved := time.Since(start)
	var sums []convoi.RouteSummary
	for _, r := range st.Routes {
		rs, err := ambush.RouteSummary(g, in, r)
		if err != nil {
			return errors.New(ambushMessage(err))
		}
		sums = append(sums, *rs)
	}
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ambushPlanJSON{Strategy: st, RouteSummaries: sums, BuildS: built.Seconds(), SolveS: solved.Seconds()})
	}
	out := env.Stdout
	ref := fmt.Sprintf("for %.4f,%.4f -> %.4f,%.4f", a.Lat, a.Lon, b.Lat, b.Lon)
	printStrategy(out, ref, &ambush.PlanReport{Strategy: st, RouteSummaries: sums})
	fmt.Fprintf(out, "  corridor: %d of the sites and %d road nodes are on some admissible route\n", st.CorridorSites, st.CorridorNodes)
	if st.Converged {
		fmt.Fprintf(out, "  certified lower bound %.4f (gap %.1e); %d iterations, refined %v\n", st.LowerBound, st.Value-st.LowerBound, st.Iterations, st.Refined)
	} else {
		fmt.Fprintf(out, "  stopped at iteration %d before converging: the game's value is between the certified lower bound %.4f and this strategy's guarantee %.4f\n",
			st.Iterations, st.LowerBound, st.Value)
	}
	fmt.Fprintf(out, "  solved in %.2f s (instance built in %.2f s)\n", solved.Seconds(), built.Seconds())
	return nil
}
