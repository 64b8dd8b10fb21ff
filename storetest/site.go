package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testSite(t *testing.T, open OpenFunc) {
	t.Run("CreateAndFind", func(t *testing.T) {
		e := newEnv(t, open)
		s := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice", Location: convoi.LatLon{Lat: 43.7302, Lon: 7.4222}, Address: "5 rue Colonel Bellando de Castro"}
		must(t, e.Sites.CreateSite(e.ctx, s))
		if s.ID == 0 {
			t.Fatal("ID not set")
		}
		got, err := e.Sites.FindSiteByID(e.ctx, s.ID)
		must(t, err)
		same(t, "kind", got.Kind, s.Kind)
		same(t, "name", got.Name, s.Name)
		same(t, "address", got.Address, s.Address)
		same(t, "location", got.Location, s.Location)
		same(t, "entry (defaults to location)", got.Entry, s.Location)
		same(t, "created_by", got.CreatedBy, author)
		same(t, "updated_by", got.UpdatedBy, author)
		sameTime(t, "created_at", got.CreatedAt, T0)
		sameTime(t, "updated_at", got.UpdatedAt, T0)
		sameTime(t, "returned created_at", s.CreatedAt, T0)
	})

	t.Run("Invalid", func(t *testing.T) {
		e := newEnv(t, open)
		for _, tc := range []struct {
			name string
			site convoi.Site
		}{
			{"UnknownKind", convoi.Site{Kind: "castle", Name: "x", Location: convoi.LatLon{Lat: 1, Lon: 1}}},
			{"NoName", convoi.Site{Kind: convoi.SiteKindCourt, Name: "  ", Location: convoi.LatLon{Lat: 1, Lon: 1}}},
			{"LatOutOfRange", convoi.Site{Kind: convoi.SiteKindCourt, Name: "x", Location: convoi.LatLon{Lat: 91, Lon: 1}}},
			{"LonOutOfRange", convoi.Site{Kind: convoi.SiteKindCourt, Name: "x", Location: convoi.LatLon{Lat: 1, Lon: -181}}},
			{"NaN", convoi.Site{Kind: convoi.SiteKindCourt, Name: "x", Location: convoi.LatLon{Lat: math.NaN(), Lon: 1}}},
			{"EntryOutOfRange", convoi.Site{Kind: convoi.SiteKindCourt, Name: "x", Location: convoi.LatLon{Lat: 1, Lon: 1}, Entry: convoi.LatLon{Lat: 100, Lon: 1}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := tc.site
				wantCode(t, e.Sites.CreateSite(e.ctx, &s), convoi.EINVALID)
			})
		}
		wantCode(t, e.Sites.CreateSite(e.ctx, nil), convoi.EINVALID)
		_, n, err := e.Sites.FindSites(e.ctx, convoi.SiteFilter{})
		must(t, err)
		same(t, "sites stored", n, 0)
	})

	t.Run("Update", func(t *testing.T) {
		e := newEnv(t, open)
		s := &convoi.Site{Kind: convoi.SiteKindPolice, Name: "Sûreté publique", Location: convoi.LatLon{Lat: 43.73, Lon: 7.42}}
		must(t, e.Sites.CreateSite(e.ctx, s))
		e.clock.Add(time.Hour)
		got, err := e.Sites.UpdateSite(e.ctx2, s.ID, convoi.SiteUpdate{Name: ptr("Direction de la Sûreté Publique"), Entry: &convoi.LatLon{Lat: 43.7301, Lon: 7.4201}})
		must(t, err)
		same(t, "name", got.Name, "Direction de la Sûreté Publique")
		got, err = e.Sites.FindSiteByID(e.ctx, s.ID)
		must(t, err)
		same(t, "stored name", got.Name, "Direction de la Sûreté Publique")
		same(t, "stored entry", got.Entry, convoi.LatLon{Lat: 43.7301, Lon: 7.4201})
		same(t, "kind kept", got.Kind, convoi.SiteKindPolice)
		same(t, "created_by kept", got.CreatedBy, author)
		same(t, "updated_by", got.UpdatedBy, author2)
		sameTime(t, "created_at kept", got.CreatedAt, T0)
		sameTime(t, "updated_at", got.UpdatedAt, T0.Add(time.Hour))

		_, err = e.Sites.UpdateSite(e.ctx, s.ID, convoi.SiteUpdate{Kind: ptr(convoi.SiteKind("castle"))})
		wantCode(t, err, convoi.EINVALID)
		got, err = e.Sites.FindSiteByID(e.ctx, s.ID)
		must(t, err)
		same(t, "kind after invalid update", got.Kind, convoi.SiteKindPolice)

		_, err = e.Sites.UpdateSite(e.ctx, s.ID+1000, convoi.SiteUpdate{Name: ptr("x")})
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("NotFound", func(t *testing.T) {
		e := newEnv(t, open)
		_, err := e.Sites.FindSiteByID(e.ctx, 42)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Filter", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		for _, tc := range []struct {
			name   string
			filter convoi.SiteFilter
			want   []convoi.SiteID
		}{
			{"All", convoi.SiteFilter{}, []convoi.SiteID{w.Prison.ID, w.Court.ID, w.Hospital.ID}},
			{"ID", convoi.SiteFilter{ID: &w.Court.ID}, []convoi.SiteID{w.Court.ID}},
			{"Kind", convoi.SiteFilter{Kind: ptr(convoi.SiteKindHospital)}, []convoi.SiteID{w.Hospital.ID}},
			{"NameSubstringAnyCase", convoi.SiteFilter{Name: ptr("JUSTICE")}, []convoi.SiteID{w.Court.ID}},
			{"NameNonASCII", convoi.SiteFilter{Name: ptr("ARRÊT")}, []convoi.SiteID{w.Prison.ID}},
			{"NameLikeWildcardIsLiteral", convoi.SiteFilter{Name: ptr("%")}, nil},
			{"NoMatch", convoi.SiteFilter{Kind: ptr(convoi.SiteKindGendarmerie)}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Sites.FindSites(e.ctx, tc.filter)
				must(t, err)
				var ids []convoi.SiteID
				for _, s := range got {
					ids = append(ids, s.ID)
				}
				same(t, "ids", ids, tc.want)
				same(t, "total", n, len(tc.want))
			})
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		e := newEnv(t, open)
		var ids []convoi.SiteID
		for i := range 7 {
			s := &convoi.Site{Kind: convoi.SiteKindPolice, Name: fmt.Sprintf("Station %d", i), Location: convoi.LatLon{Lat: 43, Lon: 7}}
			must(t, e.Sites.CreateSite(e.ctx, s))
			ids = append(ids, s.ID)
		}
		for _, tc := range []struct {
			name string
			page convoi.Page
			want []convoi.SiteID
		}{
			{"First", convoi.Page{Limit: 3}, ids[0:3]},
			{"Second", convoi.Page{Offset: 3, Limit: 3}, ids[3:6]},
			{"Last", convoi.Page{Offset: 6, Limit: 3}, ids[6:]},
			{"Beyond", convoi.Page{Offset: 10, Limit: 3}, nil},
			{"DefaultLimit", convoi.Page{}, ids},
			{"NegativeOffset", convoi.Page{Offset: -5, Limit: 2}, ids[0:2]},
			{"HugeLimitCapped", convoi.Page{Limit: 1 << 30}, ids},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Sites.FindSites(e.ctx, convoi.SiteFilter{Page: tc.page})
				must(t, err)
				var gotIDs []convoi.SiteID
				for _, s := range got {
					gotIDs = append(gotIDs, s.ID)
				}
				same(t, "ids", gotIDs, tc.want)
				same(t, "total", n, 7)
			})
		}
	})
}
