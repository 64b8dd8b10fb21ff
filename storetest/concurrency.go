package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
)

// testConcurrency checks that concurrent writers and readers all succeed
// (no "database is locked") and that every write lands.
func testConcurrency(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := w.movement(fmt.Sprintf("MC-C%d-%d", g, i), T0.Add(time.Duration(i)*time.Minute))
				if err := e.Movements.CreateMovement(e.ctx, m); err != nil {
					errs <- err
					continue
				}
				if _, err := e.Movements.TransitionMovement(e.ctx, m.ID, convoi.TransitionRequest{Action: convoi.ActionAssess}); err != nil {
					errs <- err
				}
				dev := convoi.DeviceID(fmt.Sprintf("dev-%d", g))
				if _, _, err := e.Positions.StorePositions(e.ctx, []convoi.Position{fix(dev, i)}, nil); err != nil {
					errs <- err
				}
				if _, _, err := e.Movements.FindMovements(e.ctx, convoi.MovementFilter{State: ptr(convoi.StateAssessed)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, n, err := e.Movements.FindMovements(e.ctx, convoi.MovementFilter{State: ptr(convoi.StateAssessed)})
	must(t, err)
	same(t, "movements", n, workers*each)
	ps, err := e.Positions.FindPositions(e.ctx, convoi.PositionFilter{})
	must(t, err)
	same(t, "positions", len(ps), workers*each)
}
