package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/monitor"
)

// openMonitor starts the monitor engine on the bus: every fix and device
// event of an underway movement is matched against its released draw, and
// alarms go to the store through the alarm service, which publishes them.
func (a *App) openMonitor() {
	m := monitor.New(a.Graph)
	m.Now = a.Now
	m.Movements, m.Trackers, m.Positions = a.S.Movements, a.S.Trackers, a.S.Positions
	m.Alarms = a.Alarms
	m.Events = a.Events
	if a.Leases != nil {
		m.Owns = a.owned.has // a cluster: the movements whose lease this node holds
	}
	log := a.Logger.With("component", "monitor")
	m.OnError = func(err error) { log.Error("monitor", "err", err) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		close(started)
		var feed monitor.Subscriber = a.Events
		if b, ok := a.Events.(bufferedSubscriber); ok {
			feed = monitorFeed{b}
		}
		m.Run(ctx, feed)
	}()
	<-started
	a.Monitor = m
	a.closers = append(a.closers, func() error { cancel(); <-done; return nil })
}

// monitorFeed subscribes the monitor with a buffer of several seconds of
// events at the full ingest rate: a stall that long (a busy machine, a slow
// store) does not get it dropped by the bus and sent into a rebuild.
type monitorFeed struct{ bus bufferedSubscriber }

// bufferedSubscriber is an event bus that subscribes with a given buffer
// and to given event types (bus.EventService, natsbus.EventService).
type bufferedSubscriber interface {
	SubscribeBuffer(ctx context.Context, n int) (convoi.Subscription, error)
	SubscribeTypes(ctx context.Context, n int, types []convoi.EventType) (convoi.Subscription, error)
}

// MonitorBuffer is the monitor's subscription buffer, in events.
const MonitorBuffer = 1 << 18

func (f monitorFeed) Subscribe(ctx context.Context) (convoi.Subscription, error) {
	return f.bus.SubscribeBuffer(ctx, MonitorBuffer)
}

// freeListeners checks the tracker listeners' addresses before the demo
// opens them: one whose port is taken (a Mosquitto on 1883 is common) is
// left off, and the returned notes say which and why. A taken API address
// falls back to a free port on the same host.
func (a *App) freeListeners() []string {
	var notes []string
	check := func(name string, addr *string, udp bool) {
		if *addr == "" {
			return
		}
		var err error
		if udp {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", *addr); err == nil {
				pc.Close()
			}
		} else {
			var ln net.Listener
			if ln, err = net.Listen("tcp", *addr); err == nil {
				ln.Close()
			}
		}
		if err == nil {
			return
		}
		why := err.Error()
		if errors.Is(err, syscall.EADDRINUSE) {
			why = "the port is already in use by another program"
		}
		if name == "HTTP API" {
			host, _, _ := net.SplitHostPort(*addr)
			notes = append(notes, fmt.Sprintf("HTTP API: %s not available (%s); serving on a free port of %s instead", *addr, why, host))
			*addr = net.JoinHostPort(host, "0")
			return
		}
		notes = append(notes, fmt.Sprintf("%s listener on %s left off: %s", name, *addr, why))
		*addr = ""
	}
	check("HTTP API", &a.Addr, false)
	check("Teltonika TCP", &a.TeltonikaAddr, false)
	check("Teltonika UDP", &a.TeltonikaUDPAddr, true)
	check("OsmAnd HTTP", &a.OsmAndAddr, false)
	if a.MQTTURL == "" {
		check("MQTT broker", &a.MQTTAddr, false)
		if a.MQTTAddr == "" && strings.Contains(strings.Join(notes, "\n"), "MQTT") {
			notes[len(notes)-1] += " (an MQTT broker such as Mosquitto may be running; use --mqtt-url to subscribe to it)"
		}
	}
	return notes
}
