package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// VerifierKey is the checkpoints' note verifier key; empty reads
	// Dir/verifier.key. A witness should pass the key it kept, not the
	// directory's: whoever holds the directory can replace both.
	VerifierKey string
	// Kept are checkpoints kept outside the log (by a witness, from
	// `convoi audit export`): the log must still contain them.
	Kept [][]byte
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Entries        int64 // complete entries in the log
	Checkpoints    int   // signed checkpoints in the log, all checked
	CheckedSize    int64 // entries covered by the largest checkpoint checked
	Root           tlog.Hash
	Uncheckpointed int64 // entries after the largest checkpoint (written since)
	TornTail       bool  // the file ends in an incomplete line (a write in progress or a crash)
}

// TamperError is a verification failure. Seq names the first bad entry when
// it is known (-1 otherwise, then Range bounds it).
type TamperError struct {
	Seq    int64
	Range  [2]int64 // [from, to): the entries the failure lies in, when Seq is -1
	Reason string
}

func (e *TamperError) Error() string {
	if e.Seq >= 0 {
		return fmt.Sprintf("audit log tampered: first bad entry %d: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("audit log tampered: %s (somewhere in entries %d to %d)", e.Reason, e.Range[0], e.Range[1]-1)
}

// Verify checks the log in dir offline, without trusting its hashes file:
// it recomputes the Merkle tree from the entries and checks every signed
// checkpoint of the log and every kept checkpoint against it. It detects a
// changed, deleted, inserted or reordered entry, a truncated log, and a log
// rolled back (or rewritten) to before a kept checkpoint, and names the
// first bad entry (a *TamperError). Other errors are I/O or key problems.
//
// What it cannot see: entries appended after the last checkpoint and
// dropped (at most CheckpointInterval of them), and, without a kept
// checkpoint and key, a log rewritten by someone who holds the signer key.
func Verify(dir string, opt VerifyOptions) (*VerifyReport, error) {
	vkey := opt.VerifierKey
	if vkey == "" {
		var err error
		if vkey, err = ReadVerifierKey(filepath.Join(dir, VerifierKeyFile)); err != nil {
			return nil, err
		}
	}
	rep := &VerifyReport{}
	cps, err := readCheckpoints(filepath.Join(dir, CheckpointsFile), vkey)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = len(cps)
	var kept []*Checkpoint
	for i, msg := range opt.Kept {
		cp, err := ParseCheckpoint(msg, vkey)
		if err != nil {
			return nil, fmt.Errorf("kept checkpoint %d: %w", i+1, err)
		}
		kept = append(kept, cp)
	}

	// Stored hashes as written when appending: only to name the entry that
	// differs; the tree itself is recomputed from the entries.
	stored, err := os.ReadFile(filepath.Join(dir, HashesFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	storedLeaf := func(n int64) (tlog.Hash, bool) {
		var h tlog.Hash
		i := tlog.StoredHashIndex(0, n)
		if (i+1)*tlog.HashSize > int64(len(stored)) {
			return h, false
		}
		copy(h[:], stored[i*tlog.HashSize:])
		return h, true
	}

	f, err := os.Open(filepath.Join(dir, EntriesFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	firstBad, badReason := int64(-1), ""
	mark := func(n int64, format string, args ...any) {
		if firstBad < 0 {
			firstBad, badReason = n, fmt.Sprintf(format, args...)
		}
	}
	if len(stored) > 0 {
		hashes = make([]tlog.Hash, 0, len(stored)/tlog.HashSize+64)
	}
	var n int64
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			mark(n, "line longer than 1 MiB")
			return nil, &TamperError{Seq: n, Reason: "line longer than 1 MiB"}
		}
		if err == io.EOF {
			rep.TornTail = len(line) > 0
			break
		}
		if err != nil {
			return nil, err
		}
		data := line[:len(line)-1]
		// The sequence number names deletions, insertions and moves; any
		// other change shows in the hashes.
		switch seq, ok := leadingSeq(data); {
		case !ok:
			mark(n, "not an entry: it does not start with its sequence number")
		case seq > n:
			mark(n, "missing: entry %d stands in its place (entries deleted or moved)", seq)
		case seq < n:
			mark(n, "carries sequence number %d (inserted, duplicated or reordered)", seq)
		}
		hs, err := tlog.StoredHashes(n, data, hr)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, hs...)
		if h, ok := storedLeaf(n); ok && h != hs[0] {
			mark(n, "changed since it was appended (its hash differs from the one stored then)")
		}
		n++
	}
	rep.Entries = n

	// Every checkpoint, the log's and the kept ones, in size order: the
	// first that fails bounds the damage.
	all := append(append([]*Checkpoint{}, cps...), kept...)
	var good []int64 // sizes of the checkpoints that held
	for _, cp := range sortBySize(all) {
		isKept := containsCheckpoint(kept, cp)
		if firstBad >= 0 && firstBad < cp.Size {
			// A definite anomaly inside what this checkpoint covers: the
			// checkpoint cannot hold, and the anomaly names the entry.
			return rep, &TamperError{Seq: firstBad, Reason: badReason}
		}
		if cp.Size > n {
			what := "a checkpoint of the log"
			if isKept {
				what = "a kept checkpoint"
				if len(cps) == 0 || cps[len(cps)-1].Size < cp.Size {
					what += " (the log and its checkpoints were rolled back)"
				}
			}
			return rep, &TamperError{Seq: n, Reason: fmt.Sprintf("missing: the log has %d entries, %s covers %d (truncated)", n, what, cp.Size)}
		}
		root, err := tlog.TreeHash(cp.Size, hr)
		if err != nil {
			return nil, err
		}
		if root != cp.Root {
			reason := "the entries do not match a signed checkpoint of the log"
			if isKept {
				reason = "the entries do not match a kept checkpoint (the log was rewritten or rolled back)"
			}
			lo := int64(0) // the largest smaller checkpoint that held
			for _, g := range good {
				if g < cp.Size {
					lo = max(lo, g)
				}
			}
			return rep, &TamperError{Seq: -1, Range: [2]int64{lo, cp.Size}, Reason: reason}
		}
		good = append(good, cp.Size)
		if cp.Size >= rep.CheckedSize {
			rep.CheckedSize, rep.Root = cp.Size, cp.Root
		}
	}
	if firstBad >= 0 {
		return rep, &TamperError{Seq: firstBad, Reason: badReason}
	}
	rep.Uncheckpointed = n - rep.CheckedSize
	// The hashes file serves proofs: it must match the entries too.
	if want := int64(len(hashes)) * tlog.HashSize; int64(len(stored)) >= want {
		for i, h := range hashes {
			if !bytes.Equal(h[:], stored[int64(i)*tlog.HashSize:int64(i+1)*tlog.HashSize]) {
				level, idx := tlog.SplitStoredHashIndex(int64(i))
				return rep, fmt.Errorf("audit: hashes file damaged at stored hash %d (level %d, node %d): entries are intact, proofs are not; move %s aside and restart to rebuild it", i, level, idx, HashesFile)
			}
		}
	}
	return rep, nil
}

// readCheckpoints reads and verifies every checkpoint of a log; sizes must
// not decrease.
func readCheckpoints(path, vkey string) ([]*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Checkpoint
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 && i == len(lines)-1 {
			break
		}
		msg, err := decodeCheckpointLine(line)
		if err != nil {
			return nil, &TamperError{Seq: -1, Reason: fmt.Sprintf("checkpoint %d of the log is unreadable: %v", i+1, err)}
		}
		cp, err := ParseCheckpoint(msg, vkey)
		if err != nil {
			return nil, &TamperError{Seq: -1, Reason: fmt.Sprintf("checkpoint %d of the log: %v", i+1, err)}
		}
		if len(out) > 0 && cp.Size < out[len(out)-1].Size {
			return nil, &TamperError{Seq: -1, Reason: fmt.Sprintf("checkpoint %d of the log covers fewer entries than the one before", i+1)}
		}
		out = append(out, cp)
	}
	return out, nil
}

func sortBySize(cps []*Checkpoint) []*Checkpoint {
	out := append([]*Checkpoint{}, cps...)
	for i := 1; i < len(out); i++ { // insertion sort: the log's are already in order
		for j := i; j > 0 && out[j].Size < out[j-1].Size; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func containsCheckpoint(cps []*Checkpoint, cp *Checkpoint) bool {
	for _, c := range cps {
		if c == cp {
			return true
		}
	}
	return false
}

// LatestCheckpoint returns the latest signed checkpoint of the log in dir,
// checked against its verifier key, for `convoi audit export`.
func LatestCheckpoint(dir string) (*Checkpoint, string, error) {
	vkey, err := ReadVerifierKey(filepath.Join(dir, VerifierKeyFile))
	if err != nil {
		return nil, "", err
	}
	cps, err := readCheckpoints(filepath.Join(dir, CheckpointsFile), vkey)
	if err != nil {
		return nil, "", err
	}
	if len(cps) == 0 {
		return nil, "", errors.New("audit: the log has no checkpoint yet")
	}
	return cps[len(cps)-1], vkey, nil
}

// seqPrefix starts every entry: json.Marshal writes AuditEntry's fields in
// order, Seq first.
var seqPrefix = []byte(`{"seq":`)

// leadingSeq reads the sequence number at the start of an entry's line
// without decoding the rest (Verify's hot path).
func leadingSeq(data []byte) (int64, bool) {
	if !bytes.HasPrefix(data, seqPrefix) {
		return 0, false
	}
	var n int64
	i := len(seqPrefix)
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		if i-len(seqPrefix) >= 18 {
			return 0, false
		}
		n = n*10 + int64(data[i]-'0')
	}
	if i == len(seqPrefix) || i == len(data) || (data[i] != ',' && data[i] != '}') || (data[len(seqPrefix)] == '0' && i > len(seqPrefix)+1) {
		return 0, false
	}
	return n, true
}
