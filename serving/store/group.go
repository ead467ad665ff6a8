package store

import (
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroupCalls bounds the calls of one group transaction.
const maxGroupCalls = 256

// group commits concurrent UpdateStates calls together, like bbolt's
// DB.Batch, but without its timer: a call commits at once when the writer
// is free, and the calls that arrive while a transaction commits all
// share the next one. A lone request pays no waiting, and under load the
// transactions grow by themselves to hold whatever queued during the
// last commit.
//
// That matters because every transaction pays two fsyncs and rewrites
// about the same branch pages of the states tree, whatever it holds.
// DB.Batch closes a batch when its 2 ms timer fires, before it gets the
// writer, so most of its transactions held two of four connections'
// event batches; on a 1M-user store this took session-shaped batches
// from about 100,000 to 140,000-200,000 events/s at 4 connections
// (README "Serving").
type group struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []groupCall
	running bool // a group transaction is in progress
	ran     int  // group transactions started, for tests
}

type groupCall struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errSolo tells a caller whose function failed in a group to run it in a
// transaction of its own, so that its error does not depend on the
// others'.
var errSolo = errors.New("store: run alone")

// do runs fn in a group transaction and returns when it is committed (or
// failed).
func (g *group) do(fn func(*bolt.Tx) error) error {
	c := groupCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	g.startLocked()
	g.mu.Unlock()
	err := <-c.err
	if err == errSolo {
		err = g.db.Update(func(tx *bolt.Tx) error { return safely(fn, tx) })
	}
	return err
}

// startLocked starts a transaction with the queue (up to maxGroupCalls of
// it) unless one is running; the running one starts the next when it
// ends.
func (g *group) startLocked() {
	if g.running || len(g.queue) == 0 {
		return
	}
	n := min(len(g.queue), maxGroupCalls)
	calls := g.queue[:n:n]
	g.queue = append([]groupCall(nil), g.queue[n:]...)
	g.running = true
	g.ran++
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
	g.startLocked()
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
