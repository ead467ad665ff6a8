package features

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rdNow is the reader clock of the tests: rows after 2025-01-01 00:05 are
// clock skew.
func rdNow() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

func rdSrc(name, content string) Source { return Source{Name: name, R: strings.NewReader(content)} }

// rdRead reads every event. err is the error that ended the read, nil for
// io.EOF.
func rdRead(t testing.TB, opts *ReadOptions, srcs ...Source) ([]Event, ReadStats, error) {
	t.Helper()
	if opts == nil {
		opts = &ReadOptions{}
	}
	if opts.Now == nil {
		opts.Now = rdNow
	}
	r, err := NewReader(context.Background(), srcs, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var evs []Event
	for {
		var e Event
		err := r.Read(&e)
		if err == nil {
			evs = append(evs, e)
			continue
		}
		st := r.Stats()
		checkStatsInvariant(t, st)
		if err == io.EOF {
			return evs, st, nil
		}
		if again := r.Read(&e); again != err {
			t.Errorf("Read after error %v returned %v", err, again)
		}
		return evs, st, err
	}
}

// checkStatsInvariant: every row is returned, merged, dropped or rejected.
func checkStatsInvariant(t testing.TB, st ReadStats) {
	t.Helper()
	if got := st.Events + st.MergedLines + st.DuplicatesDropped + st.Bad; got != st.Rows {
		t.Errorf("events %d + merged %d + duplicates dropped %d + bad %d = %d, want rows %d",
			st.Events, st.MergedLines, st.DuplicatesDropped, st.Bad, got, st.Rows)
	}
	var n int64
	for _, c := range st.EventTypes {
		n += c
	}
	if n != st.Events {
		t.Errorf("event types sum to %d, want %d events", n, st.Events)
	}
}

func rdTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

const rdHeader = "user_id,event,timestamp,amount\n"

// Every bad-row reason of the policy table in docs/DESIGN.md, with the exact
// example it produces. Each input has the bad row on line 2 (or as noted)
// after the header on line 1, then one good row.
func TestReadBadRows(t *testing.T) {
	good := "ok,view,2024-01-01T00:00:00Z,1\n"
	tests := []struct {
		name   string
		file   string
		input  string
		opts   ReadOptions
		want   ParseError // Err is the reason; Message is checked separately
		msg    string
		reason error
	}{
		{name: "empty user", file: "in.csv", input: rdHeader + ",view,2024-01-01T00:00:00Z,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "user_id"}, reason: ErrMissingUser, msg: "in.csv:2: user_id: missing user id"},
		{name: "blank user", file: "in.csv", input: rdHeader + "  ,view,2024-01-01T00:00:00Z,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "user_id"}, reason: ErrMissingUser, msg: "in.csv:2: user_id: missing user id"},
		{name: "empty event", file: "in.csv", input: rdHeader + "u1,,2024-01-01T00:00:00Z,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "event"}, reason: ErrMissingEvent, msg: "in.csv:2: event: missing event name"},
		{name: "bad time", file: "in.csv", input: rdHeader + "u1,view,2024-13-01,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "timestamp"}, reason: ErrBadTime, msg: `in.csv:2: timestamp: unparsable timestamp: "2024-13-01"`},
		{name: "empty time", file: "in.csv", input: rdHeader + "u1,view,,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "timestamp"}, reason: ErrBadTime, msg: `in.csv:2: timestamp: unparsable timestamp: ""`},
		{name: "time before 1677", file: "in.csv", input: rdHeader + "u1,view,1600-01-01,1\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "timestamp"}, reason: ErrBadTime, msg: `in.csv:2: timestamp: unparsable timestamp: "1600-01-01" is outside 1677-09-21..2262-04-11`},
		{name: "bad amount", file: "in.csv", input: rdHeader + "u1,view,2024-01-01T00:00:00Z,12 EUR\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "amount"}, reason: ErrBadAmount, msg: `in.csv:2: amount: unparsable amount: "12 EUR"`},
		{name: "NaN amount", file: "in.csv", input: rdHeader + "u1,view,2024-01-01T00:00:00Z,NaN\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "amount"}, reason: ErrBadAmount, msg: `in.csv:2: amount: unparsable amount: "NaN"`},
		{name: "huge amount", file: "in.csv", input: rdHeader + "u1,view,2024-01-01T00:00:00Z,2e15\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "amount"}, reason: ErrBadAmount, msg: `in.csv:2: amount: unparsable amount: "2e15" is beyond 1e15`},
		{name: "bad quantity", file: "in.csv", input: "user_id,timestamp,qty,price\nu1,2024-01-01T00:00:00Z,x,2\nok,2024-01-01T00:00:00Z,1,2\n",
			opts: ReadOptions{Mapping: Mapping{EventName: "purchase", QuantityCol: "qty", PriceCol: "price"}},
			want: ParseError{File: "in.csv", Line: 2, Field: "qty"}, reason: ErrBadAmount, msg: `in.csv:2: qty: unparsable amount: "x"`},
		{name: "bad price", file: "in.csv", input: "user_id,timestamp,qty,price\nu1,2024-01-01T00:00:00Z,1,2..5\nok,2024-01-01T00:00:00Z,1,2\n",
			opts: ReadOptions{Mapping: Mapping{EventName: "purchase", QuantityCol: "qty", PriceCol: "price"}},
			want: ParseError{File: "in.csv", Line: 2, Field: "price"}, reason: ErrBadAmount, msg: `in.csv:2: price: unparsable amount: "2..5"`},
		{name: "too few fields", file: "in.csv", input: rdHeader + "u1,view,2024-01-01T00:00:00Z\n" + good,
			want: ParseError{File: "in.csv", Line: 2}, reason: ErrFieldCount, msg: "in.csv:2: wrong number of fields: 3, the header has 4"},
		{name: "too many fields", file: "in.csv", input: rdHeader + "u1,view,2024-01-01T00:00:00Z,1,x\n" + good,
			want: ParseError{File: "in.csv", Line: 2}, reason: ErrFieldCount, msg: "in.csv:2: wrong number of fields: 5, the header has 4"},
		{name: "ws field count", file: "in.txt", input: "user_id timestamp amount\n  u1   20240101\n ok 20240101 1\n",
			opts: ReadOptions{Mapping: Mapping{EventName: "purchase"}},
			want: ParseError{File: "in.txt", Line: 2}, reason: ErrFieldCount, msg: "in.txt:2: wrong number of fields: 2, the header has 3"},
		{name: "quote inside quoted field", file: "in.csv", input: rdHeader + `u1,"vi"ew,2024-01-01T00:00:00Z,1` + "\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "event"}, reason: ErrSyntax, msg: `in.csv:2: event: syntax error: extraneous or missing " in quoted field`},
		{name: "bare quote", file: "in.csv", input: rdHeader + `u1,vi"ew,2024-01-01T00:00:00Z,1` + "\n" + good,
			want: ParseError{File: "in.csv", Line: 2, Field: "event"}, reason: ErrSyntax, msg: `in.csv:2: event: syntax error: bare " in non-quoted field`},
		{name: "future time", file: "in.csv", input: rdHeader + "u1,view,2025-01-01T00:05:01Z,1\nok,view,2025-01-01T00:05:00Z,1\n",
			want: ParseError{File: "in.csv", Line: 2, Field: "timestamp"}, reason: ErrFutureTime,
			msg: "in.csv:2: timestamp: timestamp later than the current clock: 2025-01-01T00:05:01Z is after 2025-01-01T00:00:00Z + 5m"},
		{name: "JSON syntax", file: "in.jsonl", input: `{"user_id":"u1",` + "\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 1}, reason: ErrSyntax, msg: "in.jsonl:1: syntax error: expected a string key"},
		{name: "JSON array", file: "in.jsonl", input: "[1,2]\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 1}, reason: ErrSyntax, msg: "in.jsonl:1: syntax error: not a JSON object"},
		{name: "JSON nested user", file: "in.jsonl", input: `{"user_id":{"id":1},"event":"v","timestamp":"2024-01-01"}` + "\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 1, Field: "user_id"}, reason: ErrSyntax, msg: "in.jsonl:1: user_id: syntax error: object or array where a value was expected"},
		{name: "JSON missing time", file: "in.jsonl", input: "\n" + `{"user_id":"u1","event":"v"}` + "\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 2, Field: "timestamp"}, reason: ErrBadTime, msg: "in.jsonl:2: timestamp: unparsable timestamp: no such key"},
		{name: "JSON null user", file: "in.jsonl", input: `{"user_id":null,"event":"v","timestamp":"2024-01-01"}` + "\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 1, Field: "user_id"}, reason: ErrMissingUser, msg: "in.jsonl:1: user_id: missing user id"},
		{name: "JSON missing event", file: "in.jsonl", input: `{"user_id":"u1","timestamp":"2024-01-01"}` + "\n" + `{"user_id":"ok","event":"view","timestamp":"2024-01-01T00:00:00Z"}` + "\n",
			want: ParseError{File: "in.jsonl", Line: 1, Field: "event"}, reason: ErrMissingEvent, msg: "in.jsonl:1: event: missing event name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.MaxBadRows = math.Inf(1)
			evs, st, err := rdRead(t, &opts, rdSrc(tt.file, tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].UserID != "ok" {
				t.Errorf("events = %+v, want only the good row", evs)
			}
			if st.Bad != 1 || st.BadByReason[tt.reason] != 1 || len(st.BadByReason) != 1 {
				t.Errorf("bad = %d by reason %v, want 1 %v", st.Bad, st.BadByReason, tt.reason)
			}
			if len(st.Examples) != 1 {
				t.Fatalf("examples = %v, want 1", st.Examples)
			}
			got := *st.Examples[0]
			if got.File != tt.want.File || got.Line != tt.want.Line || got.Field != tt.want.Field || !errors.Is(got.Err, tt.reason) {
				t.Errorf("example = {%s %d %q %v}, want {%s %d %q %v}", got.File, got.Line, got.Field, got.Err, tt.want.File, tt.want.Line, tt.want.Field, tt.reason)
			}
			if got.Error() != tt.msg {
				t.Errorf("message = %q, want %q", got.Error(), tt.msg)
			}
		})
	}
}

// Line numbers are physical lines of the input: blank lines count, and a
// record whose quoted field spans lines is located at its first line. An
// unterminated quote rejects its own line only: the lines after it are
// read again as records.
func TestReadLineNumbers(t *testing.T) {
	in := rdHeader +
		"\n" + // 2
		"u1,\"multi\r\nline\",2024-01-01T00:00:00Z,1\r\n" + // 3-4
		"u2,view,bad,0\n" + // 5
		"u3,\"x\n" + // 6
		"y\",bad,0\n" + // 7
		"u4,\"unterminated,2024-01-01T00:00:00Z,1\n" + // 8
		"u5,view,2024-01-01T00:00:00Z,1\n" // 9: read again after the open quote fails
	evs, st, err := rdRead(t, &ReadOptions{MaxBadRows: math.Inf(1)}, rdSrc("in.csv", in))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Name != "multi\nline" || evs[1].UserID != "u5" {
		t.Fatalf("events = %+v, want one named \"multi\\nline\" and u5's", evs)
	}
	var got []string
	for _, ex := range st.Examples {
		got = append(got, ex.Error())
	}
	want := []string{
		`in.csv:5: timestamp: unparsable timestamp: "bad"`,
		`in.csv:6: timestamp: unparsable timestamp: "bad"`,
		`in.csv:8: event: syntax error: extraneous or missing " in quoted field`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("examples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Lines != 9 || st.Rows != 5 {
		t.Errorf("lines, rows = %d, %d; want 9, 5", st.Lines, st.Rows)
	}
}

// A malformed quoted field costs one row, its first line, however many
// lines it ran over before failing; the lines after it are records again.
func TestReadStrayQuote(t *testing.T) {
	ok := func(u string) string { return u + ",view,2024-01-01T00:00:00Z,1\n" }
	mib := strings.Repeat("x", 1<<20)
	tests := []struct {
		name  string
		file  string
		in    string
		users []string // the events returned, by user
		bad   []string // the examples
		rows  int64
	}{
		{
			name:  "unterminated to the end of the input",
			file:  "in.csv",
			in:    rdHeader + ok("u1") + `u2,"view,2024-01-01T00:00:00Z,1` + "\n" + ok("u3") + ok("u4"),
			users: []string{"u1", "u3", "u4"},
			bad:   []string{`in.csv:3: event: syntax error: extraneous or missing " in quoted field`},
			rows:  4,
		},
		{
			// Line 3 opens a quote that line 5 closes with "view"x: both
			// are bad, line 4 in between is read again and kept.
			name:  "closed later by a malformed quote",
			file:  "in.csv",
			in:    rdHeader + ok("u1") + `u2,"view,2024-01-01T00:00:00Z,1` + "\n" + ok("u3") + `u4,"view"x,2024-01-01T00:00:00Z,1` + "\n" + ok("u5"),
			users: []string{"u1", "u3", "u5"},
			bad: []string{
				`in.csv:3: event: syntax error: extraneous or missing " in quoted field`,
				`in.csv:5: event: syntax error: extraneous or missing " in quoted field`,
			},
			rows: 5,
		},
		{
			// A quote opened on line 2 runs past 8 MiB by line 11: line 2
			// is bad, lines 3..11 (one 1 MiB field each) have the wrong
			// number of fields, line 12 is good.
			name:  "past 8 MiB",
			file:  "in.csv",
			in:    rdHeader + `u1,"view` + strings.Repeat("\n"+mib, 9) + "\n" + ok("u2"),
			users: []string{"u2"},
			bad: []string{
				"in.csv:2: event: syntax error: record longer than 8 MiB",
				"in.csv:3: wrong number of fields", "in.csv:4: wrong number of fields", "in.csv:5: wrong number of fields",
				"in.csv:6: wrong number of fields", "in.csv:7: wrong number of fields", "in.csv:8: wrong number of fields",
				"in.csv:9: wrong number of fields", "in.csv:10: wrong number of fields", "in.csv:11: wrong number of fields",
			},
			rows: 11,
		},
		{
			name:  "TSV",
			file:  "in.tsv",
			in:    "user_id\tevent\ttimestamp\n" + "u1\t\"12\" pizza\t2024-01-01\n" + "u2\tview\t2024-01-01\n",
			users: []string{"u2"},
			bad:   []string{`in.tsv:2: event: syntax error: extraneous or missing " in quoted field`},
			rows:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st, err := rdRead(t, &ReadOptions{MaxBadRows: math.Inf(1), MaxExamples: 20}, rdSrc(tt.file, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var users []string
			for _, e := range evs {
				users = append(users, e.UserID)
			}
			var bad []string
			for _, ex := range st.Examples {
				msg := ex.Error()
				if i := strings.Index(msg, "fields: "); i >= 0 && errors.Is(ex.Err, ErrFieldCount) {
					msg = msg[:i+len("fields")]
				}
				bad = append(bad, msg)
			}
			if !reflect.DeepEqual(users, tt.users) || !reflect.DeepEqual(bad, tt.bad) || st.Rows != tt.rows {
				t.Errorf("users %v, bad rows\n%s\nrows %d; want users %v, bad rows\n%s\nrows %d",
					users, strings.Join(bad, "\n"), st.Rows, tt.users, strings.Join(tt.bad, "\n"), tt.rows)
			}
		})
	}
}

func TestReadCRLFAndBOM(t *testing.T) {
	in := "\xef\xbb\xbfuser_id,event,timestamp,amount\r\nu1,view,2024-01-01T00:00:00Z,1.5\r\nu2,buy,2024-01-02,2\r"
	evs, _, err := rdRead(t, nil, rdSrc("in.csv", in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{UserID: "u1", Name: "view", Time: rdTime("2024-01-01T00:00:00Z"), Amount: 1.5},
		{UserID: "u2", Name: "buy", Time: rdTime("2024-01-02T00:00:00Z"), Amount: 2},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("got %+v, want %+v", evs, want)
	}
}

// A CDNOW_master.txt style file: leading spaces, runs of spaces, CRLF, no
// event column, YYYYMMDD dates.
func TestReadWhitespace(t *testing.T) {
	in := " customer_id  date number_of_cds  dollar_value\r\n" +
		" 00001 19970101  1   11.77\r\n" +
		" 00002 19970112  1   12.00\r\n" +
		"\r\n" +
		" 00002 19970112  5   77.00\r\n"
	m := Mapping{UserCol: "customer_id", TimeCol: "date", AmountCol: "dollar_value", EventName: "purchase"}
	evs, st, err := rdRead(t, &ReadOptions{Mapping: m, KeepProps: true}, rdSrc("CDNOW_master.txt", in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{UserID: "00001", Name: "purchase", Time: rdTime("1997-01-01T00:00:00Z"), Amount: 11.77, Props: map[string]string{"number_of_cds": "1"}},
		{UserID: "00002", Name: "purchase", Time: rdTime("1997-01-12T00:00:00Z"), Amount: 12, Props: map[string]string{"number_of_cds": "1"}},
		{UserID: "00002", Name: "purchase", Time: rdTime("1997-01-12T00:00:00Z"), Amount: 77, Props: map[string]string{"number_of_cds": "5"}},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("got %+v\nwant %+v", evs, want)
	}
	if st.Sources[0].Format != FormatWS || st.Sources[0].NoEvent != "event" || st.Lines != 5 {
		t.Errorf("source stats = %+v, lines %d", st.Sources[0], st.Lines)
	}
}

func TestReadDedupe(t *testing.T) {
	clock := rdHeader +
		"u1,view,2024-01-01T00:00:00Z,5\n" +
		"u1,view,2024-01-01T01:00:00+01:00,5.00\n" + // same instant and amount: duplicate
		"u1,view,2024-01-01T00:00:00Z,5\n" +
		"u1,view,2024-01-01T00:00:01Z,5\n"
	date := rdHeader +
		"u1,buy,2024-01-01,5\n" +
		"u1,buy,2024-01-01,5\n" +
		"u1,buy,20240101,5\n"
	tests := []struct {
		name          string
		in            string
		mode          string
		events        int
		dropped, kept int64
	}{
		{"auto time of day", clock, "", 2, 2, 0},
		{"auto date only", date, DedupeAuto, 3, 0, 2},
		{"on date only", date, DedupeOn, 1, 2, 0},
		{"off", clock, DedupeOff, 4, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st, err := rdRead(t, &ReadOptions{Dedupe: tt.mode}, rdSrc("in.csv", tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.events || st.DuplicatesDropped != tt.dropped || st.DuplicatesKept != tt.kept {
				t.Errorf("events %d, dropped %d, kept %d; want %d, %d, %d", len(evs), st.DuplicatesDropped, st.DuplicatesKept, tt.events, tt.dropped, tt.kept)
			}
		})
	}
	// Rows that differ only in an extra column are not duplicates; the same
	// event in a CSV and a JSON Lines input is.
	csv := "user_id,event,timestamp,amount,sku\n" +
		"u1,buy,2024-01-01T10:00:00Z,5,A\n" +
		"u1,buy,2024-01-01T10:00:00Z,5,B\n"
	jsonl := `{"sku":"A","amount":5,"timestamp":"2024-01-01T10:00:00Z","event":"buy","user_id":"u1"}` + "\n"
	evs, st, err := rdRead(t, nil, rdSrc("a.csv", csv), rdSrc("b.jsonl", jsonl))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || st.DuplicatesDropped != 1 {
		t.Errorf("events %d, dropped %d; want 2, 1", len(evs), st.DuplicatesDropped)
	}
}

func TestReadMapping(t *testing.T) {
	d := func(s string) time.Time { return rdTime(s) }
	tests := []struct {
		name  string
		srcs  []Source
		m     Mapping
		props bool
		want  []Event
		stats func(t *testing.T, st ReadStats)
	}{
		{
			name: "no event column",
			srcs: []Source{rdSrc("orders.csv", "customer,day,total\nc1,2024-01-01,10\nc2,2024-01-02,\n")},
			m:    Mapping{UserCol: "customer", TimeCol: "day", AmountCol: "total", EventName: "purchase"},
			want: []Event{
				{UserID: "c1", Name: "purchase", Time: d("2024-01-01T00:00:00Z"), Amount: 10},
				{UserID: "c2", Name: "purchase", Time: d("2024-01-02T00:00:00Z")},
			},
		},
		{
			name: "event column wins over event name",
			srcs: []Source{rdSrc("e.csv", rdHeader+"u1,view,2024-01-01T00:00:00Z,0\n")},
			m:    Mapping{EventName: "purchase"},
			want: []Event{{UserID: "u1", Name: "view", Time: d("2024-01-01T00:00:00Z")}},
		},
		{
			name: "quantity times price",
			srcs: []Source{rdSrc("lines.csv", "user_id,timestamp,qty,unit_price,amount\nu1,2024-01-01T10:00:00Z,3,2.5,99\nu1,2024-01-01T11:00:00Z,-1,2.5,\nu2,2024-01-01T12:00:00Z,,4,\n")},
			m:    Mapping{EventName: "purchase", QuantityCol: "qty", PriceCol: "unit_price"},
			want: []Event{
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T10:00:00Z"), Amount: 7.5},
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T11:00:00Z"), Amount: -2.5},
				{UserID: "u2", Name: "purchase", Time: d("2024-01-01T12:00:00Z"), Amount: 0},
			},
		},
		{
			// Lines of one order merge while contiguous; o1 seen again after
			// u2's line starts a new event; empty order ids never merge;
			// merging never crosses inputs.
			name: "order merge",
			srcs: []Source{
				rdSrc("a.csv", "user_id,timestamp,order_id,qty,price,sku\n"+
					"u1,2024-01-01T10:00:00Z,o1,1,10,A\n"+
					"u1,2024-01-01T10:00:05Z,o1,2,2.5,B\n"+
					"u1,2024-01-01T10:00:09Z, o1 ,1,-3,C\n"+
					"u2,2024-01-01T11:00:00Z,o1,1,4,A\n"+
					"u1,2024-01-01T12:00:00Z,o1,1,1,A\n"+
					"u1,2024-01-01T13:00:00Z,,1,2,A\n"+
					"u1,2024-01-01T13:00:00Z,,1,2,B\n"+
					"u3,2024-01-01T14:00:00Z,o9,1,1,A\n"),
				rdSrc("b.csv", "user_id,timestamp,order_id,qty,price,sku\n"+
					"u3,2024-01-01T14:00:01Z,o9,1,1,B\n"),
			},
			m:     Mapping{EventName: "purchase", OrderCol: "order_id", QuantityCol: "qty", PriceCol: "price"},
			props: true,
			want: []Event{
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T10:00:00Z"), Amount: 12, Props: map[string]string{"sku": "A"}},
				{UserID: "u2", Name: "purchase", Time: d("2024-01-01T11:00:00Z"), Amount: 4, Props: map[string]string{"sku": "A"}},
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T12:00:00Z"), Amount: 1, Props: map[string]string{"sku": "A"}},
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T13:00:00Z"), Amount: 2, Props: map[string]string{"sku": "A"}},
				{UserID: "u1", Name: "purchase", Time: d("2024-01-01T13:00:00Z"), Amount: 2, Props: map[string]string{"sku": "B"}},
				{UserID: "u3", Name: "purchase", Time: d("2024-01-01T14:00:00Z"), Amount: 1, Props: map[string]string{"sku": "A"}},
				{UserID: "u3", Name: "purchase", Time: d("2024-01-01T14:00:01Z"), Amount: 1, Props: map[string]string{"sku": "B"}},
			},
			stats: func(t *testing.T, st ReadStats) {
				// Hand count: 9 rows, 7 events, 2 lines merged into o1's
				// first line; revenue 12+4+1+2+2+1+1 = 23.
				if st.Rows != 9 || st.Events != 7 || st.MergedLines != 2 || st.Revenue != 23 || st.Refunds != 0 {
					t.Errorf("rows %d events %d merged %d revenue %v refunds %d; want 9 7 2 23 0", st.Rows, st.Events, st.MergedLines, st.Revenue, st.Refunds)
				}
			},
		},
		{
			name:  "props keep non-empty extra columns",
			srcs:  []Source{rdSrc("p.csv", "user_id,event,timestamp,amount,country,channel\nu1,view,2024-01-01T00:00:00Z,0, NL ,\n")},
			props: true,
			want:  []Event{{UserID: "u1", Name: "view", Time: d("2024-01-01T00:00:00Z"), Props: map[string]string{"country": "NL"}}},
		},
		{
			name: "props off",
			srcs: []Source{rdSrc("p.csv", "user_id,event,timestamp,amount,country\nu1,view,2024-01-01T00:00:00Z,0,NL\n")},
			want: []Event{{UserID: "u1", Name: "view", Time: d("2024-01-01T00:00:00Z")}},
		},
		{
			name: "trim spaces and float ids kept",
			srcs: []Source{rdSrc("f.csv", rdHeader+" 17850.0 , view ,2024-01-01T00:00:00Z, 2 \n17850,view,2024-01-01T00:00:01Z,0\n")},
			want: []Event{
				{UserID: "17850.0", Name: "view", Time: d("2024-01-01T00:00:00Z"), Amount: 2},
				{UserID: "17850", Name: "view", Time: d("2024-01-01T00:00:01Z")},
			},
			stats: func(t *testing.T, st ReadStats) {
				if st.Users != 2 || st.FloatUserIDs != 1 || st.FloatUserExample != "17850.0" {
					t.Errorf("users %d, float ids %d %q; want 2, 1 17850.0", st.Users, st.FloatUserIDs, st.FloatUserExample)
				}
			},
		},
		{
			name: "user trim float",
			srcs: []Source{rdSrc("f.csv", rdHeader+"17850.00,view,2024-01-01T00:00:00Z,0\n17850,view,2024-01-01T00:00:01Z,0\n1.5,view,2024-01-01T00:00:02Z,0\n")},
			m:    Mapping{UserTrimFloat: true},
			want: []Event{
				{UserID: "17850", Name: "view", Time: d("2024-01-01T00:00:00Z")},
				{UserID: "17850", Name: "view", Time: d("2024-01-01T00:00:01Z")},
				{UserID: "1.5", Name: "view", Time: d("2024-01-01T00:00:02Z")},
			},
			stats: func(t *testing.T, st ReadStats) {
				if st.Users != 2 || st.FloatUserIDs != 1 {
					t.Errorf("users %d, float ids %d; want 2, 1", st.Users, st.FloatUserIDs)
				}
			},
		},
		{
			name: "JSON Lines values",
			srcs: []Source{rdSrc("e.ndjson",
				`{"user_id": 17850, "event": "caf\u00e9", "timestamp": 1709296496, "amount": "12.5", "vip": true, "tags": ["a", 1], "x": null}`+"\n"+
					"  \n"+
					`{"user_id":"u2","timestamp":"2024-03-01 12:34:56","amount":-3,"event":"refund","event":"return"}`+"\n")},
			props: true,
			want: []Event{
				{UserID: "17850", Name: "café", Time: d("2024-03-01T12:34:56Z"), Amount: 12.5, Props: map[string]string{"vip": "true", "tags": `["a", 1]`}},
				{UserID: "u2", Name: "return", Time: d("2024-03-01T12:34:56Z"), Amount: -3},
			},
		},
		{
			name: "JSON Lines event name fallback",
			srcs: []Source{rdSrc("-", `{"customer":"c1","ts":"2024-01-01T00:00:00Z","total":9.99}`+"\n")},
			m:    Mapping{UserCol: "customer", TimeCol: "ts", AmountCol: "total", EventName: "purchase"},
			want: []Event{{UserID: "c1", Name: "purchase", Time: d("2024-01-01T00:00:00Z"), Amount: 9.99}},
		},
		{
			name: "time format and location",
			srcs: []Source{rdSrc("eu.csv", "user_id,event,timestamp\nu1,view,31/12/2024 23:30\n")},
			m:    Mapping{TimeFormat: "02/01/2006 15:04", Location: time.FixedZone("CET", 3600)},
			want: []Event{{UserID: "u1", Name: "view", Time: d("2024-12-31T22:30:00Z")}},
			stats: func(t *testing.T, st ReadStats) {
				if st.Sources[0].NoAmount != "amount" {
					t.Errorf("NoAmount = %q, want amount", st.Sources[0].NoAmount)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st, err := rdRead(t, &ReadOptions{Mapping: tt.m, KeepProps: tt.props}, tt.srcs...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(evs, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", evs, tt.want)
			}
			if tt.stats != nil {
				tt.stats(t, st)
			}
		})
	}
}

func TestReadMissingColumn(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		m     Mapping
		line  int64
		field string
	}{
		{"user", "id,event,timestamp\nu1,v,2024-01-01\n", Mapping{}, 1, "user_id"},
		{"time after blank lines", "\n\nuser_id,event,ts\n", Mapping{}, 3, "timestamp"},
		{"event without event name", "user_id,timestamp\n", Mapping{}, 1, "event"},
		{"quantity", "user_id,timestamp,price\n", Mapping{EventName: "buy", QuantityCol: "qty", PriceCol: "price"}, 1, "qty"},
		{"order", "user_id,timestamp\n", Mapping{EventName: "buy", OrderCol: "order_id"}, 1, "order_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := rdRead(t, &ReadOptions{Mapping: tt.m}, rdSrc("in.csv", tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMissingColumn) {
				t.Fatalf("err = %v, want a *ParseError wrapping ErrMissingColumn", err)
			}
			if pe.File != "in.csv" || pe.Line != tt.line || pe.Field != tt.field {
				t.Errorf("error at %s:%d field %q, want in.csv:%d field %q", pe.File, pe.Line, pe.Field, tt.line, tt.field)
			}
		})
	}
}

// Money and time statistics, checked by hand.
func TestReadStatsMoneyAndAsOf(t *testing.T) {
	in := rdHeader +
		"a,buy,2024-01-01T00:00:00Z,10\n" +
		"a,refund,2024-01-02T00:00:00Z,-4\n" +
		"b,view,2024-01-03T00:00:00Z,0\n" +
		"b,refund,2024-02-01T00:00:00Z,-1.5\n" +
		"c,buy,2024-02-01T00:00:01Z,0.25\n"
	asOf := rdTime("2024-02-01T00:00:00Z")
	_, st, err := rdRead(t, &ReadOptions{AsOf: asOf}, rdSrc("in.csv", in))
	if err != nil {
		t.Fatal(err)
	}
	// Revenue 10 + 0.25; refunds 4 + 1.5; events at or after 2024-02-01: 2.
	if st.Revenue != 10.25 || st.Refunds != 2 || st.RefundTotal != 5.5 || st.AfterAsOf != 2 || st.Users != 3 {
		t.Errorf("revenue %v refunds %d (%v) after as-of %d users %d; want 10.25 2 (5.5) 2 3", st.Revenue, st.Refunds, st.RefundTotal, st.AfterAsOf, st.Users)
	}
	if !st.MinTime.Equal(rdTime("2024-01-01T00:00:00Z")) || !st.MaxTime.Equal(rdTime("2024-02-01T00:00:01Z")) {
		t.Errorf("time range %v .. %v", st.MinTime, st.MaxTime)
	}
	if want := map[string]int64{"buy": 2, "refund": 2, "view": 1}; !reflect.DeepEqual(st.EventTypes, want) {
		t.Errorf("event types %v, want %v", st.EventTypes, want)
	}
}

func rdGzip(t testing.TB, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Several inputs of different formats, gzip by content, stdin, sniffing.
func TestReadFormats(t *testing.T) {
	csv := rdHeader + "u1,view,2024-01-01T00:00:00Z,1\n"
	tsv := "user_id\tevent\ttimestamp\tamount\nu2\t\"a\tb\"\t2024-01-02T00:00:00Z\t2\n"
	jsonl := `{"user_id":"u3","event":"view","timestamp":"2024-01-03T00:00:00Z","amount":3}` + "\n"
	ws := "user_id event timestamp amount\nu4 view 2024-01-04 4\n"
	srcs := []Source{
		rdSrc("a.csv", csv),
		{Name: "b.tsv.gz", R: bytes.NewReader(rdGzip(t, tsv))},
		{Name: "-", R: bytes.NewReader(rdGzip(t, jsonl))}, // stdin, gzip and format sniffed
		rdSrc("d.txt", ws),
		rdSrc("e.txt", tsv),
		rdSrc("f", csv),
		{Name: "g.csv.gz", R: strings.NewReader(csv)}, // .gz name, plain content
	}
	evs, st, err := rdRead(t, nil, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s/%s/%v", e.UserID, e.Name, e.Amount))
	}
	// e.txt, f and g.csv.gz repeat earlier rows: duplicates, dropped.
	want := []string{"u1/view/1", "u2/a\tb/2", "u3/view/3", "u4/view/4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	var formats []string
	for _, s := range st.Sources {
		formats = append(formats, fmt.Sprintf("%s:%s:%v", s.Name, s.Format, s.Gzip))
	}
	wantF := []string{"a.csv:csv:false", "b.tsv.gz:tsv:true", "-:jsonl:true", "d.txt:ws:false", "e.txt:tsv:false", "f:csv:false", "g.csv.gz:csv:false"}
	if !reflect.DeepEqual(formats, wantF) {
		t.Errorf("formats %v, want %v", formats, wantF)
	}
	// Duplicates across inputs (the auto rule, times of day) were dropped:
	// u1's row three times, u2's twice.
	if st.DuplicatesDropped != 3 || st.Users != 4 {
		t.Errorf("duplicates dropped %d, users %d; want 3, 4", st.DuplicatesDropped, st.Users)
	}

	// Format forces one format on every input.
	evs, _, err = rdRead(t, &ReadOptions{Format: "csv"}, rdSrc("data.json", csv))
	if err != nil || len(evs) != 1 {
		t.Errorf("forced csv: %d events, %v", len(evs), err)
	}
}

func TestSniffFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", FormatCSV},
		{"\n  \n{\"a\":1}", FormatJSONL},
		{"a,b\tc,d", FormatCSV},
		{"a\tb\tc", FormatTSV},
		{`"x,y"` + "\tb", FormatTSV},
		{" customer_id  date\r\n", FormatWS},
		{"user_id", FormatCSV},
	}
	for _, tt := range tests {
		if got := sniffFormat([]byte(tt.in)); got != tt.want {
			t.Errorf("sniffFormat(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadMaxBadRows(t *testing.T) {
	// 100 data rows; rows 10 and 50 (lines 11 and 51) have a bad time.
	var b strings.Builder
	b.WriteString(rdHeader)
	for i := 1; i <= 100; i++ {
		ts := fmt.Sprintf("2024-01-01T00:00:%02dZ", i%60)
		if i == 10 || i == 50 {
			ts = "never"
		}
		fmt.Fprintf(&b, "u%d,view,%s,0\n", i, ts)
	}
	in := b.String()
	tests := []struct {
		name   string
		limit  float64
		fail   bool
		early  bool
		events int   // events returned before the end or the error
		rows   int64 // rows read when the error came
	}{
		{"default 1% of 100 is 1", 0, true, false, 98, 100},
		{"fraction 2%", 0.02, false, false, 98, 100},
		{"count 2", 2, false, false, 98, 100},
		{"count 1 stops at the second bad row", 1, true, true, 48, 50},
		{"count 1.9 rounds down", 1.9, true, true, 48, 50},
		{"negative allows none", -1, true, true, 9, 10},
		{"infinity allows all", math.Inf(1), false, false, 98, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st, err := rdRead(t, &ReadOptions{MaxBadRows: tt.limit}, rdSrc("in.csv", in))
			if len(evs) != tt.events || st.Rows != tt.rows {
				t.Errorf("events %d rows %d, want %d %d", len(evs), st.Rows, tt.events, tt.rows)
			}
			if !tt.fail {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var te *TooManyBadRowsError
			if !errors.As(err, &te) || !errors.Is(err, ErrTooManyBadRows) {
				t.Fatalf("err = %v, want *TooManyBadRowsError", err)
			}
			if te.Early != tt.early || te.Rows != tt.rows || te.Limit != tt.limit {
				t.Errorf("error %+v, want early %v rows %d limit %v", te, tt.early, tt.rows, tt.limit)
			}
			msg := err.Error()
			for _, part := range []string{"unparsable timestamp", `in.csv:11: timestamp: unparsable timestamp: "never"`, "--max-bad-rows"} {
				if !strings.Contains(msg, part) {
					t.Errorf("message %q lacks %q", msg, part)
				}
			}
		})
	}
}

func TestTooManyBadRowsMessage(t *testing.T) {
	e := &TooManyBadRowsError{
		Bad: 1500, Rows: 100000, Limit: 0,
		ByReason: map[error]int64{ErrBadTime: 1000, ErrMissingUser: 500},
		Examples: []*ParseError{
			{File: "a.csv", Line: 3, Field: "ts", Err: ErrBadTime},
			{File: "a.csv", Line: 9, Field: "user_id", Err: ErrMissingUser},
		},
	}
	want := "features: too many bad rows: 1,500 of 100,000 rows rejected (1.50%), above the limit of 1% (the default); " +
		"by reason: unparsable timestamp 1,000, missing user id 500; first: a.csv:3: ts: unparsable timestamp; a.csv:9: user_id: missing user id; " +
		"fix the input or the column mapping, or raise the limit with --max-bad-rows (a fraction such as 0.05 or a row count such as 500)"
	if got := e.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A record over 8 MiB is one bad row, skipped without being kept.
func TestReadLongLine(t *testing.T) {
	in := rdHeader + "u1,view,2024-01-01T00:00:00Z," + strings.Repeat("9", maxRecordBytes+10) + "\nu2,view,2024-01-01T00:00:00Z,1\n"
	evs, st, err := rdRead(t, &ReadOptions{MaxBadRows: 1}, rdSrc("in.csv", in))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].UserID != "u2" || st.BadByReason[ErrSyntax] != 1 {
		t.Fatalf("events %+v, bad %v", evs, st.BadByReason)
	}
	if got, want := st.Examples[0].Error(), "in.csv:2: syntax error: record longer than 8 MiB"; got != want {
		t.Errorf("example %q, want %q", got, want)
	}
}

type rdFailReader struct {
	data string
	err  error
}

func (f *rdFailReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadInputErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	_, _, err := rdRead(t, nil, Source{Name: "x.csv", R: &rdFailReader{data: rdHeader + "u1,view,2024-01-01T00:00:00Z,1\n", err: boom}})
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInput) || !errors.Is(err, boom) || pe.File != "x.csv" || pe.Line != 2 {
		t.Errorf("err = %v, want x.csv:2 wrapping ErrInput and the cause", err)
	}
	// A gzip stream cut in the middle.
	z := rdGzip(t, strings.Repeat(rdHeader, 200))
	_, _, err = rdRead(t, nil, Source{Name: "y.csv.gz", R: bytes.NewReader(z[:len(z)/2])})
	if !errors.Is(err, ErrInput) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated gzip: err = %v, want ErrInput wrapping io.ErrUnexpectedEOF", err)
	}
	// gzip magic bytes without a valid header.
	_, _, err = rdRead(t, nil, Source{Name: "z.gz", R: strings.NewReader("\x1f\x8bnot gzip")})
	if !errors.Is(err, ErrInput) {
		t.Errorf("bad gzip header: err = %v, want ErrInput", err)
	}
}

func TestReadEmptyInputs(t *testing.T) {
	evs, st, err := rdRead(t, nil, rdSrc("empty.csv", ""), rdSrc("header.csv", rdHeader), rdSrc("blank.jsonl", "\n\n"))
	if err != nil || len(evs) != 0 || st.Rows != 0 || len(st.Sources) != 3 || st.Lines != 3 {
		t.Errorf("events %d rows %d sources %d lines %d err %v; want 0 0 3 3 nil", len(evs), st.Rows, len(st.Sources), st.Lines, err)
	}
}

func TestReadCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := NewReader(ctx, []Source{{Name: "g.csv", R: newRdGen(100_000, false)}}, &ReadOptions{Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	n := 0
	for ; ; n++ {
		if n == 10 {
			cancel()
		}
		if err = r.Read(&e); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) || n > 4096 {
		t.Errorf("after %d events err = %v, want context.Canceled within 4,096 rows", n, err)
	}
}

// Progress prints at most every 500 ms of the reader's clock. The fake
// clock advances 300 ms per call: NewReader reads it once (t0), the tick
// every 16,384 rows reads it, and so does the refresh of the clock-skew
// horizon every 65,536 rows (just before that tick). Hand trace for 70,000
// rows: tick 16,384 at 300 ms (too soon), 32,768 at 600 ms (prints 54,613
// rows/s = 32,768/0.6), 49,152 at 900 ms (300 ms after the last print:
// skipped), horizon at 1,200 ms, 65,536 at 1,500 ms (prints 43,690 rows/s),
// end at 1,800 ms (prints 70,000/1.8 = 38,888 rows/s and a newline).
func TestReadProgress(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	clock := func() time.Time {
		tm := t0.Add(time.Duration(calls) * 300 * time.Millisecond)
		calls++
		return tm
	}
	var out bytes.Buffer
	r, err := NewReader(context.Background(), []Source{{Name: "g.csv", R: newRdGen(70_000, false)}}, &ReadOptions{Now: clock, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if n := rdDrain(t, r); n != 70_000 {
		t.Fatalf("read %d", n)
	}
	want := "\rreading events: 32,768 rows, 54,613 rows/s " +
		"\rreading events: 65,536 rows, 43,690 rows/s " +
		"\rreading events: 70,000 rows, 38,888 rows/s \n"
	if out.String() != want {
		t.Errorf("progress %q\nwant     %q", out.String(), want)
	}
}

func TestReadOptionsValidate(t *testing.T) {
	o := &ReadOptions{
		Format:     "xml",
		Dedupe:     "maybe",
		MaxBadRows: math.NaN(),
		Mapping:    Mapping{QuantityCol: "q", OrderCol: "user_id"},
	}
	err := o.Validate()
	if !errors.Is(err, ErrReadOptions) {
		t.Fatalf("err = %v", err)
	}
	for _, part := range []string{`Format "xml"`, `Dedupe "maybe"`, "MaxBadRows is NaN", `QuantityCol "q" and PriceCol ""`, `UserCol and OrderCol both name column "user_id"`} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%v lacks %q", err, part)
		}
	}
	if _, err := NewReader(context.Background(), nil, o); !errors.Is(err, ErrReadOptions) {
		t.Errorf("NewReader: err = %v", err)
	}
	if err := (*ReadOptions)(nil).Validate(); err != nil {
		t.Errorf("nil options: %v", err)
	}
}

func TestOpenSources(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(a, []byte(rdHeader+"u1,view,2024-01-01T00:00:00Z,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.jsonl.gz")
	if err := os.WriteFile(b, rdGzip(t, `{"user_id":"u2","event":"view","timestamp":"2024-01-01T00:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader("user_id\tevent\ttimestamp\nu3\tview\t2024-01-01\n")
	srcs, closeAll, err := OpenSources([]string{a, b, "-"}, stdin)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := rdRead(t, nil, srcs...)
	if err != nil || len(evs) != 3 {
		t.Errorf("events %d, err %v", len(evs), err)
	}
	if err := closeAll(); err != nil {
		t.Error(err)
	}
	if _, _, err := OpenSources([]string{a, filepath.Join(dir, "missing.csv")}, nil); !errors.Is(err, ErrInput) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestParseAmount(t *testing.T) {
	// Every value is compared with strconv.ParseFloat, the reference.
	for _, s := range []string{"0", "1", "-1", "+2.5", "12.34", ".5", "5.", "007", "123456789012345", "0.000000000000001",
		"999999999999999", "1234567890123456", "1e3", "-0", "0.1", "0.3", "2.675", "1_000"} {
		got, ok := parseAmount([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseAmount(%q) = %v, %v; strconv says %v, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"NaN", "Inf", "-inf", "1e400", "abc", "1.2.3", "-", "."} {
		if v, ok := parseAmount([]byte(s)); ok {
			t.Errorf("parseAmount(%q) = %v, want rejected", s, v)
		}
	}
}

// CDNOW, the BTYD reference data (../../shared/data/cdnow/README.md): 69,659
// rows, 23,570 customers, revenue 2,500,315.63 with 80 rows of 0.00 and no
// refunds, dates 1997-01-01..1998-06-30. Duplicates counted here with
// Python (collections.Counter over the split rows): 255 rows repeat an
// earlier row exactly (215 distinct rows occur more than once); all are
// date-only, so the auto rule keeps them.
func TestReadCDNOW(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "cdnow")
	tests := []struct {
		file string
		m    Mapping
	}{
		{"CDNOW_master.txt", Mapping{UserCol: "customer_id", TimeCol: "date", AmountCol: "dollar_value", EventName: "purchase"}},
		{"cdnow_master_events.csv", Mapping{UserCol: "customer_id", TimeCol: "date", EventCol: "event_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("CDNOW data absent: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			evs, st, err := rdRead(t, &ReadOptions{Mapping: tt.m, MaxBadRows: -1}, Source{Name: tt.file, R: f})
			if err != nil {
				t.Fatal(err)
			}
			zero := 0
			for _, e := range evs {
				if e.Amount == 0 {
					zero++
				}
			}
			if st.Rows != 69659 || st.Events != 69659 || st.Users != 23570 || st.Bad != 0 || zero != 80 {
				t.Errorf("rows %d events %d users %d bad %d zero %d; want 69,659 69,659 23,570 0 80", st.Rows, st.Events, st.Users, st.Bad, zero)
			}
			if math.Abs(st.Revenue-2500315.63) > 0.005 || st.Refunds != 0 {
				t.Errorf("revenue %.4f refunds %d; want 2,500,315.63 and 0", st.Revenue, st.Refunds)
			}
			if !st.MinTime.Equal(rdTime("1997-01-01T00:00:00Z")) || !st.MaxTime.Equal(rdTime("1998-06-30T00:00:00Z")) {
				t.Errorf("dates %v .. %v", st.MinTime, st.MaxTime)
			}
			if st.DuplicatesKept != 255 || st.DuplicatesDropped != 0 {
				t.Errorf("duplicates kept %d dropped %d; want 255 and 0", st.DuplicatesKept, st.DuplicatesDropped)
			}
			if st.EventTypes["purchase"] != 69659 {
				t.Errorf("event types %v", st.EventTypes)
			}
		})
	}
}

// ExampleNewReader reads an order-line export without an event column:
// amount = quantity × price, lines of one order merged, one bad row counted.
func ExampleNewReader() {
	in := "customer,ordered_at,order_no,qty,unit_price\n" +
		"c1,2024-03-01 10:00,A1,2,4.50\n" +
		"c1,2024-03-01 10:00,A1,1,1.00\n" +
		"c2,yesterday,A2,1,3.00\n" +
		"c2,2024-03-02 09:30,A3,-1,3.00\n"
	opts := &ReadOptions{
		Mapping: Mapping{
			UserCol: "customer", TimeCol: "ordered_at", EventName: "purchase",
			OrderCol: "order_no", QuantityCol: "qty", PriceCol: "unit_price",
		},
		MaxBadRows: 1, // one bad row is fine
		Now:        func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	r, err := NewReader(context.Background(), []Source{{Name: "orders.csv", R: strings.NewReader(in)}}, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		var e Event
		err := r.Read(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.UserID, e.Name, e.Time.Format(time.RFC3339), e.Amount)
	}
	st := r.Stats()
	fmt.Println("rows", st.Rows, "events", st.Events, "merged", st.MergedLines, "refunds", st.Refunds, "bad", st.Bad)
	fmt.Println(st.Examples[0])
	// Output:
	// c1 purchase 2024-03-01T10:00:00Z 10
	// c2 purchase 2024-03-02T09:30:00Z -3
	// rows 4 events 2 merged 1 refunds 1 bad 1
	// orders.csv:4: ordered_at: unparsable timestamp: "yesterday"
}

// A stdin stream is sniffed and read line by line: the first event comes
// before the writer closes the stream.
func TestReadStreamingStdin(t *testing.T) {
	pr, pw := io.Pipe()
	r, err := NewReader(context.Background(), []Source{{Name: "-", R: pr}}, &ReadOptions{Now: rdNow})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	var e Event
	go func() { got <- r.Read(&e) }()
	if _, err := pw.Write([]byte("user_id\tevent\ttimestamp\nu1\tview\t2024-01-01T00:00:00Z\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil || e.UserID != "u1" {
			t.Fatalf("first event %+v, %v", e, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event waited for more input than its line")
	}
	pw.Close()
	if err := r.Read(&e); err != io.EOF {
		t.Errorf("after close: %v, want io.EOF", err)
	}
	if f := r.Stats().Sources[0].Format; f != FormatTSV {
		t.Errorf("format %q, want tsv", f)
	}
}

// EventIndex numbers users and names in order of first appearance among
// the events returned; a merged order keeps the index of its first line,
// and dropped or rejected rows take no index.
func TestReadEventIndex(t *testing.T) {
	in := "user_id,event,timestamp,order_id,amount\n" +
		"b,view,2024-01-01T00:00:00Z,,0\n" + // b=0 view=0
		",view,2024-01-01T00:00:01Z,,0\n" + // rejected: no user
		"a,buy,2024-01-01T00:00:02Z,o1,5\n" + // a=1 buy=1, merged with the next line
		"a,buy,2024-01-01T00:00:03Z,o1,6\n" +
		"b,view,2024-01-01T00:00:00Z,,0\n" + // duplicate, dropped
		"c,view,2024-01-01T00:00:04Z,,0\n" + // c=2
		"b,buy,2024-01-01T00:00:05Z,o2,1\n" // b=0 buy=1
	r, err := NewReader(context.Background(), []Source{rdSrc("in.csv", in)}, &ReadOptions{Now: rdNow, MaxBadRows: math.Inf(1), Mapping: Mapping{OrderCol: "order_id"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		user, name string
		ui, ni     int
		amount     float64
	}{
		{"b", "view", 0, 0, 0},
		{"a", "buy", 1, 1, 11},
		{"c", "view", 2, 0, 0},
		{"b", "buy", 0, 1, 1},
	}
	var e Event
	for i, w := range want {
		if err := r.Read(&e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		ui, ni := r.EventIndex()
		if e.UserID != w.user || e.Name != w.name || ui != w.ui || ni != w.ni || e.Amount != w.amount {
			t.Errorf("event %d = %s/%s %v at (%d, %d), want %s/%s %v at (%d, %d)", i, e.UserID, e.Name, e.Amount, ui, ni, w.user, w.name, w.amount, w.ui, w.ni)
		}
	}
	if err := r.Read(&e); err != io.EOF {
		t.Errorf("after the last event: %v", err)
	}
}

// The reader's cache of recent users keys ids by their length and last 8
// bytes: ids that share those (here the same 15 bytes but the first) must
// still be told apart, and short ids alike.
func TestReadUserCache(t *testing.T) {
	ids := []string{"a-user-00000001", "b-user-00000001", "a-user-00000001", "u1", "1u", "b-user-00000001", "u1", "c-user-00000001", "1u"}
	want := []int{0, 1, 0, 2, 3, 1, 2, 4, 3}
	if userKey([]byte(ids[0])) != userKey([]byte(ids[1])) {
		t.Fatal("the test ids do not share a key")
	}
	var b strings.Builder
	b.WriteString(rdHeader)
	for i, id := range ids {
		fmt.Fprintf(&b, "%s,view,2024-01-01T00:00:%02dZ,0\n", id, i)
	}
	r, err := NewReader(context.Background(), []Source{rdSrc("in.csv", b.String())}, &ReadOptions{Now: rdNow})
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	for i, id := range ids {
		if err := r.Read(&e); err != nil {
			t.Fatal(err)
		}
		if u, _ := r.EventIndex(); e.UserID != id || u != want[i] {
			t.Errorf("row %d: user %q index %d, want %q %d", i, e.UserID, u, id, want[i])
		}
	}
	if st := r.Stats(); st.Users != 5 {
		t.Errorf("%d users, want 5", st.Users)
	}
}
