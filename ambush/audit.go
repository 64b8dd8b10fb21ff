package ambush

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Trip is one past journey for the predictability audit: which route it
// took (any stable key) and when it left.
type Trip struct {
	RouteKey  string
	Departure time.Time
}

// Predictability measures how repetitive past journeys were. Entropies are
// in bits; a normalised entropy of 0 means every journey was the same, 1
// means no two were alike. MaxShare is the share of the most frequent route
// or departure bin: what an observer would bet on.
type Predictability struct {
	Trips             int     `json:"trips"`
	Routes            int     `json:"routes"` // distinct routes
	RouteEntropy      float64 `json:"route_entropy_bits"`
	RouteNormalised   float64 `json:"route_entropy_normalised"`
	RouteMaxShare     float64 `json:"route_max_share"`
	DepartureBins     int     `json:"departure_bins"` // distinct time-of-day bins
	DepartureEntropy  float64 `json:"departure_entropy_bits"`
	DepartureNormal   float64 `json:"departure_entropy_normalised"`
	DepartureMaxShare float64 `json:"departure_max_share"`
	BinMinutes        int     `json:"bin_minutes"`
	// Joint is the entropy of (route, departure bin) together.
	JointEntropy float64 `json:"joint_entropy_bits"`
}

// Audit computes the predictability of trips, binning departures by time of
// day (in each departure's own location) into bins of the given width
// (default 15 minutes).
func Audit(trips []Trip, bin time.Duration) Predictability {
	if bin <= 0 {
		bin = 15 * time.Minute
	}
	p := Predictability{Trips: len(trips), BinMinutes: int(bin / time.Minute)}
	if len(trips) == 0 {
		return p
	}
	routes, deps, joint := map[string]int{}, map[int]int{}, map[string]int{}
	for _, t := range trips {
		tod := time.Duration(t.Departure.Hour())*time.Hour + time.Duration(t.Departure.Minute())*time.Minute + time.Duration(t.Departure.Second())*time.Second
		b := int(tod / bin)
		routes[t.RouteKey]++
		deps[b]++
		joint[fmt.Sprintf("%s|%d", t.RouteKey, b)]++
	}
	p.Routes, p.DepartureBins = len(routes), len(deps)
	p.RouteEntropy, p.RouteMaxShare = entropy(counts(routes), len(trips))
	p.DepartureEntropy, p.DepartureMaxShare = entropy(counts(deps), len(trips))
	p.JointEntropy, _ = entropy(counts(joint), len(trips))
	if len(trips) > 1 {
		p.RouteNormalised = p.RouteEntropy / math.Log2(float64(len(trips)))
		p.DepartureNormal = p.DepartureEntropy / math.Log2(float64(len(trips)))
	}
	return p
}

func counts[K comparable](m map[K]int) []int {
	out := make([]int, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

func entropy(cs []int, n int) (bits, maxShare float64) {
	for _, c := range cs {
		q := float64(c) / float64(n)
		bits -= q * math.Log2(q)
		maxShare = math.Max(maxShare, q)
	}
	return math.Abs(bits), maxShare
}

// RouteKey identifies a driven route coarsely enough that GPS noise and
// snapping do not make the same road two routes: the chokepoints passed and
// the geometry sampled every tenth point, rounded to about 100 metres.
func RouteKey(r *convoi.RouteSummary) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.Join(r.Chokepoints, ","))
	b.WriteByte('|')
	step := max(1, len(r.Geometry)/10)
	last := ""
	for i := 0; i < len(r.Geometry); i += step {
		p := r.Geometry[i]
		s := fmt.Sprintf("%.3f,%.3f;", p.Lat, p.Lon)
		if s != last {
			b.WriteString(s)
			last = s
		}
	}
	return b.String()
}
