package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
)

// runAmbush runs `convoi ambush solve --instance FILE.json`: it solves a
// self-contained ambush game and prints the value and the strategy as JSON,
// so that instances can be checked independently of the map.
func runAmbush(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "ambush", []command{
		{"solve", "solve a self-contained game instance and print the strategy as JSON", runAmbushSolve},
		{"plan", "plan one journey on a road graph: plan --graph FILE --from LAT,LON --to LAT,LON", runAmbushPlan},
	}, args)
}

func runAmbushSolve(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "ambush solve")
	path := fs.String("instance", "", "game instance `FILE` (JSON, see docs/ambush.md); - for stdin")
	k := fs.Int("alternatives", 3, "k for the uniform-among-k-alternatives baseline")
	iters := fs.Int("max-iterations", 0, "double-oracle iteration bound (0: default)")
	limit := fs.Duration("time-limit", 0, "end the solve within about `D`: search for 80 % of it, polish, and print the best strategy found with its certified bounds (0: solve to the equilibrium)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(env.Stderr, "convoi ambush solve: --instance FILE.json required")
		return errUsage
	}
	if *limit < 0 {
		return fmt.Errorf("--time-limit must not be negative")
	}
	var in *ambush.Instance
	var err error
	if *path == "-" {
		in, err = ambush.ParseInstance(env.Stdin)
	} else {
		f, ferr := os.Open(*path)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		in, err = ambush.ParseInstance(f)
	}
	if err != nil {
		return errors.New(ambushMessage(err))
	}
	opt := ambush.Options{Alternatives: *k, MaxIterations: *iters}
	st, err := ambush.Solve(ctx, in, opt.WithTimeLimit(time.Now, *limit))
	if err != nil {
		return errors.New(ambushMessage(err))
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// ambushMessage shows the caller-safe message of an application error.
func ambushMessage(err error) string {
	if convoi.ErrorCode(err) == convoi.EINTERNAL {
		return err.Error()
	}
	return convoi.ErrorMessage(err)
}
