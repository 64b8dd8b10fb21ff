package auth

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	tok := func(secret string) *convoi.Token {
		return &convoi.Token{ID: 1, UserID: 2, Hash: HashSecret(secret)}
	}
	u := &convoi.User{ID: 2, Role: convoi.RoleControl}
	c := &TokenCache{Max: 2}

	a := tok("cvs_a")
	c.put(c.generation(), a, u, now)
	if got, gu, ok := c.lookup(a.Hash, now.Add(time.Second)); !ok || got.ID != 1 || gu.Role != convoi.RoleControl {
		t.Fatalf("lookup after put: %v %v %v", got, gu, ok)
	}
	// The copy handed out is the caller's: changing it changes no cached entry.
	got, _, _ := c.lookup(a.Hash, now)
	got.Revoked = true
	if again, _, _ := c.lookup(a.Hash, now); again.Revoked {
		t.Fatal("a caller's change reached the cache")
	}
	if _, _, ok := c.lookup(a.Hash, now.Add(DefaultTokenCacheRefresh)); ok {
		t.Fatal("entry answered after Refresh")
	}
	if _, _, ok := c.lookup(a.Hash, now.Add(-time.Second)); ok {
		t.Fatal("entry answered before it was read (clock set back)")
	}

	// A read that started before an invalidation cannot put its answer back.
	gen := c.generation()
	c.Invalidate()
	c.put(gen, a, u, now)
	if _, _, ok := c.lookup(a.Hash, now); ok {
		t.Fatal("a read older than the invalidation was cached")
	}

	// Max bounds the entries: a full cache starts over.
	for _, s := range []string{"cvs_b", "cvs_c", "cvs_d"} {
		c.put(c.generation(), tok(s), u, now)
	}
	n := len(c.m)
	if n > 2 {
		t.Fatalf("%d entries, Max 2", n)
	}
	if _, _, ok := c.lookup(tok("cvs_d").Hash, now); !ok {
		t.Fatal("the newest entry is missing")
	}
}
