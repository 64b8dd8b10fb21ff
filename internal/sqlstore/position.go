package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/convoi/convoi"
)

// A listing of positions or device events returns at most
// MaxPositionLimit records, DefaultPositionLimit when the filter's Limit is 0.
const (
	DefaultPositionLimit = 1000
	MaxPositionLimit     = 100000
)

// PositionReader is the read side of a position store: the listings both
// stores answer with the same SQL. Each store writes positions its own way
// (SQLite's group committer, PostgreSQL's COPY).
type PositionReader struct{ db *Store }

// NewPositionReader returns a PositionReader on db.
func NewPositionReader(db *Store) *PositionReader { return &PositionReader{db: db} }

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
func (s *PositionReader) FindPositions(ctx context.Context, f convoi.PositionFilter) ([]*convoi.Position, error) {
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
func (s *PositionReader) FindDeviceEvents(ctx context.Context, f convoi.DeviceEventFilter) ([]*convoi.DeviceEvent, error) {
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
