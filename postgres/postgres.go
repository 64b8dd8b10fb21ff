// Package postgres implements the convoi service interfaces on PostgreSQL
// (13 or later, tested on 15) through pgx/v5, for a deployment of several
// convoi nodes sharing one database (see docs/deploy.md). It passes the same
// conformance suite (storetest) as the sqlite package and behaves the same.
//
// Usage:
//
//	db := postgres.NewDB("postgres://convoi@db1/convoi")
//	db.Now = clock // optional; defaults to time.Now
//	if err := db.Open(ctx); err != nil { ... } // connects, applies migrations
//	defer db.Close()
//	sites := postgres.NewSiteService(db)
//	...
//
// Every service method runs in one transaction, so a failed call writes
// nothing. Entity writes (sites, movements, alarms, users, ...) take a
// transaction-level advisory lock first (writeLock), so that they run one
// after another across every node, as SQLite's single writer runs them: a
// check-then-write (a movement's state machine, an alarm's acknowledgement,
// an escalation timer, a token's revocation) therefore cannot interleave with
// another node's. Such writes are a few per second; the lock is held for the
// few statements of one call. Reads run beside them on REPEATABLE READ
// snapshots. The position ingest path does not take the lock: its inserts
// are idempotent (ON CONFLICT DO NOTHING on the record's natural key) and
// batches from concurrent callers share one transaction (group commit).
//
// Durability: a call that returned nil has been committed; PostgreSQL's
// default synchronous_commit=on has flushed its WAL before the commit
// returns (and with a synchronous standby, replicated it). Trackers
// acknowledge records only then.
//
// References to missing rows are checked inside the transaction and
// reported as EINVALID naming the missing record; unique violations are
// ECONFLICT; a missing ID is ENOTFOUND. Times of entities are timestamptz
// (microseconds); positions and device events store unix nanoseconds as
// bigint, as in SQLite, so that a fix time round-trips exactly.
//
// The schema lives in the connection's search_path (by default the public
// schema); a DSN may select another with search_path=NAME, which the tests
// use to give each test its own schema.
//
// This package imports convoi, the standard library and pgx only.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// DefaultIdempotencyTTL is how long an idempotency record blocks its key.
const DefaultIdempotencyTTL = 24 * time.Hour

// writeLockKey is the advisory lock every entity write takes (see the
// package comment); migrateLockKey serializes migrations of several nodes
// starting at once. Both are arbitrary constants ("convoi" in ASCII).
const (
	writeLockKey   = 0x636f6e766f69
	migrateLockKey = 0x636f6e766f6a
)

// DB is a PostgreSQL database and its connection pool. Create it with
// NewDB, set the exported fields, then call Open.
type DB struct {
	// DSN is the connection string given to NewDB (a postgres:// URL or a
	// key=value string, as libpq accepts).
	DSN string

	// Now returns the current time; it stamps created_at, updated_at,
	// transitions, token use and expiry. Defaults to time.Now.
	Now convoi.Clock

	// IdempotencyTTL is how long SaveIdempotency refuses to replace a record
	// with the same (user, key). Defaults to DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration

	// Sealer, when set, encrypts schedule values (drawn departures, routes,
	// strategies, overrides, replayed responses) before they are written,
	// as the sqlite package does; see seal.go. Set before Open.
	Sealer Sealer

	// MaxConns bounds the pool; 0 means the connection string's
	// pool_max_conns, or at least 16: entity writes wait for the write lock
	// holding a connection, and the position committers hold up to four.
	MaxConns int32

	pool *pgxpool.Pool

	// positions feeds the group committer goroutines (see commitPositions).
	positions     chan *positionBatch
	positionsDone chan struct{}

	ctx    context.Context // lifecycle context, ended by Close
	cancel context.CancelFunc
}

// NewDB returns a DB for the given connection string.
func NewDB(dsn string) *DB {
	db := &DB{DSN: dsn, Now: time.Now, IdempotencyTTL: DefaultIdempotencyTTL}
	db.ctx, db.cancel = context.WithCancel(context.Background())
	return db
}

// Open connects and applies the embedded migrations not applied yet.
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
	cfg, err := pgxpool.ParseConfig(db.DSN)
	if err != nil {
		return fmt.Errorf("postgres connection string: %w", redact(err))
	}
	if db.MaxConns > 0 {
		cfg.MaxConns = db.MaxConns
	} else if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("open postgres: %w", redact(err))
	}
	defer func() {
		if err != nil {
			db.pool.Close()
			db.pool = nil
		}
	}()
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect: %w", redact(err))
	}
	if err := db.migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db.positions = make(chan *positionBatch, 1024)
	db.positionsDone = make(chan struct{})
	go db.commitPositions()
	return nil
}

// Close stops the position committers and closes the pool. Calls in flight fail.
func (db *DB) Close() error {
	db.cancel()
	if db.positionsDone != nil {
		<-db.positionsDone
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return nil
}

// Pool returns the connection pool, for the lease (see Lease) and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Redact returns dsn without its password, for messages.
func Redact(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparsable connection string)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// redact drops the connection string pgx may quote in a parse error.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the connection string")
	}
	return err
}

// migrate applies every embedded migration not yet recorded in the
// migrations table, each in its own transaction, in file-name order, under
// an advisory lock so that nodes starting together do not race.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name TEXT PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, conn.Conn(), name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, conn *pgx.Conn, name string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM migrations WHERE name = $1`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	// Simple protocol: a migration file holds several statements.
	if _, err := tx.Conn().PgConn().Exec(ctx, string(buf)).ReadAll(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (name, applied_at) VALUES ($1, $2)`, name, db.Now().UTC()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Migrations returns the names of the applied migrations, in order.
func (db *DB) Migrations(ctx context.Context) ([]string, error) {
	if db.pool == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	rows, err := db.pool.Query(ctx, `SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Tx wraps a transaction with the time and author of the service call. Its
// methods take SQL with ? placeholders (as the sqlite package writes it)
// and number them for PostgreSQL.
type Tx struct {
	tx  pgx.Tx
	ctx context.Context
	db  *DB
	now time.Time     // one timestamp for everything the call writes
	by  convoi.UserID // author from the context
}

// beginWrite starts a transaction holding the entity write lock.
func (db *DB) beginWrite(ctx context.Context) (*Tx, error) {
	if db.pool == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("write lock: %w", err)
	}
	return &Tx{tx: tx, ctx: ctx, db: db, now: db.Now().UTC(), by: convoi.UserIDFromContext(ctx)}, nil
}

// beginRead starts a read-only REPEATABLE READ transaction: a consistent
// snapshot for a listing and its count.
func (db *DB) beginRead(ctx context.Context) (*Tx, error) {
	if db.pool == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &Tx{tx: tx, ctx: ctx, db: db, now: db.Now().UTC(), by: convoi.UserIDFromContext(ctx)}, nil
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit(context.WithoutCancel(tx.ctx)) }

// Rollback rolls the transaction back; after Commit it does nothing.
func (tx *Tx) Rollback() error { return tx.tx.Rollback(context.WithoutCancel(tx.ctx)) }

// result is what ExecContext returns, shaped like database/sql's.
type result struct{ n int64 }

func (r result) RowsAffected() (int64, error) { return r.n, nil }

// ExecContext runs a statement.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (result, error) {
	tag, err := tx.tx.Exec(ctx, rebind(q), args...)
	if err != nil {
		return result{}, err
	}
	return result{tag.RowsAffected()}, nil
}

// QueryContext runs a query.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (pgx.Rows, error) {
	return tx.tx.Query(ctx, rebind(q), args...)
}

// QueryRowContext runs a query returning at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) pgx.Row {
	return tx.tx.QueryRow(ctx, rebind(q), args...)
}

// inserted is what insertContext returns: the new row's id.
type inserted struct{ id int64 }

func (r inserted) LastInsertId() (int64, error) { return r.id, nil }

// insertContext runs an INSERT of one row with RETURNING id.
func (tx *Tx) insertContext(ctx context.Context, q string, args ...any) (inserted, error) {
	var id int64
	err := tx.tx.QueryRow(ctx, rebind(q)+" RETURNING id", args...).Scan(&id)
	return inserted{id}, err
}

// rebind numbers the ? placeholders of q ($1, $2, ...), outside quotes.
func rebind(q string) string {
	if strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// exists reports whether table has a row with id. table is a constant.
func (tx *Tx) exists(ctx context.Context, table string, id int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

// mustExist returns an EINVALID error naming what when the referenced row
// is missing. A zero id is not checked (it means "none").
func (tx *Tx) mustExist(ctx context.Context, table, what string, id int64) error {
	if id == 0 {
		return nil
	}
	ok, err := tx.exists(ctx, table, id)
	if err != nil {
		return err
	} else if !ok {
		return convoi.Errorf(convoi.EINVALID, "%s %d does not exist.", what, id)
	}
	return nil
}

// formatTime returns t in UTC for a timestamptz parameter.
func formatTime(t time.Time) time.Time { return t.UTC() }

// textTime formats a time for the text columns that may hold a sealed
// value instead (movements.planned_departure, plans.draw_departure):
// fixed-width UTC RFC 3339 with nanoseconds, as the sqlite package stores it.
func textTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }

// parseTime parses a time written by textTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nullTime returns an optional time for a timestamptz parameter.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// nullID stores a zero ID as NULL so that foreign keys accept "none".
func nullID[T ~int64](id T) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

// pgCode returns the SQLSTATE of a server error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

// writeErr maps constraint violations that slipped past the explicit checks
// to application errors; conflict names what was duplicated.
func writeErr(err error, conflict string) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return convoi.Errorf(convoi.ECONFLICT, "%s", conflict)
	case isForeignKey(err):
		return convoi.Errorf(convoi.EINVALID, "A referenced record does not exist.")
	case strings.HasPrefix(pgCode(err), "23"):
		return convoi.Errorf(convoi.EINVALID, "Constraint violated: %s.", err)
	case pgCode(err) == "22P05" || pgCode(err) == "22021":
		return convoi.Errorf(convoi.EINVALID, "Text cannot be stored: %s.", err)
	}
	return err
}

// where accumulates the conditions and arguments of a filtered listing.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// limitOffset returns the LIMIT clause of a normalized page.
func limitOffset(p convoi.Page) string {
	p = p.Normalize()
	return fmt.Sprintf(" LIMIT %d OFFSET %d", p.Limit, p.Offset)
}

// count returns the number of rows of from (table and WHERE) matching w.
func (tx *Tx) count(ctx context.Context, from string, w *where) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+from+w.String(), w.args...).Scan(&n)
	return n, err
}

// fold is the case folding used for case-insensitive substring filters; the
// SQL side is the migration's convoi_fold (lower(), which folds Unicode in
// a UTF-8 database).
func fold(s string) string { return strings.ToLower(s) }

// timeCol scans a timestamptz column into a time.Time in UTC (NULL gives
// the zero time).
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
		return nil
	case time.Time:
		*c.t = v.UTC()
		return nil
	case string: // a text column written by textTime
		t, err := parseTime(v)
		*c.t = t
		return err
	}
	return fmt.Errorf("scan time: unexpected %T", v)
}

// nullTimeCol scans a nullable timestamptz column into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonCol scans a JSON text column into v (NULL leaves v as it is).
type jsonCol struct{ v any }

func (c jsonCol) Scan(v any) error {
	switch b := v.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(b), c.v)
	case []byte:
		return json.Unmarshal(b, c.v)
	}
	return fmt.Errorf("scan json: unexpected %T", v)
}

// idCol scans a nullable integer column into a named ID (NULL gives 0).
type idCol[T ~int64] struct{ id *T }

func (c idCol[T]) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.id = 0
	case int64:
		*c.id = T(v)
	default:
		return fmt.Errorf("scan id: unexpected %T", v)
	}
	return nil
}

// toJSON marshals a value for a JSON column; a value that cannot be
// represented (NaN, infinities, unsupported types) is EINVALID.
func toJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", convoi.Errorf(convoi.EINVALID, "%s cannot be stored: %v.", what, err)
	}
	return string(b), nil
}
