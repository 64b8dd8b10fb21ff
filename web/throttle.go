package web

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the login throttle.
const (
	// DefaultLoginWait bounds the wait for a password-hashing slot.
	DefaultLoginWait = 2 * time.Second
	// Failed logins allowed per account and per client address in a burst;
	// the allowance refills evenly over loginWindow.
	loginAccountBurst = 10
	loginAddressBurst = 50
	loginWindow       = 15 * time.Minute
	// loginInFlight bounds one address's logins waiting for or using a
	// password-hashing slot: a flood from one host holds at most one of
	// the two slots, the other stays for everyone else. (People behind one
	// NAT rarely log in within the same 150 ms; the one refused retries
	// after Retry-After.)
	loginInFlight = 1
	// throttleMaxKeys bounds the throttle's memory; beyond it, drained
	// entries are dropped, and new keys share one overflow bucket.
	throttleMaxKeys = 100_000
)

// throttle is a set of leaky buckets, one per key: each failure adds one,
// and the level drains at burst per window. A key whose level reached
// burst is refused until it drains below. Safe for concurrent use.
type throttle struct {
	burst  float64
	window time.Duration

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
}

type bucket struct {
	level float64
	at    time.Time
}

func newThrottle(burst int, window time.Duration) *throttle {
	return &throttle{burst: float64(burst), window: window, buckets: map[string]*bucket{}}
}

func (t *throttle) rate() float64 { return t.burst / t.window.Seconds() } // per second

// level returns b's level drained to now.
func (t *throttle) drained(b *bucket, now time.Time) float64 {
	return math.Max(0, b.level-now.Sub(b.at).Seconds()*t.rate())
}

// wait returns how long key must wait before its next attempt, 0 if none.
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		return 0
	}
	lvl := t.drained(b, now)
	if lvl < t.burst {
		return 0
	}
	return time.Duration((lvl - t.burst + 1) / t.rate() * float64(time.Second))
}

// fail records a failure of key.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		if len(t.buckets) >= throttleMaxKeys {
			for k, o := range t.buckets {
				if t.drained(o, now) == 0 {
					delete(t.buckets, k)
				}
			}
		}
		if len(t.buckets) >= throttleMaxKeys {
			key = "\x00overflow" // every new key shares it until entries drain
			if b = t.buckets[key]; b == nil {
				b = &bucket{at: now}
				t.buckets[key] = b
			}
		} else {
			b = &bucket{at: now}
			t.buckets[key] = b
		}
	}
	b.level = t.drained(b, now) + 1
	b.at = now
}

// reset forgets key (after a successful login).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.buckets, key)
	t.mu.Unlock()
}

// loginThrottle throttles failed logins per account and per client
// address, and bounds each address's logins in flight.
type loginThrottle struct {
	accounts, addresses *throttle

	mu       sync.Mutex // guards inFlight
	inFlight map[string]int
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{accounts: newThrottle(loginAccountBurst, loginWindow), addresses: newThrottle(loginAddressBurst, loginWindow),
		inFlight: map[string]int{}}
}

// enter counts a login of r's address in flight, unless it has
// loginInFlight already; the returned func ends it.
func (lt *loginThrottle) enter(r *http.Request) (func(), bool) {
	a := clientAddress(r)
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if lt.inFlight[a] >= loginInFlight {
		return nil, false
	}
	lt.inFlight[a]++
	return func() {
		lt.mu.Lock()
		if lt.inFlight[a]--; lt.inFlight[a] == 0 {
			delete(lt.inFlight, a)
		}
		lt.mu.Unlock()
	}, true
}

// clientAddress is the request's peer IP (never a forwarded-for header,
// which the client chooses).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func accountKey(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// check returns the wait before this login may be tried, 0 if it may now.
func (lt *loginThrottle) check(r *http.Request, username string, now time.Time) time.Duration {
	return max(lt.accounts.wait(accountKey(username), now), lt.addresses.wait(clientAddress(r), now))
}

func (lt *loginThrottle) failed(r *http.Request, username string, now time.Time) {
	lt.accounts.fail(accountKey(username), now)
	lt.addresses.fail(clientAddress(r), now)
}

func (lt *loginThrottle) succeeded(username string) { lt.accounts.reset(accountKey(username)) }

// retryAfter formats a wait as a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
