package risk_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/risk"
	"github.com/convoi/convoi/roadnet"
)

// roadnetFacts is the adapter docs/risk.md gives for cmd/convoi.
func roadnetFacts(g *roadnet.Graph) risk.RouteFacter {
	return risk.RouteFactsFunc(func(ctx context.Context, from, to convoi.LatLon) (risk.Facts, error) {
		r, err := g.RouteLatLon(ctx, from, to, roadnet.RouteOptions{})
		if err != nil {
			return risk.Facts{}, err
		}
		f := risk.Facts{ExposureS: r.DurationS, DistanceM: r.DistanceM, Chokepoints: map[string]int{}}
		for _, p := range r.Chokepoints {
			f.Chokepoints[p.Kind.String()]++
		}
		return f, nil
	})
}

func TestDefaultPolicyWeighsEveryRoadnetKind(t *testing.T) {
	p := risk.DefaultPolicy()
	for k := roadnet.Kind(1); k != 0 && k <= roadnet.KindBarrier; k <<= 1 {
		for _, n := range k.Names() {
			if _, ok := p.Chokepoints[n]; !ok {
				t.Errorf("roadnet kind %q has no weight in the default policy (it would weigh as %q)", n, risk.ChokepointOther)
			}
		}
	}
}

func TestAssessWithRoadnet(t *testing.T) {
	ctx := context.Background()
	g, err := roadnet.ImportOSM(ctx, bytes.NewReader(osmdata.Monaco), roadnet.FormatPBF, roadnet.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := convoi.LatLon{Lat: 43.7446, Lon: 7.4335} // Larvotto
	to := convoi.LatLon{Lat: 43.7302, Lon: 7.4222}   // Palais de Justice de Monaco
	f, err := roadnetFacts(g).RouteFacts(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if f.ExposureS <= 0 || f.DistanceM < from.DistanceM(to) || f.Estimated {
		t.Fatalf("facts %+v", f)
	}
	in := incarvilleInput(nil)
	in.Route = f
	a := mustAssess(t, risk.DefaultPolicy(), in)
	ex := factor(a, risk.FactorExposure)
	if ex == nil || !strings.Contains(ex.Evidence[0], "fastest route") {
		t.Errorf("exposure %+v", ex)
	}
	t.Logf("Monaco route: %.0f s, %.0f m, chokepoints %v", f.ExposureS, f.DistanceM, f.Chokepoints)
}
