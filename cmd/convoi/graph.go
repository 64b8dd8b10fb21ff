package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// runGraph: convoi graph build IN -o OUT.graph
//
//	convoi graph build --dimacs GR.gz --coords CO.gz -o OUT.graph
func runGraph(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "graph", []command{
		{"build", "import an OSM extract or a DIMACS graph and write a graph file: build (IN.osm.pbf | --dimacs GR.gz --coords CO.gz) -o OUT.graph", runGraphBuild},
	}, args)
}

func runGraphBuild(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "graph build").args("[IN.osm.pbf]", 0, 1)
	out := fs.String("o", "", "output graph file (required)")
	gr := fs.String("dimacs", "", "DIMACS .gr(.gz) arc file")
	co := fs.String("coords", "", "DIMACS .co(.gz) coordinate file")
	unit := fs.Float64("unit-ms", 1, "milliseconds per DIMACS cost unit (for isochrone minutes)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	in := fs.Arg(0)
	if *out == "" || (in == "") == (*gr == "") {
		fmt.Fprintln(fs.Output(), "convoi graph build: need -o and exactly one of IN or --dimacs")
		fs.Usage()
		return errUsage
	}
	start := time.Now()
	var g *roadnet.Graph
	var err error
	if in != "" {
		g, err = importOSMFile(ctx, env, in)
	} else {
		g, err = importDIMACSFiles(ctx, env, *gr, *co, *unit)
	}
	if err != nil {
		return err
	}
	prep := time.Since(start)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	n, err := g.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %d nodes, %d edges, %d shortcuts, %d turns, %d turn shortcuts, %d bytes; import+preprocessing %v\n",
		*out, g.NumNodes(), g.NumEdges(), g.NumShortcuts(), g.NumTurns(), g.NumTurnShortcuts(), n, prep.Round(time.Millisecond))
	return nil
}

// progressFunc returns a progress line that rewrites itself on a terminal,
// and nil (no progress) when stderr is a file or a pipe, whose readers want
// no control characters.
func progressFunc(env *Env) func(string) {
	if !isTerminal(env.Stderr) {
		return nil
	}
	return func(msg string) { fmt.Fprintf(env.Stderr, "\r\033[K%s", msg) }
}

// endProgress clears the progress line, if there was one.
func endProgress(env *Env) {
	if isTerminal(env.Stderr) {
		fmt.Fprint(env.Stderr, "\r\033[K")
	}
}

func importOSMFile(ctx context.Context, env *Env, path string) (*roadnet.Graph, error) {
	format, err := roadnet.FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := roadnet.ImportOSM(ctx, f, format, roadnet.ImportOptions{Progress: progressFunc(env)})
	endProgress(env)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return g, nil
}

func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

func importDIMACSFiles(ctx context.Context, env *Env, gr, co string, unitMS float64) (*roadnet.Graph, error) {
	if co == "" {
		return nil, convoi.Errorf(convoi.EINVALID, "--coords is required with --dimacs")
	}
	a, err := openMaybeGzip(gr)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	c, err := openMaybeGzip(co)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	g, err := roadnet.ImportDIMACS(ctx, a, c, roadnet.DIMACSOptions{UnitMS: unitMS, Progress: progressFunc(env)})
	endProgress(env)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", gr, err)
	}
	return g, nil
}

// openGraph reads a graph file, or imports an OSM extract directly; with
// no path, the embedded Monaco extract, as `convoi serve` does.
func openGraph(ctx context.Context, env *Env, path string) (*roadnet.Graph, error) {
	if path == "" {
		return loadGraph(ctx, "")
	}
	if _, err := roadnet.FormatOf(path); err == nil {
		return importOSMFile(ctx, env, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := roadnet.ReadGraph(f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return g, nil
}

// parseLatLon parses "LAT,LON".
func parseLatLon(s string) (convoi.LatLon, error) {
	a, b, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil {
		return convoi.LatLon{}, convoi.Errorf(convoi.EINVALID, "Bad coordinates %q, want LAT,LON.", s)
	}
	p := convoi.LatLon{Lat: lat, Lon: lon}
	return p, p.Validate()
}
