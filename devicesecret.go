package convoi

import "context"

// DeviceSecretService stores the credentials trackers log in with (the
// embedded MQTT broker's username is the device ID, the password its
// secret). Only the SHA-256 of a secret is stored: secrets are random, 256
// bits, shown once when set.
type DeviceSecretService interface {
	// SetDeviceSecret replaces tracker id's secret hash.
	SetDeviceSecret(ctx context.Context, id TrackerID, hash []byte) error
	// FindDeviceSecret returns the secret hash of the enabled tracker with
	// device ID d; ENOTFOUND when there is none (unknown, disabled, or no
	// secret set).
	FindDeviceSecret(ctx context.Context, d DeviceID) ([]byte, error)
}
