package cap

import (
	"fmt"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// AreaBand is one reachability area of an alert: where the attackers can
// be Minutes after leaving From.
type AreaBand struct {
	Minutes  float64
	Polygons [][]convoi.LatLon
}

// IncidentAlertInput is everything an incident alert may say. It has no
// field for a route, a departure time or a plan: an alert cannot carry
// them.
type IncidentAlertInput struct {
	// Sender identifies the issuing control room (no spaces or commas),
	// SenderName names it for people.
	Sender, SenderName string
	// Exercise marks a drill or the demo (status Exercise, not Actual).
	Exercise bool
	Incident *convoi.Incident
	// From is where the areas start: the attack point, or the latest
	// confident sighting; FromLabel says which, for people.
	From      convoi.LatLon
	FromLabel string
	// Since is when the fugitives were at From; the areas' descriptions
	// give it in Zone.
	Since time.Time
	Areas []AreaBand
	// LatestSighting, when not nil, is described in the alert.
	LatestSighting *convoi.Sighting
	// Zone is the time zone the text gives times in (UTC when nil).
	Zone *time.Location
	// ValidFor is how long the alert holds after it is sent (default 1 h).
	ValidFor time.Duration
}

// DefaultInstructions are given when the commander wrote none.
const DefaultInstructions = "Look out for the vehicles sought in the area. Report any sighting to the issuing control room at once, with place, time and direction. Do not engage alone: the attackers are armed and dangerous."

// Identifier returns the CAP identifier of incident id's alert at version v.
func Identifier(sender string, id convoi.IncidentID, v int) string {
	return fmt.Sprintf("%s.incident-%d.v%d", sender, id, v)
}

// IncidentAlert builds the alert for the incident as it stands (its
// Version): msgType Alert for the declaration (version 1), Update for each
// later version, Cancel once the incident is closed; updates and the
// cancel reference the declaration's alert. Scope is Restricted to the
// partner police and gendarmerie forces.
func IncidentAlert(in IncidentAlertInput) (*Alert, error) {
	inc := in.Incident
	if inc == nil || inc.ID == 0 || inc.Version < 1 {
		return nil, convoi.Errorf(convoi.EINVALID, "A stored incident is required for an alert.")
	}
	if in.Sender == "" || strings.ContainsAny(in.Sender, " \t\r\n,<&") {
		return nil, convoi.Errorf(convoi.EINVALID, "The alert sender must be non-empty without spaces, commas, < or &.")
	}
	zone := in.Zone
	if zone == nil {
		zone = time.UTC
	}
	valid := in.ValidFor
	if valid <= 0 {
		valid = time.Hour
	}
	sent := inc.UpdatedAt.In(zone).Truncate(time.Second)
	a := &Alert{
		Identifier:  Identifier(in.Sender, inc.ID, inc.Version),
		Sender:      in.Sender,
		Sent:        Time{sent},
		Status:      "Actual",
		MsgType:     "Alert",
		Scope:       "Restricted",
		Restriction: "Police and gendarmerie partner forces only. Not for publication.",
		Incidents:   fmt.Sprintf("%s.incident-%d", in.Sender, inc.ID),
	}
	if in.Exercise {
		a.Status = "Exercise"
		a.Note = "Exercise: not a real incident."
	}
	if inc.Version > 1 {
		a.MsgType = "Update"
		first := Time{inc.CreatedAt.In(zone).Truncate(time.Second)}
		b, _ := first.MarshalText()
		a.References = fmt.Sprintf("%s,%s,%s", in.Sender, Identifier(in.Sender, inc.ID, 1), b)
	}
	if inc.State == convoi.IncidentClosed {
		a.MsgType = "Cancel"
	}
	place := inc.PlaceName
	if place == "" {
		place = fmt.Sprintf("%.5f,%.5f", inc.Place.Lat, inc.Place.Lon)
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "Attack on a prisoner escort at %s, %s. The attackers fled by car.", place, inc.AttackAt.In(zone).Format("15:04 MST, 2 Jan 2006"))
	if len(inc.VehiclesSought) > 0 {
		fmt.Fprintf(&desc, " Vehicles sought: %s.", strings.Join(inc.VehiclesSought, "; "))
	}
	if s := in.LatestSighting; s != nil {
		where := s.PlaceName
		if where == "" {
			where = fmt.Sprintf("%.5f,%.5f", s.Place.Lat, s.Place.Lon)
		}
		fmt.Fprintf(&desc, " Latest sighting: %s at %s (confidence %.0f%%).", where, s.Time.In(zone).Format("15:04 MST"), s.Confidence*100)
		if s.Note != "" {
			fmt.Fprintf(&desc, " %s", s.Note)
		}
	}
	instr := inc.Instructions
	if instr == "" {
		instr = DefaultInstructions
	}
	info := Info{
		Language:     "en",
		Category:     []string{"Security"},
		Event:        "Attack on a prisoner escort",
		ResponseType: []string{"Monitor"},
		Urgency:      "Immediate",
		Severity:     "Severe",
		Certainty:    "Observed",
		Audience:     "Police and gendarmerie units",
		Effective:    &Time{sent},
		Expires:      &Time{sent.Add(valid)},
		SenderName:   in.SenderName,
		Headline:     "Escort attacked near " + place + ": vehicles sought",
		Description:  desc.String(),
		Instruction:  instr,
	}
	if a.MsgType == "Cancel" {
		info.ResponseType = []string{"AllClear"}
		info.Urgency, info.Certainty = "Past", "Observed"
		info.Headline = "Incident closed near " + place
	}
	for _, v := range inc.VehiclesSought {
		info.Parameter = append(info.Parameter, NameValue{ValueName: "vehicleSought", Value: v})
	}
	for _, b := range in.Areas {
		desc := fmt.Sprintf("Reachable by car within %g min of %s", b.Minutes, in.FromLabel)
		if !in.Since.IsZero() {
			desc += " at " + in.Since.In(zone).Format("15:04 MST")
		}
		ar := Area{AreaDesc: desc}
		for _, ring := range b.Polygons {
			if len(ring) >= 3 {
				ar.Polygon = append(ar.Polygon, Polygon(ring))
			}
		}
		if len(ar.Polygon) > 0 {
			info.Area = append(info.Area, ar)
		}
	}
	if len(info.Area) == 0 {
		// No polygon (no road reached): the attack point and 1 km.
		info.Area = []Area{{AreaDesc: "Around " + place, Circle: []string{fmt.Sprintf("%.5f,%.5f 1", in.From.Lat, in.From.Lon)}}}
	}
	a.Info = []Info{info}
	return a, nil
}
