package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/convoi/convoi"
)

// deviceSecretCreated carries a tracker's new MQTT credentials: the secret
// is shown once, never again (only its SHA-256 is stored).
type deviceSecretCreated struct {
	TrackerID convoi.TrackerID `json:"tracker_id"`
	Username  convoi.DeviceID  `json:"username"`
	Password  string           `json:"password"`
}

// handleSetDeviceSecret issues a tracker's MQTT credentials, replacing any
// earlier ones (which stop working at once).
func (s *Server) handleSetDeviceSecret(w http.ResponseWriter, r *http.Request) error {
	if s.DeviceSecretService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Device credentials are not available on this server.")
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	t, err := s.TrackerService.FindTrackerByID(r.Context(), convoi.TrackerID(id))
	if err != nil {
		return err
	}
	if t.Protocol != convoi.ProtocolMQTT {
		return convoi.Errorf(convoi.EINVALID, "Only MQTT trackers log in with a secret; this one speaks %s.", t.Protocol)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	secret := "cvd_" + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	if err := s.DeviceSecretService.SetDeviceSecret(r.Context(), t.ID, h[:]); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, &deviceSecretCreated{TrackerID: t.ID, Username: t.DeviceID, Password: secret})
	return nil
}
