// Package captest validates CAP 1.2 documents against the XML schema of
// the OASIS standard (cap/testdata/CAP-v1.2.xsd, a transcription of its
// section 3.4) with libxml2's xmllint, for the tests of package cap and of
// cmd/convoi. cap.Check stays the gate in production; this is the
// independent referee the tests consult.
//
// xmllint is Debian's libxml2-utils. A machine without it skips the tests
// that need it, saying how to install it; .ci/run installs it.
//
// It imports the standard library only.
package captest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// SchemaPath is the absolute path of the CAP 1.2 schema in the source tree.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "cap", "testdata", "CAP-v1.2.xsd")
}

// Xmllint returns the path of xmllint, or skips tb when it is not
// installed.
func Xmllint(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		tb.Skip("xmllint not installed: apt-get install libxml2-utils to validate CAP alerts against the CAP 1.2 schema (.ci/run does)")
	}
	return p
}

// Validate validates each document against the CAP 1.2 schema, in one run
// of xmllint, and returns one error per document: nil when the schema
// accepts it, else xmllint's complaints about it. It skips tb when
// xmllint is missing and fails it when xmllint itself fails.
func Validate(tb testing.TB, docs ...[]byte) []error {
	tb.Helper()
	bin := Xmllint(tb)
	if len(docs) == 0 {
		return nil
	}
	dir := tb.TempDir()
	names := make([]string, len(docs))
	for i, d := range docs {
		names[i] = filepath.Join(dir, fmt.Sprintf("alert-%d.xml", i))
		if err := os.WriteFile(names[i], d, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--noout", "--nonet", "--schema", SchemaPath()}, names...)...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	// xmllint exits 0 when all validate, 3 (validation) or 1 (a document
	// not well-formed) otherwise; anything else is a broken run.
	if err != nil && !(errors.As(err, &exit) && (exit.ExitCode() == 3 || exit.ExitCode() == 1)) {
		tb.Fatalf("xmllint: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(stderr.String(), "\n")
	out := make([]error, len(docs))
	for i, name := range names {
		var msgs []string
		valid := false
		for _, l := range lines {
			switch {
			case l == name+" validates":
				valid = true
			case strings.HasPrefix(l, name+":"):
				msgs = append(msgs, strings.TrimPrefix(l, name+":"))
			}
		}
		switch {
		case valid && len(msgs) == 0:
		case len(msgs) > 0:
			out[i] = fmt.Errorf("CAP 1.2 schema: %s", strings.Join(msgs, "; "))
		default:
			tb.Fatalf("xmllint said nothing about document %d:\n%s", i, stderr.String())
		}
	}
	return out
}

// AssertValid fails tb for each document the CAP 1.2 schema rejects, naming
// it by names[i] (or its index).
func AssertValid(tb testing.TB, names []string, docs ...[]byte) {
	tb.Helper()
	for i, err := range Validate(tb, docs...) {
		if err != nil {
			name := fmt.Sprint(i)
			if i < len(names) {
				name = names[i]
			}
			tb.Errorf("%s is not valid against the CAP 1.2 schema: %v\n%s", name, err, docs[i])
		}
	}
}
