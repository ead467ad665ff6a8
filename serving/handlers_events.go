package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/features"
)

// EventsResponse is the answer of an accepted POST /v1/events batch.
type EventsResponse struct {
	// Accepted is the number of events stored.
	Accepted int `json:"accepted"`
	// DuplicatesDropped counts exact duplicates within the batch that were
	// dropped, as the file readers drop them (timestamps with a time of day).
	DuplicatesDropped int64 `json:"duplicates_dropped"`
	// Users is the number of distinct users whose state was updated.
	Users int `json:"users"`
	// ModelVersion is the model whose feature spec the states follow.
	ModelVersion string `json:"model_version"`
}

// eventContentTypes are the media types POST /v1/events reads; the body
// itself says whether it is an array or NDJSON.
var eventContentTypes = []string{
	"", "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
	"application/x-jsonlines", "application/jsonlines", "text/plain", "application/x-www-form-urlencoded",
}

// postEvents is POST /v1/events: validate the whole batch exactly like a
// JSON Lines file, refuse it entirely when any event is bad, otherwise add
// every event to its user's stored state in one write transaction.
func (s *Server) postEvents(c *gin.Context) error {
	if ct := c.ContentType(); !slices.Contains(eventContentTypes, ct) {
		return Errorf(CodeUnsupportedMedia, "Content-Type %q is not application/json or application/x-ndjson", ct)
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	lines, n, err := eventLines(body, s.cfg.MaxEvents)
	if err != nil {
		return err
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	now := s.cfg.Now()
	batch, err := readEvents(ctx, lines, n, now)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && len(e.Details) > 0 {
			s.metrics.rejected.Add(float64(n))
		}
		return err
	}
	users := batch.byUser()
	sc := a.scorer()
	defer a.scratch.Put(sc)
	err = s.deps.Users.UpdateStates(ctx, a.m.Version, users.ids, func(i int, old []byte) ([]byte, error) {
		st := sc.st // the users of one batch come one at a time
		if old == nil {
			st = a.f.NewState()
		} else {
			if err := st.UnmarshalBinary(old); err != nil {
				return nil, fmt.Errorf("serving: stored state of user %q: %w", users.ids[i], err)
			}
		}
		for _, k := range users.events[i] {
			if err := st.Add(&batch.events[k]); err != nil {
				ee := EventError{Index: batch.indexOf(ctx, k), Reason: err.Error()}
				return nil, &Error{Code: CodeInvalid, Message: "1 event rejected; nothing was stored", Details: []EventError{ee}}
			}
		}
		// Fold cells older than the longest window as of now, so a state
		// stays bounded however many events a user sends.
		if err := st.Prune(now); err != nil {
			return nil, fmt.Errorf("serving: prune state of user %q: %w", users.ids[i], err)
		}
		return st.MarshalBinary()
	})
	if err != nil {
		if ErrorCode(err) == CodeInvalid {
			s.metrics.rejected.Add(float64(n))
		}
		return err
	}
	s.metrics.events.Add(float64(len(batch.events)))
	c.JSON(http.StatusOK, EventsResponse{
		Accepted:          len(batch.events),
		DuplicatesDropped: batch.dups,
		Users:             len(users.ids),
		ModelVersion:      a.m.Version,
	})
	return nil
}

// eventLines turns a JSON array or an NDJSON body into JSON Lines with one
// event per line, so that line k+1 is event k, and counts the events. It
// refuses more than max events (413) and an empty batch.
func eventLines(body []byte, max int) ([]byte, int, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	out := make([]byte, 0, len(body)+64)
	n := 0
	tooMany := func() error {
		return Errorf(CodeTooLarge, "the batch has more than %d events, the limit per request; split it", max)
	}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, 0, Errorf(CodeInvalid, "invalid JSON array: %s", describeJSONError(err))
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, 0, Errorf(CodeInvalid, "invalid JSON at event %d: %s", n, describeJSONError(err))
			}
			if n++; n > max {
				return nil, 0, tooMany()
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return nil, 0, Errorf(CodeInvalid, "invalid JSON at event %d: %s", n-1, describeJSONError(err))
			}
			out = append(out, buf.Bytes()...)
			out = append(out, '\n')
		}
		if _, err := dec.Token(); err != nil {
			return nil, 0, Errorf(CodeInvalid, "invalid JSON array: %s", describeJSONError(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, 0, Errorf(CodeInvalid, "invalid JSON: data after the array")
		}
	} else {
		for len(body) > 0 {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if n++; n > max {
				return nil, 0, tooMany()
			}
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	if n == 0 {
		return nil, 0, Errorf(CodeInvalid, "the batch holds no events; send a JSON array or NDJSON of objects with user_id, event, timestamp and amount")
	}
	return out, n, nil
}

// eventBatch is a validated batch: the accepted events in request order.
type eventBatch struct {
	events []features.Event
	dups   int64
	lines  []byte    // the JSON Lines the events were read from
	now    time.Time // the clock of the clock-skew rule
}

// readOptions are the reader settings of every batch: JSON Lines with the
// canonical keys, every bad row kept as an example, none tolerated.
func readOptions(now time.Time, n int) *features.ReadOptions {
	return &features.ReadOptions{
		Format:      features.FormatJSONL,
		Now:         func() time.Time { return now },
		MaxBadRows:  math.Inf(1),
		MaxExamples: n,
	}
}

// readEvents validates JSON Lines with the file reader (the same rules and
// messages: missing user or event, bad timestamp or amount, clock skew,
// syntax, exact duplicates dropped) plus the API's own checks of ids,
// event names and amounts, and returns every accepted event, or a 400 that
// lists every rejected event by index and field.
func readEvents(ctx context.Context, lines []byte, n int, now time.Time) (*eventBatch, error) {
	rd, err := features.NewReader(ctx, []features.Source{{Name: "body", R: bytes.NewReader(lines)}}, readOptions(now, n))
	if err != nil {
		return nil, fmt.Errorf("serving: event reader: %w", err)
	}
	b := &eventBatch{events: make([]features.Event, 0, n), lines: lines, now: now}
	var bad []EventError
	for {
		var e features.Event
		err := rd.Read(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("serving: reading events: %w", err)
		}
		if ee, ok := checkEvent(&e); !ok {
			ee.Index = int(rd.Stats().Lines) - 1
			bad = append(bad, ee)
			continue
		}
		b.events = append(b.events, e)
	}
	st := rd.Stats()
	b.dups = st.DuplicatesDropped
	for _, pe := range st.Examples {
		bad = append(bad, EventError{Index: int(pe.Line) - 1, Field: pe.Field, Reason: pe.Err.Error()})
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, func(x, y EventError) int { return x.Index - y.Index })
		return nil, &Error{
			Code:    CodeInvalid,
			Message: fmt.Sprintf("%d of %d events rejected; nothing was stored", len(bad), n),
			Details: bad,
		}
	}
	return b, nil
}

// checkEvent applies the API's checks beyond the file reader's: user ids
// and event names as CheckID, amounts within what a State can hold.
func checkEvent(e *features.Event) (EventError, bool) {
	if err := CheckID("user_id", e.UserID); err != nil {
		return EventError{Field: "user_id", Reason: err.Error()}, false
	}
	if err := CheckID("event", e.Name); err != nil {
		return EventError{Field: "event", Reason: err.Error()}, false
	}
	if math.Abs(e.Amount) > features.MaxAmount {
		return EventError{Field: "amount", Reason: fmt.Sprintf("%s: |%g| exceeds %g", features.ErrAmountRange, e.Amount, features.MaxAmount)}, false
	}
	return EventError{}, true
}

// indexOf returns the request position of accepted event k. It reads the
// batch again, which only the rare failure paths need.
func (b *eventBatch) indexOf(ctx context.Context, k int) int {
	rd, err := features.NewReader(ctx, []features.Source{{Name: "body", R: bytes.NewReader(b.lines)}}, readOptions(b.now, len(b.events)))
	if err != nil {
		return -1
	}
	for i := 0; ; {
		var e features.Event
		if err := rd.Read(&e); err != nil {
			return -1
		}
		if i == k {
			return int(rd.Stats().Lines) - 1
		}
		i++
	}
}

// userEvents groups a batch by user: ids in sorted order (the order the
// store writes them in) and, for each, the positions of its events.
type userEvents struct {
	ids    []string
	events [][]int
}

func (b *eventBatch) byUser() userEvents {
	pos := map[string]int{}
	var u userEvents
	for k := range b.events {
		id := b.events[k].UserID
		i, ok := pos[id]
		if !ok {
			i = len(u.ids)
			pos[id] = i
			u.ids = append(u.ids, id)
			u.events = append(u.events, nil)
		}
		u.events[i] = append(u.events[i], k)
	}
	order := make([]int, len(u.ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return strings.Compare(u.ids[x], u.ids[y]) })
	sorted := userEvents{ids: make([]string, len(order)), events: make([][]int, len(order))}
	for j, i := range order {
		sorted.ids[j], sorted.events[j] = u.ids[i], u.events[i]
	}
	return sorted
}
