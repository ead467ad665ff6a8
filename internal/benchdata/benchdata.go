// Package benchdata owns the synthetic event history behind lapse's
// large training benchmarks (training.BenchmarkTrain and cmd/lapse's
// BenchmarkTrainStore): a deterministic stream of about 13 events a user
// over 180 days, cheap enough to generate a million users in a few seconds
// and to generate again as a training replay.
package benchdata

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// Start is the first day of the history.
var Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Days is the length of the history in days.
const Days = 180

// names are the non-purchase event types, rotated through on active days.
var names = []string{"session_start", "page_view", "feature_use"}

// Events streams the history of users "u0" to "u<n-1>" to fn, user by
// user, each user's events in time order: a user signs up in the first 120
// days, is active on a day with probability a (log-normal across users,
// mean about 0.12) until a churn day drawn with a hazard that rises as
// their activity declines (a third of the activity in the 14 days before
// it, none for 60 days after it, then back), with 1-3 events of three types
// per active day and a purchase with a log-normal amount on 8% of them.
// The same n and seed give the same events. The *Event passed to fn is
// reused: fn must copy what it keeps. It stops at fn's first error or when
// ctx is done (checked every 10,000 users).
func Events(ctx context.Context, n int, seed uint64, fn func(e *features.Event) error) error {
	var e features.Event
	for u := range n {
		if u%10_000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := rand.New(rand.NewPCG(seed, uint64(u)))
		id := "u" + strconv.Itoa(u)
		signup := r.IntN(120)
		a := math.Min(0.9, math.Exp(r.NormFloat64()*0.8-2.4))
		life := int(r.ExpFloat64() * 40 / (1 + 3*a))
		decline := life - 14
		spend := math.Exp(r.NormFloat64()*0.5 + 3)
		for d := signup; d < Days && d < signup+life+120; d++ {
			p := a
			switch {
			case d-signup > life && d-signup < life+60:
				p = 0 // churned, may come back
			case d-signup >= decline && d-signup <= life:
				p = a / 3
			}
			if r.Float64() >= p {
				continue
			}
			day := Start.Add(time.Duration(d) * 24 * time.Hour)
			for k := range 1 + r.IntN(3) {
				e = features.Event{UserID: id, Name: names[(k+d)%3], Time: day.Add(time.Duration(r.IntN(86400)) * time.Second)}
				if err := fn(&e); err != nil {
					return err
				}
			}
			if r.Float64() < 0.08 {
				e = features.Event{UserID: id, Name: "purchase", Time: day.Add(43200 * time.Second), Amount: math.Round(spend*math.Exp(r.NormFloat64()*0.3)*100) / 100}
				if err := fn(&e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Log returns the history of n users in a columnar features.Log.
func Log(ctx context.Context, n int, seed uint64) (*features.Log, error) {
	var log features.Log
	if err := Events(ctx, n, seed, log.Append); err != nil {
		return nil, err
	}
	return &log, nil
}

// Spec is the feature spec of the benchmarks: windows of 7, 30 and 90 days
// and a vocabulary of 3 types, 42 features on this history (45 with the
// customer-value and derived columns Train adds).
func Spec() *features.Spec {
	s := features.DefaultSpec()
	s.Windows = []int{7, 30, 90}
	s.VocabularySize = 3
	s.Derive()
	return s
}
