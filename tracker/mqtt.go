package tracker

func (s *Server) openMQTT() error { return nil }
