package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/cap"
)

// The demo's attack: the Monaco-Nice escort is hit at the La Turbie toll
// plaza on the A8 (where the demo's story shows it is predictable), and a
// grey SUV is seen four minutes later on the Basse Corniche at Cap-d'Ail.
var (
	demoAttackPlace   = convoi.LatLon{Lat: 43.7445, Lon: 7.3755}
	demoSightingPlace = convoi.LatLon{Lat: 43.7219, Lon: 7.4052}
)

// showResponse tells the response part of the story: the commander
// declares the incident (by hand: the monitor that raises the attack
// alarm is another part of convoi), the reachability areas and the
// optimal roadblock plan from the demo's police and gendarmerie posts
// appear, a sighting on the Basse Corniche re-plans, and the CAP alert for
// partner forces is drawn up. The incident stays in the demo's store, so
// the API serves it to the commander. The figures are the engine's own.
func (a *App) showResponse(ctx context.Context, out io.Writer, w *demoWorld) error {
	r := a.Response
	if r == nil {
		fmt.Fprintln(out, "Response: not available on this road graph (no escape node).")
		return nil
	}
	r.Exercise = true // the demo's alerts say so (CAP status Exercise)
	commander := w.userByName("commander")
	ctx = convoi.NewContextWithUser(ctx, commander)
	svc := a.S.Incidents
	attackAt := a.Now().Add(-6 * time.Minute).Truncate(time.Second) // the sighting (+4 min) is then in the past
	inc := &convoi.Incident{MovementID: w.Westbound.ID, Place: demoAttackPlace, PlaceName: "Péage de La Turbie (A8)", AttackAt: attackAt,
		VehiclesSought: []string{"dark grey Peugeot 5008, plates AB-123-CD (stolen)", "black Audi RS6, plates unknown"},
		Instructions:   "Set the roadblocks of the plan; elsewhere watch the exits of the A8 and the Corniches. Report any sighting to the CIC at once. Do not engage alone: the attackers are armed."}
	if err := svc.DeclareIncident(ctx, inc); err != nil {
		return fmt.Errorf("declare the demo incident: %w", err)
	}
	outbox := &alertOutbox{Dir: filepath.Join(a.DataDir, "alerts"), Responder: r, Incidents: svc}
	if err := outbox.SendIncidentAlert(ctx, inc); err != nil {
		return err
	}
	zone := demoZone()
	fmt.Fprintf(out, "Response: the %s escort is attacked at the %s at %s; the commander declares incident %d.\n",
		w.Westbound.Ref, inc.PlaceName, attackAt.In(zone).Format("15:04 MST"), inc.ID)

	start := time.Now()
	re, err := r.Reachability(ctx, inc, nil)
	if err != nil {
		return err
	}
	planAt := attackAt.Add(time.Minute)
	pl, err := r.Plan(ctx, inc, nil, planAt, 0)
	if err != nil {
		return err
	}
	took := time.Since(start)
	var bands []string
	for _, b := range re.Bands {
		bands = append(bands, fmt.Sprintf("%g min %.1f km²", b.Minutes, b.AreaKm2))
	}
	fmt.Fprintf(out, "  Reachable by car from the toll plaza: %s.\n", strings.Join(bands, ", "))
	p := r.Engine.Params()
	fmt.Fprintf(out, "  %d escape routes sampled towards %d escape nodes (motorway junctions, edge of the map; seed %d).\n",
		pl.RoutesSampled, len(r.Engine.EscapeNodes()), p.Seed)
	printRoadblocks(out, pl, planAt, zone)
	fmt.Fprintf(out, "  Reachability and plan ready in %d ms.\n", took.Milliseconds())

	seenAt := attackAt.Add(4 * time.Minute)
	sg := &convoi.Sighting{IncidentID: inc.ID, Place: demoSightingPlace, PlaceName: "Basse Corniche, Cap-d'Ail", Time: seenAt,
		Confidence: 0.9, Note: "Grey SUV westbound at speed, seen by a bus driver."}
	if err := svc.AddSighting(ctx, sg); err != nil {
		return err
	}
	if inc, err = svc.FindIncidentByID(ctx, inc.ID); err != nil {
		return err
	}
	start = time.Now()
	pl2, err := r.Plan(ctx, inc, []*convoi.Sighting{sg}, seenAt.Add(30*time.Second), 0)
	if err != nil {
		return err
	}
	took = time.Since(start)
	fmt.Fprintf(out, "Sighting at %s on the %s (confidence %.0f%%): %d of %d routes stay consistent",
		seenAt.In(zone).Format("15:04 MST"), sg.PlaceName, sg.Confidence*100, pl2.RoutesKept, pl2.RoutesSampled)
	if pl2.RoutesAdded > 0 {
		fmt.Fprintf(out, ", %d more sampled onwards from the sighting", pl2.RoutesAdded)
	}
	fmt.Fprintf(out, "; re-planned in %d ms:\n", took.Milliseconds())
	printRoadblocks(out, pl2, seenAt.Add(30*time.Second), zone)

	doc, err := r.Alert(ctx, inc, []*convoi.Sighting{sg})
	if err != nil {
		return err
	}
	if err := outbox.SendIncidentAlert(ctx, inc); err != nil {
		return err
	}
	fmt.Fprintf(out, "CAP 1.2 alert for partner forces (status Exercise): %s (Update of the declaration's alert), %d areas, %d bytes; no route, departure or plan in it.\n",
		cap.Identifier(r.AlertSender, inc.ID, inc.Version), len(re.Bands), len(doc))
	fmt.Fprintf(out, "  The declaration's and this alert are in the outbox %s.\n\n", outbox.Dir)
	return nil
}

func printRoadblocks(out io.Writer, pl *convoi.InterceptionPlan, at time.Time, zone *time.Location) {
	proof := "proven optimal"
	if !pl.Optimal {
		proof = fmt.Sprintf("bound %.3f", pl.Bound)
	}
	fmt.Fprintf(out, "  Roadblock plan at %s: %d of %d routes cut (%.1f%%, %s).\n", at.In(zone).Format("15:04:05 MST"),
		pl.Intercepted, pl.Routes, 100*pl.Fraction, proof)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  UNIT\tFROM\tROADBLOCK\tIN PLACE\tCUTS ALONE")
	from := map[string]string{}
	for _, u := range pl.Units {
		from[fmt.Sprint(u.SiteID)] = u.Source
	}
	for _, as := range pl.Assignments {
		if as.Reserve {
			fmt.Fprintf(tw, "  %s\t%s\treserve: no route within reach in time\t\t\n", as.Name, from[as.UnitID])
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.5f,%.5f\t%s (+%.0f s)\t%.1f%%\n", as.Name, from[as.UnitID], as.At.Lat, as.At.Lon,
			as.Arrival.In(zone).Format("15:04:05"), as.ArrivalS, 100*as.Share)
	}
	tw.Flush()
}
