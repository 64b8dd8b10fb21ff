package ambush

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/convoi/convoi"
)

func drawStrategy(ps ...float64) *Strategy {
	st := &Strategy{Routes: []StrategyRoute{{}, {}}}
	for i, p := range ps {
		st.Plays = append(st.Plays, Play{Route: i % 2, Slot: i, Probability: p})
		st.Departures = append(st.Departures, Departure{Slot: i, OffsetS: float64(600 * i), Probability: p})
	}
	return st
}

// TestDrawFrequencies draws 200,000 times from a deterministic stream and
// runs a chi-square test at the 0.1% level: a biased Draw fails it.
func TestDrawFrequencies(t *testing.T) {
	ps := []float64{0.4, 0.25, 0.2, 0.1, 0.04, 0.01, 0}
	st := drawStrategy(ps...)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	const n = 200_000
	counts := make([]int, len(ps))
	for i := 0; i < n; i++ {
		p, err := Draw(st, r)
		if err != nil {
			t.Fatal(err)
		}
		if st.Plays[p.Play].Slot != p.Slot || st.Plays[p.Play].Route != p.Route || p.OffsetS != float64(600*p.Slot) {
			t.Fatalf("pick %+v inconsistent with its play", p)
		}
		counts[p.Play]++
	}
	if counts[len(ps)-1] != 0 {
		t.Errorf("zero-probability play drawn %d times", counts[len(ps)-1])
	}
	var chi2 float64
	for i, p := range ps[:len(ps)-1] {
		e := p * n
		d := float64(counts[i]) - e
		chi2 += d * d / e
	}
	// Critical value of chi-square with 5 degrees of freedom at p = 0.001.
	if chi2 > 20.515 {
		t.Errorf("chi-square %.2f > 20.515: counts %v for probabilities %v", chi2, counts, ps)
	}
}

func TestDrawEdges(t *testing.T) {
	st := drawStrategy(0.5, 0.5, 0)
	// All-ones randomness lands on the last play with positive probability.
	p, err := Draw(st, bytes.NewReader(bytes.Repeat([]byte{0xff}, 8)))
	if err != nil || p.Play != 1 {
		t.Errorf("max draw: play %d, err %v", p.Play, err)
	}
	p, err = Draw(st, bytes.NewReader(make([]byte, 8)))
	if err != nil || p.Play != 0 {
		t.Errorf("min draw: play %d, err %v", p.Play, err)
	}
	boom := errors.New("boom")
	if _, err := Draw(st, iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v", err)
	}
	if _, err := Draw(st, bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("short reader: no error")
	}
	for _, bad := range []*Strategy{nil, {}, drawStrategy(0.5, 0.4), drawStrategy(1.5, -0.5)} {
		if _, err := Draw(bad, bytes.NewReader(make([]byte, 8))); convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("bad strategy: err %v", err)
		}
	}
}
