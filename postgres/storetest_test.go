package postgres_test

import (
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
	"github.com/convoi/convoi/storetest"
)

// TestStore runs the conformance suite on a fresh schema per test.
func TestStore(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(tb testing.TB, now convoi.Clock) storetest.Store {
		return NewStore(MustOpenDB(tb, now))
	})
}

// NewStore bundles the services of db.
func NewStore(db *postgres.DB) storetest.Store {
	return storetest.Store{
		Sites:       postgres.NewSiteService(db),
		Detainees:   postgres.NewDetaineeService(db),
		Intel:       postgres.NewIntelService(db),
		Movements:   postgres.NewMovementService(db),
		Vehicles:    postgres.NewVehicleService(db),
		Officers:    postgres.NewOfficerService(db),
		Trackers:    postgres.NewTrackerService(db),
		Users:       postgres.NewUserService(db),
		Tokens:      postgres.NewTokenService(db),
		Positions:   postgres.NewPositionService(db),
		Assessments: postgres.NewAssessmentService(db),
		Policies:    postgres.NewPolicyService(db),
		Plans:       postgres.NewPlanService(db),
		Idempotency: postgres.NewIdempotencyService(db),
		Alarms:      postgres.NewAlarmService(db),
		Incidents:   postgres.NewIncidentService(db),
		Webhooks:    postgres.NewWebhookService(db),
		Notices:     postgres.NewNoticeService(db),
		Secrets:     postgres.NewDeviceSecretService(db),
		Grants:      postgres.NewGrantService(db),
	}
}
