package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
)

// runClusterAlarmLoad is loadgen's --monitor mode against a cluster
// (--store postgres://...), in two steps. With --setup-only, before the
// nodes start, it loads the demo world into the empty database, puts the
// first N devices on the vans of N underway movements whose released
// routes are the loops they drive (as the in-process mode does), registers
// the other devices, and exits. Without it, it drives the devices against
// one node's tracker listener (--addr), sends a panic record from a random
// monitored van every --panic-every, and times each panic frame to its
// attack alarm on the SSE stream of a node's API (--stream: another node
// for the cross-node figure). Both steps need the same --devices,
// --first-device, --rate, --duration and --seed.
func runClusterAlarmLoad(ctx context.Context, env *Env, lg *loadgen, al *alarmLoad, storeURL, sealKey, stream string, setup bool, wait time.Duration) error {
	a := NewApp()
	a.StoreURL, a.SealKeyFile = storeURL, sealKey
	dir, err := os.MkdirTemp("", "convoi-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a.DataDir = dir // no default seal key file: --seal-key or none
	a.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	g, err := roadnet.ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		return fmt.Errorf("import Monaco: %w", err)
	}
	if err := lg.planRoutes(ctx, g, rand.New(rand.NewPCG(lg.seed, lg.seed))); err != nil {
		return err
	}
	lg.base = time.Now().Truncate(time.Second)
	if setup {
		w, err := a.loadDemo(ctx, DefaultDemoPassword)
		if err != nil {
			return fmt.Errorf("load the demo world (--setup-only needs an empty database): %w", err)
		}
		if err := lg.putOnRoad(ctx, a, w, al.n); err != nil {
			return err
		}
		if err := lg.register(ctx, a.S.Trackers); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "loadgen: %d devices registered; devices %s..%s on the vans of underway movements LG-%04d..LG-%04d\n",
			lg.devices, lg.deviceID(0), lg.deviceID(al.n-1), lg.first, lg.first+al.n-1)
		return nil
	}
	if err := checkLoopback(ctx, lg.addr); err != nil {
		return err
	}
	al.sent, al.want = map[string]time.Time{}, make([]bool, al.n)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	streamDone := func() error { return nil }
	if stream != "" {
		u, err := url.Parse(stream)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--stream %q: want http://HOST:PORT", stream)
		}
		host := u.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "80")
		}
		if err := checkLoopback(ctx, host); err != nil {
			return err
		}
		if streamDone, err = al.streamAlarms(sctx, stream, a.S.Trackers); err != nil {
			return err
		}
	}
	go al.pickPanics(sctx, rand.New(rand.NewPCG(2, 2)))
	lg.alarms = al
	res, err := lg.run(ctx)
	if err != nil {
		return err
	}
	time.Sleep(wait) // the last panics' alarms
	stop()
	streamErr := streamDone()
	res.print(env.Stdout, lg)
	al.mu.Lock()
	defer al.mu.Unlock()
	fmt.Fprintf(env.Stdout, "panics sent: %d\n", len(al.lat)+len(al.sent))
	if stream != "" {
		fmt.Fprintf(env.Stdout, "panic frame -> attack alarm on the SSE stream of %s: %s; %d panics without an alarm event\n",
			stream, percentiles(al.lat), len(al.sent))
	}
	if res.acked.Load() == 0 {
		return fmt.Errorf("no record acknowledged by %s", lg.addr)
	}
	return streamErr
}
