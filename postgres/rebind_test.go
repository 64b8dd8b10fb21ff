package postgres

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// FuzzRebind: rebind numbers every ? outside quotes $1, $2, ... in order,
// leaves quoted text and everything else as it was.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE a = ? AND b = ?",
		"SELECT '?' , \"?\" , ?",
		"UPDATE t SET x = 'it''s ?' WHERE id = ?",
		"no placeholders", "?", "'unterminated ?", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Contains(q, "$") || regexp.MustCompile(`\?[0-9]`).MatchString(q) {
			return // the property reads $n as placeholders; the store never writes ?0
		}
		out := rebind(q)
		// Undo: every $n must be the nth, and replacing them by ? gives q back.
		n := 0
		back := placeholder.ReplaceAllStringFunc(out, func(m string) string {
			n++
			if m != "$"+strconv.Itoa(n) {
				t.Fatalf("rebind(%q) = %q: placeholder %s where $%d expected", q, out, m, n)
			}
			return "?"
		})
		if back != q {
			t.Fatalf("rebind(%q) = %q, which does not map back", q, out)
		}
		// No ? left outside quotes.
		var quote rune
		for _, r := range out {
			switch {
			case quote != 0:
				if r == quote {
					quote = 0
				}
			case r == '\'' || r == '"':
				quote = r
			case r == '?':
				t.Fatalf("rebind(%q) = %q leaves a ? outside quotes", q, out)
			}
		}
	})
}
