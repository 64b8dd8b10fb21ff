package sqlstore

import (
	"context"

	"github.com/convoi/convoi"
)

var _ convoi.NoticeService = (*NoticeService)(nil)

// NoticeService implements convoi.NoticeService.
type NoticeService struct{ db *Store }

// NewNoticeService returns a NoticeService on db.
func NewNoticeService(db *Store) *NoticeService { return &NoticeService{db: db} }

const noticeColumns = `id, movement_id, recipient, user_id, window_start, window_end, code, basis, issued_by, issued_at`

// CreateNotice stores n with the author and time of the call.
func (s *NoticeService) CreateNotice(ctx context.Context, n *convoi.Notice) error {
	if err := n.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "movements", "Movement", int64(n.MovementID)); err != nil {
		return err
	}
	if err := tx.mustExist(ctx, "users", "User", int64(n.UserID)); err != nil {
		return err
	}
	id, err := tx.insertContext(ctx, `INSERT INTO notices (movement_id, recipient, user_id, window_start, window_end, code, basis, issued_by, issued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, n.MovementID, n.Recipient, nullID(n.UserID), tx.time(n.WindowStart), tx.time(n.WindowEnd),
		n.Code, tx.time(n.Basis), tx.by, tx.time(tx.now))
	if err != nil {
		return tx.writeErr(err, "The recipient already has a notice for this movement, or the variant was given to another.")
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	n.ID, n.IssuedBy, n.IssuedAt = convoi.NoticeID(id), tx.by, tx.now
	n.WindowStart, n.WindowEnd = n.WindowStart.UTC(), n.WindowEnd.UTC()
	return nil
}

// FindNotices returns the notices matching f, oldest first.
func (s *NoticeService) FindNotices(ctx context.Context, f convoi.NoticeFilter) ([]*convoi.Notice, error) {
	var w where
	if f.MovementID != nil {
		w.add("movement_id = ?", *f.MovementID)
	}
	if f.Recipient != nil {
		w.add("recipient = ?", *f.Recipient)
	}
	if f.Code != nil {
		w.add("code = ?", *f.Code)
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+noticeColumns+` FROM notices`+w.String()+` ORDER BY id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*convoi.Notice
	for rows.Next() {
		var n convoi.Notice
		if err := rows.Scan(&n.ID, &n.MovementID, &n.Recipient, idCol[convoi.UserID]{&n.UserID}, timeCol{&n.WindowStart},
			timeCol{&n.WindowEnd}, &n.Code, timeCol{&n.Basis}, &n.IssuedBy, timeCol{&n.IssuedAt}); err != nil {
			return nil, err
		}
		out = append(out, &n)
	}
	return out, rows.Err()
}
