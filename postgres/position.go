package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/convoi/convoi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ convoi.PositionService = (*PositionService)(nil)

// Position listing limits: FindPositions and FindDeviceEvents return at most
// MaxPositionLimit records, DefaultPositionLimit when the filter's Limit is 0.
const (
	DefaultPositionLimit = 1000
	MaxPositionLimit     = 100000
)

// MaxPositionBatch bounds one StorePositions call (positions plus events).
const MaxPositionBatch = 10000

// insertPositionsSQL inserts one batch of positions given as column arrays;
// a record already stored (same fix time and device) is skipped.
const insertPositionsSQL = `INSERT INTO positions (device_id, tracker_id, fix_time, server_time,
	lat, lon, speed_kmh, heading, altitude_m, satellites, hdop, gnss, valid, attributes)
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[],
		$7::float8[], $8::float8[], $9::float8[], $10::bigint[], $11::float8[], $12::bigint[], $13::bool[], $14::text[])
	ON CONFLICT (fix_time, device_id) DO NOTHING`

// insertEventsSQL inserts one batch of device events given as column
// arrays; an event already stored (same device, time and kind) is skipped.
const insertEventsSQL = `INSERT INTO device_events (device_id, tracker_id, kind, severity, time, server_time, lat, lon, value)
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
		$7::float8[], $8::float8[], $9::bigint[])
	ON CONFLICT (device_id, time, kind) DO NOTHING`

// PositionService implements convoi.PositionService: the tracker ingest path.
type PositionService struct{ db *DB }

// NewPositionService returns a PositionService on db.
func NewPositionService(db *DB) *PositionService { return &PositionService{db: db} }

// StorePositions validates the whole batch first (a bad record is EINVALID
// naming its index, and nothing is written), then inserts it, skipping a
// record already stored (same device and fix time; for events same device,
// time and kind). It returns once the transaction is committed: the caller
// may acknowledge the records. The batch is written atomically; batches
// from concurrent callers may share one transaction (group commit, see
// commitPositions). A zero ServerTime is set to DB.Now. IDs are not set on
// the inputs. Safe for concurrent use, from several nodes.
func (s *PositionService) StorePositions(ctx context.Context, ps []convoi.Position, evs []convoi.DeviceEvent) (newPositions, newEvents int, err error) {
	if len(ps)+len(evs) == 0 {
		return 0, 0, nil
	}
	if len(ps)+len(evs) > MaxPositionBatch {
		return 0, 0, convoi.Errorf(convoi.EINVALID, "A batch holds at most %d records.", MaxPositionBatch)
	}
	var (
		attrs = make([]pgtype.Text, len(ps))
		buf   []byte
	)
	for i := range ps {
		p := &ps[i]
		if err := p.Validate(); err != nil {
			return 0, 0, fmt.Errorf("position %d: %w", i, err)
		}
		if len(p.Attributes) > 0 {
			if buf, err = appendAttributes(buf[:0], p.Attributes); err != nil {
				return 0, 0, convoi.Errorf(convoi.EINVALID, "Position %d attributes cannot be stored: %v.", i, err)
			}
			attrs[i] = pgtype.Text{String: string(buf), Valid: true}
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
	req := &positionBatch{ps: ps, evs: evs, attrs: attrs, done: make(chan positionResult, 1)}
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

// positionBatch is one StorePositions call waiting for a committer.
type positionBatch struct {
	ps    []convoi.Position
	evs   []convoi.DeviceEvent
	attrs []pgtype.Text       // JSON attributes per position, NULL when none
	done  chan positionResult // buffered: the committer never blocks
}

type positionResult struct {
	positions, events int
	err               error
}

// Group commit: each of positionCommitters goroutines takes a batch, adds
// every batch already waiting up to maxGroupRecords records, and writes
// them in one transaction, one statement per batch sent in one round trip
// (a pgx pipeline), then commits and answers every caller. A group is thus
// what arrived during the previous commit (adaptive batching), and several
// committers keep the server's WAL flushes overlapping. If the group fails,
// its batches are retried one by one so that a batch cannot fail another.
const (
	positionCommitters = 4
	maxGroupRecords    = 20000
)

// commitPositions runs the committers from Open until Close.
func (db *DB) commitPositions() {
	defer close(db.positionsDone)
	var wg sync.WaitGroup
	for range positionCommitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.positionCommitter()
		}()
	}
	wg.Wait()
	for { // answer the batches still queued at Close
		select {
		case b := <-db.positions:
			b.done <- positionResult{err: convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")}
		default:
			return
		}
	}
}

func (db *DB) positionCommitter() {
	var group []*positionBatch
	for {
		group = group[:0]
		select {
		case b := <-db.positions:
			group = append(group, b)
		case <-db.ctx.Done():
			return
		}
		n := len(group[0].ps) + len(group[0].evs)
	more:
		for n < maxGroupRecords {
			select {
			case b := <-db.positions:
				group = append(group, b)
				n += len(b.ps) + len(b.evs)
			default:
				break more
			}
		}
		results, err := db.writeGroup(group)
		if err != nil && len(group) > 1 {
			for _, b := range group {
				r, err := db.writeGroup([]*positionBatch{b})
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

// copyPositions turns copyGroup on; the benchmarks turn it off to compare.
var copyPositions = true

// positionColumns are the columns of insertPositionsSQL and of the COPY
// of copyGroup, in their order.
var positionColumns = []string{"device_id", "tracker_id", "fix_time", "server_time", "lat", "lon",
	"speed_kmh", "heading", "altitude_m", "satellites", "hdop", "gnss", "valid", "attributes"}

// writeGroup writes the batches in one transaction and commits it: by COPY
// when no position of the group is stored yet (the common case), else, on
// the COPY's unique violation, again by insertGroup, which skips the
// stored ones.
func (db *DB) writeGroup(group []*positionBatch) ([]positionResult, error) {
	if copyPositions {
		results, err := db.copyGroup(group)
		if err == nil || !isUnique(err) {
			return results, err
		}
	}
	return db.insertGroup(group)
}

// copyGroup writes the group's positions with one COPY (binary, no
// per-row conflict check: about a third less server CPU per record than
// insertGroup's INSERT ... ON CONFLICT, which probes the primary key and
// writes a confirmation WAL record for every row), its device events with
// insertEventsSQL, and commits. A position already stored fails the whole
// COPY with a unique violation, and nothing is written.
func (db *DB) copyGroup(group []*positionBatch) ([]positionResult, error) {
	ctx := context.WithoutCancel(db.ctx)
	now := db.Now().UnixNano()
	results := make([]positionResult, len(group))
	rows := &positionRows{group: group, now: now, i: 0, j: -1}
	events := false
	for i, b := range group {
		results[i].positions = len(b.ps)
		events = events || len(b.evs) > 0
	}
	if !events {
		// One statement, its own transaction: the server commits it
		// (synchronous_commit) before it answers, in one round trip
		// instead of three (BEGIN, COPY, COMMIT).
		if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{"positions"}, positionColumns, rows); err != nil {
			return nil, fmt.Errorf("copy positions: %w", err)
		}
		return results, nil
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store positions: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"positions"}, positionColumns, rows); err != nil {
		return nil, fmt.Errorf("copy positions: %w", err)
	}
	var pb pgx.Batch
	for _, b := range group {
		if len(b.evs) > 0 {
			pb.Queue(insertEventsSQL, eventArgs(b.evs, now)...)
		}
	}
	{
		br := tx.SendBatch(ctx, &pb)
		for i, b := range group {
			if len(b.evs) == 0 {
				continue
			}
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return nil, fmt.Errorf("insert device events: %w", writeErr(err, "duplicate device event"))
			}
			results[i].events = int(tag.RowsAffected())
		}
		if err := br.Close(); err != nil {
			return nil, fmt.Errorf("store device events: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit positions: %w", err)
	}
	return results, nil
}

// positionRows is the pgx.CopyFromSource of copyGroup: the positions of
// every batch of a group, one row at a time, without copying them first.
type positionRows struct {
	group []*positionBatch
	now   int64
	i, j  int // batch, position in it
	row   [14]any
}

func (r *positionRows) Next() bool {
	for r.i < len(r.group) {
		if r.j+1 < len(r.group[r.i].ps) {
			r.j++
			return true
		}
		r.i, r.j = r.i+1, -1
	}
	return false
}

func (r *positionRows) Values() ([]any, error) {
	b := r.group[r.i]
	p := &b.ps[r.j]
	st := r.now
	if !p.ServerTime.IsZero() {
		st = p.ServerTime.UnixNano()
	}
	r.row = [14]any{string(p.DeviceID), int64(p.TrackerID), p.FixTime.UnixNano(), st, p.Lat, p.Lon, p.SpeedKmh, p.Heading,
		p.AltitudeM, int64(p.Satellites), p.HDOP, int64(p.GNSS), p.Valid, b.attrs[r.j]}
	return r.row[:], nil
}

func (r *positionRows) Err() error { return nil }

// insertGroup writes the batches in one transaction, one INSERT ... ON
// CONFLICT DO NOTHING per batch pipelined in one round trip, and commits.
func (db *DB) insertGroup(group []*positionBatch) ([]positionResult, error) {
	// A batch accepted is written even while Close is under way; Close
	// waits for the committers.
	ctx := context.WithoutCancel(db.ctx)
	now := db.Now().UnixNano()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store positions: %w", err)
	}
	defer tx.Rollback(ctx)
	var pb pgx.Batch
	for _, b := range group {
		if len(b.ps) > 0 {
			pb.Queue(insertPositionsSQL, positionArgs(b, now)...)
		}
		if len(b.evs) > 0 {
			pb.Queue(insertEventsSQL, eventArgs(b.evs, now)...)
		}
	}
	results := make([]positionResult, len(group))
	br := tx.SendBatch(ctx, &pb)
	for i, b := range group {
		if len(b.ps) > 0 {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return nil, fmt.Errorf("insert positions: %w", writeErr(err, "duplicate position"))
			}
			results[i].positions = int(tag.RowsAffected())
		}
		if len(b.evs) > 0 {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return nil, fmt.Errorf("insert device events: %w", writeErr(err, "duplicate device event"))
			}
			results[i].events = int(tag.RowsAffected())
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("store positions: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit positions: %w", err)
	}
	return results, nil
}

// positionArgs returns the column arrays of insertPositionsSQL for b.
func positionArgs(b *positionBatch, now int64) []any {
	n := len(b.ps)
	var (
		dev                                 = make([]string, n)
		tracker, fix, st, sats, gnss        = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		lat, lon, speed, heading, alt, hdop = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		valid                               = make([]bool, n)
	)
	for i := range b.ps {
		p := &b.ps[i]
		dev[i], tracker[i], fix[i] = string(p.DeviceID), int64(p.TrackerID), p.FixTime.UnixNano()
		st[i] = now
		if !p.ServerTime.IsZero() {
			st[i] = p.ServerTime.UnixNano()
		}
		lat[i], lon[i], speed[i], heading[i], alt[i] = p.Lat, p.Lon, p.SpeedKmh, p.Heading, p.AltitudeM
		sats[i], hdop[i], gnss[i], valid[i] = int64(p.Satellites), p.HDOP, int64(p.GNSS), p.Valid
	}
	return []any{dev, tracker, fix, st, lat, lon, speed, heading, alt, sats, hdop, gnss, valid, b.attrs}
}

// eventArgs returns the column arrays of insertEventsSQL for evs.
func eventArgs(evs []convoi.DeviceEvent, now int64) []any {
	n := len(evs)
	var (
		dev, kind                  = make([]string, n), make([]string, n)
		tracker, sev, t, st, value = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		lat, lon                   = make([]float64, n), make([]float64, n)
	)
	for i := range evs {
		e := &evs[i]
		dev[i], tracker[i], kind[i], sev[i], t[i] = string(e.DeviceID), int64(e.TrackerID), string(e.Kind), int64(e.Severity), e.Time.UnixNano()
		st[i] = now
		if !e.ServerTime.IsZero() {
			st[i] = e.ServerTime.UnixNano()
		}
		lat[i], lon[i], value[i] = e.Lat, e.Lon, e.Value
	}
	return []any{dev, tracker, kind, sev, t, st, lat, lon, value}
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// appendAttributes appends m as a JSON object to b, byte for byte what
// json.Marshal writes (keys sorted, HTML-safe escaping), without its
// reflection for the value types the tracker produces (strings, booleans,
// integers, floats, nil); other values go through json.Marshal. It fails
// as json.Marshal does (NaN, infinities, unsupported types).
func appendAttributes(b []byte, m map[string]any) ([]byte, error) {
	var keyBuf [32]string
	keys := keyBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			break // json.Marshal's error
		}
		// encoding/json's float format: shortest, 'e' only for very
		// small or large magnitudes, with the exponent's leading zero cut.
		f := byte('f')
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			f = 'e'
		}
		b = strconv.AppendFloat(b, v, f, -1, 64)
		if f == 'e' {
			if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
				b[n-2] = b[n-1]
				b = b[:n-1]
			}
		}
		return b, nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendJSONString quotes s as json.Marshal does; strings of plain ASCII
// (the IO map's attribute names, most values) are copied as they are.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
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
