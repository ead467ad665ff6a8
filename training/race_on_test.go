//go:build race

package training

// trRace is true when the tests run with the race detector, which makes the
// real-data runs several times slower; the plain run covers them.
const trRace = true
