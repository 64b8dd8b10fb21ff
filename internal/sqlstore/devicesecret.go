package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/convoi/convoi"
)

var _ convoi.DeviceSecretService = (*DeviceSecretService)(nil)

// DeviceSecretService implements convoi.DeviceSecretService.
type DeviceSecretService struct{ db *Store }

// NewDeviceSecretService returns a DeviceSecretService on db.
func NewDeviceSecretService(db *Store) *DeviceSecretService { return &DeviceSecretService{db: db} }

func (s *DeviceSecretService) SetDeviceSecret(ctx context.Context, id convoi.TrackerID, hash []byte) error {
	if len(hash) != 32 {
		return convoi.Errorf(convoi.EINVALID, "Device secret hash must be 32 bytes.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if ok, err := tx.exists(ctx, "trackers", int64(id)); err != nil {
		return err
	} else if !ok {
		return convoi.Errorf(convoi.ENOTFOUND, "Tracker not found.")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_secrets (tracker_id, hash, created_by, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tracker_id) DO UPDATE SET hash = excluded.hash, created_by = excluded.created_by, created_at = excluded.created_at`,
		id, hash, tx.by, tx.time(tx.now)); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *DeviceSecretService) FindDeviceSecret(ctx context.Context, d convoi.DeviceID) ([]byte, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var hash []byte
	err = tx.QueryRowContext(ctx, `SELECT s.hash FROM device_secrets s JOIN trackers t ON t.id = s.tracker_id
		WHERE t.device_id = ? AND t.disabled = false`, string(d)).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "No credentials for device.")
	}
	return hash, err
}
