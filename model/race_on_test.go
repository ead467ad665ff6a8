//go:build race

package model

// raceEnabled: the race detector changes what allocates, so allocation
// counts are checked only without it (make test runs every test both ways).
const raceEnabled = true
