package training

import (
	"context"
	"fmt"
	"testing"

	"github.com/lapse-dev/lapse/model"
)

// Run with
//
//	go test ./training/ -run '^$' -bench 'GBDT|Trees' -benchtime 1x
//
// (add -short to skip the 1M-row fits). The fits use 40 columns of gbSynth
// data (20 of them noise).

const gbBenchCols = 40

// benchmarkFitGBDT fits rows × 40 with opts and reports rows/s (rows times
// rounds per second of fitting) and the number of rounds.
func benchmarkFitGBDT(b *testing.B, rows int, opts *GBDTOptions) {
	if rows >= 1_000_000 && testing.Short() {
		b.Skip("1M-row fit skipped in -short mode")
	}
	X, y, _ := gbSynth(rows, gbBenchCols, 21)
	b.ReportAllocs()
	var rep *GBDTReport
	for b.Loop() {
		var err error
		_, rep, err = FitGBDT(context.Background(), &X, y, nil, nil, nil, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec, "s/fit")
	b.ReportMetric(float64(rep.Iterations), "rounds")
	b.ReportMetric(float64(rep.TrainRows)*float64(rep.Iterations)/sec, "row-rounds/s")
}

func BenchmarkFitGBDT(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		// Fixed: exactly 100 rounds on all rows, the engine's speed.
		b.Run(fmt.Sprintf("rows=%d/fixed100", rows), func(b *testing.B) {
			benchmarkFitGBDT(b, rows, &GBDTOptions{MaxIter: 100, EarlyStopping: EarlyStoppingOff})
		})
		// Default: what the training pipeline runs (early stopping on a 10%
		// validation split, up to MaxIter rounds).
		b.Run(fmt.Sprintf("rows=%d/default", rows), func(b *testing.B) {
			benchmarkFitGBDT(b, rows, nil)
		})
	}
}

// benchTrees fits the default model on 100k × 40 rows once per benchmark.
func benchTrees(b *testing.B) (*model.Trees, Matrix) {
	b.Helper()
	X, y, _ := gbSynth(100_000, gbBenchCols, 22)
	tr, _, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tr, X
}

// BenchmarkTrees measures scoring and explanation speed of a default model
// on one goroutine, in rows per second.
func BenchmarkTrees(b *testing.B) {
	tr, X := benchTrees(b)
	b.Logf("model: %d trees", len(tr.Trees))
	for _, bc := range []struct {
		name string
		fn   func(x []float64)
	}{
		{"Margin", func(x []float64) { _ = tr.Margin(x) }},
		{"Contributions", func(x []float64) { _ = tr.Contributions(x) }},
		{"SHAPContributions", func(x []float64) { _ = tr.SHAPContributions(x) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bc.fn(X.Row(i))
				i++
				if i == X.Rows {
					i = 0
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	// Margins walks all rows through each tree in blocks.
	b.Run("Margins", func(b *testing.B) {
		rows := make([][]float64, X.Rows)
		for i := range rows {
			rows[i] = X.Row(i)
		}
		out := make([]float64, X.Rows)
		b.ReportAllocs()
		for b.Loop() {
			tr.Margins(rows, out)
		}
		b.ReportMetric(float64(b.N)*float64(X.Rows)/b.Elapsed().Seconds(), "rows/s")
	})
}
