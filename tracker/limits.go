package tracker

import (
	"net"
	"sync"
	"time"
)

// DefaultMaxConnsPerAddr bounds one peer address's TCP connections. Many
// trackers may share one address behind a carrier's NAT, so it is
// generous; one attacker cannot hold more.
const DefaultMaxConnsPerAddr = 256

// fdReserve are the file descriptors kept free of tracker connections for
// the API, the database and the other listeners, so that idle tracker
// connections can never starve them.
const fdReserve = 256

// EffectiveMaxConns is the cap on concurrent Teltonika TCP connections in
// force: MaxConns, lowered to leave fdReserve descriptors (or a quarter of
// the limit, if less) below the process's open-file limit.
func (s *Server) EffectiveMaxConns() int {
	max := s.MaxConns
	if lim := OpenFileLimit(); lim > 0 {
		if capped := lim - min(fdReserve, lim/4); max > capped {
			max = capped
		}
	}
	return max
}

// addrConns counts open connections per peer address.
type addrConns struct {
	mu sync.Mutex // guards n
	n  map[string]int
}

// take counts a connection from addr, unless addr already has max.
func (a *addrConns) take(addr net.Addr, max int) (func(), bool) {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	if max > 0 && a.n[host] >= max {
		return nil, false
	}
	a.n[host]++
	return func() {
		a.mu.Lock()
		if a.n[host]--; a.n[host] <= 0 {
			delete(a.n, host)
		}
		a.mu.Unlock()
	}, true
}

// logLimit bounds how often one kind of edge event (junk datagrams,
// refused logins, connections closed by unknown peers) is logged: at most
// logBurst lines per logEvery each; the next line after a quiet spell
// says how many were suppressed.
const (
	logBurst = 5
	logEvery = time.Minute
)

type logLimiter struct {
	mu    sync.Mutex // guards kinds
	kinds map[string]*logWindow
}

type logWindow struct {
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether a line of kind may be logged at now, and how many
// were suppressed before it.
func (l *logLimiter) allow(kind string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[string]*logWindow{}
	}
	w := l.kinds[kind]
	if w == nil || now.Sub(w.start) >= logEvery || now.Before(w.start) {
		sup := 0
		if w != nil {
			sup = w.suppressed
		}
		l.kinds[kind] = &logWindow{start: now, n: 1}
		return true, sup
	}
	if w.n < logBurst {
		w.n++
		return true, 0
	}
	w.suppressed++
	return false, 0
}

// logDrop logs an edge event at WARN, rate-limited per message.
// Unauthenticated peers choose how many of these happen, so an unbounded
// log would be theirs to fill.
func (s *Server) logDrop(msg string, args ...any) {
	ok, suppressed := s.logs.allow(msg, wallClock())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.Logger.Warn(msg, args...)
}
