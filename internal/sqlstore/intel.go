package sqlstore

import (
	"context"

	"github.com/convoi/convoi"
)

var _ convoi.IntelService = (*IntelService)(nil)

// IntelService implements convoi.IntelService. Entries are append-only.
type IntelService struct{ db *Store }

// NewIntelService returns an IntelService on db.
func NewIntelService(db *Store) *IntelService { return &IntelService{db: db} }

// FindIntelByID returns the entry, ENOTFOUND if there is none.
func (s *IntelService) FindIntelByID(ctx context.Context, id convoi.IntelID) (*convoi.Intel, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a, _, err := findIntel(ctx, tx, convoi.IntelFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Intelligence entry %d not found.", id)
	}
	return a[0], nil
}

// FindIntel returns a page of entries, newest observation first, and the total number of matches.
func (s *IntelService) FindIntel(ctx context.Context, f convoi.IntelFilter) ([]*convoi.Intel, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findIntel(ctx, tx, f)
}

// CreateIntel validates in, checks its detainee exists and stores it.
// RecordedAt is set to the store's clock and CreatedBy to the caller.
func (s *IntelService) CreateIntel(ctx context.Context, in *convoi.Intel) error {
	if in == nil {
		return convoi.Errorf(convoi.EINVALID, "Intelligence entry required.")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "detainees", "Detainee", int64(in.DetaineeID)); err != nil {
		return err
	}
	in.RecordedAt, in.CreatedBy = tx.now, tx.by
	in.ObservedAt = in.ObservedAt.UTC()
	id, err := tx.insertContext(ctx, `INSERT INTO intel (detainee_id, observed_at, recorded_at, grading, kind, text, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		in.DetaineeID, tx.time(in.ObservedAt), tx.time(in.RecordedAt), in.Grading, in.Kind, in.Text, in.CreatedBy)
	if err != nil {
		return tx.writeErr(err, "Intelligence entry already exists.")
	}
	in.ID = convoi.IntelID(id)
	return tx.Commit()
}

func findIntel(ctx context.Context, tx *Tx, f convoi.IntelFilter) ([]*convoi.Intel, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.DetaineeID != nil {
		w.add("detainee_id = ?", *f.DetaineeID)
	}
	if f.ObservedSince != nil {
		w.add("observed_at >= ?", tx.time(*f.ObservedSince))
	}
	n, err := tx.count(ctx, "intel", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, detainee_id, observed_at, recorded_at, grading, kind, text, created_by
		FROM intel`+w.String()+` ORDER BY observed_at DESC, id DESC`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Intel
	for rows.Next() {
		var in convoi.Intel
		if err := rows.Scan(&in.ID, &in.DetaineeID, timeCol{&in.ObservedAt}, timeCol{&in.RecordedAt},
			&in.Grading, &in.Kind, &in.Text, &in.CreatedBy); err != nil {
			return nil, 0, err
		}
		a = append(a, &in)
	}
	return orEmpty(a), n, rows.Err()
}
