package features

import "time"

// Label bits kept per user by a Builder for the events in [T, T+H).
const (
	labActive uint8 = 1 << iota // an activity event
	labTarget                   // a target event with a non-negative amount
)

// labelEvent returns the label bits that one event in [T, T+H) sets, given
// its type flags and amount (integer millionths). A target event with a
// negative amount is a return, not a conversion, so it sets no target bit.
func labelEvent(flags uint8, amt int64) uint8 {
	var l uint8
	if flags&flagActivity != 0 {
		l |= labActive
	}
	if flags&flagTarget != 0 && amt >= 0 {
		l |= labTarget
	}
	return l
}

// churned is churn(T, H): no activity event in [T, T+H).
func churned(l uint8) bool { return l&labActive == 0 }

// converted is propensity(T, H, target): a target event in [T, T+H).
func converted(l uint8) bool { return l&labTarget != 0 }

// covered reports whether labels at cutoff with horizon are defined: the
// data must reach T+H, that is dataEnd >= T+H. dataEnd is the caller's
// BuilderConfig.DataEnd, or else the latest event time seen.
func covered(dataEnd, cutoff time.Time, horizon time.Duration) bool {
	if horizon <= 0 || dataEnd.IsZero() {
		return false
	}
	return !dataEnd.Before(cutoff.Add(horizon))
}
