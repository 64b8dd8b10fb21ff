package risk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Service assesses stored movements: it gathers the detainee, the sites, the
// intelligence and the route facts, scores them under the current policy,
// stores the assessment and moves the movement to "assessed". It also
// re-assesses upcoming movements when intelligence arrives (OnIntel).
//
// The exported fields are the configuration; set them before the first call
// and do not change them afterwards. Movements, Detainees, Intel, Sites and
// Assessments are required; the others are optional. Service keeps no
// per-call state and is safe for concurrent use if its services are.
type Service struct {
	Movements   convoi.MovementService
	Detainees   convoi.DetaineeService
	Intel       convoi.IntelService
	Sites       convoi.SiteService
	Assessments convoi.AssessmentService

	// Policies holds the administrator's policy under PolicyName; nil, or
	// no stored policy, means the embedded default.
	Policies convoi.PolicyService
	// Events receives an EventTypeAssessment event for every assessment made
	// by AssessMovement and for every re-assessment that raises a level,
	// and an EventTypeMovement event for every transition the service makes.
	Events convoi.EventService
	// Officers and Vehicles let re-assessment check a planned movement's
	// crew qualifications and vehicle class against the new level. Without
	// them those requirements count as unmet (the movement is sent back).
	Officers convoi.OfficerService
	Vehicles convoi.VehicleService
	// Routes gives the facts of the fastest route (to the map's edge when
	// the destination lies beyond it: Facts.BeyondMapM); nil, or an error
	// from it, falls back to EstimateFacts (unknown chokepoints are
	// assumed, not zero).
	Routes RouteFacter
	// Notifier is told when a re-assessment raises a movement's level, in
	// addition to the event on Events.
	Notifier Notifier
	// Now is the clock; NewService sets time.Now.
	Now convoi.Clock
}

// Notifier tells planners that new intelligence raised a movement's escort
// level. Its error is returned by OnIntel but undoes nothing.
type Notifier interface {
	NotifyLevelRaised(ctx context.Context, n Notice) error
}

// Notice is what a Notifier receives.
type Notice struct {
	Movement   *convoi.Movement   // as stored after the re-assessment
	Previous   *convoi.Assessment // nil if the movement had none
	Assessment *convoi.Assessment // the new one, in force
	Intel      *convoi.Intel      // the entry that triggered it
	SentBack   bool               // the plan no longer met the level: back to "assessed"
	Shortfalls []string           // what the plan lacks, if SentBack
}

var _ convoi.RiskService = (*Service)(nil)

// NewService returns a Service with the default clock; set the services on it.
func NewService() *Service { return &Service{Now: time.Now} }

// Policy returns the policy in force: the stored one, or the embedded
// default if none was stored.
func (s *Service) Policy(ctx context.Context) (*Policy, error) {
	doc, err := s.PolicyDoc(ctx)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(doc.Body)
	if err != nil {
		return nil, fmt.Errorf("stored risk policy %s: %w", doc.Version, err)
	}
	return p, nil
}

// PolicyDoc returns the policy document in force, for an administrator to
// read; the embedded default (with a zero CreatedAt) if none was stored.
func (s *Service) PolicyDoc(ctx context.Context) (*convoi.PolicyDoc, error) {
	if s.Policies != nil {
		doc, err := s.Policies.FindPolicy(ctx, PolicyName)
		if err == nil {
			return doc, nil
		} else if convoi.ErrorCode(err) != convoi.ENOTFOUND {
			return nil, fmt.Errorf("find risk policy: %w", err)
		}
	}
	p := DefaultPolicy()
	return &convoi.PolicyDoc{Name: PolicyName, Version: p.Version, Body: DefaultPolicyJSON()}, nil
}

// SavePolicy validates body with ParsePolicy and stores it as the new
// version in force, authored by the user in ctx. An invalid document is
// EINVALID; a version already stored is ECONFLICT (from the store).
func (s *Service) SavePolicy(ctx context.Context, body []byte) (*convoi.PolicyDoc, error) {
	if s.Policies == nil {
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Risk policy cannot be replaced: no policy store.")
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return nil, err
	}
	doc := &convoi.PolicyDoc{Name: PolicyName, Version: p.Version, Body: json.RawMessage(body),
		CreatedBy: convoi.UserIDFromContext(ctx), CreatedAt: s.Now()}
	if err := s.Policies.SavePolicy(ctx, doc); err != nil {
		return nil, fmt.Errorf("save risk policy %s: %w", p.Version, err)
	}
	return doc, nil
}

// ScoreMovement scores movement id under the policy in force, stores the
// assessment (authored by the user in ctx) and publishes it, without
// changing the movement: the caller applies the assess transition (the web
// API does, so that the transition and its idempotency record stay its
// own). A movement that can no longer be assessed (underway or later) is
// ECONFLICT and nothing is stored.
func (s *Service) ScoreMovement(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, error) {
	a, _, err := s.score(ctx, id)
	return a, err
}

// score is ScoreMovement, also returning the movement as it was read.
func (s *Service) score(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, *convoi.Movement, error) {
	m, err := s.Movements.FindMovementByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := convoi.NextState(m.State, convoi.ActionAssess); err != nil {
		return nil, nil, err
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.assess(ctx, p, m, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := s.Assessments.CreateAssessment(ctx, a); err != nil {
		return nil, nil, fmt.Errorf("store assessment of %s: %w", m.Ref, err)
	}
	s.publish(convoi.Event{Type: convoi.EventTypeAssessment, Assessment: a})
	return a, m, nil
}

// AssessMovement is ScoreMovement followed by the transition: the movement goes to
// "assessed" with the assessment's escort level and a reason citing it.
func (s *Service) AssessMovement(ctx context.Context, id convoi.MovementID) (*convoi.Assessment, error) {
	a, m, err := s.score(ctx, id)
	if err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("Risk assessment #%d: level %d (score %.2f, policy %s), %s.", a.ID, a.Level, a.Score, a.PolicyVersion, a.Recommendation)
	m2, err := s.Movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{
		Action: convoi.ActionAssess, Reason: reason, Update: &convoi.MovementUpdate{EscortLevel: &a.Level},
	})
	if err != nil {
		return a, fmt.Errorf("transition %s to assessed: %w", m.Ref, err)
	}
	s.publish(convoi.Event{Type: convoi.EventTypeMovement, Movement: m2})
	return a, nil
}

// OnIntel re-assesses every upcoming movement of the entry's detainee: not
// terminal, not merely requested (it will be assessed with this entry
// anyway), appointment after now. Each gets a new stored assessment, which
// is returned. When the level rises, an EventTypeAssessment event is
// published and the Notifier told; a planned or released movement whose
// crew or vehicles no longer meet the new, stricter requirements (a higher
// level, or an armoured van newly required) is sent back to "assessed"
// (ActionAssess with the reason). An underway movement is re-assessed and
// notified but not transitioned. The escort level of assessed, planned and
// released movements follows the new assessment.
//
// Errors for one movement do not stop the others; they are joined and
// returned with the assessments that were made.
func (s *Service) OnIntel(ctx context.Context, in *convoi.Intel) ([]*convoi.Assessment, error) {
	if in == nil || in.DetaineeID == 0 {
		return nil, convoi.Errorf(convoi.EINVALID, "Re-assessment needs an intelligence entry with a detainee.")
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	ms, err := s.upcoming(ctx, in.DetaineeID, now)
	if err != nil {
		return nil, err
	}
	var out []*convoi.Assessment
	var errs []error
	for _, m := range ms {
		a, err := s.reassess(ctx, p, m, in)
		if a != nil {
			out = append(out, a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("re-assess %s: %w", m.Ref, err))
		}
	}
	return out, errors.Join(errs...)
}

func (s *Service) reassess(ctx context.Context, p *Policy, m *convoi.Movement, in *convoi.Intel) (*convoi.Assessment, error) {
	var prev *convoi.Assessment
	olds, err := s.Assessments.FindAssessments(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("find assessments: %w", err)
	}
	prevLevel := m.EscortLevel
	if len(olds) > 0 {
		prev, prevLevel = olds[0], olds[0].Level
	}
	a, err := s.assess(ctx, p, m, in)
	if err != nil {
		return nil, err
	}
	if err := s.Assessments.CreateAssessment(ctx, a); err != nil {
		return nil, fmt.Errorf("store assessment: %w", err)
	}
	raised := a.Level > prevLevel
	// A plan is only judged against requirements that became stricter: a
	// planned movement whose crew is assigned later is not sent back by
	// every re-assessment.
	stricter := raised || (a.VehicleClass == convoi.VehicleArmouredVan && (prev == nil || prev.VehicleClass != a.VehicleClass))

	var short []string
	sentBack := false
	m2 := m
	switch m.State {
	case convoi.StatePlanned, convoi.StateReleased:
		if stricter {
			if short, err = s.Shortfalls(ctx, m, a); err != nil {
				return a, err
			}
		}
		if len(short) > 0 {
			reason := fmt.Sprintf("Re-assessed after intelligence #%d: level %d to %d (score %.2f, policy %s); the plan no longer meets it: %s.",
				in.ID, prevLevel, a.Level, a.Score, a.PolicyVersion, strings.Join(short, "; "))
			if m2, err = s.transition(ctx, m, a, reason); err != nil {
				return a, err
			}
			sentBack = true
		} else if a.Level != m.EscortLevel {
			reason := fmt.Sprintf("Re-assessed after intelligence #%d: level %d to %d (score %.2f, policy %s); the plan still meets it.",
				in.ID, prevLevel, a.Level, a.Score, a.PolicyVersion)
			if m2, err = s.Movements.UpdateMovement(ctx, m.ID, convoi.MovementUpdate{EscortLevel: &a.Level, Reason: reason}); err != nil {
				return a, fmt.Errorf("update escort level: %w", err)
			}
			s.publish(convoi.Event{Type: convoi.EventTypeMovement, Movement: m2})
		}
	case convoi.StateAssessed:
		if a.Level != m.EscortLevel {
			reason := fmt.Sprintf("Re-assessed after intelligence #%d: level %d to %d (score %.2f, policy %s).",
				in.ID, prevLevel, a.Level, a.Score, a.PolicyVersion)
			if m2, err = s.transition(ctx, m, a, reason); err != nil {
				return a, err
			}
		}
	}
	if !raised {
		return a, nil
	}
	s.publish(convoi.Event{Type: convoi.EventTypeAssessment, Assessment: a})
	if s.Notifier != nil {
		n := Notice{Movement: m2, Previous: prev, Assessment: a, Intel: in, SentBack: sentBack, Shortfalls: short}
		if err := s.Notifier.NotifyLevelRaised(ctx, n); err != nil {
			return a, fmt.Errorf("notify: %w", err)
		}
	}
	return a, nil
}

func (s *Service) transition(ctx context.Context, m *convoi.Movement, a *convoi.Assessment, reason string) (*convoi.Movement, error) {
	m2, err := s.Movements.TransitionMovement(ctx, m.ID, convoi.TransitionRequest{
		Action: convoi.ActionAssess, Reason: reason, Update: &convoi.MovementUpdate{EscortLevel: &a.Level},
	})
	if err != nil {
		return m, fmt.Errorf("transition to assessed: %w", err)
	}
	s.publish(convoi.Event{Type: convoi.EventTypeMovement, Movement: m2})
	return m2, nil
}

// Shortfalls lists what movement m's assigned crew and vehicles lack for
// assessment a; none means they meet it. It reads the officers and vehicles
// through Officers and Vehicles; without them, qualification and vehicle
// requirements count as unmet.
func (s *Service) Shortfalls(ctx context.Context, m *convoi.Movement, a *convoi.Assessment) ([]string, error) {
	var officers []*convoi.Officer
	var vehicles []*convoi.Vehicle
	if s.Officers != nil {
		for _, id := range m.Crew {
			o, err := s.Officers.FindOfficerByID(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("find officer %d: %w", id, err)
			}
			officers = append(officers, o)
		}
	}
	if s.Vehicles != nil {
		for _, id := range m.Vehicles {
			v, err := s.Vehicles.FindVehicleByID(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("find vehicle %d: %w", id, err)
			}
			vehicles = append(vehicles, v)
		}
	}
	short := Shortfalls(a, len(m.Crew), officers, vehicles)
	if s.Officers == nil && len(a.Qualifications) > 0 && len(m.Crew) > 0 {
		short = append(short, "crew qualifications cannot be checked")
	}
	if s.Vehicles == nil && a.VehicleClass == convoi.VehicleArmouredVan && len(m.Vehicles) > 0 {
		short = append(short, "vehicle classes cannot be checked")
	}
	return short, nil
}

// Shortfalls lists what a crew of crewSize officers (of whom officers are
// known) and the vehicles lack for assessment a (convoi.Requirements.Shortfalls).
func Shortfalls(a *convoi.Assessment, crewSize int, officers []*convoi.Officer, vehicles []*convoi.Vehicle) []string {
	return a.Requirements().Shortfalls(crewSize, officers, vehicles)
}

// upcoming returns the detainee's movements that re-assessment concerns.
func (s *Service) upcoming(ctx context.Context, d convoi.DetaineeID, now time.Time) ([]*convoi.Movement, error) {
	var out []*convoi.Movement
	f := convoi.MovementFilter{DetaineeID: &d, AppointmentFrom: &now, Page: convoi.Page{Limit: convoi.MaxPageLimit}}
	for {
		ms, total, err := s.Movements.FindMovements(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("find movements of detainee %d: %w", d, err)
		}
		for _, m := range ms {
			if m.AppointmentAt.After(now) && !m.State.Terminal() && m.State != convoi.StateRequested {
				out = append(out, m)
			}
		}
		f.Offset += len(ms)
		if len(ms) == 0 || f.Offset >= total {
			return out, nil
		}
	}
}

// assess gathers the input of movement m and scores it. extra is an entry
// that must be considered even if the store does not return it yet.
func (s *Service) assess(ctx context.Context, p *Policy, m *convoi.Movement, extra *convoi.Intel) (*convoi.Assessment, error) {
	now := s.Now()
	d, err := s.Detainees.FindDetaineeByID(ctx, m.DetaineeID)
	if err != nil {
		return nil, fmt.Errorf("find detainee %d: %w", m.DetaineeID, err)
	}
	from, err := s.Sites.FindSiteByID(ctx, m.FromSiteID)
	if err != nil {
		return nil, fmt.Errorf("find site %d: %w", m.FromSiteID, err)
	}
	to, err := s.Sites.FindSiteByID(ctx, m.ToSiteID)
	if err != nil {
		return nil, fmt.Errorf("find site %d: %w", m.ToSiteID, err)
	}
	intel, err := s.intel(ctx, p, d.ID, now)
	if err != nil {
		return nil, err
	}
	if extra != nil && extra.DetaineeID == d.ID && !containsIntel(intel, extra) {
		intel = append(intel, extra)
	}
	facts, err := s.facts(ctx, p, from, to)
	if err != nil {
		return nil, err
	}
	a, err := Assess(p, Input{Movement: *m, Detainee: *d, Intel: intel, From: *from, To: *to, Route: facts, Now: now})
	if err != nil {
		return nil, err
	}
	a.AssessedBy = convoi.UserIDFromContext(ctx)
	return &a, nil
}

func containsIntel(list []*convoi.Intel, e *convoi.Intel) bool {
	for _, x := range list {
		if x == e || (e.ID != 0 && x.ID == e.ID) {
			return true
		}
	}
	return false
}

func (s *Service) intel(ctx context.Context, p *Policy, d convoi.DetaineeID, now time.Time) ([]*convoi.Intel, error) {
	since := now.Add(-time.Duration(p.Intelligence.MaxAgeDays * 24 * float64(time.Hour)))
	f := convoi.IntelFilter{DetaineeID: &d, ObservedSince: &since, Page: convoi.Page{Limit: convoi.MaxPageLimit}}
	var out []*convoi.Intel
	for {
		es, total, err := s.Intel.FindIntel(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("find intelligence on detainee %d: %w", d, err)
		}
		out = append(out, es...)
		f.Offset += len(es)
		if len(es) == 0 || f.Offset >= total {
			return out, nil
		}
	}
}

// facts asks the road network, and falls back to an estimate if it cannot
// answer; only a cancelled context is an error.
func (s *Service) facts(ctx context.Context, p *Policy, from, to *convoi.Site) (Facts, error) {
	if s.Routes != nil {
		f, err := s.Routes.RouteFacts(ctx, from.Entry, to.Entry)
		if err == nil {
			return ExtendBeyondMap(p, f), nil
		}
		if ctx.Err() != nil {
			return Facts{}, ctx.Err()
		}
	}
	return EstimateFacts(p, from.Entry, to.Entry), nil
}

func (s *Service) publish(e convoi.Event) {
	if s.Events != nil {
		s.Events.PublishEvent(e)
	}
}
