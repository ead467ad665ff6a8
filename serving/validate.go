package serving

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLength is the longest accepted user id (and event name), in bytes.
const MaxIDLength = 256

// CheckID validates a user id before it reaches the store: 1 to
// MaxIDLength bytes of valid UTF-8, printable characters only (no control
// or format characters, no other whitespace than the ASCII space), and no
// leading or trailing space (the event readers trim ids, so such an id
// could never match). what names the value in the message.
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", what)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%s is %d bytes long, the limit is %d", what, len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case id[0] == ' ' || id[len(id)-1] == ' ':
		return fmt.Errorf("%s has a leading or trailing space", what)
	}
	for i, r := range id {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s has the unprintable character %U at byte %d", what, r, i)
		}
	}
	return nil
}

// decodeJSON decodes a JSON request body into v, strictly: unknown fields,
// trailing data and type mismatches are 400s that name the field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return Errorf(CodeInvalid, "the request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeInvalid, "invalid JSON: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(CodeInvalid, "invalid JSON: data after the top-level value")
	}
	return nil
}

// describeJSONError names the field or offset of a decoding error.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("field %q: got a JSON %s, want %s", field, te.Value, jsonTypeName(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the body ends in the middle of a value"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

func jsonTypeName(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "ptr", "interface":
		return "a value"
	}
	return "a number"
}
