package features

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// ErrInvalidConfig means a BuilderConfig is unusable; the wrapping error
// says which field.
var ErrInvalidConfig = errors.New("invalid builder config")

// BuilderConfig says how a Builder (or Log.Build) makes one snapshot.
type BuilderConfig struct {
	// Cutoff is T, the as-of time: only events before T feed the vectors.
	// Required.
	Cutoff time.Time
	// Horizon is H: events in [T, T+H) set the churn and propensity labels.
	// Zero means no labels.
	Horizon time.Duration
	// DataEnd is the time up to which the input is complete; labels are
	// defined (Dataset.Labelled) when DataEnd >= T+H. Zero means the latest
	// event time seen.
	DataEnd time.Time
	// Spec is the feature spec. Nil means DefaultSpec with Learn set.
	Spec *Spec
	// Learn makes Build replace Spec's vocabulary with the VocabularySize
	// most frequent event types before the cutoff and drop the intent
	// family names not seen before the cutoff (families left empty have no
	// features). False uses Spec as is. Ignored (true) when Spec is nil.
	Learn bool
	// Workers is the number of goroutines Log.Build uses; zero or less
	// means 1. The output does not depend on it. Builder ignores it.
	Workers int
	// KeepStates makes Build also return, in Dataset.States, the State of
	// every eligible user as of the cutoff (an independent copy, as
	// Builder.State gives), to seed serving from a batch run.
	KeepStates bool
}

// Counts summarises what a Builder saw.
type Counts struct {
	// Events is the number of events accepted by Add.
	Events int64
	// Rejected is the number of events Add refused (time or amount out of
	// range, too many event types).
	Rejected int64
	// BeforeCutoff counts events at t < T: the only ones in vectors.
	BeforeCutoff int64
	// AfterCutoff counts events at t >= T, used for labels only.
	AfterCutoff int64
	// InHorizon counts events in [T, T+H) (zero without a horizon).
	InHorizon int64
	// Users is the number of distinct user ids accepted.
	Users int
	// UsersBeforeCutoff is the number of users with an event before T.
	UsersBeforeCutoff int
	// Eligible is the number of eligible users, len(Dataset.Vectors).
	Eligible int
	// MinTime and MaxTime bound the accepted event times; zero when none.
	MinTime, MaxTime time.Time
}

// Dataset is one snapshot: a vector per eligible user at the cutoff and,
// with a horizon, their labels.
type Dataset struct {
	// Spec is the Spec the vectors follow (learned when the config asked).
	Spec *Spec
	// Cutoff and Horizon are copied from the config.
	Cutoff  time.Time
	Horizon time.Duration
	// Vectors holds one vector per eligible user, sorted by user id.
	Vectors []Vector
	// Churn and Propensity are parallel to Vectors when Horizon > 0 and
	// nil otherwise: Churn[i] is true when user i had no activity event in
	// [T, T+H), Propensity[i] when they had a target event there.
	Churn, Propensity []bool
	// Labelled is true when the labels are defined: Horizon > 0 and the
	// data reaches T+H (see BuilderConfig.DataEnd).
	Labelled bool
	// States is parallel to Vectors when the config set KeepStates, and
	// nil otherwise: States[i] is user i's State as of the cutoff.
	States []*State
	// Counts describes the input.
	Counts Counts
}

// Names returns the feature names of the vectors.
func (d *Dataset) Names() []string { return d.Spec.Names() }

// Builder builds one point-in-time snapshot from events that arrive in any
// order. It keeps a State per user for the events before the cutoff and two
// label bits per user for the events in [T, T+H), so its memory grows with
// the number of users (and their active days within the longest window), not
// with the number of events. A Builder is not safe for concurrent use.
type Builder struct {
	cfg     BuilderConfig
	tmpl    *Spec // validated; the learned Spec is derived from it in Build
	learn   bool
	cls     *classes
	tab     *typeTable
	tn      int64 // cutoff, unix ns
	hend    int64 // T+H, unix ns; equals tn without a horizon
	foldDay int32 // D - retention: older events go straight into the totals

	users      map[string]uint32
	lastUser   uint32 // index of the user of the previous Add
	ids        []string
	states     []State
	labels     []uint8
	typeCounts []uint64 // events before the cutoff by type id

	// AddIndexed's hints: the user (index+1, 0 unknown) and type (id+1)
	// of each caller index.
	userHint []uint32
	typeHint []uint32

	counts           Counts
	minTime, maxTime int64
}

// NewBuilder checks cfg and returns an empty Builder.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	if cfg.Cutoff.IsZero() {
		return nil, fmt.Errorf("features: builder: cutoff is required: %w", ErrInvalidConfig)
	}
	tn, err := timeNanos(cfg.Cutoff)
	if err != nil {
		return nil, fmt.Errorf("features: builder: cutoff %v: %w", cfg.Cutoff, err)
	}
	if cfg.Horizon < 0 {
		return nil, fmt.Errorf("features: builder: negative horizon %v: %w", cfg.Horizon, ErrInvalidConfig)
	}
	hend := tn + int64(cfg.Horizon)
	if hend < tn {
		return nil, fmt.Errorf("features: builder: horizon %v: %w", cfg.Horizon, ErrTimeRange)
	}
	learn := cfg.Learn || cfg.Spec == nil
	var tmpl *Spec
	if cfg.Spec == nil {
		tmpl = DefaultSpec()
	} else {
		tmpl = cfg.Spec.Clone()
		if learn {
			tmpl.Derive()
		}
	}
	if err := tmpl.Validate(); err != nil {
		return nil, fmt.Errorf("features: builder: %w", err)
	}
	cls := newClasses(tmpl)
	b := &Builder{
		cfg:     cfg,
		tmpl:    tmpl,
		learn:   learn,
		cls:     cls,
		tab:     newTypeTable(cls),
		tn:      tn,
		hend:    hend,
		foldDay: cutoffDay(tn) - cls.retention,
		users:   make(map[string]uint32),
	}
	return b, nil
}

// Add feeds one event. Events before the cutoff update the user's State,
// events in [T, T+H) set label bits, later ones are only counted. Add
// returns an error, and ignores the event, when its time or amount is out of
// range or there are too many event types; the caller may count and go on.
// Add keeps e.UserID and e.Name (not copies) for new users and types.
func (b *Builder) Add(e *Event) error {
	ns, err := timeNanos(e.Time)
	if err != nil {
		b.counts.Rejected++
		return fmt.Errorf("features: builder: user %q event %q at %v: %w", e.UserID, e.Name, e.Time, err)
	}
	m, err := amountMicros(e.Amount)
	if err != nil {
		b.counts.Rejected++
		return fmt.Errorf("features: builder: user %q event %q amount %v: %w", e.UserID, e.Name, e.Amount, err)
	}
	id, err := b.tab.intern(e.Name)
	if err != nil {
		b.counts.Rejected++
		return fmt.Errorf("features: builder: event %q: %w", e.Name, err)
	}
	if int(id) == len(b.typeCounts) {
		b.typeCounts = append(b.typeCounts, 0)
	}
	// Exports sorted by time come in sessions: the same user several times
	// in a row. Comparing with the last id is cheaper than hashing.
	u := b.lastUser
	if len(b.ids) == 0 || e.UserID != b.ids[u] {
		var ok bool
		if u, ok = b.users[e.UserID]; !ok {
			u = b.newUser(e.UserID)
		}
		b.lastUser = u
	}
	b.add(u, id, ns, m)
	return nil
}

// AddIndexed is Add with hints: user and name are indexes of e.UserID and
// e.Name that the caller assigns consistently (equal strings, equal
// indexes; small and dense, such as Reader.EventIndex gives). A known index
// replaces the hash lookups of the user and the event type. A hint is
// checked against e, so an inconsistent or negative one only costs the
// lookups it was meant to save; the result is always that of Add.
func (b *Builder) AddIndexed(e *Event, user, name int) error {
	ns, err := timeNanos(e.Time)
	if err != nil {
		b.counts.Rejected++
		return fmt.Errorf("features: builder: user %q event %q at %v: %w", e.UserID, e.Name, e.Time, err)
	}
	m, err := amountMicros(e.Amount)
	if err != nil {
		b.counts.Rejected++
		return fmt.Errorf("features: builder: user %q event %q amount %v: %w", e.UserID, e.Name, e.Amount, err)
	}
	var id uint16
	if name >= 0 && name < len(b.typeHint) && b.typeHint[name] != 0 && b.tab.names[b.typeHint[name]-1] == e.Name {
		id = uint16(b.typeHint[name] - 1)
	} else {
		if id, err = b.tab.intern(e.Name); err != nil {
			b.counts.Rejected++
			return fmt.Errorf("features: builder: event %q: %w", e.Name, err)
		}
		if int(id) == len(b.typeCounts) {
			b.typeCounts = append(b.typeCounts, 0)
		}
		b.typeHint = setHint(b.typeHint, name, uint32(id)+1)
	}
	var u uint32
	if user >= 0 && user < len(b.userHint) && b.userHint[user] != 0 && b.ids[b.userHint[user]-1] == e.UserID {
		u = b.userHint[user] - 1
	} else {
		var ok bool
		if u, ok = b.users[e.UserID]; !ok {
			u = b.newUser(e.UserID)
		}
		b.userHint = setHint(b.userHint, user, u+1)
	}
	b.add(u, id, ns, m)
	return nil
}

// setHint records hint v for index i, growing h by at most 4,096 entries
// beyond its length, so a large index cannot allocate much.
func setHint(h []uint32, i int, v uint32) []uint32 {
	if i < 0 || i >= len(h)+4096 {
		return h
	}
	if i >= len(h) {
		h = append(h, make([]uint32, i+1-len(h))...)
	}
	h[i] = v
	return h
}

// newUser registers a user id and returns its index.
func (b *Builder) newUser(id string) uint32 {
	u := uint32(len(b.ids))
	b.users[id] = u
	b.ids = append(b.ids, id)
	b.states = append(b.states, State{})
	b.states[u].reset(b.tab, b.foldDay)
	b.labels = append(b.labels, 0)
	return u
}

// add is the hot path for a known user and type.
func (b *Builder) add(u uint32, id uint16, ns, m int64) {
	if b.counts.Events == 0 || ns < b.minTime {
		b.minTime = ns
	}
	if b.counts.Events == 0 || ns > b.maxTime {
		b.maxTime = ns
	}
	b.counts.Events++
	if ns < b.tn {
		b.counts.BeforeCutoff++
		b.typeCounts[id]++
		b.states[u].add(id, b.tab.flags[id], ns, m)
		return
	}
	b.counts.AfterCutoff++
	if ns < b.hend {
		b.counts.InHorizon++
		b.labels[u] |= labelEvent(b.tab.flags[id], m)
	}
}

// Build computes the snapshot: the Spec (learned if asked), a vector for each
// eligible user sorted by user id, and the labels. Build does not change the
// Builder; more events may be added and Build called again.
func (b *Builder) Build() (*Dataset, error) {
	spec := b.spec(b.typeCounts, b.tab.names)
	f, err := NewFeaturizer(spec)
	if err != nil {
		return nil, fmt.Errorf("features: build: %w", err)
	}
	part := b.emit(f)
	return b.dataset(f, []shardOut{part}, b.counts, b.minTime, b.maxTime), nil
}

// spec returns the Spec for the snapshot: the template, or the template with
// the vocabulary and intent families learned from the per-type counts of
// events before the cutoff.
func (b *Builder) spec(counts []uint64, names []string) *Spec {
	s := b.tmpl.Clone()
	if !b.learn {
		return s
	}
	type tc struct {
		name string
		n    uint64
	}
	var seen []tc
	for id, n := range counts {
		if n > 0 {
			seen = append(seen, tc{names[id], n})
		}
	}
	// Most frequent first; ties by name, so the result is deterministic.
	slices.SortFunc(seen, func(a, b tc) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	s.Vocabulary = s.Vocabulary[:0]
	for _, t := range seen {
		if len(s.Vocabulary) == s.VocabularySize {
			break
		}
		if t.name != OtherType {
			s.Vocabulary = append(s.Vocabulary, t.name)
		}
	}
	present := make(map[string]bool, len(seen))
	for _, t := range seen {
		present[t.name] = true
	}
	keep := func(l []string) []string {
		return slices.DeleteFunc(l, func(n string) bool { return !present[n] })
	}
	s.CartEvents = keep(s.CartEvents)
	s.PricingEvents = keep(s.PricingEvents)
	s.CancelEvents = keep(s.CancelEvents)
	s.SupportEvents = keep(s.SupportEvents)
	s.Derive()
	return s
}

// shardOut is what one Builder (or one shard of a Log build) contributes.
type shardOut struct {
	vectors     []Vector
	labels      []uint8  // parallel to vectors
	states      []*State // parallel to vectors with KeepStates, else nil
	usersBefore int
	users       int
}

// emit computes the vectors of b's eligible users, in b's user order.
func (b *Builder) emit(f *Featurizer) shardOut {
	lut := f.lut(b.tab, nil)
	d := cutoffDay(b.tn)
	var out shardOut
	var elig []uint32
	for u := range b.states {
		st := &b.states[u]
		if st.has&hasAny != 0 {
			out.usersBefore++
		}
		if f.eligible(st, d) {
			elig = append(elig, uint32(u))
		}
	}
	out.users = len(b.states)
	backing := make([]float64, len(elig)*f.dim)
	out.vectors = make([]Vector, len(elig))
	out.labels = make([]uint8, len(elig))
	if b.cfg.KeepStates {
		out.states = make([]*State, len(elig))
	}
	for i, u := range elig {
		row := backing[i*f.dim : i*f.dim : (i+1)*f.dim]
		out.vectors[i] = Vector{UserID: b.ids[u], Values: f.vector(row, &b.states[u], b.tn, lut)}
		out.labels[i] = b.labels[u]
		if out.states != nil {
			out.states[i] = b.stateCopy(u)
		}
	}
	return out
}

// dataset merges shard outputs into a Dataset sorted by user id.
func (b *Builder) dataset(f *Featurizer, parts []shardOut, c Counts, minT, maxT int64) *Dataset {
	n := 0
	for _, p := range parts {
		n += len(p.vectors)
	}
	type row struct {
		v Vector
		l uint8
		s *State
	}
	rows := make([]row, 0, n)
	c.Users, c.UsersBeforeCutoff = 0, 0
	for _, p := range parts {
		for i := range p.vectors {
			r := row{v: p.vectors[i], l: p.labels[i]}
			if p.states != nil {
				r.s = p.states[i]
			}
			rows = append(rows, r)
		}
		c.Users += p.users
		c.UsersBeforeCutoff += p.usersBefore
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.v.UserID, b.v.UserID) })
	c.Eligible = n
	if c.Events > 0 {
		c.MinTime = time.Unix(0, minT).UTC()
		c.MaxTime = time.Unix(0, maxT).UTC()
	}
	ds := &Dataset{
		Spec:    f.Spec(),
		Cutoff:  b.cfg.Cutoff,
		Horizon: b.cfg.Horizon,
		Vectors: make([]Vector, n),
		Counts:  c,
	}
	for i := range rows {
		ds.Vectors[i] = rows[i].v
	}
	if b.cfg.KeepStates {
		ds.States = make([]*State, n)
		for i := range rows {
			ds.States[i] = rows[i].s
		}
	}
	if b.cfg.Horizon > 0 {
		ds.Churn = make([]bool, n)
		ds.Propensity = make([]bool, n)
		for i := range rows {
			ds.Churn[i] = churned(rows[i].l)
			ds.Propensity[i] = converted(rows[i].l)
		}
		end := b.cfg.DataEnd
		if end.IsZero() {
			end = c.MaxTime
		}
		ds.Labelled = covered(end, b.cfg.Cutoff, b.cfg.Horizon)
	}
	return ds
}

// Users returns the number of distinct users added so far.
func (b *Builder) Users() int { return len(b.ids) }

// Counts returns the counts so far (Eligible is filled in by Build).
func (b *Builder) Counts() Counts {
	c := b.counts
	c.Users = len(b.ids)
	for u := range b.states {
		if b.states[u].has&hasAny != 0 {
			c.UsersBeforeCutoff++
		}
	}
	if c.Events > 0 {
		c.MinTime = time.Unix(0, b.minTime).UTC()
		c.MaxTime = time.Unix(0, b.maxTime).UTC()
	}
	return c
}

// State returns a copy of the State of user id, bound to the Builder's Spec
// with its own type table, and false when the user is unknown. Useful to
// seed serving from a batch run.
func (b *Builder) State(id string) (*State, bool) {
	u, ok := b.users[id]
	if !ok {
		return nil, false
	}
	return b.stateCopy(u), true
}

// stateCopy is State for user index u.
func (b *Builder) stateCopy(u uint32) *State {
	src := &b.states[u]
	st := &State{}
	*st = *src
	st.tab = newTypeTable(b.cls)
	st.cells = make([]cell, len(src.cells))
	for i, c := range src.cells {
		id, _ := st.tab.intern(b.tab.names[c.typ]) // at most as many types as b
		c.typ = id
		st.cells[i] = c
	}
	// Private ids are in order of first use by cell, so re-sort.
	slices.SortFunc(st.cells, func(x, y cell) int {
		if x.less(y.day, y.typ) {
			return -1
		}
		if y.less(x.day, x.typ) {
			return 1
		}
		return 0
	})
	return st
}

// WriteCSV writes ds as CSV: a header `user_id,<feature names...>` followed
// by `churn,propensity` when ds has labels that are defined (Horizon > 0 and
// Labelled), then one row per vector. Floats are formatted with
// strconv.FormatFloat(v, 'g', -1, 64), the shortest text that reads back to
// the same float64, so the output is deterministic; labels are 0 or 1.
func WriteCSV(w io.Writer, ds *Dataset) error {
	cw := csv.NewWriter(w)
	labels := ds.Horizon > 0 && ds.Labelled
	names := ds.Spec.Names()
	rec := make([]string, 0, len(names)+3)
	rec = append(rec, "user_id")
	rec = append(rec, names...)
	if labels {
		rec = append(rec, "churn", "propensity")
	}
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("features: write csv header: %w", err)
	}
	var buf []byte
	for i, v := range ds.Vectors {
		if len(v.Values) != len(names) {
			return fmt.Errorf("features: write csv: user %q has %d values for %d features: %w",
				v.UserID, len(v.Values), len(names), ErrInvalidSpec)
		}
		rec = append(rec[:0], v.UserID)
		// One buffer per row; the strings alias it until the row is written.
		buf = buf[:0]
		var ends [1024]int
		offs := ends[:0]
		for _, x := range v.Values {
			buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
			offs = append(offs, len(buf))
		}
		s := string(buf)
		prev := 0
		for _, e := range offs {
			rec = append(rec, s[prev:e])
			prev = e
		}
		if labels {
			rec = append(rec, boolDigit(ds.Churn[i]), boolDigit(ds.Propensity[i]))
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("features: write csv row %d: %w", i+1, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("features: write csv: %w", err)
	}
	return nil
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
