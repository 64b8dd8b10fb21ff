// Package sqlite implements the convoi service interfaces on an embedded
// SQLite database, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// Usage:
//
//	db := sqlite.NewDB(filepath.Join(dataDir, "convoi.db"))
//	db.Now = clock // optional; defaults to time.Now
//	if err := db.Open(ctx); err != nil { ... } // creates the file, applies migrations
//	defer db.Close()
//	sites := sqlite.NewSiteService(db)
//	movements := sqlite.NewMovementService(db)
//	...
//
// Every service method runs in one transaction, so a failed call writes
// nothing. Two exceptions, both safe: FindTokenByHash reads, then records the
// token's use in a write transaction that re-checks revocation; and
// StorePositions batches from concurrent callers share one transaction
// (group commit), each batch still all-or-nothing. Writes go through a single
// writer connection (BEGIN IMMEDIATE), so writers queue in Go instead of
// failing with SQLITE_BUSY; reads use a separate pool of read-only
// connections that WAL lets run beside the writer. All services are safe for
// concurrent use.
//
// References to missing rows are checked inside the transaction and
// reported as EINVALID naming the missing record; unique violations are
// ECONFLICT; a missing ID is ENOTFOUND. Validation is the domain's
// Validate/Apply, plus the checks the store owns (time ranges, finite
// numbers, JSON bodies). The author of every write is convoi.UserIDFromContext(ctx)
// (0 for the system, for example the demo loader or the command line); times
// come from DB.Now, never from time.Now.
//
// Durability: a write call that returned nil survives both kill -9 and power
// loss: the database runs in WAL mode with synchronous=FULL, so the WAL is
// fsynced inside every commit, before the call returns. With
// DB.PipelineSync the position group committer instead commits with
// synchronous=NORMAL and the store fsyncs the WAL file itself right after
// the commit, before answering (see commitPositions): the same guarantee
// (SQLite still syncs the WAL header when it restarts the log, and syncs
// around checkpoints), and the committer writes the next group while the
// last one is being fsynced; measured, it was no faster once groups are
// paced (commitGap), so it is off by default. Checkpoints run on their own
// connection in the background, so that the writer rarely copies pages into
// the database file itself. Trackers acknowledge records once stored, so an
// acknowledged position must survive both kinds of failure. See
// docs/tracker.md and docs/benchmarks.md for what it costs.
//
// Positions are keyed (fix_time, device_id), time-major, for ingest speed;
// per-device reads should give a time window (see the migration and
// docs/benchmarks.md).
//
// Times of entities are stored as fixed-width UTC RFC 3339 text with
// nanoseconds (so that text order is time order); positions and device
// events store unix nanoseconds as integers for speed and compactness.
//
// The entity services (everything but positions) are the SQL that the
// postgres package runs too, shared in internal/sqlstore (see services.go);
// this package provides what is SQLite's own: the file, its connection
// pools and pragmas, migrations, the dialect, and the position ingest.
//
// This package imports convoi, internal/sqlstore, the standard library and
// the driver only; it must not import other adapters or engines.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/sqlstore"

	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// DefaultIdempotencyTTL is how long an idempotency record blocks its key.
const DefaultIdempotencyTTL = 24 * time.Hour

// DB is a SQLite database and its connection pools. Create it with NewDB,
// set the exported fields, then call Open.
type DB struct {
	// DSN is the database file path (or "file:" URI) given to NewDB.
	DSN string

	// Now returns the current time; it stamps created_at, updated_at,
	// transitions, token use and expiry. Defaults to time.Now.
	Now convoi.Clock

	// IdempotencyTTL is how long SaveIdempotency refuses to replace a record
	// with the same (user, key). Defaults to DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration

	// BusyTimeout bounds how long a connection waits on a lock held by
	// another process (for example `convoi migrate` beside `convoi serve`).
	BusyTimeout time.Duration

	// PipelineSync makes the position group committer commit with
	// synchronous=NORMAL and fsync the WAL itself right after the commit,
	// while it writes the next group, instead of letting SQLite fsync
	// inside the commit (synchronous=FULL, the default). Both are equally
	// durable; see docs/tracker.md for why and for what it measured. Set
	// before Open.
	PipelineSync bool

	// Sealer, when set, encrypts schedule values (drawn departures, routes,
	// strategies, replayed responses) before they are written; see seal.go.
	// It also turns on secure_delete, so that replaced values do not linger
	// in free pages. Set before Open.
	Sealer Sealer

	store *sqlstore.Store // the entity services' view of db (see services.go)

	writer *sql.DB // one connection: all writes, BEGIN IMMEDIATE
	reader *sql.DB // read-only connections
	ckpt   *sql.DB // one connection: background WAL checkpoints

	// walPath is the WAL file that syncWAL fsyncs after each position
	// group commit; empty for an in-memory database or without PipelineSync.
	walPath string
	walMu   sync.Mutex // guards wal
	wal     *os.File   // open on walPath, reopened if SQLite recreates the file

	// prepared on writer at Open: the position ingest hot path.
	insertPositions [maxInsertRows + 1]*sql.Stmt // [n] inserts n rows
	insertEvent     *sql.Stmt

	// positions feeds the group committer goroutine (see commitPositions),
	// which runs from Open until Close and closes positionsDone on exit.
	positions     chan *positionBatch
	positionsDone chan struct{}

	// checkpoint wakes the checkpointer (see checkpointWAL) after commits;
	// checkpointDone is closed when it exits.
	checkpoint     chan struct{}
	checkpointDone chan struct{}

	ctx    context.Context // lifecycle context, ended by Close
	cancel context.CancelFunc
}

// NewDB returns a DB for the file at dsn (a path, or a "file:" URI without
// query parameters). ":memory:" is accepted for throwaway use; it then uses a
// single connection for reads and writes.
func NewDB(dsn string) *DB {
	db := &DB{
		DSN:            dsn,
		Now:            time.Now,
		IdempotencyTTL: DefaultIdempotencyTTL,
		BusyTimeout:    5 * time.Second,
	}
	db.ctx, db.cancel = context.WithCancel(context.Background())
	db.store = sqlstore.New(dialect, db.begin, &db.Now, &db.Sealer, &db.IdempotencyTTL)
	return db
}

// Open creates the database file and its directory if needed, sets the
// connection pragmas (WAL, foreign keys, busy timeout, synchronous) and
// applies the embedded migrations that have not been applied yet.
func (db *DB) Open(ctx context.Context) (err error) {
	if db.DSN == "" {
		return fmt.Errorf("dsn required")
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	if db.IdempotencyTTL <= 0 {
		db.IdempotencyTTL = DefaultIdempotencyTTL
	}
	memory := db.DSN == ":memory:"
	path := strings.TrimPrefix(db.DSN, "file:")
	if !memory {
		if dir := filepath.Dir(path); dir != "" && dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create data directory: %w", err)
			}
		}
	}
	defer func() {
		if err != nil {
			db.closePools()
		}
	}()

	if db.writer, err = sql.Open("sqlite", db.dsn(path, false)); err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	if err := db.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("open %s: %w", db.DSN, err)
	}
	if !memory && db.PipelineSync {
		db.walPath = path + "-wal"
	}
	if err := db.migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	if memory {
		db.reader = db.writer
	} else {
		if db.reader, err = sql.Open("sqlite", db.dsn(path, true)); err != nil {
			return fmt.Errorf("open reader: %w", err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		db.reader.SetMaxOpenConns(n)
		db.reader.SetMaxIdleConns(n)
		if db.ckpt, err = sql.Open("sqlite", db.dsn(path, false)); err != nil {
			return fmt.Errorf("open checkpointer: %w", err)
		}
		db.ckpt.SetMaxOpenConns(1)
		db.ckpt.SetMaxIdleConns(1)
		db.ckpt.SetConnMaxLifetime(0)
		db.ckpt.SetConnMaxIdleTime(0)
	}

	for n := 1; n <= maxInsertRows; n++ {
		if db.insertPositions[n], err = db.writer.PrepareContext(ctx, insertPositionsSQL(n)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	if db.insertEvent, err = db.writer.PrepareContext(ctx, insertEventSQL); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	db.positions = make(chan *positionBatch, 1024)
	db.positionsDone = make(chan struct{})
	go db.commitPositions()
	db.checkpoint = make(chan struct{}, 1)
	db.checkpointDone = make(chan struct{})
	go db.checkpointWAL()
	return nil
}

// dsn builds the driver DSN. Pragmas run on every new connection.
func (db *DB) dsn(path string, readOnly bool) string {
	if path == ":memory:" {
		path = "file::memory:"
	} else {
		path = "file:" + path
	}
	q := url.Values{}
	ms := db.BusyTimeout.Milliseconds()
	if ms <= 0 {
		ms = 5000
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", ms))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if db.Sealer != nil {
		q.Add("_pragma", "secure_delete(1)") // no replaced schedule left in free pages
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Close stops the lifecycle context and closes the connections. Calls in
// flight fail.
func (db *DB) Close() error {
	db.cancel()
	if db.positionsDone != nil {
		<-db.positionsDone
	}
	if db.checkpointDone != nil {
		<-db.checkpointDone
	}
	return db.closePools()
}

func (db *DB) closePools() error {
	var errs []error
	for _, s := range append(db.insertPositions[:], db.insertEvent) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	db.insertPositions, db.insertEvent = [maxInsertRows + 1]*sql.Stmt{}, nil
	if db.reader != nil && db.reader != db.writer {
		errs = append(errs, db.reader.Close())
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	db.reader, db.writer, db.ckpt = nil, nil, nil
	db.walMu.Lock()
	if db.wal != nil {
		errs = append(errs, db.wal.Close())
		db.wal = nil
	}
	db.walMu.Unlock()
	return errors.Join(errs...)
}

// syncWAL fsyncs the WAL file, making every transaction committed before
// the call durable against power loss (a commit has already written its
// frames with write(2), so it survives kill -9 as soon as it returns; with
// synchronous=FULL it is durable already).
// SQLite deletes the WAL when its last connection closes and creates a new
// file on the next write, so the file is reopened when the path no longer
// names the file held open. A no-op for in-memory databases and with
// without PipelineSync, where SQLite fsyncs inside the commit.
func (db *DB) syncWAL() error {
	if db.walPath == "" {
		return nil
	}
	for attempt := 0; ; attempt++ {
		db.walMu.Lock()
		f := db.wal
		if f == nil {
			var err error
			if f, err = os.OpenFile(db.walPath, os.O_RDWR, 0); err != nil {
				db.walMu.Unlock()
				return fmt.Errorf("sync wal: %w", err)
			}
			db.wal = f
		}
		db.walMu.Unlock()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync wal: %w", err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(db.walPath)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("sync wal: %w", err)
		}
		if os.SameFile(held, named) {
			return nil
		}
		if attempt > 0 {
			return fmt.Errorf("sync wal: %s keeps changing", db.walPath)
		}
		db.walMu.Lock()
		if db.wal == f {
			db.wal = nil
			f.Close()
		}
		db.walMu.Unlock()
	}
}

// checkpointInterval is the least time between two background checkpoints.
const checkpointInterval = 50 * time.Millisecond

// checkpointWAL runs from Open until Close: woken after commits, it copies
// committed WAL frames into the database file (a PASSIVE checkpoint, which
// never blocks the writer or readers) on its own connection, at most every
// checkpointInterval. The writer's automatic checkpoint (every 1,000 WAL
// pages) then finds little left to copy and resets the log, so the WAL
// stays small and ingest is not stalled by copying megabytes of pages into
// the database in the middle of a commit. Errors are left to the next
// attempt: a failed checkpoint loses nothing.
func (db *DB) checkpointWAL() {
	defer close(db.checkpointDone)
	if db.ckpt == nil {
		return
	}
	ctx := db.ctx
	for {
		select {
		case <-db.checkpoint:
		case <-ctx.Done():
			return
		}
		db.ckpt.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-time.After(checkpointInterval):
		case <-ctx.Done():
			return
		}
	}
}

// kickCheckpoint wakes the checkpointer without blocking.
func (db *DB) kickCheckpoint() {
	select {
	case db.checkpoint <- struct{}{}:
	default:
	}
}

// migrate applies every embedded migration not yet recorded in the
// migrations table, each in its own transaction, in file-name order.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`,
		name, formatTime(db.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// Migrations returns the names of the applied migrations, in order.
func (db *DB) Migrations(ctx context.Context) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		names = append(names, s)
	}
	return names, rows.Err()
}

// begin starts a transaction for the shared services (internal/sqlstore):
// a write on the writer connection (BEGIN IMMEDIATE, so writers queue in
// Go), or a read-only snapshot on the reader pool.
func (db *DB) begin(ctx context.Context, write bool) (sqlstore.Conn, error) {
	pool, opts := db.reader, &sql.TxOptions{ReadOnly: db.reader != db.writer}
	if write {
		pool, opts = db.writer, nil
	}
	if pool == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return conn{tx}, nil
}

// conn is a database/sql transaction as sqlstore.Conn.
type conn struct{ *sql.Tx }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Insert(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return c.QueryRowContext(ctx, q, args...)
}

// sqlRows is *sql.Rows as sqlstore.Rows (Close without a result: the
// error of a failed iteration is reported by Err).
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// dialect is SQLite's SQL where the shared services need it: times as
// fixed-width text, instr, json_each and json_group_array.
var dialect = sqlstore.Dialect{
	Time:      func(t time.Time) any { return formatTime(t) },
	Violation: violation,
	Instr:     "instr",
	JSONEach: func(col, alias string) (string, string) {
		return "json_each(" + col + ") AS " + alias, alias + ".value"
	},
	JSONArray: func(col, from, where, order string) string {
		return "(SELECT json_group_array(" + col + ") FROM (SELECT " + col + " FROM " + from +
			" WHERE " + where + " ORDER BY " + order + "))"
	},
}

func formatTime(t time.Time) string { return t.UTC().Format(sqlstore.TimeFormat) }

// sqliteCode returns the extended result code of a driver error, or 0.
func sqliteCode(err error) int {
	var e *sqlite3.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// violation classifies a constraint error for the shared services.
func violation(err error) sqlstore.Violation {
	switch c := sqliteCode(err); {
	case c == sqlitelib.SQLITE_CONSTRAINT_UNIQUE || c == sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.Unique
	case c == sqlitelib.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKey
	case c&0xff == sqlitelib.SQLITE_CONSTRAINT:
		return sqlstore.Constraint
	}
	return sqlstore.NoViolation
}

func init() {
	// SQLite's lower() only folds ASCII: convoi_fold is the folding of
	// the shared services' case-insensitive filters.
	sqlite3.MustRegisterDeterministicScalarFunction("convoi_fold", 1, func(ctx *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return sqlstore.Fold(v), nil
		case []byte:
			return sqlstore.Fold(string(v)), nil
		case nil:
			return nil, nil
		default:
			return sqlstore.Fold(fmt.Sprint(v)), nil
		}
	})
}

// Pragma returns the value of a pragma on the writer connection, or the
// error text; for tests and `convoi migrate` diagnostics. name must be a
// pragma name, not user input.
func (db *DB) Pragma(ctx context.Context, name string) string {
	if db.writer == nil {
		return "closed"
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && r != '_' {
			return "invalid pragma name"
		}
	}
	var v string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
		return err.Error()
	}
	return v
}
