package features

import (
	"errors"
	"fmt"
)

// Reasons a single input row is rejected. A rejected row is counted and
// reported with its location; it never stops a read on its own.
var (
	// ErrMissingUser means the user id field is absent or empty.
	ErrMissingUser = errors.New("missing user id")
	// ErrBadTime means the timestamp could not be parsed.
	ErrBadTime = errors.New("unparsable timestamp")
	// ErrBadAmount means the amount (or quantity or price) is not a finite number.
	ErrBadAmount = errors.New("unparsable amount")
	// ErrFieldCount means the row has a different number of fields than the header.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrDuplicate means the row is an exact copy of an earlier row.
	ErrDuplicate = errors.New("exact duplicate row")
	// ErrFutureTime means the timestamp is later than the current clock (clock skew).
	ErrFutureTime = errors.New("timestamp later than the current clock")
	// ErrMissingEvent means the event name field is absent or empty.
	ErrMissingEvent = errors.New("missing event name")
	// ErrSyntax means the row is not valid CSV or JSON.
	ErrSyntax = errors.New("syntax error")
)

// Errors that stop a read. Read returns them instead of counting a bad row.
var (
	// ErrMissingColumn means a header lacks a column the mapping requires
	// (the user, time or event column, or a quantity, price or order
	// column that was asked for). It is returned inside a *ParseError that
	// names the header line and the missing column.
	ErrMissingColumn = errors.New("missing required column")
	// ErrTooManyBadRows means more rows were rejected than
	// ReadOptions.MaxBadRows allows. Read returns it inside a
	// *TooManyBadRowsError that says how many, why and where.
	ErrTooManyBadRows = errors.New("too many bad rows")
	// ErrInput means an input could not be read: an I/O error, a corrupt
	// or truncated gzip stream. It is returned inside a *ParseError that
	// names the input and the last line read, wrapping the cause too.
	ErrInput = errors.New("cannot read input")
	// ErrReadOptions means ReadOptions are invalid (an unknown format or
	// dedupe mode, an incomplete quantity/price mapping, a bad layout);
	// NewReader returns it wrapped with every problem found.
	ErrReadOptions = errors.New("invalid read options")
)

// ParseError locates a rejected row: the file, the 1-based line and the field
// at fault. It prints as "file:line: field: reason", like a compiler error.
type ParseError struct {
	File  string // input name as given by the user ("-" for stdin)
	Line  int64  // 1-based line number in the (decompressed) input
	Field string // column name, empty when the whole row is at fault
	Err   error  // one of the ErrX sentinels above, possibly wrapped
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Field, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }
