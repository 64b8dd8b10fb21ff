package web

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/convoi/convoi"
)

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"object", `{"ref":"A-1"}`, true},
		{"whitespace around", " \n{\"ref\":\"A-1\"}\n ", true},
		{"empty", ``, false},
		{"null", `null`, false}, // encoding/json would leave the zero value, as if {} was sent
		{"null padded", " null ", false},
		{"array", `[]`, false},
		{"unknown", `{"ref":"A-1","x":1}`, false},
		{"two objects", `{}{}`, false},
		{"trailing garbage", `{} x`, false},
		{"truncated", `{"ref":`, false},
		{"string", `"x"`, false},
		{"wrong type", `{"detainee_id":"1"}`, false},
		{"float id", `{"detainee_id":1.5}`, false},
		{"overflow", `{"detainee_id":1e400}`, false},
		{"bad time", `{"appointment_at":"noon"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v movementCreate
			err := decodeJSON([]byte(tc.in), &v, false)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && convoi.ErrorCode(err) != convoi.EINVALID {
				t.Fatalf("code %q, want invalid", convoi.ErrorCode(err))
			}
		})
	}
	var v reasonBody
	if err := decodeJSON(nil, &v, true); err != nil {
		t.Fatalf("optional empty body: %v", err)
	}
}

func TestParseLatLon(t *testing.T) {
	for in, ok := range map[string]bool{
		"43.7302,7.4222": true, " 43.7 , 7.4 ": true, "-90,-180": true, "90,180": true,
		"91,0": false, "0,181": false, "NaN,0": false, "43.7": false, "a,b": false, "": false, "1,2,3": false,
	} {
		if _, err := parseLatLon(in); (err == nil) != ok {
			t.Errorf("parseLatLon(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzDecodeJSON checks that the strict decoder never panics, only ever
// fails with an EINVALID error, and that whatever it accepts is one JSON
// object without unknown fields: re-encoding and decoding again gives the
// same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"ref":"MC-1","detainee_id":1,"from_site_id":1,"to_site_id":2,"purpose":"medical","appointment_at":"2026-03-02T09:30:00Z","requester":"x","crew":[1],"vehicles":[]}`,
		`{"ref":"A"}{}`, `{"crew":[1,"2"]}`, `[]`, `null`, `{"ref":"\u0000"}`, `{"appointment_at":"2026-13-40T99:00:00Z"}`,
		`{"ref":"a","ref":"b"}`, "{\"ref\":\"\xff\"}", `{"detainee_id":-0}`, `{"x":{"y":[[[[]]]]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, split := range []int{len(data), len(data) / 2} {
			var v movementCreate
			err := decodeJSON(data[:split], &v, false)
			if err != nil {
				if convoi.ErrorCode(err) != convoi.EINVALID || convoi.ErrorMessage(err) == "" {
					t.Fatalf("error %v is not an EINVALID with a message", err)
				}
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var w movementCreate
			if err := decodeJSON(again, &w, false); err != nil {
				t.Fatalf("re-decode %s: %v", again, err)
			}
			if again2, _ := json.Marshal(w); !bytes.Equal(again, again2) {
				t.Fatalf("not stable: %s vs %s", again, again2)
			}
		}
	})
}
