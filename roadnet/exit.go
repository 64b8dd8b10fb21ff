package roadnet

import (
	"math"
	"sort"

	"convoi"
)

// ExitOptions tunes Exits. Zero fields take the defaults.
type ExitOptions struct {
	// EdgeM is how close to the graph's bounding box a node must lie to be a
	// way off the map (default 300 m).
	EdgeM float64
	// SeparationM merges exits closer than this into the best of them
	// (default 1,000 m), so that one road leaving the map is one exit.
	SeparationM float64
	// Circuity is the assumed ratio of road distance to straight-line
	// distance beyond the map (default 1.3, typical of regional roads).
	Circuity float64
}

// Exit is a way off the map towards a place beyond it: a road node at the
// map's edge, and an estimate of the rest of the journey.
type Exit struct {
	Position Position `json:"position"`
	// RemainingM estimates the road distance from the exit to the place:
	// the straight-line distance times Circuity.
	RemainingM float64 `json:"remaining_m"`
	// RemainingS estimates the time of that distance at the speed of the
	// fastest road that reaches the exit (the road goes on beyond the map).
	RemainingS float64 `json:"remaining_s"`
}

// Exits returns the ways off the map towards p, a place outside the graph's
// bounding box, best estimate first: the nodes within EdgeM of the sides of
// the box that face p and that some road enters. It is how a journey to a
// destination beyond the loaded extract is planned: to each exit on the map,
// plus the estimate, which the caller must present as an estimate.
//
// EINVALID when p lies inside the box (snap it instead), ENOTFOUND when no
// road reaches the facing sides.
func (g *Graph) Exits(p convoi.LatLon, opt ExitOptions) ([]Exit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opt.EdgeM <= 0 {
		opt.EdgeM = 300
	}
	if opt.SeparationM <= 0 {
		opt.SeparationM = 1000
	}
	if opt.Circuity < 1 {
		opt.Circuity = 1.3
	}
	b := g.Bounds()
	if b.Contains(p) {
		return nil, convoi.Errorf(convoi.EINVALID, "%.6f,%.6f lies on the map: snap it instead of looking for exits.", p.Lat, p.Lon)
	}
	const mPerDeg = 111319.49
	dLat := opt.EdgeM / mPerDeg
	dLon := opt.EdgeM / (mPerDeg * math.Max(0.01, math.Cos((b.MinLat+b.MaxLat)/2*math.Pi/180)))
	facing := func(ll convoi.LatLon) bool {
		return (p.Lon < b.MinLon && ll.Lon <= b.MinLon+dLon) || (p.Lon > b.MaxLon && ll.Lon >= b.MaxLon-dLon) ||
			(p.Lat < b.MinLat && ll.Lat <= b.MinLat+dLat) || (p.Lat > b.MaxLat && ll.Lat >= b.MaxLat-dLat)
	}
	var cands []Exit
	for n := 0; n < g.NumNodes(); n++ {
		ll := g.NodeLatLon(NodeID(n))
		if !facing(ll) {
			continue
		}
		speed := 0.0 // m/ms of the fastest road into n
		for _, e := range g.InEdges(NodeID(n)) {
			ed := g.Edge(EdgeID(e))
			if ed.Cost > 0 && ed.DistanceM > 0 {
				speed = math.Max(speed, ed.DistanceM/float64(ed.Cost))
			}
		}
		if speed == 0 {
			continue
		}
		pos, err := g.NodePosition(NodeID(n))
		if err != nil {
			return nil, err
		}
		rem := ll.DistanceM(p) * opt.Circuity
		cands = append(cands, Exit{Position: pos, RemainingM: rem, RemainingS: g.Duration(int64(rem / speed))})
	}
	if len(cands) == 0 {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "No road leaves the map towards %.6f,%.6f.", p.Lat, p.Lon)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].RemainingS != cands[j].RemainingS {
			return cands[i].RemainingS < cands[j].RemainingS
		}
		return cands[i].Position.Node < cands[j].Position.Node
	})
	var out []Exit
	for _, c := range cands {
		far := true
		for _, o := range out {
			if c.Position.LatLon.DistanceM(o.Position.LatLon) < opt.SeparationM {
				far = false
				break
			}
		}
		if far {
			out = append(out, c)
		}
	}
	return out, nil
}
