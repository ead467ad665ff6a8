package features

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// outcomeSpec is the default spec with only logins and purchases as
// activity, so that other events (email_open, order) test the classes.
func outcomeSpec(tb testing.TB) *Spec {
	tb.Helper()
	s := DefaultSpec()
	s.ActivityEvents = []string{"login", "purchase"}
	s.Vocabulary = []string{"login", "purchase"}
	s.Derive()
	if err := s.Validate(); err != nil {
		tb.Fatal(err)
	}
	return s
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestOutcomeWindow(t *testing.T) {
	cases := []struct {
		name        string
		start       time.Time
		days        int
		first, end  string
		wantErr     error
		wantWindowN int
	}{
		{"midnight start", day("2025-06-01T00:00:00Z"), 30, "2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z", nil, 30},
		{"mid-day start moves to the next midnight", day("2025-06-01T12:00:00Z"), 7, "2025-06-02T00:00:00Z", "2025-06-09T00:00:00Z", nil, 7},
		{"zone is read as UTC", day("2025-06-01T23:30:00-02:00"), 1, "2025-06-03T00:00:00Z", "2025-06-04T00:00:00Z", nil, 1},
		{"one nanosecond after midnight", day("2025-06-01T00:00:00Z").Add(1), 1, "2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z", nil, 1},
		{"ErrNoDays", day("2025-06-01T00:00:00Z"), 0, "", "", ErrOutcomeWindow, 0},
		{"ErrTooLong", day("2025-06-01T00:00:00Z"), MaxWindowDays + 1, "", "", ErrOutcomeWindow, 0},
		{"ErrYear", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 1, "", "", ErrTimeRange, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := NewOutcomeWindow(c.start, c.days)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("got %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := w.First().Format(time.RFC3339); got != c.first {
				t.Errorf("First = %s, want %s", got, c.first)
			}
			if got := w.End().Format(time.RFC3339); got != c.end {
				t.Errorf("End = %s, want %s", got, c.end)
			}
			if w.Days() != c.wantWindowN {
				t.Errorf("Days = %d, want %d", w.Days(), c.wantWindowN)
			}
		})
	}
}

// TestOutcomeHandComputed checks each rule on one user at a time, through
// both paths: a State (round-tripped through its encoding, as serving
// stores it) and the OutcomeCounter.
func TestOutcomeHandComputed(t *testing.T) {
	spec := outcomeSpec(t)
	// Start mid-day 2025-06-01: the window is the days 06-02 .. 06-08.
	start := day("2025-06-01T12:00:00Z")
	ev := func(name, at string, amt float64) Event {
		return Event{UserID: "u", Name: name, Time: day(at), Amount: amt}
	}
	cases := []struct {
		name   string
		events []Event
		want   Outcome
	}{
		{"nothing", nil, Outcome{}},
		{"login in the window", []Event{ev("login", "2025-06-03T10:00:00Z", 0)}, Outcome{Active: true}},
		{"not an activity event", []Event{ev("email_open", "2025-06-03T10:00:00Z", 0)}, Outcome{}},
		{"same day as the start, after it, is left out", []Event{ev("login", "2025-06-01T13:00:00Z", 0)}, Outcome{}},
		{"the first midnight counts", []Event{ev("login", "2025-06-02T00:00:00Z", 0)}, Outcome{Active: true}},
		{"the end is exclusive", []Event{ev("login", "2025-06-09T00:00:00Z", 0)}, Outcome{}},
		{"last second of the window", []Event{ev("purchase", "2025-06-08T23:59:59Z", 0)}, Outcome{Active: true, Converted: true}},
		{"before the start", []Event{ev("purchase", "2025-05-20T10:00:00Z", 50)}, Outcome{}},
		// order is a purchase event (revenue) but neither activity nor the
		// target.
		{"order is revenue, not a conversion", []Event{ev("order", "2025-06-04T10:00:00Z", 20)}, Outcome{Revenue: 20}},
		// A negative purchase is a return: activity, no conversion, and the
		// refund is not subtracted from revenue.
		{"return", []Event{ev("purchase", "2025-06-05T10:00:00Z", -5)}, Outcome{Active: true}},
		{"purchase and a later refund", []Event{
			ev("purchase", "2025-06-03T10:00:00Z", 12.5), ev("purchase", "2025-06-03T11:00:00Z", -12.5),
			ev("refund", "2025-06-04T10:00:00Z", -3),
		}, Outcome{Active: true, Converted: true, Revenue: 12.5}},
		// Two purchases on one day, one a return: the day's cell still
		// has a non-negative one, so the user converted.
		{"purchase and return on one day", []Event{
			ev("purchase", "2025-06-06T09:00:00Z", -4), ev("purchase", "2025-06-06T10:00:00Z", 8.25),
		}, Outcome{Active: true, Converted: true, Revenue: 8.25}},
		{"sums in millionths", []Event{
			ev("purchase", "2025-06-02T01:00:00Z", 0.1), ev("purchase", "2025-06-07T01:00:00Z", 0.2),
			ev("order", "2025-06-07T02:00:00Z", 0.000001),
		}, Outcome{Active: true, Converted: true, Revenue: 0.300001}},
	}
	w, err := NewOutcomeWindow(start, 7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFeaturizer(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := f.NewState()
			oc, err := NewOutcomeCounter(spec, w)
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.events {
				if err := st.Add(&c.events[i]); err != nil {
					t.Fatal(err)
				}
				if err := oc.Add(&c.events[i]); err != nil {
					t.Fatal(err)
				}
			}
			b, err := st.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			back := f.NewState()
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			got, err := back.Outcome(w)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("State.Outcome = %+v, want %+v", got, c.want)
			}
			if got := oc.Outcome("u"); got != c.want {
				t.Errorf("OutcomeCounter.Outcome = %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestOutcomeStateMatchesEvents is the agreement test: for thousands of
// random histories, the outcome read from each user's State (made from all
// the user's events, pruned as serving prunes, encoded and decoded, or
// taken from a Builder as training stores it and then fed the later events
// as ingestion does) equals the one counted from the events.
func TestOutcomeStateMatchesEvents(t *testing.T) {
	spec := outcomeSpec(t)
	f, err := NewFeaturizer(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start time.Time
		days  int
	}{
		{day("2025-03-01T00:00:00Z"), 30},
		{day("2025-03-10T15:04:05Z"), 7},
		{day("2025-02-01T00:00:00Z"), 90},
	} {
		t.Run(fmt.Sprintf("%s+%dd", tc.start.Format(time.RFC3339), tc.days), func(t *testing.T) {
			g := newPitEventGen(uint64(tc.start.Unix()), 2000)
			from, to := tc.start.AddDate(0, -4, 0), tc.start.AddDate(0, 0, tc.days+10)
			evs := g.events(20000, from, to)
			w, err := NewOutcomeWindow(tc.start, tc.days)
			if err != nil {
				t.Fatal(err)
			}
			oc, err := NewOutcomeCounter(spec, w)
			if err != nil {
				t.Fatal(err)
			}
			// Serving path: a state per user, pruned at the start.
			states := map[string]*State{}
			// Training path: a Builder at the start (events before it),
			// then the later events added to a copy of each user's state.
			b, err := NewBuilder(BuilderConfig{Cutoff: tc.start, Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				e := &evs[i]
				if err := oc.Add(e); err != nil {
					t.Fatal(err)
				}
				st := states[e.UserID]
				if st == nil {
					st = f.NewState()
					states[e.UserID] = st
				}
				if err := st.Add(e); err != nil {
					t.Fatal(err)
				}
				if e.Time.Before(tc.start) {
					if err := b.Add(e); err != nil {
						t.Fatal(err)
					}
				}
			}
			trained := map[string]*State{}
			for id := range states {
				if st, ok := b.State(id); ok {
					trained[id] = st
				} else {
					trained[id] = f.NewState()
				}
			}
			for i := range evs {
				if e := &evs[i]; !e.Time.Before(tc.start) {
					if err := trained[e.UserID].Add(e); err != nil {
						t.Fatal(err)
					}
				}
			}
			var active, converted int
			for id, st := range states {
				if err := st.Prune(tc.start); err != nil {
					t.Fatal(err)
				}
				bin, err := st.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				back := f.NewState()
				if err := back.UnmarshalBinary(bin); err != nil {
					t.Fatal(err)
				}
				want := oc.Outcome(id)
				for name, s := range map[string]*State{"pruned and decoded": back, "trained then ingested": trained[id]} {
					got, err := s.Outcome(w)
					if err != nil {
						t.Fatalf("user %s, %s: %v", id, name, err)
					}
					if got != want {
						t.Fatalf("user %s, %s: state %+v, events %+v", id, name, got, want)
					}
				}
				if want.Active {
					active++
				}
				if want.Converted {
					converted++
				}
			}
			// The histories must exercise both outcomes, or the test
			// proves little.
			if active == 0 || active == len(states) || converted == 0 || converted == len(states) {
				t.Errorf("degenerate sample: %d of %d active, %d converted", active, len(states), converted)
			}
			if oc.Inside == 0 || oc.Outside == 0 || oc.Inside+oc.Outside != int64(len(evs)) {
				t.Errorf("inside %d + outside %d != %d events", oc.Inside, oc.Outside, len(evs))
			}
		})
	}
}

func TestOutcomeErrors(t *testing.T) {
	spec := outcomeSpec(t)
	f, err := NewFeaturizer(spec)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewOutcomeWindow(day("2025-06-01T00:00:00Z"), 30)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrPruned", func(t *testing.T) {
		st := f.NewState()
		e := Event{UserID: "u", Name: "login", Time: day("2025-06-10T00:00:00Z")}
		if err := st.Add(&e); err != nil {
			t.Fatal(err)
		}
		// Pruned a year later: the retention (365 days, the longest
		// window) no longer covers June 2025.
		if err := st.Prune(day("2026-08-01T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Outcome(w); !errors.Is(err, ErrPruned) {
			t.Errorf("got %v, want ErrPruned", err)
		}
	})
	t.Run("PrunedButNothingSinceTheStart", func(t *testing.T) {
		st := f.NewState()
		e := Event{UserID: "u", Name: "login", Time: day("2025-01-10T00:00:00Z")}
		if err := st.Add(&e); err != nil {
			t.Fatal(err)
		}
		if err := st.Prune(day("2026-08-01T00:00:00Z")); err != nil {
			t.Fatal(err)
		}
		got, err := st.Outcome(w)
		if err != nil || got != (Outcome{}) {
			t.Errorf("got %+v, %v; want the zero outcome: no event since before the window", got, err)
		}
	})
	t.Run("ErrUnboundState", func(t *testing.T) {
		st := f.NewState()
		e := Event{UserID: "u", Name: "login", Time: day("2025-06-10T00:00:00Z")}
		if err := st.Add(&e); err != nil {
			t.Fatal(err)
		}
		b, _ := st.MarshalBinary()
		var zero State
		if err := zero.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if _, err := zero.Outcome(w); !errors.Is(err, ErrUnboundState) {
			t.Errorf("got %v, want ErrUnboundState", err)
		}
	})
	t.Run("ErrZeroWindow", func(t *testing.T) {
		if _, err := f.NewState().Outcome(OutcomeWindow{}); !errors.Is(err, ErrOutcomeWindow) {
			t.Errorf("State: got %v, want ErrOutcomeWindow", err)
		}
		if _, err := NewOutcomeCounter(spec, OutcomeWindow{}); !errors.Is(err, ErrOutcomeWindow) {
			t.Errorf("counter: got %v, want ErrOutcomeWindow", err)
		}
	})
	t.Run("ErrInvalidSpec", func(t *testing.T) {
		bad := spec.Clone()
		bad.Windows = nil
		if _, err := NewOutcomeCounter(bad, w); err == nil {
			t.Error("invalid spec accepted")
		}
	})
	t.Run("ErrAmountRange", func(t *testing.T) {
		oc, err := NewOutcomeCounter(spec, w)
		if err != nil {
			t.Fatal(err)
		}
		e := Event{UserID: "u", Name: "purchase", Time: day("2025-06-10T00:00:00Z"), Amount: 2 * MaxAmount}
		if err := oc.Add(&e); !errors.Is(err, ErrAmountRange) {
			t.Errorf("got %v, want ErrAmountRange", err)
		}
		if oc.Users() != 0 || oc.Inside != 0 || !oc.MaxTime.IsZero() {
			t.Errorf("a rejected event was counted: %d users, %d inside", oc.Users(), oc.Inside)
		}
	})
}
