package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/teltonika"
)

// runLoadgen: convoi loadgen [--protocol teltonika|osmand] [--addr HOST:PORT]
// [--devices N] [--rate RECORDS/S] [--records PER-FRAME] [--duration D]
// [--db FILE [--serve] [--pipeline-sync]]
//
// N simulated trackers drive along roads of the embedded Monaco extract and
// report to a loopback address only; it prints the achieved rate and the
// acknowledgement latency percentiles. With --db it registers the devices
// in that database; with --serve it also runs the tracker server in this
// process on that database (a self-contained end-to-end benchmark). With
// --monitor N it times panic frames to their alarms: in-process on a fresh
// data directory (runAlarmLoad), or against a cluster with --store
// postgres://... [--setup-only] [--stream URL] (runClusterAlarmLoad).
func runLoadgen(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "loadgen")
	protocol := fs.String("protocol", "teltonika", "teltonika (TCP, Codec 8) or osmand (HTTP)")
	addr := fs.String("addr", "", "target HOST:PORT on loopback (default 127.0.0.1:5027 or :5055)")
	devices := fs.Int("devices", 100, "simulated devices, one connection each")
	rate := fs.Float64("rate", 10000, "total records per second to offer")
	records := fs.Int("records", 10, "records per Teltonika frame (OsmAnd: always 1)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	dbPath := fs.String("db", "", "register the devices as trackers in this SQLite database")
	serve := fs.Bool("serve", false, "with --db: run the tracker server in-process on that database")
	pipelineSync := fs.Bool("pipeline-sync", false, "with --db: the store fsyncs the WAL after each position commit while writing the next (sqlite.DB.PipelineSync) instead of SQLite inside the commit, for comparison")
	first := fs.Int("first-device", 0, "number of the first simulated device, so that several load generators use distinct devices")
	storeURL := fs.String("store", "", "register the devices as trackers in this PostgreSQL database (postgres://...), for a cluster")
	seed := fs.Uint64("seed", 1, "random seed for routes")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process (server included with --serve)")
	monitorN := fs.Int("monitor", 0, "run the whole app in-process (monitor, alarm store, API) with this many devices on underway movements, and time panic frames to their alarm on the SSE stream")
	panicEvery := fs.Duration("panic-every", 500*time.Millisecond, "with --monitor: a panic record from one monitored device this often")
	setupOnly := fs.Bool("setup-only", false, "with --monitor and --store: load the demo world and the monitored movements into the empty database, register the devices, and exit (before the cluster's nodes start)")
	stream := fs.String("stream", "", "with --monitor and --store: time each panic frame to its alarm on the SSE stream of this node's API (http://HOST:PORT)")
	sealKey := fs.String("seal-key", "", "with --monitor and --store: the cluster's seal key file, to seal the movements' schedules as the nodes do")
	wait := fs.Duration("wait", 3*time.Second, "with --monitor and --store: how long to wait for the last panics' alarms")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *protocol != "teltonika" && *protocol != "osmand" {
		fmt.Fprintln(env.Stderr, "loadgen: --protocol must be teltonika or osmand")
		return errUsage
	}
	if *devices < 1 || *rate <= 0 || *records < 1 || *records > 255 || *duration <= 0 {
		fmt.Fprintln(env.Stderr, "loadgen: --devices, --rate, --duration must be positive, --records in 1..255")
		return errUsage
	}
	if *serve && *dbPath == "" {
		fmt.Fprintln(env.Stderr, "loadgen: --serve needs --db")
		return errUsage
	}
	if *protocol == "osmand" {
		*records = 1
	}
	lg := &loadgen{protocol: *protocol, devices: *devices, rate: *rate, records: *records, duration: *duration, first: max(0, *first), seed: *seed}
	if (*setupOnly || *stream != "" || *sealKey != "") && (*monitorN == 0 || *storeURL == "") {
		fmt.Fprintln(env.Stderr, "loadgen: --setup-only, --stream and --seal-key need --monitor and --store")
		return errUsage
	}
	if *monitorN > 0 {
		if *protocol != "teltonika" || *monitorN > *devices || *panicEvery <= 0 {
			fmt.Fprintln(env.Stderr, "loadgen: --monitor needs --protocol teltonika, at most --devices devices and a positive --panic-every")
			return errUsage
		}
		if *storeURL != "" {
			if !isPostgresURL(*storeURL) {
				fmt.Fprintln(env.Stderr, "loadgen: --store needs a postgres:// URL")
				return errUsage
			}
			lg.addr = *addr
			if lg.addr == "" {
				lg.addr = "127.0.0.1:5027"
			}
			return runClusterAlarmLoad(ctx, env, lg, &alarmLoad{n: *monitorN, panicEvery: *panicEvery}, *storeURL, *sealKey, *stream, *setupOnly, *wait)
		}
		return runAlarmLoad(ctx, env, lg, &alarmLoad{n: *monitorN, panicEvery: *panicEvery})
	}
	if *storeURL != "" {
		if err := lg.registerPostgres(ctx, *storeURL); err != nil {
			return err
		}
	}
	if *dbPath != "" {
		db := sqlite.NewDB(*dbPath)
		db.PipelineSync = *pipelineSync
		if err := db.Open(ctx); err != nil {
			return err
		}
		defer db.Close()
		if err := lg.register(ctx, sqlite.NewTrackerService(db)); err != nil {
			return err
		}
		if *serve {
			s := tracker.New()
			s.Trackers, s.Positions, s.Events = sqlite.NewTrackerService(db), sqlite.NewPositionService(db), bus.New()
			s.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			s.MaxConnsPerAddr = *devices + 1 // every simulated device connects from 127.0.0.1
			if *protocol == "teltonika" {
				s.TeltonikaAddr = "127.0.0.1:0"
			} else {
				s.OsmAndAddr = "127.0.0.1:0"
			}
			if err := s.Open(); err != nil {
				return err
			}
			defer s.Close()
			if *protocol == "teltonika" {
				*addr = s.TeltonikaTCPAddr().String()
			} else {
				*addr = s.OsmAndAddress().String()
			}
		}
	}
	if *addr == "" {
		*addr = map[string]string{"teltonika": "127.0.0.1:5027", "osmand": "127.0.0.1:5055"}[*protocol]
	}
	if err := checkLoopback(ctx, *addr); err != nil {
		return err
	}
	lg.addr = *addr
	g, err := roadnet.ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		return fmt.Errorf("import Monaco: %w", err)
	}
	if err := lg.planRoutes(ctx, g, rand.New(rand.NewPCG(*seed, *seed))); err != nil {
		return err
	}
	res, err := lg.run(ctx)
	if err != nil {
		return err
	}
	res.print(env.Stdout, lg)
	if res.acked.Load() == 0 {
		// Nothing got through (no server, every connection refused, every
		// device rejected): a failed run, whatever was attempted.
		if res.firstErr != nil {
			return fmt.Errorf("no record acknowledged by %s: %v", lg.addr, res.firstErr)
		}
		return fmt.Errorf("no record acknowledged by %s", lg.addr)
	}
	return nil
}

// checkLoopback refuses any target that is not a loopback address: the
// load generator must never be pointed at a production server.
func checkLoopback(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %q: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("loadgen targets loopback addresses only; %s is %s", host, ip.IP)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("resolve %q: no address", host)
	}
	return nil
}

type loadgen struct {
	protocol string
	addr     string
	devices  int
	rate     float64 // records/s, all devices
	records  int     // per frame
	duration time.Duration
	routes   [][]convoi.LatLon // polylines with speeds below
	speeds   []float64         // m/s per route
	first    int               // number of the first device (--first-device)
	base     time.Time         // fix time of the first record (zero: a fixed date)
	alarms   *alarmLoad        // --monitor: panics to send and time
	seed     uint64            // --seed
}

// deviceID returns the IMEI (or OsmAnd id) of device i.
func (lg *loadgen) deviceID(i int) string {
	if lg.protocol == "teltonika" {
		return fmt.Sprintf("359%012d", lg.first+i)
	}
	return fmt.Sprintf("loadgen-%d", lg.first+i)
}

func (lg *loadgen) register(ctx context.Context, ts convoi.TrackerService) error {
	p := convoi.ProtocolTeltonika
	if lg.protocol == "osmand" {
		p = convoi.ProtocolOsmAnd
	}
	for i := range lg.devices {
		err := ts.CreateTracker(ctx, &convoi.Tracker{DeviceID: convoi.DeviceID(lg.deviceID(i)), Protocol: p, Model: "FMC130"})
		if err != nil && convoi.ErrorCode(err) != convoi.ECONFLICT {
			return fmt.Errorf("register device %d: %w", i, err)
		}
	}
	return nil
}

// planRoutes computes a few dozen routes between random places of the
// graph; devices drive them in loops.
func (lg *loadgen) planRoutes(ctx context.Context, g *roadnet.Graph, rng *rand.Rand) error {
	b := g.Bounds()
	for tries := 0; len(lg.routes) < 32 && tries < 500; tries++ {
		pick := func() (roadnet.RoadPoint, error) {
			return g.Snap(convoi.LatLon{Lat: b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat), Lon: b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon)})
		}
		from, err1 := pick()
		to, err2 := pick()
		if err1 != nil || err2 != nil {
			continue
		}
		r, err := g.Route(ctx, from, to, roadnet.RouteOptions{})
		if err != nil || len(r.Geometry) < 2 || r.DurationS < 60 {
			continue
		}
		lg.routes = append(lg.routes, r.Geometry)
		lg.speeds = append(lg.speeds, r.DistanceM/r.DurationS)
	}
	if len(lg.routes) == 0 {
		return errors.New("no route found in the Monaco extract")
	}
	return nil
}

// driver moves one device along its route.
type driver struct {
	route []convoi.LatLon
	speed float64 // m/s
	seg   int
	along float64 // metres into route[seg]
}

// step advances dt seconds and returns the position and heading.
func (d *driver) step(dt float64) (convoi.LatLon, float64) {
	left := d.speed * dt
	for {
		a, b := d.route[d.seg], d.route[(d.seg+1)%len(d.route)]
		l := a.DistanceM(b)
		if d.along+left <= l || l == 0 && left == 0 {
			d.along += left
			f := 0.0
			if l > 0 {
				f = d.along / l
			}
			p := convoi.LatLon{Lat: a.Lat + f*(b.Lat-a.Lat), Lon: a.Lon + f*(b.Lon-a.Lon)}
			h := math.Mod(math.Atan2((b.Lon-a.Lon)*math.Cos(a.Lat*math.Pi/180), b.Lat-a.Lat)*180/math.Pi+360, 360)
			return p, h
		}
		left -= l - d.along
		d.along = 0
		d.seg = (d.seg + 1) % len(d.route)
	}
}

type loadResult struct {
	sent, acked atomic.Int64
	errors      atomic.Int64
	elapsed     time.Duration
	mu          sync.Mutex
	lat         []time.Duration // from writing a frame (request) to its ack (response)
	late        []time.Duration // from the frame's scheduled time to its ack
	firstErr    error
}

// latencies is one device's share of loadResult's.
type latencies struct{ lat, late []time.Duration }

func (l *latencies) add(due, sent, acked time.Time) {
	l.lat = append(l.lat, acked.Sub(sent))
	l.late = append(l.late, acked.Sub(due))
}

func (r *loadResult) fail(err error) {
	r.errors.Add(1)
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

func (lg *loadgen) run(ctx context.Context) (*loadResult, error) {
	res := &loadResult{}
	frameEvery := time.Duration(float64(time.Second) * float64(lg.records) * float64(lg.devices) / lg.rate)
	ctx, cancel := context.WithTimeout(ctx, lg.duration)
	defer cancel()
	// Fix times: one second apart per device (distinct, so none is a
	// duplicate), starting at a fixed date so that reruns on one database
	// are deduplicated rather than piling up.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !lg.base.IsZero() {
		base = lg.base
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range lg.devices {
		d := &driver{route: lg.routes[i%len(lg.routes)], speed: lg.speeds[i%len(lg.routes)]}
		d.step(float64(i * 37)) // spread devices along their route
		offset := time.Duration(i) * frameEvery / time.Duration(lg.devices)
		wg.Go(func() {
			var lat latencies
			var err error
			if lg.protocol == "teltonika" {
				err = lg.runTeltonika(ctx, i, d, base, frameEvery, offset, res, &lat)
			} else {
				err = lg.runOsmAnd(ctx, i, d, base, frameEvery, offset, res, &lat)
			}
			if err != nil && ctx.Err() == nil {
				res.fail(fmt.Errorf("device %d: %w", i, err))
			}
			res.mu.Lock()
			res.lat = append(res.lat, lat.lat...)
			res.late = append(res.late, lat.late...)
			res.mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, nil
}

// pace sleeps until the k-th send time of a device, which it returns. A
// device behind its schedule (waiting for slow acks, as a real tracker
// does, keeping its records meanwhile) sends at once.
func pace(ctx context.Context, start time.Time, k int, every, offset time.Duration) (time.Time, bool) {
	due := start.Add(offset + time.Duration(k)*every)
	wait := time.Until(due)
	if wait <= 0 {
		return due, ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return due, true
	case <-ctx.Done():
		return due, false
	}
}

func (lg *loadgen) runTeltonika(ctx context.Context, i int, d *driver, base time.Time, every, offset time.Duration, res *loadResult, lat *latencies) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", lg.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	if _, err := c.Write(teltonika.AppendIMEI(nil, lg.deviceID(i))); err != nil {
		return err
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:1]); err != nil {
		return err
	}
	if b[0] != 1 {
		return fmt.Errorf("IMEI %s refused (register it, or use --db)", lg.deviceID(i))
	}
	recs := make([]teltonika.Record, lg.records)
	var frame []byte
	seq := 0
	start := time.Now()
	for k := 0; ; k++ {
		due, ok := pace(ctx, start, k, every, offset)
		if !ok {
			return nil
		}
		for r := range recs {
			p, h := d.step(1)
			recs[r] = teltonika.Record{Time: base.Add(time.Duration(seq) * time.Second), Lat: p.Lat, Lon: p.Lon,
				Angle: uint16(h), Satellites: 9, Speed: uint16(d.speed * 3.6), Altitude: 40,
				IO: []teltonika.IO{{ID: 239, Size: 1, Value: 1}, {ID: 240, Size: 1, Value: 1}, {ID: 69, Size: 1, Value: 1}, {ID: 66, Size: 2, Value: 13800}}}
			seq++
		}
		panicked := lg.alarms.panicDue(i)
		if panicked {
			recs[len(recs)-1].Priority = teltonika.PriorityPanic
		}
		frame, err = teltonika.AppendFrame(frame[:0], teltonika.Codec8, recs)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if panicked {
			lg.alarms.sentPanic(lg.deviceID(i), recs[len(recs)-1].Time, t0)
		}
		if _, err := c.Write(frame); err != nil {
			return err
		}
		res.sent.Add(int64(len(recs)))
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return err
		}
		lat.add(due, t0, time.Now())
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		res.acked.Add(int64(n))
		if n != len(recs) {
			return fmt.Errorf("ack %d of %d records", n, len(recs))
		}
	}
}

func (lg *loadgen) runOsmAnd(ctx context.Context, i int, d *driver, base time.Time, every, offset time.Duration, res *loadResult, lat *latencies) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	start := time.Now()
	for k := 0; ; k++ {
		due, ok := pace(ctx, start, k, every, offset)
		if !ok {
			return nil
		}
		p, h := d.step(1)
		url := "http://" + lg.addr + "/?id=" + lg.deviceID(i) +
			"&timestamp=" + strconv.FormatInt(base.Add(time.Duration(k)*time.Second).Unix(), 10) +
			"&lat=" + strconv.FormatFloat(p.Lat, 'f', 7, 64) + "&lon=" + strconv.FormatFloat(p.Lon, 'f', 7, 64) +
			"&speed=" + strconv.FormatFloat(d.speed*3.6/1.852, 'f', 1, 64) + "&bearing=" + strconv.FormatFloat(h, 'f', 1, 64)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		t0 := time.Now()
		res.sent.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		lat.add(due, t0, time.Now())
		res.acked.Add(1)
	}
}

func (r *loadResult) print(w io.Writer, lg *loadgen) {
	slices.Sort(r.lat)
	slices.Sort(r.late)
	pct := func(p float64) time.Duration { return quantile(r.lat, p) }
	late := func(p float64) time.Duration { return quantile(r.late, p) }
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "loadgen: %s to %s, %d devices, %d records/frame, offered %.0f records/s for %v\n",
		lg.protocol, lg.addr, lg.devices, lg.records, lg.rate, lg.duration)
	fmt.Fprintf(w, "sent %d records, acknowledged %d, errors %d\n", r.sent.Load(), r.acked.Load(), r.errors.Load())
	fmt.Fprintf(w, "achieved %.0f records/s acknowledged (%.0f frames/s)\n", float64(r.acked.Load())/secs, float64(len(r.lat))/secs)
	fmt.Fprintf(w, "ack latency: p50 %v  p90 %v  p99 %v  max %v  (%d acks)\n", pct(0.50), pct(0.90), pct(0.99), pct(1), len(r.lat))
	// The same from each frame's scheduled time: it includes the time a
	// device waited for earlier acks before it could send (coordinated
	// omission), so it is never below the ack latency.
	fmt.Fprintf(w, "from schedule: p50 %v  p90 %v  p99 %v  max %v\n", late(0.50), late(0.90), late(0.99), late(1))
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.firstErr)
	}
}
