package main

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/convoi/convoi/postgres"
	_ "github.com/convoi/convoi/sqlite" // registers the "sqlite" driver
)

// runCopy copies a SQLite installation into an empty PostgreSQL database:
// convoi copy --from DIR --to postgres://...
func runCopy(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "copy")
	from := fs.String("from", envDefault(env, "CONVOI_DATA", ""), "data directory of the SQLite installation to copy (CONVOI_DATA)")
	to := fs.String("to", envDefault(env, "CONVOI_STORE", ""), "empty PostgreSQL database to copy into, postgres://... (CONVOI_STORE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(env.Stderr, "convoi copy: --from DIR and --to postgres://... required")
		return errUsage
	}
	if !isPostgresURL(*to) {
		return fmt.Errorf("--to %q: want a postgres:// URL", postgres.Redact(*to))
	}
	a := NewApp()
	a.DataDir = *from
	if err := a.OpenExistingStore(ctx); err != nil { // migrates the source to the latest schema
		return err
	}
	a.Close()
	src, err := sql.Open("sqlite", "file:"+a.DBPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", a.DBPath(), err)
	}
	defer src.Close()
	dst := postgres.NewDB(*to)
	if err := dst.Open(ctx); err != nil {
		return fmt.Errorf("open %s: %w", postgres.Redact(*to), err)
	}
	defer dst.Close()
	counts, err := dst.Import(ctx, src)
	if err != nil {
		return fmt.Errorf("copy %s to %s (nothing was written): %w", a.DBPath(), postgres.Redact(*to), err)
	}
	var total int64
	for _, c := range counts {
		total += c.Rows
	}
	fmt.Fprintf(env.Stdout, "copied %d rows from %s to %s\n", total, a.DBPath(), postgres.Redact(*to))
	for _, c := range counts {
		fmt.Fprintf(env.Stdout, "  %-18s %d\n", c.Table, c.Rows)
	}
	return nil
}
