package sqlstore

import (
	"context"
	"strings"

	"github.com/convoi/convoi"
)

var _ convoi.GrantService = (*GrantService)(nil)

// GrantService implements convoi.GrantService.
type GrantService struct{ db *Store }

// NewGrantService returns a GrantService on db.
func NewGrantService(db *Store) *GrantService { return &GrantService{db: db} }

// CreateGrant validates g against the store's clock and stores it with the
// author from the context. A missing movement or user is EINVALID.
func (s *GrantService) CreateGrant(ctx context.Context, g *convoi.ScheduleGrant) error {
	if g == nil {
		return convoi.Errorf(convoi.EINVALID, "Grant required.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	g.Reason = strings.TrimSpace(g.Reason)
	if err := g.Validate(tx.now); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "movements", "Movement", int64(g.MovementID)); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "users", "User", int64(g.UserID)); err != nil {
		return err
	}
	g.From, g.ExpiresAt = g.From.UTC(), g.ExpiresAt.UTC()
	g.CreatedBy, g.CreatedAt, g.RevokedBy, g.RevokedAt = tx.by, tx.now, 0, nil
	id, err := tx.insertContext(ctx, `INSERT INTO schedule_grants (movement_id, user_id, valid_from, expires_at, reason, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, g.MovementID, g.UserID, tx.time(g.From), tx.time(g.ExpiresAt), g.Reason, g.CreatedBy, tx.time(g.CreatedAt))
	if err != nil {
		return tx.writeErr(err, "Grant already exists.")
	}
	g.ID = convoi.GrantID(id)
	return tx.Commit()
}

// FindGrants returns the grants that match f, oldest first.
func (s *GrantService) FindGrants(ctx context.Context, f convoi.GrantFilter) ([]*convoi.ScheduleGrant, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findGrants(ctx, tx, f, 0)
}

func findGrants(ctx context.Context, tx *Tx, f convoi.GrantFilter, id convoi.GrantID) ([]*convoi.ScheduleGrant, error) {
	var w where
	if id != 0 {
		w.add("id = ?", id)
	}
	if f.MovementID != nil {
		w.add("movement_id = ?", *f.MovementID)
	}
	if f.UserID != nil {
		w.add("user_id = ?", *f.UserID)
	}
	if f.ActiveAt != nil {
		at := tx.time(*f.ActiveAt)
		w.add("revoked_at IS NULL AND valid_from <= ? AND expires_at > ?", at, at)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, movement_id, user_id, valid_from, expires_at, reason, created_by, created_at,
		revoked_by, revoked_at FROM schedule_grants`+w.String()+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.ScheduleGrant
	for rows.Next() {
		var g convoi.ScheduleGrant
		if err := rows.Scan(&g.ID, &g.MovementID, &g.UserID, timeCol{&g.From}, timeCol{&g.ExpiresAt}, &g.Reason, &g.CreatedBy,
			timeCol{&g.CreatedAt}, &g.RevokedBy, nullTimeCol{&g.RevokedAt}); err != nil {
			return nil, err
		}
		a = append(a, &g)
	}
	return orEmpty(a), rows.Err()
}

// RevokeGrant records who revoked grant id of movement mv, and when.
func (s *GrantService) RevokeGrant(ctx context.Context, mv convoi.MovementID, id convoi.GrantID) (*convoi.ScheduleGrant, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	gs, err := findGrants(ctx, tx, convoi.GrantFilter{MovementID: &mv}, id)
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Grant %d of movement %d not found.", id, mv)
	}
	g := gs[0]
	if g.RevokedAt != nil {
		return nil, convoi.Errorf(convoi.ECONFLICT, "Grant %d was already revoked.", id)
	}
	now := tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE schedule_grants SET revoked_by = ?, revoked_at = ? WHERE id = ?`, tx.by, tx.time(now), id); err != nil {
		return nil, err
	}
	g.RevokedBy, g.RevokedAt = tx.by, &now
	return g, tx.Commit()
}
