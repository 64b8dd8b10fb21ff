package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"
)

// BenchmarkAuditHook measures the audit hook alone, as wrap runs it around
// a schedule read: start the record, note who and the fields, append when
// the response is done. p99 is what it adds to such a request.
func BenchmarkAuditHook(b *testing.B) {
	l := audit.New(b.TempDir())
	if err := l.Open(); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := New()
	s.Logger = slog.New(slog.DiscardHandler)
	s.Audit = l
	rt := Endpoint{Method: "GET", Path: "/api/v1/movements/{id}", object: "movement"}
	u := &convoi.User{ID: 3, Username: "control1", Role: convoi.RoleControl}
	tok := &convoi.Token{ID: 17}
	req := httptest.NewRequest("GET", "/api/v1/movements/12", nil)
	req.SetPathValue("id", "12")
	req.RemoteAddr = "127.0.0.1:40000"
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		rec := &recorder{ResponseWriter: httptest.NewRecorder(), status: http.StatusOK}
		ar, r := s.startAudit(req, rt)
		ar.who(u, tok)
		noteSchedule(r.Context(), 12, convoi.FieldDeparture, convoi.FieldRoute)
		s.endAudit(ar, rec)
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-us")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds())/1000, "p999-us")
}
