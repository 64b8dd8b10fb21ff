package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Check validates a CAP 1.2 document in Go, with no schema processor at
// run time: the rules of the CAP 1.2 XML schema (OASIS Standard, 1 July
// 2010, section 3.4), written here element by element, and the rules of
// the specification's text (section 3.2) that the schema cannot express.
// The tests hold Check to the schema itself: cap/testdata/CAP-v1.2.xsd,
// a transcription of section 3.4, validated with libxml2's xmllint
// (schema_test.go). The rules:
//
//   - the root is alert in the CAP 1.2 namespace; every element is in that
//     namespace, in the schema's order, with its cardinality (required,
//     optional, repeated), except that alert may end with elements of
//     another namespace (a signature: the schema's xs:any
//     namespace="##other", the only extension point of the schema);
//   - no CAP element has attributes, and elements with children hold no
//     text;
//   - the enumerations (status, msgType, scope, category, responseType,
//     urgency, severity, certainty);
//   - dateTime values (sent, effective, onset, expires) match the schema's
//     pattern \d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d and are
//     real times;
//   - language is an RFC 3066 tag, web and uri are URIs, size an integer,
//     altitude and ceiling decimals.
//
// Beyond the schema (its xs:string elements say nothing of these; the
// specification's text does):
//
//   - identifier and sender contain no space, comma, "<" or "&"
//     (section 3.2.1); references are space-separated
//     "sender,identifier,sent" triples;
//   - scope Restricted requires restriction, Private requires addresses;
//   - polygon: at least four space-separated "lat,lon" WGS 84 pairs, the
//     first and last the same; circle: "lat,lon radius" (radius in km);
//   - ceiling only with altitude;
//   - no DTD or other directive, at most 4 MB (a safety rule of convoi's).
//
// Errors are EINVALID and name the element (a path like
// alert/info[0]/area[1]/polygon[0]).
func Check(doc []byte) error {
	root, err := parseTree(doc)
	if err != nil {
		return convoi.Errorf(convoi.EINVALID, "CAP: %v", err)
	}
	if root.name.Space != Namespace || root.name.Local != "alert" {
		return convoi.Errorf(convoi.EINVALID, "CAP: the root element is {%s}%s, not {%s}alert.", root.name.Space, root.name.Local, Namespace)
	}
	if err := checkElement(root, "alert", "alert"); err != nil {
		return convoi.Errorf(convoi.EINVALID, "CAP: %v", err)
	}
	return nil
}

// node is an element of the document.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

const maxCAPBytes = 4 << 20

func parseTree(doc []byte) (*node, error) {
	if len(doc) > maxCAPBytes {
		return nil, errors.New("document over 4 MB")
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			if len(stack) > 32 {
				return nil, errors.New("elements nested too deep")
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, errors.New("text outside the root element")
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		case xml.Directive:
			return nil, errors.New("DTD or directive not allowed")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// kind is an element's content type.
type kind int

const (
	kString kind = iota
	kComplex
	kDateTime
	kEnum
	kNoSpace // identifier, sender
	kRefs
	kLanguage
	kURI
	kInteger
	kDecimal
	kPolygon
	kCircle
)

// particle is one element of a sequence: its name, cardinality, content.
type particle struct {
	name     string
	min, max int // max -1: unbounded
	kind     kind
	enum     []string
	model    string // the content model of a complex element
}

const unbounded = -1

// models are the CAP 1.2 schema's sequences.
var models = map[string][]particle{
	"alert": {
		{name: "identifier", min: 1, max: 1, kind: kNoSpace},
		{name: "sender", min: 1, max: 1, kind: kNoSpace},
		{name: "sent", min: 1, max: 1, kind: kDateTime},
		{name: "status", min: 1, max: 1, kind: kEnum, enum: []string{"Actual", "Exercise", "System", "Test", "Draft"}},
		{name: "msgType", min: 1, max: 1, kind: kEnum, enum: []string{"Alert", "Update", "Cancel", "Ack", "Error"}},
		{name: "source", max: 1},
		{name: "scope", min: 1, max: 1, kind: kEnum, enum: []string{"Public", "Restricted", "Private"}},
		{name: "restriction", max: 1},
		{name: "addresses", max: 1},
		{name: "code", max: unbounded},
		{name: "note", max: 1},
		{name: "references", max: 1, kind: kRefs},
		{name: "incidents", max: 1},
		{name: "info", max: unbounded, kind: kComplex, model: "info"},
	},
	"info": {
		{name: "language", max: 1, kind: kLanguage},
		{name: "category", min: 1, max: unbounded, kind: kEnum, enum: []string{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"}},
		{name: "event", min: 1, max: 1},
		{name: "responseType", max: unbounded, kind: kEnum, enum: []string{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"}},
		{name: "urgency", min: 1, max: 1, kind: kEnum, enum: []string{"Immediate", "Expected", "Future", "Past", "Unknown"}},
		{name: "severity", min: 1, max: 1, kind: kEnum, enum: []string{"Extreme", "Severe", "Moderate", "Minor", "Unknown"}},
		{name: "certainty", min: 1, max: 1, kind: kEnum, enum: []string{"Observed", "Likely", "Possible", "Unlikely", "Unknown"}},
		{name: "audience", max: 1},
		{name: "eventCode", max: unbounded, kind: kComplex, model: "nameValue"},
		{name: "effective", max: 1, kind: kDateTime},
		{name: "onset", max: 1, kind: kDateTime},
		{name: "expires", max: 1, kind: kDateTime},
		{name: "senderName", max: 1},
		{name: "headline", max: 1},
		{name: "description", max: 1},
		{name: "instruction", max: 1},
		{name: "web", max: 1, kind: kURI},
		{name: "contact", max: 1},
		{name: "parameter", max: unbounded, kind: kComplex, model: "nameValue"},
		{name: "resource", max: unbounded, kind: kComplex, model: "resource"},
		{name: "area", max: unbounded, kind: kComplex, model: "area"},
	},
	"nameValue": {
		{name: "valueName", min: 1, max: 1},
		{name: "value", min: 1, max: 1},
	},
	"resource": {
		{name: "resourceDesc", min: 1, max: 1},
		{name: "mimeType", min: 1, max: 1},
		{name: "size", max: 1, kind: kInteger},
		{name: "uri", max: 1, kind: kURI},
		{name: "derefUri", max: 1},
		{name: "digest", max: 1},
	},
	"area": {
		{name: "areaDesc", min: 1, max: 1},
		{name: "polygon", max: unbounded, kind: kPolygon},
		{name: "circle", max: unbounded, kind: kCircle},
		{name: "geocode", max: unbounded, kind: kComplex, model: "nameValue"},
		{name: "altitude", max: 1, kind: kDecimal},
		{name: "ceiling", max: 1, kind: kDecimal},
	},
}

// openEnded are the models whose sequence ends with xs:any ##other.
var openEnded = map[string]bool{"alert": true}

func checkElement(n *node, path, model string) error {
	for _, a := range n.attrs {
		if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
			return fmt.Errorf("%s: attribute %q not allowed", path, a.Name.Local)
		}
	}
	if strings.TrimSpace(n.text.String()) != "" {
		return fmt.Errorf("%s: text not allowed in this element", path)
	}
	ps := models[model]
	i := 0 // next child
	seen := map[string]int{}
	for _, p := range ps {
		count := 0
		for i < len(n.children) && n.children[i].name.Space == Namespace && n.children[i].name.Local == p.name {
			if p.max != unbounded && count == p.max {
				return fmt.Errorf("%s/%s: at most %d allowed", path, p.name, p.max)
			}
			c := n.children[i]
			cp := fmt.Sprintf("%s/%s", path, p.name)
			if p.max != 1 {
				cp = fmt.Sprintf("%s[%d]", cp, count)
			}
			if err := checkValue(c, cp, p); err != nil {
				return err
			}
			count++
			i++
		}
		if count < p.min {
			at := "at the end"
			if i < len(n.children) {
				at = "before " + n.children[i].name.Local
			}
			return fmt.Errorf("%s: required element %s missing (%s)", path, p.name, at)
		}
		seen[p.name] = count
	}
	if openEnded[model] {
		for ; i < len(n.children) && n.children[i].name.Space != Namespace && n.children[i].name.Space != ""; i++ {
		}
	}
	if i < len(n.children) {
		c := n.children[i]
		for _, p := range ps {
			if c.name.Space == Namespace && c.name.Local == p.name {
				return fmt.Errorf("%s/%s: out of order (the schema's sequence puts it earlier)", path, c.name.Local)
			}
		}
		return fmt.Errorf("%s: unexpected element {%s}%s", path, c.name.Space, c.name.Local)
	}
	return checkRules(n, path, model, seen)
}

// checkRules applies the specification's conditional rules.
func checkRules(n *node, path, model string, seen map[string]int) error {
	switch model {
	case "alert":
		scope := childText(n, "scope")
		if scope == "Restricted" && seen["restriction"] == 0 {
			return fmt.Errorf("%s: scope Restricted requires restriction", path)
		}
		if scope == "Private" && seen["addresses"] == 0 {
			return fmt.Errorf("%s: scope Private requires addresses", path)
		}
	case "area":
		if seen["ceiling"] > 0 && seen["altitude"] == 0 {
			return fmt.Errorf("%s: ceiling requires altitude", path)
		}
	}
	return nil
}

func childText(n *node, name string) string {
	for _, c := range n.children {
		if c.name.Space == Namespace && c.name.Local == name {
			return strings.TrimSpace(c.text.String())
		}
	}
	return ""
}

var (
	dateTimeRE = regexp.MustCompile(`^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d$`)
	languageRE = regexp.MustCompile(`^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$`)
)

func checkValue(c *node, path string, p particle) error {
	if p.kind == kComplex {
		return checkElement(c, path, p.model)
	}
	if len(c.children) > 0 {
		return fmt.Errorf("%s: child elements not allowed", path)
	}
	for _, a := range c.attrs {
		if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
			return fmt.Errorf("%s: attribute %q not allowed", path, a.Name.Local)
		}
	}
	raw := c.text.String()
	v := strings.TrimSpace(raw)
	switch p.kind {
	case kEnum:
		for _, e := range p.enum {
			if v == e {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not one of %s", path, v, strings.Join(p.enum, ", "))
	case kDateTime:
		if !dateTimeRE.MatchString(v) {
			return fmt.Errorf("%s: %q does not match the CAP dateTime pattern (e.g. 2026-05-14T09:30:00+02:00)", path, v)
		}
		if _, err := time.Parse(timeLayout, strings.Replace(v, ",", "+", 1)); err != nil {
			return fmt.Errorf("%s: %q is not a valid time", path, v)
		}
	case kNoSpace:
		if v == "" || strings.ContainsAny(raw, " \t\r\n,<&") {
			return fmt.Errorf("%s: must be non-empty without spaces, commas, < or &", path)
		}
	case kRefs:
		for _, ref := range strings.Fields(v) {
			parts := strings.Split(ref, ",")
			if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !dateTimeRE.MatchString(parts[2]) {
				return fmt.Errorf("%s: %q is not a sender,identifier,sent triple", path, ref)
			}
		}
		if v == "" {
			return fmt.Errorf("%s: empty", path)
		}
	case kLanguage:
		if !languageRE.MatchString(v) {
			return fmt.Errorf("%s: %q is not a language tag", path, v)
		}
	case kURI:
		if _, err := url.Parse(v); err != nil || v == "" {
			return fmt.Errorf("%s: %q is not a URI", path, v)
		}
	case kInteger:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%s: %q is not an integer", path, v)
		}
	case kDecimal:
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(v, "eE") {
			return fmt.Errorf("%s: %q is not a decimal", path, v)
		}
	case kPolygon:
		pts := strings.Fields(v)
		if len(pts) < 4 {
			return fmt.Errorf("%s: a polygon needs at least 4 coordinate pairs, has %d", path, len(pts))
		}
		for _, pt := range pts {
			if _, err := parsePair(pt); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
		}
		a, _ := parsePair(pts[0])
		b, _ := parsePair(pts[len(pts)-1])
		if a != b {
			return fmt.Errorf("%s: the first and last pairs must be the same (closed polygon)", path)
		}
	case kCircle:
		f := strings.Fields(v)
		if len(f) != 2 {
			return fmt.Errorf("%s: %q is not \"lat,lon radius\"", path, v)
		}
		if _, err := parsePair(f[0]); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if r, err := strconv.ParseFloat(f[1], 64); err != nil || !(r >= 0) || math.IsInf(r, 0) {
			return fmt.Errorf("%s: radius %q is not a non-negative number", path, f[1])
		}
	}
	return nil
}

func parsePair(s string) (convoi.LatLon, error) {
	la, lo, ok := strings.Cut(s, ",")
	if !ok {
		return convoi.LatLon{}, fmt.Errorf("%q is not a lat,lon pair", s)
	}
	lat, err1 := strconv.ParseFloat(la, 64)
	lon, err2 := strconv.ParseFloat(lo, 64)
	p := convoi.LatLon{Lat: lat, Lon: lon}
	if err1 != nil || err2 != nil || p.Validate() != nil || math.IsInf(lat, 0) || math.IsInf(lon, 0) {
		return convoi.LatLon{}, fmt.Errorf("%q is not a WGS 84 lat,lon pair", s)
	}
	return p, nil
}
