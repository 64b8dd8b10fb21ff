package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
)

// The road endpoints turn query strings into the road service's queries
// and its answers into JSON. Every rule on what a query may ask (bounds,
// kind names, combinations) is the road service's (convoi.RoadService).

// routeResponse is the body of GET /api/v1/route.
type routeResponse struct {
	Routes []*convoi.Itinerary `json:"routes"` // the fastest first, then up to ?alternatives= others
}

// roadsUnavailable answers the road endpoints of a server without a road network.
var roadsUnavailable = convoi.Errorf(convoi.EUNAVAILABLE, "No road network is loaded on this server.")

// splitList reads "a,b,c" into its non-empty items.
func splitList(s *string) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, f := range strings.Split(*s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// handleRoute: GET /route?from=LAT,LON&to=LAT,LON[&avoid=K,...][&alternatives=N]
// [&overview=full|simplified|none][&steps=BOOL][&chokepoints=BOOL]. Without
// overview, steps and chokepoints the answer carries all three, as it
// always did; overview=false is OSRM's spelling of none.
func (s *Server) handleRoute(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	rq := convoi.RouteQuery{Overview: convoi.OverviewFull, Segments: true, Chokepoints: true}
	from, to := q.LatLon("from"), q.LatLon("to")
	rq.Avoid = splitList(q.String("avoid"))
	if n := q.Int64("alternatives"); n != nil {
		rq.Alternatives = int(min(*n, 1<<20))
	}
	if o := q.String("overview"); o != nil {
		rq.Overview = convoi.Overview(*o)
		if *o == "false" {
			rq.Overview = convoi.OverviewNone
		}
	}
	if b := q.Bool("steps"); b != nil {
		rq.Segments = *b
	}
	if b := q.Bool("chokepoints"); b != nil {
		rq.Chokepoints = *b
	}
	if err := q.Err(); err != nil {
		return err
	}
	if from == nil || to == nil {
		return convoi.Errorf(convoi.EINVALID, "from and to required, as LAT,LON.")
	}
	if s.Roads == nil {
		return roadsUnavailable
	}
	rq.From, rq.To = *from, *to
	routes, err := s.Roads.FindRoutes(r.Context(), rq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &routeResponse{Routes: routes})
	return nil
}

// handleIsochrone: GET /isochrone?at=LAT,LON&minutes=M[&avoid=K,...].
func (s *Server) handleIsochrone(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	at := q.LatLon("at")
	minutes, ok := q.Float("minutes")
	avoid := splitList(q.String("avoid"))
	if err := q.Err(); err != nil {
		return err
	}
	if at == nil || !ok {
		return convoi.Errorf(convoi.EINVALID, "at (LAT,LON) and minutes required.")
	}
	if s.Roads == nil {
		return roadsUnavailable
	}
	data, err := s.Roads.Isochrone(r.Context(), convoi.IsochroneQuery{At: *at, Minutes: minutes, Avoid: avoid})
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
	Items []convoi.Chokepoint `json:"items"`
	Total int                 `json:"total"`
}

// handleChokepoints: GET /chokepoints[?bbox=MINLAT,MINLON,MAXLAT,MAXLON][&kinds=K,...].
func (s *Server) handleChokepoints(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	bb := q.String("bbox")
	var f convoi.ChokepointFilter
	f.Kinds = splitList(q.String("kinds"))
	if err := q.Err(); err != nil {
		return err
	}
	if bb != nil {
		b, err := parseBBox(*bb)
		if err != nil {
			return err
		}
		f.BBox = &b
	}
	if s.Roads == nil {
		return roadsUnavailable
	}
	cs, err := s.Roads.FindChokepoints(r.Context(), f)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []convoi.Chokepoint{}
	}
	writeJSON(w, http.StatusOK, &chokepointsResponse{Items: cs, Total: len(cs)})
	return nil
}

// parseBBox reads "minLat,minLon,maxLat,maxLon"; the road service checks
// the box itself.
func parseBBox(s string) (convoi.BBox, error) {
	parts := strings.Split(s, ",")
	bad := convoi.Errorf(convoi.EINVALID, "bbox is MINLAT,MINLON,MAXLAT,MAXLON in degrees.")
	if len(parts) != 4 {
		return convoi.BBox{}, bad
	}
	var f [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return convoi.BBox{}, bad
		}
		f[i] = v
	}
	return convoi.BBox{MinLat: f[0], MinLon: f[1], MaxLat: f[2], MaxLon: f[3]}, nil
}
