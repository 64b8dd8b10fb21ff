package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testUser(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	crew := &convoi.User{Username: "crew1", Name: "Officer A", Role: convoi.RoleCrew, OfficerID: w.Officers[0].ID, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA"}
	liaison := &convoi.User{Username: "liaison", Role: convoi.RoleLiaison, SiteID: w.Court.ID}

	t.Run("CreateAndFind", func(t *testing.T) {
		must(t, e.Users.CreateUser(e.ctx, crew))
		must(t, e.Users.CreateUser(e.ctx, liaison))
		got, err := e.Users.FindUserByUsername(e.ctx, "crew1")
		must(t, err)
		same(t, "id", got.ID, crew.ID)
		same(t, "role", got.Role, convoi.RoleCrew)
		same(t, "officer", got.OfficerID, w.Officers[0].ID)
		same(t, "password hash", got.PasswordHash, crew.PasswordHash)
		same(t, "created_by", got.CreatedBy, author)
		sameTime(t, "created_at", got.CreatedAt, T0)
		got, err = e.Users.FindUserByID(e.ctx, liaison.ID)
		must(t, err)
		same(t, "name defaults to username", got.Name, "liaison")
		same(t, "site", got.SiteID, w.Court.ID)
		_, err = e.Users.FindUserByUsername(e.ctx, "nobody")
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Users.FindUserByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			u    convoi.User
			code string
		}{
			{"DuplicateUsername", convoi.User{Username: "crew1", Role: convoi.RoleAdmin}, convoi.ECONFLICT},
			{"BadUsername", convoi.User{Username: "Crew 1", Role: convoi.RoleAdmin}, convoi.EINVALID},
			{"BadRole", convoi.User{Username: "root", Role: "root"}, convoi.EINVALID},
			{"CrewWithoutOfficer", convoi.User{Username: "crew2", Role: convoi.RoleCrew}, convoi.EINVALID},
			{"LiaisonWithoutSite", convoi.User{Username: "liaison2", Role: convoi.RoleLiaison}, convoi.EINVALID},
			{"MissingOfficer", convoi.User{Username: "crew2", Role: convoi.RoleCrew, OfficerID: 9999}, convoi.EINVALID},
			{"MissingSite", convoi.User{Username: "liaison2", Role: convoi.RoleLiaison, SiteID: 9999}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := tc.u
				wantCode(t, e.Users.CreateUser(e.ctx, &u), tc.code)
			})
		}
		_, n, err := e.Users.FindUsers(e.ctx, convoi.UserFilter{})
		must(t, err)
		same(t, "users stored", n, 2)
	})

	t.Run("Update", func(t *testing.T) {
		e.clock.Add(time.Hour)
		got, err := e.Users.UpdateUser(e.ctx2, crew.ID, convoi.UserUpdate{Disabled: ptr(true), PasswordHash: ptr("new-hash")})
		must(t, err)
		got, err = e.Users.FindUserByID(e.ctx, crew.ID)
		must(t, err)
		same(t, "disabled", got.Disabled, true)
		same(t, "password hash", got.PasswordHash, "new-hash")
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Hour))
		_, err = e.Users.UpdateUser(e.ctx, crew.ID, convoi.UserUpdate{OfficerID: ptr(convoi.OfficerID(0))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Users.UpdateUser(e.ctx, crew.ID, convoi.UserUpdate{OfficerID: ptr(convoi.OfficerID(9999))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Users.UpdateUser(e.ctx, 9999, convoi.UserUpdate{Name: ptr("x")})
		wantCode(t, err, convoi.ENOTFOUND)
		got, err = e.Users.FindUserByID(e.ctx, crew.ID)
		must(t, err)
		same(t, "officer after failed updates", got.OfficerID, w.Officers[0].ID)
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.UserFilter
			want   []convoi.UserID
		}{
			{"All", convoi.UserFilter{}, []convoi.UserID{crew.ID, liaison.ID}},
			{"Username", convoi.UserFilter{Username: ptr("liaison")}, []convoi.UserID{liaison.ID}},
			{"Role", convoi.UserFilter{Role: ptr(convoi.RoleCrew)}, []convoi.UserID{crew.ID}},
			{"ID", convoi.UserFilter{ID: &liaison.ID}, []convoi.UserID{liaison.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Users.FindUsers(e.ctx, tc.filter)
				must(t, err)
				var ids []convoi.UserID
				for _, u := range got {
					ids = append(ids, u.ID)
				}
				same(t, "ids", ids, tc.want)
				same(t, "total", n, len(tc.want))
			})
		}
	})
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testToken(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	u := &convoi.User{Username: "planner", Role: convoi.RolePlanner}
	must(t, e.Users.CreateUser(e.ctx, u))
	exp := T0.Add(12 * time.Hour)
	session := &convoi.Token{UserID: u.ID, Kind: convoi.TokenSession, Hash: hash("session-secret"), ExpiresAt: &exp}
	api := &convoi.Token{UserID: u.ID, Kind: convoi.TokenAPI, Name: "gateway", Hash: hash("api-secret")}

	t.Run("Create", func(t *testing.T) {
		must(t, e.Tokens.CreateToken(e.ctx, session))
		must(t, e.Tokens.CreateToken(e.ctx, api))
		if session.ID == 0 || api.ID == 0 {
			t.Fatal("IDs not set")
		}
		sameTime(t, "created_at", session.CreatedAt, T0)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tok  convoi.Token
			code string
		}{
			{"DuplicateHash", convoi.Token{UserID: u.ID, Kind: convoi.TokenAPI, Hash: hash("api-secret")}, convoi.ECONFLICT},
			{"ShortHash", convoi.Token{UserID: u.ID, Kind: convoi.TokenAPI, Hash: []byte("short")}, convoi.EINVALID},
			{"BadKind", convoi.Token{UserID: u.ID, Kind: "cookie", Hash: hash("x")}, convoi.EINVALID},
			{"NoUser", convoi.Token{Kind: convoi.TokenAPI, Hash: hash("x")}, convoi.EINVALID},
			{"MissingUser", convoi.Token{UserID: 9999, Kind: convoi.TokenAPI, Hash: hash("x")}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tok := tc.tok
				wantCode(t, e.Tokens.CreateToken(e.ctx, &tok), tc.code)
			})
		}
	})

	t.Run("FindByHashRecordsUse", func(t *testing.T) {
		e.clock.Add(time.Hour)
		got, err := e.Tokens.FindTokenByHash(e.ctx, hash("session-secret"))
		must(t, err)
		same(t, "id", got.ID, session.ID)
		same(t, "user", got.UserID, u.ID)
		same(t, "kind", got.Kind, convoi.TokenSession)
		if !bytes.Equal(got.Hash, session.Hash) {
			t.Fatal("hash differs")
		}
		if got.LastUsedAt == nil {
			t.Fatal("last_used_at not set")
		}
		sameTime(t, "last_used_at", *got.LastUsedAt, T0.Add(time.Hour))
		sameTime(t, "expires_at", *got.ExpiresAt, exp)
		toks, err := e.Tokens.FindTokens(e.ctx, u.ID)
		must(t, err)
		same(t, "tokens", len(toks), 2)
		for _, tok := range toks {
			if tok.ID == session.ID && (tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(T0.Add(time.Hour))) {
				t.Fatalf("stored last_used_at = %v", tok.LastUsedAt)
			}
		}
		_, err = e.Tokens.FindTokenByHash(e.ctx, hash("unknown"))
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Tokens.FindTokenByHash(e.ctx, nil)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Expiry", func(t *testing.T) {
		e.clock.Add(exp.Sub(e.clock.Now()) - time.Second)
		_, err := e.Tokens.FindTokenByHash(e.ctx, hash("session-secret"))
		must(t, err)
		e.clock.Add(time.Second)
		_, err = e.Tokens.FindTokenByHash(e.ctx, hash("session-secret"))
		wantCode(t, err, convoi.ENOTFOUND)
		_, err = e.Tokens.FindTokenByHash(e.ctx, hash("api-secret")) // no expiry
		must(t, err)
	})

	t.Run("Revoke", func(t *testing.T) {
		must(t, e.Tokens.RevokeToken(e.ctx, api.ID))
		_, err := e.Tokens.FindTokenByHash(e.ctx, hash("api-secret"))
		wantCode(t, err, convoi.ENOTFOUND)
		must(t, e.Tokens.RevokeToken(e.ctx, api.ID)) // idempotent
		wantCode(t, e.Tokens.RevokeToken(e.ctx, 9999), convoi.ENOTFOUND)
		toks, err := e.Tokens.FindTokens(e.ctx, u.ID)
		must(t, err)
		same(t, "tokens newest first", []convoi.TokenID{toks[0].ID, toks[1].ID}, []convoi.TokenID{api.ID, session.ID})
		same(t, "revoked flag", toks[0].Revoked, true)
		toks, err = e.Tokens.FindTokens(e.ctx, 9999)
		must(t, err)
		same(t, "tokens of unknown user", len(toks), 0)
	})
}
