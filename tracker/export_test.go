package tracker

import (
	"context"
	"time"
)

// CheckOffline runs one pass of the offline watchdog at now.
func (s *Server) CheckOffline(now time.Time) { s.checkOffline(context.Background(), now) }
