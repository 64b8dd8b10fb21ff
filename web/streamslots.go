package web

import (
	"net/http"
	"sync"

	"github.com/convoi/convoi"
)

// streamSlots admits live streams: at most max in all, at most perUser per
// user, and the last reserved slots only for control and commanders.
type streamSlots struct {
	max, perUser, reserved int

	mu         sync.Mutex // guards the counts below
	total      int
	unreserved int // streams held by roles without the reserve
	byUser     map[convoi.UserID]int
}

func newStreamSlots(max, perUser, reserved int) *streamSlots {
	if max <= 0 {
		max = 1
	}
	if perUser <= 0 {
		perUser = DefaultMaxStreamsPerUser
	}
	switch {
	case reserved == 0:
		reserved = max / 4
	case reserved < 0:
		reserved = 0
	}
	return &streamSlots{max: max, perUser: perUser, reserved: min(reserved, max), byUser: map[convoi.UserID]int{}}
}

// reserveRoles may take the reserved slots: the control room must always
// be able to watch.
func reserveRoles(u *convoi.User) bool {
	return u.Role == convoi.RoleControl || u.Role == convoi.RoleCommander
}

// acquire takes a slot for u and returns its release, or a 429 (this user
// has too many) or 503 (no slot for this role) error.
func (s *streamSlots) acquire(u *convoi.User) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	priv := reserveRoles(u)
	switch {
	case s.total >= s.max || (!priv && s.unreserved >= s.max-s.reserved):
		return nil, convoi.Errorf(convoi.EUNAVAILABLE, "Too many open streams; try again later.")
	case s.byUser[u.ID] >= s.perUser:
		return nil, withStatus(http.StatusTooManyRequests, convoi.EUNAVAILABLE,
			"You have %d streams open, the most one user may; close one first.", s.perUser)
	}
	s.total++
	s.byUser[u.ID]++
	if !priv {
		s.unreserved++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byUser[u.ID]--; s.byUser[u.ID] == 0 {
				delete(s.byUser, u.ID)
			}
			if !priv {
				s.unreserved--
			}
		})
	}, nil
}
