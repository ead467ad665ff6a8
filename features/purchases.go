package features

import (
	"fmt"
	"math"
	"time"
)

// PurchaseSummary is a user's purchase history before a cutoff as the
// customer-base models (BG/NBD and Gamma-Gamma, package model/btyd) read
// it: the purchase events (Spec.PurchaseEvents) with an amount >= 0,
// several on one UTC day merged into one transaction with their amounts
// summed. With the calibration end E (the day before the cutoff's day D),
// x = Days − 1, t_x = Last − First and T = E − First, in days.
//
// Featurizer.PurchaseSummary computes it from a State, Log.PurchaseSummaries
// from a Log; both give the same value for the same events.
type PurchaseSummary struct {
	// Days is the number of distinct UTC days with a purchase; 0 when the
	// user never purchased, and then every other field is 0.
	Days int
	// First and Last are the first and the last purchase day, as UTC day
	// numbers (unix seconds / 86400, rounded down).
	First, Last int32
	// RepeatRevenue is the summed amount of the purchases on the days after
	// the first, whose mean per day (RepeatRevenue / x) is the Gamma-Gamma
	// model's zbar.
	RepeatRevenue float64
}

// newPurchaseSummary builds a summary from exact integer millionths.
func newPurchaseSummary(days int, first, last int32, repeatMicros int64) PurchaseSummary {
	return PurchaseSummary{Days: days, First: first, Last: last, RepeatRevenue: float64(repeatMicros) / micro}
}

// PurchaseSummary returns the purchase summary of st at cutoff, from its
// daily cells and its folded purchase days (see State). It fails like
// AppendVector, and with ErrPurchaseHistory for a State decoded from the
// format-1 encoding after purchases had been folded.
func (f *Featurizer) PurchaseSummary(st *State, cutoff time.Time) (PurchaseSummary, error) {
	tn, err := timeNanos(cutoff)
	if err != nil {
		return PurchaseSummary{}, fmt.Errorf("features: purchase summary at %v: %w", cutoff, err)
	}
	if err := f.check(st, tn); err != nil {
		return PurchaseSummary{}, err
	}
	if st.has&hasPurLost != 0 {
		return PurchaseSummary{}, fmt.Errorf("features: purchase summary: %w", ErrPurchaseHistory)
	}
	var buf [32]typeInfo
	lut := f.lut(st.tab, buf[:0])
	days := int(st.foldPurDays)
	first, last := st.foldPurFirst, st.foldPurLast
	total, firstRev := st.foldRevenue, st.foldPurFirstRev
	prev := int32(math.MinInt32) // cell days are above it
	for i := range st.cells {
		c := &st.cells[i]
		if lut[c.typ].flags&flagPurchase == 0 {
			continue
		}
		total += c.rev
		if c.n == c.nneg { // refunds only: not a purchase day
			continue
		}
		switch {
		case days == 0:
			days, first, last, firstRev = 1, c.day, c.day, c.rev
		case c.day == prev:
			if c.day == first {
				firstRev += c.rev
			}
		default:
			days++
			last = c.day
		}
		prev = c.day
	}
	if days == 0 {
		return PurchaseSummary{}, nil
	}
	return newPurchaseSummary(days, first, last, total-firstRev), nil
}
