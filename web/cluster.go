package web

// InvalidateTokens empties the server's token cache. A cluster calls it on
// every node when any node revoked a token or updated a user, so that the
// change applies everywhere at once instead of after the cache's refresh
// (auth.DefaultTokenCacheRefresh). Call it only after Open has returned.
func (s *Server) InvalidateTokens() {
	if s.auth != nil && s.auth.Cache != nil {
		s.auth.Cache.Invalidate()
	}
}
