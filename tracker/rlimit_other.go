//go:build !unix

package tracker

// OpenFileLimit returns 0: unknown on this system.
func OpenFileLimit() int { return 0 }
