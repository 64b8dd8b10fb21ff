package convoi

import (
	"regexp"
	"strings"
)

// DeviceCommandRule admits one tracker command (Teltonika Codec 12 text)
// to some roles: its name, the roles that may send it, and the pattern its
// arguments must match in full (empty: no arguments).
type DeviceCommandRule struct {
	Name    string
	Roles   []Role
	Args    *regexp.Regexp
	Summary string
}

// DeviceCommandRules is the command policy, deny by default: a command not
// listed here is refused to every role. Commands that re-point a tracker at
// another server or change its configuration (setparam, flush, web
// connections, firmware updates) are deliberately absent: they are done on
// the bench with the configurator, never over the live API.
var DeviceCommandRules = []DeviceCommandRule{
	{Name: "getinfo", Roles: []Role{RoleAdmin, RoleControl}, Summary: "device runtime information"},
	{Name: "getstatus", Roles: []Role{RoleAdmin, RoleControl}, Summary: "modem and GPRS status"},
	{Name: "getgps", Roles: []Role{RoleAdmin, RoleControl}, Summary: "current GNSS fix"},
	{Name: "getver", Roles: []Role{RoleAdmin, RoleControl}, Summary: "firmware and hardware version"},
	{Name: "getio", Roles: []Role{RoleAdmin, RoleControl}, Summary: "inputs and outputs"},
	{Name: "battery", Roles: []Role{RoleAdmin, RoleControl}, Summary: "battery state"},
	{Name: "readio", Roles: []Role{RoleAdmin, RoleControl}, Args: regexp.MustCompile(`^[0-9]{1,5}$`), Summary: "read one IO element"},
	// Outputs drive door locks and the immobiliser: the control room's call.
	{Name: "setdigout", Roles: []Role{RoleControl}, Args: regexp.MustCompile(`^[01?]{1,5}( [0-9]{1,6}){0,5}$`), Summary: "set digital outputs (door lock, immobiliser)"},
	{Name: "getparam", Roles: []Role{RoleAdmin}, Args: regexp.MustCompile(`^[0-9]{1,6}(;[0-9]{1,6}){0,9}$`), Summary: "read configuration parameters"},
	{Name: "cpureset", Roles: []Role{RoleAdmin}, Summary: "restart the device"},
}

// CommandName returns a command's name: its first word, lower-cased.
func CommandName(text string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	return strings.ToLower(name)
}

// CheckDeviceCommand returns nil when role may send text under
// DeviceCommandRules: EFORBIDDEN for a command not listed or not the
// role's, EINVALID for arguments the rule does not admit.
func CheckDeviceCommand(role Role, text string) error {
	name := CommandName(text)
	_, args, _ := strings.Cut(strings.TrimSpace(text), " ")
	for _, r := range DeviceCommandRules {
		if r.Name != name {
			continue
		}
		if !validEnum(role, r.Roles) {
			return Errorf(EFORBIDDEN, "The %s role may not send %s.", role, name)
		}
		if (r.Args == nil && args != "") || (r.Args != nil && !r.Args.MatchString(args)) {
			return Errorf(EINVALID, "Arguments of %s not allowed here.", name)
		}
		return nil
	}
	return Errorf(EFORBIDDEN, "Command %q is not allowed over the API.", name)
}
