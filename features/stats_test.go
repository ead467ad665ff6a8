package features

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The -update flag rewrites golden files. Another test file of the package
// may define it too; whichever registers first wins and both read it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func rdUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestWriteSummary checks the summary the CLI prints against
// testdata/read/summary.golden (go test ./features/ -run TestWriteSummary
// -update rewrites it). The counts in it were checked by hand against the
// inputs below: 9 CSV rows (2 bad: a bad time on line 4, a missing user on
// line 7; 1 duplicate of line 2 dropped; 1 date-only duplicate kept) and 3
// JSON lines (one a refund of 4.5, one in the future, rejected) and one row
// from stdin without an amount column: 13 rows, 9 events, 3 bad, users
// 17850.0, u2, u3, u4, u6; revenue 10 + 2.5 + 20 + 20 + 7 = 59.50; 4 events
// on or after the as-of 2024-02-01.
func TestWriteSummary(t *testing.T) {
	csv := rdHeader +
		"17850.0,purchase,2024-01-01T10:00:00Z,10\n" + // 2
		"17850.0,page_view,2024-01-01T10:01:00Z,\n" + // 3
		"u2,page_view,not a time,0\n" + // 4
		"u2,purchase,2024-01-02T08:00:00Z,2.5\n" + // 5
		"17850.0,purchase,2024-01-01T10:00:00Z,10\n" + // 6: duplicate of 2
		",page_view,2024-01-03T00:00:00Z,0\n" + // 7
		"u3,purchase,2024-02-01,20\n" + // 8
		"u3,purchase,2024-02-01,20\n" + // 9: date-only duplicate, kept
		"u3,support_ticket,2024-02-02T09:00:00Z,0\n" // 10
	jsonl := `{"user_id":"u2","event":"refund","timestamp":"2024-01-05T00:00:00Z","amount":-4.5}` + "\n" +
		`{"user_id":"u4","event":"purchase","timestamp":"2024-02-15T12:00:00Z","amount":7}` + "\n" +
		`{"user_id":"u5","event":"page_view","timestamp":"2031-01-01T00:00:00Z"}` + "\n"
	noAmount := "user_id,event,timestamp\nu6,page_view,2024-01-10T00:00:00Z\n"
	srcs := []Source{
		rdSrc("events.csv", csv),
		{Name: "more.jsonl.gz", R: bytes.NewReader(rdGzip(t, jsonl))},
		rdSrc("-", noAmount),
	}
	_, st, err := rdRead(t, &ReadOptions{MaxBadRows: math.Inf(1), AsOf: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)}, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := st.WriteSummary(&out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "read", "summary.golden")
	if rdUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./features/ -run TestWriteSummary -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("summary differs from %s (review, then rerun with -update):\n--- got\n%s--- want\n%s", path, got, want)
	}
	// The hand counts behind the golden file.
	if st.Rows != 13 || st.Events != 9 || st.Bad != 3 || st.DuplicatesDropped != 1 || st.DuplicatesKept != 1 ||
		st.Users != 5 || st.Revenue != 59.5 || st.Refunds != 1 || st.RefundTotal != 4.5 || st.AfterAsOf != 4 || st.FloatUserIDs != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestGroupIntAndMoney(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := groupInt(in); got != want {
			t.Errorf("groupInt(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0.00", 2500315.63: "2,500,315.63", -4.5: "-4.50", 999.999: "1,000.00"} {
		if got := money(in); got != want {
			t.Errorf("money(%v) = %q, want %q", in, got, want)
		}
	}
}

// The fingerprint set finds every repeat and nothing else, across growth.
func TestFingerprintSet(t *testing.T) {
	var s fpSet
	seen := map[uint64]bool{}
	for i := uint64(0); i < 50_000; i++ {
		var f fingerprint
		f.init()
		f.word(i % 30_000) // 20,000 repeats
		h := f.sum()
		if got, want := s.insert(h), !seen[h]; got != want {
			t.Fatalf("insert #%d = %v, want %v", i, got, want)
		}
		seen[h] = true
	}
	if s.n != 30_000 || len(seen) != 30_000 {
		t.Errorf("set holds %d, distinct %d; want 30,000", s.n, len(seen))
	}
	// Field boundaries matter.
	var a, b fingerprint
	a.init()
	a.bytes([]byte("ab"))
	a.bytes([]byte("c"))
	b.init()
	b.bytes([]byte("a"))
	b.bytes([]byte("bc"))
	if a.sum() == b.sum() {
		t.Error(`("ab","c") and ("a","bc") collide`)
	}
}

// The per-day sets find a repeat only on the same day (an exact duplicate
// has the same instant, so the same day), in any order of days.
func TestDupSet(t *testing.T) {
	var d dupSet
	tests := []struct {
		day  int64
		h    uint64
		want bool
	}{
		{10, 1, true},
		{10, 2, true},
		{10, 1, false}, // repeat on the same day
		{11, 1, true},  // the same fingerprint on another day is new
		{-3, 0, true},  // a day before 1970 and the fingerprint 0
		{10, 2, false}, // back to an earlier day
		{-3, 0, false},
		{11, 1, false},
	}
	for i, tt := range tests {
		if got := d.insert(tt.day, tt.h); got != tt.want {
			t.Errorf("step %d: insert(%d, %d) = %v, want %v", i, tt.day, tt.h, got, tt.want)
		}
	}
	if d.len() != 4 || len(d.days) != 3 {
		t.Errorf("%d fingerprints in %d days, want 4 in 3", d.len(), len(d.days))
	}
	// A new day's table is sized for the rows of the day before it: 1,000
	// rows need 2,048 slots (at most 3/4 full); the next day, sized for 1
	// row, needs the minimum of 16.
	var e dupSet
	for i := range 1000 {
		e.insert(1, uint64(i+1))
	}
	e.insert(2, 1)
	e.insert(3, 1)
	if got := []int{len(e.days[1].slots), len(e.days[2].slots), len(e.days[3].slots)}; !reflect.DeepEqual(got, []int{2048, 2048, 16}) {
		t.Errorf("table sizes %v, want [2048 2048 16]", got)
	}
}

// The float-id warning counts rows: with order lines merged, its share is
// of the accepted rows (events + merged lines), not of the events.
func TestWriteSummaryFloatIDs(t *testing.T) {
	// An order export: 6 accepted lines, 2 of them merged into their
	// orders (4 events); 5 lines have ids like 17850.0, 5/6 = 83.33%.
	in := "CustomerID,InvoiceDate,InvoiceNo,Quantity,UnitPrice\n" +
		"17850.0,2010-12-01 08:26,536365,6,2.55\n" +
		"17850.0,2010-12-01 08:26,536365,6,3.39\n" +
		"17850.0,2010-12-01 08:28,536366,2,1.85\n" +
		"13047.0,2010-12-01 08:34,536367,32,1.69\n" +
		"13047.0,2010-12-01 08:34,536367,1,1.00\n" +
		"17809,2010-12-01 09:41,536380,24,1.45\n"
	m := Mapping{UserCol: "CustomerID", TimeCol: "InvoiceDate", EventName: "purchase", OrderCol: "InvoiceNo", QuantityCol: "Quantity", PriceCol: "UnitPrice"}
	tests := []struct {
		trim bool
		want string
	}{
		{false, `warning: 5 rows (83.33%) have user ids that look like floats (e.g. "17850.0"); they differ from the same ids without .0 unless --user-trim-float is given`},
		{true, `note: 5 user ids looked like floats (e.g. "17850.0") and lost their .0 tail`},
	}
	for _, tt := range tests {
		m.UserTrimFloat = tt.trim
		_, st, err := rdRead(t, &ReadOptions{Mapping: m}, rdSrc("orders.csv", in))
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != 4 || st.MergedLines != 2 || st.FloatUserIDs != 5 {
			t.Fatalf("events %d merged %d float ids %d; want 4 2 5", st.Events, st.MergedLines, st.FloatUserIDs)
		}
		var out bytes.Buffer
		if err := st.WriteSummary(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out.Bytes(), []byte(tt.want+"\n")) {
			t.Errorf("trim %v: summary lacks %q:\n%s", tt.trim, tt.want, out.String())
		}
	}
}
