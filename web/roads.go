package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/roadnet"
)

// Roads is the road network as the API needs it; *roadnet.Graph
// implements it. The graph is immutable and safe for concurrent queries.
type Roads interface {
	Snap(p convoi.LatLon) (roadnet.Position, error)
	Route(ctx context.Context, from, to roadnet.Position, opt roadnet.RouteOptions) (*roadnet.Route, error)
	Alternatives(ctx context.Context, from, to roadnet.Position, opt roadnet.AlternativeOptions) ([]*roadnet.Route, error)
	Isochrone(ctx context.Context, at roadnet.Position, budget int64, opt roadnet.RouteOptions) (*roadnet.Isochrone, error)
	Chokepoints(b roadnet.BBox, kinds roadnet.Kind) []roadnet.Chokepoint
	Bounds() roadnet.BBox
	CostOf(seconds float64) int64
}

var _ Roads = (*roadnet.Graph)(nil)

// maxAlternatives bounds ?alternatives=K.
const maxAlternatives = 5

// routeResponse is the body of GET /api/v1/route.
type routeResponse struct {
	Routes []*roadnet.Route `json:"routes"` // the fastest first, then up to ?alternatives= others
}

func (s *Server) handleRoute(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	from, to := q.LatLon("from"), q.LatLon("to")
	avoid := q.String("avoid")
	k := 0
	if n := q.Int64("alternatives"); n != nil {
		if *n > maxAlternatives {
			return convoi.Errorf(convoi.EINVALID, "alternatives must be at most %d.", maxAlternatives)
		}
		k = int(*n)
	}
	if err := q.Err(); err != nil {
		return err
	}
	if from == nil || to == nil {
		return convoi.Errorf(convoi.EINVALID, "from and to required, as LAT,LON.")
	}
	var opt roadnet.RouteOptions
	if avoid != nil {
		kinds, err := roadnet.ParseKinds(*avoid)
		if err != nil {
			return err
		}
		opt.Avoid = kinds
	}
	if s.Roads == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No road network is loaded on this server.")
	}
	if k > 0 && opt.Avoid != 0 {
		return convoi.Errorf(convoi.EINVALID, "avoid cannot be combined with alternatives.")
	}
	a, err := s.Roads.Snap(*from)
	if err != nil {
		return err
	}
	b, err := s.Roads.Snap(*to)
	if err != nil {
		return err
	}
	var routes []*roadnet.Route
	if k > 0 {
		if routes, err = s.Roads.Alternatives(r.Context(), a, b, roadnet.AlternativeOptions{K: k + 1}); err != nil {
			return err
		}
	} else {
		rt, err := s.Roads.Route(r.Context(), a, b, opt)
		if err != nil {
			return err
		}
		routes = []*roadnet.Route{rt}
	}
	writeJSON(w, http.StatusOK, &routeResponse{Routes: routes})
	return nil
}

// maxIsochroneMinutes bounds ?minutes=M.
const maxIsochroneMinutes = 120

func (s *Server) handleIsochrone(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	at := q.LatLon("at")
	minutes, ok := q.Float("minutes")
	if err := q.Err(); err != nil {
		return err
	}
	if at == nil || !ok {
		return convoi.Errorf(convoi.EINVALID, "at (LAT,LON) and minutes required.")
	}
	if !(minutes > 0 && minutes <= maxIsochroneMinutes) {
		return convoi.Errorf(convoi.EINVALID, "minutes must be in (0, %d].", maxIsochroneMinutes)
	}
	if s.Roads == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No road network is loaded on this server.")
	}
	p, err := s.Roads.Snap(*at)
	if err != nil {
		return err
	}
	iso, err := s.Roads.Isochrone(r.Context(), p, s.Roads.CostOf(minutes*60), roadnet.RouteOptions{})
	if err != nil {
		return err
	}
	data, err := iso.GeoJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// chokepointsResponse is the body of GET /api/v1/chokepoints.
type chokepointsResponse struct {
	Items []roadnet.Chokepoint `json:"items"`
	Total int                  `json:"total"`
}

// maxChokepoints bounds one answer; a larger area must be split.
const maxChokepoints = 10000

func (s *Server) handleChokepoints(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	bb := q.String("bbox")
	kindsS := q.String("kinds")
	if err := q.Err(); err != nil {
		return err
	}
	if s.Roads == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No road network is loaded on this server.")
	}
	box := s.Roads.Bounds()
	if bb != nil {
		b, err := parseBBox(*bb)
		if err != nil {
			return err
		}
		box = b
	}
	var kinds roadnet.Kind
	if kindsS != nil {
		k, err := roadnet.ParseKinds(*kindsS)
		if err != nil {
			return err
		}
		kinds = k
	}
	cs := s.Roads.Chokepoints(box, kinds)
	n := len(cs)
	if n > maxChokepoints {
		return convoi.Errorf(convoi.EINVALID, "%d chokepoints in this area; ask for a smaller bbox (at most %d).", n, maxChokepoints)
	}
	if cs == nil {
		cs = []roadnet.Chokepoint{}
	}
	writeJSON(w, http.StatusOK, &chokepointsResponse{Items: cs, Total: n})
	return nil
}

// parseBBox reads "minLat,minLon,maxLat,maxLon".
func parseBBox(s string) (roadnet.BBox, error) {
	parts := strings.Split(s, ",")
	bad := convoi.Errorf(convoi.EINVALID, "bbox is MINLAT,MINLON,MAXLAT,MAXLON in degrees.")
	if len(parts) != 4 {
		return roadnet.BBox{}, bad
	}
	var f [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return roadnet.BBox{}, bad
		}
		f[i] = v
	}
	lo, hi := convoi.LatLon{Lat: f[0], Lon: f[1]}, convoi.LatLon{Lat: f[2], Lon: f[3]}
	if err := lo.Validate(); err != nil {
		return roadnet.BBox{}, err
	}
	if err := hi.Validate(); err != nil {
		return roadnet.BBox{}, err
	}
	if lo.Lat > hi.Lat || lo.Lon > hi.Lon {
		return roadnet.BBox{}, bad
	}
	return roadnet.BBox{MinLat: f[0], MinLon: f[1], MaxLat: f[2], MaxLon: f[3]}, nil
}
