package auth

import (
	"context"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// Defaults of TokenCache.
const (
	// DefaultTokenCacheRefresh is how long a resolved token is answered from
	// memory before the stores are read again. It bounds how stale the
	// token's last use (sqlite.TokenLastUsedResolution, a minute) and a write
	// by another process can be; writes through this process are seen at once.
	DefaultTokenCacheRefresh = time.Minute
	// DefaultTokenCacheMax bounds the entries; a full cache is emptied.
	DefaultTokenCacheMax = 10000
)

// TokenCache keeps resolved bearer tokens and their users in memory, so that
// authenticating a request is a map lookup rather than two store reads.
//
// Revocation reaches it at once: wrap the user and token services with
// Users and Tokens and give the wrapped services to everything in the
// process that writes users or tokens (web.Server does). Revoking a token or
// updating a user (disabled, role, officer or site) empties the cache once
// the store has the write and before the call returns; a lookup that read
// the stores before that write cannot put its answer back (a generation
// counter), so no request that starts after the call returns is answered
// from what was there before. Only live tokens are kept, never a refusal.
//
// The zero value is ready to use. Safe for concurrent use.
type TokenCache struct {
	// Refresh is how long an entry is answered from memory
	// (DefaultTokenCacheRefresh when zero).
	Refresh time.Duration
	// Max bounds the entries (DefaultTokenCacheMax when zero).
	Max int

	// mu guards gen and m.
	mu  sync.RWMutex
	gen uint64
	m   map[[32]byte]tokenEntry
}

type tokenEntry struct {
	t  convoi.Token
	u  convoi.User
	at time.Time // when read from the stores
}

func (c *TokenCache) refresh() time.Duration {
	if c.Refresh <= 0 {
		return DefaultTokenCacheRefresh
	}
	return c.Refresh
}

// lookup returns copies of the cached token and user of hash if they were
// read less than Refresh before now.
func (c *TokenCache) lookup(hash []byte, now time.Time) (*convoi.Token, *convoi.User, bool) {
	if len(hash) != 32 {
		return nil, nil, false
	}
	c.mu.RLock()
	e, ok := c.m[[32]byte(hash)]
	c.mu.RUnlock()
	if !ok || now.Sub(e.at) >= c.refresh() || now.Before(e.at) {
		return nil, nil, false
	}
	return &e.t, &e.u, true
}

// generation returns the current generation, to pass to put.
func (c *TokenCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put remembers a token and its user read at time at, unless the cache was
// emptied since gen was taken (the read may predate a revocation).
func (c *TokenCache) put(gen uint64, t *convoi.Token, u *convoi.User, at time.Time) {
	if len(t.Hash) != 32 {
		return
	}
	max := c.Max
	if max <= 0 {
		max = DefaultTokenCacheMax
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= max {
		c.m = make(map[[32]byte]tokenEntry)
	}
	c.m[[32]byte(t.Hash)] = tokenEntry{t: *t, u: *u, at: at}
}

// Invalidate empties the cache. The wrapped services call it after every
// write that can end a token's validity; call it after such a write made
// around them.
func (c *TokenCache) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}

// Users returns s with UpdateUser invalidating the cache.
func (c *TokenCache) Users(s convoi.UserService) convoi.UserService { return cachedUsers{s, c} }

// Tokens returns s with RevokeToken invalidating the cache.
func (c *TokenCache) Tokens(s convoi.TokenService) convoi.TokenService { return cachedTokens{s, c} }

type cachedUsers struct {
	convoi.UserService
	c *TokenCache
}

func (s cachedUsers) UpdateUser(ctx context.Context, id convoi.UserID, upd convoi.UserUpdate) (*convoi.User, error) {
	// Empty the cache whatever the outcome: an error may come after the write.
	defer s.c.Invalidate()
	return s.UserService.UpdateUser(ctx, id, upd)
}

type cachedTokens struct {
	convoi.TokenService
	c *TokenCache
}

func (s cachedTokens) RevokeToken(ctx context.Context, id convoi.TokenID) error {
	defer s.c.Invalidate()
	return s.TokenService.RevokeToken(ctx, id)
}
