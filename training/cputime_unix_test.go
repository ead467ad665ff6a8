//go:build unix

package training

import (
	"syscall"
	"time"
)

// trCPUTime returns the user plus system CPU time of the process so far:
// unlike the wall clock, it does not grow while other processes hold the
// cores.
func trCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
