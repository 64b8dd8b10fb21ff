// Package ambush plans escort routes and departure times that an informed
// ambush adversary cannot exploit.
//
// The model is a zero-sum game (equal, here, to the strong Stackelberg
// equilibrium): the defender picks a route from origin to destination and a
// departure slot; the attacker knows the defender's mixed strategy, not the
// draw, and picks one ambush site and one time window. The payoff is the
// site's hit probability when the route passes the site inside the window.
// Solve computes the defender's optimal mixed strategy by double oracle;
// Draw picks the actual route and slot from it with a caller-supplied source
// of randomness (crypto/rand in production).
//
// A game is an Instance, independent of any map, with a documented JSON form
// (see docs/ambush.md and ParseInstance). BuildInstance builds one from
// the roadnet road graph; Service plans and releases stored movements.
//
// The package imports convoi and roadnet, never a store or the web layer.
package ambush

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// DefaultStretch bounds a route's travel time to this multiple of the fastest.
const DefaultStretch = 1.3

// Limits on a parsed instance, so that a hostile file cannot exhaust memory.
const (
	MaxNodes   = 5_000_000
	MaxEdges   = 20_000_000
	MaxSites   = 5_000_000
	MaxSlots   = 1_000
	MaxWindows = 10_000
)

// Instance is one ambush game. Times are seconds on the instance's own clock
// (Epoch, when set, anchors offset 0 to a wall-clock time).
//
// Edges are directed; an undirected road is two edges. A site sits on a node
// (passed when the route arrives there) or on an edge (passed at fraction At
// of the edge's travel time). Without Windows the game is static: the
// attacker holds a site for the whole journey and departure times do not
// change the value. With Windows the attacker picks a site and a window and
// hits only a convoy passing the site inside it.
type Instance struct {
	Name        string    `json:"name,omitempty"`
	Epoch       time.Time `json:"epoch,omitzero"`
	Nodes       []Node    `json:"nodes"`
	Edges       []Edge    `json:"edges"`
	Origin      string    `json:"origin"`
	Destination string    `json:"destination"`
	// Slots are the candidate departure times, strictly increasing.
	Slots []float64 `json:"slots_s"`
	// UsualSlot is the index of the habitual departure, for the baseline
	// figures; nil means the latest slot at which the fastest route meets
	// the deadline.
	UsualSlot *int `json:"usual_slot,omitempty"`
	// Deadline is the latest arrival; nil means none.
	Deadline *float64 `json:"deadline_s,omitempty"`
	// Stretch bounds route travel time to Stretch x fastest; 0 means DefaultStretch.
	Stretch float64 `json:"stretch,omitempty"`
	// Forbid lists node and edge tags (chokepoint kinds) a route must avoid.
	Forbid  []string `json:"forbid,omitempty"`
	Sites   []Site   `json:"sites"`
	Windows []Window `json:"windows_s,omitempty"`
}

// Node is a road junction. Lat and Lon are informative only.
type Node struct {
	ID   string   `json:"id"`
	Lat  float64  `json:"lat,omitempty"`
	Lon  float64  `json:"lon,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// Edge is a directed road segment with its travel time in seconds (> 0).
type Edge struct {
	From  string   `json:"from"`
	To    string   `json:"to"`
	TimeS float64  `json:"time_s"`
	Tags  []string `json:"tags,omitempty"`
	// Ref is an opaque reference back to the source graph (roadnet edge ID).
	Ref int64 `json:"ref,omitempty"`
}

// Site is a candidate ambush position with the probability P in (0, 1] that
// an ambush there succeeds against a convoy passing it. Exactly one of Node
// and Edge is set; Edge is an index into Instance.Edges.
type Site struct {
	ID   string   `json:"id"`
	Node string   `json:"node,omitempty"`
	Edge *int     `json:"edge,omitempty"`
	At   float64  `json:"at,omitempty"` // fraction of the edge, in [0, 1]
	P    float64  `json:"p"`
	Tags []string `json:"tags,omitempty"` // why it is attractive, informative
}

// Window is an attacker time window [Start, End) in seconds.
type Window [2]float64

// Start returns the window's start.
func (w Window) Start() float64 { return w[0] }

// End returns the window's end (exclusive).
func (w Window) End() float64 { return w[1] }

// Contains reports whether t falls in [Start, End).
func (w Window) Contains(t float64) bool { return t >= w[0] && t < w[1] }

// ParseInstance decodes one JSON instance strictly: unknown fields, trailing
// data, duplicate IDs, dangling references and out-of-range numbers are all
// EINVALID errors naming the offending element.
func ParseInstance(r io.Reader) (*Instance, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var in Instance
	if err := dec.Decode(&in); err != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, convoi.Errorf(convoi.EINVALID, "Ambush instance has trailing data after the JSON object.")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return &in, nil
}

// UnmarshalInstance is ParseInstance on a byte slice.
func UnmarshalInstance(b []byte) (*Instance, error) { return ParseInstance(bytes.NewReader(b)) }

// Validate checks the instance and reports the first problem as an EINVALID error.
func (in *Instance) Validate() error {
	_, err := in.validate()
	return err
}

// indexed is what validate learns on its way that compile needs: each
// node's index by its ID and each edge's ends.
type indexed struct {
	node       map[string]int32
	tail, head []int32
}

// validate is Validate, returning the instance indexed.
func (in *Instance) validate() (*indexed, error) {
	bad := func(format string, args ...any) error {
		return convoi.Errorf(convoi.EINVALID, "Ambush instance: "+format, args...)
	}
	switch {
	case len(in.Nodes) == 0:
		return nil, bad("no nodes.")
	case len(in.Nodes) > MaxNodes:
		return nil, bad("%d nodes, more than %d.", len(in.Nodes), MaxNodes)
	case len(in.Edges) > MaxEdges:
		return nil, bad("%d edges, more than %d.", len(in.Edges), MaxEdges)
	case len(in.Sites) > MaxSites:
		return nil, bad("%d sites, more than %d.", len(in.Sites), MaxSites)
	case len(in.Slots) == 0:
		return nil, bad("no departure slots (slots_s).")
	case len(in.Slots) > MaxSlots:
		return nil, bad("%d slots, more than %d.", len(in.Slots), MaxSlots)
	case len(in.Windows) > MaxWindows:
		return nil, bad("%d windows, more than %d.", len(in.Windows), MaxWindows)
	}
	ids := make(map[string]int32, len(in.Nodes))
	for i, n := range in.Nodes {
		if n.ID == "" {
			return nil, bad("node %d has no id.", i)
		}
		if _, dup := ids[n.ID]; dup {
			return nil, bad("duplicate node id %q.", n.ID)
		}
		if !finite(n.Lat) || !finite(n.Lon) || n.Lat < -90 || n.Lat > 90 || n.Lon < -180 || n.Lon > 180 {
			return nil, bad("node %q has coordinates out of range.", n.ID)
		}
		ids[n.ID] = int32(i)
	}
	x := &indexed{node: ids, tail: make([]int32, len(in.Edges)), head: make([]int32, len(in.Edges))}
	for i, e := range in.Edges {
		var ok bool
		if x.tail[i], ok = ids[e.From]; !ok {
			return nil, bad("edge %d starts at unknown node %q.", i, e.From)
		}
		if x.head[i], ok = ids[e.To]; !ok {
			return nil, bad("edge %d ends at unknown node %q.", i, e.To)
		}
		if !finite(e.TimeS) || e.TimeS <= 0 || e.TimeS > 1e7 {
			return nil, bad("edge %d has travel time %v; it must be in (0, 1e7] seconds.", i, e.TimeS)
		}
	}
	if _, ok := ids[in.Origin]; !ok {
		return nil, bad("unknown origin %q.", in.Origin)
	}
	if _, ok := ids[in.Destination]; !ok {
		return nil, bad("unknown destination %q.", in.Destination)
	}
	if in.Origin == in.Destination {
		return nil, bad("origin and destination are the same node.")
	}
	for i, s := range in.Slots {
		if !finite(s) || math.Abs(s) > 1e9 {
			return nil, bad("slot %d (%v) out of range.", i, s)
		}
		if i > 0 && s <= in.Slots[i-1] {
			return nil, bad("slots must be strictly increasing (slot %d).", i)
		}
	}
	if in.UsualSlot != nil && (*in.UsualSlot < 0 || *in.UsualSlot >= len(in.Slots)) {
		return nil, bad("usual_slot %d is not a slot index.", *in.UsualSlot)
	}
	if in.Deadline != nil && (!finite(*in.Deadline) || math.Abs(*in.Deadline) > 1e9) {
		return nil, bad("deadline out of range.")
	}
	if in.Stretch != 0 && (!finite(in.Stretch) || in.Stretch < 1 || in.Stretch > 1e6) {
		return nil, bad("stretch %v must be in [1, 1e6] (0 means %v).", in.Stretch, DefaultStretch)
	}
	siteIDs := make(map[string]bool, len(in.Sites))
	for i, s := range in.Sites {
		if s.ID == "" {
			return nil, bad("site %d has no id.", i)
		}
		if siteIDs[s.ID] {
			return nil, bad("duplicate site id %q.", s.ID)
		}
		siteIDs[s.ID] = true
		if (s.Node == "") == (s.Edge == nil) {
			return nil, bad("site %q must have exactly one of node and edge.", s.ID)
		}
		if s.Node != "" {
			if _, ok := ids[s.Node]; !ok {
				return nil, bad("site %q is on unknown node %q.", s.ID, s.Node)
			}
			if s.At != 0 {
				return nil, bad("site %q: at only goes with edge.", s.ID)
			}
		}
		if s.Edge != nil && (*s.Edge < 0 || *s.Edge >= len(in.Edges)) {
			return nil, bad("site %q is on edge %d, not an edge index.", s.ID, *s.Edge)
		}
		if !finite(s.At) || s.At < 0 || s.At > 1 {
			return nil, bad("site %q: at must be in [0, 1].", s.ID)
		}
		if !finite(s.P) || s.P <= 0 || s.P > 1 {
			return nil, bad("site %q: hit probability p must be in (0, 1].", s.ID)
		}
	}
	for i, w := range in.Windows {
		if !finite(w[0]) || !finite(w[1]) || w[0] >= w[1] || math.Abs(w[0]) > 1e9 || math.Abs(w[1]) > 1e9 {
			return nil, bad("window %d must be [start, end) with start < end.", i)
		}
	}
	return x, nil
}

// stretch returns the effective stretch bound.
func (in *Instance) stretch() float64 {
	if in.Stretch == 0 {
		return DefaultStretch
	}
	return in.Stretch
}

// SlotTime returns slot i as a wall-clock time when Epoch is set, else the zero time.
func (in *Instance) SlotTime(i int) time.Time {
	if in.Epoch.IsZero() || i < 0 || i >= len(in.Slots) {
		return time.Time{}
	}
	return in.Epoch.Add(time.Duration(in.Slots[i] * float64(time.Second)))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
