package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

func getJSON(t *testing.T, a *App, token, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", a.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, raw)
		}
	}
	return resp.StatusCode
}

// TestTrackerStatusThroughAPI: GET /trackers/{id} says whether the device
// is online, when it was last seen and where.
func TestTrackerStatusThroughAPI(t *testing.T) {
	a, _ := MustOpenDemo(t)
	dev := convoi.DeviceID("123456789012345")
	ts, _, err := sqlite.NewTrackerService(a.DB).FindTrackers(context.Background(), convoi.TrackerFilter{DeviceID: &dev})
	if err != nil || len(ts) != 1 {
		t.Fatalf("demo tracker %s: %v", dev, err)
	}
	path := "/api/v1/trackers/" + itoa(int64(ts[0].ID))
	token := login(t, a, "control")
	type view struct {
		DeviceID     string           `json:"device_id"`
		Online       *bool            `json:"online"`
		LastSeen     *time.Time       `json:"last_seen"`
		LastPosition *convoi.Position `json:"last_position"`
	}
	var before view
	if code := getJSON(t, a, token, path, &before); code != 200 || before.Online == nil || *before.Online || before.LastSeen != nil || before.LastPosition != nil {
		t.Fatalf("before any report: %d %+v", code, before)
	}

	conn, err := net.DialTimeout("tcp", a.Tracker.TeltonikaTCPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	hello, _ := hex.DecodeString("000F313233343536373839303132333435")
	frame, _ := hex.DecodeString("000000000000003508010000014f8e016420002141bbaf0f4e96a7fffa0000120000000602010047030242669c92000002c7000000009100000000000100002df3")
	conn.Write(hello)
	reply := make([]byte, 1)
	if _, err := io.ReadFull(conn, reply); err != nil || reply[0] != 1 {
		t.Fatalf("login %v %v", reply, err)
	}
	conn.Write(frame)
	if _, err := io.ReadFull(conn, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	var after view
	if code := getJSON(t, a, token, path, &after); code != 200 || after.Online == nil || !*after.Online || after.LastSeen == nil || after.LastPosition == nil {
		t.Fatalf("after a report: %d %+v", code, after)
	}
	if after.DeviceID != string(dev) || after.LastPosition.Lat == 0 || after.LastPosition.FixTime.UTC().Format(time.RFC3339) != "2015-09-02T12:21:40Z" {
		t.Errorf("last position %+v", after.LastPosition)
	}
	var list struct {
		Items []view `json:"items"`
	}
	if code := getJSON(t, a, token, "/api/v1/trackers?device_id="+string(dev), &list); code != 200 || len(list.Items) != 1 || list.Items[0].Online == nil || !*list.Items[0].Online {
		t.Fatalf("list: %d %+v", code, list)
	}
}

// TestAPIIndex: GET /api/v1 answers without a token and says how to log in.
func TestAPIIndex(t *testing.T) {
	a, _ := MustOpenDemo(t)
	for _, p := range []string{"/api/v1", "/api/v1/"} {
		var idx map[string]string
		if code := getJSON(t, a, "", p, &idx); code != 200 || !bytes.Contains([]byte(idx["login"]), []byte("POST /api/v1/session")) {
			t.Errorf("GET %s: %d %v", p, code, idx)
		}
	}
}
