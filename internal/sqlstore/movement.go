package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/convoi/convoi"
)

var _ convoi.MovementService = (*MovementService)(nil)

// MovementService implements convoi.MovementService. Crew and vehicles are
// stored in join tables, so MovementFilter.CrewMember is an indexed lookup.
type MovementService struct{ db *Store }

// NewMovementService returns a MovementService on db.
func NewMovementService(db *Store) *MovementService { return &MovementService{db: db} }

// FindMovementByID returns the movement, ENOTFOUND if there is none.
func (s *MovementService) FindMovementByID(ctx context.Context, id convoi.MovementID) (*convoi.Movement, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findMovementByID(ctx, tx, id)
}

// FindMovements returns a page of movements ordered by appointment time then
// ID, and the total number of matches. AppointmentFrom is inclusive,
// AppointmentTo exclusive.
func (s *MovementService) FindMovements(ctx context.Context, f convoi.MovementFilter) ([]*convoi.Movement, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findMovements(ctx, tx, f)
}

// CreateMovement validates m and stores it in state requested, version 1.
// A ref in use is ECONFLICT; a missing detainee, site, officer or vehicle is
// EINVALID. State and CancelReason set by the caller are ignored.
func (s *MovementService) CreateMovement(ctx context.Context, m *convoi.Movement) error {
	if m == nil {
		return convoi.Errorf(convoi.EINVALID, "Movement required.")
	}
	if err := m.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := checkMovementRefs(ctx, tx, m); err != nil {
		return err
	}
	dep, route, err := tx.db.sealMovement(m)
	if err != nil {
		return err
	}
	m.State, m.CancelReason, m.Version = convoi.StateRequested, "", 1
	m.AppointmentAt = m.AppointmentAt.UTC()
	m.CreatedBy, m.UpdatedBy = tx.by, tx.by
	m.CreatedAt, m.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO movements (ref, detainee_id, from_site_id, to_site_id, purpose,
		appointment_at, requester, state, cancel_reason, escort_level, planned_departure, route, version,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Ref, m.DetaineeID, m.FromSiteID, m.ToSiteID, m.Purpose,
		tx.time(m.AppointmentAt), m.Requester, m.State, m.CancelReason, m.EscortLevel, dep, route, m.Version,
		m.CreatedBy, m.UpdatedBy, tx.time(m.CreatedAt), tx.time(m.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Movement ref "+m.Ref+" already exists.")
	}
	m.ID = convoi.MovementID(id)
	if err := saveMovementAssignments(ctx, tx, m); err != nil {
		return err
	}
	return tx.Commit()
}

// UpdateMovement applies upd (with optimistic locking when upd.Version is
// set), records the change in the movement's history (an ActionUpdate
// transition) and returns the movement as stored. A movement in a terminal state
// (completed, cancelled, aborted) is ECONFLICT: its record is history.
func (s *MovementService) UpdateMovement(ctx context.Context, id convoi.MovementID, upd convoi.MovementUpdate) (*convoi.Movement, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, err := findMovementByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if m.State.Terminal() {
		return nil, convoi.Errorf(convoi.ECONFLICT, "Movement %s is %s and can no longer be changed.", m.Ref, m.State)
	}
	if err := upd.Apply(m); err != nil {
		return nil, err
	}
	if err := saveMovement(ctx, tx, m, upd.Crew != nil || upd.Vehicles != nil); err != nil {
		return nil, err
	}
	// Every change is history: an "update" record, state unchanged, with
	// the fields changed and the caller's reason.
	reason := "Changed nothing."
	if f := upd.Fields(); len(f) > 0 {
		reason = "Changed " + strings.Join(f, ", ") + "."
	}
	if r := strings.TrimSpace(upd.Reason); r != "" {
		reason += " " + r
	}
	if err := insertTransition(ctx, tx, m.ID, convoi.ActionUpdate, m.State, m.State, reason, ""); err != nil {
		return nil, err
	}
	return m, tx.Commit()
}

func insertTransition(ctx context.Context, tx *Tx, id convoi.MovementID, a convoi.Action, from, to convoi.MovementState, reason, override string) error {
	if override != "" {
		var err error
		if override, err = tx.db.sealText(adOverride(id), override); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO transitions (movement_id, action, from_state, to_state, reason, override, by_user, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, a, from, to, strings.TrimSpace(reason), override, tx.by, tx.time(tx.now)); err != nil {
		return tx.writeErr(err, "Transition already exists.")
	}
	return nil
}

// TransitionMovement checks req against the state machine (convoi.NextState),
// applies req.Update, stores the new state and the transition with its
// author, time and reason, all in one transaction. An illegal transition is
// ECONFLICT, a malformed request EINVALID.
func (s *MovementService) TransitionMovement(ctx context.Context, id convoi.MovementID, req convoi.TransitionRequest) (*convoi.Movement, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, err := findMovementByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	from := m.State
	to, err := convoi.NextState(from, req.Action)
	if err != nil {
		return nil, err
	}
	assignments := false
	if req.Update != nil {
		if err := req.Update.Apply(m); err != nil {
			return nil, err
		}
		assignments = req.Update.Crew != nil || req.Update.Vehicles != nil
	}
	m.State = to
	if req.Action == convoi.ActionCancel {
		m.CancelReason = req.CancelReason
	}
	if err := saveMovement(ctx, tx, m, assignments); err != nil {
		return nil, err
	}
	if err := insertTransition(ctx, tx, m.ID, req.Action, from, to, req.Reason, req.Override); err != nil {
		return nil, err
	}
	return m, tx.Commit()
}

// FindTransitions returns the movement's transitions, oldest first;
// ENOTFOUND if the movement does not exist.
func (s *MovementService) FindTransitions(ctx context.Context, id convoi.MovementID) ([]*convoi.Transition, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if ok, err := tx.exists(ctx, "movements", int64(id)); err != nil {
		return nil, err
	} else if !ok {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Movement %d not found.", id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, movement_id, action, from_state, to_state, reason, override, by_user, at
		FROM transitions WHERE movement_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.Transition
	for rows.Next() {
		var t convoi.Transition
		if err := rows.Scan(&t.ID, &t.MovementID, &t.Action, &t.From, &t.To, &t.Reason, &t.Override, &t.By, timeCol{&t.At}); err != nil {
			return nil, err
		}
		var err error
		if t.Override, err = tx.db.openText(adOverride(t.MovementID), t.Override); err != nil {
			return nil, err
		}
		a = append(a, &t)
	}
	return orEmpty(a), rows.Err()
}

// saveMovement writes m after a change: version+1, author and time.
func saveMovement(ctx context.Context, tx *Tx, m *convoi.Movement, assignments bool) error {
	if err := checkMovementRefs(ctx, tx, m); err != nil {
		return err
	}
	m.AppointmentAt = m.AppointmentAt.UTC()
	if m.PlannedDeparture != nil {
		t := m.PlannedDeparture.UTC()
		m.PlannedDeparture = &t
	}
	dep, route, err := tx.db.sealMovement(m)
	if err != nil {
		return err
	}
	prev := m.Version
	m.Version++
	m.UpdatedBy, m.UpdatedAt = tx.by, tx.now
	n, err := tx.ExecContext(ctx, `UPDATE movements SET purpose = ?, appointment_at = ?, requester = ?, state = ?,
		cancel_reason = ?, escort_level = ?, planned_departure = ?, route = ?, version = ?, updated_by = ?, updated_at = ?
		WHERE id = ? AND version = ?`,
		m.Purpose, tx.time(m.AppointmentAt), m.Requester, m.State, m.CancelReason, m.EscortLevel,
		dep, route, m.Version, m.UpdatedBy, tx.time(m.UpdatedAt), m.ID, prev)
	if err != nil {
		return tx.writeErr(err, "Movement already exists.")
	} else if n != 1 {
		return convoi.Errorf(convoi.ECONFLICT, "Movement was changed by someone else.")
	}
	if !assignments {
		return nil
	}
	for _, table := range []string{"movement_crew", "movement_vehicles"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE movement_id = ?`, m.ID); err != nil {
			return err
		}
	}
	return saveMovementAssignments(ctx, tx, m)
}

func saveMovementAssignments(ctx context.Context, tx *Tx, m *convoi.Movement) error {
	for i, o := range m.Crew {
		if _, err := tx.ExecContext(ctx, `INSERT INTO movement_crew (movement_id, officer_id, position) VALUES (?, ?, ?)`,
			m.ID, o, i); err != nil {
			return tx.writeErr(err, fmt.Sprintf("Officer %d is listed twice in the crew.", o))
		}
	}
	for i, v := range m.Vehicles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO movement_vehicles (movement_id, vehicle_id, position) VALUES (?, ?, ?)`,
			m.ID, v, i); err != nil {
			return tx.writeErr(err, fmt.Sprintf("Vehicle %d is listed twice.", v))
		}
	}
	return nil
}

// checkMovementRefs turns missing references and duplicates into clear EINVALID errors.
func checkMovementRefs(ctx context.Context, tx *Tx, m *convoi.Movement) error {
	if err := tx.mustExist(ctx, "detainees", "Detainee", int64(m.DetaineeID)); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "sites", "Site", int64(m.FromSiteID)); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "sites", "Site", int64(m.ToSiteID)); err != nil {
		return err
	}
	seenO := map[convoi.OfficerID]bool{}
	for _, o := range m.Crew {
		if o <= 0 || seenO[o] {
			return convoi.Errorf(convoi.EINVALID, "Crew must list distinct officer IDs (got %d twice or invalid).", o)
		}
		seenO[o] = true
		if err := tx.mustExist(ctx, "officers", "Officer", int64(o)); err != nil {
			return err
		}
	}
	seenV := map[convoi.VehicleID]bool{}
	for _, v := range m.Vehicles {
		if v <= 0 || seenV[v] {
			return convoi.Errorf(convoi.EINVALID, "Vehicles must list distinct vehicle IDs (got %d twice or invalid).", v)
		}
		seenV[v] = true
		if err := tx.mustExist(ctx, "vehicles", "Vehicle", int64(v)); err != nil {
			return err
		}
	}
	if m.Route != nil {
		for _, p := range m.Route.Geometry {
			if err := p.Validate(); err != nil {
				return err
			}
		}
		if m.Route.DistanceM < 0 || m.Route.DurationS < 0 {
			return convoi.Errorf(convoi.EINVALID, "Route distance and duration must not be negative.")
		}
	}
	return nil
}

func findMovementByID(ctx context.Context, tx *Tx, id convoi.MovementID) (*convoi.Movement, error) {
	a, _, err := findMovements(ctx, tx, convoi.MovementFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Movement %d not found.", id)
	}
	return a[0], nil
}

func findMovements(ctx context.Context, tx *Tx, f convoi.MovementFilter) ([]*convoi.Movement, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.Ref != nil {
		w.add("ref = ?", *f.Ref)
	}
	if f.DetaineeID != nil {
		w.add("detainee_id = ?", *f.DetaineeID)
	}
	if f.State != nil {
		w.add("state = ?", *f.State)
	}
	if f.Site != nil {
		w.add("(from_site_id = ? OR to_site_id = ?)", *f.Site, *f.Site)
	}
	if f.CrewMember != nil {
		w.add("id IN (SELECT movement_id FROM movement_crew WHERE officer_id = ?)", *f.CrewMember)
	}
	if f.Vehicle != nil {
		w.add("id IN (SELECT movement_id FROM movement_vehicles WHERE vehicle_id = ?)", *f.Vehicle)
	}
	if f.AppointmentFrom != nil {
		w.add("appointment_at >= ?", tx.time(*f.AppointmentFrom))
	}
	if f.AppointmentTo != nil {
		w.add("appointment_at < ?", tx.time(*f.AppointmentTo))
	}
	n, err := tx.count(ctx, "movements", w)
	if err != nil {
		return nil, 0, err
	}
	// Crew and vehicles come back in assignment order as JSON arrays.
	rows, err := tx.QueryContext(ctx, tx.db.sql.selectMovements+w.String()+` ORDER BY appointment_at, id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Movement
	for rows.Next() {
		var m convoi.Movement
		var dep, route sql.NullString
		if err := rows.Scan(&m.ID, &m.Ref, &m.DetaineeID, &m.FromSiteID, &m.ToSiteID, &m.Purpose, timeCol{&m.AppointmentAt},
			&m.Requester, &m.State, &m.CancelReason, &m.EscortLevel, &dep, &route, &m.Version,
			&m.CreatedBy, &m.UpdatedBy, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt},
			jsonCol{&m.Crew}, jsonCol{&m.Vehicles}); err != nil {
			return nil, 0, err
		}
		if err := tx.db.openMovement(&m, dep, route); err != nil {
			return nil, 0, err
		}
		if m.Crew == nil {
			m.Crew = []convoi.OfficerID{}
		}
		if m.Vehicles == nil {
			m.Vehicles = []convoi.VehicleID{}
		}
		a = append(a, &m)
	}
	return orEmpty(a), n, rows.Err()
}

// selectMovements is the SELECT of findMovements, up to its WHERE.
func selectMovements(d Dialect) string {
	return `SELECT id, ref, detainee_id, from_site_id, to_site_id, purpose, appointment_at,
		requester, state, cancel_reason, escort_level, planned_departure, route, version,
		created_by, updated_by, created_at, updated_at,
		` + d.JSONArray("officer_id", "movement_crew c", "c.movement_id = movements.id", "position") + `,
		` + d.JSONArray("vehicle_id", "movement_vehicles v", "v.movement_id = movements.id", "position") + `
		FROM movements`
}
