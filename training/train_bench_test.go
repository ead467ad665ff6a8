package training

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/internal/benchdata"
)

// Run with
//
//	go test ./training/ -run '^$' -bench BenchmarkTrain -benchtime 1x
//
// (-short skips the 1M-user run). Each iteration is Train end to end from a
// features.Log: four snapshots, the anomaly screen, both candidates and the
// backtest for churn and propensity, the production refits, segments, and
// a prediction with reasons for every user eligible at T.

// trBenchLog is benchdata's history of n users in a Log (about 13 events a
// user over 180 days).
func trBenchLog(tb testing.TB, n int, seed uint64) *features.Log {
	tb.Helper()
	log, err := benchdata.Log(context.Background(), n, seed)
	if err != nil {
		tb.Fatal(err)
	}
	return log
}

// trBenchSpec is benchdata's spec: windows 7, 30 and 90 days and a
// vocabulary of 3 types.
func trBenchSpec() *features.Spec { return benchdata.Spec() }

var trBenchReportDir = flag.String("train.report-dir", "", "write BenchmarkTrain's report.json for each size into this directory (users-N.json)")

func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n >= 1_000_000 && testing.Short() {
				b.Skip("1M users skipped in -short mode")
			}
			log := trBenchLog(b, n, 1)
			cfg := &Config{Horizon: 30 * trDay, Spec: trBenchSpec(), Seed: 1, Now: trFixedNow, Progress: newTrStampWriter(b)}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var res *Result
			cpu0, cpuOK := trCPUTime()
			for b.Loop() {
				var err error
				if res, err = Train(context.Background(), log, cfg); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := trCPUTime()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/train")
			if cpuOK {
				b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/train")
			}
			b.ReportMetric(float64(log.Len()), "events")
			b.ReportMetric(float64(len(res.Scores)), "scored")
			b.ReportMetric(float64(len(res.Model.Features)), "features")
			b.ReportMetric(float64(after.HeapSys)/(1<<20), "heap-sys-MiB")
			b.ReportMetric(float64(after.Sys)/(1<<20), "sys-MiB")
			b.ReportMetric(float64(n)/sec, "users/s")
			b.Logf("%d users, %d events, %d scored, %d features, churn %s OOT AUC %.4f (recency %.4f); log %.0f MiB of heap before training",
				n, log.Len(), len(res.Scores), len(res.Model.Features), res.Report.Models.Churn.Chosen,
				res.Report.Holdout.OutOfTime.Churn.AUC, res.Report.Holdout.OutOfTime.Churn.Baselines.Recency.AUC,
				float64(before.HeapAlloc)/(1<<20))
			if *trBenchReportDir != "" {
				f, err := os.Create(filepath.Join(*trBenchReportDir, fmt.Sprintf("users-%d.json", n)))
				if err != nil {
					b.Fatal(err)
				}
				if err := res.Report.WriteJSON(f); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// trStampWriter prefixes each progress line with the wall seconds since
// start and, where the process CPU time is known, the CPU seconds since
// start (which other processes on the machine do not inflate).
type trStampWriter struct {
	tb    testing.TB
	start time.Time
	cpu0  time.Duration
}

func newTrStampWriter(tb testing.TB) *trStampWriter {
	cpu, _ := trCPUTime()
	return &trStampWriter{tb: tb, start: time.Now(), cpu0: cpu}
}

func (w *trStampWriter) Write(p []byte) (int, error) {
	if cpu, ok := trCPUTime(); ok {
		w.tb.Logf("%6.2fs %6.2fcpu %s", time.Since(w.start).Seconds(), (cpu - w.cpu0).Seconds(), p[:len(p)-1])
	} else {
		w.tb.Logf("%6.2fs %s", time.Since(w.start).Seconds(), p[:len(p)-1])
	}
	return len(p), nil
}
