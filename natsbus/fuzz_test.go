package natsbus_test

import (
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/natsbus"
)

// FuzzSubject: whatever a device ID or event type holds, the subject an
// event goes to is a valid literal NATS subject of exactly four tokens
// under the prefix: no empty token, no wildcard, no white space.
func FuzzSubject(f *testing.F) {
	for _, s := range []string{"356307042441013", "a.b", "*", ">", "", " ", "dev:1-2_3", "é\x00\n"} {
		f.Add(s, "position")
	}
	f.Add("x", "")
	f.Add("x", "a.b")
	s := natsbus.New("nats://unused")
	f.Fuzz(func(t *testing.T, dev, typ string) {
		subj := s.Subject(convoi.Event{Type: convoi.EventType(typ), Position: &convoi.Position{DeviceID: convoi.DeviceID(dev)}})
		if !strings.HasPrefix(subj, natsbus.DefaultPrefix+".") {
			t.Fatalf("subject %q outside the prefix", subj)
		}
		toks := strings.Split(subj, ".")
		if len(toks) != 4 {
			t.Fatalf("subject %q has %d tokens, want 4", subj, len(toks))
		}
		for _, tok := range toks {
			if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>\x00") {
				t.Fatalf("subject %q has an invalid token %q", subj, tok)
			}
			for _, r := range tok {
				if r < 0x21 || r > 0x7e {
					t.Fatalf("subject %q has a non-printable byte", subj)
				}
			}
		}
	})
}
