package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// legal is the movement state machine as issue 2 specifies it, written out
// independently of convoi.NextState so that a drift in either fails here.
var legal = map[convoi.Action]struct {
	from []convoi.MovementState
	to   convoi.MovementState
}{
	convoi.ActionAssess:   {[]convoi.MovementState{convoi.StateRequested, convoi.StateAssessed, convoi.StatePlanned, convoi.StateReleased}, convoi.StateAssessed},
	convoi.ActionPlan:     {[]convoi.MovementState{convoi.StateAssessed, convoi.StatePlanned}, convoi.StatePlanned},
	convoi.ActionRelease:  {[]convoi.MovementState{convoi.StatePlanned}, convoi.StateReleased},
	convoi.ActionStart:    {[]convoi.MovementState{convoi.StateReleased}, convoi.StateUnderway},
	convoi.ActionComplete: {[]convoi.MovementState{convoi.StateUnderway, convoi.StateIncident}, convoi.StateCompleted},
	convoi.ActionCancel:   {[]convoi.MovementState{convoi.StateRequested, convoi.StateAssessed, convoi.StatePlanned, convoi.StateReleased}, convoi.StateCancelled},
	convoi.ActionAbort:    {[]convoi.MovementState{convoi.StateReleased, convoi.StateUnderway, convoi.StateIncident}, convoi.StateAborted},
	convoi.ActionIncident: {[]convoi.MovementState{convoi.StateUnderway}, convoi.StateIncident},
	convoi.ActionResume:   {[]convoi.MovementState{convoi.StateIncident}, convoi.StateUnderway},
}

// pathTo is a sequence of legal actions from requested to each state.
var pathTo = map[convoi.MovementState][]convoi.Action{
	convoi.StateRequested: nil,
	convoi.StateAssessed:  {convoi.ActionAssess},
	convoi.StatePlanned:   {convoi.ActionAssess, convoi.ActionPlan},
	convoi.StateReleased:  {convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease},
	convoi.StateUnderway:  {convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionStart},
	convoi.StateCompleted: {convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionStart, convoi.ActionComplete},
	convoi.StateCancelled: {convoi.ActionCancel},
	convoi.StateAborted:   {convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionAbort},
	convoi.StateIncident:  {convoi.ActionAssess, convoi.ActionPlan, convoi.ActionRelease, convoi.ActionStart, convoi.ActionIncident},
}

// request returns a well-formed request for action a.
func request(a convoi.Action) convoi.TransitionRequest {
	r := convoi.TransitionRequest{Action: a}
	switch a {
	case convoi.ActionCancel:
		r.CancelReason = convoi.CancelVideoHearing
	case convoi.ActionAbort, convoi.ActionIncident:
		r.Reason = "Suspicious vehicle blocking the exit."
	case convoi.ActionResume:
		r.Reason = "False alarm: a delivery van, checked by the unit on site."
	}
	return r
}

func isLegal(s convoi.MovementState, a convoi.Action) (convoi.MovementState, bool) {
	r := legal[a]
	for _, f := range r.from {
		if f == s {
			return r.to, true
		}
	}
	return "", false
}

func testTransition(t *testing.T, open OpenFunc) {
	t.Run("Matrix", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		n := 0
		for _, s := range convoi.MovementStates {
			for _, a := range convoi.Actions {
				to, ok := isLegal(s, a)
				name := fmt.Sprintf("%s/%s", s, a)
				t.Run(name, func(t *testing.T) {
					n++
					m := w.movement(fmt.Sprintf("MX-%03d", n), T0.Add(24*time.Hour))
					must(t, e.Movements.CreateMovement(e.ctx, m))
					for _, step := range pathTo[s] {
						_, err := e.Movements.TransitionMovement(e.ctx, m.ID, request(step))
						must(t, err)
					}
					before, err := e.Movements.FindMovementByID(e.ctx, m.ID)
					must(t, err)
					same(t, "state reached", before.State, s)
					trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
					must(t, err)
					same(t, "transitions on the way", len(trs), len(pathTo[s]))

					got, err := e.Movements.TransitionMovement(e.ctx2, m.ID, request(a))
					after, ferr := e.Movements.FindMovementByID(e.ctx, m.ID)
					must(t, ferr)
					trs2, ferr := e.Movements.FindTransitions(e.ctx, m.ID)
					must(t, ferr)
					if !ok {
						wantCode(t, err, convoi.ECONFLICT)
						same(t, "state after illegal", after.State, s)
						same(t, "version after illegal", after.Version, before.Version)
						same(t, "transitions after illegal", len(trs2), len(trs))
						return
					}
					must(t, err)
					same(t, "returned state", got.State, to)
					same(t, "stored state", after.State, to)
					same(t, "version", after.Version, before.Version+1)
					same(t, "updated_by", after.UpdatedBy, author2)
					same(t, "transitions", len(trs2), len(trs)+1)
					last := trs2[len(trs2)-1]
					same(t, "transition", [4]string{string(last.Action), string(last.From), string(last.To), fmt.Sprint(last.MovementID)},
						[4]string{string(a), string(s), string(to), fmt.Sprint(m.ID)})
					same(t, "transition by", last.By, author2)
					sameTime(t, "transition at", last.At, T0)
					if a == convoi.ActionCancel {
						same(t, "cancel reason", after.CancelReason, convoi.CancelVideoHearing)
						same(t, "reason defaults to cancel reason", last.Reason, string(convoi.CancelVideoHearing))
					}
				})
			}
		}
	})

	t.Run("History", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-H", T0.Add(24*time.Hour))
		must(t, e.Movements.CreateMovement(e.ctx, m))
		steps := []struct {
			ctxAuthor convoi.UserID
			req       convoi.TransitionRequest
		}{
			{author, convoi.TransitionRequest{Action: convoi.ActionAssess, Reason: "Initial assessment."}},
			{author2, convoi.TransitionRequest{Action: convoi.ActionAssess, Reason: "New intelligence: phone found."}},
			{author, convoi.TransitionRequest{Action: convoi.ActionCancel, CancelReason: convoi.CancelVideoHearing, Reason: "Judge agreed to a video hearing."}},
		}
		for i, st := range steps {
			e.clock.Add(time.Hour)
			ctx := e.ctx
			if st.ctxAuthor == author2 {
				ctx = e.ctx2
			}
			_, err := e.Movements.TransitionMovement(ctx, m.ID, st.req)
			must(t, err)
			_ = i
		}
		trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
		must(t, err)
		same(t, "count", len(trs), 3)
		for i, tr := range trs {
			same(t, "action", tr.Action, steps[i].req.Action)
			same(t, "reason", tr.Reason, steps[i].req.Reason)
			same(t, "by", tr.By, steps[i].ctxAuthor)
			sameTime(t, "at", tr.At, T0.Add(time.Duration(i+1)*time.Hour))
		}
		same(t, "no override", trs[0].Override, "")
		same(t, "from/to", [][2]convoi.MovementState{{trs[0].From, trs[0].To}, {trs[1].From, trs[1].To}, {trs[2].From, trs[2].To}},
			[][2]convoi.MovementState{{convoi.StateRequested, convoi.StateAssessed}, {convoi.StateAssessed, convoi.StateAssessed}, {convoi.StateAssessed, convoi.StateCancelled}})
		_, err = e.Movements.FindTransitions(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("BadRequest", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-BAD", T0.Add(24*time.Hour))
		must(t, e.Movements.CreateMovement(e.ctx, m))
		for _, tc := range []struct {
			name string
			req  convoi.TransitionRequest
			code string
		}{
			{"UnknownAction", convoi.TransitionRequest{Action: "teleport"}, convoi.EINVALID},
			{"CancelWithoutReason", convoi.TransitionRequest{Action: convoi.ActionCancel}, convoi.EINVALID},
			{"CancelBadReason", convoi.TransitionRequest{Action: convoi.ActionCancel, CancelReason: "bored"}, convoi.EINVALID},
			{"CancelReasonOnAssess", convoi.TransitionRequest{Action: convoi.ActionAssess, CancelReason: convoi.CancelSecurity}, convoi.EINVALID},
			{"InvalidUpdate", convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{EscortLevel: ptr(convoi.EscortLevel(9))}}, convoi.EINVALID},
			{"UpdateMissingOfficer", convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{Crew: &[]convoi.OfficerID{9999}}}, convoi.EINVALID},
			{"UpdateStaleVersion", convoi.TransitionRequest{Action: convoi.ActionAssess, Update: &convoi.MovementUpdate{Version: 7}}, convoi.ECONFLICT},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.Movements.TransitionMovement(e.ctx, m.ID, tc.req)
				wantCode(t, err, tc.code)
			})
		}
		_, err := e.Movements.TransitionMovement(e.ctx, 9999, request(convoi.ActionAssess))
		wantCode(t, err, convoi.ENOTFOUND)
		got, err := e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "state", got.State, convoi.StateRequested)
		same(t, "version", got.Version, 1)
		same(t, "escort level", got.EscortLevel, convoi.EscortLevel(0))
		same(t, "crew", got.Crew, []convoi.OfficerID{})
		trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
		must(t, err)
		same(t, "transitions", len(trs), 0)
	})

	t.Run("WithUpdate", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-U", T0.Add(24*time.Hour))
		must(t, e.Movements.CreateMovement(e.ctx, m))
		got, err := e.Movements.TransitionMovement(e.ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess,
			Update: &convoi.MovementUpdate{EscortLevel: ptr(convoi.EscortLevel(4)), Version: 1}})
		must(t, err)
		same(t, "escort level", got.EscortLevel, convoi.EscortLevel(4))
		dep := T0.Add(23 * time.Hour)
		route := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.7310, Lon: 7.4190}, {Lat: 43.7302, Lon: 7.4222}}, DistanceM: 400, DurationS: 90}
		_, err = e.Movements.TransitionMovement(e.ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionPlan,
			Update: &convoi.MovementUpdate{PlannedDeparture: &dep, Route: route,
				Crew: &[]convoi.OfficerID{w.Officers[0].ID, w.Officers[1].ID}, Vehicles: &[]convoi.VehicleID{w.Vans[0].ID}}})
		must(t, err)
		got, err = e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "state", got.State, convoi.StatePlanned)
		same(t, "version", got.Version, 3)
		same(t, "escort level kept", got.EscortLevel, convoi.EscortLevel(4))
		same(t, "route", got.Route, route)
		same(t, "crew", got.Crew, []convoi.OfficerID{w.Officers[0].ID, w.Officers[1].ID})
		same(t, "vehicles", got.Vehicles, []convoi.VehicleID{w.Vans[0].ID})
		sameTime(t, "departure", *got.PlannedDeparture, dep)
		ms, n, err := e.Movements.FindMovements(e.ctx, convoi.MovementFilter{CrewMember: &w.Officers[1].ID})
		must(t, err)
		same(t, "crew filter after plan", [2]int{n, len(ms)}, [2]int{1, 1})

		// A failing update inside a legal transition rolls the transition back.
		_, err = e.Movements.TransitionMovement(e.ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease,
			Update: &convoi.MovementUpdate{Vehicles: &[]convoi.VehicleID{w.Vans[0].ID, 9999}}})
		wantCode(t, err, convoi.EINVALID)
		got, err = e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "state after rollback", got.State, convoi.StatePlanned)
		same(t, "vehicles after rollback", got.Vehicles, []convoi.VehicleID{w.Vans[0].ID})
		trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
		must(t, err)
		same(t, "transitions after rollback", len(trs), 2)
	})

	t.Run("OverrideAndUpdateRecorded", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-OV", T0.Add(24*time.Hour))
		must(t, e.Movements.CreateMovement(e.ctx, m))
		// A change outside transitions leaves a history record too.
		req := "Greffe du TJ"
		got, err := e.Movements.UpdateMovement(e.ctx2, m.ID, convoi.MovementUpdate{Requester: &req, Crew: &[]convoi.OfficerID{w.Officers[0].ID}, Reason: "Requester corrected."})
		must(t, err)
		same(t, "requester", got.Requester, req)
		for _, a := range []convoi.Action{convoi.ActionAssess, convoi.ActionPlan} {
			_, err := e.Movements.TransitionMovement(e.ctx, m.ID, request(a))
			must(t, err)
		}
		_, err = e.Movements.TransitionMovement(e.ctx2, m.ID, convoi.TransitionRequest{Action: convoi.ActionRelease,
			Reason: "Hearing cannot move; reinforcements join at the toll plaza.", Override: "crew of 1, level 3 needs 5"})
		must(t, err)
		trs, err := e.Movements.FindTransitions(e.ctx, m.ID)
		must(t, err)
		same(t, "records", len(trs), 4)
		up := trs[0]
		same(t, "update record", [3]string{string(up.Action), string(up.From), string(up.To)},
			[3]string{string(convoi.ActionUpdate), string(convoi.StateRequested), string(convoi.StateRequested)})
		same(t, "update reason", up.Reason, "Changed requester, crew. Requester corrected.")
		same(t, "update by", up.By, author2)
		same(t, "override", trs[3].Override, "crew of 1, level 3 needs 5")
		same(t, "override reason", trs[3].Reason, "Hearing cannot move; reinforcements join at the toll plaza.")
		same(t, "override by", trs[3].By, author2)
		same(t, "plan has no override", trs[2].Override, "")
	})
}
