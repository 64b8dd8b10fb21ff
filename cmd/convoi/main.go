// Command convoi is the one binary of the convoi escort system. Each
// subcommand lives in its own file; this file only dispatches. cmd/convoi is
// the only package that wires the engines and adapters together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the demo and schedules use Europe/Paris on any machine
)

// Env is what a subcommand may touch of the outside world. Tests build their
// own Env to run subcommands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// command is one subcommand. run receives the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the subcommand table, in the order `convoi help` lists them.
var commands = []command{
	{"serve", "run the API server and the tracker listeners", runServe},
	{"demo", "load the demo world into a fresh data directory and serve it", runDemo},
	{"migrate", "create or upgrade the database", runMigrate},
	{"plan", "plan a stored movement's route and departure strategy: plan MOVEMENT-REF", runPlan},
	{"user", "manage users: user add", runUser},
	{"ambush", "solve an ambush game instance: ambush solve --instance FILE.json", runAmbush},
	{"intercept", "solve a fugitive-interception instance: intercept solve --instance FILE.json", runIntercept},
	{"graph", "build a road graph file: graph build IN.osm.pbf -o OUT.graph", runGraph},
	{"route", "fastest route and alternatives on a road graph", runRoute},
	{"isochrone", "area reachable within a time budget", runIsochrone},
	{"bench", "benchmark route queries: bench route --graph FILE --pairs CSV", runBench},
	{"loadgen", "simulate trackers against a loopback tracker server", runLoadgen},
	{"version", "print the version", runVersion},
}

// errUsage marks an error already explained to the user (flag parsing).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(Run(ctx, env, os.Args[1:]))
}

// Run dispatches args to a subcommand and returns the process exit code.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(env.Stderr, "convoi %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "convoi: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "convoi: secure prisoner-escort operations\n\nUsage: convoi COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'convoi COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors through errUsage instead of exiting.
func newFlagSet(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("convoi "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses args and maps parse errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
