package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/convoi/convoi"

	"golang.org/x/mod/sumdb/tlog"
)

// FindAuditEntries returns the written entries that match f, newest first,
// at most f.Limit (DefaultQueryLimit, at most MaxQueryLimit). Filters on an
// object or a user read only that object's or user's entries; other filters
// scan backwards from f.Before.
func (l *Log) FindAuditEntries(ctx context.Context, f convoi.AuditFilter) ([]*convoi.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	if f.Object != "" || f.UserID != nil {
		if err := l.buildIndex(); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	size := l.size
	offsets := l.offsets[:size+1]
	var cands []int64 // nil: every entry
	indexed := false
	if f.Object != "" {
		cands, indexed = l.byKey["o:"+f.Object], true
	}
	if f.UserID != nil {
		u := l.byKey["u:"+strconv.FormatInt(int64(*f.UserID), 10)]
		if !indexed || len(u) < len(cands) {
			cands = u
		}
		indexed = true
	}
	cands = cands[:len(cands):len(cands)] // appends after unlock must not show through
	l.mu.Unlock()

	top := size
	if f.Before != nil {
		top = min(top, max(*f.Before, 0))
	}
	var out []*convoi.AuditEntry
	visit := func(seq int64) (bool, error) {
		e, err := l.readEntry(offsets, seq)
		if err != nil {
			return false, err
		}
		if f.Match(e) {
			out = append(out, e)
		}
		return len(out) >= limit, nil
	}
	n := 0
	if indexed {
		for i := len(cands) - 1; i >= 0; i-- {
			if cands[i] >= top {
				continue
			}
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if full, err := visit(cands[i]); err != nil || full {
				return out, err
			}
		}
		return out, nil
	}
	for seq := top - 1; seq >= 0; seq-- {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if full, err := visit(seq); err != nil || full {
			return out, err
		}
	}
	return out, nil
}

// FindAuditEntry returns written entry seq, ENOTFOUND if there is none.
func (l *Log) FindAuditEntry(ctx context.Context, seq int64) (*convoi.AuditEntry, error) {
	l.mu.Lock()
	size := l.size
	offsets := l.offsets[:size+1]
	l.mu.Unlock()
	if seq < 0 || seq >= size {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "No audit entry %d (the log has %d).", seq, size)
	}
	return l.readEntry(offsets, seq)
}

func (l *Log) readEntry(offsets []int64, seq int64) (*convoi.AuditEntry, error) {
	b, err := l.readLeaf(offsets, seq)
	if err != nil {
		return nil, err
	}
	var e convoi.AuditEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("audit: entry %d: %w", seq, err)
	}
	return &e, nil
}

// readLeaf returns entry seq's leaf data (its line without the newline).
func (l *Log) readLeaf(offsets []int64, seq int64) ([]byte, error) {
	b := make([]byte, offsets[seq+1]-offsets[seq])
	if _, err := l.ents.ReadAt(b, offsets[seq]); err != nil {
		return nil, fmt.Errorf("audit: read entry %d: %w", seq, err)
	}
	return b[:len(b)-1], nil
}

// treeSize resolves a requested tree size: 0 means the latest checkpoint's;
// a size beyond the written entries is EINVALID.
func (l *Log) treeSize(size int64) (int64, error) {
	l.mu.Lock()
	written, cp := l.size, l.cp
	l.mu.Unlock()
	if size == 0 {
		if cp == nil {
			return 0, convoi.Errorf(convoi.ENOTFOUND, "The audit log has no checkpoint yet.")
		}
		return cp.Size, nil
	}
	if size < 0 || size > written {
		return 0, convoi.Errorf(convoi.EINVALID, "Tree size %d is outside the log (1 to %d).", size, written)
	}
	return size, nil
}

// InclusionProof proves that entry seq is leaf seq of the tree of size
// entries (0: the latest checkpoint's), RFC 6962 style.
func (l *Log) InclusionProof(ctx context.Context, seq, size int64) (*convoi.AuditProof, error) {
	size, err := l.treeSize(size)
	if err != nil {
		return nil, err
	}
	if seq < 0 || seq >= size {
		return nil, convoi.Errorf(convoi.EINVALID, "Entry %d is not in a tree of %d entries.", seq, size)
	}
	r := l.hashReader(size)
	p, err := tlog.ProveRecord(size, seq, r)
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return nil, fmt.Errorf("audit: tree hash: %w", err)
	}
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, seq)})
	if err != nil {
		return nil, fmt.Errorf("audit: leaf hash: %w", err)
	}
	return &convoi.AuditProof{Seq: seq, LeafHash: leaf[0].String(), Size: size, Root: root.String(), Hashes: hashStrings(p)}, nil
}

// ConsistencyProof proves that the tree of from entries is a prefix of the
// tree of to entries (0: the latest checkpoint's).
func (l *Log) ConsistencyProof(ctx context.Context, from, to int64) (*convoi.AuditProof, error) {
	to, err := l.treeSize(to)
	if err != nil {
		return nil, err
	}
	if from < 1 || from > to {
		return nil, convoi.Errorf(convoi.EINVALID, "Consistency needs 1 <= from <= to (from %d, to %d).", from, to)
	}
	r := l.hashReader(to)
	p, err := tlog.ProveTree(to, from, r)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	root, err := tlog.TreeHash(to, r)
	if err != nil {
		return nil, fmt.Errorf("audit: tree hash: %w", err)
	}
	return &convoi.AuditProof{From: from, Size: to, Root: root.String(), Hashes: hashStrings(p)}, nil
}

func hashStrings(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// CheckInclusion verifies an inclusion proof of the leaf data against the
// root of a checkpoint, as an auditor's client does.
func CheckInclusion(p *convoi.AuditProof, leaf []byte, root tlog.Hash) error {
	hs, err := parseHashes(p.Hashes)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(hs, p.Size, root, p.Seq, tlog.RecordHash(leaf))
}

// CheckConsistency verifies a consistency proof between two tree roots.
func CheckConsistency(p *convoi.AuditProof, oldRoot, newRoot tlog.Hash) error {
	hs, err := parseHashes(p.Hashes)
	if err != nil {
		return err
	}
	return tlog.CheckTree(hs, p.Size, newRoot, p.From, oldRoot)
}

func parseHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d invalid", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
