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
