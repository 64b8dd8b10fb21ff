package convoi

import (
	"fmt"
	"slices"
	"time"
)

// Rules of engagement of an escort's crew and vehicles. A movement is
// released (and started) only with a crew and vehicles that meet the
// assessment in force, that no other committed movement holds at the same
// time, and that are based near enough to serve it; a commander may
// override with a reason, which the transition records (docs/api.md).
const (
	// DutyBefore and DutyAfter bound the time an escort's officers and
	// vehicles are booked: from the planned departure (or DutyBefore the
	// appointment, whichever is earlier) to DutyAfter the appointment.
	DutyBefore = 2 * time.Hour
	DutyAfter  = 30 * time.Minute
	// ServiceRadiusM is how far from its home site an officer or vehicle
	// serves: a movement must start or end within it.
	ServiceRadiusM = 30_000.0
	// StartEarly and StartLate are how far before and after the drawn
	// departure an escort may start.
	StartEarly = 15 * time.Minute
	StartLate  = 20 * time.Minute
)

// Requirements is the escort an assessment asks for.
type Requirements struct {
	Level          EscortLevel
	MinCrew        int
	Qualifications []QualRequirement
	VehicleClass   VehicleClass
	ArmedSupport   bool
}

// Requirements returns the escort a asks for.
func (a *Assessment) Requirements() Requirements {
	return Requirements{Level: a.Level, MinCrew: a.MinCrew, Qualifications: a.Qualifications,
		VehicleClass: a.VehicleClass, ArmedSupport: a.ArmedSupport}
}

// Shortfalls lists what a crew of crewSize officers (of whom officers are
// known) and the vehicles lack for r: crew size, officers per qualification,
// a vehicle that carries the detainee (an armoured van when r asks for one),
// and an escort car when r asks for armed support. None means they meet it.
func (r Requirements) Shortfalls(crewSize int, officers []*Officer, vehicles []*Vehicle) []string {
	var short []string
	if crewSize < r.MinCrew {
		short = append(short, fmt.Sprintf("crew of %d, level %d needs %d", crewSize, r.Level, r.MinCrew))
	}
	for _, q := range r.Qualifications {
		n := 0
		for _, o := range officers {
			if o.Has(q.Qualification) {
				n++
			}
		}
		if n < q.Count {
			short = append(short, fmt.Sprintf("%d %s officer(s), level %d needs %d", n, q.Qualification, r.Level, q.Count))
		}
	}
	has := func(c VehicleClass) bool {
		return slices.ContainsFunc(vehicles, func(v *Vehicle) bool { return v.Class == c })
	}
	switch {
	case r.VehicleClass == VehicleArmouredVan && !has(VehicleArmouredVan):
		short = append(short, "no armoured van assigned")
	case !has(VehicleArmouredVan) && !has(VehicleCellularVan):
		short = append(short, "no van to carry the detainee")
	}
	if r.ArmedSupport && !has(VehicleCar) {
		short = append(short, fmt.Sprintf("no escort car for the armed support level %d needs", r.Level))
	}
	return short
}

// DutyWindow is when the movement's crew and vehicles are booked: from the
// planned departure, or DutyBefore the appointment if that is earlier or no
// departure is planned, to DutyAfter the appointment.
func (m *Movement) DutyWindow() (start, end time.Time) {
	start = m.AppointmentAt.Add(-DutyBefore)
	if m.PlannedDeparture != nil && m.PlannedDeparture.Before(start) {
		start = *m.PlannedDeparture
	}
	return start, m.AppointmentAt.Add(DutyAfter)
}

// Committed reports whether the movement holds its crew and vehicles: it is
// released, underway or in an incident.
func (s MovementState) Committed() bool {
	return s == StateReleased || s == StateUnderway || s == StateIncident
}

// Overlaps reports whether the duty windows of m and o intersect.
func (m *Movement) Overlaps(o *Movement) bool {
	s1, e1 := m.DutyWindow()
	s2, e2 := o.DutyWindow()
	return s1.Before(e2) && s2.Before(e1)
}

// Serves reports whether a unit based at home can serve a movement between
// from and to: one of them is within ServiceRadiusM of it.
func Serves(home, from, to *Site) bool {
	return home != nil && (home.Entry.DistanceM(from.Entry) <= ServiceRadiusM || home.Entry.DistanceM(to.Entry) <= ServiceRadiusM)
}

// StartWindow is when the escort of a movement with the given drawn
// departure may start: from StartEarly before it to StartLate after.
func StartWindow(departure time.Time) (from, to time.Time) {
	return departure.Add(-StartEarly), departure.Add(StartLate)
}
