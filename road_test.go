package convoi_test

import (
	"math"
	"testing"

	"github.com/convoi/convoi"
)

func TestBBoxValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    convoi.BBox
		ok   bool
	}{
		{"Monaco", convoi.BBox{MinLat: 43.72, MinLon: 7.40, MaxLat: 43.75, MaxLon: 7.44}, true},
		{"a point", convoi.BBox{MinLat: 43.72, MinLon: 7.40, MaxLat: 43.72, MaxLon: 7.40}, true},
		{"upside down", convoi.BBox{MinLat: 43.8, MinLon: 7.4, MaxLat: 43.7, MaxLon: 7.5}, false},
		{"left to right", convoi.BBox{MinLat: 43.7, MinLon: 7.5, MaxLat: 43.8, MaxLon: 7.4}, false},
		{"lat 91", convoi.BBox{MinLat: 0, MinLon: 0, MaxLat: 91, MaxLon: 1}, false},
		{"NaN", convoi.BBox{MinLat: math.NaN(), MinLon: 0, MaxLat: 1, MaxLon: 1}, false},
	} {
		if err := tc.b.Validate(); (err == nil) != tc.ok || (err != nil && convoi.ErrorCode(err) != convoi.EINVALID) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestOverviewValid(t *testing.T) {
	for _, o := range convoi.Overviews {
		if !o.Valid() {
			t.Errorf("%q not valid", o)
		}
	}
	for _, o := range []convoi.Overview{"", "false", "FULL", "simple"} {
		if o.Valid() {
			t.Errorf("%q valid", o)
		}
	}
}
