package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// File names inside a log directory.
const (
	EntriesFile     = "entries.jsonl"   // one JSON entry per line; line n is leaf n
	HashesFile      = "hashes"          // tlog stored hashes, 32 bytes each, in stored-hash order
	CheckpointsFile = "checkpoints"     // one signed checkpoint per line, base64 of the note
	SignerKeyFile   = "signer.key"      // the note signer key (secret, 0600)
	VerifierKeyFile = "verifier.key"    // the note verifier key (public)
	lockFile        = "lock"            // held by the one process that appends
	originPrefix    = "convoi.audit/"   // checkpoint origin and key name prefix
	maxNoteBytes    = 16 << 10          // a checkpoint note is a few hundred bytes
	maxKeyFileBytes = 4 << 10           //
	keyFileMode     = fs.FileMode(0600) //
)

// Checkpoint is a signed statement of the log's size and Merkle root, in the
// C2SP tlog-checkpoint format (an origin line, the size in decimal, the root
// hash in base64, each ending in a newline) as an Ed25519 signed note.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Note   []byte // the signed note as written
}

// formatCheckpointBody returns the C2SP tlog-checkpoint body.
func formatCheckpointBody(origin string, size int64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// ParseCheckpoint opens a signed checkpoint note with the verifier key vkey
// and parses its body. The note must carry a valid signature of that key and
// its origin must be the key's name.
func ParseCheckpoint(msg []byte, vkey string) (*Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	if len(msg) > maxNoteBytes {
		return nil, errors.New("checkpoint too large")
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.SplitAfter(n.Text, "\n")
	if len(lines) < 4 { // origin, size, root, and the empty remainder after the last newline
		return nil, errors.New("checkpoint: want origin, size and root lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	if origin != v.Name() {
		return nil, fmt.Errorf("checkpoint origin %q is not the key's name %q", origin, v.Name())
	}
	size, err := strconv.ParseInt(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != strings.TrimSuffix(lines[1], "\n") {
		return nil, fmt.Errorf("checkpoint size %q invalid", strings.TrimSuffix(lines[1], "\n"))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(raw) != tlog.HashSize {
		return nil, errors.New("checkpoint root hash invalid")
	}
	cp := &Checkpoint{Origin: origin, Size: size, Note: bytes.Clone(msg)}
	copy(cp.Root[:], raw)
	return cp, nil
}

// signCheckpoint signs a checkpoint of the tree (size, root).
func signCheckpoint(s note.Signer, size int64, root tlog.Hash) (*Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: formatCheckpointBody(s.Name(), size, root)}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return &Checkpoint{Origin: s.Name(), Size: size, Root: root, Note: msg}, nil
}

// encodeCheckpointLine is the checkpoints file's framing: a note holds
// newlines, so each is stored as one base64 line.
func encodeCheckpointLine(cp *Checkpoint) []byte {
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(cp.Note))+1)
	b = base64.StdEncoding.AppendEncode(b, cp.Note)
	return append(b, '\n')
}

func decodeCheckpointLine(line []byte) ([]byte, error) {
	if len(line) > 2*maxNoteBytes {
		return nil, errors.New("checkpoint line too long")
	}
	return base64.StdEncoding.DecodeString(string(line))
}

// GenerateKeys creates a new signing key pair for a log whose checkpoints
// are named originPrefix plus a random suffix, and returns both keys in the
// note key encoding.
func GenerateKeys() (skey, vkey string, err error) {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand.Reader, fmt.Sprintf("%s%x", originPrefix, suffix))
}

// LoadOrCreateKeys reads the signer key at path, creating a new key pair (and
// the verifier key beside it in dir) when the file does not exist.
func LoadOrCreateKeys(path, dir string) (note.Signer, string, error) {
	b, err := readSmall(path, maxKeyFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		skey, vkey, err := GenerateKeys()
		if err != nil {
			return nil, "", fmt.Errorf("generate audit key: %w", err)
		}
		if err := writeFileSync(path, []byte(skey+"\n"), keyFileMode); err != nil {
			return nil, "", fmt.Errorf("write audit key: %w", err)
		}
		if err := writeFileSync(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0644); err != nil {
			return nil, "", fmt.Errorf("write audit verifier key: %w", err)
		}
		b = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("read audit key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("audit key %s: %w", path, err)
	}
	vkey, err := ReadVerifierKey(filepath.Join(dir, VerifierKeyFile))
	if err != nil {
		return nil, "", err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		return nil, "", fmt.Errorf("audit verifier key %s does not match the signer key", filepath.Join(dir, VerifierKeyFile))
	}
	return s, vkey, nil
}

// ReadVerifierKey reads a note verifier key file.
func ReadVerifierKey(path string) (string, error) {
	b, err := readSmall(path, maxKeyFileBytes)
	if err != nil {
		return "", fmt.Errorf("read audit verifier key: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("audit verifier key %s: %w", path, err)
	}
	return vkey, nil
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return os.ReadFile(path)
}

// writeFileSync writes a new file and fsyncs it and its directory.
func writeFileSync(path string, b []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
