package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/postgres"
)

func TestGrants(t *testing.T) {
	testDSN(t)
	ctx := context.Background()
	db := openSealed(t, "", nil)
	defer db.Close()
	mv := scheduleWorld(t, db)
	u := &convoi.User{Username: "escort9", Role: convoi.RoleControl, PasswordHash: "x"}
	must(t, postgres.NewUserService(db).CreateUser(ctx, u))
	gs := postgres.NewGrantService(db)
	now := db.Now()
	g := &convoi.ScheduleGrant{MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(3 * time.Hour), Reason: "armed support"}
	must(t, gs.CreateGrant(ctx, g))
	if g.ID == 0 || !g.From.Equal(now) {
		t.Fatalf("grant %+v", g)
	}
	for name, bad := range map[string]*convoi.ScheduleGrant{
		"no reason":   {MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(time.Hour)},
		"expired":     {MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(-time.Hour), Reason: "x"},
		"too long":    {MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(100 * time.Hour), Reason: "x"},
		"no movement": {MovementID: 999, UserID: u.ID, ExpiresAt: now.Add(time.Hour), Reason: "x"},
		"no user":     {MovementID: mv, UserID: 999, ExpiresAt: now.Add(time.Hour), Reason: "x"},
	} {
		if err := gs.CreateGrant(ctx, bad); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	later := now.Add(4 * time.Hour)
	active, err := gs.FindGrants(ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &now})
	must(t, err)
	expired, err := gs.FindGrants(ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &later})
	must(t, err)
	if len(active) != 1 || len(expired) != 0 {
		t.Fatalf("active %d, after expiry %d", len(active), len(expired))
	}
	other := mv + 1
	if _, err := gs.RevokeGrant(ctx, other, g.ID); convoi.ErrorCode(err) != convoi.ENOTFOUND {
		t.Fatalf("revoke through another movement: %v", err)
	}
	r, err := gs.RevokeGrant(ctx, mv, g.ID)
	must(t, err)
	if r.RevokedAt == nil {
		t.Fatal("not revoked")
	}
	if _, err := gs.RevokeGrant(ctx, mv, g.ID); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("second revoke: %v", err)
	}
	if active, _ = gs.FindGrants(ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &now}); len(active) != 0 {
		t.Fatal("a revoked grant is active")
	}
	all, _ := gs.FindGrants(ctx, convoi.GrantFilter{MovementID: &mv})
	if len(all) != 1 || all[0].RevokedAt == nil {
		t.Fatalf("history %+v", all)
	}
}
