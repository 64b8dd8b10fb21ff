package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// The group committer: StorePositions queues each validated batch on
// DB.positions; commitPositions, started by Open, writes them.

// maxInsertRows is the most rows one prepared INSERT writes: a batch is
// inserted in statements of up to that many rows, which costs much less
// per row than a statement each (a Teltonika frame holds up to 255).
const maxInsertRows = 16

// positionColumns is the number of values insertPositionsSQL takes per row.
const positionColumns = 14

// insertPositionsSQL returns the statement inserting n positions.
func insertPositionsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT OR IGNORE INTO positions (device_id, tracker_id, fix_time, server_time,
	lat, lon, speed_kmh, heading, altitude_m, satellites, hdop, gnss, valid, attributes) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return b.String()
}

const insertEventSQL = `INSERT OR IGNORE INTO device_events (device_id, tracker_id, kind, severity, time, server_time,
	lat, lon, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// positionBatch is one StorePositions call waiting for the group committer.
type positionBatch struct {
	ps    []convoi.Position
	evs   []convoi.DeviceEvent
	attrs []string // JSON attributes per position, "" (stored NULL) when none
	by    convoi.UserID
	done  chan positionResult // buffered: the committer never blocks
}

type positionResult struct {
	positions, events int
	err               error
}

// maxGroupRecords bounds one group commit: past it the committer commits
// even while the previous group is still being fsynced.
const maxGroupRecords = 20000

// A group of several batches but fewer than minGroupRecords records is
// committed no sooner than commitGap after the previous commit. Each
// commit rewrites the partly filled pages at the right edge of the table
// and index into the WAL and costs an fsync, so committing a few records
// at a time at high rates costs a quarter more CPU (WAL writes, fsync,
// checkpoints) for no throughput. The gap adds at most commitGap to a
// record's latency, nothing once groups are large, and nothing to a lone
// caller (a group of one batch), whose rate only its latency bounds.
const (
	minGroupRecords = 256
	commitGap       = 4 * time.Millisecond
)

// positionGroup is one committed transaction of batches waiting for the
// WAL fsync that makes it durable.
type positionGroup struct {
	batches []*positionBatch
	results []positionResult
}

// commitPositions is the group committer, started by Open and stopped by
// Close. It pipelines the two costs of a durable write: while the syncer
// (syncPositions) fsyncs the WAL for the last committed group, it inserts
// every batch that arrives into the next, still open, transaction; it
// commits that transaction (frames written, not yet fsynced) as soon as the
// syncer is free and either commitGap has passed since the last commit or
// the group holds minGroupRecords, or at once at maxGroupRecords, and hands
// it over. A group is thus as large as what arrived during one fsync or
// one gap (adaptive batching) and a batch waits about one insert plus one
// or two fsyncs, plus at most commitGap. Callers are answered by
// the syncer once their group is durable. Concurrent small batches (one per
// tracker connection) thus share one commit and one fsync. If an insert or
// the commit fails, the open transaction is rolled back and its batches are
// retried one by one so that a batch cannot fail another. This describes
// DB.PipelineSync; by default SQLite fsyncs inside the commit, so the
// committer waits for it and the syncer has only the answers left to send;
// groups are paced the same way.
func (db *DB) commitPositions() {
	defer close(db.positionsDone)
	toSync := make(chan *positionGroup, 4)
	idle := make(chan struct{}, 1) // the syncer is waiting for work
	syncDone := make(chan struct{})
	go db.syncPositions(toSync, idle, syncDone)
	defer func() {
		close(toSync)
		<-syncDone
	}()

	w := &groupWriter{db: db}
	gap := time.NewTimer(commitGap) // since the last commit
	defer gap.Stop()
	gapOver := false
	handOff := func() {
		if g := w.commit(); g != nil {
			toSync <- g
			db.kickCheckpoint()
			gap.Reset(commitGap)
			gapOver = false
		}
	}
	for {
		if w.n == 0 {
			select {
			case b := <-db.positions:
				w.add(b, toSync)
			case <-db.ctx.Done():
				db.refuseQueued()
				return
			}
			continue
		}
		if w.n >= maxGroupRecords {
			select {
			case <-idle:
			default:
			}
			handOff()
			continue
		}
		select { // take what is already waiting before committing
		case b := <-db.positions:
			w.add(b, toSync)
			continue
		default:
		}
		ready := idle // commit once the syncer is free, but not too often
		if !gapOver && w.n < minGroupRecords && len(w.g.batches) > 1 {
			ready = nil
		}
		select {
		case <-gap.C:
			gapOver = true
		case <-ready:
			handOff()
		case b := <-db.positions:
			w.add(b, toSync)
		case <-db.ctx.Done():
			handOff()
			db.refuseQueued()
			return
		}
	}
}

// refuseQueued answers the batches still queued at Close.
func (db *DB) refuseQueued() {
	for {
		select {
		case b := <-db.positions:
			b.done <- positionResult{err: convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")}
		default:
			return
		}
	}
}

// syncPositions is the committer's syncer: it takes every committed group
// waiting, fsyncs the WAL once for all of them, then answers their callers.
// It offers a token on idle whenever it is about to wait, and exits when in
// is closed.
func (db *DB) syncPositions(in <-chan *positionGroup, idle chan<- struct{}, done chan<- struct{}) {
	defer close(done)
	var gs []*positionGroup
	for {
		gs = gs[:0]
		select {
		case g, ok := <-in:
			if !ok {
				return
			}
			gs = append(gs, g)
		default:
			select {
			case idle <- struct{}{}:
			default:
			}
			g, ok := <-in
			if !ok {
				return
			}
			gs = append(gs, g)
		}
	more:
		for {
			select {
			case g, ok := <-in:
				if !ok {
					break more
				}
				gs = append(gs, g)
			default:
				break more
			}
		}
		err := db.syncWAL()
		for _, g := range gs {
			for i, b := range g.batches {
				if err != nil {
					b.done <- positionResult{err: err}
				} else {
					b.done <- g.results[i]
				}
			}
		}
	}
}

// groupWriter is the committer's open transaction and the batches in it.
// It holds the single writer connection from begin to commit, so that
// service calls (which wait for the connection in database/sql) never run
// with its synchronous=NORMAL.
type groupWriter struct {
	db     *DB
	conn   *sql.Conn
	tx     *sql.Tx
	now    int64                        // unix ns, the server time of records without one
	pstmts [maxInsertRows + 1]*sql.Stmt // db.insertPositions in tx, as used
	estmt  *sql.Stmt
	args   []any // scratch for one statement's values
	g      *positionGroup
	n      int // records in the open transaction
}

// add inserts b into the open transaction, beginning one if needed. On an
// error the transaction is rolled back and its batches, b included, are
// written one transaction each; those written go to the syncer.
func (w *groupWriter) add(b *positionBatch, toSync chan<- *positionGroup) {
	if w.g == nil {
		w.g = &positionGroup{}
	}
	w.g.batches = append(w.g.batches, b)
	w.n += len(b.ps) + len(b.evs)
	var err error
	if w.tx == nil {
		err = w.begin()
	}
	var r positionResult
	if err == nil {
		r, err = w.insert(b)
	}
	if err == nil {
		w.g.results = append(w.g.results, r)
		return
	}
	w.retry(toSync)
}

// commit commits the open transaction and returns its group, or nil when
// there was nothing to commit or the batches were retried.
func (w *groupWriter) commit() *positionGroup {
	if w.tx == nil {
		return nil
	}
	if err := w.end(true); err != nil {
		g := w.g
		w.g, w.n = nil, 0
		return w.db.writeEach(g.batches)
	}
	g := w.g
	w.g, w.n = nil, 0
	return g
}

// retry rolls back the open transaction and writes its batches one by one.
func (w *groupWriter) retry(toSync chan<- *positionGroup) {
	w.end(false)
	g := w.g
	w.g, w.n = nil, 0
	if ok := w.db.writeEach(g.batches); ok != nil {
		toSync <- ok
	}
}

// writeEach writes each batch in its own transaction; a batch that fails is
// answered with its error at once, the others are returned as one group to
// be fsynced (nil if none).
func (db *DB) writeEach(batches []*positionBatch) *positionGroup {
	var ok *positionGroup
	for _, b := range batches {
		w := &groupWriter{db: db}
		err := w.begin()
		var r positionResult
		if err == nil {
			if r, err = w.insert(b); err == nil {
				err = w.end(true)
			}
		}
		if err != nil {
			w.end(false)
			b.done <- positionResult{err: err}
			continue
		}
		if ok == nil {
			ok = &positionGroup{}
		}
		ok.batches = append(ok.batches, b)
		ok.results = append(ok.results, r)
	}
	return ok
}

// begin takes the writer connection, switches it to synchronous=NORMAL
// (the syncer fsyncs the WAL instead, see syncWAL) and starts the
// transaction. It does not use the lifecycle context, which would roll the
// transaction back at Close: the committer finishes what it holds.
func (w *groupWriter) begin() error {
	ctx := context.WithoutCancel(w.db.ctx)
	if w.db.writer == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	conn, err := w.db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.conn = conn
	if w.db.walPath != "" {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
			w.release()
			return fmt.Errorf("begin: %w", err)
		}
	}
	if w.tx, err = conn.BeginTx(ctx, nil); err != nil {
		w.release()
		return fmt.Errorf("begin: %w", err)
	}
	w.now = w.db.Now().UnixNano()
	return nil
}

// end commits or rolls back the open transaction, if any, and gives the
// connection back.
func (w *groupWriter) end(commit bool) error {
	var err error
	if w.tx != nil {
		if commit {
			if err = w.tx.Commit(); err != nil {
				err = fmt.Errorf("commit positions: %w", err)
			}
		} else {
			w.tx.Rollback()
		}
	}
	w.tx, w.pstmts, w.estmt = nil, [maxInsertRows + 1]*sql.Stmt{}, nil
	if w.conn != nil {
		w.release()
	}
	return err
}

// release restores synchronous=FULL on the writer connection and returns
// it to the pool; a connection that cannot be restored is discarded rather
// than left to service calls that expect SQLite to fsync.
func (w *groupWriter) release() {
	if w.db.walPath != "" {
		if _, err := w.conn.ExecContext(context.WithoutCancel(w.db.ctx), "PRAGMA synchronous=FULL"); err != nil {
			w.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	w.conn.Close()
	w.conn = nil
}

// insert writes one batch into the open transaction.
func (w *groupWriter) insert(b *positionBatch) (positionResult, error) {
	ctx := context.WithoutCancel(w.db.ctx)
	var r positionResult
	now := w.now
	for ps := b.ps; len(ps) > 0; {
		k := min(len(ps), maxInsertRows)
		stmt := w.pstmts[k]
		if stmt == nil {
			stmt = w.tx.StmtContext(ctx, w.db.insertPositions[k])
			w.pstmts[k] = stmt
		}
		if w.args == nil {
			w.args = make([]any, 0, maxInsertRows*positionColumns)
		}
		args := w.args[:0]
		for i := range ps[:k] {
			p := &ps[i]
			st := now
			if !p.ServerTime.IsZero() {
				st = p.ServerTime.UnixNano()
			}
			args = append(args, string(p.DeviceID), int64(p.TrackerID), p.FixTime.UnixNano(), st,
				p.Lat, p.Lon, p.SpeedKmh, p.Heading, p.AltitudeM, p.Satellites, p.HDOP, int(p.GNSS), p.Valid,
				nullString(b.attrs[len(b.ps)-len(ps)+i]))
		}
		w.args = args
		res, err := stmt.ExecContext(ctx, args...)
		clear(args) // drop the references until the next statement
		if err != nil {
			return r, fmt.Errorf("insert position: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return r, err
		}
		r.positions += int(n)
		ps = ps[k:]
	}
	if len(b.evs) > 0 && w.estmt == nil {
		w.estmt = w.tx.StmtContext(ctx, w.db.insertEvent)
	}
	for i := range b.evs {
		e := &b.evs[i]
		st := now
		if !e.ServerTime.IsZero() {
			st = e.ServerTime.UnixNano()
		}
		res, err := w.estmt.ExecContext(ctx, string(e.DeviceID), int64(e.TrackerID), string(e.Kind), int(e.Severity),
			e.Time.UnixNano(), st, e.Lat, e.Lon, e.Value)
		if err != nil {
			return r, fmt.Errorf("insert device event: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return r, err
		}
		r.events += int(n)
	}
	return r, nil
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
