package risk_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/sqlite"
)

// world is a risk.Service on a real SQLite store in a temporary directory,
// with the Incarville sites, detainee and officers.
type world struct {
	svc       *risk.Service
	db        *sqlite.DB
	movements *sqlite.MovementService
	intel     *sqlite.IntelService
	assess    *sqlite.AssessmentService
	events    convoi.Subscription
	notices   *recordingNotifier
	detainee  *convoi.Detainee
	from, to  *convoi.Site
	officers  []convoi.OfficerID // 0-1 drivers, 2-5 armed, 6-7 specialised and armed
	van       convoi.VehicleID   // cellular van
	armoured  convoi.VehicleID
	car       convoi.VehicleID // escort car: the armed support of levels 3 and 4
}

type recordingNotifier struct {
	mu      sync.Mutex
	notices []risk.Notice
}

func (r *recordingNotifier) NotifyLevelRaised(_ context.Context, n risk.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func mustOpenWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	now := func() time.Time { return incarvilleNow }
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "convoi.db"))
	db.Now = now
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := bus.New()
	t.Cleanup(func() { b.Close() })
	sub, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, movements: sqlite.NewMovementService(db), intel: sqlite.NewIntelService(db),
		assess: sqlite.NewAssessmentService(db), events: sub, notices: &recordingNotifier{}}
	w.svc = risk.NewService()
	w.svc.Movements = w.movements
	w.svc.Detainees = sqlite.NewDetaineeService(db)
	w.svc.Intel = w.intel
	w.svc.Sites = sqlite.NewSiteService(db)
	w.svc.Assessments = w.assess
	w.svc.Policies = sqlite.NewPolicyService(db)
	w.svc.Events = b
	w.svc.Officers = sqlite.NewOfficerService(db)
	w.svc.Vehicles = sqlite.NewVehicleService(db)
	w.svc.Notifier = w.notices
	w.svc.Routes = risk.RouteFactsFunc(func(context.Context, convoi.LatLon, convoi.LatLon) (risk.Facts, error) {
		return incarvilleRoute, nil
	})
	w.svc.Now = now

	from, to := evreux, rouenCourt
	from.ID, to.ID = 0, 0
	for _, s := range []*convoi.Site{&from, &to} {
		if err := w.svc.Sites.CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	w.from, w.to = &from, &to
	d := incarvilleDetainee()
	d.ID, d.SiteID = 0, from.ID
	if err := w.svc.Detainees.CreateDetainee(ctx, &d); err != nil {
		t.Fatal(err)
	}
	w.detainee = &d
	quals := [][]convoi.Qualification{{convoi.QualDriver}, {convoi.QualDriver}, {convoi.QualArmed}, {convoi.QualArmed},
		{convoi.QualArmed}, {convoi.QualArmed}, {convoi.QualArmed, convoi.QualSpecialised}, {convoi.QualArmed, convoi.QualSpecialised}}
	for i, q := range quals {
		o := &convoi.Officer{Name: "Officer " + string(rune('A'+i)), Unit: "PREJ Rouen", Qualifications: q}
		if err := w.svc.Officers.CreateOfficer(ctx, o); err != nil {
			t.Fatal(err)
		}
		w.officers = append(w.officers, o.ID)
	}
	for _, v := range []*convoi.Vehicle{{Registration: "AB-123-CD", Class: convoi.VehicleCellularVan, Capacity: 2},
		{Registration: "EF-456-GH", Class: convoi.VehicleArmouredVan, Capacity: 1}, {Registration: "IJ-789-KL", Class: convoi.VehicleCar}} {
		if err := w.svc.Vehicles.CreateVehicle(ctx, v); err != nil {
			t.Fatal(err)
		}
		switch v.Class {
		case convoi.VehicleArmouredVan:
			w.armoured = v.ID
		case convoi.VehicleCar:
			w.car = v.ID
		default:
			w.van = v.ID
		}
	}
	return w
}

// movement creates a movement and walks it through the given actions.
func (w *world) movement(t *testing.T, ref string, appointment time.Time, crew []convoi.OfficerID, vehicles []convoi.VehicleID, actions ...convoi.Action) *convoi.Movement {
	t.Helper()
	ctx := context.Background()
	m := &convoi.Movement{Ref: ref, DetaineeID: w.detainee.ID, FromSiteID: w.from.ID, ToSiteID: w.to.ID,
		Purpose: convoi.PurposeJudgeHearing, AppointmentAt: appointment, Requester: "Juge d'instruction"}
	if err := w.movements.CreateMovement(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		var err error
		switch a {
		case convoi.ActionAssess:
			_, err = w.svc.AssessMovement(ctx, m.ID)
		case convoi.ActionPlan:
			dep := appointment.Add(-2 * time.Hour)
			_, err = w.movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: a,
				Update: &convoi.MovementUpdate{Crew: &crew, Vehicles: &vehicles, PlannedDeparture: &dep}})
		case convoi.ActionCancel:
			_, err = w.movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: a, CancelReason: convoi.CancelHearingAdjourned})
		default:
			_, err = w.movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{Action: a})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", ref, a, err)
		}
	}
	return w.find(t, m.ID)
}

func (w *world) find(t *testing.T, id convoi.MovementID) *convoi.Movement {
	t.Helper()
	m, err := w.movements.FindMovementByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (w *world) assessments(t *testing.T, id convoi.MovementID) []*convoi.Assessment {
	t.Helper()
	as, err := w.assess.FindAssessments(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (w *world) addIntel(t *testing.T) *convoi.Intel {
	t.Helper()
	var last *convoi.Intel
	for _, e := range incarvilleIntel() {
		e.ID, e.DetaineeID = 0, w.detainee.ID
		if err := w.intel.CreateIntel(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		last = e
	}
	return last
}

func (w *world) drain() (assessments []*convoi.Assessment, movements []*convoi.Movement) {
	for {
		select {
		case e := <-w.events.C():
			switch e.Type {
			case convoi.EventTypeAssessment:
				assessments = append(assessments, e.Assessment)
			case convoi.EventTypeMovement:
				movements = append(movements, e.Movement)
			}
		default:
			return
		}
	}
}

func TestServiceAssessMovement(t *testing.T) {
	w := mustOpenWorld(t)
	ctx := context.Background()
	m := w.movement(t, "EVX-0001", incarvilleAppointment, nil, nil)
	a, err := w.svc.AssessMovement(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := mustAssess(t, risk.DefaultPolicy(), risk.Input{Movement: *m, Detainee: *w.detainee, From: *w.from, To: *w.to,
		Route: incarvilleRoute, Now: incarvilleNow})
	if a.ID == 0 || a.Level != want.Level || a.Score != want.Score || a.PolicyVersion != risk.DefaultPolicy().Version {
		t.Errorf("stored assessment %+v, want level %d score %.2f", a, want.Level, want.Score)
	}
	got := w.find(t, m.ID)
	if got.State != convoi.StateAssessed || got.EscortLevel != a.Level {
		t.Errorf("movement %s level %d, want assessed at level %d", got.State, got.EscortLevel, a.Level)
	}
	tr, err := w.movements.FindTransitions(ctx, m.ID)
	if err != nil || len(tr) != 1 || tr[0].Action != convoi.ActionAssess || !strings.Contains(tr[0].Reason, "policy "+a.PolicyVersion) {
		t.Errorf("transitions %+v, %v", tr, err)
	}
	if as := w.assessments(t, m.ID); len(as) != 1 || as[0].ID != a.ID || len(as[0].Factors) != len(a.Factors) {
		t.Errorf("stored %+v", as)
	}
	if evs, ms := w.drain(); len(evs) != 1 || len(ms) != 1 || ms[0].State != convoi.StateAssessed {
		t.Errorf("events: %d assessments, %d movements", len(evs), len(ms))
	}

	t.Run("underway movement is a conflict and stores nothing", func(t *testing.T) {
		u := w.movement(t, "EVX-0002", incarvilleAppointment, w.officers[:5], []convoi.VehicleID{w.van},
			convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionStart)
		n := len(w.assessments(t, u.ID))
		if _, err := w.svc.AssessMovement(ctx, u.ID); convoi.ErrorCode(err) != convoi.ECONFLICT {
			t.Errorf("err %v, want conflict", err)
		}
		if len(w.assessments(t, u.ID)) != n {
			t.Errorf("an assessment was stored")
		}
	})
	t.Run("missing movement", func(t *testing.T) {
		if _, err := w.svc.AssessMovement(ctx, 9999); convoi.ErrorCode(err) != convoi.ENOTFOUND {
			t.Errorf("err %v, want not found", err)
		}
	})
}

func TestServicePolicy(t *testing.T) {
	w := mustOpenWorld(t)
	ctx := context.Background()
	doc, err := w.svc.PolicyDoc(ctx)
	if err != nil || doc.Version != risk.DefaultPolicy().Version {
		t.Fatalf("default doc %+v, %v", doc, err)
	}
	if _, err := w.svc.SavePolicy(ctx, []byte(`{"version":"x"}`)); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Errorf("invalid policy saved: %v", err)
	}
	strict := edit(t, func(m map[string]any) {
		m["version"] = "strict-2"
		elem(m, "levels", 3)["min_score"] = 31
	})
	if _, err := w.svc.SavePolicy(ctx, strict); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SavePolicy(ctx, strict); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Errorf("same version saved twice: %v", err)
	}
	m := w.movement(t, "EVX-0003", incarvilleAppointment, nil, nil)
	a, err := w.svc.AssessMovement(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.PolicyVersion != "strict-2" || a.Level != 4 {
		t.Errorf("assessed under %s at level %d, want strict-2 at level 4", a.PolicyVersion, a.Level)
	}
}

func TestServiceOnIntel(t *testing.T) {
	w := mustOpenWorld(t)
	ctx := context.Background()
	later := incarvilleAppointment.Add(48 * time.Hour)
	o := w.officers
	// Planned for level 3 (5 officers, 2 drivers, 3 armed, a cellular van).
	planned := w.movement(t, "EVX-1001", incarvilleAppointment, o[:5], []convoi.VehicleID{w.van},
		convoi.ActionAssess, convoi.ActionPlan)
	// Released with an escort that already meets level 4.
	released := w.movement(t, "EVX-1002", later, o, []convoi.VehicleID{w.armoured, w.car},
		convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease)
	assessed := w.movement(t, "EVX-1003", later.Add(time.Hour), nil, nil, convoi.ActionAssess)
	past := w.movement(t, "EVX-1004", incarvilleNow.Add(-24*time.Hour), o[:5], []convoi.VehicleID{w.van},
		convoi.ActionAssess, convoi.ActionPlan)
	cancelled := w.movement(t, "EVX-1005", later, nil, nil, convoi.ActionAssess, convoi.ActionCancel)
	requested := w.movement(t, "EVX-1006", later, nil, nil)
	if planned.EscortLevel != 3 || released.EscortLevel != 3 {
		t.Fatalf("before the intelligence: levels %d and %d, want 3", planned.EscortLevel, released.EscortLevel)
	}
	w.drain()

	in := w.addIntel(t)
	got, err := w.svc.OnIntel(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d re-assessments, want 3 (planned, released, assessed)", len(got))
	}
	for _, a := range got {
		if a.Level != 4 || len(a.IntelIDs) != 2 {
			t.Errorf("re-assessment of %d at level %d with intel %v, want level 4 with both entries", a.MovementID, a.Level, a.IntelIDs)
		}
	}

	tests := []struct {
		name        string
		m           *convoi.Movement
		state       convoi.MovementState
		level       convoi.EscortLevel
		assessments int
	}{
		{"planned below the new level goes back to assessed", planned, convoi.StateAssessed, 4, 2},
		{"released that meets the new level stays released", released, convoi.StateReleased, 4, 2},
		{"assessed follows the new level", assessed, convoi.StateAssessed, 4, 2},
		{"past movement left alone", past, convoi.StatePlanned, 3, 1},
		{"cancelled movement left alone", cancelled, convoi.StateCancelled, 3, 1},
		{"requested movement left alone", requested, convoi.StateRequested, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := w.find(t, tt.m.ID)
			if m.State != tt.state || m.EscortLevel != tt.level {
				t.Errorf("%s at level %d, want %s at level %d", m.State, m.EscortLevel, tt.state, tt.level)
			}
			if n := len(w.assessments(t, m.ID)); n != tt.assessments {
				t.Errorf("%d assessments, want %d", n, tt.assessments)
			}
		})
	}

	tr, err := w.movements.FindTransitions(ctx, planned.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := tr[len(tr)-1]
	if last.Action != convoi.ActionAssess || last.From != convoi.StatePlanned ||
		!strings.Contains(last.Reason, "no longer meets") || !strings.Contains(last.Reason, "level 4 needs 8") {
		t.Errorf("send-back transition %+v", last)
	}

	evs, ms := w.drain()
	if len(evs) != 3 {
		t.Errorf("%d assessment events, want 3 (every level rose)", len(evs))
	}
	if len(ms) != 3 {
		t.Errorf("%d movement events, want 3", len(ms))
	}
	if len(w.notices.notices) != 3 {
		t.Fatalf("%d notices, want 3", len(w.notices.notices))
	}
	for _, n := range w.notices.notices {
		if wantBack := n.Movement.ID == planned.ID; n.SentBack != wantBack || (wantBack && len(n.Shortfalls) == 0) {
			t.Errorf("notice for %s: sent back %v, shortfalls %v", n.Movement.Ref, n.SentBack, n.Shortfalls)
		}
		if n.Previous == nil || n.Previous.Level != 3 || n.Intel != in {
			t.Errorf("notice for %s: previous %+v", n.Movement.Ref, n.Previous)
		}
	}

	t.Run("the same intelligence again raises nothing", func(t *testing.T) {
		w.notices.notices = nil
		// Planned at level 4 with the crew still to be assigned: a re-assessment
		// that asks for nothing more must not send it back.
		if _, err := w.movements.TransitionMovement(ctx, assessed.ID, convoi.TransitionRequest{Action: convoi.ActionPlan}); err != nil {
			t.Fatal(err)
		}
		w.drain()
		if _, err := w.svc.OnIntel(ctx, in); err != nil {
			t.Fatal(err)
		}
		if evs, _ := w.drain(); len(evs) != 0 || len(w.notices.notices) != 0 {
			t.Errorf("%d events, %d notices after a re-assessment that did not raise the level", len(evs), len(w.notices.notices))
		}
		if m := w.find(t, planned.ID); m.State != convoi.StateAssessed {
			t.Errorf("sent-back movement now %s", m.State)
		}
		if m := w.find(t, assessed.ID); m.State != convoi.StatePlanned || m.EscortLevel != 4 {
			t.Errorf("planned movement without crew now %s at level %d, want planned at 4", m.State, m.EscortLevel)
		}
	})
	t.Run("a store error is returned", func(t *testing.T) {
		if err := w.db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.OnIntel(ctx, in); err == nil {
			t.Errorf("OnIntel on a closed store succeeded")
		}
	})
}

func TestServiceOnIntelEntryNotYetStored(t *testing.T) {
	w := mustOpenWorld(t)
	m := w.movement(t, "EVX-2001", incarvilleAppointment, nil, nil, convoi.ActionAssess)
	e := incarvilleIntel()[0]
	e.ID, e.DetaineeID = 0, w.detainee.ID
	got, err := w.svc.OnIntel(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	before := w.assessments(t, m.ID)[1]
	if len(got) != 1 || got[0].Score <= before.Score || factor(*got[0], risk.FactorIntelEscape) == nil {
		t.Fatalf("re-assessments %+v, want one scoring above %.2f with the entry", got, before.Score)
	}
	if _, err := w.svc.OnIntel(context.Background(), &convoi.Intel{}); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Errorf("entry without detainee: %v", err)
	}
}
