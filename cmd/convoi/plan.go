package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/convoi/convoi"
)

// runPlan: convoi plan [--data DIR] [--graph FILE] MOVEMENT-REF
//
// Plans a stored movement as POST /api/v1/movements/{id}/plan does: a
// requested movement is assessed first, then the ambush planner computes
// and stores the randomized strategy and the movement moves to "planned".
// The strategy is printed as JSON; nothing is drawn (release draws).
func runPlan(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "plan")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory (CONVOI_DATA)")
	fs.StringVar(&a.GraphPath, "graph", envDefault(env, "CONVOI_GRAPH", ""), "road network (default: the embedded Monaco extract)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "Usage: convoi plan [--data DIR] [--graph FILE] MOVEMENT-REF")
		return errUsage
	}
	ref := fs.Arg(0)
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	if err := a.OpenEngines(ctx); err != nil {
		return err
	}
	ms, _, err := a.DBMovements().FindMovements(ctx, convoi.MovementFilter{Ref: &ref})
	if err != nil {
		return err
	}
	if len(ms) != 1 {
		return fmt.Errorf("no movement %q", ref)
	}
	m := ms[0]
	if m.State == convoi.StateRequested {
		as, err := a.Risk.AssessMovement(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("assess %s: %w", ref, err)
		}
		fmt.Fprintf(env.Stderr, "%s assessed: level %d, %s\n", ref, as.Level, as.Recommendation)
	}
	plan, rep, err := a.Planner.PlanMovement(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("plan %s: %w", ref, err)
	}
	if _, err := a.DBMovements().TransitionMovement(ctx, m.ID, convoi.TransitionRequest{
		Action: convoi.ActionPlan, Reason: fmt.Sprintf("Plan #%d from the command line: hit probability at most %.3f.", plan.ID, plan.Value),
	}); err != nil {
		return fmt.Errorf("plan %s: %w", ref, err)
	}
	fmt.Fprintf(env.Stderr, "%s planned: plan #%d, attacker's best hit probability %.3f (fixed fastest route %.3f)\n",
		ref, plan.ID, rep.Strategy.Value, rep.Strategy.FixedFastest.Value)
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
