package risk_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/risk"
)

// The Incarville case: a detainee with an organised-crime link, taken from
// Évreux prison to an investigating judge in Rouen, through the Incarville
// toll plaza on the A13.
var (
	incarvilleNow         = time.Date(2024, 5, 14, 6, 0, 0, 0, time.UTC)
	incarvilleAppointment = time.Date(2024, 5, 14, 9, 30, 0, 0, time.UTC)

	evreux = convoi.Site{ID: 1, Kind: convoi.SiteKindPrison, Name: "Centre pénitentiaire d'Évreux",
		Location: convoi.LatLon{Lat: 49.0247, Lon: 1.1508}, Entry: convoi.LatLon{Lat: 49.0247, Lon: 1.1508}}
	rouenCourt = convoi.Site{ID: 2, Kind: convoi.SiteKindCourt, Name: "Palais de justice de Rouen",
		Location: convoi.LatLon{Lat: 49.4431, Lon: 1.0937}, Entry: convoi.LatLon{Lat: 49.4431, Lon: 1.0937}}
	hospital = convoi.Site{ID: 3, Kind: convoi.SiteKindHospital, Name: "CHU Charles-Nicolle",
		Location: convoi.LatLon{Lat: 49.4410, Lon: 1.1100}, Entry: convoi.LatLon{Lat: 49.4410, Lon: 1.1100}}
	rouenPrison = convoi.Site{ID: 4, Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Rouen",
		Location: convoi.LatLon{Lat: 49.4470, Lon: 1.0700}, Entry: convoi.LatLon{Lat: 49.4470, Lon: 1.0700}}

	incarvilleRoute = risk.Facts{ExposureS: 3300, DistanceM: 58000,
		Chokepoints: map[string]int{"toll_booth": 1, "ramp": 2, "roundabout": 4}}
)

func incarvilleDetainee() convoi.Detainee {
	return convoi.Detainee{ID: 10, Name: "M. A.", LegalStatus: convoi.LegalStatusRemand, SiteID: evreux.ID,
		Risk: convoi.RiskRecord{OrganisedCrime: true, Violence: 2, Notoriety: 1}}
}

func incarvilleMovement() convoi.Movement {
	return convoi.Movement{ID: 100, Ref: "EVX-2024-0514", DetaineeID: 10, FromSiteID: evreux.ID, ToSiteID: rouenCourt.ID,
		Purpose: convoi.PurposeJudgeHearing, AppointmentAt: incarvilleAppointment, Requester: "Juge d'instruction, Rouen",
		State: convoi.StateRequested}
}

// incarvilleIntel is the intelligence that was not taken into account: a
// phone and a sawn cell bar found the day before, and cars seen waiting on
// the route a week before.
func incarvilleIntel() []*convoi.Intel {
	return []*convoi.Intel{
		{ID: 7, DetaineeID: 10, ObservedAt: incarvilleNow.Add(-22 * time.Hour), Grading: "B2",
			Kind: convoi.IntelEscapeTools, Text: "Phone and sawn cell bar found in his cell"},
		{ID: 5, DetaineeID: 10, ObservedAt: incarvilleNow.Add(-7 * 24 * time.Hour), Grading: "B2",
			Kind: convoi.IntelSuspiciousVehicle, Text: "Unidentified cars seen waiting near the Incarville toll plaza"},
	}
}

func incarvilleInput(intel []*convoi.Intel) risk.Input {
	return risk.Input{Movement: incarvilleMovement(), Detainee: incarvilleDetainee(), Intel: intel,
		From: evreux, To: rouenCourt, Route: incarvilleRoute, Now: incarvilleNow}
}

func medicalInput() risk.Input {
	return risk.Input{
		Movement: convoi.Movement{ID: 101, Ref: "ROU-2024-0001", DetaineeID: 11, FromSiteID: rouenPrison.ID, ToSiteID: hospital.ID,
			Purpose: convoi.PurposeMedical, AppointmentAt: incarvilleAppointment, Requester: "UCSA"},
		Detainee: convoi.Detainee{ID: 11, Name: "J. D.", LegalStatus: convoi.LegalStatusSentenced, SiteID: rouenPrison.ID},
		From:     rouenPrison, To: hospital, Now: incarvilleNow,
		Route: risk.Facts{ExposureS: 540, DistanceM: 4200, Chokepoints: map[string]int{"traffic_signals": 3}},
	}
}

func dpsInput() risk.Input {
	in := medicalInput()
	in.Movement.Purpose, in.Movement.ToSiteID, in.To = convoi.PurposeCourtAppearance, rouenCourt.ID, rouenCourt
	in.Detainee.Risk = convoi.RiskRecord{DPS: true, OrganisedCrime: true}
	return in
}

func mustAssess(tb testing.TB, p *risk.Policy, in risk.Input) convoi.Assessment {
	tb.Helper()
	a, err := risk.Assess(p, in)
	if err != nil {
		tb.Fatalf("Assess: %v", err)
	}
	return a
}

func factor(a convoi.Assessment, code string) *convoi.Factor {
	for i := range a.Factors {
		if a.Factors[i].Code == code {
			return &a.Factors[i]
		}
	}
	return nil
}

func TestAssess(t *testing.T) {
	p := risk.DefaultPolicy()
	tests := []struct {
		name           string
		in             risk.Input
		minLevel       convoi.EscortLevel
		maxLevel       convoi.EscortLevel
		vehicle        convoi.VehicleClass
		recommendation convoi.Recommendation
		factors        []string // must be listed
	}{
		{"clean low-risk medical transfer", medicalInput(), 1, 1, convoi.VehicleCellularVan, convoi.RecommendEscort,
			[]string{risk.FactorDestination, risk.FactorPurpose}},
		{"DPS and organised crime", dpsInput(), 3, 4, "", "",
			[]string{risk.FactorDPS, risk.FactorOrganisedCrime}},
		{"Incarville without the fresh intelligence", incarvilleInput(nil), 3, 3, convoi.VehicleCellularVan, convoi.RecommendEscort,
			[]string{risk.FactorOrganisedCrime, risk.FactorChokepoints, risk.FactorExposure}},
		{"Incarville with the fresh intelligence", incarvilleInput(incarvilleIntel()), 4, 4, convoi.VehicleArmouredVan, convoi.RecommendVideoHearing,
			[]string{risk.FactorOrganisedCrime, risk.FactorIntelEscape, risk.FactorIntelRoute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustAssess(t, p, tt.in)
			if a.Level < tt.minLevel || a.Level > tt.maxLevel {
				t.Errorf("level %d (score %.2f), want %d-%d; factors %+v", a.Level, a.Score, tt.minLevel, tt.maxLevel, a.Factors)
			}
			if tt.vehicle != "" && a.VehicleClass != tt.vehicle {
				t.Errorf("vehicle %s, want %s (score %.2f)", a.VehicleClass, tt.vehicle, a.Score)
			}
			if tt.recommendation != "" && a.Recommendation != tt.recommendation {
				t.Errorf("recommendation %s, want %s (score %.2f)", a.Recommendation, tt.recommendation, a.Score)
			}
			for _, c := range tt.factors {
				if f := factor(a, c); f == nil || len(f.Evidence) == 0 {
					t.Errorf("factor %s missing or without evidence: %+v", c, a.Factors)
				}
			}
			lr := p.Level(a.Level)
			if a.LevelMeaning != lr.Meaning || a.MinCrew != lr.MinCrew || a.ArmedSupport != lr.ArmedSupport || a.MustNotStop != lr.MustNotStop {
				t.Errorf("escort %+v does not follow level %d of the policy", a, a.Level)
			}
			if a.PolicyVersion != p.Version || a.MovementID != tt.in.Movement.ID || !a.AssessedAt.Equal(tt.in.Now) {
				t.Errorf("policy version %q, movement %d, assessed at %v", a.PolicyVersion, a.MovementID, a.AssessedAt)
			}
			var sum float64
			for _, f := range a.Factors {
				sum += f.Points
				if f.Points < 0 || f.Points > f.Weight+1e-9 {
					t.Errorf("factor %s: points %.2f outside [0, weight %.2f]", f.Code, f.Points, f.Weight)
				}
			}
			if math.Abs(sum-a.Score) > 1e-6 {
				t.Errorf("factor points sum to %.4f, score is %.4f", sum, a.Score)
			}
		})
	}
}

func TestAssessLevelMeanings(t *testing.T) {
	p := risk.DefaultPolicy()
	want := map[convoi.EscortLevel][]string{
		1: {"deux agents"},
		2: {"trois agents", "contrainte"},
		3: {"armée", "ne doit pas s'arrêter"},
		4: {"exceptionnelle", "police ou la gendarmerie"},
	}
	for n, words := range want {
		for _, w := range words {
			if !strings.Contains(p.Level(n).Meaning, w) {
				t.Errorf("level %d meaning %q lacks %q", n, p.Level(n).Meaning, w)
			}
		}
	}
	if l3 := p.Level(3); !l3.ArmedSupport || !l3.MustNotStop {
		t.Errorf("level 3 must have armed support and must not stop: %+v", l3)
	}
	if p.Level(1).MinCrew < 2 || p.Level(2).MinCrew < 3 {
		t.Errorf("level 1 needs at least 2 officers, level 2 at least 3")
	}
}

// The fresh intelligence is what raises the Incarville escort.
func TestAssessIncarvilleIntelRaisesLevel(t *testing.T) {
	p := risk.DefaultPolicy()
	without := mustAssess(t, p, incarvilleInput(nil))
	with := mustAssess(t, p, incarvilleInput(incarvilleIntel()))
	if with.Level <= without.Level {
		t.Fatalf("with intelligence level %d (score %.2f), without %d (score %.2f): intelligence must raise the level",
			with.Level, with.Score, without.Level, without.Score)
	}
	if !slices.Equal(with.IntelIDs, []convoi.IntelID{7, 5}) {
		t.Errorf("intel considered %v, want [7 5] (strongest first)", with.IntelIDs)
	}
	if len(without.IntelIDs) != 0 {
		t.Errorf("intel considered without intel: %v", without.IntelIDs)
	}
	esc := factor(with, risk.FactorIntelEscape)
	if esc == nil || esc.Points < 10 || !strings.Contains(strings.Join(esc.Evidence, "\n"), "sawn cell bar") {
		t.Errorf("phone and sawn bar found yesterday must weigh heavily with its evidence: %+v", esc)
	}
	route := factor(with, risk.FactorIntelRoute)
	if route == nil || route.Points < 6 || !strings.Contains(strings.Join(route.Evidence, "\n"), "#5") {
		t.Errorf("cars seen on the route a week ago must weigh: %+v", route)
	}
}

func intelPoints(tb testing.TB, p *risk.Policy, e *convoi.Intel) float64 {
	tb.Helper()
	a := mustAssess(tb, p, incarvilleInput([]*convoi.Intel{e}))
	var pts float64
	for _, c := range []string{risk.FactorIntelEscape, risk.FactorIntelRoute} {
		if f := factor(a, c); f != nil {
			pts += f.Points
		}
	}
	return pts
}

func TestAssessIntelRecencyAndGrading(t *testing.T) {
	p := risk.DefaultPolicy()
	entry := func(age time.Duration, g convoi.Grading) *convoi.Intel {
		return &convoi.Intel{ID: 1, DetaineeID: 10, ObservedAt: incarvilleNow.Add(-age), Grading: g,
			Kind: convoi.IntelPhoneFound, Text: "phone found"}
	}
	day := 24 * time.Hour
	tests := []struct {
		name             string
		stronger, weaker *convoi.Intel
	}{
		{"a day old weighs more than a month old", entry(day, "B2"), entry(30*day, "B2")},
		{"a month old weighs more than a year old", entry(30*day, "B2"), entry(360*day, "B2")},
		{"A1 weighs more than F6", entry(day, "A1"), entry(day, "F6")},
		{"B2 weighs more than E5", entry(day, "B2"), entry(day, "E5")},
		{"A1 weighs more than C3", entry(day, "A1"), entry(day, "C3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w := intelPoints(t, p, tt.stronger), intelPoints(t, p, tt.weaker)
			if !(s > w) {
				t.Errorf("stronger %.2f points, weaker %.2f", s, w)
			}
		})
	}

	t.Run("half-life halves the strength", func(t *testing.T) {
		hl := time.Duration(p.Intelligence.Kinds[convoi.IntelPhoneFound].HalfLifeDays * 24 * float64(time.Hour))
		a0 := mustAssess(t, p, incarvilleInput([]*convoi.Intel{entry(0, "A1")}))
		a1 := mustAssess(t, p, incarvilleInput([]*convoi.Intel{entry(hl, "A1")}))
		v0, v1 := factor(a0, risk.FactorIntelEscape).Value, factor(a1, risk.FactorIntelEscape).Value
		if math.Abs(v1-v0/2) > 1e-3 {
			t.Errorf("value after one half-life %.4f, fresh %.4f", v1, v0)
		}
	})
	t.Run("older than max age is not considered", func(t *testing.T) {
		old := entry(time.Duration(p.Intelligence.MaxAgeDays+1)*day, "A1")
		a := mustAssess(t, p, incarvilleInput([]*convoi.Intel{old}))
		if len(a.IntelIDs) != 0 || factor(a, risk.FactorIntelEscape) != nil {
			t.Errorf("an entry older than max_age_days was considered: %v %+v", a.IntelIDs, a.Factors)
		}
	})
	t.Run("observed in the future counts as fresh", func(t *testing.T) {
		if s, w := intelPoints(t, p, entry(-time.Hour, "B2")), intelPoints(t, p, entry(0, "B2")); s != w {
			t.Errorf("future %.2f, now %.2f", s, w)
		}
	})
}

func TestAssessRecommendation(t *testing.T) {
	p := risk.DefaultPolicy()
	hot := incarvilleInput(incarvilleIntel())
	hot.Detainee.Risk.DPS = true
	hot.Detainee.Risk.EscapeHistory = 2
	tests := []struct {
		name    string
		in      risk.Input
		purpose convoi.Purpose
		want    convoi.Recommendation
	}{
		{"routine hearing: escort", incarvilleInput(nil), convoi.PurposeJudgeHearing, convoi.RecommendEscort},
		{"above the video threshold: video hearing", incarvilleInput(incarvilleIntel()), convoi.PurposeJudgeHearing, convoi.RecommendVideoHearing},
		{"above the magistrate threshold: magistrate at prison", hot, convoi.PurposeJudgeHearing, convoi.RecommendMagistrate},
		{"a trial court does not come to the prison: video", hot, convoi.PurposeCourtAppearance, convoi.RecommendVideoHearing},
		{"a medical visit cannot be held by video: escort", hot, convoi.PurposeMedical, convoi.RecommendEscort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Movement.Purpose = tt.purpose
			a := mustAssess(t, p, tt.in)
			if a.Recommendation != tt.want {
				t.Errorf("recommendation %s at score %.2f, want %s", a.Recommendation, a.Score, tt.want)
			}
		})
	}
}

func TestAssessThresholdsFromPolicy(t *testing.T) {
	// The same input under a policy with lower thresholds gets a higher level,
	// an armoured van and the policy's version.
	p := risk.DefaultPolicy()
	in := incarvilleInput(nil)
	base := mustAssess(t, p, in)
	q := *p
	q.Version = "strict-1"
	q.Levels = slices.Clone(p.Levels)
	q.Levels[3].MinScore = base.Score
	q.Vehicle.ArmouredMinScore = base.Score
	a := mustAssess(t, &q, in)
	if a.Level != 4 || a.VehicleClass != convoi.VehicleArmouredVan || a.PolicyVersion != "strict-1" {
		t.Errorf("level %d vehicle %s version %s, want 4 armoured_van strict-1", a.Level, a.VehicleClass, a.PolicyVersion)
	}
	if base.Level == 4 {
		t.Fatalf("base case already level 4")
	}
}

func TestAssessFloor(t *testing.T) {
	p := risk.DefaultPolicy()
	in := medicalInput()
	in.Detainee.Risk.DPS = true // DPS alone scores low but the policy floors it at level 3
	a := mustAssess(t, p, in)
	if a.Level < 3 {
		t.Errorf("DPS detainee at level %d (score %.2f)", a.Level, a.Score)
	}
	if f := factor(a, risk.FactorDPS); f == nil || !strings.Contains(strings.Join(f.Evidence, " "), "floor") {
		t.Errorf("the DPS factor must explain the floor: %+v", f)
	}
}

func TestAssessEstimatedRoute(t *testing.T) {
	p := risk.DefaultPolicy()
	in := incarvilleInput(nil)
	in.Route = risk.EstimateFacts(p, evreux.Entry, rouenCourt.Entry)
	a := mustAssess(t, p, in)
	if f := factor(a, risk.FactorChokepoints); f == nil || f.Value != p.RouteFallback.ChokepointValue {
		t.Errorf("unknown chokepoints must be assumed, not zero: %+v", f)
	}
	if f := factor(a, risk.FactorExposure); f == nil || !strings.Contains(f.Evidence[0], "estimated") {
		t.Errorf("estimated exposure must say so: %+v", f)
	}
}

func TestAssessUnknownChokepointKind(t *testing.T) {
	p := risk.DefaultPolicy()
	in := medicalInput()
	in.Route.Chokepoints = map[string]int{"cattle_grid": 2}
	a := mustAssess(t, p, in)
	f := factor(a, risk.FactorChokepoints)
	if f == nil || math.Abs(f.Value-2*p.Chokepoints[risk.ChokepointOther]) > 1e-9 {
		t.Errorf("unknown kind must weigh as %q: %+v", risk.ChokepointOther, f)
	}
}

func TestAssessBadInput(t *testing.T) {
	p := risk.DefaultPolicy()
	tests := []struct {
		name   string
		mutate func(*risk.Input)
	}{
		{"zero time", func(in *risk.Input) { in.Now = time.Time{} }},
		{"detainee mismatch", func(in *risk.Input) { in.Detainee.ID = 99 }},
		{"site mismatch", func(in *risk.Input) { in.To = hospital }},
		{"intel about someone else", func(in *risk.Input) {
			in.Intel = []*convoi.Intel{{ID: 1, DetaineeID: 99, ObservedAt: in.Now, Grading: "A1", Kind: convoi.IntelOther, Text: "x"}}
		}},
		{"intel with a bad grading", func(in *risk.Input) {
			in.Intel = []*convoi.Intel{{ID: 1, DetaineeID: 10, ObservedAt: in.Now, Grading: "Z9", Kind: convoi.IntelOther, Text: "x"}}
		}},
		{"unknown purpose", func(in *risk.Input) { in.Movement.Purpose = "picnic" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := incarvilleInput(incarvilleIntel())
			tt.mutate(&in)
			if _, err := risk.Assess(p, in); convoi.ErrorCode(err) != convoi.EINVALID {
				t.Errorf("err %v, want EINVALID", err)
			}
		})
	}
	if _, err := risk.Assess(nil, incarvilleInput(nil)); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Errorf("nil policy: err %v", err)
	}
}

func BenchmarkAssess(b *testing.B) {
	p := risk.DefaultPolicy()
	intel := incarvilleIntel()
	for i := range 30 {
		intel = append(intel, &convoi.Intel{ID: convoi.IntelID(100 + i), DetaineeID: 10,
			ObservedAt: incarvilleNow.Add(-time.Duration(i) * 72 * time.Hour), Grading: "C3",
			Kind: convoi.IntelKinds[i%len(convoi.IntelKinds)], Text: "routine report"})
	}
	in := incarvilleInput(intel)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := risk.Assess(p, in); err != nil {
			b.Fatal(err)
		}
	}
}
