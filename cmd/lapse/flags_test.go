package main

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

// Expected values are hand-computed: 1 day = 86,400 s, 1 week = 604,800 s.
func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30d", 30 * day, false},
		{"13w", 91 * day, false},
		{"720h", 30 * day, false},
		{"1.5d", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"7", 7 * day, false},
		{"0d", 0, false},
		{" 2w ", 14 * day, false},
		{"", 0, true},
		{"d", 0, true},
		{"-3d", 0, true},
		{"-1h", 0, true},
		{"3x", 0, true},
		{"NaNd", 0, true},
		{"1e300d", 0, true},
		{"3 days", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseWindows(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"7d,30d,90d,365d", []int{7, 30, 90, 365}, false},
		{"1w,4w", []int{7, 28}, false},
		{"90d, 7d,30d,7d", []int{7, 30, 90}, false},
		{"168h,2d", []int{2, 7}, false},
		{"14", []int{14}, false},
		{"", nil, true},
		{",", nil, true},
		{"36h", nil, true},
		{"0d", nil, true},
		{"7d,x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWindows(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("parseWindows(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseBadRowLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    badRowLimit
		wantErr bool
	}{
		{"0", badRowLimit{Count: 0}, false},
		{"500", badRowLimit{Count: 500}, false},
		{"0.01", badRowLimit{Fraction: 0.01, IsFrac: true}, false},
		{"1%", badRowLimit{Fraction: 0.01, IsFrac: true}, false},
		{"0.5%", badRowLimit{Fraction: 0.005, IsFrac: true}, false},
		{"100%", badRowLimit{Fraction: 1, IsFrac: true}, false},
		{"0.07", badRowLimit{Fraction: 0.07, IsFrac: true}, false}, // 0.07*100 is 7.000000000000001
		{"0.013", badRowLimit{Fraction: 0.013, IsFrac: true}, false},
		{"1e-7", badRowLimit{Fraction: 1e-7, IsFrac: true}, false},
		{"-1", badRowLimit{}, true},
		{"1.5", badRowLimit{}, true},
		{"101%", badRowLimit{}, true},
		{"x%", badRowLimit{}, true},
		{"", badRowLimit{}, true},
		{"NaN", badRowLimit{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBadRowLimit(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseBadRowLimit(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				// String round-trips through the parser.
				back, err := parseBadRowLimit(got.String())
				if err != nil || back != got {
					t.Fatalf("parseBadRowLimit(%q) = %+v, %v; want %+v", got.String(), back, err, got)
				}
			}
		})
	}
}

func TestParseAsOf(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2025-06-01", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{"2025-06-01T12:30:00Z", time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC), false},
		// 12:30 at +02:00 is 10:30 UTC.
		{"2025-06-01T12:30:00+02:00", time.Date(2025, 6, 1, 10, 30, 0, 0, time.UTC), false},
		{"2025-06-01T12:30:00", time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC), false},
		{"2025-06-01 12:30:05", time.Date(2025, 6, 1, 12, 30, 5, 0, time.UTC), false},
		{"2025-06-01T12:30", time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC), false},
		{"2025-13-01", time.Time{}, true},
		{"06/01/2025", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAsOf(tt.in)
			if (err != nil) != tt.wantErr || !got.Equal(tt.want) || (err == nil && got.Location() != time.UTC) {
				t.Fatalf("parseAsOf(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// The flag.Value wrappers parse through the functions above and report the
// flag's name on error.
func TestFlagValues(t *testing.T) {
	var (
		h       time.Duration
		windows []int
		asOf    time.Time
		limit   = badRowLimit{Fraction: 0.01, IsFrac: true}
		events  stringList
		acts    commaList
	)
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(durationFlag{&h}, "horizon", "")
		fs.Var(windowsFlag{&windows}, "windows", "")
		fs.Var(timeFlag{&asOf}, "as-of", "")
		fs.Var(badRowFlag{&limit}, "max-bad-rows", "")
		fs.Var(&events, "events", "")
		fs.Var(&acts, "activity-events", "")
		return fs
	}
	fs := newFS()
	if d := fs.Lookup("max-bad-rows").DefValue; d != "1%" {
		t.Errorf("max-bad-rows default prints as %q, want 1%%", d)
	}
	err := fs.Parse([]string{"--horizon", "13w", "--windows=30d,7d", "--as-of", "1997-10-01",
		"--max-bad-rows", "25", "--events", "a.csv", "--events", "-", "--activity-events", "a,b", "--activity-events", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if h != 91*24*time.Hour || !slices.Equal(windows, []int{7, 30}) ||
		!asOf.Equal(time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)) || limit != (badRowLimit{Count: 25}) ||
		!slices.Equal(events, stringList{"a.csv", "-"}) || !slices.Equal(acts, commaList{"a", "b", "c"}) {
		t.Fatalf("parsed %v %v %v %+v %v %v", h, windows, asOf, limit, events, acts)
	}
	for _, args := range [][]string{
		{"--horizon", "soon"}, {"--windows", "36h"}, {"--as-of", "yesterday"}, {"--max-bad-rows", "2.5"}, {"--events", ""},
	} {
		if err := newFS().Parse(args); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", args)
		}
	}
}

// FuzzFlagParsers: the flag parsers never panic, and what they accept
// satisfies their contracts.
func FuzzFlagParsers(f *testing.F) {
	for _, s := range []string{"30d", "13w", "720h", "1.5d", "7d,30d,90d,365d", "1%", "0.01", "500", "2025-06-01",
		"2025-06-01T12:00:00+02:00", "-1d", "1e309d", "0x10", ",,", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseDuration(s); err == nil && d < 0 {
			t.Errorf("parseDuration(%q) = %v, negative", s, d)
		}
		if ws, err := parseWindows(s); err == nil {
			for i, w := range ws {
				if w <= 0 || (i > 0 && w <= ws[i-1]) {
					t.Errorf("parseWindows(%q) = %v: not positive, ascending and unique", s, ws)
				}
			}
		}
		if l, err := parseBadRowLimit(s); err == nil {
			back, err := parseBadRowLimit(l.String())
			if err != nil || back != l {
				t.Errorf("parseBadRowLimit(%q) = %+v; its String %q parses to %+v, %v", s, l, l.String(), back, err)
			}
			if l.Count < 0 || l.Fraction < 0 || l.Fraction > 1 {
				t.Errorf("parseBadRowLimit(%q) = %+v out of range", s, l)
			}
		}
		if ts, err := parseAsOf(s); err == nil && ts.Location() != time.UTC {
			t.Errorf("parseAsOf(%q) = %v, not UTC", s, ts)
		}
	})
}
