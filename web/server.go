// Package web is convoi's HTTP API: JSON endpoints under /api/v1, bearer
// authentication, role and per-object authorization, idempotent POSTs, the
// live Server-Sent Events stream, health, readiness and Prometheus metrics.
//
// It also serves the control room's browser application (web/ui, at /) and
// its map's vector tiles (at /tiles/, rendered by the tiles engine).
//
// It is the only place where convoi error codes become HTTP status codes.
// It imports the domain, auth, web/ui (the control room's files) and the
// standard library (plus the Prometheus client); never a store nor an
// engine: stores and engines (risk, ambush, roadnet, tracker, tiles) alike
// arrive through Server's fields as the domain's service interfaces, and
// the engines own the rules on their input.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/leak"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Defaults of Server's configuration.
const (
	DefaultAddr       = "127.0.0.1:8080"
	DefaultMaxStreams = 256
	// DefaultMaxStreamsPerUser: a control-room user with a few screens.
	DefaultMaxStreamsPerUser = 8
	DefaultStreamHeartbeat   = 15 * time.Second
	DefaultShutdownTimeout   = 5 * time.Second
	// IdempotencyWindow is how long a POST's first response is replayed.
	IdempotencyWindow = 24 * time.Hour
)

// Server is the HTTP server. Create it with New, set the exported fields,
// then call Open. Fields must not change after Open.
type Server struct {
	// Addr is the TCP address to listen on (DefaultAddr). Use
	// "127.0.0.1:0" in tests and read the chosen address from URL.
	Addr string
	// Logger receives one line per request and every internal error
	// (slog.Default by default). Keys are fixed: method, route, status,
	// duration_ms, bytes, user_id, error. Paths, bodies and headers are
	// never logged: they may hold schedules or secrets.
	Logger *slog.Logger
	// Now returns the current time (time.Now).
	Now convoi.Clock

	// Required services. The server wraps UserService and TokenService
	// (auth.TokenCache) so that a request authenticates from memory and a
	// revocation or user update through the API reaches the cache at once;
	// users and tokens must not be changed behind its back while it runs
	// (convoi's CLI only adds users).
	UserService        convoi.UserService
	TokenService       convoi.TokenService
	SiteService        convoi.SiteService
	DetaineeService    convoi.DetaineeService
	IntelService       convoi.IntelService
	MovementService    convoi.MovementService
	VehicleService     convoi.VehicleService
	OfficerService     convoi.OfficerService
	TrackerService     convoi.TrackerService
	IdempotencyService convoi.IdempotencyService

	// Optional services and engines; an endpoint that needs a missing one
	// answers 503 unavailable, except assess and plan, which then take their
	// results from the request body.
	EventService      convoi.EventService      // GET /api/v1/stream; movement changes are published to it
	AssessmentService convoi.AssessmentService // GET /api/v1/movements/{id}/assessments
	PlanService       convoi.PlanService       // GET /api/v1/movements/{id}/plans
	// Risk scores POST .../assess (without it, assess takes an explicit
	// escort_level), re-assesses after POST /api/v1/intelligence, and serves
	// GET and PUT /api/v1/policies/risk.
	Risk convoi.RiskService
	// Planner plans POST .../plan and draws POST .../release (without it,
	// plan takes planned_departure and optionally route, and release keeps them).
	Planner   convoi.PlanningService
	Roads     convoi.RoadService          // GET /api/v1/route, /isochrone, /chokepoints
	Commander convoi.DeviceCommandService // POST /api/v1/trackers/{id}/commands
	Devices   convoi.DeviceStatusService  // live state in GET /api/v1/trackers and /trackers/{id}
	// AlarmService serves /api/v1/alarms. Give it the publishing
	// alarm.Service, not the bare store, so that steps taken here reach
	// the stream.
	AlarmService    convoi.AlarmService
	PositionService convoi.PositionService // GET /api/v1/movements/{id}/track
	// Audit receives every write, refusal and schedule read (see audit.go)
	// and serves /api/v1/audit/*; nil records nothing.
	Audit convoi.AuditLog
	// GrantService stores schedule grants (/movements/{id}/grants); nil:
	// no grants, the release policy alone decides.
	GrantService convoi.GrantService
	// ReleasePolicy says who learns a drawn departure and route, and when
	// (convoi.DefaultReleasePolicy when nil).
	ReleasePolicy *convoi.ReleasePolicy
	// PolicyService keeps versions of the release policy (PUT
	// /policies/release); the latest saved is in force from Open.
	PolicyService convoi.PolicyService
	// IncidentService serves /api/v1/incidents; Response computes their
	// reachability, plan and CAP alert (without it those answer 503);
	// Alerts sends the CAP alert out after the declaration and each change
	// partners must hear of (an update, a sighting, the closing; not unit
	// assignments, which are internal). A failed send is logged and does
	// not fail the request.
	IncidentService convoi.IncidentService
	Response        convoi.ResponseService
	Alerts          convoi.IncidentAlertService
	WebhookService  convoi.WebhookService // /api/v1/webhooks (admin)
	NoticeService   convoi.NoticeService  // arrival variants per recipient and POST /api/v1/leaks/trace
	// DeviceSecretService stores MQTT trackers' credentials (POST /api/v1/trackers/{id}/secret).
	DeviceSecretService convoi.DeviceSecretService
	// NoticePolicy bounds the arrival variants (leak.DefaultPolicy when zero).
	NoticePolicy leak.Policy
	// ScheduleReaders, when set, lists who read a schedule (from the audit
	// log) in a leak trace.
	ScheduleReaders ScheduleReaders
	Tiles           convoi.TileService // GET /tiles/: the control room's map

	// Ready reports whether the store is reachable, for /readyz. When nil, a
	// one-row user query stands in.
	Ready func(ctx context.Context) error

	// PasswordParams are the argon2id parameters for new passwords
	// (auth.DefaultParams). Tests set auth.TestParams.
	PasswordParams auth.Params
	// LoginWait bounds how long a login waits for a password-hashing slot
	// before it is refused with 503 (DefaultLoginWait).
	LoginWait time.Duration
	// SessionTTL is the lifetime of a login session (auth.DefaultSessionTTL).
	SessionTTL time.Duration
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxStreams bounds concurrent /api/v1/stream clients (DefaultMaxStreams).
	MaxStreams int
	// MaxStreamsPerUser bounds one user's concurrent streams, over all their
	// sessions and tokens (DefaultMaxStreamsPerUser); more is 429.
	MaxStreamsPerUser int
	// StreamsReserved of the MaxStreams slots only control and commanders
	// may take (MaxStreams/4 when zero; negative for none), so that other
	// roles can never lock the control room out.
	StreamsReserved int
	// StreamHeartbeat is the interval of SSE keep-alive comments and of
	// re-checking the stream's token and scope (DefaultStreamHeartbeat).
	StreamHeartbeat time.Duration
	// ShutdownTimeout bounds Close's graceful shutdown (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Metrics is the Prometheus registry served at /metrics. New creates one
	// with the Go and process collectors; other packages may register theirs.
	Metrics *prometheus.Registry

	initOnce sync.Once
	initErr  error
	mux      *http.ServeMux
	auth     *auth.Authenticator
	metrics  *httpMetrics
	locks    keyLocks
	streams  *streamSlots
	hashSem  chan struct{}
	release  atomic.Pointer[convoi.ReleasePolicy] // the release policy saved last, if any
	progress *progressCache                       // latest Progress per movement and vehicle, from the bus
	logins   *loginThrottle

	ln     net.Listener
	server *http.Server
	// ctx is the lifecycle context: cancelled by Close to end open streams.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Server with defaults set. Set the services before Open.
func New() *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		Addr:            DefaultAddr,
		Logger:          slog.Default(),
		Now:             time.Now,
		PasswordParams:  auth.DefaultParams,
		SessionTTL:      auth.DefaultSessionTTL,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		MaxStreams:      DefaultMaxStreams,
		StreamHeartbeat: DefaultStreamHeartbeat,
		ShutdownTimeout: DefaultShutdownTimeout,
		LoginWait:       DefaultLoginWait,
		Metrics:         reg,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// init builds the router and the authenticator from the configured fields.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		for name, svc := range map[string]any{
			"UserService": s.UserService, "TokenService": s.TokenService, "SiteService": s.SiteService,
			"DetaineeService": s.DetaineeService, "IntelService": s.IntelService, "MovementService": s.MovementService,
			"VehicleService": s.VehicleService, "OfficerService": s.OfficerService, "TrackerService": s.TrackerService,
			"IdempotencyService": s.IdempotencyService,
		} {
			if svc == nil {
				s.initErr = fmt.Errorf("web: Server.%s required", name)
				return
			}
		}
		// At most two password hashes at once: each holds PasswordParams.Memory.
		s.hashSem = make(chan struct{}, 2)
		// Tokens resolve from memory; every user and token write of the
		// API goes through the wrapped services, which empty the cache.
		cache := &auth.TokenCache{}
		s.UserService, s.TokenService = cache.Users(s.UserService), cache.Tokens(s.TokenService)
		s.logins = newLoginThrottle()
		if s.ScheduleReaders == nil && s.Audit != nil {
			s.ScheduleReaders = auditScheduleReaders{s.Audit}
		}
		s.auth = &auth.Authenticator{
			Users: s.UserService, Tokens: s.TokenService, Cache: cache,
			Params: s.PasswordParams, SessionTTL: s.SessionTTL, Now: s.Now, Sem: s.hashSem,
		}
		s.streams = newStreamSlots(s.MaxStreams, s.MaxStreamsPerUser, s.StreamsReserved)
		s.progress = newProgressCache()
		if s.EventService != nil {
			go s.followProgress(s.ctx)
		}
		s.metrics, s.initErr = newHTTPMetrics(s.Metrics)
		if s.initErr != nil {
			return
		}
		if s.initErr = s.loadReleasePolicy(s.ctx); s.initErr != nil {
			return
		}
		s.mux = http.NewServeMux()
		for _, rt := range s.endpoints() {
			s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		}
		s.mux.Handle("GET /api/v1", s.plain("/api/v1", s.handleIndex))
		s.mux.Handle("GET /api/v1/{$}", s.plain("/api/v1", s.handleIndex))
		s.mux.Handle("GET /healthz", s.plain("/healthz", s.handleHealthz))
		s.mux.Handle("GET /readyz", s.plain("/readyz", s.handleReadyz))
		// Metrics need a scraper's token (admin or auditor): request counts
		// and timings are activity an outsider must not watch.
		s.mux.Handle("GET /metrics", s.wrap(Endpoint{Method: "GET", Path: "/metrics", Roles: rAdminAud, handle: s.handleMetrics}))
		s.mountUI() // GET / and /ui/: the control room; GET /tiles/: its map
	})
	return s.initErr
}

// Handler returns the server's root handler, for embedding the API in
// another server. Open calls it.
func (s *Server) Handler() (http.Handler, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	return http.HandlerFunc(s.serveHTTP), nil
}

// Open listens on Addr synchronously, so that a taken port fails here, and
// then serves in the background until Close.
func (s *Server) Open() (err error) {
	h, err := s.Handler()
	if err != nil {
		return err
	}
	if s.ln, err = net.Listen("tcp", s.Addr); err != nil {
		return fmt.Errorf("web: listen: %w", err)
	}
	s.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	go func() { _ = s.server.Serve(s.ln) }()
	return nil
}

// URL returns the base URL of the open server, such as "http://127.0.0.1:43121".
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Shutdown stops accepting connections, ends open event streams and waits
// for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	if s.server == nil {
		return nil
	}
	if err := s.server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	return nil
}

// Close shuts down gracefully within ShutdownTimeout.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// serveHTTP routes a request, answering unknown paths and wrong methods
// with the API's error body rather than ServeMux's plain text.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // sets the path values, which Handler does not
		return
	}
	// ServeMux's own handler for this request tells 404 from 405 (with Allow).
	probe := &headerProbe{h: http.Header{}}
	h.ServeHTTP(probe, r)
	rec := s.record(w, r, "unmatched")
	defer rec.done()
	if probe.status == http.StatusMethodNotAllowed {
		rec.Header().Set("Allow", probe.h.Get("Allow"))
		s.writeError(rec, r, withStatus(http.StatusMethodNotAllowed, convoi.EINVALID, "Method %s not allowed here.", r.Method))
		return
	}
	s.writeError(rec, r, convoi.Errorf(convoi.ENOTFOUND, "No such endpoint."))
}

// headerProbe captures the status and headers a handler writes, discarding the body.
type headerProbe struct {
	h      http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.h }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var err error
	if s.Ready != nil {
		err = s.Ready(ctx)
	} else {
		_, _, err = s.UserService.FindUsers(ctx, convoi.UserFilter{Page: convoi.Page{Limit: 1}})
	}
	if err != nil {
		s.Logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready", slog.String("error", err.Error()))
		return convoi.Errorf(convoi.EUNAVAILABLE, "Store unreachable.")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
