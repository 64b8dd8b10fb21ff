package sqlite_test

import (
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
	"github.com/convoi/convoi/storetest"
)

// TestStore runs the conformance suite on a fresh database file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now convoi.Clock) storetest.Store {
		return NewStore(MustOpenDB(tb, now))
	})
}

// NewStore bundles the services of db.
func NewStore(db *sqlite.DB) storetest.Store {
	return storetest.Store{
		Sites:       sqlite.NewSiteService(db),
		Detainees:   sqlite.NewDetaineeService(db),
		Intel:       sqlite.NewIntelService(db),
		Movements:   sqlite.NewMovementService(db),
		Vehicles:    sqlite.NewVehicleService(db),
		Officers:    sqlite.NewOfficerService(db),
		Trackers:    sqlite.NewTrackerService(db),
		Users:       sqlite.NewUserService(db),
		Tokens:      sqlite.NewTokenService(db),
		Positions:   sqlite.NewPositionService(db),
		Assessments: sqlite.NewAssessmentService(db),
		Policies:    sqlite.NewPolicyService(db),
		Plans:       sqlite.NewPlanService(db),
		Idempotency: sqlite.NewIdempotencyService(db),
		Alarms:      sqlite.NewAlarmService(db),
		Incidents:   sqlite.NewIncidentService(db),
		Webhooks:    sqlite.NewWebhookService(db),
		Notices:     sqlite.NewNoticeService(db),
		Secrets:     sqlite.NewDeviceSecretService(db),
		Grants:      sqlite.NewGrantService(db),
	}
}
