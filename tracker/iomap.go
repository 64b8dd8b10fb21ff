package tracker

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/convoi/convoi"
)

//go:embed iomap.json
var defaultIOMaps []byte

// IOMaps is the table that turns a device model's IO elements into named
// attributes and device events. It is data (iomap.json, embedded), not code:
// a new device family is a new entry. Immutable once loaded; safe for
// concurrent use.
type IOMaps struct {
	Maps []IOMap `json:"maps"`
}

// IOMap is the IO table of a family of device models.
type IOMap struct {
	Name string `json:"name"`
	// Models are path.Match patterns on convoi.Tracker.Model ("FMC*").
	// The first map with a matching pattern is the model's map.
	Models []string `json:"models"`
	// PanicPriority: a record with priority 2 (panic) raises EventPanic.
	PanicPriority bool `json:"panic_priority"`
	// PanicInput, when 1-4, makes that digital input (IO id 1-4) = 1 a
	// panic, for a panic button wired to it.
	PanicInput int         `json:"panic_input,omitempty"`
	Elements   []IOElement `json:"elements"`

	byID map[uint16]*IOElement
}

// IOElement names one IO id and lists the events its values raise.
type IOElement struct {
	ID    uint16  `json:"id"`
	Attr  string  `json:"attr"`            // attribute key in convoi.Position.Attributes
	Scale float64 `json:"scale,omitempty"` // multiply the raw value (0 means 1)
	// Events fire when the value is one of Values and either the record
	// was triggered by this IO element (its event id) or the value differs
	// from the last one seen from the device: a level that persists over
	// many periodic records raises one event, not one per record.
	Events []IORule `json:"events,omitempty"`
}

// IORule maps values of an element to an event.
type IORule struct {
	Values   []int64                `json:"values"`
	Kind     convoi.DeviceEventKind `json:"kind"`
	Severity severity               `json:"severity"`
}

type severity convoi.Severity

func (s *severity) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v {
	case "info", "":
		*s = severity(convoi.SeverityInfo)
	case "warning":
		*s = severity(convoi.SeverityWarning)
	case "critical":
		*s = severity(convoi.SeverityCritical)
	default:
		return fmt.Errorf("unknown severity %q", v)
	}
	return nil
}

// ParseIOMaps parses and checks an IO map table in the iomap.json format.
func ParseIOMaps(b []byte) (*IOMaps, error) {
	var m IOMaps
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse IO maps: %w", err)
	}
	for i := range m.Maps {
		im := &m.Maps[i]
		im.byID = make(map[uint16]*IOElement, len(im.Elements))
		for j := range im.Elements {
			el := &im.Elements[j]
			if _, dup := im.byID[el.ID]; dup {
				return nil, fmt.Errorf("IO map %s: IO %d listed twice", im.Name, el.ID)
			}
			if el.Attr == "" {
				return nil, fmt.Errorf("IO map %s: IO %d has no attr", im.Name, el.ID)
			}
			for _, r := range el.Events {
				if r.Kind == "" || len(r.Values) == 0 {
					return nil, fmt.Errorf("IO map %s: IO %d has a rule without kind or values", im.Name, el.ID)
				}
			}
			im.byID[el.ID] = el
		}
		if im.PanicInput < 0 || im.PanicInput > 4 {
			return nil, fmt.Errorf("IO map %s: panic_input %d not in 1-4", im.Name, im.PanicInput)
		}
		for _, p := range im.Models {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("IO map %s: pattern %q: %w", im.Name, p, err)
			}
		}
	}
	return &m, nil
}

// DefaultIOMaps returns the embedded table (iomap.json).
func DefaultIOMaps() *IOMaps {
	m, err := ParseIOMaps(defaultIOMaps)
	if err != nil {
		panic(err) // the embedded table is checked by the tests
	}
	return m
}

// For returns the map of a device model, or nil when none matches.
func (m *IOMaps) For(model string) *IOMap {
	for i := range m.Maps {
		if slices.ContainsFunc(m.Maps[i].Models, func(p string) bool { ok, _ := path.Match(p, model); return ok }) {
			return &m.Maps[i]
		}
	}
	return nil
}

// Element returns the element for an IO id.
func (im *IOMap) Element(id uint16) *IOElement {
	if im == nil {
		return nil
	}
	return im.byID[id]
}

// rule returns the rule matching v.
func (el *IOElement) rule(v int64) *IORule {
	for i := range el.Events {
		if slices.Contains(el.Events[i].Values, v) {
			return &el.Events[i]
		}
	}
	return nil
}
