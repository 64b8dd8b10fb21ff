package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/convoi/convoi/audit"
)

// AuditDir is the audit log's directory inside DataDir.
func (a *App) AuditDir() string { return filepath.Join(a.DataDir, "audit") }

// openAudit opens the audit log; its background writer's errors go to the log.
func (a *App) openAudit() error {
	l := audit.New(a.AuditDir())
	if a.AuditKeyFile != "" {
		l.SignerKeyFile = a.AuditKeyFile
	}
	l.Now = a.Now
	logger := a.Logger
	l.OnError = func(err error) { logger.Error("audit log", "error", err.Error()) }
	if err := l.Open(); err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	a.Audit = l
	a.closers = append(a.closers, l.Close)
	return nil
}

// stringsFlag collects a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runAudit(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "audit", []command{
		{"verify", "check the log offline against its checkpoints: verify --data DIR [--checkpoint FILE]...", func(_ context.Context, env *Env, args []string) error { return runAuditVerify(env, args) }},
		{"export", "write the signed checkpoint (and the verifier key) to keep outside the log", func(_ context.Context, env *Env, args []string) error { return runAuditExport(env, args) }},
	}, args)
}

// runAuditVerify checks the log offline: exit status 1 and the first bad
// entry when it was tampered with.
func runAuditVerify(env *Env, args []string) error {
	fs := newFlagSet(env, "audit verify")
	dataDir := fs.String("data", envDefault(env, "CONVOI_DATA", "convoi-data"), "data directory (CONVOI_DATA)")
	var kept stringsFlag
	fs.Var(&kept, "checkpoint", "a checkpoint kept outside the log (from convoi audit export); repeatable")
	keyFile := fs.String("key", "", "the verifier key kept with the checkpoints (default: the log's own verifier.key)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var opt audit.VerifyOptions
	if *keyFile != "" {
		k, err := audit.ReadVerifierKey(*keyFile)
		if err != nil {
			return err
		}
		opt.VerifierKey = k
	}
	for _, f := range kept {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read checkpoint: %w", err)
		}
		opt.Kept = append(opt.Kept, b)
	}
	dir, err := auditLogDir(*dataDir)
	if err != nil {
		return err
	}
	rep, err := audit.Verify(dir, opt)
	if err != nil {
		var te *audit.TamperError
		if errors.As(err, &te) {
			fmt.Fprintf(env.Stdout, "FAIL %s\n", te)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "OK %d entries; %d checkpoints of the log", rep.Entries, rep.Checkpoints)
	if len(kept) > 0 {
		fmt.Fprintf(env.Stdout, " and %d kept checkpoints", len(kept))
	}
	fmt.Fprintf(env.Stdout, " verified; %d entries covered, root %s\n", rep.CheckedSize, rep.Root)
	if rep.Uncheckpointed > 0 {
		fmt.Fprintf(env.Stdout, "note: the last %d entries are not yet under a checkpoint\n", rep.Uncheckpointed)
	}
	if rep.TornTail {
		fmt.Fprintln(env.Stdout, "note: the log ends in an incomplete line (a write in progress, or a crash the server repairs on start)")
	}
	return nil
}

// auditLogDir is the audit log's directory in dataDir, or an error for
// people when there is none there.
func auditLogDir(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "audit")
	if _, err := os.Stat(filepath.Join(dir, audit.EntriesFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no audit log in %s: give the data directory of 'convoi serve' (or of a served 'convoi demo --data DIR') with --data DIR (or CONVOI_DATA)", dir)
		}
		return "", fmt.Errorf("audit log: %w", err)
	}
	return dir, nil
}

// runAuditExport writes the latest signed checkpoint, for a witness to keep
// outside this machine, and optionally the verifier key it checks with.
func runAuditExport(env *Env, args []string) error {
	fs := newFlagSet(env, "audit export")
	dataDir := fs.String("data", envDefault(env, "CONVOI_DATA", "convoi-data"), "data directory (CONVOI_DATA)")
	out := fs.String("out", "", "write the checkpoint to FILE (default: standard output)")
	keyOut := fs.String("key-out", "", "also write the verifier key to FILE")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := auditLogDir(*dataDir)
	if err != nil {
		return err
	}
	cp, vkey, err := audit.LatestCheckpoint(dir)
	if err != nil {
		return err
	}
	if *keyOut != "" {
		if err := os.WriteFile(*keyOut, []byte(vkey+"\n"), 0644); err != nil {
			return err
		}
	}
	if *out == "" {
		_, err := env.Stdout.Write(cp.Note)
		return err
	}
	return os.WriteFile(*out, cp.Note, 0644)
}
