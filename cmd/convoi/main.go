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
	"strings"
	"syscall"
	_ "time/tzdata" // the demo and schedules use Europe/Paris on any machine

	"github.com/convoi/convoi"
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
	{"copy", "copy a SQLite installation into an empty PostgreSQL database: copy --from DIR --to postgres://...", runCopy},
	{"plan", "plan a stored movement's route and departure strategy: plan MOVEMENT-REF", runPlan},
	{"user", "manage users: user add", runUser},
	{"audit", "the audit log: audit verify, audit export", runAudit},
	{"seal", "schedule sealing keys: seal keygen FILE, seal rotate", runSeal},
	{"leak", "trace a leaked arrival window or code to its recipients: leak trace", runLeak},
	{"ambush", "ambush games: ambush solve --instance FILE.json, ambush plan --graph FILE --from --to", runAmbush},
	{"intercept", "solve a fugitive-interception instance: intercept solve --instance FILE.json", runIntercept},
	{"graph", "build a road graph file: graph build IN.osm.pbf -o OUT.graph", runGraph},
	{"route", "fastest route and alternatives on a road graph", runRoute},
	{"isochrone", "area reachable within a time budget", runIsochrone},
	{"bench", "benchmark route queries: bench route --pairs CSV [--graph FILE]", runBench},
	{"loadgen", "simulate trackers against a loopback tracker server", runLoadgen},
	{"simulate", "drive escorts through the tracker protocols and print the alarms: simulate --scenario ramming", runSimulate},
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
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	if isHelp(args[0]) {
		usage(env.Stdout)
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
			name := c.name
			if se := (*subcommandError)(nil); errors.As(err, &se) {
				name = se.name
			}
			fmt.Fprintf(env.Stderr, "convoi %s: %s\n", name, errorText(err))
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "convoi: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "convoi: secure prisoner-escort operations\n\nUsage: convoi COMMAND [flags] [arguments]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'convoi COMMAND --help' for a command's flags and subcommands.")
}

// errorText is what a failed command prints: the text of err with every
// application error reduced to its message, so that the user reads
// "plan MC-1: No route between these positions." and not the Go form
// "convoi error: code=not_found message=...". The exit status (1) tells
// scripts that it failed.
func errorText(err error) string {
	s := err.Error()
	if ce := (*convoi.Error)(nil); errors.As(err, &ce) {
		s = strings.Replace(s, ce.Error(), ce.Message, 1)
	}
	return s
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// runGroup dispatches a command made of subcommands (user add, graph
// build, ...). With no argument it lists them and fails; with --help it
// lists them and succeeds.
func runGroup(ctx context.Context, env *Env, group string, subs []command, args []string) error {
	list := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: convoi %s SUBCOMMAND [flags] [arguments]\n\nSubcommands:\n", group)
		for _, c := range subs {
			fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "\nRun 'convoi %s SUBCOMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		list(env.Stderr)
		return errUsage
	}
	if isHelp(args[0]) {
		list(env.Stdout)
		return flag.ErrHelp
	}
	for _, c := range subs {
		if c.name == args[0] {
			err := c.run(ctx, env, args[1:])
			if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
				return &subcommandError{group + " " + c.name, err}
			}
			return err
		}
	}
	fmt.Fprintf(env.Stderr, "convoi %s: unknown subcommand %q\n\n", group, args[0])
	list(env.Stderr)
	return errUsage
}

// subcommandError is the failure of a subcommand of a group, so that it is
// reported as "convoi seal rotate: ..." rather than "convoi seal: ...".
type subcommandError struct {
	name string
	err  error
}

func (e *subcommandError) Error() string { return e.err.Error() }
func (e *subcommandError) Unwrap() error { return e.err }

// flagSet is a subcommand's flags and the shape of its positional
// arguments. Flags are accepted before, between and after the positional
// arguments ("convoi plan MC-1 --data DIR" is "convoi plan --data DIR
// MC-1"); "--" ends the flags.
type flagSet struct {
	*flag.FlagSet
	env      *Env
	synopsis string // positional arguments, e.g. "MOVEMENT-REF"; "" for none
	min, max int    // how many positional arguments are accepted
}

// newFlagSet returns the flag set of `convoi name`, which takes no
// positional argument unless args says otherwise.
func newFlagSet(env *Env, name string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("convoi "+name, flag.ContinueOnError), env: env}
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		line := "convoi " + name
		if fs.hasFlags() {
			line += " [flags]"
		}
		if fs.synopsis != "" {
			line += " " + fs.synopsis
		}
		fmt.Fprintf(fs.Output(), "Usage: %s\n", line)
		switch {
		case fs.hasFlags() && fs.max > 0:
			fmt.Fprintf(fs.Output(), "\nFlags (before or after the arguments):\n")
			fs.PrintDefaults()
		case fs.hasFlags():
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// args declares the positional arguments: their synopsis for the usage line
// and how many are accepted.
func (fs *flagSet) args(synopsis string, min, max int) *flagSet {
	fs.synopsis, fs.min, fs.max = synopsis, min, max
	return fs
}

func (fs *flagSet) hasFlags() bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args, flags anywhere, and checks the number of
// positional arguments (then available as fs.Args). A parse error or a
// wrong count prints the usage and returns errUsage; -h returns flag.ErrHelp.
func parseFlags(fs *flagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...) // after "--", everything is an argument
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Leave the positional arguments in fs.Args.
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return errUsage
	}
	if len(pos) < fs.min || len(pos) > fs.max {
		switch {
		case len(pos) > fs.max && fs.max == 0:
			fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), pos[0])
		case len(pos) > fs.max:
			fmt.Fprintf(fs.Output(), "%s: too many arguments (%d, at most %d)\n", fs.Name(), len(pos), fs.max)
		default:
			fmt.Fprintf(fs.Output(), "%s: missing %s\n", fs.Name(), fs.synopsis)
		}
		fs.Usage()
		return errUsage
	}
	return nil
}
