package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs a subcommand in-process and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	code := Run(context.Background(), env, args)
	return code, out.String()
}

// TestAuditVerifyAndExport: the served API leaves an audit log that
// `convoi audit verify` accepts, with a checkpoint exported for a witness;
// a changed entry, and a rollback behind the witness's checkpoint, fail.
func TestAuditVerifyAndExport(t *testing.T) {
	a, _ := MustOpenDemo(t)
	for _, u := range []string{"control", "planner", "auditor"} {
		listMovements(t, a, login(t, a, u)) // each login is a write
	}
	if err := a.Close(); err != nil { // flushes and signs a last checkpoint
		t.Fatal(err)
	}
	witness := t.TempDir()
	cpFile, keyFile := filepath.Join(witness, "checkpoint"), filepath.Join(witness, "verifier.key")
	if code, out := runCmd(t, "audit", "export", "--data", a.DataDir, "--out", cpFile, "--key-out", keyFile); code != 0 {
		t.Fatalf("export: %d %s", code, out)
	}
	code, out := runCmd(t, "audit", "verify", "--data", a.DataDir, "--checkpoint", cpFile, "--key", keyFile)
	if code != 0 || !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify: %d %s", code, out)
	}

	entries := filepath.Join(a.DataDir, "audit", "entries.jsonl")
	orig, err := os.ReadFile(entries)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	if len(lines) < 3 {
		t.Fatalf("only %d audit entries", len(lines)-1)
	}
	// A single changed byte in entry 1.
	changed := bytes.Clone(orig)
	changed[len(lines[0])+5] ^= 0x04
	os.WriteFile(entries, changed, 0600)
	code, out = runCmd(t, "audit", "verify", "--data", a.DataDir)
	if code != 1 || !strings.Contains(out, "first bad entry 1:") {
		t.Fatalf("verify of a changed entry: %d %s", code, out)
	}
	// A rollback of the entries, hashes and checkpoints to one entry: only
	// the witness's checkpoint shows it.
	os.WriteFile(entries, lines[0], 0600)
	os.Remove(filepath.Join(a.DataDir, "audit", "hashes"))
	os.Remove(filepath.Join(a.DataDir, "audit", "checkpoints"))
	if code, out := runCmd(t, "audit", "verify", "--data", a.DataDir); code != 0 {
		t.Fatalf("verify without the witness: %d %s", code, out)
	}
	code, out = runCmd(t, "audit", "verify", "--data", a.DataDir, "--checkpoint", cpFile, "--key", keyFile)
	if code != 1 || !strings.Contains(out, "first bad entry 1:") || !strings.Contains(out, "rolled back") {
		t.Fatalf("verify of a rollback: %d %s", code, out)
	}
}

// TestAuditNoLog: verify and export of a directory without an audit log
// say so for people, without Go's "stat ...: no such file or directory".
func TestAuditNoLog(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"verify", "export"} {
		code, out := runCmd(t, "audit", sub, "--data", dir)
		if code != 1 || !strings.Contains(out, "no audit log in") || strings.Contains(out, "no such file") {
			t.Errorf("audit %s without a log: %d %s", sub, code, out)
		}
	}
}
