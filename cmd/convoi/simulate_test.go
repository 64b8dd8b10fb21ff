package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
)

// alarmLine matches what simulate prints for each alarm the server opens.
var alarmLine = regexp.MustCompile(`(?m)^ALARM #\d+ (\w+) (\w+) at (.*) \(`)

func runSim(t *testing.T, args ...string) (string, [][]string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), env, append([]string{"simulate"}, args...)); code != 0 {
		t.Fatalf("simulate %v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
	}
	return out.String(), alarmLine.FindAllStringSubmatch(out.String(), -1)
}

// TestSimulateRammingEndToEnd runs the Incarville pattern through the real
// app: the van's Teltonika box over TCP, the car and a crew phone over
// OsmAnd HTTP, the monitor on the bus, the sqlite alarm store. Exactly one
// alarm: a critical attack at the toll booth.
func TestSimulateRammingEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	out, alarms := runSim(t, "--scenario", "ramming", "--speed", "25", "--wait", "3s")
	if len(alarms) != 1 || alarms[0][1] != "critical" || alarms[0][2] != "attack" || !strings.Contains(alarms[0][3], "toll booth") {
		t.Fatalf("alarms %q, want one critical attack at the toll booth\n%s", alarms, out)
	}
	if !strings.Contains(out, "the van is rammed") {
		t.Fatalf("no ramming in\n%s", out)
	}
}

// TestSimulateCleanEndToEnd drives the same escort clean: no alarm.
func TestSimulateCleanEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a whole escort")
	}
	out, alarms := runSim(t, "--scenario", "clean", "--speed", "25", "--wait", "2s")
	if len(alarms) != 0 {
		t.Fatalf("clean drive raised %q\n%s", alarms, out)
	}
	if !strings.Contains(out, "1 alarm(s)") && !strings.Contains(out, "0 alarm(s)") {
		t.Fatalf("no summary in\n%s", out)
	}
}

// TestDemoTakenPortGoesOn: a listener whose port is taken is left off with
// a note; the others stay.
func TestDemoTakenPortGoesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := NewApp()
	a.Addr, a.TeltonikaAddr, a.TeltonikaUDPAddr, a.OsmAndAddr = "127.0.0.1:0", "127.0.0.1:0", "", "127.0.0.1:0"
	a.MQTTAddr = ln.Addr().String()
	notes := a.freeListeners()
	if len(notes) != 1 || !strings.Contains(notes[0], "MQTT broker listener on "+ln.Addr().String()+" left off") || a.MQTTAddr != "" {
		t.Fatalf("notes %q, MQTT %q: want the MQTT listener left off with its reason", notes, a.MQTTAddr)
	}
	if a.TeltonikaAddr == "" || a.OsmAndAddr == "" {
		t.Fatal("free listeners were left off too")
	}
	a.Addr = ln.Addr().String()
	notes = a.freeListeners()
	if len(notes) != 1 || !strings.HasSuffix(a.Addr, ":0") {
		t.Fatalf("taken API address: notes %q, addr %q: want a free port instead", notes, a.Addr)
	}
}

// TestSimulateScenariosEndToEnd: each scenario through the real app raises
// exactly its alarm.
func TestSimulateScenariosEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives whole escorts")
	}
	for _, c := range []struct{ scenario, rule string }{
		{"deviation", "deviation"}, {"signal-loss", "signal_loss"}, {"late", "late"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			t.Parallel()
			out, alarms := runSim(t, "--scenario", c.scenario, "--speed", "25", "--wait", "3s", "--seed", "2")
			if len(alarms) != 1 || alarms[0][2] != c.rule {
				t.Fatalf("alarms %q, want exactly one %s\n%s", alarms, c.rule, out)
			}
		})
	}
}
