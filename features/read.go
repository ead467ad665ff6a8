package features

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mapping says which columns (CSV, TSV, whitespace) or keys (JSON Lines)
// hold the parts of an event. Empty names take the defaults of
// DefaultMapping; names are matched exactly after trimming spaces from the
// header, and the first of two equal header names wins.
type Mapping struct {
	// UserCol holds the user id (default "user_id"; required). Ids are
	// opaque strings trimmed of surrounding ASCII whitespace; a JSON number
	// is taken as its literal text.
	UserCol string
	// EventCol holds the event name (default "event"). When the header has
	// no such column, or a JSON line no such key, every row is EventName.
	// An empty cell in an existing event column is a bad row.
	EventCol string
	// EventName names the event of rows without an event column, e.g.
	// "purchase" for an order log. Empty: the event column is required.
	EventName string
	// TimeCol holds the timestamp (default "timestamp"; required). A time
	// outside 1677-09-21..2262-04-11 (int64 unix nanoseconds) is a bad row.
	TimeCol string
	// AmountCol holds the signed money value (default "amount"). It is
	// optional: without it every amount is 0 and the summary says so. An
	// empty cell is 0.
	AmountCol string
	// QuantityCol and PriceCol, set together, make amount = quantity ×
	// price for order-line exports; AmountCol is then an ordinary column.
	// Both columns are required when set; an empty cell is 0.
	QuantityCol, PriceCol string
	// OrderCol, when set, merges consecutive rows with the same user and
	// order id into one event whose amount is the sum of theirs; its name,
	// time and properties are those of the first row. Only contiguous rows
	// merge, as order exports write an order's lines together: the same
	// order id seen again after other rows starts a new event (there is no
	// global order-id index, so memory does not grow with orders). Rows
	// with an empty order id never merge. Merging never crosses inputs.
	OrderCol string
	// TimeFormat is "" (auto-detect, see ParseTime), "unix", "unixms" or a
	// Go time layout with at least a year and a month.
	TimeFormat string
	// Location reads timestamps that carry no zone; nil means UTC.
	Location *time.Location
	// UserTrimFloat strips a ".0…" tail from integer-valued user ids
	// ("17850.0" becomes "17850"), the usual spreadsheet or pandas artefact.
	// Off, "17850.0" and "17850" are different users and the summary warns.
	UserTrimFloat bool
}

// DefaultMapping returns the canonical columns user_id, event, timestamp and
// amount, with auto-detected timestamps read as UTC.
func DefaultMapping() Mapping {
	return Mapping{UserCol: "user_id", EventCol: "event", TimeCol: "timestamp", AmountCol: "amount"}
}

// withDefaults fills empty column names from DefaultMapping.
func (m Mapping) withDefaults() Mapping {
	d := DefaultMapping()
	for _, p := range []struct {
		v *string
		d string
	}{
		{&m.UserCol, d.UserCol}, {&m.EventCol, d.EventCol}, {&m.TimeCol, d.TimeCol}, {&m.AmountCol, d.AmountCol},
	} {
		if *p.v = strings.TrimSpace(*p.v); *p.v == "" {
			*p.v = p.d
		}
	}
	m.QuantityCol = strings.TrimSpace(m.QuantityCol)
	m.PriceCol = strings.TrimSpace(m.PriceCol)
	m.OrderCol = strings.TrimSpace(m.OrderCol)
	m.EventName = strings.TrimSpace(m.EventName)
	return m
}

// Input formats. ReadOptions.Format takes these names or "" / "auto".
const (
	FormatCSV   = "csv"   // comma-separated with a header row
	FormatTSV   = "tsv"   // tab-separated with a header row, CSV quoting
	FormatJSONL = "jsonl" // one JSON object per line
	FormatWS    = "ws"    // whitespace-separated with a header row, no quoting
)

// Dedupe modes for ReadOptions.Dedupe.
const (
	// DedupeAuto drops an exact duplicate row when its timestamp has a
	// time of day and keeps (and counts) it when the timestamp is a bare
	// date: two equal orders on one day are real.
	DedupeAuto = "auto"
	// DedupeOn drops every exact duplicate row.
	DedupeOn = "on"
	// DedupeOff keeps every row and uses no memory for fingerprints.
	DedupeOff = "off"
)

// ReadOptions configure a Reader. A nil *ReadOptions means the defaults, and
// so does the zero value of every field.
type ReadOptions struct {
	// Mapping names the columns or keys; empty names take the defaults.
	Mapping Mapping
	// Format forces one input format for every source: "csv", "tsv",
	// "jsonl" (also "ndjson", "json") or "ws" (also "whitespace", "txt").
	// "" or "auto" decides per source: by the name's extension (.csv,
	// .tsv/.tab, .jsonl/.ndjson/.json, each optionally followed by .gz),
	// otherwise (.txt, no extension, "-") by sniffing the first line: '{'
	// means JSON Lines, then tabs mean TSV, commas CSV, and spaces only ws.
	Format string
	// Now is the clock for the clock-skew rule (rows later than Now + 5
	// minutes are bad) and for progress; nil means time.Now. It is read at
	// the start and every 65,536 rows.
	Now func() time.Time
	// Dedupe is DedupeAuto (the default for ""), DedupeOn or DedupeOff.
	// Except when off, every accepted row's 64-bit fingerprint is kept in a
	// set to find exact duplicates: memory grows with the rows read, about
	// 16 bytes a row (8-byte slots at most 3/4 full, one table per UTC day
	// of the timestamps, so that a time-sorted input probes one small
	// table at a time). A fingerprint hashes
	// the normalized row: user id, event name, the instant, the parsed
	// amount, quantity and price, the order id and every other non-empty
	// column by name, so equal events in a CSV and a JSON Lines input are
	// duplicates too. Two different rows share a fingerprint with
	// probability about n²/2⁶⁵ for n rows (3e-6 at ten million).
	Dedupe string
	// MaxBadRows bounds the rejected rows: 0 means the default 0.01; a
	// value in (0, 1) is a fraction of the rows read, checked when the
	// input ends; a value >= 1 is a count (rounded down), checked as rows
	// are rejected, so a bad file stops early; a negative value allows no
	// bad row at all; +Inf allows any number. Duplicates, refunds and rows
	// after AsOf never count.
	MaxBadRows float64
	// MaxExamples is how many rejected rows are kept as *ParseError
	// examples: 0 means 10, a negative value none.
	MaxExamples int
	// AsOf, when not zero, counts the events at or after it (they are
	// still returned: the caller keeps them for labels only).
	AsOf time.Time
	// Progress, when not nil, receives "rows, rows/s" updates at most
	// every 500 ms, each starting with a carriage return, and a final
	// newline; the CLI passes stderr only when it is a terminal.
	Progress io.Writer
	// KeepProps copies the non-empty values of unmapped columns (or keys)
	// into Event.Props, trimmed: JSON strings decoded, numbers and booleans
	// as written, nested objects and arrays as their raw JSON text. Off,
	// Props is always nil and rows cost no map.
	KeepProps bool
}

// Validate reports every invalid field, wrapped in ErrReadOptions.
func (o *ReadOptions) Validate() error {
	if o == nil {
		return nil
	}
	var probs []string
	if _, ok := formatName(o.Format); !ok {
		probs = append(probs, fmt.Sprintf("Format %q is not one of auto, csv, tsv, jsonl, ws", o.Format))
	}
	switch o.Dedupe {
	case "", DedupeAuto, DedupeOn, DedupeOff:
	default:
		probs = append(probs, fmt.Sprintf("Dedupe %q is not one of auto, on, off", o.Dedupe))
	}
	if math.IsNaN(o.MaxBadRows) {
		probs = append(probs, "MaxBadRows is NaN")
	}
	m := o.Mapping.withDefaults()
	if (m.QuantityCol == "") != (m.PriceCol == "") {
		probs = append(probs, fmt.Sprintf("QuantityCol %q and PriceCol %q must be set together", m.QuantityCol, m.PriceCol))
	}
	seen := map[string]string{}
	for _, c := range m.columns() {
		if c.name == "" {
			continue
		}
		if prev, dup := seen[c.name]; dup {
			probs = append(probs, fmt.Sprintf("%s and %s both name column %q", prev, c.what, c.name))
		}
		seen[c.name] = c.what
	}
	if _, err := newTimeParser(m.TimeFormat, m.Location); err != nil {
		probs = append(probs, fmt.Sprintf("TimeFormat %q is not a usable layout: it must read back its own output and have a year and a month", m.TimeFormat))
	}
	if len(probs) > 0 {
		return fmt.Errorf("features: %w: %s", ErrReadOptions, strings.Join(probs, "; "))
	}
	return nil
}

// column roles of a mapped column.
const (
	roleExtra uint8 = iota
	roleUser
	roleEvent
	roleTime
	roleAmount
	roleQty
	rolePrice
	roleOrder
)

type mappedCol struct {
	role uint8
	name string
	what string
}

// columns lists the mapped columns; AmountCol is only mapped without
// quantity × price.
func (m Mapping) columns() []mappedCol {
	cols := []mappedCol{
		{roleUser, m.UserCol, "UserCol"},
		{roleEvent, m.EventCol, "EventCol"},
		{roleTime, m.TimeCol, "TimeCol"},
		{roleQty, m.QuantityCol, "QuantityCol"},
		{rolePrice, m.PriceCol, "PriceCol"},
		{roleOrder, m.OrderCol, "OrderCol"},
	}
	if m.QuantityCol == "" {
		cols = append(cols, mappedCol{roleAmount, m.AmountCol, "AmountCol"})
	}
	return cols
}

// formatName normalizes a format name; "" means auto.
func formatName(f string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(f)) {
	case "", "auto":
		return "", true
	case "csv":
		return FormatCSV, true
	case "tsv", "tab":
		return FormatTSV, true
	case "jsonl", "ndjson", "json":
		return FormatJSONL, true
	case "ws", "whitespace", "txt":
		return FormatWS, true
	}
	return "", false
}

// formatByName picks a format from a file name's extension, ignoring a
// trailing .gz; "" means sniff.
func formatByName(name string) string {
	n := strings.ToLower(name)
	n = strings.TrimSuffix(n, ".gz")
	switch filepath.Ext(n) {
	case ".csv":
		return FormatCSV
	case ".tsv", ".tab":
		return FormatTSV
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL
	}
	return ""
}

// peekLine returns the buffered start of br once it holds a non-blank
// line (or 64 KiB, or the whole input), reading no more than needed, so a
// slow stdin stream is sniffed as soon as its first line arrives.
func peekLine(br *bufio.Reader) []byte {
	const most = 64 << 10
	for n := 1; ; {
		head, err := br.Peek(n)
		if err != nil || len(head) >= most {
			return head
		}
		head, _ = br.Peek(br.Buffered()) // what the reads so far brought
		for rest := head; ; {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			if !isBlank(rest[:i]) {
				return head
			}
			rest = rest[i+1:]
		}
		n = min(len(head)+1, most)
	}
}

// sniffFormat decides from the first non-blank line in b.
func sniffFormat(b []byte) string {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] == '{' {
			return FormatJSONL
		}
		var commas, tabs, spaces int
		quoted := false
		for _, c := range line {
			switch {
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == ',':
				commas++
			case c == '\t':
				tabs++
			case c == ' ':
				spaces++
			}
		}
		switch {
		case tabs > 0 && tabs >= commas:
			return FormatTSV
		case commas > 0:
			return FormatCSV
		case spaces > 0:
			return FormatWS
		}
		return FormatCSV
	}
	return FormatCSV
}

// Source is one named input. Name is used for messages and, unless
// ReadOptions.Format says otherwise, for the format (its extension); "-"
// names standard input. Gzip is detected from the content's magic bytes
// whatever the name.
type Source struct {
	Name string
	R    io.Reader
}

// OpenSources opens the named files for reading; "-" is stdin (given, so
// tests and the CLI can pass their own). Close closes every opened file; on
// error the files already opened are closed.
func OpenSources(paths []string, stdin io.Reader) (srcs []Source, closeAll func() error, err error) {
	var files []*os.File
	closeAll = func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		files = nil
		return errors.Join(errs...)
	}
	for _, p := range paths {
		if p == "-" {
			if stdin == nil {
				closeAll()
				return nil, nil, fmt.Errorf("features: %w: %q is stdin but no stdin was given", ErrInput, p)
			}
			srcs = append(srcs, Source{Name: "-", R: stdin})
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("features: open events: %w: %w", ErrInput, err)
		}
		files = append(files, f)
		srcs = append(srcs, Source{Name: p, R: f})
	}
	return srcs, closeAll, nil
}

// Reader streams events from one or several inputs in order. It holds one
// buffered line of each input at a time (plus, with OrderCol, the order
// being merged), the distinct user ids and event names, and the duplicate
// fingerprints (see ReadOptions.Dedupe); never a whole input.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	// ctx is kept because Read mirrors io.Reader; like database/sql.Rows,
	// the Reader stops at the context given to NewReader.
	ctx  context.Context
	srcs []Source
	opts ReadOptions
	m    Mapping
	now  func() time.Time

	maxBad    float64 // normalized: fraction in (0,1), count >= 0, or +Inf
	fraction  bool
	maxEx     int
	dedupe    string
	horizon   time.Time // rows after it are clock skew
	horizonS  int64     // horizon as unix seconds and nanoseconds
	horizonNs int
	tp        *timeParser
	roles     map[string]uint8  // role of each mapped column or key name
	keys      map[string]string // interned JSON keys
	eventName []byte            // Mapping.EventName
	lastUser  string            // the previous row's interned user id
	lastUserI int32             // its index in userList

	// current source
	cur      int
	open     bool
	format   string
	quoting  bool // CSV or TSV: a blank line is a record (of one empty field)
	br, zbr  *bufio.Reader
	gz       *gzip.Reader
	lr       lineReader
	sp       csvSplitter
	ws       [][]byte
	js       jsonScanner
	header   []string
	colIdx   []uint8 // role of each header column
	idx      [8]int  // column index of each role, -1 when absent
	in       rowIn
	srcStats *SourceStats

	// the row being accepted
	row     Event
	rowName int32
	rowUser int32

	// order merging
	pending     Event
	pendingName int32
	pendingUser int32
	pendingSet  bool
	pendingOrd  []byte

	users      map[string]int32 // index in userList
	userList   []string
	userCache  [256]userSlot // recent users by userKey
	evUser     int32         // indexes of the last event returned (EventIndex)
	evName     int32
	names      map[string]int32
	nameCache  [64]int32 // index+1 of a recent name by nameSlot
	nameList   []string
	nameCounts []int64
	dups       dupSet
	revenue    neumaier
	refunds    neumaier

	st    ReadStats
	fatal error

	progStart, progLast time.Time
	progShown           bool
}

// rowIn holds the raw values of one row.
type rowIn struct {
	user, event, time, amount, qty, price, order []byte
	hasEvent, hasTime                            bool
	extras                                       []kv
}

type kv struct {
	key string
	val []byte
}

// NewReader returns a Reader over srcs, read in order. ctx cancels a read in
// progress: Read checks it every 4,096 rows. Nothing is read before the
// first call to Read.
func NewReader(ctx context.Context, srcs []Source, opts *ReadOptions) (*Reader, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o ReadOptions
	if opts != nil {
		o = *opts
	}
	r := &Reader{
		ctx:   ctx,
		srcs:  srcs,
		opts:  o,
		m:     o.Mapping.withDefaults(),
		now:   o.Now,
		maxEx: o.MaxExamples,
		users: make(map[string]int32),
		names: make(map[string]int32),
		keys:  make(map[string]string),
		roles: make(map[string]uint8),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	r.eventName = []byte(r.m.EventName)
	r.opts.Format, _ = formatName(o.Format)
	switch {
	case o.MaxBadRows == 0:
		r.maxBad, r.fraction = 0.01, true
	case o.MaxBadRows < 0:
		r.maxBad = 0
	case o.MaxBadRows < 1:
		r.maxBad, r.fraction = o.MaxBadRows, true
	default:
		r.maxBad = math.Floor(o.MaxBadRows)
	}
	if r.maxEx == 0 {
		r.maxEx = 10
	}
	r.dedupe = o.Dedupe
	if r.dedupe == "" {
		r.dedupe = DedupeAuto
	}
	r.tp, _ = newTimeParser(r.m.TimeFormat, r.m.Location)
	for _, c := range r.m.columns() {
		if c.name != "" {
			r.roles[c.name] = c.role
		}
	}
	r.st = ReadStats{
		EventTypes:  map[string]int64{},
		BadByReason: map[error]int64{},
		AsOf:        o.AsOf,
		MaxBadRows:  o.MaxBadRows,
		TrimFloat:   r.m.UserTrimFloat,
	}
	start := r.now()
	r.setHorizon(start)
	r.progStart, r.progLast = start, start
	return r, nil
}

// Read fills e with the next event and returns nil, or io.EOF after the last
// one. Rejected rows are counted (see Stats), never returned. Read fails
// with a *TooManyBadRowsError (errors.Is ErrTooManyBadRows) when
// ReadOptions.MaxBadRows is exceeded: at once for a count, at the end of the
// input for a fraction (instead of io.EOF, after every event was returned).
// A header without a required column, an unreadable or corrupt input and
// a cancelled context also end the read, the first two as a *ParseError.
// After an error every call returns the same error.
//
// e is overwritten entirely. Its UserID and Name strings are shared between
// events (interned), Props is a new map or nil.
func (r *Reader) Read(e *Event) error {
	for {
		if r.fatal != nil {
			return r.fatal
		}
		if r.cur >= len(r.srcs) {
			r.fatal = r.finish()
			continue
		}
		if !r.open {
			if err := r.openSource(); err != nil {
				r.fatal = err
				continue
			}
		}
		got, err := r.step(e)
		if err != nil {
			r.fatal = err
			continue
		}
		if got {
			return nil
		}
	}
}

// finish ends the read: the final bad-row check and the progress line.
func (r *Reader) finish() error {
	r.progress(true)
	if r.tooManyBad(true) {
		return r.tooManyError(false)
	}
	return io.EOF
}

// tooManyBad applies the limit; the fraction only at the end.
func (r *Reader) tooManyBad(atEnd bool) bool {
	if math.IsInf(r.maxBad, 1) || r.st.Bad == 0 {
		return false
	}
	if r.fraction {
		return atEnd && float64(r.st.Bad) > r.maxBad*float64(r.st.Rows)
	}
	return float64(r.st.Bad) > r.maxBad
}

// openSource starts r.srcs[r.cur]: gzip, BOM, format, header.
func (r *Reader) openSource() error {
	src := r.srcs[r.cur]
	name := src.Name
	if name == "" {
		name = "-"
	}
	r.st.Sources = append(r.st.Sources, SourceStats{Name: name})
	r.srcStats = &r.st.Sources[len(r.st.Sources)-1]
	r.open = true
	r.tp.last = tkNone
	if r.br == nil {
		r.br = bufio.NewReaderSize(src.R, 64<<10)
	} else {
		r.br.Reset(src.R)
	}
	br := r.br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if r.gz == nil {
			r.gz, err = gzip.NewReader(br)
		} else {
			err = r.gz.Reset(br)
		}
		if err != nil {
			return &ParseError{File: name, Err: fmt.Errorf("%w: gzip: %w", ErrInput, err)}
		}
		if r.zbr == nil {
			r.zbr = bufio.NewReaderSize(r.gz, 64<<10)
		} else {
			r.zbr.Reset(r.gz)
		}
		br = r.zbr
		r.srcStats.Gzip = true
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	r.format = r.opts.Format
	if r.format == "" {
		r.format = formatByName(name)
	}
	if r.format == "" {
		r.format = sniffFormat(peekLine(br))
	}
	r.srcStats.Format = r.format
	r.quoting = r.format == FormatCSV || r.format == FormatTSV
	r.lr.reset(br)
	r.header = r.header[:0]
	switch r.format {
	case FormatCSV:
		r.sp.comma = ','
	case FormatTSV:
		r.sp.comma = '\t'
	}
	if r.format == FormatJSONL {
		return nil
	}
	return r.readHeader(name)
}

// readHeader reads the first non-blank line as the header and maps the
// columns. An empty input has no header and no rows.
func (r *Reader) readHeader(name string) error {
	var fields [][]byte
	for {
		line, tooLong, err := r.lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return r.inputError(err)
		}
		if tooLong {
			return &ParseError{File: name, Line: r.lr.line, Err: fmt.Errorf("%w in header: %w", ErrSyntax, errTooLong)}
		}
		if isBlank(line) {
			continue
		}
		start := r.lr.line
		if r.format == FormatWS {
			r.ws = splitFields(r.ws, line)
			fields = r.ws
		} else {
			f, cerr, err := r.sp.split(line, &r.lr)
			if err != nil {
				return r.inputError(err)
			}
			if cerr != nil {
				return &ParseError{File: name, Line: start, Err: fmt.Errorf("%w in header: %s", ErrSyntax, cerr.msg)}
			}
			fields = f
		}
		r.srcStats.HeaderLine = start
		break
	}
	for _, f := range fields {
		r.header = append(r.header, string(trimSpace(f)))
	}
	r.colIdx = make([]uint8, len(r.header))
	for i := range r.idx {
		r.idx[i] = -1
	}
	for i, h := range r.header {
		role := r.roles[h]
		if role != roleExtra && r.idx[role] < 0 {
			r.idx[role] = i
			r.colIdx[i] = role
		}
	}
	missing := func(col, hint string) error {
		return &ParseError{File: name, Line: r.srcStats.HeaderLine, Field: col,
			Err: fmt.Errorf("%w%s; the header has %s", ErrMissingColumn, hint, clip(strings.Join(r.header, ","), 200))}
	}
	switch {
	case r.idx[roleUser] < 0:
		return missing(r.m.UserCol, " (set the user column)")
	case r.idx[roleTime] < 0:
		return missing(r.m.TimeCol, " (set the time column)")
	case r.idx[roleEvent] < 0 && r.m.EventName == "":
		return missing(r.m.EventCol, " (set the event column, or an event name for files without one)")
	case r.m.QuantityCol != "" && r.idx[roleQty] < 0:
		return missing(r.m.QuantityCol, "")
	case r.m.PriceCol != "" && r.idx[rolePrice] < 0:
		return missing(r.m.PriceCol, "")
	case r.m.OrderCol != "" && r.idx[roleOrder] < 0:
		return missing(r.m.OrderCol, "")
	}
	if r.m.QuantityCol == "" && r.idx[roleAmount] < 0 {
		r.srcStats.NoAmount = r.m.AmountCol
	}
	if r.idx[roleEvent] < 0 {
		r.srcStats.NoEvent = r.m.EventCol
	}
	return nil
}

func (r *Reader) inputError(err error) error {
	return &ParseError{File: r.srcStats.Name, Line: r.lr.line, Err: fmt.Errorf("%w: %w", ErrInput, err)}
}

// step reads one record. It reports true when e holds an event to return.
func (r *Reader) step(e *Event) (bool, error) {
	line, tooLong, err := r.lr.next()
	if err != nil {
		r.srcStats.Lines = r.lr.line
		if err != io.EOF {
			return false, r.inputError(err)
		}
		r.open = false
		r.cur++
		if r.pendingSet {
			r.emitPending(e)
			return true, nil
		}
		return false, nil
	}
	if !tooLong && len(line) == 0 {
		return false, nil
	}
	start := r.lr.line
	if !r.quoting && !tooLong && isBlank(line) {
		return false, nil
	}
	r.st.Rows++
	r.srcStats.Rows++
	if r.st.Rows&4095 == 0 {
		if err := r.tick(); err != nil {
			return false, err
		}
	}
	if tooLong {
		r.reject(ErrSyntax, start, "", errTooLong.Error())
		return r.checkEarly()
	}
	in := &r.in
	in.extras = in.extras[:0]
	switch r.format {
	case FormatJSONL:
		fields, msg := r.js.scan(line)
		if msg != "" {
			r.reject(ErrSyntax, start, "", msg)
			return r.checkEarly()
		}
		if field, msg := r.fromJSON(fields); msg != "" {
			r.reject(ErrSyntax, start, field, msg)
			return r.checkEarly()
		}
	default:
		var fields [][]byte
		if r.format == FormatWS {
			r.ws = splitFields(r.ws, line)
			fields = r.ws
		} else {
			f, cerr, err := r.sp.split(line, &r.lr)
			if err != nil {
				return false, r.inputError(err)
			}
			if cerr != nil {
				field := ""
				if cerr.field < len(r.header) {
					field = r.header[cerr.field]
				}
				r.reject(ErrSyntax, start, field, cerr.msg)
				return r.checkEarly()
			}
			fields = f
		}
		if len(fields) != len(r.header) {
			d := ""
			if r.wantExample() {
				d = fmt.Sprintf("%d, the header has %d", len(fields), len(r.header))
			}
			r.reject(ErrFieldCount, start, "", d)
			return r.checkEarly()
		}
		r.fromFields(fields)
	}
	if !r.accept(in, start) {
		return r.checkEarly()
	}
	if r.m.OrderCol == "" {
		*e = r.row
		r.account(e, r.rowUser, r.rowName)
		return true, nil
	}
	order := trimSpace(in.order)
	if r.pendingSet && len(order) > 0 && r.row.UserID == r.pending.UserID && bytes.Equal(order, r.pendingOrd) {
		r.pending.Amount += r.row.Amount
		r.st.MergedLines++
		return false, nil
	}
	got := false
	if r.pendingSet {
		r.emitPending(e)
		got = true
	}
	r.pending, r.pendingName, r.pendingUser, r.pendingSet = r.row, r.rowName, r.rowUser, true
	r.pendingOrd = append(r.pendingOrd[:0], order...)
	return got, nil
}

func (r *Reader) emitPending(e *Event) {
	*e = r.pending
	r.account(e, r.pendingUser, r.pendingName)
	r.pending, r.pendingSet = Event{}, false
}

// checkEarly stops the read once an absolute limit is exceeded.
func (r *Reader) checkEarly() (bool, error) {
	if r.tooManyBad(false) {
		return false, r.tooManyError(true)
	}
	return false, nil
}

// fromFields maps a CSV, TSV or whitespace record into r.in.
func (r *Reader) fromFields(f [][]byte) {
	in := &r.in
	get := func(role uint8) []byte {
		if i := r.idx[role]; i >= 0 {
			return f[i]
		}
		return nil
	}
	in.user, in.time = f[r.idx[roleUser]], f[r.idx[roleTime]]
	in.hasTime = true
	in.event, in.hasEvent = get(roleEvent), r.idx[roleEvent] >= 0
	in.amount, in.qty, in.price, in.order = get(roleAmount), get(roleQty), get(rolePrice), get(roleOrder)
	if r.wantExtras() {
		for i, role := range r.colIdx {
			if role == roleExtra {
				if v := trimSpace(f[i]); len(v) > 0 {
					in.extras = append(in.extras, kv{r.header[i], v})
				}
			}
		}
	}
}

func (r *Reader) wantExtras() bool { return r.opts.KeepProps || r.dedupe != DedupeOff }

// fromJSON maps a JSON object into r.in. null is the same as an absent key.
// A nested value where a mapped field is expected is a syntax error.
func (r *Reader) fromJSON(fields []jsonField) (string, string) {
	in := &r.in
	*in = rowIn{extras: in.extras}
	extras := r.wantExtras()
	for i := range fields {
		f := &fields[i]
		role := r.roles[string(f.key)]
		if f.kind == jsNull {
			continue
		}
		if role != roleExtra && f.kind == jsNested {
			return r.keyName(f.key), "object or array where a value was expected"
		}
		switch role {
		case roleUser:
			in.user = f.val
		case roleEvent:
			in.event, in.hasEvent = f.val, true
		case roleTime:
			in.time, in.hasTime = f.val, true
		case roleAmount:
			in.amount = f.val
		case roleQty:
			in.qty = f.val
		case rolePrice:
			in.price = f.val
		case roleOrder:
			in.order = f.val
		default:
			if extras {
				if v := trimSpace(f.val); len(v) > 0 {
					in.extras = append(in.extras, kv{r.keyName(f.key), v})
				}
			}
		}
	}
	return "", ""
}

// keyName interns a JSON key (up to 4,096 distinct keys; then it allocates).
func (r *Reader) keyName(k []byte) string {
	if s, ok := r.keys[string(k)]; ok {
		return s
	}
	s := string(k)
	if len(r.keys) < 4096 {
		r.keys[s] = s
	}
	return s
}

// Event times must fit int64 unix nanoseconds, as the feature state stores
// them: 1677-09-21T00:12:43Z through 2262-04-11T23:47:16Z. A timestamp
// outside is an unparsable-timestamp bad row.
var (
	minEventTime = time.Unix(0, math.MinInt64).UTC()
	maxEventTime = time.Unix(0, math.MaxInt64).UTC()

	minEventS, minEventNs = minEventTime.Unix(), minEventTime.Nanosecond()
	maxEventS, maxEventNs = maxEventTime.Unix(), maxEventTime.Nanosecond()
)

// before reports whether the instant (s1, ns1) is before (s2, ns2), each
// unix seconds and nanoseconds in [0, 1e9): time.Time.Before without its
// decoding, on the reader's hot path.
func before(s1 int64, ns1 int, s2 int64, ns2 int) bool {
	return s1 < s2 || s1 == s2 && ns1 < ns2
}

// setHorizon sets the clock-skew bound to now + 5 minutes.
func (r *Reader) setHorizon(now time.Time) {
	r.horizon = now.Add(5 * time.Minute)
	r.horizonS, r.horizonNs = r.horizon.Unix(), r.horizon.Nanosecond()
}

// maxAmount bounds |amount| (after quantity × price): beyond it a value is
// not money, and sums of merged order lines stay finite.
const maxAmount = 1e15

// accept validates r.in and fills r.row. A rejected row is recorded.
func (r *Reader) accept(in *rowIn, line int64) bool {
	m := &r.m
	user := trimSpace(in.user)
	if len(user) == 0 {
		r.reject(ErrMissingUser, line, m.UserCol, "")
		return false
	}
	floatID := looksLikeFloat(user)
	if floatID && m.UserTrimFloat {
		user = user[:bytes.IndexByte(user, '.')]
	}
	var name []byte
	if in.hasEvent {
		name = trimSpace(in.event)
		if len(name) == 0 {
			r.reject(ErrMissingEvent, line, m.EventCol, "")
			return false
		}
	} else if len(r.eventName) > 0 {
		name = r.eventName
	} else {
		r.reject(ErrMissingEvent, line, m.EventCol, "")
		return false
	}
	tv := trimSpace(in.time)
	t, clock, ok := r.tp.parse(tv)
	sec, nsec := t.Unix(), t.Nanosecond()
	if inRange := ok && !before(sec, nsec, minEventS, minEventNs) && !before(maxEventS, maxEventNs, sec, nsec); !inRange {
		d := ""
		if r.wantExample() {
			switch {
			case !in.hasTime:
				d = "no such key"
			case ok:
				d = strconv.Quote(clip(string(tv), 40)) + " is outside 1677-09-21..2262-04-11"
			default:
				d = strconv.Quote(clip(string(tv), 40))
			}
		}
		r.reject(ErrBadTime, line, m.TimeCol, d)
		return false
	}
	var amount, q, p float64
	if m.QuantityCol != "" {
		if q, ok = r.number(in.qty, line, m.QuantityCol); !ok {
			return false
		}
		if p, ok = r.number(in.price, line, m.PriceCol); !ok {
			return false
		}
		amount = q * p
		if math.Abs(amount) > maxAmount {
			r.reject(ErrBadAmount, line, m.QuantityCol, "quantity × price beyond 1e15")
			return false
		}
	} else if amount, ok = r.number(in.amount, line, m.AmountCol); !ok {
		return false
	}
	if before(r.horizonS, r.horizonNs, sec, nsec) {
		d := ""
		if r.wantExample() {
			d = t.Format(time.RFC3339Nano) + " is after " + r.horizon.Add(-5*time.Minute).Format(time.RFC3339) + " + 5m"
		}
		r.reject(ErrFutureTime, line, m.TimeCol, d)
		return false
	}
	// Every check that can reject the row is done: intern its user and
	// name (a duplicate's are those of the row it repeats, so a dropped
	// duplicate adds neither), and fingerprint them by their indexes.
	uid, ui := r.lastUser, r.lastUserI // exports sorted by user repeat the id row after row
	if string(user) != uid {
		// Exports sorted by time interleave the sessions of the users
		// active at the time: a small cache of recent users answers most
		// rows without the map's cache misses.
		key := userKey(user)
		c := &r.userCache[(key*0x9e3779b97f4a7c15)>>56]
		if c.idx > 0 && c.key == key && r.userList[c.idx-1] == string(user) {
			ui = c.idx - 1
			uid = r.userList[ui]
		} else {
			if ui, ok = r.users[string(user)]; ok {
				uid = r.userList[ui]
			} else {
				uid, ui = string(user), int32(len(r.userList))
				r.users[uid] = ui
				r.userList = append(r.userList, uid)
			}
			c.key, c.idx = key, ui+1
		}
		r.lastUser, r.lastUserI = uid, ui
	}
	slot := nameSlot(name)
	idx := r.nameCache[slot] - 1
	if idx < 0 || r.nameList[idx] != string(name) {
		var known bool
		if idx, known = r.names[string(name)]; !known {
			idx = int32(len(r.nameList))
			s := string(name)
			r.names[s] = idx
			r.nameList = append(r.nameList, s)
			r.nameCounts = append(r.nameCounts, 0)
		}
		r.nameCache[slot] = idx + 1
	}
	if r.dedupe != DedupeOff {
		var h fingerprint
		h.init()
		h.word(uint64(ui))
		h.word(uint64(idx))
		h.word(uint64(sec))
		h.word(uint64(nsec))
		h.word(math.Float64bits(amount + 0)) // +0 folds -0 into 0
		h.word(math.Float64bits(q + 0))
		h.word(math.Float64bits(p + 0))
		h.bytes(trimSpace(in.order))
		var ex uint64
		for _, x := range in.extras {
			var g fingerprint
			g.init()
			g.str(x.key)
			g.bytes(x.val)
			ex += g.sum()
		}
		h.word(ex)
		if !r.dups.insert(floorDiv(sec, 86400), h.sum()) {
			if clock || r.dedupe == DedupeOn {
				r.st.DuplicatesDropped++
				return false
			}
			r.st.DuplicatesKept++
		}
	}
	if floatID {
		r.st.FloatUserIDs++
		if r.st.FloatUserExample == "" {
			r.st.FloatUserExample = string(trimSpace(in.user))
		}
	}
	var props map[string]string
	if r.opts.KeepProps && len(in.extras) > 0 {
		props = make(map[string]string, len(in.extras))
		for _, x := range in.extras {
			props[x.key] = string(x.val)
		}
	}
	r.row = Event{UserID: uid, Name: r.nameList[idx], Time: t, Amount: amount, Props: props}
	r.rowName, r.rowUser = idx, ui
	return true
}

// userSlot is an entry of Reader.userCache: a user's userKey and index+1
// (0: empty).
type userSlot struct {
	key uint64
	idx int32
}

// userKey packs the length and the last 8 bytes of a user id into 64 bits:
// ids of one export usually differ in their last digits.
func userKey(b []byte) uint64 {
	var k uint64
	if len(b) >= 8 {
		k = binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for _, c := range b {
			k = k<<8 | uint64(c)
		}
	}
	return k ^ uint64(len(b))<<59
}

// nameSlot picks the slot of an event name in Reader.nameCache from its
// length and its first and last bytes: cheap, and different for the few
// names an export usually has.
func nameSlot(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(uint(len(b))*7+uint(b[0])*3+uint(b[len(b)-1])) & 63
}

// number parses an amount, quantity or price; empty is 0.
func (r *Reader) number(b []byte, line int64, col string) (float64, bool) {
	b = trimSpace(b)
	v, ok := parseAmount(b)
	if ok && math.Abs(v) <= maxAmount {
		return v, true
	}
	d := ""
	if r.wantExample() {
		d = strconv.Quote(clip(string(b), 40))
		if ok {
			d += " is beyond 1e15"
		}
	}
	r.reject(ErrBadAmount, line, col, d)
	return 0, false
}

// pow10 holds the exact powers of ten for the fast amount path.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseAmount parses a decimal number; empty is 0. Plain decimals with at
// most 15 digits are computed as an exact integer divided by an exact power
// of ten, which IEEE division rounds correctly, so the result equals
// strconv.ParseFloat's; anything else goes to strconv.ParseFloat. NaN and
// infinities are rejected.
func parseAmount(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	i, neg := 0, false
	if b[0] == '-' || b[0] == '+' {
		neg, i = b[0] == '-', 1
	}
	var mant uint64
	nd, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c):
			mant = mant*10 + uint64(c-'0')
			nd++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			nd = 99 // not plain: slow path
		}
		if nd > 15 {
			break
		}
	}
	if nd >= 1 && nd <= 15 {
		v := float64(mant) / pow10[frac]
		if neg {
			v = -v
		}
		return v, true
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// looksLikeFloat reports an id such as "17850.0": digits, a dot, zeros.
func looksLikeFloat(b []byte) bool {
	dot := bytes.IndexByte(b, '.')
	if dot < 1 || dot == len(b)-1 {
		return false
	}
	for _, c := range b[:dot] {
		if !isDigit(c) {
			return false
		}
	}
	for _, c := range b[dot+1:] {
		if c != '0' {
			return false
		}
	}
	return true
}

// account updates the statistics of an event being returned.
func (r *Reader) account(e *Event, user, name int32) {
	r.evUser, r.evName = user, name
	s := &r.st
	if s.Events == 0 || e.Time.Before(s.MinTime) {
		s.MinTime = e.Time
	}
	if s.Events == 0 || e.Time.After(s.MaxTime) {
		s.MaxTime = e.Time
	}
	s.Events++
	r.nameCounts[name]++
	switch {
	case e.Amount > 0:
		r.revenue.add(e.Amount)
	case e.Amount < 0:
		s.Refunds++
		r.refunds.add(-e.Amount)
	}
	if !s.AsOf.IsZero() && !e.Time.Before(s.AsOf) {
		s.AfterAsOf++
	}
}

// EventIndex reports the indexes of the user id and the event name of the
// event the last successful Read returned, among the distinct user ids and
// names of this Reader: 0, 1, 2, ... in order of first appearance, so equal
// strings have equal indexes (and are the same interned string).
// Builder.AddIndexed takes them to skip its own hash lookups.
func (r *Reader) EventIndex() (user, name int) { return int(r.evUser), int(r.evName) }

// wantExample reports whether the next rejected row is kept as an example.
func (r *Reader) wantExample() bool { return len(r.st.Examples) < r.maxEx }

// reject counts a bad row and keeps it as an example while there is room.
func (r *Reader) reject(reason error, line int64, field, detail string) {
	r.st.Bad++
	r.st.BadByReason[reason]++
	if !r.wantExample() {
		return
	}
	err := reason
	if detail != "" {
		err = fmt.Errorf("%w: %s", reason, detail)
	}
	r.st.Examples = append(r.st.Examples, &ParseError{File: r.srcStats.Name, Line: line, Field: field, Err: err})
}

func (r *Reader) tooManyError(early bool) error {
	s := r.Stats()
	return &TooManyBadRowsError{
		Bad: s.Bad, Rows: s.Rows, Limit: r.opts.MaxBadRows, Early: early,
		ByReason: s.BadByReason, Examples: s.Examples,
	}
}

// tick runs every 4,096 rows: cancellation, the clock, progress.
func (r *Reader) tick() error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("features: reading events: %w", err)
	}
	if r.st.Rows&(1<<16-1) == 0 {
		r.setHorizon(r.now())
	}
	if r.opts.Progress != nil && r.st.Rows&(1<<14-1) == 0 {
		r.progress(false)
	}
	return nil
}

// progress prints "rows, rows/s" at most every 500 ms, and a final line
// with a newline at the end when anything was printed.
func (r *Reader) progress(final bool) {
	w := r.opts.Progress
	if w == nil || (final && !r.progShown) {
		return
	}
	now := r.now()
	if !final && now.Sub(r.progLast) < 500*time.Millisecond {
		return
	}
	r.progLast = now
	rate := 0.0
	if el := now.Sub(r.progStart).Seconds(); el > 0 {
		rate = float64(r.st.Rows) / el
	}
	fmt.Fprintf(w, "\rreading events: %s rows, %s rows/s ", groupInt(r.st.Rows), groupInt(int64(rate)))
	r.progShown = true
	if final {
		fmt.Fprintln(w)
	}
}

// Stats returns the statistics so far; after io.EOF they are final. The
// result shares nothing with the Reader.
func (r *Reader) Stats() ReadStats {
	s := r.st
	s.Users = len(r.users)
	s.Revenue = r.revenue.sum()
	s.RefundTotal = r.refunds.sum()
	s.Sources = append([]SourceStats(nil), r.st.Sources...)
	s.EventTypes = make(map[string]int64, len(r.nameList))
	for i, n := range r.nameList {
		if c := r.nameCounts[i]; c > 0 {
			s.EventTypes[n] = c
		}
	}
	s.BadByReason = make(map[error]int64, len(r.st.BadByReason))
	for k, v := range r.st.BadByReason {
		s.BadByReason[k] = v
	}
	s.Examples = append([]*ParseError(nil), r.st.Examples...)
	if r.srcStats != nil {
		s.Sources[len(s.Sources)-1].Lines = r.lr.line
	}
	var lines int64
	for _, src := range s.Sources {
		lines += src.Lines
	}
	s.Lines = lines
	return s
}

// neumaier is a compensated sum, so revenue totals do not drift over
// millions of rows.
type neumaier struct{ s, c float64 }

func (n *neumaier) add(x float64) {
	t := n.s + x
	if math.Abs(n.s) >= math.Abs(x) {
		n.c += (n.s - t) + x
	} else {
		n.c += (x - t) + n.s
	}
	n.s = t
}

func (n *neumaier) sum() float64 { return n.s + n.c }
