package features

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// pitEventMix is the realistic mix of event types used by the property tests
// and benchmarks: name and relative weight.
var pitEventMix = []struct {
	name   string
	weight int
}{
	{"page_view", 40}, {"login", 15}, {"search", 10}, {"add_to_cart", 8}, {"purchase", 5},
	{"view_pricing", 4}, {"email_open", 6}, {"support_ticket", 2}, {"refund", 1}, {"order", 2},
	{"cancel_page", 1}, {"rare_a", 1}, {"rare_b", 1}, {"other", 1},
}

// pitEventGen draws events deterministically from a seeded source.
type pitEventGen struct {
	r     *rand.Rand
	users []string
	cum   []int
	names []string
}

func newPitEventGen(seed uint64, users int) *pitEventGen {
	g := &pitEventGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range users {
		g.users = append(g.users, fmt.Sprintf("user%06d", i))
	}
	total := 0
	for _, m := range pitEventMix {
		total += m.weight
		g.cum = append(g.cum, total)
		g.names = append(g.names, m.name)
	}
	return g
}

// event draws one event with a time uniform in [from, to) (whole seconds or
// with nanoseconds), a type from pitEventMix and an amount for purchases and
// refunds.
func (g *pitEventGen) event(from, to time.Time) Event {
	x := g.r.IntN(g.cum[len(g.cum)-1])
	k, _ := slices.BinarySearch(g.cum, x+1)
	name := g.names[k]
	span := to.Sub(from)
	t := from.Add(time.Duration(g.r.Int64N(int64(span))))
	if g.r.IntN(2) == 0 {
		t = t.Truncate(time.Second)
	}
	var amt float64
	switch name {
	case "purchase", "order":
		amt = math.Round(g.r.ExpFloat64()*4000) / 100
		if g.r.IntN(20) == 0 {
			amt = -amt // a return
		}
	case "refund":
		amt = -math.Round(g.r.ExpFloat64()*2000) / 100
	}
	return Event{UserID: g.users[g.r.IntN(len(g.users))], Name: name, Time: t, Amount: amt}
}

func (g *pitEventGen) events(n int, from, to time.Time) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = g.event(from, to)
	}
	return evs
}

func buildSnapshot(t testing.TB, cfg BuilderConfig, evs []Event) *Dataset {
	t.Helper()
	b, err := NewBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := b.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// equalVectors reports the first difference between two vector lists; it
// compares float64 bits, so -0 and 0 or two NaNs are told apart.
func equalVectors(a, b []Vector) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d vectors, want %d", len(a), len(b))
	}
	for i := range a {
		if a[i].UserID != b[i].UserID {
			return fmt.Errorf("vector %d: user %q, want %q", i, a[i].UserID, b[i].UserID)
		}
		if len(a[i].Values) != len(b[i].Values) {
			return fmt.Errorf("user %q: %d values, want %d", a[i].UserID, len(a[i].Values), len(b[i].Values))
		}
		for j := range a[i].Values {
			if math.Float64bits(a[i].Values[j]) != math.Float64bits(b[i].Values[j]) {
				return fmt.Errorf("user %q value %d: %v, want %v", a[i].UserID, j, a[i].Values[j], b[i].Values[j])
			}
		}
	}
	return nil
}

// TestLeakage is the point-in-time property: adding any events at or after
// the cutoff (new types, new users, huge amounts, exactly at T) never changes
// a vector or the learned Spec, only labels and counts.
func TestLeakage(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			g := newPitEventGen(seed, 60)
			cutoff := tcut.Add(time.Duration(seed) * 7 * time.Hour) // midnight and mid-day cutoffs
			past := g.events(3000, cutoff.AddDate(-2, 0, 0), cutoff)
			cfg := BuilderConfig{Cutoff: cutoff, Horizon: 30 * 24 * time.Hour}
			ds1 := buildSnapshot(t, cfg, past)

			future := g.events(2000, cutoff, cutoff.AddDate(1, 0, 0))
			for i := range 50 {
				future = append(future,
					tev(g.users[i], "brand_new_type", cutoff, 1e9),
					tev(fmt.Sprint("newcomer", i), "purchase", cutoff.Add(time.Duration(i)), 5))
			}
			all := append(slices.Clone(past), future...)
			g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			ds2 := buildSnapshot(t, cfg, all)

			if err := equalVectors(ds2.Vectors, ds1.Vectors); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ds2.Spec.Names(), ds1.Spec.Names()) {
				t.Fatalf("spec changed:\n%v\n%v", ds2.Spec.Names(), ds1.Spec.Names())
			}
			if slices.Equal(ds1.Churn, ds2.Churn) {
				t.Error("future events changed no churn label; the test data is too weak")
			}
		})
	}
}

// TestBatchMatchesStateReplay: per user, a State built incrementally (half
// the events, marshal, unmarshal, an early prune, the other half in reverse,
// marshal, unmarshal, prune at T) gives the same float64 bits as the batch
// Builder, for a learned Spec.
func TestBatchMatchesStateReplay(t *testing.T) {
	g := newPitEventGen(42, 80)
	cutoff := time.Date(2023, 11, 15, 17, 30, 0, 0, time.UTC)
	evs := g.events(6000, cutoff.AddDate(-3, 0, 0), cutoff)
	ds := buildSnapshot(t, BuilderConfig{Cutoff: cutoff}, evs)
	if len(ds.Vectors) < 40 {
		t.Fatalf("only %d eligible users", len(ds.Vectors))
	}
	f, err := NewFeaturizer(ds.Spec)
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[string][]Event{}
	for _, e := range evs {
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	roundTrip := func(st *State) *State {
		b, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		st2 := f.NewState()
		if err := st2.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		return st2
	}
	for _, v := range ds.Vectors {
		ue := byUser[v.UserID]
		st := f.NewState()
		half := len(ue) / 2
		for i := range ue[:half] {
			if err := st.Add(&ue[i]); err != nil {
				t.Fatal(err)
			}
		}
		st = roundTrip(st)
		if err := st.Prune(cutoff.AddDate(0, -6, 0)); err != nil {
			t.Fatal(err)
		}
		for i := len(ue) - 1; i >= half; i-- {
			if err := st.Add(&ue[i]); err != nil {
				t.Fatal(err)
			}
		}
		st = roundTrip(st)
		if err := st.Prune(cutoff); err != nil {
			t.Fatal(err)
		}
		got, err := f.Vector(roundTrip(st), cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if err := equalVectors([]Vector{{v.UserID, got}}, []Vector{v}); err != nil {
			t.Fatal(err)
		}
		// A copy taken from the Builder agrees too.
		bst, _ := builderState(t, ds.Spec, ue, cutoff)
		if bst != nil {
			got2, err := f.Vector(bst, cutoff)
			if err != nil || !slices.Equal(got2, got) {
				t.Fatalf("builder state copy: %v %v", err, got2)
			}
		}
	}
}

// builderState feeds one user's events to a Builder with spec and returns
// that user's State via Builder.State.
func builderState(t *testing.T, spec *Spec, evs []Event, cutoff time.Time) (*State, bool) {
	t.Helper()
	b, err := NewBuilder(BuilderConfig{Cutoff: cutoff, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := b.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return b.State(evs[0].UserID)
}

func TestStateErrors(t *testing.T) {
	f, err := NewFeaturizer(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	st := f.NewState()
	e := tev("u", "login", tcut, 0)
	if err := st.Add(&e); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrAfterCutoff", func(t *testing.T) {
		if _, err := f.Vector(st, tcut); !errors.Is(err, ErrAfterCutoff) {
			t.Errorf("Vector at the event time = %v, want ErrAfterCutoff", err)
		}
		if _, err := f.Vector(st, tcut.Add(time.Nanosecond)); err != nil {
			t.Errorf("Vector 1ns later = %v", err)
		}
	})
	t.Run("ErrPruned", func(t *testing.T) {
		p := f.NewState()
		if err := p.Prune(tcut.AddDate(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Vector(p, tcut); !errors.Is(err, ErrPruned) {
			t.Errorf("Vector before the prune day = %v, want ErrPruned", err)
		}
		if _, err := f.Vector(p, tcut.AddDate(0, 0, 1)); err != nil {
			t.Errorf("Vector at the prune time = %v", err)
		}
	})
	t.Run("ErrSpecMismatch", func(t *testing.T) {
		other := smallSpec()
		other.PurchaseEvents = []string{"buy"}
		other.Derive()
		f2, err := NewFeaturizer(other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f2.Vector(st, tcut.AddDate(0, 0, 1)); !errors.Is(err, ErrSpecMismatch) {
			t.Errorf("Vector with another spec = %v, want ErrSpecMismatch", err)
		}
		b, _ := st.MarshalBinary()
		if err := f2.NewState().UnmarshalBinary(b); !errors.Is(err, ErrSpecMismatch) {
			t.Errorf("UnmarshalBinary with another spec = %v, want ErrSpecMismatch", err)
		}
		// Vocabulary and intent lists do not matter to a State.
		voc := smallSpec()
		voc.Vocabulary = []string{"x"}
		voc.CartEvents = nil
		voc.Derive()
		if _, err := voc.Vector(st, tcut.AddDate(0, 0, 1)); err != nil {
			t.Errorf("Vector with another vocabulary = %v", err)
		}
	})
	t.Run("ErrUnboundState", func(t *testing.T) {
		var z State
		if err := z.Add(&e); !errors.Is(err, ErrUnboundState) {
			t.Errorf("Add = %v", err)
		}
		if err := z.Prune(tcut); !errors.Is(err, ErrUnboundState) {
			t.Errorf("Prune = %v", err)
		}
		// A zero State decodes and vectorises.
		b, _ := st.MarshalBinary()
		if err := z.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		v1, err1 := f.Vector(&z, tcut.AddDate(0, 0, 1))
		v2, err2 := f.Vector(st, tcut.AddDate(0, 0, 1))
		if err1 != nil || err2 != nil || !slices.Equal(v1, v2) {
			t.Errorf("decoded zero state: %v %v", err1, err2)
		}
	})
	t.Run("ErrCorruptState", func(t *testing.T) {
		b, _ := st.MarshalBinary()
		for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(slices.Clone(b), 0)} {
			if err := f.NewState().UnmarshalBinary(bad); !errors.Is(err, ErrCorruptState) {
				t.Errorf("UnmarshalBinary(%x) = %v, want ErrCorruptState", bad, err)
			}
		}
	})
}

// TestStateBounded: after Prune, a State holds at most retention × types
// cells however long the history, and its encoding stays small.
func TestStateBounded(t *testing.T) {
	f, err := NewFeaturizer(DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	st := f.NewState()
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range 3650 { // ten years, daily, two types
		for _, n := range []string{"login", "purchase"} {
			e := tev("u", n, start.AddDate(0, 0, d).Add(10*time.Hour), 3)
			if err := st.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		if d%100 == 0 {
			if err := st.Prune(start.AddDate(0, 0, d+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := start.AddDate(0, 0, 3650)
	if err := st.Prune(end); err != nil {
		t.Fatal(err)
	}
	// Retention is 365 days (the longest window): 365 days × 2 types.
	if st.Cells() != 730 {
		t.Errorf("cells = %d, want 730", st.Cells())
	}
	v, err := f.Vector(st, end)
	if err != nil {
		t.Fatal(err)
	}
	names := f.Names()
	get := func(n string) float64 { return v[slices.Index(names, n)] }
	// 3650 days × 2 events; 3650 orders of 3.
	if get("events_total") != 7300 || get("orders_total") != 3650 || get("revenue_total") != 10950 || get("events_365d") != 730 {
		t.Errorf("totals %v %v %v %v", get("events_total"), get("orders_total"), get("revenue_total"), get("events_365d"))
	}
	b, _ := st.MarshalBinary()
	// Per cell: day delta, type, count, refunds count and refund amount take
	// one varint byte each, revenue 3e6 millionths four (22 bits): 9 bytes;
	// the header with times and histograms is under 200 bytes.
	if len(b) > 730*9+200 {
		t.Errorf("encoding %d bytes for 730 cells", len(b))
	}
}

func FuzzStateUnmarshal(f *testing.F) {
	fz, err := NewFeaturizer(smallSpec())
	if err != nil {
		f.Fatal(err)
	}
	g := newPitEventGen(7, 1)
	for _, n := range []int{0, 1, 5, 40} {
		st := fz.NewState()
		for _, e := range g.events(n, tcut.AddDate(0, -3, 0), tcut) {
			if err := st.Add(&e); err != nil {
				f.Fatal(err)
			}
		}
		b, _ := st.MarshalBinary()
		f.Add(b)
	}
	for _, h := range []string{stateV1Recent, stateV1Folded} {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	// reused decodes every input after a seed State, as a server keeping
	// one State per goroutine does: it must end the same as a fresh State.
	reused, seedState := fz.NewState(), fz.NewState()
	for _, e := range g.events(30, tcut.AddDate(0, -2, 0), tcut) {
		if err := seedState.Add(&e); err != nil {
			f.Fatal(err)
		}
	}
	seed, err := seedState.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := reused.UnmarshalBinary(seed); err != nil {
			t.Fatal(err)
		}
		errReused := reused.UnmarshalBinary(data)
		fresh := fz.NewState()
		errFresh := fresh.UnmarshalBinary(data)
		if (errReused == nil) != (errFresh == nil) {
			t.Fatalf("reused State: %v, fresh State: %v", errReused, errFresh)
		}
		b1, _ := reused.MarshalBinary()
		b2, _ := fresh.MarshalBinary()
		if !slices.Equal(b1, b2) {
			t.Fatalf("reused State encodes %x, fresh State %x", b1, b2)
		}
		for _, st := range []*State{fz.NewState(), {}} {
			if err := st.UnmarshalBinary(data); err != nil {
				if !errors.Is(err, ErrCorruptState) && !errors.Is(err, ErrSpecMismatch) && !errors.Is(err, ErrTooManyTypes) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			// Whatever decodes re-encodes to a State that decodes the same.
			b, err := st.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			st2 := &State{}
			if err := st2.UnmarshalBinary(b); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			cut := tcut
			if last, ok := st.LastTime(); ok {
				cut = last.Add(time.Nanosecond)
			}
			v1, err1 := fz.Vector(st, cut)
			v2, err2 := fz.Vector(st2, cut)
			if (err1 == nil) != (err2 == nil) || (err1 == nil && !slices.Equal(nanToNum(v1), nanToNum(v2))) {
				t.Fatalf("vectors differ after re-encoding: %v %v", err1, err2)
			}
			p1, err1 := fz.PurchaseSummary(st, cut)
			p2, err2 := fz.PurchaseSummary(st2, cut)
			if (err1 == nil) != (err2 == nil) || p1 != p2 {
				t.Fatalf("purchase summaries differ after re-encoding: %+v %v, %+v %v", p1, err1, p2, err2)
			}
			// A decoded bound State accepts new events and prunes.
			if st.tab.cls != nil {
				e := tev("u", "login", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
				if err := st.Add(&e); err != nil {
					t.Fatal(err)
				}
				_ = st.Prune(cut)
				if _, err := st.MarshalBinary(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestStateUnmarshalReuse decodes many different States, and corrupt
// inputs between them, into one State: each decode must give what a fresh
// State gives (same encoding, vector and purchase summary), and decoding a
// State the same size again must not allocate.
func TestStateUnmarshalReuse(t *testing.T) {
	fz, err := NewFeaturizer(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	g := newPitEventGen(11, 1)
	var encs [][]byte
	for i := range 60 {
		st := fz.NewState()
		for _, e := range g.events(i%13*4, tcut.AddDate(0, -4, 0), tcut) {
			if err := st.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		b, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		encs = append(encs, b)
	}
	reused := fz.NewState()
	for i, b := range encs {
		if i%7 == 3 {
			// A truncated encoding fails and leaves the State empty.
			if err := reused.UnmarshalBinary(b[:len(b)/2]); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("state %d truncated: %v, want ErrCorruptState", i, err)
			}
			if got, _ := reused.MarshalBinary(); !slices.Equal(got, mustMarshal(t, fz.NewState())) {
				t.Fatalf("state %d: a failed decode left %x", i, got)
			}
		}
		if err := reused.UnmarshalBinary(b); err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		fresh := fz.NewState()
		if err := fresh.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got, want := mustMarshal(t, reused), mustMarshal(t, fresh); !slices.Equal(got, want) {
			t.Fatalf("state %d: reused encodes %x, fresh %x", i, got, want)
		}
		v1, err1 := fz.Vector(reused, tcut)
		v2, err2 := fz.Vector(fresh, tcut)
		if err1 != nil || err2 != nil || !slices.Equal(nanToNum(v1), nanToNum(v2)) {
			t.Fatalf("state %d: vectors differ: %v %v\n%v\n%v", i, err1, err2, v1, v2)
		}
		p1, err1 := fz.PurchaseSummary(reused, tcut)
		p2, err2 := fz.PurchaseSummary(fresh, tcut)
		if err1 != nil || err2 != nil || p1 != p2 {
			t.Fatalf("state %d: purchase summaries differ: %+v %v, %+v %v", i, p1, err1, p2, err2)
		}
		// A decoded State takes new events without touching the others.
		e := tev("u", "brand_new_type", tcut.Add(-time.Hour), 0)
		if err := reused.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	big := encs[len(encs)-2]
	if err := reused.UnmarshalBinary(big); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := reused.UnmarshalBinary(big); err != nil {
			t.Fatal(err)
		}
	}); n != 0 && !raceEnabled {
		t.Errorf("decoding into a used State: %v allocations, want 0", n)
	}
}

// nanToNum replaces NaN by a marker so slices.Equal can compare vectors
// decoded from arbitrary bytes.
func nanToNum(v []float64) []float64 {
	v = slices.Clone(v)
	for i, x := range v {
		if math.IsNaN(x) {
			v[i] = -1e300
		}
	}
	return v
}

func TestStateSize(t *testing.T) {
	// The hot fields share a cache line only if State stays 256 bytes.
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("layout is tuned for 64-bit platforms")
	}
	if n := unsafe.Sizeof(State{}); n != 256 {
		t.Errorf("State is %d bytes, want 256", n)
	}
	if n := unsafe.Sizeof(cell{}); n != 32 {
		t.Errorf("cell is %d bytes, want 32", n)
	}
}
