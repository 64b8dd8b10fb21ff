package roadnet

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/convoi/convoi/internal/graphsearch"
)

// Contraction hierarchy: nodes are contracted one by one in the order of a
// lazily updated priority (edge difference, contracted neighbours, level);
// a shortcut u->x replaces u->v->x unless a witness search finds a path no
// longer. Shortcut weights are exact sums, so CH distances are exact.
//
// One implementation serves two graphs: the road graph (nodes are
// intersections, base arcs its edges) and the turn graph (nodes are the
// road graph's edges, base arcs the allowed turns; turns.go).

// hierarchy is a contraction hierarchy over a graph given as base arcs.
// CH edge ids below len(baseHead) are the base arcs; above are shortcuts,
// each the concatenation of chA then chB.
type hierarchy struct {
	// Base arc i runs from baseTail[i] to baseHead[i] at cost
	// baseWeight[i] >= 1. For the road graph these are the Graph's own
	// tail, head and weight slices.
	baseTail, baseHead, baseWeight []uint32

	rank     []uint32
	chWeight []uint32 // shortcut weights (index id-len(baseHead))
	chA, chB []uint32 // shortcut children
	// Upward graph: for node u, arcs to higher-ranked v.
	upFirst []uint32
	upHead  []uint32
	upEdge  []uint32 // CH edge id
	// Downward graph reversed: for node v, arcs from higher-ranked u (u->v).
	downFirst []uint32
	downTail  []uint32
	downEdge  []uint32
}

type chArc struct {
	other, w, id uint32
}

type contractor struct {
	h       *hierarchy
	out, in [][]chArc
	done    []bool
	deleted []int32 // contracted neighbours
	level   []int32
	sc      []shortcut
	// ws[0] serves the sequential steps; all of ws the parallel priority
	// evaluations, one per worker.
	ws []*witnessSearch
	// slot[x] is x's index in the neighbour list being evaluated, valid
	// when slotGen[x] == gen.
	slot    []int32
	slotGen []uint32
	gen     uint32
}

// witnessSearch is one worker's scratch space for witness searches: a
// Dijkstra whose per-node state sits in one record, so that relaxing an arc
// touches one cache line, and whose queue is the shared indexed heap.
type witnessSearch struct {
	node []witnessNode
	heap *graphsearch.Heap[int64, graphsearch.NoTie]
	// gen stamps dist, targetGen the targets of one shortcuts call,
	// callGen the targets decided in one witness search.
	gen, targetGen, callGen uint32
}

type witnessNode struct {
	dist     int64
	stamp    uint32 // == gen: dist is set
	target   uint32 // == targetGen: x is an out-neighbour to decide
	need     uint32 // weight of the arc v->x, for target x
	resolved uint32 // == callGen: target x's answer is known
}

func newWitnessSearch(n int) *witnessSearch {
	return &witnessSearch{node: make([]witnessNode, n), heap: graphsearch.NewHeap[int64, graphsearch.NoTie](n)}
}

func (ws *witnessSearch) reset() {
	ws.gen++
	if ws.gen == 0 {
		for i := range ws.node {
			ws.node[i].stamp = 0
		}
		ws.gen = 1
	}
	ws.heap.Reset()
}

// get returns x's tentative distance, or Infinity.
func (ws *witnessSearch) get(x uint32) int64 {
	if ws.node[x].stamp != ws.gen {
		return Infinity
	}
	return ws.node[x].dist
}

// relax is search.Relax without predecessors: the same heap moves, so the
// same nodes are settled in the same order.
func (ws *witnessSearch) relax(x uint32, d int64) {
	nd := &ws.node[x]
	if nd.stamp != ws.gen {
		nd.stamp, nd.dist = ws.gen, d
		ws.heap.Push(x, d, 0)
		return
	}
	if d >= nd.dist || !ws.heap.In(x) {
		return
	}
	nd.dist = d
	ws.heap.Lower(x, d, 0)
}

type shortcut struct {
	from, to, w, a, b uint32
}

const (
	witnessSimLimit = 40
	witnessLimit    = 300
	// parallelWork is the least work (the sum over the nodes of in-arcs
	// times out-arcs, which bounds the witness searches and their targets)
	// worth handing to other goroutines.
	parallelWork = 256
)

// contract builds the hierarchy over n nodes from the base arcs.
func (g *hierarchy) contract(ctx context.Context, n int) error {
	m := len(g.baseHead)
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	c := &contractor{
		h: g, out: make([][]chArc, n), in: make([][]chArc, n),
		done: make([]bool, n), deleted: make([]int32, n), level: make([]int32, n),
		slot: make([]int32, n), slotGen: make([]uint32, n),
	}
	for range workers {
		c.ws = append(c.ws, newWitnessSearch(n))
	}
	for e := 0; e < m; e++ {
		u, v := g.baseTail[e], g.baseHead[e]
		if u == v {
			continue
		}
		c.addArc(u, v, g.baseWeight[e], uint32(e))
	}
	// Priorities are computed in parallel but consumed in a fixed order,
	// so the hierarchy does not depend on the number of workers.
	all := make([]uint32, n)
	for v := range all {
		all[v] = uint32(v)
	}
	cores := make([]int64, n)
	c.edgeDiffs(all, cores)
	pq := graphsearch.NewHeap[int64, graphsearch.NoTie](n)
	for v := 0; v < n; v++ {
		pq.Push(uint32(v), cores[v], 0)
	}
	g.rank = make([]uint32, n)
	var neigh, uniq []uint32
	for r := uint32(0); pq.Len() > 0; {
		if r&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		v, key := pq.Top()
		// Lazy update: re-evaluate the top; if it got worse, requeue it.
		if p := c.priority(v, c.ws[0]); p > key {
			pq.Update(v, p)
			if top, _ := pq.Top(); top != v {
				continue
			}
		}
		pq.Pop()
		g.rank[v] = r
		r++
		neigh = c.contractNode(v, neigh[:0])
		// A neighbour appears once per arc to v; its edge difference is
		// the same at each appearance, only the deleted count grows.
		c.gen++
		if c.gen == 0 {
			clear(c.slotGen)
			c.gen = 1
		}
		uniq = uniq[:0]
		for _, x := range neigh {
			if c.done[x] || c.slotGen[x] == c.gen {
				continue
			}
			c.slotGen[x], c.slot[x] = c.gen, int32(len(uniq))
			uniq = append(uniq, x)
			if c.level[x] < c.level[v]+1 {
				c.level[x] = c.level[v] + 1
			}
		}
		cores = cores[:len(uniq)]
		c.edgeDiffs(uniq, cores)
		for _, x := range neigh {
			if c.done[x] {
				continue
			}
			c.deleted[x]++
			p := cores[c.slot[x]] + 2*int64(c.deleted[x]) + int64(c.level[x])
			if pq.In(x) {
				pq.Update(x, p)
			}
		}
	}
	// Shortcuts.
	g.chWeight = make([]uint32, len(c.sc))
	g.chA = make([]uint32, len(c.sc))
	g.chB = make([]uint32, len(c.sc))
	for i, s := range c.sc {
		g.chWeight[i], g.chA[i], g.chB[i] = s.w, s.a, s.b
	}
	// Upward graph: out arcs at contraction time. Downward (reversed): in arcs.
	g.upFirst = make([]uint32, n+1)
	g.downFirst = make([]uint32, n+1)
	for v := 0; v < n; v++ {
		g.upFirst[v+1] = g.upFirst[v] + uint32(len(c.out[v]))
		g.downFirst[v+1] = g.downFirst[v] + uint32(len(c.in[v]))
	}
	g.upHead = make([]uint32, g.upFirst[n])
	g.upEdge = make([]uint32, g.upFirst[n])
	g.downTail = make([]uint32, g.downFirst[n])
	g.downEdge = make([]uint32, g.downFirst[n])
	for v := 0; v < n; v++ {
		for i, a := range c.out[v] {
			g.upHead[int(g.upFirst[v])+i], g.upEdge[int(g.upFirst[v])+i] = a.other, a.id
		}
		for i, a := range c.in[v] {
			g.downTail[int(g.downFirst[v])+i], g.downEdge[int(g.downFirst[v])+i] = a.other, a.id
		}
	}
	return nil
}

// edgeDiffs sets diff[i] to the edge-difference term of nodes[i]'s
// priority, spreading the witness searches over the workers. It only reads
// the contractor's graph.
func (c *contractor) edgeDiffs(nodes []uint32, diff []int64) {
	w := len(c.ws)
	work := 0
	for _, v := range nodes {
		if work += len(c.in[v]) * len(c.out[v]); work >= parallelWork {
			break
		}
	}
	if w == 1 || len(nodes) < 2 || work < parallelWork {
		for i, v := range nodes {
			diff[i] = c.edgeDiff(v, c.ws[0])
		}
		return
	}
	// Nodes are handed out one at a time: their costs differ widely.
	var next atomic.Int64
	run := func(ws *witnessSearch) {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(nodes) {
				return
			}
			diff[i] = c.edgeDiff(nodes[i], ws)
		}
	}
	var wg sync.WaitGroup
	for _, ws := range c.ws[1:min(w, len(nodes))] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ws)
		}()
	}
	run(c.ws[0])
	wg.Wait()
}

// addArc inserts u->v or lowers an existing one.
func (c *contractor) addArc(u, v, w, id uint32) {
	for i := range c.out[u] {
		if c.out[u][i].other == v {
			if w < c.out[u][i].w {
				c.out[u][i].w, c.out[u][i].id = w, id
				for j := range c.in[v] {
					if c.in[v][j].other == u {
						c.in[v][j].w, c.in[v][j].id = w, id
					}
				}
			}
			return
		}
	}
	c.out[u] = append(c.out[u], chArc{v, w, id})
	c.in[v] = append(c.in[v], chArc{u, w, id})
}

// witness runs a bounded Dijkstra from src among uncontracted nodes, not
// through skip, up to cost max or limit settled nodes. It stops as soon as
// the answer for each of the targets (the nodes marked with targetGen, src
// excluded) is known: settled, or reached within base plus its need. Its
// distances then decide the shortcuts exactly as a search run to the limit
// would: a tentative distance within the need stays within it, and a node
// settled can no longer improve.
func (c *contractor) witness(ws *witnessSearch, src, skip uint32, base, max int64, limit, targets int) {
	ws.reset()
	ws.callGen++
	if ws.callGen == 0 {
		for i := range ws.node {
			ws.node[i].resolved = 0
		}
		ws.callGen = 1
	}
	ws.relax(src, 0)
	// Arcs into contracted nodes are removed as they are contracted, so
	// every arc leads to an uncontracted node.
	for settled := 0; ws.heap.Len() > 0 && settled < limit; settled++ {
		u := ws.heap.Pop()
		nu := &ws.node[u]
		du := nu.dist
		if du > max {
			return
		}
		if nu.target == ws.targetGen && u != src && nu.resolved != ws.callGen {
			nu.resolved = ws.callGen
			if targets--; targets == 0 {
				return
			}
		}
		for _, a := range c.out[u] {
			x := a.other
			if x == skip {
				continue
			}
			d := du + int64(a.w)
			ws.relax(x, d)
			if nx := &ws.node[x]; nx.target == ws.targetGen && x != src && nx.resolved != ws.callGen && d <= base+int64(nx.need) {
				nx.resolved = ws.callGen
				if targets--; targets == 0 {
					return
				}
			}
		}
	}
}

// shortcuts calls fn for every shortcut contracting v needs.
func (c *contractor) shortcuts(v uint32, ws *witnessSearch, limit int, fn func(u, x uint32, w int64, a, b uint32)) {
	var maxOut int64
	ws.targetGen++
	if ws.targetGen == 0 {
		for i := range ws.node {
			ws.node[i].target = 0
		}
		ws.targetGen = 1
	}
	targets := 0
	for _, o := range c.out[v] {
		if int64(o.w) > maxOut {
			maxOut = int64(o.w)
		}
		if no := &ws.node[o.other]; !c.done[o.other] && no.target != ws.targetGen {
			no.target, no.need = ws.targetGen, o.w
			targets++
		}
	}
	for _, i := range c.in[v] {
		if c.done[i.other] {
			continue
		}
		max := int64(i.w) + maxOut
		n := targets
		if ws.node[i.other].target == ws.targetGen {
			n-- // no shortcut from u to itself
		}
		if n == 0 {
			continue
		}
		c.witness(ws, i.other, v, int64(i.w), max, limit, n)
		for _, o := range c.out[v] {
			if o.other == i.other || c.done[o.other] {
				continue
			}
			w := int64(i.w) + int64(o.w)
			if ws.get(o.other) <= w {
				continue
			}
			fn(i.other, o.other, w, i.id, o.id)
		}
	}
}

// priority is v's contraction priority: lower goes first.
func (c *contractor) priority(v uint32, ws *witnessSearch) int64 {
	return c.edgeDiff(v, ws) + 2*int64(c.deleted[v]) + int64(c.level[v])
}

// edgeDiff is the edge-difference term of v's priority: four times the
// shortcuts contracting v would add minus the arcs it would remove.
func (c *contractor) edgeDiff(v uint32, ws *witnessSearch) int64 {
	added := 0
	c.shortcuts(v, ws, witnessSimLimit, func(u, x uint32, w int64, a, b uint32) { added++ })
	removed := len(c.in[v]) + len(c.out[v])
	return int64(4 * (added - removed))
}

// contractNode adds v's shortcuts, detaches v from its neighbours and
// returns them.
func (c *contractor) contractNode(v uint32, neigh []uint32) []uint32 {
	m := uint32(len(c.h.baseHead))
	var add []shortcut
	c.shortcuts(v, c.ws[0], witnessLimit, func(u, x uint32, w int64, a, b uint32) {
		if w > math.MaxUint32 {
			w = math.MaxUint32 // unreachable in practice: weights are 32-bit sums
		}
		add = append(add, shortcut{u, x, uint32(w), a, b})
	})
	for _, s := range add {
		id := m + uint32(len(c.sc))
		c.sc = append(c.sc, s)
		c.addArc(s.from, s.to, s.w, id)
	}
	c.done[v] = true
	for _, a := range c.out[v] {
		c.in[a.other] = removeArc(c.in[a.other], v)
		neigh = append(neigh, a.other)
	}
	for _, a := range c.in[v] {
		c.out[a.other] = removeArc(c.out[a.other], v)
		neigh = append(neigh, a.other)
	}
	return neigh
}

func removeArc(arcs []chArc, v uint32) []chArc {
	for i := 0; i < len(arcs); i++ {
		if arcs[i].other == v {
			arcs[i] = arcs[len(arcs)-1]
			arcs = arcs[:len(arcs)-1]
			i--
		}
	}
	return arcs
}

// chCost returns the cost of CH edge id.
func (g *hierarchy) chCost(id uint32) int64 {
	if int(id) < len(g.baseHead) {
		return int64(g.baseWeight[id])
	}
	return int64(g.chWeight[int(id)-len(g.baseHead)])
}

// unpack appends the base arcs of CH edge id, in order.
func unpack[T ~uint32](g *hierarchy, dst []T, id uint32) []T {
	m := uint32(len(g.baseHead))
	var stack [64]uint32
	sp := 0
	stack[sp] = id
	sp++
	for sp > 0 {
		sp--
		e := stack[sp]
		if e < m {
			dst = append(dst, T(e))
			continue
		}
		i := e - m
		if sp+2 > len(stack) {
			// Deeper than any real hierarchy; recurse rather than overflow.
			dst = unpack(g, dst, g.chA[i])
			dst = unpack(g, dst, g.chB[i])
			continue
		}
		stack[sp] = g.chB[i]
		stack[sp+1] = g.chA[i]
		sp += 2
	}
	return dst
}

// seed is a start (or end) of a search: a node and the cost already spent
// to reach it (or still to spend from it).
type seed struct {
	node uint32
	cost int64
}

// chQuery runs a bidirectional CH search with f forwards and b backwards.
// It returns the best cost (Infinity when no path) and the meeting node.
func (g *hierarchy) chQuery(f, b *search, src, dst []seed) (int64, uint32) {
	f.Reset()
	b.Reset()
	for _, s := range src {
		f.Relax(s.node, s.cost, 0, math.MaxUint32)
	}
	for _, s := range dst {
		b.Relax(s.node, s.cost, 0, math.MaxUint32)
	}
	best, meet := Infinity, uint32(math.MaxUint32)
	up, down := g.upward(), g.downward()
	for {
		fk, bk := f.MinKey(), b.MinKey()
		if fk >= best && bk >= best || fk == Infinity && bk == Infinity {
			break
		}
		// The two sides stay written out, relaxations inline: a shared
		// settle step made route queries 8-15 % slower (docs/benchmarks.md).
		if fk <= bk {
			u := f.Pop()
			du := f.Dist[u]
			if db := b.Get(u); db != Infinity && du+db < best {
				best, meet = du+db, u
			}
			if g.stalled(f, u, du, &down) {
				continue
			}
			for i := g.upFirst[u]; i < g.upFirst[u+1]; i++ {
				f.Relax(g.upHead[i], du+g.chCost(g.upEdge[i]), 0, g.upEdge[i])
			}
		} else {
			u := b.Pop()
			du := b.Dist[u]
			if df := f.Get(u); df != Infinity && du+df < best {
				best, meet = du+df, u
			}
			if g.stalled(b, u, du, &up) {
				continue
			}
			for i := g.downFirst[u]; i < g.downFirst[u+1]; i++ {
				b.Relax(g.downTail[i], du+g.chCost(g.downEdge[i]), 0, g.downEdge[i])
			}
		}
	}
	return best, meet
}

// chDir is one direction of a CH search in compressed rows: the upward
// arcs from a source, or the downward arcs reversed from a target.
type chDir struct{ first, other, edge []uint32 }

func (g *hierarchy) upward() chDir   { return chDir{g.upFirst, g.upHead, g.upEdge} }
func (g *hierarchy) downward() chDir { return chDir{g.downFirst, g.downTail, g.downEdge} }

// chSweep runs s, seeded, to exhaustion along d, calling visit with each
// settled node and its distance; it skips the nodes the opposite arcs opp
// stall.
func (g *hierarchy) chSweep(s *search, d, opp *chDir, visit func(u uint32, du int64)) {
	for !s.Empty() {
		u := s.Pop()
		du := s.Dist[u]
		if g.stalled(s, u, du, opp) {
			continue
		}
		visit(u, du)
		g.relaxArcs(s, u, du, d)
	}
}

func (g *hierarchy) relaxArcs(s *search, u uint32, du int64, d *chDir) {
	for i := d.first[u]; i < d.first[u+1]; i++ {
		s.Relax(d.other[i], du+g.chCost(d.edge[i]), 0, d.edge[i])
	}
}

// stalled implements stall-on-demand: u is not on a shortest path of this
// direction if a higher neighbour reaches it cheaper through an arc of the
// opposite direction opp.
func (g *hierarchy) stalled(s *search, u uint32, du int64, opp *chDir) bool {
	for i := opp.first[u]; i < opp.first[u+1]; i++ {
		if d := s.Get(opp.other[i]); d != Infinity && d+g.chCost(opp.edge[i]) < du {
			return true
		}
	}
	return false
}

// chPath appends the base arcs of the path found by the last chQuery on
// f and b that met at meet.
func chPath[T ~uint32](g *hierarchy, f, b *search, meet uint32, dst []T) []T {
	var ups []uint32
	for v := meet; f.Pred[v] != math.MaxUint32; {
		id := f.Pred[v]
		ups = append(ups, id)
		v = g.chTail(id)
	}
	for i := len(ups) - 1; i >= 0; i-- {
		dst = unpack(g, dst, ups[i])
	}
	for v := meet; b.Pred[v] != math.MaxUint32; {
		id := b.Pred[v]
		dst = unpack(g, dst, id)
		v = g.chHead(id)
	}
	return dst
}

func (g *hierarchy) chTail(id uint32) uint32 {
	for int(id) >= len(g.baseHead) {
		id = g.chA[int(id)-len(g.baseHead)]
	}
	return g.baseTail[id]
}

func (g *hierarchy) chHead(id uint32) uint32 {
	for int(id) >= len(g.baseHead) {
		id = g.chB[int(id)-len(g.baseHead)]
	}
	return g.baseHead[id]
}
