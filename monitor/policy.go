package monitor

import (
	"time"

	"github.com/convoi/convoi"
)

// Policy holds every threshold of the monitoring rules for one escort
// level. The rules, their evidence and these figures are documented in
// docs/monitor.md; a deployment may replace the defaults (Monitor.Policies).
type Policy struct {
	Level convoi.EscortLevel `json:"level"`

	// Corridor half-widths, metres from the route's centre line: town
	// roads, fast roads (planned at FastKmh or more), tunnels (GNSS is
	// poor at their mouths), stretches off the road map.
	CorridorM       float64 `json:"corridor_m"`
	CorridorFastM   float64 `json:"corridor_fast_m"`
	CorridorTunnelM float64 `json:"corridor_tunnel_m"`
	CorridorOffMapM float64 `json:"corridor_off_map_m"`
	FastKmh         float64 `json:"fast_kmh"`
	// Deviation: at least DeviationFixes fixes in a row outside the
	// corridor, spanning at least DeviationS since the last fix inside.
	DeviationFixes int     `json:"deviation_fixes"`
	DeviationS     float64 `json:"deviation_s"`

	// Unplanned stop: below StopKmh and within StopRadiusM of where the
	// stop began for longer than StopS (StopChokepointS at a chokepoint,
	// StopS+SlowPointExtraS at signals, roundabouts, level crossings),
	// farther than EndZoneM from the start and the end of the route.
	StopKmh         float64 `json:"stop_kmh"`
	StopRadiusM     float64 `json:"stop_radius_m"`
	StopS           float64 `json:"stop_s"`
	StopChokepointS float64 `json:"stop_chokepoint_s"`
	SlowPointExtraS float64 `json:"slow_point_extra_s"`
	EndZoneM        float64 `json:"end_zone_m"`

	// Signal loss: silence longer than SignalLossFactor times the device's
	// own reporting interval (learnt from its fixes), and at least
	// SignalLossMinS. When the last fix was within TunnelApproachM before
	// a tunnel or inside one, the allowance grows by TunnelSlack times the
	// planned time to the tunnel's exit.
	SignalLossFactor float64 `json:"signal_loss_factor"`
	SignalLossMinS   float64 `json:"signal_loss_min_s"`
	TunnelApproachM  float64 `json:"tunnel_approach_m"`
	TunnelSlack      float64 `json:"tunnel_slack"`

	// Convoy split: two units of a movement, both heard within SplitFreshS,
	// farther apart along the route than SplitM for SplitS.
	SplitM      float64 `json:"split_m"`
	SplitS      float64 `json:"split_s"`
	SplitFreshS float64 `json:"split_fresh_s"`

	// Late: the expected arrival after the deadline (the appointment minus
	// ArrivalMargin: the time to hand the detainee over; the planner keeps
	// a larger margin of its own) for LateConfirmS; the pace is measured
	// once PaceAfterS of planned time has been driven.
	ArrivalMargin time.Duration `json:"arrival_margin"`
	LateConfirmS  float64       `json:"late_confirm_s"`
	PaceAfterS    float64       `json:"pace_after_s"`

	// Implausible track: a jump between two fixes faster than MaxSpeedKmh
	// once JumpNoiseM of GNSS noise is allowed for, or a fix farther than
	// OffRoadM from every road of the map.
	MaxSpeedKmh float64 `json:"max_speed_kmh"`
	JumpNoiseM  float64 `json:"jump_noise_m"`
	OffRoadM    float64 `json:"off_road_m"`

	// ComboWindowS: indicators this close in time combine into one
	// "attack" alarm (see attackPatterns).
	ComboWindowS float64 `json:"combo_window_s"`

	// Severity of each rule's alarm away from chokepoints; at a chokepoint
	// a stop, deviation or signal loss is raised one step.
	Severity map[convoi.AlarmRule]convoi.Severity `json:"severity"`
}

// DefaultPolicies are the thresholds by escort level (1-4). Levels 3 and 4
// ("the convoy must not stop") allow shorter stops and silences and raise
// most rules to critical.
func DefaultPolicies() map[convoi.EscortLevel]Policy {
	base := Policy{
		CorridorM: 45, CorridorFastM: 60, CorridorTunnelM: 90, CorridorOffMapM: 2500, FastKmh: 70,
		DeviationFixes: 2, DeviationS: 10,
		StopKmh: 4, StopRadiusM: 25, StopS: 180, StopChokepointS: 45, SlowPointExtraS: 90, EndZoneM: 300,
		SignalLossFactor: 6, SignalLossMinS: 45, TunnelApproachM: 250, TunnelSlack: 2.5,
		SplitM: 800, SplitS: 30, SplitFreshS: 20,
		ArrivalMargin: 5 * time.Minute, LateConfirmS: 60, PaceAfterS: 120,
		MaxSpeedKmh: 250, JumpNoiseM: 80, OffRoadM: 250,
		ComboWindowS: 180,
		Severity: map[convoi.AlarmRule]convoi.Severity{
			convoi.RuleDeviation: convoi.SeverityWarning, convoi.RuleStop: convoi.SeverityWarning,
			convoi.RuleSignalLoss: convoi.SeverityWarning, convoi.RuleDevice: convoi.SeverityWarning,
			convoi.RuleSplit: convoi.SeverityWarning, convoi.RuleLate: convoi.SeverityInfo,
			convoi.RuleImplausible: convoi.SeverityWarning, convoi.RuleAttack: convoi.SeverityCritical,
		},
	}
	out := map[convoi.EscortLevel]Policy{}
	for lvl := convoi.MinEscortLevel; lvl <= convoi.MaxEscortLevel; lvl++ {
		p := base
		p.Level = lvl
		p.Severity = map[convoi.AlarmRule]convoi.Severity{}
		for k, v := range base.Severity {
			p.Severity[k] = v
		}
		if lvl >= 2 {
			p.Severity[convoi.RuleLate] = convoi.SeverityWarning
		}
		if lvl >= 3 {
			p.StopS, p.StopChokepointS, p.SlowPointExtraS = 90, 30, 60
			p.SignalLossFactor, p.SignalLossMinS = 5, 30
			p.SplitM, p.SplitS = 500, 20
			p.DeviationS = 10
			for _, r := range []convoi.AlarmRule{convoi.RuleDeviation, convoi.RuleStop, convoi.RuleSignalLoss, convoi.RuleSplit, convoi.RuleImplausible} {
				p.Severity[r] = convoi.SeverityCritical
			}
		}
		out[lvl] = p
	}
	return out
}

// corridor returns the corridor half-width of a segment.
func (p *Policy) corridor(s segment) float64 {
	switch {
	case s.offMap:
		return p.CorridorOffMapM
	case s.kinds&tunnelKind != 0:
		return p.CorridorTunnelM
	case s.fast:
		return p.CorridorFastM
	}
	return p.CorridorM
}
