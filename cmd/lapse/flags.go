package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Flag values shared by the commands. Each type implements flag.Value, so
// a bad value is reported by the flag package with the flag's name.

// stringList is a repeatable string flag: --events a.csv --events b.csv.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set appends v.
func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// commaList is a comma-separated list flag: --activity-events a,b. Empty
// items are dropped; repeating the flag appends.
type commaList []string

func (l *commaList) String() string { return strings.Join(*l, ",") }

// Set appends the comma-separated items of v.
func (l *commaList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseDuration reads a duration with day and week units as well as Go's:
// "30d", "13w", "1.5d", "720h", "90m". A bare number means days. The result
// must not be negative.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	unit := time.Duration(0)
	num := s
	switch {
	case strings.HasSuffix(s, "d"):
		unit, num = 24*time.Hour, s[:len(s)-1]
	case strings.HasSuffix(s, "w"):
		unit, num = 7*24*time.Hour, s[:len(s)-1]
	default:
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			unit = 24 * time.Hour // bare number: days
		}
	}
	if unit == 0 {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want a number with d, w or a Go unit (h, m, s), e.g. 30d, 13w, 720h", s)
		}
		if d < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return d, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("duration %q: want a number with d, w or a Go unit (h, m, s), e.g. 30d, 13w, 720h", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	if f*float64(unit) > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return time.Duration(math.Round(f * float64(unit))), nil
}

// durationFlag is a flag.Value for parseDuration.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return formatDays(*f.d)
}

// Set parses v with parseDuration.
func (f durationFlag) Set(v string) error {
	d, err := parseDuration(v)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// formatDays prints d as whole days ("30d") when it is a whole number of
// days, else in Go's form ("36h0m0s").
func formatDays(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// wholeDays converts d to days, failing unless it is a positive whole number of days.
func wholeDays(d time.Duration) (int, error) {
	const day = 24 * time.Hour
	if d <= 0 || d%day != 0 {
		return 0, fmt.Errorf("%s is not a positive whole number of days", d)
	}
	return int(d / day), nil
}

// parseWindows reads a comma-separated list of whole-day durations, e.g.
// "7d,30d,90d,365d" or "1w,4w", and returns them in days, ascending and
// without duplicates.
func parseWindows(s string) ([]int, error) {
	var days []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := parseDuration(part)
		if err != nil {
			return nil, err
		}
		n, err := wholeDays(d)
		if err != nil {
			return nil, fmt.Errorf("window %q: %w", part, err)
		}
		days = append(days, n)
	}
	if len(days) == 0 {
		return nil, errors.New("no windows given")
	}
	// Insertion sort and dedupe: lists are a handful of items.
	for i := 1; i < len(days); i++ {
		for j := i; j > 0 && days[j] < days[j-1]; j-- {
			days[j], days[j-1] = days[j-1], days[j]
		}
	}
	out := days[:1]
	for _, d := range days[1:] {
		if d != out[len(out)-1] {
			out = append(out, d)
		}
	}
	return out, nil
}

// windowsFlag is a flag.Value for parseWindows.
type windowsFlag struct{ days *[]int }

func (f windowsFlag) String() string {
	if f.days == nil {
		return ""
	}
	parts := make([]string, len(*f.days))
	for i, d := range *f.days {
		parts[i] = strconv.Itoa(d) + "d"
	}
	return strings.Join(parts, ",")
}

// Set parses v with parseWindows.
func (f windowsFlag) Set(v string) error {
	days, err := parseWindows(v)
	if err != nil {
		return err
	}
	*f.days = days
	return nil
}

// asOfLayouts are the accepted --as-of forms; times without a zone are UTC.
var asOfLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseAsOf reads a date (2025-06-01, meaning midnight UTC) or an RFC 3339
// time (2025-06-01T12:00:00Z, or without zone meaning UTC).
func parseAsOf(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range asOfLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want a date (2025-06-01) or RFC 3339 (2025-06-01T12:00:00Z)", s)
}

// timeFlag is a flag.Value for parseAsOf; the zero time means unset.
type timeFlag struct{ t *time.Time }

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	if f.t.Equal(f.t.Truncate(24 * time.Hour)) {
		return f.t.Format("2006-01-02")
	}
	return f.t.Format(time.RFC3339)
}

// Set parses v with parseAsOf.
func (f timeFlag) Set(v string) error {
	t, err := parseAsOf(v)
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}

// badRowLimit is --max-bad-rows: either an absolute count of rejected rows
// or a fraction of the rows read.
type badRowLimit struct {
	Count    int64   // used when !IsFrac
	Fraction float64 // in [0, 1], used when IsFrac
	IsFrac   bool
}

// parseBadRowLimit reads a count ("0", "500"), a fraction below 1 ("0.01")
// or a percentage ("1%", "0.5%").
func parseBadRowLimit(s string) (badRowLimit, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q: want a row count (500), a fraction (0.01) or a percentage (1%%)", s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return badRowLimit{}, bad
		}
		return badRowLimit{Fraction: f / 100, IsFrac: true}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return badRowLimit{}, bad
		}
		return badRowLimit{Count: n}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= 1 {
		return badRowLimit{}, bad
	}
	return badRowLimit{Fraction: f, IsFrac: true}, nil
}

// String prints the limit so that parseBadRowLimit reads it back: a
// percentage when that is short and exact ("1%"), else the fraction.
func (l badRowLimit) String() string {
	if l.IsFrac {
		p := strconv.FormatFloat(l.Fraction*100, 'g', -1, 64)
		if back, err := strconv.ParseFloat(p, 64); err == nil && back/100 == l.Fraction && len(p) <= 8 && !strings.Contains(p, "e") {
			return p + "%"
		}
		return strconv.FormatFloat(l.Fraction, 'g', -1, 64)
	}
	return strconv.FormatInt(l.Count, 10)
}

// badRowFlag is a flag.Value for parseBadRowLimit.
type badRowFlag struct{ l *badRowLimit }

func (f badRowFlag) String() string {
	if f.l == nil {
		return ""
	}
	return f.l.String()
}

// Set parses v with parseBadRowLimit.
func (f badRowFlag) Set(v string) error {
	l, err := parseBadRowLimit(v)
	if err != nil {
		return err
	}
	*f.l = l
	return nil
}

// addSeedFlag registers --seed.
func addSeedFlag(fs *flag.FlagSet, def uint64) *uint64 {
	return fs.Uint64("seed", def, "`seed` of every random choice; the same seed gives the same output")
}
