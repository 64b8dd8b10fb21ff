package alarm_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/alarm"
	"github.com/convoi/convoi/bus"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/storetest"
)

// fixture is a real store and bus with one underway movement.
type fixture struct {
	clock *storetest.Clock
	db    *sqlite.DB
	bus   *bus.EventService
	sub   convoi.Subscription
	svc   *alarm.Service
	m     *convoi.Movement
	ctx   context.Context // a control-room operator
}

func mustOpen(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: storetest.NewClock(storetest.T0), bus: bus.New()}
	f.db = sqlite.NewDB(filepath.Join(t.TempDir(), "convoi.db"))
	f.db.Now = f.clock.Now
	ctx := context.Background()
	if err := f.db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	f.ctx = convoi.NewContextWithUser(ctx, &convoi.User{ID: 3, Username: "control1", Role: convoi.RoleControl})

	sites := sqlite.NewSiteService(f.db)
	from := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Monaco", Location: convoi.LatLon{Lat: 43.7310, Lon: 7.4190}}
	to := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice de Monaco", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}}
	must(t, sites.CreateSite(ctx, from))
	must(t, sites.CreateSite(ctx, to))
	d := &convoi.Detainee{Name: "Jean Dupont", LegalStatus: convoi.LegalStatusRemand, SiteID: from.ID}
	must(t, sqlite.NewDetaineeService(f.db).CreateDetainee(ctx, d))
	movements := sqlite.NewMovementService(f.db)
	f.m = &convoi.Movement{Ref: "MC-ALARM", DetaineeID: d.ID, FromSiteID: from.ID, ToSiteID: to.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: storetest.T0.Add(time.Hour), Requester: "Juge Martin"}
	must(t, movements.CreateMovement(ctx, f.m))
	for _, a := range []convoi.Action{convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionStart} {
		_, err := movements.TransitionMovement(ctx, f.m.ID, convoi.TransitionRequest{Action: a})
		must(t, err)
	}

	f.svc = alarm.New(sqlite.NewAlarmService(f.db))
	f.svc.Events, f.svc.Movements, f.svc.Now = f.bus, movements, f.clock.Now
	sub, err := f.bus.Subscribe(ctx)
	must(t, err)
	t.Cleanup(func() { sub.Close() })
	f.sub = sub
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// next returns the next event on the bus, failing after a generous wait.
func (f *fixture) next(t *testing.T) convoi.Event {
	t.Helper()
	select {
	case ev := <-f.sub.C():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the bus")
	}
	return convoi.Event{}
}

// none fails if an event is waiting on the bus.
func (f *fixture) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-f.sub.C():
		t.Fatalf("unexpected event %s %+v", ev.Type, ev.Alarm)
	default:
	}
}

func (f *fixture) raise(t *testing.T, rule convoi.AlarmRule, sev convoi.Severity) *convoi.Alarm {
	t.Helper()
	a, _, err := f.svc.RaiseAlarm(context.Background(), &convoi.Alarm{MovementID: f.m.ID, Rule: rule, Severity: sev,
		Detail: "seen", FirstSeen: f.clock.Now()})
	must(t, err)
	return a
}

func TestPublishesEveryChange(t *testing.T) {
	f := mustOpen(t)
	a := f.raise(t, convoi.RuleStop, convoi.SeverityWarning)
	ev := f.next(t)
	if ev.Type != convoi.EventTypeAlarm || ev.Alarm.ID != a.ID || ev.Alarm.State != convoi.AlarmOpen {
		t.Fatalf("raise published %s %+v", ev.Type, ev.Alarm)
	}
	f.raise(t, convoi.RuleStop, convoi.SeverityCritical)
	if ev := f.next(t); ev.Alarm.ID != a.ID || ev.Alarm.Count != 2 || ev.Alarm.Severity != convoi.SeverityCritical {
		t.Fatalf("merge published %+v", ev.Alarm)
	}
	_, err := f.svc.AcknowledgeAlarm(f.ctx, a.ID, "")
	must(t, err)
	if ev := f.next(t); ev.Alarm.State != convoi.AlarmAcknowledged {
		t.Fatalf("acknowledge published %+v", ev.Alarm)
	}
	// A refused step publishes nothing.
	_, err = f.svc.AcknowledgeAlarm(f.ctx, a.ID, "")
	if convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("second acknowledgement: %v", err)
	}
	f.none(t)
	_, err = f.svc.EscalateAlarm(f.ctx, a.ID, "Commander to decide.")
	must(t, err)
	if ev := f.next(t); ev.Alarm.State != convoi.AlarmEscalated {
		t.Fatalf("escalate published %+v", ev.Alarm)
	}
	_, err = f.svc.ResolveAlarm(f.ctx, a.ID, convoi.ResolutionIncident, "Van rammed at the toll.")
	must(t, err)
	if ev := f.next(t); ev.Alarm.State != convoi.AlarmResolved || ev.Alarm.Resolution != convoi.ResolutionIncident {
		t.Fatalf("resolve published %+v", ev.Alarm)
	}
	if ev := f.next(t); ev.Type != convoi.EventTypeMovement || ev.Movement.State != convoi.StateIncident {
		t.Fatalf("incident published %s %+v", ev.Type, ev.Movement)
	}
	f.none(t)
}

func TestEscalationLoop(t *testing.T) {
	f := mustOpen(t)
	crit := f.raise(t, convoi.RuleDevice, convoi.SeverityCritical)
	warn := f.raise(t, convoi.RuleStop, convoi.SeverityWarning)
	f.next(t)
	f.next(t)

	f.svc.Interval = 5 * time.Millisecond
	must(t, f.svc.Open())
	defer f.svc.Close()
	// The loop runs, but nothing is due: the clock has not moved.
	f.clock.Add(convoi.DefaultAlarmPolicy.AckWithin(convoi.SeverityCritical))
	ev := f.next(t)
	if ev.Type != convoi.EventTypeAlarm || ev.Alarm.ID != crit.ID || ev.Alarm.State != convoi.AlarmEscalated {
		t.Fatalf("loop published %s %+v, want the critical alarm escalated", ev.Type, ev.Alarm)
	}
	trs, err := f.svc.FindAlarmTransitions(f.ctx, crit.ID)
	must(t, err)
	if last := trs[len(trs)-1]; last.By != 0 || last.To != convoi.AlarmEscalated {
		t.Fatalf("last transition %+v, want escalated by the system", last)
	}
	got, err := f.svc.FindAlarmByID(f.ctx, warn.ID)
	must(t, err)
	if got.State != convoi.AlarmOpen {
		t.Fatalf("warning alarm %s before its deadline", got.State)
	}
	must(t, f.svc.Close())
	f.none(t)
	if err := f.svc.Open(); err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
}
