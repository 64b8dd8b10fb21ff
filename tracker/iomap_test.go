package tracker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker"
	"github.com/convoi/convoi/tracker/teltonika"
)

// TestIOMapEvents sends one Codec 8E record per IO mapping and checks the
// device events stored, including the edge rule: a level repeated in the
// next periodic record raises nothing more.
func TestIOMapEvents(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.PanicInput = 0 })
	d, _ := e.dial(t, imeiFMC)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	i := 0
	rec := func(prio teltonika.Priority, event uint16, ios ...teltonika.IO) teltonika.Record {
		i++
		return teltonika.Record{Time: base.Add(time.Duration(i) * time.Second), Priority: prio, Lon: 7.42, Lat: 43.73,
			Satellites: 8, EventID: event, IO: ios}
	}
	io1 := func(id uint16, v uint64) teltonika.IO { return teltonika.IO{ID: id, Size: 1, Value: v} }
	cases := []struct {
		name string
		rec  teltonika.Record
		want []string
		sev  convoi.Severity
	}{
		{"panic priority", rec(teltonika.PriorityPanic, 0), []string{"panic"}, convoi.SeverityCritical},
		{"crash 247", rec(0, 247, io1(247, 1)), []string{"crash"}, convoi.SeverityCritical},
		{"crash cleared", rec(0, 0, io1(247, 0)), nil, 0},
		{"gsm jamming 249", rec(0, 249, io1(249, 1)), []string{"gsm_jamming"}, convoi.SeverityCritical},
		{"gsm jamming persists", rec(0, 0, io1(249, 1)), nil, 0},
		{"gnss jamming warning 318", rec(0, 318, io1(318, 1)), []string{"gnss_jamming"}, convoi.SeverityWarning},
		{"gnss jamming critical 318", rec(0, 318, io1(318, 2)), []string{"gnss_jamming"}, convoi.SeverityCritical},
		{"no gnss fix 69", rec(0, 69, io1(69, 2)), []string{"no_gnss_fix"}, convoi.SeverityWarning},
		{"gnss fix again", rec(0, 69, io1(69, 1)), nil, 0},
		{"ignition on 239", rec(0, 239, io1(239, 1)), []string{"ignition_on"}, convoi.SeverityInfo},
		{"ignition still on", rec(0, 0, io1(239, 1)), nil, 0},
		{"ignition off", rec(0, 0, io1(239, 0)), []string{"ignition_off"}, convoi.SeverityInfo},
		{"door open 662", rec(0, 662, io1(662, 1)), []string{"door_open"}, convoi.SeverityWarning},
		{"door closed", rec(0, 662, io1(662, 0)), []string{"door_closed"}, convoi.SeverityInfo},
		{"tamper 520", rec(0, 520, io1(520, 1)), []string{"tamper"}, convoi.SeverityCritical},
		{"power cut 252", rec(0, 252, io1(252, 1)), []string{"power_cut"}, convoi.SeverityCritical},
		{"towing 246", rec(0, 246, io1(246, 1)), []string{"towing"}, convoi.SeverityCritical},
		{"alarm 236", rec(0, 236, io1(236, 1)), []string{"panic"}, convoi.SeverityCritical},
		{"crash re-triggered by event id", rec(0, 247, io1(247, 1)), []string{"crash"}, convoi.SeverityCritical},
		{"two at once", rec(teltonika.PriorityPanic, 249, io1(249, 0), io1(252, 0), io1(246, 1)), []string{"panic"}, convoi.SeverityCritical},
		{"unmapped IO", rec(0, 0, io1(200, 1)), nil, 0},
	}
	before := 0
	for _, tc := range cases {
		frame, err := teltonika.AppendFrame(nil, teltonika.Codec8E, []teltonika.Record{tc.rec})
		if err != nil {
			t.Fatal(err)
		}
		if n := d.send(frame); n != 1 {
			t.Fatalf("%s: ack %d", tc.name, n)
		}
		all := e.eventsOf(t, imeiFMC)
		var got []*convoi.DeviceEvent
		for _, ev := range all {
			if ev.Time.Equal(tc.rec.Time) {
				got = append(got, ev)
			}
		}
		if k := kinds(got); strings.Join(k, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: events %v, want %v", tc.name, k, tc.want)
			continue
		}
		if len(got) > 0 && got[0].Severity != tc.sev {
			t.Errorf("%s: severity %v, want %v", tc.name, got[0].Severity, tc.sev)
		}
		if len(got) > 0 && (got[0].Lat != 43.73 || got[0].Lon != 7.42) {
			t.Errorf("%s: event at %v,%v", tc.name, got[0].Lat, got[0].Lon)
		}
		before = len(all)
	}
	_ = before
	ps := e.positionsOf(t, imeiFMC)
	if len(ps) != len(cases) {
		t.Fatalf("%d positions, want %d", len(ps), len(cases))
	}
	if ps[0].Attributes["priority"] != float64(2) || ps[1].Attributes["crash"] != float64(1) || ps[len(ps)-1].Attributes["io200"] != float64(1) {
		t.Fatalf("attributes %v / %v / %v", ps[0].Attributes, ps[1].Attributes, ps[len(ps)-1].Attributes)
	}
}

// TestPanicInput wires DIN2 as the panic button.
func TestPanicInput(t *testing.T) {
	e := MustOpenEnv(t, func(s *tracker.Server) { s.PanicInput = 2 })
	d, _ := e.dial(t, imeiPanicIn)
	at := func(s int) time.Time { return time.Date(2026, 3, 1, 8, 0, s, 0, time.UTC) }
	send := func(s int, v uint64) {
		frame, _ := teltonika.AppendFrame(nil, teltonika.Codec8, []teltonika.Record{{Time: at(s), Lat: 43.7, Lon: 7.4, Satellites: 5,
			IO: []teltonika.IO{{ID: 2, Size: 1, Value: v}, {ID: 1, Size: 1, Value: 1}}}})
		if n := d.send(frame); n != 1 {
			t.Fatalf("ack %d", n)
		}
	}
	send(1, 0)
	send(2, 1) // pressed
	send(3, 1) // still pressed: no second alarm
	send(4, 0)
	send(5, 1) // pressed again
	var times []int
	for _, ev := range e.eventsOf(t, imeiPanicIn) {
		if ev.Kind == convoi.EventPanic {
			times = append(times, ev.Time.Second())
		}
	}
	if len(times) != 2 || times[0] != 2 || times[1] != 5 {
		t.Fatalf("panics at %v, want [2 5]", times)
	}
}

func TestParseIOMaps(t *testing.T) {
	m := tracker.DefaultIOMaps()
	for model, want := range map[string]string{"FMC130": "teltonika-fm", "FMB920": "teltonika-fm", "": "teltonika-fm", "GT06": "none"} {
		if got := m.For(model); got == nil || got.Name != want {
			t.Errorf("model %q: map %v, want %s", model, got, want)
		}
	}
	for name, doc := range map[string]string{
		"not json":      `{`,
		"duplicate id":  `{"maps":[{"name":"x","models":["*"],"elements":[{"id":1,"attr":"a"},{"id":1,"attr":"b"}]}]}`,
		"no attr":       `{"maps":[{"name":"x","models":["*"],"elements":[{"id":1}]}]}`,
		"rule no kind":  `{"maps":[{"name":"x","models":["*"],"elements":[{"id":1,"attr":"a","events":[{"values":[1]}]}]}]}`,
		"bad severity":  `{"maps":[{"name":"x","models":["*"],"elements":[{"id":1,"attr":"a","events":[{"values":[1],"kind":"k","severity":"dire"}]}]}]}`,
		"bad pattern":   `{"maps":[{"name":"x","models":["["],"elements":[]}]}`,
		"panic input 9": `{"maps":[{"name":"x","models":["*"],"panic_input":9,"elements":[]}]}`,
	} {
		if _, err := tracker.ParseIOMaps([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
