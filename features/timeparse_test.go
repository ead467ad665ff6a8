package features

import (
	"errors"
	"testing"
	"time"
)

// The expected instants are built with time.Date, independently of the
// parser's own civil arithmetic; the unix ones were checked with Python:
// datetime.fromtimestamp(1709296496, timezone.utc) = 2024-03-01 12:34:56+00:00,
// and fromtimestamp(1e8) = 1973-03-03 09:46:40, fromtimestamp(1e11-1) =
// 5138-11-16 09:46:39 for the auto-detection bounds.
func TestParseTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	ref := utc(2024, 3, 1, 12, 34, 56, 0)
	tests := []struct {
		name   string
		in     string
		layout string
		loc    *time.Location
		want   time.Time
		clock  bool
		bad    bool
	}{
		{name: "RFC3339 Z", in: "2024-03-01T12:34:56Z", want: ref, clock: true},
		{name: "RFC3339 nanos", in: "2024-03-01T12:34:56.123456789Z", want: utc(2024, 3, 1, 12, 34, 56, 123456789), clock: true},
		{name: "RFC3339 10 fraction digits truncated", in: "2024-03-01T12:34:56.1234567891Z", want: utc(2024, 3, 1, 12, 34, 56, 123456789), clock: true},
		{name: "RFC3339 millis comma", in: "2024-03-01T12:34:56,5Z", want: utc(2024, 3, 1, 12, 34, 56, 5e8), clock: true},
		{name: "RFC3339 offset", in: "2024-03-01T12:34:56+02:00", want: utc(2024, 3, 1, 10, 34, 56, 0), clock: true},
		{name: "offset without colon", in: "2024-03-01T12:34:56-0530", want: utc(2024, 3, 1, 18, 4, 56, 0), clock: true},
		{name: "offset hours only", in: "2024-03-01 12:34:56+01", want: utc(2024, 3, 1, 11, 34, 56, 0), clock: true},
		{name: "zone wins over location", in: "2024-03-01T12:34:56Z", loc: ny, want: ref, clock: true},
		{name: "lowercase t and z", in: "2024-03-01t12:34:56z", want: ref, clock: true},
		{name: "no zone is UTC", in: "2024-03-01T12:34:56", want: ref, clock: true},
		{name: "no zone in location", in: "2024-03-01T12:34:56", loc: ny, want: utc(2024, 3, 1, 17, 34, 56, 0), clock: true},
		{name: "no zone in location DST", in: "2024-07-01T12:34:56", loc: ny, want: utc(2024, 7, 1, 16, 34, 56, 0), clock: true},
		{name: "space separator", in: "2024-03-01 12:34:56", want: ref, clock: true},
		{name: "space separator fraction", in: "2024-03-01 12:34:56.25", want: utc(2024, 3, 1, 12, 34, 56, 25e7), clock: true},
		{name: "no seconds", in: "2024-03-01 12:34", want: utc(2024, 3, 1, 12, 34, 0, 0), clock: true},
		{name: "one-digit hour", in: "2024-03-01 8:05:00", want: utc(2024, 3, 1, 8, 5, 0, 0), clock: true},
		{name: "midnight keeps its clock", in: "2024-03-01T00:00:00Z", want: utc(2024, 3, 1, 0, 0, 0, 0), clock: true},
		{name: "date", in: "2024-03-01", want: utc(2024, 3, 1, 0, 0, 0, 0)},
		{name: "date in location", in: "2024-03-01", loc: ny, want: utc(2024, 3, 1, 5, 0, 0, 0)},
		{name: "leap day", in: "2024-02-29", want: utc(2024, 2, 29, 0, 0, 0, 0)},
		{name: "year 1", in: "0001-01-01T00:00:00Z", want: utc(1, 1, 1, 0, 0, 0, 0), clock: true},
		{name: "year 9999", in: "9999-12-31T23:59:59Z", want: utc(9999, 12, 31, 23, 59, 59, 0), clock: true},
		{name: "compact date", in: "19970101", want: utc(1997, 1, 1, 0, 0, 0, 0)},
		{name: "compact leap day", in: "20000229", want: utc(2000, 2, 29, 0, 0, 0, 0)},
		{name: "US date", in: "3/1/2024", want: utc(2024, 3, 1, 0, 0, 0, 0)},
		{name: "US date padded", in: "03/01/2024", want: utc(2024, 3, 1, 0, 0, 0, 0)},
		{name: "US minutes", in: "12/1/2010 8:26", want: utc(2010, 12, 1, 8, 26, 0, 0), clock: true},
		{name: "US seconds", in: "12/31/2024 23:59:59", want: utc(2024, 12, 31, 23, 59, 59, 0), clock: true},
		{name: "US in location", in: "3/1/2024 12:34", loc: ny, want: utc(2024, 3, 1, 17, 34, 0, 0), clock: true},
		{name: "unix seconds", in: "1709296496", want: ref, clock: true},
		{name: "unix seconds fraction", in: "1709296496.25", want: utc(2024, 3, 1, 12, 34, 56, 25e7), clock: true},
		{name: "unix millis", in: "1709296496123", want: utc(2024, 3, 1, 12, 34, 56, 123e6), clock: true},
		{name: "unix millis fraction", in: "1709296496123.5", want: utc(2024, 3, 1, 12, 34, 56, 1235e5), clock: true},
		{name: "unix seconds lower bound", in: "100000000", want: utc(1973, 3, 3, 9, 46, 40, 0), clock: true},
		{name: "unix seconds upper bound", in: "99999999999", want: utc(5138, 11, 16, 9, 46, 39, 0), clock: true},
		{name: "unix millis lower bound", in: "100000000000", want: utc(1973, 3, 3, 9, 46, 40, 0), clock: true},
		{name: "unix ignores location", in: "1709296496", loc: ny, want: ref, clock: true},
		{name: "explicit unix small", in: "0", layout: "unix", want: time.Unix(0, 0).UTC(), clock: true},
		{name: "explicit unix negative", in: "-1.5", layout: "unix", want: utc(1969, 12, 31, 23, 59, 58, 5e8), clock: true},
		{name: "explicit unixms", in: "1500", layout: "unixms", want: utc(1970, 1, 1, 0, 0, 1, 5e8), clock: true},
		{name: "explicit unixms big", in: "1709296496123", layout: "UNIXMS", want: utc(2024, 3, 1, 12, 34, 56, 123e6), clock: true},
		{name: "layout day first", in: "31/12/2024 23:59", layout: "02/01/2006 15:04", want: utc(2024, 12, 31, 23, 59, 0, 0), clock: true},
		{name: "layout date only", in: "31.12.2024", layout: "02.01.2006", loc: ny, want: utc(2024, 12, 31, 5, 0, 0, 0)},
		{name: "layout RFC1123", in: "Fri, 01 Mar 2024 12:34:56 GMT", layout: time.RFC1123, want: ref, clock: true},

		{name: "empty", in: "", bad: true},
		{name: "garbage", in: "yesterday", bad: true},
		{name: "month 13", in: "2024-13-01", bad: true},
		{name: "Feb 29 non-leap", in: "2023-02-29", bad: true},
		{name: "Feb 29 1900", in: "19000229", bad: true},
		{name: "day 31 in April", in: "2024-04-31T00:00:00Z", bad: true},
		{name: "hour 24", in: "2024-03-01T24:00:00Z", bad: true},
		{name: "minute 60", in: "2024-03-01T12:60:00Z", bad: true},
		{name: "leap second", in: "2024-03-01T23:59:60Z", bad: true},
		{name: "bad zone", in: "2024-03-01T12:34:56+2", bad: true},
		{name: "zone hour 24", in: "2024-03-01T12:34:56+24:00", bad: true},
		{name: "trailing junk", in: "2024-03-01T12:34:56Z junk", bad: true},
		{name: "one-digit seconds", in: "2024-03-01T12:34:5Z", bad: true},
		{name: "short year", in: "24-03-01", bad: true},
		{name: "year 0", in: "0000-01-01", bad: true},
		{name: "zero placeholder", in: "0", bad: true},
		{name: "bare year", in: "2024", bad: true},
		{name: "eight digits not a date", in: "99999999", bad: true},
		{name: "microseconds", in: "1709296496123456", bad: true},
		{name: "negative unix in auto", in: "-1709296496", bad: true},
		{name: "scientific unix", in: "1.7e9", bad: true},
		{name: "US month 13", in: "13/1/2024", bad: true},
		{name: "US two-digit year", in: "3/1/24", bad: true},
		{name: "US hour 25", in: "3/1/2024 25:00", bad: true},
		{name: "dot without fraction", in: "1709296496.", bad: true},
		{name: "explicit unix junk", in: "12a", layout: "unix", bad: true},
		{name: "explicit unix beyond 9999", in: "253402300800", layout: "unix", bad: true},
		{name: "layout mismatch", in: "2024-12-31", layout: "02/01/2006", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in, tt.layout, tt.loc)
			if tt.bad {
				if err == nil || !errors.Is(err, ErrBadTime) {
					t.Fatalf("ParseTime(%q, %q) = %v, %v; want ErrBadTime", tt.in, tt.layout, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q, %q): %v", tt.in, tt.layout, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q, %q) = %v, want %v in UTC", tt.in, tt.layout, got, tt.want)
			}
			p, err := newTimeParser(tt.layout, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if _, clock, _ := p.parse([]byte(tt.in)); clock != tt.clock {
				t.Errorf("time of day of %q = %v, want %v", tt.in, clock, tt.clock)
			}
		})
	}
}

// A column's parser remembers the form of the previous value but still
// reads values in other forms.
func TestTimeParserSwitchesForms(t *testing.T) {
	p, err := newTimeParser("", nil)
	if err != nil {
		t.Fatal(err)
	}
	ins := []string{"1997-01-01", "1997-01-01", "19970102", "1/3/1997", "852336000", "1997-01-05T00:00:00Z"}
	days := []int{1, 1, 2, 3, 4, 5}
	for i, in := range ins {
		got, _, ok := p.parse([]byte(in))
		if want := time.Date(1997, 1, days[i], 0, 0, 0, 0, time.UTC); !ok || !got.Equal(want) {
			t.Errorf("value %d %q = %v, %v; want %v", i, in, got, ok, want)
		}
	}
	if p.last != tkISO {
		t.Errorf("last form = %d, want ISO", p.last)
	}
}

// One parser reads a column value after value and keeps the last date:
// a repeated date, a new one, one in a zone and an invalid one with the
// cached prefix must each give their own instant.
func TestTimeParserDateCache(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	for _, loc := range []*time.Location{nil, ny} {
		p, err := newTimeParser("", loc)
		if err != nil {
			t.Fatal(err)
		}
		in := loc
		if in == nil {
			in = time.UTC
		}
		tests := []struct {
			in   string
			want time.Time // zero: unparsable
		}{
			{"2024-03-01T10:00:00Z", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
			{"2024-03-01T10:00:01Z", time.Date(2024, 3, 1, 10, 0, 1, 0, time.UTC)},
			{"2024-03-01T11:00:00+01:00", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
			{"2024-03-01 23:59:59", time.Date(2024, 3, 1, 23, 59, 59, 0, in)},
			{"2024-03-01", time.Date(2024, 3, 1, 0, 0, 0, 0, in)},
			{"2024-03-01T25:00:00Z", time.Time{}},
			{"2024-03-02T00:00:00Z", time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)},
			{"2024-03-0xT00:00:00Z", time.Time{}},
			{"1969-12-31T23:59:59Z", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
			{"1969-12-31T23:59:59Z", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
			{"2024-03-01T10:00:00Z", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		}
		for i, tt := range tests {
			got, _, ok := p.parse([]byte(tt.in))
			if ok != !tt.want.IsZero() || ok && !got.Equal(tt.want) {
				t.Errorf("loc %v, value %d %q = %v, %v; want %v", loc, i, tt.in, got, ok, tt.want)
			}
		}
	}
}

func TestTimeLayoutValidation(t *testing.T) {
	day := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		layout, in string
		want       time.Time // zero: the layout is refused
		clock      bool      // a value has a time of day
	}{
		{layout: "34"},    // formats 04:05 as "45" and cannot read it back as a 12-hour hour
		{layout: "bogus"}, // no field at all
		{layout: "15:04"}, // no date
		{layout: "01/02"}, // no year
		{layout: "2006"},  // no month
		{"2006-01", "2001-02", day.AddDate(0, 0, -2), false},
		{"Jan 2006", "Feb 2001", day.AddDate(0, 0, -2), false},
		{"02/01/2006", "03/02/2001", day, false},
		{"02/01/2006 15:04", "03/02/2001 04:05", day.Add(4*time.Hour + 5*time.Minute), true},
		{time.RFC1123Z, "Sat, 03 Feb 2001 05:05:06 +0100", day.Add(4*time.Hour + 5*time.Minute + 6*time.Second), true},
		{"unix", "981173106", day.Add(4*time.Hour + 5*time.Minute + 6*time.Second), true},
		{"UnixMS", "981173106500", day.Add(4*time.Hour + 5*time.Minute + 6500*time.Millisecond), true},
	}
	for _, tt := range tests {
		p, err := newTimeParser(tt.layout, nil)
		if tt.want.IsZero() {
			if !errors.Is(err, ErrReadOptions) {
				t.Errorf("layout %q: err = %v, want ErrReadOptions", tt.layout, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("layout %q: %v", tt.layout, err)
			continue
		}
		got, clock, ok := p.parse([]byte(tt.in))
		if !ok || !got.Equal(tt.want) || clock != tt.clock {
			t.Errorf("layout %q reads %q as %v (clock %v, ok %v), want %v (clock %v)", tt.layout, tt.in, got, clock, ok, tt.want, tt.clock)
		}
	}
	err := (&ReadOptions{Mapping: Mapping{TimeFormat: "34"}}).Validate()
	if !errors.Is(err, ErrReadOptions) {
		t.Errorf("Validate: err = %v, want ErrReadOptions", err)
	}
}

// unixCivil agrees with time.Date over a wide range of days.
func TestUnixCivil(t *testing.T) {
	for d := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 10000; d = d.AddDate(0, 0, 997) {
		got := unixCivil(d.Year(), int(d.Month()), d.Day(), 13, 14, 15)
		if want := d.Unix() + 13*3600 + 14*60 + 15; got != want {
			t.Fatalf("unixCivil(%v) = %d, want %d", d, got, want)
		}
	}
}
