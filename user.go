package convoi

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Role is what a user does. Each API endpoint declares the roles it admits;
// everything else is denied.
type Role string

const (
	RoleAdmin     Role = "admin"     // manages users, devices and policy
	RolePlanner   Role = "planner"   // escort planners: movements, assessments, plans
	RoleControl   Role = "control"   // control-room operators: live tracking, alarms
	RoleCommander Role = "commander" // incident commanders: response, interception
	RoleAuditor   Role = "auditor"   // security auditors: read-only, audit log
	RoleCrew      Role = "crew"      // escort officers: only their assigned movements
	RoleLiaison   Role = "liaison"   // court or hospital staff: own site, never route or departure
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RolePlanner, RoleControl, RoleCommander, RoleAuditor, RoleCrew, RoleLiaison}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return validEnum(r, Roles) }

// User is a person or machine that may call the API. A crew user is linked to
// an Officer; a liaison user to the Site they work at.
type User struct {
	ID           UserID    `json:"id"`
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	OfficerID    OfficerID `json:"officer_id,omitempty"`
	SiteID       SiteID    `json:"site_id,omitempty"`
	PasswordHash string    `json:"-"` // PHC-formatted argon2id; never serialised
	Disabled     bool      `json:"disabled"`
	CreatedBy    UserID    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

var usernamePattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

// Validate checks the fields a caller sets.
func (u *User) Validate() error {
	if err := validateTexts(textField{"User name", u.Name, MaxNameLen}); err != nil {
		return err
	}
	if !usernamePattern.MatchString(u.Username) {
		return Errorf(EINVALID, "Username must be 2-32 lower-case letters, digits or ._- and start with a letter.")
	}
	if !u.Role.Valid() {
		return Errorf(EINVALID, "Role must be one of %s.", joinEnum(Roles))
	}
	if u.Role == RoleCrew && u.OfficerID == 0 {
		return Errorf(EINVALID, "A crew user must be linked to an officer (officer_id).")
	}
	if u.Role == RoleLiaison && u.SiteID == 0 {
		return Errorf(EINVALID, "A liaison user must be linked to a site (site_id).")
	}
	if strings.TrimSpace(u.Name) == "" {
		u.Name = u.Username
	}
	return nil
}

// HasRole reports whether the user is enabled and holds one of roles.
func (u *User) HasRole(roles ...Role) bool {
	return u != nil && !u.Disabled && validEnum(u.Role, roles)
}

// UserFilter selects users.
type UserFilter struct {
	ID       *UserID
	Username *string
	Role     *Role
	Page
}

// UserUpdate holds the fields to change.
type UserUpdate struct {
	Name         *string    `json:"name"`
	Role         *Role      `json:"role"`
	OfficerID    *OfficerID `json:"officer_id"`
	SiteID       *SiteID    `json:"site_id"`
	Disabled     *bool      `json:"disabled"`
	PasswordHash *string    `json:"-"`
}

// Apply copies the set fields of upd onto u and validates the result.
func (upd UserUpdate) Apply(u *User) error {
	setIf(&u.Name, upd.Name)
	setIf(&u.Role, upd.Role)
	setIf(&u.OfficerID, upd.OfficerID)
	setIf(&u.SiteID, upd.SiteID)
	setIf(&u.Disabled, upd.Disabled)
	setIf(&u.PasswordHash, upd.PasswordHash)
	return u.Validate()
}

// UserService stores users. Usernames are unique (ECONFLICT).
type UserService interface {
	FindUserByID(ctx context.Context, id UserID) (*User, error)
	FindUserByUsername(ctx context.Context, username string) (*User, error)
	FindUsers(ctx context.Context, filter UserFilter) ([]*User, int, error)
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, id UserID, upd UserUpdate) (*User, error)
}

// TokenKind distinguishes short-lived login sessions from API tokens for machines.
type TokenKind string

const (
	TokenSession TokenKind = "session"
	TokenAPI     TokenKind = "api"
)

// Token is a bearer credential. Only a hash of the secret is stored; the
// secret is shown once, when the token is created.
type Token struct {
	ID         TokenID    `json:"id"`
	UserID     UserID     `json:"user_id"`
	Kind       TokenKind  `json:"kind"`
	Name       string     `json:"name"`
	Hash       []byte     `json:"-"` // SHA-256 of the secret
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Revoked    bool       `json:"revoked"`
	CreatedAt  time.Time  `json:"created_at"`
}

// TokenService stores tokens. FindTokenByHash returns ENOTFOUND for an
// unknown, revoked or expired token (expiry judged against the store's clock).
type TokenService interface {
	CreateToken(ctx context.Context, t *Token) error
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	FindTokens(ctx context.Context, userID UserID) ([]*Token, error)
	RevokeToken(ctx context.Context, id TokenID) error
}

// CanSeeMovement is the per-object read rule for movements: crew see only the
// movements they are assigned to, liaison only those to or from their site;
// the other roles that may list movements see all of them.
func (u *User) CanSeeMovement(m *Movement) bool {
	switch {
	case u == nil || u.Disabled:
		return false
	case u.Role == RoleCrew:
		return m.HasCrewMember(u.OfficerID)
	case u.Role == RoleLiaison:
		return m.Touches(u.SiteID)
	default:
		return u.HasRole(RoleAdmin, RolePlanner, RoleControl, RoleCommander, RoleAuditor)
	}
}

// ScopeMovements narrows a listing filter to what u may see (see CanSeeMovement).
// It returns false when u may see no movement at all.
func (u *User) ScopeMovements(f *MovementFilter) bool {
	switch {
	case u == nil || u.Disabled:
		return false
	case u.Role == RoleCrew:
		id := u.OfficerID
		f.CrewMember = &id
	case u.Role == RoleLiaison:
		id := u.SiteID
		f.Site = &id
	}
	return u.CanSeeAnyMovement()
}

// CanSeeAnyMovement reports whether u's role may read movements at all.
func (u *User) CanSeeAnyMovement() bool {
	return u.HasRole(RoleAdmin, RolePlanner, RoleControl, RoleCommander, RoleAuditor, RoleCrew, RoleLiaison)
}

// SeesSchedule reports whether u may see schedule details (departure time,
// route, crew, vehicles). Liaison never does: they only need to know when the
// detainee is due.
func (u *User) SeesSchedule() bool { return u != nil && !u.Disabled && u.Role != RoleLiaison }

// LiaisonStatus is what liaison users learn of a movement's progress.
type LiaisonStatus string

const (
	LiaisonScheduled LiaisonStatus = "scheduled" // the detainee is due at the appointment
	LiaisonArrived   LiaisonStatus = "arrived"   // handed over (the movement completed)
	LiaisonCancelled LiaisonStatus = "cancelled" // will not come (cancelled or aborted)
)

// LiaisonMovement is a movement as court or hospital staff see it: who is
// due, where and when, and, when it happens, that the detainee arrived or
// will not come. Nothing in it changes while the escort prepares, leaves or
// is on the road (no state, version, author or time of the last change), so
// neither the resource nor the event stream tells a liaison user, in real
// time or afterwards, when an escort left.
type LiaisonMovement struct {
	ID            MovementID    `json:"id"`
	Ref           string        `json:"ref"`
	DetaineeID    DetaineeID    `json:"detainee_id"`
	FromSiteID    SiteID        `json:"from_site_id"`
	ToSiteID      SiteID        `json:"to_site_id"`
	Purpose       Purpose       `json:"purpose"`
	AppointmentAt time.Time     `json:"appointment_at"`
	Requester     string        `json:"requester"`
	Status        LiaisonStatus `json:"status"`
	CancelReason  CancelReason  `json:"cancel_reason,omitempty"` // when cancelled before it set off
	ArrivedAt     *time.Time    `json:"arrived_at,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
}

// ForLiaison returns the liaison view of m.
func (m *Movement) ForLiaison() *LiaisonMovement {
	l := &LiaisonMovement{ID: m.ID, Ref: m.Ref, DetaineeID: m.DetaineeID, FromSiteID: m.FromSiteID, ToSiteID: m.ToSiteID,
		Purpose: m.Purpose, AppointmentAt: m.AppointmentAt, Requester: m.Requester, Status: LiaisonScheduled, CreatedAt: m.CreatedAt}
	switch m.State {
	case StateCompleted:
		t := m.UpdatedAt // a completed movement never changes again
		l.Status, l.ArrivedAt = LiaisonArrived, &t
	case StateCancelled:
		l.Status, l.CancelReason = LiaisonCancelled, m.CancelReason
	case StateAborted:
		l.Status = LiaisonCancelled
	}
	return l
}

// View returns the movement as u may see it: the liaison view
// (ForLiaison) for users who may not see schedules, m itself otherwise.
// The caller has checked CanSeeMovement.
func (m *Movement) View(u *User) any {
	if u.SeesSchedule() {
		return m
	}
	return m.ForLiaison()
}
