package training

import (
	"fmt"
	"testing"
)

// BenchmarkFitKMeans clusters 100k and 1M rows × 10 features (6 seeded
// blobs) into k = 6 with the default 4 restarts; 1M is skipped with -short.
func BenchmarkFitKMeans(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			if rows > 100_000 && testing.Short() {
				b.Skip("1M rows skipped in -short")
			}
			x, _, _ := blobs(rows, 6, 10, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitKMeans(b.Context(), x, 6, &KMeansOptions{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkChooseK runs the silhouette search over k = 2..10 on 1M rows
// × 10 features (fits on a 50k sample, silhouette on 3k); skipped with
// -short.
func BenchmarkChooseK(b *testing.B) {
	if testing.Short() {
		b.Skip("skipped in -short")
	}
	x, _, _ := blobs(1_000_000, 6, 10, 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ChooseK(b.Context(), x, &ChooseKOptions{KMeans: &KMeansOptions{Seed: 1}}); err != nil {
			b.Fatal(err)
		}
	}
}
