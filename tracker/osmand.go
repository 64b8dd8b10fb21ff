package tracker

import (
	"net/http"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/tracker/osmand"
)

// OsmAndHandler returns the HTTP handler of the OsmAnd protocol: GET or
// POST on any path; 200 once the position is durably stored, 400 for a bad
// report, 404 for an unknown or disabled device, 503 when the store fails.
// Open serves it on OsmAndAddr; it is exported for tests and for mounting
// elsewhere.
func (s *Server) OsmAndHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		now := s.Now()
		m, err := osmand.DecodeRequest(r, now)
		if err != nil {
			// Decoding errors and unreadable bodies alike: the client's fault.
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		t, err := s.lookup(ctx, m.DeviceID, convoi.ProtocolOsmAnd)
		if err != nil {
			if convoi.ErrorCode(err) == convoi.ENOTFOUND {
				s.logDrop("unknown device rejected", "protocol", "osmand", "device", string(m.DeviceID), "remote", r.RemoteAddr)
				http.Error(w, "unknown device", http.StatusNotFound)
			} else {
				s.Logger.Error("find tracker", "error", err)
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
			}
			return
		}
		dev := s.device(t)
		m.Position.TrackerID, m.Position.ServerTime = t.ID, now
		if m.Position.FixTime.Before(minFixTime) || !m.Position.FixTime.Before(maxFixTime) {
			m.Position.FixTime, m.Position.Valid = now, false
		}
		ps := []convoi.Position{m.Position}
		var evs []convoi.DeviceEvent
		if e, ok := m.Event(); ok {
			e.TrackerID, e.ServerTime, e.Time = t.ID, now, m.Position.FixTime
			evs = append(evs, e)
		}
		dev.lock()
		err = s.store(ctx, dev, ps, evs)
		dev.unlock()
		if err != nil {
			s.Logger.Error("store positions", "device", string(m.DeviceID), "error", err)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
