package training

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// sgBenchCols is the width of the benchmark matrices: the 14 usage
// columns of sgUsage plus unclustered filler, 40 in all (the issue's
// 1M users × 40 features target).
const sgBenchCols = 40

// sgBenchData returns n users of the four personas in a 40-column matrix
// and its names.
func sgBenchData(n int) ([]string, *Matrix) {
	u, _ := sgUsage(n, 4, 11)
	names := append([]string(nil), sgUsageNames...)
	for j := len(names); j < sgBenchCols; j++ {
		names = append(names, fmt.Sprintf("filler_%d", j))
	}
	x := NewMatrix(n, sgBenchCols)
	rng := rand.New(rand.NewPCG(12, 13))
	for i := range n {
		row := x.Row(i)
		copy(row, u.Row(i))
		for j := u.Cols; j < sgBenchCols; j++ {
			row[j] = rng.Float64()
		}
	}
	return names, &x
}

// BenchmarkFitClusters runs FitClusters end to end (transform, k chosen
// by silhouette over 2..10, k-means++ with 4 restarts on a 200k sample,
// every user assigned and profiled) at 100k and 1M users × 40 columns
// (13 clustered); 1M is skipped with -short.
func BenchmarkFitClusters(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("1M users skipped in -short")
			}
			names, x := sgBenchData(n)
			b.ReportAllocs()
			var k int
			for b.Loop() {
				_, rep, err := FitClusters(b.Context(), names, x, &ClusterOptions{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				k = rep.K
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(float64(k), "k")
		})
	}
}

// BenchmarkSegmentHealth labels every user in every family at two
// cutoffs (SegmentUsers) and measures the health tables (SegmentHealthOf)
// at 100k and 1M users; 1M is skipped with -short.
func BenchmarkSegmentHealth(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("1M users skipped in -short")
			}
			names, x := sgBenchData(n)
			cl, _, err := FitClusters(b.Context(), names, x, &ClusterOptions{K: 4, MaxFitRows: 20_000, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			rules := SegmentRules{Clusters: cl, RFM: DeriveRFM(names, x), Lifecycle: DeriveLifecycle(names, x, 30),
				Tiers: DeriveTiers(names, x)}
			users := make([]string, n)
			p := make([]float64, n)
			churned := make([]bool, n)
			for i := range users {
				users[i] = fmt.Sprintf("u%07d", i)
				p[i] = float64(i%100) / 100
				churned[i] = i%3 == 0
			}
			rules.Bands = DeriveBands(p)
			c0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for b.Loop() {
				s0, err := SegmentUsers(names, x, users, c0, rules, p)
				if err != nil {
					b.Fatal(err)
				}
				s1, err := SegmentUsers(names, x, users, c0.AddDate(0, 1, 0), rules, p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := SegmentHealthOf([]*Segmentation{s0, s1}, churned, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}
