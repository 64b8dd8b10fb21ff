package graphsearch

// Graph is one direction of a directed graph in compressed rows, as a
// search walks it: the arcs out of node v are Arc[First[v]:First[v+1]],
// each an edge id; edge e leads to Other[e] (its head for a forward
// search, its tail for a backward one) and costs Weight[e].
type Graph[K Key] struct {
	First, Arc, Other []int32
	Weight            []K
}

// Options restrict a Dijkstra run. The zero Options run to exhaustion.
type Options[K Key] struct {
	// AvoidNodes and AvoidEdges are never entered or used (nil: none).
	AvoidNodes, AvoidEdges *Set
	// Target, when HasTarget, stops the search as soon as it is settled.
	Target    int32
	HasTarget bool
	// Lower, when not nil, is a lower bound on each node's remaining cost
	// (to the target, say): a node v settled at d with d+Lower[v] > Bound
	// is not expanded, and is not taken as the target.
	Lower []K
	Bound K
}

// Dijkstra runs a shortest-path search on g from the seeds (distance
// zero) into s, which it resets first. It reports whether opt.Target was
// settled (false without a target). Distances and predecessor edges stay
// in s for the caller.
func Dijkstra[K Key](s *Search[K], g Graph[K], seeds []int32, opt Options[K]) bool {
	s.Reset()
	var zero K
	for _, v := range seeds {
		s.Relax(uint32(v), zero, zero, NoPred)
	}
	for !s.Empty() {
		u := s.Pop()
		du := s.Dist[u]
		if opt.Lower != nil && du+opt.Lower[u] > opt.Bound {
			continue
		}
		if opt.HasTarget && u == uint32(opt.Target) {
			return true
		}
		for k := g.First[u]; k < g.First[u+1]; k++ {
			e := g.Arc[k]
			if opt.AvoidEdges != nil && opt.AvoidEdges.Has(uint32(e)) {
				continue
			}
			w := uint32(g.Other[e])
			if opt.AvoidNodes != nil && opt.AvoidNodes.Has(w) {
				continue
			}
			s.Relax(w, du+g.Weight[e], zero, uint32(e))
		}
	}
	return false
}
