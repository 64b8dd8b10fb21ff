package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/sqlite"
)

// TestAlarmsWired: an alarm raised through the app's alarm service (as the
// monitor does) is listed by the API and acknowledged through it.
func TestAlarmsWired(t *testing.T) {
	a, _ := MustOpenDemo(t)
	ctx := context.Background()
	ms, _, err := sqlite.NewMovementService(a.DB).FindMovements(ctx, convoi.MovementFilter{Page: convoi.Page{Limit: 1}})
	if err != nil || len(ms) == 0 {
		t.Fatalf("demo movements: %v", err)
	}
	raised, created, err := a.Alarms.RaiseAlarm(ctx, &convoi.Alarm{MovementID: ms[0].ID, Rule: convoi.RuleDevice,
		Severity: convoi.SeverityCritical, Detail: "Panic button", FirstSeen: a.Now()})
	if err != nil || !created {
		t.Fatalf("raise: %v (created %v)", err, created)
	}
	token := login(t, a, "control")
	call := func(method, path string) (int, []byte) {
		req, _ := http.NewRequest(method, a.URL()+path, strings.NewReader(`{"note":"On it."}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := call("GET", "/api/v1/alarms?state=open")
	var list struct{ Items []convoi.Alarm }
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Items) != 1 || list.Items[0].ID != raised.ID {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body := call("POST", "/api/v1/alarms/"+itoa(int64(raised.ID))+"/acknowledge"); status != 200 || !strings.Contains(string(body), `"acknowledged"`) {
		t.Fatalf("acknowledge: %d %s", status, body)
	}
}
