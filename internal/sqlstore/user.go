package sqlstore

import (
	"context"
	"time"

	"github.com/convoi/convoi"
)

var (
	_ convoi.UserService  = (*UserService)(nil)
	_ convoi.TokenService = (*TokenService)(nil)
)

// UserService implements convoi.UserService.
type UserService struct{ db *Store }

// NewUserService returns a UserService on db.
func NewUserService(db *Store) *UserService { return &UserService{db: db} }

// FindUserByID returns the user (with its password hash), ENOTFOUND if there is none.
func (s *UserService) FindUserByID(ctx context.Context, id convoi.UserID) (*convoi.User, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findUser(ctx, tx, convoi.UserFilter{ID: &id}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "User %d not found.", id)
	})
}

// FindUserByUsername returns the user (with its password hash), ENOTFOUND if there is none.
func (s *UserService) FindUserByUsername(ctx context.Context, username string) (*convoi.User, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findUser(ctx, tx, convoi.UserFilter{Username: &username}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "User %q not found.", username)
	})
}

// FindUsers returns a page of users ordered by ID and the total number of matches.
func (s *UserService) FindUsers(ctx context.Context, f convoi.UserFilter) ([]*convoi.User, int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return findUsers(ctx, tx, f)
}

// CreateUser validates and stores u; a username in use is ECONFLICT, a
// missing officer or site EINVALID.
func (s *UserService) CreateUser(ctx context.Context, u *convoi.User) error {
	if u == nil {
		return convoi.Errorf(convoi.EINVALID, "User required.")
	}
	if err := u.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := checkUserRefs(ctx, tx, u); err != nil {
		return err
	}
	u.CreatedBy = tx.by
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO users (username, name, role, officer_id, site_id, password_hash, disabled,
		created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Username, u.Name, u.Role, nullID(u.OfficerID), nullID(u.SiteID), u.PasswordHash, u.Disabled,
		tx.by, tx.by, tx.time(u.CreatedAt), tx.time(u.UpdatedAt))
	if err != nil {
		return tx.writeErr(err, "Username "+u.Username+" already exists.")
	}
	u.ID = convoi.UserID(id)
	return tx.Commit()
}

// UpdateUser applies upd and returns the user as stored.
func (s *UserService) UpdateUser(ctx context.Context, id convoi.UserID, upd convoi.UserUpdate) (*convoi.User, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := findUser(ctx, tx, convoi.UserFilter{ID: &id}, func() error {
		return convoi.Errorf(convoi.ENOTFOUND, "User %d not found.", id)
	})
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(u); err != nil {
		return nil, err
	}
	if err := checkUserRefs(ctx, tx, u); err != nil {
		return nil, err
	}
	u.UpdatedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, role = ?, officer_id = ?, site_id = ?, password_hash = ?,
		disabled = ?, updated_by = ?, updated_at = ? WHERE id = ?`,
		u.Name, u.Role, nullID(u.OfficerID), nullID(u.SiteID), u.PasswordHash, u.Disabled,
		tx.by, tx.time(u.UpdatedAt), id); err != nil {
		return nil, tx.writeErr(err, "Username already exists.")
	}
	return u, tx.Commit()
}

func checkUserRefs(ctx context.Context, tx *Tx, u *convoi.User) error {
	if err := tx.mustExist(ctx, "officers", "Officer", int64(u.OfficerID)); err != nil {
		return err
	}
	return tx.mustExist(ctx, "sites", "Site", int64(u.SiteID))
}

func findUser(ctx context.Context, tx *Tx, f convoi.UserFilter, notFound func() error) (*convoi.User, error) {
	f.Page = convoi.Page{Limit: 1}
	a, _, err := findUsers(ctx, tx, f)
	if err != nil {
		return nil, err
	} else if len(a) == 0 {
		return nil, notFound()
	}
	return a[0], nil
}

func findUsers(ctx context.Context, tx *Tx, f convoi.UserFilter) ([]*convoi.User, int, error) {
	w := &where{}
	if f.ID != nil {
		w.add("id = ?", *f.ID)
	}
	if f.Username != nil {
		w.add("username = ?", *f.Username)
	}
	if f.Role != nil {
		w.add("role = ?", *f.Role)
	}
	n, err := tx.count(ctx, "users", w)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, username, name, role, officer_id, site_id, password_hash, disabled,
		created_by, created_at, updated_at FROM users`+w.String()+` ORDER BY id`+limitOffset(f.Page), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var a []*convoi.User
	for rows.Next() {
		var u convoi.User
		if err := rows.Scan(&u.ID, &u.Username, &u.Name, &u.Role, idCol[convoi.OfficerID]{&u.OfficerID},
			idCol[convoi.SiteID]{&u.SiteID}, &u.PasswordHash, &u.Disabled,
			&u.CreatedBy, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}); err != nil {
			return nil, 0, err
		}
		a = append(a, &u)
	}
	return orEmpty(a), n, rows.Err()
}

// TokenLastUsedResolution is how stale LastUsedAt may get: FindTokenByHash
// writes it only when it is older than this, so that authenticating a burst
// of requests does not turn every read into a durable write.
const TokenLastUsedResolution = time.Minute

// TokenService implements convoi.TokenService.
type TokenService struct{ db *Store }

// NewTokenService returns a TokenService on db.
func NewTokenService(db *Store) *TokenService { return &TokenService{db: db} }

// CreateToken stores t. Hash must be a SHA-256 (32 bytes); a hash in use is
// ECONFLICT, a missing user EINVALID. CreatedAt is set from the store's clock.
func (s *TokenService) CreateToken(ctx context.Context, t *convoi.Token) error {
	if t == nil {
		return convoi.Errorf(convoi.EINVALID, "Token required.")
	}
	if t.Kind != convoi.TokenSession && t.Kind != convoi.TokenAPI {
		return convoi.Errorf(convoi.EINVALID, "Token kind must be session or api.")
	}
	if len(t.Hash) != 32 {
		return convoi.Errorf(convoi.EINVALID, "Token hash must be a SHA-256 (32 bytes).")
	}
	if t.UserID == 0 {
		return convoi.Errorf(convoi.EINVALID, "Token user_id required.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "users", "User", int64(t.UserID)); err != nil {
		return err
	}
	t.CreatedAt = tx.now
	id, err := tx.insertContext(ctx, `INSERT INTO tokens (user_id, kind, name, hash, expires_at, last_used_at, revoked,
		created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UserID, t.Kind, t.Name, t.Hash, tx.nullTime(t.ExpiresAt), tx.nullTime(t.LastUsedAt), t.Revoked,
		tx.by, tx.time(t.CreatedAt))
	if err != nil {
		return tx.writeErr(err, "Token already exists.")
	}
	t.ID = convoi.TokenID(id)
	return tx.Commit()
}

// FindTokenByHash returns the live token with this hash and records its use
// (see TokenLastUsedResolution). An unknown, revoked or expired token is
// ENOTFOUND; expiry is judged against DB.Now. It does not check the user.
func (s *TokenService) FindTokenByHash(ctx context.Context, hash []byte) (*convoi.Token, error) {
	notFound := convoi.Errorf(convoi.ENOTFOUND, "Token not found.")
	if len(hash) == 0 {
		return nil, notFound
	}
	t, err := s.findByHash(ctx, hash)
	if err != nil {
		return nil, err
	} else if t == nil || t.Revoked || (t.ExpiresAt != nil && !s.db.now().Before(*t.ExpiresAt)) {
		return nil, notFound
	}
	if t.LastUsedAt != nil && s.db.now().Sub(*t.LastUsedAt) < TokenLastUsedResolution {
		return t, nil
	}

	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Re-check inside the write transaction: the token may have been revoked since.
	n, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ? AND revoked = false`,
		tx.time(tx.now), t.ID)
	if err != nil {
		return nil, err
	} else if n == 0 {
		return nil, notFound
	}
	now := tx.now
	t.LastUsedAt = &now
	return t, tx.Commit()
}

func (s *TokenService) findByHash(ctx context.Context, hash []byte) (*convoi.Token, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a, err := findTokens(ctx, tx, "hash = ?", hash)
	if err != nil || len(a) == 0 {
		return nil, err
	}
	return a[0], nil
}

// FindTokens returns all of a user's tokens, revoked and expired included, newest first.
func (s *TokenService) FindTokens(ctx context.Context, userID convoi.UserID) ([]*convoi.Token, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findTokens(ctx, tx, "user_id = ?", userID)
}

// RevokeToken marks the token revoked; ENOTFOUND if there is none. Revoking
// twice is not an error.
func (s *TokenService) RevokeToken(ctx context.Context, id convoi.TokenID) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	n, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked = true WHERE id = ?`, id)
	if err != nil {
		return err
	} else if n == 0 {
		return convoi.Errorf(convoi.ENOTFOUND, "Token %d not found.", id)
	}
	return tx.Commit()
}

func findTokens(ctx context.Context, tx *Tx, cond string, arg any) ([]*convoi.Token, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, user_id, kind, name, hash, expires_at, last_used_at, revoked, created_at
		FROM tokens WHERE `+cond+` ORDER BY id DESC`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.Token
	for rows.Next() {
		var t convoi.Token
		if err := rows.Scan(&t.ID, &t.UserID, &t.Kind, &t.Name, &t.Hash, nullTimeCol{&t.ExpiresAt},
			nullTimeCol{&t.LastUsedAt}, &t.Revoked, timeCol{&t.CreatedAt}); err != nil {
			return nil, err
		}
		a = append(a, &t)
	}
	return orEmpty(a), rows.Err()
}
