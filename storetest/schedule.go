package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// The schedule of the escort in ScheduleWorld, in every form it could be
// written in: the departure's stored text and its minutes, a geometry
// coordinate, a road node of the strategy and the override's words. A
// store that seals schedule values (sqlite and postgres with a Sealer)
// must write none of them in clear; its tests look for them in its files
// or rows.
var (
	SecretDeparture = time.Date(2026, 5, 14, 6, 47, 13, 0, time.UTC)
	SecretNeedles   = []string{"2026-05-14T06:47:13", "06:47", "49.3123457", "1.1789012", "987654321", "Incarville-A154"}
)

// ScheduleWorld writes a planned, drawn and released movement through
// every path that stores schedule details, as user 0, and returns its ID.
func ScheduleWorld(t testing.TB, s Store) convoi.MovementID {
	t.Helper()
	ctx := context.Background()
	sites := s.Sites
	a := &convoi.Site{Name: "Maison d'arrêt", Kind: convoi.SiteKindPrison, Location: convoi.LatLon{Lat: 49.44, Lon: 1.09}}
	b := &convoi.Site{Name: "Tribunal", Kind: convoi.SiteKindCourt, Location: convoi.LatLon{Lat: 49.02, Lon: 1.15}}
	must(t, sites.CreateSite(ctx, a))
	must(t, sites.CreateSite(ctx, b))
	d := &convoi.Detainee{Name: "X", LegalStatus: convoi.LegalStatusRemand, SiteID: a.ID}
	must(t, s.Detainees.CreateDetainee(ctx, d))
	ms := s.Movements
	m := &convoi.Movement{Ref: "RN-2026-0001", DetaineeID: d.ID, FromSiteID: a.ID, ToSiteID: b.ID, Purpose: convoi.PurposeCourtAppearance,
		AppointmentAt: SecretDeparture.Add(2 * time.Hour), Requester: "Greffe"}
	must(t, ms.CreateMovement(ctx, m))
	lvl := convoi.EscortLevel(2)
	_, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: &lvl}})
	must(t, err)
	plans := s.Plans
	p := &convoi.Plan{MovementID: m.ID, Value: 0.2,
		Strategy: []byte(`{"routes":[{"nodes":[987654321,12],"geometry":[[49.3123457,1.1789012]]}],"departures":["2026-05-14T06:47:13Z"],"chokepoints":["Incarville-A154"]}`)}
	must(t, plans.CreatePlan(ctx, p))
	route := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 49.44, Lon: 1.09}, {Lat: 49.3123457, Lon: 1.1789012}, {Lat: 49.02, Lon: 1.15}},
		DistanceM: 52000, DurationS: 2900, Chokepoints: []string{"Incarville-A154"}}
	_, err = ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionPlan})
	must(t, err)
	must(t, plans.SetPlanDraw(ctx, p.ID, convoi.PlanDraw{RouteIndex: 0, Departure: SecretDeparture}))
	dep := SecretDeparture
	mv, err := ms.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease, Reason: "ok",
		Override: "the drawn departure is 06:47 UTC", Update: &convoi.MovementUpdate{PlannedDeparture: &dep, Route: route}})
	must(t, err)
	resp := []byte(`{"movement":{"planned_departure":"2026-05-14T06:47:13Z","route":{"geometry":[{"lat":49.3123457,"lon":1.1789012}]}}}`)
	must(t, s.Idempotency.SaveIdempotency(ctx, &convoi.IdempotencyRecord{UserID: 0, Key: "k1", Method: "POST",
		Path: "/x", Status: 200, ContentType: "application/json", Response: resp}))
	if mv.PlannedDeparture == nil || !mv.PlannedDeparture.Equal(SecretDeparture) || mv.Route == nil {
		t.Fatalf("released movement %+v", mv)
	}
	return m.ID
}

// CheckReadBack reads every schedule value of ScheduleWorld back through
// the services.
func CheckReadBack(t testing.TB, s Store, id convoi.MovementID) {
	t.Helper()
	ctx := context.Background()
	m, err := s.Movements.FindMovementByID(ctx, id)
	must(t, err)
	if m.PlannedDeparture == nil || !m.PlannedDeparture.Equal(SecretDeparture) || m.Route == nil || m.Route.Geometry[1].Lat != 49.3123457 {
		t.Fatalf("read back %+v", m)
	}
	ps, err := s.Plans.FindPlans(ctx, id)
	must(t, err)
	if len(ps) != 1 || ps[0].Draw == nil || !ps[0].Draw.Departure.Equal(SecretDeparture) || !strings.Contains(string(ps[0].Strategy), "987654321") {
		t.Fatalf("plans %+v", ps)
	}
	ts, err := s.Movements.FindTransitions(ctx, id)
	must(t, err)
	if ts[len(ts)-1].Override != "the drawn departure is 06:47 UTC" {
		t.Fatalf("override %q", ts[len(ts)-1].Override)
	}
	r, err := s.Idempotency.FindIdempotency(ctx, 0, "k1", time.Time{})
	must(t, err)
	if !bytes.Contains(r.Response, []byte("49.3123457")) {
		t.Fatalf("response %s", r.Response)
	}
}
