package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/convoi/convoi"
)

// Sealer encrypts schedule values before they reach the database
// (seal.Keyring, AES-256-GCM under a key file outside the database).
// Open must fail for a value sealed with another ad.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
	// SealedWith reports whether a value was sealed with the current key.
	SealedWith(sealed []byte) bool
}

// sealedPrefix marks a sealed text value ("sealed:" and the base64 of the
// sealed bytes) or a sealed blob ("sealed:" and the bytes).
const sealedPrefix = "sealed:"

// What is sealed, with the ad that binds each value to its place:
//
//	movements.planned_departure, movements.route   ad: column and movement ref
//	plans.strategy                                 ad: column and plan's movement ID
//	plans.draw_departure (route index and departure as JSON; draw_route_index NULL)
//	transitions.override (it may quote the drawn departure)
//	idempotency.response (a replayed response may carry a movement)
//
// Without a Sealer, values are stored in clear as before; with one, values
// stored in clear are still read (until Reseal seals them).

// sealText seals a text value; without a Sealer it returns it unchanged.
func (db *Store) sealText(ad, plain string) (string, error) {
	if db.sealer() == nil {
		return plain, nil
	}
	b, err := db.sealer().Seal([]byte(plain), []byte(ad))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", adColumn(ad), err)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// openText opens a value written by sealText (or stored in clear).
func (db *Store) openText(ad, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if db.sealer() == nil {
		return "", fmt.Errorf("%s is sealed and no seal key is configured", adColumn(ad))
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", adColumn(ad), err)
	}
	p, err := db.sealer().Open(b, []byte(ad))
	if err != nil {
		return "", fmt.Errorf("open %s: %w", adColumn(ad), err)
	}
	return string(p), nil
}

func (db *Store) sealBlob(ad string, plain []byte) ([]byte, error) {
	if db.sealer() == nil {
		return plain, nil
	}
	b, err := db.sealer().Seal(plain, []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", adColumn(ad), err)
	}
	return append([]byte(sealedPrefix), b...), nil
}

func (db *Store) openBlob(ad string, stored []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(sealedPrefix))
	if !ok {
		return stored, nil
	}
	if db.sealer() == nil {
		return nil, fmt.Errorf("%s is sealed and no seal key is configured", adColumn(ad))
	}
	p, err := db.sealer().Open(rest, []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", adColumn(ad), err)
	}
	return p, nil
}

func adColumn(ad string) string { c, _, _ := strings.Cut(ad, " "); return c }

// The ads of the sealed columns.
func adDeparture(ref string) string { return "movements.planned_departure " + ref }
func adRoute(ref string) string     { return "movements.route " + ref }
func adStrategy(m convoi.MovementID) string {
	return "plans.strategy " + strconv.FormatInt(int64(m), 10)
}
func adDraw(m convoi.MovementID) string { return "plans.draw " + strconv.FormatInt(int64(m), 10) }
func adOverride(m convoi.MovementID) string {
	return "transitions.override " + strconv.FormatInt(int64(m), 10)
}
func adResponse(u convoi.UserID, key string) string {
	return "idempotency.response " + strconv.FormatInt(int64(u), 10) + " " + key
}

// sealMovement returns the stored forms of m's departure and route.
func (db *Store) sealMovement(m *convoi.Movement) (dep, route any, err error) {
	if m.PlannedDeparture != nil {
		if dep, err = db.sealText(adDeparture(m.Ref), textTime(*m.PlannedDeparture)); err != nil {
			return nil, nil, err
		}
	}
	if m.Route != nil {
		js, err := toJSON("Route", m.Route)
		if err != nil {
			return nil, nil, err
		}
		if route, err = db.sealText(adRoute(m.Ref), js); err != nil {
			return nil, nil, err
		}
	}
	return dep, route, nil
}

// openMovement fills m's departure and route from their stored forms.
func (db *Store) openMovement(m *convoi.Movement, dep, route sql.NullString) error {
	m.PlannedDeparture, m.Route = nil, nil
	if dep.Valid {
		s, err := db.openText(adDeparture(m.Ref), dep.String)
		if err != nil {
			return err
		}
		if err := (nullTimeCol{&m.PlannedDeparture}).Scan(s); err != nil {
			return err
		}
	}
	if route.Valid {
		s, err := db.openText(adRoute(m.Ref), route.String)
		if err != nil {
			return err
		}
		if err := (jsonCol{&m.Route}).Scan(s); err != nil {
			return err
		}
	}
	return nil
}

// Reseal seals, with the Sealer's current key, every schedule value stored
// in clear or under an older key, in one transaction, and returns how many
// values it rewrote. Run it after adding a key to the key file (key
// rotation) or after turning sealing on; then older keys may be dropped.
func (db *Store) Reseal(ctx context.Context) (int, error) {
	if db.sealer() == nil {
		return 0, convoi.Errorf(convoi.EINVALID, "No seal key configured.")
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n := 0
	current := func(stored string) bool {
		rest, ok := strings.CutPrefix(stored, sealedPrefix)
		if !ok {
			return false
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		return err == nil && db.sealer().SealedWith(b)
	}
	reseal := func(ad, stored string) (string, bool, error) {
		if current(stored) {
			return stored, false, nil
		}
		plain, err := db.openText(ad, stored)
		if err != nil {
			return "", false, err
		}
		s, err := db.sealText(ad, plain)
		return s, true, err
	}
	type textCol struct {
		query, update string
		ad            func(key string) string
	}
	for _, c := range []textCol{
		{`SELECT ref, planned_departure FROM movements WHERE planned_departure IS NOT NULL`, `UPDATE movements SET planned_departure = ? WHERE ref = ?`, adDeparture},
		{`SELECT ref, route FROM movements WHERE route IS NOT NULL`, `UPDATE movements SET route = ? WHERE ref = ?`, adRoute},
	} {
		if err := resealRows(ctx, tx, c.query, c.update, c.ad, reseal, &n); err != nil {
			return 0, err
		}
	}
	// Keyed by row ID, ad by movement ID.
	for _, c := range []struct {
		query, update string
		ad            func(convoi.MovementID) string
	}{
		{`SELECT id, movement_id, strategy FROM plans`, `UPDATE plans SET strategy = ? WHERE id = ?`, adStrategy},
		{`SELECT id, movement_id, draw_departure FROM plans WHERE draw_departure IS NOT NULL`, `UPDATE plans SET draw_departure = ?, draw_route_index = NULL WHERE id = ?`, adDraw},
		{`SELECT id, movement_id, override FROM transitions WHERE override != ''`, `UPDATE transitions SET override = ? WHERE id = ?`, adOverride},
	} {
		rows, err := tx.QueryContext(ctx, c.query)
		if err != nil {
			return 0, err
		}
		type row struct {
			id  int64
			mv  convoi.MovementID
			val string
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.mv, &r.val); err != nil {
				rows.Close()
				return 0, err
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		for _, r := range rs {
			val := r.val
			if c.ad(0) == adDraw(0) && !strings.HasPrefix(val, sealedPrefix) {
				// A draw stored in clear: its route index is in its own column.
				if val, err = drawInClear(ctx, tx, r.id, val); err != nil {
					return 0, err
				}
			}
			s, changed, err := reseal(c.ad(r.mv), val)
			if err != nil {
				return 0, err
			}
			if changed {
				if _, err := tx.ExecContext(ctx, c.update, s, r.id); err != nil {
					return 0, err
				}
				n++
			}
		}
	}
	// Idempotency responses are blobs.
	rows, err := tx.QueryContext(ctx, `SELECT user_id, key, response FROM idempotency`)
	if err != nil {
		return 0, err
	}
	type resp struct {
		user convoi.UserID
		key  string
		b    []byte
	}
	var rs []resp
	for rows.Next() {
		var r resp
		if err := rows.Scan(&r.user, &r.key, &r.b); err != nil {
			rows.Close()
			return 0, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range rs {
		if rest, ok := bytes.CutPrefix(r.b, []byte(sealedPrefix)); ok && db.sealer().SealedWith(rest) {
			continue
		}
		plain, err := db.openBlob(adResponse(r.user, r.key), r.b)
		if err != nil {
			return 0, err
		}
		s, err := db.sealBlob(adResponse(r.user, r.key), plain)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idempotency SET response = ? WHERE user_id = ? AND key = ?`, s, r.user, r.key); err != nil {
			return 0, err
		}
		n++
	}
	return n, tx.Commit()
}

// resealRows reseals a text column keyed by a text key.
func resealRows(ctx context.Context, tx *Tx, query, update string, ad func(string) string,
	reseal func(ad, stored string) (string, bool, error), n *int) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	var keys, vals []string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range keys {
		s, changed, err := reseal(ad(keys[i]), vals[i])
		if err != nil {
			return err
		}
		if changed {
			if _, err := tx.ExecContext(ctx, update, s, keys[i]); err != nil {
				return err
			}
			*n++
		}
	}
	return nil
}

// storedDraw is a draw as sealed in plans.draw_departure.
type storedDraw struct {
	RouteIndex int    `json:"route_index"`
	Departure  string `json:"departure"`
}

// openDraw reads a draw: sealed JSON, or a departure in clear with its
// route index in draw_route_index.
func (db *Store) openDraw(mv convoi.MovementID, idx sql.NullInt64, dep string) (*convoi.PlanDraw, error) {
	if !strings.HasPrefix(dep, sealedPrefix) {
		t, err := parseTime(dep)
		if err != nil {
			return nil, err
		}
		return &convoi.PlanDraw{RouteIndex: int(idx.Int64), Departure: t}, nil
	}
	js, err := db.openText(adDraw(mv), dep)
	if err != nil {
		return nil, err
	}
	var sd storedDraw
	if err := json.Unmarshal([]byte(js), &sd); err != nil {
		return nil, fmt.Errorf("open plans.draw: %w", err)
	}
	t, err := parseTime(sd.Departure)
	if err != nil {
		return nil, err
	}
	return &convoi.PlanDraw{RouteIndex: sd.RouteIndex, Departure: t}, nil
}

// drawInClear returns a draw stored in clear as the JSON that is sealed.
func drawInClear(ctx context.Context, tx *Tx, planID int64, dep string) (string, error) {
	var idx sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT draw_route_index FROM plans WHERE id = ?`, planID).Scan(&idx); err != nil {
		return "", err
	}
	return toJSON("Draw", storedDraw{RouteIndex: int(idx.Int64), Departure: dep})
}

// CheckSealKey opens the newest sealed plan strategy, so that a store
// opened with the wrong key file (or none) fails at once rather than at
// the first release or schedule read. Without sealed values it succeeds.
func (db *Store) CheckSealKey(ctx context.Context) error {
	tx, err := db.beginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var mv convoi.MovementID
	var val string
	err = tx.QueryRowContext(ctx, `SELECT movement_id, strategy FROM plans WHERE strategy LIKE 'sealed:%' ORDER BY id DESC LIMIT 1`).Scan(&mv, &val)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = db.openText(adStrategy(mv), val)
	return err
}
