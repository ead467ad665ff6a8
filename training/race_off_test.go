//go:build !race

package training

// trRace is true when the tests run with the race detector.
const trRace = false
