package ambush_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/ambush"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/roadnet"
	"github.com/convoi/convoi/sqlite"
)

// MustOpenDB opens a fresh sqlite store that is closed when the test ends.
func MustOpenDB(tb testing.TB, now func() time.Time) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "convoi.db"))
	db.Now = now
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func TestServicePlanAndRelease(t *testing.T) {
	now := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db := MustOpenDB(t, clock)
	ctx := convoi.NewContextWithUser(context.Background(), &convoi.User{ID: 7, Username: "planner", Role: convoi.RolePlanner})
	sites, movements := sqlite.NewSiteService(db), sqlite.NewMovementService(db)
	plans, detainees := sqlite.NewPlanService(db), sqlite.NewDetaineeService(db)

	mk := func(kind convoi.SiteKind, name string, lat, lon float64) *convoi.Site {
		s := &convoi.Site{Kind: kind, Name: name, Location: convoi.LatLon{Lat: lat, Lon: lon}}
		must(t, sites.CreateSite(ctx, s))
		return s
	}
	prison := mk(convoi.SiteKindPrison, "Maison d'arrêt de Monaco", 43.7318, 7.4271)
	court := mk(convoi.SiteKindCourt, "Èze", 43.7316, 7.3600)
	mk(convoi.SiteKindPolice, "Sûreté Publique", 43.73452, 7.42072)
	mk(convoi.SiteKindGendarmerie, "La Turbie", 43.74656, 7.40039)
	d := &convoi.Detainee{Name: "D", LegalStatus: convoi.LegalStatusRemand, SiteID: prison.ID}
	must(t, detainees.CreateDetainee(ctx, d))
	appt := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	m := &convoi.Movement{Ref: "MC-2026-0042", DetaineeID: d.ID, FromSiteID: prison.ID, ToSiteID: court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: appt, Requester: "Juge"}
	must(t, movements.CreateMovement(ctx, m))

	g, err := roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	must(t, err)
	svc := ambush.NewService(g, movements, sites, plans)
	svc.Now = clock
	svc.Rand = rand.NewChaCha8([32]byte{42})

	// A requested movement cannot be planned yet.
	if _, _, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{}); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("plan before assessment: %v", err)
	}
	lvl := convoi.EscortLevel(3)
	_, err = movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: &lvl}})
	must(t, err)

	p, rep, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{})
	must(t, err)
	if p.ID == 0 || p.Value != rep.Value || rep.Value <= 0 || rep.Value > rep.FixedFastest.Value {
		t.Errorf("plan %d value %v, fixed fastest %v", p.ID, rep.Value, rep.FixedFastest.Value)
	}
	if rep.Sites < 5000 || len(rep.RouteSummaries) != len(rep.Routes) || rep.Exploitability > 1e-3 {
		t.Errorf("%d sites, %d summaries for %d routes, exploitability %g", rep.Sites, len(rep.RouteSummaries), len(rep.Routes), rep.Exploitability)
	}
	for _, dep := range rep.Departures {
		if dep.At == nil || dep.At.After(appt) {
			t.Errorf("departure %+v not before the appointment", dep)
		}
	}
	stored, err := plans.FindPlans(ctx, m.ID)
	must(t, err)
	if len(stored) != 1 || stored[0].Draw != nil || stored[0].CreatedBy != 7 {
		t.Fatalf("stored plans %+v", stored)
	}
	var back ambush.PlanReport
	must(t, json.Unmarshal(stored[0].Strategy, &back))
	if back.Strategy == nil || len(back.Plays) != len(rep.Plays) {
		t.Fatal("stored strategy does not round-trip")
	}

	// Release needs the planned state.
	if _, err := svc.Release(ctx, m.ID); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("release before plan transition: %v", err)
	}
	_, err = movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionPlan})
	must(t, err)
	now = now.Add(14 * time.Hour)
	rel, err := svc.Release(ctx, m.ID)
	must(t, err)
	if rel.Departure.IsZero() || !rel.Departure.Before(appt) || rel.Route == nil || len(rel.Route.Geometry) < 2 {
		t.Fatalf("release %+v", rel)
	}
	// ReleaseMovement answers the whole stored plan, not only its draw.
	if p := rel.Plan; p == nil || p.ID != rel.PlanID || len(p.Strategy) == 0 || p.Value == 0 || p.CreatedAt.IsZero() || p.Draw == nil || *p.Draw != rel.Draw {
		t.Errorf("released plan %+v", rel.Plan)
	}
	if arrive := rel.Departure.Add(time.Duration(rel.Route.DurationS * float64(time.Second))); arrive.After(appt) {
		t.Errorf("drawn departure %v with a %.0f s route arrives after the appointment", rel.Departure, rel.Route.DurationS)
	}
	stored, err = plans.FindPlans(ctx, m.ID)
	must(t, err)
	if dr := stored[0].Draw; dr == nil || dr.RouteIndex != rel.Draw.RouteIndex || !dr.Departure.Equal(rel.Departure) || dr.DrawnBy != 7 || !dr.DrawnAt.Equal(now) {
		t.Errorf("stored draw %+v, want %+v", stored[0].Draw, rel.Draw)
	}
	// The released movement takes the drawn schedule; a second draw is refused.
	_, err = movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease, Update: &rel.Update})
	must(t, err)
	got, err := movements.FindMovementByID(ctx, m.ID)
	must(t, err)
	if got.PlannedDeparture == nil || !got.PlannedDeparture.Equal(rel.Departure) || got.Route == nil {
		t.Errorf("movement after release: %+v", got)
	}
	if _, err := svc.Release(ctx, m.ID); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Errorf("second release: %v", err)
	}

	// The audit sees one released movement on this corridor.
	a, err := svc.AuditCorridor(ctx, court.ID, prison.ID)
	must(t, err)
	if a.Trips != 1 || a.RouteEntropy != 0 {
		t.Errorf("corridor audit %+v", a)
	}
	a, err = svc.AuditDetainee(ctx, d.ID)
	must(t, err)
	if a.Trips != 1 {
		t.Errorf("detainee audit %+v", a)
	}
}

func TestServicePlanTooLate(t *testing.T) {
	appt := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := appt.Add(-20 * time.Minute) // the fastest route needs ~15 min plus the 15-min margin
	ctx := context.Background()
	svc, m := monacoMovement(t, "MC-LATE", appt, &now)
	if _, _, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{}); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("plan too late: %v", err)
	}
	// An hour earlier, only the slots still ahead are offered.
	now = appt.Add(-75 * time.Minute)
	_, rep, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{})
	must(t, err)
	for _, dep := range rep.Departures {
		if dep.At.Before(now) {
			t.Errorf("departure %v before now %v", dep.At, now)
		}
	}
	// The latest on-time departure is about 31 minutes before the
	// appointment (15-min margin, ~15-min drive, a minute's slack): of the
	// twelve slots 10 minutes apart, the five from 71 to 31 minutes before
	// are still ahead at 75 minutes before.
	if n := len(rep.Departures); n == 0 || n > 5 {
		t.Errorf("%d departures used, want 1-5 slots left", n)
	}
}

// TestServicePlanOptions: the planner's options are the engine's to check,
// and a departure window bounds every slot offered.
func TestServicePlanOptions(t *testing.T) {
	appt := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := appt.Add(-4 * time.Hour)
	ctx := context.Background()
	svc, m := monacoMovement(t, "MC-WINDOW", appt, &now)
	at := func(h, min int) *time.Time { t := time.Date(2026, 3, 2, h, min, 0, 0, time.UTC); return &t }

	for _, tc := range []struct {
		name string
		o    convoi.PlanOptions
	}{
		{"stretch below 1", convoi.PlanOptions{Stretch: 0.9}},
		{"stretch above 3", convoi.PlanOptions{Stretch: 3.5}},
		{"slots negative", convoi.PlanOptions{Slots: -1}},
		{"slots above 96", convoi.PlanOptions{Slots: 97}},
		{"unknown kind", convoi.PlanOptions{Avoid: []string{"teleport"}}},
		{"window upside down", convoi.PlanOptions{DepartureFrom: at(8, 30), DepartureTo: at(8, 0)}},
		{"window passed", convoi.PlanOptions{DepartureTo: at(5, 0)}},
		{"window after the latest on-time departure", convoi.PlanOptions{DepartureFrom: at(9, 50)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := svc.PlanMovement(ctx, m.ID, tc.o); convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("PlanMovement(%+v) = %v, want invalid", tc.o, err)
			}
		})
	}

	o := convoi.PlanOptions{DepartureFrom: at(8, 0), DepartureTo: at(8, 30), Slots: 4, Stretch: 1.2}
	_, rep, err := svc.Plan(ctx, m.ID, o)
	must(t, err)
	if len(rep.Departures) == 0 {
		t.Fatal("no departures")
	}
	for _, dep := range rep.Departures {
		if dep.At == nil || dep.At.Before(*o.DepartureFrom) || dep.At.After(*o.DepartureTo) {
			t.Errorf("departure %v outside the window [%v, %v]", dep.At, o.DepartureFrom, o.DepartureTo)
		}
	}
	if rep.Options == nil || rep.Options.Slots != 4 || rep.MaxDurationS > 1.2*rep.FastestS+1e-6 {
		t.Errorf("report options %+v, max duration %v for fastest %v", rep.Options, rep.MaxDurationS, rep.FastestS)
	}
	// Without a window the usual hour ends the slots, well after 08:30.
	_, rep, err = svc.Plan(ctx, m.ID, convoi.PlanOptions{})
	must(t, err)
	last := time.Time{}
	for _, dep := range rep.Departures {
		if dep.At.After(last) {
			last = *dep.At
		}
	}
	if !last.After(*at(9, 0)) || rep.Options != nil {
		t.Errorf("latest departure without a window %v (options %+v)", last, rep.Options)
	}
}

// TestServiceTimeLimit: past its time budget on the service's clock, a
// plan holds the best strategy found, not converged, whose guarantee and
// certified lower bound bracket the value of the plan solved to the end.
func TestServiceTimeLimit(t *testing.T) {
	appt := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := appt.Add(-4 * time.Hour)
	ctx := context.Background()
	svc, m := monacoMovement(t, "MC-BUDGET", appt, &now)
	full, frep, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{})
	must(t, err)
	if !frep.Converged || frep.Iterations < 3 {
		t.Fatalf("without a budget: converged %v after %d iterations", frep.Converged, frep.Iterations)
	}
	// A clock that moves 15 seconds each time it is read: the 30-second
	// budget runs out within the first iterations.
	svc.Now = func() time.Time { now = now.Add(15 * time.Second); return now }
	p, rep, err := svc.Plan(ctx, m.ID, convoi.PlanOptions{})
	must(t, err)
	t.Logf("stopped after %d of %d iterations: value in [%.4f, %.4f], %.4f solved to the end", rep.Iterations, frep.Iterations, rep.LowerBound, rep.Value, frep.Value)
	if rep.Converged || rep.Iterations >= frep.Iterations {
		t.Errorf("with the budget spent: converged %v after %d iterations", rep.Converged, rep.Iterations)
	}
	if p.Value != rep.Value || rep.Value < full.Value-1e-9 || rep.LowerBound <= 0 || rep.LowerBound > full.Value+1e-9 {
		t.Errorf("plan value %v, guarantee %v, lower bound %v; the value is %v", p.Value, rep.Value, rep.LowerBound, full.Value)
	}
}

// monacoMovement stores an assessed medical movement ref from the Monaco
// prison to a court 5.4 km west at appt, and returns the planner on the
// Monaco extract; the store and the planner read the time from *now.
func monacoMovement(t *testing.T, ref string, appt time.Time, now *time.Time) (*ambush.Service, *convoi.Movement) {
	t.Helper()
	db := MustOpenDB(t, func() time.Time { return *now })
	ctx := context.Background()
	sites, movements, plans := sqlite.NewSiteService(db), sqlite.NewMovementService(db), sqlite.NewPlanService(db)
	a := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "A", Location: convoi.LatLon{Lat: 43.7318, Lon: 7.4271}}
	b := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "B", Location: convoi.LatLon{Lat: 43.7316, Lon: 7.3600}}
	must(t, sites.CreateSite(ctx, a))
	must(t, sites.CreateSite(ctx, b))
	d := &convoi.Detainee{Name: "D", LegalStatus: convoi.LegalStatusRemand, SiteID: a.ID}
	must(t, sqlite.NewDetaineeService(db).CreateDetainee(ctx, d))
	m := &convoi.Movement{Ref: ref, DetaineeID: d.ID, FromSiteID: a.ID, ToSiteID: b.ID,
		Purpose: convoi.PurposeMedical, AppointmentAt: appt, Requester: "R"}
	must(t, movements.CreateMovement(ctx, m))
	_, err := movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess})
	must(t, err)
	g, err := roadnet.ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	must(t, err)
	svc := ambush.NewService(g, movements, sites, plans)
	svc.Now = func() time.Time { return *now }
	return svc, m
}
