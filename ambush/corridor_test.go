package ambush

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCorridorKeepsAdmissibleRoutes enumerates, on the instance itself,
// every simple route that avoids the forbidden tags and meets the longest
// admissible duration, and checks that the compiled game kept each of its
// edges and the sites on them, and that it left out something on the
// larger games: the corridor drops only what no admissible route uses.
func TestCorridorKeepsAdmissibleRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	dropped := 0
	for n := 0; n < 60; n++ {
		in := randomTimed(rng)
		if n%2 == 1 {
			in.Stretch = 1 + rng.Float64()/5
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			g, err := compile(in)
			if err != nil {
				t.Fatal(err)
			}
			limit := g.staticMaxDur() * (1 + 1e-9)
			idx := map[string]int{}
			for i, nd := range in.Nodes {
				idx[nd.ID] = i
			}
			forbid := map[string]bool{}
			for _, f := range in.Forbid {
				forbid[f] = true
			}
			bad := func(tags []string) bool { return slices.ContainsFunc(tags, func(s string) bool { return forbid[s] }) }
			usedEdge := map[int]bool{}
			usedNode := map[int]bool{}
			on := make([]bool, len(in.Nodes))
			var path []int
			var rec func(v int, t float64)
			rec = func(v int, t float64) {
				if in.Nodes[v].ID == in.Destination {
					usedNode[idx[in.Origin]] = true
					for _, e := range path {
						usedEdge[e] = true
						usedNode[idx[in.Edges[e].To]] = true
					}
					return
				}
				on[v] = true
				for e, ed := range in.Edges {
					w := idx[ed.To]
					if idx[ed.From] != v || on[w] || bad(ed.Tags) || bad(in.Nodes[w].Tags) || t+ed.TimeS > limit {
						continue
					}
					path = append(path, e)
					rec(w, t+ed.TimeS)
					path = path[:len(path)-1]
				}
				on[v] = false
			}
			rec(idx[in.Origin], 0)
			if len(usedEdge) == 0 {
				t.Fatal("no admissible route found by brute force")
			}
			kept := map[int32]bool{}
			for _, e := range g.edgeID {
				kept[e] = true
			}
			for e := range usedEdge {
				if !kept[int32(e)] {
					t.Errorf("edge %d of an admissible route left out of the corridor", e)
				}
			}
			keptSite := map[int32]bool{}
			for _, j := range g.siteID {
				keptSite[j] = true
			}
			for j, s := range in.Sites {
				on := s.Edge != nil && usedEdge[*s.Edge] || s.Edge == nil && usedNode[idx[s.Node]]
				if on && !keptSite[int32(j)] {
					t.Errorf("site %s on an admissible route left out of the corridor", s.ID)
				}
			}
			dropped += len(in.Sites) - len(g.siteID)
		})
	}
	if dropped == 0 {
		t.Error("the corridor never dropped a site")
	}
}

// TestCorridorDropsDeadEnds builds a road from o to d through a and b, a
// second way a - c - b, a dead-end street a - x - y and a loop b - p - q - b
// hung on b, all within the time bounds, with a site in each: the corridor
// keeps the road and the second way, and drops the dead end and the loop,
// which a route could only leave through a node it already passed.
func TestCorridorDropsDeadEnds(t *testing.T) {
	in := &Instance{Origin: "o", Destination: "d", Slots: []float64{0}, Stretch: 3}
	for _, id := range []string{"o", "a", "b", "c", "d", "x", "y", "p", "q"} {
		in.Nodes = append(in.Nodes, Node{ID: id})
	}
	both := func(u, v string, s float64) {
		in.Edges = append(in.Edges, Edge{From: u, To: v, TimeS: s}, Edge{From: v, To: u, TimeS: s})
	}
	both("o", "a", 10)
	both("a", "b", 10)
	both("b", "d", 10)
	both("a", "c", 6)
	both("c", "b", 6)
	both("a", "x", 3)
	both("x", "y", 3)
	in.Edges = append(in.Edges, Edge{From: "b", To: "p", TimeS: 3}, Edge{From: "p", To: "q", TimeS: 3}, Edge{From: "q", To: "b", TimeS: 3})
	for _, id := range []string{"a", "c", "x", "y", "p", "q"} {
		in.Sites = append(in.Sites, Site{ID: "s-" + id, Node: id, P: 0.5})
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := compile(in)
	if err != nil {
		t.Fatal(err)
	}
	var nodes, sites []string
	for _, v := range g.nodeID {
		nodes = append(nodes, in.Nodes[v].ID)
	}
	for _, j := range g.siteID {
		sites = append(sites, in.Sites[j].ID)
	}
	if want := []string{"o", "a", "b", "c", "d"}; !slices.Equal(nodes, want) {
		t.Errorf("corridor nodes %v, want %v", nodes, want)
	}
	if want := []string{"s-a", "s-c"}; !slices.Equal(sites, want) {
		t.Errorf("corridor sites %v, want %v", sites, want)
	}
	for _, e := range g.edgeID {
		if ed := in.Edges[e]; slices.Contains([]string{"x", "y", "p", "q"}, ed.From) || slices.Contains([]string{"x", "y", "p", "q"}, ed.To) {
			t.Errorf("edge %s -> %s kept", ed.From, ed.To)
		}
	}
}
