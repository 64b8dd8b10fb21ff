package web

// HashSlots is the password-hashing semaphore, for tests that hold every
// slot to check that a login waits a bounded time.
func (s *Server) HashSlots() chan struct{} { return s.hashSem }
