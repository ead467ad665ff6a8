package features

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Benchmark sizes: events over benchUsers users.
const (
	benchUsers = 100_000
	bench1M    = 1_000_000
	bench10M   = 10_000_000
)

// benchCutoff is the cutoff of the benchmarks; events span the two years
// before it and 30 days after.
var benchCutoff = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// benchEvents is a compact pre-generated event stream: the benchmark builds
// each Event from it in the loop (cheap), as a reader would hand them over.
type benchEvents struct {
	users []string
	names []string
	user  []uint32
	typ   []uint8
	time  []int64
	amt   []float64
}

func (d *benchEvents) len() int { return len(d.user) }

// event fills e with event i.
func (d *benchEvents) event(i int, e *Event) {
	e.UserID = d.users[d.user[i]]
	e.Name = d.names[d.typ[i]]
	e.Time = time.Unix(0, d.time[i]).UTC()
	e.Amount = d.amt[i]
}

var (
	benchMu   sync.Mutex
	benchData = map[string]*benchEvents{}
)

// getBenchEvents returns n events over benchUsers users with the pitEventMix
// type mix, heavy-tailed user activity (user index ∝ x², x uniform) in
// sessions of 4 events on average, and times increasing through
// [T − 730 d, T + 30 d) with a few hours of jitter, like an export sorted by
// time; shuffled (no sessions, no time order) when random is set.
func getBenchEvents(n int, random bool) *benchEvents {
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprint(n, random)
	if d, ok := benchData[key]; ok {
		return d
	}
	r := rand.New(rand.NewPCG(uint64(n), 7))
	d := &benchEvents{
		user: make([]uint32, n), typ: make([]uint8, n), time: make([]int64, n), amt: make([]float64, n),
	}
	for i := range benchUsers {
		d.users = append(d.users, fmt.Sprintf("%08d", i))
	}
	var cum []int
	total := 0
	for _, m := range pitEventMix {
		total += m.weight
		cum = append(cum, total)
		d.names = append(d.names, m.name)
	}
	start := benchCutoff.AddDate(0, 0, -730).UnixNano()
	span := float64(benchCutoff.AddDate(0, 0, 30).UnixNano() - start)
	var u uint32
	for i := range n {
		// Sessions: the same user again with probability 3/4 (mean
		// session length 4 events).
		if i == 0 || r.IntN(4) == 0 {
			x := r.Float64()
			u = uint32(x * x * benchUsers)
		}
		d.user[i] = u
		k := 0
		for y := r.IntN(total); cum[k] <= y; k++ {
		}
		d.typ[i] = uint8(k)
		d.time[i] = start + int64(span*float64(i)/float64(n)) + r.Int64N(int64(3*time.Hour))
		switch pitEventMix[k].name {
		case "purchase", "order":
			d.amt[i] = math.Round(r.ExpFloat64()*4000) / 100
		case "refund":
			d.amt[i] = -math.Round(r.ExpFloat64()*2000) / 100
		}
	}
	if random {
		r.Shuffle(n, func(i, j int) {
			d.user[i], d.user[j] = d.user[j], d.user[i]
			d.typ[i], d.typ[j] = d.typ[j], d.typ[i]
			d.time[i], d.time[j] = d.time[j], d.time[i]
			d.amt[i], d.amt[j] = d.amt[j], d.amt[i]
		})
	}
	benchData[key] = d
	return d
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func feedBuilder(b *testing.B, d *benchEvents) *Builder {
	bl, err := NewBuilder(BuilderConfig{Cutoff: benchCutoff, Horizon: 30 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var e Event
	for i := range d.len() {
		d.event(i, &e)
		if err := bl.Add(&e); err != nil {
			b.Fatal(err)
		}
	}
	return bl
}

// benchmarkBuilder times Builder.Add for every event plus Build, and reports
// the heap the Builder holds before Build per user and per event.
func benchmarkBuilder(b *testing.B, n int, random bool) {
	d := getBenchEvents(n, random)
	base := heapInUse()
	bl := feedBuilder(b, d)
	held := heapInUse() - base
	users := bl.Users()
	runtime.KeepAlive(bl)
	bl = nil
	b.ReportAllocs()
	var ds *Dataset
	for b.Loop() {
		ds = nil
		bl := feedBuilder(b, d)
		var err error
		ds, err = bl.Build()
		if err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/sec, "events/s")
	b.ReportMetric(sec*1e9/float64(n), "ns/event")
	b.ReportMetric(float64(held)/float64(users), "B/user")
	b.ReportMetric(float64(held)/float64(n), "B/event")
	b.ReportMetric(float64(len(ds.Vectors)), "vectors")
}

// BenchmarkBuilder is Add+Build over a time-sorted stream of 1M and 10M
// events (10M skipped with -short) from about 100k users, and 1M events in
// random order (the slow path of the daily cells).
func BenchmarkBuilder(b *testing.B) {
	b.Run("1M", func(b *testing.B) { benchmarkBuilder(b, bench1M, false) })
	b.Run("1M-shuffled", func(b *testing.B) { benchmarkBuilder(b, bench1M, true) })
	b.Run("10M", func(b *testing.B) {
		if testing.Short() {
			b.Skip("10M events with -short")
		}
		benchmarkBuilder(b, bench10M, false)
	})
}

// BenchmarkBuilderAdd times Add alone for known users and types: one op is
// one event, and it must not allocate.
func BenchmarkBuilderAdd(b *testing.B) {
	d := getBenchEvents(bench1M, false)
	bl := feedBuilder(b, d)
	var e Event
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		d.event(i, &e)
		if err := bl.Add(&e); err != nil {
			b.Fatal(err)
		}
		if i++; i == d.len() {
			i = 0
		}
	}
}

// BenchmarkLog reports the heap a Log holds per event (the target
// is at most 24 B) at 1M and 10M events over the same 100k users, and times
// Log.Build with one and two workers at 1M. Run:
//
//	go test ./features -run '^$' -bench 'BenchmarkLog' -benchtime 1x
func BenchmarkLog(b *testing.B) {
	fill := func(b *testing.B, d *benchEvents) *Log {
		l := &Log{}
		var e Event
		for i := range d.len() {
			d.event(i, &e)
			if err := l.Append(&e); err != nil {
				b.Fatal(err)
			}
		}
		return l
	}
	for _, n := range []int{bench1M, bench10M} {
		b.Run(fmt.Sprintf("Append-%dM", n/bench1M), func(b *testing.B) {
			if n == bench10M && testing.Short() {
				b.Skip("10M events with -short")
			}
			d := getBenchEvents(n, false)
			base := heapInUse()
			l := fill(b, d)
			held := heapInUse() - base
			if l.Len() != n {
				b.Fatalf("log holds %d events, want %d", l.Len(), n)
			}
			runtime.KeepAlive(l)
			l = nil
			b.ReportAllocs()
			for b.Loop() {
				fill(b, d)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(n)/sec, "events/s")
			b.ReportMetric(float64(held)/float64(n), "B/event")
		})
	}
	d := getBenchEvents(bench1M, false)
	l := fill(b, d)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("Build-workers%d", w), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Build(BuilderConfig{Cutoff: benchCutoff, Horizon: 30 * 24 * time.Hour, Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(l.Len())/sec, "events/s")
		})
	}
}

// streamGen streams n CSV rows (user_id,event,timestamp,amount, RFC 3339
// times) over streamUsers users whose activity is fixed however many rows
// there are: user u is active on the 4 days (u + 7k) mod 120, k = 0..3,
// of the 120 days from 2020-01-01, with 2 event types (a page_view, or a
// purchase with an amount), so at most 8 (day, type) pairs a user. More
// rows are more events on the same pairs. Row i is user i·2654435761 mod
// streamUsers (a permutation of the users in each block of streamUsers
// rows); block b = i / streamUsers picks the day, the type and the second
// of the day, so no two rows are duplicates.
type streamGen struct {
	n, i int
	buf  []byte
	off  int
}

const streamUsers = 100_000

func newStreamGen(n int) *streamGen {
	return &streamGen{n: n, buf: []byte("user_id,event,timestamp,amount\n")}
}

func (g *streamGen) Read(p []byte) (int, error) {
	if g.off == len(g.buf) {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.fill()
	}
	k := copy(p, g.buf[g.off:])
	g.off += k
	return k, nil
}

func (g *streamGen) fill() {
	b := g.buf[:0]
	g.off = 0
	const base = 1577836800 // 2020-01-01T00:00:00Z
	for end := min(g.i+512, g.n); g.i < end; g.i++ {
		u := uint64(g.i) * 2654435761 % streamUsers
		blk := uint64(g.i / streamUsers)
		day := (u + 7*(blk%4)) % 120
		b = append(b, 'u')
		b = strconv.AppendUint(b, u, 10)
		if blk/4%2 == 0 {
			b = append(b, ",page_view,"...)
		} else {
			b = append(b, ",purchase,"...)
		}
		b = appendRFC3339(b, base+int64(day*86400+blk%86400))
		if blk/4%2 == 0 {
			b = append(b, ",\n"...)
		} else {
			b = append(b, ",9.99\n"...)
		}
	}
	g.buf = b
}

// BenchmarkStream is one snapshot from a stream, as lapse features --as-of
// builds it: CSV rows from streamGen (generated as the Reader pulls them,
// so the input is never in memory) read by a Reader and fed to a Builder,
// 1M and 10M rows over the same 100k users and (day, type) pairs. It
// reports the heap the Reader and the Builder hold at the end, per user
// and per event. Without the duplicate check (dedupe=off) the heap is the
// same at 1M and 10M rows: it grows with the users (and their active
// pairs within the retention, which are bounded), not with the events.
// With it (auto, the default) the row fingerprints add 8 to 16 bytes a
// row. Run:
//
//	GOMAXPROCS=1 go test ./features -run '^$' -bench 'BenchmarkStream' -benchtime 1x
func BenchmarkStream(b *testing.B) {
	cutoff := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC) // after the 120 days
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, dedupe := range []string{DedupeOff, DedupeAuto} {
		for _, n := range []int{bench1M, bench10M} {
			b.Run(fmt.Sprintf("dedupe=%s/%dM", dedupe, n/bench1M), func(b *testing.B) {
				if n == bench10M && testing.Short() {
					b.Skip("10M rows with -short")
				}
				run := func() (*Reader, *Builder) {
					r, err := NewReader(context.Background(), []Source{{Name: "bench.csv", R: newStreamGen(n)}},
						&ReadOptions{Now: now, Dedupe: dedupe, AsOf: cutoff})
					if err != nil {
						b.Fatal(err)
					}
					bl, err := NewBuilder(BuilderConfig{Cutoff: cutoff, Horizon: 30 * 24 * time.Hour})
					if err != nil {
						b.Fatal(err)
					}
					var e Event
					for {
						err := r.Read(&e)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						u, nm := r.EventIndex()
						if err := bl.AddIndexed(&e, u, nm); err != nil {
							b.Fatal(err)
						}
					}
					return r, bl
				}
				base := heapInUse()
				r, bl := run()
				held := heapInUse() - base
				if users := bl.Users(); users != streamUsers || r.Stats().Events != int64(n) {
					b.Fatalf("%d users, %d events; want %d, %d", users, r.Stats().Events, streamUsers, n)
				}
				runtime.KeepAlive(r)
				runtime.KeepAlive(bl)
				r, bl = nil, nil
				for b.Loop() {
					_, bl := run()
					if _, err := bl.Build(); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(n)/sec, "events/s")
				b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(held)/float64(streamUsers), "B/user")
				b.ReportMetric(float64(held)/float64(n), "B/event")
			})
		}
	}
}

// BenchmarkStateRoundTrip is the serving path per event: decode a user's
// State, add one event, prune, encode, and compute the vector.
func BenchmarkStateRoundTrip(b *testing.B) {
	f, err := NewFeaturizer(DefaultSpec())
	if err != nil {
		b.Fatal(err)
	}
	g := newPitEventGen(3, 1)
	st := f.NewState()
	for _, e := range g.events(300, benchCutoff.AddDate(-1, 0, 0), benchCutoff) {
		if err := st.Add(&e); err != nil {
			b.Fatal(err)
		}
	}
	enc, _ := st.MarshalBinary()
	e := tev("user000000", "login", benchCutoff, 0)
	vec := make([]float64, 0, f.Len())
	b.ReportAllocs()
	b.ReportMetric(float64(len(enc)), "B/state")
	for b.Loop() {
		s := f.NewState()
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
		if err := s.Add(&e); err != nil {
			b.Fatal(err)
		}
		if err := s.Prune(benchCutoff); err != nil {
			b.Fatal(err)
		}
		if _, err := s.AppendBinary(enc[:0:0]); err != nil {
			b.Fatal(err)
		}
		if vec, err = f.AppendVector(vec[:0], s, benchCutoff.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}
