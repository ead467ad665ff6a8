package training

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkEvaluate computes every holdout metric on 100k and 1M rows.
func BenchmarkEvaluate(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			y, p := make([]float64, rows), make([]float64, rows)
			for i := range p {
				p[i] = rng.Float64()
				if rng.Float64() < p[i] {
					y[i] = 1
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Evaluate(y, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
