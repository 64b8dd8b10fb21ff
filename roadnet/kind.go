package roadnet

import (
	"encoding/json"
	"math/bits"
	"strings"

	"github.com/convoi/convoi"
)

// Kind is a set of chokepoint kinds, a bit mask. An edge carries the kinds
// of its road (bridge, tunnel, ...) and of the point chokepoints on it.
type Kind uint32

const (
	KindTollBooth      Kind = 1 << iota // barrier=toll_booth node
	KindToll                            // toll=yes way
	KindBridge                          // bridge=* way
	KindTunnel                          // tunnel=* way
	KindRamp                            // motorway_link / trunk_link way
	KindRoundabout                      // junction=roundabout way
	KindTrafficSignals                  // highway=traffic_signals node
	KindLevelCrossing                   // railway=level_crossing node
	KindBarrier                         // passable barrier node (gate, lift gate)
	kindEnd
)

// KindSlowdown is the derived "forced slowdown" set: every kind where a
// vehicle must brake or stop, whatever the traffic, and so where an escort is
// predictable and vulnerable.
const KindSlowdown = KindTollBooth | KindRamp | KindRoundabout | KindTrafficSignals | KindLevelCrossing | KindBarrier

var kindNames = []struct {
	k    Kind
	name string
}{
	{KindTollBooth, "toll_booth"},
	{KindToll, "toll_road"},
	{KindBridge, "bridge"},
	{KindTunnel, "tunnel"},
	{KindRamp, "ramp"},
	{KindRoundabout, "roundabout"},
	{KindTrafficSignals, "traffic_signals"},
	{KindLevelCrossing, "level_crossing"},
	{KindBarrier, "barrier"},
}

// kindAliases are the group names ParseKinds accepts besides kindNames.
var kindAliases = map[string]Kind{
	"toll":     KindTollBooth | KindToll,
	"slowdown": KindSlowdown,
	"signals":  KindTrafficSignals,
	"all":      kindEnd - 1,
}

// String returns the comma-separated names of the kinds in k.
func (k Kind) String() string {
	var s []string
	for _, n := range kindNames {
		if k&n.k != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Names returns the names of the kinds in k.
func (k Kind) Names() []string {
	s := make([]string, 0, bits.OnesCount32(uint32(k)))
	for _, n := range kindNames {
		if k&n.k != 0 {
			s = append(s, n.name)
		}
	}
	return s
}

// Slowdown reports whether k contains a forced-slowdown kind.
func (k Kind) Slowdown() bool { return k&KindSlowdown != 0 }

// MarshalJSON encodes k as a list of names.
func (k Kind) MarshalJSON() ([]byte, error) { return json.Marshal(k.Names()) }

// ParseKinds parses a comma-separated list of kind names or groups ("toll"
// = toll_booth and toll_road, "slowdown", "all"). An empty string is no
// kind. Unknown names are an EINVALID error.
func ParseKinds(s string) (Kind, error) {
	var k Kind
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "" {
			continue
		}
		if a, ok := kindAliases[f]; ok {
			k |= a
			continue
		}
		found := false
		for _, n := range kindNames {
			if n.name == f {
				k |= n.k
				found = true
			}
		}
		if !found {
			return 0, convoi.Errorf(convoi.EINVALID, "Unknown chokepoint kind %q (known: %s, toll, slowdown, all).", f, (kindEnd - 1).String())
		}
	}
	return k, nil
}

// Chokepoint is a place where an escort is constrained: a point (toll booth,
// signals, level crossing) or a stretch of road (bridge, tunnel, ramp,
// roundabout, toll road). Stretches are located at their first point.
type Chokepoint struct {
	ID     uint32        `json:"id"`
	Kind   Kind          `json:"kind"` // exactly one kind
	LatLon convoi.LatLon `json:"location"`
	// OSMType is "node" or "way"; OSMID its OSM id (0 when unknown).
	OSMType  string `json:"osm_type"`
	OSMID    int64  `json:"osm_id"`
	Name     string `json:"name,omitempty"`
	Slowdown bool   `json:"slowdown"` // a forced slowdown (Kind.Slowdown)
}

// Chokepoint returns chokepoint id; ok is false when there is none.
func (g *Graph) Chokepoint(id uint32) (c Chokepoint, ok bool) {
	if int(id) >= len(g.cps) {
		return Chokepoint{}, false
	}
	return g.cps[id], true
}

// Chokepoints lists the chokepoints of the given kinds (0 = all) inside b,
// in ID order.
func (g *Graph) Chokepoints(b BBox, kinds Kind) []Chokepoint {
	if kinds == 0 {
		kinds = kindEnd - 1
	}
	var out []Chokepoint
	for _, c := range g.cps {
		if c.Kind&kinds != 0 && b.Contains(c.LatLon) {
			out = append(out, c)
		}
	}
	return out
}
