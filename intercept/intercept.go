// Package intercept is the fugitive-interception engine: given police
// units with their start nodes on a road graph and a sample of the
// fugitive's possible escape routes (the nodes they pass and when), it
// chooses one blocking node per unit so that as many routes as possible
// are cut, and proves the choice optimal.
//
// The model is the published one (van Droffelaar et al., "Graph coarsening
// for fugitive interception"; testdata/intercept/FORMAT.md): unit u reaches
// node v at a_u(v) = start delay + shortest travel time from its start; it
// intercepts route r at v when r visits v at some time t >= a_u(v); the
// objective is the number (equivalently, the fraction) of routes
// intercepted. Maximum coverage with one choice per unit is NP-hard in
// general; Solve is exact (branch and bound, see solve.go) and, when its
// context ends first, returns the best plan found with a proven bound.
//
// The package imports convoi and the standard library only. It never logs;
// it reads no clock (a time limit is the context's deadline).
package intercept

import (
	"container/heap"
	"math"
	"sort"
	"strconv"

	"github.com/convoi/convoi"
)

// Instance is one interception problem. Node references are indices into
// Nodes. ParseInstance reads it from the fip-instance/v1 JSON format;
// callers may also build it directly (then call Validate).
type Instance struct {
	Name string
	// HorizonS bounds the route times (seconds): every visit is earlier.
	HorizonS float64
	Nodes    []Node
	Edges    []Edge
	Units    []Unit
	// Routes are the sampled fugitive routes, each its visits in time
	// order. A route may revisit a node, and may be empty.
	Routes [][]Visit
	// FugitiveStart and EscapeNodes describe where the routes come from;
	// the objective does not use them. FugitiveStart is -1 when unknown.
	FugitiveStart int
	EscapeNodes   []int
	// Reference holds the published results the instance file carries, if
	// any (informational: Solve never reads it).
	Reference *Reference
}

// Node is a road graph node.
type Node struct {
	ID       int64 // the source's id (an OSM node id)
	Lat, Lon float64
}

// Edge is a directed road edge.
type Edge struct {
	From, To    int
	TravelTimeS float64
}

// Unit is a police unit.
type Unit struct {
	Start       int
	StartDelayS float64 // added to every arrival time
	// Candidates are the nodes the unit may choose, sorted. Empty means
	// every node a route visits, plus Start (which covers as much: a node
	// no route visits intercepts nothing).
	Candidates []int
}

// Visit is a route's passage at a node, TimeS seconds after the escape
// began.
type Visit struct {
	Node  int
	TimeS float64
}

// Reference is what an instance file says about known solutions.
type Reference struct {
	OptimumIntercepted int
	OptimumPositions   []int
	GreedyIntercepted  int
	GreedyPositions    []int
	// Published maps a published plan (node per unit) to the number of
	// routes it intercepts, as stated by its source.
	Published []PublishedPlan
}

// PublishedPlan is a plan from the literature and its stated value.
type PublishedPlan struct {
	Source      string
	Positions   []int
	Intercepted int
}

// Validate checks the references and numbers of in; the error is EINVALID
// and names the element at fault.
func (in *Instance) Validate() error {
	n := len(in.Nodes)
	bad := func(format string, args ...any) error { return convoi.Errorf(convoi.EINVALID, format, args...) }
	if n == 0 {
		return bad("The graph has no nodes.")
	}
	if !(in.HorizonS > 0) || math.IsInf(in.HorizonS, 0) {
		return bad("horizon_s must be a positive number of seconds, not %v.", in.HorizonS)
	}
	for i, nd := range in.Nodes {
		if !(nd.Lat >= -90 && nd.Lat <= 90 && nd.Lon >= -180 && nd.Lon <= 180) {
			return bad("graph.nodes[%d]: coordinates %v,%v out of range.", i, nd.Lat, nd.Lon)
		}
	}
	for i, e := range in.Edges {
		if e.From < 0 || e.From >= n || e.To < 0 || e.To >= n {
			return bad("graph.edges[%d]: node %d or %d does not exist (%d nodes).", i, e.From, e.To, n)
		}
		if !(e.TravelTimeS >= 0) || math.IsInf(e.TravelTimeS, 0) {
			return bad("graph.edges[%d]: travel time %v is not a finite non-negative number.", i, e.TravelTimeS)
		}
	}
	if len(in.Units) == 0 {
		return bad("units: there is no unit.")
	}
	for u, un := range in.Units {
		if un.Start < 0 || un.Start >= n {
			return bad("units[%d].start: node %d does not exist (%d nodes).", u, un.Start, n)
		}
		if !(un.StartDelayS >= 0) || math.IsInf(un.StartDelayS, 0) {
			return bad("units[%d].start_delay_s: %v is not a finite non-negative number.", u, un.StartDelayS)
		}
		for i, v := range un.Candidates {
			if v < 0 || v >= n {
				return bad("units[%d].candidates[%d]: node %d does not exist (%d nodes).", u, i, v, n)
			}
			if i > 0 && v <= un.Candidates[i-1] {
				return bad("units[%d].candidates[%d]: node %d is out of order or repeated (the list must be sorted).", u, i, v)
			}
		}
	}
	if len(in.Routes) == 0 {
		return bad("routes: there is no route.")
	}
	for r, route := range in.Routes {
		for i, vis := range route {
			if vis.Node < 0 || vis.Node >= n {
				return bad("routes[%d][%d]: node %d does not exist (%d nodes).", r, i, vis.Node, n)
			}
			if !(vis.TimeS >= 0 && vis.TimeS < in.HorizonS) {
				return bad("routes[%d][%d]: time %v is not in [0, horizon_s = %v).", r, i, vis.TimeS, in.HorizonS)
			}
			if i > 0 && vis.TimeS < route[i-1].TimeS {
				return bad("routes[%d][%d]: time %v is before the previous visit's %v (visits are in time order).", r, i, vis.TimeS, route[i-1].TimeS)
			}
		}
	}
	if in.FugitiveStart < -1 || in.FugitiveStart >= n {
		return bad("fugitive_start: node %d does not exist (%d nodes).", in.FugitiveStart, n)
	}
	for i, v := range in.EscapeNodes {
		if v < 0 || v >= n {
			return bad("escape_nodes[%d]: node %d does not exist (%d nodes).", i, v, n)
		}
	}
	if ref := in.Reference; ref != nil {
		check := func(name string, ps []int) error {
			if ps == nil {
				return nil
			}
			if len(ps) != len(in.Units) {
				return bad("%s: %d positions for %d units.", name, len(ps), len(in.Units))
			}
			for i, v := range ps {
				if v < 0 || v >= n {
					return bad("%s[%d]: node %d does not exist (%d nodes).", name, i, v, n)
				}
			}
			return nil
		}
		if err := check("reference_results.exact_optimum_positions", ref.OptimumPositions); err != nil {
			return err
		}
		if err := check("reference_results.greedy_positions", ref.GreedyPositions); err != nil {
			return err
		}
		for i, p := range ref.Published {
			if err := check("paper_solutions["+strconv.Itoa(i)+"].positions", p.Positions); err != nil {
				return err
			}
		}
	}
	return nil
}

// ArrivalTimes returns a_u(v) for every node v: the unit's start delay plus
// the shortest travel time from its start (Dijkstra), +Inf where v cannot
// be reached.
func (in *Instance) ArrivalTimes(u int) []float64 {
	n := len(in.Nodes)
	first := make([]int, n+1)
	for _, e := range in.Edges {
		first[e.From+1]++
	}
	for i := 1; i <= n; i++ {
		first[i] += first[i-1]
	}
	adj := make([]Edge, len(in.Edges))
	fill := append([]int(nil), first[:n]...)
	for _, e := range in.Edges {
		adj[fill[e.From]] = e
		fill[e.From]++
	}
	dist := make([]float64, n)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	s := in.Units[u].Start
	dist[s] = 0
	q := &nodeHeap{{s, 0}}
	for q.Len() > 0 {
		it := heap.Pop(q).(nodeDist)
		if it.d > dist[it.v] {
			continue
		}
		for _, e := range adj[first[it.v]:first[it.v+1]] {
			if d := it.d + e.TravelTimeS; d < dist[e.To] {
				dist[e.To] = d
				heap.Push(q, nodeDist{e.To, d})
			}
		}
	}
	for i := range dist {
		dist[i] += in.Units[u].StartDelayS
	}
	return dist
}

type nodeDist struct {
	v int
	d float64
}

type nodeHeap []nodeDist

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].d < h[j].d }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(nodeDist)) }
func (h *nodeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Problem is an instance compiled for solving: for every unit, the set of
// routes each of its candidate nodes intercepts. It is immutable and may
// be shared by concurrent solves.
type Problem struct {
	in      *Instance
	routes  int
	words   int
	arrival [][]float64 // per unit, per node
	// units[u] are unit u's options: candidate nodes with the routes they
	// intercept (bitsets of words uint64).
	units [][]option
	// visits[v] lists, per route visiting v, the time of its last visit
	// there, by route.
	visits [][]routeTime
}

type option struct {
	node  int
	set   []uint64
	count int
}

type routeTime struct {
	route int
	t     float64
}

// Compile validates in and computes every unit's arrival times and the
// routes each of its candidate nodes intercepts.
func Compile(in *Instance) (*Problem, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := &Problem{in: in, routes: len(in.Routes), words: (len(in.Routes) + 63) / 64}
	p.visits = make([][]routeTime, len(in.Nodes))
	for r, route := range in.Routes {
		for _, vis := range route {
			l := p.visits[vis.Node]
			if k := len(l); k > 0 && l[k-1].route == r {
				l[k-1].t = math.Max(l[k-1].t, vis.TimeS)
				continue
			}
			p.visits[vis.Node] = append(l, routeTime{r, vis.TimeS})
		}
	}
	// A route revisiting v after other nodes appends a second entry for r
	// only if its last entry is not r: merge those.
	for v, l := range p.visits {
		if len(l) < 2 {
			continue
		}
		sort.SliceStable(l, func(i, j int) bool { return l[i].route < l[j].route })
		k := 0
		for _, x := range l {
			if k > 0 && l[k-1].route == x.route {
				l[k-1].t = math.Max(l[k-1].t, x.t)
				continue
			}
			l[k] = x
			k++
		}
		p.visits[v] = l[:k]
	}
	p.arrival = make([][]float64, len(in.Units))
	p.units = make([][]option, len(in.Units))
	for u, un := range in.Units {
		a := in.ArrivalTimes(u)
		p.arrival[u] = a
		cands := un.Candidates
		if len(cands) == 0 {
			for v, l := range p.visits {
				if len(l) > 0 || v == un.Start {
					cands = append(cands, v)
				}
			}
		}
		sets := make([]uint64, len(cands)*p.words)
		opts := make([]option, 0, len(cands))
		for i, v := range cands {
			set := sets[i*p.words : (i+1)*p.words : (i+1)*p.words]
			n := 0
			for _, rt := range p.visits[v] {
				if rt.t >= a[v] {
					set[rt.route>>6] |= 1 << (rt.route & 63)
					n++
				}
			}
			opts = append(opts, option{node: v, set: set, count: n})
		}
		p.units[u] = opts
	}
	return p, nil
}

// Instance returns the compiled instance.
func (p *Problem) Instance() *Instance { return p.in }

// Evaluate returns the number of routes intercepted when unit u stands at
// positions[u]. It is EINVALID when positions does not name one existing
// node per unit. A node outside a unit's candidates counts by the model's
// rule all the same.
func (p *Problem) Evaluate(positions []int) (int, error) {
	if len(positions) != len(p.in.Units) {
		return 0, convoi.Errorf(convoi.EINVALID, "%d positions for %d units.", len(positions), len(p.in.Units))
	}
	hit := make([]bool, p.routes)
	n := 0
	for u, v := range positions {
		if v < 0 || v >= len(p.in.Nodes) {
			return 0, convoi.Errorf(convoi.EINVALID, "positions[%d]: node %d does not exist.", u, v)
		}
		for _, rt := range p.visits[v] {
			if rt.t >= p.arrival[u][v] && !hit[rt.route] {
				hit[rt.route] = true
				n++
			}
		}
	}
	return n, nil
}

// ArrivalS returns when unit u can reach node v (seconds, +Inf if never).
func (p *Problem) ArrivalS(u, v int) float64 { return p.arrival[u][v] }

// RoutesCut returns how many routes unit u intercepts on its own at node
// v (by the model's rule), whatever the other units do.
func (p *Problem) RoutesCut(u, v int) int {
	n := 0
	for _, rt := range p.visits[v] {
		if rt.t >= p.arrival[u][v] {
			n++
		}
	}
	return n
}
