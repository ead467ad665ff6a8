package features

import (
	"errors"
	"fmt"
	"time"
)

// ErrOutcomeWindow is returned for an outcome window that cannot be
// measured: no days, more than MaxWindowDays, or a start outside the
// representable years.
var ErrOutcomeWindow = errors.New("invalid outcome window")

// OutcomeWindow is the period in which an experiment's outcomes are
// measured. Like feature windows it is made of whole UTC days: with start
// T, let D be the first UTC day starting at or after T (the cutoff day of
// T); the window holds the days D .. D+Days−1, the times [First, End). It
// is exactly [T, T+Days·24h) when T is a UTC midnight; with T mid-day the
// rest of T's day is left out, so no event before T ever counts.
//
// Whole days are what a State keeps (daily cells), so an outcome computed
// from a user's stored State and one computed from the user's events
// (OutcomeCounter) are always equal.
type OutcomeWindow struct {
	first, end int32 // day numbers: [first, end)
}

// NewOutcomeWindow returns the window of days days starting at start (see
// OutcomeWindow).
func NewOutcomeWindow(start time.Time, days int) (OutcomeWindow, error) {
	if days < 1 || days > MaxWindowDays {
		return OutcomeWindow{}, fmt.Errorf("features: outcome window of %d days: %w: want 1..%d", days, ErrOutcomeWindow, MaxWindowDays)
	}
	ns, err := timeNanos(start)
	if err != nil {
		return OutcomeWindow{}, fmt.Errorf("features: outcome window start %v: %w: %w", start, ErrOutcomeWindow, err)
	}
	first := cutoffDay(ns)
	if int64(first)+int64(days) > maxDay {
		return OutcomeWindow{}, fmt.Errorf("features: outcome window start %v: %w: %w", start, ErrOutcomeWindow, ErrTimeRange)
	}
	return OutcomeWindow{first: first, end: first + int32(days)}, nil
}

// First returns the start of the first day counted: a UTC midnight.
func (w OutcomeWindow) First() time.Time { return time.Unix(int64(w.first)*86400, 0).UTC() }

// End returns the end of the window (exclusive): a UTC midnight.
func (w OutcomeWindow) End() time.Time { return time.Unix(int64(w.end)*86400, 0).UTC() }

// Days returns the length of the window in days.
func (w OutcomeWindow) Days() int { return int(w.end - w.first) }

// contains reports whether the UTC day number d lies in the window.
func (w OutcomeWindow) contains(d int64) bool { return d >= int64(w.first) && d < int64(w.end) }

// Outcome is what one user did in an outcome window, with the event
// classes of a Spec:
//
//   - Active (retention): at least one activity event (Spec.ActivityEvents;
//     empty means every event).
//   - Converted (conversion): at least one target event (Spec.TargetEvent)
//     with a non-negative amount, as for propensity labels; a negative
//     amount is a return.
//   - Revenue: the sum of the positive amounts of purchase events
//     (Spec.PurchaseEvents), the definition of the revenue features. It is
//     gross revenue: refunds (negative amounts) are not subtracted, because
//     a refund inside the window often reverses an order placed before the
//     campaign started.
type Outcome struct {
	Active    bool
	Converted bool
	Revenue   float64
}

// outcomeAcc accumulates an Outcome exactly: revenue in integer
// millionths, as a State keeps it.
type outcomeAcc struct {
	active, converted bool
	revenue           int64
}

func (a *outcomeAcc) add(flags uint8, n, nneg uint32, rev int64) {
	if n == 0 {
		return
	}
	if flags&flagActivity != 0 {
		a.active = true
	}
	if flags&flagTarget != 0 && n > nneg {
		a.converted = true
	}
	if flags&flagPurchase != 0 {
		a.revenue += rev
	}
}

func (a outcomeAcc) outcome() Outcome {
	return Outcome{Active: a.active, Converted: a.converted, Revenue: float64(a.revenue) / micro}
}

// Outcome returns what the events held by s did in the window, classified
// by the Spec s is bound to. It reads the daily cells, so the window must
// lie within what s retains: it fails with ErrPruned when s was pruned
// past the window's first day while holding an event on or after that day
// (Prune keeps the retention, the longest window but at least 60 days,
// before its as-of time), and with
// ErrUnboundState when s is not bound to a Spec (decode into a State made
// by Featurizer.NewState). An empty State has the zero Outcome.
func (s *State) Outcome(w OutcomeWindow) (Outcome, error) {
	if s.tab == nil || s.tab.cls == nil {
		return Outcome{}, fmt.Errorf("features: state outcome: %w", ErrUnboundState)
	}
	if w.end <= w.first {
		return Outcome{}, fmt.Errorf("features: state outcome: %w: empty window", ErrOutcomeWindow)
	}
	// Days before foldDay were folded into the totals: the window cannot be
	// read when one of them may have held an event, that is, when s has an
	// event on or after the window's first day.
	if w.first < s.foldDay && s.has&hasAny != 0 && dayOf(s.maxTime) >= w.first {
		return Outcome{}, fmt.Errorf("features: state outcome: window starts %s, the state keeps days from %s: %w",
			w.First().Format(time.DateOnly), time.Unix(int64(s.foldDay)*86400, 0).UTC().Format(time.DateOnly), ErrPruned)
	}
	var acc outcomeAcc
	for i := range s.cells {
		c := &s.cells[i]
		if c.day < w.first {
			continue
		}
		if c.day >= w.end {
			break // cells are sorted by day
		}
		acc.add(s.tab.flags[c.typ], c.n, c.nneg, c.rev)
	}
	return acc.outcome(), nil
}

// OutcomeCounter computes every user's Outcome in a window from a stream of
// events, in any order, with the same rules as State.Outcome: the two
// agree for the same events. It keeps one small record per user with an
// event in the window. It is not safe for concurrent use.
type OutcomeCounter struct {
	w     OutcomeWindow
	cls   *classes
	flags map[string]uint8
	users map[string]*outcomeAcc

	// Outside counts the events before or after the window.
	Outside int64
	// Inside counts the events in the window.
	Inside int64
	// MaxTime is the latest event time seen (inside the window or not);
	// zero before the first event. Outcomes are complete when it reaches
	// the window's End.
	MaxTime time.Time
}

// NewOutcomeCounter returns a counter for window w that classifies events
// with spec (activity, purchase and target events), which must be valid.
func NewOutcomeCounter(spec *Spec, w OutcomeWindow) (*OutcomeCounter, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("features: outcome counter: %w", err)
	}
	if w.end <= w.first {
		return nil, fmt.Errorf("features: outcome counter: %w: empty window", ErrOutcomeWindow)
	}
	return &OutcomeCounter{
		w:     w,
		cls:   newClasses(spec),
		flags: make(map[string]uint8),
		users: make(map[string]*outcomeAcc),
	}, nil
}

// Add counts one event. It fails, counting nothing, when the time or the
// amount is out of range (as State.Add does). Add keeps e.UserID (not a
// copy) for users it has not seen.
func (c *OutcomeCounter) Add(e *Event) error {
	ns, err := timeNanos(e.Time)
	if err != nil {
		return fmt.Errorf("features: outcome of %q at %v: %w", e.Name, e.Time, err)
	}
	amt, err := amountMicros(e.Amount)
	if err != nil {
		return fmt.Errorf("features: outcome of %q amount %v: %w", e.Name, e.Amount, err)
	}
	if c.MaxTime.IsZero() || e.Time.After(c.MaxTime) {
		c.MaxTime = e.Time.UTC()
	}
	if !c.w.contains(floorDiv(ns, dayNs)) {
		c.Outside++
		return nil
	}
	c.Inside++
	f, ok := c.flags[e.Name]
	if !ok {
		f = c.cls.flags(e.Name)
		c.flags[e.Name] = f
	}
	acc := c.users[e.UserID]
	if acc == nil {
		acc = new(outcomeAcc)
		c.users[e.UserID] = acc
	}
	var nneg uint32
	var rev int64
	if amt < 0 {
		nneg = 1
	} else {
		rev = amt
	}
	acc.add(f, 1, nneg, rev)
	return nil
}

// Outcome returns the user's outcome; the zero Outcome for a user without
// an event in the window.
func (c *OutcomeCounter) Outcome(userID string) Outcome {
	if acc := c.users[userID]; acc != nil {
		return acc.outcome()
	}
	return Outcome{}
}

// Users returns the number of users with at least one event in the window.
func (c *OutcomeCounter) Users() int { return len(c.users) }

// Window returns the counter's window.
func (c *OutcomeCounter) Window() OutcomeWindow { return c.w }
