package serving

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an API error. Each code maps to one HTTP status in
// statusOf, and is the "code" member of every error response.
type Code string

// The error codes of the API, with their HTTP status.
const (
	// CodeInvalid (400): the request is malformed: invalid JSON, a bad
	// parameter, a user id that fails validation, rejected events.
	CodeInvalid Code = "invalid_request"
	// CodeUnauthorized (401): a token is required and none, or an unknown
	// one, was given.
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden (403): the token's role does not allow the route.
	CodeForbidden Code = "forbidden"
	// CodeNotFound (404): no such route, user, model version or segment.
	CodeNotFound Code = "not_found"
	// CodeMethodNotAllowed (405): the path exists with other methods.
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeNotAcceptable (406): the Accept header asks for a format the
	// route cannot produce.
	CodeNotAcceptable Code = "not_acceptable"
	// CodeConflict (409): the request conflicts with what is stored: an
	// experiment name is taken, or an experiment cannot be measured yet.
	CodeConflict Code = "conflict"
	// CodeTooLarge (413): the body or the batch exceeds a limit.
	CodeTooLarge Code = "too_large"
	// CodeUnsupportedMedia (415): the Content-Type is not one the route reads.
	CodeUnsupportedMedia Code = "unsupported_media_type"
	// CodeNoModel (503): no model is active yet; run lapse train.
	CodeNoModel Code = "no_model"
	// CodeUnavailable (503): the store cannot answer (closed, timed out).
	CodeUnavailable Code = "unavailable"
	// CodeInternal (500): anything else. The message is generic; the
	// details are logged.
	CodeInternal Code = "internal"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[Code]int{
	CodeInvalid:          http.StatusBadRequest,
	CodeUnauthorized:     http.StatusUnauthorized,
	CodeForbidden:        http.StatusForbidden,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeNotAcceptable:    http.StatusNotAcceptable,
	CodeConflict:         http.StatusConflict,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	CodeNoModel:          http.StatusServiceUnavailable,
	CodeUnavailable:      http.StatusServiceUnavailable,
	CodeInternal:         http.StatusInternalServerError,
}

// Status returns the HTTP status of code; unknown codes are 500.
func (c Code) Status() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error the API reports to its client. Handlers return it (or
// wrap it); every other error becomes CodeInternal with the message
// "internal error" and is logged.
type Error struct {
	// Code classifies the error and sets the status.
	Code Code
	// Message is a sentence for the client.
	Message string
	// Details lists the rejected events of a POST /v1/events batch.
	Details []EventError
}

// EventError locates one rejected event of a batch.
type EventError struct {
	// Index is the 0-based position of the event in the JSON array or
	// among the non-blank lines of the NDJSON body.
	Index int `json:"index"`
	// Field is the event field at fault; empty when the whole event is.
	Field string `json:"field,omitempty"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: that of the *Error in its chain, or
// CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// errorBody is the JSON error shape of every error response:
// {"error": {"code": "...", "message": "...", "details": [...]}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    Code         `json:"code"`
	Message string       `json:"message"`
	Details []EventError `json:"details,omitempty"`
}

// bodyOf returns the response body for err: the client's view of it.
func bodyOf(err error) errorBody {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return errorBody{errorDetail{Code: e.Code, Message: e.Message, Details: e.Details}}
	}
	return errorBody{errorDetail{Code: CodeInternal, Message: "internal error"}}
}
