package ambush

import "math"

// cutMix returns an attacker mix that every route of the corridor meets:
// the sites of a minimum cut between origin and destination, each road
// element (an edge, or a node) cut at its cheapest site, a site costing
// the number of windows it can be passed in over its p. In the static game
// (one window) this is the attacker's optimal mix (Washburn and Wood,
// "Two-person zero-sum games for network interdiction", Operations
// Research 43(2), 1995): each cut site with probability proportional to
// 1/p, so that every route is hit with the same 1/capacity. In the timed
// game each cut site's weight, proportional to its cost, is spread evenly
// over its windows: a passage falls in a few of them, so a route pays
// about the same at every cut site.
//
// It is a mix the double oracle's restricted games find only near the
// equilibrium: any mix bounds the value from below (bucketLowerMix makes
// that bound exact for it), and this one does so from the start, so a
// solve stopped early still reports a meaningful certified bound. nil when
// the cut holds no site.
func (g *game) cutMix() ([]column, []float64) {
	// Elements without a site get a capacity no cut through sites
	// reaches: the corridor also holds walks too long to be admissible,
	// and some of those may pass no site; a cut through one of them
	// leaves it out of the mix, which still bounds what every admissible
	// route pays (bucketLowerMix), only less tightly.
	const inf = 1e12
	// A site's weight is spread over its windows, and a passage falls in
	// few of them: the more windows, the less a route pays there, so the
	// capacity is the number of windows over p.
	windows := make([][]int, len(g.siteP))
	capacity := func(j int32) float64 {
		if windows[j] == nil {
			windows[j] = g.passWindows(j)
		}
		if p := g.siteP[j]; p > 0 && len(windows[j]) > 0 {
			return float64(len(windows[j])) / p
		}
		return inf
	}
	best := func(sites []int32) (int32, float64) {
		j, c := int32(-1), inf
		for _, s := range sites {
			if cs := capacity(s); cs < c {
				j, c = s, cs
			}
		}
		return j, c
	}
	// Node v splits into 2v -> 2v+1 (its node sites); edge e joins
	// 2*tail+1 -> 2*head.
	f := newFlow(2 * g.n)
	for v := range int32(g.n) {
		_, c := best(g.nodeS[v])
		f.add(2*v, 2*v+1, c)
	}
	for e := range int32(len(g.head)) {
		_, c := best(g.edgeS[e])
		f.add(2*g.tail[e]+1, 2*g.head[e], c)
	}
	if cut := f.maxFlow(2*g.origin, 2*g.dest+1); cut <= 0 {
		return nil, nil
	}
	side := f.sourceSide(2 * g.origin)
	var sites []int32
	var weights []float64
	take := func(from, to int32, s []int32) {
		if side[from] && !side[to] {
			if j, c := best(s); j >= 0 {
				sites, weights = append(sites, j), append(weights, c)
			}
		}
	}
	for v := range int32(g.n) {
		take(2*v, 2*v+1, g.nodeS[v])
	}
	for e := range int32(len(g.head)) {
		take(2*g.tail[e]+1, 2*g.head[e], g.edgeS[e])
	}
	if len(sites) == 0 {
		return nil, nil
	}
	var total float64
	for _, w := range weights {
		total += w
	}
	var cols []column
	var y []float64
	for k, j := range sites {
		ws := windows[j]
		for _, w := range ws {
			cols = append(cols, column{site: j, w: w})
			y = append(y, weights[k]/total/float64(len(ws)))
		}
	}
	return cols, y
}

// passWindows returns the windows (all of them: 0 in the static game) that
// contain a time at which some admissible route, departing at some slot,
// could pass site j.
func (g *game) passWindows(j int32) []int {
	if !g.timed {
		return []int{0}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for slot, t := range g.in.Slots {
		if !g.feasibleFn[slot] {
			continue
		}
		if a, b := g.passRange(j, g.maxDur[slot]); a <= b {
			lo, hi = math.Min(lo, t+a), math.Max(hi, t+b)
		}
	}
	var ws []int
	for w, win := range g.windows {
		if win.End() > lo && win.Start() <= hi {
			ws = append(ws, w)
		}
	}
	return ws
}

// flow is a maximum-flow network solved by Dinic's algorithm: breadth-first
// levels, then blocking flows along them.
type flow struct {
	first []int32 // per node, its first arc (-1: none)
	next  []int32 // per arc, the next arc of its tail
	to    []int32
	cap   []float64 // residual capacity; arc a^1 is a's reverse
	level []int32
	iter  []int32
	queue []int32
}

func newFlow(n int) *flow {
	f := &flow{first: make([]int32, n), level: make([]int32, n), iter: make([]int32, n)}
	for i := range f.first {
		f.first[i] = -1
	}
	return f
}

// add adds arc u -> v of capacity c and its reverse.
func (f *flow) add(u, v int32, c float64) {
	a := int32(len(f.to))
	f.to, f.cap, f.next = append(f.to, v, u), append(f.cap, c, 0), append(f.next, f.first[u], f.first[v])
	f.first[u], f.first[v] = a, a+1
}

// residual is the smallest capacity treated as positive: capacities are
// sums of 1/p, at least 1, so rounding stays far below it.
const residual = 1e-9

func (f *flow) bfs(s, t int32) bool {
	for i := range f.level {
		f.level[i] = -1
	}
	f.level[s] = 0
	f.queue = append(f.queue[:0], s)
	for h := 0; h < len(f.queue); h++ {
		u := f.queue[h]
		for a := f.first[u]; a >= 0; a = f.next[a] {
			if v := f.to[a]; f.cap[a] > residual && f.level[v] < 0 {
				f.level[v] = f.level[u] + 1
				f.queue = append(f.queue, v)
			}
		}
	}
	return f.level[t] >= 0
}

// push sends up to amount from u towards t along the level graph,
// iteratively (road graphs make deep paths), and returns what it sent.
func (f *flow) push(s, t int32, amount float64) float64 {
	type frame struct {
		u int32
		a int32 // the arc taken from the previous frame's node
	}
	stack := []frame{{u: s, a: -1}}
	for len(stack) > 0 {
		u := stack[len(stack)-1].u
		if u == t {
			// Bottleneck along the stack, then augment.
			d := amount
			for _, fr := range stack[1:] {
				d = math.Min(d, f.cap[fr.a])
			}
			for _, fr := range stack[1:] {
				f.cap[fr.a] -= d
				f.cap[fr.a^1] += d
			}
			return d
		}
		advanced := false
		for ; f.iter[u] >= 0; f.iter[u] = f.next[f.iter[u]] {
			a := f.iter[u]
			if v := f.to[a]; f.cap[a] > residual && f.level[v] == f.level[u]+1 {
				stack = append(stack, frame{u: v, a: a})
				advanced = true
				break
			}
		}
		if !advanced {
			// Dead end: retreat and skip the arc that led here.
			f.level[u] = -1
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := stack[len(stack)-1].u
				f.iter[p] = f.next[f.iter[p]]
			}
		}
	}
	return 0
}

// maxFlow returns the value of a maximum flow from s to t.
func (f *flow) maxFlow(s, t int32) float64 {
	var total float64
	for f.bfs(s, t) {
		copy(f.iter, f.first)
		for {
			d := f.push(s, t, math.Inf(1))
			if d <= residual {
				break
			}
			total += d
		}
	}
	return total
}

// sourceSide marks the nodes reachable from s in the residual network of
// a maximum flow: the source side of a minimum cut.
func (f *flow) sourceSide(s int32) []bool {
	seen := make([]bool, len(f.first))
	seen[s] = true
	f.queue = append(f.queue[:0], s)
	for h := 0; h < len(f.queue); h++ {
		u := f.queue[h]
		for a := f.first[u]; a >= 0; a = f.next[a] {
			if v := f.to[a]; f.cap[a] > residual && !seen[v] {
				seen[v] = true
				f.queue = append(f.queue, v)
			}
		}
	}
	return seen
}
