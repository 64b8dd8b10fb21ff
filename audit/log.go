// Package audit is convoi's tamper-evident audit log: an append-only file of
// JSON entries (convoi.AuditEntry), each a leaf of a Merkle tree as in
// Certificate Transparency (RFC 6962), with signed checkpoints of the tree in
// the C2SP tlog-checkpoint format (Ed25519 signed notes). The tree and its
// proofs are those of golang.org/x/mod/sumdb/tlog and the notes those of
// golang.org/x/mod/sumdb/note: this package writes no hashing rule of its own.
//
// A log is a directory:
//
//	entries.jsonl  one entry per line; line n is leaf n, its bytes (without
//	               the newline) the leaf's data
//	hashes         every stored hash of the tree (tlog.StoredHashIndex
//	               order), 32 bytes each: proofs read it
//	checkpoints    every signed checkpoint, one base64 line each
//	signer.key     the note signer key (0600); verifier.key its public half
//
// Append never waits for the disk: one writer goroutine writes what has
// been appended in groups, fsyncs, and signs a checkpoint at most every
// CheckpointInterval while entries arrive. An entry is on disk within one
// group commit (milliseconds) and covered by a checkpoint within
// CheckpointInterval. Verify checks a log directory offline.
//
// Engines and adapters record through the convoi.AuditLog interface. This
// package imports convoi, the standard library and golang.org/x/mod only;
// it must not import other adapters or engines. It returns errors and never
// logs: OnError receives failures of the background writer.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/convoi/convoi"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Defaults of Log's configuration.
const (
	DefaultCheckpointInterval = time.Second
	DefaultMaxPending         = 32 << 20 // bytes appended but not yet written
	DefaultQueryLimit         = 100
	MaxQueryLimit             = 1000
	maxDetail                 = 200 // characters of AuditEntry.Detail kept
)

var _ convoi.AuditLog = (*Log)(nil)

// Log is an open audit log. Create it with New, set the exported fields,
// then call Open; Close flushes, signs a last checkpoint and releases the
// directory. All methods are safe for concurrent use.
type Log struct {
	// Dir is the log directory, created (0700) if missing.
	Dir string
	// SignerKeyFile is the checkpoint signing key (Dir/signer.key). When the
	// file is missing, Open creates a key pair, the verifier key in Dir.
	SignerKeyFile string
	// Now stamps entries appended without a time (time.Now).
	Now convoi.Clock
	// CheckpointInterval is the most time between the first unsigned entry
	// and its checkpoint (DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// MaxPending bounds the bytes appended but not yet written; Append waits
	// beyond it (DefaultMaxPending).
	MaxPending int
	// OnError receives errors of the background writer. After one, Append
	// fails: the log is broken and needs `convoi audit verify`.
	OnError func(error)

	signer note.Signer
	vkey   string
	lock   *os.File
	ents   *os.File
	hashes *os.File
	cps    *os.File

	kick  chan struct{}
	cpReq chan chan error
	done  chan struct{}
	wg    sync.WaitGroup

	// Only the writer goroutine touches these.
	fileEnd   int64 // bytes in the entries file
	hashCount int64 // hashes in the hashes file
	// The entries before unindexed were in the log at Open: buildIndex
	// indexes them, once.
	unindexed    int64
	unindexedEnd int64 // their bytes in the entries file
	indexOnce    sync.Once
	indexErr     error
	leaves       []tlog.Hash // while opening: the entries' record hashes
	scratch      []tlog.Hash

	// mu guards everything below.
	mu          sync.Mutex
	next        int64   // Seq of the next appended entry
	pending     []byte  // encoded entries not yet written
	pendingEnds []int   // end of each pending entry in pending
	spare       []byte  // a drained pending buffer for reuse
	size        int64   // entries written and fsynced
	offsets     []int64 // start of each written entry in the file, plus the end
	byKey       map[string][]int64
	cp          *Checkpoint
	err         error
	closed      bool
	flushed     chan struct{} // closed and replaced after every group commit
}

// New returns a Log of dir with defaults set.
func New(dir string) *Log {
	return &Log{
		Dir:                dir,
		SignerKeyFile:      filepath.Join(dir, SignerKeyFile),
		Now:                time.Now,
		CheckpointInterval: DefaultCheckpointInterval,
		MaxPending:         DefaultMaxPending,
	}
}

// Open locks the directory against a second writer, loads or creates the
// keys, recovers from a crash (a torn last line, hashes behind the entries)
// and checks the log against its latest checkpoint: a log that does not
// match is not opened (run Verify to find the damage).
func (l *Log) Open() error {
	if err := os.MkdirAll(l.Dir, 0700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var err error
	if l.lock, err = os.OpenFile(filepath.Join(l.Dir, lockFile), os.O_RDWR|os.O_CREATE, 0600); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := syscall.Flock(int(l.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		l.lock.Close()
		return fmt.Errorf("audit: %s is in use by another process", l.Dir)
	}
	if err := l.open(); err != nil {
		l.closeFiles()
		return fmt.Errorf("audit: %w", err)
	}
	l.kick = make(chan struct{}, 1)
	l.cpReq = make(chan chan error)
	l.done = make(chan struct{})
	l.flushed = make(chan struct{})
	l.wg.Add(2)
	go l.run()
	go func() { defer l.wg.Done(); _ = l.buildIndex() }()
	return nil
}

func (l *Log) open() error {
	var err error
	if l.signer, l.vkey, err = LoadOrCreateKeys(l.SignerKeyFile, l.Dir); err != nil {
		return err
	}
	for _, f := range []struct {
		p **os.File
		n string
	}{{&l.ents, EntriesFile}, {&l.hashes, HashesFile}, {&l.cps, CheckpointsFile}} {
		if *f.p, err = os.OpenFile(filepath.Join(l.Dir, f.n), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0600); err != nil {
			return err
		}
	}
	l.byKey = map[string][]int64{}
	if err := l.loadEntries(); err != nil {
		return err
	}
	if err := l.loadHashes(); err != nil {
		return err
	}
	return l.loadCheckpoint()
}

// indexFields is the part of an entry that Open reads to rebuild the indexes.
type indexFields struct {
	Seq     int64         `json:"seq"`
	UserID  convoi.UserID `json:"user_id"`
	Objects []string      `json:"objects"`
}

// loadEntries reads every complete line, checks the sequence and rebuilds
// offsets and indexes; it cuts a torn last line left by a crash.
func (l *Log) loadEntries() error {
	r := bufio.NewReaderSize(io.NewSectionReader(l.ents, 0, 1<<62), 1<<20)
	var off int64
	var leaves []tlog.Hash
	l.offsets = []int64{0}
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("entry %d: line longer than 1 MiB", len(l.offsets)-1)
		}
		if err == io.EOF {
			if len(line) > 0 { // torn write: the entry was never acknowledged as durable
				if err := l.ents.Truncate(off); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return err
		}
		seq := int64(len(l.offsets) - 1)
		if got, ok := leadingSeq(line); !ok || got != seq {
			return fmt.Errorf("entry %d is damaged; run convoi audit verify", seq)
		}
		leaves = append(leaves, tlog.RecordHash(line[:len(line)-1]))
		off += int64(len(line))
		l.offsets = append(l.offsets, off)
	}
	l.fileEnd = off
	l.size = int64(len(l.offsets) - 1)
	l.next = l.size
	l.unindexed, l.unindexedEnd = l.size, off // indexed in the background (buildIndex)
	l.leaves = leaves
	return nil
}

// buildIndex indexes by object and user the entries that were in the log
// when it opened (Append indexes the new ones). Open starts it in the
// background; queries that need the index wait for it.
func (l *Log) buildIndex() error {
	l.indexOnce.Do(func() {
		old := map[string][]int64{}
		r := bufio.NewReaderSize(io.NewSectionReader(l.ents, 0, l.unindexedEnd), 1<<20)
		for seq := int64(0); seq < l.unindexed; seq++ {
			line, err := r.ReadSlice('\n')
			if err != nil {
				l.indexErr = fmt.Errorf("audit: index entry %d: %w", seq, err)
				return
			}
			var f indexFields
			if err := json.Unmarshal(line, &f); err != nil || f.Seq != seq {
				l.indexErr = fmt.Errorf("audit: entry %d is damaged; run convoi audit verify", seq)
				return
			}
			addIndex(old, seq, f.UserID, f.Objects)
		}
		l.mu.Lock()
		for k, v := range l.byKey {
			old[k] = append(old[k], v...)
		}
		l.byKey = old
		l.mu.Unlock()
	})
	return l.indexErr
}

// loadHashes brings the hashes file level with the entries: hashes of
// entries lost to a crash are cut, missing ones computed.
func (l *Log) loadHashes() error {
	st, err := l.hashes.Stat()
	if err != nil {
		return err
	}
	have := st.Size() / tlog.HashSize
	want := tlog.StoredHashCount(l.size)
	// The largest record count whose hashes are complete in the file.
	done := l.size
	for done > 0 && tlog.StoredHashCount(done) > have {
		done--
	}
	if have != tlog.StoredHashCount(done) || st.Size()%tlog.HashSize != 0 {
		if err := l.hashes.Truncate(tlog.StoredHashCount(done) * tlog.HashSize); err != nil {
			return err
		}
	}
	l.hashCount = tlog.StoredHashCount(done)
	for n := done; n < l.size; n++ {
		data := make([]byte, l.offsets[n+1]-l.offsets[n])
		if _, err := l.ents.ReadAt(data, l.offsets[n]); err != nil {
			return err
		}
		if err := l.appendHashes([]int64{n}, [][]byte{data[:len(data)-1]}); err != nil {
			return err
		}
	}
	if l.hashCount != want {
		return fmt.Errorf("hashes: %d stored, want %d", l.hashCount, want)
	}
	// Every entry must still be the one hashed when it was appended. The
	// leaves are spread through the file: read it in one go.
	all := make([]byte, l.hashCount*tlog.HashSize)
	if _, err := l.hashes.ReadAt(all, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for n, leaf := range l.leaves {
		i := tlog.StoredHashIndex(0, int64(n)) * tlog.HashSize
		if !bytes.Equal(all[i:i+tlog.HashSize], leaf[:]) {
			return fmt.Errorf("entry %d changed since it was appended; run convoi audit verify", n)
		}
	}
	l.leaves = nil
	return nil
}

// loadCheckpoint reads the latest checkpoint and checks the tree against it.
func (l *Log) loadCheckpoint() error {
	var last []byte
	r := bufio.NewReader(io.NewSectionReader(l.cps, 0, 1<<62))
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				if err := l.cps.Truncate(off); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return err
		}
		off += int64(len(line))
		last = line
	}
	if last == nil {
		return nil
	}
	msg, err := decodeCheckpointLine(bytes.TrimSuffix(last, []byte("\n")))
	if err != nil {
		return fmt.Errorf("latest checkpoint: %w", err)
	}
	cp, err := ParseCheckpoint(msg, l.vkey)
	if err != nil {
		return fmt.Errorf("latest checkpoint: %w", err)
	}
	if cp.Size > l.size {
		return fmt.Errorf("the log has %d entries but its latest checkpoint covers %d: truncated; run convoi audit verify", l.size, cp.Size)
	}
	root, err := tlog.TreeHash(cp.Size, l.hashReader(l.size))
	if err != nil {
		return err
	}
	if root != cp.Root {
		return fmt.Errorf("the log does not match its latest checkpoint (size %d); run convoi audit verify", cp.Size)
	}
	l.cp = cp
	return nil
}

func addIndex(byKey map[string][]int64, seq int64, user convoi.UserID, objects []string) {
	if user != 0 {
		k := "u:" + strconv.FormatInt(int64(user), 10)
		byKey[k] = append(byKey[k], seq)
	}
	for i, o := range objects {
		if o == "" || slices.Contains(objects[:i], o) {
			continue
		}
		byKey["o:"+o] = append(byKey["o:"+o], seq)
	}
}

// VerifierKey returns the note verifier key of the log's checkpoints.
func (l *Log) VerifierKey() string { return l.vkey }

// Append records e, setting e.Seq (and e.Time when zero). It returns once
// the entry is queued in memory, in Seq order; it waits only when MaxPending
// bytes are queued. It fails once the log is closed or broken.
func (l *Log) Append(e *convoi.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = l.Now()
	}
	e.Time = e.Time.UTC()
	if len(e.Detail) > maxDetail {
		e.Detail = e.Detail[:maxDetail]
	}
	l.mu.Lock()
	for l.err == nil && !l.closed && len(l.pending) >= l.MaxPending {
		ch := l.flushed
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	e.Seq = l.next
	b, err := json.Marshal(e)
	if err != nil {
		l.mu.Unlock()
		return fmt.Errorf("audit: encode entry: %w", err)
	}
	l.pending = append(append(l.pending, b...), '\n')
	l.pendingEnds = append(l.pendingEnds, len(l.pending))
	addIndex(l.byKey, e.Seq, e.UserID, e.Objects)
	l.next++
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

func (l *Log) usable() error {
	if l.err != nil {
		return fmt.Errorf("audit: log broken: %w", l.err)
	}
	if l.closed {
		return errors.New("audit: log closed")
	}
	return nil
}

// Err returns why the log cannot record (broken by a write error, or
// closed), nil while it can.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usable()
}

// Sync waits until every entry appended before the call is written and fsynced.
func (l *Log) Sync(ctx context.Context) error {
	l.mu.Lock()
	target := l.next
	l.mu.Unlock()
	for {
		l.mu.Lock()
		size, err, ch := l.size, l.err, l.flushed
		l.mu.Unlock()
		if err != nil {
			return fmt.Errorf("audit: log broken: %w", err)
		}
		if size >= target {
			return nil
		}
		select {
		case l.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CheckpointNow writes and fsyncs everything appended so far and signs a
// checkpoint of it, for `convoi audit export` and tests.
func (l *Log) CheckpointNow(ctx context.Context) (*Checkpoint, error) {
	if err := l.Sync(ctx); err != nil {
		return nil, err
	}
	ch := make(chan error, 1)
	select {
	case l.cpReq <- ch:
	case <-l.done:
		return nil, errors.New("audit: log closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := <-ch; err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cp, nil
}

// Size returns the number of entries written and fsynced.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Checkpoint returns the latest signed checkpoint note and its size (nil, 0
// before the first).
func (l *Log) Checkpoint() ([]byte, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cp == nil {
		return nil, 0
	}
	return l.cp.Note, l.cp.Size
}

// Close writes what is pending, signs a last checkpoint, closes the files
// and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	err := l.err
	l.mu.Unlock()
	if cerr := l.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (l *Log) closeFiles() error {
	var first error
	for _, f := range []*os.File{l.ents, l.hashes, l.cps, l.lock} {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// run is the writer: group commits on demand, a checkpoint at most
// CheckpointInterval after new entries, a last flush and checkpoint on Close.
func (l *Log) run() {
	defer l.wg.Done()
	// Ticks at three quarters of the interval, so that signing and a busy
	// disk still keep an entry's wait for its checkpoint within it.
	t := time.NewTicker(max(l.CheckpointInterval*3/4, time.Millisecond))
	defer t.Stop()
	fail := func(err error) {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		close(l.flushed)
		l.flushed = make(chan struct{})
		l.mu.Unlock()
		if l.OnError != nil {
			l.OnError(err)
		}
	}
	for {
		l.mu.Lock()
		broken := l.err != nil
		l.mu.Unlock()
		select {
		case <-l.kick:
			if !broken {
				if err := l.flush(); err != nil {
					fail(err)
				}
			}
		case <-t.C:
			if !broken {
				if err := l.checkpoint(); err != nil {
					fail(err)
				}
			}
		case ch := <-l.cpReq:
			var err error
			if broken {
				err = errors.New("audit: log broken")
			} else if err = l.flush(); err == nil {
				err = l.checkpoint()
			}
			ch <- err
		case <-l.done:
			if !broken {
				if err := l.flush(); err != nil {
					fail(err)
				} else if err := l.checkpoint(); err != nil {
					fail(err)
				}
			}
			return
		}
	}
}

// flush writes the pending entries and their tree hashes and fsyncs both.
func (l *Log) flush() error {
	l.mu.Lock()
	buf, ends, base := l.pending, l.pendingEnds, l.size
	l.pending, l.pendingEnds, l.spare = l.spare[:0], nil, nil
	l.mu.Unlock()
	if len(ends) == 0 {
		l.mu.Lock()
		l.spare = buf
		l.mu.Unlock()
		return nil
	}
	if _, err := l.ents.Write(buf); err != nil {
		return fmt.Errorf("audit: write entries: %w", err)
	}
	seqs := make([]int64, len(ends))
	datas := make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		seqs[i] = base + int64(i)
		datas[i] = buf[start : end-1]
		start = end
	}
	if err := l.appendHashes(seqs, datas); err != nil {
		return err
	}
	if err := l.ents.Sync(); err != nil {
		return fmt.Errorf("audit: sync entries: %w", err)
	}
	if err := l.hashes.Sync(); err != nil {
		return fmt.Errorf("audit: sync hashes: %w", err)
	}
	l.mu.Lock()
	off := l.fileEnd
	start = 0
	for _, end := range ends {
		off += int64(end - start)
		start = end
		l.offsets = append(l.offsets, off)
	}
	l.fileEnd = off
	l.size += int64(len(ends))
	l.spare = buf
	close(l.flushed)
	l.flushed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// appendHashes computes the stored hashes of records seqs (consecutive,
// from l's record count) and appends them to the hashes file.
func (l *Log) appendHashes(seqs []int64, datas [][]byte) error {
	l.scratch = l.scratch[:0]
	first := l.hashCount
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= first {
				if x-first >= int64(len(l.scratch)) {
					return nil, fmt.Errorf("hash %d not yet computed", x)
				}
				out[i] = l.scratch[x-first]
				continue
			}
			if _, err := l.hashes.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
				return nil, fmt.Errorf("read hash %d: %w", x, err)
			}
		}
		return out, nil
	})
	for i, n := range seqs {
		hs, err := tlog.StoredHashes(n, datas[i], r)
		if err != nil {
			return fmt.Errorf("audit: hashes of entry %d: %w", n, err)
		}
		l.scratch = append(l.scratch, hs...)
	}
	b := make([]byte, 0, len(l.scratch)*tlog.HashSize)
	for _, h := range l.scratch {
		b = append(b, h[:]...)
	}
	if _, err := l.hashes.Write(b); err != nil {
		return fmt.Errorf("audit: write hashes: %w", err)
	}
	l.hashCount += int64(len(l.scratch))
	return nil
}

// checkpoint signs the written tree if it grew since the last checkpoint.
func (l *Log) checkpoint() error {
	l.mu.Lock()
	size, cp := l.size, l.cp
	l.mu.Unlock()
	if size == 0 || (cp != nil && cp.Size == size) {
		return nil
	}
	root, err := tlog.TreeHash(size, l.hashReader(size))
	if err != nil {
		return fmt.Errorf("audit: tree hash: %w", err)
	}
	ncp, err := signCheckpoint(l.signer, size, root)
	if err != nil {
		return err
	}
	if _, err := l.cps.Write(encodeCheckpointLine(ncp)); err != nil {
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := l.cps.Sync(); err != nil {
		return fmt.Errorf("audit: sync checkpoint: %w", err)
	}
	l.mu.Lock()
	l.cp = ncp
	l.mu.Unlock()
	return nil
}

// hashReader reads stored hashes of a tree of size entries from the file.
func (l *Log) hashReader(size int64) tlog.HashReader {
	limit := tlog.StoredHashCount(size)
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= limit {
				return nil, fmt.Errorf("hash %d outside the tree of %d entries", x, size)
			}
			if _, err := l.hashes.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
				return nil, fmt.Errorf("read hash %d: %w", x, err)
			}
		}
		return out, nil
	})
}
