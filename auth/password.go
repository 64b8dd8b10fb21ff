// Package auth holds convoi's credentials: argon2id password hashes in the PHC
// string format, random bearer secrets stored only as their SHA-256 hash, and
// an Authenticator that logs users in and resolves bearer tokens to users.
//
// It imports the convoi domain, the standard library and
// golang.org/x/crypto/argon2 only; it knows nothing of HTTP or of any store.
// It never logs: secrets and passwords must not reach a log line.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/convoi/convoi"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. Memory is in KiB.
type Params struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32 // bytes of derived key
	SaltLen uint32 // bytes of random salt
}

// DefaultParams follow RFC 9106's second recommended option, scaled for a
// small server: 64 MiB, 3 passes, 2 lanes. About 100-200 ms per hash on one
// core, which is what makes offline guessing expensive.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 2, KeyLen: 32, SaltLen: 16}

// TestParams are cheap parameters for tests only. Never use them in production.
var TestParams = Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// Bounds on parameters read from a stored hash, so that a corrupted or
// hostile hash string cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxKeyLen    = 128
	maxSaltLen   = 64
)

// Password length limits, in bytes. The upper bound keeps hashing time
// independent of hostile input sizes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// ValidatePassword returns an EINVALID error for a password that is too short or too long.
func ValidatePassword(password string) error {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return convoi.Errorf(convoi.EINVALID, "Password must be %d to %d bytes long.", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// HashPassword returns the PHC string of password under p, such as
// "$argon2id$v=19$m=65536,t=3,p=2$SALT$KEY" (unpadded standard base64).
// It does not validate the password's length: call ValidatePassword first.
func HashPassword(password string, p Params) (string, error) {
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 || p.KeyLen == 0 || p.SaltLen == 0 {
		return "", fmt.Errorf("argon2id parameters must all be positive")
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string hash. The
// comparison of derived keys is constant-time. A malformed hash is an error,
// never a match.
func VerifyPassword(hash, password string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether hash was made with parameters other than p (or
// cannot be parsed), so that a caller can re-hash at the next successful login.
func NeedsRehash(hash string, p Params) bool {
	q, salt, _, err := parsePHC(hash)
	if err != nil {
		return true
	}
	return q.Time != p.Time || q.Memory != p.Memory || q.Threads != p.Threads ||
		q.KeyLen != p.KeyLen || uint32(len(salt)) != p.SaltLen
}

// parsePHC splits "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parsePHC(hash string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("malformed argon2id hash: %s", why)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("parameter without value")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter is not a number")
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parallelism out of range")
			}
			p.Threads = uint8(n)
		default:
			return bad("unknown parameter")
		}
	}
	if p.Memory == 0 || p.Memory > maxMemoryKiB || p.Time == 0 || p.Time > maxTime || p.Threads == 0 {
		return bad("parameters out of range")
	}
	if p.Memory < 8*uint32(p.Threads) {
		return bad("memory below 8 KiB per lane")
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return bad("bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return bad("bad key")
	}
	p.KeyLen, p.SaltLen = uint32(len(key)), uint32(len(salt))
	return p, salt, key, nil
}
