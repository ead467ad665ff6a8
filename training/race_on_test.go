//go:build race

package training

import "testing"

// trRace is true when the tests run with the race detector, which makes the
// real-data runs several times slower; the plain run covers them.
const trRace = true

// trSkipUnderRace skips a numeric test that the race detector makes ten to
// twenty times slower and that shares its concurrency with tests that do
// run under it (TestTrainSample, the small GBDT and k-means tests). make
// test runs every test a second time without -race, which covers it.
func trSkipUnderRace(t *testing.T) {
	t.Helper()
	t.Skip("heavy numeric test: skipped under -race, run by the plain pass of make test")
}
