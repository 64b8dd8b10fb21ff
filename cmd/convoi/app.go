package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/alarm"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/audit"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/monitor"
	"github.com/convoi/convoi/natsbus"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/tiles"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/web"
)

// App is a running convoi: the store, the engines and the listeners, wired
// together. `convoi serve` and `convoi demo` build one from flags; end-to-end
// tests build one directly. Exported fields are the configuration; set them
// before Open.
type App struct {
	Addr    string // HTTP API address
	DataDir string // where convoi.db lives
	Logger  *slog.Logger
	Now     convoi.Clock
	// PasswordParams hash new passwords (auth.DefaultParams; tests use auth.TestParams).
	PasswordParams auth.Params

	// Tracker listeners; an empty address turns that listener off.
	TeltonikaAddr, TeltonikaUDPAddr, OsmAndAddr, MQTTAddr string
	// MQTTURL, when set, subscribes to an external broker instead of running
	// the embedded one.
	MQTTURL string
	// TrackerConnsPerAddr caps the tracker TCP connections from one peer
	// address (0: tracker.DefaultMaxConnsPerAddr). A load test from one
	// host raises it.
	TrackerConnsPerAddr int

	// SealKeyFile holds the keys that seal schedules at rest ("":
	// DataDir/seal.key when it exists). RequireSeal makes a missing key file
	// an error (convoi serve).
	SealKeyFile string
	RequireSeal bool

	// AuditKeyFile signs the audit log's checkpoints ("": AuditDir/signer.key,
	// created with the log).
	AuditKeyFile string

	// PlanTimeLimit bounds the ambush solve of one movement's plan (0:
	// the planner's default, 30 s); past it the plan is the best strategy
	// found, with its certified bound.
	PlanTimeLimit time.Duration

	// GraphPath is the road network: "" for the embedded Monaco extract, a
	// .graph file from `convoi graph build`, or an OSM extract.
	GraphPath string

	// StoreURL, when set, is the PostgreSQL database (postgres://...) of
	// a cluster instead of the SQLite file in DataDir; BusURL the NATS
	// JetStream server of its event bus instead of the in-process one; Node
	// this node's name in the cluster.
	StoreURL, BusURL, Node string
	// BusStream names the JetStream stream (subjects convoi.STREAM.> and
	// lease bucket STREAM_leases) instead of the defaults; tests use their own.
	BusStream string
	// BusReplicas is how many NATS servers store each event and lease (3
	// on a three-server cluster).
	BusReplicas int
	// owned are the movements whose monitoring lease this node holds.
	owned ownedSet
	// web is the HTTP API once open, for the cluster's notifications.
	web atomic.Pointer[web.Server]

	DB      *sqlite.DB   // the SQLite store, nil with StoreURL
	PG      *postgres.DB // the PostgreSQL store, nil without StoreURL
	S       Services     // the open store's services
	Graph   *roadnet.Graph
	Bus     *bus.EventService // the in-process bus, nil with BusURL
	NATS    *natsbus.EventService
	Events  convoi.EventService // Bus or NATS
	Leases  *natsbus.Leases     // with BusURL: which node monitors which movement
	Risk    *risk.Service
	Planner *ambush.Service
	// Alarms is the alarm store with publishing and the escalation loop:
	// the monitor raises alarms through it, the API works them.
	Alarms  *alarm.Service
	Tracker *tracker.Server
	HTTP    *web.Server
	Audit   *audit.Log
	// Monitor watches the escorts against their plans.
	Monitor *monitor.Monitor

	// Response answers the incident endpoints (reachability, plan, CAP
	// alerts); nil when the road graph has no escape node.
	Response *incidentResponder

	closers []func() error
}

// NewApp returns an App with the defaults of `convoi serve`.
func NewApp() *App {
	return &App{
		Addr:    web.DefaultAddr,
		DataDir: "convoi-data",
		Logger:  slog.Default(),
		Now:     time.Now,

		TeltonikaAddr:    "127.0.0.1:5027",
		TeltonikaUDPAddr: "127.0.0.1:5027",
		OsmAndAddr:       "127.0.0.1:5055",
		MQTTAddr:         "", // off unless configured: trackers then log in with their own credentials
		PasswordParams:   auth.DefaultParams,
	}
}

// DBPath is the database file inside DataDir.
func (a *App) DBPath() string { return filepath.Join(a.DataDir, "convoi.db") }

// OpenExistingStore opens the database of a data directory that already
// holds one, for the commands that work on stored data (plan, user add):
// they refuse a missing or mistyped directory rather than create an empty
// one and find nothing in it. serve, demo and migrate create it (OpenStore).
func (a *App) OpenExistingStore(ctx context.Context) error {
	if a.StoreURL != "" {
		return a.OpenStore(ctx)
	}
	if _, err := os.Stat(a.DBPath()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no convoi database in %s: give the data directory of 'convoi serve' with --data DIR (or CONVOI_DATA), or create one with 'convoi migrate --data DIR'", a.absDataDir())
		}
		return fmt.Errorf("data directory: %w", err)
	}
	return a.OpenStore(ctx)
}

// absDataDir is DataDir as an absolute path when it can be resolved, so that
// messages say where exactly.
func (a *App) absDataDir() string {
	if p, err := filepath.Abs(a.DataDir); err == nil {
		return p
	}
	return a.DataDir
}

// OpenStore opens (creating and migrating if needed) the database only.
func (a *App) OpenStore(ctx context.Context) error {
	if a.StoreURL != "" {
		return a.openPostgres(ctx)
	}
	if err := os.MkdirAll(a.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	a.DB = sqlite.NewDB(a.DBPath())
	a.DB.Now = a.Now
	if err := a.loadSealKey(); err != nil {
		return err
	}
	if err := a.DB.Open(ctx); err != nil {
		return fmt.Errorf("open store %s: %w", a.DBPath(), err)
	}
	a.S = sqliteServices(a.DB)
	a.closers = append(a.closers, a.DB.Close)
	// With a key file, check that it opens what it sealed; without one
	// (user add, migrate: the key is kept outside), nothing sealed is read.
	if a.DB.Sealer == nil {
		return nil
	}
	if err := a.DB.CheckSealKey(ctx); err != nil {
		return fmt.Errorf("the schedules stored in %s do not open (%v): give the key file they were sealed with (--seal-key FILE or CONVOI_SEAL_KEY)", a.absDataDir(), err)
	}
	return nil
}

// Open opens the store and starts every listener. On error, whatever was
// started is stopped again.
func (a *App) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.DB == nil && a.PG == nil {
		if err := a.OpenStore(ctx); err != nil {
			return err
		}
	}
	if a.Risk == nil {
		if err := a.OpenEngines(ctx); err != nil {
			return err
		}
	}
	if err := a.Alarms.Open(); err != nil {
		return fmt.Errorf("start alarm escalation: %w", err)
	}
	a.closers = append(a.closers, a.Alarms.Close)
	if err := a.openWebhooks(ctx); err != nil {
		return fmt.Errorf("start webhooks: %w", err)
	}
	a.openMonitor()
	t := tracker.New()
	t.TeltonikaAddr, t.TeltonikaUDPAddr, t.OsmAndAddr = a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr
	t.MQTTAddr, t.MQTTURL = a.MQTTAddr, a.MQTTURL
	if a.TrackerConnsPerAddr > 0 {
		t.MaxConnsPerAddr = a.TrackerConnsPerAddr
	}
	t.Trackers = a.S.Trackers
	t.Positions = a.S.Positions
	t.DeviceSecrets = a.S.DeviceSecrets
	t.Events = a.Events
	t.Logger = a.Logger.With("component", "tracker")
	t.Now = a.Now
	if err := t.Open(); err != nil {
		return fmt.Errorf("open tracker listeners: %w", listenHint(err))
	}
	a.Tracker = t
	a.closers = append(a.closers, t.Close)

	if err := a.openAudit(); err != nil {
		return err
	}

	s := web.New()
	s.Audit = a.Audit
	s.Addr = a.Addr
	s.Logger = a.Logger
	s.Now = a.Now
	s.PasswordParams = a.PasswordParams
	s.UserService = a.S.Users
	s.TokenService = a.S.Tokens
	s.SiteService = a.S.Sites
	s.DetaineeService = a.S.Detainees
	s.IntelService = a.S.Intel
	s.MovementService = a.S.Movements
	s.VehicleService = a.S.Vehicles
	s.OfficerService = a.S.Officers
	s.TrackerService = a.S.Trackers
	s.IdempotencyService = a.S.Idempotency
	s.AssessmentService = a.S.Assessments
	s.AlarmService = a.Alarms
	s.PositionService = a.S.Positions
	s.GrantService = a.S.Grants
	s.PolicyService = a.S.Policies
	s.WebhookService = a.S.Webhooks
	s.NoticeService = a.S.Notices
	s.DeviceSecretService = a.S.DeviceSecrets
	s.PlanService = a.S.Plans
	s.EventService = a.Events
	if a.Graph != nil {
		s.Roads = roadnet.NewService(a.Graph)
		s.Tiles = tiles.New(a.Graph)
	}
	s.Risk = a.Risk
	s.Commander = a.Tracker
	s.Devices = a.Tracker
	s.Planner = a.Planner
	s.IncidentService = a.S.Incidents
	if a.Response != nil {
		s.Response = a.Response
		s.Alerts = &alertOutbox{Dir: filepath.Join(a.DataDir, "alerts"), Responder: a.Response, Incidents: s.IncidentService}
	}
	a.clusterWeb(s)
	if err := s.Open(); err != nil {
		return fmt.Errorf("open HTTP API on %s: %w", a.Addr, listenHint(err))
	}
	a.HTTP = s
	a.web.Store(s)
	a.startKeeper()
	a.closers = append(a.closers, s.Close)
	return nil
}

// listenHint adds to an "address already in use" error what to do about it.
func listenHint(err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	return fmt.Errorf("%w (another program listens there: give this listener another address with --addr, --teltonika-addr, --teltonika-udp-addr, --osmand-addr or --mqtt-addr, or turn a tracker listener off with an empty address, e.g. --osmand-addr '')", err)
}

// OpenEngines loads the road graph and builds the engines on the open store.
func (a *App) OpenEngines(ctx context.Context) (err error) {
	if a.Graph == nil {
		if a.Graph, err = loadGraph(ctx, a.GraphPath); err != nil {
			return err
		}
	}
	if a.Events, err = a.openBus(ctx); err != nil {
		return fmt.Errorf("open event bus: %w", err)
	} else if a.Events == nil {
		a.Bus = bus.New()
		a.Events = a.Bus
	}

	a.Risk = risk.NewService()
	a.Risk.Now = a.Now
	a.Risk.Movements = a.S.Movements
	a.Risk.Detainees = a.S.Detainees
	a.Risk.Intel = a.S.Intel
	a.Risk.Sites = a.S.Sites
	a.Risk.Assessments = a.S.Assessments
	a.Risk.Policies = a.S.Policies
	a.Risk.Officers = a.S.Officers
	a.Risk.Vehicles = a.S.Vehicles
	a.Risk.Events = a.Events
	a.Risk.Routes = routeFacts(a.Graph)

	a.Planner = ambush.NewService(a.Graph, a.S.Movements, a.S.Sites, a.S.Plans)
	a.Planner.Now = a.Now
	if a.PlanTimeLimit > 0 {
		a.Planner.TimeLimit = a.PlanTimeLimit
	}

	a.Alarms = alarm.New(a.S.Alarms)
	a.Alarms.Events, a.Alarms.Movements, a.Alarms.Now = a.Events, a.S.Movements, a.Now
	a.Alarms.OnError = func(err error) {
		a.Logger.LogAttrs(context.Background(), slog.LevelError, "alarm escalation", slog.String("error", err.Error()))
	}
	if a.Response, err = newIncidentResponder(a.Graph, stores{Incidents: a.S.Incidents, Sites: a.S.Sites,
		Vehicles: a.S.Vehicles, Trackers: a.S.Trackers, Positions: a.S.Positions}); err != nil {
		a.Logger.LogAttrs(ctx, slog.LevelWarn, "incident response unavailable", slog.String("error", err.Error()))
		a.Response, err = nil, nil
	} else {
		a.Response.Now, a.Response.Zone = a.Now, demoZone()
	}
	return nil
}

// URL is the base URL of the HTTP API once open.
func (a *App) URL() string {
	if a.HTTP == nil {
		return ""
	}
	return a.HTTP.URL()
}

// Close stops everything Open started, in reverse order.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// DBMovements is the movement service on the open store.
func (a *App) DBMovements() convoi.MovementService { return a.S.Movements }
