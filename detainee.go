package convoi

import (
	"context"
	"strings"
	"time"
)

// LegalStatus is the detainee's judicial situation.
type LegalStatus string

const (
	LegalStatusRemand    LegalStatus = "remand"    // prévenu: awaiting trial
	LegalStatusSentenced LegalStatus = "sentenced" // condamné
	LegalStatusAppeal    LegalStatus = "appeal"    // sentenced, appeal pending
)

// LegalStatuses lists every valid status.
var LegalStatuses = []LegalStatus{LegalStatusRemand, LegalStatusSentenced, LegalStatusAppeal}

// Valid reports whether s is one of LegalStatuses.
func (s LegalStatus) Valid() bool { return validEnum(s, LegalStatuses) }

// RiskRecord is what the prison administration knows about a detainee's
// dangerousness. Levels are 0 (none) to 3 (high).
type RiskRecord struct {
	EscapeHistory  int          `json:"escape_history"`  // past escapes that succeeded
	EscapeAttempts int          `json:"escape_attempts"` // past attempts, failed or aborted
	Violence       int          `json:"violence"`        // 0-3
	OrganisedCrime bool         `json:"organised_crime"` // links to organised crime
	Notoriety      int          `json:"notoriety"`       // 0-3: media and public attention
	DPS            bool         `json:"dps"`             // détenu particulièrement signalé
	SeparateFrom   []DetaineeID `json:"separate_from"`   // must never travel with these
	Notes          string       `json:"notes,omitempty"`
}

// Validate checks ranges.
func (r RiskRecord) Validate() error {
	if r.EscapeHistory < 0 || r.EscapeAttempts < 0 {
		return Errorf(EINVALID, "Escape counts must not be negative.")
	}
	if r.Violence < 0 || r.Violence > 3 || r.Notoriety < 0 || r.Notoriety > 3 {
		return Errorf(EINVALID, "Violence and notoriety must be between 0 and 3.")
	}
	return nil
}

// Detainee is a person in custody who may be moved.
type Detainee struct {
	ID          DetaineeID  `json:"id"`
	Name        string      `json:"name"`
	Aliases     []string    `json:"aliases"`
	BirthDate   string      `json:"birth_date,omitempty"` // YYYY-MM-DD
	LegalStatus LegalStatus `json:"legal_status"`
	SiteID      SiteID      `json:"site_id"` // where the detainee is held now
	Risk        RiskRecord  `json:"risk"`
	CreatedBy   UserID      `json:"created_by"`
	UpdatedBy   UserID      `json:"updated_by"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// DetaineeIdentity is what court or hospital staff (liaison users) see of a
// detainee due at their site: who is arriving and under which status, not
// the risk record, aliases or where the detainee is held.
type DetaineeIdentity struct {
	ID          DetaineeID  `json:"id"`
	Name        string      `json:"name"`
	BirthDate   string      `json:"birth_date,omitempty"`
	LegalStatus LegalStatus `json:"legal_status"`
}

// Identity returns the liaison view of d.
func (d *Detainee) Identity() *DetaineeIdentity {
	return &DetaineeIdentity{ID: d.ID, Name: d.Name, BirthDate: d.BirthDate, LegalStatus: d.LegalStatus}
}

// Validate checks the fields a caller sets.
func (d *Detainee) Validate() error {
	if err := validateTexts(textField{"Detainee name", d.Name, MaxNameLen}); err != nil {
		return err
	}
	if len(d.Aliases) > 50 {
		return Errorf(EINVALID, "At most 50 aliases.")
	}
	for _, a := range d.Aliases {
		if err := ValidateText("Alias", a, MaxNameLen); err != nil {
			return err
		}
	}
	if strings.TrimSpace(d.Name) == "" {
		return Errorf(EINVALID, "Detainee name required.")
	}
	if !d.LegalStatus.Valid() {
		return Errorf(EINVALID, "Legal status must be one of %s.", joinEnum(LegalStatuses))
	}
	if d.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, d.BirthDate); err != nil {
			return Errorf(EINVALID, "Birth date must be YYYY-MM-DD.")
		}
	}
	if d.SiteID == 0 {
		return Errorf(EINVALID, "Detainee site_id required.")
	}
	if d.Aliases == nil {
		d.Aliases = []string{}
	}
	if d.Risk.SeparateFrom == nil {
		d.Risk.SeparateFrom = []DetaineeID{}
	}
	return d.Risk.Validate()
}

// DetaineeFilter selects detainees.
type DetaineeFilter struct {
	ID     *DetaineeID
	SiteID *SiteID
	Name   *string // case-insensitive substring of the name or an alias
	DPS    *bool
	Page
}

// DetaineeUpdate holds the fields to change.
type DetaineeUpdate struct {
	Name        *string      `json:"name"`
	Aliases     *[]string    `json:"aliases"`
	BirthDate   *string      `json:"birth_date"`
	LegalStatus *LegalStatus `json:"legal_status"`
	SiteID      *SiteID      `json:"site_id"`
	Risk        *RiskRecord  `json:"risk"`
}

// Apply copies the set fields of upd onto d and validates the result.
func (upd DetaineeUpdate) Apply(d *Detainee) error {
	setIf(&d.Name, upd.Name)
	setIf(&d.Aliases, upd.Aliases)
	setIf(&d.BirthDate, upd.BirthDate)
	setIf(&d.LegalStatus, upd.LegalStatus)
	setIf(&d.SiteID, upd.SiteID)
	setIf(&d.Risk, upd.Risk)
	return d.Validate()
}

// DetaineeService stores detainees.
type DetaineeService interface {
	FindDetaineeByID(ctx context.Context, id DetaineeID) (*Detainee, error)
	FindDetainees(ctx context.Context, filter DetaineeFilter) ([]*Detainee, int, error)
	CreateDetainee(ctx context.Context, d *Detainee) error
	UpdateDetainee(ctx context.Context, id DetaineeID, upd DetaineeUpdate) (*Detainee, error)
}
