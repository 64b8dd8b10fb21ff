package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/convoi/convoi"
)

// ErrorResponse is the one error body of the API:
//
//	{"error": {"code": "invalid", "message": "Unknown field \"foo\"."}}
//
// Code is one of the convoi error codes; Message is safe to show to a user.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inside of an ErrorResponse.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// codes maps each application error code to its one HTTP status. This map is
// the only place in convoi where domain errors become status codes.
var codes = map[string]int{
	convoi.EINVALID:      http.StatusBadRequest,
	convoi.ENOTFOUND:     http.StatusNotFound,
	convoi.ECONFLICT:     http.StatusConflict,
	convoi.EUNAUTHORIZED: http.StatusUnauthorized,
	convoi.EFORBIDDEN:    http.StatusForbidden,
	convoi.EUNAVAILABLE:  http.StatusServiceUnavailable,
	convoi.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatusCode returns the HTTP status of an application error code
// (500 for an unknown code).
func ErrorStatusCode(code string) int {
	if v, ok := codes[code]; ok {
		return v
	}
	return http.StatusInternalServerError
}

// statusError is an error whose HTTP status is finer than its code's, such as
// 405, 413 or 415. Only the web package makes them.
type statusError struct {
	status int
	err    *convoi.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func withStatus(status int, code, format string, args ...any) error {
	return &statusError{status: status, err: convoi.Errorf(code, format, args...)}
}

// writeError writes err as an ErrorResponse. Internal errors are logged
// (once, here, at the edge) and shown to the client as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, message := convoi.ErrorCode(err), convoi.ErrorMessage(err)
	status := ErrorStatusCode(code)
	var se *statusError
	if errors.As(err, &se) {
		status = se.status
	}
	if code == convoi.EINTERNAL {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "http error",
			slog.String("method", r.Method), slog.String("route", routeLabel(r)), slog.String("error", err.Error()))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="convoi"`)
	}
	writeJSON(w, status, &ErrorResponse{Error: ErrorBody{Code: code, Message: message}})
}

// writeJSON writes v with status. API responses are never cached: they carry
// schedules and credentials.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}
