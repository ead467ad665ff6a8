package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// benchRecords returns the ids u00000000.. of n users and the records
// SaveModel reads: score p (or none) and a 600-byte state each.
func benchRecords(n int, p *model.Prediction) ([]string, func(yield func(UserRecord) error) error) {
	state := make([]byte, 600)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%08d", i)
	}
	return ids, func(yield func(UserRecord) error) error {
		for _, id := range ids {
			if err := yield(UserRecord{ID: id, Score: p, State: state}); err != nil {
				return err
			}
		}
		return nil
	}
}

// BenchmarkSaveModel stores a version of n users with a realistic score
// record (three reasons) and a 600-byte state each, fsync on.
func BenchmarkSaveModel(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("-short")
			}
			pp := 0.12
			p := model.Prediction{ChurnProbability: 0.4321, RiskBand: "medium", PurchaseProbability: &pp, Segment: "casual users",
				RFMSegment: "At risk", LifecycleStage: "at-risk", UsageTier: "light", RFM: model.RFMScore{R: 2, F: 3, M: 4},
				Reasons: []model.Reason{
					{Feature: "recency_days", Value: 26.6, Contribution: 1.3, Text: "no activity for 27 days (usually every 14.7)"},
					{Feature: "n_cancel_page_90d", Value: 1, Contribution: 1.1, Text: "1 × cancel_page in the last 90 days"},
					{Feature: "n_support_ticket_90d", Value: 2, Contribution: 0.45, Text: "2 × support_ticket in the last 90 days"},
				}}
			_, users := benchRecords(n, &p)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s, _ := mustOpen(b, nil)
				start := time.Now()
				if err := s.SaveModel(ctx, testModel(b, fmt.Sprint("v", i), time.Now()), nil, users, true); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "users/s")
				s.Close()
			}
		})
	}
}

// BenchmarkUpdateStates is the store's side of POST /v1/events: one
// durable write transaction (fsync on) that reads and rewrites the
// 600-byte states of k distinct users drawn at random from a version of
// 1M users. It is the floor under the API's events/s: a batch of 1,000
// events from 1,000 different users cannot be faster than k=1000 here,
// since every user sits on a leaf page of its own that the transaction
// copies, writes and syncs.
func BenchmarkUpdateStates(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: saves 1M users")
	}
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "lapse.db")
	setup, err := Open(path, &Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ids, users := benchRecords(n, nil)
	if err := setup.SaveModel(ctx, testModel(b, "v1", time.Now()), nil, users, true); err != nil {
		b.Fatal(err)
	}
	setup.Close()
	s, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(k int) []string {
		batch := make([]string, 0, k)
		for len(batch) < k {
			batch = append(batch, ids[rng.IntN(n)])
			if len(batch) == k {
				slices.Sort(batch)
				batch = slices.Compact(batch)
			}
		}
		return batch
	}
	bump := func(_ int, old []byte) ([]byte, error) {
		next := slices.Clone(old)
		next[0]++
		return next, nil
	}
	for _, k := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users=%d", k), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				batch := draw(k)
				b.StartTimer()
				if err := s.UpdateStates(ctx, "v1", batch, bump); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*k)/b.Elapsed().Seconds(), "users/s")
		})
	}
	// Four callers of 100 users each at once, as four connections' event
	// batches: the first commits alone, the others share the next
	// transaction.
	b.Run("callers=4/users=100", func(b *testing.B) {
		const callers = 4
		for b.Loop() {
			b.StopTimer()
			batches := make([][]string, callers)
			for c := range batches {
				batches[c] = draw(100)
			}
			b.StartTimer()
			var wg sync.WaitGroup
			errs := make([]error, callers)
			for c := range callers {
				wg.Go(func() { errs[c] = s.UpdateStates(ctx, "v1", batches[c], bump) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*callers*100)/b.Elapsed().Seconds(), "users/s")
	})
}
