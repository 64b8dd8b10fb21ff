package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/convoi/convoi"
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

// PositionService implements convoi.PositionService: the tracker ingest path.
type PositionService struct{ db *DB }

// NewPositionService returns a PositionService on db.
func NewPositionService(db *DB) *PositionService { return &PositionService{db: db} }

// StorePositions validates the whole batch first (a bad record is EINVALID
// naming its index, and nothing is written), then inserts it with prepared
// statements and INSERT OR IGNORE, so that a record already stored (same
// device and fix time; for events same device, time and kind) is skipped.
// It returns once the transaction is committed and the WAL fsynced: the
// caller may acknowledge the records. The batch is
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
	// The attributes of the whole batch are encoded into one buffer and
	// converted to one string, which each record's JSON then slices.
	var (
		attrs = make([]string, len(ps))
		ends  = make([]int, len(ps))
		buf   []byte
	)
	for i := range ps {
		p := &ps[i]
		if err := p.Validate(); err != nil {
			return 0, 0, fmt.Errorf("position %d: %w", i, err)
		}
		if len(p.Attributes) > 0 {
			if buf, err = appendAttributes(buf, p.Attributes); err != nil {
				return 0, 0, convoi.Errorf(convoi.EINVALID, "Position %d attributes cannot be stored: %v.", i, err)
			}
		}
		ends[i] = len(buf)
	}
	if len(buf) > 0 {
		all, start := string(buf), 0
		for i, end := range ends {
			attrs[i], start = all[start:end], end
		}
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
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

func positionLimit(n int) int {
	if n <= 0 {
		return DefaultPositionLimit
	}
	return min(n, MaxPositionLimit)
}

// positionOrder is the ORDER BY of FindPositions: oldest first, or newest
// first for PositionFilter.Latest.
func positionOrder(latest bool) string {
	if latest {
		return "fix_time DESC, id DESC"
	}
	return "fix_time, id"
}

// FindPositions returns stored positions, oldest fix first (newest first
// with Latest); From is
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
		fmt.Sprintf(` ORDER BY %s LIMIT %d`, positionOrder(f.Latest), positionLimit(f.Limit)), w.args...)
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
