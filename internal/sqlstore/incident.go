package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

var _ convoi.IncidentService = (*IncidentService)(nil)

// IncidentService implements convoi.IncidentService. Each call is one
// transaction; every write to an incident (update, sighting, unit
// assignment or release) bumps its Version in the same transaction.
type IncidentService struct{ db *Store }

// NewIncidentService returns an IncidentService on db.
func NewIncidentService(db *Store) *IncidentService { return &IncidentService{db: db} }

const incidentColumns = `id, movement_id, alarm_id, lat, lon, place_name, attack_at, vehicles_sought, instructions,
	state, declared_by, version, created_at, updated_at`

// DeclareIncident stores a new active incident.
func (s *IncidentService) DeclareIncident(ctx context.Context, i *convoi.Incident) error {
	if i == nil {
		return convoi.Errorf(convoi.EINVALID, "Incident required.")
	}
	if err := i.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "movements", "Movement", int64(i.MovementID)); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "alarms", "Alarm", int64(i.AlarmID)); err != nil {
		return err
	}
	v := *i
	v.ID, v.State, v.DeclaredBy, v.Version = 0, convoi.IncidentActive, tx.by, 1
	v.AttackAt = v.AttackAt.UTC()
	v.CreatedAt, v.UpdatedAt = tx.now, tx.now
	if v.VehiclesSought == nil {
		v.VehiclesSought = []string{}
	}
	vs, _ := json.Marshal(v.VehiclesSought)
	id, err := tx.insertContext(ctx, `INSERT INTO incidents (movement_id, alarm_id, lat, lon, place_name, attack_at, vehicles_sought,
		instructions, state, declared_by, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullID(v.MovementID), nullID(v.AlarmID), v.Place.Lat, v.Place.Lon, v.PlaceName, tx.time(v.AttackAt), string(vs),
		v.Instructions, v.State, v.DeclaredBy, v.Version, tx.time(v.CreatedAt), tx.time(v.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "An incident was already declared from this alarm.")
	}
	v.ID = convoi.IncidentID(id)
	if err := tx.Commit(); err != nil {
		return err
	}
	*i = v
	return nil
}

// FindIncidentByID returns the incident, ENOTFOUND if there is none.
func (s *IncidentService) FindIncidentByID(ctx context.Context, id convoi.IncidentID) (*convoi.Incident, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findIncident(ctx, tx, id)
}

func findIncident(ctx context.Context, tx *Tx, id convoi.IncidentID) (*convoi.Incident, error) {
	l, err := queryIncidents(ctx, tx, " WHERE id = ?", id)
	if err != nil {
		return nil, err
	} else if len(l) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Incident not found.")
	}
	return l[0], nil
}

// FindIncidents lists incidents newest first.
func (s *IncidentService) FindIncidents(ctx context.Context, f convoi.IncidentFilter) ([]*convoi.Incident, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	w := &where{}
	if f.State != nil {
		w.add("state = ?", *f.State)
	}
	if f.MovementID != nil {
		w.add("movement_id = ?", *f.MovementID)
	}
	n, err := tx.count(ctx, "incidents", w)
	if err != nil {
		return nil, 0, err
	}
	l, err := queryIncidents(ctx, tx, w.String()+" ORDER BY id DESC"+limitOffset(f.Page), w.args...)
	return l, n, err
}

func queryIncidents(ctx context.Context, tx *Tx, tail string, args ...any) ([]*convoi.Incident, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents`+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.Incident
	for rows.Next() {
		var i convoi.Incident
		var vs string
		if err := rows.Scan(&i.ID, idCol[convoi.MovementID]{&i.MovementID}, idCol[convoi.AlarmID]{&i.AlarmID}, &i.Place.Lat, &i.Place.Lon,
			&i.PlaceName, timeCol{&i.AttackAt}, &vs, &i.Instructions, &i.State, &i.DeclaredBy, &i.Version,
			timeCol{&i.CreatedAt}, timeCol{&i.UpdatedAt}); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(vs), &i.VehiclesSought); err != nil {
			return nil, err
		}
		if i.VehiclesSought == nil {
			i.VehiclesSought = []string{}
		}
		out = append(out, &i)
	}
	return orEmpty(out), rows.Err()
}

// activeIncident loads an incident for a write: ENOTFOUND when missing,
// ECONFLICT when closed.
func activeIncident(ctx context.Context, tx *Tx, id convoi.IncidentID) (*convoi.Incident, error) {
	i, err := findIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if i.State != convoi.IncidentActive {
		return nil, convoi.Errorf(convoi.ECONFLICT, "Incident %d is closed.", id)
	}
	return i, nil
}

// bumpIncident records a write to the incident: version+1, updated_at.
func bumpIncident(ctx context.Context, tx *Tx, i *convoi.Incident) error {
	vs, _ := json.Marshal(i.VehiclesSought)
	prev := i.Version
	i.Version++
	i.UpdatedAt = tx.now
	n, err := tx.ExecContext(ctx, `UPDATE incidents SET lat = ?, lon = ?, place_name = ?, attack_at = ?, vehicles_sought = ?,
		instructions = ?, state = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
		i.Place.Lat, i.Place.Lon, i.PlaceName, tx.time(i.AttackAt), string(vs), i.Instructions, i.State, i.Version,
		tx.time(i.UpdatedAt), i.ID, prev)
	if err != nil {
		return err
	} else if n != 1 {
		return convoi.Errorf(convoi.ECONFLICT, "Incident was changed by someone else.")
	}
	return nil
}

// UpdateIncident changes an active incident. Closing it releases every
// unit still assigned to it.
func (s *IncidentService) UpdateIncident(ctx context.Context, id convoi.IncidentID, upd convoi.IncidentUpdate) (*convoi.Incident, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	i, err := activeIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	upd.Apply(i)
	if err := i.Validate(); err != nil {
		return nil, err
	}
	i.AttackAt = i.AttackAt.UTC()
	if i.VehiclesSought == nil {
		i.VehiclesSought = []string{}
	}
	if err := bumpIncident(ctx, tx, i); err != nil {
		return nil, err
	}
	if i.State == convoi.IncidentClosed {
		if _, err := tx.ExecContext(ctx, `UPDATE incident_units SET state = ?, released_by = ?, released_at = ?
			WHERE incident_id = ? AND state = ?`, convoi.UnitReleased, tx.by, tx.time(tx.now), id, convoi.UnitAssigned); err != nil {
			return nil, err
		}
	}
	return i, tx.Commit()
}

// AddSighting stores a sighting of an active incident.
func (s *IncidentService) AddSighting(ctx context.Context, in *convoi.Sighting) error {
	if in == nil {
		return convoi.Errorf(convoi.EINVALID, "Sighting required.")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	i, err := activeIncident(ctx, tx, in.IncidentID)
	if err != nil {
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			return convoi.Errorf(convoi.EINVALID, "Incident %d does not exist.", in.IncidentID)
		}
		return err
	}
	v := *in
	v.Time = v.Time.UTC()
	v.RecordedBy, v.CreatedAt = tx.by, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO incident_sightings (incident_id, lat, lon, place_name, time, confidence, note,
		recorded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.IncidentID, v.Place.Lat, v.Place.Lon, v.PlaceName, tx.time(v.Time), v.Confidence, v.Note, v.RecordedBy, tx.time(v.CreatedAt))
	if err != nil {
		return tx.writeErr(err, "Sighting already exists.")
	}
	v.ID = convoi.SightingID(id)
	if err := bumpIncident(ctx, tx, i); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	*in = v
	return nil
}

// FindSightings returns the incident's sightings by time, then ID.
func (s *IncidentService) FindSightings(ctx context.Context, id convoi.IncidentID) ([]*convoi.Sighting, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := findIncident(ctx, tx, id); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, incident_id, lat, lon, place_name, time, confidence, note, recorded_by, created_at
		FROM incident_sightings WHERE incident_id = ? ORDER BY time, id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.Sighting
	for rows.Next() {
		var v convoi.Sighting
		if err := rows.Scan(&v.ID, &v.IncidentID, &v.Place.Lat, &v.Place.Lon, &v.PlaceName, timeCol{&v.Time}, &v.Confidence,
			&v.Note, &v.RecordedBy, timeCol{&v.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, &v)
	}
	return orEmpty(out), rows.Err()
}

// AssignUnit commits a police or gendarmerie unit to an active incident.
func (s *IncidentService) AssignUnit(ctx context.Context, id convoi.IncidentID, site convoi.SiteID, note string) (*convoi.UnitAssignment, error) {
	if len(note) > convoi.MaxIncidentText {
		return nil, convoi.Errorf(convoi.EINVALID, "Note too long (at most %d characters).", convoi.MaxIncidentText)
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	i, err := activeIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var kind string
	if err := tx.QueryRowContext(ctx, `SELECT kind FROM sites WHERE id = ?`, site).Scan(&kind); errors.Is(err, sql.ErrNoRows) {
		return nil, convoi.Errorf(convoi.EINVALID, "Site %d does not exist.", site)
	} else if err != nil {
		return nil, err
	}
	if k := convoi.SiteKind(kind); k != convoi.SiteKindPolice && k != convoi.SiteKindGendarmerie {
		return nil, convoi.Errorf(convoi.EINVALID, "Site %d is a %s, not a police or gendarmerie post.", site, kind)
	}
	var other convoi.IncidentID
	err = tx.QueryRowContext(ctx, `SELECT incident_id FROM incident_units WHERE site_id = ? AND state = ?`, site, convoi.UnitAssigned).Scan(&other)
	if err == nil {
		return nil, convoi.Errorf(convoi.ECONFLICT, "The unit of site %d is already assigned to incident %d.", site, other)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	a := &convoi.UnitAssignment{IncidentID: id, SiteID: site, State: convoi.UnitAssigned, Note: strings.TrimSpace(note), AssignedBy: tx.by, AssignedAt: tx.now}
	if a.ID, err = tx.insertContext(ctx, `INSERT INTO incident_units (incident_id, site_id, state, note, assigned_by, assigned_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, site, a.State, a.Note, a.AssignedBy, tx.time(a.AssignedAt)); err != nil {
		return nil, tx.writeErr(err, "The unit is already assigned to an incident.")
	}
	if err := bumpIncident(ctx, tx, i); err != nil {
		return nil, err
	}
	return a, tx.Commit()
}

// ReleaseUnit frees a unit assigned to the incident.
func (s *IncidentService) ReleaseUnit(ctx context.Context, id convoi.IncidentID, site convoi.SiteID, note string) (*convoi.UnitAssignment, error) {
	if len(note) > convoi.MaxIncidentText {
		return nil, convoi.Errorf(convoi.EINVALID, "Note too long (at most %d characters).", convoi.MaxIncidentText)
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	i, err := activeIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	l, err := queryAssignments(ctx, tx, " WHERE incident_id = ? AND site_id = ? AND state = ?", id, site, convoi.UnitAssigned)
	if err != nil {
		return nil, err
	} else if len(l) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "The unit of site %d is not assigned to incident %d.", site, id)
	}
	a := l[0]
	now := tx.now
	a.State, a.ReleasedBy, a.ReleasedAt = convoi.UnitReleased, tx.by, &now
	if note = strings.TrimSpace(note); note != "" {
		a.Note = strings.TrimSpace(a.Note + "\n" + note)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incident_units SET state = ?, note = ?, released_by = ?, released_at = ? WHERE id = ?`,
		a.State, a.Note, a.ReleasedBy, tx.time(now), a.ID); err != nil {
		return nil, err
	}
	if err := bumpIncident(ctx, tx, i); err != nil {
		return nil, err
	}
	return a, tx.Commit()
}

// FindUnitAssignments lists assignments by ID.
func (s *IncidentService) FindUnitAssignments(ctx context.Context, f convoi.UnitAssignmentFilter) ([]*convoi.UnitAssignment, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w := &where{}
	if f.IncidentID != nil {
		w.add("incident_id = ?", *f.IncidentID)
	}
	if f.SiteID != nil {
		w.add("site_id = ?", *f.SiteID)
	}
	if f.Active {
		w.add("state = 'assigned'")
	}
	return queryAssignments(ctx, tx, w.String()+" ORDER BY id", w.args...)
}

func queryAssignments(ctx context.Context, tx *Tx, tail string, args ...any) ([]*convoi.UnitAssignment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, incident_id, site_id, state, note, assigned_by, assigned_at, released_by, released_at
		FROM incident_units`+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.UnitAssignment
	for rows.Next() {
		var a convoi.UnitAssignment
		var rel time.Time
		if err := rows.Scan(&a.ID, &a.IncidentID, &a.SiteID, &a.State, &a.Note, &a.AssignedBy, timeCol{&a.AssignedAt},
			&a.ReleasedBy, timeCol{&rel}); err != nil {
			return nil, err
		}
		if !rel.IsZero() {
			a.ReleasedAt = &rel
		}
		out = append(out, &a)
	}
	return orEmpty(out), rows.Err()
}
