package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"convoi"
)

var _ convoi.PositionService = (*PositionService)(nil)

// Position listing limits: FindPositions and FindDeviceEvents return at most
// MaxPositionLimit records, DefaultPositionLimit when the filter's Limit is 0.
const (
	DefaultPositionLimit = 1000
	MaxPositionLimit     = 100000
)

// MaxPositionBatch bounds one StorePositions call (positions plus events), so
// that one caller cannot hold the single writer for long.
const MaxPositionBatch = 10000

const insertPositionSQL = `INSERT OR IGNORE INTO positions (device_id, tracker_id, fix_time, server_time,
	lat, lon, speed_kmh, heading, altitude_m, satellites, hdop, gnss, valid, attributes)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertEventSQL = `INSERT OR IGNORE INTO device_events (device_id, tracker_id, kind, severity, time, server_time,
	lat, lon, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// PositionService implements convoi.PositionService: the tracker ingest path.
type PositionService struct{ db *DB }

// NewPositionService returns a PositionService on db.
func NewPositionService(db *DB) *PositionService { return &PositionService{db: db} }

// StorePositions validates the whole batch first (a bad record is EINVALID
// naming its index, and nothing is written), then inserts it with prepared
// statements and INSERT OR IGNORE, so that a record already stored (same
// device and fix time; for events same device, time and kind) is skipped.
// It returns once the transaction is committed and fsynced
// (synchronous=FULL): the caller may acknowledge the records. The batch is
// written atomically; batches from concurrent callers may share one
// transaction (group commit, see commitPositions). A zero ServerTime is set
// to DB.Now. IDs are not set on the inputs. Safe for concurrent use.
func (s *PositionService) StorePositions(ctx context.Context, ps []convoi.Position, evs []convoi.DeviceEvent) (newPositions, newEvents int, err error) {
	if len(ps)+len(evs) == 0 {
		return 0, 0, nil
	}
	if len(ps)+len(evs) > MaxPositionBatch {
		return 0, 0, convoi.Errorf(convoi.EINVALID, "A batch holds at most %d records.", MaxPositionBatch)
	}
	attrs := make([]any, len(ps))
	for i := range ps {
		if err := validatePosition(&ps[i]); err != nil {
			return 0, 0, fmt.Errorf("position %d: %w", i, err)
		}
		if len(ps[i].Attributes) > 0 {
			b, err := json.Marshal(ps[i].Attributes)
			if err != nil {
				return 0, 0, convoi.Errorf(convoi.EINVALID, "Position %d attributes cannot be stored: %v.", i, err)
			}
			attrs[i] = string(b)
		}
	}
	for i := range evs {
		if err := validateEvent(&evs[i]); err != nil {
			return 0, 0, fmt.Errorf("device event %d: %w", i, err)
		}
	}

	if s.db.positions == nil {
		return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	req := &positionBatch{ps: ps, evs: evs, attrs: attrs, by: convoi.UserIDFromContext(ctx), done: make(chan positionResult, 1)}
	select {
	case s.db.positions <- req:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-s.db.ctx.Done():
		return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")
	}
	// Once queued the batch is written even if ctx ends; the caller then
	// does not know, and the device's retransmission is deduplicated.
	select {
	case r := <-req.done:
		return r.positions, r.events, r.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-s.db.positionsDone:
		select {
		case r := <-req.done:
			return r.positions, r.events, r.err
		default:
			return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")
		}
	}
}

// positionBatch is one StorePositions call waiting for the group committer.
type positionBatch struct {
	ps    []convoi.Position
	evs   []convoi.DeviceEvent
	attrs []any // JSON attributes per position, nil when none
	by    convoi.UserID
	done  chan positionResult // buffered: the committer never blocks
}

type positionResult struct {
	positions, events int
	err               error
}

// maxGroupRecords bounds one group commit.
const maxGroupRecords = 20000

// commitPositions is the group committer, started by Open and stopped by
// Close: it takes the next batch and every batch already waiting (up to
// maxGroupRecords records), writes them in one transaction and fsync, and
// then answers each caller. Concurrent small batches (one per tracker
// connection) thus share one commit instead of queueing for one fsync each.
// If a group fails, its batches are retried one by one so that a batch
// cannot fail another.
func (db *DB) commitPositions() {
	defer close(db.positionsDone)
	var group []*positionBatch
	for {
		group = group[:0]
		select {
		case b := <-db.positions:
			group = append(group, b)
		case <-db.ctx.Done():
			for {
				select {
				case b := <-db.positions:
					b.done <- positionResult{err: convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")}
				default:
					return
				}
			}
		}
		n := len(group[0].ps) + len(group[0].evs)
	drain:
		for n < maxGroupRecords {
			select {
			case b := <-db.positions:
				group = append(group, b)
				n += len(b.ps) + len(b.evs)
			default:
				break drain
			}
		}
		results, err := db.writePositions(group)
		if err != nil && len(group) > 1 {
			for _, b := range group {
				r, err := db.writePositions([]*positionBatch{b})
				if err != nil {
					b.done <- positionResult{err: err}
				} else {
					b.done <- r[0]
				}
			}
			continue
		}
		for i, b := range group {
			if err != nil {
				b.done <- positionResult{err: err}
			} else {
				b.done <- results[i]
			}
		}
	}
}

// writePositions writes batches in one transaction on the lifecycle
// context, so that one caller giving up does not abort the others.
func (db *DB) writePositions(group []*positionBatch) ([]positionResult, error) {
	ctx := db.ctx
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := tx.now.UnixNano()
	results := make([]positionResult, len(group))
	var pstmt, estmt *sql.Stmt
	for gi, b := range group {
		if len(b.ps) > 0 && pstmt == nil {
			pstmt = tx.StmtContext(ctx, db.insertPosition)
		}
		for i := range b.ps {
			p := &b.ps[i]
			st := now
			if !p.ServerTime.IsZero() {
				st = p.ServerTime.UnixNano()
			}
			res, err := pstmt.ExecContext(ctx, string(p.DeviceID), int64(p.TrackerID), p.FixTime.UnixNano(), st,
				p.Lat, p.Lon, p.SpeedKmh, p.Heading, p.AltitudeM, p.Satellites, p.HDOP, int(p.GNSS), p.Valid, b.attrs[i])
			if err != nil {
				return nil, fmt.Errorf("insert position: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, err
			}
			results[gi].positions += int(n)
		}
		if len(b.evs) > 0 && estmt == nil {
			estmt = tx.StmtContext(ctx, db.insertEvent)
		}
		for i := range b.evs {
			e := &b.evs[i]
			st := now
			if !e.ServerTime.IsZero() {
				st = e.ServerTime.UnixNano()
			}
			res, err := estmt.ExecContext(ctx, string(e.DeviceID), int64(e.TrackerID), string(e.Kind), int(e.Severity),
				e.Time.UnixNano(), st, e.Lat, e.Lon, e.Value)
			if err != nil {
				return nil, fmt.Errorf("insert device event: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, err
			}
			results[gi].events += int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit positions: %w", err)
	}
	return results, nil
}

// minTime and maxTime bound the times a position may carry: unix
// nanoseconds must fit an int64 (years 1678-2262); trackers report from 1980.
var (
	minTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func validTime(t time.Time) bool { return !t.Before(minTime) && t.Before(maxTime) }

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func validatePosition(p *convoi.Position) error {
	if !p.DeviceID.Valid() {
		return convoi.Errorf(convoi.EINVALID, "Position device_id must be 1-64 letters, digits or ._:-.")
	}
	if !validTime(p.FixTime) {
		return convoi.Errorf(convoi.EINVALID, "Position fix_time must be between 1980 and 2200.")
	}
	if !p.ServerTime.IsZero() && !validTime(p.ServerTime) {
		return convoi.Errorf(convoi.EINVALID, "Position server_time must be between 1980 and 2200.")
	}
	if err := (convoi.LatLon{Lat: p.Lat, Lon: p.Lon}).Validate(); err != nil {
		return err
	}
	if !finite(p.SpeedKmh, p.Heading, p.AltitudeM, p.HDOP) {
		return convoi.Errorf(convoi.EINVALID, "Position speed, heading, altitude and HDOP must be finite numbers.")
	}
	return nil
}

func validateEvent(e *convoi.DeviceEvent) error {
	if !e.DeviceID.Valid() {
		return convoi.Errorf(convoi.EINVALID, "Device event device_id must be 1-64 letters, digits or ._:-.")
	}
	if e.Kind == "" || len(e.Kind) > 64 {
		return convoi.Errorf(convoi.EINVALID, "Device event kind required (at most 64 characters).")
	}
	if !validTime(e.Time) {
		return convoi.Errorf(convoi.EINVALID, "Device event time must be between 1980 and 2200.")
	}
	if !e.ServerTime.IsZero() && !validTime(e.ServerTime) {
		return convoi.Errorf(convoi.EINVALID, "Device event server_time must be between 1980 and 2200.")
	}
	if !(e.Lat == 0 && e.Lon == 0) {
		if err := (convoi.LatLon{Lat: e.Lat, Lon: e.Lon}).Validate(); err != nil {
			return err
		}
	}
	return nil
}

func positionLimit(n int) int {
	if n <= 0 {
		return DefaultPositionLimit
	}
	return min(n, MaxPositionLimit)
}

// FindPositions returns stored positions, oldest fix first; From is
// inclusive, To exclusive. Limit 0 means DefaultPositionLimit, capped at MaxPositionLimit.
func (s *PositionService) FindPositions(ctx context.Context, f convoi.PositionFilter) ([]*convoi.Position, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w := &where{}
	if f.DeviceID != nil {
		w.add("device_id = ?", string(*f.DeviceID))
	}
	if f.From != nil {
		w.add("fix_time >= ?", f.From.UnixNano())
	}
	if f.To != nil {
		w.add("fix_time < ?", f.To.UnixNano())
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, device_id, tracker_id, fix_time, server_time, lat, lon, speed_kmh,
		heading, altitude_m, satellites, hdop, gnss, valid, attributes FROM positions`+w.String()+
		fmt.Sprintf(` ORDER BY fix_time, id LIMIT %d`, positionLimit(f.Limit)), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.Position
	for rows.Next() {
		var p convoi.Position
		var fix, st int64
		if err := rows.Scan(&p.ID, &p.DeviceID, &p.TrackerID, &fix, &st, &p.Lat, &p.Lon, &p.SpeedKmh,
			&p.Heading, &p.AltitudeM, &p.Satellites, &p.HDOP, &p.GNSS, &p.Valid, jsonCol{&p.Attributes}); err != nil {
			return nil, err
		}
		p.FixTime, p.ServerTime = time.Unix(0, fix).UTC(), time.Unix(0, st).UTC()
		a = append(a, &p)
	}
	return orEmpty(a), rows.Err()
}

// FindDeviceEvents returns stored device events, oldest first; From is
// inclusive, To exclusive. Limit as in FindPositions.
func (s *PositionService) FindDeviceEvents(ctx context.Context, f convoi.DeviceEventFilter) ([]*convoi.DeviceEvent, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w := &where{}
	if f.DeviceID != nil {
		w.add("device_id = ?", string(*f.DeviceID))
	}
	if f.Kind != nil {
		w.add("kind = ?", string(*f.Kind))
	}
	if f.From != nil {
		w.add("time >= ?", f.From.UnixNano())
	}
	if f.To != nil {
		w.add("time < ?", f.To.UnixNano())
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, device_id, tracker_id, kind, severity, time, server_time, lat, lon, value
		FROM device_events`+w.String()+fmt.Sprintf(` ORDER BY time, id LIMIT %d`, positionLimit(f.Limit)), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.DeviceEvent
	for rows.Next() {
		var e convoi.DeviceEvent
		var t, st int64
		if err := rows.Scan(&e.ID, &e.DeviceID, &e.TrackerID, &e.Kind, &e.Severity, &t, &st, &e.Lat, &e.Lon, &e.Value); err != nil {
			return nil, err
		}
		e.Time, e.ServerTime = time.Unix(0, t).UTC(), time.Unix(0, st).UTC()
		a = append(a, &e)
	}
	return orEmpty(a), rows.Err()
}
