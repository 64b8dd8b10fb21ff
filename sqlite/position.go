package sqlite

import (
	"context"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/internal/sqlstore"
)

var _ convoi.PositionService = (*PositionService)(nil)

// Position listing limits: FindPositions and FindDeviceEvents return at most
// MaxPositionLimit records, DefaultPositionLimit when the filter's Limit is 0.
const (
	DefaultPositionLimit = sqlstore.DefaultPositionLimit
	MaxPositionLimit     = sqlstore.MaxPositionLimit
)

// MaxPositionBatch bounds one StorePositions call (positions plus events), so
// that one caller cannot hold the single writer for long.
const MaxPositionBatch = sqlstore.MaxPositionBatch

// PositionService implements convoi.PositionService: the tracker ingest path.
type PositionService struct {
	db                       *DB
	*sqlstore.PositionReader // FindPositions, FindDeviceEvents
}

// NewPositionService returns a PositionService on db.
func NewPositionService(db *DB) *PositionService {
	return &PositionService{db: db, PositionReader: sqlstore.NewPositionReader(db.store)}
}

// StorePositions validates the whole batch first (a bad record is EINVALID
// naming its index, and nothing is written), then inserts it with prepared
// statements and INSERT OR IGNORE, so that a record already stored (same
// device and fix time; for events same device, time and kind) is skipped.
// It returns once the transaction is committed and the WAL fsynced: the
// caller may acknowledge the records. The batch is
// written atomically; batches from concurrent callers may share one
// transaction (group commit, see commitPositions). A zero ServerTime is set
// to DB.Now. IDs are not set on the inputs. Safe for concurrent use.
func (s *PositionService) StorePositions(ctx context.Context, ps []convoi.Position, evs []convoi.DeviceEvent) (newPositions, newEvents int, err error) {
	if len(ps)+len(evs) == 0 {
		return 0, 0, nil
	}
	attrs, err := sqlstore.PrepareBatch(ps, evs)
	if err != nil {
		return 0, 0, err
	}
	if s.db.positions == nil {
		return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is not open.")
	}
	req := &positionBatch{ps: ps, evs: evs, attrs: attrs, by: convoi.UserIDFromContext(ctx), done: make(chan positionResult, 1)}
	select {
	case s.db.positions <- req:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-s.db.ctx.Done():
		return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")
	}
	// Once queued the batch is written even if ctx ends; the caller then
	// does not know, and the device's retransmission is deduplicated.
	select {
	case r := <-req.done:
		return r.positions, r.events, r.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-s.db.positionsDone:
		select {
		case r := <-req.done:
			return r.positions, r.events, r.err
		default:
			return 0, 0, convoi.Errorf(convoi.EUNAVAILABLE, "Database is closed.")
		}
	}
}
