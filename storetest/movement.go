package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testMovement(t *testing.T, open OpenFunc) {
	t.Run("CreateAndFind", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-2026-0001", T0.Add(26*time.Hour))
		m.State = convoi.StateReleased // ignored: a new movement is requested
		m.Crew = []convoi.OfficerID{w.Officers[2].ID, w.Officers[0].ID}
		m.Vehicles = []convoi.VehicleID{w.Vans[1].ID}
		must(t, e.Movements.CreateMovement(e.ctx, m))
		got, err := e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "ref", got.Ref, "MC-2026-0001")
		same(t, "state", got.State, convoi.StateRequested)
		same(t, "version", got.Version, 1)
		same(t, "detainee", got.DetaineeID, w.Detainee.ID)
		same(t, "from", got.FromSiteID, w.Prison.ID)
		same(t, "to", got.ToSiteID, w.Court.ID)
		same(t, "purpose", got.Purpose, convoi.PurposeCourtAppearance)
		same(t, "requester", got.Requester, "Juge Martin")
		same(t, "crew in order", got.Crew, []convoi.OfficerID{w.Officers[2].ID, w.Officers[0].ID})
		same(t, "vehicles", got.Vehicles, []convoi.VehicleID{w.Vans[1].ID})
		same(t, "created_by", got.CreatedBy, author)
		sameTime(t, "appointment", got.AppointmentAt, m.AppointmentAt)
		sameTime(t, "created_at", got.CreatedAt, T0)
		if got.PlannedDeparture != nil || got.Route != nil {
			t.Fatalf("schedule set on a new movement: %+v", got)
		}
		_, err = e.Movements.FindMovementByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		must(t, e.Movements.CreateMovement(e.ctx, w.movement("MC-2026-0001", T0)))
		for _, tc := range []struct {
			name   string
			modify func(m *convoi.Movement)
			code   string
		}{
			{"DuplicateRef", func(m *convoi.Movement) { m.Ref = "MC-2026-0001" }, convoi.ECONFLICT},
			{"BadRef", func(m *convoi.Movement) { m.Ref = "mc 1" }, convoi.EINVALID},
			{"SameSites", func(m *convoi.Movement) { m.ToSiteID = m.FromSiteID }, convoi.EINVALID},
			{"BadPurpose", func(m *convoi.Movement) { m.Purpose = "holiday" }, convoi.EINVALID},
			{"NoAppointment", func(m *convoi.Movement) { m.AppointmentAt = time.Time{} }, convoi.EINVALID},
			{"NoRequester", func(m *convoi.Movement) { m.Requester = " " }, convoi.EINVALID},
			{"EscortLevel", func(m *convoi.Movement) { m.EscortLevel = 5 }, convoi.EINVALID},
			{"MissingDetainee", func(m *convoi.Movement) { m.DetaineeID = 9999 }, convoi.EINVALID},
			{"MissingFromSite", func(m *convoi.Movement) { m.FromSiteID = 9999 }, convoi.EINVALID},
			{"MissingToSite", func(m *convoi.Movement) { m.ToSiteID = 9999 }, convoi.EINVALID},
			{"MissingOfficer", func(m *convoi.Movement) { m.Crew = []convoi.OfficerID{w.Officers[0].ID, 9999} }, convoi.EINVALID},
			{"DuplicateOfficer", func(m *convoi.Movement) { m.Crew = []convoi.OfficerID{w.Officers[0].ID, w.Officers[0].ID} }, convoi.EINVALID},
			{"MissingVehicle", func(m *convoi.Movement) { m.Vehicles = []convoi.VehicleID{9999} }, convoi.EINVALID},
			{"RouteOutOfRange", func(m *convoi.Movement) {
				m.Route = &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.7, Lon: 7.4}, {Lat: 143.7, Lon: 7.4}}}
			}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := w.movement("MC-2026-0002", T0)
				tc.modify(m)
				wantCode(t, e.Movements.CreateMovement(e.ctx, m), tc.code)
			})
		}
		_, n, err := e.Movements.FindMovements(e.ctx, convoi.MovementFilter{})
		must(t, err)
		same(t, "movements stored", n, 1)
		_, n, err = e.Movements.FindMovements(e.ctx, convoi.MovementFilter{CrewMember: &w.Officers[0].ID})
		must(t, err)
		same(t, "crew assignments stored by failed creates", n, 0)
	})

	t.Run("Update", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := w.movement("MC-2026-0001", T0.Add(24*time.Hour))
		m.Crew = []convoi.OfficerID{w.Officers[0].ID}
		must(t, e.Movements.CreateMovement(e.ctx, m))
		e.clock.Add(time.Minute)
		dep := T0.Add(23 * time.Hour)
		route := &convoi.RouteSummary{Geometry: []convoi.LatLon{{Lat: 43.7310, Lon: 7.4190}, {Lat: 43.7302, Lon: 7.4222}},
			DistanceM: 412.5, DurationS: 95, Chokepoints: []string{"Tunnel Rainier III"}}
		got, err := e.Movements.UpdateMovement(e.ctx2, m.ID, convoi.MovementUpdate{
			Crew: &[]convoi.OfficerID{w.Officers[1].ID, w.Officers[2].ID}, Vehicles: &[]convoi.VehicleID{w.Vans[0].ID},
			EscortLevel: ptr(convoi.EscortLevel(3)), PlannedDeparture: &dep, Route: route, Version: 1})
		must(t, err)
		same(t, "returned version", got.Version, 2)
		got, err = e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "version", got.Version, 2)
		same(t, "crew", got.Crew, []convoi.OfficerID{w.Officers[1].ID, w.Officers[2].ID})
		same(t, "vehicles", got.Vehicles, []convoi.VehicleID{w.Vans[0].ID})
		same(t, "escort level", got.EscortLevel, convoi.EscortLevel(3))
		same(t, "route", got.Route, route)
		sameTime(t, "planned departure", *got.PlannedDeparture, dep)
		same(t, "updated_by", got.UpdatedBy, author2)
		same(t, "created_by kept", got.CreatedBy, author)
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Minute))
		same(t, "state unchanged", got.State, convoi.StateRequested)

		// Stale version, invalid values and missing references change nothing.
		_, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Requester: ptr("x"), Version: 1})
		wantCode(t, err, convoi.ECONFLICT)
		_, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Crew: &[]convoi.OfficerID{w.Officers[0].ID, 9999}})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Purpose: ptr(convoi.Purpose("holiday"))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Movements.UpdateMovement(e.ctx, 9999, convoi.MovementUpdate{Requester: ptr("x")})
		wantCode(t, err, convoi.ENOTFOUND)
		got, err = e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "version after failures", got.Version, 2)
		same(t, "crew after failures", got.Crew, []convoi.OfficerID{w.Officers[1].ID, w.Officers[2].ID})

		// Clearing the crew.
		got, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Crew: &[]convoi.OfficerID{}})
		must(t, err)
		got, err = e.Movements.FindMovementByID(e.ctx, m.ID)
		must(t, err)
		same(t, "crew cleared", got.Crew, []convoi.OfficerID{})
		same(t, "vehicles kept", got.Vehicles, []convoi.VehicleID{w.Vans[0].ID})

		// A terminal movement is history.
		_, err = e.Movements.TransitionMovement(e.ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionCancel, CancelReason: convoi.CancelVideoHearing})
		must(t, err)
		_, err = e.Movements.UpdateMovement(e.ctx, m.ID, convoi.MovementUpdate{Requester: ptr("x")})
		wantCode(t, err, convoi.ECONFLICT)
	})

	t.Run("Filter", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		a := w.movement("MC-A", T0.Add(3*time.Hour))
		a.Crew = []convoi.OfficerID{w.Officers[0].ID, w.Officers[1].ID}
		b := w.movement("MC-B", T0.Add(1*time.Hour)) // earlier appointment, listed first
		b.Crew = []convoi.OfficerID{w.Officers[1].ID}
		a.Vehicles = []convoi.VehicleID{w.Vans[0].ID}
		c := w.movement("MC-C", T0.Add(2*time.Hour))
		c.Vehicles = []convoi.VehicleID{w.Vans[0].ID}
		c.ToSiteID = w.Hospital.ID
		c.Purpose = convoi.PurposeMedical
		c.DetaineeID = w.Other.ID
		d := w.movement("MC-D", T0.Add(4*time.Hour))
		d.FromSiteID, d.ToSiteID = w.Court.ID, w.Hospital.ID
		for _, m := range []*convoi.Movement{a, b, c, d} {
			must(t, e.Movements.CreateMovement(e.ctx, m))
		}
		_, err := e.Movements.TransitionMovement(e.ctx, c.ID, convoi.TransitionRequest{Action: convoi.ActionAssess})
		must(t, err)
		for _, tc := range []struct {
			name   string
			filter convoi.MovementFilter
			want   []*convoi.Movement
		}{
			{"AllByAppointment", convoi.MovementFilter{}, []*convoi.Movement{b, c, a, d}},
			{"ID", convoi.MovementFilter{ID: &a.ID}, []*convoi.Movement{a}},
			{"Ref", convoi.MovementFilter{Ref: ptr("MC-C")}, []*convoi.Movement{c}},
			{"Detainee", convoi.MovementFilter{DetaineeID: &w.Other.ID}, []*convoi.Movement{c}},
			{"State", convoi.MovementFilter{State: ptr(convoi.StateAssessed)}, []*convoi.Movement{c}},
			{"SiteFrom", convoi.MovementFilter{Site: &w.Prison.ID}, []*convoi.Movement{b, c, a}},
			{"SiteFromOrTo", convoi.MovementFilter{Site: &w.Court.ID}, []*convoi.Movement{b, a, d}},
			{"SiteTo", convoi.MovementFilter{Site: &w.Hospital.ID}, []*convoi.Movement{c, d}},
			{"CrewMember", convoi.MovementFilter{CrewMember: &w.Officers[1].ID}, []*convoi.Movement{b, a}},
			{"CrewMemberOne", convoi.MovementFilter{CrewMember: &w.Officers[0].ID}, []*convoi.Movement{a}},
			{"CrewMemberNone", convoi.MovementFilter{CrewMember: &w.Officers[2].ID}, nil},
			{"Vehicle", convoi.MovementFilter{Vehicle: &w.Vans[0].ID}, []*convoi.Movement{c, a}},
			{"VehicleNone", convoi.MovementFilter{Vehicle: ptr(convoi.VehicleID(9999))}, nil},
			{"CrewMemberAndSite", convoi.MovementFilter{CrewMember: &w.Officers[1].ID, Site: &w.Hospital.ID}, nil},
			{"AppointmentFromInclusive", convoi.MovementFilter{AppointmentFrom: ptr(T0.Add(3 * time.Hour))}, []*convoi.Movement{a, d}},
			{"AppointmentToExclusive", convoi.MovementFilter{AppointmentTo: ptr(T0.Add(2 * time.Hour))}, []*convoi.Movement{b}},
			{"AppointmentWindow", convoi.MovementFilter{AppointmentFrom: ptr(T0.Add(90 * time.Minute)), AppointmentTo: ptr(T0.Add(210 * time.Minute))}, []*convoi.Movement{c, a}},
			{"AppointmentOtherZone", convoi.MovementFilter{AppointmentFrom: ptr(T0.Add(3 * time.Hour).In(time.FixedZone("CET", 3600)))}, []*convoi.Movement{a, d}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Movements.FindMovements(e.ctx, tc.filter)
				must(t, err)
				same(t, "refs", refs(got), refs(tc.want))
				same(t, "total", n, len(tc.want))
			})
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		var want []*convoi.Movement
		for i := range 12 {
			m := w.movement(fmt.Sprintf("MC-P-%02d", i), T0.Add(time.Duration(i)*time.Hour))
			must(t, e.Movements.CreateMovement(e.ctx, m))
			want = append(want, m)
		}
		var all []*convoi.Movement
		for off := 0; off < 12; off += 5 {
			got, n, err := e.Movements.FindMovements(e.ctx, convoi.MovementFilter{Page: convoi.Page{Offset: off, Limit: 5}})
			must(t, err)
			same(t, "total", n, 12)
			all = append(all, got...)
		}
		same(t, "pages", refs(all), refs(want))
	})
}

func refs(ms []*convoi.Movement) []string {
	var a []string
	for _, m := range ms {
		a = append(a, m.Ref)
	}
	return a
}
