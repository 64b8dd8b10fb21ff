package web

import (
	"encoding/json"
	"testing"

	"github.com/convoi/convoi"
)

// FuzzAlarmStepBody checks the decoding and validation of the body of
// POST /alarms/{id}/{step}: never a panic, only EINVALID errors with a
// message, and a body accepted for resolve carries a known resolution and a
// non-empty note of bounded size, which survives re-encoding.
func FuzzAlarmStepBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"note":"Calling the van."}`, `{"note":"Van rammed.","resolution":"incident_declared"}`,
		`{"resolution":"handled"}`, `{"note":" ","resolution":"false_alarm"}`, `{"note":1}`, `{"note":"a","by":7}`,
		`{"note":"\u0000","resolution":"handled"}`, "{\"note\":\"\xff\",\"resolution\":\"handled\"}", `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, act := range convoi.AlarmActions {
			var b alarmStepBody
			err := decodeJSON(data, &b, true)
			var note string
			if err == nil {
				note, err = convoi.ValidateAlarmStep(act, b.Resolution, b.Note)
			}
			if err != nil {
				if convoi.ErrorCode(err) != convoi.EINVALID || convoi.ErrorMessage(err) == "" {
					t.Fatalf("%s: error %v is not an EINVALID with a message", act, err)
				}
				continue
			}
			if len(note) > convoi.MaxAlarmNote {
				t.Fatalf("%s: note of %d bytes accepted", act, len(note))
			}
			if act == convoi.AlarmActionResolve && (!b.Resolution.Valid() || note == "") {
				t.Fatalf("resolve accepted %+v", b)
			}
			if act != convoi.AlarmActionResolve && b.Resolution != "" {
				t.Fatalf("%s accepted a resolution", act)
			}
			again, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			var c alarmStepBody
			if err := decodeJSON(again, &c, false); err != nil || c != b {
				t.Fatalf("re-decode %s: %+v, %v", again, c, err)
			}
		}
	})
}
