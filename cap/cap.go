// Package cap writes OASIS Common Alerting Protocol 1.2 alerts
// (CAP-v1.2-os, urn:oasis:names:tc:emergency:cap:1.2) and checks them
// against the rules of the CAP 1.2 schema and specification (Check).
//
// An incident alert for partner forces (IncidentAlert) carries the area
// where the attackers can be (the escape reachability polygons), the
// vehicles sought and the instructions: what the incident says and nothing
// else. It is built from an IncidentAlertInput, which has no field for a
// route, a departure time or a plan, so no schedule can reach an alert.
//
// The package imports convoi and the standard library only.
package cap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Namespace is the CAP 1.2 XML namespace.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// Alert is a CAP 1.2 alert message; fields in schema order. Optional
// elements are omitted when empty.
type Alert struct {
	XMLName     xml.Name `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier  string   `xml:"identifier"`
	Sender      string   `xml:"sender"`
	Sent        Time     `xml:"sent"`
	Status      string   `xml:"status"`  // Actual, Exercise, System, Test, Draft
	MsgType     string   `xml:"msgType"` // Alert, Update, Cancel, Ack, Error
	Source      string   `xml:"source,omitempty"`
	Scope       string   `xml:"scope"` // Public, Restricted, Private
	Restriction string   `xml:"restriction,omitempty"`
	Addresses   string   `xml:"addresses,omitempty"`
	Code        []string `xml:"code,omitempty"`
	Note        string   `xml:"note,omitempty"`
	References  string   `xml:"references,omitempty"`
	Incidents   string   `xml:"incidents,omitempty"`
	Info        []Info   `xml:"info,omitempty"`
}

// Info is a CAP info block.
type Info struct {
	Language     string      `xml:"language,omitempty"`
	Category     []string    `xml:"category"`
	Event        string      `xml:"event"`
	ResponseType []string    `xml:"responseType,omitempty"`
	Urgency      string      `xml:"urgency"`
	Severity     string      `xml:"severity"`
	Certainty    string      `xml:"certainty"`
	Audience     string      `xml:"audience,omitempty"`
	EventCode    []NameValue `xml:"eventCode,omitempty"`
	Effective    *Time       `xml:"effective,omitempty"`
	Onset        *Time       `xml:"onset,omitempty"`
	Expires      *Time       `xml:"expires,omitempty"`
	SenderName   string      `xml:"senderName,omitempty"`
	Headline     string      `xml:"headline,omitempty"`
	Description  string      `xml:"description,omitempty"`
	Instruction  string      `xml:"instruction,omitempty"`
	Web          string      `xml:"web,omitempty"`
	Contact      string      `xml:"contact,omitempty"`
	Parameter    []NameValue `xml:"parameter,omitempty"`
	Area         []Area      `xml:"area,omitempty"`
}

// NameValue is an eventCode, parameter or geocode.
type NameValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// Area is a CAP area: a description and polygons (each "lat,lon lat,lon
// ...", closed, at least four points).
type Area struct {
	AreaDesc string      `xml:"areaDesc"`
	Polygon  []string    `xml:"polygon,omitempty"`
	Circle   []string    `xml:"circle,omitempty"`
	Geocode  []NameValue `xml:"geocode,omitempty"`
}

// Time is a CAP dateTime: seconds, with a numeric zone ("+00:00", never
// "Z"), as the schema's pattern requires.
type Time struct{ time.Time }

const timeLayout = "2006-01-02T15:04:05-07:00"

// MarshalText formats t as CAP requires.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.Format(timeLayout)), nil }

// UnmarshalText parses a CAP dateTime.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := time.Parse(timeLayout, string(b))
	if err != nil {
		return fmt.Errorf("CAP time %q: %w", b, err)
	}
	t.Time = v
	return nil
}

// Polygon formats a closed ring as a CAP polygon: "lat,lon" pairs
// separated by spaces, 5 decimals (about a metre). A ring that is not
// closed is closed.
func Polygon(ring []convoi.LatLon) string {
	if len(ring) > 0 && ring[0] != ring[len(ring)-1] {
		ring = append(ring[:len(ring):len(ring)], ring[0])
	}
	var b strings.Builder
	for i, p := range ring {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(p.Lat, 'f', 5, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(p.Lon, 'f', 5, 64))
	}
	return b.String()
}

// Marshal checks a and returns it as an XML document.
func Marshal(a *Alert) ([]byte, error) {
	body, err := xml.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode CAP alert: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.Write(body)
	b.WriteByte('\n')
	if err := Check(b.Bytes()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
