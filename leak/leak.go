// Package leak gives every outside recipient of a movement's arrival (a
// court's liaison, a hospital's admissions desk) a distinct variant of what
// they may know, and traces a leak back to the recipients who could have
// leaked it.
//
// A variant is an arrival window that contains the expected arrival (the
// drawn departure plus the route's duration) at least Margin inside either
// end, sized between MinWidth and MaxWidth, in whole minutes; and a handover
// code the escort quotes on arrival. Variants of one movement are drawn so
// that no two recipients share a window start, a window end or a code
// while enough remain, so that any one of these facts, leaked alone, names
// its recipient. Every variant is recorded (convoi.NoticeService).
//
// It imports convoi and the standard library only; it never logs.
package leak

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// Policy bounds the variants.
type Policy struct {
	MinWidth, MaxWidth time.Duration // window widths, whole minutes
	Margin             time.Duration // the expected arrival lies at least this far inside the window
	CodeLen            int           // characters of the handover code
}

// DefaultPolicy: windows of 40 to 70 minutes with the arrival at least 5
// minutes inside: 1,426 windows, 61 distinct starts and ends per movement.
var DefaultPolicy = Policy{MinWidth: 40 * time.Minute, MaxWidth: 70 * time.Minute, Margin: 5 * time.Minute, CodeLen: 6}

// codeAlphabet has no characters that read alike (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// Arrival returns m's expected arrival, to the minute: its drawn departure
// plus its route's duration. A movement without both is ECONFLICT.
func Arrival(m *convoi.Movement) (time.Time, error) {
	if m.PlannedDeparture == nil || m.Route == nil {
		return time.Time{}, convoi.Errorf(convoi.ECONFLICT, "The arrival window of movement %s is not available yet.", m.Ref)
	}
	a := m.PlannedDeparture.Add(time.Duration(m.Route.DurationS * float64(time.Second)))
	return a.UTC().Round(time.Minute), nil
}

// RandIntn returns a uniform integer in [0, n); RandCrypto is the default.
type RandIntn func(n int) int

// RandCrypto draws from crypto/rand: variants must not be predictable, or a
// leaker could pick another recipient's.
func RandCrypto(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(fmt.Sprintf("leak: crypto/rand: %v", err)) // the system's randomness is broken
	}
	return int(v.Int64())
}

// Variant is a drawn window and code.
type Variant struct {
	WindowStart, WindowEnd time.Time
	Code                   string
}

// Draw returns a variant around arrival distinct from every taken one:
// with a window start, a window end and a code no taken variant has, while
// such windows remain, else with a window pair none has. It is EUNAVAILABLE
// when every window is taken.
func (p Policy) Draw(arrival time.Time, taken []*convoi.Notice, rnd RandIntn) (Variant, error) {
	if rnd == nil {
		rnd = RandCrypto
	}
	if p.MinWidth <= 0 || p.MaxWidth < p.MinWidth || p.Margin < 0 || 2*p.Margin > p.MinWidth || p.CodeLen < 4 {
		return Variant{}, fmt.Errorf("leak: bad policy %+v", p)
	}
	// A window is (a, b): it starts a minutes before the arrival and ends b
	// minutes after it. Distinct starts and ends across recipients are a
	// matching between the a and b values (a+b is the width); fresh windows
	// are drawn only among those that keep the largest matching of the
	// unused values as large as it can be, so that greedy draws never strand
	// starts or ends that later recipients need.
	codes := map[string]bool{}
	usedA, usedB, pairs := map[int]bool{}, map[int]bool{}, map[[2]int]bool{}
	for _, n := range taken {
		a := int(arrival.Sub(n.WindowStart) / time.Minute)
		b := int(n.WindowEnd.Sub(arrival) / time.Minute)
		usedA[a], usedB[b], pairs[[2]int{a, b}], codes[n.Code] = true, true, true, true
	}
	minW, maxW, m := int(p.MinWidth/time.Minute), int(p.MaxWidth/time.Minute), int(p.Margin/time.Minute)
	lo := func(a int) int { return max(m, minW-a) }
	hi := func(a int) int { return min(maxW-m, maxW-a) }
	var freeA []int
	freeB := map[int]bool{}
	for v := m; v <= maxW-m; v++ {
		if !usedA[v] && lo(v) <= hi(v) {
			freeA = append(freeA, v)
		}
		if !usedB[v] {
			freeB[v] = true
		}
	}
	best := matching(freeA, freeB, -1, -1, lo, hi)
	var fresh, unused [][2]int
	for a := m; a <= maxW-m; a++ {
		for b := lo(a); b <= hi(a); b++ {
			if pairs[[2]int{a, b}] {
				continue
			}
			unused = append(unused, [2]int{a, b})
			if !usedA[a] && !usedB[b] && matching(freeA, freeB, a, b, lo, hi) == best-1 {
				fresh = append(fresh, [2]int{a, b})
			}
		}
	}
	pool := fresh
	if len(pool) == 0 {
		pool = unused
	}
	if len(pool) == 0 {
		return Variant{}, convoi.Errorf(convoi.EUNAVAILABLE, "Every arrival window variant of this movement is taken.")
	}
	ab := pool[rnd(len(pool))]
	win := struct{ s, e time.Time }{arrival.Add(-time.Duration(ab[0]) * time.Minute), arrival.Add(time.Duration(ab[1]) * time.Minute)}
	var code string
	for {
		var b strings.Builder
		for range p.CodeLen {
			b.WriteByte(codeAlphabet[rnd(len(codeAlphabet))])
		}
		if code = b.String(); !codes[code] {
			break
		}
	}
	return Variant{WindowStart: win.s, WindowEnd: win.e, Code: code}, nil
}

// matching returns the size of a largest matching of the starts freeA
// (without skipA) with the ends freeB (without skipB), a start a matching
// an end in [lo(a), hi(a)]: greedy by the interval's right end, taking the
// smallest free end, which is optimal for intervals.
func matching(freeA []int, freeB map[int]bool, skipA, skipB int, lo, hi func(int) int) int {
	as := make([]int, 0, len(freeA))
	for _, a := range freeA {
		if a != skipA {
			as = append(as, a)
		}
	}
	slices.SortFunc(as, func(x, y int) int { return hi(x) - hi(y) })
	taken := map[int]bool{}
	n := 0
	for _, a := range as {
		for b := lo(a); b <= hi(a); b++ {
			if freeB[b] && b != skipB && !taken[b] {
				taken[b] = true
				n++
				break
			}
		}
	}
	return n
}

// Issuer gives recipients their variants and records them.
type Issuer struct {
	Notices convoi.NoticeService
	Policy  Policy   // DefaultPolicy when zero
	Rand    RandIntn // RandCrypto when nil
}

// Issue returns recipient's notice for m, drawing and recording a new
// variant the first time; later calls return the same one, so that a
// recipient never holds two variants of one draw (a re-drawn movement,
// whose expected arrival moved, gets a new one). userID is set for a
// convoi user.
func (is *Issuer) Issue(ctx context.Context, m *convoi.Movement, recipient string, userID convoi.UserID) (*convoi.Notice, error) {
	arrival, err := Arrival(m)
	if err != nil {
		return nil, err
	}
	p := is.Policy
	if p == (Policy{}) {
		p = DefaultPolicy
	}
	for attempt := 0; ; attempt++ {
		taken, err := is.Notices.FindNotices(ctx, convoi.NoticeFilter{MovementID: &m.ID})
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(taken, func(n *convoi.Notice) bool { return n.Recipient == recipient && n.Basis.Equal(arrival) }); i >= 0 {
			return taken[i], nil
		}
		v, err := p.Draw(arrival, taken, is.Rand)
		if err != nil {
			return nil, err
		}
		n := &convoi.Notice{MovementID: m.ID, Recipient: recipient, UserID: userID,
			WindowStart: v.WindowStart, WindowEnd: v.WindowEnd, Code: v.Code, Basis: arrival}
		err = is.Notices.CreateNotice(ctx, n)
		if convoi.ErrorCode(err) == convoi.ECONFLICT && attempt < 3 {
			continue // another recipient drew at the same time
		}
		return n, err
	}
}

// Facts are what a leak showed. Times are compared to the minute; at least
// one of WindowStart, WindowEnd and Code is required.
type Facts struct {
	MovementID  convoi.MovementID `json:"movement_id,omitempty"` // when the leak names the movement
	WindowStart *time.Time        `json:"window_start,omitempty"`
	WindowEnd   *time.Time        `json:"window_end,omitempty"`
	Code        string            `json:"code,omitempty"`
}

// Validate requires at least one fact.
func (f Facts) Validate() error {
	if f.WindowStart == nil && f.WindowEnd == nil && f.Code == "" {
		return convoi.Errorf(convoi.EINVALID, "Give at least one fact seen in the leak: window_start, window_end or code.")
	}
	return convoi.ValidateText("code", f.Code, 64)
}

// Candidate is a recipient who could have leaked the facts.
type Candidate struct {
	Notice  *convoi.Notice `json:"notice"`
	Matched []string       `json:"matched"` // the facts of the leak found in this recipient's variant
	Score   float64        `json:"score"`   // matched facts / facts given, 1 for a recipient whose variant has them all
}

// Trace ranks the recipients whose variant shares at least one fact with
// the leak: most facts matched first, then in the order they were told.
// Notices of other movements than f.MovementID (when set) are skipped.
func Trace(f Facts, notices []*convoi.Notice) ([]Candidate, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	given := 0
	for _, ok := range []bool{f.WindowStart != nil, f.WindowEnd != nil, f.Code != ""} {
		if ok {
			given++
		}
	}
	minute := func(t time.Time) int64 { return t.Unix() / 60 }
	var out []Candidate
	for _, n := range notices {
		if f.MovementID != 0 && n.MovementID != f.MovementID {
			continue
		}
		var matched []string
		if f.WindowStart != nil && minute(*f.WindowStart) == minute(n.WindowStart) {
			matched = append(matched, "window_start")
		}
		if f.WindowEnd != nil && minute(*f.WindowEnd) == minute(n.WindowEnd) {
			matched = append(matched, "window_end")
		}
		if f.Code != "" && strings.EqualFold(strings.TrimSpace(f.Code), n.Code) {
			matched = append(matched, "code")
		}
		if len(matched) > 0 {
			out = append(out, Candidate{Notice: n, Matched: matched, Score: float64(len(matched)) / float64(given)})
		}
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if len(a.Matched) != len(b.Matched) {
			return len(b.Matched) - len(a.Matched)
		}
		return int(a.Notice.ID - b.Notice.ID)
	})
	return out, nil
}
