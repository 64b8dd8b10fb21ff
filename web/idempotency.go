package web

import (
	"bytes"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/convoi/convoi"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotent runs a POST that carries an Idempotency-Key. Keys are per user.
// The first response (any status below 500) is stored; within
// IdempotencyWindow the same key with the same method, path and body replays
// it (with Idempotent-Replayed: true), and the same key with another request
// is a 409. Requests with one key are serialised in this process, so two
// concurrent retries do not both run. Responses that carry a bearer secret
// are never stored: their replay is a 409 that says so.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, rt Endpoint) error {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		return convoi.Errorf(convoi.EINVALID, "Idempotency-Key must be 1-%d printable ASCII characters.", maxIdempotencyKeyLen)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u := convoi.UserFromContext(ctx)
	h := sha256.New()
	h.Write([]byte(r.Method + "\x00" + r.URL.Path + "\x00"))
	h.Write(body)
	sum := h.Sum(nil)

	unlock := s.locks.lock(strconv.FormatInt(int64(u.ID), 10) + "\x00" + key)
	defer unlock()

	prev, err := s.IdempotencyService.FindIdempotency(ctx, u.ID, key, s.Now().Add(-IdempotencyWindow))
	switch code := convoi.ErrorCode(err); {
	case err == nil:
		if prev.Method != r.Method || prev.Path != r.URL.Path || !bytes.Equal(prev.BodyHash, sum) {
			return convoi.Errorf(convoi.ECONFLICT, "Idempotency-Key already used for a different request.")
		}
		if rt.secret {
			return convoi.Errorf(convoi.ECONFLICT, "This request was already processed; its secret was shown once and is not stored.")
		}
		w.Header().Set("Content-Type", prev.ContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(prev.Status)
		_, _ = w.Write(prev.Response)
		return nil
	case code != convoi.ENOTFOUND:
		return err
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	buf := &bufferWriter{header: http.Header{}}
	if err := rt.handle(buf, r); err != nil {
		s.writeError(buf, r, err)
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	if buf.status < 500 {
		resp := buf.body.Bytes()
		if rt.secret {
			resp = nil
		}
		rec := &convoi.IdempotencyRecord{
			UserID: u.ID, Key: key, Method: r.Method, Path: r.URL.Path, BodyHash: sum,
			Status: buf.status, ContentType: buf.header.Get("Content-Type"), Response: resp, CreatedAt: s.Now(),
		}
		if err := s.IdempotencyService.SaveIdempotency(ctx, rec); err != nil {
			// The request itself succeeded: answer it, but say that a retry would run again.
			s.Logger.LogAttrs(ctx, slog.LevelError, "save idempotency record",
				slog.String("route", routeLabel(r)), slog.String("error", err.Error()))
		}
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
	return nil
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bufferWriter holds a whole response so that it can be stored before it is sent.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// keyLocks serialises work per key; entries live only while held or awaited.
type keyLocks struct {
	mu sync.Mutex // guards m
	m  map[string]*keyLock
}

type keyLock struct {
	mu sync.Mutex
	n  int // holders and waiters
}

func (l *keyLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{}
		l.m[key] = k
	}
	k.n++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.n--; k.n == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}
