// Package seal encrypts schedule values at rest with AES-256-GCM under keys
// kept in a key file outside the database. A sealed value names the key it
// was sealed with, so that a key file may hold several keys: the first
// seals, all open. That is how keys rotate: add a new key first, re-seal
// every value (sqlite.DB.Reseal), then drop the old key.
//
// Key file format, one key a line (blank lines and # comments ignored):
//
//	convoi-seal-v1 KEYID BASE64-32-BYTES
//
// KEYID is 8 hex digits. The file must not be readable by group or others.
//
// This package imports the standard library only; it never logs.
package seal

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	keyLinePrefix = "convoi-seal-v1"
	version       = 1
	keySize       = 32    // AES-256
	headerSize    = 1 + 4 // version, key ID
	maxKeyFile    = 64 << 10
)

// Keyring holds the keys of a key file. Safe for concurrent use once built.
type Keyring struct {
	ids   []uint32 // ids[0] seals
	aeads map[uint32]cipher.AEAD
}

// Errors of Open.
var (
	ErrUnknownKey = errors.New("seal: sealed with a key not in the key file")
	ErrTampered   = errors.New("seal: sealed value altered or sealed for another place")
)

// NewKey returns a key line with a fresh random key and ID.
func NewKey() (string, error) {
	var id [4]byte
	var key [keySize]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %s", keyLinePrefix, hex.EncodeToString(id[:]), base64.StdEncoding.EncodeToString(key[:])), nil
}

// CreateKeyFile writes a new key file with one fresh key (0600); it fails
// if the file exists.
func CreateKeyFile(path string) error {
	line, err := NewKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("# convoi schedule sealing keys: the first seals, all open. Keep outside the database's backups.\n" + line + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AddKey puts a fresh key first in the key file at path (the old keys stay,
// to open what they sealed) and returns its ID.
func AddKey(path string) (string, error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if _, err := Parse(old); err != nil {
		return "", err
	}
	line, err := NewKey()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	comments, keys := splitKeyFile(old)
	out.Write(comments)
	out.WriteString(line + "\n")
	out.Write(keys)
	return strings.Fields(line)[1], replaceFile(path, out.Bytes())
}

// DropKeys keeps only the first key of the key file at path.
func DropKeys(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := Parse(old); err != nil {
		return err
	}
	comments, keys := splitKeyFile(old)
	first, _, _ := bytes.Cut(keys, []byte("\n"))
	return replaceFile(path, append(append(comments, first...), '\n'))
}

// splitKeyFile separates leading comment lines from the key lines.
func splitKeyFile(b []byte) (comments, keys []byte) {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte("\n"))
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			break
		}
		comments = append(append(comments, line...), '\n')
		b = rest
	}
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(append(out, t...), '\n')
		}
	}
	return comments, out
}

func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0600); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a key file; it refuses one readable by group or others.
func Load(path string) (*Keyring, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("seal key file %s does not exist: create one with 'convoi seal keygen %s' (or give the file the schedules were sealed with): %w", path, path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("seal key file: %w", err)
	}
	if st.Mode().Perm()&0077 != 0 {
		return nil, fmt.Errorf("seal key file %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	if st.Size() > maxKeyFile {
		return nil, fmt.Errorf("seal key file %s: too large", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal key file: %w", err)
	}
	k, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("seal key file %s: %w", path, err)
	}
	return k, nil
}

// Parse reads key file text.
func Parse(b []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[uint32]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != keyLinePrefix {
			return nil, fmt.Errorf("line %d: want %q KEYID BASE64-KEY", n, keyLinePrefix)
		}
		idb, err := hex.DecodeString(f[1])
		if err != nil || len(idb) != 4 {
			return nil, fmt.Errorf("line %d: key ID must be 8 hex digits", n)
		}
		key, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(key) != keySize {
			return nil, fmt.Errorf("line %d: key must be %d bytes in base64", n, keySize)
		}
		id := binary.BigEndian.Uint32(idb)
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("line %d: key ID %s repeated", n, f[1])
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.ids) == 0 {
		return nil, errors.New("no key")
	}
	return k, nil
}

// KeyID returns the ID of the key that seals, as in the key file.
func (k *Keyring) KeyID() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], k.ids[0])
	return hex.EncodeToString(b[:])
}

// Seal encrypts plaintext with the first key. ad (additional data) binds
// the value to its place (for example "movements.route MC-2026-0042"):
// Open with another ad fails. The result is version, key ID, nonce and
// ciphertext with its tag.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := k.aeads[k.ids[0]]
	out := make([]byte, headerSize, headerSize+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	binary.BigEndian.PutUint32(out[1:], k.ids[0])
	nonce := out[headerSize : headerSize+aead.NonceSize()]
	out = out[:headerSize+aead.NonceSize()]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, plaintext, append(out[:headerSize:headerSize], ad...)), nil
}

// Open decrypts a value sealed by Seal with the same ad.
func (k *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < headerSize || sealed[0] != version {
		return nil, ErrTampered
	}
	aead, ok := k.aeads[binary.BigEndian.Uint32(sealed[1:])]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(sealed) < headerSize+aead.NonceSize()+aead.Overhead() {
		return nil, ErrTampered
	}
	nonce := sealed[headerSize : headerSize+aead.NonceSize()]
	pt, err := aead.Open(nil, nonce, sealed[headerSize+aead.NonceSize():], append(sealed[:headerSize:headerSize], ad...))
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}

// SealedWith reports whether sealed was sealed with the key that seals now.
func (k *Keyring) SealedWith(sealed []byte) bool {
	return len(sealed) >= headerSize && binary.BigEndian.Uint32(sealed[1:]) == k.ids[0]
}
