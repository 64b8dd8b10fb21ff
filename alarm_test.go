package convoi_test

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestNextAlarmState(t *testing.T) {
	legal := map[convoi.AlarmAction]map[convoi.AlarmState]convoi.AlarmState{
		convoi.AlarmActionAcknowledge: {convoi.AlarmOpen: convoi.AlarmAcknowledged},
		convoi.AlarmActionEscalate:    {convoi.AlarmOpen: convoi.AlarmEscalated, convoi.AlarmAcknowledged: convoi.AlarmEscalated},
		convoi.AlarmActionResolve:     {convoi.AlarmOpen: convoi.AlarmResolved, convoi.AlarmAcknowledged: convoi.AlarmResolved, convoi.AlarmEscalated: convoi.AlarmResolved},
	}
	for _, a := range convoi.AlarmActions {
		for _, s := range convoi.AlarmStates {
			to, err := convoi.NextAlarmState(s, a)
			want, ok := legal[a][s]
			if ok && (err != nil || to != want) {
				t.Errorf("%s from %s = %q, %v; want %s", a, s, to, err, want)
			}
			if !ok && convoi.ErrorCode(err) != convoi.ECONFLICT {
				t.Errorf("%s from %s = %q, %v; want a conflict", a, s, to, err)
			}
		}
	}
	if _, err := convoi.NextAlarmState(convoi.AlarmOpen, "snooze"); convoi.ErrorCode(err) != convoi.EINVALID {
		t.Errorf("unknown action: %v", err)
	}
}

func TestAlarmPolicy(t *testing.T) {
	p := convoi.DefaultAlarmPolicy
	if err := p.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if c, w := p.AckWithin(convoi.SeverityCritical), p.AckWithin(convoi.SeverityWarning); c > 2*time.Minute || c >= w {
		t.Errorf("critical alarms wait %s for acknowledgement, warnings %s", c, w)
	}
	for name, bad := range map[string]convoi.AlarmPolicy{
		"empty":            {},
		"missing info":     {AckDeadlines: p.AckDeadlines[:2]},
		"zero":             {AckDeadlines: []convoi.AckDeadline{{convoi.SeverityCritical, 0, ""}, {convoi.SeverityWarning, time.Minute, ""}, {convoi.SeverityInfo, time.Hour, ""}}},
		"critical longest": {AckDeadlines: []convoi.AckDeadline{{convoi.SeverityCritical, time.Hour, ""}, {convoi.SeverityWarning, time.Minute, ""}, {convoi.SeverityInfo, time.Hour, ""}}},
	} {
		if err := bad.Validate(); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	// A severity the policy does not list fails safe: the shortest deadline.
	short := convoi.AlarmPolicy{AckDeadlines: []convoi.AckDeadline{{convoi.SeverityWarning, 3 * time.Minute, ""}, {convoi.SeverityCritical, time.Minute, ""}}}
	if got := short.AckWithin(convoi.SeverityInfo); got != time.Minute {
		t.Errorf("unlisted severity waits %s", got)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]convoi.Severity{"info": 0, "warning": 1, "critical": 2, "0": 0, "1": 1, "2": 2} {
		if got, err := convoi.ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %d, %v", in, got, err)
		}
		if in == "critical" && convoi.SeverityName(want) != in {
			t.Errorf("SeverityName(%d) = %q", want, convoi.SeverityName(want))
		}
	}
	for _, in := range []string{"", "3", "-1", "Critical", "02", "critical ", "high"} {
		if _, err := convoi.ParseSeverity(in); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("ParseSeverity(%q): %v, want invalid", in, err)
		}
	}
}

func TestValidateAlarmStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    convoi.AlarmAction
		res  convoi.AlarmResolution
		note string
		ok   bool
	}{
		{"acknowledge without note", convoi.AlarmActionAcknowledge, "", "", true},
		{"escalate with note", convoi.AlarmActionEscalate, "", "Needs a commander.", true},
		{"resolve", convoi.AlarmActionResolve, convoi.ResolutionFalseAlarm, "Tunnel echo.", true},
		{"resolve without note", convoi.AlarmActionResolve, convoi.ResolutionHandled, " \t", false},
		{"resolve without resolution", convoi.AlarmActionResolve, "", "x", false},
		{"acknowledge with resolution", convoi.AlarmActionAcknowledge, convoi.ResolutionHandled, "", false},
		{"unknown action", "snooze", "", "", false},
	} {
		if _, err := convoi.ValidateAlarmStep(tc.a, tc.res, tc.note); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestAlarmRoles(t *testing.T) {
	for _, r := range convoi.Roles {
		u := &convoi.User{Role: r}
		see := r != convoi.RoleLiaison && r != convoi.RoleAdmin
		work := r == convoi.RoleControl || r == convoi.RoleCommander
		if u.CanSeeAlarms() != see || u.CanWorkAlarms() != work {
			t.Errorf("%s: sees %v works %v", r, u.CanSeeAlarms(), u.CanWorkAlarms())
		}
	}
	if (&convoi.User{Role: convoi.RoleControl, Disabled: true}).CanWorkAlarms() {
		t.Error("a disabled user works alarms")
	}
}

// FuzzParseSeverity checks that exactly the six spellings are accepted and
// that the word of an accepted severity parses back to it.
func FuzzParseSeverity(f *testing.F) {
	for _, s := range []string{"info", "warning", "critical", "0", "1", "2", "3", "", "CRITICAL", "２", "1\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sev, err := convoi.ParseSeverity(s)
		if err != nil {
			if convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("ParseSeverity(%q): %v", s, err)
			}
			return
		}
		if len(s) > 8 || sev < convoi.SeverityInfo || sev > convoi.SeverityCritical {
			t.Fatalf("ParseSeverity(%q) accepted %d", s, sev)
		}
		if back, err := convoi.ParseSeverity(convoi.SeverityName(sev)); err != nil || back != sev {
			t.Fatalf("round trip of %d: %d, %v", sev, back, err)
		}
	})
}
