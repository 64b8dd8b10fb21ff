package main

import (
	"context"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// BenchmarkIncidentResponse measures the targets through the
// wiring the API uses (store reads of the posts, trackers and sightings
// included): an attack at the La Turbie toll plaza in the Monaco demo,
// reachability and the plan from the demo's six posts with the route
// sample drawn afresh (the "attack" case, target 1 s); then a sighting on
// the Basse Corniche and the re-plan from the cached sample ("replan",
// target 500 ms).
func BenchmarkIncidentResponse(b *testing.B) {
	a, w := MustOpenDemo(b)
	ctx := convoi.NewContextWithUser(context.Background(), w.userByName("commander"))
	svc := sqlite.NewIncidentService(a.DB)
	inc := &convoi.Incident{Place: demoAttackPlace, AttackAt: a.Now().Add(-time.Minute)}
	if err := svc.DeclareIncident(ctx, inc); err != nil {
		b.Fatal(err)
	}
	r := a.Response
	b.Run("attack", func(b *testing.B) {
		for range b.N {
			r.mu.Lock()
			clear(r.routes)
			r.mu.Unlock()
			if _, err := r.Reachability(ctx, inc, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Plan(ctx, inc, nil, a.Now(), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	sg := &convoi.Sighting{IncidentID: inc.ID, Place: demoSightingPlace, Time: inc.AttackAt.Add(demoSightingAfter), Confidence: 0.9}
	b.Run("replan", func(b *testing.B) {
		for range b.N {
			sgs, err := svc.FindSightings(ctx, inc.ID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Plan(ctx, inc, append(sgs, sg), sg.Time.Add(30*time.Second), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
