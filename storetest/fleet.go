package storetest

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testVehicle(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)

	t.Run("CreateAndFind", func(t *testing.T) {
		v := &convoi.Vehicle{Registration: "BB-100-MC", Class: convoi.VehicleArmouredVan, Capacity: 1}
		must(t, e.Vehicles.CreateVehicle(e.ctx, v))
		got, err := e.Vehicles.FindVehicleByID(e.ctx, v.ID)
		must(t, err)
		same(t, "registration", got.Registration, v.Registration)
		same(t, "class", got.Class, v.Class)
		same(t, "capacity", got.Capacity, 1)
		same(t, "site (none)", got.SiteID, convoi.SiteID(0))
		same(t, "created_by", got.CreatedBy, author)
		_, err = e.Vehicles.FindVehicleByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			v    convoi.Vehicle
			code string
		}{
			{"DuplicateRegistration", convoi.Vehicle{Registration: "AA-001-MC", Class: convoi.VehicleCar}, convoi.ECONFLICT},
			{"NoRegistration", convoi.Vehicle{Class: convoi.VehicleCar}, convoi.EINVALID},
			{"BadClass", convoi.Vehicle{Registration: "X1", Class: "tank"}, convoi.EINVALID},
			{"BadCapacity", convoi.Vehicle{Registration: "X1", Class: convoi.VehicleCar, Capacity: -1}, convoi.EINVALID},
			{"MissingSite", convoi.Vehicle{Registration: "X1", Class: convoi.VehicleCar, SiteID: 9999}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := tc.v
				wantCode(t, e.Vehicles.CreateVehicle(e.ctx, &v), tc.code)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		e.clock.Add(time.Minute)
		got, err := e.Vehicles.UpdateVehicle(e.ctx2, w.Vans[1].ID, convoi.VehicleUpdate{Capacity: ptr(4), SiteID: &w.Court.ID})
		must(t, err)
		same(t, "capacity", got.Capacity, 4)
		got, err = e.Vehicles.FindVehicleByID(e.ctx, w.Vans[1].ID)
		must(t, err)
		same(t, "stored capacity", got.Capacity, 4)
		same(t, "stored site", got.SiteID, w.Court.ID)
		same(t, "updated_by", got.UpdatedBy, author2)
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Minute))

		_, err = e.Vehicles.UpdateVehicle(e.ctx, w.Vans[1].ID, convoi.VehicleUpdate{Registration: ptr("AA-001-MC")})
		wantCode(t, err, convoi.ECONFLICT)
		_, err = e.Vehicles.UpdateVehicle(e.ctx, w.Vans[1].ID, convoi.VehicleUpdate{SiteID: ptr(convoi.SiteID(9999))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Vehicles.UpdateVehicle(e.ctx, 9999, convoi.VehicleUpdate{Capacity: ptr(1)})
		wantCode(t, err, convoi.ENOTFOUND)
		got, err = e.Vehicles.FindVehicleByID(e.ctx, w.Vans[1].ID)
		must(t, err)
		same(t, "registration after conflict", got.Registration, "AA-002-MC")
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.VehicleFilter
			want   int
		}{
			{"All", convoi.VehicleFilter{}, 3},
			{"Registration", convoi.VehicleFilter{Registration: ptr("AA-001-MC")}, 1},
			{"Class", convoi.VehicleFilter{Class: ptr(convoi.VehicleCellularVan)}, 2},
			{"Site", convoi.VehicleFilter{SiteID: &w.Prison.ID}, 1},
			{"ID", convoi.VehicleFilter{ID: &w.Vans[0].ID}, 1},
			{"None", convoi.VehicleFilter{Class: ptr(convoi.VehicleCar)}, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Vehicles.FindVehicles(e.ctx, tc.filter)
				must(t, err)
				same(t, "count", len(got), tc.want)
				same(t, "total", n, tc.want)
			})
		}
	})
}

func testOfficer(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)

	t.Run("CreateAndFind", func(t *testing.T) {
		got, err := e.Officers.FindOfficerByID(e.ctx, w.Officers[0].ID)
		must(t, err)
		same(t, "name", got.Name, "Officer A")
		same(t, "unit", got.Unit, "PREJ Monaco")
		same(t, "qualifications", got.Qualifications, []convoi.Qualification{convoi.QualDriver, convoi.QualArmed})
		same(t, "site", got.SiteID, w.Prison.ID)
		same(t, "created_by", got.CreatedBy, author)
		o := &convoi.Officer{Name: "Officer D", Unit: "ERIS"}
		must(t, e.Officers.CreateOfficer(e.ctx, o))
		got, err = e.Officers.FindOfficerByID(e.ctx, o.ID)
		must(t, err)
		same(t, "empty qualifications", got.Qualifications, []convoi.Qualification{})
		_, err = e.Officers.FindOfficerByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			o    convoi.Officer
		}{
			{"NoName", convoi.Officer{Unit: "u"}},
			{"NoUnit", convoi.Officer{Name: "n"}},
			{"BadQualification", convoi.Officer{Name: "n", Unit: "u", Qualifications: []convoi.Qualification{"pilot"}}},
			{"MissingSite", convoi.Officer{Name: "n", Unit: "u", SiteID: 9999}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.o
				wantCode(t, e.Officers.CreateOfficer(e.ctx, &o), convoi.EINVALID)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		got, err := e.Officers.UpdateOfficer(e.ctx2, w.Officers[2].ID, convoi.OfficerUpdate{
			Qualifications: &[]convoi.Qualification{convoi.QualSpecialised, convoi.QualArmed}})
		must(t, err)
		got, err = e.Officers.FindOfficerByID(e.ctx, got.ID)
		must(t, err)
		same(t, "qualifications", got.Qualifications, []convoi.Qualification{convoi.QualSpecialised, convoi.QualArmed})
		same(t, "updated_by", got.UpdatedBy, author2)
		_, err = e.Officers.UpdateOfficer(e.ctx, w.Officers[2].ID, convoi.OfficerUpdate{Qualifications: &[]convoi.Qualification{"pilot"}})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Officers.UpdateOfficer(e.ctx, 9999, convoi.OfficerUpdate{Name: ptr("x")})
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.OfficerFilter
			want   int
		}{
			{"All", convoi.OfficerFilter{}, 4},
			{"Unit", convoi.OfficerFilter{Unit: ptr("PREJ Monaco")}, 3},
			{"Site", convoi.OfficerFilter{SiteID: &w.Prison.ID}, 3},
			{"Armed", convoi.OfficerFilter{Qualification: ptr(convoi.QualArmed)}, 2},
			{"Specialised", convoi.OfficerFilter{Qualification: ptr(convoi.QualSpecialised)}, 1},
			{"ID", convoi.OfficerFilter{ID: &w.Officers[1].ID}, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Officers.FindOfficers(e.ctx, tc.filter)
				must(t, err)
				same(t, "count", len(got), tc.want)
				same(t, "total", n, tc.want)
			})
		}
	})
}

func testTracker(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	van := &convoi.Tracker{DeviceID: "356307042441013", Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: w.Vans[0].ID}
	phone := &convoi.Tracker{DeviceID: "officer-a-phone", Protocol: convoi.ProtocolOsmAnd, OfficerID: w.Officers[0].ID}

	t.Run("CreateAndFind", func(t *testing.T) {
		must(t, e.Trackers.CreateTracker(e.ctx, van))
		must(t, e.Trackers.CreateTracker(e.ctx, phone))
		got, err := e.Trackers.FindTrackerByDeviceID(e.ctx, van.DeviceID)
		must(t, err)
		same(t, "id", got.ID, van.ID)
		same(t, "protocol", got.Protocol, convoi.ProtocolTeltonika)
		same(t, "model", got.Model, "FMC130")
		same(t, "vehicle", got.VehicleID, w.Vans[0].ID)
		same(t, "officer", got.OfficerID, convoi.OfficerID(0))
		same(t, "created_by", got.CreatedBy, author)
		got, err = e.Trackers.FindTrackerByID(e.ctx, phone.ID)
		must(t, err)
		same(t, "device", got.DeviceID, phone.DeviceID)
		same(t, "officer", got.OfficerID, w.Officers[0].ID)
		_, err = e.Trackers.FindTrackerByDeviceID(e.ctx, "356307042441099")
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Trackers.FindTrackerByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tr   convoi.Tracker
			code string
		}{
			{"DuplicateDevice", convoi.Tracker{DeviceID: "356307042441013", Protocol: convoi.ProtocolTeltonika}, convoi.ECONFLICT},
			{"BadDeviceID", convoi.Tracker{DeviceID: "bad id!", Protocol: convoi.ProtocolOsmAnd}, convoi.EINVALID},
			{"TeltonikaNotIMEI", convoi.Tracker{DeviceID: "12345", Protocol: convoi.ProtocolTeltonika}, convoi.EINVALID},
			{"BadProtocol", convoi.Tracker{DeviceID: "x1", Protocol: "gt06"}, convoi.EINVALID},
			{"BothBindings", convoi.Tracker{DeviceID: "x1", Protocol: convoi.ProtocolMQTT, VehicleID: w.Vans[0].ID, OfficerID: w.Officers[0].ID}, convoi.EINVALID},
			{"MissingVehicle", convoi.Tracker{DeviceID: "x1", Protocol: convoi.ProtocolMQTT, VehicleID: 9999}, convoi.EINVALID},
			{"MissingOfficer", convoi.Tracker{DeviceID: "x1", Protocol: convoi.ProtocolMQTT, OfficerID: 9999}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tr := tc.tr
				wantCode(t, e.Trackers.CreateTracker(e.ctx, &tr), tc.code)
			})
		}
		_, n, err := e.Trackers.FindTrackers(e.ctx, convoi.TrackerFilter{})
		must(t, err)
		same(t, "trackers stored", n, 2)
	})

	t.Run("Rebind", func(t *testing.T) {
		got, err := e.Trackers.UpdateTracker(e.ctx2, van.ID, convoi.TrackerUpdate{OfficerID: &w.Officers[1].ID})
		must(t, err)
		same(t, "vehicle cleared", got.VehicleID, convoi.VehicleID(0))
		got, err = e.Trackers.FindTrackerByID(e.ctx, van.ID)
		must(t, err)
		same(t, "stored officer", got.OfficerID, w.Officers[1].ID)
		same(t, "stored vehicle", got.VehicleID, convoi.VehicleID(0))
		same(t, "updated_by", got.UpdatedBy, author2)

		got, err = e.Trackers.UpdateTracker(e.ctx, van.ID, convoi.TrackerUpdate{VehicleID: &w.Vans[1].ID, Disabled: ptr(true)})
		must(t, err)
		got, err = e.Trackers.FindTrackerByID(e.ctx, van.ID)
		must(t, err)
		same(t, "vehicle", got.VehicleID, w.Vans[1].ID)
		same(t, "officer cleared", got.OfficerID, convoi.OfficerID(0))
		same(t, "disabled", got.Disabled, true)

		_, err = e.Trackers.UpdateTracker(e.ctx, van.ID, convoi.TrackerUpdate{VehicleID: ptr(convoi.VehicleID(9999))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Trackers.UpdateTracker(e.ctx, 9999, convoi.TrackerUpdate{Disabled: ptr(false)})
		wantCode(t, err, convoi.ENOTFOUND)

		// Unbind.
		got, err = e.Trackers.UpdateTracker(e.ctx, van.ID, convoi.TrackerUpdate{VehicleID: ptr(convoi.VehicleID(0))})
		must(t, err)
		got, err = e.Trackers.FindTrackerByID(e.ctx, van.ID)
		must(t, err)
		same(t, "unbound", [2]int64{int64(got.VehicleID), int64(got.OfficerID)}, [2]int64{0, 0})
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.TrackerFilter
			want   []convoi.TrackerID
		}{
			{"All", convoi.TrackerFilter{}, []convoi.TrackerID{van.ID, phone.ID}},
			{"Device", convoi.TrackerFilter{DeviceID: &phone.DeviceID}, []convoi.TrackerID{phone.ID}},
			{"Protocol", convoi.TrackerFilter{Protocol: ptr(convoi.ProtocolTeltonika)}, []convoi.TrackerID{van.ID}},
			{"Officer", convoi.TrackerFilter{OfficerID: &w.Officers[0].ID}, []convoi.TrackerID{phone.ID}},
			{"Vehicle", convoi.TrackerFilter{VehicleID: &w.Vans[0].ID}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Trackers.FindTrackers(e.ctx, tc.filter)
				must(t, err)
				var ids []convoi.TrackerID
				for _, tr := range got {
					ids = append(ids, tr.ID)
				}
				same(t, "ids", ids, tc.want)
				same(t, "total", n, len(tc.want))
			})
		}
	})
}
