package convoi

import (
	"context"
	"strings"
	"time"
)

// SiteKind says what a site is. Courts and hospitals are where liaison users work.
type SiteKind string

const (
	SiteKindPrison      SiteKind = "prison"
	SiteKindCourt       SiteKind = "court"
	SiteKindHospital    SiteKind = "hospital"
	SiteKindPolice      SiteKind = "police"
	SiteKindGendarmerie SiteKind = "gendarmerie"
)

// SiteKinds lists every valid kind, in display order.
var SiteKinds = []SiteKind{SiteKindPrison, SiteKindCourt, SiteKindHospital, SiteKindPolice, SiteKindGendarmerie}

// Valid reports whether k is one of SiteKinds.
func (k SiteKind) Valid() bool { return validEnum(k, SiteKinds) }

// Site is a place an escort starts from or goes to, or where units are based.
// Entry is the secure entry point (sally port) the vehicle actually drives to;
// it defaults to Location.
type Site struct {
	ID        SiteID    `json:"id"`
	Kind      SiteKind  `json:"kind"`
	Name      string    `json:"name"`
	Location  LatLon    `json:"location"`
	Entry     LatLon    `json:"entry"`
	Address   string    `json:"address,omitempty"`
	CreatedBy UserID    `json:"created_by"`
	UpdatedBy UserID    `json:"updated_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the fields a caller sets and fills Entry from Location.
func (s *Site) Validate() error {
	if err := validateTexts(textField{"Site name", s.Name, MaxNameLen}, textField{"Site address", s.Address, MaxAddress}); err != nil {
		return err
	}
	if s.Location.IsZero() {
		return Errorf(EINVALID, "Site location required (lat and lon).")
	}
	if !s.Kind.Valid() {
		return Errorf(EINVALID, "Site kind must be one of %s.", joinEnum(SiteKinds))
	}
	if strings.TrimSpace(s.Name) == "" {
		return Errorf(EINVALID, "Site name required.")
	}
	if err := s.Location.Validate(); err != nil {
		return err
	}
	if s.Entry.IsZero() {
		s.Entry = s.Location
	}
	return s.Entry.Validate()
}

// SiteFilter selects sites. Zero fields do not filter.
type SiteFilter struct {
	ID   *SiteID
	Kind *SiteKind
	Name *string // case-insensitive substring
	Page
}

// SiteUpdate holds the fields to change; nil leaves a field as it is.
type SiteUpdate struct {
	Kind     *SiteKind `json:"kind"`
	Name     *string   `json:"name"`
	Location *LatLon   `json:"location"`
	Entry    *LatLon   `json:"entry"`
	Address  *string   `json:"address"`
}

// Apply copies the set fields of upd onto s and validates the result.
func (upd SiteUpdate) Apply(s *Site) error {
	setIf(&s.Kind, upd.Kind)
	setIf(&s.Name, upd.Name)
	setIf(&s.Location, upd.Location)
	setIf(&s.Entry, upd.Entry)
	setIf(&s.Address, upd.Address)
	return s.Validate()
}

// SiteService stores sites. Find* return ENOTFOUND for a missing ID; list
// calls return the page and the total number of matches.
type SiteService interface {
	FindSiteByID(ctx context.Context, id SiteID) (*Site, error)
	FindSites(ctx context.Context, filter SiteFilter) ([]*Site, int, error)
	CreateSite(ctx context.Context, s *Site) error
	UpdateSite(ctx context.Context, id SiteID, upd SiteUpdate) (*Site, error)
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func validEnum[T comparable](v T, all []T) bool {
	for _, a := range all {
		if a == v {
			return true
		}
	}
	return false
}

func joinEnum[T ~string](all []T) string {
	s := make([]string, len(all))
	for i, a := range all {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
