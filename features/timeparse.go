package features

import (
	"fmt"
	"strings"
	"time"
)

// Timestamp forms recognised by ParseTime when no layout is given, and by
// the readers when Mapping.TimeFormat is empty. They are tried in this order:
//
//   - ISO 8601 / RFC 3339: 2006-01-02T15:04:05Z07:00 with or without the
//     zone (Z, ±hh:mm, ±hhmm or ±hh), with or without fractional seconds
//     ('.' or ',', up to 9 digits kept, more are truncated), with or without
//     seconds, with 'T', 't' or spaces between date and time; the hour may
//     have one digit. A bare date 2006-01-02 is midnight.
//   - 20060102: eight digits that form a valid date (so never unix time).
//   - US month-first dates: 1/2/2006, 1/2/2006 15:04, 1/2/2006 15:04:05
//     (month, day and hour with one or two digits). Day-first exports need
//     an explicit layout such as "2/1/2006 15:04".
//   - Unix time, told apart by magnitude: a number v (digits with an
//     optional fraction) with 1e8 <= v < 1e11 is seconds, 1e11 <= v < 1e14
//     is milliseconds. Both ranges start at 1973-03-03; seconds end in 5138
//     and milliseconds at 5138 too. Smaller numbers (a 0 placeholder, a bare
//     year) and larger ones are unparsable rather than silently 1970 or
//     microseconds: use TimeFormat "unix" or "unixms" to read them as such.
//
// A zone-less value is read in the given location (nil means UTC); every
// result is UTC. A value "has a time of day" unless it is one of the
// date-only forms (2006-01-02, 20060102, 1/2/2006) or was read with an
// explicit layout that has no hour; the readers only drop exact duplicate
// rows whose timestamp has a time of day.
//
// Layout "unix" reads any number as seconds and "unixms" as milliseconds
// (optional sign and fraction, years 0001..9999); any other layout is a Go
// time layout for time.ParseInLocation.
func ParseTime(s string, layout string, loc *time.Location) (time.Time, error) {
	p, err := newTimeParser(layout, loc)
	if err != nil {
		return time.Time{}, err
	}
	t, _, ok := p.parse([]byte(s))
	if !ok {
		return time.Time{}, fmt.Errorf("features: %w %q", ErrBadTime, clip(s, 60))
	}
	return t, nil
}

// timeKind is one timestamp form.
type timeKind uint8

const (
	tkNone    timeKind = iota
	tkISO              // 2006-01-02[T15:04[:05[.999]]][zone]
	tkCompact          // 20060102
	tkUS               // 1/2/2006[ 15:04[:05]]
	tkUnix             // seconds or milliseconds by magnitude
	tkUnixSec          // explicit "unix"
	tkUnixMs           // explicit "unixms"
	tkLayout           // explicit Go layout
)

// autoOrder is the order in which auto-detection tries the forms.
var autoOrder = [...]timeKind{tkISO, tkCompact, tkUS, tkUnix}

// timeParser parses one column's timestamps. With no explicit layout it
// remembers the form that parsed the previous value and tries it first, so
// a column pays for detection once; a value in another form still parses.
type timeParser struct {
	fixed  timeKind // tkNone: auto-detect
	last   timeKind // auto: form of the previous value
	layout string   // tkLayout
	clock  bool     // tkLayout: the layout has an hour
	loc    *time.Location

	// The last ISO date read and its unix day: a column sorted by time
	// repeats its date row after row, so it is validated and converted
	// once.
	dateKey  [10]byte
	dateOK   bool
	dy, dmo  int
	dd       int
	dateDays int64
}

// newTimeParser returns a parser for layout ("" = auto, "unix", "unixms" or
// a Go layout) reading zone-less values in loc (nil = UTC).
func newTimeParser(layout string, loc *time.Location) (*timeParser, error) {
	if loc == time.UTC {
		loc = nil
	}
	p := &timeParser{loc: loc}
	switch strings.ToLower(strings.TrimSpace(layout)) {
	case "", "auto":
	case "unix":
		p.fixed = tkUnixSec
	case "unixms":
		p.fixed = tkUnixMs
	default:
		// A layout that cannot format and re-parse a reference time is
		// unusable; one that loses the hour has no time of day.
		ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		back, err := time.Parse(layout, ref.Format(layout))
		if err != nil {
			return nil, fmt.Errorf("features: %w: time layout %q cannot parse its own output: %v", ErrReadOptions, layout, err)
		}
		if back.Year() != 2001 || back.Month() != 2 {
			// "bogus" or "15:04" parse every value as year 0 or as
			// nothing: a mistake, not a layout.
			return nil, fmt.Errorf("features: %w: time layout %q has no year and month (2006 and 01, 1 or Jan)", ErrReadOptions, layout)
		}
		p.fixed, p.layout, p.clock = tkLayout, layout, back.Hour() == 4
	}
	return p, nil
}

// parse reads b and reports the UTC instant, whether b has a time of day and
// whether it parsed at all.
func (p *timeParser) parse(b []byte) (t time.Time, clock, ok bool) {
	switch p.fixed {
	case tkNone:
	case tkLayout:
		v, err := time.ParseInLocation(p.layout, string(b), p.location())
		if err != nil {
			return time.Time{}, false, false
		}
		return v.UTC(), p.clock, true
	default:
		return p.parseKind(p.fixed, b)
	}
	if p.last != tkNone {
		if t, clock, ok = p.parseKind(p.last, b); ok {
			return t, clock, ok
		}
	}
	for _, k := range autoOrder {
		if k == p.last {
			continue
		}
		if t, clock, ok = p.parseKind(k, b); ok {
			p.last = k
			return t, clock, ok
		}
	}
	return time.Time{}, false, false
}

func (p *timeParser) location() *time.Location {
	if p.loc == nil {
		return time.UTC
	}
	return p.loc
}

func (p *timeParser) parseKind(k timeKind, b []byte) (time.Time, bool, bool) {
	switch k {
	case tkISO:
		return p.parseISO(b)
	case tkCompact:
		if len(b) != 8 {
			break
		}
		y, ok1 := digits(b[0:4])
		m, ok2 := digits(b[4:6])
		d, ok3 := digits(b[6:8])
		if ok1 && ok2 && ok3 && validDate(y, m, d) {
			return p.civil(y, m, d, 0, 0, 0, 0), false, true
		}
	case tkUS:
		return p.parseUS(b)
	case tkUnix, tkUnixSec, tkUnixMs:
		return parseUnix(k, b)
	}
	return time.Time{}, false, false
}

// parseISO reads 2006-01-02[(T|t| )15:04[:05[(.|,)frac]][zone]].
func (p *timeParser) parseISO(b []byte) (time.Time, bool, bool) {
	if len(b) < 10 {
		return time.Time{}, false, false
	}
	y, mo, d, days, ok := p.isoDate(b[:10])
	if !ok {
		return time.Time{}, false, false
	}
	if len(b) == 10 {
		return p.civilDays(days, y, mo, d, 0, 0, 0, 0), false, true
	}
	rest := b[11:]
	switch b[10] {
	case 'T', 't':
	case ' ':
		rest = skipSpaces(rest) // a run of spaces, as time.Parse allows
	default:
		return time.Time{}, false, false
	}
	h, mi, s, ns, rest, ok := parseClock(rest)
	if !ok {
		return time.Time{}, false, false
	}
	if len(rest) == 0 {
		return p.civilDays(days, y, mo, d, h, mi, s, ns), true, true
	}
	off, ok := parseZone(rest)
	if !ok {
		return time.Time{}, false, false
	}
	sec := days*86400 + int64(h*3600+mi*60+s-off)
	return time.Unix(sec, int64(ns)).UTC(), true, true
}

// isoDate reads a 10-byte 2006-01-02 and returns the date and its unix day
// (days since 1970-01-01). The last date read is kept, so a repeated date
// costs one comparison.
func (p *timeParser) isoDate(b []byte) (y, mo, d int, days int64, ok bool) {
	if p.dateOK && string(b) == string(p.dateKey[:]) {
		return p.dy, p.dmo, p.dd, p.dateDays, true
	}
	if b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || !validDate(y, mo, d) {
		return 0, 0, 0, 0, false
	}
	days = unixCivil(y, mo, d, 0, 0, 0) / 86400
	copy(p.dateKey[:], b)
	p.dateOK, p.dy, p.dmo, p.dd, p.dateDays = true, y, mo, d, days
	return y, mo, d, days, true
}

// civilDays is civil for a date whose unix day is already known.
func (p *timeParser) civilDays(days int64, y, mo, d, h, mi, s, ns int) time.Time {
	if p.loc == nil {
		return time.Unix(days*86400+int64(h*3600+mi*60+s), int64(ns)).UTC()
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, p.loc).UTC()
}

// parseUS reads 1/2/2006[ 15:04[:05[.frac]]].
func (p *timeParser) parseUS(b []byte) (time.Time, bool, bool) {
	mo, b, ok := upTo2Digits(b)
	if !ok || len(b) == 0 || b[0] != '/' {
		return time.Time{}, false, false
	}
	d, b, ok := upTo2Digits(b[1:])
	if !ok || len(b) < 5 || b[0] != '/' {
		return time.Time{}, false, false
	}
	y, ok := digits(b[1:5])
	if !ok || !validDate(y, mo, d) {
		return time.Time{}, false, false
	}
	b = b[5:]
	if len(b) == 0 {
		return p.civil(y, mo, d, 0, 0, 0, 0), false, true
	}
	if b[0] != ' ' {
		return time.Time{}, false, false
	}
	h, mi, s, ns, rest, ok := parseClock(skipSpaces(b))
	if !ok || len(rest) != 0 {
		return time.Time{}, false, false
	}
	return p.civil(y, mo, d, h, mi, s, ns), true, true
}

// parseClock reads 15:04[:05[(.|,)frac]] with a one- or two-digit hour and
// returns what follows.
func parseClock(b []byte) (h, mi, s, ns int, rest []byte, ok bool) {
	if len(b) >= 8 && b[2] == ':' && b[5] == ':' {
		// The usual 15:04:05: six digits at fixed places.
		d0, d1, d3, d4, d6, d7 := b[0]-'0', b[1]-'0', b[3]-'0', b[4]-'0', b[6]-'0', b[7]-'0'
		if d0 < 10 && d1 < 10 && d3 < 10 && d4 < 10 && d6 < 10 && d7 < 10 {
			h, mi, s = int(d0)*10+int(d1), int(d3)*10+int(d4), int(d6)*10+int(d7)
			if h > 23 || mi > 59 || s > 59 {
				return 0, 0, 0, 0, nil, false
			}
			ns, b = parseFraction(b[8:])
			return h, mi, s, ns, b, true
		}
	}
	h, b, ok = upTo2Digits(b)
	if !ok || h > 23 || len(b) < 3 || b[0] != ':' {
		return 0, 0, 0, 0, nil, false
	}
	mi, ok = digits(b[1:3])
	if !ok || mi > 59 {
		return 0, 0, 0, 0, nil, false
	}
	b = b[3:]
	if len(b) == 0 || b[0] != ':' {
		return h, mi, 0, 0, b, true
	}
	if len(b) < 3 {
		return 0, 0, 0, 0, nil, false
	}
	s, ok = digits(b[1:3])
	if !ok || s > 59 {
		return 0, 0, 0, 0, nil, false
	}
	ns, b = parseFraction(b[3:])
	return h, mi, s, ns, b, true
}

// parseFraction reads an optional fraction of a second, '.' or ',' and
// digits (the first nine kept), and returns it in nanoseconds with what
// follows.
func parseFraction(b []byte) (ns int, rest []byte) {
	if len(b) >= 2 && (b[0] == '.' || b[0] == ',') && isDigit(b[1]) {
		b = b[1:]
		scale := 100_000_000
		for len(b) > 0 && isDigit(b[0]) {
			ns += int(b[0]-'0') * scale
			scale /= 10
			b = b[1:]
		}
	}
	return ns, b
}

// parseZone reads Z, z, ±hh:mm, ±hhmm or ±hh and returns the offset east of
// UTC in seconds.
func parseZone(b []byte) (int, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	h, ok := digits(b[1:3])
	if !ok || h > 23 {
		return 0, false
	}
	var m int
	switch rest := b[3:]; {
	case len(rest) == 0:
	case len(rest) == 3 && rest[0] == ':':
		m, ok = digits(rest[1:])
	case len(rest) == 2:
		m, ok = digits(rest)
	default:
		ok = false
	}
	if !ok || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// Bounds of the unix times ParseTime accepts: years 0001 through 9999.
const (
	minUnixSec = -62135596800
	maxUnixSec = 253402300799
)

// parseUnix reads digits with an optional fraction as unix seconds or
// milliseconds (see ParseTime for the auto rule).
func parseUnix(k timeKind, b []byte) (time.Time, bool, bool) {
	neg := false
	if k != tkUnix && len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var ip int64
	n := 0
	for n < len(b) && isDigit(b[n]) {
		if n == 15 {
			return time.Time{}, false, false // beyond any year 9999 value
		}
		ip = ip*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 {
		return time.Time{}, false, false
	}
	frac := b[n:]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, false, false
		}
		frac = frac[1:]
		for _, c := range frac {
			if !isDigit(c) {
				return time.Time{}, false, false
			}
		}
	}
	ms := k == tkUnixMs
	if k == tkUnix {
		switch {
		case ip >= 1e8 && ip < 1e11:
		case ip >= 1e11 && ip < 1e14:
			ms = true
		default:
			return time.Time{}, false, false
		}
	}
	// The fraction in nanoseconds: 9 digits for seconds, 6 for milliseconds.
	width := 9
	if ms {
		width = 6
	}
	var sub int64
	for i := 0; i < width; i++ {
		sub *= 10
		if i < len(frac) {
			sub += int64(frac[i] - '0')
		}
	}
	var sec, ns int64
	if ms {
		sec, ns = ip/1000, (ip%1000)*1e6+sub
	} else {
		sec, ns = ip, sub
	}
	if neg {
		sec, ns = -sec, -ns
		if ns < 0 {
			sec--
			ns += 1e9
		}
	}
	if sec < minUnixSec || sec > maxUnixSec {
		return time.Time{}, false, false
	}
	return time.Unix(sec, ns).UTC(), true, true
}

// civil returns the UTC instant of a zone-less wall time read in p's
// location.
func (p *timeParser) civil(y, mo, d, h, mi, s, ns int) time.Time {
	if p.loc == nil {
		return time.Unix(unixCivil(y, mo, d, h, mi, s), int64(ns)).UTC()
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, p.loc).UTC()
}

// unixCivil returns the unix seconds of a proleptic Gregorian UTC wall time
// (Howard Hinnant's days_from_civil).
func unixCivil(y, m, d, h, mi, s int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return days*86400 + int64(h)*3600 + int64(mi)*60 + int64(s)
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	if y < 1 { // year 0000 has no time.Time in the readers' range
		return false
	}
	return d <= daysIn(y, m)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits reads b as an unsigned decimal made of digits only.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// upTo2Digits reads one or two leading digits and returns the rest.
func upTo2Digits(b []byte) (int, []byte, bool) {
	if len(b) == 0 || !isDigit(b[0]) {
		return 0, b, false
	}
	if len(b) >= 2 && isDigit(b[1]) {
		return int(b[0]-'0')*10 + int(b[1]-'0'), b[2:], true
	}
	return int(b[0] - '0'), b[1:], true
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
