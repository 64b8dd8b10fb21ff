// Package convoi is the domain of a secure prisoner-escort system: the vocabulary
// (sites, detainees, intelligence, movements, vehicles, officers, trackers, users,
// positions, alarms), the named ID types, the service interfaces that adapters
// implement, and the error type that crosses every layer.
//
// It imports only the standard library. Engines (roadnet, risk, ambush, tracker,
// ...) and adapters (sqlite, web, ...) import it; it never imports them.
package convoi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Application error codes. They are deliberately few; the web package maps
// each to one HTTP status and nothing else does.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
)

// Error is an application error with a machine-readable code and a message
// that is safe to show to the caller. Wrap it with fmt.Errorf("...: %w", err)
// to add context; ErrorCode and ErrorMessage unwrap.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("convoi error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for other errors so that internals never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// LatLon is a WGS84 position in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Validate reports an EINVALID error when the position is out of range or not a number.
func (p LatLon) Validate() error {
	if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
		return Errorf(EINVALID, "Coordinates out of range: lat must be in [-90, 90] and lon in [-180, 180].")
	}
	return nil
}

// IsZero reports whether p is the zero value (0, 0), which convoi treats as "unset".
func (p LatLon) IsZero() bool { return p.Lat == 0 && p.Lon == 0 }

// DistanceM returns the great-circle distance to q in metres (haversine, mean Earth radius).
func (p LatLon) DistanceM(q LatLon) float64 {
	const r = 6371008.8
	la1, la2 := p.Lat*math.Pi/180, q.Lat*math.Pi/180
	dla, dlo := la2-la1, (q.Lon-p.Lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Named identifiers. Zero means "none".
type (
	SiteID     int64
	DetaineeID int64
	IntelID    int64
	MovementID int64
	VehicleID  int64
	OfficerID  int64
	TrackerID  int64
	UserID     int64
	TokenID    int64
)

// Page selects a window of a listing. Limit 0 means DefaultPageLimit; the
// store caps it at MaxPageLimit.
type Page struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Normalize returns the page with defaults applied and bounds enforced.
func (p Page) Normalize() Page {
	if p.Offset < 0 {
		p.Offset = 0
	}
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	return p
}

// Clock returns the current time. Engines and stores receive one instead of
// calling time.Now, so that tests and replays control time.
type Clock func() time.Time

type ctxKey int

const userCtxKey ctxKey = 1

// NewContextWithUser returns a context carrying the authenticated user. Stores
// read it to record the author of every write.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userCtxKey, u)
}

// UserFromContext returns the authenticated user, or nil.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userCtxKey).(*User)
	return u
}

// UserIDFromContext returns the authenticated user's ID, or 0.
func UserIDFromContext(ctx context.Context) UserID {
	if u := UserFromContext(ctx); u != nil {
		return u.ID
	}
	return 0
}
