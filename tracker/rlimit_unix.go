//go:build unix

package tracker

import "syscall"

// OpenFileLimit returns the process's soft limit on open files, or 0 when
// unknown or unlimited.
func OpenFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
