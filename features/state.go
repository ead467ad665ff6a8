package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"
)

// Errors from State updates and vectorisation.
var (
	// ErrTimeRange means an event time or cutoff is outside the years
	// 1678..2262, which nanosecond unix time cannot represent.
	ErrTimeRange = errors.New("time outside the years 1678..2262")
	// ErrAmountRange means an amount is NaN, infinite or larger in magnitude
	// than MaxAmount.
	ErrAmountRange = errors.New("amount is not finite or exceeds the limit")
	// ErrTooManyTypes means more than MaxEventTypes distinct event names were
	// seen by one Builder, Log or State.
	ErrTooManyTypes = errors.New("too many distinct event types")
	// ErrAfterCutoff means a State holds an event at or after the cutoff it
	// is vectorised at; such a vector would leak the future.
	ErrAfterCutoff = errors.New("state holds an event at or after the cutoff")
	// ErrPruned means a State was pruned at a later time than the cutoff it
	// is vectorised at, so daily cells that the windows need are gone.
	ErrPruned = errors.New("state was pruned past the cutoff's windows")
	// ErrUnboundState means Add or Prune was called on a State that was not
	// made by NewState, Featurizer.NewState or a Builder, so it does not know
	// which events are activity and purchases.
	ErrUnboundState = errors.New("state is not bound to a feature spec")
	// ErrCorruptState means UnmarshalBinary was given bytes that are not a
	// valid encoded State.
	ErrCorruptState = errors.New("corrupt encoded state")
	// ErrPurchaseHistory means a State cannot tell its lifetime purchase
	// days: it was decoded from the format-1 encoding, which did not record
	// them, after purchases older than the retention had been folded.
	// Adding the user's history again (or retraining, which stores new
	// States) restores them.
	ErrPurchaseHistory = errors.New("state does not know its folded purchase days (format-1 encoding)")
)

const (
	// MaxEventTypes is the number of distinct event names one Builder, Log
	// or State can hold (type ids are 16-bit).
	MaxEventTypes = math.MaxUint16
	// MaxAmount is the largest accepted |amount|. Amounts are kept as exact
	// integers of millionths (see State), so sums do not depend on the order
	// in which events arrive.
	MaxAmount = 1e12

	dayNs  = int64(24 * time.Hour)
	hourNs = int64(time.Hour)
	micro  = 1e6 // amount units per currency unit inside a State

	// minDay and maxDay are the UTC day numbers of the first and last
	// representable unix-nanosecond times.
	minDay = math.MinInt64/dayNs - 1
	maxDay = math.MaxInt64 / dayNs

	// stateFormat is the version byte of the State encoding. Format 2 adds
	// the folded purchase days (count, first, last, first day's revenue);
	// UnmarshalBinary also reads format 1.
	stateFormat   = 2
	stateFormatV1 = 1
)

// Type flags, as classified by a Spec.
const (
	flagActivity uint8 = 1 << iota
	flagPurchase
	flagTarget
	flagCart
	flagPricing
	flagCancel
	flagSupport
)

// Bits of State.has.
const (
	hasAny uint8 = 1 << iota // at least one event: maxTime is set
	hasAct                   // an activity event: firstAct, lastAct are set
	hasPur                   // a purchase or target event with amount >= 0: lastPur is set
	// hasPurLost: decoded from format 1 with folded purchases, so the
	// folded purchase days are unknown (ErrPurchaseHistory).
	hasPurLost
	hasAll = hasAny | hasAct | hasPur | hasPurLost
)

// timeNanos converts t to unix nanoseconds, or fails with ErrTimeRange.
func timeNanos(t time.Time) (int64, error) {
	// time.UnixNano is undefined outside about 1678..2262; compare seconds.
	const lo, hi = math.MinInt64/int64(time.Second) + 1, math.MaxInt64/int64(time.Second) - 1
	s := t.Unix()
	if s < lo || s > hi {
		return 0, ErrTimeRange
	}
	return t.UnixNano(), nil
}

// amountMicros converts a currency amount to integer millionths.
func amountMicros(a float64) (int64, error) {
	if !(a >= -MaxAmount && a <= MaxAmount) { // also false for NaN
		return 0, ErrAmountRange
	}
	return int64(math.Round(a * micro)), nil
}

// floorDiv is floor(a/b) for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// dayOf is the UTC day number of a unix-nanosecond time: floor(t/86400 s).
func dayOf(ns int64) int32 { return int32(floorDiv(ns, dayNs)) }

// cutoffDay is D, the first UTC day starting at or after the cutoff: an event
// at t < cutoff has age D - dayOf(t) >= 1.
func cutoffDay(ns int64) int32 { return int32(-floorDiv(-ns, dayNs)) }

// classes is the part of a Spec a State needs while events arrive: which
// names are activity, purchase and target events, and how many days of cells
// to keep. fp fingerprints it so that a State is never used with a Spec that
// classifies differently.
type classes struct {
	allActivity bool
	activity    map[string]bool
	purchase    map[string]bool
	target      string
	retention   int32
	fp          uint64
}

// newClasses extracts the classification of s; s must be valid.
func newClasses(s *Spec) *classes {
	c := &classes{
		allActivity: len(s.ActivityEvents) == 0,
		activity:    make(map[string]bool, len(s.ActivityEvents)),
		purchase:    make(map[string]bool, len(s.PurchaseEvents)),
		target:      s.TargetEvent,
		retention:   s.retentionDays(),
	}
	for _, n := range s.ActivityEvents {
		c.activity[n] = true
	}
	for _, n := range s.PurchaseEvents {
		c.purchase[n] = true
	}
	h := fnv.New64a()
	write := func(tag string, names []string) {
		names = slices.Clone(names)
		slices.Sort(names)
		h.Write([]byte(tag))
		for _, n := range names {
			var l [binary.MaxVarintLen64]byte
			h.Write(l[:binary.PutUvarint(l[:], uint64(len(n)))])
			h.Write([]byte(n))
		}
	}
	write("activity", s.ActivityEvents)
	write("purchase", s.PurchaseEvents)
	write("target", []string{s.TargetEvent})
	var r [4]byte
	binary.LittleEndian.PutUint32(r[:], uint32(c.retention))
	h.Write(r[:])
	c.fp = h.Sum64()
	return c
}

// flags classifies one event name.
func (c *classes) flags(name string) uint8 {
	var f uint8
	if c.allActivity || c.activity[name] {
		f |= flagActivity
	}
	if c.purchase[name] {
		f |= flagPurchase
	}
	if name == c.target {
		f |= flagTarget
	}
	return f
}

// typeTable interns event names to small ids and caches their flags. A
// Builder shares one table among all its States; a State made by NewState has
// its own. It is not safe for concurrent use.
type typeTable struct {
	cls   *classes // nil for a table filled only by UnmarshalBinary
	ids   map[string]uint16
	names []string
	flags []uint8
	// owner is the State this table belongs to alone (made by NewState or
	// UnmarshalBinary), which may empty and refill it; nil for a table
	// shared by the States of a Builder or Log.
	owner *State
	// spare holds the names of the table's previous fill, whose strings
	// UnmarshalBinary reuses for equal names instead of allocating.
	spare []string
}

func newTypeTable(cls *classes) *typeTable {
	return &typeTable{cls: cls, ids: make(map[string]uint16)}
}

// refill empties t, owned by a State that decodes again, keeping its
// memory: the map's buckets, and the old names as spares.
func (t *typeTable) refill() {
	clear(t.ids)
	t.names, t.spare = t.spare[:0], t.names
	t.flags = t.flags[:0]
}

// name returns b as a string: a spare of an equal name when there is one
// (near position i, where the previous fill had it), a new string else.
func (t *typeTable) name(b []byte, i int) string {
	if i < len(t.spare) && t.spare[i] == string(b) {
		return t.spare[i]
	}
	for _, n := range t.spare {
		if n == string(b) {
			return n
		}
	}
	return string(b)
}

// intern returns the id of name, adding it when new.
func (t *typeTable) intern(name string) (uint16, error) {
	if id, ok := t.ids[name]; ok {
		return id, nil
	}
	if len(t.names) >= MaxEventTypes {
		return 0, ErrTooManyTypes
	}
	id := uint16(len(t.names))
	t.ids[name] = id
	t.names = append(t.names, name)
	var f uint8
	if t.cls != nil {
		f = t.cls.flags(name)
	}
	t.flags = append(t.flags, f)
	return id, nil
}

// cell aggregates the events of one type on one UTC day. Amounts are integer
// millionths: rev sums the positive amounts, ref the magnitudes of the
// negative ones (refunds).
type cell struct {
	day  int32
	typ  uint16
	n    uint32 // events
	nneg uint32 // events with a negative amount
	rev  int64
	ref  int64
}

// less orders cells by day, then type id.
func (c *cell) less(day int32, typ uint16) bool {
	return c.day < day || (c.day == day && c.typ < typ)
}

// State is the compact point-in-time summary of one user's events, from
// which a Featurizer computes the feature vector at any cutoff after the
// last event. The batch Builder and serving share it, so both compute the
// same vector from the same events.
//
// A State keeps exact times (first and last activity, last purchase or
// target event, last event of any kind), lifetime counts and revenue, hour
// of day and weekday histograms of activity, and one cell per (UTC day,
// event type) with the event count, the count of negative amounts, revenue
// and refunds. Prune folds cells older than the retention (the longest
// window, at least 60 days) into the lifetime totals, so a State stays
// bounded. Amounts are summed as exact integers of millionths, so a State
// does not depend on the order in which events were added.
//
// For the customer-base models (PurchaseSummary) the lifetime totals also
// keep the folded purchase days: how many distinct UTC days had a purchase
// event with amount >= 0, the first and the last of them, and the revenue
// of the first. Prune folds days in order, so these are exact. An event
// added after its day was folded goes straight into them; it is exact too
// unless its day lies strictly between the first and last folded purchase
// days, where a State cannot tell a new day from one already counted: it
// counts a new day (the likelier case when purchase days are sparse), at
// most as many as the days in between.
//
// A State is bound to the activity, purchase and target events and the
// longest window of the Spec it was made with; using it with a Spec that
// differs there returns ErrSpecMismatch. It is not safe for concurrent use.
// The zero State is empty and unbound: it can be decoded and vectorised, but
// Add and Prune return ErrUnboundState.
type State struct {
	// The fields every Add touches come first, in one 64-byte line (a
	// Builder's []State is page aligned and State is 256 bytes).
	cells                               []cell // sorted by (day, typ)
	maxTime, firstAct, lastAct, lastPur int64  // unix ns, valid per has
	foldDay                             int32  // cells of days < foldDay have been folded into the totals
	has                                 uint8

	hour        [24]uint32 // activity events by UTC hour
	wday        [7]uint32  // activity events by UTC weekday, Sunday = 0
	foldPurDays uint32     // distinct purchase days among the folded days

	tab             *typeTable
	fp              uint64
	retention       int32
	foldPurFirst    int32  // first folded purchase day, valid when foldPurDays > 0
	foldEvents      uint64 // folded activity events
	foldOrders      uint64 // folded purchase events with amount >= 0
	foldRevenue     int64  // folded revenue, millionths
	foldPurFirstRev int64  // revenue of the purchases on foldPurFirst, millionths
	foldPurLast     int32  // last folded purchase day, valid when foldPurDays > 0
	_               [4]byte
}

// NewState returns an empty State bound to spec. It fails when spec is not
// valid. For many states, make a Featurizer once and call its NewState.
func NewState(spec *Spec) (*State, error) {
	f, err := NewFeaturizer(spec)
	if err != nil {
		return nil, err
	}
	return f.NewState(), nil
}

// reset empties s and binds it to tab.
func (s *State) reset(tab *typeTable, foldDay int32) {
	*s = State{tab: tab, foldDay: foldDay, cells: s.cells[:0]}
	if tab != nil && tab.cls != nil {
		s.fp = tab.cls.fp
		s.retention = tab.cls.retention
	}
}

// Add records one event. Events may be added in any order; an event older
// than the last Prune goes straight into the lifetime totals. Add fails,
// leaving s unchanged, when the time or amount is out of range or s is
// unbound.
func (s *State) Add(e *Event) error {
	if s.tab == nil || s.tab.cls == nil {
		return fmt.Errorf("features: state add: %w", ErrUnboundState)
	}
	ns, err := timeNanos(e.Time)
	if err != nil {
		return fmt.Errorf("features: state add %q at %v: %w", e.Name, e.Time, err)
	}
	m, err := amountMicros(e.Amount)
	if err != nil {
		return fmt.Errorf("features: state add %q amount %v: %w", e.Name, e.Amount, err)
	}
	id, err := s.tab.intern(e.Name)
	if err != nil {
		return fmt.Errorf("features: state add %q: %w", e.Name, err)
	}
	s.add(id, s.tab.flags[id], ns, m)
	return nil
}

// add is the allocation-free hot path shared by State.Add and the Builder.
func (s *State) add(id uint16, flags uint8, ns, amt int64) {
	if s.has&hasAny == 0 || ns > s.maxTime {
		s.maxTime = ns
	}
	s.has |= hasAny
	day := floorDiv(ns, dayNs)
	if flags&flagActivity != 0 {
		if s.has&hasAct == 0 {
			s.firstAct, s.lastAct = ns, ns
			s.has |= hasAct
		} else {
			s.firstAct = min(s.firstAct, ns)
			s.lastAct = max(s.lastAct, ns)
		}
		s.hour[(ns-day*dayNs)/hourNs]++
		s.wday[(day%7+11)%7]++ // day 0, 1970-01-01, was a Thursday
	}
	if flags&(flagPurchase|flagTarget) != 0 && amt >= 0 {
		if s.has&hasPur == 0 || ns > s.lastPur {
			s.lastPur = ns
		}
		s.has |= hasPur
	}
	var nneg uint32
	var rev, ref int64
	if amt < 0 {
		nneg, ref = 1, -amt
	} else {
		rev = amt
	}
	if day < int64(s.foldDay) {
		s.fold(int32(day), flags, 1, nneg, rev)
		return
	}
	s.upsert(int32(day), id, nneg, rev, ref)
}

// upsert adds one event to the cell (day, typ), creating it in order.
func (s *State) upsert(day int32, typ uint16, nneg uint32, rev, ref int64) {
	n := len(s.cells)
	i := n
	if n > 0 {
		last := &s.cells[n-1]
		if last.day == day && last.typ == typ {
			last.n++
			last.nneg += nneg
			last.rev += rev
			last.ref += ref
			return
		}
		if !last.less(day, typ) && last.day == day {
			// Time-sorted input: the event's day is the last one, so scan
			// back over that day's few cells instead of searching them all.
			j := n - 1
			for j >= 0 && s.cells[j].day == day && s.cells[j].typ > typ {
				j--
			}
			if j >= 0 && s.cells[j].day == day && s.cells[j].typ == typ {
				c := &s.cells[j]
				c.n++
				c.nneg += nneg
				c.rev += rev
				c.ref += ref
				return
			}
			i = j + 1
		} else if !last.less(day, typ) {
			var found bool
			i, found = slices.BinarySearchFunc(s.cells, cell{day: day, typ: typ}, func(a, b cell) int {
				if a.less(b.day, b.typ) {
					return -1
				}
				if a.day == b.day && a.typ == b.typ {
					return 0
				}
				return 1
			})
			if found {
				c := &s.cells[i]
				c.n++
				c.nneg += nneg
				c.rev += rev
				c.ref += ref
				return
			}
		}
	}
	s.cells = slices.Insert(s.cells, i, cell{day: day, typ: typ, n: 1, nneg: nneg, rev: rev, ref: ref})
}

// fold adds aggregated events of one day to the lifetime totals.
func (s *State) fold(day int32, flags uint8, n, nneg uint32, rev int64) {
	if flags&flagActivity != 0 {
		s.foldEvents += uint64(n)
	}
	if flags&flagPurchase != 0 {
		s.foldOrders += uint64(n - nneg)
		s.foldRevenue += rev
		if n > nneg {
			s.foldPurchaseDay(day, rev)
		}
	}
}

// foldPurchaseDay records a folded purchase day with rev millionths of
// revenue (see the State documentation for a day inside the folded span).
func (s *State) foldPurchaseDay(day int32, rev int64) {
	switch {
	case s.foldPurDays == 0:
		s.foldPurDays, s.foldPurFirst, s.foldPurLast, s.foldPurFirstRev = 1, day, day, rev
	case day == s.foldPurFirst:
		s.foldPurFirstRev += rev
	case day < s.foldPurFirst:
		s.foldPurDays++
		s.foldPurFirst, s.foldPurFirstRev = day, rev
	case day == s.foldPurLast:
	case day > s.foldPurLast:
		s.foldPurDays++
		s.foldPurLast = day
	case int64(s.foldPurDays) < int64(s.foldPurLast)-int64(s.foldPurFirst)+1:
		s.foldPurDays++ // strictly inside the span: counted as a new day
	}
}

// Prune folds the cells older than the retention as of asOf (days before
// D(asOf) − retention) into the lifetime totals. Afterwards s can only be
// vectorised at cutoffs at or after asOf's day. Prune never changes the
// vector at such a cutoff.
func (s *State) Prune(asOf time.Time) error {
	if s.tab == nil || s.tab.cls == nil {
		return fmt.Errorf("features: state prune: %w", ErrUnboundState)
	}
	ns, err := timeNanos(asOf)
	if err != nil {
		return fmt.Errorf("features: state prune at %v: %w", asOf, err)
	}
	nf := cutoffDay(ns) - s.retention
	if nf <= s.foldDay {
		return nil
	}
	k := 0
	for k < len(s.cells) && s.cells[k].day < nf {
		c := &s.cells[k]
		s.fold(c.day, s.tab.flags[c.typ], c.n, c.nneg, c.rev)
		k++
	}
	s.cells = slices.Delete(s.cells, 0, k)
	s.foldDay = nf
	return nil
}

// Cells returns the number of daily cells s holds; with Events it sizes a
// State for monitoring.
func (s *State) Cells() int { return len(s.cells) }

// LastTime returns the time of the latest event added, and false when s is
// empty. Vectors can only be computed at cutoffs after it.
func (s *State) LastTime() (time.Time, bool) {
	if s.has&hasAny == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, s.maxTime).UTC(), true
}

// MarshalBinary encodes s compactly (varints, type names once). See
// AppendBinary.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 96+12*len(s.cells)))
}

// AppendBinary appends the encoding of s to b. The format starts with a
// version byte (2) and the spec fingerprint; UnmarshalBinary reads it back.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateFormat)
	b = binary.LittleEndian.AppendUint64(b, s.fp)
	b = binary.AppendUvarint(b, uint64(s.retention))
	b = append(b, s.has)
	if s.has&hasAny != 0 {
		b = binary.AppendVarint(b, s.maxTime)
	}
	if s.has&hasAct != 0 {
		b = binary.AppendVarint(b, s.firstAct)
		b = binary.AppendVarint(b, s.lastAct)
	}
	if s.has&hasPur != 0 {
		b = binary.AppendVarint(b, s.lastPur)
	}
	b = binary.AppendVarint(b, int64(s.foldDay))
	b = binary.AppendUvarint(b, s.foldEvents)
	b = binary.AppendUvarint(b, s.foldOrders)
	b = binary.AppendVarint(b, s.foldRevenue)
	b = binary.AppendUvarint(b, uint64(s.foldPurDays))
	if s.foldPurDays > 0 {
		b = binary.AppendVarint(b, int64(s.foldPurFirst))
		b = binary.AppendUvarint(b, uint64(int64(s.foldPurLast)-int64(s.foldPurFirst)))
		b = binary.AppendVarint(b, s.foldPurFirstRev)
	}
	for _, h := range s.hour {
		b = binary.AppendUvarint(b, uint64(h))
	}
	for _, h := range s.wday {
		b = binary.AppendUvarint(b, uint64(h))
	}
	// Type names: those used by cells, in id order, so that local indices
	// keep the cells' (day, type) order and decoding needs no sort.
	var localBuf [64]int32
	local := localBuf[:0]
	if s.tab != nil {
		local = slices.Grow(local, len(s.tab.names))[:len(s.tab.names)]
	}
	for i := range local {
		local[i] = -1
	}
	for i := range s.cells {
		local[s.cells[i].typ] = 0
	}
	nt := int32(0)
	for id, l := range local {
		if l == 0 {
			local[id] = nt
			nt++
		}
	}
	b = binary.AppendUvarint(b, uint64(nt))
	for id, l := range local {
		if l >= 0 {
			name := s.tab.names[id]
			b = binary.AppendUvarint(b, uint64(len(name)))
			b = append(b, name...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.cells)))
	prev := int64(s.foldDay)
	if len(s.cells) > 0 {
		prev = int64(s.cells[0].day)
		b = binary.AppendVarint(b, prev)
	}
	for i := range s.cells {
		c := &s.cells[i]
		b = binary.AppendUvarint(b, uint64(int64(c.day)-prev))
		prev = int64(c.day)
		b = binary.AppendUvarint(b, uint64(local[c.typ]))
		b = binary.AppendUvarint(b, uint64(c.n))
		b = binary.AppendUvarint(b, uint64(c.nneg))
		b = binary.AppendUvarint(b, uint64(c.rev))
		b = binary.AppendUvarint(b, uint64(c.ref))
	}
	return b, nil
}

// decoder reads the State encoding and remembers the first error. It
// advances an offset rather than reslicing, which would cost a write barrier
// per field.
type decoder struct {
	b   []byte
	off int
	err error
}

// rest is the number of unread bytes.
func (d *decoder) rest() int { return len(d.b) - d.off }

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("features: decode state: %s: %w", what, ErrCorruptState)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.off += n
	return v
}

// uint32v reads a uvarint that must fit in 32 bits.
func (d *decoder) uint32v(what string) uint32 {
	v := d.uvarint(what)
	if v > math.MaxUint32 {
		d.fail(what + " out of range")
		return 0
	}
	return uint32(v)
}

// int32v reads a varint that must fit in 32 bits.
func (d *decoder) int32v(what string) int32 {
	v := d.varint(what)
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(what + " out of range")
		return 0
	}
	return int32(v)
}

// UnmarshalBinary replaces s with the State encoded in data. When s is bound
// to a Spec (made by NewState or Featurizer.NewState), the encoded
// fingerprint must match it, or ErrSpecMismatch is returned; a zero State
// takes whatever fingerprint was encoded and stays unbound. Malformed input
// returns an error wrapping ErrCorruptState and never panics; s is then
// empty. Decoding into the same State again reuses its memory, so a server
// can keep one State per goroutine; a copy of s made by assignment shares
// that memory and is overwritten too.
func (s *State) UnmarshalBinary(data []byte) error {
	tab := s.tab
	switch {
	case tab == nil || tab.cls == nil:
		tab = newTypeTable(nil)
	case tab.owner == s:
		// s's own table (NewState's, or a previous decode's): reuse it.
		tab.refill()
	default:
		// A bound table may be shared with other States: decode into a
		// private one with the same classification.
		tab = newTypeTable(tab.cls)
	}
	tab.owner = s
	err := s.decode(tab, data)
	if err != nil {
		if tab.cls != nil {
			tab.refill()
			s.reset(tab, math.MinInt32)
		} else {
			s.reset(nil, math.MinInt32)
		}
	}
	return err
}

func (s *State) decode(tab *typeTable, data []byte) error {
	s.reset(tab, 0)
	if len(data) < 1+8 {
		return fmt.Errorf("features: decode state: %d bytes: %w", len(data), ErrCorruptState)
	}
	format := data[0]
	if format != stateFormat && format != stateFormatV1 {
		return fmt.Errorf("features: decode state: format %d, want %d or %d: %w", format, stateFormatV1, stateFormat, ErrCorruptState)
	}
	fp := binary.LittleEndian.Uint64(data[1:9])
	d := decoder{b: data[9:]}
	ret := d.uvarint("retention")
	if d.err == nil && ret > MaxWindowDays {
		d.fail("retention out of range")
	}
	if d.err != nil {
		return d.err
	}
	if tab.cls != nil && (fp != tab.cls.fp || int32(ret) != tab.cls.retention) {
		return fmt.Errorf("features: decode state: %w", ErrSpecMismatch)
	}
	s.fp, s.retention = fp, int32(ret)
	if d.rest() < 1 {
		return fmt.Errorf("features: decode state: flags: %w", ErrCorruptState)
	}
	s.has = d.b[d.off]
	d.off++
	if s.has&^hasAll != 0 || (s.has != 0 && s.has&hasAny == 0) || (format == stateFormatV1 && s.has&hasPurLost != 0) {
		return fmt.Errorf("features: decode state: flags %#x: %w", s.has, ErrCorruptState)
	}
	if s.has&hasAny != 0 {
		s.maxTime = d.varint("max time")
	}
	if s.has&hasAct != 0 {
		s.firstAct = d.varint("first activity")
		s.lastAct = d.varint("last activity")
		if d.err == nil && (s.firstAct > s.lastAct || s.lastAct > s.maxTime) {
			d.fail("activity times out of order")
		}
	}
	if s.has&hasPur != 0 {
		s.lastPur = d.varint("last purchase")
		if d.err == nil && s.lastPur > s.maxTime {
			d.fail("purchase time after last event")
		}
	}
	s.foldDay = d.int32v("fold day")
	s.foldEvents = d.uvarint("folded events")
	s.foldOrders = d.uvarint("folded orders")
	s.foldRevenue = d.varint("folded revenue")
	if format == stateFormatV1 {
		if s.foldOrders > 0 {
			s.has |= hasPurLost
		}
	} else {
		s.foldPurDays = d.uint32v("folded purchase days")
		if s.foldPurDays > 0 {
			s.foldPurFirst = d.int32v("first folded purchase day")
			span := d.uvarint("folded purchase span")
			s.foldPurFirstRev = d.varint("first folded purchase revenue")
			switch {
			case d.err != nil:
			case int64(s.foldPurFirst) >= int64(s.foldDay) || span >= uint64(int64(s.foldDay)-int64(s.foldPurFirst)):
				d.fail("folded purchase days not before the fold day")
			case uint64(s.foldPurDays) > span+1 || uint64(s.foldPurDays) > s.foldOrders:
				d.fail("folded purchase day count")
			case s.foldPurFirstRev < 0 || s.foldPurFirstRev > s.foldRevenue:
				d.fail("first folded purchase revenue")
			}
			s.foldPurLast = int32(int64(s.foldPurFirst) + int64(span))
		}
	}
	var histTotal uint64
	for i := range s.hour {
		s.hour[i] = d.uint32v("hour histogram")
		histTotal += uint64(s.hour[i])
	}
	for i := range s.wday {
		s.wday[i] = d.uint32v("weekday histogram")
	}
	if d.err == nil && histTotal != 0 && s.has&hasAct == 0 {
		d.fail("activity histogram without activity")
	}
	ntypes := d.uvarint("type count")
	if d.err == nil && ntypes > uint64(d.rest()) {
		d.fail("type count exceeds input")
	}
	if d.err != nil {
		return d.err
	}
	var localBuf [32]uint16
	local := localBuf[:0]
	local = slices.Grow(local, int(ntypes))[:ntypes]
	for i := range local {
		l := d.uvarint("type name length")
		if d.err == nil && l > uint64(d.rest()) {
			d.fail("type name exceeds input")
		}
		if d.err != nil {
			return d.err
		}
		name := tab.name(d.b[d.off:d.off+int(l)], i)
		d.off += int(l)
		if _, dup := tab.ids[name]; dup {
			return fmt.Errorf("features: decode state: duplicate type %q: %w", name, ErrCorruptState)
		}
		id, err := tab.intern(name)
		if err != nil {
			return fmt.Errorf("features: decode state: %w", err)
		}
		local[i] = id
	}
	ncells := d.uvarint("cell count")
	if d.err == nil && ncells > uint64(d.rest())/6 {
		d.fail("cell count exceeds input")
	}
	if d.err != nil {
		return d.err
	}
	s.cells = slices.Grow(s.cells[:0], int(ncells))
	var day int64
	if ncells > 0 {
		day = d.varint("first cell day")
	}
	for i := uint64(0); i < ncells && d.err == nil; i++ {
		day += int64(d.uint32v("cell day delta"))
		li := d.uvarint("cell type")
		c := cell{n: d.uint32v("cell count"), nneg: d.uint32v("cell refunds")}
		rev, ref := d.uvarint("cell revenue"), d.uvarint("cell refund amount")
		switch {
		case d.err != nil:
		case day < int64(s.foldDay) || day < minDay || day > maxDay:
			d.fail("cell day out of range")
		case li >= ntypes:
			d.fail("cell type out of range")
		case c.n == 0 || c.nneg > c.n:
			d.fail("cell counts")
		case rev > math.MaxInt64 || ref > math.MaxInt64:
			d.fail("cell amount out of range")
		}
		if d.err != nil {
			break
		}
		c.day, c.typ, c.rev, c.ref = int32(day), local[li], int64(rev), int64(ref)
		s.cells = append(s.cells, c)
	}
	if d.err == nil && d.rest() != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	if len(s.cells) > 0 && (s.has&hasAny == 0 || s.cells[len(s.cells)-1].day > dayOf(s.maxTime)) {
		return fmt.Errorf("features: decode state: cell after last event: %w", ErrCorruptState)
	}
	// Encoded local indices keep the order; other input may not.
	cmpCell := func(a, b cell) int {
		if a.less(b.day, b.typ) {
			return -1
		}
		if b.less(a.day, a.typ) {
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(s.cells, cmpCell) {
		slices.SortFunc(s.cells, cmpCell)
	}
	for i := 1; i < len(s.cells); i++ {
		if s.cells[i].day == s.cells[i-1].day && s.cells[i].typ == s.cells[i-1].typ {
			return fmt.Errorf("features: decode state: duplicate cell: %w", ErrCorruptState)
		}
	}
	return nil
}
