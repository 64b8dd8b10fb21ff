// Package osmand decodes the OsmAnd HTTP location protocol, spoken by the
// Traccar Client phone app and many gateways: parameters in the query
// string or a form body (id, timestamp, lat, lon, speed in knots, ...), and
// the JSON body the current Traccar Client app POSTs.
//
// It only decodes: it does no I/O besides reading the request body (capped
// at MaxBodyBytes), looks up no device and never logs. It imports convoi and
// the standard library only.
package osmand

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// MaxBodyBytes caps a request body.
const MaxBodyBytes = 64 << 10

// Knots to km/h, and m/s to km/h.
const (
	knotKmh = 1.852
	msKmh   = 3.6
)

// ErrInvalid wraps every decoding error: the request is answered 400.
var ErrInvalid = errors.New("osmand: invalid request")

// Message is one decoded location report.
type Message struct {
	DeviceID convoi.DeviceID
	// Position has DeviceID set; ServerTime and TrackerID are left to the
	// server. FixTime is the device's time, or now when it sent none.
	Position convoi.Position
	// Alarm is the alarm the device raised ("sos", "tampering", ...), or "".
	Alarm string
}

// alarmEvents are the device events an alarm name raises (lower case).
var alarmEvents = map[string]struct {
	Kind     convoi.DeviceEventKind
	Severity convoi.Severity
}{
	"sos":        {convoi.EventPanic, convoi.SeverityCritical},
	"panic":      {convoi.EventPanic, convoi.SeverityCritical},
	"accident":   {convoi.EventCrash, convoi.SeverityCritical},
	"crash":      {convoi.EventCrash, convoi.SeverityCritical},
	"tampering":  {convoi.EventTamper, convoi.SeverityCritical},
	"powercut":   {convoi.EventPowerCut, convoi.SeverityCritical},
	"jamming":    {convoi.EventGSMJamming, convoi.SeverityCritical},
	"tow":        {convoi.EventTowing, convoi.SeverityCritical},
	"door":       {convoi.EventDoorOpen, convoi.SeverityWarning},
	"gpsantenna": {convoi.EventNoGNSSFix, convoi.SeverityWarning},
}

// Event returns the device event the message's alarm raises.
func (m *Message) Event() (convoi.DeviceEvent, bool) {
	ev, ok := alarmEvents[strings.ToLower(m.Alarm)]
	if !ok {
		return convoi.DeviceEvent{}, false
	}
	p := &m.Position
	return convoi.DeviceEvent{DeviceID: m.DeviceID, Kind: ev.Kind, Severity: ev.Severity,
		Time: p.FixTime, Lat: p.Lat, Lon: p.Lon}, true
}

// DecodeRequest decodes r: a JSON body (Content-Type application/json, or
// a body starting with '{'), else the query string and any form body.
func DecodeRequest(r *http.Request, now time.Time) (Message, error) {
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return Message{}, fmt.Errorf("read body: %w", err)
		}
		if len(body) > MaxBodyBytes {
			return Message{}, fmt.Errorf("%w: body over %d bytes", ErrInvalid, MaxBodyBytes)
		}
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := strings.TrimSpace(string(body))
	if ct == "application/json" || strings.HasPrefix(trimmed, "{") {
		return DecodeJSON([]byte(trimmed), now)
	}
	v := r.URL.Query()
	if len(body) > 0 {
		form, err := url.ParseQuery(trimmed)
		if err != nil {
			return Message{}, fmt.Errorf("%w: form: %v", ErrInvalid, err)
		}
		for k, vs := range form {
			v[k] = append(v[k], vs...)
		}
	}
	return DecodeValues(v, now)
}

// DecodeValues decodes the query or form parameters of one report.
func DecodeValues(v url.Values, now time.Time) (Message, error) {
	var m Message
	p := &m.Position
	p.Valid = true
	p.FixTime = now
	hasLat, hasLon := false, false
	for key, vals := range v {
		if len(vals) == 0 {
			continue
		}
		val := vals[0]
		var err error
		switch key {
		case "id", "deviceid":
			m.DeviceID = convoi.DeviceID(val)
		case "timestamp":
			p.FixTime, err = ParseTime(val)
		case "lat":
			p.Lat, err = parseFloat(val)
			hasLat = true
		case "lon":
			p.Lon, err = parseFloat(val)
			hasLon = true
		case "location":
			la, lo, ok := strings.Cut(val, ",")
			if !ok {
				err = fmt.Errorf("location %q", val)
				break
			}
			if p.Lat, err = parseFloat(la); err == nil {
				p.Lon, err = parseFloat(lo)
			}
			hasLat, hasLon = true, true
		case "speed":
			var kn float64
			kn, err = parseFloat(val)
			p.SpeedKmh = kn * knotKmh
		case "bearing", "heading":
			p.Heading, err = parseFloat(val)
		case "altitude":
			p.AltitudeM, err = parseFloat(val)
		case "hdop":
			p.HDOP, err = parseFloat(val)
		case "valid":
			p.Valid, err = parseBool(val)
		case "alarm":
			m.Alarm = val
			setAttr(p, key, val)
		default:
			if len(key) > 64 || len(val) > 256 {
				continue // not worth storing, not worth failing
			}
			setAttr(p, key, typed(val))
		}
		if err != nil {
			return Message{}, fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
		}
	}
	return m, finish(&m, hasLat && hasLon)
}

func finish(m *Message, hasCoords bool) error {
	if m.DeviceID == "" {
		return fmt.Errorf("%w: no device id", ErrInvalid)
	}
	if !m.DeviceID.Valid() {
		return fmt.Errorf("%w: device id", ErrInvalid)
	}
	if !hasCoords {
		return fmt.Errorf("%w: no coordinates", ErrInvalid)
	}
	p := &m.Position
	p.DeviceID = m.DeviceID
	if err := (convoi.LatLon{Lat: p.Lat, Lon: p.Lon}).Validate(); err != nil {
		return fmt.Errorf("%w: coordinates out of range", ErrInvalid)
	}
	for _, f := range []float64{p.SpeedKmh, p.Heading, p.AltitudeM, p.HDOP} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: not a finite number", ErrInvalid)
		}
	}
	if p.SpeedKmh < 0 {
		p.SpeedKmh = 0
	}
	if m.Alarm != "" {
		if _, ok := alarmEvents[strings.ToLower(m.Alarm)]; !ok && len(m.Alarm) > 64 {
			m.Alarm = ""
		}
	}
	return nil
}

func setAttr(p *convoi.Position, k string, v any) {
	if p.Attributes == nil {
		p.Attributes = make(map[string]any)
	}
	p.Attributes[k] = v
}

// typed returns val as a bool or number when it reads as one.
func typed(val string) any {
	if b, err := strconv.ParseBool(val); err == nil && (val == "true" || val == "false") {
		return b
	}
	if f, err := strconv.ParseFloat(val, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return val
}

func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("number %q", s)
	}
	return f, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("bool %q", s)
}

// ParseTime reads the timestamp formats OsmAnd clients send: Unix seconds
// or milliseconds (with an optional fraction), ISO 8601 / RFC 3339 (a time
// without zone is UTC), and "yyyy-MM-dd HH:mm:ss" (UTC).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eE") {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e14 {
			return time.Time{}, fmt.Errorf("timestamp %q out of range", s)
		}
		if f > 1e11 { // milliseconds: 1e11 s is the year 5138
			return time.UnixMilli(int64(f)).UTC(), nil
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q", s)
}

// jsonBody is the Traccar Client (Flutter, background-geolocation) body.
type jsonBody struct {
	DeviceID string `json:"device_id"`
	Location struct {
		Timestamp string `json:"timestamp"`
		Coords    *struct {
			Latitude  *float64 `json:"latitude"`
			Longitude *float64 `json:"longitude"`
			Accuracy  *float64 `json:"accuracy"`
			Speed     *float64 `json:"speed"` // m/s, -1 when unknown
			Heading   *float64 `json:"heading"`
			Altitude  *float64 `json:"altitude"`
		} `json:"coords"`
		IsMoving *bool    `json:"is_moving"`
		Odometer *float64 `json:"odometer"`
		Event    string   `json:"event"`
		Battery  *struct {
			Level      *float64 `json:"level"` // 0..1
			IsCharging *bool    `json:"is_charging"`
		} `json:"battery"`
		Activity *struct {
			Type string `json:"type"`
		} `json:"activity"`
		Extras map[string]any `json:"extras"`
	} `json:"location"`
}

// DecodeJSON decodes the Traccar Client JSON body. An "alarm" key in extras
// is the alarm.
func DecodeJSON(b []byte, now time.Time) (Message, error) {
	var j jsonBody
	if len(b) > MaxBodyBytes {
		return Message{}, fmt.Errorf("%w: body over %d bytes", ErrInvalid, MaxBodyBytes)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Message{}, fmt.Errorf("%w: json: %v", ErrInvalid, err)
	}
	var m Message
	m.DeviceID = convoi.DeviceID(j.DeviceID)
	p := &m.Position
	p.Valid = true
	p.FixTime = now
	l := &j.Location
	if l.Timestamp != "" {
		t, err := ParseTime(l.Timestamp)
		if err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		p.FixTime = t
	}
	hasCoords := false
	if c := l.Coords; c != nil {
		if c.Latitude != nil && c.Longitude != nil {
			p.Lat, p.Lon, hasCoords = *c.Latitude, *c.Longitude, true
		}
		if c.Speed != nil && *c.Speed > 0 {
			p.SpeedKmh = *c.Speed * msKmh
		}
		if c.Heading != nil && *c.Heading >= 0 {
			p.Heading = *c.Heading
		}
		if c.Altitude != nil {
			p.AltitudeM = *c.Altitude
		}
		if c.Accuracy != nil {
			setAttr(p, "accuracy_m", *c.Accuracy)
		}
	}
	if l.IsMoving != nil {
		setAttr(p, "motion", *l.IsMoving)
	}
	if l.Odometer != nil {
		setAttr(p, "odometer_m", *l.Odometer)
	}
	if l.Event != "" && len(l.Event) <= 64 {
		setAttr(p, "event", l.Event)
	}
	if bt := l.Battery; bt != nil {
		if bt.Level != nil {
			setAttr(p, "battery_level", math.Round(*bt.Level*100))
		}
		if bt.IsCharging != nil {
			setAttr(p, "charge", *bt.IsCharging)
		}
	}
	if a := l.Activity; a != nil && a.Type != "" && len(a.Type) <= 64 {
		setAttr(p, "activity", a.Type)
	}
	if a, ok := l.Extras["alarm"].(string); ok && len(a) <= 64 {
		m.Alarm = a
		setAttr(p, "alarm", a)
	}
	return m, finish(&m, hasCoords)
}
