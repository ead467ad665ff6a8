package features

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestLogBuildMatchesBuilder: replaying a Log gives exactly the Builder's
// Dataset, with 1, 2 and 3 workers, at several cutoffs from one Log.
func TestLogBuildMatchesBuilder(t *testing.T) {
	g := newPitEventGen(11, 300)
	end := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	evs := g.events(20000, end.AddDate(-2, 0, 0), end)
	var l Log
	for i := range evs {
		if err := l.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != len(evs) || l.NumUsers() != 300 {
		t.Fatalf("Len %d NumUsers %d", l.Len(), l.NumUsers())
	}
	h := 30 * 24 * time.Hour
	for _, cutoff := range []time.Time{end.Add(-h), end.Add(-2 * h), end.Add(-2*h - 5*time.Hour)} {
		cfg := BuilderConfig{Cutoff: cutoff, Horizon: h}
		want := buildSnapshot(t, cfg, evs)
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/workers%d", cutoff.Format(time.RFC3339), workers), func(t *testing.T) {
				cfg.Workers = workers
				got, err := l.Build(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := equalVectors(got.Vectors, want.Vectors); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Spec, want.Spec) || !slices.Equal(got.Churn, want.Churn) ||
					!slices.Equal(got.Propensity, want.Propensity) || got.Labelled != want.Labelled {
					t.Error("spec or labels differ")
				}
				if got.Counts != want.Counts {
					t.Errorf("counts %+v, want %+v", got.Counts, want.Counts)
				}
			})
		}
	}
	minT := evs[0].Time
	for _, e := range evs {
		if e.Time.Before(minT) {
			minT = e.Time
		}
	}
	if !l.MinTime().Equal(minT) {
		t.Errorf("MinTime %v, want %v", l.MinTime(), minT)
	}
}

func TestLogPurchaseDays(t *testing.T) {
	day := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	evs := []Event{
		// "a": two orders on 1997-01-01 merged (10 + 5), one on 01-03, a
		// return on 01-05 (ignored), a page view (ignored), an order at the
		// cutoff (ignored).
		tev("a", "purchase", day(1997, 1, 1, 9), 10),
		tev("a", "purchase", day(1997, 1, 1, 20), 5),
		tev("a", "order", day(1997, 1, 3, 1), 2.5),
		tev("a", "purchase", day(1997, 1, 5, 1), -3),
		tev("a", "page_view", day(1997, 1, 6, 1), 0),
		tev("a", "purchase", day(1997, 2, 1, 0), 7),
		// "b": no purchase before the cutoff.
		tev("b", "page_view", day(1997, 1, 2, 0), 0),
		// "0c" sorts first.
		tev("0c", "purchase", day(1996, 12, 31, 23), 1),
	}
	var l Log
	for i := range evs {
		if err := l.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	type got struct {
		user string
		days []PurchaseDay
	}
	var res []got
	err := l.PurchaseDays(day(1997, 2, 1, 0), []string{"purchase", "order"}, func(u string, d []PurchaseDay) error {
		res = append(res, got{u, slices.Clone(d)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Day numbers: 1997-01-01 is 9862 days after 1970-01-01 (27 years, 7
	// of them leap: 27·365 + 7 = 9862).
	want := []got{
		{"0c", []PurchaseDay{{9861, 1}}},
		{"a", []PurchaseDay{{9862, 15}, {9864, 2.5}}},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("got %+v, want %+v", res, want)
	}
	if d := want[1].days[0].Date(); !d.Equal(day(1997, 1, 1, 0)) {
		t.Errorf("Date() = %v", d)
	}
	stop := errors.New("stop")
	calls := 0
	err = l.PurchaseDays(day(1997, 2, 1, 0), []string{"purchase"}, func(string, []PurchaseDay) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("error from fn: %v after %d calls", err, calls)
	}
}

func TestLogAppendErrors(t *testing.T) {
	var l Log
	for _, e := range []Event{{UserID: "u", Name: "x"}, tev("u", "x", tcut, math.Inf(1))} {
		if err := l.Append(&e); err == nil {
			t.Errorf("Append(%+v) succeeded", e)
		}
	}
	if l.Len() != 0 || l.NumUsers() != 0 || !l.MaxTime().IsZero() {
		t.Errorf("rejected events were kept: %d", l.Len())
	}
}

// TestLogChunks checks that events spanning several chunks replay in order.
func TestLogChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("150k events")
	}
	var l Log
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 2*logChunkMax + 1000
	for i := range n {
		e := tev(fmt.Sprint("u", i%7), "login", base.Add(time.Duration(i)*time.Minute), 0)
		if err := l.Append(&e); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.chunks) < 3 {
		t.Fatalf("%d chunks", len(l.chunks))
	}
	ds, err := l.Build(BuilderConfig{Cutoff: base.Add(time.Duration(n) * time.Minute), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Every event counted once; 7 users all active in the last minutes.
	if ds.Counts.BeforeCutoff != int64(n) || len(ds.Vectors) != 7 || !l.MaxTime().Equal(base.Add(time.Duration(n-1)*time.Minute)) {
		t.Errorf("counts %+v vectors %d", ds.Counts, len(ds.Vectors))
	}
	total := 0.0
	names := ds.Names()
	for _, v := range ds.Vectors {
		total += v.Values[slices.Index(names, "events_total")]
	}
	if total != float64(n) {
		t.Errorf("events_total sums to %v, want %d", total, n)
	}
}

// TestLogBuildKeepStates: with KeepStates, Log.Build (any number of
// workers) and Builder.Build return, parallel to the vectors, each user's
// State as of the cutoff: the streaming Builder's State for that user, byte
// for byte, giving the snapshot's vector at the cutoff and the same vector
// as the Builder's State later on; each is an independent copy.
func TestLogBuildKeepStates(t *testing.T) {
	g := newPitEventGen(12, 200)
	end := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	evs := g.events(12000, end.AddDate(-1, 0, 0), end)
	var l Log
	for i := range evs {
		if err := l.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := end.AddDate(0, 0, -20)
	stream, err := NewBuilder(BuilderConfig{Cutoff: cutoff, KeepStates: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := stream.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	sds, err := stream.Build()
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFeaturizer(sds.Spec)
	if err != nil {
		t.Fatal(err)
	}
	later := cutoff.AddDate(0, 0, 9)
	for _, workers := range []int{0, 1, 3} {
		ds, err := l.Build(BuilderConfig{Cutoff: cutoff, Workers: workers, KeepStates: workers > 0})
		if err != nil {
			t.Fatal(err)
		}
		if workers == 0 {
			if ds.States != nil {
				t.Fatal("States without KeepStates")
			}
			continue
		}
		if len(ds.States) != len(ds.Vectors) || len(ds.Vectors) == 0 || len(sds.States) != len(ds.Vectors) {
			t.Fatalf("workers %d: %d states, %d vectors, stream %d states", workers, len(ds.States), len(ds.Vectors), len(sds.States))
		}
		for i, v := range ds.Vectors {
			want, ok := stream.State(v.UserID)
			if !ok {
				t.Fatalf("stream has no %s", v.UserID)
			}
			got := ds.States[i]
			gb, _ := got.MarshalBinary()
			wb, _ := want.MarshalBinary()
			sb, _ := sds.States[i].MarshalBinary()
			if !slices.Equal(gb, wb) || !slices.Equal(sb, wb) {
				t.Fatalf("workers %d: state of %s differs from the stream's", workers, v.UserID)
			}
			at, err := f.Vector(got, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			if err := equalVectors([]Vector{{UserID: v.UserID, Values: at}}, []Vector{v}); err != nil {
				t.Fatalf("workers %d: %v", workers, err)
			}
			gl, _ := f.Vector(got, later)
			wl, _ := f.Vector(want, later)
			if !slices.Equal(gl, wl) {
				t.Fatalf("workers %d: %s differs %v later", workers, v.UserID, later)
			}
		}
		// Independent copies: an event added to one State changes no other.
		before, _ := ds.States[1].MarshalBinary()
		e := Event{UserID: ds.Vectors[0].UserID, Name: evs[0].Name, Time: cutoff.Add(time.Hour)}
		if err := ds.States[0].Add(&e); err != nil {
			t.Fatal(err)
		}
		after, _ := ds.States[1].MarshalBinary()
		if !slices.Equal(before, after) {
			t.Fatal("adding to one state changed another")
		}
		if again, _ := l.Build(BuilderConfig{Cutoff: cutoff, Workers: workers, KeepStates: true}); again == nil {
			t.Fatal("rebuild failed")
		} else if b0, _ := again.States[0].MarshalBinary(); slices.Equal(b0, mustMarshal(t, ds.States[0])) {
			t.Fatal("adding to a returned state changed the Log's next build")
		}
	}
}

func mustMarshal(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
