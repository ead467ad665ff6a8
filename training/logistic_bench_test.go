package training

import (
	"fmt"
	"testing"
)

// benchLogisticData simulates rows × 40 standardised features from a known
// logistic model (every fourth weight zero), seeded.
func benchLogisticData(rows int) (*Matrix, []float64) {
	truth := make([]float64, 40)
	for j := range truth {
		if j%4 != 3 {
			truth[j] = 0.5 * float64((j%7)-3) / 3
		}
	}
	x, y, _ := simLogistic(rows, truth, -1, 77)
	return x, y
}

// BenchmarkFitLogistic fits L2 logistic regression (DefaultL2) on 100k and
// 1M rows × 40 features; 1M is skipped with -short. Reports rows/s (rows
// of the data set per second of fitting) and the L-BFGS evaluations.
func BenchmarkFitLogistic(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			if rows > 100_000 && testing.Short() {
				b.Skip("1M rows skipped in -short")
			}
			x, y := benchLogisticData(rows)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitLogistic(b.Context(), x, y, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkLogisticProb scores 100k rows × 40 features one row at a time
// with model.Logistic.Prob, the serving path.
func BenchmarkLogisticProb(b *testing.B) {
	x, y := benchLogisticData(100_000)
	m, err := FitLogistic(b.Context(), x, y, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink float64
	for b.Loop() {
		for i := range x.Rows {
			sink += m.Prob(x.Row(i))
		}
	}
	_ = sink
	b.ReportMetric(float64(x.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
