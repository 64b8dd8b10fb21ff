package storetest

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testIntel(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	hearing := T0.Add(48 * time.Hour)
	cars := &convoi.Intel{DetaineeID: w.Detainee.ID, ObservedAt: hearing.Add(-7 * 24 * time.Hour), Grading: "C3",
		Kind: convoi.IntelSuspiciousVehicle, Text: "Unidentified cars seen waiting on the route."}
	phone := &convoi.Intel{DetaineeID: w.Detainee.ID, ObservedAt: hearing.Add(-24 * time.Hour), Grading: "A1",
		Kind: convoi.IntelPhoneFound, Text: "Phone and sawn cell bar found."}
	other := &convoi.Intel{DetaineeID: w.Other.ID, ObservedAt: hearing.Add(-3 * 24 * time.Hour), Grading: "F6",
		Kind: convoi.IntelOther, Text: "Rumour."}

	t.Run("Create", func(t *testing.T) {
		for _, in := range []*convoi.Intel{cars, phone, other} {
			must(t, e.Intel.CreateIntel(e.ctx, in))
			e.clock.Add(time.Minute)
		}
		got, err := e.Intel.FindIntelByID(e.ctx, phone.ID)
		must(t, err)
		same(t, "text", got.Text, phone.Text)
		same(t, "grading", got.Grading, phone.Grading)
		same(t, "kind", got.Kind, phone.Kind)
		same(t, "created_by", got.CreatedBy, author)
		sameTime(t, "observed_at", got.ObservedAt, phone.ObservedAt)
		sameTime(t, "recorded_at (store clock)", got.RecordedAt, T0.Add(time.Minute))
		_, err = e.Intel.FindIntelByID(e.ctx, 9999)
		wantCode(t, err, convoi.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			in   convoi.Intel
		}{
			{"MissingDetainee", convoi.Intel{DetaineeID: 9999, ObservedAt: T0, Grading: "B2", Kind: convoi.IntelOther, Text: "x"}},
			{"NoDetainee", convoi.Intel{ObservedAt: T0, Grading: "B2", Kind: convoi.IntelOther, Text: "x"}},
			{"NoObservedAt", convoi.Intel{DetaineeID: w.Detainee.ID, Grading: "B2", Kind: convoi.IntelOther, Text: "x"}},
			{"BadGrading", convoi.Intel{DetaineeID: w.Detainee.ID, ObservedAt: T0, Grading: "G7", Kind: convoi.IntelOther, Text: "x"}},
			{"BadKind", convoi.Intel{DetaineeID: w.Detainee.ID, ObservedAt: T0, Grading: "B2", Kind: "gossip", Text: "x"}},
			{"NoText", convoi.Intel{DetaineeID: w.Detainee.ID, ObservedAt: T0, Grading: "B2", Kind: convoi.IntelOther}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := tc.in
				wantCode(t, e.Intel.CreateIntel(e.ctx, &in), convoi.EINVALID)
			})
		}
		_, n, err := e.Intel.FindIntel(e.ctx, convoi.IntelFilter{})
		must(t, err)
		same(t, "entries stored", n, 3)
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.IntelFilter
			want   []convoi.IntelID
		}{
			{"AllNewestObservationFirst", convoi.IntelFilter{}, []convoi.IntelID{phone.ID, other.ID, cars.ID}},
			{"ID", convoi.IntelFilter{ID: &cars.ID}, []convoi.IntelID{cars.ID}},
			{"Detainee", convoi.IntelFilter{DetaineeID: &w.Detainee.ID}, []convoi.IntelID{phone.ID, cars.ID}},
			{"ObservedSince", convoi.IntelFilter{DetaineeID: &w.Detainee.ID, ObservedSince: ptr(hearing.Add(-2 * 24 * time.Hour))}, []convoi.IntelID{phone.ID}},
			{"ObservedSinceInclusive", convoi.IntelFilter{ObservedSince: &phone.ObservedAt}, []convoi.IntelID{phone.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n, err := e.Intel.FindIntel(e.ctx, tc.filter)
				must(t, err)
				var ids []convoi.IntelID
				for _, in := range got {
					ids = append(ids, in.ID)
				}
				same(t, "ids", ids, tc.want)
				same(t, "total", n, len(tc.want))
			})
		}
	})
}
