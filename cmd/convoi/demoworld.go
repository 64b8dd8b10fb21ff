package main

import (
	"context"
	"fmt"
	"time"

	"github.com/convoi/convoi"
)

// demoServices are the services the demo loader writes through: the same
// interfaces the API uses, so the demo exercises the real validation.
type demoServices struct {
	Sites     convoi.SiteService
	Detainees convoi.DetaineeService
	Intel     convoi.IntelService
	Movements convoi.MovementService
	Vehicles  convoi.VehicleService
	Officers  convoi.OfficerService
	Trackers  convoi.TrackerService
	Users     convoi.UserService
}

// demoWorld is what loadDemoWorld created, for printing and for tests.
type demoWorld struct {
	Sites     map[string]*convoi.Site
	Officers  []*convoi.Officer
	Vehicles  []*convoi.Vehicle
	Trackers  []*convoi.Tracker
	Detainees map[string]*convoi.Detainee
	Movements []*convoi.Movement
	Users     []*convoi.User
	// Westbound is the Monaco movement towards Nice that the demo plans;
	// Incarville the Rouen movement that re-enacts 14 May 2024.
	Westbound, Incarville *convoi.Movement
}

// Demo sites. Positions in Monaco and Rouen are the OpenStreetMap objects of
// the bundled extracts (osmdata; node or way named in the comment) or, for
// the Monaco prison, its published coordinates. Nice and Évreux lie outside
// the bundled maps: their positions are the town centres and say so.
var demoSites = []struct {
	key  string
	site convoi.Site
}{
	{"monaco-court", convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice de Monaco", Location: convoi.LatLon{Lat: 43.73021, Lon: 7.42223}, Address: "5 rue Colonel Bellando de Castro, Monaco-Ville"}}, // node 1788512138
	{"monaco-prison", convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Monaco", Location: convoi.LatLon{Lat: 43.7318, Lon: 7.4271}, Address: "4 avenue Saint-Martin, Monaco-Ville"}},               // published coordinates
	{"chpg", convoi.Site{Kind: convoi.SiteKindHospital, Name: "Centre Hospitalier Princesse Grace", Location: convoi.LatLon{Lat: 43.73041, Lon: 7.41141}, Address: "avenue Pasteur, Monaco"}},                       // node 25237989
	{"cardio", convoi.Site{Kind: convoi.SiteKindHospital, Name: "Centre Cardio-Thoracique de Monaco", Location: convoi.LatLon{Lat: 43.73763, Lon: 7.42486}}},                                                        // node 1794111144
	{"menton-hospital", convoi.Site{Kind: convoi.SiteKindHospital, Name: "Centre Hospitalier de Menton - La Palmosa", Location: convoi.LatLon{Lat: 43.76711, Lon: 7.48375}}},                                        // node 2169430533
	{"surete", convoi.Site{Kind: convoi.SiteKindPolice, Name: "Sûreté Publique de Monaco", Location: convoi.LatLon{Lat: 43.73452, Lon: 7.42072}}},                                                                   // way
	{"condamine", convoi.Site{Kind: convoi.SiteKindPolice, Name: "Commissariat de la Condamine", Location: convoi.LatLon{Lat: 43.73211, Lon: 7.41972}}},                                                             // node 280487253
	{"fontvieille", convoi.Site{Kind: convoi.SiteKindPolice, Name: "Poste de Police de Fontvieille", Location: convoi.LatLon{Lat: 43.72570, Lon: 7.41848}}},                                                         // way
	{"cap-dail", convoi.Site{Kind: convoi.SiteKindGendarmerie, Name: "Brigade de proximité de gendarmerie de Cap-d'Ail", Location: convoi.LatLon{Lat: 43.72238, Lon: 7.40771}}},                                     // way
	{"la-turbie", convoi.Site{Kind: convoi.SiteKindGendarmerie, Name: "Brigade de proximité de La Turbie", Location: convoi.LatLon{Lat: 43.74656, Lon: 7.40039}}},                                                   // node 3258188563
	{"eze", convoi.Site{Kind: convoi.SiteKindGendarmerie, Name: "Brigade de proximité d'Èze", Location: convoi.LatLon{Lat: 43.73162, Lon: 7.35933}}},                                                                // node 3258887960
	{"nice-prison", convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt de Nice", Location: convoi.LatLon{Lat: 43.7102, Lon: 7.2620}, Address: "12 rue de la Gendarmerie, Nice (position: town centre, outside the bundled map)"}},
	{"rouen-court", convoi.Site{Kind: convoi.SiteKindCourt, Name: "Palais de Justice de Rouen", Location: convoi.LatLon{Lat: 49.44233, Lon: 1.09241}, Address: "36 rue aux Juifs, Rouen"}}, // way 63460788
	{"evreux-prison", convoi.Site{Kind: convoi.SiteKindPrison, Name: "Maison d'arrêt d'Évreux", Location: convoi.LatLon{Lat: 49.0241, Lon: 1.1508}, Address: "Évreux (position: town centre, outside the bundled map)"}},
}

// demoZone is where the demo happens (the time zone database is embedded
// through time/tzdata, so this works on a machine without one).
func demoZone() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err) // unreachable with time/tzdata linked in
	}
	return loc
}

// loadDemoWorld writes the demo world through the services. now anchors the
// day of movements: they take place on the day after now (Europe/Paris).
// Every demo user gets password, hashed separately (own salt) by hash.
func loadDemoWorld(ctx context.Context, s demoServices, now time.Time, password string, hash func(string) (string, error)) (*demoWorld, error) {
	w := &demoWorld{Sites: map[string]*convoi.Site{}, Detainees: map[string]*convoi.Detainee{}}
	for _, ds := range demoSites {
		site := ds.site
		if err := s.Sites.CreateSite(ctx, &site); err != nil {
			return nil, fmt.Errorf("site %s: %w", ds.key, err)
		}
		w.Sites[ds.key] = &site
	}
	site := func(k string) convoi.SiteID { return w.Sites[k].ID }

	officers := []convoi.Officer{
		{Name: "Lucas Martin", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualDriver, convoi.QualArmed}, SiteID: site("nice-prison")},
		{Name: "Camille Bernard", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("nice-prison")},
		{Name: "Hugo Petit", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: site("nice-prison")},
		{Name: "Inès Moreau", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualArmed, convoi.QualSpecialised}, SiteID: site("nice-prison")},
		{Name: "Marc Rossi", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualDriver, convoi.QualArmed}, SiteID: site("monaco-prison")},
		{Name: "Elena Gastaud", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("monaco-prison")},
		{Name: "Julien Lefèvre", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualDriver, convoi.QualArmed}, SiteID: site("rouen-court")},
		{Name: "Sarah Dubois", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("rouen-court")},
		{Name: "Thomas Laurent", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed, convoi.QualSpecialised}, SiteID: site("rouen-court")},
		// Enough officers for every movement's escort to meet its assessment
		// (levels 3 and 4 need five and eight) without one officer on two
		// movements at once.
		{Name: "Sophie Giraud", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("nice-prison")},
		{Name: "Yannick Blanc", Unit: "ARPEJ Nice", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: site("nice-prison")},
		{Name: "Luca Bianchi", Unit: "Sûreté Publique - groupe d'intervention", Qualifications: []convoi.Qualification{convoi.QualArmed, convoi.QualSpecialised}, SiteID: site("surete")},
		{Name: "Chloé Verdier", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualDriver, convoi.QualArmed}, SiteID: site("monaco-prison")},
		{Name: "Pierre Orsini", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: site("monaco-prison")},
		{Name: "Amélie Fabre", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("monaco-prison")},
		{Name: "Romain Castel", Unit: "Sûreté Publique - groupe d'intervention", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("surete")},
		{Name: "Julie Lambert", Unit: "Sûreté Publique - groupe d'intervention", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("surete")},
		{Name: "Stéphane Ricci", Unit: "Sûreté Publique - escortes", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: site("monaco-prison")},
		{Name: "Mathieu Girard", Unit: "ERIS Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed, convoi.QualSpecialised}, SiteID: site("rouen-court")},
		{Name: "Claire Vasseur", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualDriver}, SiteID: site("rouen-court")},
		{Name: "Antoine Leroy", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("rouen-court")},
		{Name: "Émilie Caron", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualArmed}, SiteID: site("rouen-court")},
		{Name: "Nicolas Lemaire", Unit: "PREJ Rouen", Qualifications: []convoi.Qualification{convoi.QualDriver, convoi.QualArmed}, SiteID: site("rouen-court")},
	}
	for i := range officers {
		o := officers[i]
		if err := s.Officers.CreateOfficer(ctx, &o); err != nil {
			return nil, fmt.Errorf("officer %s: %w", o.Name, err)
		}
		w.Officers = append(w.Officers, &o)
	}
	crew := func(idx ...int) []convoi.OfficerID {
		ids := make([]convoi.OfficerID, len(idx))
		for i, x := range idx {
			ids[i] = w.Officers[x].ID
		}
		return ids
	}

	vehicles := []convoi.Vehicle{
		{Registration: "FR-412-PJ", Class: convoi.VehicleCellularVan, Capacity: 4, SiteID: site("nice-prison")},
		{Registration: "FR-977-PB", Class: convoi.VehicleArmouredVan, Capacity: 2, SiteID: site("nice-prison")},
		{Registration: "FR-204-EC", Class: convoi.VehicleCar, Capacity: 0, SiteID: site("nice-prison")},
		{Registration: "MC-SP-17", Class: convoi.VehicleCellularVan, Capacity: 3, SiteID: site("monaco-prison")},
		{Registration: "FR-611-RN", Class: convoi.VehicleCellularVan, Capacity: 4, SiteID: site("rouen-court")},
		{Registration: "MC-SP-21", Class: convoi.VehicleCar, Capacity: 0, SiteID: site("surete")},
		{Registration: "FR-733-RB", Class: convoi.VehicleArmouredVan, Capacity: 2, SiteID: site("rouen-court")},
		{Registration: "FR-158-RC", Class: convoi.VehicleCar, Capacity: 0, SiteID: site("rouen-court")},
	}
	for i := range vehicles {
		v := vehicles[i]
		if err := s.Vehicles.CreateVehicle(ctx, &v); err != nil {
			return nil, fmt.Errorf("vehicle %s: %w", v.Registration, err)
		}
		w.Vehicles = append(w.Vehicles, &v)
	}
	vehicle := func(idx ...int) []convoi.VehicleID {
		ids := make([]convoi.VehicleID, len(idx))
		for i, x := range idx {
			ids[i] = w.Vehicles[x].ID
		}
		return ids
	}

	// Every van carries a Teltonika box; the escort car and two officers
	// carry phones with the Traccar Client (OsmAnd protocol). 123456789012345
	// is the IMEI of the published Teltonika test frame (vectors T1-T3).
	trackers := []convoi.Tracker{
		{DeviceID: "123456789012345", Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: w.Vehicles[0].ID},
		{DeviceID: "356307042441013", Protocol: convoi.ProtocolTeltonika, Model: "FMC130", VehicleID: w.Vehicles[1].ID},
		{DeviceID: "352093081429150", Protocol: convoi.ProtocolTeltonika, Model: "FMB920", VehicleID: w.Vehicles[3].ID},
		{DeviceID: "352093089612345", Protocol: convoi.ProtocolTeltonika, Model: "FMB920", VehicleID: w.Vehicles[4].ID},
		{DeviceID: "escort-car-204", Protocol: convoi.ProtocolOsmAnd, Model: "traccar-client", VehicleID: w.Vehicles[2].ID},
		{DeviceID: "phone-martin", Protocol: convoi.ProtocolOsmAnd, Model: "traccar-client", OfficerID: w.Officers[0].ID},
		{DeviceID: "phone-moreau", Protocol: convoi.ProtocolOsmAnd, Model: "traccar-client", OfficerID: w.Officers[3].ID},
		{DeviceID: "gw-rouen-611", Protocol: convoi.ProtocolMQTT, Model: "mqtt-json", OfficerID: w.Officers[6].ID},
	}
	for i := range trackers {
		t := trackers[i]
		if err := s.Trackers.CreateTracker(ctx, &t); err != nil {
			return nil, fmt.Errorf("tracker %s: %w", t.DeviceID, err)
		}
		w.Trackers = append(w.Trackers, &t)
	}

	// Detainees are fictional people; "rouen" re-enacts the risk profile of
	// the detainee freed at Incarville on 14 May 2024.
	detainees := []struct {
		key string
		d   convoi.Detainee
	}{
		{"rouen", convoi.Detainee{Name: "Karim Benali", Aliases: []string{"La Mouche"}, LegalStatus: convoi.LegalStatusRemand, SiteID: site("evreux-prison"),
			Risk: convoi.RiskRecord{EscapeAttempts: 1, Violence: 2, OrganisedCrime: true, Notoriety: 2, Notes: "Drug-trafficking network; earlier attempt to saw a cell bar (2023)."}}},
		{"westbound", convoi.Detainee{Name: "Antoine Ferrand", Aliases: []string{"Tonio"}, LegalStatus: convoi.LegalStatusRemand, SiteID: site("nice-prison"),
			Risk: convoi.RiskRecord{Violence: 2, OrganisedCrime: true, Notoriety: 1, Notes: "Armed robbery of a Monte-Carlo jeweller; accomplices at large."}}},
		{"dps", convoi.Detainee{Name: "Viktor Sokolov", LegalStatus: convoi.LegalStatusSentenced, SiteID: site("monaco-prison"),
			Risk: convoi.RiskRecord{EscapeHistory: 1, EscapeAttempts: 2, Violence: 3, OrganisedCrime: true, Notoriety: 3, DPS: true}}},
		{"medical", convoi.Detainee{Name: "Paul Garnier", LegalStatus: convoi.LegalStatusSentenced, SiteID: site("monaco-prison"),
			Risk: convoi.RiskRecord{Violence: 0, Notoriety: 0}}},
		{"hearing", convoi.Detainee{Name: "Nadia Haddad", LegalStatus: convoi.LegalStatusRemand, SiteID: site("monaco-prison"),
			Risk: convoi.RiskRecord{Violence: 1}}},
	}
	for _, dd := range detainees {
		d := dd.d
		if err := s.Detainees.CreateDetainee(ctx, &d); err != nil {
			return nil, fmt.Errorf("detainee %s: %w", dd.key, err)
		}
		w.Detainees[dd.key] = &d
	}
	// Separation: the DPS detainee must never travel with the Nice detainee.
	sep := w.Detainees["dps"].Risk
	sep.SeparateFrom = []convoi.DetaineeID{w.Detainees["westbound"].ID}
	if _, err := s.Detainees.UpdateDetainee(ctx, w.Detainees["dps"].ID, convoi.DetaineeUpdate{Risk: &sep}); err != nil {
		return nil, fmt.Errorf("detainee separation: %w", err)
	}

	paris := demoZone()
	day := now.In(paris).AddDate(0, 0, 1)
	at := func(h, m int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, paris)
	}
	ref := func(prefix string, n int) string { return fmt.Sprintf("%s-%s-%02d", prefix, day.Format("20060102"), n) }

	movements := []convoi.Movement{
		// The Incarville story: hearing in Rouen, back to the prison in Évreux.
		{Ref: ref("RO", 1), DetaineeID: w.Detainees["rouen"].ID, FromSiteID: site("rouen-court"), ToSiteID: site("evreux-prison"),
			Purpose: convoi.PurposeJudgeHearing, AppointmentAt: at(12, 30), Requester: "Juge d'instruction, TJ Rouen", Crew: crew(6, 7, 8, 18, 19, 20, 21, 22), Vehicles: vehicle(6, 7)},
		// Westbound from the Monaco courthouse to Nice, on the A8 through La Turbie or along the Corniches.
		{Ref: ref("MC", 1), DetaineeID: w.Detainees["westbound"].ID, FromSiteID: site("monaco-court"), ToSiteID: site("nice-prison"),
			Purpose: convoi.PurposeTransfer, AppointmentAt: at(17, 0), Requester: "Greffe du Tribunal de Première Instance de Monaco", Crew: crew(0, 1, 2, 9, 10), Vehicles: vehicle(0, 2)},
		// The same detainee's morning trip to his hearing at the Monaco courthouse.
		{Ref: ref("MC", 2), DetaineeID: w.Detainees["westbound"].ID, FromSiteID: site("nice-prison"), ToSiteID: site("monaco-court"),
			Purpose: convoi.PurposeCourtAppearance, AppointmentAt: at(9, 30), Requester: "Tribunal de Première Instance de Monaco", Crew: crew(0, 1, 2, 9, 10), Vehicles: vehicle(0, 2)},
		{Ref: ref("MC", 3), DetaineeID: w.Detainees["dps"].ID, FromSiteID: site("monaco-prison"), ToSiteID: site("monaco-court"),
			Purpose: convoi.PurposeCourtAppearance, AppointmentAt: at(10, 0), Requester: "Cour d'appel de Monaco", Crew: crew(3, 11, 12, 13, 14, 15, 16, 17), Vehicles: vehicle(1, 5)},
		{Ref: ref("MC", 4), DetaineeID: w.Detainees["medical"].ID, FromSiteID: site("monaco-prison"), ToSiteID: site("chpg"),
			Purpose: convoi.PurposeMedical, AppointmentAt: at(11, 15), Requester: "Unité sanitaire, Maison d'arrêt de Monaco", Crew: crew(4, 5), Vehicles: vehicle(3)},
		{Ref: ref("MC", 5), DetaineeID: w.Detainees["hearing"].ID, FromSiteID: site("monaco-prison"), ToSiteID: site("monaco-court"),
			Purpose: convoi.PurposeJudgeHearing, AppointmentAt: at(14, 0), Requester: "Juge d'instruction, Monaco", Crew: crew(4, 5), Vehicles: vehicle(3)},
		{Ref: ref("MC", 6), DetaineeID: w.Detainees["medical"].ID, FromSiteID: site("monaco-prison"), ToSiteID: site("cardio"),
			Purpose: convoi.PurposeMedical, AppointmentAt: at(17, 0), Requester: "Unité sanitaire, Maison d'arrêt de Monaco", Crew: crew(4, 5), Vehicles: vehicle(3)},
	}
	for i := range movements {
		m := movements[i]
		if err := s.Movements.CreateMovement(ctx, &m); err != nil {
			return nil, fmt.Errorf("movement %s: %w", m.Ref, err)
		}
		w.Movements = append(w.Movements, &m)
	}
	w.Incarville, w.Westbound = w.Movements[0], w.Movements[1]

	// Intelligence, as at Incarville: cars waiting on the route a week
	// before, a phone and a sawn cell bar found the day before the hearing
	// (today: the morning search, or the last half hour when the demo
	// starts before it). Nothing is dated after the demo's clock: the API
	// refuses observations in the future, and so does the demo.
	seen := func(t time.Time) time.Time {
		if latest := now.Add(-30 * time.Minute); t.After(latest) {
			return latest.Truncate(time.Minute)
		}
		return t
	}
	intel := []convoi.Intel{
		{DetaineeID: w.Detainees["rouen"].ID, ObservedAt: seen(at(12, 0).AddDate(0, 0, -7)), Grading: "B2", Kind: convoi.IntelSuspiciousVehicle,
			Text: "Two unidentified cars seen waiting on the Rouen - Évreux route (A154, near the Incarville toll plaza) during the previous escort; escort turned back."},
		{DetaineeID: w.Detainees["rouen"].ID, ObservedAt: seen(at(7, 30).AddDate(0, 0, -1)), Grading: "A1", Kind: convoi.IntelEscapeTools,
			Text: "Cell search: a mobile phone and a partly sawn cell bar found in the detainee's cell."},
		{DetaineeID: w.Detainees["westbound"].ID, ObservedAt: seen(at(18, 0).AddDate(0, 0, -3)), Grading: "C3", Kind: convoi.IntelThreatReported,
			Text: "Informant: accomplices discussing the date of the Monaco hearing."},
	}
	for i := range intel {
		in := intel[i]
		if err := s.Intel.CreateIntel(ctx, &in); err != nil {
			return nil, fmt.Errorf("intelligence: %w", err)
		}
	}

	users := []convoi.User{
		{Username: "admin", Name: "Administrator", Role: convoi.RoleAdmin},
		{Username: "planner", Name: "Escort planner", Role: convoi.RolePlanner},
		{Username: "control", Name: "Control-room operator", Role: convoi.RoleControl},
		{Username: "commander", Name: "Incident commander", Role: convoi.RoleCommander},
		{Username: "auditor", Name: "Security auditor", Role: convoi.RoleAuditor},
		{Username: "crew1", Name: w.Officers[0].Name, Role: convoi.RoleCrew, OfficerID: w.Officers[0].ID},
		{Username: "liaison", Name: "Greffe, Palais de Justice de Monaco", Role: convoi.RoleLiaison, SiteID: site("monaco-court")},
	}
	for i := range users {
		u := users[i]
		var err error
		if u.PasswordHash, err = hash(password); err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Username, err)
		}
		if err := s.Users.CreateUser(ctx, &u); err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Username, err)
		}
		w.Users = append(w.Users, &u)
	}
	return w, nil
}

// userByName returns the demo user with the given username, or nil.
func (w *demoWorld) userByName(name string) *convoi.User {
	for _, u := range w.Users {
		if u.Username == name {
			return u
		}
	}
	return nil
}

// siteByID returns the demo site with the given ID, or nil.
func (w *demoWorld) siteByID(id convoi.SiteID) *convoi.Site {
	for _, s := range w.Sites {
		if s.ID == id {
			return s
		}
	}
	return nil
}
