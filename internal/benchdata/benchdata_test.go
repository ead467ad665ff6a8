package benchdata

import (
	"context"
	"errors"
	"testing"

	"github.com/lapse-dev/lapse/features"
)

// The stream is deterministic, time-ordered per user, within the history,
// about 13 events a user, and stops at fn's error and a cancelled context.
func TestEvents(t *testing.T) {
	ctx := context.Background()
	collect := func(seed uint64) []features.Event {
		var out []features.Event
		if err := Events(ctx, 2000, seed, func(e *features.Event) error { out = append(out, *e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := collect(1), collect(1)
	if len(a) != len(b) {
		t.Fatalf("two runs gave %d and %d events", len(a), len(b))
	}
	users := map[string]bool{}
	purchases := 0
	end := Start.AddDate(0, 0, Days)
	for i := range a {
		if key(a[i]) != key(b[i]) {
			t.Fatalf("event %d differs: %+v vs %+v", i, a[i], b[i])
		}
		e := a[i]
		users[e.UserID] = true
		if e.Time.Before(Start) || !e.Time.Before(end) {
			t.Fatalf("event %d at %v outside the history", i, e.Time)
		}
		if i > 0 && a[i-1].UserID == e.UserID && a[i-1].Time.Truncate(24*60*60e9).After(e.Time) {
			t.Fatalf("event %d of %s goes back a day", i, e.UserID)
		}
		if e.Name == "purchase" {
			purchases++
			if e.Amount <= 0 {
				t.Fatalf("purchase %d with amount %v", i, e.Amount)
			}
		}
	}
	if per := float64(len(a)) / 2000; per < 8 || per > 20 {
		t.Errorf("%.1f events a user, want about 13", per)
	}
	if len(users) < 1500 || purchases == 0 {
		t.Errorf("%d active users, %d purchases", len(users), purchases)
	}
	if c := collect(2); len(c) == len(a) && key(c[0]) == key(a[0]) {
		t.Error("another seed gave the same history")
	}
	stop := errors.New("stop")
	n := 0
	if err := Events(ctx, 2000, 1, func(*features.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: got %v after %d events", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Events(cctx, 2000, 1, func(*features.Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	log, err := Log(ctx, 2000, 1)
	if err != nil || log.Len() != len(a) {
		t.Errorf("Log: %v, %d events, want %d", err, log.Len(), len(a))
	}
	if got := len(Spec().Windows); got != 3 {
		t.Errorf("Spec windows %d", got)
	}
}

// key is the comparable part of an event.
type evKey struct {
	user, name string
	t          int64
	amount     float64
}

func key(e features.Event) evKey { return evKey{e.UserID, e.Name, e.Time.UnixNano(), e.Amount} }
