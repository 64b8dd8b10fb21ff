package convoi

import (
	"unicode/utf8"
)

// Length limits of free-text fields, in bytes.
const (
	MaxNameLen   = 200   // names: sites, detainees, officers, users, requesters
	MaxShortLen  = 64    // registrations, units, models, codes
	MaxAddress   = 500   // postal addresses, descriptions
	MaxReasonLen = 2000  // reasons of transitions and alarm steps
	MaxTextLen   = 20000 // intelligence text
)

// ValidateText checks a free-text field: at most max bytes of valid UTF-8,
// no NUL and no control character other than tab and newline (so no
// terminal escape sequence reaches a log viewer or a terminal). Its error
// is EINVALID and names the field.
func ValidateText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(EINVALID, "%s longer than %d bytes.", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "%s is not valid UTF-8.", field)
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7F && r < 0xA0) || r == 0x2028 || r == 0x2029 {
			return Errorf(EINVALID, "%s contains a control character (U+%04X).", field, r)
		}
	}
	return nil
}

// textField is a field to check with ValidateText.
type textField struct {
	name string
	s    string
	max  int
}

// validateTexts checks fields in order and returns the first error.
func validateTexts(fields ...textField) error {
	for _, f := range fields {
		if err := ValidateText(f.name, f.s, f.max); err != nil {
			return err
		}
	}
	return nil
}
