package features

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// ErrTooManyUsers means a Log was given more than 2^32 − 1 distinct users.
var ErrTooManyUsers = errors.New("too many distinct users")

// logChunkMax is the number of events per full chunk of a Log. Chunks keep
// the spare capacity of a growing Log below one chunk, instead of the up to
// 2× of a doubling slice.
const logChunkMax = 1 << 16

// logChunk holds up to logChunkMax events in columns: 14 bytes per event,
// plus one bit and, for the events with a non-zero amount (purchases,
// refunds: typically a few percent), 8 bytes.
type logChunk struct {
	user  []uint32 // index into Log.ids
	typ   []uint16 // index into Log.names
	time  []int64  // unix ns
	hasAm []uint64 // bit i set: event i has a non-zero amount
	amt   []int64  // the non-zero amounts in integer millionths, in event order
}

// amounts walks the sparse amount column of a chunk in event order.
type amounts struct {
	c *logChunk
	j int
}

// next returns the amount of event i; calls must visit every i in order.
func (a *amounts) next(i int) int64 {
	if a.c.hasAm[i>>6]&(1<<(i&63)) == 0 {
		return 0
	}
	a.j++
	return a.c.amt[a.j-1]
}

// Log is a compact, columnar in-memory event store for building several
// snapshots (cutoffs T1, T1−H, ...) from one read of the input. Each event
// takes 14 bytes (user index, type index, time) and one bit, plus 8 bytes
// when its amount is not zero, plus, once per user and per type, the id
// string and an index entry. Event Props are not kept. The zero Log is
// empty and ready to use; a Log is not safe for concurrent Append, but Build
// and PurchaseDays may run concurrently with each other.
type Log struct {
	users  map[string]uint32
	ids    []string
	types  map[string]uint16
	names  []string
	chunks []*logChunk
	n      int
	minT   int64
	maxT   int64
}

// Append adds one event. It fails, adding nothing, when the time or amount
// is out of range or there are too many types or users. Append keeps
// e.UserID and e.Name for new users and types.
func (l *Log) Append(e *Event) error {
	ns, err := timeNanos(e.Time)
	if err != nil {
		return fmt.Errorf("features: log: user %q event %q at %v: %w", e.UserID, e.Name, e.Time, err)
	}
	m, err := amountMicros(e.Amount)
	if err != nil {
		return fmt.Errorf("features: log: user %q event %q amount %v: %w", e.UserID, e.Name, e.Amount, err)
	}
	if l.users == nil {
		l.users = make(map[string]uint32)
		l.types = make(map[string]uint16)
	}
	k, ok := l.types[e.Name]
	if !ok {
		if len(l.names) >= MaxEventTypes {
			return fmt.Errorf("features: log: event %q: %w", e.Name, ErrTooManyTypes)
		}
		k = uint16(len(l.names))
		l.types[e.Name] = k
		l.names = append(l.names, e.Name)
	}
	u, ok := l.users[e.UserID]
	if !ok {
		if len(l.ids) >= math.MaxUint32 {
			return fmt.Errorf("features: log: user %q: %w", e.UserID, ErrTooManyUsers)
		}
		u = uint32(len(l.ids))
		l.users[e.UserID] = u
		l.ids = append(l.ids, e.UserID)
	}
	var c *logChunk
	if len(l.chunks) > 0 {
		c = l.chunks[len(l.chunks)-1]
	}
	if c == nil || len(c.user) == cap(c.user) {
		size := min(max(1024, l.n), logChunkMax)
		c = &logChunk{
			user:  make([]uint32, 0, size),
			typ:   make([]uint16, 0, size),
			time:  make([]int64, 0, size),
			hasAm: make([]uint64, (size+63)/64),
		}
		l.chunks = append(l.chunks, c)
	}
	if m != 0 {
		i := len(c.user)
		c.hasAm[i>>6] |= 1 << (i & 63)
		c.amt = append(c.amt, m)
	}
	c.user = append(c.user, u)
	c.typ = append(c.typ, k)
	c.time = append(c.time, ns)
	if l.n == 0 || ns < l.minT {
		l.minT = ns
	}
	if l.n == 0 || ns > l.maxT {
		l.maxT = ns
	}
	l.n++
	return nil
}

// Len returns the number of events.
func (l *Log) Len() int { return l.n }

// NumUsers returns the number of distinct users.
func (l *Log) NumUsers() int { return len(l.ids) }

// Types returns the distinct event names in order of first appearance.
func (l *Log) Types() []string { return slices.Clone(l.names) }

// MinTime returns the earliest event time (UTC), zero when the Log is empty.
func (l *Log) MinTime() time.Time {
	if l.n == 0 {
		return time.Time{}
	}
	return time.Unix(0, l.minT).UTC()
}

// MaxTime returns the latest event time (UTC), zero when the Log is empty.
func (l *Log) MaxTime() time.Time {
	if l.n == 0 {
		return time.Time{}
	}
	return time.Unix(0, l.maxT).UTC()
}

// Build replays the Log into a Builder configured by cfg and returns its
// Dataset, the same one a Builder fed the same events would return. With
// cfg.Workers > 1 the users are split among that many goroutines; the result
// does not depend on the number of workers.
func (l *Log) Build(cfg BuilderConfig) (*Dataset, error) {
	base, err := NewBuilder(cfg)
	if err != nil {
		return nil, err
	}
	for _, n := range l.names {
		if _, err := base.tab.intern(n); err != nil {
			return nil, fmt.Errorf("features: log build: %w", err) // cannot happen: Append checked
		}
	}
	p := max(cfg.Workers, 1)
	p = max(min(p, len(l.ids)), 1)
	shards := make([]*Builder, p)
	for s := range shards {
		sh := *base
		sh.users = nil // replay addresses users by index
		sh.typeCounts = make([]uint64, len(l.names))
		for u := s; u < len(l.ids); u += p {
			sh.ids = append(sh.ids, l.ids[u])
		}
		sh.labels = make([]uint8, len(sh.ids))
		shards[s] = &sh
	}
	run := func(fn func(s int)) {
		if p == 1 {
			fn(0)
			return
		}
		var wg sync.WaitGroup
		for s := range p {
			wg.Go(func() { fn(s) })
		}
		wg.Wait()
	}
	run(func(s int) {
		sh, P := shards[s], uint32(p)
		// Each shard sets up its own states on its own core, in memory an
		// earlier build left when there is some (a fresh slice of a
		// million States costs its page faults and zeroing every time).
		sh.states = getStates(len(sh.ids))
		for i := range sh.states {
			sh.states[i].reset(sh.tab, sh.foldDay)
		}
		for _, c := range l.chunks {
			am := amounts{c: c}
			for i, u := range c.user {
				m := am.next(i)
				if P == 1 || u%P == uint32(s) {
					sh.add(u/P, c.typ[i], c.time[i], m)
				}
			}
		}
	})
	counts := Counts{}
	typeCounts := make([]uint64, len(l.names))
	for _, sh := range shards {
		counts.Events += sh.counts.Events
		counts.BeforeCutoff += sh.counts.BeforeCutoff
		counts.AfterCutoff += sh.counts.AfterCutoff
		counts.InHorizon += sh.counts.InHorizon
		for k, n := range sh.typeCounts {
			typeCounts[k] += n
		}
	}
	f, err := NewFeaturizer(base.spec(typeCounts, l.names))
	if err != nil {
		return nil, fmt.Errorf("features: log build: %w", err)
	}
	parts := make([]shardOut, p)
	run(func(s int) {
		parts[s] = shards[s].emit(f)
		// emit copied what it keeps (vectors, and states with KeepStates).
		putStates(shards[s].states)
		shards[s].states = nil
	})
	return base.dataset(f, parts, counts, l.minT, l.maxT), nil
}

// statePool recycles the shards' State slices of Log.Build, with their
// cells' capacity, from one build to the next (snapshots are built back to
// back); the garbage collector empties it when builds stop.
var statePool sync.Pool // of *[]State

// getStates returns n States for reset, from the pool when it holds a
// slice large enough.
func getStates(n int) []State {
	if p, ok := statePool.Get().(*[]State); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]State, n)
}

// putStates hands s back to the pool.
func putStates(s []State) {
	if cap(s) > 0 {
		statePool.Put(&s)
	}
}

// PurchaseDay is one UTC day on which a user made at least one purchase.
type PurchaseDay struct {
	// Day is the UTC day number: unix seconds / 86400, rounded down.
	Day int32
	// Revenue is the sum of the day's purchase amounts.
	Revenue float64
}

// Date returns the start of the day as a UTC time.
func (p PurchaseDay) Date() time.Time { return time.Unix(int64(p.Day)*86400, 0).UTC() }

// PurchaseDays calls fn once per user with at least one purchase before
// cutoff, in user id order, with that user's purchase days in ascending
// order: events named in purchase with a non-negative amount, several on
// one day merged into one (the BG/NBD convention, e.g. for CDNOW). From
// them, x = len(days) − 1, t_x = days[last] − days[0] and T = D − days[0]
// (D = the cutoff's day, see docs/DESIGN.md). The days slice is reused
// between calls; fn must copy what it keeps. A non-nil error from fn stops
// the iteration and is returned.
func (l *Log) PurchaseDays(cutoff time.Time, purchase []string, fn func(userID string, days []PurchaseDay) error) error {
	var days []PurchaseDay
	return l.eachPurchaseDays(cutoff, purchase, func(u uint32, dr []dayRevenue) error {
		days = days[:0]
		for _, d := range dr {
			days = append(days, PurchaseDay{Day: d.day, Revenue: float64(d.rev) / micro})
		}
		return fn(l.ids[u], days)
	})
}

// PurchaseSummaries calls fn once per user with at least one purchase
// before cutoff, in user id order, with the user's PurchaseSummary: the
// same summary Featurizer.PurchaseSummary computes from the user's State
// (under a Spec whose PurchaseEvents are purchase), bit for bit. A non-nil
// error from fn stops the iteration and is returned.
func (l *Log) PurchaseSummaries(cutoff time.Time, purchase []string, fn func(userID string, s PurchaseSummary) error) error {
	return l.eachPurchaseDays(cutoff, purchase, func(u uint32, dr []dayRevenue) error {
		var total int64
		for _, d := range dr {
			total += d.rev
		}
		return fn(l.ids[u], newPurchaseSummary(len(dr), dr[0].day, dr[len(dr)-1].day, total-dr[0].rev))
	})
}

// dayRevenue is one purchase day with its revenue in millionths.
type dayRevenue struct {
	day int32
	rev int64
}

// eachPurchaseDays calls fn for every user with a purchase before cutoff,
// in user id order, with the user's purchase days ascending (the slice is
// reused).
func (l *Log) eachPurchaseDays(cutoff time.Time, purchase []string, fn func(u uint32, days []dayRevenue) error) error {
	tn, err := timeNanos(cutoff)
	if err != nil {
		return fmt.Errorf("features: purchase days at %v: %w", cutoff, err)
	}
	isPur := make([]bool, len(l.names))
	for _, n := range purchase {
		if k, ok := l.types[n]; ok {
			isPur[k] = true
		}
	}
	// Counting sort of the purchase events by user.
	start := make([]uint32, len(l.ids)+1)
	keep := func(c *logChunk, i int, m int64) bool { return isPur[c.typ[i]] && c.time[i] < tn && m >= 0 }
	for _, c := range l.chunks {
		am := amounts{c: c}
		for i, u := range c.user {
			if keep(c, i, am.next(i)) {
				start[u+1]++
			}
		}
	}
	for u := 1; u < len(start); u++ {
		start[u] += start[u-1]
	}
	evs := make([]dayRevenue, start[len(l.ids)])
	next := slices.Clone(start[:len(l.ids)])
	for _, c := range l.chunks {
		am := amounts{c: c}
		for i, u := range c.user {
			if m := am.next(i); keep(c, i, m) {
				evs[next[u]] = dayRevenue{dayOf(c.time[i]), m}
				next[u]++
			}
		}
	}
	order := make([]uint32, 0, len(l.ids))
	for u := range l.ids {
		if start[u+1] > start[u] {
			order = append(order, uint32(u))
		}
	}
	slices.SortFunc(order, func(a, b uint32) int { return cmp.Compare(l.ids[a], l.ids[b]) })
	var days []dayRevenue
	for _, u := range order {
		e := evs[start[u]:start[u+1]]
		slices.SortFunc(e, func(a, b dayRevenue) int { return cmp.Compare(a.day, b.day) })
		days = days[:0]
		var sum int64
		for i, x := range e {
			sum += x.rev
			if i == len(e)-1 || e[i+1].day != x.day {
				days = append(days, dayRevenue{x.day, sum})
				sum = 0
			}
		}
		if err := fn(u, days); err != nil {
			return err
		}
	}
	return nil
}
