package ambush

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/convoi/convoi"
)

// Pick is the route and departure drawn from a strategy.
type Pick struct {
	Play    int     `json:"play"`  // index into Strategy.Plays
	Route   int     `json:"route"` // index into Strategy.Routes
	Slot    int     `json:"slot"`
	OffsetS float64 `json:"offset_s"`
	// Departure is the wall-clock departure when the strategy has an epoch.
	Departure time.Time `json:"departure,omitzero"`
}

// Draw picks one play of st with the probabilities of st.Plays, reading
// randomness from rand: crypto/rand.Reader in production (at release, never
// before, so that nobody knows the route in advance), a deterministic reader
// in tests. It reads 8 bytes and maps 53 of their bits to a uniform number
// in [0, 1), so each play's probability is honoured to within 2^-53. A
// strategy without
// plays or with probabilities that do not sum to 1 is EINVALID; a failing
// reader is returned wrapped.
func Draw(st *Strategy, rand io.Reader) (Pick, error) {
	if st == nil || len(st.Plays) == 0 {
		return Pick{}, convoi.Errorf(convoi.EINVALID, "Strategy has no plays to draw from.")
	}
	var total float64
	for _, p := range st.Plays {
		if !finite(p.Probability) || p.Probability < 0 || p.Route < 0 || p.Route >= len(st.Routes) {
			return Pick{}, convoi.Errorf(convoi.EINVALID, "Strategy has an invalid play.")
		}
		total += p.Probability
	}
	if math.Abs(total-1) > 1e-6 {
		return Pick{}, convoi.Errorf(convoi.EINVALID, "Strategy probabilities sum to %v, not 1.", total)
	}
	var b [8]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return Pick{}, fmt.Errorf("draw: read randomness: %w", err)
	}
	// A uniform float in [0, total) with 53 random bits.
	u := float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53) * total
	i := 0
	for acc := 0.0; i < len(st.Plays)-1; i++ {
		acc += st.Plays[i].Probability
		if u < acc {
			break
		}
	}
	// Never land on a zero-probability play because of rounding at the end.
	for i > 0 && st.Plays[i].Probability == 0 {
		i--
	}
	p := st.Plays[i]
	pick := Pick{Play: i, Route: p.Route, Slot: p.Slot}
	for _, d := range st.Departures {
		if d.Slot == p.Slot {
			pick.OffsetS = d.OffsetS
			if d.At != nil {
				pick.Departure = *d.At
			}
		}
	}
	return pick, nil
}
