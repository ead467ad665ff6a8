package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/internal/benchdata"
	"github.com/lapse-dev/lapse/training"
)

// BenchmarkTrainStore is issue 3's end-to-end figure "from features to
// stored model", the work of lapse train after the events are read: Train
// on benchdata's history in a columnar Log (snapshots, anomaly screen, both
// candidates, backtest and production refits for churn and propensity,
// segments, scoring with reasons, every scored user's feature state as of
// T), report.json and report.html, and SaveModel into a new bbolt file with
// fsync. The events' generation is not timed.
//
//	go test ./cmd/lapse -run '^$' -bench 'BenchmarkTrainStore/users=1000000$' -benchtime 1x -v
//
// -v shows the progress lines with wall and CPU seconds; -short skips 1M.
func BenchmarkTrainStore(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n >= 1_000_000 && testing.Short() {
				b.Skip("1M users skipped in -short mode")
			}
			ctx := context.Background()
			log, err := benchdata.Log(ctx, n, 1)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var trainSec, reportSec, storeSec float64
			var res *training.Result
			var dbSize int64
			cpu0 := benchCPU()
			for b.Loop() {
				dir := b.TempDir()
				start := time.Now()
				cfg := &training.Config{
					Horizon:  30 * 24 * time.Hour,
					Spec:     benchdata.Spec(),
					Seed:     1,
					Workers:  runtime.GOMAXPROCS(0),
					Progress: &benchStamp{b: b, start: start, cpu0: benchCPU()},
					States:   true,
				}
				if res, err = training.Train(ctx, log, cfg); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				var js, html bytes.Buffer
				if err := res.Report.WriteJSON(&js); err != nil {
					b.Fatal(err)
				}
				if err := res.Report.WriteHTML(&html); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				path := filepath.Join(dir, "lapse.db")
				st, err := openStore(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := storeResult(ctx, st, res, js.Bytes(), true); err != nil {
					b.Fatal(err)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				trainSec += t1.Sub(start).Seconds()
				reportSec += t2.Sub(t1).Seconds()
				storeSec += t3.Sub(t2).Seconds()
				if fi, err := os.Stat(path); err == nil {
					dbSize = fi.Size()
				}
			}
			cpu := (benchCPU() - cpu0).Seconds()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			k := float64(b.N)
			sec := b.Elapsed().Seconds() / k
			b.ReportMetric(sec, "s/op-total")
			b.ReportMetric(trainSec/k, "s/train")
			b.ReportMetric(reportSec/k, "s/report")
			b.ReportMetric(storeSec/k, "s/store")
			b.ReportMetric(cpu/k, "cpu-s/op")
			b.ReportMetric(float64(n)/sec, "users/s")
			b.ReportMetric(float64(log.Len())/sec, "events/s")
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
			b.ReportMetric(float64(dbSize)/(1<<20), "db-MiB")
			b.Logf("%d users, %d events, %d features, %d scored and stored with states, churn %s OOT AUC %.4f",
				n, log.Len(), len(res.Model.Features), len(res.Scores), res.Report.Models.Churn.Chosen,
				res.Report.Holdout.OutOfTime.Churn.AUC)
		})
	}
}

// benchCPU is the process's user plus system CPU time, or 0 where getrusage
// fails.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStamp logs each progress line with the wall and CPU seconds since
// start.
type benchStamp struct {
	b     *testing.B
	start time.Time
	cpu0  time.Duration
}

func (w *benchStamp) Write(p []byte) (int, error) {
	w.b.Logf("%6.2fs %6.2fcpu %s", time.Since(w.start).Seconds(), (benchCPU() - w.cpu0).Seconds(), bytes.TrimRight(p, "\n"))
	return len(p), nil
}
