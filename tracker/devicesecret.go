package tracker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/convoi/convoi"
)

// DeviceSecrets finds a tracker's credential; the embedded MQTT broker
// needs it (convoi.DeviceSecretService provides it).
type DeviceSecrets interface {
	FindDeviceSecret(ctx context.Context, d convoi.DeviceID) ([]byte, error)
}

// authenticateDevice checks a device's login: username is its device ID,
// password its secret, compared by SHA-256 in constant time. An unknown
// device spends the same hashing as a known one.
func (s *Server) authenticateDevice(username string, password []byte) bool {
	if username == "" || len(username) > 64 || len(password) > 256 {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	want, err := s.DeviceSecrets.FindDeviceSecret(ctx, convoi.DeviceID(username))
	got := sha256.Sum256(password)
	if err != nil || len(want) != len(got) {
		s.logDrop("mqtt login refused", "device", username)
		return false
	}
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		s.logDrop("mqtt login refused", "device", username)
		return false
	}
	return true
}
