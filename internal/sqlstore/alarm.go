package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

var _ convoi.AlarmService = (*AlarmService)(nil)

// AlarmService implements convoi.AlarmService. Every call is one write (or
// read) transaction, and write transactions run one at a time (SQLite's
// single writer connection, PostgreSQL's write lock), so two operators
// acting on one alarm at once are serialised: the first step wins and the
// second is judged against the state the first left (ECONFLICT when that
// state no longer allows it, naming who got there first).
type AlarmService struct {
	db *Store
	// Policy gives the acknowledgement deadlines by severity
	// (convoi.DefaultAlarmPolicy). Set before use.
	Policy convoi.AlarmPolicy
}

// NewAlarmService returns an AlarmService on db with the default policy.
func NewAlarmService(db *Store) *AlarmService {
	return &AlarmService{db: db, Policy: convoi.DefaultAlarmPolicy}
}

const alarmColumns = `id, movement_id, vehicle_id, rule, severity, detail, lat, lon, place_name, first_seen, last_seen,
	count, state, resolution, ack_due, version, created_at, updated_at`

// RaiseAlarm merges the evidence into the movement's unresolved alarm of
// the same rule, or opens a new alarm (see convoi.AlarmService). Merging
// keeps the earliest FirstSeen and the latest LastSeen; Place, PlaceName,
// Detail and VehicleID follow the newest evidence only (a late, out-of-order
// fix does not move the alarm back); a severity raised on an open alarm
// brings its AckDue forward to what the new severity allows from now, never
// later than it was. The opening is stored as a transition from "" to open,
// by the author in ctx (0 for the monitor). A missing movement or vehicle
// is EINVALID.
func (s *AlarmService) RaiseAlarm(ctx context.Context, in *convoi.Alarm) (*convoi.Alarm, bool, error) {
	if in == nil {
		return nil, false, convoi.Errorf(convoi.EINVALID, "Alarm required.")
	}
	a := *in
	if err := a.Validate(); err != nil {
		return nil, false, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "movements", "Movement", int64(a.MovementID)); err != nil {
		return nil, false, err
	}
	if err := tx.mustExist(ctx, "vehicles", "Vehicle", int64(a.VehicleID)); err != nil {
		return nil, false, err
	}
	cur, err := findAlarm(ctx, tx, "movement_id = ? AND rule = ? AND state <> ?", a.MovementID, a.Rule, convoi.AlarmResolved)
	if err != nil && convoi.ErrorCode(err) != convoi.ENOTFOUND {
		return nil, false, err
	}
	if cur != nil {
		mergeAlarm(cur, &a, tx.now, s.Policy)
		if err := saveAlarm(ctx, tx, cur); err != nil {
			return nil, false, err
		}
		return cur, false, tx.Commit()
	}

	a.ID, a.State, a.Resolution, a.Count, a.Version = 0, convoi.AlarmOpen, "", 1, 1
	a.FirstSeen, a.LastSeen = a.FirstSeen.UTC(), a.LastSeen.UTC()
	a.AckDue = tx.now.Add(s.Policy.AckWithin(a.Severity))
	a.CreatedAt, a.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO alarms (movement_id, vehicle_id, rule, severity, detail, lat, lon, place_name,
		first_seen, last_seen, count, state, resolution, ack_due, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.MovementID, nullID(a.VehicleID), a.Rule, int(a.Severity), a.Detail, a.Place.Lat, a.Place.Lon, a.PlaceName,
		tx.time(a.FirstSeen), tx.time(a.LastSeen), a.Count, a.State, a.Resolution, tx.time(a.AckDue), a.Version,
		tx.time(a.CreatedAt), tx.time(a.UpdatedAt))
	if err != nil {
		return nil, false, tx.writeErr(err, "An unresolved alarm of this rule already exists on the movement.")
	}
	a.ID = convoi.AlarmID(id)
	if err := insertAlarmTransition(ctx, tx, a.ID, "", convoi.AlarmOpen, a.Detail); err != nil {
		return nil, false, err
	}
	return &a, true, tx.Commit()
}

// mergeAlarm folds new evidence into the stored alarm cur.
func mergeAlarm(cur, a *convoi.Alarm, now time.Time, p convoi.AlarmPolicy) {
	cur.Count++
	if a.FirstSeen.Before(cur.FirstSeen) {
		cur.FirstSeen = a.FirstSeen.UTC()
	}
	if !a.LastSeen.Before(cur.LastSeen) {
		cur.LastSeen = a.LastSeen.UTC()
		cur.Place, cur.PlaceName, cur.Detail = a.Place, a.PlaceName, a.Detail
		if a.VehicleID != 0 {
			cur.VehicleID = a.VehicleID
		}
	}
	if a.Severity > cur.Severity {
		cur.Severity = a.Severity
		if due := now.Add(p.AckWithin(a.Severity)); cur.State == convoi.AlarmOpen && due.Before(cur.AckDue) {
			cur.AckDue = due
		}
	}
}

// saveAlarm writes cur after a change: version+1 and time. The version
// check cannot fail inside the writer's transaction; it guards the rule
// that every write bumps Version exactly once.
func saveAlarm(ctx context.Context, tx *Tx, a *convoi.Alarm) error {
	prev := a.Version
	a.Version++
	a.UpdatedAt = tx.now
	n, err := tx.ExecContext(ctx, `UPDATE alarms SET vehicle_id = ?, severity = ?, detail = ?, lat = ?, lon = ?, place_name = ?,
		first_seen = ?, last_seen = ?, count = ?, state = ?, resolution = ?, ack_due = ?, version = ?, updated_at = ?
		WHERE id = ? AND version = ?`,
		nullID(a.VehicleID), int(a.Severity), a.Detail, a.Place.Lat, a.Place.Lon, a.PlaceName,
		tx.time(a.FirstSeen), tx.time(a.LastSeen), a.Count, a.State, a.Resolution, tx.time(a.AckDue), a.Version,
		tx.time(a.UpdatedAt), a.ID, prev)
	if err != nil {
		return tx.writeErr(err, "An unresolved alarm of this rule already exists on the movement.")
	} else if n != 1 {
		return convoi.Errorf(convoi.ECONFLICT, "Alarm was changed by someone else.")
	}
	return nil
}

func insertAlarmTransition(ctx context.Context, tx *Tx, id convoi.AlarmID, from, to convoi.AlarmState, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alarm_transitions (alarm_id, from_state, to_state, by_user, at, note)
		VALUES (?, ?, ?, ?, ?, ?)`, id, from, to, tx.by, tx.time(tx.now), note)
	return tx.writeErr(err, "Alarm transition already exists.")
}

// FindAlarmByID returns the alarm, ENOTFOUND if there is none.
func (s *AlarmService) FindAlarmByID(ctx context.Context, id convoi.AlarmID) (*convoi.Alarm, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAlarm(ctx, tx, "id = ?", id)
}

// FindAlarms returns a page of alarms, most severe first, then the most
// recently seen, then the newest; and the number of matches. Since is
// inclusive and compares LastSeen.
func (s *AlarmService) FindAlarms(ctx context.Context, f convoi.AlarmFilter) ([]*convoi.Alarm, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	w := &where{}
	if f.State != nil {
		w.add("state = ?", *f.State)
	}
	if f.Active {
		// A literal, so that the partial index alarms_unresolved_idx applies.
		w.add("state <> 'resolved'")
	}
	if f.Severity != nil {
		w.add("severity = ?", int(*f.Severity))
	}
	if f.MovementID != nil {
		w.add("movement_id = ?", *f.MovementID)
	}
	if f.Rule != nil {
		w.add("rule = ?", *f.Rule)
	}
	if f.Since != nil {
		w.add("last_seen >= ?", tx.time(*f.Since))
	}
	if f.CrewMember != nil {
		w.add("movement_id IN (SELECT movement_id FROM movement_crew WHERE officer_id = ?)", *f.CrewMember)
	}
	n, err := tx.count(ctx, "alarms", w)
	if err != nil {
		return nil, 0, err
	}
	a, err := queryAlarms(ctx, tx, w.String()+` ORDER BY severity DESC, last_seen DESC, id DESC`+limitOffset(f.Page), w.args...)
	return a, n, err
}

func findAlarm(ctx context.Context, tx *Tx, cond string, args ...any) (*convoi.Alarm, error) {
	a, err := queryAlarms(ctx, tx, " WHERE "+cond+" LIMIT 1", args...)
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Alarm not found.")
	}
	return a[0], nil
}

func queryAlarms(ctx context.Context, tx *Tx, tail string, args ...any) ([]*convoi.Alarm, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+alarmColumns+` FROM alarms`+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.Alarm
	for rows.Next() {
		var a convoi.Alarm
		var sev int
		if err := rows.Scan(&a.ID, &a.MovementID, idCol[convoi.VehicleID]{&a.VehicleID}, &a.Rule, &sev, &a.Detail,
			&a.Place.Lat, &a.Place.Lon, &a.PlaceName, timeCol{&a.FirstSeen}, timeCol{&a.LastSeen}, &a.Count, &a.State,
			&a.Resolution, timeCol{&a.AckDue}, &a.Version, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}); err != nil {
			return nil, err
		}
		a.Severity = convoi.Severity(sev)
		out = append(out, &a)
	}
	return orEmpty(out), rows.Err()
}

// AcknowledgeAlarm takes an open alarm for the user in ctx. Of two
// operators acknowledging at once, the first wins and the second gets
// ECONFLICT saying who acknowledged it and when: an alarm has one owner,
// and the second operator must know it is not theirs. (A client retrying
// the same request replays its first answer through Idempotency-Key.)
func (s *AlarmService) AcknowledgeAlarm(ctx context.Context, id convoi.AlarmID, note string) (*convoi.Alarm, error) {
	return s.step(ctx, id, convoi.AlarmActionAcknowledge, "", note)
}

// EscalateAlarm hands an open or acknowledged alarm to the commander role.
func (s *AlarmService) EscalateAlarm(ctx context.Context, id convoi.AlarmID, note string) (*convoi.Alarm, error) {
	return s.step(ctx, id, convoi.AlarmActionEscalate, "", note)
}

// ResolveAlarm closes an alarm with a resolution and a note (required).
// With convoi.ResolutionIncident, the alarm's movement moves to incident in
// the same transaction, through the movement state machine, and the
// movement transition records the author and "alarm N (rule): note". A
// movement already in incident stays there (another alarm declared it);
// a movement in a state that cannot lead to incident (completed, say) is
// ECONFLICT and nothing is written.
func (s *AlarmService) ResolveAlarm(ctx context.Context, id convoi.AlarmID, res convoi.AlarmResolution, note string) (*convoi.Alarm, error) {
	return s.step(ctx, id, convoi.AlarmActionResolve, res, note)
}

func (s *AlarmService) step(ctx context.Context, id convoi.AlarmID, act convoi.AlarmAction, res convoi.AlarmResolution, note string) (*convoi.Alarm, error) {
	note, err := convoi.ValidateAlarmStep(act, res, note)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a, err := findAlarm(ctx, tx, "id = ?", id)
	if err != nil {
		return nil, err
	}
	from := a.State
	to, err := convoi.NextAlarmState(from, act)
	if err != nil {
		return nil, alreadyDone(ctx, tx, a, err)
	}
	a.State = to
	if act == convoi.AlarmActionResolve {
		a.Resolution = res
		if res == convoi.ResolutionIncident {
			if err := declareIncident(ctx, tx, a, note); err != nil {
				return nil, err
			}
		}
	}
	if err := saveAlarm(ctx, tx, a); err != nil {
		return nil, err
	}
	if err := insertAlarmTransition(ctx, tx, a.ID, from, to, note); err != nil {
		return nil, err
	}
	return a, tx.Commit()
}

// alreadyDone adds to a state-machine conflict who moved the alarm to its
// present state and when, so that a second operator knows who has it.
func alreadyDone(ctx context.Context, tx *Tx, a *convoi.Alarm, err error) error {
	if convoi.ErrorCode(err) != convoi.ECONFLICT {
		return err
	}
	var by int64
	var at time.Time
	if e := tx.QueryRowContext(ctx, `SELECT by_user, at FROM alarm_transitions WHERE alarm_id = ? ORDER BY id DESC LIMIT 1`, a.ID).
		Scan(&by, timeCol{&at}); e != nil {
		return err
	}
	who := "the system"
	if by != 0 {
		var name string
		if e := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = ?`, by).Scan(&name); e == nil {
			who = name
		} else {
			who = fmt.Sprintf("user %d", by)
		}
	}
	return convoi.Errorf(convoi.ECONFLICT, "%s It is %s since %s (by %s).", convoi.ErrorMessage(err), a.State, at.Format(time.RFC3339), who)
}

// declareIncident moves the alarm's movement to incident in tx.
func declareIncident(ctx context.Context, tx *Tx, a *convoi.Alarm, note string) error {
	m, err := findMovementByID(ctx, tx, a.MovementID)
	if err != nil {
		return err
	}
	if m.State == convoi.StateIncident {
		return nil
	}
	from := m.State
	to, err := convoi.NextState(from, convoi.ActionIncident)
	if err != nil {
		return convoi.Errorf(convoi.ECONFLICT, "Movement %s is %s: an incident can only be declared on an underway movement. Resolve the alarm as handled and report the incident on its own.", m.Ref, m.State)
	}
	m.State = to
	if err := saveMovement(ctx, tx, m, false); err != nil {
		return err
	}
	reason := fmt.Sprintf("Alarm %d (%s, %s): %s", a.ID, a.Rule, convoi.SeverityName(a.Severity), note)
	_, err = tx.ExecContext(ctx, `INSERT INTO transitions (movement_id, action, from_state, to_state, reason, by_user, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, convoi.ActionIncident, from, to, reason, tx.by, tx.time(tx.now))
	return tx.writeErr(err, "Transition already exists.")
}

// FindAlarmTransitions returns the alarm's history, oldest first; ENOTFOUND
// if the alarm does not exist.
func (s *AlarmService) FindAlarmTransitions(ctx context.Context, id convoi.AlarmID) ([]*convoi.AlarmTransition, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if ok, err := tx.exists(ctx, "alarms", int64(id)); err != nil {
		return nil, err
	} else if !ok {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Alarm not found.")
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, alarm_id, from_state, to_state, by_user, at, note
		FROM alarm_transitions WHERE alarm_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.AlarmTransition
	for rows.Next() {
		var t convoi.AlarmTransition
		if err := rows.Scan(&t.ID, &t.AlarmID, &t.From, &t.To, &t.By, timeCol{&t.At}, &t.Note); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return orEmpty(out), rows.Err()
}

// EscalateOverdue escalates, as the system (author 0 whatever ctx holds),
// every open alarm whose AckDue is not after now, in one transaction, and
// returns them, oldest deadline first. The note of each transition says
// which deadline passed.
func (s *AlarmService) EscalateOverdue(ctx context.Context, now time.Time) ([]*convoi.Alarm, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	tx.by = 0
	due, err := queryAlarms(ctx, tx, ` WHERE state = ? AND ack_due <= ? ORDER BY ack_due, id`, convoi.AlarmOpen, tx.time(now))
	if err != nil {
		return nil, err
	}
	for _, a := range due {
		to, err := convoi.NextAlarmState(a.State, convoi.AlarmActionEscalate)
		if err != nil {
			return nil, err
		}
		a.State = to
		if err := saveAlarm(ctx, tx, a); err != nil {
			return nil, err
		}
		note := fmt.Sprintf("Not acknowledged within %s (%s alarm): escalated to the commander role.",
			s.Policy.AckWithin(a.Severity), convoi.SeverityName(a.Severity))
		if err := insertAlarmTransition(ctx, tx, a.ID, convoi.AlarmOpen, to, strings.TrimSpace(note)); err != nil {
			return nil, err
		}
	}
	return due, tx.Commit()
}
