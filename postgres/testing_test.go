package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/jackc/pgx/v5"
)

// testDSN returns the database the tests use, or skips the test.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("CONVOI_TEST_POSTGRES")
	if dsn == "" {
		tb.Skip("PostgreSQL tests skipped: set CONVOI_TEST_POSTGRES=postgres://USER:PASS@127.0.0.1:5432/DB (.ci/run does)")
	}
	return dsn
}

// NewSchemaDSN creates a fresh schema in the test database and returns a
// DSN whose search_path selects it; the schema is dropped at cleanup.
func NewSchemaDSN(tb testing.TB) string {
	tb.Helper()
	dsn := testDSN(tb)
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to CONVOI_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Error(err)
		}
	})
	return WithSearchPath(tb, dsn, schema)
}

// WithSearchPath adds search_path=schema to a postgres:// URL.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpenDB opens a fresh migrated database in its own schema.
func MustOpenDB(tb testing.TB, now convoi.Clock) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(NewSchemaDSN(tb))
	if now != nil {
		db.Now = now
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
