package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// groupStore is a store with one empty version v1 whose group commit
// waits up to delay for announced callers, and counts its transactions.
func groupStore(t *testing.T, delay time.Duration) *Store {
	t.Helper()
	s, _ := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(0), true); err != nil {
		t.Fatal(err)
	}
	s.group = newGroup(s.db, delay)
	return s
}

// txs is the number of group transactions run so far.
func (g *group) txs() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ran
}

// appendByte is an UpdateStates function that appends c to every state.
func appendByte(c byte) func(int, []byte) ([]byte, error) {
	return func(_ int, old []byte) ([]byte, error) { return append(slices.Clone(old), c), nil }
}

// state is the stored state of id under v1.
func state(t *testing.T, s *Store, id string) string {
	t.Helper()
	var got string
	err := s.LoadUsers(ctx, "v1", []string{id}, func(_ int, st []byte, _ *model.Prediction) error {
		got = string(st)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Callers announced together share one transaction, however staggered
// their arrivals, as long as the last arrives within the delay.
func TestGroupWaitsForAnnounced(t *testing.T) {
	s := groupStore(t, time.Minute)
	const callers = 4
	for range callers {
		s.Expect()
	}
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for w := range callers {
		wg.Go(func() {
			time.Sleep(time.Duration(w) * 5 * time.Millisecond)
			errs[w] = s.UpdateStates(ctx, "v1", []string{fmt.Sprint("u", w), "shared"}, appendByte(byte('a'+w)))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := s.group.txs(); n != 1 {
		t.Errorf("%d transactions for %d announced callers, want 1", n, callers)
	}
	if got := state(t, s, "shared"); len(got) != callers {
		t.Errorf("shared state %q, want one byte from each caller", got)
	}
}

// A lone caller, announced or not, commits at once, not after the delay;
// so does one whose fellow announced caller cancels.
func TestGroupLoneCallerDoesNotWait(t *testing.T) {
	s := groupStore(t, time.Minute)
	start := time.Now()
	if err := s.UpdateStates(ctx, "v1", []string{"a"}, appendByte('x')); err != nil {
		t.Fatal(err)
	}
	s.Expect()
	if err := s.UpdateStates(ctx, "v1", []string{"a"}, appendByte('y')); err != nil {
		t.Fatal(err)
	}
	s.Expect()
	cancel := s.Expect()
	done := make(chan error, 1)
	go func() { done <- s.UpdateStates(ctx, "v1", []string{"a"}, appendByte('z')) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("three calls took %v with a one-minute delay: they waited for nobody", d)
	}
	if got := state(t, s, "a"); got != "xyz" {
		t.Errorf("state %q, want xyz", got)
	}
}

// An announced caller that never comes delays a group by the delay, no
// more; and early-returning UpdateStates calls answer their announcement.
func TestGroupDelayBoundsWait(t *testing.T) {
	const delay = 50 * time.Millisecond
	s := groupStore(t, delay)
	s.Expect() // never comes
	s.Expect()
	start := time.Now()
	if err := s.UpdateStates(ctx, "v1", []string{"a"}, appendByte('x')); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < delay || d > delay+5*time.Second {
		t.Errorf("waited %v for an announced caller that never came, want about %v", d, delay)
	}
	s.group.cancel() // the one that never came

	s.Expect()
	if err := s.UpdateStates(ctx, "v1", []string{""}, appendByte('x')); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: %v", err)
	}
	s.group.mu.Lock()
	open := s.group.expected
	s.group.mu.Unlock()
	if open != 0 {
		t.Errorf("%d announcements open after a rejected call", open)
	}
}

// A call whose function fails or panics in a group gets its own error and
// writes nothing; the other calls of the group commit.
func TestGroupFailureIsolated(t *testing.T) {
	s := groupStore(t, time.Minute)
	for range 3 {
		s.Expect()
	}
	boom := errors.New("boom")
	fns := []func(int, []byte) ([]byte, error){
		appendByte('a'),
		func(int, []byte) ([]byte, error) { return nil, boom },
		func(int, []byte) ([]byte, error) { panic("bad state") },
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = s.UpdateStates(ctx, "v1", []string{fmt.Sprint("u", i), "shared"}, fn) })
	}
	wg.Wait()
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] == nil {
		t.Fatalf("errors %v, want nil, boom, a panic", errs)
	}
	if got := state(t, s, "shared"); got != "a" {
		t.Errorf("shared state %q, want only the good call's a", got)
	}
	if state(t, s, "u1") != "" || state(t, s, "u2") != "" {
		t.Error("a failed call wrote its users")
	}
}
