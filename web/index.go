package web

import "net/http"

// apiIndex is the body of GET /api/v1: where a newcomer starts. It is
// served without authentication and says nothing about the data.
type apiIndex struct {
	Name    string `json:"name"`
	Login   string `json:"login"`
	Auth    string `json:"auth"`
	OpenAPI string `json:"openapi"`
	Health  string `json:"health"`
	Ready   string `json:"ready"`
	Docs    string `json:"docs"`
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, &apiIndex{
		Name:    "convoi API v1",
		Login:   `POST /api/v1/session with {"username": "...", "password": "..."} returns {"token": "..."}`,
		Auth:    "send Authorization: Bearer TOKEN on every other call",
		OpenAPI: "/api/v1/openapi.json (with the token)",
		Health:  "/healthz",
		Ready:   "/readyz",
		Docs:    "docs/api.md in the source tree",
	})
	return nil
}
