//go:build !race

package training

import "testing"

// trRace is true when the tests run with the race detector.
const trRace = false

// trSkipUnderRace does nothing without the race detector.
func trSkipUnderRace(*testing.T) {}
