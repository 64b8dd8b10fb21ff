package intercept

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/convoi/convoi"
)

// Format is the instance format ParseInstance reads.
const Format = "fip-instance/v1"

// MaxInstanceBytes bounds the size of an instance file.
const MaxInstanceBytes = 64 << 20

// ParseInstance reads one instance in the fip-instance/v1 JSON format
// (testdata/intercept/FORMAT.md) and validates it. It is strict: an unknown
// field, a missing required field (format, horizon_s, graph, units,
// routes), a wrong type, a node reference out of range, a non-integral
// index or trailing data is an EINVALID error naming the element, such as
// "units[2].candidates[7]" or "routes[41][3]". The informational objects
// model, license and provenance are read as they are (provenance is free
// text by definition); variant may only hold the parameters FORMAT.md
// lists.
func ParseInstance(r io.Reader) (*Instance, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInstanceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read instance: %w", err)
	}
	if len(data) > MaxInstanceBytes {
		return nil, invalid("The instance is larger than %d bytes.", MaxInstanceBytes)
	}
	var raw rawInstance
	if err := strictDecode(data, &raw); err != nil {
		return nil, fieldError("", err)
	}
	return raw.instance()
}

func invalid(format string, args ...any) error {
	return convoi.Errorf(convoi.EINVALID, format, args...)
}

// strictDecode decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// fieldError turns a decoding error into EINVALID naming the element at
// path (and, for a type error, the field within it).
func fieldError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := path
		if te.Field != "" {
			if where != "" {
				where += "."
			}
			where += te.Field
		}
		if where == "" {
			where = "the instance"
		}
		return invalid("%s: a JSON %s cannot be a %s.", where, te.Value, te.Type)
	}
	if path == "" {
		return invalid("Instance: %s.", msg)
	}
	return invalid("%s: %s.", path, msg)
}

type rawInstance struct {
	Format           *string                    `json:"format"`
	Name             string                     `json:"name"`
	City             string                     `json:"city"`
	Variant          map[string]json.RawMessage `json:"variant"`
	Model            map[string]string          `json:"model"`
	HorizonS         *float64                   `json:"horizon_s"`
	Graph            *rawGraph                  `json:"graph"`
	Units            []json.RawMessage          `json:"units"`
	FugitiveStart    *float64                   `json:"fugitive_start"`
	EscapeNodes      []float64                  `json:"escape_nodes"`
	Routes           json.RawMessage            `json:"routes"`
	Provenance       map[string]json.RawMessage `json:"provenance"`
	License          map[string]string          `json:"license"`
	PaperSolutions   []json.RawMessage          `json:"paper_solutions"`
	ReferenceResults json.RawMessage            `json:"reference_results"`
}

type rawGraph struct {
	Directed   *bool           `json:"directed"`
	NumNodes   *int            `json:"num_nodes"`
	NumEdges   *int            `json:"num_edges"`
	NodeFields string          `json:"node_fields"`
	EdgeFields string          `json:"edge_fields"`
	Nodes      json.RawMessage `json:"nodes"`
	Edges      json.RawMessage `json:"edges"`
}

type rawNode struct {
	ID            *int64  `json:"id"`
	Lat           float64 `json:"lat"`
	Lon           float64 `json:"lon"`
	OSMIDOriginal []int64 `json:"osmid_original"`
}

type rawUnit struct {
	Start           *float64  `json:"start"`
	StartDelayS     float64   `json:"start_delay_s"`
	DataStartDelayS *float64  `json:"data_start_delay_s"`
	Candidates      []float64 `json:"candidates"`
}

type rawPaperSolution struct {
	Source      string    `json:"source"`
	SSR         string    `json:"ssr"`
	Seed        int       `json:"seed"`
	Positions   []float64 `json:"positions"`
	PositionIDs []int64   `json:"positions_ids"`
	Intercepted *int      `json:"intercepted"`
	BorgBest    float64   `json:"borg_best_score_in_convergence_csv"`
}

type rawReference struct {
	ExactIntercepted  *int           `json:"exact_optimum_intercepted"`
	ExactFraction     float64        `json:"exact_optimum_fraction"`
	ExactPositions    []float64      `json:"exact_optimum_positions"`
	GreedyIntercepted *int           `json:"greedy_intercepted"`
	GreedyFraction    float64        `json:"greedy_fraction"`
	GreedyPositions   []float64      `json:"greedy_positions"`
	GreedyRule        string         `json:"greedy_rule"`
	Solver            string         `json:"solver"`
	CBCWallS          float64        `json:"cbc_wall_s"`
	WithDelays        *rawDelayedRef `json:"with_data_start_delays"`
}

type rawDelayedRef struct {
	Note              string    `json:"note"`
	ExactIntercepted  int       `json:"exact_optimum_intercepted"`
	ExactFraction     float64   `json:"exact_optimum_fraction"`
	ExactPositions    []float64 `json:"exact_optimum_positions"`
	GreedyIntercepted int       `json:"greedy_intercepted"`
	GreedyFraction    float64   `json:"greedy_fraction"`
	GreedyPositions   []float64 `json:"greedy_positions"`
}

// variantKeys are the variant parameters FORMAT.md lists.
var variantKeys = map[string]bool{
	"source_repo": true, "coarsening": true, "tolerance_m": true, "pruning_iteration": true, "weight": true,
	"pruning": true, "iterations": true, "threshold": true, "num_units": true, "instance": true,
}

// index reads a node reference: a JSON integer in [0, n).
func index(path string, x float64, n int) (int, error) {
	if x != math.Trunc(x) {
		return 0, invalid("%s: %v is not a node index.", path, x)
	}
	if x < 0 || x >= float64(n) {
		return 0, invalid("%s: node %v does not exist (%d nodes).", path, x, n)
	}
	return int(x), nil
}

func indexes(path string, xs []float64, n int) ([]int, error) {
	if xs == nil {
		return nil, nil
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		v, err := index(fmt.Sprintf("%s[%d]", path, i), x, n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (raw *rawInstance) instance() (*Instance, error) {
	switch {
	case raw.Format == nil:
		return nil, invalid("format: missing (want %q).", Format)
	case *raw.Format != Format:
		return nil, invalid("format: %q is not %q.", *raw.Format, Format)
	case raw.HorizonS == nil:
		return nil, invalid("horizon_s: missing.")
	case raw.Graph == nil:
		return nil, invalid("graph: missing.")
	case raw.Units == nil:
		return nil, invalid("units: missing.")
	case raw.Routes == nil:
		return nil, invalid("routes: missing.")
	}
	for k := range raw.Variant {
		if !variantKeys[k] {
			return nil, invalid("variant: unknown field %q.", k)
		}
	}
	in := &Instance{Name: raw.Name, HorizonS: *raw.HorizonS, FugitiveStart: -1}
	g := raw.Graph
	switch {
	case g.Directed == nil || !*g.Directed:
		return nil, invalid("graph.directed: must be true.")
	case g.Nodes == nil:
		return nil, invalid("graph.nodes: missing.")
	case g.Edges == nil:
		return nil, invalid("graph.edges: missing.")
	}
	// Nodes, edges and routes are most of the file: decode each in one go
	// and, on an error, element by element to name the one at fault.
	var nodes []rawNode
	if err := strictDecode(g.Nodes, &nodes); err != nil {
		var elems []json.RawMessage
		if err := json.Unmarshal(g.Nodes, &elems); err != nil {
			return nil, fieldError("graph.nodes", err)
		}
		for i, b := range elems {
			var rn rawNode
			if err := strictDecode(b, &rn); err != nil {
				return nil, fieldError(fmt.Sprintf("graph.nodes[%d]", i), err)
			}
		}
		return nil, fieldError("graph.nodes", err)
	}
	n := len(nodes)
	if n == 0 {
		return nil, invalid("graph.nodes: the graph has no nodes.")
	}
	if g.NumNodes != nil && *g.NumNodes != n {
		return nil, invalid("graph.num_nodes: %d, but graph.nodes has %d.", *g.NumNodes, n)
	}
	in.Nodes = make([]Node, n)
	for i, rn := range nodes {
		if rn.ID == nil {
			return nil, invalid("graph.nodes[%d].id: missing.", i)
		}
		in.Nodes[i] = Node{ID: *rn.ID, Lat: rn.Lat, Lon: rn.Lon}
	}

	var edges [][]float64
	if err := json.Unmarshal(g.Edges, &edges); err != nil {
		var elems []json.RawMessage
		if err := json.Unmarshal(g.Edges, &elems); err != nil {
			return nil, fieldError("graph.edges", err)
		}
		for i, b := range elems {
			var e []float64
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, invalid("graph.edges[%d]: %s is not [from, to, travel_time_s].", i, b)
			}
		}
		return nil, fieldError("graph.edges", err)
	}
	if g.NumEdges != nil && *g.NumEdges != len(edges) {
		return nil, invalid("graph.num_edges: %d, but graph.edges has %d.", *g.NumEdges, len(edges))
	}
	in.Edges = make([]Edge, len(edges))
	for i, e := range edges {
		if len(e) != 3 {
			return nil, invalid("graph.edges[%d]: %d numbers, want [from, to, travel_time_s].", i, len(e))
		}
		for k := range 2 {
			if e[k] != math.Trunc(e[k]) || e[k] < 0 || e[k] >= float64(n) {
				return nil, invalid("graph.edges[%d]: %v is not a node index (%d nodes).", i, e[k], n)
			}
		}
		in.Edges[i] = Edge{From: int(e[0]), To: int(e[1]), TravelTimeS: e[2]}
	}

	in.Units = make([]Unit, len(raw.Units))
	for u, b := range raw.Units {
		var ru rawUnit
		path := fmt.Sprintf("units[%d]", u)
		if err := strictDecode(b, &ru); err != nil {
			return nil, fieldError(path, err)
		}
		if ru.Start == nil {
			return nil, invalid("%s.start: missing.", path)
		}
		start, err := index(path+".start", *ru.Start, n)
		if err != nil {
			return nil, err
		}
		cands, err := indexes(path+".candidates", ru.Candidates, n)
		if err != nil {
			return nil, err
		}
		in.Units[u] = Unit{Start: start, StartDelayS: ru.StartDelayS, Candidates: cands}
	}

	var routes [][][]float64
	if err := json.Unmarshal(raw.Routes, &routes); err != nil {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw.Routes, &elems); err != nil {
			return nil, fieldError("routes", err)
		}
		for r, b := range elems {
			var visits []json.RawMessage
			if err := json.Unmarshal(b, &visits); err != nil {
				return nil, invalid("routes[%d]: not an array of [node, time_s] visits.", r)
			}
			for i, v := range visits {
				var x []float64
				if err := json.Unmarshal(v, &x); err != nil {
					return nil, invalid("routes[%d][%d]: %s is not [node, time_s].", r, i, v)
				}
			}
		}
		return nil, fieldError("routes", err)
	}
	in.Routes = make([][]Visit, len(routes))
	total := 0
	for _, route := range routes {
		total += len(route)
	}
	all := make([]Visit, 0, total)
	for r, route := range routes {
		start := len(all)
		for i, x := range route {
			if len(x) != 2 {
				return nil, invalid("routes[%d][%d]: %d numbers, want [node, time_s].", r, i, len(x))
			}
			if x[0] != math.Trunc(x[0]) || x[0] < 0 || x[0] >= float64(n) {
				return nil, invalid("routes[%d][%d]: %v is not a node index (%d nodes).", r, i, x[0], n)
			}
			all = append(all, Visit{Node: int(x[0]), TimeS: x[1]})
		}
		in.Routes[r] = all[start:len(all):len(all)]
	}

	if raw.FugitiveStart != nil {
		v, err := index("fugitive_start", *raw.FugitiveStart, n)
		if err != nil {
			return nil, err
		}
		in.FugitiveStart = v
	}
	var err error
	if in.EscapeNodes, err = indexes("escape_nodes", raw.EscapeNodes, n); err != nil {
		return nil, err
	}

	if raw.ReferenceResults != nil || raw.PaperSolutions != nil {
		ref := &Reference{OptimumIntercepted: -1, GreedyIntercepted: -1}
		if raw.ReferenceResults != nil {
			var rr rawReference
			if err := strictDecode(raw.ReferenceResults, &rr); err != nil {
				return nil, fieldError("reference_results", err)
			}
			if rr.ExactIntercepted != nil {
				ref.OptimumIntercepted = *rr.ExactIntercepted
			}
			if rr.GreedyIntercepted != nil {
				ref.GreedyIntercepted = *rr.GreedyIntercepted
			}
			if ref.OptimumPositions, err = indexes("reference_results.exact_optimum_positions", rr.ExactPositions, n); err != nil {
				return nil, err
			}
			if ref.GreedyPositions, err = indexes("reference_results.greedy_positions", rr.GreedyPositions, n); err != nil {
				return nil, err
			}
			if d := rr.WithDelays; d != nil {
				if _, err := indexes("reference_results.with_data_start_delays.exact_optimum_positions", d.ExactPositions, n); err != nil {
					return nil, err
				}
				if _, err := indexes("reference_results.with_data_start_delays.greedy_positions", d.GreedyPositions, n); err != nil {
					return nil, err
				}
			}
		}
		for i, b := range raw.PaperSolutions {
			var ps rawPaperSolution
			path := fmt.Sprintf("paper_solutions[%d]", i)
			if err := strictDecode(b, &ps); err != nil {
				return nil, fieldError(path, err)
			}
			pos, err := indexes(path+".positions", ps.Positions, n)
			if err != nil {
				return nil, err
			}
			if ps.Intercepted == nil {
				return nil, invalid("%s.intercepted: missing.", path)
			}
			ref.Published = append(ref.Published, PublishedPlan{Source: ps.Source, Positions: pos, Intercepted: *ps.Intercepted})
		}
		in.Reference = ref
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return in, nil
}
