package audit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/convoi/convoi/audit"
)

// FuzzParseCheckpoint: arbitrary notes never panic the parser and are never
// accepted without the log's signature.
func FuzzParseCheckpoint(f *testing.F) {
	skey, vkey, err := audit.GenerateKeys()
	if err != nil {
		f.Fatal(err)
	}
	_ = skey
	f.Add([]byte("convoi.audit/0011\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 convoi.audit/0011 AAAA\n"))
	f.Add([]byte("go.sum database tree\n1\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cp, err := audit.ParseCheckpoint(b, vkey); err == nil {
			t.Fatalf("unsigned checkpoint accepted: %+v", cp)
		}
	})
}

// FuzzVerifyEntries: Verify of arbitrary bytes as the entries of a log
// with a checkpoint never panics, and anything but the original entries is
// a TamperError.
func FuzzVerifyEntries(f *testing.F) {
	dir, _ := buildLog(f, 10)
	orig, err := os.ReadFile(filepath.Join(dir, audit.EntriesFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(orig)
	f.Add(orig[:len(orig)/2])
	f.Add(bytes.ReplaceAll(orig, []byte(`"seq":3`), []byte(`"seq":4`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := t.TempDir()
		for _, name := range []string{audit.HashesFile, audit.CheckpointsFile, audit.VerifierKeyFile} {
			c, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(d, name), c, 0600)
		}
		os.WriteFile(filepath.Join(d, audit.EntriesFile), b, 0600)
		_, err := audit.Verify(d, audit.VerifyOptions{})
		var te *audit.TamperError
		switch {
		case bytes.Equal(b, orig):
			if err != nil {
				t.Fatalf("original entries: %v", err)
			}
		case bytes.HasPrefix(b, orig) && bytes.Count(b, []byte("\n")) == bytes.Count(orig, []byte("\n")):
			// a torn extra line after the log: reported, not tampering
		case !errors.As(err, &te):
			if bytes.HasPrefix(b, orig) {
				return // entries appended after the last checkpoint cannot be told from new ones
			}
			t.Fatalf("changed entries: %v", err)
		}
	})
}
