package convoi

import (
	"context"
	"strings"
	"time"
)

// IntelKind classifies an intelligence entry.
type IntelKind string

const (
	IntelPhoneFound        IntelKind = "phone_found"
	IntelEscapeTools       IntelKind = "escape_tools_found"
	IntelThreatReported    IntelKind = "threat_reported"
	IntelSuspiciousVehicle IntelKind = "suspicious_vehicles"
	IntelRouteSurveillance IntelKind = "route_surveillance"
	IntelAccompliceContact IntelKind = "accomplice_contact"
	IntelInformant         IntelKind = "informant_report"
	IntelOther             IntelKind = "other"
)

// IntelKinds lists every valid kind.
var IntelKinds = []IntelKind{IntelPhoneFound, IntelEscapeTools, IntelThreatReported, IntelSuspiciousVehicle,
	IntelRouteSurveillance, IntelAccompliceContact, IntelInformant, IntelOther}

// Valid reports whether k is one of IntelKinds.
func (k IntelKind) Valid() bool { return validEnum(k, IntelKinds) }

// Grading is the NATO/Admiralty grading of an intelligence entry: source
// reliability A (completely reliable) to F (cannot be judged) and information
// credibility 1 (confirmed) to 6 (cannot be judged), written "B2".
type Grading string

// Valid reports whether g is a two-character Admiralty code.
func (g Grading) Valid() bool {
	return len(g) == 2 && g[0] >= 'A' && g[0] <= 'F' && g[1] >= '1' && g[1] <= '6'
}

// Reliability returns the source reliability letter, 'A' to 'F'.
func (g Grading) Reliability() byte { return g[0] }

// Credibility returns the information credibility, 1 to 6.
func (g Grading) Credibility() int { return int(g[1] - '0') }

// Intel is one intelligence entry about a detainee. ObservedAt is when the
// fact happened; RecordedAt when convoi learned of it (set by the store).
type Intel struct {
	ID         IntelID    `json:"id"`
	DetaineeID DetaineeID `json:"detainee_id"`
	ObservedAt time.Time  `json:"observed_at"`
	RecordedAt time.Time  `json:"recorded_at"`
	Grading    Grading    `json:"grading"`
	Kind       IntelKind  `json:"kind"`
	Text       string     `json:"text"`
	CreatedBy  UserID     `json:"created_by"`
}

// Validate checks the fields a caller sets.
func (in *Intel) Validate() error {
	if err := validateTexts(textField{"Intelligence text", in.Text, MaxTextLen}); err != nil {
		return err
	}
	if in.DetaineeID == 0 {
		return Errorf(EINVALID, "Intelligence detainee_id required.")
	}
	if in.ObservedAt.IsZero() {
		return Errorf(EINVALID, "Intelligence observed_at required.")
	}
	if !in.Grading.Valid() {
		return Errorf(EINVALID, "Grading must be an Admiralty code such as B2 (A-F, 1-6).")
	}
	if !in.Kind.Valid() {
		return Errorf(EINVALID, "Intelligence kind must be one of %s.", joinEnum(IntelKinds))
	}
	if strings.TrimSpace(in.Text) == "" {
		return Errorf(EINVALID, "Intelligence text required.")
	}
	return nil
}

// IntelFilter selects intelligence entries, newest observation first.
type IntelFilter struct {
	ID            *IntelID
	DetaineeID    *DetaineeID
	ObservedSince *time.Time
	Page
}

// IntelService stores intelligence. Entries are append-only: a correction is a new entry.
type IntelService interface {
	FindIntelByID(ctx context.Context, id IntelID) (*Intel, error)
	FindIntel(ctx context.Context, filter IntelFilter) ([]*Intel, int, error)
	CreateIntel(ctx context.Context, in *Intel) error
}
