package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runLoadgenArgs(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := Run(context.Background(), env, append([]string{"loadgen"}, args...))
	return out.String(), errb.String(), code
}

func TestLoadgenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.1.2.3:5027", "192.168.0.1:5055", "[2001:db8::1]:5027"} {
		_, errs, code := runLoadgenArgs(t, "--addr", addr, "--duration", "1s")
		if code == 0 || !strings.Contains(errs, "loopback") {
			t.Errorf("%s: exit %d, %q", addr, code, errs)
		}
	}
}

// The cluster flags of --monitor need --monitor and a PostgreSQL --store.
func TestLoadgenClusterFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"setup without monitor":  {"--store", "postgres://u@127.0.0.1/db", "--setup-only"},
		"stream without store":   {"--monitor", "2", "--stream", "http://127.0.0.1:8080"},
		"seal key without store": {"--monitor", "2", "--seal-key", "seal.key"},
		"store not postgres":     {"--monitor", "2", "--store", "convoi.db", "--setup-only"},
	} {
		if _, errs, code := runLoadgenArgs(t, args...); code != 2 || !strings.Contains(errs, "--") {
			t.Errorf("%s: exit %d, %q; want a usage error", name, code, errs)
		}
	}
}

func TestLoadgenEndToEnd(t *testing.T) {
	for _, proto := range []string{"teltonika", "osmand"} {
		t.Run(proto, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "lg.db")
			out, errs, code := runLoadgenArgs(t, "--protocol", proto, "--db", db, "--serve", "--devices", "3", "--rate", "60", "--duration", "1s")
			if code != 0 || !strings.Contains(out, "errors 0") || strings.Contains(out, "acknowledged 0,") || !strings.Contains(out, "from schedule: p50") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
		})
	}
}
