package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// importTables are the tables Import copies, parents before children.
var importTables = []string{
	"sites", "detainees", "intel", "vehicles", "officers", "trackers", "movements", "movement_crew",
	"movement_vehicles", "transitions", "users", "tokens", "assessments", "policies", "plans", "idempotency",
	"positions", "device_events", "alarms", "alarm_transitions", "schedule_grants",
	"incidents", "incident_sightings", "incident_units",
	"webhooks", "webhook_events", "webhook_deliveries", "notices", "device_secrets",
}

// ImportCount is how many rows Import copied into one table.
type ImportCount struct {
	Table string
	Rows  int64
}

// Import copies every row of a convoi SQLite database (src, opened with
// the modernc.org/sqlite driver and migrated to the latest schema) into
// this database, IDs included, in one transaction: on any error nothing is
// written. It refuses a target that already holds data and a source with a
// table it does not know (a SQLite schema newer than this PostgreSQL
// schema), so that nothing is silently left behind. Identity sequences are
// moved past the copied IDs.
func (db *DB) Import(ctx context.Context, src *sql.DB) ([]ImportCount, error) {
	if db.pool == nil {
		return nil, fmt.Errorf("database is not open")
	}
	srcTables, err := sqliteTables(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read source tables: %w", err)
	}
	var unknown []string
	for _, t := range srcTables {
		if !slices.Contains(importTables, t) {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("the source has tables this version cannot copy to PostgreSQL: %s", strings.Join(unknown, ", "))
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
		return nil, err
	}
	// Every table of this schema must be in importTables: a migration that
	// adds one without extending the list fails here, not silently.
	rows, err := tx.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'migrations'`)
	if err != nil {
		return nil, err
	}
	pgTables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, t := range pgTables {
		if !slices.Contains(importTables, t) {
			return nil, fmt.Errorf("internal: table %s is not in the import list", t)
		}
	}
	for _, t := range importTables {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		} else if n > 0 {
			return nil, fmt.Errorf("the target database already holds data (table %s has %d rows): copy into an empty database", t, n)
		}
	}
	// The webhook triggers must not turn copied history into new events:
	// the copied outbox and deliveries are copied as they are.
	for _, t := range importTables {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` DISABLE TRIGGER USER`); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
	}
	var counts []ImportCount
	for _, t := range importTables {
		if !slices.Contains(srcTables, t) {
			continue
		}
		n, err := importTable(ctx, tx, src, t)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		counts = append(counts, ImportCount{t, n})
		// The sequence behind id (an identity, or owned by the column).
		var seq *string
		err = tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, 'id') FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'`, t).Scan(&seq)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		if seq != nil && n > 0 {
			if _, err := tx.Exec(ctx, `SELECT setval($1, (SELECT MAX(id) FROM `+t+`))`, *seq); err != nil {
				return nil, fmt.Errorf("%s: move the id sequence past copied IDs: %w", t, err)
			}
		}
	}
	for _, t := range importTables {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` ENABLE TRIGGER USER`); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
	}
	return counts, tx.Commit(ctx)
}

func sqliteTables(ctx context.Context, src *sql.DB) ([]string, error) {
	rows, err := src.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT IN ('migrations', 'sqlite_sequence') AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		a = append(a, s)
	}
	return a, rows.Err()
}

// importTable streams one table with COPY, converting SQLite's text times
// and integer booleans to the target's column types.
func importTable(ctx context.Context, tx pgx.Tx, src *sql.DB, table string) (int64, error) {
	types := map[string]string{}
	trows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return 0, err
	}
	for trows.Next() {
		var c, t string
		if err := trows.Scan(&c, &t); err != nil {
			return 0, err
		}
		types[c] = t
	}
	if err := trows.Err(); err != nil {
		return 0, err
	}
	rows, err := src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	kinds := make([]string, len(cols))
	for i, c := range cols {
		t, ok := types[c]
		if !ok {
			return 0, fmt.Errorf("column %s is not in the PostgreSQL schema", c)
		}
		kinds[i] = t
	}
	s := &sqliteRows{rows: rows, kinds: kinds, vals: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range s.vals {
		s.ptrs[i] = &s.vals[i]
	}
	return tx.CopyFrom(ctx, pgx.Identifier{table}, cols, s)
}

// sqliteRows adapts a SQLite result set to pgx.CopyFromSource.
type sqliteRows struct {
	rows  *sql.Rows
	kinds []string
	vals  []any
	ptrs  []any
	err   error
}

func (s *sqliteRows) Next() bool { return s.err == nil && s.rows.Next() }

func (s *sqliteRows) Values() ([]any, error) {
	if err := s.rows.Scan(s.ptrs...); err != nil {
		return nil, err
	}
	out := make([]any, len(s.vals))
	for i, v := range s.vals {
		c, err := convertValue(v, s.kinds[i])
		if err != nil {
			s.err = err
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (s *sqliteRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// convertValue converts one SQLite value to the target column type.
func convertValue(v any, kind string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case "timestamp with time zone":
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		case time.Time:
			return v.UTC(), nil
		default:
			return nil, fmt.Errorf("time column holds %T", v)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("time %q: %w", s, err)
		}
		return t.UTC(), nil
	case "boolean":
		switch v := v.(type) {
		case int64:
			return v != 0, nil
		case bool:
			return v, nil
		}
		return nil, fmt.Errorf("boolean column holds %T", v)
	case "text":
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	}
	return v, nil
}
