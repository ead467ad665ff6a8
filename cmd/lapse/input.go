package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// inputFlags are the event-input flags shared by every command that reads
// events: the files, the column mapping and the bad-row policy.
type inputFlags struct {
	events     stringList
	mapping    features.Mapping
	tz         string
	format     string
	dedupe     string
	maxBadRows badRowLimit
}

// inputFlagSet holds the flags addInputFlags registers, to tell them apart
// in usage texts from a command's own flag of the same name (gen's output
// --format).
var inputFlagSet = func() *flag.FlagSet {
	fs := flag.NewFlagSet("input", flag.ContinueOnError)
	addInputFlags(fs)
	return fs
}()

// isInputFlag reports whether f is one of the flags of addInputFlags: the
// same name and the same usage text.
func isInputFlag(f *flag.Flag) bool {
	g := inputFlagSet.Lookup(f.Name)
	return g != nil && g.Usage == f.Usage
}

// addInputFlags registers the event-input flags on fs.
func addInputFlags(fs *flag.FlagSet) *inputFlags {
	in := &inputFlags{maxBadRows: badRowLimit{Fraction: 0.01, IsFrac: true}}
	def := features.DefaultMapping()
	m := &in.mapping
	fs.Var(&in.events, "events", "event `file` (CSV, TSV, JSON Lines or whitespace-separated; .gz read transparently; - for stdin); repeat for several files (required)")
	fs.StringVar(&m.UserCol, "user-col", def.UserCol, "`column` (or JSON key) holding the user id")
	fs.StringVar(&m.EventCol, "event-col", def.EventCol, "`column` holding the event name; when the input has none, every row is --event-name")
	fs.StringVar(&m.EventName, "event-name", "", "event `name` of every row of an input without an event column, e.g. purchase for an order log")
	fs.StringVar(&m.TimeCol, "time-col", def.TimeCol, "`column` holding the timestamp")
	fs.StringVar(&m.AmountCol, "amount-col", def.AmountCol, "`column` holding the signed amount (optional in the input; negative = refund)")
	fs.StringVar(&m.QuantityCol, "quantity-col", "", "order-line quantity `column`; with --price-col, amount = quantity x price")
	fs.StringVar(&m.PriceCol, "price-col", "", "order-line unit price `column` (with --quantity-col)")
	fs.StringVar(&m.OrderCol, "order-col", "", "order id `column`: consecutive lines of one user's order become one event with the summed amount")
	fs.StringVar(&m.TimeFormat, "time-format", "", "timestamp `layout`: a Go layout such as 2006-01-02 15:04, or unix, unixms (default: auto-detect)")
	fs.StringVar(&in.tz, "tz", "UTC", "time `zone` of timestamps that carry none, e.g. Europe/Berlin")
	fs.BoolVar(&m.UserTrimFloat, "user-trim-float", false, "strip a .0 tail from integer-valued user ids (17850.0 becomes 17850)")
	fs.StringVar(&in.format, "format", "auto", "input `format`: csv, tsv, jsonl, ws (whitespace-separated) or auto (by extension, else by sniffing the first line)")
	fs.StringVar(&in.dedupe, "dedupe", features.DedupeAuto, "exact duplicate rows: `mode` auto (drop when the timestamp has a time of day, keep date-only), on (drop all) or off")
	fs.Var(badRowFlag{&in.maxBadRows}, "max-bad-rows", "fail with exit code 2 past this many rejected rows: a `limit` as a count (500), fraction (0.01) or percentage (1%)")
	return in
}

// readOptions turns the flags into features.ReadOptions; asOf (may be zero)
// only makes the summary count the events at or after it.
func (in *inputFlags) readOptions(asOf time.Time, progress io.Writer) (*features.ReadOptions, error) {
	if len(in.events) == 0 {
		return nil, usagef("--events is required")
	}
	m := in.mapping
	loc, err := time.LoadLocation(in.tz)
	if err != nil {
		return nil, usagef("--tz %q: %v", in.tz, err)
	}
	m.Location = loc
	format := in.format
	if format == "auto" {
		format = ""
	}
	opts := &features.ReadOptions{
		Mapping:    m,
		Format:     format,
		Dedupe:     in.dedupe,
		MaxBadRows: in.maxBadRows.readerLimit(),
		AsOf:       asOf,
		Progress:   progress,
	}
	if err := opts.Validate(); err != nil {
		return nil, &usageError{err}
	}
	return opts, nil
}

// readerLimit converts the flag to ReadOptions.MaxBadRows, whose 0 means
// the default and a negative value means none.
func (l badRowLimit) readerLimit() float64 {
	switch {
	case l.IsFrac && l.Fraction >= 1:
		return math.Inf(1)
	case l.IsFrac && l.Fraction > 0:
		return l.Fraction
	case !l.IsFrac && l.Count > 0:
		return float64(l.Count)
	}
	return -1 // zero tolerance
}

// eventInput is an open event stream: the Reader, the files behind it, and
// where its summary goes.
type eventInput struct {
	r        *features.Reader
	closeAll func() error
	stderr   io.Writer
}

// openEvents opens the --events inputs and returns a Reader over them.
// Progress (rows/s) goes to stderr only when stderr is a terminal. The caller
// must Close the input; each prints the read summary on stderr.
func openEvents(ctx context.Context, env *Env, in *inputFlags, asOf time.Time) (*eventInput, error) {
	var progress io.Writer
	if isTerminal(env.Stderr) {
		progress = env.Stderr
	}
	opts, err := in.readOptions(asOf, progress)
	if err != nil {
		return nil, err
	}
	srcs, closeAll, err := features.OpenSources(in.events, env.Stdin)
	if err != nil {
		return nil, err
	}
	r, err := features.NewReader(ctx, srcs, opts)
	if err != nil {
		closeAll()
		return nil, &usageError{err}
	}
	return &eventInput{r: r, closeAll: closeAll, stderr: env.Stderr}, nil
}

// each calls fn for every event, then prints the read summary on stderr
// (also when the read fails). fn must not keep e; its strings may be kept.
func (in *eventInput) each(fn func(e *features.Event) error) error {
	var e features.Event
	for {
		err := in.r.Read(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			in.r.Stats().WriteSummary(in.stderr)
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return in.r.Stats().WriteSummary(in.stderr)
}

// Stats returns the read statistics so far.
func (in *eventInput) Stats() features.ReadStats { return in.r.Stats() }

// Close closes the input files.
func (in *eventInput) Close() error { return in.closeAll() }

// isBadInput reports whether err means the input or the mapping is at fault
// in a way the user must fix (exit code 2): too many bad rows, a header
// without a mapped column, or invalid read options.
func isBadInput(err error) bool {
	return errors.Is(err, features.ErrTooManyBadRows) || errors.Is(err, features.ErrMissingColumn) ||
		errors.Is(err, features.ErrReadOptions)
}
