package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"

	"golang.org/x/mod/sumdb/tlog"
)

var t0 = time.Date(2026, 5, 14, 9, 0, 0, 0, time.UTC)

// MustOpenLog opens a log in a fresh directory whose checkpoints are only
// signed on request.
func MustOpenLog(tb testing.TB, dir string) *audit.Log {
	tb.Helper()
	l := audit.New(dir)
	l.Now = func() time.Time { return t0 }
	l.CheckpointInterval = time.Hour
	if err := l.Open(); err != nil {
		tb.Fatal(err)
	}
	return l
}

func entry(i int) *convoi.AuditEntry {
	e := &convoi.AuditEntry{
		Time: t0.Add(time.Duration(i) * time.Second), UserID: convoi.UserID(1 + i%3), Username: fmt.Sprintf("user%d", 1+i%3),
		Role: convoi.RoleControl, TokenID: convoi.TokenID(10 + i%3), Kind: convoi.AuditRead, Op: "GET /api/v1/movements/{id}",
		Objects: []string{fmt.Sprintf("movement:%d", i%5)}, Remote: "127.0.0.1:40000", Outcome: convoi.AuditAllowed, Status: 200,
	}
	if i%2 == 0 {
		e.Fields = []string{convoi.FieldDeparture, convoi.FieldRoute}
	}
	return e
}

// buildLog writes n entries with a checkpoint after every ten and returns
// the directory and the checkpoint notes.
func buildLog(tb testing.TB, n int) (string, [][]byte) {
	tb.Helper()
	dir := tb.TempDir()
	l := MustOpenLog(tb, dir)
	var notes [][]byte
	for i := range n {
		if err := l.Append(entry(i)); err != nil {
			tb.Fatal(err)
		}
		if (i+1)%10 == 0 {
			cp, err := l.CheckpointNow(context.Background())
			if err != nil {
				tb.Fatal(err)
			}
			notes = append(notes, cp.Note)
		}
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return dir, notes
}

func readLines(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, audit.EntriesFile))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func writeLines(tb testing.TB, dir string, lines [][]byte) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, audit.EntriesFile), bytes.Join(lines, nil), 0600); err != nil {
		tb.Fatal(err)
	}
}

func wantBad(t *testing.T, err error, seq int64) {
	t.Helper()
	var te *audit.TamperError
	if !errors.As(err, &te) {
		t.Fatalf("Verify: %v, want a TamperError naming entry %d", err, seq)
	}
	if te.Seq != seq {
		t.Fatalf("Verify named entry %d (%v), want %d", te.Seq, te, seq)
	}
}

func TestVerifyIntact(t *testing.T) {
	dir, _ := buildLog(t, 50)
	rep, err := audit.Verify(dir, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 50 || rep.CheckedSize != 50 || rep.Checkpoints != 5 || rep.Uncheckpointed != 0 {
		t.Fatalf("report %+v", rep)
	}
	// Reopening continues the same tree, and the index covers old and new.
	l := MustOpenLog(t, dir)
	if err := l.Append(entry(50)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	es, err := l.FindAuditEntries(context.Background(), convoi.AuditFilter{Object: "movement:0", Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range es {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != "[50 45 40 35]" {
		t.Fatalf("index after reopen: %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil || rep.Entries != 51 || rep.CheckedSize != 51 {
		t.Fatalf("after reopen: %+v, %v", rep, err)
	}
}

// TestVerifyEverySingleByteChange flips each byte of the entries file in
// turn: each change is found and blamed on the entry that holds the byte.
func TestVerifyEverySingleByteChange(t *testing.T) {
	dir, _ := buildLog(t, 12)
	orig, err := os.ReadFile(filepath.Join(dir, audit.EntriesFile))
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 0x01
		if err := os.WriteFile(filepath.Join(dir, audit.EntriesFile), b, 0600); err != nil {
			t.Fatal(err)
		}
		_, err := audit.Verify(dir, audit.VerifyOptions{})
		var te *audit.TamperError
		if !errors.As(err, &te) || te.Seq != seq {
			t.Fatalf("byte %d (entry %d) flipped: %v", i, seq, err)
		}
		if orig[i] == '\n' {
			seq++
		}
	}
}

func TestVerifyTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(lines [][]byte) [][]byte
		want   int64
	}{
		{"change a field", func(ls [][]byte) [][]byte {
			ls[17] = bytes.Replace(ls[17], []byte(`"outcome":"allowed"`), []byte(`"outcome":"refused"`), 1)
			return ls
		}, 17},
		{"delete an entry", func(ls [][]byte) [][]byte { return append(ls[:12:12], ls[13:]...) }, 12},
		{"delete the first entry", func(ls [][]byte) [][]byte { return ls[1:] }, 0},
		{"insert an entry", func(ls [][]byte) [][]byte {
			forged := bytes.Replace(ls[20], []byte(`"user_id":3`), []byte(`"user_id":2`), 1)
			return append(ls[:21:21], append([][]byte{forged}, ls[21:]...)...)
		}, 21},
		{"reorder two entries", func(ls [][]byte) [][]byte { ls[30], ls[31] = ls[31], ls[30]; return ls }, 30},
		{"truncate", func(ls [][]byte) [][]byte { return ls[:44] }, 44},
		{"drop the line break between two entries", func(ls [][]byte) [][]byte {
			ls[7] = append(bytes.TrimSuffix(ls[7], []byte("\n")), ls[8]...)
			return append(ls[:8:8], ls[9:]...)
		}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := buildLog(t, 50)
			writeLines(t, dir, tc.tamper(readLines(t, dir)))
			_, err := audit.Verify(dir, audit.VerifyOptions{})
			wantBad(t, err, tc.want)
			if l := audit.New(dir); l.Open() == nil {
				l.Close()
				t.Fatal("a tampered log opened")
			}
		})
	}
}

// TestVerifyRollback rolls the log back to 30 entries together with its
// checkpoints and hashes, as someone with the files could: only a
// checkpoint kept elsewhere shows it.
func TestVerifyRollback(t *testing.T) {
	dir, notes := buildLog(t, 50)
	writeLines(t, dir, readLines(t, dir)[:30])
	if err := os.Truncate(filepath.Join(dir, audit.HashesFile), tlog.StoredHashCount(30)*tlog.HashSize); err != nil {
		t.Fatal(err)
	}
	cps, _ := os.ReadFile(filepath.Join(dir, audit.CheckpointsFile))
	cpLines := bytes.SplitAfter(cps, []byte("\n"))
	if err := os.WriteFile(filepath.Join(dir, audit.CheckpointsFile), bytes.Join(cpLines[:3], nil), 0600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil {
		t.Fatalf("a consistent rollback is invisible without a kept checkpoint, got %v", err)
	}
	_, err := audit.Verify(dir, audit.VerifyOptions{Kept: [][]byte{notes[4]}})
	wantBad(t, err, 30)
	// An older kept checkpoint is still consistent.
	if _, err := audit.Verify(dir, audit.VerifyOptions{Kept: [][]byte{notes[1]}}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRewriteWithKey rewrites entry 5 and rebuilds the whole log with
// the stolen signer key: the kept checkpoint still catches it.
func TestVerifyRewriteWithKey(t *testing.T) {
	dir, notes := buildLog(t, 50)
	lines := readLines(t, dir)
	lines[5] = bytes.Replace(lines[5], []byte(`"user":"user3"`), []byte(`"user":"user1"`), 1)
	for _, f := range []string{audit.HashesFile, audit.CheckpointsFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	writeLines(t, dir, lines)
	l := MustOpenLog(t, dir) // rebuilds the hashes from the rewritten entries
	if _, err := l.CheckpointNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil {
		t.Fatalf("a re-signed rewrite passes on its own: %v", err)
	}
	_, err := audit.Verify(dir, audit.VerifyOptions{Kept: [][]byte{notes[4]}})
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Range != [2]int64{0, 50} {
		t.Fatalf("Verify: %v, want the rewrite bounded to entries 0-49", err)
	}
}

func TestVerifyForeignCheckpoint(t *testing.T) {
	dir, _ := buildLog(t, 10)
	_, other := buildLog(t, 10) // another log's key
	if _, err := audit.Verify(dir, audit.VerifyOptions{Kept: other}); err == nil {
		t.Fatal("a checkpoint of another log was accepted")
	}
}

func TestProofs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := MustOpenLog(t, dir)
	defer l.Close()
	var roots []tlog.Hash
	for i := range 37 {
		if err := l.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
		if i == 12 || i == 36 {
			cp, err := l.CheckpointNow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			roots = append(roots, cp.Root)
		}
	}
	leaf := readLines(t, dir)[9]
	p, err := l.InclusionProof(ctx, 9, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != 37 {
		t.Fatalf("proof size %d", p.Size)
	}
	if err := audit.CheckInclusion(p, bytes.TrimSuffix(leaf, []byte("\n")), roots[1]); err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckInclusion(p, []byte(`{"seq":9}`), roots[1]); err == nil {
		t.Fatal("inclusion of other data accepted")
	}
	c, err := l.ConsistencyProof(ctx, 13, 37)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckConsistency(c, roots[0], roots[1]); err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckConsistency(c, roots[1], roots[1]); err == nil {
		t.Fatal("consistency with a wrong old root accepted")
	}
	if _, err := l.InclusionProof(ctx, 40, 37); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("proof beyond the tree: %v", err)
	}
}

func TestFindAuditEntries(t *testing.T) {
	ctx := context.Background()
	l := MustOpenLog(t, t.TempDir())
	defer l.Close()
	for i := range 40 {
		if err := l.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Who saw movement 2's departure? Entries 2, 12, 22, 32 (even i, i%5 == 2).
	es, err := l.FindAuditEntries(ctx, convoi.AuditFilter{Object: "movement:2", Field: convoi.FieldDeparture})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range es {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != "[32 22 12 2]" {
		t.Fatalf("got %v", got)
	}
	u := convoi.UserID(2)
	before := int64(20)
	es, err = l.FindAuditEntries(ctx, convoi.AuditFilter{UserID: &u, Before: &before, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range es {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != "[19 16 13]" {
		t.Fatalf("got %v", got)
	}
	since := t0.Add(35 * time.Second)
	es, _ = l.FindAuditEntries(ctx, convoi.AuditFilter{Since: &since})
	if len(es) != 5 {
		t.Fatalf("since: %d entries", len(es))
	}
}

func TestOpenRecoversTornWrite(t *testing.T) {
	dir, _ := buildLog(t, 20)
	f, _ := os.OpenFile(filepath.Join(dir, audit.EntriesFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":20,"time":"2026`) // a crash mid-write
	f.Close()
	l := MustOpenLog(t, dir)
	if err := l.Append(entry(20)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil || rep.Entries != 21 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestOpenTwice(t *testing.T) {
	dir := t.TempDir()
	l := MustOpenLog(t, dir)
	defer l.Close()
	if err := audit.New(dir).Open(); err == nil {
		t.Fatal("a second writer opened the log")
	}
}
