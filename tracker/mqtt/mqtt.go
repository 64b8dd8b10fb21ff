// Package mqtt carries JSON positions over MQTT: gateways and phones
// publish to a topic under convoi/positions/ and the device server stores
// what they send. It runs either an embedded broker (mochi-mqtt, the
// default) or subscribes to an external broker such as Mosquitto (paho).
//
// Payload (one object, or an array of them, UTF-8 JSON, at most
// MaxPayloadBytes):
//
//	{
//	  "device_id": "van-12",            // or the last topic level: convoi/positions/van-12
//	  "time": "2026-03-01T08:00:00Z",   // RFC 3339, or Unix milliseconds; default: receipt time
//	  "lat": 43.7384, "lon": 7.4246,    // WGS84 degrees, required
//	  "speed_kmh": 42.5, "heading": 270, "altitude_m": 55,
//	  "satellites": 9, "hdop": 0.9, "valid": true,
//	  "event": "panic",                 // optional: a convoi.EventKind
//	  "attributes": {"ignition": true}  // optional, stored as is
//	}
//
// Acknowledgement: with QoS 1 the broker answers PUBACK only once the
// handler has returned nil, that is once the positions are durable; a
// rejected or failed message gets no PUBACK and the publisher sends it
// again. QoS 0 messages are stored on a best-effort basis.
//
// It imports convoi, the two MQTT libraries and the standard library; it
// does no device lookup and no storage itself (the Handler does).
package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// MaxPayloadBytes caps one published message.
const MaxPayloadBytes = 256 << 10

// ErrInvalid wraps every payload decoding error.
var ErrInvalid = errors.New("mqtt: invalid payload")

// Message is one decoded position report.
type Message struct {
	Position convoi.Position // DeviceID set; TrackerID and ServerTime left to the server
	Event    *convoi.DeviceEvent
}

type payload struct {
	DeviceID   string          `json:"device_id"`
	Time       json.RawMessage `json:"time"`
	Lat        *float64        `json:"lat"`
	Lon        *float64        `json:"lon"`
	SpeedKmh   float64         `json:"speed_kmh"`
	Heading    float64         `json:"heading"`
	AltitudeM  float64         `json:"altitude_m"`
	Satellites int             `json:"satellites"`
	HDOP       float64         `json:"hdop"`
	Valid      *bool           `json:"valid"`
	Event      string          `json:"event"`
	Attributes map[string]any  `json:"attributes"`
}

// eventSeverity is the severity of each event a payload may raise.
var eventSeverity = map[convoi.DeviceEventKind]convoi.Severity{
	convoi.EventPanic:       convoi.SeverityCritical,
	convoi.EventCrash:       convoi.SeverityCritical,
	convoi.EventGSMJamming:  convoi.SeverityCritical,
	convoi.EventGNSSJamming: convoi.SeverityCritical,
	convoi.EventTamper:      convoi.SeverityCritical,
	convoi.EventPowerCut:    convoi.SeverityCritical,
	convoi.EventTowing:      convoi.SeverityCritical,
	convoi.EventNoGNSSFix:   convoi.SeverityWarning,
	convoi.EventDoorOpen:    convoi.SeverityWarning,
	convoi.EventDoorClosed:  convoi.SeverityInfo,
	convoi.EventIgnitionOn:  convoi.SeverityInfo,
	convoi.EventIgnitionOff: convoi.SeverityInfo,
}

// Decode decodes a payload published on topic. The device is the payload's
// device_id, else the topic's last level.
func Decode(topic string, b []byte, now time.Time) ([]Message, error) {
	if len(b) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrInvalid, MaxPayloadBytes)
	}
	var ps []payload
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &ps); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	} else {
		var p payload
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		ps = []payload{p}
	}
	if len(ps) == 0 || len(ps) > 1000 {
		return nil, fmt.Errorf("%w: %d positions, want 1-1000", ErrInvalid, len(ps))
	}
	topicDevice := topic[strings.LastIndexByte(topic, '/')+1:]
	out := make([]Message, 0, len(ps))
	for i, p := range ps {
		m, err := p.message(topicDevice, now)
		if err != nil {
			return nil, fmt.Errorf("position %d: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func (p *payload) message(topicDevice string, now time.Time) (Message, error) {
	d := convoi.DeviceID(p.DeviceID)
	if d == "" {
		d = convoi.DeviceID(topicDevice)
	}
	if !d.Valid() {
		return Message{}, fmt.Errorf("%w: device_id", ErrInvalid)
	}
	if p.Lat == nil || p.Lon == nil {
		return Message{}, fmt.Errorf("%w: lat and lon required", ErrInvalid)
	}
	pos := convoi.Position{DeviceID: d, FixTime: now, Lat: *p.Lat, Lon: *p.Lon, SpeedKmh: p.SpeedKmh, Heading: p.Heading,
		AltitudeM: p.AltitudeM, Satellites: p.Satellites, HDOP: p.HDOP, Valid: true, Attributes: p.Attributes}
	if p.Valid != nil {
		pos.Valid = *p.Valid
	}
	if err := (convoi.LatLon{Lat: pos.Lat, Lon: pos.Lon}).Validate(); err != nil {
		return Message{}, fmt.Errorf("%w: coordinates out of range", ErrInvalid)
	}
	for _, f := range []float64{pos.SpeedKmh, pos.Heading, pos.AltitudeM, pos.HDOP} {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < -1e6 || f > 1e6 {
			return Message{}, fmt.Errorf("%w: number out of range", ErrInvalid)
		}
	}
	if len(p.Time) > 0 && string(p.Time) != "null" {
		t, err := parseTime(p.Time)
		if err != nil {
			return Message{}, err
		}
		pos.FixTime = t
	}
	m := Message{Position: pos}
	if p.Event != "" {
		k := convoi.DeviceEventKind(p.Event)
		sev, ok := eventSeverity[k]
		if !ok {
			return Message{}, fmt.Errorf("%w: unknown event %q", ErrInvalid, p.Event)
		}
		m.Event = &convoi.DeviceEvent{DeviceID: d, Kind: k, Severity: sev, Time: pos.FixTime, Lat: pos.Lat, Lon: pos.Lon}
	}
	return m, nil
}

func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: time %q", ErrInvalid, s)
		}
		return t.UTC(), nil
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms < 0 || ms > 1e14 {
		return time.Time{}, fmt.Errorf("%w: time %s", ErrInvalid, raw)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Match reports whether topic matches the MQTT topic filter (with + and #).
func Match(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) {
			return false
		}
		if f != "+" && f != ts[i] {
			return false
		}
	}
	return len(fs) == len(ts)
}
