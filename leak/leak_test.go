package leak_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/leak"
	"github.com/convoi/convoi/sqlite"
)

var t0 = time.Date(2026, 5, 14, 6, 0, 0, 0, time.UTC)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// drawnMovement stores a movement with a drawn departure and route.
func drawnMovement(t testing.TB, db *sqlite.DB, ref string) *convoi.Movement {
	ctx := context.Background()
	sites := sqlite.NewSiteService(db)
	prison := &convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt d'Évreux", Location: convoi.LatLon{Lat: 49.02, Lon: 1.15}}
	court := &convoi.Site{Kind: convoi.SiteKindCourt, Name: "Tribunal judiciaire de Rouen", Location: convoi.LatLon{Lat: 49.44, Lon: 1.09}}
	must(t, sites.CreateSite(ctx, prison))
	must(t, sites.CreateSite(ctx, court))
	d := &convoi.Detainee{Name: "M. A.", LegalStatus: convoi.LegalStatusRemand, SiteID: prison.ID}
	must(t, sqlite.NewDetaineeService(db).CreateDetainee(ctx, d))
	dep := t0.Add(3*time.Hour + 7*time.Minute + 13*time.Second)
	m := &convoi.Movement{Ref: ref, DetaineeID: d.ID, FromSiteID: prison.ID, ToSiteID: court.ID,
		Purpose: convoi.PurposeCourtAppearance, AppointmentAt: t0.Add(5 * time.Hour), Requester: "Juge M."}
	ms := sqlite.NewMovementService(db)
	must(t, ms.CreateMovement(ctx, m))
	m, err := ms.UpdateMovement(ctx, m.ID, convoi.MovementUpdate{PlannedDeparture: &dep,
		Route: &convoi.RouteSummary{Geometry: []convoi.LatLon{prison.Location, court.Location}, DistanceM: 61000, DurationS: 3110}})
	must(t, err)
	return m
}

func openDB(t testing.TB) *sqlite.DB {
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "convoi.db"))
	db.Now = func() time.Time { return t0 }
	must(t, db.Open(context.Background()))
	t.Cleanup(func() { db.Close() })
	return db
}

// TestTrace_FiftyRecipients is the issue's test: 50 recipients of one
// movement, and every single leaked variant (whole, or any one of its
// facts alone) traced to exactly its recipient.
func TestTrace_FiftyRecipients(t *testing.T) {
	db := openDB(t)
	m := drawnMovement(t, db, "RN-2026-0514")
	notices := sqlite.NewNoticeService(db)
	is := &leak.Issuer{Notices: notices}
	arrival, err := leak.Arrival(m)
	must(t, err)
	ctx := context.Background()
	want := map[string]*convoi.Notice{}
	for i := range 50 {
		r := fmt.Sprintf("Recipient %02d", i)
		n, err := is.Issue(ctx, m, r, 0)
		must(t, err)
		if n.WindowStart.After(arrival.Add(-leak.DefaultPolicy.Margin)) || n.WindowEnd.Before(arrival.Add(leak.DefaultPolicy.Margin)) {
			t.Fatalf("%s: window %v-%v does not hold the arrival %v with the margin", r, n.WindowStart, n.WindowEnd, arrival)
		}
		if w := n.WindowEnd.Sub(n.WindowStart); w < leak.DefaultPolicy.MinWidth || w > leak.DefaultPolicy.MaxWidth || w%time.Minute != 0 {
			t.Fatalf("%s: width %v", r, w)
		}
		again, err := is.Issue(ctx, m, r, 0)
		must(t, err)
		if again.ID != n.ID {
			t.Fatalf("%s got a second variant", r)
		}
		want[r] = n
	}
	all, err := notices.FindNotices(ctx, convoi.NoticeFilter{MovementID: &m.ID})
	must(t, err)
	if len(all) != 50 {
		t.Fatalf("%d notices recorded", len(all))
	}
	for r, n := range want {
		ws, we := n.WindowStart.Add(20*time.Second), n.WindowEnd // seconds are not part of a leak
		for name, f := range map[string]leak.Facts{
			"whole":       {WindowStart: &ws, WindowEnd: &we, Code: n.Code},
			"window":      {WindowStart: &ws, WindowEnd: &we},
			"start only":  {WindowStart: &ws},
			"end only":    {WindowEnd: &we},
			"code only":   {Code: n.Code},
			"on movement": {MovementID: m.ID, WindowEnd: &we},
		} {
			cs, err := leak.Trace(f, all)
			must(t, err)
			if len(cs) == 0 || cs[0].Notice.Recipient != r || cs[0].Score != 1 {
				t.Fatalf("%s, %s: top candidate %+v, want %s", r, name, cs, r)
			}
			for _, c := range cs[1:] {
				if c.Score >= 1 {
					t.Fatalf("%s, %s: %s matches as well as the leaker", r, name, c.Notice.Recipient)
				}
			}
		}
	}
}

func TestTrace_RanksPartialMatches(t *testing.T) {
	at := func(m int) *time.Time { x := t0.Add(time.Duration(m) * time.Minute); return &x }
	ns := []*convoi.Notice{
		{ID: 1, MovementID: 1, Recipient: "a", WindowStart: *at(0), WindowEnd: *at(50), Code: "AAAAAA"},
		{ID: 2, MovementID: 1, Recipient: "b", WindowStart: *at(0), WindowEnd: *at(60), Code: "BBBBBB"},
		{ID: 3, MovementID: 2, Recipient: "c", WindowStart: *at(0), WindowEnd: *at(60), Code: "CCCCCC"},
	}
	cs, err := leak.Trace(leak.Facts{MovementID: 1, WindowStart: at(0), WindowEnd: at(60)}, ns)
	must(t, err)
	if len(cs) != 2 || cs[0].Notice.Recipient != "b" || cs[0].Score != 1 || cs[1].Notice.Recipient != "a" || cs[1].Score != 0.5 {
		t.Fatalf("ranking %+v", cs)
	}
	if _, err := leak.Trace(leak.Facts{}, ns); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Fatalf("no facts: %v", err)
	}
}

// Beyond the fresh starts and ends, windows stay distinct pairs until all
// are taken; then drawing is EUNAVAILABLE.
func TestDraw_DistinctUntilExhausted(t *testing.T) {
	p := leak.Policy{MinWidth: 10 * time.Minute, MaxWidth: 12 * time.Minute, Margin: 2 * time.Minute, CodeLen: 4}
	total := (10 - 4 + 1) + (11 - 4 + 1) + (12 - 4 + 1)
	var taken []*convoi.Notice
	seen := map[[2]time.Time]bool{}
	for i := range total {
		v, err := p.Draw(t0, taken, nil)
		must(t, err)
		k := [2]time.Time{v.WindowStart, v.WindowEnd}
		if seen[k] {
			t.Fatalf("draw %d repeats window %v", i, k)
		}
		seen[k] = true
		taken = append(taken, &convoi.Notice{WindowStart: v.WindowStart, WindowEnd: v.WindowEnd, Code: v.Code})
	}
	if _, err := p.Draw(t0, taken, nil); convoi.ErrorCode(err) != convoi.EUNAVAILABLE {
		t.Fatalf("exhausted: %v", err)
	}
}

// A re-drawn movement gives its recipients new variants around the new
// arrival; the old ones stay on record, still traceable.
func TestIssue_RedrawGivesNewVariant(t *testing.T) {
	db := openDB(t)
	m := drawnMovement(t, db, "RN-2026-0515")
	notices := sqlite.NewNoticeService(db)
	is := &leak.Issuer{Notices: notices}
	ctx := context.Background()
	first, err := is.Issue(ctx, m, "court", 0)
	must(t, err)
	dep := m.PlannedDeparture.Add(47 * time.Minute)
	m, err = sqlite.NewMovementService(db).UpdateMovement(ctx, m.ID, convoi.MovementUpdate{PlannedDeparture: &dep})
	must(t, err)
	second, err := is.Issue(ctx, m, "court", 0)
	must(t, err)
	arrival, _ := leak.Arrival(m)
	if second.ID == first.ID || second.WindowStart.After(arrival) || second.WindowEnd.Before(arrival) {
		t.Fatalf("after the redraw: %+v (first %+v), arrival %v", second, first, arrival)
	}
	all, err := notices.FindNotices(ctx, convoi.NoticeFilter{MovementID: &m.ID})
	must(t, err)
	cs, err := leak.Trace(leak.Facts{Code: first.Code}, all)
	must(t, err)
	if len(cs) != 1 || cs[0].Notice.ID != first.ID {
		t.Fatalf("old variant not traced: %+v", cs)
	}
	if _, err := is.Issue(ctx, &convoi.Movement{ID: m.ID, Ref: m.Ref}, "court", 0); convoi.ErrorCode(err) != convoi.ECONFLICT {
		t.Fatalf("undrawn movement: %v", err)
	}
}

// BenchmarkDraw50th draws the variant of a movement's 50th recipient.
func BenchmarkDraw50th(b *testing.B) {
	var taken []*convoi.Notice
	for range 49 {
		v, err := leak.DefaultPolicy.Draw(t0, taken, nil)
		must(b, err)
		taken = append(taken, &convoi.Notice{WindowStart: v.WindowStart, WindowEnd: v.WindowEnd, Code: v.Code})
	}
	b.ResetTimer()
	for range b.N {
		if _, err := leak.DefaultPolicy.Draw(t0, taken, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrace10k ranks 10,000 recorded variants (200 movements of 50
// recipients, windows laid out without drawing) against a leaked window.
func BenchmarkTrace10k(b *testing.B) {
	var ns []*convoi.Notice
	for m := range 200 {
		arrival := t0.Add(time.Duration(m) * time.Hour)
		for i := range 50 {
			ns = append(ns, &convoi.Notice{ID: convoi.NoticeID(m*50 + i + 1), MovementID: convoi.MovementID(m + 1),
				WindowStart: arrival.Add(-time.Duration(5+i) * time.Minute), WindowEnd: arrival.Add(time.Duration(60-i) * time.Minute),
				Code: fmt.Sprintf("C%05d", m*50+i)})
		}
	}
	leaked := ns[4321]
	b.ResetTimer()
	for range b.N {
		cs, err := leak.Trace(leak.Facts{WindowStart: &leaked.WindowStart, WindowEnd: &leaked.WindowEnd}, ns)
		if err != nil || cs[0].Notice != leaked {
			b.Fatal("wrong recipient")
		}
	}
}
