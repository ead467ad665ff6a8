package features

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxRecordBytes bounds one line, or one CSV record whose quoted fields span
// several lines. A longer record is a syntax error; its bytes are skipped,
// not kept, so a file without newlines never ends up in memory.
const maxRecordBytes = 8 << 20

// errTooLong is the detail of a syntax error for a record over maxRecordBytes.
var errTooLong = errors.New("record longer than 8 MiB")

// lineReader yields the physical lines of one decompressed input and counts
// them.
type lineReader struct {
	br   *bufio.Reader
	line int64  // number of the last line returned, 1-based
	long []byte // holds a line longer than br's buffer
	err  error  // sticky: io.EOF after the last line, or the read error
	pend []pendingLine
}

// pendingLine is a line given back with unread, to be returned again.
type pendingLine struct {
	b       []byte // a copy
	tooLong bool
}

func (lr *lineReader) reset(br *bufio.Reader) {
	lr.br, lr.line, lr.err, lr.pend = br, 0, nil, nil
}

// unread gives back the lines last returned, oldest first, so that next
// returns them again, with their line numbers, before reading on. The
// lines must be copies the caller no longer uses.
func (lr *lineReader) unread(lines []pendingLine) {
	lr.pend = append(lines, lr.pend...)
	lr.line -= int64(len(lines))
}

// next returns the next line without its "\n", and without a "\r" before the
// "\n" or at the end of the input (as encoding/csv does). The slice is valid
// until the next call. tooLong reports a line over maxRecordBytes, whose
// bytes are dropped. err is io.EOF after the last line or the read error.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	if len(lr.pend) > 0 {
		p := lr.pend[0]
		lr.pend = lr.pend[1:]
		lr.line++
		return p.b, p.tooLong, nil
	}
	if lr.err != nil {
		return nil, false, lr.err
	}
	b, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = lr.br.ReadSlice('\n')
			if !tooLong && len(lr.long)+len(b) > maxRecordBytes {
				tooLong, lr.long = true, lr.long[:0]
			}
			if !tooLong {
				lr.long = append(lr.long, b...)
			}
		}
		b = lr.long
		if tooLong {
			b = nil
		}
	}
	if err != nil {
		lr.err = err
		if err != io.EOF {
			return nil, false, err
		}
		if len(b) == 0 && !tooLong {
			return nil, false, io.EOF
		}
	}
	lr.line++
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	} else if n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, tooLong, nil
}

// csvSplitter splits CSV or TSV records with the rules of encoding/csv
// (LazyQuotes and TrimLeadingSpace off): a field that starts with a quote is
// quoted, "" inside it is a quote, it may span lines (CRLF inside becomes LF),
// and its closing quote must end the field; a quote anywhere else is an
// error. Lines without a quote take a fast path that only looks for commas.
//
// Unlike encoding/csv, a malformed record costs only its first line: when a
// quoted field that went on to further lines turns out malformed (its
// closing quote is followed by something else than a separator, it never
// closes before the end of the input, or it grows past maxRecordBytes), the
// further lines are given back to the lineReader and read again as records
// of their own. One stray quote thus rejects one row, instead of swallowing
// every row up to the next quote or the end of the file.
type csvSplitter struct {
	comma  byte
	fields [][]byte
	buf    []byte        // unquoted field bytes of a record with quotes
	ends   []int         // end offsets of the fields in buf
	cont   []pendingLine // continuation lines read by the current record
}

// csvError describes a malformed record: the 0-based field at fault and why.
type csvError struct {
	field int
	msg   string
}

// split returns the fields of the record that starts with line, reading
// continuation lines from lr when a quoted field spans lines. The fields are
// valid until the next call. A malformed record returns a csvError; the rest
// of its line is skipped.
func (s *csvSplitter) split(line []byte, lr *lineReader) ([][]byte, *csvError, error) {
	if bytes.IndexByte(line, '"') < 0 {
		f := s.fields[:0]
		for {
			i := bytes.IndexByte(line, s.comma)
			if i < 0 {
				break
			}
			f = append(f, line[:i])
			line = line[i+1:]
		}
		s.fields = append(f, line)
		return s.fields, nil, nil
	}
	return s.splitQuoted(line, lr)
}

func (s *csvSplitter) splitQuoted(line []byte, lr *lineReader) ([][]byte, *csvError, error) {
	s.cont = nil
	f, cerr, err := s.splitQuotedLines(line, lr)
	if cerr != nil && len(s.cont) > 0 {
		lr.unread(s.cont)
	}
	s.cont = nil
	return f, cerr, err
}

func (s *csvSplitter) splitQuotedLines(line []byte, lr *lineReader) ([][]byte, *csvError, error) {
	const badQuote = `extraneous or missing " in quoted field`
	s.buf, s.ends = s.buf[:0], s.ends[:0]
field:
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, s.comma)
			field := line
			if i >= 0 {
				field = line[:i]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				return nil, &csvError{len(s.ends), `bare " in non-quoted field`}, nil
			}
			s.buf = append(s.buf, field...)
			s.ends = append(s.ends, len(s.buf))
			if i < 0 {
				break field
			}
			line = line[i+1:]
			continue field
		}
		line = line[1:]
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				// The quoted field goes on at the next line.
				s.buf = append(s.buf, line...)
				s.buf = append(s.buf, '\n')
				if len(s.buf) > maxRecordBytes {
					return nil, &csvError{len(s.ends), errTooLong.Error()}, nil
				}
				next, tooLong, err := lr.next()
				switch {
				case err == io.EOF:
					return nil, &csvError{len(s.ends), badQuote}, nil
				case err != nil:
					return nil, nil, err
				}
				s.cont = append(s.cont, pendingLine{b: bytes.Clone(next), tooLong: tooLong})
				if tooLong {
					return nil, &csvError{len(s.ends), errTooLong.Error()}, nil
				}
				line = next
				continue
			}
			s.buf = append(s.buf, line[:i]...)
			line = line[i+1:]
			switch {
			case len(line) > 0 && line[0] == '"':
				s.buf = append(s.buf, '"')
				line = line[1:]
			case len(line) > 0 && line[0] == s.comma:
				s.ends = append(s.ends, len(s.buf))
				line = line[1:]
				continue field
			case len(line) == 0:
				s.ends = append(s.ends, len(s.buf))
				break field
			default:
				return nil, &csvError{len(s.ends), badQuote}, nil
			}
		}
	}
	f := s.fields[:0]
	start := 0
	for _, end := range s.ends {
		f = append(f, s.buf[start:end:end])
		start = end
	}
	s.fields = f
	return f, nil, nil
}

// splitFields splits a whitespace-separated line (CDNOW_master.txt style):
// fields are runs of bytes other than space, tab, CR, VT and FF; leading and
// trailing whitespace is ignored. There is no quoting.
func splitFields(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		dst = append(dst, line[i:j])
		i = j
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n'
}

// trimSpace removes surrounding ASCII whitespace.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isBlank reports whether b holds only ASCII whitespace.
func isBlank(b []byte) bool { return len(trimSpace(b)) == 0 }
