package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testAssessment(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	m := w.movement("MC-RISK", T0.Add(24*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m))
	first := &convoi.Assessment{MovementID: m.ID, Score: 41.5, Level: 2, LevelMeaning: "reinforced", MinCrew: 3,
		Qualifications: []convoi.QualRequirement{{Qualification: convoi.QualArmed, Count: 2}}, VehicleClass: convoi.VehicleCellularVan,
		Recommendation: convoi.RecommendEscort,
		Factors:        []convoi.Factor{{Code: "organised_crime", Label: "Organised-crime link", Weight: 20, Value: 1, Points: 20, Evidence: []string{"risk record"}}},
		IntelIDs:       []convoi.IntelID{}, PolicyVersion: "2026-03"}
	second := &convoi.Assessment{MovementID: m.ID, Score: 88, Level: 4, MinCrew: 6, VehicleClass: convoi.VehicleArmouredVan,
		ArmedSupport: true, MustNotStop: true, Recommendation: convoi.RecommendVideoHearing, IntelIDs: []convoi.IntelID{1, 2}, PolicyVersion: "2026-03"}

	t.Run("Create", func(t *testing.T) {
		must(t, e.Assessments.CreateAssessment(e.ctx, first))
		e.clock.Add(time.Hour)
		must(t, e.Assessments.CreateAssessment(e.ctx2, second))
		got, err := e.Assessments.FindAssessments(e.ctx, m.ID)
		must(t, err)
		same(t, "count", len(got), 2)
		same(t, "newest first", [2]convoi.AssessmentID{got[0].ID, got[1].ID}, [2]convoi.AssessmentID{second.ID, first.ID})
		g := got[1]
		same(t, "movement", g.MovementID, m.ID)
		same(t, "level", g.Level, convoi.EscortLevel(2))
		same(t, "score", g.Score, 41.5)
		same(t, "factors", g.Factors, first.Factors)
		same(t, "qualifications", g.Qualifications, first.Qualifications)
		same(t, "policy version", g.PolicyVersion, "2026-03")
		same(t, "assessed_by", g.AssessedBy, author)
		sameTime(t, "assessed_at", g.AssessedAt, T0)
		same(t, "second by", got[0].AssessedBy, author2)
		sameTime(t, "second at", got[0].AssessedAt, T0.Add(time.Hour))
		same(t, "flags", [2]bool{got[0].ArmedSupport, got[0].MustNotStop}, [2]bool{true, true})
		same(t, "intel ids", got[0].IntelIDs, []convoi.IntelID{1, 2})
		got, err = e.Assessments.FindAssessments(e.ctx, 9999)
		must(t, err)
		same(t, "none for unknown movement", len(got), 0)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			a    convoi.Assessment
		}{
			{"MissingMovement", convoi.Assessment{MovementID: 9999, Level: 1}},
			{"NoMovement", convoi.Assessment{Level: 1}},
			{"LevelTooHigh", convoi.Assessment{MovementID: m.ID, Level: 5}},
			{"LevelZero", convoi.Assessment{MovementID: m.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := tc.a
				wantCode(t, e.Assessments.CreateAssessment(e.ctx, &a), convoi.EINVALID)
			})
		}
		got, err := e.Assessments.FindAssessments(e.ctx, m.ID)
		must(t, err)
		same(t, "count", len(got), 2)
	})
}

func testPolicy(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	_, err := e.Policies.FindPolicy(e.ctx, "risk")
	wantCode(t, err, convoi.ENOTFOUND)

	v1 := &convoi.PolicyDoc{Name: "risk", Version: "2026-01", Body: json.RawMessage(`{"levels":[1,2,3,4]}`)}
	must(t, e.Policies.SavePolicy(e.ctx, v1))
	got, err := e.Policies.FindPolicy(e.ctx, "risk")
	must(t, err)
	same(t, "version", got.Version, "2026-01")
	same(t, "created_by", got.CreatedBy, author)
	sameTime(t, "created_at", got.CreatedAt, T0)
	var body map[string]any
	must(t, json.Unmarshal(got.Body, &body))
	same(t, "body", body["levels"], []any{1.0, 2.0, 3.0, 4.0})

	e.clock.Add(time.Hour)
	// Versions are opaque labels: the latest saved is current, whatever it sorts as.
	v0 := &convoi.PolicyDoc{Name: "risk", Version: "2025-12-hotfix", Body: json.RawMessage(`{"levels":[1,2]}`)}
	must(t, e.Policies.SavePolicy(e.ctx2, v0))
	got, err = e.Policies.FindPolicy(e.ctx, "risk")
	must(t, err)
	same(t, "current version", got.Version, "2025-12-hotfix")
	same(t, "current by", got.CreatedBy, author2)

	must(t, e.Policies.SavePolicy(e.ctx, &convoi.PolicyDoc{Name: "escort", Version: "2026-01", Body: json.RawMessage(`{}`)}))
	got, err = e.Policies.FindPolicy(e.ctx, "risk")
	must(t, err)
	same(t, "other policy does not shadow", got.Version, "2025-12-hotfix")

	for _, tc := range []struct {
		name string
		p    convoi.PolicyDoc
		code string
	}{
		{"DuplicateVersion", convoi.PolicyDoc{Name: "risk", Version: "2026-01", Body: json.RawMessage(`{}`)}, convoi.ECONFLICT},
		{"NoName", convoi.PolicyDoc{Version: "1", Body: json.RawMessage(`{}`)}, convoi.EINVALID},
		{"NoVersion", convoi.PolicyDoc{Name: "risk", Body: json.RawMessage(`{}`)}, convoi.EINVALID},
		{"BadJSON", convoi.PolicyDoc{Name: "risk", Version: "x", Body: json.RawMessage(`{`)}, convoi.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			wantCode(t, e.Policies.SavePolicy(e.ctx, &p), tc.code)
		})
	}
	got, err = e.Policies.FindPolicy(e.ctx, "risk")
	must(t, err)
	same(t, "current after failures", got.Version, "2025-12-hotfix")
}

func testPlan(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	m := w.movement("MC-PLAN", T0.Add(24*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m))
	p1 := &convoi.Plan{MovementID: m.ID, Strategy: json.RawMessage(`{"routes":[0.6,0.4]}`), Value: 0.12}
	p2 := &convoi.Plan{MovementID: m.ID, Strategy: json.RawMessage(`{"routes":[0.5,0.3,0.2]}`), Value: 0.08}

	t.Run("Create", func(t *testing.T) {
		must(t, e.Plans.CreatePlan(e.ctx, p1))
		e.clock.Add(time.Minute)
		must(t, e.Plans.CreatePlan(e.ctx, p2))
		got, err := e.Plans.FindPlans(e.ctx, m.ID)
		must(t, err)
		same(t, "newest first", [2]convoi.PlanID{got[0].ID, got[1].ID}, [2]convoi.PlanID{p2.ID, p1.ID})
		var s map[string]any
		must(t, json.Unmarshal(got[1].Strategy, &s))
		same(t, "strategy", s["routes"], []any{0.6, 0.4})
		same(t, "value", got[1].Value, 0.12)
		same(t, "created_by", got[1].CreatedBy, author)
		sameTime(t, "created_at", got[1].CreatedAt, T0)
		if got[0].Draw != nil {
			t.Fatal("draw set on a new plan")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			p    convoi.Plan
		}{
			{"MissingMovement", convoi.Plan{MovementID: 9999, Strategy: json.RawMessage(`{}`)}},
			{"BadJSON", convoi.Plan{MovementID: m.ID, Strategy: json.RawMessage(`nope`)}},
			{"ValueAboveOne", convoi.Plan{MovementID: m.ID, Strategy: json.RawMessage(`{}`), Value: 1.5}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.p
				wantCode(t, e.Plans.CreatePlan(e.ctx, &p), convoi.EINVALID)
			})
		}
	})

	t.Run("DrawOnce", func(t *testing.T) {
		e.clock.Add(time.Hour)
		dep := T0.Add(22*time.Hour + 47*time.Minute)
		must(t, e.Plans.SetPlanDraw(e.ctx2, p2.ID, convoi.PlanDraw{RouteIndex: 2, Departure: dep, DrawnBy: 999}))
		got, err := e.Plans.FindPlans(e.ctx, m.ID)
		must(t, err)
		d := got[0].Draw
		if d == nil {
			t.Fatal("draw not stored")
		}
		same(t, "route index", d.RouteIndex, 2)
		same(t, "drawn_by from context", d.DrawnBy, author2)
		sameTime(t, "departure", d.Departure, dep)
		sameTime(t, "drawn_at", d.DrawnAt, T0.Add(time.Minute+time.Hour))
		if got[1].Draw != nil {
			t.Fatal("draw leaked to the other plan")
		}
		wantCode(t, e.Plans.SetPlanDraw(e.ctx, p2.ID, convoi.PlanDraw{RouteIndex: 0, Departure: dep}), convoi.ECONFLICT)
		wantCode(t, e.Plans.SetPlanDraw(e.ctx, 9999, convoi.PlanDraw{RouteIndex: 0, Departure: dep}), convoi.ENOTFOUND)
		wantCode(t, e.Plans.SetPlanDraw(e.ctx, p1.ID, convoi.PlanDraw{RouteIndex: -1, Departure: dep}), convoi.EINVALID)
		wantCode(t, e.Plans.SetPlanDraw(e.ctx, p1.ID, convoi.PlanDraw{RouteIndex: 0}), convoi.EINVALID)
		got, err = e.Plans.FindPlans(e.ctx, m.ID)
		must(t, err)
		same(t, "draw unchanged", got[0].Draw.RouteIndex, 2)
	})
}

func testIdempotency(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	rec := func(user convoi.UserID, key, body string) *convoi.IdempotencyRecord {
		return &convoi.IdempotencyRecord{UserID: user, Key: key, Method: "POST", Path: "/api/v1/movements",
			BodyHash: hash(body), Status: 201, ContentType: "application/json", Response: []byte(`{"id":1}`)}
	}
	r := rec(author, "k-1", "body")
	must(t, e.Idempotency.SaveIdempotency(e.ctx, r))
	sameTime(t, "created_at", r.CreatedAt, T0)

	e.clock.Add(time.Hour)
	got, err := e.Idempotency.FindIdempotency(e.ctx, author, "k-1", e.clock.Now().Add(-24*time.Hour))
	must(t, err)
	same(t, "record", [5]any{got.UserID, got.Key, got.Method, got.Path, got.Status}, [5]any{author, "k-1", "POST", "/api/v1/movements", 201})
	same(t, "body hash", got.BodyHash, hash("body"))
	same(t, "response", string(got.Response), `{"id":1}`)
	same(t, "content type", got.ContentType, "application/json")
	sameTime(t, "stored created_at", got.CreatedAt, T0)

	_, err = e.Idempotency.FindIdempotency(e.ctx, author, "k-1", T0.Add(time.Second))
	wantCode(t, err, convoi.ENOTFOUND)
	_, err = e.Idempotency.FindIdempotency(e.ctx, author2, "k-1", T0.Add(-time.Hour))
	wantCode(t, err, convoi.ENOTFOUND)
	_, err = e.Idempotency.FindIdempotency(e.ctx, author, "k-2", T0.Add(-time.Hour))
	wantCode(t, err, convoi.ENOTFOUND)

	// Keys are per user.
	must(t, e.Idempotency.SaveIdempotency(e.ctx2, rec(author2, "k-1", "other")))
	// A live record is not replaced.
	wantCode(t, e.Idempotency.SaveIdempotency(e.ctx, rec(author, "k-1", "other")), convoi.ECONFLICT)
	got, err = e.Idempotency.FindIdempotency(e.ctx, author, "k-1", T0.Add(-time.Hour))
	must(t, err)
	same(t, "body hash kept", got.BodyHash, hash("body"))

	// After 24 hours the key may be reused.
	e.clock.Add(24 * time.Hour)
	r2 := rec(author, "k-1", "later")
	must(t, e.Idempotency.SaveIdempotency(e.ctx, r2))
	got, err = e.Idempotency.FindIdempotency(e.ctx, author, "k-1", e.clock.Now().Add(-24*time.Hour))
	must(t, err)
	same(t, "replaced body hash", got.BodyHash, hash("later"))

	for _, tc := range []struct {
		name string
		r    *convoi.IdempotencyRecord
	}{
		{"NoKey", rec(author, "", "b")},
		{"LongKey", rec(author, string(make([]byte, 300)), "b")},
		{"BadStatus", &convoi.IdempotencyRecord{UserID: author, Key: "k-9", Status: 42}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, e.Idempotency.SaveIdempotency(e.ctx, tc.r), convoi.EINVALID)
		})
	}
}
