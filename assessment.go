package convoi

import (
	"context"
	"encoding/json"
	"time"
)

// AssessmentID identifies a stored risk assessment.
type AssessmentID int64

// Recommendation is what an assessment advises beyond the escort itself.
type Recommendation string

const (
	RecommendEscort       Recommendation = "escort"               // move with the derived escort
	RecommendVideoHearing Recommendation = "video_hearing"        // hold the hearing by video link
	RecommendMagistrate   Recommendation = "magistrate_at_prison" // bring the magistrate to the prison
)

// QualRequirement asks for at least Count officers holding Qualification.
type QualRequirement struct {
	Qualification Qualification `json:"qualification"`
	Count         int           `json:"count"`
}

// Factor is one contribution to a risk score, with the evidence behind it.
type Factor struct {
	Code     string   `json:"code"`
	Label    string   `json:"label"`
	Weight   float64  `json:"weight"`
	Value    float64  `json:"value"`  // the factor's raw value (0-1 or a count)
	Points   float64  `json:"points"` // Weight x Value after the policy's shaping
	Evidence []string `json:"evidence"`
}

// Assessment is the risk of one movement and the escort it needs.
type Assessment struct {
	ID             AssessmentID      `json:"id"`
	MovementID     MovementID        `json:"movement_id"`
	Score          float64           `json:"score"`
	Level          EscortLevel       `json:"level"`
	LevelMeaning   string            `json:"level_meaning"`
	MinCrew        int               `json:"min_crew"`
	Qualifications []QualRequirement `json:"qualifications"`
	VehicleClass   VehicleClass      `json:"vehicle_class"`
	ArmedSupport   bool              `json:"armed_support"`
	MustNotStop    bool              `json:"must_not_stop"`
	Recommendation Recommendation    `json:"recommendation"`
	Factors        []Factor          `json:"factors"`
	IntelIDs       []IntelID         `json:"intel_ids"` // the entries considered
	PolicyVersion  string            `json:"policy_version"`
	AssessedAt     time.Time         `json:"assessed_at"`
	AssessedBy     UserID            `json:"assessed_by"`
}

// AssessmentService stores assessments. They are append-only: a re-assessment
// is a new record; the latest one is in force.
type AssessmentService interface {
	CreateAssessment(ctx context.Context, a *Assessment) error
	FindAssessments(ctx context.Context, id MovementID) ([]*Assessment, error) // newest first
}

// PolicyDoc is a versioned policy document (for example the risk policy),
// stored as JSON and interpreted by the engine that owns it.
type PolicyDoc struct {
	Name      string          `json:"name"`
	Version   string          `json:"version"`
	Body      json.RawMessage `json:"body"`
	CreatedBy UserID          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
}

// PolicyService stores policy documents; every saved version is kept.
type PolicyService interface {
	// FindPolicy returns the current version of the named policy, ENOTFOUND if none.
	FindPolicy(ctx context.Context, name string) (*PolicyDoc, error)
	// SavePolicy stores a new version; an existing (name, version) is ECONFLICT.
	SavePolicy(ctx context.Context, p *PolicyDoc) error
}

// PlanID identifies a stored plan.
type PlanID int64

// Plan is a randomized route and departure strategy for a movement, and the
// draw made from it at release. Strategy is the planner's JSON report.
type Plan struct {
	ID         PlanID          `json:"id"`
	MovementID MovementID      `json:"movement_id"`
	Strategy   json.RawMessage `json:"strategy"`
	Value      float64         `json:"value"` // guaranteed maximum hit probability
	Draw       *PlanDraw       `json:"draw,omitempty"`
	CreatedBy  UserID          `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
}

// PlanDraw is the route and departure actually chosen from a plan's strategy.
type PlanDraw struct {
	RouteIndex int       `json:"route_index"`
	Departure  time.Time `json:"departure"`
	DrawnBy    UserID    `json:"drawn_by"`
	DrawnAt    time.Time `json:"drawn_at"`
}

// PlanService stores plans.
type PlanService interface {
	CreatePlan(ctx context.Context, p *Plan) error
	FindPlans(ctx context.Context, id MovementID) ([]*Plan, error) // newest first
	// SetPlanDraw records the draw once; a second draw is ECONFLICT.
	SetPlanDraw(ctx context.Context, id PlanID, d PlanDraw) error
}

// IdempotencyRecord is the first response to a POST with an Idempotency-Key.
type IdempotencyRecord struct {
	UserID      UserID    `json:"user_id"`
	Key         string    `json:"key"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	BodyHash    []byte    `json:"-"`
	Status      int       `json:"status"`
	ContentType string    `json:"content_type"`
	Response    []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

// IdempotencyService stores first responses, keyed by (user, key).
type IdempotencyService interface {
	// FindIdempotency returns the record stored at or after since, ENOTFOUND if none.
	FindIdempotency(ctx context.Context, user UserID, key string, since time.Time) (*IdempotencyRecord, error)
	// SaveIdempotency stores (or replaces an expired) record.
	SaveIdempotency(ctx context.Context, r *IdempotencyRecord) error
}

// EscortLevel is how strong an escort a movement needs, from 1 (the
// lightest) to 4 (the strongest), as its risk assessment sets it; 0 on a
// movement means not yet assessed. It is a plain integer in JSON.
type EscortLevel int

// The escort levels a risk policy defines, lightest and strongest.
const (
	MinEscortLevel EscortLevel = 1
	MaxEscortLevel EscortLevel = 4
)

// Valid reports whether l is one of the levels 1-4.
func (l EscortLevel) Valid() bool { return l >= MinEscortLevel && l <= MaxEscortLevel }

// Validate returns an EINVALID error unless l is one of the levels 1-4.
func (l EscortLevel) Validate() error {
	if !l.Valid() {
		return Errorf(EINVALID, "Escort level must be between %d and %d (got %d).", MinEscortLevel, MaxEscortLevel, l)
	}
	return nil
}
