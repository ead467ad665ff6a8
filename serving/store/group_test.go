package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// groupStore is a store with one empty version v1.
func groupStore(t *testing.T) *Store {
	t.Helper()
	s, _ := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(0), true); err != nil {
		t.Fatal(err)
	}
	return s
}

// holdWriter starts an UpdateStates of user "first" whose function blocks
// until release is called, so that the group transaction stays open; it
// returns once that transaction runs. wait returns the call's error.
func holdWriter(t *testing.T, s *Store) (release func(), wait func() error) {
	t.Helper()
	running, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		done <- s.UpdateStates(ctx, "v1", []string{"first"}, func(_ int, old []byte) ([]byte, error) {
			once.Do(func() { close(running) })
			<-unblock
			return append(slices.Clone(old), '0'), nil
		})
	}()
	<-running
	var unblockOnce sync.Once
	release = func() { unblockOnce.Do(func() { close(unblock) }) }
	t.Cleanup(release) // a failed test must not leave the writer held
	return release, func() error { return <-done }
}

// queued waits until n calls wait for the next group transaction.
func (g *group) queued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// txs is the number of group transactions started so far.
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

// A lone call commits at once, in a transaction of its own; the calls
// that arrive while a transaction commits all share the next one.
func TestGroupCommit(t *testing.T) {
	s := groupStore(t)
	if err := s.UpdateStates(ctx, "v1", []string{"a"}, appendByte('x')); err != nil {
		t.Fatal(err)
	}
	if n := s.group.txs(); n != 1 {
		t.Fatalf("%d transactions for one call", n)
	}
	release, wait := holdWriter(t, s)
	const callers = 4
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for w := range callers {
		wg.Go(func() {
			errs[w] = s.UpdateStates(ctx, "v1", []string{fmt.Sprint("u", w), "shared"}, appendByte(byte('a'+w)))
		})
	}
	s.group.queued(t, callers)
	release()
	wg.Wait()
	if err := errors.Join(append(errs, wait())...); err != nil {
		t.Fatal(err)
	}
	if n := s.group.txs(); n != 3 {
		t.Errorf("%d transactions, want 3: the lone call, the held one, then the %d that queued behind it", n, callers)
	}
	if got := state(t, s, "shared"); len(got) != callers {
		t.Errorf("shared state %q, want one byte from each caller", got)
	}
	if got := state(t, s, "a"); got != "x" {
		t.Errorf("state a %q, want x", got)
	}
}

// A call whose function fails or panics in a group gets its own error and
// writes nothing; the other calls of the group commit.
func TestGroupFailureIsolated(t *testing.T) {
	s := groupStore(t)
	release, wait := holdWriter(t, s)
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
	s.group.queued(t, len(fns))
	release()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] == nil || !strings.Contains(errs[2].Error(), "bad state") {
		t.Fatalf("errors %v, want nil, boom, the panic", errs)
	}
	if got := state(t, s, "shared"); got != "a" {
		t.Errorf("shared state %q, want only the good call's a", got)
	}
	if state(t, s, "u1") != "" || state(t, s, "u2") != "" {
		t.Error("a failed call wrote its users")
	}
}
