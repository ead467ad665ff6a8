//go:build !unix

package training

import "time"

// trCPUTime is not available here.
func trCPUTime() (time.Duration, bool) { return 0, false }
