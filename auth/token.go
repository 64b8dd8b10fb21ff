package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// Prefixes of bearer secrets. They tell a session from an API token at a
// glance and let secret scanners recognise a leaked convoi credential.
const (
	SessionPrefix = "cvs_"
	APIPrefix     = "cva_"
)

// secretBytes is the entropy of a bearer secret: 256 bits.
const secretBytes = 32

// maxSecretLen bounds what Authenticate accepts before hashing.
const maxSecretLen = 128

// DefaultSessionTTL is how long a login session lasts: one shift.
const DefaultSessionTTL = 12 * time.Hour

// NewSecret returns a fresh bearer secret: prefix followed by 32 random bytes
// in unpadded base64url.
func NewSecret(prefix string) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the SHA-256 of a bearer secret, the only form in which
// it is stored. A fast hash is right here: the secret has 256 bits of entropy.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Authenticator logs users in and resolves bearer secrets. The zero value is
// not usable: set Users and Tokens. It is safe for concurrent use once its
// fields are set.
type Authenticator struct {
	Users  convoi.UserService
	Tokens convoi.TokenService

	// Params are used to hash new passwords (DefaultParams when zero).
	Params Params
	// SessionTTL is the lifetime of a login session (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	// Now returns the current time (time.Now when nil).
	Now convoi.Clock
	// Sem, when set, bounds how many password hashes run at once (each one
	// holds Params.Memory KiB). Send to acquire, receive to release.
	Sem chan struct{}
	// Cache, when set, answers Authenticate from memory; Users and Tokens
	// must then be its wrapped services (see TokenCache).
	Cache *TokenCache

	dummyOnce sync.Once
	dummy     string // a hash to verify against for unknown users
}

func (a *Authenticator) params() Params {
	if a.Params == (Params{}) {
		return DefaultParams
	}
	return a.Params
}

func (a *Authenticator) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Authenticator) acquire(ctx context.Context) (func(), error) {
	if a.Sem == nil {
		return func() {}, nil
	}
	select {
	case a.Sem <- struct{}{}:
		return func() { <-a.Sem }, nil
	case <-ctx.Done():
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Server busy, try again.")
	}
}

// HashPassword validates and hashes a new password with the authenticator's parameters.
func (a *Authenticator) HashPassword(ctx context.Context, password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	release, err := a.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password, a.params())
}

// errLogin is the one answer to every failed login, so that a caller cannot
// tell an unknown user from a wrong password or a disabled account.
var errLogin = convoi.Errorf(convoi.EUNAUTHORIZED, "Invalid username or password.")

// Login checks a username and password and returns the user. Unknown users,
// wrong passwords and disabled users all return the same EUNAUTHORIZED error
// after the same amount of hashing work.
func (a *Authenticator) Login(ctx context.Context, username, password string) (*convoi.User, error) {
	if len(password) > MaxPasswordLen || len(username) > 64 {
		return nil, errLogin
	}
	release, err := a.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	u, err := a.Users.FindUserByUsername(ctx, username)
	if err != nil && convoi.ErrorCode(err) != convoi.ENOTFOUND {
		return nil, fmt.Errorf("find user: %w", err)
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if _, _, _, perr := parsePHC(hash); perr != nil {
		// Unknown user or unusable hash: spend the same work, then fail.
		a.dummyOnce.Do(func() { a.dummy, _ = HashPassword("convoi-dummy-password", a.params()) })
		_, _ = VerifyPassword(a.dummy, password)
		return nil, errLogin
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil || !ok || u.Disabled {
		return nil, errLogin
	}
	return u, nil
}

// IssueSession creates a session token for u and returns its secret, which is
// not stored anywhere and cannot be recovered.
func (a *Authenticator) IssueSession(ctx context.Context, u *convoi.User) (string, *convoi.Token, error) {
	ttl := a.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	exp := a.now().Add(ttl).UTC()
	return a.issue(ctx, u.ID, convoi.TokenSession, SessionPrefix, "session", &exp)
}

// IssueAPIToken creates an API token for user id, named name, expiring at
// expiresAt (never when nil), and returns its secret: shown once, then only
// its hash exists.
func (a *Authenticator) IssueAPIToken(ctx context.Context, id convoi.UserID, name string, expiresAt *time.Time) (string, *convoi.Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, convoi.Errorf(convoi.EINVALID, "Token name required (at most 100 characters).")
	}
	if expiresAt != nil && !expiresAt.After(a.now()) {
		return "", nil, convoi.Errorf(convoi.EINVALID, "Token expires_at must be in the future.")
	}
	return a.issue(ctx, id, convoi.TokenAPI, APIPrefix, name, expiresAt)
}

func (a *Authenticator) issue(ctx context.Context, id convoi.UserID, kind convoi.TokenKind, prefix, name string, exp *time.Time) (string, *convoi.Token, error) {
	secret, err := NewSecret(prefix)
	if err != nil {
		return "", nil, err
	}
	t := &convoi.Token{UserID: id, Kind: kind, Name: name, Hash: HashSecret(secret), ExpiresAt: exp}
	if err := a.Tokens.CreateToken(ctx, t); err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return secret, t, nil
}

// Authenticate resolves a bearer secret to its user and token. Unknown,
// revoked and expired tokens and disabled users are EUNAUTHORIZED.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (*convoi.User, *convoi.Token, error) {
	deny := convoi.Errorf(convoi.EUNAUTHORIZED, "Invalid or expired token.")
	if len(secret) > maxSecretLen || !(strings.HasPrefix(secret, SessionPrefix) || strings.HasPrefix(secret, APIPrefix)) {
		return nil, nil, deny
	}
	hash := HashSecret(secret)
	now := a.now()
	if a.Cache != nil {
		if t, u, ok := a.Cache.lookup(hash, now); ok {
			if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
				return nil, nil, deny
			}
			return u, t, nil // disabled users and revoked tokens are never cached
		}
	}
	var gen uint64
	if a.Cache != nil {
		gen = a.Cache.generation()
	}
	t, err := a.Tokens.FindTokenByHash(ctx, hash)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return nil, nil, deny
	} else if err != nil {
		return nil, nil, fmt.Errorf("find token: %w", err)
	}
	// The store judges expiry with its clock; check again with ours.
	if t.Revoked || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return nil, nil, deny
	}
	u, err := a.Users.FindUserByID(ctx, t.UserID)
	if convoi.ErrorCode(err) == convoi.ENOTFOUND {
		return nil, nil, deny
	} else if err != nil {
		return nil, nil, fmt.Errorf("find token user: %w", err)
	}
	if u.Disabled {
		return nil, nil, convoi.Errorf(convoi.EUNAUTHORIZED, "Account disabled.")
	}
	if a.Cache != nil {
		a.Cache.put(gen, t, u, now)
	}
	return u, t, nil
}
