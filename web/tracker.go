package web

import (
	"context"

	"github.com/convoi/convoi"
)

// trackerView is a tracker with its live state, the body of GET
// /api/v1/trackers/{id} and the items of GET /api/v1/trackers.
type trackerView struct {
	*convoi.Tracker
	convoi.DeviceStatus
}

// trackerViews adds the live state to trackers, as u may see it: the last
// position is where an escort is, for the roles that see schedules only.
func (s *Server) trackerViews(ctx context.Context, u *convoi.User, ts []*convoi.Tracker) ([]trackerView, error) {
	out := make([]trackerView, len(ts))
	for i, t := range ts {
		out[i].Tracker = t
		if s.Devices == nil {
			continue
		}
		st, err := s.Devices.DeviceStatus(ctx, t.DeviceID)
		if err != nil {
			return nil, err
		}
		if !u.SeesSchedule() {
			st.LastPosition = nil
		}
		out[i].DeviceStatus = st
	}
	return out, nil
}
