package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

var (
	_ convoi.AssessmentService  = (*AssessmentService)(nil)
	_ convoi.PolicyService      = (*PolicyService)(nil)
	_ convoi.PlanService        = (*PlanService)(nil)
	_ convoi.IdempotencyService = (*IdempotencyService)(nil)
)

// AssessmentService implements convoi.AssessmentService (append-only).
type AssessmentService struct{ db *Store }

// NewAssessmentService returns an AssessmentService on db.
func NewAssessmentService(db *Store) *AssessmentService { return &AssessmentService{db: db} }

// CreateAssessment stores a; its movement must exist (EINVALID otherwise).
// AssessedAt is set from the store's clock and AssessedBy from the context.
func (s *AssessmentService) CreateAssessment(ctx context.Context, a *convoi.Assessment) error {
	if a == nil {
		return convoi.Errorf(convoi.EINVALID, "Assessment required.")
	}
	if a.MovementID == 0 {
		return convoi.Errorf(convoi.EINVALID, "Assessment movement_id required.")
	}
	if !a.Level.Valid() {
		return convoi.Errorf(convoi.EINVALID, "Assessment level must be between 1 and 4.")
	}
	if !finite(a.Score) {
		return convoi.Errorf(convoi.EINVALID, "Assessment score must be a finite number.")
	}
	if a.VehicleClass != "" && !a.VehicleClass.Valid() {
		return convoi.Errorf(convoi.EINVALID, "Assessment vehicle class must be one of the vehicle classes.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "movements", "Movement", int64(a.MovementID)); err != nil {
		return err
	}
	a.AssessedAt, a.AssessedBy = tx.now, tx.by
	body, err := toJSON("Assessment", a)
	if err != nil {
		return err
	}
	id, err := tx.insertContext(ctx, `INSERT INTO assessments (movement_id, level, score, policy_version, body, assessed_by, assessed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.MovementID, a.Level, a.Score, a.PolicyVersion, body, a.AssessedBy, tx.time(a.AssessedAt))
	if err != nil {
		return tx.writeErr(err, "Assessment already exists.")
	}
	a.ID = convoi.AssessmentID(id)
	return tx.Commit()
}

// FindAssessments returns the movement's assessments, newest first (the first is in force).
func (s *AssessmentService) FindAssessments(ctx context.Context, id convoi.MovementID) ([]*convoi.Assessment, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, body, assessed_by, assessed_at FROM assessments
		WHERE movement_id = ? ORDER BY id DESC`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []*convoi.Assessment
	for rows.Next() {
		var a convoi.Assessment
		var aid convoi.AssessmentID
		var by convoi.UserID
		var at time.Time
		if err := rows.Scan(&aid, jsonCol{&a}, &by, timeCol{&at}); err != nil {
			return nil, err
		}
		a.ID, a.MovementID, a.AssessedBy, a.AssessedAt = aid, id, by, at
		as = append(as, &a)
	}
	return orEmpty(as), rows.Err()
}

// PolicyService implements convoi.PolicyService: every version is kept.
type PolicyService struct{ db *Store }

// NewPolicyService returns a PolicyService on db.
func NewPolicyService(db *Store) *PolicyService { return &PolicyService{db: db} }

// FindPolicy returns the most recently saved version of the named policy,
// ENOTFOUND if none.
func (s *PolicyService) FindPolicy(ctx context.Context, name string) (*convoi.PolicyDoc, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var p convoi.PolicyDoc
	var body string
	err = tx.QueryRowContext(ctx, `SELECT name, version, body, created_by, created_at FROM policies
		WHERE name = ? ORDER BY id DESC LIMIT 1`, name).Scan(&p.Name, &p.Version, &body, &p.CreatedBy, timeCol{&p.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Policy %q not found.", name)
	} else if err != nil {
		return nil, err
	}
	p.Body = json.RawMessage(body)
	return &p, nil
}

// SavePolicy stores a new version; the body must be valid JSON and an
// existing (name, version) is ECONFLICT. CreatedBy and CreatedAt are set.
func (s *PolicyService) SavePolicy(ctx context.Context, p *convoi.PolicyDoc) error {
	if p == nil {
		return convoi.Errorf(convoi.EINVALID, "Policy required.")
	}
	if strings.TrimSpace(p.Name) == "" || strings.TrimSpace(p.Version) == "" {
		return convoi.Errorf(convoi.EINVALID, "Policy name and version required.")
	}
	if !json.Valid(p.Body) {
		return convoi.Errorf(convoi.EINVALID, "Policy body must be valid JSON.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	p.CreatedBy, p.CreatedAt = tx.by, tx.now
	if _, err := tx.ExecContext(ctx, `INSERT INTO policies (name, version, body, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.Name, p.Version, string(p.Body), p.CreatedBy, tx.time(p.CreatedAt)); err != nil {
		return tx.writeErr(err, "Policy "+p.Name+" version "+p.Version+" already exists.")
	}
	return tx.Commit()
}

// PlanService implements convoi.PlanService.
type PlanService struct{ db *Store }

// NewPlanService returns a PlanService on db.
func NewPlanService(db *Store) *PlanService { return &PlanService{db: db} }

// CreatePlan stores p without a draw; the movement must exist and the
// strategy be valid JSON (EINVALID otherwise).
func (s *PlanService) CreatePlan(ctx context.Context, p *convoi.Plan) error {
	if p == nil {
		return convoi.Errorf(convoi.EINVALID, "Plan required.")
	}
	if p.MovementID == 0 {
		return convoi.Errorf(convoi.EINVALID, "Plan movement_id required.")
	}
	if !json.Valid(p.Strategy) {
		return convoi.Errorf(convoi.EINVALID, "Plan strategy must be valid JSON.")
	}
	if !finite(p.Value) || p.Value < 0 || p.Value > 1 {
		return convoi.Errorf(convoi.EINVALID, "Plan value must be a probability between 0 and 1.")
	}
	if p.Draw != nil {
		return convoi.Errorf(convoi.EINVALID, "A plan is created without a draw; use SetPlanDraw.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.mustExist(ctx, "movements", "Movement", int64(p.MovementID)); err != nil {
		return err
	}
	p.CreatedBy, p.CreatedAt = tx.by, tx.now
	strategy, err := s.db.sealText(adStrategy(p.MovementID), string(p.Strategy))
	if err != nil {
		return err
	}
	id, err := tx.insertContext(ctx, `INSERT INTO plans (movement_id, strategy, value, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.MovementID, strategy, p.Value, p.CreatedBy, tx.time(p.CreatedAt))
	if err != nil {
		return tx.writeErr(err, "Plan already exists.")
	}
	p.ID = convoi.PlanID(id)
	return tx.Commit()
}

// FindPlans returns the movement's plans, newest first.
func (s *PlanService) FindPlans(ctx context.Context, id convoi.MovementID) ([]*convoi.Plan, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findPlans(ctx, tx, "movement_id = ?", id)
}

// SetPlanDraw records the draw once, with DrawnBy from the context and
// DrawnAt from the store's clock. ENOTFOUND for a missing plan, ECONFLICT
// for a second draw.
func (s *PlanService) SetPlanDraw(ctx context.Context, id convoi.PlanID, d convoi.PlanDraw) error {
	if d.RouteIndex < 0 {
		return convoi.Errorf(convoi.EINVALID, "Draw route_index must not be negative.")
	}
	if d.Departure.IsZero() {
		return convoi.Errorf(convoi.EINVALID, "Draw departure required.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ps, err := findPlans(ctx, tx, "id = ?", id)
	if err != nil {
		return err
	} else if len(ps) == 0 {
		return convoi.Errorf(convoi.ENOTFOUND, "Plan %d not found.", id)
	} else if ps[0].Draw != nil {
		return convoi.Errorf(convoi.ECONFLICT, "Plan %d has already been drawn.", id)
	}
	var idx, dep any = d.RouteIndex, textTime(d.Departure)
	if s.db.sealer() != nil { // the index and the departure, sealed together
		js, err := toJSON("Draw", storedDraw{RouteIndex: d.RouteIndex, Departure: textTime(d.Departure)})
		if err != nil {
			return err
		}
		if dep, err = s.db.sealText(adDraw(ps[0].MovementID), js); err != nil {
			return err
		}
		idx = nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE plans SET draw_route_index = ?, draw_departure = ?, drawn_by = ?, drawn_at = ?
		WHERE id = ? AND drawn_at IS NULL`, idx, dep, tx.by, tx.time(tx.now), id); err != nil {
		return err
	}
	return tx.Commit()
}

func findPlans(ctx context.Context, tx *Tx, cond string, arg any) ([]*convoi.Plan, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, movement_id, strategy, value, draw_route_index, draw_departure, drawn_by, drawn_at,
		created_by, created_at FROM plans WHERE `+cond+` ORDER BY id DESC`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var a []*convoi.Plan
	for rows.Next() {
		var p convoi.Plan
		var strategy string
		var idx sql.NullInt64
		var by convoi.UserID
		var depText sql.NullString
		var at *time.Time
		if err := rows.Scan(&p.ID, &p.MovementID, &strategy, &p.Value, &idx, &depText, idCol[convoi.UserID]{&by},
			nullTimeCol{&at}, &p.CreatedBy, timeCol{&p.CreatedAt}); err != nil {
			return nil, err
		}
		if strategy, err = tx.db.openText(adStrategy(p.MovementID), strategy); err != nil {
			return nil, err
		}
		p.Strategy = json.RawMessage(strategy)
		if at != nil && depText.Valid {
			d, err := tx.db.openDraw(p.MovementID, idx, depText.String)
			if err != nil {
				return nil, err
			}
			d.DrawnBy, d.DrawnAt = by, *at
			p.Draw = d
		}
		a = append(a, &p)
	}
	return orEmpty(a), rows.Err()
}

// IdempotencyService implements convoi.IdempotencyService.
type IdempotencyService struct{ db *Store }

// NewIdempotencyService returns an IdempotencyService on db.
func NewIdempotencyService(db *Store) *IdempotencyService { return &IdempotencyService{db: db} }

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// FindIdempotency returns the (user, key) record created at or after since,
// ENOTFOUND if there is none.
func (s *IdempotencyService) FindIdempotency(ctx context.Context, user convoi.UserID, key string, since time.Time) (*convoi.IdempotencyRecord, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var r convoi.IdempotencyRecord
	err = tx.QueryRowContext(ctx, `SELECT user_id, key, method, path, body_hash, status, content_type, response, created_at
		FROM idempotency WHERE user_id = ? AND key = ? AND created_at >= ?`, user, key, tx.time(since)).Scan(
		&r.UserID, &r.Key, &r.Method, &r.Path, &r.BodyHash, &r.Status, &r.ContentType, &r.Response, timeCol{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, convoi.Errorf(convoi.ENOTFOUND, "Idempotency record not found.")
	} else if err != nil {
		return nil, err
	}
	if r.Response, err = s.db.openBlob(adResponse(r.UserID, r.Key), r.Response); err != nil {
		return nil, err
	}
	return &r, nil
}

// SaveIdempotency stores r with CreatedAt from the store's clock. A record
// for the same (user, key) younger than DB.IdempotencyTTL is ECONFLICT (a
// concurrent request with the same key won); an older one is replaced.
// Expired records of every user are purged on the way.
func (s *IdempotencyService) SaveIdempotency(ctx context.Context, r *convoi.IdempotencyRecord) error {
	if r == nil {
		return convoi.Errorf(convoi.EINVALID, "Idempotency record required.")
	}
	if r.Key == "" || len(r.Key) > MaxIdempotencyKey {
		return convoi.Errorf(convoi.EINVALID, "Idempotency-Key must be 1-%d characters.", MaxIdempotencyKey)
	}
	if r.Status < 100 || r.Status > 599 {
		return convoi.Errorf(convoi.EINVALID, "Idempotency record status must be an HTTP status.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	cutoff := tx.time(tx.now.Add(-s.db.idempotencyTTL()))
	if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE created_at < ?`, cutoff); err != nil {
		return err
	}
	r.CreatedAt = tx.now
	if r.BodyHash == nil {
		r.BodyHash = []byte{}
	}
	if r.Response == nil {
		r.Response = []byte{}
	}
	response, err := s.db.sealBlob(adResponse(r.UserID, r.Key), r.Response)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency (user_id, key, method, path, body_hash, status, content_type,
		response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.UserID, r.Key, r.Method, r.Path, r.BodyHash, r.Status, r.ContentType, response, tx.time(r.CreatedAt)); err != nil {
		return tx.writeErr(err, "A request with this Idempotency-Key is already recorded.")
	}
	return tx.Commit()
}
