package ui_test

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/convoi/convoi/web/ui"
)

// luminance is the WCAG 2.x relative luminance of a #rrggbb colour.
func luminance(tb testing.TB, hex string) float64 {
	tb.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		tb.Fatalf("colour %q: want #rrggbb", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}

func contrast(tb testing.TB, a, b string) float64 {
	la, lb := luminance(tb, a), luminance(tb, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// The alarm colours (and the other status colours) meet WCAG 2.1 AA for
// text: 4.5:1 between each foreground and its background.
func TestAlarmColoursContrast(t *testing.T) {
	css, err := fs.ReadFile(ui.FS(), "app.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	pairs := [][2]string{
		{"sev-critical-fg", "sev-critical-bg"}, {"sev-warning-fg", "sev-warning-bg"}, {"sev-info-fg", "sev-info-bg"},
		{"ok-fg", "ok-bg"}, {"late-fg", "panel"}, {"late-fg", "bg"}, {"ink", "bg"}, {"muted", "panel"}, {"muted", "bg"},
		{"accent-ink", "accent"}, {"accent", "panel"},
	}
	for _, p := range pairs {
		fg, bg := vars[p[0]], vars[p[1]]
		if fg == "" || bg == "" {
			t.Errorf("--%s or --%s missing from app.css", p[0], p[1])
			continue
		}
		if c := contrast(t, fg, bg); c < 4.5 {
			t.Errorf("--%s %s on --%s %s: contrast %.2f, want at least 4.5", p[0], fg, p[1], bg, c)
		}
	}
	// Known values of the formula: black on white is 21:1.
	if c := contrast(t, "#000000", "#ffffff"); math.Abs(c-21) > 1e-9 {
		t.Errorf("contrast black/white %.3f", c)
	}
}

// The vendored map library and the font keep their licences beside them.
func TestLicencesShipped(t *testing.T) {
	for _, p := range []string{"vendor/maplibre-gl/LICENSE.txt", "fonts/LICENSE"} {
		b, err := fs.ReadFile(ui.FS(), p)
		if err != nil || len(b) < 500 {
			t.Errorf("%s: %d bytes, %v", p, len(b), err)
		}
	}
}
