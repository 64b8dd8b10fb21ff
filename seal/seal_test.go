package seal_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoi/convoi/seal"
)

func mustKeyring(t *testing.T) (*seal.Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seal.key")
	if err := seal.CreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	k, err := seal.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, path
}

func TestSealOpen(t *testing.T) {
	k, _ := mustKeyring(t)
	pt := []byte("2026-05-14T06:47:13Z")
	s1, err := k.Seal(pt, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := k.Seal(pt, []byte("a"))
	if bytes.Equal(s1, s2) || bytes.Contains(s1, pt) {
		t.Fatal("sealing is deterministic or shows the plaintext")
	}
	if got, err := k.Open(s1, []byte("a")); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := k.Open(s1, []byte("b")); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("open with another ad: %v", err)
	}
	for i := range s1 {
		b := bytes.Clone(s1)
		b[i] ^= 0x80
		if _, err := k.Open(b, []byte("a")); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	other, _ := mustKeyring(t)
	if _, err := other.Open(s1, []byte("a")); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("another key file: %v", err)
	}
}

func TestKeyFileRotation(t *testing.T) {
	k1, path := mustKeyring(t)
	old, _ := k1.Seal([]byte("x"), nil)
	id, err := seal.AddKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := seal.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.KeyID() != id || k2.KeyID() == k1.KeyID() {
		t.Fatalf("new key %s, file's first %s, old %s", id, k2.KeyID(), k1.KeyID())
	}
	if _, err := k2.Open(old, nil); err != nil {
		t.Fatal("the old key no longer opens after adding a key")
	}
	if k2.SealedWith(old) {
		t.Fatal("an old value counts as sealed with the new key")
	}
	if err := seal.DropKeys(path); err != nil {
		t.Fatal(err)
	}
	k3, err := seal.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k3.Open(old, nil); !errors.Is(err, seal.ErrUnknownKey) || k3.KeyID() != id {
		t.Fatalf("after dropping the old key: %v", err)
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	_, path := mustKeyring(t)
	if err := os.Chmod(path, 0644); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Load(path); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":     "",
		"comments":  "# nothing\n",
		"short key": "convoi-seal-v1 0011aabb AAAA\n",
		"bad id":    "convoi-seal-v1 zz11aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"other":     "ssh-ed25519 AAAA\n",
		"duplicate": "convoi-seal-v1 0011aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nconvoi-seal-v1 0011aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	} {
		if _, err := seal.Parse([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParse: the key file parser never panics, and a keyring it accepts
// seals and opens.
func FuzzParse(f *testing.F) {
	f.Add([]byte("convoi-seal-v1 0011aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("# c\n\nconvoi-seal-v1 0011aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nconvoi-seal-v1 0011aabc AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := seal.Parse(b)
		if err != nil {
			return
		}
		s, err := k.Seal([]byte("p"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := k.Open(s, []byte("ad")); err != nil || string(p) != "p" {
			t.Fatalf("round trip: %q %v", p, err)
		}
	})
}

// FuzzOpen: opening arbitrary bytes never panics nor succeeds.
func FuzzOpen(f *testing.F) {
	k, err := seal.Parse([]byte("convoi-seal-v1 0011aabb AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	if err != nil {
		f.Fatal(err)
	}
	s, _ := k.Seal([]byte("x"), nil)
	f.Add(s)
	f.Add([]byte{1, 0, 0x11, 0xaa, 0xbb})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := k.Open(b, []byte("not the ad")); err == nil {
			t.Fatalf("forged value opened: %q", p)
		}
	})
}

// TestLoadMissingFile: a mistyped key file path says how to make one, and
// stays an fs.ErrNotExist for callers that test for it.
func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.key")
	_, err := seal.Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "convoi seal keygen") || strings.Contains(err.Error(), "stat ") {
		t.Fatalf("Load of a missing file: %v", err)
	}
}
