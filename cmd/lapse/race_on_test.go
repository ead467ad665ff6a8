//go:build race

package main

import "testing"

// skipUnderRace skips a test that trains on a synthetic history of
// thousands of users: the race detector makes it ten times slower, its
// concurrency is covered by the sample-sized runs, and make test runs every
// test a second time without -race.
func skipUnderRace(t *testing.T) {
	t.Helper()
	t.Skip("heavy training run: skipped under -race, run by the plain pass of make test")
}
