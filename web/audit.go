package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
)

// The audit hook. Every API request passes through wrap, which starts an
// auditRecord before authentication and appends it to Server.Audit when the
// request ends: every write (any method but GET), every refusal (401, 403)
// and every read during which a handler noted a schedule field
// (noteSchedule), plus every read of the audit log itself. Handlers only
// note what they disclosed or changed; they never append themselves.

// auditRecord collects one request's audit facts. Handlers add to it
// through noteAudit and noteSchedule; it is owned by the request goroutine.
type auditRecord struct {
	e      convoi.AuditEntry
	always bool // recorded whatever the method and outcome
	refuse string
}

type auditCtxKey struct{}

// startAudit begins the audit record of a request to route rt; nil when the
// server has no audit log.
func (s *Server) startAudit(r *http.Request, rt Endpoint) (*auditRecord, *http.Request) {
	if s.Audit == nil {
		return nil, r
	}
	ar := &auditRecord{always: rt.auditReads}
	ar.e.Op = rt.Method + " " + rt.Path
	ar.e.Remote = r.RemoteAddr
	if rt.Method == http.MethodGet {
		ar.e.Kind = convoi.AuditRead
	} else {
		ar.e.Kind = convoi.AuditWrite
	}
	if rt.object != "" {
		if id := r.PathValue("id"); id != "" {
			ar.e.Objects = append(ar.e.Objects, rt.object+":"+id)
		}
	}
	return ar, r.WithContext(context.WithValue(r.Context(), auditCtxKey{}, ar))
}

// who records the authenticated user and token.
func (ar *auditRecord) who(u *convoi.User, tok *convoi.Token) {
	if ar == nil || u == nil {
		return
	}
	ar.e.UserID, ar.e.Username, ar.e.Role = u.ID, u.Username, u.Role
	if tok != nil {
		ar.e.TokenID = tok.ID
	}
}

// endAudit appends the record once the response status is known. An
// append that fails (the log is broken) is logged: the response has left.
func (s *Server) endAudit(ar *auditRecord, rec *recorder) {
	if ar == nil {
		return
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || ar.refuse != "":
		ar.e.Outcome = convoi.AuditRefused
		ar.e.Detail = joinDetail(ar.refuse, ar.e.Detail)
	case status >= 400:
		ar.e.Outcome = convoi.AuditFailed
	default:
		ar.e.Outcome = convoi.AuditAllowed
	}
	if ar.e.Kind == convoi.AuditRead && !ar.always && len(ar.e.Fields) == 0 && ar.e.Outcome != convoi.AuditRefused {
		return // a read that disclosed no schedule field
	}
	ar.e.Status = status
	ar.e.Time = s.Now()
	if err := s.Audit.Append(&ar.e); err != nil {
		s.Logger.Error("audit append failed", "route", ar.e.Op, "error", err.Error())
	}
}

func joinDetail(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func auditFrom(ctx context.Context) *auditRecord {
	ar, _ := ctx.Value(auditCtxKey{}).(*auditRecord)
	return ar
}

// noteAudit adds objects (such as "movement:12") and a detail (such as a
// tracker command's name; never a secret or a schedule value) to the
// request's audit record. It is the hook for handlers whose writes need more
// than the route and its {id}.
func noteAudit(ctx context.Context, detail string, objects ...string) {
	ar := auditFrom(ctx)
	if ar == nil {
		return
	}
	for _, o := range objects {
		if !slices.Contains(ar.e.Objects, o) {
			ar.e.Objects = append(ar.e.Objects, o)
		}
	}
	if detail != "" {
		ar.e.Detail = joinDetail(ar.e.Detail, detail)
	}
}

// noteSchedule records that the request disclosed (a read) or changed (a
// write) schedule fields of movement id: such a read is always recorded.
func noteSchedule(ctx context.Context, id convoi.MovementID, fields ...string) {
	ar := auditFrom(ctx)
	if ar == nil || len(fields) == 0 {
		return
	}
	noteAudit(ctx, "", movementObject(id))
	for _, f := range fields {
		if !slices.Contains(ar.e.Fields, f) {
			ar.e.Fields = append(ar.e.Fields, f)
		}
	}
}

// noteRefusal marks the request as refused by a need-to-know rule, with why.
func noteRefusal(ctx context.Context, id convoi.MovementID, why string, fields ...string) {
	noteSchedule(ctx, id, fields...)
	if ar := auditFrom(ctx); ar != nil {
		ar.refuse = why
	}
}

func movementObject(id convoi.MovementID) string {
	return "movement:" + strconv.FormatInt(int64(id), 10)
}

// scheduleFields lists the schedule fields a movement value carries.
func scheduleFields(m *convoi.Movement) []string {
	var f []string
	if m.PlannedDeparture != nil {
		f = append(f, convoi.FieldDeparture)
	}
	if m.Route != nil {
		f = append(f, convoi.FieldRoute)
	}
	return f
}

// objectKinds names the audit object of a route from the collection in its
// path ("/api/v1/movements/{id}/plan" is about "movement:{id}").
var objectKinds = map[string]string{
	"users": "user", "tokens": "token", "sites": "site", "detainees": "detainee", "intelligence": "intel",
	"movements": "movement", "vehicles": "vehicle", "officers": "officer", "trackers": "tracker",
	"incidents": "incident",
}

// routeObject returns the object kind of a path with an {id}, or "".
func routeObject(path string) string {
	parts := strings.Split(path, "/")
	for i := 1; i < len(parts); i++ {
		if parts[i] == "{id}" {
			return objectKinds[parts[i-1]]
		}
	}
	return ""
}

// commandName is a device command's first word (its name, without the
// arguments, which may carry credentials or server addresses).
func commandName(cmd string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(cmd), " ")
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// auditStreamed records that a stream sent movement m's schedule fields to
// the stream's user: one entry per event, since a stream lives for hours.
func (s *Server) auditStreamed(ctx context.Context, out any) {
	ar := auditFrom(ctx)
	ev, ok := out.(convoi.Event)
	if ar == nil || !ok || ev.Movement == nil {
		return
	}
	fields := scheduleFields(ev.Movement)
	if len(fields) == 0 {
		return
	}
	e := ar.e // who, token, remote and op of the stream request
	e.Objects, e.Fields = []string{movementObject(ev.Movement.ID)}, fields
	e.Outcome, e.Status, e.Detail, e.Time = convoi.AuditAllowed, http.StatusOK, "event", s.Now()
	if err := s.Audit.Append(&e); err != nil {
		s.Logger.Error("audit append failed", "route", e.Op, "error", err.Error())
	}
}
