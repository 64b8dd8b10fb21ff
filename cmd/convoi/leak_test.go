package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/leak"
	"github.com/convoi/convoi/sqlite"
)

func TestLeakTraceCommand(t *testing.T) {
	dir := t.TempDir()
	if _, errs, code := runCLI(t, "migrate", "--data", dir); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(dir, "convoi.db"))
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	site := func(k convoi.SiteKind, name string) *convoi.Site {
		s := &convoi.Site{Kind: k, Name: name, Location: convoi.LatLon{Lat: 49.4, Lon: 1.1}}
		if err := sqlite.NewSiteService(db).CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, c := site(convoi.SiteKindPrison, "Prison"), site(convoi.SiteKindCourt, "Court")
	d := &convoi.Detainee{Name: "X", LegalStatus: convoi.LegalStatusRemand, SiteID: p.ID}
	if err := sqlite.NewDetaineeService(db).CreateDetainee(ctx, d); err != nil {
		t.Fatal(err)
	}
	dep := time.Date(2026, 5, 14, 9, 13, 0, 0, time.UTC)
	m := &convoi.Movement{Ref: "RN-1", DetaineeID: d.ID, FromSiteID: p.ID, ToSiteID: c.ID, Purpose: convoi.PurposeCourtAppearance,
		AppointmentAt: dep.Add(3 * time.Hour), Requester: "J", PlannedDeparture: &dep,
		Route: &convoi.RouteSummary{Geometry: []convoi.LatLon{p.Location, c.Location}, DurationS: 2400}}
	if err := sqlite.NewMovementService(db).CreateMovement(ctx, m); err != nil {
		t.Fatal(err)
	}
	m, _ = sqlite.NewMovementService(db).UpdateMovement(ctx, m.ID, convoi.MovementUpdate{PlannedDeparture: &dep, Route: m.Route})
	is := &leak.Issuer{Notices: sqlite.NewNoticeService(db)}
	var ns []*convoi.Notice
	for i := range 5 {
		n, err := is.Issue(ctx, m, fmt.Sprintf("Recipient %d", i), 0)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	db.Close()

	leaked := ns[3]
	out, errs, code := runCLI(t, "leak", "trace", "--data", dir, "--movement", "RN-1",
		"--window-start", leaked.WindowStart.In(time.FixedZone("CEST", 2*3600)).Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], "Recipient 3") || strings.Count(out, "Recipient") != 1 {
		t.Fatalf("ranking:\n%s", out)
	}
	if _, errs, code := runCLI(t, "leak", "trace", "--data", dir); code != 1 || !strings.Contains(errs, "at least one fact") {
		t.Fatalf("no facts: exit %d: %s", code, errs)
	}
}
