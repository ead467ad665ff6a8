package features

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz tests for the event decoders. Run one with, e.g.,
//
//	go test ./features/ -run '^$' -fuzz FuzzReadCSV -fuzztime 30s
//
// Crashers land in testdata/fuzz/FuzzX/ and are replayed by plain go test.

// rdFuzzOpts reads everything: no bad-row limit, no dedupe (so a round
// trip keeps every event), a clock far in the future.
func rdFuzzOpts(format string) *ReadOptions {
	return &ReadOptions{
		Format:     format,
		MaxBadRows: math.Inf(1),
		Dedupe:     DedupeOff,
		KeepProps:  true,
		Now:        func() time.Time { return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
}

// rdFuzzRead reads data and checks what holds for any input: no panic,
// only located errors, consistent statistics, sane events.
func rdFuzzRead(t *testing.T, name string, data []byte, opts *ReadOptions) ([]Event, ReadStats, error) {
	t.Helper()
	r, err := NewReader(context.Background(), []Source{{Name: name, R: bytes.NewReader(data)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for {
		var e Event
		err := r.Read(&e)
		if err == nil {
			if e.UserID == "" || e.UserID != string(trimSpace([]byte(e.UserID))) || e.Name == "" ||
				e.Time.Location() != time.UTC || e.Time.Before(minEventTime) || e.Time.After(maxEventTime) ||
				math.IsNaN(e.Amount) || math.Abs(e.Amount) > maxAmount {
				t.Fatalf("bad event %+v", e)
			}
			evs = append(evs, e)
			continue
		}
		st := r.Stats()
		checkStatsInvariant(t, st)
		for _, ex := range st.Examples {
			if ex.File != name || ex.Line < 1 || ex.Line > st.Lines || !isRowReason(ex.Err) {
				t.Fatalf("example %v (lines %d) is not a located row error", ex, st.Lines)
			}
		}
		if err == io.EOF {
			return evs, st, nil
		}
		// The other errors: a bad header, located at its line, or input
		// that starts like gzip but is not, located at the lines read
		// before the failure (0 for a bad gzip header).
		var pe *ParseError
		header := errors.Is(err, ErrMissingColumn) || errors.Is(err, ErrSyntax)
		if !errors.As(err, &pe) || pe.File != name || !(header && pe.Line >= 1 || errors.Is(err, ErrInput) && pe.Line >= 0 && data[0] == 0x1f) {
			t.Fatalf("error %v is neither io.EOF nor a located header or input error", err)
		}
		return evs, st, err
	}
}

func isRowReason(err error) bool {
	for _, r := range []error{ErrMissingUser, ErrMissingEvent, ErrBadTime, ErrBadAmount, ErrFieldCount, ErrFutureTime, ErrSyntax} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// rdSame compares events read back after a round trip (Props aside).
func rdSame(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("round trip: %d events, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.UserID != w.UserID || g.Name != w.Name || !g.Time.Equal(w.Time) || g.Amount != w.Amount {
			t.Fatalf("round trip event %d = %+v, want %+v", i, g, w)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		rdHeader + "u1,view,2024-01-01T00:00:00Z,1.5\n",
		rdHeader + "u1,\"a \"\"quoted\"\"\nname\",2024-01-01 10:00,-2\r\nu2,b,1709296496,\n",
		rdHeader + "\n,view,2024-13-01,x\nu1,v\n\"open",
		"user_id,timestamp\nu1,2024-01-01\n",
		"\xef\xbb\xbfuser_id,event,timestamp,amount,extra\n 17850.0 ,view,3/1/2024 8:26,1e3,\"x,y\"\n",
		"a,\"b\nc",
		"\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The splitter agrees with encoding/csv wherever encoding/csv
		// accepts the whole input.
		for _, comma := range []byte{',', '\t'} {
			rdCompareCSV(t, data, comma)
		}
		evs, _, err := rdFuzzRead(t, "fuzz.csv", data, rdFuzzOpts(FormatCSV))
		if err != nil {
			return
		}
		// Round trip: write the events with encoding/csv and read them back.
		// A name with "\r\n" inside cannot survive (encoding/csv turns it
		// into "\n" on reading), so such inputs stop here.
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{"user_id", "event", "timestamp", "amount"})
		for _, e := range evs {
			if strings.Contains(e.UserID, "\r") || strings.Contains(e.Name, "\r") {
				return
			}
			w.Write([]string{e.UserID, e.Name, e.Time.Format(time.RFC3339Nano), strconv.FormatFloat(e.Amount, 'g', -1, 64)})
		}
		w.Flush()
		back, st, err := rdFuzzRead(t, "back.csv", buf.Bytes(), rdFuzzOpts(FormatCSV))
		if err != nil || st.Bad != 0 {
			t.Fatalf("round trip: err %v, bad %d %v\n%s", err, st.Bad, st.Examples, buf.Bytes())
		}
		rdSame(t, back, evs)
	})
}

// newBufReader uses bufio's smallest buffer, so lines longer than it take
// the lineReader's long-line path.
func newBufReader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 16) }

// rdCompareCSV checks csvSplitter against encoding/csv on data.
func rdCompareCSV(t *testing.T, data []byte, comma byte) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = rune(comma)
	cr.FieldsPerRecord = -1
	want, err := cr.ReadAll()
	if err != nil {
		return
	}
	lr := lineReader{br: newBufReader(data)}
	sp := csvSplitter{comma: comma}
	var got [][]string
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil || tooLong {
			t.Fatalf("line reader: %v %v", err, tooLong)
		}
		if len(line) == 0 {
			continue
		}
		fields, cerr, err := sp.split(line, &lr)
		if err != nil || cerr != nil {
			t.Fatalf("encoding/csv accepts %q, the splitter fails: %v %+v", data, err, cerr)
		}
		rec := make([]string, len(fields))
		for i, f := range fields {
			rec[i] = string(f)
		}
		got = append(got, rec)
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q (comma %q):\nsplitter    %q\nencoding/csv %q", data, comma, got, want)
	}
}

func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"u1","event":"view","timestamp":"2024-01-01T00:00:00Z","amount":1.5}` + "\n",
		`{"user_id":17850,"event":"caf\u00e9","timestamp":1709296496,"amount":"-2","p":{"a":[1,2]},"q":null,"r":true}` + "\r\n\n",
		`{"user_id":"u1",` + "\n" + `[1]` + "\n" + `{"user_id":"u1","event":"","timestamp":"x"}`,
		`{"user_id":"\ud800","event":"\"","timestamp":"20240101","event":"e"}`,
		"{\"a\":\"\xff\"}",
		`{"user_id":"u","event":"e","timestamp":"2024-01-01","amount":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The scanner agrees with encoding/json on every line.
		var js jsonScanner
		for _, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			rdCompareJSON(t, &js, line)
		}
		evs, _, err := rdFuzzRead(t, "fuzz.jsonl", data, rdFuzzOpts(FormatJSONL))
		if err != nil {
			if !errors.Is(err, ErrInput) { // JSON Lines has no header
				t.Fatalf("JSON Lines: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		for _, e := range evs {
			b, err := json.Marshal(map[string]any{"user_id": e.UserID, "event": e.Name, "timestamp": e.Time.Format(time.RFC3339Nano), "amount": e.Amount})
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(b, '\n'))
		}
		back, st, err := rdFuzzRead(t, "back.jsonl", buf.Bytes(), rdFuzzOpts(FormatJSONL))
		if err != nil || st.Bad != 0 {
			t.Fatalf("round trip: err %v, bad %d %v\n%s", err, st.Bad, st.Examples, buf.Bytes())
		}
		rdSame(t, back, evs)
	})
}

// rdCompareJSON checks the scanner against encoding/json on one line.
func rdCompareJSON(t *testing.T, js *jsonScanner, line []byte) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var want map[string]any
	werr := dec.Decode(&want)
	if werr == nil {
		// Decode stops after the first value; Unmarshal would reject the rest.
		var rest any
		if dec.Decode(&rest) != io.EOF {
			werr = errors.New("data after the value")
		}
	}
	trimmed := bytes.TrimLeft(line, " \t\r")
	isObject := werr == nil && len(trimmed) > 0 && trimmed[0] == '{'
	fields, msg := js.scan(line)
	if !isObject {
		if msg == "" {
			t.Fatalf("scanner accepts %q, encoding/json: %v", line, werr)
		}
		return
	}
	if msg != "" {
		t.Fatalf("encoding/json accepts %q, the scanner says %s", line, msg)
	}
	got := map[string]any{}
	for _, f := range fields {
		var v any
		switch f.kind {
		case jsString:
			v = string(f.val)
		case jsNumber:
			v = json.Number(f.val)
		case jsTrue:
			v = true
		case jsFalse:
			v = false
		case jsNull:
			v = nil
		case jsNested:
			d := json.NewDecoder(bytes.NewReader(f.val))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatalf("nested %q: %v", f.val, err)
			}
		}
		got[string(f.key)] = v
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("line %q:\nscanner      %#v\nencoding/json %#v", line, got, want)
	}
}

// goLayouts are the auto-detected forms that Go can also parse: where
// time.Parse accepts a value with one of them, ParseTime must agree.
var goLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
	"20060102", "1/2/2006", "1/2/2006 15:04", "1/2/2006 15:04:05",
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2024-03-01T12:34:56Z", "2024-03-01T12:34:56.123456789+02:00", "2024-03-01 12:34", "2024-03-01",
		"20240301", "3/1/2024 8:26", "12/31/2024 23:59:59", "1709296496", "1709296496123.5", "0", "-1.5",
		"2024-02-30", "2024-03-01T24:00:00Z", "9999-12-31T23:59:59-23:59", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, "", nil)
		if err != nil {
			if !errors.Is(err, ErrBadTime) {
				t.Fatalf("ParseTime(%q): error %v does not wrap ErrBadTime", s, err)
			}
		} else {
			if got.Location() != time.UTC {
				t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
			}
			// Round trip through RFC 3339.
			back, err := ParseTime(got.Format(time.RFC3339Nano), "", nil)
			if got.Year() >= 1 && got.Year() <= 9999 && (err != nil || !back.Equal(got)) {
				t.Fatalf("ParseTime(%q) = %v; its RFC 3339 form reads back as %v, %v", s, got, back, err)
			}
		}
		for _, layout := range goLayouts {
			ref, rerr := time.Parse(layout, s)
			if rerr != nil || ref.Year() < 1 || rdOddZone(ref) {
				continue
			}
			if err != nil || !got.Equal(ref) {
				t.Fatalf("time.Parse(%q, %q) = %v, ParseTime = %v, %v", layout, s, ref, got, err)
			}
		}
		// Explicit unix seconds agree with strconv.ParseFloat (1 µs
		// tolerance plus float64 rounding of the reference itself).
		if u, err := ParseTime(s, "unix", nil); err == nil {
			v, ferr := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
			d := float64(u.Unix()) + float64(u.Nanosecond())/1e9
			if ferr != nil || math.Abs(v-d) > 1e-6+1e-15*math.Abs(v) {
				t.Fatalf("ParseTime(%q, unix) = %v (%v s), strconv says %v, %v", s, u, d, v, ferr)
			}
		}
	})
}

// rdOddZone reports offsets RFC 3339 does not allow but time.Parse accepts
// (hours up to 24, minutes up to 60): ParseTime rejects those on purpose.
func rdOddZone(t time.Time) bool {
	_, off := t.Zone()
	if off < 0 {
		off = -off
	}
	return off >= 24*3600
}
