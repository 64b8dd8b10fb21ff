package web

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"github.com/convoi/convoi"
)

// listResponse is the body of every listing: one page and the total number
// of matches.
type listResponse[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

func list[T any](items []T, total int, p convoi.Page) *listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return &listResponse[T]{Items: items, Total: total, Offset: p.Offset, Limit: p.Limit}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// sessionResponse carries a new session secret: shown once.
type sessionResponse struct {
	Token     string       `json:"token"`
	ExpiresAt *time.Time   `json:"expires_at"`
	User      *convoi.User `json:"user"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return convoi.Errorf(convoi.EINVALID, "username and password required.")
	}
	now := s.Now()
	if wait := s.logins.check(r, req.Username, now); wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		return withStatus(http.StatusTooManyRequests, convoi.EUNAUTHORIZED, "Too many failed logins; try again in %s.", retryAfter(wait)+" s")
	}
	leave, ok := s.logins.enter(r)
	if !ok {
		w.Header().Set("Retry-After", "1")
		return withStatus(http.StatusTooManyRequests, convoi.EUNAVAILABLE, "Too many logins at once from your address; try again.")
	}
	defer leave()
	// Bound the wait for a password-hashing slot: under a flood of logins,
	// refuse quickly rather than queue for seconds.
	lctx, cancel := context.WithTimeout(r.Context(), cmp.Or(s.LoginWait, DefaultLoginWait))
	defer cancel()
	u, err := s.auth.Login(lctx, req.Username, req.Password)
	if convoi.ErrorCode(err) == convoi.EUNAVAILABLE || (err != nil && lctx.Err() != nil && r.Context().Err() == nil) {
		w.Header().Set("Retry-After", "1")
		return convoi.Errorf(convoi.EUNAVAILABLE, "Server busy; try again.")
	}
	if convoi.ErrorCode(err) == convoi.EUNAUTHORIZED {
		s.logins.failed(r, req.Username, now)
	}
	if err != nil {
		return err
	}
	s.logins.succeeded(req.Username)
	// The session token is created by the user it belongs to.
	ctx := convoi.NewContextWithUser(r.Context(), u)
	secret, tok, err := s.auth.IssueSession(ctx, u)
	if err != nil {
		return err
	}
	auditFrom(r.Context()).who(u, tok) // who logged in, with the session's token ID
	writeJSON(w, http.StatusOK, &sessionResponse{Token: secret, ExpiresAt: tok.ExpiresAt, User: u})
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if t := tokenFromContext(r.Context()); t != nil {
		if err := s.TokenService.RevokeToken(r.Context(), t.ID); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, convoi.UserFromContext(r.Context()))
	return nil
}

// tokenOwner returns whose tokens a request is about: the caller's own, or
// for an admin the user named by userID (when non-zero).
func (s *Server) tokenOwner(r *http.Request, userID convoi.UserID) (*convoi.User, error) {
	me := convoi.UserFromContext(r.Context())
	if userID == 0 || userID == me.ID {
		return me, nil
	}
	if me.Role != convoi.RoleAdmin {
		return nil, convoi.Errorf(convoi.EFORBIDDEN, "Only an admin may manage another user's tokens.")
	}
	return s.UserService.FindUserByID(r.Context(), userID)
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	uid := idParam[convoi.UserID](q, "user_id")
	if err := q.Err(); err != nil {
		return err
	}
	var id convoi.UserID
	if uid != nil {
		id = *uid
	}
	owner, err := s.tokenOwner(r, id)
	if err != nil {
		return err
	}
	ts, err := s.TokenService.FindTokens(r.Context(), owner.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(ts, len(ts), convoi.Page{Limit: len(ts)}))
	return nil
}

type tokenCreate struct {
	Name      string        `json:"name"`
	ExpiresAt *time.Time    `json:"expires_at"`
	UserID    convoi.UserID `json:"user_id"`
}

// tokenCreated carries a new API token's secret: shown once, never again.
type tokenCreated struct {
	*convoi.Token
	Secret string `json:"token"`
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	owner, err := s.tokenOwner(r, req.UserID)
	if err != nil {
		return err
	}
	if owner.Disabled {
		return convoi.Errorf(convoi.EINVALID, "User %s is disabled.", owner.Username)
	}
	secret, tok, err := s.auth.IssueAPIToken(r.Context(), owner.ID, req.Name, req.ExpiresAt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, &tokenCreated{Token: tok, Secret: secret})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	n, err := pathID(r)
	if err != nil {
		return err
	}
	id := convoi.TokenID(n)
	me := convoi.UserFromContext(r.Context())
	if me.Role != convoi.RoleAdmin {
		// Only one's own tokens exist for a non-admin.
		ts, err := s.TokenService.FindTokens(r.Context(), me.ID)
		if err != nil {
			return err
		}
		found := false
		for _, t := range ts {
			found = found || t.ID == id
		}
		if !found {
			return convoi.Errorf(convoi.ENOTFOUND, "Token not found.")
		}
	}
	if err := s.TokenService.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := convoi.UserFilter{
		Username: q.String("username"),
		Role:     enumParam(q, "role", convoi.Role.Valid, convoi.Roles),
		Page:     q.Page(),
	}
	if err := q.Err(); err != nil {
		return err
	}
	us, n, err := s.UserService.FindUsers(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(us, n, f.Page))
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	u, err := s.UserService.FindUserByID(r.Context(), convoi.UserID(id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

type userCreate struct {
	Username  string           `json:"username"`
	Name      string           `json:"name"`
	Role      convoi.Role      `json:"role"`
	OfficerID convoi.OfficerID `json:"officer_id"`
	SiteID    convoi.SiteID    `json:"site_id"`
	Password  string           `json:"password"`
	Disabled  bool             `json:"disabled"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	var req userCreate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	u := &convoi.User{Username: req.Username, Name: req.Name, Role: req.Role,
		OfficerID: req.OfficerID, SiteID: req.SiteID, Disabled: req.Disabled}
	if err := u.Validate(); err != nil {
		return err
	}
	hash, err := s.auth.HashPassword(r.Context(), req.Password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	if err := s.UserService.CreateUser(r.Context(), u); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

type userUpdate struct {
	convoi.UserUpdate
	Password *string `json:"password"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	n, err := pathID(r)
	if err != nil {
		return err
	}
	id := convoi.UserID(n)
	var req userUpdate
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	me := convoi.UserFromContext(r.Context())
	if id == me.ID && ((req.Disabled != nil && *req.Disabled) || (req.Role != nil && *req.Role != me.Role)) {
		return convoi.Errorf(convoi.EINVALID, "You cannot disable yourself or change your own role.")
	}
	upd := req.UserUpdate
	if req.Password != nil {
		hash, err := s.auth.HashPassword(r.Context(), *req.Password)
		if err != nil {
			return err
		}
		upd.PasswordHash = &hash
	}
	u, err := s.UserService.UpdateUser(r.Context(), id, upd)
	if err != nil {
		return err
	}
	if req.Password != nil { // a reset: whoever held the old password is out
		if err := s.revokeUserTokens(r.Context(), id); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}
