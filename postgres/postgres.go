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
// The entity services (everything but positions) are the SQL that the
// sqlite package runs too, shared in internal/sqlstore (see services.go);
// this package provides what is PostgreSQL's own: the pool, migrations,
// the write lock, placeholder numbering, the dialect, and the position
// ingest.
//
// This package imports convoi, internal/sqlstore, the standard library and
// pgx only.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/sqlstore"
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

	pool  *pgxpool.Pool
	store *sqlstore.Store // the entity services' view of db (see services.go)

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
	db.store = sqlstore.New(dialect, db.begin, &db.Now, &db.Sealer, &db.IdempotencyTTL)
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

// begin starts a transaction for the shared services (internal/sqlstore).
// A write transaction takes the entity write lock first (see the package
// comment); a read is a read-only REPEATABLE READ snapshot, consistent for
// a listing and its count.
func (db *DB) begin(ctx context.Context, write bool) (sqlstore.Conn, error) {
	if db.pool == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if write {
		opts = pgx.TxOptions{}
	}
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if write {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("write lock: %w", err)
		}
	}
	return &Tx{tx: tx, ctx: ctx}, nil
}

// Tx is a transaction whose methods take SQL with ? placeholders (as the
// shared services write it) and number them for PostgreSQL: the
// sqlstore.Conn of the entity services.
type Tx struct {
	tx  pgx.Tx
	ctx context.Context // of the call that began it; Commit and Rollback outlive its cancellation
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit(context.WithoutCancel(tx.ctx)) }

// Rollback rolls the transaction back; after Commit it does nothing.
func (tx *Tx) Rollback() error { return tx.tx.Rollback(context.WithoutCancel(tx.ctx)) }

// Exec runs a statement and returns how many rows it changed.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := tx.tx.Exec(ctx, rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Insert runs an INSERT of one row with RETURNING id.
func (tx *Tx) Insert(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := tx.tx.QueryRow(ctx, rebind(q)+" RETURNING id", args...).Scan(&id)
	return id, err
}

// Query runs a query.
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return tx.tx.Query(ctx, rebind(q), args...)
}

// QueryRow runs a query returning at most one row.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return tx.tx.QueryRow(ctx, rebind(q), args...)
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

// dialect is PostgreSQL's SQL where the shared services need it:
// timestamptz parameters, strpos, json_array_elements_text and json_agg.
// The SQL side of convoi_fold is the migration's (lower(), which folds
// Unicode in a UTF-8 database).
var dialect = sqlstore.Dialect{
	Time:      func(t time.Time) any { return t.UTC() },
	Violation: violation,
	Instr:     "strpos",
	JSONEach: func(col, alias string) (string, string) {
		return "json_array_elements_text(" + col + "::json) " + alias, alias
	},
	JSONArray: func(col, from, where, order string) string {
		return "(SELECT COALESCE(json_agg(" + col + " ORDER BY " + order + "), '[]')::text FROM " + from +
			" WHERE " + where + ")"
	},
}

// violation classifies a server error by its SQLSTATE.
func violation(err error) sqlstore.Violation {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return sqlstore.NoViolation
	}
	switch {
	case e.Code == "23505":
		return sqlstore.Unique
	case e.Code == "23503":
		return sqlstore.ForeignKey
	case strings.HasPrefix(e.Code, "23"):
		return sqlstore.Constraint
	case e.Code == "22P05" || e.Code == "22021":
		return sqlstore.BadText
	}
	return sqlstore.NoViolation
}

// isUnique reports whether err is a unique violation (the position
// committers' COPY meets one when a record was stored already).
func isUnique(err error) bool { return violation(err) == sqlstore.Unique }

// writeErr maps constraint violations to application errors as the
// entity services do.
func writeErr(err error, conflict string) error { return sqlstore.WriteErr(dialect, err, conflict) }
