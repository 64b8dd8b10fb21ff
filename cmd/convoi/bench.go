package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/convoi/convoi/roadnet"
)

// runBench: convoi bench route --pairs CSV [--graph FILE] [--out FILE.jsonl]
// [--alternatives K]
func runBench(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "bench", []command{
		{"route", "time route queries on a graph (the embedded Monaco extract unless --graph): route --pairs CSV", runBenchRoute},
	}, args)
}

func runBenchRoute(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench route")
	graph := fs.String("graph", "", "graph file or OSM extract (default: the embedded Monaco extract)")
	pairs := fs.String("pairs", "", "CSV rows from_lat,from_lon,to_lat,to_lon (or from_node,to_node: the input file's node ids) (required)")
	out := fs.String("out", "", "write each result as a JSON line to this file")
	alts := fs.Int("alternatives", 0, "time K alternatives instead of one route")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pairs == "" {
		fmt.Fprintln(fs.Output(), "convoi bench route: --pairs is required")
		fs.Usage()
		return errUsage
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	g, err := openGraph(ctx, env, *graph)
	if err != nil {
		return err
	}
	load := time.Since(start)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	f, err := os.Open(*pairs)
	if err != nil {
		return err
	}
	defer f.Close()
	var from, to []roadnet.RoadPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		var a, b roadnet.RoadPoint
		switch len(fields) {
		case 4:
			pa, err1 := parseLatLon(fields[0] + "," + fields[1])
			pb, err2 := parseLatLon(fields[2] + "," + fields[3])
			if err1 != nil || err2 != nil {
				continue // header or bad row
			}
			if a, err = g.SnapSource(pa); err != nil {
				continue
			}
			if b, err = g.SnapTarget(pb); err != nil {
				continue
			}
		case 2:
			var x, y int64
			if _, err := fmt.Sscanf(fields[0]+" "+fields[1], "%d %d", &x, &y); err != nil {
				continue
			}
			if a, err = endpoint(g, "from", "", x); err != nil {
				continue
			}
			if b, err = endpoint(g, "to", "", y); err != nil {
				continue
			}
		default:
			continue
		}
		from, to = append(from, a), append(to, b)
	}
	if len(from) == 0 {
		return fmt.Errorf("no usable pairs in %s", *pairs)
	}
	var w *bufio.Writer
	if *out != "" {
		of, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer of.Close()
		w = bufio.NewWriter(of)
		defer w.Flush()
	}
	lat := make([]time.Duration, 0, len(from))
	found := 0
	for i := range from {
		t0 := time.Now()
		var cost int64
		var ok bool
		if *alts > 0 {
			ps, err := g.AlternativePaths(ctx, from[i], to[i], roadnet.AlternativeOptions{K: *alts})
			ok = err == nil
			if ok {
				cost = ps[0].Cost
			}
		} else {
			p, err := g.ShortestPath(ctx, from[i], to[i], roadnet.RouteOptions{})
			ok, cost = err == nil, p.Cost
		}
		lat = append(lat, time.Since(t0))
		if ok {
			found++
		}
		if w != nil {
			json.NewEncoder(w).Encode(map[string]any{"pair": i, "found": ok, "cost": cost, "duration_s": g.Duration(cost), "latency_us": lat[len(lat)-1].Microseconds()})
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Fprintf(env.Stdout, "graph: %d nodes, %d edges, %d shortcuts\n", g.NumNodes(), g.NumEdges(), g.NumShortcuts())
	fmt.Fprintf(env.Stdout, "load (or import+preprocessing): %v, heap after load: %.1f MiB\n", load.Round(time.Millisecond), float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20))
	fmt.Fprintf(env.Stdout, "queries: %d (%d found), median %v, p99 %v, max %v\n", len(lat), found,
		lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1])
	return nil
}
