package features

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// dayNum is the UTC day number of a date.
func dayNum(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// TestPurchaseSummaryCases checks hand-computed summaries under smallSpec
// (purchase events purchase and order, target purchase, retention 60
// days): same-day orders are one transaction, returns and other events are
// no purchase, a zero amount is one, and pruned (folded) days still count.
func TestPurchaseSummaryCases(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	cases := []struct {
		name   string
		evs    []Event
		prune  []time.Time // Prune after adding every event, at each of these
		cutoff time.Time
		want   PurchaseSummary
	}{
		{"NoPurchase", []Event{tev("u", "login", at(2024, 2, 1, 9), 0), tev("u", "refund", at(2024, 2, 2, 9), -5)},
			nil, tcut, PurchaseSummary{}},
		{"ReturnOnlyIsNoPurchase", []Event{tev("u", "purchase", at(2024, 2, 1, 9), -30)}, nil, tcut, PurchaseSummary{}},
		{"OnePurchase", []Event{tev("u", "purchase", at(2024, 2, 1, 9), 30)}, nil, tcut,
			PurchaseSummary{Days: 1, First: dayNum(2024, 2, 1), Last: dayNum(2024, 2, 1)}},
		{"SameDayMerged", []Event{
			tev("u", "purchase", at(2024, 2, 1, 9), 30), tev("u", "order", at(2024, 2, 1, 20), 5),
			tev("u", "purchase", at(2024, 2, 10, 9), 12.5), tev("u", "order", at(2024, 2, 10, 23), 7.25),
			tev("u", "purchase", at(2024, 2, 10, 23), -4), // a return: no revenue, no extra day
			tev("u", "purchase", at(2024, 2, 20, 1), 0),   // a free order is a purchase day
			tev("u", "login", at(2024, 2, 25, 1), 0), tev("u", "refund", at(2024, 2, 26, 1), -9),
		}, nil, tcut, PurchaseSummary{Days: 3, First: dayNum(2024, 2, 1), Last: dayNum(2024, 2, 20), RepeatRevenue: 19.75}},
		{"BeforeCutoffOnly", []Event{tev("u", "purchase", at(2024, 2, 1, 9), 30), tev("u", "purchase", at(2024, 2, 28, 23), 8)},
			nil, at(2024, 2, 28, 12), PurchaseSummary{Days: 1, First: dayNum(2024, 2, 1), Last: dayNum(2024, 2, 1)}},
		{"FoldedDays", []Event{
			tev("u", "purchase", at(2023, 6, 1, 9), 10), tev("u", "order", at(2023, 6, 1, 10), 1),
			tev("u", "purchase", at(2023, 7, 1, 9), 20), tev("u", "purchase", at(2023, 7, 1, 11), 2),
			tev("u", "purchase", at(2024, 2, 1, 9), 40),
		}, []time.Time{at(2023, 8, 1, 0), tcut}, tcut,
			PurchaseSummary{Days: 3, First: dayNum(2023, 6, 1), Last: dayNum(2024, 2, 1), RepeatRevenue: 62}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFeaturizer(smallSpec())
			if err != nil {
				t.Fatal(err)
			}
			for _, order := range []string{"forward", "reverse"} {
				st := f.NewState()
				evs := slices.Clone(tc.evs)
				if order == "reverse" {
					slices.Reverse(evs)
				}
				for _, e := range evs {
					if !e.Time.Before(tc.cutoff) {
						continue
					}
					if err := st.Add(&e); err != nil {
						t.Fatal(err)
					}
				}
				for _, p := range tc.prune {
					if err := st.Prune(p); err != nil {
						t.Fatal(err)
					}
				}
				got, err := f.PurchaseSummary(stateRoundTrip(t, f, st), tc.cutoff)
				if err != nil || got != tc.want {
					t.Errorf("%s: got %+v, %v; want %+v", order, got, err, tc.want)
				}
			}
		})
	}
}

func stateRoundTrip(t testing.TB, f *Featurizer, st *State) *State {
	t.Helper()
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := f.NewState()
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPurchaseSummaryLateEvents: an event whose day was already folded goes
// straight into the folded purchase days. Before the first, on the first,
// on the last and after the last folded day it is exact; strictly inside
// the span a State cannot tell a new day from a counted one and counts a
// new day, never more than the span holds.
func TestPurchaseSummaryLateEvents(t *testing.T) {
	f, err := NewFeaturizer(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	d := func(day int) time.Time { return time.Date(2023, 1, day, 12, 0, 0, 0, time.UTC) }
	base := func() *State {
		st := f.NewState()
		for _, day := range []int{10, 13} {
			e := tev("u", "purchase", d(day), float64(day))
			if err := st.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Prune(tcut); err != nil { // folds everything in January 2023
			t.Fatal(err)
		}
		return st
	}
	cases := []struct {
		name string
		late []Event
		want PurchaseSummary
	}{
		{"None", nil, PurchaseSummary{2, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 13}},
		{"BeforeFirst", []Event{tev("u", "order", d(5), 5)}, PurchaseSummary{3, dayNum(2023, 1, 5), dayNum(2023, 1, 13), 23}},
		{"OnFirst", []Event{tev("u", "order", d(10), 1)}, PurchaseSummary{2, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 13}},
		{"OnLast", []Event{tev("u", "order", d(13), 1)}, PurchaseSummary{2, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 14}},
		{"AfterLast", []Event{tev("u", "order", d(20), 2)}, PurchaseSummary{3, dayNum(2023, 1, 10), dayNum(2023, 1, 20), 15}},
		{"ReturnIsNoDay", []Event{tev("u", "purchase", d(11), -3)}, PurchaseSummary{2, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 13}},
		{"InsideCountsNew", []Event{tev("u", "order", d(11), 1)}, PurchaseSummary{3, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 14}},
		// Days 10..13 hold at most 4 purchase days.
		{"InsideCapped", []Event{tev("u", "order", d(11), 1), tev("u", "order", d(11), 1), tev("u", "order", d(12), 1)},
			PurchaseSummary{4, dayNum(2023, 1, 10), dayNum(2023, 1, 13), 16}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := base()
			for _, e := range tc.late {
				if err := st.Add(&e); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.PurchaseSummary(stateRoundTrip(t, f, st), tcut)
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// purchaseEvents draws a history with many purchases, some on a day that
// already has one (so same-day merging matters), returns and refunds.
func purchaseEvents(seed uint64, users, n int, from, to time.Time) []Event {
	g := newPitEventGen(seed, users)
	evs := g.events(n, from, to)
	r := rand.New(rand.NewPCG(seed, 99))
	for i := range n {
		e := evs[i]
		if (e.Name == "purchase" || e.Name == "order") && r.IntN(3) == 0 {
			day := e.Time.Truncate(24 * time.Hour)
			e.Time = day.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
			e.Name = []string{"purchase", "order"}[r.IntN(2)]
			e.Amount = float64(r.IntN(10000)) / 100
			if e.Time.Before(to) {
				evs = append(evs, e)
			}
		}
	}
	return evs
}

// TestPurchaseSummaryMatchesLog is the batch-versus-live property behind
// the customer-value scores: for every user, the summary from a State
// equals, bit for bit, the one Log.PurchaseSummaries computes from the same
// events, whether the State was fed like the serving layer (time-ordered
// batches, shuffled within each, encoded, decoded and pruned after each
// batch), in one shuffled go and pruned at the end, or by a Builder
// replaying the events in time order (training's stored states). The
// cutoff is mid-day and the history three years, far beyond the 60-day
// retention, so most purchase days are folded.
func TestPurchaseSummaryMatchesLog(t *testing.T) {
	cutoff := time.Date(2024, 2, 17, 15, 30, 0, 0, time.UTC)
	evs := purchaseEvents(5, 60, 8000, cutoff.AddDate(-3, 0, 0), cutoff)
	spec := smallSpec()
	f, err := NewFeaturizer(spec)
	if err != nil {
		t.Fatal(err)
	}
	var log Log
	for i := range evs {
		if err := log.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]PurchaseSummary{}
	err = log.PurchaseSummaries(cutoff, spec.PurchaseEvents, func(id string, s PurchaseSummary) error {
		want[id] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// PurchaseDays agrees on the days.
	err = log.PurchaseDays(cutoff, spec.PurchaseEvents, func(id string, days []PurchaseDay) error {
		if w := want[id]; w.Days != len(days) || w.First != days[0].Day || w.Last != days[len(days)-1].Day {
			return fmt.Errorf("user %s: PurchaseDays %v, summary %+v", id, days, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[string][]Event{}
	for _, e := range evs {
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	r := rand.New(rand.NewPCG(1, 2))
	folded, merged := 0, 0
	for id, ue := range byUser {
		slices.SortStableFunc(ue, func(a, b Event) int { return a.Time.Compare(b.Time) })
		// Serving: monthly batches in time order, shuffled within a batch.
		live := f.NewState()
		for lo := 0; lo < len(ue); {
			hi := lo
			end := ue[lo].Time.AddDate(0, 1, 0)
			for hi < len(ue) && ue[hi].Time.Before(end) {
				hi++
			}
			batch := slices.Clone(ue[lo:hi])
			r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			for _, e := range batch {
				if err := live.Add(&e); err != nil {
					t.Fatal(err)
				}
			}
			now := batch[0].Time
			for _, e := range batch {
				if e.Time.After(now) {
					now = e.Time
				}
			}
			if err := live.Prune(now); err != nil {
				t.Fatal(err)
			}
			live = stateRoundTrip(t, f, live)
			lo = hi
		}
		// One shuffled go.
		shuffled := f.NewState()
		all := slices.Clone(ue)
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, e := range all {
			if err := shuffled.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		if err := shuffled.Prune(cutoff); err != nil {
			t.Fatal(err)
		}
		built, ok := builderState(t, spec, ue, cutoff)
		if !ok {
			t.Fatalf("user %s: no builder state", id)
		}
		w := want[id]
		for name, st := range map[string]*State{"live": live, "shuffled": shuffled, "builder": built} {
			got, err := f.PurchaseSummary(st, cutoff)
			if err != nil || got != w {
				t.Errorf("user %s, %s state: %+v, %v; log %+v", id, name, got, err, w)
			}
		}
		if live.foldPurDays > 0 {
			folded++
		}
		days := map[int32]int{}
		for _, e := range ue {
			if (e.Name == "purchase" || e.Name == "order") && e.Amount >= 0 {
				days[dayOf(e.Time.UnixNano())]++
			}
		}
		for _, n := range days {
			if n > 1 {
				merged++
			}
		}
	}
	if folded < len(byUser)/2 || merged < 50 {
		t.Errorf("weak test: %d of %d users with folded purchase days, %d merged days", folded, len(byUser), merged)
	}
}

// Format-1 encodings (written by the code before format 2, from the events
// in the comments; smallSpec, pruned at tcut = 2024-03-01) still decode.
const (
	// login 2024-02-20T00:00 0; purchase 2024-02-10T10:00 25.5; order
	// 2024-02-10T15:00 4; purchase 2024-02-25T09:00 10; purchase
	// 2024-02-27T09:00 -3; login 2024-02-29T02:00 0.
	stateV1Recent = "01fbef9648765b11d63c078080da809cb899b82f80809acff382bcb22f8080da809cb899b82f8080ddfdbdde87b72f96b4020000000100010000000000000201000000000100000000000000000100020001000203056c6f67696e087075726368617365056f7264657206e6b40200010100e0b2940c00000201008092f401000a00010000000501010080ade204000201010100c08db701020001000000"
	// purchase 2023-11-22T09:00 7; purchase 2023-12-02T09:00 8; login
	// 2023-12-22T09:00 0; purchase 2024-02-20T09:00 12 (the first two are
	// folded).
	stateV1Folded = "01fbef9648765b11d63c0780808595e3a4c3b52f8080d5b88096f3992f80808595e3a4c3b52f80808595e3a4c3b52f96b40203028087a70e000000000000000000040000000000000000000000000000000001010001010108707572636861736501fab4020000010080b6dc0500"
)

// TestStateDecodeFormat1: a format-1 State decodes to the same vector as
// the same events added today. Without folded purchases its purchase
// summary is exact; with them it is unknown (ErrPurchaseHistory), also
// after re-encoding as format 2 and adding events.
func TestStateDecodeFormat1(t *testing.T) {
	f, err := NewFeaturizer(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	at := func(m time.Month, d, h int, y int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	cases := []struct {
		name    string
		hex     string
		evs     []Event
		want    PurchaseSummary
		wantErr error
	}{
		{"Recent", stateV1Recent, []Event{
			tev("u", "login", at(2, 20, 0, 2024), 0), tev("u", "purchase", at(2, 10, 10, 2024), 25.5), tev("u", "order", at(2, 10, 15, 2024), 4),
			tev("u", "purchase", at(2, 25, 9, 2024), 10), tev("u", "purchase", at(2, 27, 9, 2024), -3), tev("u", "login", at(2, 29, 2, 2024), 0),
		}, PurchaseSummary{Days: 2, First: dayNum(2024, 2, 10), Last: dayNum(2024, 2, 25), RepeatRevenue: 10}, nil},
		{"Folded", stateV1Folded, []Event{
			tev("u", "purchase", at(11, 22, 9, 2023), 7), tev("u", "purchase", at(12, 2, 9, 2023), 8),
			tev("u", "login", at(12, 22, 9, 2023), 0), tev("u", "purchase", at(2, 20, 9, 2024), 12),
		}, PurchaseSummary{}, ErrPurchaseHistory},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			old := f.NewState()
			if err := old.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			fresh := f.NewState()
			for _, e := range tc.evs {
				if err := fresh.Add(&e); err != nil {
					t.Fatal(err)
				}
			}
			if err := fresh.Prune(tcut); err != nil {
				t.Fatal(err)
			}
			v1, err1 := f.Vector(old, tcut)
			v2, err2 := f.Vector(fresh, tcut)
			if err1 != nil || err2 != nil || !slices.Equal(v1, v2) {
				t.Errorf("format-1 vector %v (%v), fresh %v (%v)", v1, err1, v2, err2)
			}
			if want, err := f.PurchaseSummary(fresh, tcut); err != nil || (tc.wantErr == nil && want != tc.want) {
				t.Fatalf("fresh summary %+v, %v; want %+v", want, err, tc.want)
			}
			check := func(what string, st *State) {
				t.Helper()
				got, err := f.PurchaseSummary(st, tcut)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("%s: summary %+v, %v; want %v", what, got, err, tc.wantErr)
					}
				} else if err != nil || got != tc.want {
					t.Errorf("%s: summary %+v, %v; want %+v", what, got, err, tc.want)
				}
			}
			check("decoded", old)
			re := stateRoundTrip(t, f, old)
			if enc, _ := re.MarshalBinary(); enc[0] != stateFormat {
				t.Errorf("re-encoded format %d, want %d", enc[0], stateFormat)
			}
			check("re-encoded", re)
			e := tev("u", "login", tcut.Add(time.Hour), 0)
			if err := re.Add(&e); err != nil {
				t.Fatal(err)
			}
			if err := re.Prune(tcut.AddDate(0, 0, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.PurchaseSummary(re, tcut.AddDate(0, 0, 1)); (tc.wantErr == nil) != (err == nil) {
				t.Errorf("after a new event: %v", err)
			}
		})
	}
}

// TestStateDecodeCorruptPurchaseDays: format-2 folded purchase days that
// cannot be are refused.
func TestStateDecodeCorruptPurchaseDays(t *testing.T) {
	f, err := NewFeaturizer(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	st := f.NewState()
	for _, day := range []int{1, 5, 9} {
		e := tev("u", "purchase", time.Date(2023, 1, day, 12, 0, 0, 0, time.UTC), float64(day))
		if err := st.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Prune(tcut); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		mod  func(s *State)
	}{
		{"MoreDaysThanSpan", func(s *State) { s.foldPurDays = 10 }},
		{"MoreDaysThanOrders", func(s *State) { s.foldOrders = 2 }},
		{"LastAtFoldDay", func(s *State) { s.foldPurLast = s.foldDay }},
		{"FirstRevenueAboveTotal", func(s *State) { s.foldPurFirstRev = s.foldRevenue + 1 }},
		{"NegativeFirstRevenue", func(s *State) { s.foldPurFirstRev = -1 }},
	} {
		t.Run(bad.name, func(t *testing.T) {
			c := *st
			bad.mod(&c)
			b, _ := c.MarshalBinary()
			if err := f.NewState().UnmarshalBinary(b); !errors.Is(err, ErrCorruptState) {
				t.Errorf("UnmarshalBinary = %v, want ErrCorruptState", err)
			}
		})
	}
	// A format-2 body under a format-1 version byte does not parse.
	b, _ := st.MarshalBinary()
	b[0] = stateFormatV1
	if err := f.NewState().UnmarshalBinary(b); !errors.Is(err, ErrCorruptState) {
		t.Errorf("format-2 body under a format-1 byte: %v", err)
	}
}
