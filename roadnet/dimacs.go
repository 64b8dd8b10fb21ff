package roadnet

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"

	"github.com/convoi/convoi"
)

// DIMACSOptions tunes ImportDIMACS.
type DIMACSOptions struct {
	// UnitMS is how many milliseconds one arc-weight unit stands for, used
	// only to convert budgets given in time (isochrones) and to print
	// durations. Default 1.
	UnitMS   float64
	Progress func(msg string)
}

// ImportDIMACS reads a 9th DIMACS Challenge graph: gr holds the arcs ("p sp
// N M", "a U V W", 1-based ids), co the coordinates ("v ID LON LAT", degrees
// times 1e6). Both are read uncompressed: wrap .gz files in gzip.NewReader.
// Costs are the integer arc weights. Malformed lines are an EINVALID error.
func ImportDIMACS(ctx context.Context, gr, co io.Reader, opts DIMACSOptions) (*Graph, error) {
	if opts.UnitMS <= 0 {
		opts.UnitMS = 1
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	b := newBuilder(MetricDIMACS, opts.UnitMS)
	n := -1
	line := 0
	sc := bufio.NewScanner(co)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line++
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || f[0][0] == 'c' {
			continue
		}
		switch string(f[0]) {
		case "p":
			if len(f) < 5 {
				return nil, convoi.Errorf(convoi.EINVALID, "DIMACS coordinates line %d: bad problem line.", line)
			}
			v, err := strconv.Atoi(string(f[4]))
			if err != nil || v <= 0 || v > 1<<28 {
				return nil, convoi.Errorf(convoi.EINVALID, "DIMACS coordinates line %d: bad node count.", line)
			}
			n = v
			b.lat = make([]int32, n)
			b.lon = make([]int32, n)
			b.osmNode = make([]int64, n)
			for i := range b.osmNode {
				b.osmNode[i] = int64(i + 1) // the DIMACS id, whether or not a coordinate line names it
			}
		case "v":
			if n < 0 || len(f) < 4 {
				return nil, convoi.Errorf(convoi.EINVALID, "DIMACS coordinates line %d: node before problem line or too few fields.", line)
			}
			id, e1 := strconv.Atoi(string(f[1]))
			x, e2 := strconv.ParseInt(string(f[2]), 10, 64)
			y, e3 := strconv.ParseInt(string(f[3]), 10, 64)
			if e1 != nil || e2 != nil || e3 != nil || id < 1 || id > n || x < -180e6 || x > 180e6 || y < -90e6 || y > 90e6 {
				return nil, convoi.Errorf(convoi.EINVALID, "DIMACS coordinates line %d: bad node.", line)
			}
			b.lat[id-1], b.lon[id-1] = int32(y*10), int32(x*10)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Cannot read DIMACS coordinates: %v.", err)
	}
	if n < 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "DIMACS coordinates: no problem line.")
	}
	roads := map[uint64]uint32{}
	sc = bufio.NewScanner(gr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line = 0
	for sc.Scan() {
		line++
		if line&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			progress("read " + strconv.Itoa(line) + " lines")
		}
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || f[0][0] != 'a' {
			continue
		}
		if len(f) < 4 {
			return nil, convoi.Errorf(convoi.EINVALID, "DIMACS graph line %d: too few fields.", line)
		}
		u, e1 := strconv.Atoi(string(f[1]))
		v, e2 := strconv.Atoi(string(f[2]))
		w, e3 := strconv.ParseUint(string(f[3]), 10, 32)
		if e1 != nil || e2 != nil || e3 != nil || u < 1 || u > n || v < 1 || v > n || w > 1<<30 {
			return nil, convoi.Errorf(convoi.EINVALID, "DIMACS graph line %d: bad arc.", line)
		}
		u--
		v--
		if u == v {
			continue
		}
		lo, hi := min(u, v), max(u, v)
		key := uint64(lo)<<32 | uint64(hi)
		r, ok := roads[key]
		if !ok {
			r = b.addRoad([]int32{b.lat[lo], b.lat[hi]}, []int32{b.lon[lo], b.lon[hi]}, 0, 0, nil)
			roads[key] = r
		}
		d := haversineE7(b.lat[u], b.lon[u], b.lat[v], b.lon[v])
		b.addEdge(uint32(u), uint32(v), uint32(w), d, r, u != lo)
	}
	if err := sc.Err(); err != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Cannot read DIMACS graph: %v.", err)
	}
	progress("contracting " + strconv.Itoa(n) + " nodes")
	return b.finish(ctx, progress)
}
