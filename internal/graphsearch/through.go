package graphsearch

// OnSimplePath marks the nodes that lie on some simple path from s to t in
// the graph of n nodes and arcs tail[i] -> head[i], taken undirected: a
// directed simple path is an undirected one, so every node a simple route
// from s to t can pass is marked. The others sit in dead ends and in parts
// hung on a single node (an articulation point): a route entering them
// would have to leave through a node it already passed.
//
// With a virtual edge s-t added, a node lies on a simple s-t path exactly
// when it shares a biconnected component with that edge (a cycle through
// the edge and the node). The component is found by Tarjan's depth-first
// search from s, with t as s's first child, iteratively (no recursion on
// large graphs). It costs O(n + len(tail)). s == t marks s alone; a t
// that s cannot reach leaves everything unmarked.
func OnSimplePath(n int, tail, head []int32, s, t int32) []bool {
	on := make([]bool, n)
	if s == t {
		on[s] = true
		return on
	}
	// Undirected adjacency in compressed rows.
	first := make([]int32, n+1)
	for i := range tail {
		first[tail[i]+1]++
		first[head[i]+1]++
	}
	for v := range n {
		first[v+1] += first[v]
	}
	adj := make([]int32, first[n])
	fill := make([]int32, n)
	copy(fill, first[:n])
	for i := range tail {
		u, v := tail[i], head[i]
		adj[fill[u]], fill[u] = v, fill[u]+1
		adj[fill[v]], fill[v] = u, fill[v]+1
	}
	const unseen = -1
	disc, low := make([]int32, n), make([]int32, n)
	for v := range disc {
		disc[v] = unseen
	}
	// frame is a node of the search with its parent and the next
	// neighbour to look at.
	type frame struct {
		v, parent int32
		next      int32
	}
	var (
		stack   []frame
		visited []int32 // Tarjan's node stack
		clock   int32
	)
	enter := func(v, parent int32) {
		disc[v], low[v] = clock, clock
		clock++
		stack = append(stack, frame{v: v, parent: parent, next: first[v]})
		visited = append(visited, v)
	}
	// s is the root and t its first child: the edge s-t is the virtual one.
	disc[s], low[s] = clock, clock
	clock++
	visited = append(visited, s)
	enter(t, s)
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < first[f.v+1] {
			w := adj[f.next]
			f.next++
			switch {
			case w == f.parent && f.v != t:
				// The tree edge back (t's is the virtual one: a real
				// edge t-s is a path of its own).
			case disc[w] == unseen:
				enter(w, f.v)
			default:
				low[f.v] = min(low[f.v], disc[w])
			}
			continue
		}
		v, p := f.v, f.parent
		stack = stack[:len(stack)-1]
		low[p] = min(low[p], low[v])
		if p == s || low[v] >= disc[p] {
			// v's subtree, down to v, is a component with p.
			k := len(visited) - 1
			for visited[k] != v {
				k--
			}
			if v == t {
				if low[t] > disc[s] {
					return on // no way back to s: t is out of reach
				}
				// The component of the edge s-t.
				for _, u := range visited[k:] {
					on[u] = true
				}
				on[s] = true
				return on
			}
			visited = visited[:k]
		}
	}
	return on
}
