// Package sqlstore is the one implementation of the convoi entity services
// (sites, detainees, movements, alarms, users, webhooks, ...) that the
// sqlite and postgres packages share: the same SQL, the same checks, the
// same errors, written once against a transaction (Conn) and a Dialect for
// the few places where the two databases differ (timestamp columns,
// substring search, JSON arrays, constraint errors).
//
// An adapter package keeps what is really its own: opening and pooling,
// its embedded migrations, transactions and locking (the begin function
// given to New), the position ingest engine, and the DB type users
// configure. It builds a Store over its DB and returns the services of
// this package under its own names (sqlite.SiteService is
// sqlstore.SiteService).
//
// SQL is written with ? placeholders; a Conn numbers them when its
// database wants $1, $2, .... Times of entities go in as tx.time(t) (or
// tx.nullTime), the dialect's column value, and come out through timeCol,
// which reads both the text SQLite stores and the timestamptz PostgreSQL
// returns. Columns that may hold a sealed value (a planned departure, a
// drawn departure) are text in both databases, written with textTime.
//
// Every service method runs in one transaction, so a failed call writes
// nothing. References to missing rows are checked inside the transaction
// and reported as EINVALID naming the missing record; unique violations are
// ECONFLICT; a missing ID is ENOTFOUND. The author of every write is
// convoi.UserIDFromContext(ctx); times come from the adapter's clock.
//
// This package imports convoi and the standard library only; never a
// database driver, so that each adapter links only its own.
package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Conn is one transaction of the underlying database, as an adapter opens
// it. Its methods take SQL with ? placeholders.
type Conn interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	// Insert runs an INSERT of one row into a table with an integer id
	// primary key and returns the new row's id.
	Insert(ctx context.Context, query string, args ...any) (id int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a query returning at most one row; Scan of a missing
	// row returns an error that errors.Is matches with sql.ErrNoRows.
	QueryRow(ctx context.Context, query string, args ...any) Row
	Commit() error
	// Rollback ends the transaction without writing; after Commit it does
	// nothing.
	Rollback() error
}

// Rows is the result of Conn.Query (pgx.Rows has this shape; an adapter
// on database/sql wraps *sql.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the result of Conn.QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// Violation is the kind of integrity error a failed write hit.
type Violation int

const (
	NoViolation Violation = iota
	Unique                // a unique or primary key
	ForeignKey            // a reference to a missing row
	Constraint            // another constraint (check, not null)
	BadText               // text the database cannot store (PostgreSQL: NUL, invalid UTF-8)
)

// Dialect is what differs between the databases in the shared SQL.
type Dialect struct {
	// Time converts a time for a timestamp column: fixed-width RFC 3339
	// text for SQLite, a time.Time in UTC for PostgreSQL's timestamptz.
	Time func(time.Time) any

	// Violation classifies a driver error (NoViolation for anything else).
	Violation func(error) Violation

	// Instr is the function that returns the 1-based position of its
	// second text argument in its first, 0 when absent (instr, strpos).
	Instr string

	// JSONEach returns a FROM item over the elements of the JSON array in
	// column col, named alias, and the SQL expression of one element as text.
	JSONEach func(col, alias string) (from, value string)

	// JSONArray returns a scalar subquery giving the JSON array text of
	// col over the rows of from (table and alias) matching where, ordered
	// by order; "[]" when there are none.
	JSONArray func(col, from, where, order string) string
}

// Store is one database as the shared services see it; make it with New.
type Store struct {
	dialect Dialect
	open    func(ctx context.Context, write bool) (Conn, error)
	clock   *convoi.Clock  // the adapter DB's Now
	seal    *Sealer        // the adapter DB's Sealer (nil: values in clear)
	ttl     *time.Duration // the adapter DB's IdempotencyTTL
	sql     queries        // built from the dialect by New
}

// queries are the statements and conditions that the dialect shapes,
// built once.
type queries struct {
	selectMovements      string // findMovements up to its WHERE
	siteName             string // a site's name contains ?
	detaineeName         string // a detainee's name or an alias contains ? (twice)
	officerQualification string // an officer has qualification ?
}

// New returns a Store on an adapter's database. begin starts a
// transaction: a write transaction (serialized with the other writers as
// the adapter arranges: SQLite's single writer, PostgreSQL's write lock) or
// a read-only snapshot. now, sealer and ttl point at the adapter DB's
// fields (Now, Sealer, IdempotencyTTL), read at each call, so that a field
// set after the services were made still applies. The dialect's SQL is
// built here, once.
func New(d Dialect, begin func(ctx context.Context, write bool) (Conn, error), now *convoi.Clock, sealer *Sealer, ttl *time.Duration) *Store {
	db := &Store{dialect: d, open: begin, clock: now, seal: sealer, ttl: ttl}
	aliasFrom, alias := d.JSONEach("detainees.aliases", "a")
	qualFrom, qual := d.JSONEach("officers.qualifications", "q")
	db.sql = queries{
		selectMovements: selectMovements(d),
		siteName:        d.Instr + "(convoi_fold(name), ?) > 0",
		detaineeName: "(" + d.Instr + "(convoi_fold(name), ?) > 0 OR EXISTS (SELECT 1 FROM " + aliasFrom +
			" WHERE " + d.Instr + "(convoi_fold(" + alias + "), ?) > 0))",
		officerQualification: "EXISTS (SELECT 1 FROM " + qualFrom + " WHERE " + qual + " = ?)",
	}
	return db
}

func (db *Store) now() time.Time                { return (*db.clock)() }
func (db *Store) sealer() Sealer                { return *db.seal }
func (db *Store) idempotencyTTL() time.Duration { return *db.ttl }

// Tx wraps a transaction with the time and author of the service call.
//
// Its methods hand the statement's arguments and a row's scan destinations
// to the Conn through two slices the Tx keeps: passed straight through the
// Conn interface, the variadic slices of every call site would escape to
// the heap (one allocation per statement and per row scanned; the concrete
// *sql.Tx and *sql.Rows let the compiler keep them on the stack). A Tx is
// used by one goroutine, so one pair of slices serves every call.
type Tx struct {
	conn Conn
	db   *Store
	now  time.Time     // one timestamp for everything the call writes
	by   convoi.UserID // author from the context
	args []any         // the arguments of the statement being sent
	dest []any         // the destinations of the row being scanned
}

func (db *Store) begin(ctx context.Context, write bool) (*Tx, error) {
	c, err := db.open(ctx, write)
	if err != nil {
		return nil, err
	}
	buf := make([]any, 2*txScratch) // one allocation for both slices
	return &Tx{conn: c, db: db, now: db.now().UTC(), by: convoi.UserIDFromContext(ctx),
		args: buf[:0:txScratch], dest: buf[txScratch:txScratch]}, nil
}

// txScratch is the capacity each of a Tx's slices starts with: the most
// columns a statement of the services binds or scans, about (append grows
// them past it).
const txScratch = 24

// beginWrite starts a write transaction.
func (db *Store) beginWrite(ctx context.Context) (*Tx, error) { return db.begin(ctx, true) }

// beginRead starts a read transaction: a consistent snapshot for a listing
// and its count.
func (db *Store) beginRead(ctx context.Context) (*Tx, error) { return db.begin(ctx, false) }

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.conn.Commit() }

// Rollback rolls the transaction back; after Commit it does nothing.
func (tx *Tx) Rollback() error { return tx.conn.Rollback() }

// ExecContext runs a statement and returns the rows it affected.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := tx.conn.Exec(ctx, q, tx.bind(args)...)
	clear(tx.args)
	return n, err
}

// QueryContext runs a query.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := tx.conn.Query(ctx, q, tx.bind(args)...)
	clear(tx.args)
	return rows{r, tx}, err
}

// QueryRowContext runs a query returning at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) row {
	r := tx.conn.QueryRow(ctx, q, tx.bind(args)...)
	clear(tx.args)
	return row{r, tx}
}

// insertContext runs an INSERT of one row and returns its id.
func (tx *Tx) insertContext(ctx context.Context, q string, args ...any) (int64, error) {
	id, err := tx.conn.Insert(ctx, q, tx.bind(args)...)
	clear(tx.args)
	return id, err
}

// bind copies args into tx.args.
func (tx *Tx) bind(args []any) []any {
	tx.args = append(tx.args[:0], args...)
	return tx.args
}

// scan scans r into dest through tx.dest (see Tx).
func (tx *Tx) scan(r Row, dest []any) error {
	tx.dest = append(tx.dest[:0], dest...)
	err := r.Scan(tx.dest...)
	clear(tx.dest)
	return err
}

// rows is the result of QueryContext.
type rows struct {
	Rows
	tx *Tx
}

func (r rows) Scan(dest ...any) error { return r.tx.scan(r.Rows, dest) }

// row is the result of QueryRowContext.
type row struct {
	r  Row
	tx *Tx
}

func (r row) Scan(dest ...any) error { return r.tx.scan(r.r, dest) }

// time returns t as the dialect stores a timestamp column's value.
func (tx *Tx) time(t time.Time) any { return tx.db.dialect.Time(t) }

// nullTime is time of an optional time (nil gives NULL).
func (tx *Tx) nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return tx.time(*t)
}

// TimeFormat is the fixed-width text form of times (so that text order is
// time order): SQLite's timestamp columns, and the text columns that may
// hold a sealed value instead in both databases.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// textTime formats a time for a text column (see TimeFormat).
func textTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// parseTime parses a time written by textTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
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

// nullID stores a zero ID as NULL so that foreign keys accept "none".
func nullID[T ~int64](id T) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

// writeErr maps constraint violations that slipped past the explicit checks
// to application errors; conflict names what was duplicated.
func (tx *Tx) writeErr(err error, conflict string) error {
	return WriteErr(tx.db.dialect, err, conflict)
}

// WriteErr maps the constraint violations of a failed write to application
// errors, as the services report them: a unique violation is ECONFLICT with
// the message conflict, a missing reference or another constraint
// EINVALID. Other errors are returned as they are.
func WriteErr(d Dialect, err error, conflict string) error {
	if err == nil {
		return nil
	}
	switch d.Violation(err) {
	case Unique:
		return convoi.Errorf(convoi.ECONFLICT, "%s", conflict)
	case ForeignKey:
		return convoi.Errorf(convoi.EINVALID, "A referenced record does not exist.")
	case Constraint:
		return convoi.Errorf(convoi.EINVALID, "Constraint violated: %s.", err)
	case BadText:
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

// Fold is the case folding of case-insensitive substring filters; each
// adapter provides the same folding in SQL as convoi_fold (SQLite's lower()
// folds only ASCII; PostgreSQL's folds Unicode in a UTF-8 database).
func Fold(s string) string { return strings.ToLower(s) }

// timeCol scans a time column into a time.Time in UTC (NULL gives the zero
// time): text written by textTime, or a timestamptz.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
		return nil
	case time.Time:
		*c.t = v.UTC()
		return nil
	case string:
		t, err := parseTime(v)
		*c.t = t
		return err
	case []byte:
		t, err := parseTime(string(v))
		*c.t = t
		return err
	}
	return fmt.Errorf("scan time: unexpected %T", v)
}

// nullTimeCol scans a nullable time column into a *time.Time.
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

// jsonCol scans a JSON text column into V, a pointer (NULL leaves *V as
// it is).
type jsonCol struct{ V any }

func (c jsonCol) Scan(v any) error {
	switch b := v.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(b), c.V)
	case []byte:
		return json.Unmarshal(b, c.V)
	}
	return fmt.Errorf("scan json: unexpected %T", v)
}

// orEmpty returns a non-nil slice so that JSON listings are [] and not null.
func orEmpty[T any](a []T) []T {
	if a == nil {
		return []T{}
	}
	return a
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

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}
