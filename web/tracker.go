package web

import (
	"context"
	"time"

	"github.com/convoi/convoi"
)

// DeviceStatuses reports trackers' live state: online, last seen, last
// position. cmd/convoi adapts the tracker server to it; without one, the
// tracker endpoints answer with the registration only.
type DeviceStatuses interface {
	DeviceStatus(ctx context.Context, d convoi.DeviceID) (DeviceStatus, error)
}

// DeviceStatus is a tracker's state as the control room sees it. LastSeen
// and LastPosition are null when the device never reported.
type DeviceStatus struct {
	Online       bool             `json:"online"`
	Connected    bool             `json:"connected"` // a Teltonika TCP connection is open: commands can be sent
	LastSeen     *time.Time       `json:"last_seen"`
	LastPosition *convoi.Position `json:"last_position"`
}

// trackerView is a tracker with its live state, the body of GET
// /api/v1/trackers/{id} and the items of GET /api/v1/trackers.
type trackerView struct {
	*convoi.Tracker
	DeviceStatus
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
