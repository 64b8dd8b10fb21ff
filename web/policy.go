package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/convoi/convoi"
)

func (s *Server) handleGetRiskPolicy(w http.ResponseWriter, r *http.Request) error {
	if s.Risk == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No risk engine is configured on this server.")
	}
	doc, err := s.Risk.PolicyDoc(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// handlePutRiskPolicy stores the request body as a new version of the risk
// policy. The engine validates it strictly; a version already stored is a
// conflict, so every replacement carries a new version.
func (s *Server) handlePutRiskPolicy(w http.ResponseWriter, r *http.Request) error {
	if s.Risk == nil {
		return convoi.Errorf(convoi.EUNAVAILABLE, "No risk engine is configured on this server.")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooLarge(tooBig.Limit)
		}
		return convoi.Errorf(convoi.EINVALID, "Cannot read the request body.")
	}
	doc, err := s.Risk.SavePolicy(r.Context(), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}
