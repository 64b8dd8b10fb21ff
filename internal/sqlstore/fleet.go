package sqlstore

import (
	"context"

	"github.com/convoi/convoi"
)

var (
	_ convoi.VehicleService = (*VehicleService)(nil)
	_ convoi.OfficerService = (*OfficerService)(nil)
	_ convoi.TrackerService = (*TrackerService)(nil)
)

// VehicleService implements convoi.VehicleService.
type VehicleService struct{ db *Store }

// NewVehicleService returns a VehicleService on db.
func NewVehicleService(db *Store) *VehicleService { return &VehicleService{db: db} }

// FindVehicleByID returns the vehicle, ENOTFOUND if there is none.
func (s *VehicleService) FindVehicleByID(ctx context.Context, id convoi.VehicleID) (*convoi.Vehicle, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findVehicleByID(ctx, tx, id)
}

// FindVehicles returns a page of vehicles ordered by ID and the total number of matches.
// Registration matches exactly.
func (s *VehicleService) FindVehicles(ctx context.Context, f convoi.VehicleFilter) ([]*convoi.Vehicle, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findVehicles(ctx, tx, f)
}

// CreateVehicle validates and stores v; a registration in use is ECONFLICT.
func (s *VehicleService) CreateVehicle(ctx context.Context, v *convoi.Vehicle) error {
	if v == nil {
		return convoi.Errorf(convoi.EINVALID, "Vehicle required.")
	}
	if err := v.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "sites", "Site", int64(v.SiteID)); err != nil {
		return err
	}
	v.CreatedBy, v.UpdatedBy = tx.by, tx.by
	v.CreatedAt, v.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO vehicles (registration, class, capacity, site_id,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Registration, v.Class, v.Capacity, nullID(v.SiteID),
		v.CreatedBy, v.UpdatedBy, tx.time(v.CreatedAt), tx.time(v.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Vehicle registration "+v.Registration+" already exists.")
	}
	v.ID = convoi.VehicleID(id)
	return tx.Commit()
}

// UpdateVehicle applies upd and returns the vehicle as stored.
func (s *VehicleService) UpdateVehicle(ctx context.Context, id convoi.VehicleID, upd convoi.VehicleUpdate) (*convoi.Vehicle, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	v, err := findVehicleByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(v); err != nil {
		return nil, err
	}
	if err := tx.mustExist(ctx, "sites", "Site", int64(v.SiteID)); err != nil {
		return nil, err
	}
	v.UpdatedBy, v.UpdatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE vehicles SET registration = ?, class = ?, capacity = ?, site_id = ?,
		updated_by = ?, updated_at = ? WHERE id = ?`,
		v.Registration, v.Class, v.Capacity, nullID(v.SiteID), v.UpdatedBy, tx.time(v.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Vehicle registration "+v.Registration+" already exists.")
	}
	return v, tx.Commit()
}

func findVehicleByID(ctx context.Context, tx *Tx, id convoi.VehicleID) (*convoi.Vehicle, error) {
	a, _, err := findVehicles(ctx, tx, convoi.VehicleFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Vehicle %d not found.", id)
	}
	return a[0], nil
}

func findVehicles(ctx context.Context, tx *Tx, f convoi.VehicleFilter) ([]*convoi.Vehicle, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.Registration != nil {
		w.add("registration = ?", *f.Registration)
	}
	if f.Class != nil {
		w.add("class = ?", *f.Class)
	}
	if f.SiteID != nil {
		w.add("site_id = ?", *f.SiteID)
	}
	n, err := tx.count(ctx, "vehicles", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, registration, class, capacity, site_id,
		created_by, updated_by, created_at, updated_at FROM vehicles`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Vehicle
	for rows.Next() {
		var v convoi.Vehicle
		if err := rows.Scan(&v.ID, &v.Registration, &v.Class, &v.Capacity, idCol[convoi.SiteID]{&v.SiteID},
			&v.CreatedBy, &v.UpdatedBy, timeCol{&v.CreatedAt}, timeCol{&v.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		a = append(a, &v)
	}
	return orEmpty(a), n, rows.Err()
}

// OfficerService implements convoi.OfficerService.
type OfficerService struct{ db *Store }

// NewOfficerService returns an OfficerService on db.
func NewOfficerService(db *Store) *OfficerService { return &OfficerService{db: db} }

// FindOfficerByID returns the officer, ENOTFOUND if there is none.
func (s *OfficerService) FindOfficerByID(ctx context.Context, id convoi.OfficerID) (*convoi.Officer, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findOfficerByID(ctx, tx, id)
}

// FindOfficers returns a page of officers ordered by ID and the total number of matches.
// Unit matches exactly.
func (s *OfficerService) FindOfficers(ctx context.Context, f convoi.OfficerFilter) ([]*convoi.Officer, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findOfficers(ctx, tx, f)
}

// CreateOfficer validates and stores o.
func (s *OfficerService) CreateOfficer(ctx context.Context, o *convoi.Officer) error {
	if o == nil {
		return convoi.Errorf(convoi.EINVALID, "Officer required.")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	quals, err := toJSON("Qualifications", o.Qualifications)
	if err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "sites", "Site", int64(o.SiteID)); err != nil {
		return err
	}
	o.CreatedBy, o.UpdatedBy = tx.by, tx.by
	o.CreatedAt, o.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO officers (name, unit, qualifications, site_id,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		o.Name, o.Unit, quals, nullID(o.SiteID), o.CreatedBy, o.UpdatedBy, tx.time(o.CreatedAt), tx.time(o.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Officer already exists.")
	}
	o.ID = convoi.OfficerID(id)
	return tx.Commit()
}

// UpdateOfficer applies upd and returns the officer as stored.
func (s *OfficerService) UpdateOfficer(ctx context.Context, id convoi.OfficerID, upd convoi.OfficerUpdate) (*convoi.Officer, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	o, err := findOfficerByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(o); err != nil {
		return nil, err
	}
	if err := tx.mustExist(ctx, "sites", "Site", int64(o.SiteID)); err != nil {
		return nil, err
	}
	quals, err := toJSON("Qualifications", o.Qualifications)
	if err != nil {
		return nil, err
	}
	o.UpdatedBy, o.UpdatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE officers SET name = ?, unit = ?, qualifications = ?, site_id = ?,
		updated_by = ?, updated_at = ? WHERE id = ?`,
		o.Name, o.Unit, quals, nullID(o.SiteID), o.UpdatedBy, tx.time(o.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Officer already exists.")
	}
	return o, tx.Commit()
}

func findOfficerByID(ctx context.Context, tx *Tx, id convoi.OfficerID) (*convoi.Officer, error) {
	a, _, err := findOfficers(ctx, tx, convoi.OfficerFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Officer %d not found.", id)
	}
	return a[0], nil
}

func findOfficers(ctx context.Context, tx *Tx, f convoi.OfficerFilter) ([]*convoi.Officer, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.Unit != nil {
		w.add("unit = ?", *f.Unit)
	}
	if f.SiteID != nil {
		w.add("site_id = ?", *f.SiteID)
	}
	if f.Qualification != nil {
		w.add(tx.db.sql.officerQualification, *f.Qualification)
	}
	n, err := tx.count(ctx, "officers", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, name, unit, qualifications, site_id,
		created_by, updated_by, created_at, updated_at FROM officers`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Officer
	for rows.Next() {
		var o convoi.Officer
		if err := rows.Scan(&o.ID, &o.Name, &o.Unit, jsonCol{&o.Qualifications}, idCol[convoi.SiteID]{&o.SiteID},
			&o.CreatedBy, &o.UpdatedBy, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		if o.Qualifications == nil {
			o.Qualifications = []convoi.Qualification{}
		}
		a = append(a, &o)
	}
	return orEmpty(a), n, rows.Err()
}

// TrackerService implements convoi.TrackerService.
type TrackerService struct{ db *Store }

// NewTrackerService returns a TrackerService on db.
func NewTrackerService(db *Store) *TrackerService { return &TrackerService{db: db} }

// FindTrackerByID returns the tracker, ENOTFOUND if there is none.
func (s *TrackerService) FindTrackerByID(ctx context.Context, id convoi.TrackerID) (*convoi.Tracker, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findTracker(ctx, tx, convoi.TrackerFilter{ID: &id}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "Tracker %d not found.", id)
	})
}

// FindTrackerByDeviceID returns the tracker with device ID d (disabled or
// not: the caller decides), ENOTFOUND if the device is unknown.
func (s *TrackerService) FindTrackerByDeviceID(ctx context.Context, d convoi.DeviceID) (*convoi.Tracker, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findTracker(ctx, tx, convoi.TrackerFilter{DeviceID: &d}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "Tracker with device_id %q not found.", d)
	})
}

// FindTrackers returns a page of trackers ordered by ID and the total number of matches.
func (s *TrackerService) FindTrackers(ctx context.Context, f convoi.TrackerFilter) ([]*convoi.Tracker, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findTrackers(ctx, tx, f)
}

// CreateTracker validates and stores t; a device ID in use is ECONFLICT, a
// missing vehicle or officer EINVALID.
func (s *TrackerService) CreateTracker(ctx context.Context, t *convoi.Tracker) error {
	if t == nil {
		return convoi.Errorf(convoi.EINVALID, "Tracker required.")
	}
	if err := t.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := checkTrackerRefs(ctx, tx, t); err != nil {
		return err
	}
	t.CreatedBy, t.UpdatedBy = tx.by, tx.by
	t.CreatedAt, t.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO trackers (device_id, protocol, model, vehicle_id, officer_id, disabled,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.DeviceID, t.Protocol, t.Model, nullID(t.VehicleID), nullID(t.OfficerID), t.Disabled,
		t.CreatedBy, t.UpdatedBy, tx.time(t.CreatedAt), tx.time(t.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Tracker device_id "+string(t.DeviceID)+" already exists.")
	}
	t.ID = convoi.TrackerID(id)
	return tx.Commit()
}

// UpdateTracker applies upd (binding, model, disabled) and returns the tracker as stored.
func (s *TrackerService) UpdateTracker(ctx context.Context, id convoi.TrackerID, upd convoi.TrackerUpdate) (*convoi.Tracker, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	t, err := findTracker(ctx, tx, convoi.TrackerFilter{ID: &id}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "Tracker %d not found.", id)
	})
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(t); err != nil {
		return nil, err
	}
	if err := checkTrackerRefs(ctx, tx, t); err != nil {
		return nil, err
	}
	t.UpdatedBy, t.UpdatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE trackers SET model = ?, vehicle_id = ?, officer_id = ?, disabled = ?,
		updated_by = ?, updated_at = ? WHERE id = ?`,
		t.Model, nullID(t.VehicleID), nullID(t.OfficerID), t.Disabled, t.UpdatedBy, tx.time(t.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Tracker already exists.")
	}
	return t, tx.Commit()
}

func checkTrackerRefs(ctx context.Context, tx *Tx, t *convoi.Tracker) error {
	if err := tx.mustExist(ctx, "vehicles", "Vehicle", int64(t.VehicleID)); err != nil {
		return err
	}
	return tx.mustExist(ctx, "officers", "Officer", int64(t.OfficerID))
}

func findTracker(ctx context.Context, tx *Tx, f convoi.TrackerFilter, notFound func() error) (*convoi.Tracker, error) {
	f.Page = convoi.Page{Limit: 1}
	a, _, err := findTrackers(ctx, tx, f)
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, notFound()
	}
	return a[0], nil
}

func findTrackers(ctx context.Context, tx *Tx, f convoi.TrackerFilter) ([]*convoi.Tracker, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.DeviceID != nil {
		w.add("device_id = ?", *f.DeviceID)
	}
	if f.Protocol != nil {
		w.add("protocol = ?", *f.Protocol)
	}
	if f.VehicleID != nil {
		w.add("vehicle_id = ?", *f.VehicleID)
	}
	if f.OfficerID != nil {
		w.add("officer_id = ?", *f.OfficerID)
	}
	n, err := tx.count(ctx, "trackers", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, device_id, protocol, model, vehicle_id, officer_id, disabled,
		created_by, updated_by, created_at, updated_at FROM trackers`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Tracker
	for rows.Next() {
		var t convoi.Tracker
		if err := rows.Scan(&t.ID, &t.DeviceID, &t.Protocol, &t.Model, idCol[convoi.VehicleID]{&t.VehicleID},
			idCol[convoi.OfficerID]{&t.OfficerID}, &t.Disabled,
			&t.CreatedBy, &t.UpdatedBy, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		a = append(a, &t)
	}
	return orEmpty(a), n, rows.Err()
}
