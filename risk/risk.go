// Package risk assesses the risk of a detainee movement and derives the
// escort it needs: level 1-4, crew, qualifications, vehicle class, whether
// the convoy may stop, and whether the hearing should rather be held by video
// or at the prison.
//
// Every number comes from a versioned Policy (rules as data, see
// docs/risk.md); Assess is a pure function of the policy and its Input, with
// the time injected, so that an assessment can be replayed and explained.
// Service wires Assess to the stores and re-assesses upcoming movements when
// new intelligence arrives.
//
// risk imports the convoi domain and the standard library only: the road
// network is reached through the RouteFacter interface that the caller
// satisfies, and the stores through convoi's service interfaces.
package risk

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// ChokepointOther is the policy's weight for chokepoint kinds it does not name.
const ChokepointOther = "other"

// Facts are what the road network knows about the fastest route between two
// points, as far as risk is concerned.
type Facts struct {
	// ExposureS is the time on the road, in seconds.
	ExposureS float64 `json:"exposure_s"`
	// DistanceM is the route length in metres (for the evidence text only).
	DistanceM float64 `json:"distance_m"`
	// Chokepoints counts the places on the route where the convoy is forced
	// to slow down or is channelled, by kind: "toll_booth", "bridge",
	// "tunnel", "ramp", "roundabout", "traffic_signals", "level_crossing"...
	// Kinds the policy does not name weigh as its "other" entry.
	Chokepoints map[string]int `json:"chokepoints"`
	// Estimated is set when the facts are a straight-line estimate rather
	// than a computed route; chokepoints are then unknown and the policy's
	// route_fallback.chokepoint_value is assumed.
	Estimated bool `json:"estimated"`
	// BeyondMapM is set when the destination lies beyond the road map: the
	// route then ends where the map does, closest to the destination, and
	// BeyondMapM is the straight-line distance left. ExposureS and DistanceM
	// cover the road route only; ExtendBeyondMap adds the estimate of the
	// rest under the policy's route_fallback rules.
	BeyondMapM float64 `json:"beyond_map_m,omitempty"`
	// BeyondMapS is the estimated time beyond the map, once ExtendBeyondMap
	// has added it to ExposureS.
	BeyondMapS float64 `json:"beyond_map_s,omitempty"`
}

// RouteFacter gives the route facts between two points. The road engine
// (roadnet) satisfies it through a small adapter in the wiring code. It must
// be safe for concurrent use.
type RouteFacter interface {
	RouteFacts(ctx context.Context, from, to convoi.LatLon) (Facts, error)
}

// RouteFactsFunc adapts a function to RouteFacter.
type RouteFactsFunc func(ctx context.Context, from, to convoi.LatLon) (Facts, error)

// RouteFacts calls f.
func (f RouteFactsFunc) RouteFacts(ctx context.Context, from, to convoi.LatLon) (Facts, error) {
	return f(ctx, from, to)
}

// EstimateFacts returns straight-line facts between two sites' entry points
// under the policy's route_fallback rules, for when no road network answers.
func EstimateFacts(p *Policy, from, to convoi.LatLon) Facts {
	d := from.DistanceM(to) * p.RouteFallback.DetourFactor
	return Facts{
		DistanceM: d,
		ExposureS: d / (p.RouteFallback.SpeedKmh / 3.6),
		Estimated: true,
	}
}

// ExtendBeyondMap adds to f the estimate of the way beyond the map, if any,
// under the policy's route_fallback rules (detour factor, speed). The
// chokepoints stay those of the road route: the ones beyond are unknown.
func ExtendBeyondMap(p *Policy, f Facts) Facts {
	if f.Estimated || f.BeyondMapM <= 0 || f.BeyondMapS > 0 {
		return f
	}
	d := f.BeyondMapM * p.RouteFallback.DetourFactor
	f.BeyondMapS = d / (p.RouteFallback.SpeedKmh / 3.6)
	f.DistanceM += d
	f.ExposureS += f.BeyondMapS
	return f
}

// Input is everything one assessment depends on. Assess reads it and never
// keeps it.
type Input struct {
	Movement convoi.Movement
	Detainee convoi.Detainee
	// Intel holds the detainee's intelligence entries; entries older than the
	// policy's max_age_days are skipped, entries about another detainee are
	// an error.
	Intel []*convoi.Intel
	From  convoi.Site
	To    convoi.Site
	// Route holds the facts of the fastest route from From to To.
	Route Facts
	// Announced overrides whether the hearing is publicly announced; nil
	// takes the policy's default for the movement's purpose. (Movement has
	// no such field yet.)
	Announced *bool
	// Now is the time of the assessment: intelligence ages against it and it
	// becomes Assessment.AssessedAt.
	Now time.Time
}

// Assess scores a movement under policy p and returns the assessment (not
// stored: ID, AssessedBy are left zero). Points of the listed factors add up
// to Score. It returns an EINVALID error for an inconsistent input (zero
// time, mismatched detainee or sites) and never panics on a policy from
// ParsePolicy. It is safe for concurrent use.
func Assess(p *Policy, in Input) (convoi.Assessment, error) {
	var zero convoi.Assessment
	if p == nil {
		return zero, convoi.Errorf(convoi.EINVALID, "Risk assessment needs a policy.")
	}
	if in.Now.IsZero() {
		return zero, convoi.Errorf(convoi.EINVALID, "Risk assessment needs the current time.")
	}
	m, d := &in.Movement, &in.Detainee
	if m.DetaineeID != d.ID {
		return zero, convoi.Errorf(convoi.EINVALID, "Movement %s is about detainee %d, not %d.", m.Ref, m.DetaineeID, d.ID)
	}
	if m.FromSiteID != in.From.ID || m.ToSiteID != in.To.ID {
		return zero, convoi.Errorf(convoi.EINVALID, "Movement %s sites do not match the sites given.", m.Ref)
	}

	raw := map[string]*rawFactor{}
	set := func(code string, v float64, evidence ...string) {
		raw[code] = &rawFactor{value: v, evidence: evidence}
	}

	// The detainee's record.
	r := d.Risk
	set(FactorEscapeHistory, float64(r.EscapeHistory), countText(r.EscapeHistory, "past escape"))
	set(FactorEscapeAttempts, float64(r.EscapeAttempts), countText(r.EscapeAttempts, "past escape attempt"))
	set(FactorViolence, float64(r.Violence), fmt.Sprintf("violence %d/3", r.Violence))
	set(FactorOrganisedCrime, boolValue(r.OrganisedCrime), "links to organised crime on record")
	set(FactorNotoriety, float64(r.Notoriety), fmt.Sprintf("notoriety %d/3", r.Notoriety))
	set(FactorDPS, boolValue(r.DPS), "détenu particulièrement signalé (DPS)")

	// Intelligence.
	ids, err := scoreIntel(p, in, raw)
	if err != nil {
		return zero, err
	}

	// The movement.
	pr, ok := p.Purposes[m.Purpose]
	if !ok {
		return zero, convoi.Errorf(convoi.EINVALID, "Risk policy %s has no rule for purpose %q.", p.Version, m.Purpose)
	}
	set(FactorPurpose, pr.Value, fmt.Sprintf("purpose %s", m.Purpose))
	set(FactorExposure, math.Max(in.Route.ExposureS, 0), exposureText(in.Route))
	set(FactorChokepoints, 0)
	scoreChokepoints(p, in.Route, raw[FactorChokepoints])
	dv, ok := p.Destinations[in.To.Kind]
	if !ok {
		return zero, convoi.Errorf(convoi.EINVALID, "Risk policy %s has no rule for destination kind %q.", p.Version, in.To.Kind)
	}
	set(FactorDestination, dv, fmt.Sprintf("destination %s: %s", in.To.Kind, in.To.Name))
	announced := pr.Announced
	how := "by default for " + string(m.Purpose)
	if in.Announced != nil {
		announced, how = *in.Announced, "as stated by the requester"
	}
	set(FactorPublicHearing, boolValue(announced), "hearing publicly announced ("+how+")")

	// Points, in the policy's order.
	a := convoi.Assessment{
		MovementID:    m.ID,
		IntelIDs:      ids,
		PolicyVersion: p.Version,
		AssessedAt:    in.Now,
		Factors:       []convoi.Factor{},
	}
	floor := convoi.MinEscortLevel
	for _, fr := range p.Factors {
		rf := raw[fr.Code]
		if rf == nil {
			continue
		}
		pts := round2(fr.Weight * fr.Shape.Apply(rf.value, fr.Scale))
		var floorText string
		for _, fl := range p.Floors {
			if fl.Factor == fr.Code && rf.value >= fl.MinValue && fl.Level > floor {
				floor, floorText = fl.Level, fmt.Sprintf("floor: level %d at least. %s", fl.Level, fl.Reason)
			}
		}
		if pts <= 0 && floorText == "" {
			continue
		}
		ev := slices.Clone(rf.evidence)
		if floorText != "" {
			ev = append(ev, floorText)
		}
		a.Factors = append(a.Factors, convoi.Factor{
			Code: fr.Code, Label: fr.Label, Weight: fr.Weight, Value: round4(rf.value), Points: pts, Evidence: ev,
		})
		a.Score += pts
	}
	a.Score = round2(a.Score)

	// Level, escort and recommendation.
	a.Level = 1
	for _, l := range p.Levels {
		if a.Score >= l.MinScore && l.Level > a.Level {
			a.Level = l.Level
		}
	}
	a.Level = max(a.Level, floor)
	lr := p.Level(a.Level)
	if lr == nil {
		return zero, convoi.Errorf(convoi.EINVALID, "Risk policy %s has no escort level %d.", p.Version, a.Level)
	}
	a.LevelMeaning = lr.Meaning
	a.MinCrew = lr.MinCrew
	a.Qualifications = slices.Clone(lr.Qualifications)
	if a.Qualifications == nil {
		a.Qualifications = []convoi.QualRequirement{}
	}
	a.ArmedSupport = lr.ArmedSupport
	a.MustNotStop = lr.MustNotStop
	a.VehicleClass = convoi.VehicleCellularVan
	if a.Score >= p.Vehicle.ArmouredMinScore {
		a.VehicleClass = convoi.VehicleArmouredVan
	}
	a.Recommendation = convoi.RecommendEscort
	for _, rr := range p.Recommendations {
		if a.Score >= rr.MinScore && slices.Contains(rr.Purposes, m.Purpose) {
			a.Recommendation = rr.Recommendation
			break
		}
	}
	return a, nil
}

type rawFactor struct {
	value    float64
	evidence []string
}

// scoreIntel adds every usable entry's strength to the factor its kind feeds
// and returns the IDs of the entries considered, strongest first.
func scoreIntel(p *Policy, in Input, raw map[string]*rawFactor) ([]convoi.IntelID, error) {
	type scored struct {
		in       *convoi.Intel
		strength float64
		text     string
	}
	for _, c := range intelFactors {
		raw[c] = &rawFactor{}
	}
	maxAge := time.Duration(p.Intelligence.MaxAgeDays * 24 * float64(time.Hour))
	var all []scored
	for _, e := range in.Intel {
		if e == nil {
			continue
		}
		if e.DetaineeID != in.Detainee.ID {
			return nil, convoi.Errorf(convoi.EINVALID, "Intelligence %d is about detainee %d, not %d.", e.ID, e.DetaineeID, in.Detainee.ID)
		}
		age := max(in.Now.Sub(e.ObservedAt), 0) // observed "in the future": clock skew, treat as fresh
		if age > maxAge {
			continue
		}
		kr, ok := p.Intelligence.Kinds[e.Kind]
		if !ok || !e.Grading.Valid() {
			return nil, convoi.Errorf(convoi.EINVALID, "Intelligence %d has an unknown kind %q or grading %q.", e.ID, e.Kind, e.Grading)
		}
		rel := p.Intelligence.Reliability[string(e.Grading[:1])]
		cred := p.Intelligence.Credibility[string(e.Grading[1:])]
		days := age.Hours() / 24
		decay := math.Exp2(-days / kr.HalfLifeDays)
		s := kr.Strength * rel * cred * decay
		text := fmt.Sprintf("intel #%d %s graded %s, observed %s (%s ago): %q; strength %.2f x reliability %.2f x credibility %.2f x recency %.2f = %.3f",
			e.ID, e.Kind, e.Grading, e.ObservedAt.UTC().Format("2006-01-02 15:04 UTC"), ageText(age), clip(e.Text, 120),
			kr.Strength, rel, cred, decay, s)
		raw[kr.Factor].value += s
		all = append(all, scored{e, s, text})
	}
	slices.SortStableFunc(all, func(a, b scored) int { return cmp.Compare(b.strength, a.strength) })
	ids := make([]convoi.IntelID, 0, len(all))
	for _, s := range all {
		ids = append(ids, s.in.ID)
		f := raw[p.Intelligence.Kinds[s.in.Kind].Factor]
		f.evidence = append(f.evidence, s.text)
	}
	return ids, nil
}

func scoreChokepoints(p *Policy, f Facts, rf *rawFactor) {
	if f.Estimated {
		rf.value = p.RouteFallback.ChokepointValue
		rf.evidence = []string{fmt.Sprintf("no computed route: chokepoints unknown, %.2f assumed by policy", rf.value)}
		return
	}
	kinds := make([]string, 0, len(f.Chokepoints))
	for k, n := range f.Chokepoints {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		w, ok := p.Chokepoints[k]
		if !ok {
			w = p.Chokepoints[ChokepointOther]
		}
		n := f.Chokepoints[k]
		rf.value += float64(n) * w
		rf.evidence = append(rf.evidence, fmt.Sprintf("%d x %s (weight %.2f)", n, k, w))
	}
	if len(kinds) == 0 {
		rf.evidence = []string{"no chokepoint on the fastest route"}
	}
	if f.BeyondMapM > 0 {
		rf.evidence = append(rf.evidence, fmt.Sprintf("on the map only: the last %.1f km beyond it are not counted", f.BeyondMapM/1000))
	}
}

func exposureText(f Facts) string {
	how := "fastest route"
	switch {
	case f.Estimated:
		how = "estimated from the straight-line distance"
	case f.BeyondMapS > 0:
		how = fmt.Sprintf("fastest route to the edge of the map, then %.0f min over %.1f km straight-line estimated beyond it", f.BeyondMapS/60, f.BeyondMapM/1000)
	}
	return fmt.Sprintf("%.0f min on the road over %.1f km (%s)", f.ExposureS/60, f.DistanceM/1000, how)
}

func countText(n int, what string) string {
	if n == 1 {
		return "1 " + what + " on record"
	}
	return fmt.Sprintf("%d %ss on record", n, what)
}

func ageText(d time.Duration) string {
	switch h := d.Hours(); {
	case h < 1:
		return fmt.Sprintf("%.0f min", d.Minutes())
	case h < 48:
		return fmt.Sprintf("%.0f h", h)
	default:
		return fmt.Sprintf("%.0f days", h/24)
	}
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
