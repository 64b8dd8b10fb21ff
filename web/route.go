package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Endpoint is one endpoint of the API and its access rule. The endpoint table
// (Server.Endpoints) is the single source of truth for authorization: an
// endpoint admits exactly the roles it lists, and nobody when it lists none.
type Endpoint struct {
	Method  string        // GET, POST, PATCH or DELETE
	Path    string        // a net/http ServeMux path pattern, e.g. /api/v1/movements/{id}
	Roles   []convoi.Role // roles admitted; empty admits nobody (deny by default)
	Public  bool          // served without authentication (only POST /api/v1/session)
	Summary string

	// secret marks responses that carry a bearer secret: they are never
	// stored for idempotent replay.
	secret bool
	// auditReads records every read of this route in the audit log, not
	// only those that disclose a schedule field (reads of the log itself).
	auditReads bool
	// object is the audit object kind of the route's {id} (from its path).
	object string
	handle handlerFunc
}

// handlerFunc handles an authorized request; a returned error is written
// as the API's error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Role sets used by the endpoint table.
var (
	rAll       = convoi.Roles
	rStaff     = []convoi.Role{convoi.RoleAdmin, convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor}
	rAdmin     = []convoi.Role{convoi.RoleAdmin}
	rAdminAud  = []convoi.Role{convoi.RoleAdmin, convoi.RoleAuditor}
	rAdminPlan = []convoi.Role{convoi.RoleAdmin, convoi.RolePlanner}
	rPlanner   = []convoi.Role{convoi.RolePlanner}
	rCase      = []convoi.Role{convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor}
	rIntelW    = []convoi.Role{convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander}
	rNoLiaison = []convoi.Role{convoi.RoleAdmin, convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor, convoi.RoleCrew}
	rDrive     = []convoi.Role{convoi.RoleControl, convoi.RoleCrew}
	rRelease   = []convoi.Role{convoi.RolePlanner, convoi.RoleCommander}
	rStart     = []convoi.Role{convoi.RoleControl, convoi.RoleCrew, convoi.RoleCommander}
	rCommander = []convoi.Role{convoi.RoleCommander}
	rVehicleR  = []convoi.Role{convoi.RoleAdmin, convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor, convoi.RoleCrew}
	rDetaineeR = []convoi.Role{convoi.RolePlanner, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor, convoi.RoleLiaison}
	rIncident  = []convoi.Role{convoi.RoleControl, convoi.RoleCommander, convoi.RoleCrew}
	rAbort     = []convoi.Role{convoi.RoleControl, convoi.RoleCommander}
	rDevices   = []convoi.Role{convoi.RoleAdmin, convoi.RoleControl, convoi.RoleCommander, convoi.RoleAuditor}
	rCommand   = []convoi.Role{convoi.RoleAdmin, convoi.RoleControl}
	rPolicy    = []convoi.Role{convoi.RoleAdmin, convoi.RolePlanner, convoi.RoleAuditor}
	rPlans     = []convoi.Role{convoi.RolePlanner, convoi.RoleCommander, convoi.RoleAuditor}
)

// endpoints is the endpoint table. Object rules (crew and liaison see only their
// movements; liaison never the schedule) are applied by the handlers.
func (s *Server) endpoints() []Endpoint {
	const v = "/api/v1"
	rt := []Endpoint{
		{Method: "POST", Path: v + "/session", Public: true, Summary: "Log in: username and password for a session token", handle: s.handleLogin, secret: true},
		{Method: "DELETE", Path: v + "/session", Roles: rAll, Summary: "Log out: revoke the token of this request", handle: s.handleLogout},
		{Method: "GET", Path: v + "/me", Roles: rAll, Summary: "The authenticated user", handle: s.handleMe},
		{Method: "GET", Path: v + "/openapi.json", Roles: rAll, Summary: "This API's OpenAPI 3 document", handle: s.handleOpenAPI},

		{Method: "GET", Path: v + "/tokens", Roles: rAll, Summary: "List own tokens (admin: any user's)", handle: s.handleListTokens},
		{Method: "POST", Path: v + "/tokens", Roles: rAll, Summary: "Create an API token, shown once", handle: s.handleCreateToken, secret: true},
		{Method: "DELETE", Path: v + "/tokens/{id}", Roles: rAll, Summary: "Revoke a token", handle: s.handleRevokeToken},

		{Method: "GET", Path: v + "/users", Roles: rAdminAud, Summary: "List users", handle: s.handleListUsers},
		{Method: "POST", Path: v + "/users", Roles: rAdmin, Summary: "Create a user", handle: s.handleCreateUser},
		{Method: "GET", Path: v + "/users/{id}", Roles: rAdminAud, Summary: "Read a user", handle: s.handleGetUser},
		{Method: "PATCH", Path: v + "/users/{id}", Roles: rAdmin, Summary: "Update a user", handle: s.handleUpdateUser},

		{Method: "GET", Path: v + "/sites", Roles: rAll, Summary: "List sites", handle: s.handleListSites},
		{Method: "POST", Path: v + "/sites", Roles: rAdminPlan, Summary: "Create a site", handle: s.handleCreateSite},
		{Method: "GET", Path: v + "/sites/{id}", Roles: rAll, Summary: "Read a site", handle: s.handleGetSite},
		{Method: "PATCH", Path: v + "/sites/{id}", Roles: rAdminPlan, Summary: "Update a site", handle: s.handleUpdateSite},

		{Method: "GET", Path: v + "/detainees", Roles: rCase, Summary: "List detainees", handle: s.handleListDetainees},
		{Method: "POST", Path: v + "/detainees", Roles: rPlanner, Summary: "Create a detainee", handle: s.handleCreateDetainee},
		{Method: "GET", Path: v + "/detainees/{id}", Roles: rDetaineeR, Summary: "Read a detainee (liaison: identity only, of a detainee due at their site)", handle: s.handleGetDetainee},
		{Method: "PATCH", Path: v + "/detainees/{id}", Roles: rPlanner, Summary: "Update a detainee", handle: s.handleUpdateDetainee},

		{Method: "GET", Path: v + "/intelligence", Roles: rCase, Summary: "List intelligence entries", handle: s.handleListIntel},
		{Method: "POST", Path: v + "/intelligence", Roles: rIntelW, Summary: "Record an intelligence entry", handle: s.handleCreateIntel},
		{Method: "GET", Path: v + "/intelligence/{id}", Roles: rCase, Summary: "Read an intelligence entry", handle: s.handleGetIntel},

		{Method: "GET", Path: v + "/movements", Roles: rAll, Summary: "List movements (crew: assigned; liaison: own site, redacted)", handle: s.handleListMovements},
		{Method: "POST", Path: v + "/movements", Roles: rPlanner, Summary: "Request a movement", handle: s.handleCreateMovement},
		{Method: "GET", Path: v + "/movements/{id}", Roles: rAll, Summary: "Read a movement (object rules apply)", handle: s.handleGetMovement},
		{Method: "PATCH", Path: v + "/movements/{id}", Roles: rPlanner, Summary: "Update a movement outside transitions", handle: s.handleUpdateMovement},
		{Method: "GET", Path: v + "/movements/{id}/transitions", Roles: rNoLiaison, Summary: "A movement's transitions: who, when, why", handle: s.handleListTransitions},
		{Method: "GET", Path: v + "/movements/{id}/assessments", Roles: rCase, Summary: "A movement's risk assessments, newest first", handle: s.handleListAssessments},
		{Method: "GET", Path: v + "/movements/{id}/plans", Roles: rPlans, Summary: "A movement's plans (strategies and draws), newest first", handle: s.handleListPlans},
		{Method: "POST", Path: v + "/movements/{id}/assess", Roles: rPlanner, Summary: "Assess the risk and set the escort level", handle: s.action(convoi.ActionAssess)},
		{Method: "POST", Path: v + "/movements/{id}/plan", Roles: rPlanner, Summary: "Plan route and departure", handle: s.action(convoi.ActionPlan)},
		{Method: "POST", Path: v + "/movements/{id}/release", Roles: rRelease, Summary: "Release: check the escort, draw the route and departure (commander: override with a reason)", handle: s.action(convoi.ActionRelease)},
		{Method: "POST", Path: v + "/movements/{id}/start", Roles: rStart, Summary: "Start: the escort is underway, within the drawn departure's tolerance (commander: override with a reason)", handle: s.action(convoi.ActionStart)},
		{Method: "POST", Path: v + "/movements/{id}/complete", Roles: rDrive, Summary: "Complete: the detainee was handed over", handle: s.action(convoi.ActionComplete)},
		{Method: "POST", Path: v + "/movements/{id}/cancel", Roles: rPlanner, Summary: "Cancel, with a reason", handle: s.action(convoi.ActionCancel)},
		{Method: "POST", Path: v + "/movements/{id}/abort", Roles: rAbort, Summary: "Abort, with a reason", handle: s.action(convoi.ActionAbort)},
		{Method: "POST", Path: v + "/movements/{id}/incident", Roles: rIncident, Summary: "Declare an incident, with a reason", handle: s.action(convoi.ActionIncident)},
		{Method: "POST", Path: v + "/movements/{id}/resume", Roles: rCommander, Summary: "Stand an incident down (false alarm): the escort resumes, with a reason", handle: s.action(convoi.ActionResume)},

		{Method: "GET", Path: v + "/vehicles", Roles: rStaff, Summary: "List vehicles", handle: s.handleListVehicles},
		{Method: "POST", Path: v + "/vehicles", Roles: rAdminPlan, Summary: "Create a vehicle", handle: s.handleCreateVehicle},
		{Method: "GET", Path: v + "/vehicles/{id}", Roles: rVehicleR, Summary: "Read a vehicle (crew: of their movements)", handle: s.handleGetVehicle},
		{Method: "PATCH", Path: v + "/vehicles/{id}", Roles: rAdminPlan, Summary: "Update a vehicle", handle: s.handleUpdateVehicle},

		{Method: "GET", Path: v + "/officers", Roles: rStaff, Summary: "List officers", handle: s.handleListOfficers},
		{Method: "POST", Path: v + "/officers", Roles: rAdminPlan, Summary: "Create an officer", handle: s.handleCreateOfficer},
		{Method: "GET", Path: v + "/officers/{id}", Roles: rVehicleR, Summary: "Read an officer (crew: their crewmates)", handle: s.handleGetOfficer},
		{Method: "PATCH", Path: v + "/officers/{id}", Roles: rAdminPlan, Summary: "Update an officer", handle: s.handleUpdateOfficer},

		{Method: "GET", Path: v + "/trackers", Roles: rDevices, Summary: "List trackers", handle: s.handleListTrackers},
		{Method: "POST", Path: v + "/trackers", Roles: rAdmin, Summary: "Register a tracker", handle: s.handleCreateTracker},
		{Method: "GET", Path: v + "/trackers/{id}", Roles: rDevices, Summary: "Read a tracker", handle: s.handleGetTracker},
		{Method: "PATCH", Path: v + "/trackers/{id}", Roles: rAdmin, Summary: "Update or bind a tracker", handle: s.handleUpdateTracker},
		{Method: "POST", Path: v + "/trackers/{id}/commands", Roles: rCommand, Summary: "Send a command to a connected tracker (Teltonika Codec 12)", handle: s.handleTrackerCommand},

		{Method: "GET", Path: v + "/policies/risk", Roles: rPolicy, Summary: "The risk policy in force (factors, weights, thresholds) and its version", handle: s.handleGetRiskPolicy},
		{Method: "PUT", Path: v + "/policies/risk", Roles: rAdmin, Summary: "Replace the risk policy with a new version", handle: s.handlePutRiskPolicy},

		{Method: "GET", Path: v + "/stream", Roles: rAll, Summary: "Server-Sent Events: positions, device events, movement changes, alarms, progress (filtered per role)", handle: s.handleStream},

		{Method: "GET", Path: v + "/route", Roles: rNoLiaison, Summary: "Fastest route and alternatives between two positions", handle: s.handleRoute},
		{Method: "GET", Path: v + "/isochrone", Roles: rNoLiaison, Summary: "Reachability within a time budget", handle: s.handleIsochrone},
		{Method: "GET", Path: v + "/chokepoints", Roles: rNoLiaison, Summary: "Chokepoints within a bounding box", handle: s.handleChokepoints},
	}
	rt = append(rt, s.alarmEndpoints()...)
	rt = append(rt, s.auditEndpoints()...)
	rt = append(rt, s.scheduleEndpoints()...)
	rt = append(rt, s.incidentEndpoints()...)
	rt = append(rt, s.webhookEndpoints()...)
	rt = append(rt, s.leakEndpoints()...)
	for i := range rt {
		rt[i].object = routeObject(rt[i].Path)
	}
	return rt
}

// Endpoints returns a copy of the endpoint table, for tests and documentation.
func (s *Server) Endpoints() []Endpoint {
	rs := s.endpoints()
	for i := range rs {
		rs[i].Roles = slices.Clone(rs[i].Roles)
		rs[i].handle = nil
	}
	return rs
}

// Admits reports whether the route admits role.
func (rt Endpoint) Admits(role convoi.Role) bool { return slices.Contains(rt.Roles, role) }

// wrap applies, in order: metrics and logging, the body limit,
// authentication, the route's role rule, the author in ctx, idempotency.
func (s *Server) wrap(rt Endpoint) http.Handler {
	label := metricLabel(rt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := s.record(w, r, label)
		defer rec.done()
		ar, r := s.startAudit(r, rt)
		defer s.endAudit(ar, rec)
		r.Body = http.MaxBytesReader(rec, r.Body, s.MaxBodyBytes)
		if !rt.Public {
			u, tok, err := s.authenticate(r)
			if err != nil {
				s.writeError(rec, r, err)
				return
			}
			rec.userID = u.ID
			ar.who(u, tok)
			if !u.HasRole(rt.Roles...) {
				s.writeError(rec, r, convoi.Errorf(convoi.EFORBIDDEN, "The %s role may not use this endpoint.", u.Role))
				return
			}
			ctx := convoi.NewContextWithUser(r.Context(), u)
			r = r.WithContext(context.WithValue(ctx, tokenCtxKey{}, tok))
		}
		var err error
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" && !rt.Public {
			err = s.idempotent(rec, r, rt)
		} else {
			err = rt.handle(rec, r)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
	})
}

// actionLabel is the one metrics and request-log label of every POST on a
// movement's sub-resource (release, start, incident, ...): counted apart,
// their timings would tell whoever reads metrics or logs when escorts
// leave. The audit log records each by name.
const actionLabel = "POST /api/v1/movements/{id}/{action}"

// metricLabel is the route's label in metrics and the request log.
func metricLabel(rt Endpoint) string {
	if rt.Method == http.MethodPost && strings.HasPrefix(rt.Path, "/api/v1/movements/{id}/") {
		return actionLabel
	}
	return rt.Method + " " + rt.Path
}

// plain serves an operational endpoint (health, readiness, metrics): no
// authentication, metrics and logging as for the API.
func (s *Server) plain(label string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := s.record(w, r, "GET "+label)
		defer rec.done()
		if err := h(rec, r); err != nil {
			s.writeError(rec, r, err)
		}
	})
}

type tokenCtxKey struct{}

// tokenFromContext returns the token that authenticated the request.
func tokenFromContext(ctx context.Context) *convoi.Token {
	t, _ := ctx.Value(tokenCtxKey{}).(*convoi.Token)
	return t
}

// authenticate resolves the request's bearer token to an enabled user.
func (s *Server) authenticate(r *http.Request) (*convoi.User, *convoi.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, nil, convoi.Errorf(convoi.EUNAUTHORIZED, "Authentication required: send Authorization: Bearer TOKEN (POST /api/v1/session to get one).")
	}
	return s.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
}

// routeLabel names the matched route pattern for logs and metrics; never the
// path, which holds identifiers.
func routeLabel(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// recorder captures the status and size of a response for metrics and the
// request log. It passes Flush and deadlines through (Unwrap).
type recorder struct {
	http.ResponseWriter
	s      *Server
	r      *http.Request
	label  string
	start  time.Time
	status int
	bytes  int64
	userID convoi.UserID
}

func (s *Server) record(w http.ResponseWriter, r *http.Request, label string) *recorder {
	return &recorder{ResponseWriter: w, s: s, r: r, label: label, start: time.Now()}
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *recorder) Flush() { _ = http.NewResponseController(rec.ResponseWriter).Flush() }

// done records the request in metrics and the log. Durations use the
// monotonic wall clock, not Server.Now, which tests may freeze.
func (rec *recorder) done() {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	d := time.Since(rec.start)
	rec.s.metrics.observe(rec.r.Method, rec.label, rec.status, d)
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelError
	}
	rec.s.Logger.LogAttrs(rec.r.Context(), level, "http request",
		slog.String("method", rec.r.Method),
		slog.String("route", rec.label),
		slog.Int("status", rec.status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int64("bytes", rec.bytes),
		slog.Int64("user_id", int64(rec.userID)),
	)
}
