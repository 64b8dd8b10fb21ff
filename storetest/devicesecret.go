package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/convoi/convoi"
)

func testDeviceSecret(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	van := &convoi.Tracker{DeviceID: "356307042441013", Protocol: convoi.ProtocolTeltonika, VehicleID: w.Vans[0].ID}
	phone := &convoi.Tracker{DeviceID: "officer-a-phone", Protocol: convoi.ProtocolOsmAnd, OfficerID: w.Officers[0].ID}
	must(t, e.Trackers.CreateTracker(e.ctx, van))
	must(t, e.Trackers.CreateTracker(e.ctx, phone))
	h1, h2 := sha256.Sum256([]byte("first secret")), sha256.Sum256([]byte("second secret"))
	find := func(t *testing.T, d convoi.DeviceID, want []byte) {
		t.Helper()
		got, err := e.Secrets.FindDeviceSecret(e.ctx, d)
		if want == nil {
			wantCode(t, err, convoi.ENOTFOUND)
			return
		}
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("secret of %s = %x, want %x", d, got, want)
		}
	}

	t.Run("SetAndFind", func(t *testing.T) {
		find(t, van.DeviceID, nil) // no secret yet
		must(t, e.Secrets.SetDeviceSecret(e.ctx, van.ID, h1[:]))
		find(t, van.DeviceID, h1[:])
		find(t, phone.DeviceID, nil)
		find(t, "356307042441099", nil)
		must(t, e.Secrets.SetDeviceSecret(e.ctx2, van.ID, h2[:]))
		find(t, van.DeviceID, h2[:])
	})

	t.Run("Invalid", func(t *testing.T) {
		wantCode(t, e.Secrets.SetDeviceSecret(e.ctx, van.ID, h1[:31]), convoi.EINVALID)
		wantCode(t, e.Secrets.SetDeviceSecret(e.ctx, van.ID, nil), convoi.EINVALID)
		wantCode(t, e.Secrets.SetDeviceSecret(e.ctx, 9999, h1[:]), convoi.ENOTFOUND)
		find(t, van.DeviceID, h2[:]) // unchanged
	})

	t.Run("Disabled", func(t *testing.T) {
		_, err := e.Trackers.UpdateTracker(e.ctx, van.ID, convoi.TrackerUpdate{Disabled: ptr(true)})
		must(t, err)
		find(t, van.DeviceID, nil)
		_, err = e.Trackers.UpdateTracker(e.ctx, van.ID, convoi.TrackerUpdate{Disabled: ptr(false)})
		must(t, err)
		find(t, van.DeviceID, h2[:])
	})
}
