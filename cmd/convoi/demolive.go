package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/convoi/convoi"
)

// demoLive are the demo's flags for escorts on the road.
type demoLive struct {
	simulate *bool
	scenario *string
	speed    *float64
}

func demoLiveFlags(fs *flag.FlagSet) *demoLive {
	return &demoLive{
		simulate: fs.Bool("simulate", true, "put escorts of today on the road and drive them with a clean simulation in the background (--simulate=false: none)"),
		scenario: fs.String("scenario", "clean", "what happens to the Monaco-Nice escort: "+strings.Join(simScenarios, ", ")+" (ramming: on the approach to the La Turbie toll plaza)"),
		speed:    fs.Float64("sim-speed", 1, "speed-up of the simulated escorts (1: real time)"),
	}
}

// startDemoLive puts the Monaco-Nice escort and a medical escort on the
// road (movements of today, released with departures in the first minutes)
// and drives them through the tracker listeners in the background; the
// returned function stops the drive.
func (a *App) startDemoLive(ctx context.Context, out io.Writer, w *demoWorld, l *demoLive, password string) (func(), error) {
	if !*l.simulate {
		return func() {}, nil
	}
	if !slices.Contains(simScenarios, *l.scenario) {
		return nil, fmt.Errorf("--scenario must be one of %s", strings.Join(simScenarios, ", "))
	}
	if a.Tracker.TeltonikaTCPAddr() == nil || a.Tracker.OsmAndAddress() == nil {
		fmt.Fprintln(out, "Escorts on the road: not simulated (the Teltonika or OsmAnd listener is off).")
		return func() {}, nil
	}
	sim := &simulation{app: a, out: out, speed: *l.speed, seed: 1}
	if *l.scenario == "ramming" {
		// The ramming continues into the response: the commander declares
		// the incident from the monitor's attack alarm.
		sim.onAttack = func(al *convoi.Alarm) {
			text, err := a.respondToAttack(ctx, al, password)
			if err != nil {
				text = fmt.Sprintf("RESPONSE: %v\n", err)
			}
			sim.printf("%s", text)
		}
	}
	stopAlarms := sim.printAlarms(ctx)
	var es []*simEscort
	for _, spec := range []struct {
		s        escortSpec
		scenario string
	}{{escortWestbound, *l.scenario}, {escortMedical, "clean"}} {
		e, err := sim.putOnRoad(ctx, w, spec.s, spec.scenario, "Monaco")
		if err != nil {
			stopAlarms()
			return nil, fmt.Errorf("escort on the road: %w", err)
		}
		es = append(es, e)
	}
	fmt.Fprintf(out, "Escorts on the road (%s, x%g); alarms are printed here and on the SSE stream /api/v1/stream.\n\n", *l.scenario, *l.speed)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sim.drive(ctx, es); err != nil && ctx.Err() == nil {
			a.Logger.Error("demo simulation", "err", err)
		}
	}()
	return func() { cancel(); <-done; stopAlarms() }, nil
}
