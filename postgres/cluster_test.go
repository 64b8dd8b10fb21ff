package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/storetest"
)

// twoNodes opens two DBs (two convoi nodes) on the same fresh schema, with
// one shared clock, and a movement to raise alarms on.
func twoNodes(t *testing.T) (a, b *postgres.DB, m *convoi.Movement, clock *storetest.Clock) {
	t.Helper()
	dsn := NewSchemaDSN(t)
	clock = storetest.NewClock(storetest.T0)
	open := func() *postgres.DB {
		db := postgres.NewDB(dsn)
		db.Now = clock.Now
		if err := db.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b = open(), open() // the second finds the schema migrated
	ctx := context.Background()
	site := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Monaco", Location: convoi.LatLon{Lat: 43.731, Lon: 7.419}}
	court := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice", Location: convoi.LatLon{Lat: 43.730, Lon: 7.422}}
	for _, s := range []*convoi.Site{site, court} {
		if err := postgres.NewSiteService(a).CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	d := &convoi.Detainee{Name: "Jean Dupont", LegalStatus: convoi.LegalStatusRemand, SiteID: site.ID}
	if err := postgres.NewDetaineeService(b).CreateDetainee(ctx, d); err != nil {
		t.Fatal(err)
	}
	m = &convoi.Movement{Ref: "MC-RACE", DetaineeID: d.ID, FromSiteID: site.ID, ToSiteID: court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: storetest.T0.Add(2 * time.Hour), Requester: "Juge Martin"}
	if err := postgres.NewMovementService(a).CreateMovement(ctx, m); err != nil {
		t.Fatal(err)
	}
	return a, b, m, clock
}

// Two nodes raising the same rule's evidence at once merge into one alarm.
func TestTwoNodesRaiseOneAlarm(t *testing.T) {
	a, b, m, _ := twoNodes(t)
	ctx := context.Background()
	const each = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for _, db := range []*postgres.DB{a, b, a, b} {
		s := postgres.NewAlarmService(db)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seen := storetest.T0.Add(time.Duration(i) * time.Second)
				_, c, err := s.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: convoi.RuleStop, Severity: convoi.SeverityWarning,
					Detail: "stopped", FirstSeen: seen, LastSeen: seen})
				if err != nil {
					t.Error(err)
					return
				}
				if c {
					mu.Lock()
					created++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	as, n, err := postgres.NewAlarmService(b).FindAlarms(ctx, convoi.AlarmFilter{MovementID: &m.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || created != 1 {
		t.Fatalf("%d alarms, %d created, want one", n, created)
	}
	if as[0].Count != 4*each {
		t.Fatalf("count = %d, want %d", as[0].Count, 4*each)
	}
}

// Two operators on two nodes acknowledging the same alarm at once: one
// wins, the other is told it is no longer open, and the alarm has one
// acknowledgement; the escalation timers of both nodes escalate each
// overdue alarm once.
func TestTwoNodesAckAndEscalateRace(t *testing.T) {
	a, b, m, clock := twoNodes(t)
	ctx := convoi.NewContextWithUser(context.Background(), &convoi.User{ID: 3, Username: "control", Role: convoi.RoleControl})
	sa, sb := postgres.NewAlarmService(a), postgres.NewAlarmService(b)
	for round := range 5 {
		rule := convoi.AlarmRules[round]
		al, _, err := sa.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: rule, Severity: convoi.SeverityCritical,
			FirstSeen: storetest.T0, LastSeen: storetest.T0})
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range []*postgres.AlarmService{sa, sb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.AcknowledgeAlarm(ctx, al.ID, fmt.Sprintf("node %d", i))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if convoi.ErrorCode(err) != convoi.ECONFLICT {
				t.Fatalf("round %d: %v, want a conflict", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d acknowledgements succeeded (%v), want 1", round, ok, errs)
		}
		trs, err := sb.FindAlarmTransitions(ctx, al.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(trs) != 2 || trs[1].To != convoi.AlarmAcknowledged {
			t.Fatalf("round %d: transitions %+v, want raised then one acknowledgement", round, trs)
		}
	}

	// Escalation: 3 open alarms overdue, four timers of two nodes fire together.
	for _, rule := range convoi.AlarmRules[5:] {
		if _, _, err := sa.RaiseAlarm(ctx, &convoi.Alarm{MovementID: m.ID, Rule: rule,
			Severity: convoi.SeverityCritical, FirstSeen: storetest.T0, LastSeen: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Hour)
	var wg sync.WaitGroup
	got := make([][]*convoi.Alarm, 4)
	for i, s := range []*postgres.AlarmService{sa, sb, sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if got[i], err = s.EscalateOverdue(ctx, clock.Now()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[convoi.AlarmID]int{}
	for _, as := range got {
		for _, a := range as {
			seen[a.ID]++
		}
	}
	if len(seen) != 3 {
		t.Fatalf("escalated %d distinct alarms, want 3", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("alarm %d escalated %d times", id, n)
		}
	}
}
