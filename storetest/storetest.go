// Package storetest is the conformance suite that every implementation of
// the convoi store interfaces runs (sqlite and postgres):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB, now convoi.Clock) storetest.Store {
//			db := ... // a fresh, empty, migrated database whose clock is now
//			return storetest.Store{Sites: sqlite.NewSiteService(db), ...}
//		})
//	}
//
// open must return a fresh empty store each time and clean it up with
// tb.Cleanup. The store must read the time only from now (the suite moves
// the clock to test token expiry and idempotency windows), use an
// idempotency window of 24 hours, and behave as the convoi interfaces
// document, plus these shared conventions the suite checks:
//
//   - lists are ordered by ID, except movements (appointment, then ID),
//     intelligence (newest observation first), assessments and plans
//     (newest first), transitions, positions and events (oldest first),
//     notices (oldest first) and webhook deliveries (newest first);
//   - webhook events enter the outbox in the transaction of the change, and
//     FanOutWebhookEvents makes one delivery per enabled subscription;
//   - a reference to a missing row is EINVALID, a duplicate unique key
//     (movement ref, username, registration, device ID, policy version) is
//     ECONFLICT, a missing ID ENOTFOUND, and a failed call writes nothing;
//   - the author of every write is convoi.UserIDFromContext, its time now();
//   - a movement in a terminal state cannot be updated (ECONFLICT).
//
// It imports convoi, testing and the standard library only; never an implementation.
package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// Store bundles the services of one store implementation.
type Store struct {
	Sites       convoi.SiteService
	Detainees   convoi.DetaineeService
	Intel       convoi.IntelService
	Movements   convoi.MovementService
	Vehicles    convoi.VehicleService
	Officers    convoi.OfficerService
	Trackers    convoi.TrackerService
	Users       convoi.UserService
	Tokens      convoi.TokenService
	Positions   convoi.PositionService
	Assessments convoi.AssessmentService
	Policies    convoi.PolicyService
	Plans       convoi.PlanService
	Idempotency convoi.IdempotencyService
	Alarms      convoi.AlarmService
	Incidents   convoi.IncidentService
	Webhooks    convoi.WebhookService
	Notices     convoi.NoticeService
	Secrets     convoi.DeviceSecretService
	Grants      convoi.GrantService
}

// OpenFunc opens a fresh empty store whose clock is now.
type OpenFunc func(tb testing.TB, now convoi.Clock) Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"Site", testSite},
		{"Detainee", testDetainee},
		{"Intel", testIntel},
		{"Vehicle", testVehicle},
		{"Officer", testOfficer},
		{"Tracker", testTracker},
		{"User", testUser},
		{"Token", testToken},
		{"Movement", testMovement},
		{"Transition", testTransition},
		{"Position", testPosition},
		{"PositionConcurrentDuplicates", testPositionConcurrentDuplicates},
		{"Assessment", testAssessment},
		{"Policy", testPolicy},
		{"Plan", testPlan},
		{"Idempotency", testIdempotency},
		{"Concurrency", testConcurrency},
		{"Alarm", testAlarm},
		{"Incident", testIncident},
		{"Webhook", testWebhook},
		{"WebhookOutbox", testWebhookOutbox},
		{"WebhookDelivery", testWebhookDelivery},
		{"Notice", testNotice},
		{"DeviceSecret", testDeviceSecret},
		{"Grant", testGrant},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// T0 is the suite clock's starting time.
var T0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one fresh store with its clock and a context per author.
type env struct {
	Store
	clock *Clock
	ctx   context.Context // authored by user 7
	ctx2  context.Context // authored by user 8
}

const (
	author  convoi.UserID = 7
	author2 convoi.UserID = 8
)

func newEnv(t *testing.T, open OpenFunc) *env {
	t.Helper()
	c := NewClock(T0)
	s := open(t, c.Now)
	ctx := context.Background()
	return &env{
		Store: s,
		clock: c,
		ctx:   convoi.NewContextWithUser(ctx, &convoi.User{ID: author, Username: "author", Role: convoi.RoleAdmin}),
		ctx2:  convoi.NewContextWithUser(ctx, &convoi.User{ID: author2, Username: "author2", Role: convoi.RolePlanner}),
	}
}

// wantCode fails unless err carries the application error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := convoi.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// must fails on a non-nil error.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// same fails unless got equals want (reflect.DeepEqual after time normalisation).
func same(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("%s =\n\t%#v\nwant\n\t%#v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// sameTime fails unless got and want are the same instant.
func sameTime(tb testing.TB, what string, got, want time.Time) {
	tb.Helper()
	if !got.Equal(want) {
		tb.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// world is a small set of related records most tests build on.
type world struct {
	Prison, Court, Hospital *convoi.Site
	Detainee, Other         *convoi.Detainee
	Officers                []*convoi.Officer
	Vans                    []*convoi.Vehicle
}

func (e *env) world(t *testing.T) *world {
	t.Helper()
	w := &world{
		Prison:   &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Monaco", Location: convoi.LatLon{Lat: 43.7310, Lon: 7.4190}},
		Court:    &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice de Monaco", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}},
		Hospital: &convoi.Site{Kind: convoi.SiteKindHospital, Name: "Centre Hospitalier Princesse Grace", Location: convoi.LatLon{Lat: 43.7275, Lon: 7.4150}},
	}
	for _, s := range []*convoi.Site{w.Prison, w.Court, w.Hospital} {
		must(t, e.Sites.CreateSite(e.ctx, s))
	}
	w.Detainee = &convoi.Detainee{Name: "Mohamed Amra", Aliases: []string{"La Mouche"}, LegalStatus: convoi.LegalStatusRemand,
		SiteID: w.Prison.ID, Risk: convoi.RiskRecord{OrganisedCrime: true, EscapeAttempts: 1, Violence: 2, DPS: true}}
	w.Other = &convoi.Detainee{Name: "Jean Dupont", LegalStatus: convoi.LegalStatusSentenced, SiteID: w.Prison.ID}
	for _, d := range []*convoi.Detainee{w.Detainee, w.Other} {
		must(t, e.Detainees.CreateDetainee(e.ctx, d))
	}
	for i, name := range []string{"Officer A", "Officer B", "Officer C"} {
		o := &convoi.Officer{Name: name, Unit: "PREJ Monaco", SiteID: w.Prison.ID,
			Qualifications: []convoi.Qualification{convoi.QualDriver}}
		if i == 0 {
			o.Qualifications = append(o.Qualifications, convoi.QualArmed)
		}
		must(t, e.Officers.CreateOfficer(e.ctx, o))
		w.Officers = append(w.Officers, o)
	}
	for _, reg := range []string{"AA-001-MC", "AA-002-MC"} {
		v := &convoi.Vehicle{Registration: reg, Class: convoi.VehicleCellularVan, Capacity: 2, SiteID: w.Prison.ID}
		must(t, e.Vehicles.CreateVehicle(e.ctx, v))
		w.Vans = append(w.Vans, v)
	}
	return w
}

// movement returns a valid, unsaved movement from the prison to the court.
func (w *world) movement(ref string, at time.Time) *convoi.Movement {
	return &convoi.Movement{Ref: ref, DetaineeID: w.Detainee.ID, FromSiteID: w.Prison.ID, ToSiteID: w.Court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: at, Requester: "Juge Martin"}
}
