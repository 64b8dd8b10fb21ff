package main

import (
	"context"
	"fmt"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convoi/convoi"
)

// TestUIIncident is the commander's screen of issue 13: a critical attack
// alarm raised through the alarm service; the commander declares the
// incident from the alarm queue with the keyboard; the incident screen
// draws the reachability bands (their pixels, not only the DOM), the units
// and their roadblocks with arrival times and shares, the escape routes and
// the proven-optimal fraction; a sighting placed by a click on the map
// re-plans and redraws; a unit is assigned. Control sees the screen and the
// sighting form but no unit buttons.
func TestUIIncident(t *testing.T) {
	a, w := openUIDemo(t)
	m := underwayWestbound(t, a, w)
	cmd := mustBrowser(t)
	uiSignIn(t, cmd, a.URL(), "commander")
	do(t, cmd, chromedp.Navigate(a.URL()+"/#/alarms"))
	waitJS(t, cmd, "the alarm queue and the stream", `!!document.querySelector('#alarm-list') && convoi.streamUp && convoi.alarmsAvailable`)

	now := time.Now()
	raised, _, err := a.Alarms.RaiseAlarm(context.Background(), &convoi.Alarm{
		MovementID: m.ID, Rule: convoi.RuleAttack, Severity: convoi.SeverityCritical,
		Detail: "Van stopped at the toll, doors opened, panic button", Place: laTurbieToll,
		PlaceName: "Péage de La Turbie (A8)", FirstSeen: now.Add(-time.Minute), LastSeen: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	li := fmt.Sprintf(`#alarm-list li[data-alarm="%d"]`, raised.ID)
	waitJS(t, cmd, "the alarm", fmt.Sprintf(`document.querySelector('%s')?.dataset.state === 'open'`, li))
	// Keyboard: focus the alarm, press i.
	do(t, cmd, chromedp.Focus(chromedp.CSS(li)), chromedp.KeyEvent("i"))
	waitJS(t, cmd, "the incident screen", `location.hash.startsWith('#/incidents/') && document.querySelector('#incident-map')?.dataset.ready === 'true' && !!document.querySelector('#incident-summary')?.dataset.version`)
	incID := strings.TrimPrefix(eval[string](t, cmd, `location.hash`), "#/incidents/")
	if got := eval[string](t, cmd, `document.querySelector('#incident-summary').dataset.version`); got != "1" {
		t.Errorf("plan version %q, want 1", got)
	}
	// The figures: four bands, the proven optimum, units with roadblocks,
	// arrival times and shares.
	if n := eval[int](t, cmd, `document.querySelectorAll('#reach-table tbody tr').length`); n != 4 {
		t.Errorf("%d reachability bands listed, want 4", n)
	}
	if s := eval[string](t, cmd, `document.querySelector('#plan-optimal').innerText`); s != "proven optimal" {
		t.Errorf("optimality %q", s)
	}
	rows := eval[[]string](t, cmd, `[...document.querySelectorAll('#unit-table tbody tr')].map(r => r.innerText)`)
	blocks := 0
	for _, r := range rows {
		if strings.Contains(r, "node ") && strings.Contains(r, " min ") && strings.Contains(r, "%") {
			blocks++
		}
	}
	if len(rows) < 2 || blocks == 0 {
		t.Errorf("unit rows %q: want units with roadblocks, arrival and share", rows)
	}
	waitJS(t, cmd, "the map drawn", `convoi.incidentMap.loaded() && convoi.incidentMap.areTilesLoaded()`)
	eval[chromedp.Void](t, cmd, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`)
	if n := eval[int](t, cmd, `convoi.incidentMap.queryRenderedFeatures({layers: ['roadblocks']}).length`); n == 0 {
		t.Error("no roadblock rendered on the map")
	}
	if n := eval[int](t, cmd, `convoi.incidentMap.queryRenderedFeatures({layers: ['escapes']}).length`); n == 0 {
		t.Error("no escape route rendered on the map")
	}
	// Pixels: the map with and without the reachability layer.
	with := shot(t, cmd, "commander-incident")
	rect := eval[[]float64](t, cmd, `(r => [r.left, r.top, r.right, r.bottom])(document.querySelector('#incident-map').getBoundingClientRect())`)
	eval[chromedp.Void](t, cmd, `convoi.incidentMap.setLayoutProperty('reach', 'visibility', 'none'); new Promise(r => convoi.incidentMap.once('idle', () => r()))`)
	without := shot(t, cmd, "commander-incident-noreach")
	eval[chromedp.Void](t, cmd, `convoi.incidentMap.setLayoutProperty('reach', 'visibility', 'visible'); 0`)
	area := image.Rect(int(rect[0]), int(rect[1]), int(rect[2]), int(rect[3]))
	if d := differing(with, without, area); d < area.Dx()*area.Dy()/20 {
		t.Errorf("the reachability layer changes %d of %d map pixels, want at least 5%%", d, area.Dx()*area.Dy())
	}

	// A sighting on the Basse Corniche, placed by a click on the map.
	eval[chromedp.Void](t, cmd, fmt.Sprintf(`convoi.incidentMap.jumpTo({center: [%v, %v]}); new Promise(r => convoi.incidentMap.once('idle', () => r()))`, basseCorniche.Lon, basseCorniche.Lat))
	xy := eval[[]float64](t, cmd, fmt.Sprintf(`(p => { const r = document.querySelector('#incident-map').getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; })(convoi.incidentMap.project([%v, %v]))`, basseCorniche.Lon, basseCorniche.Lat))
	fracBefore := eval[string](t, cmd, `document.querySelector('#incident-summary').dataset.fraction`)
	do(t, cmd, chromedp.MouseClickXY(xy[0], xy[1]))
	waitJS(t, cmd, "the click in the form", `document.querySelector('#sighting-lat').value !== ''`)
	if lat := eval[float64](t, cmd, `Number(document.querySelector('#sighting-lat').value)`); lat < basseCorniche.Lat-0.001 || lat > basseCorniche.Lat+0.001 {
		t.Errorf("sighting latitude %v, want the clicked %v", lat, basseCorniche.Lat)
	}
	do(t, cmd,
		chromedp.SendKeys(chromedp.ID("sighting-place"), "Basse Corniche, Cap-d'Ail"),
		chromedp.SetValue(chromedp.ID("sighting-confidence"), "0.9"),
		chromedp.Click(chromedp.CSS(`#sighting-form button[type=submit]`)),
	)
	waitJS(t, cmd, "the re-plan", `document.querySelector('#incident-summary').dataset.version === '2' && document.querySelectorAll('#sighting-list li:not(.muted)').length === 1`)
	if cap := eval[string](t, cmd, `document.querySelector('#reach-table caption').innerText`); !strings.Contains(cap, "the sighting (") {
		t.Errorf("reachability caption %q: want from the sighting", cap)
	}
	kept := eval[string](t, cmd, `document.querySelector('#incident-summary').innerText`)
	if fracAfter := eval[string](t, cmd, `document.querySelector('#incident-summary').dataset.fraction`); fracAfter == fracBefore && !strings.Contains(kept, "kept after the sightings") {
		t.Errorf("after the sighting: fraction %s (was %s), summary %q", fracAfter, fracBefore, kept)
	}

	// Assign the first unit.
	unit := eval[string](t, cmd, `document.querySelector('#unit-table tbody tr').dataset.unit`)
	do(t, cmd, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#unit-table tr[data-unit="%s"] button`, unit))))
	waitJS(t, cmd, "the assignment", fmt.Sprintf(`document.querySelector('#unit-table tr[data-unit="%s"]')?.classList.contains('current')`, unit))
	eval[chromedp.Void](t, cmd, `document.querySelector('#incident-panel').scrollTop = 0; new Promise(r => convoi.incidentMap.once('idle', () => r()))`)
	shot(t, cmd, "commander-incident-sighting")

	// The list: the incident, and the form to declare one by hand.
	do(t, cmd, chromedp.Navigate(a.URL()+"/#/incidents"))
	waitJS(t, cmd, "the incident list", fmt.Sprintf(`!!document.querySelector('#incident-table tr[data-incident="%s"]') && !!document.querySelector('#declare-form')`, incID))

	// Control reads and records sightings, but assigns no unit.
	ctl := mustBrowser(t)
	uiSignIn(t, ctl, a.URL(), "control")
	do(t, ctl, chromedp.Navigate(a.URL()+"/#/incidents/"+incID))
	waitJS(t, ctl, "control's incident screen", `!!document.querySelector('#incident-summary')?.dataset.version`)
	if n := eval[int](t, ctl, `document.querySelectorAll('#unit-table button, #close-incident, #declare-form').length`); n != 0 {
		t.Errorf("control sees %d commander controls", n)
	}
	if !eval[bool](t, ctl, `!!document.querySelector('#sighting-form') && !document.querySelector('#sighting-form').hidden`) {
		t.Error("control has no sighting form")
	}
	// Nothing overflows sideways, at 1366×768 nor on a tablet.
	for _, vp := range [][2]int64{{1366, 768}, {820, 1180}} {
		do(t, ctl, chromedp.EmulateViewport(vp[0], vp[1]))
		dims := eval[[]float64](t, ctl, `(p => [document.documentElement.scrollWidth, window.innerWidth, p.scrollWidth, p.clientWidth, document.querySelector('#incident-map').getBoundingClientRect().height])(document.querySelector('#incident-panel'))`)
		if dims[0] > dims[1] || dims[2] > dims[3] || dims[4] < 300 {
			t.Errorf("%dx%d: page %v wide in %v, panel %v in %v, map %v high", vp[0], vp[1], dims[0], dims[1], dims[2], dims[3], dims[4])
		}
	}
}

// differing counts the pixels of r that differ between a and b.
func differing(a, b image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if abs(int(r1>>8)-int(r2>>8))+abs(int(g1>>8)-int(g2>>8))+abs(int(b1>>8)-int(b2>>8)) > 12 {
				n++
			}
		}
	}
	return n
}
