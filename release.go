package convoi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Need-to-know release of the schedule: who learns a movement's drawn
// departure and route (Movement.PlannedDeparture and Route, and a plan's
// draw), and when. It is policy as data (ReleasePolicy), per audience and
// escort level, plus explicit expiring grants for one person on one
// movement (ScheduleGrant). Everything not opened by a rule or a grant is
// closed: deny by default.

// Audience is whom a release rule is for: a role, or AudienceCrewLead.
type Audience string

// AudienceCrewLead is the crew user whose officer leads the crew (the first
// of Movement.Crew): the escort's commander, briefed before the others.
const AudienceCrewLead Audience = "crew_lead"

// ReleaseOpens is when a rule opens the schedule.
type ReleaseOpens string

const (
	OpensNever     ReleaseOpens = "never"
	OpensRelease   ReleaseOpens = "release"   // once the movement is released
	OpensBriefing  ReleaseOpens = "briefing"  // LeadMinutes before the drawn departure, once released
	OpensDeparture ReleaseOpens = "departure" // at the drawn departure, or once the escort is underway
	OpensOver      ReleaseOpens = "over"      // once the movement is over (review and audit)
)

// ReleaseRule opens the schedule to Audience, for the escort Levels listed
// (all when empty), at Opens.
type ReleaseRule struct {
	Audience    Audience      `json:"audience"`
	Levels      []EscortLevel `json:"levels,omitempty"`
	Opens       ReleaseOpens  `json:"opens"`
	LeadMinutes int           `json:"lead_minutes,omitempty"` // OpensBriefing only
}

// ReleasePolicy is the ordered list of release rules: the first rule whose
// audience and level match decides. No matching rule: never.
type ReleasePolicy struct {
	Version string        `json:"version"`
	Rules   []ReleaseRule `json:"rules"`
}

// DefaultReleasePolicy: the crew lead at the briefing (two hours before the
// departure, one hour at levels 3 and 4, where the risk calls for a later
// briefing), the crew at the departure, control and incident commanders at
// release, auditors once the movement is over; planners see the strategy
// but never the draw; administrators and liaison never.
var DefaultReleasePolicy = ReleasePolicy{Version: "2026-12-1", Rules: []ReleaseRule{
	{Audience: AudienceCrewLead, Levels: []EscortLevel{3, 4}, Opens: OpensBriefing, LeadMinutes: 60},
	{Audience: AudienceCrewLead, Opens: OpensBriefing, LeadMinutes: 120},
	{Audience: Audience(RoleCrew), Opens: OpensDeparture},
	{Audience: Audience(RoleControl), Opens: OpensRelease},
	{Audience: Audience(RoleCommander), Opens: OpensRelease},
	{Audience: Audience(RoleAuditor), Opens: OpensOver},
	{Audience: Audience(RolePlanner), Opens: OpensNever},
	{Audience: Audience(RoleAdmin), Opens: OpensNever},
	{Audience: Audience(RoleLiaison), Opens: OpensNever},
}}

// Validate checks the policy's rules.
func (p *ReleasePolicy) Validate() error {
	for i, r := range p.Rules {
		if r.Audience != AudienceCrewLead && !Role(r.Audience).Valid() {
			return Errorf(EINVALID, "Release rule %d: audience must be a role or %s.", i+1, AudienceCrewLead)
		}
		switch r.Opens {
		case OpensNever, OpensRelease, OpensDeparture, OpensOver:
			if r.LeadMinutes != 0 {
				return Errorf(EINVALID, "Release rule %d: lead_minutes goes with briefing only.", i+1)
			}
		case OpensBriefing:
			if r.LeadMinutes <= 0 || r.LeadMinutes > 24*60 {
				return Errorf(EINVALID, "Release rule %d: a briefing needs lead_minutes from 1 to 1440.", i+1)
			}
		default:
			return Errorf(EINVALID, "Release rule %d: opens must be never, release, briefing, departure or over.", i+1)
		}
		for _, l := range r.Levels {
			if !l.Valid() {
				return Errorf(EINVALID, "Release rule %d: levels are 1 to 4.", i+1)
			}
		}
	}
	return nil
}

// ScheduleAccess is whether a user may see a movement's schedule now, and
// if not, when it opens, in words.
type ScheduleAccess struct {
	Open  bool         `json:"open"`
	Opens ReleaseOpens `json:"opens"`
	// Why is the rule in words: "opens to control at release". When the
	// opening is tied to the departure its clock time is not given: it
	// would date the departure.
	Why string `json:"why"`
}

// audiences returns the audiences u belongs to for m, most specific first.
func audiences(u *User, m *Movement) []Audience {
	a := []Audience{Audience(u.Role)}
	if u.Role == RoleCrew && len(m.Crew) > 0 && u.OfficerID != 0 && m.Crew[0] == u.OfficerID {
		a = []Audience{AudienceCrewLead, Audience(u.Role)}
	}
	return a
}

// Access applies the policy to u, m and now (grants are checked apart, see
// ScheduleGrant).
func (p *ReleasePolicy) Access(u *User, m *Movement, now time.Time) ScheduleAccess {
	if u == nil || u.Disabled {
		return ScheduleAccess{Opens: OpensNever, Why: "never opens to a disabled or unknown user"}
	}
	for _, aud := range audiences(u, m) {
		for _, r := range p.Rules {
			if r.Audience != aud || (len(r.Levels) > 0 && !slices.Contains(r.Levels, m.EscortLevel)) {
				continue
			}
			return r.access(aud, m, now)
		}
	}
	return ScheduleAccess{Opens: OpensNever, Why: fmt.Sprintf("never opens to %s: no release rule names them", u.Role)}
}

// released reports whether the movement was released (and has not gone back).
func released(s MovementState) bool {
	switch s {
	case StateReleased, StateUnderway, StateIncident, StateCompleted, StateAborted:
		return true
	}
	return false
}

// audienceWords names an audience in the schedule's "why": "opens to the
// crew lead", "opens to auditors", not "opens to auditor".
var audienceWords = map[Audience]string{
	AudienceCrewLead:        "the crew lead",
	Audience(RoleCrew):      "the crew",
	Audience(RoleControl):   "the control room",
	Audience(RoleCommander): "commanders",
	Audience(RoleAuditor):   "auditors",
	Audience(RolePlanner):   "planners",
	Audience(RoleAdmin):     "administrators",
	Audience(RoleLiaison):   "court liaison",
}

func (r ReleaseRule) access(aud Audience, m *Movement, now time.Time) ScheduleAccess {
	who, ok := audienceWords[aud]
	if !ok {
		who = strings.ReplaceAll(string(aud), "_", " ")
	}
	a := ScheduleAccess{Opens: r.Opens}
	switch r.Opens {
	case OpensRelease:
		a.Open, a.Why = released(m.State), "opens to "+who+" when the movement is released"
	case OpensBriefing:
		lead := time.Duration(r.LeadMinutes) * time.Minute
		a.Why = fmt.Sprintf("opens to %s at the briefing, %s before the drawn departure, once the movement is released", who, shortDuration(lead))
		a.Open = released(m.State) && (m.State != StateReleased || m.PlannedDeparture != nil && !now.Before(m.PlannedDeparture.Add(-lead)))
	case OpensDeparture:
		a.Why = "opens to " + who + " at the drawn departure, once the movement is released"
		a.Open = released(m.State) && (m.State != StateReleased || m.PlannedDeparture != nil && !now.Before(*m.PlannedDeparture))
	case OpensOver:
		a.Open, a.Why = m.State.Terminal(), "opens to "+who+" once the movement is over"
	default:
		a.Opens, a.Why = OpensNever, "never opens to "+who
	}
	return a
}

func shortDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}

// Redacted returns a copy of m without its schedule (departure and route).
func (m *Movement) Redacted() *Movement {
	c := *m
	c.PlannedDeparture, c.Route = nil, nil
	return &c
}

// GrantID identifies a schedule grant.
type GrantID int64

// ScheduleGrant opens one movement's schedule to one user from From until
// ExpiresAt, whatever the release policy says (for example an armed-support
// unit). A planner gives and revokes it; both are in the audit log.
type ScheduleGrant struct {
	ID         GrantID    `json:"id"`
	MovementID MovementID `json:"movement_id"`
	UserID     UserID     `json:"user_id"`
	From       time.Time  `json:"from"`
	ExpiresAt  time.Time  `json:"expires_at"`
	Reason     string     `json:"reason"`
	CreatedBy  UserID     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedBy  UserID     `json:"revoked_by,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// MaxGrantDuration bounds a grant: need-to-know is for one escort.
const MaxGrantDuration = 72 * time.Hour

// Validate checks a new grant against now.
func (g *ScheduleGrant) Validate(now time.Time) error {
	if g.MovementID == 0 || g.UserID == 0 {
		return Errorf(EINVALID, "A grant needs movement_id and user_id.")
	}
	if strings.TrimSpace(g.Reason) == "" {
		return Errorf(EINVALID, "A grant needs a reason.")
	}
	if len(g.Reason) > 500 {
		return Errorf(EINVALID, "A grant's reason is at most 500 characters.")
	}
	if g.From.IsZero() {
		g.From = now
	}
	if g.ExpiresAt.IsZero() || !g.ExpiresAt.After(now) || !g.ExpiresAt.After(g.From) {
		return Errorf(EINVALID, "A grant's expires_at must be in the future and after from.")
	}
	if g.ExpiresAt.Sub(g.From) > MaxGrantDuration {
		return Errorf(EINVALID, "A grant lasts at most %s.", MaxGrantDuration)
	}
	return nil
}

// Active reports whether the grant opens the schedule at now.
func (g *ScheduleGrant) Active(now time.Time) bool {
	return g.RevokedAt == nil && !now.Before(g.From) && now.Before(g.ExpiresAt)
}

// GrantFilter selects grants.
type GrantFilter struct {
	MovementID *MovementID
	UserID     *UserID
	ActiveAt   *time.Time // only grants active then
}

// GrantService stores schedule grants. Revoking keeps the grant, with who
// revoked it and when.
type GrantService interface {
	CreateGrant(ctx context.Context, g *ScheduleGrant) error
	FindGrants(ctx context.Context, f GrantFilter) ([]*ScheduleGrant, error)
	// RevokeGrant revokes grant id of movement mv; ENOTFOUND if it is not
	// that movement's, ECONFLICT if already revoked.
	RevokeGrant(ctx context.Context, mv MovementID, id GrantID) (*ScheduleGrant, error)
}
