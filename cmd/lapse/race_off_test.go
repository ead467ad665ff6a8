//go:build !race

package main

import "testing"

// skipUnderRace does nothing without the race detector.
func skipUnderRace(*testing.T) {}
