package ambush

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/convoi/convoi/internal/graphsearch"
)

// Options tune Solve. The zero value means the defaults.
type Options struct {
	// MaxIterations bounds the double-oracle loop (default 2000). A loop cut
	// short still returns a strategy; its Exploitability says how far from
	// the equilibrium it is.
	MaxIterations int
	// Tolerance is the payoff gap below which a best response is not an
	// improvement (default 1e-9).
	Tolerance float64
	// Alternatives is k for the "uniform among k alternatives" baseline (default 3).
	Alternatives int
	// ExactBudget bounds the node expansions of one exact timed best
	// response (default 200,000); past it the solver falls back to the
	// label-setting heuristic for the rest of the solve and reports
	// ExactOracle false.
	ExactBudget int
	// Bucket is the width in seconds of the time buckets of the heuristic
	// timed best response (default a fifth of the shortest attacker
	// window): labels arriving at a node in different buckets do not
	// dominate each other. The searches of the rotating turns
	// (SlotRounds) use none (a label is dominated by any popped at its
	// node no later); the passes over every slot that decide convergence
	// use them.
	Bucket float64
	// ColumnsPerIteration and RowsPerIteration bound how many attacker and
	// defender best responses one iteration adds (defaults 8 and 6): more
	// means fewer iterations but a larger restricted LP.
	ColumnsPerIteration, RowsPerIteration int
	// PruneAfter drops from the restricted game the pure strategies unused
	// for this many iterations (default 5).
	PruneAfter int
	// ReturnRadiusM and ReturnGapS are the crew rule: a route may not come
	// back within ReturnRadiusM metres of a node it passed ReturnGapS
	// seconds or more earlier (defaults 50 m and 30 s; a negative radius
	// turns the rule off). It needs node coordinates (see docs/ambush.md).
	ReturnRadiusM, ReturnGapS float64
	// SlotRounds spreads the heuristic timed oracle's per-slot searches
	// over this many iterations (default defaultSlotRounds: about four
	// slots a turn, at least 3 turns): each iteration searches the
	// slots s with s % SlotRounds equal to the iteration's turn and
	// re-evaluates the known routes at every slot, and the solve only
	// stops after an iteration that searched every slot found nothing.
	// 1 searches every slot every iteration.
	SlotRounds int
	// Stop, when not nil, is asked after every iteration whether to end
	// the search there (a planner's time budget, on the caller's clock):
	// Solve then polishes the mix over the routes found (no more
	// searches; see polish) and reports the best strategy found,
	// Converged false, its guarantee as Value and the certified
	// LowerBound: the game's value lies between them. Cancelling ctx
	// instead abandons the solve with an error.
	Stop func() bool
	// Finish, when not nil, is asked before every iteration of that
	// polish: true ends it there (the best mix found so far is kept), so
	// that a solve stopped by the clock also ends on it. WithTimeLimit
	// sets Stop and Finish from one time limit.
	Finish func() bool
	// Progress, when not nil, is called after every double-oracle
	// iteration with the state of the solve (for a planner's progress
	// display and for benchmarks). It runs on the solving goroutine.
	Progress func(Progress)
	// SkipRefine returns the double oracle's equilibrium as the LP found it,
	// without the refinement among equally good strategies (for
	// comparison).
	SkipRefine bool
}

// Shares of a time limit (WithTimeLimit): the searches stop at
// searchShare of it and the polish at finishShare; the rest is the
// report's (its certified lower bounds: 0.7-0.9 s on New York).
const (
	searchShare = 0.80
	finishShare = 0.93
)

// WithTimeLimit returns o with Stop and Finish set so that Solve ends
// within about limit from now on the clock now (the caller's: a planner's
// wall clock, a test's fake one): the double oracle searches for
// searchShare of it, the polish runs to finishShare, and the report
// (with the certified lower bound) takes the rest. A limit <= 0 leaves o
// as it is.
func (o Options) WithTimeLimit(now func() time.Time, limit time.Duration) Options {
	if limit <= 0 {
		return o
	}
	start := now()
	stop := start.Add(time.Duration(float64(limit) * searchShare))
	finish := start.Add(time.Duration(float64(limit) * finishShare))
	o.Stop = func() bool { return !now().Before(stop) }
	o.Finish = func() bool { return !now().Before(finish) }
	return o
}

// withDefaults fills in the options left zero, for a game of slots
// departure slots.
func (o Options) withDefaults(slots int) Options {
	if o.MaxIterations <= 0 {
		o.MaxIterations = 2000
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 1e-9
	}
	if o.Alternatives <= 0 {
		o.Alternatives = 3
	}
	if o.PruneAfter <= 0 {
		o.PruneAfter = 5
	}
	if o.ColumnsPerIteration <= 0 {
		// 8 rather than 4 since the simplex prices by steepest edge and
		// the refinement keeps its tableau: Liechtenstein 105 -> 59
		// iterations, Mellieħa 145 -> 97, both faster, refined too.
		o.ColumnsPerIteration = 8
	}
	if o.RowsPerIteration <= 0 {
		o.RowsPerIteration = 6
	}
	if o.SlotRounds <= 0 {
		o.SlotRounds = defaultSlotRounds(slots)
	}
	if o.ExactBudget <= 0 {
		o.ExactBudget = 200_000
	}
	if o.ReturnRadiusM == 0 {
		o.ReturnRadiusM = 50
	}
	if o.ReturnGapS <= 0 {
		o.ReturnGapS = 30
	}
	return o
}

// Progress is the state of a solve after one double-oracle iteration.
type Progress struct {
	Iteration int
	// Value is the restricted game's value; Upper the attacker's best
	// response against its defender mix (the strategy's guarantee).
	Value, Upper float64
	// Best is the lowest guarantee so far: a solve stopped now reports
	// that or better (it polishes first).
	Best float64
	// Lower is the defender's best cost against the attacker's mix found
	// by the iteration's oracle (a certified bound only when exact).
	Lower      float64
	Rows, Cols int // the restricted game's size
	NewRows    int
	NewCols    int
}

// Strategy is the solver's report: the defender's mixed strategy, its
// guarantee and the comparison figures. It is what a convoi.Plan stores as
// its Strategy JSON. Probabilities sum to 1 over Plays; Routes and
// Departures are its marginals.
type Strategy struct {
	Instance string    `json:"instance,omitempty"`
	Epoch    time.Time `json:"epoch,omitzero"`
	// Value is the guaranteed maximum hit probability: no site and window
	// gives the attacker more than Value (up to Exploitability, about 0).
	// At an equilibrium (Converged) it is the game's value; a solve cut
	// short (Options.Stop, MaxIterations) reports its strategy's own
	// guarantee, and the game's value lies in [LowerBound, Value].
	Value float64 `json:"value"`
	// Exploitability is the attacker's best response against this strategy
	// minus Value; at an equilibrium it is 0 up to rounding.
	Exploitability float64 `json:"exploitability"`
	// LowerBound is the defender's best response against the attacker's
	// mix: no strategy can guarantee less. Meaningful when ExactOracle.
	LowerBound  float64 `json:"lower_bound"`
	ExactOracle bool    `json:"exact_oracle"`
	Timed       bool    `json:"timed"` // attacker windows modelled
	Converged   bool    `json:"converged"`
	// Refined says the strategy is the refined one among the optimal
	// strategies; AvoidableBest is its attacker's best hit probability
	// at the sites some admissible route avoids (docs/ambush.md).
	Refined       bool    `json:"refined"`
	AvoidableBest float64 `json:"avoidable_best"`
	Iterations    int     `json:"iterations"`
	Sites         int     `json:"sites"`
	// CorridorSites and CorridorNodes are the sites and road nodes some
	// admissible route can pass: the game is played on them alone.
	CorridorSites int `json:"corridor_sites"`
	CorridorNodes int `json:"corridor_nodes"`
	// FastestS is the fastest admissible travel time; MaxDurationS the stretch bound.
	FastestS       float64 `json:"fastest_s"`
	MaxDurationS   float64 `json:"max_duration_s"`
	ExpectedExtraS float64 `json:"expected_extra_s"`
	// FixedFastest is the value of always driving the fastest route at the usual slot.
	FixedFastest Baseline `json:"fixed_fastest"`
	// UniformAlternatives is the value of a uniform choice among k diverse
	// admissible routes at the usual slot.
	UniformAlternatives Baseline        `json:"uniform_alternatives"`
	Routes              []StrategyRoute `json:"routes"`
	Departures          []Departure     `json:"departures"`
	Plays               []Play          `json:"plays"`
	Attack              []Attack        `json:"attack"`
}

// Baseline is the value of a simple plan, for comparison.
type Baseline struct {
	Value     float64 `json:"value"`
	K         int     `json:"k"`
	Slot      int     `json:"slot"`
	DurationS float64 `json:"duration_s"` // mean travel time
}

// StrategyRoute is one route of the mixed strategy, in the instance's node
// names, with the probability of drawing it (not a roadnet.Route: see
// RouteSummary for that).
type StrategyRoute struct {
	Nodes       []string `json:"nodes"`
	Edges       []int    `json:"edges"` // indices into Instance.Edges
	DurationS   float64  `json:"duration_s"`
	Probability float64  `json:"probability"`
	Sites       []string `json:"sites,omitempty"` // sites passed, by first passage
}

// Departure is the probability of one slot.
type Departure struct {
	Slot        int        `json:"slot"`
	OffsetS     float64    `json:"offset_s"`
	At          *time.Time `json:"at,omitempty"`
	Probability float64    `json:"probability"`
}

// Play is one (route, slot) pure strategy with its probability: what Draw picks.
type Play struct {
	Route       int     `json:"route"`
	Slot        int     `json:"slot"`
	Probability float64 `json:"probability"`
}

// Attack is one attacker pure strategy in the equilibrium mix. Window is -1
// in the static game.
type Attack struct {
	Site        string  `json:"site"`
	Window      int     `json:"window"`
	Probability float64 `json:"probability"`
	Hit         float64 `json:"hit"` // its hit probability against the strategy
}

// play is a defender pure strategy: slot < 0 in the static game.
type play struct {
	r    int
	slot int
}

// column is an attacker pure strategy.
type column struct {
	site int32
	w    int
}

// solver is one Solve call's state.
type solver struct {
	g      *game
	opt    Options
	or     *oracle
	ors    []*oracle // one per worker of the timed best response
	lp     warmLP
	routes []*route
	byKey  map[string]int
	rows   []play
	rowIdx map[play]int
	rowUse []int // last iteration the row was in the support (or added)
	colUse []int
	iter   int
	cols   []column
	colIdx map[column]int
	m      [][]float64
	// The attacker's payoff per (site, window) pair, by dense index
	// (hitKeys): the pairs of one route are numbered together when first
	// met, so that summing a route's pairs reads nearby memory, however
	// large the map. keyOf maps a dense index back to site*nw + window,
	// denseOf the other way (-1: not numbered yet).
	acc     []float64
	accHit  []int32
	keyOf   []int32
	denseOf []int32
	exact   bool
	useDFS  bool
	scr     []int
	// unavoidable caches, per site, whether every admissible route passes
	// it; witness holds the routes that proved sites avoidable.
	unavoidable map[int32]bool
	witness     []*route
	avoidScr    avoidScratch
	// penSite is the timed defender oracle's per-site costs, kept between
	// iterations; penUsed lists the sites it holds costs for.
	penSite [][]siteCost
	penUsed []int32
	// hotEdge and hotNode mark the edges and nodes of penUsed's sites.
	hotEdge, hotNode graphsearch.Set
	// hotSite marks penUsed's sites; hotPass[hotFirst[i]:hotFirst[i+1]]
	// are route i's passages at those sites (hotPassages).
	hotSite  graphsearch.Set
	hotFirst []int32
	hotPass  []passage
	// cutCols and cutY are the minimum cut's attacker mix (cutMix).
	cutCols []column
	cutY    []float64
	// hitsOf caches hitKeys.
	hitsOf map[routeSlot][]hitKey
	// part is the turn of the slots the heuristic oracle searches in
	// this iteration (slot % SlotRounds == part), -1 for all.
	part int
}

// Solve computes the defender's optimal mixed strategy over (route, slot) by
// double oracle: it alternates an LP on the restricted matrix game with the
// attacker's exact best response (site and window) and the defender's best
// response (a least-penalty admissible route under the attacker's mix),
// until neither improves by more than Tolerance. It checks ctx between
// iterations. Invalid instances are EINVALID errors.
func Solve(ctx context.Context, in *Instance, opt Options) (*Strategy, error) {
	g, err := compile(in) // validates in
	if err != nil {
		return nil, err
	}
	return solveGame(ctx, g, opt.withDefaults(len(in.Slots)))
}

// defaultSlotRounds is Options.SlotRounds's default for n departure
// slots: 3 turns up to 12 slots, then as many as keep about 4 slots a
// turn (6 for 24 slots, 24 for 96). Valletta -> Mellieħa with 48 slots
// converged in 24 s instead of 55 s (1,123 iterations instead of 1,625),
// with 24 slots the twelve-slot tuning's 3 turns searched 8 slots an
// iteration, most of them for nothing (docs/benchmarks.md, eleventh
// round).
func defaultSlotRounds(n int) int {
	return max(3, (n+3)/4)
}

func solveGame(ctx context.Context, g *game, opt Options) (*Strategy, error) {
	g.setCrewRule(opt.ReturnRadiusM, opt.ReturnGapS)
	if opt.Bucket <= 0 {
		opt.Bucket = 60
		for i, w := range g.windows {
			if l := (w.End() - w.Start()) / 5; i == 0 || l < opt.Bucket {
				opt.Bucket = l
			}
		}
	}
	s := newSolver(g, opt)
	if _, cs, _ := s.attackerBR([]float64{1}, 0, 0); len(cs) > 0 {
		s.addCol(cs[0])
	}
	if g.timed {
		// The minimum cut's columns (cutMix) meet every route: with them
		// from the start the defender spreads at once (Liechtenstein:
		// 145 -> 135 iterations, a third less CPU).
		s.cutCols, s.cutY = g.cutMix()
		for _, c := range s.cutCols {
			s.addCol(c)
		}
	}

	var (
		x, y      []float64
		v, lower  float64
		converged bool
		iter      int
		err       error
		// best is reported when the solve stops short.
		best = bestMix{up: math.Inf(1)}
	)
	for iter = 1; iter <= opt.MaxIterations; iter++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(s.cols) == 0 {
			// No site on any route found so far: a perfect plan.
			x, y, v = []float64{1}, nil, 0
			s.rows = s.rows[:1]
			converged, lower = true, 0
			break
		}
		s.iter = iter
		if iter%10 == 0 {
			s.prune(opt.PruneAfter)
		}
		x, y, v, err = s.lp.solve(s.m)
		if err != nil {
			return nil, fmt.Errorf("restricted game: %w", err)
		}
		for i := range x {
			if x[i] > 0 {
				s.rowUse[i] = iter
			}
		}
		for c := range y {
			if y[c] > 0 {
				s.colUse[c] = iter
			}
		}
		upper, newCols, _ := s.attackerBR(x, v+opt.Tolerance, 0)
		if upper >= best.up && best.x != nil && iter%5 == 0 {
			// The restricted equilibria swing from one vertex to
			// another while the oracles still add strategies; a blend
			// with the best mix so far often guards better than either.
			rows, mx := blendPlays(best.rows, best.x, s.rows[:len(x)], x)
			best.offer(rows, mx, s.upperOf(rows, mx))
		}
		best.offer(s.rows[:len(x)], x, upper)
		var newRows []play
		// The heuristic searches take the slots in turns (SlotRounds);
		// convergence is only declared after a pass over all of them.
		s.part = -1
		if opt.SlotRounds > 1 && !s.useDFS {
			s.part = iter % opt.SlotRounds
		}
		newRows, lower, err = s.defenderBR(ctx, y, v-opt.Tolerance)
		if err == nil && len(newCols) == 0 && len(newRows) == 0 && s.part >= 0 {
			s.part = -1
			newRows, lower, err = s.defenderBR(ctx, y, v-opt.Tolerance)
		}
		if err != nil {
			return nil, err
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Iteration: iter, Value: v, Upper: upper, Best: best.up, Lower: lower,
				Rows: len(s.rows), Cols: len(s.cols), NewRows: len(newRows), NewCols: len(newCols)})
		}
		if len(newCols) == 0 && len(newRows) == 0 {
			converged = true
			break
		}
		if opt.Stop != nil && opt.Stop() {
			break
		}
		for _, c := range newCols {
			s.addCol(c)
		}
		for _, r := range newRows {
			s.addRow(r)
		}
	}
	if iter > opt.MaxIterations {
		iter = opt.MaxIterations
		// x and y belong to the last solved restricted game; rows and
		// columns added after it are ignored below.
	}
	if !converged && len(s.cols) > 0 {
		if err := s.polish(ctx, &x, &y, &v, &best); err != nil {
			return nil, err
		}
	}
	if !converged && best.x != nil {
		// Cut short (Stop or MaxIterations): report the mix with the
		// best guarantee, not merely the last one (the restricted
		// game's mixes swing while the oracles still add strategies);
		// report makes its guarantee the value. y, the last attacker
		// mix, still bounds the value from below.
		s.rows, s.m = append(s.rows[:0:0], best.rows...), nil
		x = best.x
	}
	s.part = -1
	refined := false
	if converged && !opt.SkipRefine && v > 0 && len(s.cols) > 0 {
		// Rows and columns may be added: x grows with s.rows, y keeps
		// the equilibrium columns it has (new ones are appended).
		s.rows, s.m = s.rows[:len(x)], s.m[:len(x)]
		rx, ok, err := s.refine(ctx, x, v)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		if err == nil && ok {
			x, refined = rx, true
		}
	}
	st, err := s.report(x, y, v, lower, converged, iter)
	if st != nil {
		st.Refined = refined
	}
	return st, err
}

// newSolver returns a solver of g whose restricted game holds one row:
// the fastest route, at the usual slot in the timed game.
func newSolver(g *game, opt Options) *solver {
	s := &solver{g: g, opt: opt, or: newOracle(g), byKey: map[string]int{}, part: -1,
		rowIdx: map[play]int{}, colIdx: map[column]int{}, exact: true, useDFS: g.timed}
	first := play{r: s.addRoute(g.fastest), slot: -1}
	if g.timed {
		first.slot = g.usual
	}
	s.addRow(first)
	return s
}

// polish ends a solve cut short (Options.Stop, MaxIterations): with the
// routes found so far and no more searches, it adds the attacker's best
// responses until the restricted game is solved against every site and
// window, so the defender's mix is the best over those routes rather than
// the last restricted game's. Each iteration is one warm LP and one exact
// attacker best response, a small fraction of a searching iteration (New
// York: 58 iterations in 2.1 s after 27 s of searching, the guarantee
// 0.0251 -> 0.0198). x, y and v are the last restricted equilibrium, and
// become the polished one. Every mix it solves is offered to best with its
// guarantee (the attacker's best response against it): the guarantees of
// successive mixes go up and down while the attacker's columns come in
// (New York: 0.0178 at the 20th of 22, 0.0192 at the last), and the best
// one is what the solve reports.
func (s *solver) polish(ctx context.Context, x, y *[]float64, v *float64, best *bestMix) error {
	pivots := s.lp.pivots
	// One LP of the polish can stall in degenerate pivots for seconds
	// (New York: 7,592 pivots, 4.2 s): Finish also ends it, and the mix
	// before it stands.
	s.lp.stop = s.opt.Finish
	defer func() { s.lp.stop = nil }()
	for k := 0; k < polishIterations && s.lp.pivots-pivots < polishPivots; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.opt.Finish != nil && s.opt.Finish() {
			break
		}
		nx, ny, nv, err := s.lp.solve(s.m)
		if errors.Is(err, errLPStopped) {
			break // x is the last solved mix, offered already
		}
		if err != nil {
			return fmt.Errorf("restricted game: %w", err)
		}
		*x, *y, *v = nx, ny, nv
		up, cols, _ := s.attackerBR(nx, nv+s.opt.Tolerance, 2*s.opt.ColumnsPerIteration)
		best.offer(s.rows[:len(nx)], nx, up)
		if len(cols) == 0 {
			break
		}
		for _, c := range cols {
			s.addCol(c)
		}
	}
	return nil
}

// polishIterations and polishPivots bound polish: the attacker's
// strategies against a fixed set of routes are finite, but a planner's
// budget is not, and the warm LP can stall in degenerate pivots (New York:
// the final polish takes about 9,000 pivots, 1.7 s; one mid-solve took
// 60,000, 8 s). Cut short, polish leaves the last restricted equilibrium;
// the caller keeps the mix with the lower guarantee, this one or the best
// seen before.
const (
	polishIterations = 500
	polishPivots     = 20_000
)

// bestMix is the defender mix with the lowest guarantee (attacker best
// response) seen.
type bestMix struct {
	rows []play
	x    []float64
	up   float64
}

// offer keeps the mix x over rows if its guarantee up is the lowest so far.
func (b *bestMix) offer(rows []play, x []float64, up float64) {
	if up < b.up {
		b.rows, b.x = keepPlays(b.rows[:0], b.x[:0], rows, x)
		b.up = up
	}
}

// keepPlays appends to rows and xs the plays of src with positive weight.
func keepPlays(rows []play, xs []float64, src []play, x []float64) ([]play, []float64) {
	for i, p := range src {
		if x[i] > 0 {
			rows, xs = append(rows, p), append(xs, x[i])
		}
	}
	return rows, xs
}

// blendPlays returns the even mix of two defender mixes.
func blendPlays(ar []play, ax []float64, br []play, bx []float64) ([]play, []float64) {
	idx := make(map[play]int, len(ar)+len(br))
	var rows []play
	var xs []float64
	add := func(src []play, x []float64) {
		for i, p := range src {
			if x[i] <= 0 {
				continue
			}
			k, ok := idx[p]
			if !ok {
				k = len(rows)
				idx[p] = k
				rows, xs = append(rows, p), append(xs, 0)
			}
			xs[k] += x[i] / 2
		}
	}
	add(ar, ax)
	add(br, bx)
	return rows, xs
}

// upperOf is the attacker's best response against the mix x over rows.
func (s *solver) upperOf(rows []play, x []float64) float64 {
	save := s.rows
	s.rows = rows
	u, _, _ := s.attackerBR(x, math.Inf(1), 0)
	s.rows = save
	return u
}

func (s *solver) addRoute(r *route) int {
	if i, ok := s.byKey[r.key]; ok {
		return i
	}
	s.routes = append(s.routes, r)
	s.byKey[r.key] = len(s.routes) - 1
	return len(s.routes) - 1
}

func (s *solver) addRow(p play) {
	if _, ok := s.rowIdx[p]; ok {
		return
	}
	row := make([]float64, len(s.cols))
	for c, col := range s.cols {
		row[c] = s.g.payoff(s.routes[p.r], max(p.slot, 0), col.site, col.w)
	}
	s.rowIdx[p] = len(s.rows)
	s.rows = append(s.rows, p)
	s.rowUse = append(s.rowUse, s.iter)
	s.m = append(s.m, row)
}

func (s *solver) addCol(c column) {
	if _, ok := s.colIdx[c]; ok {
		return
	}
	s.colIdx[c] = len(s.cols)
	s.cols = append(s.cols, c)
	s.colUse = append(s.colUse, s.iter)
	for i, p := range s.rows {
		s.m[i] = append(s.m[i], s.g.payoff(s.routes[p.r], max(p.slot, 0), c.site, c.w))
	}
}

// prune drops the rows and columns that have been out of the support for
// more than after iterations, so that the restricted LP stays small. The
// oracles add them back if they become best responses again; termination
// is still decided against the full game. Rows basic in the warm LP and
// columns whose constraint is in its basis (both degenerate: out of the
// support) stay, so that the LP keeps its basis.
func (s *solver) prune(after int) {
	keepR := make([]int, 0, len(s.rows))
	for i := range s.rows {
		if s.iter-s.rowUse[i] <= after || s.lp.basicRow(i) {
			keepR = append(keepR, i)
		}
	}
	keepC := make([]int, 0, len(s.cols))
	for c := range s.cols {
		if s.iter-s.colUse[c] <= after || s.lp.bindingCol(c) {
			keepC = append(keepC, c)
		}
	}
	if len(keepR) == 0 || len(keepC) == 0 || (len(keepR) == len(s.rows) && len(keepC) == len(s.cols)) {
		return
	}
	rows, use, m := make([]play, len(keepR)), make([]int, len(keepR)), make([][]float64, len(keepR))
	clear(s.rowIdx)
	for k, i := range keepR {
		rows[k], use[k] = s.rows[i], s.rowUse[i]
		s.rowIdx[rows[k]] = k
		m[k] = make([]float64, len(keepC))
		for kc, c := range keepC {
			m[k][kc] = s.m[i][c]
		}
	}
	s.rows, s.rowUse, s.m = rows, use, m
	if len(s.hitsOf) > 2*len(s.rows) {
		// Keep the hit keys of the rows left; the others are
		// recomputed if they come back.
		keep := make(map[routeSlot][]hitKey, len(s.rows))
		for _, p := range s.rows {
			k := routeSlot{s.routes[p.r], max(p.slot, 0)}
			if h, ok := s.hitsOf[k]; ok {
				keep[k] = h
			}
		}
		s.hitsOf = keep
	}
	s.lp.keep(keepR, keepC)
	cols, cuse := make([]column, len(keepC)), make([]int, len(keepC))
	clear(s.colIdx)
	for k, c := range keepC {
		cols[k], cuse[k] = s.cols[c], s.colUse[c]
		s.colIdx[cols[k]] = k
	}
	s.cols, s.colUse = cols, cuse
}

// attackerBR evaluates every (site, window) against the defender's mix x
// over s.rows and returns the best payoff and the columns above threshold
// with their payoffs, best first: at most limit of them, or
// ColumnsPerIteration when limit is 0, all when it is negative. It is exact:
// it walks every site each route passes.
func (s *solver) attackerBR(x []float64, threshold float64, limit int) (float64, []column, []float64) {
	g := s.g
	for _, k := range s.accHit {
		s.acc[k] = 0
	}
	s.accHit = s.accHit[:0]
	for i, p := range s.rows {
		if i >= len(x) || x[i] <= 0 {
			continue
		}
		xi := x[i]
		for _, h := range s.hitKeys(s.routes[p.r], max(p.slot, 0)) {
			if s.acc[h.k] == 0 {
				s.accHit = append(s.accHit, h.k)
			}
			s.acc[h.k] += xi * h.p
		}
	}
	best := 0.0
	var cand []int32
	for _, k := range s.accHit {
		a := s.acc[k]
		if a > best {
			best = a
		}
		if a > threshold {
			cand = append(cand, k)
		}
	}
	slices.SortFunc(cand, func(a, b int32) int {
		switch {
		case s.acc[a] > s.acc[b]:
			return -1
		case s.acc[a] < s.acc[b]:
			return 1
		}
		return int(s.keyOf[a] - s.keyOf[b])
	})
	if limit == 0 {
		limit = s.opt.ColumnsPerIteration
	}
	if limit > 0 && len(cand) > limit {
		cand = cand[:limit]
	}
	cols, vals := make([]column, len(cand)), make([]float64, len(cand))
	for i, d := range cand {
		k := s.keyOf[d]
		cols[i], vals[i] = column{site: k / int32(g.nw), w: int(k) % g.nw}, s.acc[d]
		if !g.timed {
			cols[i].w = 0
		}
	}
	return best, cols, vals
}

// hitKey is one (site, window) pair a route meets, by its dense index in
// the solver's accumulator, with the site's probability of success.
type hitKey struct {
	k int32
	p float64
}

// hitKeys returns the (site, window) pairs that route r departing at slot
// meets (game.hits), computed once per route and slot: the attacker's best
// response walks them every iteration.
func (s *solver) hitKeys(r *route, slot int) []hitKey {
	k := routeSlot{r, slot}
	if h, ok := s.hitsOf[k]; ok {
		return h
	}
	g := s.g
	if s.denseOf == nil {
		s.denseOf = make([]int32, len(g.siteP)*g.nw)
		for i := range s.denseOf {
			s.denseOf[i] = -1
		}
	}
	var h []hitKey
	s.scr = g.hits(r, slot, s.scr, func(j int32, w int) {
		key := int32(int(j)*g.nw + w)
		d := s.denseOf[key]
		if d < 0 {
			d = int32(len(s.keyOf))
			s.denseOf[key] = d
			s.keyOf = append(s.keyOf, key)
			s.acc = append(s.acc, 0)
		}
		h = append(h, hitKey{d, g.siteP[j]})
	})
	if s.hitsOf == nil {
		s.hitsOf = map[routeSlot][]hitKey{}
	}
	s.hitsOf[k] = h
	return h
}

// routeSlot keys hitKeys' cache.
type routeSlot struct {
	r    *route
	slot int
}

// defenderBR returns the defender plays whose cost against the attacker's
// mix y is below threshold (at most one per slot) and the best cost found.
func (s *solver) defenderBR(ctx context.Context, y []float64, threshold float64) ([]play, float64, error) {
	g := s.g
	if !g.timed {
		pen := g.staticPen(s.cols, y)
		rejected := s.or.rejected
		r, cost, ok := s.or.best(pen, -1, g.staticMaxDur(), math.Inf(1))
		if !ok {
			return nil, 0, fmt.Errorf("defender best response: no admissible route")
		}
		lower := cost
		if s.or.rejected > rejected {
			// The search turned down routes that break the crew rule, so
			// it may have missed a cheaper acceptable one: the search
			// without the rule still bounds every route from below.
			s.exact = false
			s.or.relaxed = true
			if _, c, ok := s.or.best(pen, -1, g.staticMaxDur(), math.Inf(1)); ok {
				lower = c
			}
			s.or.relaxed = false
		}
		if cost < threshold {
			return []play{{r: s.addRoute(r), slot: -1}}, lower, nil
		}
		return nil, lower, nil
	}
	// The site costs of the previous iteration are emptied, not
	// reallocated: the work follows the attacker's support, not the map.
	if s.penSite == nil {
		s.penSite = make([][]siteCost, len(g.siteP))
	}
	s.penUsed = g.fillMixCosts(s.penSite, s.penUsed, s.cols, y)
	pen := &penalties{site: s.penSite, used: s.penUsed}
	s.hotEdge.Reset(len(g.head))
	s.hotNode.Reset(g.n)
	for _, j := range s.penUsed {
		if e := g.siteEdge[j]; e >= 0 {
			s.hotEdge.Add(uint32(e))
		} else {
			s.hotNode.Add(uint32(g.siteNode[j]))
		}
	}
	pen.hotEdge, pen.hotNode = &s.hotEdge, &s.hotNode
	type result struct {
		r    *route
		cost float64
		ok   bool
		pool int // a known route cheaper than the threshold, or -1
		pc   float64
	}
	res := make([]result, len(g.in.Slots))
	for i := range res {
		res[i].pool = -1
	}
	if s.useDFS {
		for slot := range g.in.Slots {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			if !g.feasibleFn[slot] {
				continue
			}
			r, cost, ok, exhausted := s.or.bestTimed(pen, slot, g.maxDur[slot], math.Inf(1), s.opt.ExactBudget)
			if exhausted {
				s.useDFS, s.exact = false, false
				break
			}
			res[slot] = result{r, cost, ok, -1, 0}
		}
	}
	if !s.useDFS {
		// One heuristic search per slot, spread over the cores, each
		// worker with its own scratch.
		workers := min(runtime.GOMAXPROCS(0), len(g.in.Slots))
		s.hotPassages()
		for len(s.ors) < workers {
			s.ors = append(s.ors, newOracle(g))
		}
		// The rotating turns look for improving routes with the cheaper
		// search without time buckets (a label is dominated by any popped
		// at its node no later); the passes over every slot, which decide
		// convergence, use the buckets (Mellieħa 1.21 -> 1.00 s,
		// Liechtenstein 0.28 -> 0.25 s).
		bucket := s.opt.Bucket
		if s.part >= 0 {
			bucket = 0
		}
		var wg sync.WaitGroup
		next := make(chan int, len(g.in.Slots))
		for slot := range g.in.Slots {
			if g.feasibleFn[slot] {
				next <- slot
			}
		}
		close(next)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(o *oracle) {
				defer wg.Done()
				for slot := range next {
					if ctx.Err() != nil {
						return
					}
					// Only improvements matter: the search stops at the
					// threshold (the heuristic has no lower bound to
					// report), or at the cost of the best known route
					// not yet played at this slot, evaluated exactly
					// first: the heuristic may miss it, and the search
					// need not look at anything dearer.
					pool, pc := s.poolBest(pen, slot, threshold)
					if s.part >= 0 && slot%s.opt.SlotRounds != s.part {
						res[slot] = result{pool: pool, pc: pc}
						continue
					}
					pot := o.potential(pen, slot, g.maxDur[slot], pc)
					r, cost, ok := o.bestBucketed(pen, slot, g.maxDur[slot], pc, bucket, pot)
					res[slot] = result{r, cost, ok, pool, pc}
				}
			}(s.ors[w])
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	var out []play
	var costs []float64
	lower := math.Inf(1)
	for slot := range g.in.Slots {
		if !g.feasibleFn[slot] {
			continue
		}
		r, cost, ok := res[slot].r, res[slot].cost, res[slot].ok
		if ok {
			lower = math.Min(lower, cost)
		}
		if ok && cost < threshold {
			out = append(out, play{r: s.addRoute(r), slot: slot})
			costs = append(costs, cost)
			continue
		}
		if bi := res[slot].pool; !s.useDFS && bi >= 0 {
			out = append(out, play{r: bi, slot: slot})
			costs = append(costs, res[slot].pc)
		}
	}
	if s.useDFS && math.IsInf(lower, 1) {
		return nil, 0, fmt.Errorf("defender best response: no admissible route")
	}
	// Keep the cheapest few.
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case costs[a] < costs[b]:
			return -1
		case costs[a] > costs[b]:
			return 1
		}
		return 0
	})
	best := make([]play, 0, s.opt.RowsPerIteration)
	for _, i := range idx[:min(len(idx), s.opt.RowsPerIteration)] {
		best = append(best, out[i])
	}
	return best, lower, nil
}

// hotPassages lists, for every known route, its passages at the sites
// the attacker's mix has costs on (penUsed), in the route's order: what
// poolBest prices at every slot, instead of every passage of the route
// at every slot (the others cost nothing).
func (s *solver) hotPassages() {
	s.hotSite.Reset(len(s.g.siteP))
	for _, j := range s.penUsed {
		s.hotSite.Add(uint32(j))
	}
	s.hotFirst, s.hotPass = append(s.hotFirst[:0], 0), s.hotPass[:0]
	for _, r := range s.routes {
		for _, ps := range r.pass {
			if s.hotSite.Has(uint32(ps.site)) {
				s.hotPass = append(s.hotPass, ps)
			}
		}
		s.hotFirst = append(s.hotFirst, int32(len(s.hotPass)))
	}
}

// poolBest returns the known route cheapest at slot under pen among those
// not yet played at that slot, with its exact cost, if below threshold
// (else -1 and threshold). It only reads the solver's state (hotPassages
// must have listed the routes' passages under pen).
func (s *solver) poolBest(pen *penalties, slot int, threshold float64) (int, float64) {
	g := s.g
	bi, bc := -1, threshold
	for i, pr := range s.routes {
		if !g.admissible(pr.dur, slot) {
			continue
		}
		if _, in := s.rowIdx[play{r: i, slot: slot}]; in {
			continue
		}
		if c := pen.passCost(g, s.hotPass[s.hotFirst[i]:s.hotFirst[i+1]], g.in.Slots[slot], bc); c < bc {
			bi, bc = i, c
		}
	}
	return bi, bc
}

// staticCutLower is a lower bound on the static game's value: what the
// least route pays, without the crew rule, against the minimum cut's mix
// (cutMix, Washburn and Wood's optimal mix when no rule removes routes),
// which every route meets. 0 when the corridor has no cut through sites.
func (s *solver) staticCutLower() float64 {
	g := s.g
	cols, y := g.cutMix()
	if cols == nil {
		return 0
	}
	s.or.relaxed = true
	defer func() { s.or.relaxed = false }()
	if _, c, ok := s.or.best(g.staticPen(cols, y), -1, g.staticMaxDur(), math.Inf(1)); ok {
		return c
	}
	return 0
}

// relaxedLower is a valid lower bound on the game value when the timed
// oracle is a heuristic: the exact static best response against the
// attacker's mix y where each site costs, for each slot, the least its
// windows can charge over every time an admissible route could pass it.
// No route pays less than that, so no strategy guarantees less. Only the
// least over the slots matters: each slot's search looks only below the
// least found so far.
func (s *solver) relaxedLower(y []float64) float64 {
	g := s.g
	mix := g.mixCosts(s.cols, y)
	lower := math.Inf(1)
	for slot := range g.in.Slots {
		if g.feasibleFn[slot] {
			lower = math.Min(lower, s.relaxedSlot(mix, slot, lower))
		}
	}
	if math.IsInf(lower, 1) {
		return 0
	}
	return lower
}

// relaxedSlot is relaxedLower's bound at one slot under the timed site
// costs of mix if it is below below (+Inf otherwise, or when no route
// departs then). The search is guided by the same costs' sweep
// (costToGo.least, with no time bound: a consistent potential), which
// leaves it the labels that can still end below the least cost found; it
// returns what the search without it would (Valletta -> Mellieħa: the
// twelve slots' bounds in 4 ms instead of 37).
func (s *solver) relaxedSlot(mix *penalties, slot int, below float64) float64 {
	g := s.g
	slotT, maxDur := g.in.Slots[slot], g.maxDur[slot]
	pot := s.or.pot.least(g, mix, slotT, maxDur, 0, below)
	s.or.relaxed = true // the crew rule only raises costs
	defer func() { s.or.relaxed = false }()
	if _, c, ok := s.or.bestBucketed(g.relaxedPen(mix, slot), slot, maxDur, below, 0, pot); ok {
		return c
	}
	return math.Inf(1)
}

// relaxedPen is the additive costs of relaxedSlot's search: each site of
// mix charged the least its windows can charge a route departing at slot.
func (g *game) relaxedPen(mix *penalties, slot int) *penalties {
	pen := &penalties{edge: make([]float64, len(g.etime)), node: make([]float64, g.n)}
	for _, j := range mix.used {
		if least, ok := g.leastCost(j, mix.site[j], g.in.Slots[slot], g.maxDur[slot], 0); ok { // else no admissible route passes it
			pen.charge(g, j, least)
		}
	}
	return pen
}

// lowerBucketS is the bucket width of the certified lower bounds'
// time-bucket search (bucketLower): 30 s was as tight as 5 s on the
// measured games, 60 s about 1.6 times faster.
const lowerBucketS = 30

// report turns the restricted equilibrium into a Strategy.
func (s *solver) report(x, y []float64, v, lower float64, converged bool, iter int) (*Strategy, error) {
	g := s.g
	rows := s.rows[:len(x)]
	// Expand static plays over the slots where the route meets the deadline:
	// the value does not depend on the departure, its unpredictability does.
	type wplay struct {
		p  play
		pr float64
	}
	var plays []wplay
	for i, p := range rows {
		if x[i] <= 1e-12 {
			continue
		}
		if p.slot >= 0 {
			plays = append(plays, wplay{p, x[i]})
			continue
		}
		var ok []int
		for slot := range g.in.Slots {
			if g.admissible(s.routes[p.r].dur, slot) {
				ok = append(ok, slot)
			}
		}
		for _, slot := range ok {
			plays = append(plays, wplay{play{p.r, slot}, x[i] / float64(len(ok))})
		}
	}
	var total float64
	for _, p := range plays {
		total += p.pr
	}
	st := &Strategy{
		Instance: g.in.Name, Epoch: g.in.Epoch, Value: v, ExactOracle: s.exact, Timed: g.timed,
		Converged: converged, Iterations: iter, Sites: len(g.in.Sites), CorridorSites: len(g.siteP),
		CorridorNodes: g.n,
		FastestS:      g.fastest.dur, MaxDurationS: g.bound,
	}
	// Exact attacker evaluation of the reported (normalised) strategy.
	s.rows = s.rows[:0]
	xs := make([]float64, len(plays))
	for i, p := range plays {
		xs[i] = p.pr / total
		s.rows = append(s.rows, p.p)
	}
	u, _, _ := s.attackerBR(xs, math.Inf(1), 0)
	if !converged || u < v {
		// A solve cut short reports what its strategy guarantees, not
		// the value of its last restricted game: Value is then the
		// attacker's best response, and LowerBound says how far from
		// the optimum it may be. So does a solve whose refinement
		// found a mix that guarantees less than the equilibrium it
		// started from: the heuristic oracle had missed routes (the
		// static game on Malta with the crew rule: 0.268 -> 0.187).
		v, st.Value = u, u
	}
	st.Exploitability = u - v
	if s.unavoidable == nil {
		s.unavoidable = map[int32]bool{}
	}
	st.AvoidableBest, _ = s.avoidableBest(xs, math.Inf(1), math.Inf(1), 0)
	if s.exact || !g.timed {
		// The static search's bound is relaxed when it is not exact.
		st.LowerBound = lower
		if !s.exact && st.LowerBound < v-1e-9 {
			// The relaxed search may find a way round the attacker's
			// support that the crew rule forbids; no way avoids a
			// minimum cut.
			st.LowerBound = math.Max(st.LowerBound, s.staticCutLower())
		}
	} else {
		// Any attacker mix bounds the value from below, so the bound
		// holds for a solve cut short (Options.Stop, MaxIterations) too:
		// the answer is then somewhere in [LowerBound, Value].
		st.LowerBound = s.relaxedLower(y)
		if st.LowerBound < v-1e-9 {
			// Not tight: the time-bucket search prices each site at
			// the times a route can really pass it.
			st.LowerBound = math.Max(st.LowerBound, s.bucketLowerBound(y, lowerBucketS))
		}
	}
	if g.timed && s.cutCols != nil && st.LowerBound < v-1e-9 {
		// The minimum cut's mix covers every route even when the
		// restricted game's mix does not (a solve cut short).
		st.LowerBound = math.Max(st.LowerBound, g.bucketLowerMix(s.cutCols, s.cutY, lowerBucketS))
	}
	routeOut := map[int]int{}
	depProb := make([]float64, len(g.in.Slots))
	for i, p := range plays {
		ri, ok := routeOut[p.p.r]
		if !ok {
			ri = len(st.Routes)
			routeOut[p.p.r] = ri
			st.Routes = append(st.Routes, s.routeOut(s.routes[p.p.r]))
		}
		st.Routes[ri].Probability += xs[i]
		depProb[p.p.slot] += xs[i]
		st.Plays = append(st.Plays, Play{Route: ri, Slot: p.p.slot, Probability: xs[i]})
		st.ExpectedExtraS += xs[i] * (s.routes[p.p.r].dur - g.fastest.dur)
	}
	for slot, pr := range depProb {
		if pr <= 0 {
			continue
		}
		d := Departure{Slot: slot, OffsetS: g.in.Slots[slot], Probability: pr}
		if t := g.in.SlotTime(slot); !t.IsZero() {
			d.At = &t
		}
		st.Departures = append(st.Departures, d)
	}
	for c, col := range s.cols {
		if c >= len(y) || y[c] <= 1e-12 {
			continue
		}
		a := Attack{Site: g.in.Sites[g.siteID[col.site]].ID, Window: col.w, Probability: y[c]}
		if !g.timed {
			a.Window = -1
		}
		for k, p := range s.rows {
			a.Hit += xs[k] * g.payoff(s.routes[p.r], p.slot, col.site, col.w)
		}
		st.Attack = append(st.Attack, a)
	}
	slices.SortFunc(st.Attack, func(a, b Attack) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	st.FixedFastest = s.baseline([]*route{g.fastest})
	st.UniformAlternatives = s.baseline(s.alternatives(s.opt.Alternatives))
	return st, nil
}

func (s *solver) routeOut(r *route) StrategyRoute {
	g := s.g
	out := StrategyRoute{DurationS: r.dur, Nodes: []string{g.in.Origin}}
	for _, e := range r.edges {
		out.Edges = append(out.Edges, int(g.edgeID[e]))
		out.Nodes = append(out.Nodes, g.in.Nodes[g.nodeID[g.head[e]]].ID)
	}
	ps := slices.Clone(r.pass)
	slices.SortStableFunc(ps, func(a, b passage) int { return cmp.Compare(a.off, b.off) })
	seen := map[int32]bool{}
	for _, p := range ps {
		if !seen[p.site] {
			seen[p.site] = true
			out.Sites = append(out.Sites, g.in.Sites[g.siteID[p.site]].ID)
		}
	}
	return out
}

// baseline is the attacker's best response against a uniform choice among
// routes, all departing at the usual slot.
func (s *solver) baseline(routes []*route) Baseline {
	g := s.g
	b := Baseline{K: len(routes), Slot: g.usual}
	if len(routes) == 0 {
		return b
	}
	saveR, saveRows := s.routes, s.rows
	s.routes, s.rows = routes, nil
	x := make([]float64, len(routes))
	for i, r := range routes {
		s.rows = append(s.rows, play{r: i, slot: g.usual})
		x[i] = 1 / float64(len(routes))
		b.DurationS += r.dur / float64(len(routes))
	}
	b.Value, _, _ = s.attackerBR(x, math.Inf(1), 0)
	s.routes, s.rows = saveR, saveRows
	return b
}

// alternatives returns up to k distinct admissible routes at the usual slot
// by the penalty method: each found route makes its edges 100% costlier for
// the next search, which then minimises the penalised time under the
// stretch bound. Penalised times are never below the times, so the time to
// the destination is a consistent potential for the searches.
func (s *solver) alternatives(k int) []*route {
	return s.penaltyRoutes(k, s.g.lbT)
}

// penaltyRoutes is alternatives with the searches guided by pot (nil:
// unguided; the routes are the same).
func (s *solver) penaltyRoutes(k int, pot []float64) []*route {
	g := s.g
	out := []*route{g.fastest}
	seen := map[string]bool{g.fastest.key: true}
	pen := &penalties{edge: slices.Clone(g.etime)}
	for _, e := range g.fastest.edges {
		pen.edge[e] += g.etime[e]
	}
	for try := 0; try < 3*k && len(out) < k; try++ {
		r, _, ok := s.or.bestBucketed(pen, g.usual, g.maxDur[g.usual], math.Inf(1), 0, pot)
		if !ok {
			break
		}
		for _, e := range r.edges {
			pen.edge[e] += g.etime[e]
		}
		if !seen[r.key] {
			seen[r.key] = true
			out = append(out, r)
		}
	}
	return out
}
