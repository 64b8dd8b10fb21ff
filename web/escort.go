package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// checkDeparture holds release and start to the assessment in force and to
// the plan. It refuses (ECONFLICT, listing every problem) a crew or vehicles
// that do not meet the latest assessment's requirements; at release also
// officers or vehicles held by another committed movement at an overlapping
// time or based more than convoi.ServiceRadiusM from both ends; at start
// also a start outside the drawn departure's tolerance (convoi.StartWindow).
//
// With override, a commander lets the problems through: the reason is
// required and the problems are recorded with the transition
// (Transition.Override). Any other role asking for an override is EFORBIDDEN.
func (s *Server) checkDeparture(ctx context.Context, m *convoi.Movement, a convoi.Action, override bool, req *convoi.TransitionRequest) error {
	u := convoi.UserFromContext(ctx)
	if override {
		if !u.HasRole(convoi.RoleCommander) {
			return convoi.Errorf(convoi.EFORBIDDEN, "Only a commander may override the checks of %s.", a)
		}
		if strings.TrimSpace(req.Reason) == "" {
			return convoi.Errorf(convoi.EINVALID, "A reason is required to override the checks of %s.", a)
		}
	}
	problems, err := s.escortProblems(ctx, m, a == convoi.ActionRelease)
	if err != nil {
		return err
	}
	if a == convoi.ActionStart {
		// What a commander overrode at release is on record and stands;
		// anything new (a newer assessment, a changed fleet) is raised again.
		if problems, err = s.notOverridden(ctx, m, problems); err != nil {
			return err
		}
		problems = append(problems, s.slotProblemsFor(ctx, m)...)
	}
	if len(problems) == 0 {
		return nil
	}
	if override {
		req.Override = strings.Join(problems, "; ")
		return nil
	}
	fix := "Assess the movement again or change its crew or vehicles (PATCH)"
	if a == convoi.ActionStart {
		fix = "Change the crew or vehicles, or start within the window"
	}
	return convoi.Errorf(convoi.ECONFLICT, "Cannot %s movement %s: %s. %s, or a commander may override with a reason.",
		a, m.Ref, strings.Join(problems, "; "), fix)
}

// notOverridden drops the problems that the movement's latest release
// transition overrode.
func (s *Server) notOverridden(ctx context.Context, m *convoi.Movement, problems []string) ([]string, error) {
	if len(problems) == 0 {
		return problems, nil
	}
	ts, err := s.MovementService.FindTransitions(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	overridden := map[string]bool{}
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Action == convoi.ActionRelease {
			for _, p := range strings.Split(ts[i].Override, "; ") {
				overridden[p] = true
			}
			break
		}
	}
	var out []string
	for _, p := range problems {
		if !overridden[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// slotProblems reports a start outside the drawn departure's tolerance.
func (s *Server) slotProblems(m *convoi.Movement) []string {
	if m.PlannedDeparture == nil {
		return []string{"no departure was drawn"}
	}
	dep := *m.PlannedDeparture
	from, to := convoi.StartWindow(dep)
	now := s.Now()
	f := "15:04 UTC"
	if y, m, d := dep.UTC().Date(); y != now.UTC().Year() || m != now.UTC().Month() || d != now.UTC().Day() {
		f = "Mon 2 Jan 15:04 UTC" // not today: name the day
	}
	switch {
	case now.Before(from):
		return []string{fmt.Sprintf("the drawn departure is %s, %s from now; the escort may start from %s (%s before it)",
			dep.UTC().Format(f), roundDuration(dep.Sub(now)), from.UTC().Format(f), roundDuration(convoi.StartEarly))}
	case now.After(to):
		return []string{fmt.Sprintf("the drawn departure was %s, %s ago; the escort may start until %s (%s after it)",
			dep.UTC().Format(f), roundDuration(now.Sub(dep)), to.UTC().Format(f), roundDuration(convoi.StartLate))}
	}
	return nil
}

// roundDuration writes d for people: "21 min", "3 h", "33 h 2 min".
func roundDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// escortProblems lists what the movement's crew and vehicles lack for the
// assessment in force and, with availability, who of them is busy
// elsewhere or based too far away.
func (s *Server) escortProblems(ctx context.Context, m *convoi.Movement, availability bool) ([]string, error) {
	var problems []string
	var as *convoi.Assessment
	if s.AssessmentService == nil {
		problems = append(problems, "no assessment can be read on this server, so the escort cannot be checked")
	} else {
		list, err := s.AssessmentService.FindAssessments(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			problems = append(problems, "no risk assessment is in force, so the escort cannot be checked")
		} else {
			as = list[0]
		}
	}
	officers := make([]*convoi.Officer, 0, len(m.Crew))
	for _, id := range m.Crew {
		o, err := s.OfficerService.FindOfficerByID(ctx, id)
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			problems = append(problems, fmt.Sprintf("officer %d no longer exists", id))
			continue
		} else if err != nil {
			return nil, err
		}
		officers = append(officers, o)
	}
	vehicles := make([]*convoi.Vehicle, 0, len(m.Vehicles))
	for _, id := range m.Vehicles {
		v, err := s.VehicleService.FindVehicleByID(ctx, id)
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			problems = append(problems, fmt.Sprintf("vehicle %d no longer exists", id))
			continue
		} else if err != nil {
			return nil, err
		}
		vehicles = append(vehicles, v)
	}
	if as != nil {
		problems = append(problems, as.Requirements().Shortfalls(len(officers), officers, vehicles)...)
	}
	if !availability {
		return problems, nil
	}
	from, err := s.SiteService.FindSiteByID(ctx, m.FromSiteID)
	if err != nil {
		return nil, err
	}
	to, err := s.SiteService.FindSiteByID(ctx, m.ToSiteID)
	if err != nil {
		return nil, err
	}
	sites := map[convoi.SiteID]*convoi.Site{from.ID: from, to.ID: to}
	serves := func(home convoi.SiteID) (bool, string, error) {
		if home == 0 {
			return false, "", nil
		}
		site, ok := sites[home]
		if !ok {
			var err error
			if site, err = s.SiteService.FindSiteByID(ctx, home); convoi.ErrorCode(err) == convoi.ENOTFOUND {
				return false, "", nil
			} else if err != nil {
				return false, "", err
			}
			sites[home] = site
		}
		return convoi.Serves(site, from, to), site.Name, nil
	}
	busy := func(f convoi.MovementFilter) ([]string, error) {
		f.Page = convoi.Page{Limit: convoi.MaxPageLimit}
		ms, _, err := s.MovementService.FindMovements(ctx, f)
		if err != nil {
			return nil, err
		}
		var refs []string
		for _, o := range ms {
			if o.ID != m.ID && o.State.Committed() && m.Overlaps(o) {
				refs = append(refs, fmt.Sprintf("%s (%s)", o.Ref, o.State))
			}
		}
		return refs, nil
	}
	radius := fmt.Sprintf("%.0f km", convoi.ServiceRadiusM/1000)
	for _, o := range officers {
		ok, home, err := serves(o.SiteID)
		if err != nil {
			return nil, err
		}
		switch {
		case home == "":
			problems = append(problems, fmt.Sprintf("officer %s has no home site", o.Name))
		case !ok:
			problems = append(problems, fmt.Sprintf("officer %s is based at %s, more than %s from either end", o.Name, home, radius))
		}
		id := o.ID
		refs, err := busy(convoi.MovementFilter{CrewMember: &id})
		if err != nil {
			return nil, err
		}
		if len(refs) > 0 {
			problems = append(problems, fmt.Sprintf("officer %s is on %s at the same time", o.Name, strings.Join(refs, ", ")))
		}
	}
	for _, v := range vehicles {
		ok, home, err := serves(v.SiteID)
		if err != nil {
			return nil, err
		}
		switch {
		case home == "":
			problems = append(problems, fmt.Sprintf("vehicle %s has no home site", v.Registration))
		case !ok:
			problems = append(problems, fmt.Sprintf("vehicle %s is based at %s, more than %s from either end", v.Registration, home, radius))
		}
		id := v.ID
		refs, err := busy(convoi.MovementFilter{Vehicle: &id})
		if err != nil {
			return nil, err
		}
		if len(refs) > 0 {
			problems = append(problems, fmt.Sprintf("vehicle %s is on %s at the same time", v.Registration, strings.Join(refs, ", ")))
		}
	}
	return problems, nil
}
