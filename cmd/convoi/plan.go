package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
)

// runPlan: convoi plan [--data DIR] [--graph FILE] [--format text|json] MOVEMENT-REF
//
// Plans a stored movement as POST /api/v1/movements/{id}/plan does: a
// requested movement is assessed first, then the ambush planner computes
// and stores the randomized strategy and the movement moves to "planned".
// It prints the summary `convoi demo` prints (--format json: the whole
// strategy); nothing is drawn (release draws). The data directory must
// already hold a database.
func runPlan(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "plan").args("MOVEMENT-REF", 1, 1)
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory holding the database (CONVOI_DATA)")
	fs.StringVar(&a.GraphPath, "graph", envDefault(env, "CONVOI_GRAPH", ""), "road network (default: the embedded Monaco extract)")
	fs.StringVar(&a.SealKeyFile, "seal-key", envDefault(env, "CONVOI_SEAL_KEY", ""), "key file of the sealed schedules (CONVOI_SEAL_KEY; default DATA/seal.key)")
	format := fs.String("format", "text", "text (a summary) or json (the whole strategy)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(env.Stderr, "convoi plan: --format %q: want text or json\n", *format)
		return errUsage // a usage error (exit 2), like a bad flag
	}
	ref := fs.Arg(0)
	if err := a.OpenExistingStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	ms, _, err := a.DBMovements().FindMovements(ctx, convoi.MovementFilter{Ref: &ref})
	if err != nil {
		return err
	}
	if len(ms) != 1 {
		return fmt.Errorf("no movement %q in %s", ref, a.absDataDir())
	}
	if err := a.OpenEngines(ctx); err != nil {
		return err
	}
	// Notes go to stdout with the summary, to stderr beside JSON.
	notes := env.Stdout
	if *format == "json" {
		notes = env.Stderr
	}
	m := ms[0]
	if m.State == convoi.StateRequested {
		as, err := a.Risk.AssessMovement(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("assess %s: %w", ref, err)
		}
		fmt.Fprintf(notes, "%s assessed: level %d, %s\n", ref, as.Level, as.Recommendation)
	}
	plan, rep, err := a.planMovement(ctx, m, "Plan #%d from the command line: hit probability at most %.3f.")
	if errors.Is(err, ambush.ErrNotCovered) {
		graph := "the embedded Monaco extract"
		if a.GraphPath != "" {
			graph = a.GraphPath
		}
		return fmt.Errorf("%w\nThe road graph in use (%s) does not cover %s's origin and destination: pass the graph of its region with --graph FILE (or CONVOI_GRAPH), built with `convoi graph build REGION.osm.pbf -o FILE`", err, graph, ref)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(notes, "%s planned: plan #%d, attacker's best hit probability %.3f (fixed fastest route %.3f)\n",
		ref, plan.ID, rep.Strategy.Value, rep.Strategy.FixedFastest.Value)
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(notes)
	printStrategy(env.Stdout, ref, rep)
	return nil
}
