package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lapse-dev/lapse/features/synth"
)

// benchmarkFeatures runs `lapse features` end to end (read CSV with RFC 3339
// times, build, write) on a generated history of users × days. The issue's
// one-core figure is
//
//	GOMAXPROCS=1 go test ./cmd/lapse -run '^$' -bench 'FeaturesLarge$' -benchtime 3x
//
// events/s is wall time, events/cpu-s the process's CPU time (the same on
// an idle machine; higher than events/s when other processes share the
// cores).
func benchmarkFeatures(b *testing.B, users, days int, asOf bool) {
	path := filepath.Join(b.TempDir(), "events.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	sum, err := synth.Write(context.Background(), f, &synth.Config{Users: users, Days: days, Seed: 1}, synth.CSV)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	out := filepath.Join(b.TempDir(), "features.csv")
	args := []string{"features", "--events", path, "--out", out, "--log-level", "warn"}
	if asOf {
		args = append(args, "--as-of", synth.DefaultConfig().Start.AddDate(0, 0, days-30).Format("2006-01-02"), "--horizon", "30d")
	}
	b.SetBytes(st.Size())
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		if code := Run(context.Background(), args, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	events := float64(sum.Events) * float64(b.N)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	// Events per second of CPU time (user + system, all threads): with
	// GOMAXPROCS=1 the rate of one core, whatever else the machine runs.
	if cpu1, ok := cpuTime(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(events/(cpu1-cpu0).Seconds(), "events/cpu-s")
	}
}

// 1000 users x 365 days is about 0.2 M events; 20,000 x 365 about 4.3 M
// (the make run history).
func BenchmarkFeaturesSmall(b *testing.B)       { benchmarkFeatures(b, 1000, 365, true) }
func BenchmarkFeaturesLarge(b *testing.B)       { benchmarkFeatures(b, 20000, 365, true) }
func BenchmarkFeaturesLargeNoAsOf(b *testing.B) { benchmarkFeatures(b, 20000, 365, false) }
