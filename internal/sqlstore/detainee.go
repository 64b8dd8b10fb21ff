package sqlstore

import (
	"context"

	"github.com/convoi/convoi"
)

var _ convoi.DetaineeService = (*DetaineeService)(nil)

// DetaineeService implements convoi.DetaineeService.
type DetaineeService struct{ db *Store }

// NewDetaineeService returns a DetaineeService on db.
func NewDetaineeService(db *Store) *DetaineeService { return &DetaineeService{db: db} }

// FindDetaineeByID returns the detainee, ENOTFOUND if there is none.
func (s *DetaineeService) FindDetaineeByID(ctx context.Context, id convoi.DetaineeID) (*convoi.Detainee, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findDetaineeByID(ctx, tx, id)
}

// FindDetainees returns a page of detainees ordered by ID and the total number of matches.
// The Name filter matches a case-insensitive substring of the name or of any alias.
func (s *DetaineeService) FindDetainees(ctx context.Context, f convoi.DetaineeFilter) ([]*convoi.Detainee, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findDetainees(ctx, tx, f)
}

// CreateDetainee validates d, checks its site exists (EINVALID otherwise) and stores it.
func (s *DetaineeService) CreateDetainee(ctx context.Context, d *convoi.Detainee) error {
	if d == nil {
		return convoi.Errorf(convoi.EINVALID, "Detainee required.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := d.Validate(); err != nil {
		return err
	}
	if err := checkDetaineeRefs(ctx, tx, d); err != nil {
		return err
	}
	aliases, risk, err := detaineeJSON(d)
	if err != nil {
		return err
	}
	d.CreatedBy, d.UpdatedBy = tx.by, tx.by
	d.CreatedAt, d.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO detainees (name, aliases, birth_date, legal_status, site_id, dps, risk,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Name, aliases, d.BirthDate, d.LegalStatus, d.SiteID, d.Risk.DPS, risk,
		d.CreatedBy, d.UpdatedBy, tx.time(d.CreatedAt), tx.time(d.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Detainee already exists.")
	}
	d.ID = convoi.DetaineeID(id)
	return tx.Commit()
}

// UpdateDetainee applies upd and returns the detainee as stored.
func (s *DetaineeService) UpdateDetainee(ctx context.Context, id convoi.DetaineeID, upd convoi.DetaineeUpdate) (*convoi.Detainee, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	d, err := findDetaineeByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(d); err != nil {
		return nil, err
	}
	if err := checkDetaineeRefs(ctx, tx, d); err != nil {
		return nil, err
	}
	aliases, risk, err := detaineeJSON(d)
	if err != nil {
		return nil, err
	}
	d.UpdatedBy, d.UpdatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE detainees SET name = ?, aliases = ?, birth_date = ?, legal_status = ?,
		site_id = ?, dps = ?, risk = ?, updated_by = ?, updated_at = ? WHERE id = ?`,
		d.Name, aliases, d.BirthDate, d.LegalStatus, d.SiteID, d.Risk.DPS, risk,
		d.UpdatedBy, tx.time(d.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Detainee already exists.")
	}
	return d, tx.Commit()
}

// checkDetaineeRefs turns missing references into clear EINVALID errors.
func checkDetaineeRefs(ctx context.Context, tx *Tx, d *convoi.Detainee) error {
	if err := tx.mustExist(ctx, "sites", "Site", int64(d.SiteID)); err != nil {
		return err
	}
	for _, o := range d.Risk.SeparateFrom {
		if o == d.ID && o != 0 {
			return convoi.Errorf(convoi.EINVALID, "A detainee cannot be separated from themself.")
		}
		if err := tx.mustExist(ctx, "detainees", "Detainee", int64(o)); err != nil {
			return err
		}
	}
	return nil
}

func detaineeJSON(d *convoi.Detainee) (aliases, risk string, err error) {
	if aliases, err = toJSON("Aliases", d.Aliases); err != nil {
		return "", "", err
	}
	risk, err = toJSON("Risk record", d.Risk)
	return aliases, risk, err
}

func findDetaineeByID(ctx context.Context, tx *Tx, id convoi.DetaineeID) (*convoi.Detainee, error) {
	a, _, err := findDetainees(ctx, tx, convoi.DetaineeFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Detainee %d not found.", id)
	}
	return a[0], nil
}

func findDetainees(ctx context.Context, tx *Tx, f convoi.DetaineeFilter) ([]*convoi.Detainee, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.SiteID != nil {
		w.add("site_id = ?", *f.SiteID)
	}
	if f.Name != nil {
		n := Fold(*f.Name)
		w.add(tx.db.sql.detaineeName, n, n)
	}
	if f.DPS != nil {
		w.add("dps = ?", *f.DPS)
	}
	n, err := tx.count(ctx, "detainees", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, name, aliases, birth_date, legal_status, site_id, risk,
		created_by, updated_by, created_at, updated_at FROM detainees`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Detainee
	for rows.Next() {
		var d convoi.Detainee
		if err := rows.Scan(&d.ID, &d.Name, jsonCol{&d.Aliases}, &d.BirthDate, &d.LegalStatus, &d.SiteID, jsonCol{&d.Risk},
			&d.CreatedBy, &d.UpdatedBy, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		if d.Aliases == nil {
			d.Aliases = []string{}
		}
		if d.Risk.SeparateFrom == nil {
			d.Risk.SeparateFrom = []convoi.DetaineeID{}
		}
		a = append(a, &d)
	}
	return orEmpty(a), n, rows.Err()
}
