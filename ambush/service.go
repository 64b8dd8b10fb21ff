package ambush

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// MovementFinder is what the planner reads of movements.
type MovementFinder interface {
	FindMovementByID(ctx context.Context, id convoi.MovementID) (*convoi.Movement, error)
	FindMovements(ctx context.Context, filter convoi.MovementFilter) ([]*convoi.Movement, int, error)
}

// SiteFinder is what the planner reads of sites.
type SiteFinder interface {
	FindSiteByID(ctx context.Context, id convoi.SiteID) (*convoi.Site, error)
	FindSites(ctx context.Context, filter convoi.SiteFilter) ([]*convoi.Site, int, error)
}

// PlanStore stores plans and their draws (convoi.PlanService).
type PlanStore interface {
	CreatePlan(ctx context.Context, p *convoi.Plan) error
	FindPlans(ctx context.Context, id convoi.MovementID) ([]*convoi.Plan, error)
	SetPlanDraw(ctx context.Context, id convoi.PlanID, d convoi.PlanDraw) error
}

var _ PlanStore = convoi.PlanService(nil)

var _ convoi.PlanningService = (*Service)(nil)

// DefaultTimeLimit is NewService's TimeLimit: how long one plan's solve
// may take before the plan holds the best strategy found.
const DefaultTimeLimit = 30 * time.Second

// Bounds of the per-plan options (convoi.PlanOptions).
const (
	MaxPlanStretch = 3
	MaxPlanSlots   = 96 // a day at 15-minute spacing
)

// Service plans stored movements on a road graph and releases them. New
// sets the defaults; the exported fields are the configuration and must not
// change once the service is in use. Safe for concurrent use: every call
// has its own scratch.
type Service struct {
	Graph     *roadnet.Graph
	Movements MovementFinder
	Sites     SiteFinder
	Plans     PlanStore
	// Now is the clock (default time.Now); Rand the source of the draw
	// (default crypto/rand.Reader).
	Now  convoi.Clock
	Rand io.Reader

	Model   SiteModel
	Options Options
	// TimeLimit bounds each plan's solve on the Now clock (0: none): past
	// it the plan holds the best strategy found, Converged false, with
	// its guarantee (Value) and the certified LowerBound below it. A movement across a region
	// gets a usable plan in time; one across a city converges well before.
	TimeLimit time.Duration
	// Slots is the number of departure slots, SlotSpacing apart; the last
	// is the latest at which the fastest route arrives ArrivalMargin before
	// the appointment (the "usual hour"). Slots already past are dropped.
	Slots         int
	SlotSpacing   time.Duration
	ArrivalMargin time.Duration
	Stretch       float64
	// Window and WindowStep are the attacker's time windows (0: static game).
	Window, WindowStep time.Duration
	// Forbid maps an escort level (1-4) to the chokepoint kinds its routes
	// must avoid.
	Forbid map[convoi.EscortLevel]roadnet.Kind
}

// NewService returns a Service with the defaults: 12 slots 10 minutes
// apart, arrival 15 minutes before the appointment, stretch 1.3, 20-minute
// attacker windows every 10 minutes, level crossings forbidden from level 3,
// 30 seconds for a solve.
func NewService(g *roadnet.Graph, movements MovementFinder, sites SiteFinder, plans PlanStore) *Service {
	return &Service{
		Graph: g, Movements: movements, Sites: sites, Plans: plans,
		Now: time.Now, Rand: rand.Reader, Model: DefaultSiteModel,
		Slots: 12, SlotSpacing: 10 * time.Minute, ArrivalMargin: 15 * time.Minute, Stretch: DefaultStretch,
		Window: 20 * time.Minute, WindowStep: 10 * time.Minute, TimeLimit: DefaultTimeLimit,
		Forbid: map[convoi.EscortLevel]roadnet.Kind{3: roadnet.KindLevelCrossing, 4: roadnet.KindLevelCrossing},
	}
}

// PlanReport is what a stored convoi.Plan holds as its Strategy: the
// solver's report, the crew-facing summary of each route, and the request.
type PlanReport struct {
	*Strategy
	RouteSummaries []convoi.RouteSummary `json:"route_summaries"`
	From           convoi.SiteID         `json:"from_site_id"`
	To             convoi.SiteID         `json:"to_site_id"`
	EscortLevel    convoi.EscortLevel    `json:"escort_level"`
	Forbidden      []string              `json:"forbidden,omitempty"`
	Deadline       time.Time             `json:"deadline"`
	// Options are the planner's options for this plan, as given.
	Options *convoi.PlanOptions `json:"options,omitempty"`
}

// PlanMovement is Plan without the report, for convoi.PlanningService.
func (s *Service) PlanMovement(ctx context.Context, id convoi.MovementID, opts convoi.PlanOptions) (*convoi.Plan, error) {
	p, _, err := s.Plan(ctx, id, opts)
	return p, err
}

// ReleaseMovement is Release for convoi.PlanningService.
func (s *Service) ReleaseMovement(ctx context.Context, id convoi.MovementID) (*convoi.PlanRelease, error) {
	r, err := s.Release(ctx, id)
	if err != nil {
		return nil, err
	}
	return &convoi.PlanRelease{Plan: r.Plan, Route: r.Route}, nil
}

// withOptions returns a copy of s's configuration with o applied, or an
// EINVALID error naming the option out of bounds. Stretch is in [1,
// MaxPlanStretch], Slots in [1, MaxPlanSlots], Avoid names chokepoint kinds (added
// to every level's Forbid), DepartureFrom before DepartureTo.
func (s *Service) withOptions(o convoi.PlanOptions) (*Service, error) {
	svc := *s // configuration only: every call has its own scratch
	if o.Stretch != 0 {
		if !(o.Stretch >= 1 && o.Stretch <= MaxPlanStretch) {
			return nil, convoi.Errorf(convoi.EINVALID, "stretch must be between 1 and %d.", MaxPlanStretch)
		}
		svc.Stretch = o.Stretch
	}
	if o.Slots != 0 {
		if o.Slots < 1 || o.Slots > MaxPlanSlots {
			return nil, convoi.Errorf(convoi.EINVALID, "slots must be between 1 and %d.", MaxPlanSlots)
		}
		svc.Slots = o.Slots
	}
	if len(o.Avoid) > 0 {
		k, err := roadnet.ParseKinds(strings.Join(o.Avoid, ","))
		if err != nil {
			return nil, err
		}
		forbid := make(map[convoi.EscortLevel]roadnet.Kind, 4)
		for lvl := convoi.MinEscortLevel; lvl <= convoi.MaxEscortLevel; lvl++ {
			forbid[lvl] = s.Forbid[lvl] | k
		}
		svc.Forbid = forbid
	}
	if o.DepartureFrom != nil && o.DepartureTo != nil && !o.DepartureFrom.Before(*o.DepartureTo) {
		return nil, convoi.Errorf(convoi.EINVALID, "departure_from must be before departure_to.")
	}
	return &svc, nil
}

// Plan solves the ambush game of a stored movement under the planner's
// options (zero: the service's configuration) and stores the strategy as a
// new convoi.Plan; nothing is drawn yet. The movement must be in a state
// the plan action leaves from (ECONFLICT otherwise); an appointment that
// even the fastest route cannot meet, options out of bounds and a
// departure window that holds no on-time departure are EINVALID.
//
// The departure slots end at the latest departure at which the fastest
// route arrives ArrivalMargin before the appointment, or at DepartureTo if
// that is earlier. Without DepartureFrom they are Slots, SlotSpacing apart;
// with it, Slots spread over [DepartureFrom, end], at least a minute apart.
// Slots already past are dropped.
func (s *Service) Plan(ctx context.Context, id convoi.MovementID, opts convoi.PlanOptions) (*convoi.Plan, *PlanReport, error) {
	s, err := s.withOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Movements.FindMovementByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := convoi.NextState(m.State, convoi.ActionPlan); err != nil {
		return nil, nil, err
	}
	from, err := s.Sites.FindSiteByID(ctx, m.FromSiteID)
	if err != nil {
		return nil, nil, fmt.Errorf("origin site: %w", err)
	}
	to, err := s.Sites.FindSiteByID(ctx, m.ToSiteID)
	if err != nil {
		return nil, nil, fmt.Errorf("destination site: %w", err)
	}
	police, err := s.police(ctx)
	if err != nil {
		return nil, nil, err
	}
	avoid := s.Forbid[m.EscortLevel]
	deadline := m.AppointmentAt.Add(-s.ArrivalMargin)
	req := MapRequest{From: from.Entry, To: to.Entry, Slots: []time.Duration{0}, UsualSlot: -1,
		Stretch: s.Stretch, Avoid: avoid, Police: police}
	in, err := BuildInstance(ctx, s.Graph, req, s.Model)
	if err != nil {
		return nil, nil, err
	}
	// The schedule hangs on the fastest time: the last slot is the latest
	// departure at which the fastest route is on time.
	fast, err := fastestS(in)
	if err != nil {
		return nil, nil, err
	}
	latest := deadline.Add(-time.Duration(fast*float64(time.Second)) - time.Minute).Truncate(time.Minute)
	now := s.Now()
	if latest.Before(now) {
		return nil, nil, convoi.Errorf(convoi.EINVALID, "Too late to plan movement %s: the latest on-time departure (%s) has passed.", m.Ref, latest.Format(time.RFC3339))
	}
	end, spacing, n := latest, s.SlotSpacing, max(s.Slots, 1)
	if opts.DepartureTo != nil && opts.DepartureTo.Before(end) {
		end = *opts.DepartureTo
	}
	if end.Before(now) {
		return nil, nil, convoi.Errorf(convoi.EINVALID, "The departure window of movement %s has passed: departure_to is before now.", m.Ref)
	}
	epoch := end.Add(-time.Duration(n-1) * spacing)
	if f := opts.DepartureFrom; f != nil {
		if f.After(end) {
			return nil, nil, convoi.Errorf(convoi.EINVALID, "The departure window holds no on-time departure for movement %s: the latest is %s.", m.Ref, end.Format(time.RFC3339))
		}
		if n > 1 {
			spacing = max(time.Minute, (end.Sub(*f) / time.Duration(n-1)).Truncate(time.Minute))
		}
		epoch = end.Add(-time.Duration(n-1) * spacing)
		for epoch.Before(*f) {
			epoch = epoch.Add(spacing)
		}
	}
	for epoch.Before(now) {
		epoch = epoch.Add(spacing)
	}
	var slots []time.Duration
	for t := epoch; !t.After(end); t = t.Add(spacing) {
		slots = append(slots, t.Sub(epoch))
	}
	in.SetSchedule(epoch, slots, len(slots)-1, deadline, s.Window, s.WindowStep)
	in.Name = m.Ref
	opt := s.Options
	st, err := Solve(ctx, in, opt.WithTimeLimit(s.Now, s.TimeLimit))
	if err != nil {
		return nil, nil, err
	}

	rep := &PlanReport{Strategy: st, From: from.ID, To: to.ID, EscortLevel: m.EscortLevel, Forbidden: avoid.Names(), Deadline: deadline}
	if !reflect.ValueOf(opts).IsZero() {
		rep.Options = &opts
	}
	for _, r := range st.Routes {
		sum, err := RouteSummary(s.Graph, in, r)
		if err != nil {
			return nil, nil, err
		}
		rep.RouteSummaries = append(rep.RouteSummaries, *sum)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, nil, fmt.Errorf("encode plan: %w", err)
	}
	p := &convoi.Plan{MovementID: m.ID, Strategy: body, Value: st.Value,
		CreatedBy: convoi.UserIDFromContext(ctx), CreatedAt: s.Now()}
	if err := s.Plans.CreatePlan(ctx, p); err != nil {
		return nil, nil, err
	}
	return p, rep, nil
}

// police returns the positions of every police and gendarmerie site.
func (s *Service) police(ctx context.Context) ([]convoi.LatLon, error) {
	var out []convoi.LatLon
	for _, k := range []convoi.SiteKind{convoi.SiteKindPolice, convoi.SiteKindGendarmerie} {
		for off := 0; ; {
			sites, n, err := s.Sites.FindSites(ctx, convoi.SiteFilter{Kind: &k, Page: convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}})
			if err != nil {
				return nil, fmt.Errorf("police sites: %w", err)
			}
			for _, st := range sites {
				out = append(out, st.Location)
			}
			off += len(sites)
			if len(sites) == 0 || off >= n {
				break
			}
		}
	}
	return out, nil
}

// Released is the outcome of a release: the draw, recorded on the plan, and
// the movement update that carries it (departure and route).
type Released struct {
	PlanID    convoi.PlanID         `json:"plan_id"`
	Draw      convoi.PlanDraw       `json:"draw"`
	Departure time.Time             `json:"departure"`
	Route     *convoi.RouteSummary  `json:"route"`
	Update    convoi.MovementUpdate `json:"-"`
	Plan      *convoi.Plan          `json:"-"` // the stored plan, its Draw set
}

// Release draws the route and departure of a planned movement from its
// newest plan with s.Rand (crypto/rand), records the draw on the plan, and
// returns it with the movement update to apply with the release transition.
// A movement that cannot be released is ECONFLICT, one without a plan
// ENOTFOUND; a plan already drawn is ECONFLICT (the draw happens once).
func (s *Service) Release(ctx context.Context, id convoi.MovementID) (*Released, error) {
	m, err := s.Movements.FindMovementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := convoi.NextState(m.State, convoi.ActionRelease); err != nil {
		return nil, err
	}
	plans, err := s.Plans.FindPlans(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Movement %s has no plan.", m.Ref)
	}
	p := plans[0]
	if p.Draw != nil {
		return nil, convoi.Errorf(convoi.ECONFLICT, "The plan of movement %s was already drawn.", m.Ref)
	}
	var rep PlanReport
	if err := json.Unmarshal(p.Strategy, &rep); err != nil || rep.Strategy == nil {
		return nil, convoi.Errorf(convoi.EINTERNAL, "Stored plan %d has no readable strategy.", p.ID)
	}
	pick, err := Draw(rep.Strategy, s.Rand)
	if err != nil {
		return nil, err
	}
	if pick.Route >= len(rep.RouteSummaries) || pick.Departure.IsZero() {
		return nil, convoi.Errorf(convoi.EINTERNAL, "Stored plan %d is incomplete.", p.ID)
	}
	d := convoi.PlanDraw{RouteIndex: pick.Route, Departure: pick.Departure,
		DrawnBy: convoi.UserIDFromContext(ctx), DrawnAt: s.Now()}
	if err := s.Plans.SetPlanDraw(ctx, p.ID, d); err != nil {
		return nil, err
	}
	p.Draw = &d
	route := rep.RouteSummaries[pick.Route]
	dep := pick.Departure
	return &Released{PlanID: p.ID, Draw: d, Departure: dep, Route: &route, Plan: p,
		Update: convoi.MovementUpdate{PlannedDeparture: &dep, Route: &route}}, nil
}

// AuditDetainee measures how predictable a detainee's past movements were.
func (s *Service) AuditDetainee(ctx context.Context, id convoi.DetaineeID) (Predictability, error) {
	return s.audit(ctx, convoi.MovementFilter{DetaineeID: &id}, nil)
}

// AuditCorridor measures how predictable past movements between two sites
// were, in either direction.
func (s *Service) AuditCorridor(ctx context.Context, a, b convoi.SiteID) (Predictability, error) {
	return s.audit(ctx, convoi.MovementFilter{Site: &a}, func(m *convoi.Movement) bool {
		return (m.FromSiteID == a && m.ToSiteID == b) || (m.FromSiteID == b && m.ToSiteID == a)
	})
}

func (s *Service) audit(ctx context.Context, f convoi.MovementFilter, keep func(*convoi.Movement) bool) (Predictability, error) {
	var trips []Trip
	for off := 0; ; {
		f.Page = convoi.Page{Offset: off, Limit: convoi.MaxPageLimit}
		ms, n, err := s.Movements.FindMovements(ctx, f)
		if err != nil {
			return Predictability{}, err
		}
		for _, m := range ms {
			if m.PlannedDeparture == nil || (keep != nil && !keep(m)) {
				continue
			}
			trips = append(trips, Trip{RouteKey: RouteKey(m.Route), Departure: *m.PlannedDeparture})
		}
		off += len(ms)
		if len(ms) == 0 || off >= n {
			break
		}
	}
	return Audit(trips, 0), nil
}
