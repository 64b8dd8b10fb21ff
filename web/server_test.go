package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/web"
)

// testPassword is every seeded user's password.
const testPassword = "test-password"

// clock is a settable time source shared by the store and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is a server on a real SQLite store in a temporary directory, seeded
// with one user per role, and what tests need to know about the seed.
type world struct {
	t      testing.TB
	srv    *web.Server
	db     *sqlite.DB
	audit  *audit.Log
	clock  *clock
	tokens map[convoi.Role]string // a session token per role
	users  map[convoi.Role]*convoi.User

	prison, court, hospital *convoi.Site
	detainee                *convoi.Detainee
	officer1, officer2      *convoi.Officer // crew user is officer1
	vehicle1, vehicle2      *convoi.Vehicle
	tracker1, tracker2      *convoi.Tracker // tracker1 on vehicle1, tracker2 on vehicle2
	// toCourt is crewed by officer1 and goes to the liaison's court;
	// toHospital is crewed by officer2 and does not touch the court.
	toCourt, toHospital *convoi.Movement
}

// MustOpenWorld opens a seeded world; configure, when set, adjusts the
// server before Open.
func MustOpenWorld(tb testing.TB, configure func(*web.Server)) *world {
	tb.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)}
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "convoi.db"))
	db.Now = clk.Now
	if err := db.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })

	s := web.New()
	s.Addr = "127.0.0.1:0"
	s.Logger = slog.New(slog.DiscardHandler)
	s.Now = clk.Now
	s.PasswordParams = auth.TestParams
	s.StreamHeartbeat = 200 * time.Millisecond
	s.UserService = sqlite.NewUserService(db)
	s.TokenService = sqlite.NewTokenService(db)
	s.SiteService = sqlite.NewSiteService(db)
	s.DetaineeService = sqlite.NewDetaineeService(db)
	s.IntelService = sqlite.NewIntelService(db)
	s.MovementService = sqlite.NewMovementService(db)
	s.VehicleService = sqlite.NewVehicleService(db)
	s.OfficerService = sqlite.NewOfficerService(db)
	s.TrackerService = sqlite.NewTrackerService(db)
	s.IdempotencyService = sqlite.NewIdempotencyService(db)
	s.AssessmentService = sqlite.NewAssessmentService(db)
	s.AlarmService = sqlite.NewAlarmService(db)
	s.PositionService = sqlite.NewPositionService(db)
	s.GrantService = sqlite.NewGrantService(db)
	s.PolicyService = sqlite.NewPolicyService(db)
	al := audit.New(filepath.Join(tb.TempDir(), "audit"))
	al.Now = clk.Now
	if err := al.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { al.Close() })
	s.Audit = al
	s.IncidentService = sqlite.NewIncidentService(db)
	s.WebhookService = sqlite.NewWebhookService(db)
	s.NoticeService = sqlite.NewNoticeService(db)
	s.DeviceSecretService = sqlite.NewDeviceSecretService(db)
	s.PlanService = sqlite.NewPlanService(db)

	w := &world{t: tb, srv: s, db: db, audit: al, clock: clk, tokens: map[convoi.Role]string{}, users: map[convoi.Role]*convoi.User{}}
	w.seed(ctx)
	if configure != nil {
		configure(s)
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	for _, role := range convoi.Roles {
		w.tokens[role] = w.login(w.users[role].Username, testPassword)
	}
	return w
}

// with returns the world reporting to t, for subtests.
func (w *world) with(t testing.TB) *world {
	c := *w
	c.t = t
	return &c
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) seed(ctx context.Context) {
	s := w.srv
	w.prison = &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Monaco", Location: convoi.LatLon{Lat: 43.7307, Lon: 7.4186}}
	w.court = &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice de Monaco", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}}
	w.hospital = &convoi.Site{Kind: convoi.SiteKindHospital, Name: "Centre Hospitalier Princesse Grace", Location: convoi.LatLon{Lat: 43.7296, Lon: 7.4133}}
	for _, x := range []*convoi.Site{w.prison, w.court, w.hospital} {
		w.must(s.SiteService.CreateSite(ctx, x))
	}
	w.detainee = &convoi.Detainee{Name: "Mohamed A.", LegalStatus: convoi.LegalStatusRemand, SiteID: w.prison.ID,
		Risk: convoi.RiskRecord{EscapeAttempts: 1, OrganisedCrime: true}}
	w.must(s.DetaineeService.CreateDetainee(ctx, w.detainee))
	w.officer1 = &convoi.Officer{Name: "Officer One", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: w.prison.ID}
	w.officer2 = &convoi.Officer{Name: "Officer Two", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: w.prison.ID}
	w.must(s.OfficerService.CreateOfficer(ctx, w.officer1))
	w.must(s.OfficerService.CreateOfficer(ctx, w.officer2))
	w.vehicle1 = &convoi.Vehicle{Registration: "AB-123-CD", Class: convoi.VehicleCellularVan, Capacity: 2, SiteID: w.prison.ID}
	w.vehicle2 = &convoi.Vehicle{Registration: "EF-456-GH", Class: convoi.VehicleArmouredVan, Capacity: 1, SiteID: w.prison.ID}
	w.must(s.VehicleService.CreateVehicle(ctx, w.vehicle1))
	w.must(s.VehicleService.CreateVehicle(ctx, w.vehicle2))
	w.tracker1 = &convoi.Tracker{DeviceID: "356307042441013", Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: w.vehicle1.ID}
	w.tracker2 = &convoi.Tracker{DeviceID: "356307042441014", Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: w.vehicle2.ID}
	w.must(s.TrackerService.CreateTracker(ctx, w.tracker1))
	w.must(s.TrackerService.CreateTracker(ctx, w.tracker2))
	w.must(s.IntelService.CreateIntel(ctx, &convoi.Intel{DetaineeID: w.detainee.ID, ObservedAt: w.clock.Now().Add(-24 * time.Hour),
		Grading: "B2", Kind: convoi.IntelEscapeTools, Text: "Phone and sawn cell bar found."}))

	dep := w.clock.Now().Add(90 * time.Minute)
	route := &convoi.RouteSummary{Geometry: []convoi.LatLon{w.prison.Location, w.court.Location}, DistanceM: 400, DurationS: 120}
	w.toCourt = &convoi.Movement{Ref: "MC-2026-0001", DetaineeID: w.detainee.ID, FromSiteID: w.prison.ID, ToSiteID: w.court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: w.clock.Now().Add(3 * time.Hour), Requester: "Juge X",
		Crew: []convoi.OfficerID{w.officer1.ID}, Vehicles: []convoi.VehicleID{w.vehicle1.ID}}
	w.toHospital = &convoi.Movement{Ref: "MC-2026-0002", DetaineeID: w.detainee.ID, FromSiteID: w.prison.ID, ToSiteID: w.hospital.ID,
		Purpose: convoi.PurposeMedical, AppointmentAt: w.clock.Now().Add(5 * time.Hour), Requester: "Dr Y",
		Crew: []convoi.OfficerID{w.officer2.ID}, Vehicles: []convoi.VehicleID{w.vehicle2.ID}}
	for _, m := range []*convoi.Movement{w.toCourt, w.toHospital} {
		w.must(s.MovementService.CreateMovement(ctx, m))
		m2, err := s.MovementService.UpdateMovement(ctx, m.ID, convoi.MovementUpdate{PlannedDeparture: &dep, Route: route})
		w.must(err)
		*m = *m2
	}

	hash, err := auth.HashPassword(testPassword, auth.TestParams)
	w.must(err)
	for _, role := range convoi.Roles {
		u := &convoi.User{Username: string(role) + "1", Role: role, PasswordHash: hash}
		switch role {
		case convoi.RoleCrew:
			u.OfficerID = w.officer1.ID
		case convoi.RoleLiaison:
			u.SiteID = w.court.ID
		}
		w.must(s.UserService.CreateUser(ctx, u))
		w.users[role] = u
	}
}

// assess stores an assessment of m at level 1 (two officers, one a driver,
// a cellular van), as the risk engine would, so that release has one to
// check the escort against.
func (w *world) assess(m *convoi.Movement, minCrew int) *convoi.Assessment {
	w.t.Helper()
	a := &convoi.Assessment{MovementID: m.ID, Score: 12, Level: 1, LevelMeaning: "Niveau 1", MinCrew: minCrew,
		Qualifications: []convoi.QualRequirement{{Qualification: convoi.QualDriver, Count: 1}},
		VehicleClass:   convoi.VehicleCellularVan, Recommendation: convoi.RecommendEscort, PolicyVersion: "test"}
	w.must(w.srv.AssessmentService.CreateAssessment(context.Background(), a))
	return a
}

// login returns a fresh session token.
func (w *world) login(username, password string) string {
	w.t.Helper()
	var out struct{ Token string }
	w.doJSON("POST", "/api/v1/session", "", map[string]string{"username": username, "password": password}, http.StatusOK, &out)
	if out.Token == "" {
		w.t.Fatal("login: empty token")
	}
	return out.Token
}

// response is what do returns.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorCode returns the code of an error body, or "".
func (r *response) errorCode() string {
	var e web.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// do sends a request with token (none when empty) and an optional raw body.
// A Server-Sent Events response is closed as soon as its headers arrive.
func (w *world) do(method, path, token string, body []byte, header ...string) *response {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.srv.URL()+path, rd)
	w.must(err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	w.must(err)
	defer resp.Body.Close()
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return out
	}
	out.Body, err = io.ReadAll(resp.Body)
	w.must(err)
	return out
}

// doJSON sends v as JSON, checks the status and decodes the answer into out.
func (w *world) doJSON(method, path, token string, v any, want int, out any, header ...string) *response {
	w.t.Helper()
	var body []byte
	if v != nil {
		var err error
		body, err = json.Marshal(v)
		w.must(err)
	}
	r := w.do(method, path, token, body, header...)
	if r.Status != want {
		w.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			w.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}

func TestServer_OpenTakenPort(t *testing.T) {
	w := MustOpenWorld(t, nil)
	s := web.New() // without services it must refuse to open
	if err := s.Open(); err == nil {
		t.Fatal("Open without services succeeded")
	}
	s2 := web.New()
	s2.Addr = strings.TrimPrefix(w.srv.URL(), "http://")
	s2.UserService, s2.TokenService, s2.SiteService = w.srv.UserService, w.srv.TokenService, w.srv.SiteService
	s2.DetaineeService, s2.IntelService, s2.MovementService = w.srv.DetaineeService, w.srv.IntelService, w.srv.MovementService
	s2.VehicleService, s2.OfficerService, s2.TrackerService = w.srv.VehicleService, w.srv.OfficerService, w.srv.TrackerService
	s2.IdempotencyService = w.srv.IdempotencyService
	if err := s2.Open(); err == nil {
		s2.Close()
		t.Fatal("Open on a taken port succeeded")
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	w := MustOpenWorld(t, nil)
	if r := w.do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	if r := w.do("GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz %d %s", r.Status, r.Body)
	}
	w.do("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), w.tokens[convoi.RolePlanner], nil)
	r := w.do("GET", "/metrics", w.tokens[convoi.RoleAdmin], nil)
	if r.Status != 200 {
		t.Fatalf("metrics %d", r.Status)
	}
	m := string(r.Body)
	if !strings.Contains(m, `convoi_http_requests_total{method="GET",route="GET /api/v1/movements/{id}",status="200"} 1`) {
		t.Errorf("metrics lack the route-labelled request count:\n%s", grepLines(m, "convoi_http"))
	}
	if strings.Contains(m, "MC-2026") || strings.Contains(m, "/movements/"+itoa(w.toCourt.ID)) || strings.Contains(m, w.tokens[convoi.RolePlanner]) {
		t.Error("metrics expose a path, reference or token")
	}

	w.db.Close()
	if r := w.do("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed store: %d", r.Status)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func itoa[T ~int64](id T) string { return strconv.FormatInt(int64(id), 10) }

func TestLogging_NoSecrets(t *testing.T) {
	var buf syncBuffer
	w := MustOpenWorld(t, func(s *web.Server) {
		s.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	w.do("GET", "/api/v1/movements?ref=MC-2026-0001", w.tokens[convoi.RolePlanner], nil)
	w.do("POST", "/api/v1/session", "", []byte(`{"username":"planner1","password":"wrong-password-x"}`))
	w.do("GET", "/api/v1/movements/"+itoa(w.toCourt.ID), "cvs_bogus-secret-value", nil)
	logs := buf.String()
	for _, secret := range []string{w.tokens[convoi.RolePlanner], "wrong-password-x", "bogus-secret-value", "MC-2026", testPassword, "/movements/" + itoa(w.toCourt.ID)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, key := range []string{`"method":"GET"`, `"route":"GET /api/v1/movements"`, `"status":200`, `"duration_ms"`, `"user_id"`} {
		if !strings.Contains(logs, key) {
			t.Errorf("log lacks %s:\n%s", key, logs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
