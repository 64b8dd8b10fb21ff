package storetest

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testGrant(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	m := w.movement("MC-G1", T0.Add(3*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m))
	mv := m.ID
	u := &convoi.User{Username: "escort9", Role: convoi.RoleControl, PasswordHash: "x"}
	must(t, e.Users.CreateUser(e.ctx, u))
	now := T0
	g := &convoi.ScheduleGrant{MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(3 * time.Hour), Reason: "armed support"}

	t.Run("Create", func(t *testing.T) {
		must(t, e.Grants.CreateGrant(e.ctx, g))
		if g.ID == 0 {
			t.Fatal("no id")
		}
		sameTime(t, "from (store clock)", g.From, now)
		same(t, "created_by", g.CreatedBy, author)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			g    convoi.ScheduleGrant
		}{
			{"NoReason", convoi.ScheduleGrant{MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(time.Hour)}},
			{"Expired", convoi.ScheduleGrant{MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(-time.Hour), Reason: "x"}},
			{"TooLong", convoi.ScheduleGrant{MovementID: mv, UserID: u.ID, ExpiresAt: now.Add(100 * time.Hour), Reason: "x"}},
			{"NoMovement", convoi.ScheduleGrant{MovementID: 999, UserID: u.ID, ExpiresAt: now.Add(time.Hour), Reason: "x"}},
			{"NoUser", convoi.ScheduleGrant{MovementID: mv, UserID: 999, ExpiresAt: now.Add(time.Hour), Reason: "x"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				g := tc.g
				wantCode(t, e.Grants.CreateGrant(e.ctx, &g), convoi.EINVALID)
			})
		}
	})

	t.Run("Active", func(t *testing.T) {
		later := now.Add(4 * time.Hour)
		active, err := e.Grants.FindGrants(e.ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &now})
		must(t, err)
		same(t, "active", len(active), 1)
		expired, err := e.Grants.FindGrants(e.ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &later})
		must(t, err)
		same(t, "active after expiry", len(expired), 0)
	})

	t.Run("Revoke", func(t *testing.T) {
		_, err := e.Grants.RevokeGrant(e.ctx, mv+1, g.ID)
		wantCode(t, err, convoi.ENOTFOUND) // through another movement
		r, err := e.Grants.RevokeGrant(e.ctx, mv, g.ID)
		must(t, err)
		if r.RevokedAt == nil {
			t.Fatal("not revoked")
		}
		_, err = e.Grants.RevokeGrant(e.ctx, mv, g.ID)
		wantCode(t, err, convoi.ECONFLICT)
		active, err := e.Grants.FindGrants(e.ctx, convoi.GrantFilter{UserID: &u.ID, ActiveAt: &now})
		must(t, err)
		same(t, "active after revocation", len(active), 0)
		all, err := e.Grants.FindGrants(e.ctx, convoi.GrantFilter{MovementID: &mv})
		must(t, err)
		if len(all) != 1 || all[0].RevokedAt == nil {
			t.Fatalf("history %+v", all)
		}
	})
}
