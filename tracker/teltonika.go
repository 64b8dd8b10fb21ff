package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker/teltonika"
)

// tcpConn is an accepted Teltonika connection after login.
type tcpConn struct {
	net.Conn
	dev *device

	wmu sync.Mutex // serialises writes (acks, commands)

	cmdMu   sync.Mutex  // one Codec 12 command in flight per connection
	replies chan string // the read loop delivers Codec 12 responses here
}

func (c *tcpConn) write(b []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.SetWriteDeadline(wallClock().Add(timeout))
	_, err := c.Conn.Write(b)
	return err
}

func (s *Server) serveTeltonika(ln net.Listener) {
	maxConns := s.EffectiveMaxConns()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off instead of spinning.
			s.logDrop("teltonika accept", "error", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		if s.conns.Add(1) > int64(maxConns) {
			s.conns.Add(-1)
			s.logDrop("teltonika connection refused: limit reached", "max", maxConns)
			conn.Close()
			continue
		}
		releaseAddr, ok := s.addrConns.take(conn.RemoteAddr(), s.MaxConnsPerAddr)
		if !ok {
			s.conns.Add(-1)
			s.logDrop("teltonika connection refused: limit per address reached", "remote", conn.RemoteAddr().String(), "max", s.MaxConnsPerAddr)
			conn.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.conns.Add(-1)
			releaseAddr()
			conn.Close()
			return
		}
		s.tcpConns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.tcpConns, conn)
				s.mu.Unlock()
				s.conns.Add(-1)
				releaseAddr()
			}()
			if tc, ok := conn.(*net.TCPConn); ok {
				// Dead peers (a van out of coverage) are found by the
				// kernel within about 30 s, so the device goes offline
				// then rather than at the idle timeout.
				tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3})
			}
			// Connections cut by Close end with an error too: only the
			// others are worth a warning.
			if err := s.handleTeltonika(conn); err != nil && s.ctx.Err() == nil {
				s.logDrop("teltonika connection closed", "remote", conn.RemoteAddr().String(), "error", err)
			}
		})
	}
}

// handleTeltonika runs one connection: login, then frames until error.
func (s *Server) handleTeltonika(conn net.Conn) error {
	fr := &frameReader{conn: conn, split: teltonika.SplitTCP, max: teltonika.MaxFrameLength, now: wallClock,
		idle: s.HandshakeTimeout, frame: s.HandshakeTimeout}
	frame, err := fr.next()
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	imei, err := teltonika.ParseIMEI(frame)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	t, err := s.lookup(s.ctx, convoi.DeviceID(imei), convoi.ProtocolTeltonika)
	if err != nil {
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			s.logDrop("unknown device rejected", "protocol", "teltonika", "device", imei, "remote", conn.RemoteAddr().String())
			conn.SetWriteDeadline(wallClock().Add(s.WriteTimeout))
			conn.Write(teltonika.RejectIMEI)
			return nil
		}
		return err
	}
	dev := s.device(t)
	c := &tcpConn{Conn: conn, dev: dev, replies: make(chan string, 1)}
	dev.lock()
	old := dev.conn
	dev.conn = c
	s.seen(s.ctx, dev)
	dev.unlock()
	if old != nil {
		old.Close() // the device reconnected; the old socket is stale
	}
	defer func() {
		dev.lock()
		if dev.conn == c {
			dev.conn = nil
			if s.ctx.Err() == nil {
				s.setOffline(s.ctx, dev, s.Now())
			}
		}
		dev.unlock()
	}()
	if err := c.write(teltonika.AcceptIMEI, s.WriteTimeout); err != nil {
		return err
	}
	fr.idle, fr.frame = s.IdleTimeout, s.FrameTimeout
	var (
		p   teltonika.Packet
		ack []byte
		bad int
	)
	for {
		frame, err := fr.next()
		if errors.Is(err, io.EOF) {
			return nil // the device hung up between frames: nothing is lost
		}
		if err != nil {
			return err
		}
		if teltonika.IsPing(frame) {
			continue
		}
		if teltonika.FrameCodec(frame) == teltonika.Codec12 {
			m, err := teltonika.DecodeMessage(frame)
			if err != nil {
				return err
			}
			if m.Type == teltonika.TypeResponse {
				select {
				case c.replies <- m.Text:
				default: // nobody waiting: a late reply
				}
			}
			continue
		}
		if err := p.Decode(frame); err != nil {
			// Wrong CRC or a malformed body: acknowledge nothing (zero
			// records), so the device sends the records again.
			bad++
			s.logDrop("teltonika bad frame", "device", imei, "error", err)
			if bad >= 3 {
				return fmt.Errorf("%d bad frames in a row: %w", bad, err)
			}
			if err := c.write(teltonika.AppendAck(ack[:0], 0), s.WriteTimeout); err != nil {
				return err
			}
			continue
		}
		bad = 0
		n, err := s.ingestPacket(dev, &p)
		if err != nil {
			// Not stored: no acknowledgement; the device retransmits on
			// its next connection.
			if s.ctx.Err() == nil {
				s.Logger.Error("store positions", "device", imei, "error", err)
			}
			return err
		}
		ack = teltonika.AppendAck(ack[:0], n)
		if err := c.write(ack, s.WriteTimeout); err != nil {
			return err
		}
	}
}

// ingestPacket converts and durably stores a decoded packet for dev and
// returns how many records it holds (all are then durable).
func (s *Server) ingestPacket(dev *device, p *teltonika.Packet) (int, error) {
	now := s.Now()
	dev.lock()
	defer dev.unlock()
	im := s.IOMaps.For(s.modelOf(dev))
	ps := make([]convoi.Position, len(p.Records))
	var evs []convoi.DeviceEvent
	changed := make(map[uint16]int64)
	for i := range p.Records {
		evs = s.convertRecord(dev, im, &p.Records[i], now, &ps[i], evs, changed)
	}
	if err := s.store(s.ctx, dev, ps, evs); err != nil {
		return 0, err
	}
	for id, v := range changed {
		dev.io[id] = v
	}
	return len(p.Records), nil
}

// modelOf returns the cached model of dev's tracker.
func (s *Server) modelOf(dev *device) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.known[dev.id]; ok && e.tracker != nil {
		return e.tracker.Model
	}
	return ""
}

// Time bounds a stored fix may carry (the store refuses others).
var (
	minFixTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	maxFixTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// convertRecord fills pos from r and appends r's events to evs. changed
// collects IO values that differ from dev.io (applied once stored).
func (s *Server) convertRecord(dev *device, im *IOMap, r *teltonika.Record, now time.Time, pos *convoi.Position, evs []convoi.DeviceEvent, changed map[uint16]int64) []convoi.DeviceEvent {
	*pos = convoi.Position{
		DeviceID: dev.id, TrackerID: dev.trackerID, FixTime: r.Time, ServerTime: now,
		Lat: r.Lat, Lon: r.Lon, SpeedKmh: float64(r.Speed), Heading: float64(r.Angle),
		AltitudeM: float64(r.Altitude), Satellites: int(r.Satellites),
		Valid:      r.Satellites > 0 && !(r.Lat == 0 && r.Lon == 0),
		Attributes: make(map[string]any, len(r.IO)+2),
	}
	pos.Attributes["priority"] = int(r.Priority)
	if r.EventID != 0 {
		pos.Attributes["event_io"] = int(r.EventID)
	}
	if r.Time.Before(minFixTime) || !r.Time.Before(maxFixTime) {
		// A device without a clock yet: keep the record at server time,
		// marked invalid, rather than lose it or block its queue.
		pos.FixTime, pos.Valid = now, false
		pos.Attributes["device_time_ms"] = r.Time.UnixMilli()
	}
	event := func(k convoi.DeviceEventKind, sev convoi.Severity, v int64) {
		evs = append(evs, convoi.DeviceEvent{DeviceID: dev.id, TrackerID: dev.trackerID, Kind: k, Severity: sev,
			Time: pos.FixTime, ServerTime: now, Lat: pos.Lat, Lon: pos.Lon, Value: v})
	}
	if r.Priority == teltonika.PriorityPanic && im != nil && im.PanicPriority {
		event(convoi.EventPanic, convoi.SeverityCritical, int64(r.Priority))
	}
	panicInput := s.PanicInput
	if panicInput == 0 && im != nil {
		panicInput = im.PanicInput
	}
	for _, io := range r.IO {
		el := im.Element(io.ID)
		if io.Size == 0 {
			key := "io" + strconv.Itoa(int(io.ID))
			if el != nil {
				key = el.Attr
			}
			if utf8.Valid(io.Bytes) {
				pos.Attributes[key] = string(io.Bytes)
			} else {
				pos.Attributes[key] = fmt.Sprintf("%x", io.Bytes)
			}
			continue
		}
		v := int64(io.Value) // unsigned, as the FMB AVL ID list defines the mapped elements
		if el == nil {
			pos.Attributes["io"+strconv.Itoa(int(io.ID))] = v
		} else {
			if el.Scale != 0 {
				f := float64(v) * el.Scale
				pos.Attributes[el.Attr] = f
				switch el.Attr {
				case "hdop":
					pos.HDOP = f
				}
			} else {
				pos.Attributes[el.Attr] = v
			}
			if el.Attr == "gnss_status" {
				pos.GNSS = gnssStatus(v)
				if v != 1 {
					pos.Valid = false
				}
			}
		}
		isPanicInput := panicInput != 0 && int(io.ID) == panicInput
		if el == nil && !isPanicInput {
			continue
		}
		prev, seen := changed[io.ID]
		if !seen {
			prev, seen = dev.io[io.ID]
		}
		edge := !seen || prev != v || r.EventID == io.ID
		changed[io.ID] = v
		if !edge {
			continue
		}
		if isPanicInput && v == 1 {
			event(convoi.EventPanic, convoi.SeverityCritical, v)
		}
		if el != nil {
			if rule := el.rule(v); rule != nil {
				event(rule.Kind, convoi.Severity(rule.Severity), v)
			}
		}
	}
	return evs
}

func gnssStatus(v int64) convoi.GNSSStatus {
	switch v {
	case 0:
		return convoi.GNSSOff
	case 1:
		return convoi.GNSSFix
	case 2:
		return convoi.GNSSNoFix
	case 3:
		return convoi.GNSSSleep
	}
	return convoi.GNSSUnknown
}

// SendCommand sends text (for example "setdigout 11") to a connected
// Teltonika device as a Codec 12 command and returns its reply. It fails
// with ENOTFOUND when the device has no open connection, EUNAVAILABLE when
// no reply comes before ctx ends or CommandTimeout passes. One command is in
// flight per device at a time; concurrent callers wait their turn.
func (s *Server) SendCommand(ctx context.Context, d convoi.DeviceID, text string) (string, error) {
	frame, err := teltonika.AppendCommand(nil, text)
	if err != nil {
		return "", convoi.Errorf(convoi.EINVALID, "Command must be 1-%d bytes.", teltonika.MaxCommandLength)
	}
	s.mu.Lock()
	dev := s.devices[d]
	s.mu.Unlock()
	var c *tcpConn
	if dev != nil {
		dev.lock()
		c = dev.conn
		dev.unlock()
	}
	if c == nil {
		return "", convoi.Errorf(convoi.ENOTFOUND, "Device %s is not connected.", d)
	}
	ctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
	defer cancel()
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	select { // a late reply to an earlier, timed-out command
	case <-c.replies:
	default:
	}
	if err := c.write(frame, s.WriteTimeout); err != nil {
		return "", convoi.Errorf(convoi.EUNAVAILABLE, "Device %s: command not sent.", d)
	}
	select {
	case r := <-c.replies:
		return r, nil
	case <-ctx.Done():
		return "", convoi.Errorf(convoi.EUNAVAILABLE, "Device %s did not answer the command.", d)
	case <-s.ctx.Done():
		return "", convoi.Errorf(convoi.EUNAVAILABLE, "Tracker server closed.")
	}
}

// serveTeltonikaUDP answers each datagram with its own acknowledgement once
// its records are stored. Datagrams are handled concurrently (up to 256 at
// a time); a device's records stay in order because its ingest is locked.
func (s *Server) serveTeltonikaUDP(pc net.PacketConn) {
	sem := make(chan struct{}, 256)
	for {
		buf := make([]byte, teltonika.MaxUDPLength)
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.logDrop("teltonika udp read", "error", err)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		s.wg.Go(func() {
			defer func() { <-sem }()
			s.handleUDP(pc, addr, buf[:n])
		})
	}
}

func (s *Server) handleUDP(pc net.PacketConn, addr net.Addr, dgram []byte) {
	var p teltonika.Packet
	h, err := p.DecodeUDP(dgram)
	if err != nil {
		s.logDrop("teltonika udp bad datagram", "remote", addr.String(), "error", err)
		return
	}
	t, err := s.lookup(s.ctx, convoi.DeviceID(h.IMEI), convoi.ProtocolTeltonika)
	if err != nil {
		if convoi.ErrorCode(err) == convoi.ENOTFOUND {
			s.logDrop("unknown device rejected", "protocol", "teltonika-udp", "device", h.IMEI, "remote", addr.String())
		} else {
			s.Logger.Error("find tracker", "error", err)
		}
		return
	}
	dev := s.device(t)
	n, err := s.ingestPacket(dev, &p)
	if err != nil {
		s.Logger.Error("store positions", "device", h.IMEI, "error", err)
		return
	}
	pc.SetWriteDeadline(wallClock().Add(s.WriteTimeout))
	pc.WriteTo(teltonika.AppendUDPAck(nil, h, n), addr)
}
