package features

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Reader benchmarks on streamed synthetic input (like encoding/csv's nTimes
// reader, the rows are generated as the reader pulls them, so the input is
// never in memory). Run:
//
//	go test ./features/ -run '^$' -bench 'BenchmarkRead' -benchtime 1x -count 3
//
// Metrics: events/s (the generator's own time included, so the reader alone
// is faster), alloc-B/event (bytes allocated while reading, divided by the
// events) and heap-B/event (live heap held by a Reader after a read: the
// user and event-name sets and the duplicate fingerprints).

// rdGen streams n synthetic rows in CSV (user_id,event,timestamp,amount with
// RFC 3339 times) or JSON Lines. Row i is at 2020-01-01 + i seconds, so no
// two rows are duplicates; users cycle pseudo-randomly over rdGenUsers ids.
type rdGen struct {
	n, i  int
	jsonl bool
	buf   []byte
	off   int
}

const rdGenUsers = 100_000

var rdGenEvents = []string{"page_view", "page_view", "session_start", "page_view", "feature_use", "add_to_cart", "page_view", "purchase"}

func newRdGen(n int, jsonl bool) *rdGen {
	g := &rdGen{n: n, jsonl: jsonl}
	if !jsonl {
		g.buf = append(g.buf, "user_id,event,timestamp,amount\n"...)
	}
	return g
}

func (g *rdGen) Read(p []byte) (int, error) {
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

// fill generates the next 512 rows.
func (g *rdGen) fill() {
	b := g.buf[:0]
	g.off = 0
	const base = 1577836800 // 2020-01-01T00:00:00Z
	for end := min(g.i+512, g.n); g.i < end; g.i++ {
		i := g.i
		user := uint64(i) * 2654435761 % rdGenUsers
		ev := rdGenEvents[i&7]
		if g.jsonl {
			b = append(b, `{"user_id":"u`...)
		} else {
			b = append(b, 'u')
		}
		b = strconv.AppendUint(b, user, 10)
		if g.jsonl {
			b = append(b, `","event":"`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, ev...)
		if g.jsonl {
			b = append(b, `","timestamp":"`...)
		} else {
			b = append(b, ',')
		}
		b = appendRFC3339(b, base+int64(i))
		if g.jsonl {
			b = append(b, `","amount":`...)
		} else {
			b = append(b, ',')
		}
		if ev == "purchase" {
			b = strconv.AppendInt(b, int64(1000+i%9000)/100, 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(10+i%90), 10)
		} else {
			b = append(b, '0')
		}
		if g.jsonl {
			b = append(b, '}')
		}
		b = append(b, '\n')
	}
	g.buf = b
}

// appendRFC3339 formats unix seconds as 2006-01-02T15:04:05Z without the
// time package (Hinnant's civil_from_days), to keep the generator cheap.
func appendRFC3339(b []byte, sec int64) []byte {
	days, s := sec/86400, sec%86400
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	two := func(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(two(b, y/100), y%100)
	b = two(append(b, '-'), m)
	b = two(append(b, '-'), d)
	b = two(append(b, 'T'), s/3600)
	b = two(append(b, ':'), s/60%60)
	b = two(append(b, ':'), s%60)
	return append(b, 'Z')
}

// rdDrain reads every event and returns how many there were.
func rdDrain(tb testing.TB, r *Reader) int {
	tb.Helper()
	var e Event
	n := 0
	for {
		err := r.Read(&e)
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		n++
	}
}

// benchmarkRead times reading n rows from open() per iteration.
func benchmarkRead(b *testing.B, n int, name string, open func() io.Reader) {
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	read := func() *Reader {
		r, err := NewReader(context.Background(), []Source{{Name: name, R: open()}}, &ReadOptions{Now: now})
		if err != nil {
			b.Fatal(err)
		}
		if got := rdDrain(b, r); got != n {
			b.Fatalf("read %d events, want %d", got, n)
		}
		return r
	}
	// Live heap held by a finished Reader.
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	r := read()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	heap := float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)) / float64(n)
	runtime.KeepAlive(r)
	r = nil

	b.ReportAllocs()
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		read()
	}
	runtime.ReadMemStats(&ms1)
	events := float64(n) * float64(b.N)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/events, "alloc-B/event")
	b.ReportMetric(heap, "heap-B/event")
}

func BenchmarkReadCSV1M(b *testing.B) {
	benchmarkRead(b, 1_000_000, "bench.csv", func() io.Reader { return newRdGen(1_000_000, false) })
}

func BenchmarkReadCSV10M(b *testing.B) {
	if testing.Short() {
		b.Skip("10M rows only without -short")
	}
	benchmarkRead(b, 10_000_000, "bench.csv", func() io.Reader { return newRdGen(10_000_000, false) })
}

func BenchmarkReadJSONL1M(b *testing.B) {
	benchmarkRead(b, 1_000_000, "bench.jsonl", func() io.Reader { return newRdGen(1_000_000, true) })
}

// BenchmarkReadCSVGzip1M reads gzip-compressed CSV; the compressed bytes
// (about a fifth of the 47 MB of CSV) are prepared once in memory.
func BenchmarkReadCSVGzip1M(b *testing.B) {
	const n = 1_000_000
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := io.Copy(zw, newRdGen(n, false)); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	benchmarkRead(b, n, "bench.csv.gz", func() io.Reader { return bytes.NewReader(z.Bytes()) })
}

// BenchmarkRdGen times the generator alone, to subtract from the above.
func BenchmarkRdGen(b *testing.B) {
	const n = 1_000_000
	buf := make([]byte, 64<<10)
	for b.Loop() {
		g := newRdGen(n, false)
		for {
			if _, err := g.Read(buf); err == io.EOF {
				break
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
