package sqlite

import (
	"context"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/sqlstore"
)

// The entity services are the shared SQL implementation (internal/sqlstore)
// on a SQLite DB; this package adds only how it connects, migrates, locks
// and ingests positions. See sqlstore for the contract every service keeps.
type (
	SiteService         = sqlstore.SiteService
	DetaineeService     = sqlstore.DetaineeService
	IntelService        = sqlstore.IntelService
	MovementService     = sqlstore.MovementService
	VehicleService      = sqlstore.VehicleService
	OfficerService      = sqlstore.OfficerService
	TrackerService      = sqlstore.TrackerService
	UserService         = sqlstore.UserService
	TokenService        = sqlstore.TokenService
	AssessmentService   = sqlstore.AssessmentService
	PolicyService       = sqlstore.PolicyService
	PlanService         = sqlstore.PlanService
	IdempotencyService  = sqlstore.IdempotencyService
	AlarmService        = sqlstore.AlarmService
	GrantService        = sqlstore.GrantService
	IncidentService     = sqlstore.IncidentService
	NoticeService       = sqlstore.NoticeService
	WebhookService      = sqlstore.WebhookService
	DeviceSecretService = sqlstore.DeviceSecretService
)

// Sealer encrypts schedule values before they are written (see DB.Sealer).
type Sealer = sqlstore.Sealer

// MaxIdempotencyKey bounds an idempotency key, in bytes.
const MaxIdempotencyKey = sqlstore.MaxIdempotencyKey

// TokenLastUsedResolution is how stale a token's LastUsedAt may get before
// FindTokenByHash records it again.
const TokenLastUsedResolution = sqlstore.TokenLastUsedResolution

var (
	_ convoi.SiteService         = (*SiteService)(nil)
	_ convoi.DetaineeService     = (*DetaineeService)(nil)
	_ convoi.IntelService        = (*IntelService)(nil)
	_ convoi.MovementService     = (*MovementService)(nil)
	_ convoi.VehicleService      = (*VehicleService)(nil)
	_ convoi.OfficerService      = (*OfficerService)(nil)
	_ convoi.TrackerService      = (*TrackerService)(nil)
	_ convoi.UserService         = (*UserService)(nil)
	_ convoi.TokenService        = (*TokenService)(nil)
	_ convoi.AssessmentService   = (*AssessmentService)(nil)
	_ convoi.PolicyService       = (*PolicyService)(nil)
	_ convoi.PlanService         = (*PlanService)(nil)
	_ convoi.IdempotencyService  = (*IdempotencyService)(nil)
	_ convoi.AlarmService        = (*AlarmService)(nil)
	_ convoi.GrantService        = (*GrantService)(nil)
	_ convoi.IncidentService     = (*IncidentService)(nil)
	_ convoi.NoticeService       = (*NoticeService)(nil)
	_ convoi.WebhookService      = (*WebhookService)(nil)
	_ convoi.DeviceSecretService = (*DeviceSecretService)(nil)
)

// NewSiteService returns a SiteService on db.
func NewSiteService(db *DB) *SiteService { return sqlstore.NewSiteService(db.store) }

// NewDetaineeService returns a DetaineeService on db.
func NewDetaineeService(db *DB) *DetaineeService { return sqlstore.NewDetaineeService(db.store) }

// NewIntelService returns an IntelService on db.
func NewIntelService(db *DB) *IntelService { return sqlstore.NewIntelService(db.store) }

// NewMovementService returns a MovementService on db.
func NewMovementService(db *DB) *MovementService { return sqlstore.NewMovementService(db.store) }

// NewVehicleService returns a VehicleService on db.
func NewVehicleService(db *DB) *VehicleService { return sqlstore.NewVehicleService(db.store) }

// NewOfficerService returns an OfficerService on db.
func NewOfficerService(db *DB) *OfficerService { return sqlstore.NewOfficerService(db.store) }

// NewTrackerService returns a TrackerService on db.
func NewTrackerService(db *DB) *TrackerService { return sqlstore.NewTrackerService(db.store) }

// NewUserService returns an UserService on db.
func NewUserService(db *DB) *UserService { return sqlstore.NewUserService(db.store) }

// NewTokenService returns a TokenService on db.
func NewTokenService(db *DB) *TokenService { return sqlstore.NewTokenService(db.store) }

// NewAssessmentService returns an AssessmentService on db.
func NewAssessmentService(db *DB) *AssessmentService { return sqlstore.NewAssessmentService(db.store) }

// NewPolicyService returns a PolicyService on db.
func NewPolicyService(db *DB) *PolicyService { return sqlstore.NewPolicyService(db.store) }

// NewPlanService returns a PlanService on db.
func NewPlanService(db *DB) *PlanService { return sqlstore.NewPlanService(db.store) }

// NewIdempotencyService returns an IdempotencyService on db.
func NewIdempotencyService(db *DB) *IdempotencyService {
	return sqlstore.NewIdempotencyService(db.store)
}

// NewAlarmService returns an AlarmService on db.
func NewAlarmService(db *DB) *AlarmService { return sqlstore.NewAlarmService(db.store) }

// NewGrantService returns a GrantService on db.
func NewGrantService(db *DB) *GrantService { return sqlstore.NewGrantService(db.store) }

// NewIncidentService returns an IncidentService on db.
func NewIncidentService(db *DB) *IncidentService { return sqlstore.NewIncidentService(db.store) }

// NewNoticeService returns a NoticeService on db.
func NewNoticeService(db *DB) *NoticeService { return sqlstore.NewNoticeService(db.store) }

// NewWebhookService returns a WebhookService on db.
func NewWebhookService(db *DB) *WebhookService { return sqlstore.NewWebhookService(db.store) }

// NewDeviceSecretService returns a DeviceSecretService on db.
func NewDeviceSecretService(db *DB) *DeviceSecretService {
	return sqlstore.NewDeviceSecretService(db.store)
}

// Reseal seals, with the Sealer's current key, every schedule value stored
// in clear or under an older key, in one transaction, and returns how many
// values it rewrote. Run it after adding a key to the key file (key
// rotation) or after turning sealing on; then older keys may be dropped.
func (db *DB) Reseal(ctx context.Context) (int, error) { return db.store.Reseal(ctx) }

// CheckSealKey opens the newest sealed plan strategy, so that a store
// opened with the wrong key file (or none) fails at once rather than at
// the first release or schedule read. Without sealed values it succeeds.
func (db *DB) CheckSealKey(ctx context.Context) error { return db.store.CheckSealKey(ctx) }
