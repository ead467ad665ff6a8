package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestReasonsTopN checks the one-pass selection of reasons against a
// stable sort of every feature by |contribution|, with ties, zeros and
// NaNs, for n = 1..5.
func TestReasonsTopN(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const dim = 40
	m := &Model{Features: make([]string, dim)}
	for j := range m.Features {
		m.Features[j] = fmt.Sprintf("f%02d", j)
	}
	x := make([]float64, dim)
	for trial := range 500 {
		contrib := make([]float64, dim)
		for j := range contrib {
			switch rng.IntN(6) {
			case 0:
				contrib[j] = 0
			case 1:
				contrib[j] = math.NaN()
			case 2:
				contrib[j] = float64(rng.IntN(3)) - 1 // many ties, both signs
			default:
				contrib[j] = rng.NormFloat64()
			}
		}
		for n := 1; n <= 5; n++ {
			var want []int
			for j, c := range contrib {
				if c != 0 && !math.IsNaN(c) {
					want = append(want, j)
				}
			}
			sort.SliceStable(want, func(a, b int) bool { return math.Abs(contrib[want[a]]) > math.Abs(contrib[want[b]]) })
			if len(want) > n {
				want = want[:n]
			}
			got := m.reasons(x, contrib, n)
			if len(got) != len(want) {
				t.Fatalf("trial %d n %d: %d reasons, want %d", trial, n, len(got), len(want))
			}
			for i, j := range want {
				if got[i].Feature != m.Features[j] {
					t.Fatalf("trial %d n %d: reason %d is %s, want %s (contributions %v)", trial, n, i, got[i].Feature, m.Features[j], contrib)
				}
			}
		}
	}
}
