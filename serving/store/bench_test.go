package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

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
			state := make([]byte, 600)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("u%08d", i)
			}
			users := func(yield func(UserRecord) error) error {
				for _, id := range ids {
					if err := yield(UserRecord{ID: id, Score: &p, State: state}); err != nil {
						return err
					}
				}
				return nil
			}
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
