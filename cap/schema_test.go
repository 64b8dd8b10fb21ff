package cap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/captest"
)

// TestAlertsValidateAgainstSchema: every kind of alert IncidentAlert
// writes (msgType Alert, Update and Cancel; status Actual and Exercise;
// polygons, the circle when no area was reached, a sighting, no vehicle,
// zones east and west of Greenwich) is valid against the CAP 1.2 XML
// schema (cap/testdata/CAP-v1.2.xsd), checked by libxml2's xmllint.
func TestAlertsValidateAgainstSchema(t *testing.T) {
	captest.Xmllint(t)
	seen := map[string]bool{}
	var names []string
	var docs [][]byte
	for _, st := range []struct {
		version int
		state   convoi.IncidentState
	}{{1, convoi.IncidentActive}, {2, convoi.IncidentActive}, {7, convoi.IncidentActive}, {8, convoi.IncidentClosed}} {
		for _, exercise := range []bool{false, true} {
			for _, v := range []string{"areas", "no area", "sighting", "bare", "west zone"} {
				inc := testIncident(st.version, st.state)
				in := IncidentAlertInput{Sender: "cic.monaco@convoi", SenderName: "CIC Monaco", Exercise: exercise, Incident: inc,
					From: inc.Place, FromLabel: "the attack", Areas: []AreaBand{{5, [][]convoi.LatLon{square}}, {10, [][]convoi.LatLon{square, square[:4]}}},
					Since: inc.AttackAt, Zone: time.FixedZone("CEST", 7200)}
				switch v {
				case "no area":
					in.Areas = nil
				case "sighting":
					in.LatestSighting = &convoi.Sighting{Place: convoi.LatLon{Lat: 43.7219, Lon: 7.4052}, PlaceName: "Basse Corniche, Cap-d'Ail",
						Time: inc.AttackAt.Add(4 * time.Minute), Confidence: 0.9, Note: "Grey SUV westbound <at speed> & no plates"}
					in.From, in.FromLabel, in.Since = in.LatestSighting.Place, "the sighting (Basse Corniche, Cap-d'Ail)", in.LatestSighting.Time
				case "bare":
					in.SenderName, in.Zone, in.Since = "", nil, time.Time{}
					inc.VehiclesSought, inc.PlaceName, inc.Instructions = nil, "", ""
				case "west zone":
					in.Zone = time.FixedZone("EDT", -4*3600)
				}
				a, err := IncidentAlert(in)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				seen["msgType "+a.MsgType] = true
				seen["status "+a.Status] = true
				names = append(names, fmt.Sprintf("v%d %s exercise=%v %s", st.version, st.state, exercise, v))
				docs = append(docs, b)
			}
		}
	}
	for _, want := range []string{"msgType Alert", "msgType Update", "msgType Cancel", "status Actual", "status Exercise"} {
		if !seen[want] {
			t.Errorf("no alert with %s among %d", want, len(docs))
		}
	}
	captest.AssertValid(t, names, docs...)
}

// TestSchemaRejects shows that the schema test can fail: each alert,
// broken in a way the CAP 1.2 schema forbids, is rejected by the schema
// (xmllint) and by Check alike. The second table is what only Check
// catches: rules of the specification's text that the schema cannot
// express; the schema accepts those documents.
func TestSchemaRejects(t *testing.T) {
	captest.Xmllint(t)
	good, _ := alertFor(t, testIncident(2, convoi.IncidentActive))
	doc := string(good)
	repl := func(old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q not in the document", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	const sent = "<sent>2026-05-14T09:34:00+02:00</sent>"
	const area5 = "<areaDesc>Reachable by car within 5 min of the attack</areaDesc>"
	bySchema := []struct{ name, doc string }{
		{"status enum", repl("<status>Actual</status>", "<status>Real</status>")},
		{"msgType enum", repl("<msgType>Update</msgType>", "<msgType>Notice</msgType>")},
		{"scope enum", repl("<scope>Restricted</scope>", "<scope>Police</scope>")},
		{"category enum", repl("<category>Security</category>", "<category>Police</category>")},
		{"responseType enum", repl("<responseType>Monitor</responseType>", "<responseType>Block</responseType>")},
		{"urgency enum", repl("<urgency>Immediate</urgency>", "<urgency>Now</urgency>")},
		{"severity enum", repl("<severity>Severe</severity>", "<severity>High</severity>")},
		{"certainty enum", repl("<certainty>Observed</certainty>", "<certainty>Sure</certainty>")},
		{"enum in lower case", repl("<status>Actual</status>", "<status>actual</status>")},
		{"no identifier", repl("<identifier>cic.monaco@convoi.incident-12.v2</identifier>", "")},
		{"no sent", repl(sent, "")},
		{"no scope", repl("<scope>Restricted</scope>", "")},
		{"no event", repl("<event>Attack on a prisoner escort</event>", "")},
		{"no category", repl("<category>Security</category>", "")},
		{"no areaDesc", repl(area5, "")},
		{"parameter without value", repl("<value>black Audi RS6</value>", "")},
		{"sent with Z", repl(sent, "<sent>2026-05-14T07:34:00Z</sent>")},
		{"sent with fraction", repl(sent, "<sent>2026-05-14T09:34:00.5+02:00</sent>")},
		{"sent without zone", repl(sent, "<sent>2026-05-14T09:34:00</sent>")},
		{"sent month 13", repl(sent, "<sent>2026-13-14T09:34:00+02:00</sent>")},
		{"expires not a date", repl("<expires>2026-05-14T10:34:00+02:00</expires>", "<expires>in an hour</expires>")},
		{"status before sent", repl(sent+"\n  <status>Actual</status>", "<status>Actual</status>\n  "+sent)},
		{"source after scope", repl("</scope>", "</scope><source>x</source>")},
		{"headline before senderName", repl("<senderName>CIC Monaco</senderName>", "<headline>x</headline><senderName>CIC Monaco</senderName>")},
		{"area before parameter", repl("<parameter>", "<area><areaDesc>x</areaDesc></area><parameter>")},
		{"two senders", repl("<sent>", "<sender>x</sender><sent>")},
		{"two urgencies", repl("</urgency>", "</urgency><urgency>Past</urgency>")},
		{"unknown element in alert", repl("<incidents>", "<route>secret</route><incidents>")},
		{"unknown element in info", repl("</info>", "<route>secret</route></info>")},
		{"other namespace in info", repl("</info>", `<x:route xmlns:x="urn:example">secret</x:route></info>`)},
		{"attribute", repl("<info>", `<info lang="en">`)},
		{"text in info", repl("<info>", "<info>hello")},
		{"language not a tag", repl("<language>en</language>", "<language>english (UK)</language>")},
		{"altitude not a decimal", repl("</polygon>\n    </area>", "</polygon><altitude>high</altitude>\n    </area>")},
		{"wrong namespace", repl(Namespace, "urn:oasis:names:tc:emergency:cap:1.1")},
	}
	onlyCheck := []struct{ name, doc string }{
		{"identifier with space", repl("cic.monaco@convoi.incident-12.v2<", "cic monaco<")},
		{"sender with comma", repl("<sender>cic.monaco@convoi</sender>", "<sender>cic,monaco</sender>")},
		{"restricted without restriction", repl("<restriction>Police and gendarmerie partner forces only. Not for publication.</restriction>", "")},
		{"reference not a triple", repl("cic.monaco@convoi,cic.monaco@convoi.incident-12.v1,", "cic.monaco@convoi.incident-12.v1,")},
		{"polygon of three points", repl("43.74000,7.37000 43.74000,7.38000 43.75000,7.38000 43.75000,7.37000 43.74000,7.37000", "43.74000,7.37000 43.74000,7.38000 43.74000,7.37000")},
		{"polygon open", repl("43.75000,7.37000 43.74000,7.37000<", "43.75000,7.37000 43.74500,7.37000<")},
		{"polygon off the globe", repl("43.74000,7.38000", "93.74000,7.38000")},
		{"ceiling without altitude", repl("</polygon>\n    </area>", "</polygon><ceiling>30</ceiling>\n    </area>")},
	}
	var docs [][]byte
	for _, c := range bySchema {
		docs = append(docs, []byte(c.doc))
	}
	for _, c := range onlyCheck {
		docs = append(docs, []byte(c.doc))
	}
	signed := strings.Replace(doc, "</alert>", `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature></alert>`, 1)
	docs = append(docs, good, []byte(signed))
	errs := captest.Validate(t, docs...)
	for i, c := range bySchema {
		if errs[i] == nil {
			t.Errorf("%s: the schema accepted it", c.name)
		}
		if err := Check([]byte(c.doc)); err == nil {
			t.Errorf("%s: the schema rejects it (%v), Check accepted it", c.name, errs[i])
		}
	}
	for i, c := range onlyCheck {
		if err := errs[len(bySchema)+i]; err != nil {
			t.Errorf("%s: the schema rejected it (%v); move it to the schema's table", c.name, err)
		}
		if err := Check([]byte(c.doc)); err == nil {
			t.Errorf("%s: Check accepted it", c.name)
		}
	}
	if err := errs[len(errs)-2]; err != nil {
		t.Errorf("the good alert: %v", err)
	}
	if err := errs[len(errs)-1]; err != nil {
		t.Errorf("a signed alert (the schema's ##other extension): %v", err)
	}
	if err := Check([]byte(signed)); err != nil {
		t.Errorf("a signed alert: Check: %v", err)
	}
}
