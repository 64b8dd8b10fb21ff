package web

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func TestProgressCache(t *testing.T) {
	c := newProgressCache()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	c.record(&convoi.Progress{MovementID: 1, VehicleID: 2, FixTime: at(10), AlongM: 100})
	c.record(&convoi.Progress{MovementID: 1, VehicleID: 2, FixTime: at(5), AlongM: 50}) // out of order
	c.record(&convoi.Progress{MovementID: 1, VehicleID: 1, FixTime: at(9), AlongM: 90})
	c.record(nil)
	c.record(&convoi.Progress{VehicleID: 3, FixTime: at(1)}) // no movement: ignored
	got := c.latest(1)
	if len(got) != 2 || got[0].VehicleID != 1 || got[1].VehicleID != 2 || got[1].AlongM != 100 {
		t.Fatalf("latest %+v: want vehicles 1 and 2, the latter at its newest fix", got)
	}
	if pts := c.points(1, 2); len(pts) != 2 || pts[at(5).UnixNano()].along != 50 {
		t.Fatalf("points %+v", pts)
	}
	if len(c.movements) != 1 {
		t.Fatalf("%d movements followed", len(c.movements))
	}

	// The history is bounded, keeping the most recent fixes.
	for i := range 3 * progressHistory {
		c.record(&convoi.Progress{MovementID: 1, VehicleID: 2, FixTime: at(100 + i)})
	}
	pts := c.points(1, 2)
	if len(pts) > progressHistory {
		t.Fatalf("history of %d points", len(pts))
	}
	if _, ok := pts[at(100+3*progressHistory-1).UnixNano()]; !ok {
		t.Fatal("the newest fix was dropped")
	}
	if _, ok := pts[at(100).UnixNano()]; ok {
		t.Fatal("the oldest fix was kept")
	}

	// So is the number of movements: the stalest (movement 1, whose
	// newest fix is older than all the others') is forgotten first.
	for m := 2; m <= progressMaxMovements+1; m++ {
		c.record(&convoi.Progress{MovementID: convoi.MovementID(m), VehicleID: 1, FixTime: at(100000 + m)})
	}
	if len(c.movements) != progressMaxMovements {
		t.Fatalf("%d movements followed", len(c.movements))
	}
	if len(c.latest(1)) != 0 || len(c.latest(2)) == 0 {
		t.Fatal("evicted the wrong movement")
	}
	c.forget(2)
	if len(c.latest(2)) != 0 {
		t.Fatal("forget kept the movement")
	}
}
