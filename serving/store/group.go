package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroupDelay bounds how long a group commit waits for announced
// callers that have not arrived yet.
const maxGroupDelay = 10 * time.Millisecond

// maxGroupCalls bounds the calls of one group transaction.
const maxGroupCalls = 256

// group commits concurrent UpdateStates calls in one write transaction,
// like bbolt's DB.Batch, but decides when to commit from who is coming
// rather than from a fixed delay. A group runs as soon as the writer is
// free and no caller announced with Expect is still on its way, or
// maxDelay after its first call, whichever comes first. So a lone call
// commits at once, while calls announced together (the event batches of
// several connections being parsed) share one transaction, one fsync and
// one copy of the tree's branch pages, and calls that arrive while a
// transaction commits wait for the next one together.
//
// On a 1M-user store that is the difference between about 100,000 and
// 130,000-200,000 events/s in session-shaped batches (README "Serving"):
// with DB.Batch's fixed 2 ms window most transactions held two of four
// connections' batches, and every transaction rewrites about the same
// branch pages whatever it holds.
type group struct {
	db       *bolt.DB
	maxDelay time.Duration

	mu       sync.Mutex
	expected int // announced callers that have neither joined nor cancelled
	queue    []groupCall
	first    time.Time // when the oldest queued call joined
	timer    *time.Timer
	running  bool // a group transaction is in progress
	ran      int  // group transactions run, for tests
}

type groupCall struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errSolo tells a caller whose function failed in a group to run it in a
// transaction of its own (its error must not depend on the others').
var errSolo = errors.New("store: run alone")

func newGroup(db *bolt.DB, maxDelay time.Duration) *group {
	return &group{db: db, maxDelay: maxDelay}
}

// expect announces a call that is on its way; the caller then makes
// exactly one of do and cancel.
func (g *group) expect() {
	g.mu.Lock()
	g.expected++
	g.mu.Unlock()
}

// cancel withdraws an announcement whose call will not come.
func (g *group) cancel() {
	g.mu.Lock()
	if g.expected > 0 {
		g.expected--
	}
	g.maybeRunLocked()
	g.mu.Unlock()
}

// do runs fn in a group transaction and returns when it is committed (or
// failed). A call counts as the arrival of one announced caller, if any is
// outstanding.
func (g *group) do(fn func(*bolt.Tx) error) error {
	c := groupCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	if g.expected > 0 {
		g.expected--
	}
	g.queue = append(g.queue, c)
	if len(g.queue) == 1 {
		g.first = time.Now()
		g.timer = time.AfterFunc(g.maxDelay, g.kick)
	}
	g.maybeRunLocked()
	g.mu.Unlock()
	err := <-c.err
	if err == errSolo {
		err = g.db.Update(func(tx *bolt.Tx) error { return safely(fn, tx) })
	}
	return err
}

// kick is the timer's: it runs the queue once its first call waited
// maxDelay.
func (g *group) kick() {
	g.mu.Lock()
	g.maybeRunLocked()
	g.mu.Unlock()
}

// maybeRunLocked starts a group transaction with the whole queue when the
// writer is free and either nobody announced is on the way, the queue is
// full, or its first call has waited maxDelay.
func (g *group) maybeRunLocked() {
	if g.running || len(g.queue) == 0 {
		return
	}
	if g.expected > 0 && len(g.queue) < maxGroupCalls && time.Since(g.first) < g.maxDelay {
		return
	}
	calls := g.queue
	if len(calls) > maxGroupCalls {
		calls = calls[:maxGroupCalls:maxGroupCalls]
		g.queue = append([]groupCall(nil), g.queue[maxGroupCalls:]...)
		g.first = time.Now()
		g.timer = time.AfterFunc(g.maxDelay, g.kick)
	} else {
		g.queue = nil
		g.timer.Stop()
	}
	g.running = true
	go g.run(calls)
}

// run commits calls in one transaction. A call whose function fails is
// taken out and told to run alone, and the rest are tried again, as
// bbolt's DB.Batch does; a commit error goes to every call.
func (g *group) run(calls []groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := safely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].err <- errSolo
			calls = append(calls[:failed], calls[failed+1:]...)
			continue
		}
		for _, c := range calls {
			c.err <- err
		}
		break
	}
	g.mu.Lock()
	g.running = false
	g.ran++
	g.maybeRunLocked()
	g.mu.Unlock()
}

// safely calls fn, turning a panic into an error so that one bad call
// cannot take the group (and the process) down.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in a transaction: %v", p)
		}
	}()
	return fn(tx)
}
