package risk_test

import (
	"fmt"

	"github.com/convoi/convoi/risk"
)

// The Incarville case, with the intelligence that was missed: the phone and
// sawn cell bar found the day before, the cars seen on the route a week before.
func ExampleAssess() {
	p := risk.DefaultPolicy()
	for _, in := range []risk.Input{incarvilleInput(nil), incarvilleInput(incarvilleIntel())} {
		a, err := risk.Assess(p, in)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("score %.2f -> level %d, crew %d, %s, must not stop %v, %s\n",
			a.Score, a.Level, a.MinCrew, a.VehicleClass, a.MustNotStop, a.Recommendation)
		for _, f := range a.Factors {
			fmt.Printf("  %-16s weight %5.1f value %8.4f points %6.2f\n", f.Code, f.Weight, f.Value, f.Points)
		}
	}
	// Output:
	// score 34.52 -> level 3, crew 5, cellular_van, must not stop true, escort
	//   violence         weight   8.0 value   2.0000 points   5.33
	//   organised_crime  weight  14.0 value   1.0000 points  14.00
	//   notoriety        weight   5.0 value   1.0000 points   1.67
	//   purpose          weight   4.0 value   0.5000 points   2.00
	//   exposure         weight   5.0 value 3300.0000 points   4.58
	//   chokepoints      weight   6.0 value   3.2000 points   3.94
	//   destination      weight   5.0 value   0.6000 points   3.00
	// score 61.05 -> level 4, crew 8, armoured_van, must not stop true, video_hearing
	//   violence         weight   8.0 value   2.0000 points   5.33
	//   organised_crime  weight  14.0 value   1.0000 points  14.00
	//   notoriety        weight   5.0 value   1.0000 points   1.67
	//   intel_escape     weight  22.0 value   0.6597 points  16.12
	//   intel_route      weight  18.0 value   0.4318 points  10.41
	//   purpose          weight   4.0 value   0.5000 points   2.00
	//   exposure         weight   5.0 value 3300.0000 points   4.58
	//   chokepoints      weight   6.0 value   3.2000 points   3.94
	//   destination      weight   5.0 value   0.6000 points   3.00
}
