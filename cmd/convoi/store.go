package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/natsbus"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/seal"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/web"
)

// Services is every store service of the open store, SQLite or PostgreSQL.
type Services struct {
	Sites         convoi.SiteService
	Detainees     convoi.DetaineeService
	Intel         convoi.IntelService
	Movements     convoi.MovementService
	Vehicles      convoi.VehicleService
	Officers      convoi.OfficerService
	Trackers      convoi.TrackerService
	Users         convoi.UserService
	Tokens        convoi.TokenService
	Positions     convoi.PositionService
	Assessments   convoi.AssessmentService
	Policies      convoi.PolicyService
	Plans         convoi.PlanService
	Idempotency   convoi.IdempotencyService
	Alarms        convoi.AlarmService
	Grants        convoi.GrantService
	Webhooks      convoi.WebhookService
	Notices       convoi.NoticeService
	DeviceSecrets convoi.DeviceSecretService
	Incidents     convoi.IncidentService
}

func sqliteServices(db *sqlite.DB) Services {
	return Services{
		Sites: sqlite.NewSiteService(db), Detainees: sqlite.NewDetaineeService(db), Intel: sqlite.NewIntelService(db),
		Movements: sqlite.NewMovementService(db), Vehicles: sqlite.NewVehicleService(db), Officers: sqlite.NewOfficerService(db),
		Trackers: sqlite.NewTrackerService(db), Users: sqlite.NewUserService(db), Tokens: sqlite.NewTokenService(db),
		Positions: sqlite.NewPositionService(db), Assessments: sqlite.NewAssessmentService(db), Policies: sqlite.NewPolicyService(db),
		Plans: sqlite.NewPlanService(db), Idempotency: sqlite.NewIdempotencyService(db), Alarms: sqlite.NewAlarmService(db),
		Grants: sqlite.NewGrantService(db), Webhooks: sqlite.NewWebhookService(db), Notices: sqlite.NewNoticeService(db),
		DeviceSecrets: sqlite.NewDeviceSecretService(db), Incidents: sqlite.NewIncidentService(db),
	}
}

func postgresServices(db *postgres.DB) Services {
	return Services{
		Sites: postgres.NewSiteService(db), Detainees: postgres.NewDetaineeService(db), Intel: postgres.NewIntelService(db),
		Movements: postgres.NewMovementService(db), Vehicles: postgres.NewVehicleService(db), Officers: postgres.NewOfficerService(db),
		Trackers: postgres.NewTrackerService(db), Users: postgres.NewUserService(db), Tokens: postgres.NewTokenService(db),
		Positions: postgres.NewPositionService(db), Assessments: postgres.NewAssessmentService(db), Policies: postgres.NewPolicyService(db),
		Plans: postgres.NewPlanService(db), Idempotency: postgres.NewIdempotencyService(db), Alarms: postgres.NewAlarmService(db),
		Grants: postgres.NewGrantService(db), Webhooks: postgres.NewWebhookService(db), Notices: postgres.NewNoticeService(db),
		DeviceSecrets: postgres.NewDeviceSecretService(db), Incidents: postgres.NewIncidentService(db),
	}
}

// isPostgresURL reports whether a --store value names a PostgreSQL database.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// storeFlag registers --store on fs.
func storeFlag(fs *flagSet, env *Env, a *App) {
	fs.StringVar(&a.StoreURL, "store", envDefault(env, "CONVOI_STORE", ""), "PostgreSQL database instead of the SQLite file in --data, e.g. postgres://convoi@db1/convoi (CONVOI_STORE)")
}

// clusterFlags registers --store, --bus and --node on fs (serve).
func clusterFlags(fs *flagSet, env *Env, a *App) {
	storeFlag(fs, env, a)
	fs.StringVar(&a.BusURL, "bus", envDefault(env, "CONVOI_BUS", ""), "NATS JetStream event bus shared by several nodes instead of the in-process one, e.g. nats://127.0.0.1:4222 (CONVOI_BUS)")
	fs.IntVar(&a.BusReplicas, "bus-replicas", 1, "NATS servers that store each event and lease: 3 on a three-server cluster")
	fs.StringVar(&a.Node, "node", envDefault(env, "CONVOI_NODE", defaultNodeName()), "this node's name in a cluster, unique (CONVOI_NODE; default: host name and process id)")
}

// busName says which event bus a node uses, for the log.
func busName(url string) string {
	if url == "" {
		return "in-process"
	}
	return url
}

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "convoi"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// storeName says where the store is, for messages (never a password).
func (a *App) storeName() string {
	if a.StoreURL != "" {
		return postgres.Redact(a.StoreURL)
	}
	return a.DBPath()
}

// openPostgres opens (creating the schema if needed) the PostgreSQL store.
func (a *App) openPostgres(ctx context.Context) error {
	if !isPostgresURL(a.StoreURL) {
		return fmt.Errorf("--store %q: want a postgres:// URL (without --store, the SQLite file in --data)", postgres.Redact(a.StoreURL))
	}
	db := postgres.NewDB(a.StoreURL)
	db.Now = a.Now
	a.PG = db
	if err := a.loadSealKey(); err != nil {
		a.PG = nil
		return err
	}
	if err := db.Open(ctx); err != nil {
		a.PG = nil
		return fmt.Errorf("open store %s: %w", postgres.Redact(a.StoreURL), err)
	}
	a.S = postgresServices(db)
	a.closers = append(a.closers, db.Close)
	return nil
}

// Migrations returns the applied migrations of the open store.
func (a *App) Migrations(ctx context.Context) ([]string, error) {
	if a.PG != nil {
		return a.PG.Migrations(ctx)
	}
	return a.DB.Migrations(ctx)
}

// openBus opens the event bus: NATS JetStream with --bus, else in process.
func (a *App) openBus(ctx context.Context) (convoi.EventService, error) {
	if a.BusURL == "" {
		return nil, nil
	}
	b := natsbus.New(a.BusURL)
	b.Name = "convoi " + a.Node
	b.OnError = func(err error) { a.Logger.Error("event bus", "error", err.Error()) }
	bucket := natsbus.DefaultLeaseBucket
	if a.BusStream != "" {
		b.Stream, b.Prefix, bucket = a.BusStream, "convoi."+a.BusStream, a.BusStream+"_leases"
	}
	b.Replicas = max(1, a.BusReplicas)
	b.OnNotify = func(kind string) {
		if h := a.web.Load(); kind == notifyAuth && h != nil {
			h.InvalidateTokens()
		}
	}
	if err := b.Open(ctx); err != nil {
		return nil, err
	}
	a.NATS = b
	a.closers = append(a.closers, b.Close)
	leases, err := natsbus.OpenLeases(ctx, b.JetStream(), bucket, a.Node, natsbus.DefaultLeaseTTL, b.Replicas)
	if err != nil {
		return nil, err
	}
	a.Leases = leases
	return b, nil
}

// registerPostgres registers the load generator's devices in a PostgreSQL
// store (convoi loadgen --store), for a cluster's nodes to accept them.
func (lg *loadgen) registerPostgres(ctx context.Context, url string) error {
	if !isPostgresURL(url) {
		return fmt.Errorf("--store %q: want a postgres:// URL", postgres.Redact(url))
	}
	db := postgres.NewDB(url)
	if err := db.Open(ctx); err != nil {
		return fmt.Errorf("open %s: %w", postgres.Redact(url), err)
	}
	defer db.Close()
	return lg.register(ctx, postgres.NewTrackerService(db))
}

// notifyAuth is the notification that a token was revoked or a user
// updated on some node: every node empties its token cache.
const notifyAuth = "auth"

// clusterWeb makes a user update or token revocation through s reach the
// token caches of every node at once (a single node's own cache is emptied
// by the web server itself).
func (a *App) clusterWeb(s *web.Server) {
	if a.NATS == nil {
		return
	}
	notify := func() {
		if err := a.NATS.Notify(notifyAuth); err != nil {
			a.Logger.Error("cluster notification", "error", err.Error())
		}
	}
	s.UserService = notifyingUsers{s.UserService, notify}
	s.TokenService = notifyingTokens{s.TokenService, notify}
}

// notifyingUsers notifies the cluster after every user update, whatever
// its outcome (an error may come after the write).
type notifyingUsers struct {
	convoi.UserService
	notify func()
}

func (s notifyingUsers) UpdateUser(ctx context.Context, id convoi.UserID, upd convoi.UserUpdate) (*convoi.User, error) {
	u, err := s.UserService.UpdateUser(ctx, id, upd)
	s.notify()
	return u, err
}

// notifyingTokens notifies the cluster after every token revocation.
type notifyingTokens struct {
	convoi.TokenService
	notify func()
}

func (s notifyingTokens) RevokeToken(ctx context.Context, id convoi.TokenID) error {
	err := s.TokenService.RevokeToken(ctx, id)
	s.notify()
	return err
}

// monitorKey is the lease key of a movement's monitoring.
func monitorKey(id convoi.MovementID) string { return "movement." + strconv.FormatInt(int64(id), 10) }

// underwayKeys lists the lease keys of every underway movement.
func (a *App) underwayKeys(ctx context.Context) ([]string, error) {
	st := convoi.StateUnderway
	var keys []string
	for off := 0; ; off += convoi.MaxPageLimit {
		ms, n, err := a.S.Movements.FindMovements(ctx, convoi.MovementFilter{State: &st, Page: convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}})
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			keys = append(keys, monitorKey(m.ID))
		}
		if len(ms) == 0 || off+len(ms) >= n {
			return keys, nil
		}
	}
}

// startKeeper runs this node's lease keeper (with --bus): every underway
// movement is held by exactly one node, which monitors it; when a node
// dies, another takes its movements within the lease TTL plus one renewal
// (docs/deploy.md). The node logs each movement it takes or gives up.
func (a *App) startKeeper() {
	if a.Leases == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	k := &natsbus.Keeper{
		Leases: a.Leases,
		Want:   a.underwayKeys,
		OnGain: func(ctx context.Context, key string) {
			a.Logger.Info("monitoring movement", "lease", key, "node", a.Node)
			a.owned.set(movementOfKey(key), true)
			a.rewatch(ctx, movementOfKey(key))
		},
		OnLose: func(ctx context.Context, key string) {
			a.Logger.Info("no longer monitoring movement", "lease", key, "node", a.Node)
			a.owned.set(movementOfKey(key), false)
			a.rewatch(ctx, movementOfKey(key))
		},
		OnError: func(err error) { a.Logger.Error("monitoring lease", "error", err.Error()) },
	}
	go func() {
		defer close(done)
		k.Run(ctx)
	}()
	a.closers = append(a.closers, func() error {
		cancel()
		<-done
		return nil
	})
}

// movementOfKey is the movement of a lease key (monitorKey).
func movementOfKey(key string) convoi.MovementID {
	n, _ := strconv.ParseInt(strings.TrimPrefix(key, "movement."), 10, 64)
	return convoi.MovementID(n)
}

// rewatch has the monitor start or stop watching a movement after its
// lease changed hands; a movement it gains is rebuilt from the stored fixes.
func (a *App) rewatch(ctx context.Context, id convoi.MovementID) {
	if a.Monitor == nil {
		return
	}
	mv, err := a.S.Movements.FindMovementByID(ctx, id)
	if err == nil {
		err = a.Monitor.Watch(ctx, mv)
	}
	if err != nil {
		a.Logger.Error("monitor lease", "lease", monitorKey(id), "error", convoi.ErrorMessage(err))
	}
}

// ownedSet is a set of movements, safe for concurrent use.
type ownedSet struct {
	mu sync.Mutex
	m  map[convoi.MovementID]bool
}

func (s *ownedSet) set(id convoi.MovementID, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[convoi.MovementID]bool{}
	}
	if on {
		s.m[id] = true
	} else {
		delete(s.m, id)
	}
}

func (s *ownedSet) has(id convoi.MovementID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

// setSealer gives the open store's database the keys that seal schedules.
func (a *App) setSealer(k *seal.Keyring) {
	if a.PG != nil {
		a.PG.Sealer = k
		return
	}
	a.DB.Sealer = k
}

// reseal reseals every schedule value of the open store with the current key.
func (a *App) reseal(ctx context.Context) (int, error) {
	if a.PG != nil {
		return a.PG.Reseal(ctx)
	}
	return a.DB.Reseal(ctx)
}
