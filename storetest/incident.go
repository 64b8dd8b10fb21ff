package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testIncident(t *testing.T, open OpenFunc) {
	t.Run("DeclareFindUpdate", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		m := e.underway(t, w, "MC-IN1", nil, []convoi.VehicleID{w.Vans[0].ID})
		a, _, err := e.Alarms.RaiseAlarm(e.ctx, evidence(m.ID, convoi.RuleAttack, convoi.SeverityCritical, T0))
		must(t, err)
		attack := T0.Add(-time.Minute)
		in := &convoi.Incident{MovementID: m.ID, AlarmID: a.ID, Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755},
			PlaceName: "Péage de La Turbie", AttackAt: attack, VehiclesSought: []string{"dark grey Peugeot 5008"},
			Instructions: "Report, do not engage."}
		must(t, e.Incidents.DeclareIncident(e.ctx, in))
		if in.ID == 0 {
			t.Fatal("no ID")
		}
		same(t, "state, version, by", [3]any{in.State, in.Version, in.DeclaredBy}, [3]any{convoi.IncidentActive, 1, author})
		sameTime(t, "created", in.CreatedAt, T0)
		got, err := e.Incidents.FindIncidentByID(e.ctx, in.ID)
		must(t, err)
		same(t, "stored", got, in)

		// One incident per alarm.
		dup := *in
		wantCode(t, e.Incidents.DeclareIncident(e.ctx, &dup), convoi.ECONFLICT)
		// Missing references, bad fields.
		wantCode(t, e.Incidents.DeclareIncident(e.ctx, &convoi.Incident{MovementID: 999, Place: in.Place, AttackAt: attack}), convoi.EINVALID)
		wantCode(t, e.Incidents.DeclareIncident(e.ctx, &convoi.Incident{AlarmID: 999, Place: in.Place, AttackAt: attack}), convoi.EINVALID)
		wantCode(t, e.Incidents.DeclareIncident(e.ctx, &convoi.Incident{AttackAt: attack}), convoi.EINVALID)
		wantCode(t, e.Incidents.DeclareIncident(e.ctx, &convoi.Incident{Place: in.Place}), convoi.EINVALID)
		// By hand: no movement, no alarm.
		hand := &convoi.Incident{Place: convoi.LatLon{Lat: 43.72, Lon: 7.40}, AttackAt: attack}
		must(t, e.Incidents.DeclareIncident(e.ctx2, hand))
		same(t, "declared by", hand.DeclaredBy, author2)
		same(t, "no vehicles", hand.VehiclesSought, []string{})

		l, n, err := e.Incidents.FindIncidents(e.ctx, convoi.IncidentFilter{})
		must(t, err)
		same(t, "count", n, 2)
		same(t, "newest first", []convoi.IncidentID{l[0].ID, l[1].ID}, []convoi.IncidentID{hand.ID, in.ID})
		l, n, err = e.Incidents.FindIncidents(e.ctx, convoi.IncidentFilter{MovementID: &m.ID})
		must(t, err)
		same(t, "by movement", [2]any{n, l[0].ID}, [2]any{1, in.ID})

		e.clock.Add(time.Minute)
		instr := "Roadblocks on the A8; report sightings."
		up, err := e.Incidents.UpdateIncident(e.ctx2, in.ID, convoi.IncidentUpdate{Instructions: &instr,
			VehiclesSought: &[]string{"dark grey Peugeot 5008", "black Audi RS6"}})
		must(t, err)
		same(t, "updated", [3]any{up.Instructions, len(up.VehiclesSought), up.Version}, [3]any{instr, 2, 2})
		sameTime(t, "updated at", up.UpdatedAt, T0.Add(time.Minute))
		for _, bad := range []convoi.IncidentState{"lost", ""} {
			_, err = e.Incidents.UpdateIncident(e.ctx, in.ID, convoi.IncidentUpdate{State: &bad})
			wantCode(t, err, convoi.EINVALID)
		}
		got, _ = e.Incidents.FindIncidentByID(e.ctx, in.ID)
		same(t, "a failed update writes nothing", got.Version, 2)
		_, err = e.Incidents.UpdateIncident(e.ctx, 999, convoi.IncidentUpdate{Instructions: &instr})
		wantCode(t, err, convoi.ENOTFOUND)

		closed := convoi.IncidentClosed
		_, err = e.Incidents.UpdateIncident(e.ctx, in.ID, convoi.IncidentUpdate{State: &closed})
		must(t, err)
		_, err = e.Incidents.UpdateIncident(e.ctx, in.ID, convoi.IncidentUpdate{Instructions: &instr})
		wantCode(t, err, convoi.ECONFLICT)
		wantCode(t, e.Incidents.AddSighting(e.ctx, &convoi.Sighting{IncidentID: in.ID, Place: in.Place, Time: T0, Confidence: 1}), convoi.ECONFLICT)
	})

	t.Run("Sightings", func(t *testing.T) {
		e := newEnv(t, open)
		in := &convoi.Incident{Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755}, AttackAt: T0}
		must(t, e.Incidents.DeclareIncident(e.ctx, in))
		late := &convoi.Sighting{IncidentID: in.ID, Place: convoi.LatLon{Lat: 43.7219, Lon: 7.4052}, PlaceName: "Basse Corniche",
			Time: T0.Add(4 * time.Minute), Confidence: 0.8, Note: "grey SUV westbound"}
		early := &convoi.Sighting{IncidentID: in.ID, Place: convoi.LatLon{Lat: 43.73, Lon: 7.40}, Time: T0.Add(2 * time.Minute), Confidence: 0.5}
		must(t, e.Incidents.AddSighting(e.ctx, late))
		must(t, e.Incidents.AddSighting(e.ctx2, early))
		same(t, "recorded by", [2]convoi.UserID{late.RecordedBy, early.RecordedBy}, [2]convoi.UserID{author, author2})
		l, err := e.Incidents.FindSightings(e.ctx, in.ID)
		must(t, err)
		same(t, "by time", []convoi.SightingID{l[0].ID, l[1].ID}, []convoi.SightingID{early.ID, late.ID})
		same(t, "stored", l[1], late)
		got, _ := e.Incidents.FindIncidentByID(e.ctx, in.ID)
		same(t, "version counts sightings", got.Version, 3)
		for name, s := range map[string]*convoi.Sighting{
			"confidence 0":   {IncidentID: in.ID, Place: late.Place, Time: T0, Confidence: 0},
			"confidence 1.5": {IncidentID: in.ID, Place: late.Place, Time: T0, Confidence: 1.5},
			"no time":        {IncidentID: in.ID, Place: late.Place, Confidence: 1},
			"no place":       {IncidentID: in.ID, Time: T0, Confidence: 1},
			"no incident":    {IncidentID: 999, Place: late.Place, Time: T0, Confidence: 1},
		} {
			if err := e.Incidents.AddSighting(e.ctx, s); convoi.ErrorCode(err) != convoi.EINVALID {
				t.Errorf("%s: %v, want EINVALID", name, err)
			}
		}
		l, _ = e.Incidents.FindSightings(e.ctx, in.ID)
		same(t, "failed sightings write nothing", len(l), 2)
		_, err = e.Incidents.FindSightings(e.ctx, 999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Units", func(t *testing.T) {
		e := newEnv(t, open)
		w := e.world(t)
		post := &convoi.Site{Kind: convoi.SiteKindGendarmerie, Name: "Brigade de La Turbie", Location: convoi.LatLon{Lat: 43.74656, Lon: 7.40039}}
		must(t, e.Sites.CreateSite(e.ctx, post))
		a := &convoi.Incident{Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755}, AttackAt: T0}
		b := &convoi.Incident{Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755}, AttackAt: T0}
		must(t, e.Incidents.DeclareIncident(e.ctx, a))
		must(t, e.Incidents.DeclareIncident(e.ctx, b))
		as, err := e.Incidents.AssignUnit(e.ctx, a.ID, post.ID, "roadblock A8")
		must(t, err)
		same(t, "assigned", [4]any{as.IncidentID, as.SiteID, as.State, as.AssignedBy}, [4]any{a.ID, post.ID, convoi.UnitAssigned, author})
		_, err = e.Incidents.AssignUnit(e.ctx, b.ID, post.ID, "")
		wantCode(t, err, convoi.ECONFLICT)
		_, err = e.Incidents.AssignUnit(e.ctx, a.ID, w.Prison.ID, "")
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Incidents.AssignUnit(e.ctx, a.ID, 999, "")
		wantCode(t, err, convoi.EINVALID)
		_, err = e.Incidents.ReleaseUnit(e.ctx, b.ID, post.ID, "")
		wantCode(t, err, convoi.ENOTFOUND)
		l, err := e.Incidents.FindUnitAssignments(e.ctx, convoi.UnitAssignmentFilter{Active: true})
		must(t, err)
		same(t, "active", len(l), 1)

		e.clock.Add(time.Minute)
		rel, err := e.Incidents.ReleaseUnit(e.ctx2, a.ID, post.ID, "back to post")
		must(t, err)
		same(t, "released", [3]any{rel.State, rel.ReleasedBy, rel.Note}, [3]any{convoi.UnitReleased, author2, "roadblock A8\nback to post"})
		sameTime(t, "released at", *rel.ReleasedAt, T0.Add(time.Minute))
		// Free again: b may take it; closing b releases it.
		_, err = e.Incidents.AssignUnit(e.ctx, b.ID, post.ID, "")
		must(t, err)
		closed := convoi.IncidentClosed
		_, err = e.Incidents.UpdateIncident(e.ctx, b.ID, convoi.IncidentUpdate{State: &closed})
		must(t, err)
		l, _ = e.Incidents.FindUnitAssignments(e.ctx, convoi.UnitAssignmentFilter{Active: true})
		same(t, "closing releases", len(l), 0)
		l, _ = e.Incidents.FindUnitAssignments(e.ctx, convoi.UnitAssignmentFilter{SiteID: &post.ID})
		same(t, "history kept", len(l), 2)
		got, _ := e.Incidents.FindIncidentByID(e.ctx, a.ID)
		same(t, "version counts assignments", got.Version, 3)
	})

	t.Run("ConcurrentAssign", func(t *testing.T) {
		// Two commanders send the same unit to two incidents at once:
		// exactly one gets it, the other a conflict.
		e := newEnv(t, open)
		post := &convoi.Site{Kind: convoi.SiteKindPolice, Name: "Commissariat de la Condamine", Location: convoi.LatLon{Lat: 43.73211, Lon: 7.41972}}
		must(t, e.Sites.CreateSite(e.ctx, post))
		var ids []convoi.IncidentID
		for range 8 {
			in := &convoi.Incident{Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755}, AttackAt: T0}
			must(t, e.Incidents.DeclareIncident(e.ctx, in))
			ids = append(ids, in.ID)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.Incidents.AssignUnit(e.ctx, id, post.ID, "")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if convoi.ErrorCode(err) != convoi.ECONFLICT {
				t.Fatalf("concurrent assign: %v", err)
			}
		}
		same(t, "assignments that succeeded", ok, 1)
		l, err := e.Incidents.FindUnitAssignments(e.ctx, convoi.UnitAssignmentFilter{SiteID: &post.ID})
		must(t, err)
		same(t, "stored assignments", len(l), 1)
	})
}
