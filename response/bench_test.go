package response

import (
	"context"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// BenchmarkAttackMonaco is the first target: an attack at the La
// Turbie toll plaza, reachability (4 bands) and the interception plan from
// the demo's six police and gendarmerie posts (1,000 routes sampled).
func BenchmarkAttackMonaco(b *testing.B) {
	e := mustEngine(b, Params{})
	ctx := context.Background()
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	s := Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(time.Minute), Units: demoPosts}
	b.ResetTimer()
	for range b.N {
		if _, err := e.Reachability(ctx, laTurbieToll); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Plan(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplanMonaco is the second target: a sighting on the Basse
// Corniche three minutes after the attack, the routes kept from the
// attack's sample, the units re-planned from their positions.
func BenchmarkReplanMonaco(b *testing.B) {
	e := mustEngine(b, Params{})
	ctx := context.Background()
	at := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	routes, err := e.SampleRoutes(ctx, laTurbieToll, 0, e.p.Routes, e.p.Seed)
	if err != nil {
		b.Fatal(err)
	}
	seen := Sighting{At: basseCorniche, Time: at.Add(4 * time.Minute), Confidence: 0.9}
	s := Situation{Attack: laTurbieToll, AttackAt: at, Now: at.Add(5 * time.Minute), Units: demoPosts, Sightings: []Sighting{seen}}
	b.ResetTimer()
	for range b.N {
		if _, err := e.Plan(ctx, s, routes); err != nil {
			b.Fatal(err)
		}
	}
}

// basseCorniche is a point of the Basse Corniche (D6098) at Cap-d'Ail.
var basseCorniche = convoi.LatLon{Lat: 43.7219, Lon: 7.4052}

func BenchmarkSampleRoutes(b *testing.B) {
	e := mustEngine(b, Params{})
	for range b.N {
		if _, err := e.SampleRoutes(context.Background(), laTurbieToll, 0, 1000, 1); err != nil {
			b.Fatal(err)
		}
	}
}
