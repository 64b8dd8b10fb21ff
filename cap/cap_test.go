package cap

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testIncident(version int, state convoi.IncidentState) *convoi.Incident {
	t0 := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC)
	return &convoi.Incident{ID: 12, MovementID: 3, AlarmID: 5, Place: convoi.LatLon{Lat: 43.7445, Lon: 7.3755},
		PlaceName: "Péage de La Turbie (A8)", AttackAt: t0, VehiclesSought: []string{"dark grey Peugeot 5008, AB-123-CD", "black Audi RS6"},
		State: state, Version: version, CreatedAt: t0.Add(90 * time.Second), UpdatedAt: t0.Add(time.Duration(version) * 2 * time.Minute)}
}

var square = []convoi.LatLon{{Lat: 43.74, Lon: 7.37}, {Lat: 43.74, Lon: 7.38}, {Lat: 43.75, Lon: 7.38}, {Lat: 43.75, Lon: 7.37}, {Lat: 43.74, Lon: 7.37}}

func alertFor(t *testing.T, inc *convoi.Incident) ([]byte, *Alert) {
	t.Helper()
	a, err := IncidentAlert(IncidentAlertInput{Sender: "cic.monaco@convoi", SenderName: "CIC Monaco", Incident: inc,
		From: inc.Place, FromLabel: "the attack", Areas: []AreaBand{{5, [][]convoi.LatLon{square}}, {10, [][]convoi.LatLon{square, square[:4]}}},
		Zone: time.FixedZone("CEST", 7200)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b, a
}

func TestIncidentAlert(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int
		state   convoi.IncidentState
		msgType string
		refs    bool
	}{
		{"declared", 1, convoi.IncidentActive, "Alert", false},
		{"updated", 4, convoi.IncidentActive, "Update", true},
		{"closed", 5, convoi.IncidentClosed, "Cancel", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := alertFor(t, testIncident(c.version, c.state))
			if err := Check(b); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			var back Alert
			if err := xml.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.MsgType != c.msgType || (back.References != "") != c.refs {
				t.Fatalf("msgType %s references %q", back.MsgType, back.References)
			}
			if c.refs && back.References != "cic.monaco@convoi,cic.monaco@convoi.incident-12.v1,2026-05-14T09:31:30+02:00" {
				t.Errorf("references %q", back.References)
			}
			if back.Sent.Format(timeLayout) != testIncident(c.version, c.state).UpdatedAt.In(time.FixedZone("", 7200)).Format(timeLayout) {
				t.Errorf("sent %v", back.Sent)
			}
			if back.Scope != "Restricted" || back.Restriction == "" {
				t.Errorf("scope %s restriction %q", back.Scope, back.Restriction)
			}
			info := back.Info[0]
			if len(info.Area) != 2 || len(info.Area[1].Polygon) != 2 {
				t.Fatalf("areas %+v", info.Area)
			}
			// The open ring was closed.
			if p := info.Area[1].Polygon[1]; !strings.HasPrefix(p, "43.74000,7.37000 ") || !strings.HasSuffix(p, " 43.74000,7.37000") {
				t.Errorf("polygon %q", p)
			}
			if !strings.Contains(info.Description, "dark grey Peugeot 5008, AB-123-CD; black Audi RS6") || len(info.Parameter) != 2 {
				t.Errorf("vehicles missing: %q %v", info.Description, info.Parameter)
			}
			if info.Instruction != DefaultInstructions {
				t.Errorf("instruction %q", info.Instruction)
			}
		})
	}
	if _, err := IncidentAlert(IncidentAlertInput{Sender: "a b", Incident: testIncident(1, convoi.IncidentActive)}); err == nil {
		t.Error("sender with a space accepted")
	}
	if _, err := IncidentAlert(IncidentAlertInput{Sender: "x", Incident: &convoi.Incident{}}); err == nil {
		t.Error("unsaved incident accepted")
	}
}

// TestCheckRejects breaks a valid alert in each way the CAP 1.2 schema
// and specification forbid.
func TestCheckRejects(t *testing.T) {
	good, _ := alertFor(t, testIncident(2, convoi.IncidentActive))
	doc := string(good)
	if err := Check(good); err != nil {
		t.Fatal(err)
	}
	repl := func(old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q not in the document", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	cases := []struct{ name, doc, want string }{
		{"wrong namespace", repl(Namespace, "urn:oasis:names:tc:emergency:cap:1.1"), "root element"},
		{"no identifier", repl("<identifier>cic.monaco@convoi.incident-12.v2</identifier>", ""), "identifier missing"},
		{"identifier with space", repl("cic.monaco@convoi.incident-12.v2<", "cic monaco<"), "without spaces"},
		{"identifier with comma", repl("cic.monaco@convoi.incident-12.v2<", "a,b<"), "without spaces"},
		{"status enum", repl("<status>Actual</status>", "<status>Real</status>"), "not one of"},
		{"order", repl("<status>Actual</status>\n  <msgType>Update</msgType>", "<msgType>Update</msgType>\n  <status>Actual</status>"), "status missing"},
		{"sent with Z", repl("<sent>2026-05-14T09:34:00+02:00</sent>", "<sent>2026-05-14T07:34:00Z</sent>"), "dateTime pattern"},
		{"sent with fraction", repl("<sent>2026-05-14T09:34:00+02:00</sent>", "<sent>2026-05-14T09:34:00.5+02:00</sent>"), "dateTime pattern"},
		{"sent not a date", repl("<sent>2026-05-14T09:34:00+02:00</sent>", "<sent>2026-13-14T09:34:00+02:00</sent>"), "not a valid time"},
		{"two senders", repl("<sent>", "<sender>x</sender><sent>"), "at most 1"},
		{"out of order", repl("</scope>", "</scope><source>x</source>"), "out of order"},
		{"restricted without restriction", repl("<restriction>Police and gendarmerie partner forces only. Not for publication.</restriction>", ""), "requires restriction"},
		{"bad reference", repl("cic.monaco@convoi,cic.monaco@convoi.incident-12.v1,", "cic.monaco@convoi.incident-12.v1,"), "triple"},
		{"no category", repl("<category>Security</category>", ""), "category missing"},
		{"category enum", repl("<category>Security</category>", "<category>Police</category>"), "not one of"},
		{"urgency enum", repl("<urgency>Immediate</urgency>", "<urgency>Now</urgency>"), "not one of"},
		{"unknown element before", repl("<event>", "<route>secret</route><event>"), "event missing"},
		{"unknown element", repl("</info>", "<route>secret</route></info>"), "unexpected element"},
		{"attribute", repl("<info>", `<info lang="en">`), "attribute"},
		{"text in info", repl("<info>", "<info>hello"), "text not allowed"},
		{"polygon too short", repl("43.74000,7.37000 43.74000,7.38000 43.75000,7.38000 43.75000,7.37000 43.74000,7.37000", "43.74000,7.37000 43.74000,7.38000 43.74000,7.37000"), "at least 4"},
		{"polygon open", repl("43.75000,7.37000 43.74000,7.37000<", "43.75000,7.37000 43.74500,7.37000<"), "closed"},
		{"polygon lat out of range", repl("43.74000,7.38000", "93.74000,7.38000"), "WGS 84"},
		{"polygon pair", repl("43.74000,7.38000", "43.74000;7.38000"), "lat,lon"},
		{"area without desc", repl("<areaDesc>Reachable by car within 5 min of the attack</areaDesc>", ""), "areaDesc missing"},
		{"not xml", "<alert", "CAP"},
		{"doctype", strings.Replace(doc, "<alert", "<!DOCTYPE alert><alert", 1), "directive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check([]byte(c.doc))
			if err == nil {
				t.Fatalf("accepted")
			}
			if convoi.ErrorCode(err) != convoi.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A signature (another namespace) may end the alert.
	signed := strings.Replace(doc, "</alert>", `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature></alert>`, 1)
	if err := Check([]byte(signed)); err != nil {
		t.Errorf("signed alert rejected: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier></alert>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := Check(b); err != nil && convoi.ErrorCode(err) != convoi.EINVALID {
			t.Fatalf("not EINVALID: %v", err)
		}
	})
}

// An area drawn from a sighting says when the fugitives were there, with
// the zone: partner forces read the alert wherever they are.
func TestIncidentAlertAreaSaysWhenWithZone(t *testing.T) {
	inc := testIncident(2, convoi.IncidentActive)
	a, err := IncidentAlert(IncidentAlertInput{Sender: "cic.monaco@convoi", Incident: inc,
		From: inc.Place, FromLabel: "the sighting (Basse Corniche)", Since: inc.AttackAt.Add(4 * time.Minute),
		Areas: []AreaBand{{5, [][]convoi.LatLon{square}}}, Zone: time.FixedZone("CEST", 7200)})
	if err != nil {
		t.Fatal(err)
	}
	want := "Reachable by car within 5 min of the sighting (Basse Corniche) at " + inc.AttackAt.Add(4*time.Minute).In(time.FixedZone("CEST", 7200)).Format("15:04") + " CEST"
	if got := a.Info[0].Area[0].AreaDesc; got != want {
		t.Fatalf("area description %q, want %q", got, want)
	}
}
