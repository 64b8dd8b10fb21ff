package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/convoi/convoi/ambush"
)

// newLogger returns the process logger: human-readable text on a terminal,
// JSON lines otherwise (for log shippers).
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// envDefault returns the environment variable name's value, or def.
func envDefault(env *Env, name, def string) string {
	if v := env.Getenv(name); v != "" {
		return v
	}
	return def
}

// appFlags registers the flags shared by serve and demo on fs.
func appFlags(fs *flagSet, env *Env, a *App) (debug *bool) {
	fs.StringVar(&a.Addr, "addr", envDefault(env, "CONVOI_ADDR", a.Addr), "HTTP API address (CONVOI_ADDR)")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory (CONVOI_DATA)")
	fs.StringVar(&a.TeltonikaAddr, "teltonika-addr", envDefault(env, "CONVOI_TELTONIKA_ADDR", a.TeltonikaAddr), "Teltonika TCP listener, empty to disable (CONVOI_TELTONIKA_ADDR)")
	fs.StringVar(&a.TeltonikaUDPAddr, "teltonika-udp-addr", envDefault(env, "CONVOI_TELTONIKA_UDP_ADDR", a.TeltonikaUDPAddr), "Teltonika UDP listener, empty to disable")
	fs.StringVar(&a.OsmAndAddr, "osmand-addr", envDefault(env, "CONVOI_OSMAND_ADDR", a.OsmAndAddr), "OsmAnd (Traccar Client) HTTP listener, empty to disable (CONVOI_OSMAND_ADDR)")
	fs.StringVar(&a.MQTTAddr, "mqtt-addr", envDefault(env, "CONVOI_MQTT_ADDR", a.MQTTAddr), "embedded MQTT broker listener, e.g. 127.0.0.1:1883; off when empty (the default); trackers log in with the secret POST /api/v1/trackers/{id}/secret gives (CONVOI_MQTT_ADDR)")
	fs.StringVar(&a.MQTTURL, "mqtt-url", envDefault(env, "CONVOI_MQTT_URL", ""), "external MQTT broker to subscribe to instead of the embedded one, e.g. tcp://127.0.0.1:1883")
	fs.IntVar(&a.TrackerConnsPerAddr, "tracker-conns-per-addr", a.TrackerConnsPerAddr, "tracker TCP connections allowed from one address (0: 256); raise it for a load test from one host")
	fs.StringVar(&a.SealKeyFile, "seal-key", envDefault(env, "CONVOI_SEAL_KEY", a.SealKeyFile), "key file sealing schedules at rest (CONVOI_SEAL_KEY; default DATA/seal.key; create one with 'convoi seal keygen FILE')")
	fs.StringVar(&a.AuditKeyFile, "audit-key", envDefault(env, "CONVOI_AUDIT_KEY", a.AuditKeyFile), "audit checkpoint signing key (CONVOI_AUDIT_KEY; default DATA/audit/signer.key, created with the log)")
	fs.StringVar(&a.GraphPath, "graph", envDefault(env, "CONVOI_GRAPH", a.GraphPath), "road network: a .graph file or an OSM extract (CONVOI_GRAPH; default: the embedded Monaco extract)")
	fs.DurationVar(&a.PlanTimeLimit, "plan-time-limit", ambush.DefaultTimeLimit, "longest ambush solve of one movement's plan; past it the plan is the best strategy found, with its certified bound")
	return fs.Bool("debug", false, "log at debug level")
}

func runServe(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "serve")
	debug := appFlags(fs, env, a)
	clusterFlags(fs, env, a)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a.Logger = newLogger(env.Stderr, levelFor(*debug))
	a.RequireSeal = true
	if err := a.Open(ctx); err != nil {
		return err
	}
	a.Logger.Info("convoi serving", "url", a.URL(), "store", a.storeName(), "bus", busName(a.BusURL), "node", a.Node, "version", version(),
		"teltonika", a.TeltonikaAddr, "osmand", a.OsmAndAddr, "mqtt", a.MQTTAddr)
	<-ctx.Done()
	a.Logger.Info("convoi shutting down")
	return a.Close()
}

func levelFor(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func runMigrate(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "migrate")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory (CONVOI_DATA)")
	storeFlag(fs, env, a)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	applied, err := a.Migrations(ctx)
	if err != nil {
		return err
	}
	where := filepath.Join(a.absDataDir(), "convoi.db")
	if a.StoreURL != "" {
		where = a.storeName()
	}
	fmt.Fprintf(env.Stdout, "%s: %d migrations applied\n", where, len(applied))
	for _, m := range applied {
		fmt.Fprintf(env.Stdout, "  %s\n", m)
	}
	return nil
}
