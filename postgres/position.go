package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ convoi.PositionService = (*PositionService)(nil)

// Position listing limits: FindPositions and FindDeviceEvents return at most
// MaxPositionLimit records, DefaultPositionLimit when the filter's Limit is 0.
const (
	DefaultPositionLimit = sqlstore.DefaultPositionLimit
	MaxPositionLimit     = sqlstore.MaxPositionLimit
)

// MaxPositionBatch bounds one StorePositions call (positions plus events).
const MaxPositionBatch = sqlstore.MaxPositionBatch

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
type PositionService struct {
	db                       *DB
	*sqlstore.PositionReader // FindPositions, FindDeviceEvents
}

// NewPositionService returns a PositionService on db.
func NewPositionService(db *DB) *PositionService {
	return &PositionService{db: db, PositionReader: sqlstore.NewPositionReader(db.store)}
}

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
	attrs, err := sqlstore.PrepareBatch(ps, evs)
	if err != nil {
		return 0, 0, err
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
	attrs []string            // JSON attributes per position, "" (NULL) when none
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
	if err := sendGroup(ctx, tx, group, now, false, results); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit positions: %w", err)
	}
	return results, nil
}

// sendGroup queues in one round trip the inserts of a group's device
// events and, when positions is true, of its positions (the COPY path
// writes those itself), and records the rows each batch added in results.
func sendGroup(ctx context.Context, tx pgx.Tx, group []*positionBatch, now int64, positions bool, results []positionResult) error {
	var pb pgx.Batch
	for _, b := range group {
		if positions && len(b.ps) > 0 {
			pb.Queue(insertPositionsSQL, positionArgs(b, now)...)
		}
		if len(b.evs) > 0 {
			pb.Queue(insertEventsSQL, eventArgs(b.evs, now)...)
		}
	}
	br := tx.SendBatch(ctx, &pb)
	for i, b := range group {
		if positions && len(b.ps) > 0 {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("insert positions: %w", writeErr(err, "duplicate position"))
			}
			results[i].positions = int(tag.RowsAffected())
		}
		if len(b.evs) > 0 {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("insert device events: %w", writeErr(err, "duplicate device event"))
			}
			results[i].events = int(tag.RowsAffected())
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("store positions: %w", err)
	}
	return nil
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
	var attrs any // NULL
	if a := b.attrs[r.j]; a != "" {
		attrs = a
	}
	r.row = [14]any{string(p.DeviceID), int64(p.TrackerID), p.FixTime.UnixNano(), st, p.Lat, p.Lon, p.SpeedKmh, p.Heading,
		p.AltitudeM, int64(p.Satellites), p.HDOP, int64(p.GNSS), p.Valid, attrs}
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
	results := make([]positionResult, len(group))
	if err := sendGroup(ctx, tx, group, now, true, results); err != nil {
		return nil, err
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
		attrs                               = make([]pgtype.Text, n)
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
		attrs[i] = pgtype.Text{String: b.attrs[i], Valid: b.attrs[i] != ""}
	}
	return []any{dev, tracker, fix, st, lat, lon, speed, heading, alt, sats, hdop, gnss, valid, attrs}
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
