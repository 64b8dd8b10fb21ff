package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/cap"
)

// The demo's attack: the Monaco-Nice escort is hit at the La Turbie toll
// plaza on the A8 (where the demo's story shows it is predictable), and a
// grey SUV is seen on the Basse Corniche at Cap-d'Ail, eastbound towards
// Monaco, five minutes later: where and when about 150 of the 1000 sampled
// escape routes pass (from either attack point), so the sighting keeps
// them and re-plans on them.
var (
	demoAttackPlace = convoi.LatLon{Lat: 43.7445, Lon: 7.3755}
	// demoRammingPlaceName is where the live ramming happens (the
	// simulator's rammingSpot on the approach to the La Turbie booths).
	demoRammingPlaceName = "A8 La Turbie junction, before the toll plaza"
	demoSightingPlace    = convoi.LatLon{Lat: 43.7254, Lon: 7.3893}
)

// demoSightingAfter is how long after the attack the demo's sighting is.
const demoSightingAfter = 5 * time.Minute

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
	attackAt := a.Now().Add(-demoSightingAfter - 2*time.Minute).Truncate(time.Second) // the sighting is then in the past
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
	fmt.Fprintf(out, "Response: an exercise, as if the %s escort had been attacked at the %s at %s; the commander declares incident %d.\n",
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

	seenAt := attackAt.Add(demoSightingAfter)
	sg := &convoi.Sighting{IncidentID: inc.ID, Place: demoSightingPlace, PlaceName: "Basse Corniche, Cap-d'Ail", Time: seenAt,
		Confidence: 0.9, Note: "Grey SUV eastbound towards Monaco at speed, seen by a bus driver."}
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
	fmt.Fprintf(out, "Sighting at %s on the %s (confidence %.0f%%): %d of %d routes kept (%s)",
		seenAt.In(zone).Format("15:04 MST"), sg.PlaceName, sg.Confidence*100, pl2.RoutesKept, pl2.RoutesSampled, keptWhy(sg.Confidence))
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

// keptWhy says which routes a sighting of confidence c keeps: those that
// pass it, and each of the others with probability 1 - c (the doubt), so
// the count is not "the routes consistent with it".
func keptWhy(c float64) string {
	if c >= 1 {
		return "those passing there in time"
	}
	return fmt.Sprintf("those passing there in time, and %.0f%% of the others: the doubt", 100*(1-c))
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
			fmt.Fprintf(tw, "  %s\t%s\treserve: nothing left to cut in time, stays put\t\t\n", as.Name, from[as.UnitID])
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.5f,%.5f\t%s (+%.0f s)\t%.1f%%\n", as.Name, from[as.UnitID], as.At.Lat, as.At.Lon,
			as.Arrival.In(zone).Format("15:04:05"), as.ArrivalS, 100*as.Share)
	}
	tw.Flush()
}

// respondToAttack continues the live ramming scenario into the response,
// as a commander at the control room would: the incident is declared from
// the monitor's attack alarm through the HTTP API (which resolves the
// alarm as incident_declared and moves the movement to incident), the
// reachability areas and the roadblock plan are computed, and a sighting on
// the Basse Corniche, recorded through the API, re-plans. It returns the
// text to print.
func (a *App) respondToAttack(ctx context.Context, al *convoi.Alarm, password string) (string, error) {
	r := a.Response
	if r == nil {
		return "Response: not available on this road graph (no escape node).\n", nil
	}
	var out strings.Builder
	api := &demoAPI{base: a.URL()}
	if err := api.login(ctx, "commander", password); err != nil {
		return "", err
	}
	var inc convoi.Incident
	// The monitor names the place by the route's chokepoint there ("ramp (…)"
	// on the approach to the La Turbie booths); the commander names it for
	// the partner forces' alert.
	if err := api.do(ctx, "POST", "/api/v1/incidents", map[string]any{
		"alarm_id":        al.ID,
		"place_name":      demoRammingPlaceName,
		"vehicles_sought": []string{"dark grey Peugeot 5008, plates AB-123-CD (stolen)"},
		"instructions":    "Set the roadblocks of the plan; report any sighting to the CIC at once. Do not engage alone.",
		"note":            "Ramming confirmed by the crew: incident declared.",
	}, &inc); err != nil {
		return "", fmt.Errorf("declare the incident from alarm #%d: %w", al.ID, err)
	}
	zone := demoZone()
	fmt.Fprintf(&out, "RESPONSE: the commander declares incident %d from alarm #%d (%s at %s, %s); the alarm is resolved as incident declared.\n",
		inc.ID, al.ID, al.Rule, inc.PlaceName, inc.AttackAt.In(zone).Format("15:04:05 MST"))
	start := time.Now()
	re, err := r.Reachability(ctx, &inc, nil)
	if err != nil {
		return "", err
	}
	planAt := inc.AttackAt.Add(time.Minute)
	pl, err := r.Plan(ctx, &inc, nil, planAt, 0)
	if err != nil {
		return "", err
	}
	took := time.Since(start)
	var bands []string
	for _, b := range re.Bands {
		bands = append(bands, fmt.Sprintf("%g min %.1f km²", b.Minutes, b.AreaKm2))
	}
	fmt.Fprintf(&out, "  Reachable by car from the attack: %s.\n", strings.Join(bands, ", "))
	printRoadblocks(&out, pl, planAt, zone)
	fmt.Fprintf(&out, "  Reachability and plan ready in %d ms.\n", took.Milliseconds())

	// The sighting, demoSightingAfter the attack. The API takes it (and
	// re-plans) if that is not in the server's future; a simulation sped up
	// runs ahead of the server's clock, and then the sighting goes to the
	// incident service the API uses and the responder re-plans at its time.
	seenAt := inc.AttackAt.Add(demoSightingAfter)
	viaAPI := !inc.AttackAt.After(a.Now())
	if viaAPI && seenAt.After(a.Now()) {
		seenAt = a.Now().Truncate(time.Second)
	}
	const seenPlace = "Basse Corniche, Cap-d'Ail"
	var pl2 *convoi.InterceptionPlan
	how := "through the API"
	start = time.Now()
	if viaAPI {
		var res struct {
			Plan      *convoi.InterceptionPlan `json:"plan"`
			PlanError string                   `json:"plan_error"`
		}
		if err := api.do(ctx, "POST", fmt.Sprintf("/api/v1/incidents/%d/sightings", inc.ID), map[string]any{
			"place": demoSightingPlace, "place_name": seenPlace, "time": seenAt,
			"confidence": 0.9, "note": "Grey SUV eastbound towards Monaco at speed, seen by a bus driver.",
		}, &res); err != nil {
			return "", fmt.Errorf("sighting: %w", err)
		}
		if res.Plan == nil {
			fmt.Fprintf(&out, "Sighting at %s on the Basse Corniche recorded; no re-plan: %s\n", seenAt.In(zone).Format("15:04:05 MST"), res.PlanError)
			return out.String(), nil
		}
		pl2 = res.Plan
	} else {
		how = "at the simulation's time"
		cctx := convoi.NewContextWithUser(ctx, &convoi.User{ID: inc.DeclaredBy, Role: convoi.RoleCommander})
		if u, err := a.S.Users.FindUserByID(ctx, inc.DeclaredBy); err == nil {
			cctx = convoi.NewContextWithUser(ctx, u)
		}
		sg := &convoi.Sighting{IncidentID: inc.ID, Place: demoSightingPlace, PlaceName: seenPlace, Time: seenAt,
			Confidence: 0.9, Note: "Grey SUV eastbound towards Monaco at speed, seen by a bus driver."}
		if err := a.S.Incidents.AddSighting(cctx, sg); err != nil {
			return "", fmt.Errorf("sighting: %w", err)
		}
		cur, err := a.S.Incidents.FindIncidentByID(cctx, inc.ID)
		if err != nil {
			return "", err
		}
		if pl2, err = r.Plan(cctx, cur, []*convoi.Sighting{sg}, seenAt.Add(30*time.Second), 0); err != nil {
			return "", err
		}
	}
	took = time.Since(start)
	fmt.Fprintf(&out, "Sighting at %s on the Basse Corniche (confidence 90%%): %d of %d routes kept (%s)",
		seenAt.In(zone).Format("15:04:05"), pl2.RoutesKept, pl2.RoutesSampled, keptWhy(0.9))
	if pl2.RoutesAdded > 0 {
		fmt.Fprintf(&out, ", %d more sampled onwards from the sighting", pl2.RoutesAdded)
	}
	fmt.Fprintf(&out, "; re-planned %s in %d ms:\n", how, took.Milliseconds())
	printRoadblocks(&out, pl2, seenAt.Add(30*time.Second), zone)
	return out.String(), nil
}

// demoAPI is a client of the demo's own HTTP API on loopback.
type demoAPI struct {
	base, token string
}

func (c *demoAPI) login(ctx context.Context, user, password string) error {
	var s struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, "POST", "/api/v1/session", map[string]string{"username": user, "password": password}, &s); err != nil {
		return fmt.Errorf("sign in as %s: %w", user, err)
	}
	c.token = s.Token
	return nil
}

func (c *demoAPI) do(ctx context.Context, method, path string, body, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal(data, &e)
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, e.Error.Message)
	}
	return json.Unmarshal(data, into)
}
