package convoi_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/convoi/convoi"
)

// FuzzCheckDeviceCommand: whatever the text, a command admitted for a role
// is listed for that role, and its name never smuggles a second command.
// Seeds live in testdata/fuzz/FuzzCheckDeviceCommand.
func FuzzCheckDeviceCommand(f *testing.F) {
	for _, s := range []string{"getinfo", "setdigout 1", "setparam 2004:x", "setdigout 1;setparam 2004:x", "readio 66", " getgps ", "getparam 2004;2005"} {
		f.Add("control", s)
	}
	f.Fuzz(func(t *testing.T, role, text string) {
		err := convoi.CheckDeviceCommand(convoi.Role(role), text)
		if err == nil {
			name := convoi.CommandName(text)
			ok := false
			for _, r := range convoi.DeviceCommandRules {
				ok = ok || (r.Name == name && slicesContains(r.Roles, convoi.Role(role)))
			}
			if !ok || name == "setparam" || name == "flush" || strings.ContainsAny(text, ";\n\r") && name != "getparam" {
				t.Fatalf("%s may send %q", role, text)
			}
		} else if c := convoi.ErrorCode(err); c != convoi.EFORBIDDEN && c != convoi.EINVALID {
			t.Fatalf("code %s", c)
		}
	})
}

func slicesContains(rs []convoi.Role, r convoi.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestCheckDeviceCommand(t *testing.T) {
	for _, tc := range []struct {
		role convoi.Role
		text string
		code string
	}{
		{convoi.RoleControl, "getinfo", ""},
		{convoi.RoleControl, "setdigout 1?? 0 10", ""},
		{convoi.RoleAdmin, "setdigout 1", convoi.EFORBIDDEN},
		{convoi.RoleControl, "setparam 2004:evil", convoi.EFORBIDDEN},
		{convoi.RoleAdmin, "flush 1,2,3", convoi.EFORBIDDEN},
		{convoi.RoleCommander, "getinfo", convoi.EFORBIDDEN},
		{convoi.RoleControl, "getinfo now", convoi.EINVALID},
		{convoi.RoleAdmin, "getparam 2004;2005", ""},
		{convoi.RoleAdmin, "getparam 2004 ;setparam", convoi.EINVALID},
	} {
		if got := convoi.ErrorCode(convoi.CheckDeviceCommand(tc.role, tc.text)); got != tc.code {
			t.Errorf("%s %q: %q, want %q", tc.role, tc.text, got, tc.code)
		}
	}
}

// FuzzValidateText: accepted text is valid UTF-8 within the limit and
// holds no control character but tab, newline and carriage return.
// Seeds live in testdata/fuzz/FuzzValidateText.
func FuzzValidateText(f *testing.F) {
	for _, s := range []string{"Tribunal d'Évreux", "a\x00b", "\x1b[2J", "x\u2028y", "\xff", "tab\there"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if convoi.ValidateText("f", s, 64) != nil {
			return
		}
		if len(s) > 64 || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("accepted control %U in %q", r, s)
			}
		}
	})
}
