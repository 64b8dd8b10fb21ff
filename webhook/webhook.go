// Package webhook delivers convoi's movement, incident and alarm events to
// outside systems as Standard Webhooks (https://www.standardwebhooks.com):
// each POST carries webhook-id, webhook-timestamp and webhook-signature
// ("v1," + base64 HMAC-SHA256 of "id.timestamp.body" under the
// subscription's secret), and is retried with exponential backoff from the
// persistent outbox of a convoi.WebhookService until the endpoint answers
// 2xx or the attempts run out. Because the outbox is filled inside the
// store's own transactions and a delivery is only marked done after a 2xx,
// nothing is lost across a restart; a receiver may see a message twice and
// deduplicates it by webhook-id (Verifier does, and refuses replays of old
// timestamps).
//
// It imports convoi and the standard library only; it never logs.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/convoi/convoi"
)

// SecretPrefix starts every signing secret, as the specification suggests.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: "whsec_" and 32 random bytes in
// standard base64.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey decodes a "whsec_" secret into its HMAC key.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("webhook secret malformed")
	}
	return key, nil
}

// Sign returns the webhook-signature header value of a message.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, ts.Unix(), body)), nil
}

func mac(key []byte, msgID string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Headers names the three headers of a Standard Webhooks request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// Verifier checks incoming deliveries on the receiving side: the signature,
// the timestamp within Tolerance, and that the message id was not seen
// before (replay protection; ids are remembered for twice the tolerance,
// after which the timestamp check alone refuses them). Safe for concurrent
// use.
type Verifier struct {
	Secret    string
	Tolerance time.Duration // DefaultTolerance when zero
	Now       convoi.Clock  // time.Now when nil

	mu   sync.Mutex
	seen map[string]time.Time // message id -> when seen
}

// Verify returns nil when h and body are a fresh, authentic delivery; a
// delivery it accepted once is refused as a replay afterwards.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("webhook: missing %s, %s or %s", HeaderID, HeaderTimestamp, HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tol || d < -tol {
		return fmt.Errorf("webhook: timestamp outside tolerance")
	}
	key, err := secretKey(v.Secret)
	if err != nil {
		return err
	}
	want := mac(key, id, ts, body)
	ok := false
	for _, s := range strings.Fields(sigs) {
		ver, sig, found := strings.Cut(s, ",")
		if !found || ver != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("webhook: no valid signature")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	for k, at := range v.seen {
		if now.Sub(at) > 2*tol {
			delete(v.seen, k)
		}
	}
	if _, dup := v.seen[id]; dup {
		return fmt.Errorf("webhook: message %s replayed", id)
	}
	v.seen[id] = now
	return nil
}
