package ambush

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// disjointInstance builds k vertex-disjoint routes o -> m_i -> d, each with
// one site of probability ps[i] on its first edge, all of equal length.
func disjointInstance(ps []float64) *Instance {
	in := &Instance{Name: "disjoint", Origin: "o", Destination: "d", Slots: []float64{0}, Stretch: 1}
	in.Nodes = append(in.Nodes, Node{ID: "o"}, Node{ID: "d"})
	for i, p := range ps {
		m := fmt.Sprintf("m%d", i)
		in.Nodes = append(in.Nodes, Node{ID: m})
		e := len(in.Edges)
		in.Edges = append(in.Edges, Edge{From: "o", To: m, TimeS: 60}, Edge{From: m, To: "d", TimeS: 60})
		in.Sites = append(in.Sites, Site{ID: fmt.Sprintf("s%d", i), Edge: &e, At: 0.5, P: p})
	}
	return in
}

func TestSolveDisjointRoutes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ps   []float64
	}{
		{"one", []float64{0.7}},
		{"two equal", []float64{0.5, 0.5}},
		{"three", []float64{0.9, 0.3, 0.6}},
		{"five", []float64{1, 0.25, 0.5, 0.8, 0.1}},
		{"twelve", []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.12, 0.11, 0.05}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Solve(context.Background(), disjointInstance(tc.ps), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var inv float64
			for _, p := range tc.ps {
				inv += 1 / p
			}
			want := 1 / inv
			if math.Abs(st.Value-want) > 1e-9 {
				t.Errorf("value = %.12f, want 1/sum(1/p) = %.12f", st.Value, want)
			}
			if st.Exploitability > 1e-6 || st.Exploitability < -1e-9 {
				t.Errorf("exploitability = %g", st.Exploitability)
			}
			if !st.Converged || !st.ExactOracle {
				t.Errorf("converged=%v exact=%v", st.Converged, st.ExactOracle)
			}
			if math.Abs(st.LowerBound-want) > 1e-9 {
				t.Errorf("lower bound = %v, want %v", st.LowerBound, want)
			}
			// Route i is used with probability (1/p_i) / sum(1/p).
			if len(st.Routes) != len(tc.ps) {
				t.Fatalf("%d routes, want %d", len(st.Routes), len(tc.ps))
			}
			for _, r := range st.Routes {
				var i int
				if _, err := fmt.Sscanf(r.Sites[0], "s%d", &i); err != nil {
					t.Fatal(err)
				}
				p := tc.ps[i]
				if w := (1 / p) / inv; math.Abs(r.Probability-w) > 1e-9 {
					t.Errorf("route via %s: probability %v, want %v", r.Sites[0], r.Probability, w)
				}
			}
			maxP := 0.0
			for _, p := range tc.ps {
				maxP = math.Max(maxP, p)
			}
			// The fastest route is any one of them (equal times): its
			// baseline is that route's own p, at least the value.
			if st.FixedFastest.Value < st.Value-1e-12 || st.FixedFastest.Value > maxP {
				t.Errorf("fixed fastest baseline %v outside [value, max p]", st.FixedFastest.Value)
			}
		})
	}
}

// randomInterdiction builds a random layered digraph where every arc holds
// a site with probability in [0.05, 1] and the stretch bound admits every
// route, so the game is Washburn and Wood's path interdiction game.
func randomInterdiction(rng *rand.Rand, layers, width int) *Instance {
	in := &Instance{Name: "interdiction", Origin: "o", Destination: "d", Slots: []float64{0}, Stretch: 1e6}
	in.Nodes = append(in.Nodes, Node{ID: "o"}, Node{ID: "d"})
	name := func(l, i int) string { return fmt.Sprintf("n%d_%d", l, i) }
	for l := 0; l < layers; l++ {
		for i := 0; i < width; i++ {
			in.Nodes = append(in.Nodes, Node{ID: name(l, i)})
		}
	}
	add := func(a, b string) {
		e := len(in.Edges)
		in.Edges = append(in.Edges, Edge{From: a, To: b, TimeS: 1 + 9*rng.Float64()})
		in.Sites = append(in.Sites, Site{ID: fmt.Sprintf("a%d", e), Edge: &e, At: rng.Float64(), P: 0.05 + 0.95*rng.Float64()})
	}
	for i := 0; i < width; i++ {
		if rng.IntN(4) > 0 || i == 0 {
			add("o", name(0, i))
		}
		if rng.IntN(4) > 0 || i == 0 {
			add(name(layers-1, i), "d")
		}
	}
	for l := 0; l+1 < layers; l++ {
		for i := 0; i < width; i++ {
			for j := 0; j < width; j++ {
				if rng.IntN(3) == 0 || i == j {
					add(name(l, i), name(l+1, j))
				}
			}
			// Some arcs within a layer, in both directions: cycles.
			if j := rng.IntN(width); j != i && rng.IntN(3) == 0 {
				add(name(l, i), name(l, j))
			}
		}
	}
	return in
}

// maxFlow is Edmonds-Karp on a dense capacity matrix, independent of the solver.
func maxFlow(cap [][]float64, s, t int) float64 {
	n := len(cap)
	res := make([][]float64, n)
	for i := range cap {
		res[i] = append([]float64(nil), cap[i]...)
	}
	var flow float64
	for {
		prev := make([]int, n)
		for i := range prev {
			prev[i] = -1
		}
		prev[s] = s
		q := []int{s}
		for len(q) > 0 && prev[t] < 0 {
			u := q[0]
			q = q[1:]
			for v := 0; v < n; v++ {
				if prev[v] < 0 && res[u][v] > 1e-12 {
					prev[v] = u
					q = append(q, v)
				}
			}
		}
		if prev[t] < 0 {
			return flow
		}
		b := math.Inf(1)
		for v := t; v != s; v = prev[v] {
			b = math.Min(b, res[prev[v]][v])
		}
		for v := t; v != s; v = prev[v] {
			res[prev[v]][v] -= b
			res[v][prev[v]] += b
		}
		flow += b
	}
}

// washburnWood is the value of the static interdiction game of an
// instance with one site an edge (from "o" to "d"): 1/maxflow for arc
// capacities 1/p (Washburn and Wood, 1995).
func washburnWood(in *Instance) float64 {
	idx := map[string]int{}
	for i, nd := range in.Nodes {
		idx[nd.ID] = i
	}
	cap := make([][]float64, len(in.Nodes))
	for i := range cap {
		cap[i] = make([]float64, len(in.Nodes))
	}
	for _, s := range in.Sites {
		e := in.Edges[*s.Edge]
		cap[idx[e.From]][idx[e.To]] += 1 / s.P
	}
	return 1 / maxFlow(cap, idx["o"], idx["d"])
}

func TestSolveWashburnWood(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		layers, width := 2+rng.IntN(4), 2+rng.IntN(4)
		in := randomInterdiction(rng, layers, width)
		t.Run(fmt.Sprintf("%d_%dx%d", n, layers, width), func(t *testing.T) {
			want := washburnWood(in)
			st, err := Solve(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(st.Value-want) > 1e-7 {
				t.Errorf("value = %.10f, want 1/maxflow = %.10f", st.Value, want)
			}
			if st.Exploitability > 1e-6 {
				t.Errorf("exploitability = %g", st.Exploitability)
			}
			if math.Abs(st.LowerBound-st.Value) > 1e-6 {
				t.Errorf("lower bound %v != value %v", st.LowerBound, st.Value)
			}
			var sum float64
			for _, p := range st.Plays {
				sum += p.Probability
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("plays sum to %v", sum)
			}
		})
	}
}

// TestStaticCutLower: against the minimum cut's mix no route pays less
// than 1/maxflow, and on Washburn and Wood's games (every route admissible,
// no crew rule at work) that is the value: the static game's certified
// bound when its oracle turned routes down is then exact.
func TestStaticCutLower(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		in := randomInterdiction(rng, 2+rng.IntN(4), 2+rng.IntN(4))
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		s := &solver{g: g, or: newOracle(g)}
		if got, want := s.staticCutLower(), washburnWood(in); math.Abs(got-want) > 1e-7 {
			t.Errorf("game %d: bound %.10f, want 1/maxflow = %.10f", n, got, want)
		}
	}
}

// TestReportNeverAboveGuarantee: a strategy is reported with what it
// guarantees when that is below the value of the restricted game it came
// from (a heuristic oracle's equilibrium that the refinement beat): its
// exploitability is never negative.
func TestReportNeverAboveGuarantee(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20; n++ {
		var in *Instance
		if n%2 == 0 {
			in = randomInterdiction(rng, 2+rng.IntN(4), 2+rng.IntN(4))
		} else {
			in = randomTimed(rng)
		}
		g, err := compile(in)
		if err != nil {
			t.Fatal(err)
		}
		s := newSolver(g, Options{}.withDefaults(len(in.Slots)))
		guarantee, _, _ := s.attackerBR([]float64{1}, math.Inf(1), 0)
		st, err := s.report([]float64{1}, nil, guarantee+0.1, 0, true, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(st.Value-guarantee) > 1e-12 || st.Exploitability < 0 {
			t.Errorf("game %d: value %v, exploitability %v; want the guarantee %v and 0", n, st.Value, st.Exploitability, guarantee)
		}
	}
}

// TestDefaultSlotRounds checks the turns a solve takes its slots in when
// Options.SlotRounds is unset: 3 up to 12 slots, then about 4 slots a
// turn; and that Solve applies it (Vaduz -> Schaan with 24 slots takes the
// same path as with SlotRounds 6, another with 3, once the label
// searches take over from the exact one).
func TestDefaultSlotRounds(t *testing.T) {
	for n, want := range map[int]int{0: 3, 1: 3, 12: 3, 13: 4, 16: 4, 17: 5, 24: 6, 48: 12, 96: 24} {
		if got := defaultSlotRounds(n); got != want {
			t.Errorf("defaultSlotRounds(%d) = %d, want %d", n, got, want)
		}
	}
	req := mapRequest(scalingCases[1])
	req.Slots = slotsEvery10(24)
	req.Deadline = req.Epoch.Add(24*10*time.Minute + 60*time.Minute)
	in, err := BuildInstance(context.Background(), mustGraph(t, scalingCases[1].graph), req, DefaultSiteModel)
	if err != nil {
		t.Fatal(err)
	}
	// A solve's path: its iterations and the sum of its restricted
	// values.
	type run struct {
		iterations int
		values     float64
	}
	solve := func(rounds int) run {
		var seen float64
		st, err := Solve(context.Background(), in, Options{SkipRefine: true, SlotRounds: rounds, ExactBudget: 1,
			Progress: func(p Progress) { seen += p.Value }})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Converged {
			t.Fatalf("SlotRounds %d: not converged", rounds)
		}
		return run{st.Iterations, seen}
	}
	def, six, three := solve(0), solve(6), solve(3)
	if def != six {
		t.Errorf("default: %+v, SlotRounds 6: %+v", def, six)
	}
	if def == three {
		t.Errorf("default and SlotRounds 3 took the same path (%+v, six %+v): the default is not applied", def, six)
	}
}
