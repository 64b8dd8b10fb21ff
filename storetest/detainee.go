package storetest

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testDetainee(t *testing.T, open OpenFunc) {
	t.Run("CreateAndFind", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		d := &convoi.Detainee{Name: "Antonio Ferrara", Aliases: []string{"Nino", "Le roi de la belle"}, BirthDate: "1973-06-07",
			LegalStatus: convoi.LegalStatusAppeal, SiteID: w.Prison.ID,
			Risk: convoi.RiskRecord{EscapeHistory: 2, EscapeAttempts: 3, Violence: 3, OrganisedCrime: true, Notoriety: 3, DPS: true,
				SeparateFrom: []convoi.DetaineeID{w.Detainee.ID}, Notes: "Evaded in 2003 by commando."}}
		must(t, e.Detainees.CreateDetainee(e.ctx, d))
		got, err := e.Detainees.FindDetaineeByID(e.ctx, d.ID)
		must(t, err)
		same(t, "name", got.Name, d.Name)
		same(t, "aliases", got.Aliases, d.Aliases)
		same(t, "birth date", got.BirthDate, d.BirthDate)
		same(t, "legal status", got.LegalStatus, d.LegalStatus)
		same(t, "site", got.SiteID, w.Prison.ID)
		same(t, "risk", got.Risk, d.Risk)
		same(t, "created_by", got.CreatedBy, author)
		sameTime(t, "created_at", got.CreatedAt, T0)

		// Empty lists come back as empty, not nil (JSON [] rather than null).
		got, err = e.Detainees.FindDetaineeByID(e.ctx, w.Other.ID)
		must(t, err)
		if got.Aliases == nil || got.Risk.SeparateFrom == nil {
			t.Fatalf("nil lists: %+v", got)
		}
		_, err = e.Detainees.FindDetaineeByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		for _, tc := range []struct {
			name string
			d    convoi.Detainee
			code string
		}{
			{"NoName", convoi.Detainee{LegalStatus: convoi.LegalStatusRemand, SiteID: w.Prison.ID}, convoi.EINVALID},
			{"BadStatus", convoi.Detainee{Name: "x", LegalStatus: "free", SiteID: w.Prison.ID}, convoi.EINVALID},
			{"BadBirthDate", convoi.Detainee{Name: "x", LegalStatus: convoi.LegalStatusRemand, SiteID: w.Prison.ID, BirthDate: "07/06/1973"}, convoi.EINVALID},
			{"NoSite", convoi.Detainee{Name: "x", LegalStatus: convoi.LegalStatusRemand}, convoi.EINVALID},
			{"MissingSite", convoi.Detainee{Name: "x", LegalStatus: convoi.LegalStatusRemand, SiteID: 9999}, convoi.EINVALID},
			{"ViolenceOutOfRange", convoi.Detainee{Name: "x", LegalStatus: convoi.LegalStatusRemand, SiteID: w.Prison.ID, Risk: convoi.RiskRecord{Violence: 4}}, convoi.EINVALID},
			{"SeparateFromMissing", convoi.Detainee{Name: "x", LegalStatus: convoi.LegalStatusRemand, SiteID: w.Prison.ID, Risk: convoi.RiskRecord{SeparateFrom: []convoi.DetaineeID{9999}}}, convoi.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := tc.d
				wantCode(t, e.Detainees.CreateDetainee(e.ctx, &d), tc.code)
			})
		}
		_, n, err := e.Detainees.FindDetainees(e.ctx, convoi.DetaineeFilter{})
		must(t, err)
		same(t, "detainees stored", n, 2)
	})

	t.Run("Update", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		e.clock.Add(time.Minute)
		risk := w.Other.Risk
		risk.EscapeAttempts = 1
		risk.SeparateFrom = []convoi.DetaineeID{w.Detainee.ID}
		got, err := e.Detainees.UpdateDetainee(e.ctx2, w.Other.ID, convoi.DetaineeUpdate{SiteID: &w.Court.ID, Risk: &risk, Aliases: &[]string{"JD"}})
		must(t, err)
		got, err = e.Detainees.FindDetaineeByID(e.ctx, got.ID)
		must(t, err)
		same(t, "site", got.SiteID, w.Court.ID)
		same(t, "risk", got.Risk, risk)
		same(t, "aliases", got.Aliases, []string{"JD"})
		same(t, "updated_by", got.UpdatedBy, author2)
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Minute))

		_, err = e.Detainees.UpdateDetainee(e.ctx, w.Other.ID, convoi.DetaineeUpdate{SiteID: ptr(convoi.SiteID(9999))})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Detainees.UpdateDetainee(e.ctx, w.Other.ID, convoi.DetaineeUpdate{Name: ptr("")})
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Detainees.UpdateDetainee(e.ctx, 9999, convoi.DetaineeUpdate{Name: ptr("x")})
		wantCode(t, err, convoi.ENOTFOUND)
		got, err = e.Detainees.FindDetaineeByID(e.ctx, w.Other.ID)
		must(t, err)
		same(t, "site after failed updates", got.SiteID, w.Court.ID)
		same(t, "name after failed updates", got.Name, "Jean Dupont")
	})

	t.Run("Filter", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		third := &convoi.Detainee{Name: "Redoine Faïd", LegalStatus: convoi.LegalStatusSentenced, SiteID: w.Court.ID, Aliases: []string{"Doc"}}
		must(t, e.Detainees.CreateDetainee(e.ctx, third))
		for _, tc := range []struct {
			name   string
			filter convoi.DetaineeFilter
			want   []convoi.DetaineeID
		}{
			{"All", convoi.DetaineeFilter{}, []convoi.DetaineeID{w.Detainee.ID, w.Other.ID, third.ID}},
			{"ID", convoi.DetaineeFilter{ID: &third.ID}, []convoi.DetaineeID{third.ID}},
			{"Site", convoi.DetaineeFilter{SiteID: &w.Prison.ID}, []convoi.DetaineeID{w.Detainee.ID, w.Other.ID}},
			{"NameAnyCase", convoi.DetaineeFilter{Name: ptr("dupont")}, []convoi.DetaineeID{w.Other.ID}},
			{"NameNonASCII", convoi.DetaineeFilter{Name: ptr("FAÏD")}, []convoi.DetaineeID{third.ID}},
			{"Alias", convoi.DetaineeFilter{Name: ptr("mouche")}, []convoi.DetaineeID{w.Detainee.ID}},
			{"DPS", convoi.DetaineeFilter{DPS: ptr(true)}, []convoi.DetaineeID{w.Detainee.ID}},
			{"NotDPS", convoi.DetaineeFilter{DPS: ptr(false)}, []convoi.DetaineeID{w.Other.ID, third.ID}},
			{"Combined", convoi.DetaineeFilter{SiteID: &w.Prison.ID, DPS: ptr(false)}, []convoi.DetaineeID{w.Other.ID}},
			{"Page", convoi.DetaineeFilter{Page: convoi.Page{Offset: 1, Limit: 1}}, []convoi.DetaineeID{w.Other.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Detainees.FindDetainees(e.ctx, tc.filter)
				must(t, err)
				var ids []convoi.DetaineeID
				for _, d := range got {
					ids = append(ids, d.ID)
				}
				same(t, "ids", ids, tc.want)
				if tc.filter.Page == (convoi.Page{}) {
					same(t, "total", n, len(tc.want))
				} else {
					same(t, "total", n, 3)
				}
			})
		}
	})
}
