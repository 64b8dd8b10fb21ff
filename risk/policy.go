package risk

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/convoi/convoi"
)

// PolicyName is the name under which the risk policy is stored in a
// convoi.PolicyService.
const PolicyName = "risk"

//go:embed policy.json
var defaultPolicyJSON []byte

// DefaultPolicyJSON returns a copy of the embedded default policy document.
func DefaultPolicyJSON() []byte { return bytes.Clone(defaultPolicyJSON) }

// DefaultPolicy returns the embedded default policy, parsed. It panics only
// if the embedded file is invalid, which a test prevents.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicyJSON)
	if err != nil {
		panic("risk: embedded policy.json: " + err.Error())
	}
	return p
}

// Factor codes: the raw values the engine knows how to compute. A policy
// lists every one of them, once, with its weight and shape (weight 0
// disables a factor explicitly; omitting it is an error, so that a typo
// never silently drops a factor).
const (
	FactorEscapeHistory  = "escape_history"  // RiskRecord.EscapeHistory, a count
	FactorEscapeAttempts = "escape_attempts" // RiskRecord.EscapeAttempts, a count
	FactorViolence       = "violence"        // RiskRecord.Violence, 0-3
	FactorOrganisedCrime = "organised_crime" // RiskRecord.OrganisedCrime, 0 or 1
	FactorNotoriety      = "notoriety"       // RiskRecord.Notoriety, 0-3
	FactorDPS            = "dps"             // RiskRecord.DPS, 0 or 1
	FactorIntelEscape    = "intel_escape"    // sum of intelligence strengths mapped to it
	FactorIntelRoute     = "intel_route"     // idem
	FactorPurpose        = "purpose"         // Policy.Purposes[purpose].Value, 0-1
	FactorExposure       = "exposure"        // seconds on the road
	FactorChokepoints    = "chokepoints"     // sum of chokepoint counts x kind weight
	FactorDestination    = "destination"     // Policy.Destinations[kind], 0-1
	FactorPublicHearing  = "public_hearing"  // 0 or 1
)

// FactorCodes lists every factor code in evaluation order.
var FactorCodes = []string{
	FactorEscapeHistory, FactorEscapeAttempts, FactorViolence, FactorOrganisedCrime,
	FactorNotoriety, FactorDPS, FactorIntelEscape, FactorIntelRoute, FactorPurpose,
	FactorExposure, FactorChokepoints, FactorDestination, FactorPublicHearing,
}

// intelFactors are the factor codes an intelligence kind may feed.
var intelFactors = []string{FactorIntelEscape, FactorIntelRoute}

// Shape turns a factor's raw value into a fraction of its weight.
type Shape string

const (
	// ShapeLinear is min(value/scale, 1): full weight at value >= scale.
	ShapeLinear Shape = "linear"
	// ShapeSaturating is 1 - exp(-value/scale): each further unit adds less,
	// so many weak signals never outweigh the ceiling.
	ShapeSaturating Shape = "saturating"
)

// Apply returns the fraction in [0, 1] for a raw value >= 0.
func (s Shape) Apply(value, scale float64) float64 {
	if value <= 0 || scale <= 0 {
		return 0
	}
	switch s {
	case ShapeSaturating:
		return 1 - math.Exp(-value/scale)
	default:
		return math.Min(value/scale, 1)
	}
}

// Policy is the risk policy: every number the engine uses. It is data, read
// from a versioned JSON document (see docs/risk.md); obtain one from
// ParsePolicy or DefaultPolicy and treat it as immutable: it is shared by
// concurrent assessments.
type Policy struct {
	Version         string                         `json:"version"`
	Description     string                         `json:"description,omitempty"`
	Factors         []FactorRule                   `json:"factors"`
	Intelligence    IntelRules                     `json:"intelligence"`
	Purposes        map[convoi.Purpose]PurposeRule `json:"purposes"`
	Destinations    map[convoi.SiteKind]float64    `json:"destinations"`
	Chokepoints     map[string]float64             `json:"chokepoints"`
	RouteFallback   RouteFallback                  `json:"route_fallback"`
	Levels          []LevelRule                    `json:"levels"`
	Floors          []FloorRule                    `json:"floors"`
	Vehicle         VehicleRule                    `json:"vehicle"`
	Recommendations []RecommendationRule           `json:"recommendations"`
}

// FactorRule weighs one factor: Points = Weight x Shape(value, Scale).
type FactorRule struct {
	Code   string  `json:"code"`
	Label  string  `json:"label"`
	Weight float64 `json:"weight"`
	Shape  Shape   `json:"shape"`
	Scale  float64 `json:"scale"`
}

// IntelRules weigh intelligence entries. An entry's strength is
// Kind.Strength x Reliability[letter] x Credibility[digit] x
// 0.5^(age/HalfLifeDays); it adds to the factor its kind maps to. Entries
// observed more than MaxAgeDays ago are not considered.
type IntelRules struct {
	MaxAgeDays  float64                            `json:"max_age_days"`
	Kinds       map[convoi.IntelKind]IntelKindRule `json:"kinds"`
	Reliability map[string]float64                 `json:"reliability"` // "A".."F"
	Credibility map[string]float64                 `json:"credibility"` // "1".."6"
}

// IntelKindRule says what one kind of intelligence weighs and how fast it fades.
type IntelKindRule struct {
	Factor       string  `json:"factor"`   // intel_escape or intel_route
	Strength     float64 `json:"strength"` // 0-1, for a fresh A1 entry
	HalfLifeDays float64 `json:"half_life_days"`
}

// PurposeRule is what a purpose contributes, and whether hearings of that
// purpose are publicly announced unless the caller says otherwise.
type PurposeRule struct {
	Value     float64 `json:"value"` // 0-1
	Announced bool    `json:"announced"`
}

// RouteFallback estimates route facts when no road network answers:
// exposure = straight-line distance x DetourFactor / SpeedKmh, and an
// assumed chokepoint value (conservative: unknown is not zero).
type RouteFallback struct {
	SpeedKmh        float64 `json:"speed_kmh"`
	DetourFactor    float64 `json:"detour_factor"`
	ChokepointValue float64 `json:"chokepoint_value"`
}

// LevelRule is one escort level: reached at MinScore, with its requirements.
type LevelRule struct {
	Level          convoi.EscortLevel       `json:"level"`
	MinScore       float64                  `json:"min_score"`
	Meaning        string                   `json:"meaning"`
	MinCrew        int                      `json:"min_crew"`
	Qualifications []convoi.QualRequirement `json:"qualifications"`
	ArmedSupport   bool                     `json:"armed_support"`
	MustNotStop    bool                     `json:"must_not_stop"`
}

// FloorRule forces a minimum level whenever a factor's raw value reaches
// MinValue, whatever the score (for example every DPS detainee at level 3).
type FloorRule struct {
	Factor   string             `json:"factor"`
	MinValue float64            `json:"min_value"`
	Level    convoi.EscortLevel `json:"level"`
	Reason   string             `json:"reason"`
}

// VehicleRule chooses the vehicle class: armoured at or above ArmouredMinScore.
type VehicleRule struct {
	ArmouredMinScore float64 `json:"armoured_min_score"`
}

// RecommendationRule advises against moving the detainee at all: the first
// rule whose MinScore is reached and whose Purposes include the movement's
// purpose wins; with none, the recommendation is an escort.
type RecommendationRule struct {
	Recommendation convoi.Recommendation `json:"recommendation"`
	MinScore       float64               `json:"min_score"`
	Purposes       []convoi.Purpose      `json:"purposes"`
	Reason         string                `json:"reason"`
}

// Level returns the rule of escort level n (1-4), or nil.
func (p *Policy) Level(n convoi.EscortLevel) *LevelRule {
	for i := range p.Levels {
		if p.Levels[i].Level == n {
			return &p.Levels[i]
		}
	}
	return nil
}

// Factor returns the rule of the factor with the given code, or nil.
func (p *Policy) Factor(code string) *FactorRule {
	for i := range p.Factors {
		if p.Factors[i].Code == code {
			return &p.Factors[i]
		}
	}
	return nil
}

// MaxPolicySize bounds a policy document.
const MaxPolicySize = 1 << 20

var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
var chokepointPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// ParsePolicy decodes and validates a policy document strictly: unknown
// fields, trailing data, missing or duplicate factors, unknown codes, kinds,
// purposes or qualifications, out-of-range numbers and unordered levels are
// all rejected. Errors are convoi EINVALID errors whose message names the
// offending field, safe to show to an administrator.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, convoi.Errorf(convoi.EINVALID, "Risk policy: document larger than %d bytes.", MaxPolicySize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Risk policy: %s.", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, convoi.Errorf(convoi.EINVALID, "Risk policy: unexpected data after the JSON object.")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "document"
		}
		return fmt.Sprintf("%s must be a %s, not a %s", field, te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return "empty document"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Validate checks the whole policy and reports the first problem as an
// EINVALID error.
func (p *Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return convoi.Errorf(convoi.EINVALID, "Risk policy: "+format, args...)
	}
	if !versionPattern.MatchString(p.Version) {
		return bad("version must be 1-64 letters, digits or ._+- (got %q).", p.Version)
	}

	// Factors: every known code exactly once.
	seen := map[string]bool{}
	for i, f := range p.Factors {
		if !slices.Contains(FactorCodes, f.Code) {
			return bad("factors[%d]: unknown code %q (known: %s).", i, f.Code, strings.Join(FactorCodes, ", "))
		}
		if seen[f.Code] {
			return bad("factors[%d]: factor %q listed twice.", i, f.Code)
		}
		seen[f.Code] = true
		if strings.TrimSpace(f.Label) == "" {
			return bad("factors[%d] (%s): label required.", i, f.Code)
		}
		if !finiteIn(f.Weight, 0, 1000) {
			return bad("factors[%d] (%s): weight must be between 0 and 1000.", i, f.Code)
		}
		if f.Shape != ShapeLinear && f.Shape != ShapeSaturating {
			return bad("factors[%d] (%s): shape must be %q or %q.", i, f.Code, ShapeLinear, ShapeSaturating)
		}
		if !(f.Scale > 0) || !finiteIn(f.Scale, 0, 1e9) {
			return bad("factors[%d] (%s): scale must be positive.", i, f.Code)
		}
	}
	for _, c := range FactorCodes {
		if !seen[c] {
			return bad("factor %q missing: list every factor (weight 0 disables one).", c)
		}
	}

	// Intelligence.
	in := p.Intelligence
	if !(in.MaxAgeDays > 0) || !finiteIn(in.MaxAgeDays, 0, 36500) {
		return bad("intelligence.max_age_days must be between 0 (exclusive) and 36500.")
	}
	for _, k := range slices.Sorted(maps.Keys(in.Kinds)) {
		r := in.Kinds[k]
		if !k.Valid() {
			return bad("intelligence.kinds: unknown kind %q.", k)
		}
		if !slices.Contains(intelFactors, r.Factor) {
			return bad("intelligence.kinds.%s.factor must be one of %s.", k, strings.Join(intelFactors, ", "))
		}
		if !finiteIn(r.Strength, 0, 1) {
			return bad("intelligence.kinds.%s.strength must be between 0 and 1.", k)
		}
		if !(r.HalfLifeDays > 0) || !finiteIn(r.HalfLifeDays, 0, 36500) {
			return bad("intelligence.kinds.%s.half_life_days must be positive.", k)
		}
	}
	for _, k := range convoi.IntelKinds {
		if _, ok := in.Kinds[k]; !ok {
			return bad("intelligence.kinds.%s missing: every intelligence kind needs a rule.", k)
		}
	}
	if err := gradeTable("intelligence.reliability", in.Reliability, "ABCDEF"); err != nil {
		return err
	}
	if err := gradeTable("intelligence.credibility", in.Credibility, "123456"); err != nil {
		return err
	}

	// Movement.
	for _, k := range slices.Sorted(maps.Keys(p.Purposes)) {
		r := p.Purposes[k]
		if !k.Valid() {
			return bad("purposes: unknown purpose %q.", k)
		}
		if !finiteIn(r.Value, 0, 1) {
			return bad("purposes.%s.value must be between 0 and 1.", k)
		}
	}
	for _, k := range convoi.Purposes {
		if _, ok := p.Purposes[k]; !ok {
			return bad("purposes.%s missing.", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Destinations)) {
		v := p.Destinations[k]
		if !k.Valid() {
			return bad("destinations: unknown site kind %q.", k)
		}
		if !finiteIn(v, 0, 1) {
			return bad("destinations.%s must be between 0 and 1.", k)
		}
	}
	for _, k := range convoi.SiteKinds {
		if _, ok := p.Destinations[k]; !ok {
			return bad("destinations.%s missing.", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Chokepoints)) {
		v := p.Chokepoints[k]
		if !chokepointPattern.MatchString(k) {
			return bad("chokepoints: kind %q must be lower-case letters, digits and _.", k)
		}
		if !finiteIn(v, 0, 100) {
			return bad("chokepoints.%s must be between 0 and 100.", k)
		}
	}
	if _, ok := p.Chokepoints[ChokepointOther]; !ok {
		return bad("chokepoints.%s missing: it weighs kinds the policy does not name.", ChokepointOther)
	}
	rf := p.RouteFallback
	if !(rf.SpeedKmh > 0) || !finiteIn(rf.SpeedKmh, 0, 200) {
		return bad("route_fallback.speed_kmh must be between 0 (exclusive) and 200.")
	}
	if !finiteIn(rf.DetourFactor, 1, 10) {
		return bad("route_fallback.detour_factor must be between 1 and 10.")
	}
	if !finiteIn(rf.ChokepointValue, 0, 1000) {
		return bad("route_fallback.chokepoint_value must be between 0 and 1000.")
	}

	// Levels 1-4, in order, with rising thresholds and non-decreasing crews.
	if len(p.Levels) != 4 {
		return bad("levels must list exactly the 4 escort levels (got %d).", len(p.Levels))
	}
	for i, l := range p.Levels {
		if l.Level != convoi.EscortLevel(i+1) {
			return bad("levels[%d].level must be %d: levels are listed 1 to 4 in order.", i, i+1)
		}
		if !finiteIn(l.MinScore, 0, 1e6) {
			return bad("levels[%d].min_score must be between 0 and 1000000.", i)
		}
		if i == 0 && l.MinScore != 0 {
			return bad("levels[0].min_score must be 0: every score has a level.")
		}
		if i > 0 && l.MinScore <= p.Levels[i-1].MinScore {
			return bad("levels[%d].min_score must be greater than level %d's.", i, i)
		}
		if strings.TrimSpace(l.Meaning) == "" {
			return bad("levels[%d].meaning required.", i)
		}
		if l.MinCrew < 1 || l.MinCrew > 100 {
			return bad("levels[%d].min_crew must be between 1 and 100.", i)
		}
		if i > 0 && l.MinCrew < p.Levels[i-1].MinCrew {
			return bad("levels[%d].min_crew must not be lower than level %d's.", i, i)
		}
		qs := map[convoi.Qualification]bool{}
		for j, q := range l.Qualifications {
			if !q.Qualification.Valid() {
				return bad("levels[%d].qualifications[%d]: unknown qualification %q.", i, j, q.Qualification)
			}
			if qs[q.Qualification] {
				return bad("levels[%d].qualifications[%d]: %s listed twice.", i, j, q.Qualification)
			}
			qs[q.Qualification] = true
			if q.Count < 1 || q.Count > l.MinCrew {
				return bad("levels[%d].qualifications[%d].count must be between 1 and min_crew.", i, j)
			}
		}
	}

	for i, f := range p.Floors {
		if !slices.Contains(FactorCodes, f.Factor) {
			return bad("floors[%d]: unknown factor %q.", i, f.Factor)
		}
		if !(f.MinValue > 0) || !finiteIn(f.MinValue, 0, 1e9) {
			return bad("floors[%d].min_value must be positive.", i)
		}
		if !f.Level.Valid() {
			return bad("floors[%d].level must be between 1 and 4.", i)
		}
		if strings.TrimSpace(f.Reason) == "" {
			return bad("floors[%d].reason required.", i)
		}
	}
	if !finiteIn(p.Vehicle.ArmouredMinScore, 0, 1e6) {
		return bad("vehicle.armoured_min_score must be between 0 and 1000000.")
	}
	for i, r := range p.Recommendations {
		if r.Recommendation != convoi.RecommendVideoHearing && r.Recommendation != convoi.RecommendMagistrate {
			return bad("recommendations[%d].recommendation must be %q or %q.", i, convoi.RecommendVideoHearing, convoi.RecommendMagistrate)
		}
		if !finiteIn(r.MinScore, 0, 1e6) {
			return bad("recommendations[%d].min_score must be between 0 and 1000000.", i)
		}
		if len(r.Purposes) == 0 {
			return bad("recommendations[%d].purposes must name at least one purpose.", i)
		}
		for _, pu := range r.Purposes {
			if !pu.Valid() {
				return bad("recommendations[%d].purposes: unknown purpose %q.", i, pu)
			}
		}
		if strings.TrimSpace(r.Reason) == "" {
			return bad("recommendations[%d].reason required.", i)
		}
	}
	return nil
}

func gradeTable(name string, m map[string]float64, keys string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if len(k) != 1 || !strings.Contains(keys, k) {
			return convoi.Errorf(convoi.EINVALID, "Risk policy: %s: unknown grade %q (expected one of %s).", name, k, strings.Join(strings.Split(keys, ""), ", "))
		}
		if !finiteIn(v, 0, 1) {
			return convoi.Errorf(convoi.EINVALID, "Risk policy: %s.%s must be between 0 and 1.", name, k)
		}
	}
	for _, k := range strings.Split(keys, "") {
		if _, ok := m[k]; !ok {
			return convoi.Errorf(convoi.EINVALID, "Risk policy: %s.%s missing.", name, k)
		}
	}
	return nil
}

func finiteIn(v, lo, hi float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi
}
