// Package tracker is convoi's device server: it accepts GPS trackers over
// Teltonika TCP and UDP, OsmAnd HTTP and MQTT JSON, turns what they send
// into convoi.Position and convoi.DeviceEvent values, stores them durably
// before acknowledging, publishes them on the event bus, and keeps each
// device's last state in memory (online/offline, last position, last IO).
//
// Protocol framing and decoding live in the subpackages (tracker/teltonika,
// tracker/osmand, tracker/mqtt), which are pure and import no store; this
// package owns the sockets, deadlines, connection caps, device lookup and
// the ingest path. It must not import a store or web: the caller (cmd/convoi)
// gives it the convoi services.
//
// Durability: a record is acknowledged to a device only after
// PositionService.StorePositions has returned for the batch that holds it.
// A bad frame (wrong CRC, malformed) acknowledges nothing.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convoi/convoi"
)

// Defaults, chosen for vans on mobile networks.
const (
	DefaultMaxConns         = 20000
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultFrameTimeout     = 30 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultOfflineAfter     = 90 * time.Second
	DefaultCommandTimeout   = 30 * time.Second
	DefaultKnownTTL         = 30 * time.Second
	DefaultStoreTimeout     = 30 * time.Second
	DefaultDrainTimeout     = 5 * time.Second
	DefaultMQTTTopic        = "convoi/positions/#"
)

// Server is the device server. Create it with New, set the exported
// fields, then Open. Safe for concurrent use once open.
type Server struct {
	// Listen addresses; an empty address disables that listener.
	TeltonikaAddr    string // TCP, e.g. "127.0.0.1:5027"
	TeltonikaUDPAddr string // UDP, e.g. "127.0.0.1:5027"
	OsmAndAddr       string // HTTP, e.g. "127.0.0.1:5055"
	MQTTAddr         string // embedded MQTT broker, e.g. "127.0.0.1:1883"
	// MQTTURL, when set, subscribes to an external broker instead of
	// running the embedded one (e.g. "tcp://127.0.0.1:1883").
	MQTTURL   string
	MQTTTopic string // topic filter for positions; default DefaultMQTTTopic

	// Services (required): known devices, durable storage, live stream.
	Trackers  convoi.TrackerService
	Positions convoi.PositionService
	Events    convoi.EventService // optional: nil publishes nothing
	// DeviceSecrets holds the trackers' credentials, required by the
	// embedded MQTT broker (which admits no anonymous client).
	DeviceSecrets DeviceSecrets

	// Logger receives edge events only (connections refused, unknown
	// devices, bad frames, store failures); never positions. Keys are
	// fixed and shared with the web package: device, remote, topic, and
	// error for the error.
	Logger *slog.Logger
	// Now is the clock for server times and offline detection. Socket
	// deadlines are kernel timers and use the wall clock, whatever Now is.
	Now convoi.Clock

	// IOMaps maps device models' IO elements to attributes and events.
	IOMaps *IOMaps
	// PanicInput, when 1-4, makes that Teltonika digital input a panic
	// button on every model, in addition to the IO map.
	PanicInput int

	MaxConns         int           // concurrent TCP connections; more are closed at once (see EffectiveMaxConns)
	MaxConnsPerAddr  int           // concurrent TCP connections from one peer address (DefaultMaxConnsPerAddr; 0: no cap)
	HandshakeTimeout time.Duration // for the IMEI login
	IdleTimeout      time.Duration // silence between frames before a TCP client is dropped
	FrameTimeout     time.Duration // to receive the rest of a frame once its first byte is in
	WriteTimeout     time.Duration
	OfflineAfter     time.Duration // silence before a device is declared offline
	CommandTimeout   time.Duration // default wait for a Codec 12 reply
	KnownTTL         time.Duration // how long a device lookup is cached
	StoreTimeout     time.Duration // bound on one StorePositions call
	DrainTimeout     time.Duration // Close waits this long for in-flight OsmAnd requests

	ctx    context.Context // lifecycle: ended by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	tcpLn      net.Listener
	udpConn    net.PacketConn
	httpLn     net.Listener
	httpSrv    *http.Server
	inflight   sync.WaitGroup // OsmAnd handlers served by httpSrv
	mqtt       interface{ Close() error }
	mqttBroker interface{ Address() string }

	conns     atomic.Int64 // open TCP connections
	addrConns addrConns    // open TCP connections per peer address
	logs      logLimiter   // rate of edge-event log lines

	mu       sync.Mutex
	devices  map[convoi.DeviceID]*device
	known    map[convoi.DeviceID]knownEntry
	tcpConns map[net.Conn]struct{}
	closed   bool
}

// New returns a Server with the default timeouts and IO maps and no
// listeners.
func New() *Server {
	return &Server{
		MQTTTopic:        DefaultMQTTTopic,
		Logger:           slog.New(slog.DiscardHandler),
		Now:              time.Now,
		IOMaps:           DefaultIOMaps(),
		MaxConns:         DefaultMaxConns,
		MaxConnsPerAddr:  DefaultMaxConnsPerAddr,
		HandshakeTimeout: DefaultHandshakeTimeout,
		IdleTimeout:      DefaultIdleTimeout,
		FrameTimeout:     DefaultFrameTimeout,
		WriteTimeout:     DefaultWriteTimeout,
		OfflineAfter:     DefaultOfflineAfter,
		CommandTimeout:   DefaultCommandTimeout,
		KnownTTL:         DefaultKnownTTL,
		StoreTimeout:     DefaultStoreTimeout,
		DrainTimeout:     DefaultDrainTimeout,
		devices:          make(map[convoi.DeviceID]*device),
		known:            make(map[convoi.DeviceID]knownEntry),
		tcpConns:         make(map[net.Conn]struct{}),
	}
}

// Open binds every configured listener (synchronously: a taken port fails
// here) and starts serving in the background.
func (s *Server) Open() (err error) {
	if s.Trackers == nil || s.Positions == nil {
		return fmt.Errorf("tracker: Trackers and Positions services required")
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.IOMaps == nil {
		s.IOMaps = DefaultIOMaps()
	}
	if s.PanicInput < 0 || s.PanicInput > 4 {
		return fmt.Errorf("tracker: panic input %d not in 1-4", s.PanicInput)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.TeltonikaAddr != "" {
		if s.tcpLn, err = net.Listen("tcp", s.TeltonikaAddr); err != nil {
			return fmt.Errorf("teltonika listen: %w", err)
		}
		s.wg.Go(func() { s.serveTeltonika(s.tcpLn) })
	}
	if s.TeltonikaUDPAddr != "" {
		if s.udpConn, err = net.ListenPacket("udp", s.TeltonikaUDPAddr); err != nil {
			return fmt.Errorf("teltonika udp listen: %w", err)
		}
		s.wg.Go(func() { s.serveTeltonikaUDP(s.udpConn) })
	}
	if s.OsmAndAddr != "" {
		if s.httpLn, err = net.Listen("tcp", s.OsmAndAddr); err != nil {
			return fmt.Errorf("osmand listen: %w", err)
		}
		h := s.OsmAndHandler()
		s.httpSrv = &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.inflight.Add(1)
				defer s.inflight.Done()
				h.ServeHTTP(w, r)
			}),
			ReadHeaderTimeout: s.HandshakeTimeout,
			ReadTimeout:       s.FrameTimeout,
			WriteTimeout:      s.StoreTimeout + s.WriteTimeout,
			IdleTimeout:       s.IdleTimeout,
			MaxHeaderBytes:    16 << 10,
		}
		s.wg.Go(func() { s.httpSrv.Serve(s.httpLn) })
	}
	if s.MQTTAddr != "" || s.MQTTURL != "" {
		if err := s.openMQTT(); err != nil {
			return err
		}
	}
	s.wg.Go(s.watchOffline)
	return nil
}

// Close stops the listeners, closes every device connection and waits for
// the server's goroutines. In-flight batches end with the store call that
// carries them; their frames are not acknowledged unless it returned.
// In-flight OsmAnd requests get DrainTimeout to finish (and be answered)
// before their connections are cut; no handler runs once Close returns.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := s.allConnsLocked()
	s.mu.Unlock()
	var errs []error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.DrainTimeout)
		if err := s.httpSrv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, ignoreClosed(err))
		}
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.tcpLn != nil {
		errs = append(errs, ignoreClosed(s.tcpLn.Close()))
	}
	if s.udpConn != nil {
		errs = append(errs, ignoreClosed(s.udpConn.Close()))
	}
	if s.httpSrv != nil {
		errs = append(errs, ignoreClosed(s.httpSrv.Close()))
		s.inflight.Wait()
	}
	if s.mqtt != nil {
		errs = append(errs, s.mqtt.Close())
	}
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// TeltonikaTCPAddr returns the bound TCP address (useful with port 0), or nil.
func (s *Server) TeltonikaTCPAddr() net.Addr {
	if s.tcpLn == nil {
		return nil
	}
	return s.tcpLn.Addr()
}

// TeltonikaUDPAddress returns the bound UDP address, or nil.
func (s *Server) TeltonikaUDPAddress() net.Addr {
	if s.udpConn == nil {
		return nil
	}
	return s.udpConn.LocalAddr()
}

// OsmAndAddress returns the bound HTTP address, or nil.
func (s *Server) OsmAndAddress() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// Conns returns the number of open Teltonika TCP connections.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// knownEntry caches a device lookup, positive or negative.
type knownEntry struct {
	tracker *convoi.Tracker // nil: unknown or disabled
	until   time.Time
}

// lookup returns the enabled tracker registered for d with protocol p, or
// an ENOTFOUND error. Results are cached for KnownTTL so that HTTP and UDP
// devices do not cost a query per message.
func (s *Server) lookup(ctx context.Context, d convoi.DeviceID, p convoi.Protocol) (*convoi.Tracker, error) {
	now := s.Now()
	s.mu.Lock()
	e, ok := s.known[d]
	s.mu.Unlock()
	if !ok || now.After(e.until) {
		if !d.Valid() {
			return nil, convoi.Errorf(convoi.ENOTFOUND, "Unknown device.")
		}
		t, err := s.Trackers.FindTrackerByDeviceID(ctx, d)
		if err != nil && convoi.ErrorCode(err) != convoi.ENOTFOUND {
			return nil, fmt.Errorf("find tracker: %w", err)
		}
		if t != nil && t.Disabled {
			t = nil
		}
		e = knownEntry{tracker: t, until: now.Add(s.KnownTTL)}
		s.mu.Lock()
		if len(s.known) > 100000 { // bound the cache against IMEI scans
			clear(s.known)
		}
		s.known[d] = e
		s.mu.Unlock()
	}
	if e.tracker == nil || e.tracker.Protocol != p {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Unknown device.")
	}
	return e.tracker, nil
}

// Forget drops the cached lookup of d, so that a tracker just registered,
// disabled or re-bound takes effect at its next message.
func (s *Server) Forget(d convoi.DeviceID) {
	s.mu.Lock()
	delete(s.known, d)
	s.mu.Unlock()
}

// wallClock is for socket deadlines only: they are compared with the
// kernel's clock, so an injected Now (a replay, a test) must not set them.
var wallClock = time.Now
