package web

import (
	"net/http"

	"github.com/convoi/convoi"
)

// handleListPlans lists a movement's plans, newest first: each strategy the
// planning engine stored, and its draw once released. Only the roles that
// prepare or oversee escorts see them (rPlans): a strategy names every
// candidate route and departure time.
func (s *Server) handleListPlans(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMovement(r)
	if err != nil {
		return err
	}
	if s.PlanService == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "Plans are not available on this server.")
	}
	ps, err := s.PlanService.FindPlans(r.Context(), m.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(ps, len(ps), convoi.Page{Limit: len(ps)}))
	return nil
}
