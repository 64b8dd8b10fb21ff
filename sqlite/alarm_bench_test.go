package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// alarmBench is a store with 200 movements (three officers each), one
// unresolved alarm of every rule on each (1,600) and as many resolved ones.
type alarmBench struct {
	db        *sqlite.DB
	alarms    *sqlite.AlarmService
	movements []convoi.MovementID
	officers  []convoi.OfficerID
	t0        time.Time
}

func mustAlarmBench(b *testing.B) *alarmBench {
	b.Helper()
	ctx := context.Background()
	ab := &alarmBench{t0: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	ab.db = MustOpenDB(b, func() time.Time { return ab.t0 })
	st := NewStore(ab.db)
	ab.alarms = sqlite.NewAlarmService(ab.db)
	from := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "P", Location: convoi.LatLon{Lat: 43.73, Lon: 7.42}}
	to := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "C", Location: convoi.LatLon{Lat: 43.74, Lon: 7.43}}
	for _, s := range []*convoi.Site{from, to} {
		if err := st.Sites.CreateSite(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	d := &convoi.Detainee{Name: "D", LegalStatus: convoi.LegalStatusRemand, SiteID: from.ID}
	if err := st.Detainees.CreateDetainee(ctx, d); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		o := &convoi.Officer{Name: fmt.Sprintf("Officer %d", i), Unit: "PREJ"}
		if err := st.Officers.CreateOfficer(ctx, o); err != nil {
			b.Fatal(err)
		}
		ab.officers = append(ab.officers, o.ID)
	}
	for i := range 200 {
		m := &convoi.Movement{Ref: fmt.Sprintf("MC-%05d", i), DetaineeID: d.ID, FromSiteID: from.ID, ToSiteID: to.ID,
			Purpose: convoi.PurposeCourtAppearance, AppointmentAt: ab.t0.Add(time.Hour), Requester: "R",
			Crew: []convoi.OfficerID{ab.officers[i%100], ab.officers[(i+7)%100], ab.officers[(i+31)%100]}}
		if err := st.Movements.CreateMovement(ctx, m); err != nil {
			b.Fatal(err)
		}
		ab.movements = append(ab.movements, m.ID)
	}
	for round := range 2 {
		for i, m := range ab.movements {
			for j, r := range convoi.AlarmRules {
				a, _, err := ab.alarms.RaiseAlarm(ctx, ab.evidence(m, r, convoi.Severity((i+j)%3), time.Duration(round*1000+i)*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				if round == 0 {
					if _, err := ab.alarms.ResolveAlarm(ctx, a.ID, convoi.ResolutionFalseAlarm, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	return ab
}

func (ab *alarmBench) evidence(m convoi.MovementID, r convoi.AlarmRule, sev convoi.Severity, at time.Duration) *convoi.Alarm {
	return &convoi.Alarm{MovementID: m, Rule: r, Severity: sev, Detail: "Stopped 95 s at the toll plaza",
		Place: convoi.LatLon{Lat: 43.7395, Lon: 7.4030}, PlaceName: "Péage de La Turbie", FirstSeen: ab.t0.Add(at)}
}

// BenchmarkAlarms measures the alarm store with 3,200 alarms stored (1,600
// unresolved): RaiseAlarm merging evidence into an open alarm, and opening
// a new one then resolving it (each a durable write transaction,
// synchronous=FULL; the attack alarms are resolved first), the
// control room's listings, and the escalation loop's look for overdue
// alarms when none is due (its cost every DefaultInterval).
func BenchmarkAlarms(b *testing.B) {
	ab := mustAlarmBench(b)
	ctx := context.Background()
	b.Run("RaiseMerge", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m := ab.movements[i%len(ab.movements)]
			if _, created, err := ab.alarms.RaiseAlarm(ctx, ab.evidence(m, convoi.RuleDeviation, convoi.SeverityWarning, time.Hour+time.Duration(i)*time.Millisecond)); err != nil || created {
				b.Fatal(err, created)
			}
		}
	})
	b.Run("RaiseNewAndResolve", func(b *testing.B) {
		b.StopTimer()
		open, _, err := ab.alarms.FindAlarms(ctx, convoi.AlarmFilter{Active: true, Rule: ptr(convoi.RuleAttack), Page: convoi.Page{Limit: convoi.MaxPageLimit}})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range open {
			if _, err := ab.alarms.ResolveAlarm(ctx, a.ID, convoi.ResolutionHandled, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			m := ab.movements[i%len(ab.movements)]
			a, created, err := ab.alarms.RaiseAlarm(ctx, ab.evidence(m, convoi.RuleAttack, convoi.SeverityCritical, time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			if !created {
				b.Fatal("merged")
			}
			if _, err := ab.alarms.ResolveAlarm(ctx, a.ID, convoi.ResolutionHandled, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name string
		f    convoi.AlarmFilter
	}{
		{"FindActive", convoi.AlarmFilter{Active: true}},
		{"FindCritical", convoi.AlarmFilter{Active: true, Severity: ptr(convoi.SeverityCritical)}},
		{"FindMovement", convoi.AlarmFilter{MovementID: &ab.movements[42]}},
		{"FindCrewMember", convoi.AlarmFilter{CrewMember: &ab.officers[42]}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				as, n, err := ab.alarms.FindAlarms(ctx, tc.f)
				if err != nil || len(as) == 0 || n == 0 {
					b.Fatal(err, n)
				}
			}
		})
	}
	b.Run("EscalateOverdueNoneDue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if as, err := ab.alarms.EscalateOverdue(ctx, ab.t0.Add(-time.Hour)); err != nil || len(as) != 0 {
				b.Fatal(err, len(as))
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
