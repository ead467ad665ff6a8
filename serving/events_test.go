package serving

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// TestEventsRejected checks that bad events are reported by index and field
// with the file reader's reasons, and that a rejected batch stores nothing.
func TestEventsRejected(t *testing.T) {
	good := `{"user_id":"alice","event":"login","timestamp":"2025-06-05T00:00:00Z"}`
	cases := []struct {
		name string
		body string
		want []EventError // index, field and a substring of the reason
	}{
		{
			name: "ArrayFields",
			body: `[` + good + `,
				{"user_id":"","event":"login","timestamp":"2025-06-05T00:00:00Z"},
				{"user_id":"a","timestamp":"2025-06-05T00:00:00Z"},
				{"user_id":"a","event":"login","timestamp":"next tuesday"},
				{"user_id":"a","event":"login","timestamp":"2025-06-05T00:00:00Z","amount":"12,5x"},
				{"user_id":"a","event":"login","timestamp":"2030-01-01T00:00:00Z"},
				42,
				{"user_id":"a","event":"login","timestamp":{"nested":1}}]`,
			want: []EventError{
				{Index: 1, Field: "user_id", Reason: "missing user id"},
				{Index: 2, Field: "event", Reason: "missing event name"},
				{Index: 3, Field: "timestamp", Reason: "unparsable timestamp"},
				{Index: 4, Field: "amount", Reason: "unparsable amount"},
				{Index: 5, Field: "timestamp", Reason: "later than the current clock"},
				{Index: 6, Reason: "not a JSON object"},
				{Index: 7, Field: "timestamp", Reason: "object or array"},
			},
		},
		{
			// Blank lines do not count: indices are those of the events.
			name: "NDJSONBlankLines",
			body: "\n" + good + "\r\n\n   \n" + `{"user_id":"a","event":"login"}` + "\n" + `{"user_id":` + "\n",
			want: []EventError{
				{Index: 1, Field: "timestamp", Reason: "unparsable timestamp"},
				{Index: 2, Reason: "syntax error"},
			},
		},
		{
			name: "APIChecks",
			body: `[{"user_id":"a\u0007b","event":"login","timestamp":"2025-06-05T00:00:00Z"},
				{"user_id":"` + strings.Repeat("u", 257) + `","event":"login","timestamp":"2025-06-05T00:00:00Z"},
				{"user_id":"a","event":"log\nin","timestamp":"2025-06-05T00:00:00Z"},
				{"user_id":"a","event":"login","timestamp":"2025-06-05T00:00:00Z","amount":2e13}]`,
			want: []EventError{
				{Index: 0, Field: "user_id", Reason: "unprintable character U+0007"},
				{Index: 1, Field: "user_id", Reason: "257 bytes long"},
				{Index: 2, Field: "event", Reason: "unprintable character U+000A"},
				{Index: 3, Field: "amount", Reason: "exceeds 1e+12"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			before := f.store.state("v1", "alice")
			w := f.do("POST", "/v1/events", tc.body)
			if w.Code != 400 {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
			e := decodeError(t, w)
			if len(e.Details) != len(tc.want) {
				t.Fatalf("details %+v,\nwant %+v", e.Details, tc.want)
			}
			for i, d := range e.Details {
				if d.Index != tc.want[i].Index || d.Field != tc.want[i].Field || !strings.Contains(d.Reason, tc.want[i].Reason) {
					t.Errorf("detail %d: got %+v, want %+v", i, d, tc.want[i])
				}
			}
			if !strings.Contains(e.Message, "nothing was stored") {
				t.Errorf("message %q", e.Message)
			}
			if got := f.store.state("v1", "alice"); !bytes.Equal(got, before) || f.store.updates != 0 {
				t.Errorf("a rejected batch changed the store (%d updates)", f.store.updates)
			}
		})
	}
}

// TestEventsArrayEqualsNDJSON sends the same events as an array and as
// NDJSON and checks that the stored states are byte-identical, and equal
// to a State fed the same events directly (the batch builder's path).
func TestEventsArrayEqualsNDJSON(t *testing.T) {
	evs := []string{
		`{"user_id":"u1","event":"login","timestamp":"2025-06-02T08:00:00Z"}`,
		`{"user_id":"u2","event":"purchase","timestamp":"2025-06-03","amount":12.5}`,
		`{"user_id":"u1","event":"purchase","timestamp":"2025-06-04T09:30:00Z","amount":-3}`,
		`{"user_id":"u1","event":"login","timestamp":"2025-06-02T08:00:00Z"}`, // exact duplicate: dropped
		`{"user_id":17850,"event":"login","timestamp":1748937600}`,            // a number id, unix seconds
	}
	fa, fb := newFixture(t, Config{}), newFixture(t, Config{})
	wa := fa.do("POST", "/v1/events", "[\n"+strings.Join(evs, ",\n")+"\n]", "Content-Type", "application/json")
	wb := fb.do("POST", "/v1/events", strings.Join(evs, "\n"), "Content-Type", "application/x-ndjson")
	for _, w := range []string{wa.Body.String(), wb.Body.String()} {
		if !strings.Contains(w, `"accepted":4,"duplicates_dropped":1,"users":3`) {
			t.Errorf("response %s, want 4 accepted, 1 duplicate, 3 users", w)
		}
	}
	spec := testSpec(t)
	ref := map[string][]features.Event{
		"u1": {
			{UserID: "u1", Name: "login", Time: time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)},
			{UserID: "u1", Name: "purchase", Time: time.Date(2025, 6, 4, 9, 30, 0, 0, time.UTC), Amount: -3},
		},
		"u2":    {{UserID: "u2", Name: "purchase", Time: time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC), Amount: 12.5}},
		"17850": {{UserID: "17850", Name: "login", Time: time.Unix(1748937600, 0).UTC()}},
	}
	for id, evs := range ref {
		a, b := fa.store.state("v1", id), fb.store.state("v1", id)
		want := stateOf(t, spec, testNow, evs...)
		if !bytes.Equal(a, b) || !bytes.Equal(a, want) {
			t.Errorf("user %s: array state %x, NDJSON state %x, reference %x", id, a, b, want)
		}
	}
}

// TestEventsStateBounded sends two years of daily events for one user and
// checks that the stored state keeps cells only within the retention (the
// longest window, 365 days) while the lifetime totals keep counting.
func TestEventsStateBounded(t *testing.T) {
	f := newFixture(t, Config{MaxEvents: 1000})
	start := testNow.AddDate(-2, 0, 0)
	var batch []string
	for d := 0; d < 730; d++ {
		ts := start.AddDate(0, 0, d).Format(time.RFC3339)
		batch = append(batch, fmt.Sprintf(`{"user_id":"old","event":"login","timestamp":%q}`, ts))
	}
	if w := f.do("POST", "/v1/events", strings.Join(batch, "\n")); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	st, err := features.NewState(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UnmarshalBinary(f.store.state("v1", "old")); err != nil {
		t.Fatal(err)
	}
	if st.Cells() > 366 {
		t.Errorf("state holds %d cells, want at most the 366 days of the retention", st.Cells())
	}
	var u UserScore
	mustJSON(t, f.do("GET", "/v1/users/old", ""), &u)
	// events_total counts all 730 logins; the reasons name only recency,
	// so read the lifetime count through the Featurizer instead.
	fz, _ := features.NewFeaturizer(testSpec(t))
	x, err := fz.Vector(st, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := x[indexOf(fz.Names(), "events_total")]; got != 730 {
		t.Errorf("events_total %v, want 730", got)
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func TestEventLines(t *testing.T) {
	cases := []struct {
		name, in, want string
		n              int
		code           Code
	}{
		{"Array", "\ufeff [ {\"a\" : 1},\n {\"b\":\n 2} ] ", "{\"a\":1}\n{\"b\":2}\n", 2, ""},
		{"NDJSON", "{\"a\":1}\r\n\n{\"b\":2}", "{\"a\":1}\n{\"b\":2}\n", 2, ""},
		{"ErrEmptyArray", "[]", "", 0, CodeInvalid},
		{"ErrBlank", " \n\t\n", "", 0, CodeInvalid},
		{"ErrUnclosed", "[{\"a\":1}", "", 0, CodeInvalid},
		{"ErrTrailing", "[{\"a\":1}] x", "", 0, CodeInvalid},
		{"ErrTooMany", "[1,2,3,4]", "", 0, CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := eventLines([]byte(tc.in), 3)
			if tc.code != "" {
				if ErrorCode(err) != tc.code {
					t.Fatalf("error %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil || string(got) != tc.want || n != tc.n {
				t.Errorf("eventLines(%q) = %q, %d, %v; want %q, %d", tc.in, got, n, err, tc.want, tc.n)
			}
		})
	}
}
