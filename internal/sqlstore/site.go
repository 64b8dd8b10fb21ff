package sqlstore

import (
	"context"

	"github.com/convoi/convoi"
)

var _ convoi.SiteService = (*SiteService)(nil)

// SiteService implements convoi.SiteService.
type SiteService struct{ db *Store }

// NewSiteService returns a SiteService on db.
func NewSiteService(db *Store) *SiteService { return &SiteService{db: db} }

// FindSiteByID returns the site, ENOTFOUND if there is none.
func (s *SiteService) FindSiteByID(ctx context.Context, id convoi.SiteID) (*convoi.Site, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findSiteByID(ctx, tx, id)
}

// FindSites returns a page of sites ordered by ID and the total number of matches.
func (s *SiteService) FindSites(ctx context.Context, f convoi.SiteFilter) ([]*convoi.Site, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findSites(ctx, tx, f)
}

// CreateSite validates s, stores it and sets its ID, author and times.
func (s *SiteService) CreateSite(ctx context.Context, site *convoi.Site) error {
	if site == nil {
		return convoi.Errorf(convoi.EINVALID, "Site required.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createSite(ctx, tx, site); err != nil {
		return err
	}
	return tx.Commit()
}

// UpdateSite applies upd and returns the site as stored.
func (s *SiteService) UpdateSite(ctx context.Context, id convoi.SiteID, upd convoi.SiteUpdate) (*convoi.Site, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	site, err := findSiteByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(site); err != nil {
		return nil, err
	}
	site.UpdatedBy, site.UpdatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE sites SET kind = ?, name = ?, lat = ?, lon = ?, entry_lat = ?, entry_lon = ?,
		address = ?, updated_by = ?, updated_at = ? WHERE id = ?`,
		site.Kind, site.Name, site.Location.Lat, site.Location.Lon, site.Entry.Lat, site.Entry.Lon,
		site.Address, site.UpdatedBy, tx.time(site.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Site already exists.")
	}
	return site, tx.Commit()
}

func createSite(ctx context.Context, tx *Tx, s *convoi.Site) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.CreatedBy, s.UpdatedBy = tx.by, tx.by
	s.CreatedAt, s.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO sites (kind, name, lat, lon, entry_lat, entry_lon, address,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Kind, s.Name, s.Location.Lat, s.Location.Lon, s.Entry.Lat, s.Entry.Lon, s.Address,
		s.CreatedBy, s.UpdatedBy, tx.time(s.CreatedAt), tx.time(s.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Site already exists.")
	}
	s.ID = convoi.SiteID(id)
	return nil
}

func findSiteByID(ctx context.Context, tx *Tx, id convoi.SiteID) (*convoi.Site, error) {
	a, _, err := findSites(ctx, tx, convoi.SiteFilter{ID: &id, Page: convoi.Page{Limit: 1}})
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Site %d not found.", id)
	}
	return a[0], nil
}

func findSites(ctx context.Context, tx *Tx, f convoi.SiteFilter) ([]*convoi.Site, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.Kind != nil {
		w.add("kind = ?", *f.Kind)
	}
	if f.Name != nil {
		w.add(tx.db.sql.siteName, Fold(*f.Name))
	}
	n, err := tx.count(ctx, "sites", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, name, lat, lon, entry_lat, entry_lon, address,
		created_by, updated_by, created_at, updated_at FROM sites`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.Site
	for rows.Next() {
		var s convoi.Site
		if err := rows.Scan(&s.ID, &s.Kind, &s.Name, &s.Location.Lat, &s.Location.Lon, &s.Entry.Lat, &s.Entry.Lon,
			&s.Address, &s.CreatedBy, &s.UpdatedBy, timeCol{&s.CreatedAt}, timeCol{&s.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		a = append(a, &s)
	}
	return orEmpty(a), n, rows.Err()
}
