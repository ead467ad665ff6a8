package features

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReadStats describes what a Reader read. Every count is exact.
//
// Rows = Events + MergedLines + DuplicatesDropped + Bad: each data row is
// returned (alone or merged into an order), dropped as a duplicate, or
// rejected.
type ReadStats struct {
	Sources []SourceStats // one per input started, in order
	Lines   int64         // physical lines read, headers and blank lines included
	Rows    int64         // data rows (records), rejected ones included
	Events  int64         // events returned by Read
	// MergedLines counts order lines folded into the event of the line
	// before them (Mapping.OrderCol).
	MergedLines int64
	Users       int              // distinct user ids among the events returned
	MinTime     time.Time        // earliest event time; zero without events
	MaxTime     time.Time        // latest event time; zero without events
	EventTypes  map[string]int64 // events by name
	Revenue     float64          // sum of the positive amounts
	Refunds     int64            // events with a negative amount
	RefundTotal float64          // sum of |amount| over the refunds
	AsOf        time.Time        // ReadOptions.AsOf
	AfterAsOf   int64            // events at or after AsOf (labels only)
	// DuplicatesDropped counts exact duplicate rows dropped (with a time of
	// day, or all with DedupeOn); DuplicatesKept those kept because their
	// timestamp is a bare date (DedupeAuto).
	DuplicatesDropped, DuplicatesKept int64
	Bad                               int64           // rejected rows
	BadByReason                       map[error]int64 // rejected rows by ErrX sentinel
	Examples                          []*ParseError   // the first rejected rows
	MaxBadRows                        float64         // ReadOptions.MaxBadRows as given
	// FloatUserIDs counts accepted rows (events and merged order lines)
	// whose user id looks like a float ("17850.0"); FloatUserExample is the
	// first. TrimFloat says whether Mapping.UserTrimFloat stripped the
	// tails.
	FloatUserIDs     int64
	FloatUserExample string
	TrimFloat        bool
}

// SourceStats describes one input.
type SourceStats struct {
	Name       string
	Format     string // FormatCSV, FormatTSV, FormatJSONL or FormatWS
	Gzip       bool
	HeaderLine int64  // line of the header (0 for JSON Lines or an empty input)
	Lines      int64  // physical lines (of the decompressed input)
	Rows       int64  // data rows
	NoAmount   string // the amount column, when the header lacks it (amounts are 0)
	NoEvent    string // the event column, when the header lacks it (every row is Mapping.EventName)
}

// TooManyBadRowsError is returned by Reader.Read when more rows were rejected
// than ReadOptions.MaxBadRows allows. It unwraps to ErrTooManyBadRows.
type TooManyBadRowsError struct {
	Bad, Rows int64           // rejected rows and rows read so far
	Limit     float64         // ReadOptions.MaxBadRows as given (0 = default 1%)
	Early     bool            // the read stopped before the end of the input
	ByReason  map[error]int64 // rejected rows by reason
	Examples  []*ParseError   // the first rejected rows
}

func (e *TooManyBadRowsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "features: %v: %s of %s rows rejected (%s)", ErrTooManyBadRows, groupInt(e.Bad), groupInt(e.Rows), percent(e.Bad, e.Rows))
	if e.Early {
		b.WriteString(", stopped early")
	}
	fmt.Fprintf(&b, ", above the limit of %s; by reason: ", limitText(e.Limit))
	for i, rc := range sortedReasons(e.ByReason) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v %s", rc.reason, groupInt(rc.n))
	}
	if len(e.Examples) > 0 {
		b.WriteString("; first: ")
		for i, ex := range e.Examples[:min(len(e.Examples), 3)] {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(ex.Error())
		}
	}
	b.WriteString("; fix the input or the column mapping, or raise the limit with --max-bad-rows (a fraction such as 0.05 or a row count such as 500)")
	return b.String()
}

// Unwrap returns ErrTooManyBadRows.
func (e *TooManyBadRowsError) Unwrap() error { return ErrTooManyBadRows }

// limitText describes a MaxBadRows value.
func limitText(l float64) string {
	switch {
	case l == 0:
		return "1% (the default)"
	case l < 0:
		return "0 rows"
	case math.IsInf(l, 1):
		return "no limit"
	case l < 1:
		return strconv.FormatFloat(l*100, 'g', 4, 64) + "%"
	}
	return groupInt(int64(l)) + " rows"
}

type reasonCount struct {
	reason error
	n      int64
}

// sortedReasons orders reasons by count, then by text.
func sortedReasons(m map[error]int64) []reasonCount {
	rc := make([]reasonCount, 0, len(m))
	for k, v := range m {
		rc = append(rc, reasonCount{k, v})
	}
	slices.SortFunc(rc, func(a, b reasonCount) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.reason.Error(), b.reason.Error())
	})
	return rc
}

// WriteSummary writes the human summary of a read, as the CLI prints it on
// stderr: inputs, rows, users, time range, event types, money, as-of,
// duplicates, bad rows by reason with the first examples, and warnings.
func (s ReadStats) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d input%s:", len(s.Sources), plural(int64(len(s.Sources))))
	for i, src := range s.Sources {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s (%s", src.Name, src.Format)
		if src.Gzip {
			b.WriteString(", gzip")
		}
		fmt.Fprintf(&b, ", %s row%s)", groupInt(src.Rows), plural(src.Rows))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  rows: %s read, %s events, %s users", groupInt(s.Rows), groupInt(s.Events), groupInt(int64(s.Users)))
	if s.MergedLines > 0 {
		fmt.Fprintf(&b, "; %s order lines merged into their orders", groupInt(s.MergedLines))
	}
	b.WriteString("\n")
	if s.Events > 0 {
		fmt.Fprintf(&b, "  time range: %s .. %s\n", s.MinTime.Format(time.RFC3339), s.MaxTime.Format(time.RFC3339))
	}
	if len(s.EventTypes) > 0 {
		type tc struct {
			name string
			n    int64
		}
		types := make([]tc, 0, len(s.EventTypes))
		for k, v := range s.EventTypes {
			types = append(types, tc{k, v})
		}
		slices.SortFunc(types, func(a, b tc) int {
			if c := cmp.Compare(b.n, a.n); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
		fmt.Fprintf(&b, "  event types (%d):", len(types))
		const show = 12
		for i, t := range types[:min(len(types), show)] {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %s", t.name, groupInt(t.n))
		}
		if len(types) > show {
			fmt.Fprintf(&b, ", and %d more", len(types)-show)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  revenue: %s; refunds: %s (%s)\n", money(s.Revenue), groupInt(s.Refunds), money(s.RefundTotal))
	if !s.AsOf.IsZero() {
		fmt.Fprintf(&b, "  at or after the as-of time %s: %s events (labels only, not features)\n", s.AsOf.UTC().Format(time.RFC3339), groupInt(s.AfterAsOf))
	}
	if s.DuplicatesDropped > 0 || s.DuplicatesKept > 0 {
		fmt.Fprintf(&b, "  exact duplicate rows: %s dropped (timestamp with a time of day), %s kept (date-only timestamp)\n",
			groupInt(s.DuplicatesDropped), groupInt(s.DuplicatesKept))
	}
	fmt.Fprintf(&b, "  bad rows: %s (%s of rows; allowed: %s)\n", groupInt(s.Bad), percent(s.Bad, s.Rows), limitText(s.MaxBadRows))
	for _, rc := range sortedReasons(s.BadByReason) {
		fmt.Fprintf(&b, "    %v: %s\n", rc.reason, groupInt(rc.n))
	}
	if len(s.Examples) > 0 {
		b.WriteString("  first bad rows:\n")
		for _, ex := range s.Examples {
			fmt.Fprintf(&b, "    %v\n", ex)
		}
	}
	for _, src := range s.Sources {
		if src.NoAmount != "" {
			fmt.Fprintf(&b, "note: %q has no %q column: its amounts are 0\n", src.Name, src.NoAmount)
		}
	}
	if s.FloatUserIDs > 0 {
		if s.TrimFloat {
			fmt.Fprintf(&b, "note: %s user ids looked like floats (e.g. %q) and lost their .0 tail\n", groupInt(s.FloatUserIDs), s.FloatUserExample)
		} else {
			fmt.Fprintf(&b, "warning: %s rows (%s) have user ids that look like floats (e.g. %q); they differ from the same ids without .0 unless --user-trim-float is given\n",
				groupInt(s.FloatUserIDs), percent(s.FloatUserIDs, s.Events+s.MergedLines), s.FloatUserExample)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// percent formats n/of as a percentage with two decimals.
func percent(n, of int64) string {
	if of == 0 {
		return "0.00%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 2, 64) + "%"
}

// groupInt formats n with thousands separators: 1234567 -> "1,234,567".
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// money formats a sum with two decimals and thousands separators.
func money(x float64) string {
	s := strconv.FormatFloat(math.Abs(x), 'f', 2, 64)
	ip, fp, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ip, 10, 64)
	if err != nil { // beyond int64: no separators
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	out := groupInt(n) + "." + fp
	if x < 0 {
		out = "-" + out
	}
	return out
}

// fingerprint is a 64-bit hash of a normalized row. It mixes 16 bytes at a
// time with a 64×64→128-bit multiply (the wyhash construction) and ends
// with the murmur3 finalizer. It is deterministic across runs; it is not
// meant to resist inputs crafted to collide.
type fingerprint struct{ h uint64 }

const (
	fpK0 = 0xa0761d6478bd642f
	fpK1 = 0xe7037ed1a0b428db
	fpK2 = 0x8ebc6af09c88c6e3
)

func fpMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (f *fingerprint) init() { f.h = fpK2 }

// word mixes one 64-bit value.
func (f *fingerprint) word(x uint64) { f.h = fpMix(x^fpK0, f.h^fpK1) }

// bytes mixes the length and then the bytes of b, so ("ab","c") and
// ("a","bc") differ.
func (f *fingerprint) bytes(b []byte) {
	h := fpMix(uint64(len(b))^fpK0, f.h^fpK1)
	for len(b) >= 16 {
		h = fpMix(binary.LittleEndian.Uint64(b)^fpK1, binary.LittleEndian.Uint64(b[8:])^h)
		b = b[16:]
	}
	if len(b) > 0 {
		var tail [16]byte
		copy(tail[:], b)
		h = fpMix(binary.LittleEndian.Uint64(tail[:])^fpK1, binary.LittleEndian.Uint64(tail[8:])^h^fpK2)
	}
	f.h = h
}

func (f *fingerprint) str(s string) {
	f.bytes([]byte(s))
}

// sum returns the finalized hash.
func (f *fingerprint) sum() uint64 {
	h := f.h
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// dupSet holds the fingerprints of the rows read so far, one fpSet per UTC
// day of the row's timestamp. An exact duplicate has the same instant, so
// it is always looked up in the same day's set. Splitting by day keeps the
// lookups of an export sorted by time in one small table that stays in the
// CPU cache, where a single table as large as the input would cost a cache
// miss a row. Memory is about the same: 8 to 16 bytes a row, plus about 100
// bytes a day with rows.
type dupSet struct {
	days    map[int64]*fpSet
	lastDay int64
	last    *fpSet // the set of lastDay; nil before the first insert
}

// insert adds the fingerprint h of a row dated day (unix days) and reports
// whether it was new.
func (d *dupSet) insert(day int64, h uint64) bool {
	if d.last == nil || day != d.lastDay {
		s := d.days[day]
		if s == nil {
			if d.days == nil {
				d.days = make(map[int64]*fpSet)
			}
			s = &fpSet{}
			if d.last != nil {
				// Days of one export are alike: size the new day's table
				// for as many rows as the last day had, instead of growing
				// it from scratch. (By count, not table size, so that one
				// heavy day does not make every later day's table big.)
				s.reserve(d.last.n)
			}
			d.days[day] = s
		}
		d.last, d.lastDay = s, day
	}
	return d.last.insert(h)
}

// len returns the number of fingerprints held.
func (d *dupSet) len() int {
	n := 0
	for _, s := range d.days {
		n += s.n
	}
	return n
}

// fpSet is a set of 64-bit fingerprints: open addressing with linear
// probing in a power-of-two table kept at most 3/4 full (8 to 16 bytes a
// fingerprint). 0 marks an empty slot, so the fingerprint 0 is stored as 1.
type fpSet struct {
	slots []uint64
	n     int
}

// insert adds h and reports whether it was new.
func (s *fpSet) insert(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

// reserve sizes an empty set for n fingerprints.
func (s *fpSet) reserve(n int) {
	size := 16
	for 4*n > 3*size {
		size *= 2
	}
	s.slots = make([]uint64, size)
}

func (s *fpSet) grow() {
	old := s.slots
	size := 2 * len(old)
	if size == 0 {
		size = 16 // one day's set: small, since a day may have a single row
	}
	s.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}
