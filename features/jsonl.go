package features

import (
	"encoding/json"
	"unicode/utf8"
)

// jsonKind is the type of a JSON Lines value.
type jsonKind uint8

const (
	jsString jsonKind = iota + 1
	jsNumber
	jsTrue
	jsFalse
	jsNull
	jsNested // an object or array, kept as its raw text
)

// jsonField is one member of a JSON Lines object.
type jsonField struct {
	key  []byte // decoded
	val  []byte // decoded string, number literal, "true"/"false", raw nested text; nil for null
	kind jsonKind
}

// jsonScanner parses one JSON Lines record: a single flat object whose
// values are strings, numbers, booleans or null. Nested objects and arrays
// are validated and kept as raw text. The grammar and string decoding are
// those of encoding/json (strings with escapes or invalid UTF-8 are decoded
// by it); duplicate keys are returned in order, so the last one wins for a
// caller that assigns them in turn.
type jsonScanner struct {
	fields []jsonField
}

// scan parses line. The fields are valid until the next call and may point
// into line. On malformed input it returns a short description.
func (s *jsonScanner) scan(b []byte) ([]jsonField, string) {
	s.fields = s.fields[:0]
	i := skipJSONSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, "not a JSON object"
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return s.end(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, "expected a string key"
		}
		key, j, ok := scanJSONString(b, i)
		if !ok {
			return nil, "invalid string"
		}
		i = skipJSONSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, "expected ':' after a key"
		}
		i = skipJSONSpace(b, i+1)
		val, kind, j, msg := scanJSONValue(b, i)
		if msg != "" {
			return nil, msg
		}
		s.fields = append(s.fields, jsonField{key: key, val: val, kind: kind})
		i = skipJSONSpace(b, j)
		if i < len(b) && b[i] == ',' {
			i = skipJSONSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return s.end(b, i+1)
		}
		return nil, "expected ',' or '}'"
	}
}

func (s *jsonScanner) end(b []byte, i int) ([]jsonField, string) {
	if skipJSONSpace(b, i) != len(b) {
		return nil, "data after the object"
	}
	return s.fields, ""
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanJSONValue reads the value at b[i] and returns it, its kind and the
// index after it.
func scanJSONValue(b []byte, i int) ([]byte, jsonKind, int, string) {
	if i >= len(b) {
		return nil, 0, i, "missing value"
	}
	switch c := b[i]; {
	case c == '"':
		v, j, ok := scanJSONString(b, i)
		if !ok {
			return nil, 0, i, "invalid string"
		}
		return v, jsString, j, ""
	case c == '-' || isDigit(c):
		j, ok := scanJSONNumber(b, i)
		if !ok {
			return nil, 0, i, "invalid number"
		}
		return b[i:j], jsNumber, j, ""
	case c == 't' && hasPrefixAt(b, i, "true"):
		return b[i : i+4], jsTrue, i + 4, ""
	case c == 'f' && hasPrefixAt(b, i, "false"):
		return b[i : i+5], jsFalse, i + 5, ""
	case c == 'n' && hasPrefixAt(b, i, "null"):
		return nil, jsNull, i + 4, ""
	case c == '{' || c == '[':
		j, ok := nestedEnd(b, i)
		if !ok || !json.Valid(b[i:j]) {
			return nil, 0, i, "invalid nested value"
		}
		return b[i:j], jsNested, j, ""
	}
	return nil, 0, i, "invalid value"
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return len(b)-i >= len(p) && string(b[i:i+len(p)]) == p
}

// scanJSONString reads the string starting at the quote b[i] and returns its
// decoded bytes and the index after the closing quote.
func scanJSONString(b []byte, i int) ([]byte, int, bool) {
	j := i + 1
	simple := true // no escapes, ASCII only
	for {
		if j >= len(b) {
			return nil, j, false
		}
		c := b[j]
		switch {
		case c == '"':
			raw := b[i+1 : j]
			if simple || utf8.Valid(raw) && !hasBackslash(raw) {
				return raw, j + 1, true
			}
			var s string
			if err := json.Unmarshal(b[i:j+1], &s); err != nil {
				return nil, j, false
			}
			return []byte(s), j + 1, true
		case c == '\\':
			simple = false
			if j+1 >= len(b) {
				return nil, j, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if len(b)-j < 6 || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return nil, j, false
				}
				j += 6
			default:
				return nil, j, false
			}
			continue
		case c < 0x20:
			return nil, j, false
		case c >= 0x80:
			simple = false
		}
		j++
	}
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

// scanJSONNumber checks the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and returns its end.
func scanJSONNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// nestedEnd returns the index after the object or array starting at b[i],
// matching brackets outside strings. json.Valid checks the grammar.
func nestedEnd(b []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			j++
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return len(b), false
}
