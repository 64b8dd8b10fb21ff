package convoi

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// VehicleClass is the kind of vehicle an escort uses.
type VehicleClass string

const (
	VehicleCellularVan VehicleClass = "cellular_van" // fourgon cellulaire
	VehicleArmouredVan VehicleClass = "armoured_van" // fourgon blindé
	VehicleCar         VehicleClass = "car"          // escort or lead car
)

// VehicleClasses lists every class.
var VehicleClasses = []VehicleClass{VehicleCellularVan, VehicleArmouredVan, VehicleCar}

// Valid reports whether c is one of VehicleClasses.
func (c VehicleClass) Valid() bool { return validEnum(c, VehicleClasses) }

// Vehicle is a van or car of the escort fleet. Its trackers are the Tracker
// records bound to it.
type Vehicle struct {
	ID           VehicleID    `json:"id"`
	Registration string       `json:"registration"`
	Class        VehicleClass `json:"class"`
	Capacity     int          `json:"capacity"` // detainee places
	SiteID       SiteID       `json:"site_id,omitempty"`
	CreatedBy    UserID       `json:"created_by"`
	UpdatedBy    UserID       `json:"updated_by"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// Validate checks the fields a caller sets.
func (v *Vehicle) Validate() error {
	if err := validateTexts(textField{"Vehicle registration", v.Registration, MaxShortLen}); err != nil {
		return err
	}
	if strings.TrimSpace(v.Registration) == "" {
		return Errorf(EINVALID, "Vehicle registration required.")
	}
	if !v.Class.Valid() {
		return Errorf(EINVALID, "Vehicle class must be one of %s.", joinEnum(VehicleClasses))
	}
	if v.Capacity < 0 || v.Capacity > 60 {
		return Errorf(EINVALID, "Vehicle capacity must be between 0 and 60.")
	}
	return nil
}

// VehicleFilter selects vehicles.
type VehicleFilter struct {
	ID           *VehicleID
	Registration *string
	Class        *VehicleClass
	SiteID       *SiteID
	Page
}

// VehicleUpdate holds the fields to change.
type VehicleUpdate struct {
	Registration *string       `json:"registration"`
	Class        *VehicleClass `json:"class"`
	Capacity     *int          `json:"capacity"`
	SiteID       *SiteID       `json:"site_id"`
}

// Apply copies the set fields of upd onto v and validates the result.
func (upd VehicleUpdate) Apply(v *Vehicle) error {
	setIf(&v.Registration, upd.Registration)
	setIf(&v.Class, upd.Class)
	setIf(&v.Capacity, upd.Capacity)
	setIf(&v.SiteID, upd.SiteID)
	return v.Validate()
}

// VehicleService stores vehicles. Registrations are unique (ECONFLICT).
type VehicleService interface {
	FindVehicleByID(ctx context.Context, id VehicleID) (*Vehicle, error)
	FindVehicles(ctx context.Context, filter VehicleFilter) ([]*Vehicle, int, error)
	CreateVehicle(ctx context.Context, v *Vehicle) error
	UpdateVehicle(ctx context.Context, id VehicleID, upd VehicleUpdate) (*Vehicle, error)
}

// Qualification is what an officer is cleared to do.
type Qualification string

const (
	QualArmed       Qualification = "armed"
	QualDriver      Qualification = "driver"
	QualSpecialised Qualification = "specialised_team" // ERIS / PREJ-type team
)

// Qualifications lists every qualification.
var Qualifications = []Qualification{QualArmed, QualDriver, QualSpecialised}

// Valid reports whether q is one of Qualifications.
func (q Qualification) Valid() bool { return validEnum(q, Qualifications) }

// Officer is an escort officer.
type Officer struct {
	ID             OfficerID       `json:"id"`
	Name           string          `json:"name"`
	Unit           string          `json:"unit"`
	Qualifications []Qualification `json:"qualifications"`
	SiteID         SiteID          `json:"site_id,omitempty"`
	CreatedBy      UserID          `json:"created_by"`
	UpdatedBy      UserID          `json:"updated_by"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// Has reports whether the officer holds qualification q.
func (o *Officer) Has(q Qualification) bool { return validEnum(q, o.Qualifications) }

// Validate checks the fields a caller sets.
func (o *Officer) Validate() error {
	if err := validateTexts(textField{"Officer name", o.Name, MaxNameLen}, textField{"Officer unit", o.Unit, MaxNameLen}); err != nil {
		return err
	}
	if strings.TrimSpace(o.Name) == "" || strings.TrimSpace(o.Unit) == "" {
		return Errorf(EINVALID, "Officer name and unit required.")
	}
	if o.Qualifications == nil {
		o.Qualifications = []Qualification{}
	}
	for _, q := range o.Qualifications {
		if !q.Valid() {
			return Errorf(EINVALID, "Qualification must be one of %s.", joinEnum(Qualifications))
		}
	}
	return nil
}

// OfficerFilter selects officers.
type OfficerFilter struct {
	ID            *OfficerID
	Unit          *string
	SiteID        *SiteID
	Qualification *Qualification
	Page
}

// OfficerUpdate holds the fields to change.
type OfficerUpdate struct {
	Name           *string          `json:"name"`
	Unit           *string          `json:"unit"`
	Qualifications *[]Qualification `json:"qualifications"`
	SiteID         *SiteID          `json:"site_id"`
}

// Apply copies the set fields of upd onto o and validates the result.
func (upd OfficerUpdate) Apply(o *Officer) error {
	setIf(&o.Name, upd.Name)
	setIf(&o.Unit, upd.Unit)
	setIf(&o.Qualifications, upd.Qualifications)
	setIf(&o.SiteID, upd.SiteID)
	return o.Validate()
}

// OfficerService stores officers.
type OfficerService interface {
	FindOfficerByID(ctx context.Context, id OfficerID) (*Officer, error)
	FindOfficers(ctx context.Context, filter OfficerFilter) ([]*Officer, int, error)
	CreateOfficer(ctx context.Context, o *Officer) error
	UpdateOfficer(ctx context.Context, id OfficerID, upd OfficerUpdate) (*Officer, error)
}

// Protocol is a tracker's wire protocol.
type Protocol string

const (
	ProtocolTeltonika Protocol = "teltonika"
	ProtocolOsmAnd    Protocol = "osmand"
	ProtocolMQTT      Protocol = "mqtt"
)

// Protocols lists every protocol.
var Protocols = []Protocol{ProtocolTeltonika, ProtocolOsmAnd, ProtocolMQTT}

// Valid reports whether p is one of Protocols.
func (p Protocol) Valid() bool { return validEnum(p, Protocols) }

// DeviceID is a tracker's own identifier: the IMEI for Teltonika, the
// configured identifier for OsmAnd and MQTT.
type DeviceID string

// Valid reports whether d is 1-64 characters of ASCII letters, digits and
// ._:-. It runs for every stored fix, hence a loop rather than a regexp.
func (d DeviceID) Valid() bool {
	if len(d) == 0 || len(d) > 64 {
		return false
	}
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Tracker is a GPS device carried by a vehicle or an officer (at most one of them).
type Tracker struct {
	ID        TrackerID `json:"id"`
	DeviceID  DeviceID  `json:"device_id"`
	Protocol  Protocol  `json:"protocol"`
	Model     string    `json:"model"` // e.g. "FMC130"; selects the IO map
	VehicleID VehicleID `json:"vehicle_id,omitempty"`
	OfficerID OfficerID `json:"officer_id,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedBy UserID    `json:"created_by"`
	UpdatedBy UserID    `json:"updated_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the fields a caller sets.
func (t *Tracker) Validate() error {
	if err := validateTexts(textField{"Tracker model", t.Model, MaxShortLen}); err != nil {
		return err
	}
	if !t.DeviceID.Valid() {
		return Errorf(EINVALID, "Tracker device_id must be 1-64 letters, digits or ._:-.")
	}
	if !t.Protocol.Valid() {
		return Errorf(EINVALID, "Tracker protocol must be one of %s.", joinEnum(Protocols))
	}
	if t.Protocol == ProtocolTeltonika && !imeiPattern.MatchString(string(t.DeviceID)) {
		return Errorf(EINVALID, "A Teltonika device_id is its 15-digit IMEI.")
	}
	if t.VehicleID != 0 && t.OfficerID != 0 {
		return Errorf(EINVALID, "A tracker is bound to a vehicle or an officer, not both.")
	}
	return nil
}

var imeiPattern = regexp.MustCompile(`^[0-9]{15}$`)

// TrackerFilter selects trackers.
type TrackerFilter struct {
	ID        *TrackerID
	DeviceID  *DeviceID
	Protocol  *Protocol
	VehicleID *VehicleID
	OfficerID *OfficerID
	Page
}

// TrackerUpdate holds the fields to change. Binding to a vehicle clears the
// officer binding and vice versa; a zero ID unbinds.
type TrackerUpdate struct {
	Model     *string    `json:"model"`
	VehicleID *VehicleID `json:"vehicle_id"`
	OfficerID *OfficerID `json:"officer_id"`
	Disabled  *bool      `json:"disabled"`
}

// Apply copies the set fields of upd onto t and validates the result.
func (upd TrackerUpdate) Apply(t *Tracker) error {
	setIf(&t.Model, upd.Model)
	if upd.VehicleID != nil {
		t.VehicleID, t.OfficerID = *upd.VehicleID, 0
	}
	if upd.OfficerID != nil {
		t.OfficerID = *upd.OfficerID
		if upd.VehicleID == nil || *upd.VehicleID == 0 {
			t.VehicleID = 0
		}
	}
	setIf(&t.Disabled, upd.Disabled)
	return t.Validate()
}

// TrackerService stores trackers. Device IDs are unique (ECONFLICT).
type TrackerService interface {
	FindTrackerByID(ctx context.Context, id TrackerID) (*Tracker, error)
	FindTrackerByDeviceID(ctx context.Context, d DeviceID) (*Tracker, error)
	FindTrackers(ctx context.Context, filter TrackerFilter) ([]*Tracker, int, error)
	CreateTracker(ctx context.Context, t *Tracker) error
	UpdateTracker(ctx context.Context, id TrackerID, upd TrackerUpdate) (*Tracker, error)
}
