package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/intercept"
)

// runIntercept runs `convoi intercept solve --instance FILE.json`: it reads
// a fugitive-interception instance (fip-instance/v1, docs/intercept.md),
// solves it exactly and prints the plan as JSON.
func runIntercept(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "intercept", []command{
		{"solve", "solve an instance and print the roadblock plan as JSON", runInterceptSolve},
	}, args)
}

func runInterceptSolve(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "intercept solve")
	path := fs.String("instance", "", "instance `FILE` (fip-instance/v1 JSON, see docs/intercept.md); - for stdin")
	limit := fs.Duration("time-limit", 0, "stop the search after `D` and print the best plan with its gap (0: until proven optimal)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(env.Stderr, "convoi intercept solve: --instance FILE.json required")
		return errUsage
	}
	if *limit < 0 {
		fmt.Fprintln(env.Stderr, "convoi intercept solve: --time-limit must not be negative")
		return errUsage
	}
	var r io.Reader = env.Stdin
	if *path != "-" {
		f, err := os.Open(*path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	in, err := intercept.ParseInstance(r)
	if err != nil {
		return errors.New(interceptMessage(err))
	}
	if *limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *limit)
		defer cancel()
	}
	start := time.Now()
	p, err := intercept.Compile(in)
	if err != nil {
		return errors.New(interceptMessage(err))
	}
	pl, err := p.Solve(ctx)
	if err != nil {
		return errors.New(interceptMessage(err))
	}
	out := struct {
		Instance string `json:"instance"`
		*intercept.Plan
		ElapsedMS float64 `json:"elapsed_ms"`
	}{in.Name, pl, float64(time.Since(start).Microseconds()) / 1000}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// interceptMessage shows the caller-safe message of an application error.
func interceptMessage(err error) string {
	if convoi.ErrorCode(err) == convoi.EINTERNAL {
		return err.Error()
	}
	return convoi.ErrorMessage(err)
}
