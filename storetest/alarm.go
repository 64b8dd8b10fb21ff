package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// alarmLegal is the alarm workflow as issue 10 specifies it (open →
// acknowledged → escalated → resolved, escalated also from open, resolved
// from every unresolved state), written out independently of
// convoi.NextAlarmState so that a drift in either fails here.
var alarmLegal = map[convoi.AlarmAction]struct {
	from []convoi.AlarmState
	to   convoi.AlarmState
}{
	convoi.AlarmActionAcknowledge: {[]convoi.AlarmState{convoi.AlarmOpen}, convoi.AlarmAcknowledged},
	convoi.AlarmActionEscalate:    {[]convoi.AlarmState{convoi.AlarmOpen, convoi.AlarmAcknowledged}, convoi.AlarmEscalated},
	convoi.AlarmActionResolve:     {[]convoi.AlarmState{convoi.AlarmOpen, convoi.AlarmAcknowledged, convoi.AlarmEscalated}, convoi.AlarmResolved},
}

// alarmStep is one workflow request of the matrix.
type alarmStep struct {
	action convoi.AlarmAction
	res    convoi.AlarmResolution
}

func (s alarmStep) String() string {
	if s.res != "" {
		return string(s.action) + ":" + string(s.res)
	}
	return string(s.action)
}

var alarmSteps = []alarmStep{
	{convoi.AlarmActionAcknowledge, ""},
	{convoi.AlarmActionEscalate, ""},
	{convoi.AlarmActionResolve, convoi.ResolutionFalseAlarm},
	{convoi.AlarmActionResolve, convoi.ResolutionHandled},
	{convoi.AlarmActionResolve, convoi.ResolutionIncident},
}

// alarmPathTo reaches each state from open.
var alarmPathTo = map[convoi.AlarmState][]alarmStep{
	convoi.AlarmOpen:         nil,
	convoi.AlarmAcknowledged: {{convoi.AlarmActionAcknowledge, ""}},
	convoi.AlarmEscalated:    {{convoi.AlarmActionAcknowledge, ""}, {convoi.AlarmActionEscalate, ""}},
	convoi.AlarmResolved:     {{convoi.AlarmActionAcknowledge, ""}, {convoi.AlarmActionResolve, convoi.ResolutionHandled}},
}

// apply runs one workflow step.
func (e *env) applyAlarmStep(ctx context.Context, id convoi.AlarmID, s alarmStep, note string) (*convoi.Alarm, error) {
	switch s.action {
	case convoi.AlarmActionAcknowledge:
		return e.Alarms.AcknowledgeAlarm(ctx, id, note)
	case convoi.AlarmActionEscalate:
		return e.Alarms.EscalateAlarm(ctx, id, note)
	}
	return e.Alarms.ResolveAlarm(ctx, id, s.res, note)
}

// underway stores a movement of w with the given crew and vehicle and
// takes it to underway.
func (e *env) underway(t *testing.T, w *world, ref string, crew []convoi.OfficerID, vehicles []convoi.VehicleID) *convoi.Movement {
	t.Helper()
	m := w.movement(ref, T0.Add(2*time.Hour))
	m.Crew, m.Vehicles = crew, vehicles
	must(t, e.Movements.CreateMovement(e.ctx, m))
	for _, a := range pathTo[convoi.StateUnderway] {
		_, err := e.Movements.TransitionMovement(e.ctx, m.ID, request(a))
		must(t, err)
	}
	got, err := e.Movements.FindMovementByID(e.ctx, m.ID)
	must(t, err)
	return got
}

// evidence returns what a monitor rule would raise.
func evidence(m convoi.MovementID, rule convoi.AlarmRule, sev convoi.Severity, seen time.Time) *convoi.Alarm {
	return &convoi.Alarm{MovementID: m, Rule: rule, Severity: sev, Detail: fmt.Sprintf("%s seen", rule),
		Place: convoi.LatLon{Lat: 43.7395, Lon: 7.4030}, PlaceName: "Péage de La Turbie", FirstSeen: seen, LastSeen: seen}
}

func testAlarm(t *testing.T, open OpenFunc) {
	t.Run("RaiseAndMerge", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AL1", nil, []convoi.VehicleID{w.Vans[0].ID, w.Vans[1].ID})
		fix0 := T0.Add(-30 * time.Second)
		in := evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, fix0)
		in.VehicleID = w.Vans[0].ID
		a, created, err := e.Alarms.RaiseAlarm(convoi.NewContextWithUser(e.ctx, nil), in)
		must(t, err)
		same(t, "created", created, true)
		if a.ID == 0 {
			t.Fatal("no ID")
		}
		same(t, "state, count, version", [3]any{a.State, a.Count, a.Version}, [3]any{convoi.AlarmOpen, 1, 1})
		sameTime(t, "ack due", a.AckDue, T0.Add(convoi.DefaultAlarmPolicy.AckWithin(convoi.SeverityWarning)))
		sameTime(t, "created at", a.CreatedAt, T0)
		got, err := e.Alarms.FindAlarmByID(e.ctx, a.ID)
		must(t, err)
		same(t, "stored", got, a)
		trs, err := e.Alarms.FindAlarmTransitions(e.ctx, a.ID)
		must(t, err)
		same(t, "raise transition", len(trs), 1)
		same(t, "raise from/to", [2]convoi.AlarmState{trs[0].From, trs[0].To}, [2]convoi.AlarmState{"", convoi.AlarmOpen})
		same(t, "raise note", trs[0].Note, "stop seen")

		// The same rule again, newer and more severe, from the other van.
		e.clock.Add(10 * time.Second)
		in2 := evidence(m.ID, convoi.RuleStop, convoi.SeverityCritical, fix0.Add(20*time.Second))
		in2.VehicleID, in2.Place, in2.Detail = w.Vans[1].ID, convoi.LatLon{Lat: 43.74, Lon: 7.41}, "stopped 90 s at the toll"
		a2, created, err := e.Alarms.RaiseAlarm(e.ctx, in2)
		must(t, err)
		same(t, "created on merge", created, false)
		same(t, "merged ID", a2.ID, a.ID)
		same(t, "count", a2.Count, 2)
		same(t, "severity raised", a2.Severity, convoi.SeverityCritical)
		same(t, "vehicle, place, detail follow the newest", [3]any{a2.VehicleID, a2.Place, a2.Detail},
			[3]any{w.Vans[1].ID, in2.Place, in2.Detail})
		sameTime(t, "first seen kept", a2.FirstSeen, fix0)
		sameTime(t, "last seen", a2.LastSeen, fix0.Add(20*time.Second))
		// Critical allows less time than warning: due earlier, counted from now.
		sameTime(t, "ack due brought forward", a2.AckDue, T0.Add(10*time.Second+convoi.DefaultAlarmPolicy.AckWithin(convoi.SeverityCritical)))
		same(t, "version", a2.Version, 2)

		// Older, less severe evidence (out of order): counted, but moves nothing back.
		in3 := evidence(m.ID, convoi.RuleStop, convoi.SeverityInfo, fix0.Add(-40*time.Second))
		in3.Detail = "late record"
		a3, created, err := e.Alarms.RaiseAlarm(e.ctx, in3)
		must(t, err)
		same(t, "created on late merge", created, false)
		same(t, "count", a3.Count, 3)
		same(t, "severity never lowered", a3.Severity, convoi.SeverityCritical)
		same(t, "detail kept", a3.Detail, in2.Detail)
		sameTime(t, "first seen moves back", a3.FirstSeen, fix0.Add(-40*time.Second))
		sameTime(t, "last seen kept", a3.LastSeen, fix0.Add(20*time.Second))
		sameTime(t, "ack due kept", a3.AckDue, a2.AckDue)
		trs, err = e.Alarms.FindAlarmTransitions(e.ctx, a.ID)
		must(t, err)
		same(t, "merges are not transitions", len(trs), 1)

		// Another rule, another movement: other alarms.
		b, created, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleDeviation, convoi.SeverityWarning, T0))
		must(t, err)
		if !created || b.ID == a.ID {
			t.Fatalf("another rule merged into alarm %d (created %v)", b.ID, created)
		}
		m2 := e.underway(t, w, "MC-AL2", nil, nil)
		c, created, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m2.ID, convoi.RuleStop, convoi.SeverityWarning, T0))
		must(t, err)
		if !created || c.ID == a.ID {
			t.Fatalf("another movement merged into alarm %d (created %v)", c.ID, created)
		}

		// Merging continues while acknowledged and escalated, not after resolution.
		_, err = e.Alarms.AcknowledgeAlarm(e.ctx, a.ID, "")
		must(t, err)
		a4, created, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, fix0.Add(30*time.Second)))
		must(t, err)
		same(t, "merge while acknowledged", [3]any{created, a4.ID, a4.State}, [3]any{false, a.ID, convoi.AlarmAcknowledged})
		_, err = e.Alarms.ResolveAlarm(e.ctx, a.ID, convoi.ResolutionHandled, "Van moved on after the toll queue.")
		must(t, err)
		a5, created, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, fix0.Add(90*time.Second)))
		must(t, err)
		if !created || a5.ID == a.ID || a5.Count != 1 || a5.State != convoi.AlarmOpen {
			t.Fatalf("after resolution: %+v created %v, want a new open alarm", a5, created)
		}
		old, err := e.Alarms.FindAlarmByID(e.ctx, a.ID)
		must(t, err)
		same(t, "resolved alarm untouched", [2]any{old.State, old.Count}, [2]any{convoi.AlarmResolved, 4})
	})

	t.Run("BadEvidence", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AL3", nil, nil)
		for _, tc := range []struct {
			name string
			mod  func(a *convoi.Alarm)
		}{
			{"NoMovement", func(a *convoi.Alarm) { a.MovementID = 0 }},
			{"MissingMovement", func(a *convoi.Alarm) { a.MovementID = 9999 }},
			{"MissingVehicle", func(a *convoi.Alarm) { a.VehicleID = 9999 }},
			{"UnknownRule", func(a *convoi.Alarm) { a.Rule = "bored" }},
			{"UnknownSeverity", func(a *convoi.Alarm) { a.Severity = 7 }},
			{"NoFirstSeen", func(a *convoi.Alarm) { a.FirstSeen, a.LastSeen = time.Time{}, time.Time{} }},
			{"LastBeforeFirst", func(a *convoi.Alarm) { a.LastSeen = a.FirstSeen.Add(-time.Second) }},
			{"BadPlace", func(a *convoi.Alarm) { a.Place = convoi.LatLon{Lat: 91, Lon: 7} }},
			{"HugeDetail", func(a *convoi.Alarm) { a.Detail = strings.Repeat("x", convoi.MaxAlarmDetail+1) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, T0)
				tc.mod(a)
				_, _, err := e.Alarms.RaiseAlarm(e.ctx, a)
				wantCode(t, err, convoi.EINVALID)
			})
		}
		_, _, err := e.Alarms.RaiseAlarm(e.ctx, nil)
		wantCode(t, err, convoi.EINVALID)
		_, n, err := e.Alarms.FindAlarms(e.ctx, convoi.AlarmFilter{})
		must(t, err)
		same(t, "alarms stored", n, 0)
		_, err = e.Alarms.FindAlarmByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Alarms.FindAlarmTransitions(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Alarms.AcknowledgeAlarm(e.ctx, 9999, "")
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Find", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m1 := e.underway(t, w, "MC-AF1", []convoi.OfficerID{w.Officers[0].ID}, nil)
		m2 := e.underway(t, w, "MC-AF2", []convoi.OfficerID{w.Officers[1].ID}, nil)
		raise := func(m convoi.MovementID, r convoi.AlarmRule, sev convoi.Severity, seen time.Time) *convoi.Alarm {
			a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m, r, sev, seen))
			must(t, err)
			return a
		}
		a := raise(m1.ID, convoi.RuleStop, convoi.SeverityWarning, T0.Add(1*time.Minute))
		b := raise(m1.ID, convoi.RuleDevice, convoi.SeverityCritical, T0.Add(2*time.Minute))
		c := raise(m2.ID, convoi.RuleLate, convoi.SeverityInfo, T0.Add(3*time.Minute))
		d := raise(m2.ID, convoi.RuleSignalLoss, convoi.SeverityWarning, T0.Add(4*time.Minute))
		_, err := e.Alarms.AcknowledgeAlarm(e.ctx, a.ID, "")
		must(t, err)
		_, err = e.Alarms.ResolveAlarm(e.ctx, c.ID, convoi.ResolutionFalseAlarm, "Deadline moved by the court.")
		must(t, err)
		ids := func(f convoi.AlarmFilter) []convoi.AlarmID {
			t.Helper()
			as, n, err := e.Alarms.FindAlarms(e.ctx, f)
			must(t, err)
			out := []convoi.AlarmID{}
			for _, a := range as {
				out = append(out, a.ID)
			}
			if f.Page == (convoi.Page{}) && n != len(out) {
				t.Fatalf("total %d, listed %d", n, len(out))
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    convoi.AlarmFilter
			want []convoi.AlarmID
		}{
			// Most severe first, then most recently seen.
			{"All", convoi.AlarmFilter{}, []convoi.AlarmID{b.ID, d.ID, a.ID, c.ID}},
			{"State", convoi.AlarmFilter{State: ptr(convoi.AlarmAcknowledged)}, []convoi.AlarmID{a.ID}},
			{"Active", convoi.AlarmFilter{Active: true}, []convoi.AlarmID{b.ID, d.ID, a.ID}},
			{"Severity", convoi.AlarmFilter{Severity: ptr(convoi.SeverityWarning)}, []convoi.AlarmID{d.ID, a.ID}},
			{"Movement", convoi.AlarmFilter{MovementID: &m2.ID}, []convoi.AlarmID{d.ID, c.ID}},
			{"Rule", convoi.AlarmFilter{Rule: ptr(convoi.RuleDevice)}, []convoi.AlarmID{b.ID}},
			{"Since", convoi.AlarmFilter{Since: ptr(T0.Add(2 * time.Minute))}, []convoi.AlarmID{b.ID, d.ID, c.ID}},
			{"CrewMember", convoi.AlarmFilter{CrewMember: &w.Officers[0].ID}, []convoi.AlarmID{b.ID, a.ID}},
			{"CrewOfNothing", convoi.AlarmFilter{CrewMember: &w.Officers[2].ID}, []convoi.AlarmID{}},
			{"Combined", convoi.AlarmFilter{MovementID: &m1.ID, Active: true, Severity: ptr(convoi.SeverityCritical)}, []convoi.AlarmID{b.ID}},
			{"Page", convoi.AlarmFilter{Page: convoi.Page{Offset: 1, Limit: 2}}, []convoi.AlarmID{d.ID, a.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) { same(t, "ids", ids(tc.f), tc.want) })
		}
		_, n, err := e.Alarms.FindAlarms(e.ctx, convoi.AlarmFilter{Page: convoi.Page{Limit: 1}})
		must(t, err)
		same(t, "total with a page", n, 4)
	})

	t.Run("Matrix", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		n := 0
		for _, s := range convoi.AlarmStates {
			for _, step := range alarmSteps {
				var to convoi.AlarmState
				ok := false
				for _, f := range alarmLegal[step.action].from {
					if f == s {
						to, ok = alarmLegal[step.action].to, true
					}
				}
				t.Run(string(s)+"/"+step.String(), func(t *testing.T) {
					n++
					m := e.underway(t, w, fmt.Sprintf("MC-AM%02d", n), nil, nil)
					a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, T0))
					must(t, err)
					for _, p := range alarmPathTo[s] {
						_, err := e.applyAlarmStep(e.ctx, a.ID, p, "on the way")
						must(t, err)
					}
					before, err := e.Alarms.FindAlarmByID(e.ctx, a.ID)
					must(t, err)
					same(t, "state reached", before.State, s)
					trs, err := e.Alarms.FindAlarmTransitions(e.ctx, a.ID)
					must(t, err)
					same(t, "transitions on the way", len(trs), 1+len(alarmPathTo[s]))
					mtrs, err := e.Movements.FindTransitions(e.ctx, m.ID)
					must(t, err)

					e.clock.Add(time.Second)
					at := e.clock.Now()
					got, err := e.applyAlarmStep(e.ctx2, a.ID, step, "  Called the van: all well.  ")
					after, ferr := e.Alarms.FindAlarmByID(e.ctx, a.ID)
					must(t, ferr)
					trs2, ferr := e.Alarms.FindAlarmTransitions(e.ctx, a.ID)
					must(t, ferr)
					mv, ferr := e.Movements.FindMovementByID(e.ctx, m.ID)
					must(t, ferr)
					mtrs2, ferr := e.Movements.FindTransitions(e.ctx, m.ID)
					must(t, ferr)
					if !ok {
						wantCode(t, err, convoi.ECONFLICT)
						if msg := convoi.ErrorMessage(err); !strings.Contains(msg, "is "+string(s)+" since") || !strings.Contains(msg, "by ") {
							t.Errorf("conflict does not say who moved the alarm to %s and when: %q", s, msg)
						}
						same(t, "alarm after illegal step", after, before)
						same(t, "transitions after illegal step", len(trs2), len(trs))
						same(t, "movement after illegal step", mv.State, convoi.StateUnderway)
						return
					}
					must(t, err)
					same(t, "returned", got, after)
					same(t, "state", after.State, to)
					same(t, "resolution", after.Resolution, step.res)
					same(t, "version", after.Version, before.Version+1)
					sameTime(t, "updated at", after.UpdatedAt, at)
					same(t, "transitions", len(trs2), len(trs)+1)
					last := trs2[len(trs2)-1]
					same(t, "transition", [4]any{last.AlarmID, last.From, last.To, last.By}, [4]any{a.ID, s, to, author2})
					same(t, "note trimmed", last.Note, "Called the van: all well.")
					sameTime(t, "transition at", last.At, at)
					if step.res == convoi.ResolutionIncident {
						same(t, "movement", mv.State, convoi.StateIncident)
						same(t, "movement transitions", len(mtrs2), len(mtrs)+1)
						mt := mtrs2[len(mtrs2)-1]
						same(t, "movement transition", [4]any{mt.Action, mt.From, mt.To, mt.By},
							[4]any{convoi.ActionIncident, convoi.StateUnderway, convoi.StateIncident, author2})
						if !strings.Contains(mt.Reason, "Called the van") || !strings.Contains(mt.Reason, fmt.Sprint(a.ID)) {
							t.Errorf("movement transition reason %q does not name the alarm and the note", mt.Reason)
						}
					} else {
						same(t, "movement", mv.State, convoi.StateUnderway)
						same(t, "movement transitions", len(mtrs2), len(mtrs))
					}
				})
			}
		}
	})

	t.Run("BadStep", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AB", nil, nil)
		a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, T0))
		must(t, err)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"ResolveWithoutNote", func() error {
				_, err := e.Alarms.ResolveAlarm(e.ctx, a.ID, convoi.ResolutionHandled, "   ")
				return err
			}},
			{"ResolveWithoutResolution", func() error { _, err := e.Alarms.ResolveAlarm(e.ctx, a.ID, "", "note"); return err }},
			{"ResolveUnknownResolution", func() error { _, err := e.Alarms.ResolveAlarm(e.ctx, a.ID, "ignored", "note"); return err }},
			{"HugeNote", func() error {
				_, err := e.Alarms.AcknowledgeAlarm(e.ctx, a.ID, strings.Repeat("x", convoi.MaxAlarmNote+1))
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), convoi.EINVALID) })
		}
		got, err := e.Alarms.FindAlarmByID(e.ctx, a.ID)
		must(t, err)
		same(t, "untouched", [2]any{got.State, got.Version}, [2]any{convoi.AlarmOpen, 1})
	})

	t.Run("Incident", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AI", nil, nil)
		a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleAttack, convoi.SeverityCritical, T0))
		must(t, err)
		b, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleSplit, convoi.SeverityCritical, T0))
		must(t, err)
		_, err = e.Alarms.ResolveAlarm(e.ctx, a.ID, convoi.ResolutionIncident, "Van rammed at the toll; shots fired.")
		must(t, err)
		// A second alarm declared as the same incident: the movement stays there.
		got, err := e.Alarms.ResolveAlarm(e.ctx2, b.ID, convoi.ResolutionIncident, "Same attack.")
		must(t, err)
		same(t, "second resolution", got.Resolution, convoi.ResolutionIncident)
		mv, err := e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "movement", mv.State, convoi.StateIncident)
		trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
		must(t, err)
		same(t, "one incident transition", len(trs), len(pathTo[convoi.StateUnderway])+1)

		// A completed movement cannot go to incident: nothing is written.
		m2 := e.underway(t, w, "MC-AI2", nil, nil)
		c, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m2.ID, convoi.RuleLate, convoi.SeverityInfo, T0))
		must(t, err)
		_, err = e.Movements.TransitionMovement(e.ctx, m2.ID, request(convoi.ActionComplete))
		must(t, err)
		_, err = e.Alarms.ResolveAlarm(e.ctx, c.ID, convoi.ResolutionIncident, "Too late.")
		wantCode(t, err, convoi.ECONFLICT)
		c2, err := e.Alarms.FindAlarmByID(e.ctx, c.ID)
		must(t, err)
		same(t, "alarm unchanged", [2]any{c2.State, c2.Version}, [2]any{convoi.AlarmOpen, 1})
		mv2, err := e.Movements.FindMovementByID(e.ctx, m2.ID)
		must(t, err)
		same(t, "movement unchanged", mv2.State, convoi.StateCompleted)
		_, err = e.Alarms.ResolveAlarm(e.ctx, c.ID, convoi.ResolutionHandled, "Arrived late; court informed.")
		must(t, err)
	})

	t.Run("EscalateOverdue", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AE", nil, nil)
		p := convoi.DefaultAlarmPolicy
		crit, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleDevice, convoi.SeverityCritical, T0))
		must(t, err)
		warn, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleStop, convoi.SeverityWarning, T0))
		must(t, err)
		acked, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleDeviation, convoi.SeverityCritical, T0))
		must(t, err)
		_, err = e.Alarms.AcknowledgeAlarm(e.ctx, acked.ID, "On it.")
		must(t, err)

		got, err := e.Alarms.EscalateOverdue(e.ctx, T0.Add(p.AckWithin(convoi.SeverityCritical)-time.Nanosecond))
		must(t, err)
		same(t, "escalated before the deadline", len(got), 0)

		e.clock.Add(p.AckWithin(convoi.SeverityCritical))
		got, err = e.Alarms.EscalateOverdue(e.ctx, e.clock.Now())
		must(t, err)
		same(t, "escalated at the critical deadline", len(got), 1)
		same(t, "escalated", [3]any{got[0].ID, got[0].State, got[0].Version}, [3]any{crit.ID, convoi.AlarmEscalated, 2})
		trs, err := e.Alarms.FindAlarmTransitions(e.ctx, crit.ID)
		must(t, err)
		last := trs[len(trs)-1]
		same(t, "by the system", [3]any{last.From, last.To, last.By}, [3]any{convoi.AlarmOpen, convoi.AlarmEscalated, convoi.UserID(0)})
		sameTime(t, "at", last.At, e.clock.Now())
		if !strings.Contains(last.Note, "commander") {
			t.Errorf("note %q does not say to whom", last.Note)
		}
		got, err = e.Alarms.EscalateOverdue(e.ctx, e.clock.Now())
		must(t, err)
		same(t, "escalated twice", len(got), 0)

		e.clock.Add(p.AckWithin(convoi.SeverityWarning))
		got, err = e.Alarms.EscalateOverdue(e.ctx, e.clock.Now())
		must(t, err)
		same(t, "escalated at the warning deadline", len(got), 1)
		same(t, "escalated", got[0].ID, warn.ID)
		still, err := e.Alarms.FindAlarmByID(e.ctx, acked.ID)
		must(t, err)
		same(t, "acknowledged alarm not escalated", still.State, convoi.AlarmAcknowledged)
		_, err = e.Alarms.AcknowledgeAlarm(e.ctx, crit.ID, "")
		wantCode(t, err, convoi.ECONFLICT)
	})

	t.Run("RacingAcknowledgements", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AR", nil, nil)
		a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleDevice, convoi.SeverityCritical, T0))
		must(t, err)
		const operators = 8
		var wg sync.WaitGroup
		errs := make([]error, operators)
		for i := range operators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := e.ctx
				if i%2 == 1 {
					ctx = e.ctx2
				}
				_, errs[i] = e.Alarms.AcknowledgeAlarm(ctx, a.ID, fmt.Sprintf("operator %d", i))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				wantCode(t, err, convoi.ECONFLICT)
			}
		}
		same(t, "acknowledgements that won", won, 1)
		trs, err := e.Alarms.FindAlarmTransitions(e.ctx, a.ID)
		must(t, err)
		same(t, "transitions", len(trs), 2)
		got, err := e.Alarms.FindAlarmByID(e.ctx, a.ID)
		must(t, err)
		same(t, "state, version", [2]any{got.State, got.Version}, [2]any{convoi.AlarmAcknowledged, 2})
	})

	t.Run("RacingRaises", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-AQ", nil, nil)
		const raisers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := range raisers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, c, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleSignalLoss, convoi.SeverityWarning, T0.Add(time.Duration(i)*time.Second)))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
				} else if c {
					created++
				}
			}()
		}
		wg.Wait()
		same(t, "alarms opened", created, 1)
		as, n, err := e.Alarms.FindAlarms(e.ctx, convoi.AlarmFilter{MovementID: &m.ID})
		must(t, err)
		same(t, "alarms", n, 1)
		same(t, "count", as[0].Count, raisers)
		sameTime(t, "last seen", as[0].LastSeen, T0.Add((raisers-1)*time.Second))
	})
}
