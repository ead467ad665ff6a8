package serving

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/lapse-dev/lapse/features"
)

// FuzzEvents posts arbitrary bodies to /v1/events: never a 5xx or a panic;
// a refused batch leaves the store as it was; an accepted one leaves every
// touched state decodable and scorable.
func FuzzEvents(f *testing.F) {
	f.Add([]byte(`[{"user_id":"alice","event":"purchase","timestamp":"2025-06-06T12:00:00Z","amount":20}]`))
	f.Add([]byte(`{"user_id":"u","event":"login","timestamp":"2025-06-05"}` + "\n" + `{"user_id":"u","event":"x","timestamp":1748937600,"amount":"-3.5"}`))
	f.Add([]byte(`[{"user_id":"u","event":"login","timestamp":"9999-01-01T00:00:00Z"}]`))
	f.Add([]byte(`[{"user_id":"u","event":"login","timestamp":"1600-01-01T00:00:00Z","amount":1e300}]`))
	f.Add([]byte(`[1, "x", null, {"user_id":{"a":1}}]`))
	f.Add([]byte("\xef\xbb\xbf[]"))
	f.Add([]byte(`{"user_id":"u","event":"login","timestamp":"2025-06-05T00:00:00Z","user_id":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := newFixture(t, Config{MaxEvents: 50})
		before := fx.store.state("v1", "alice")
		w := fx.do("POST", "/v1/events", string(body))
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if w.Code != 200 {
			decodeError(t, w)
			if fx.store.updates != 0 || !bytes.Equal(before, fx.store.state("v1", "alice")) {
				t.Fatalf("refused batch %q changed the store", body)
			}
			return
		}
		fz, err := features.NewFeaturizer(testSpec(t))
		if err != nil {
			t.Fatal(err)
		}
		for id, b := range fx.store.states["v1"] {
			st := fz.NewState()
			if err := st.UnmarshalBinary(b); err != nil {
				t.Fatalf("state of %q does not decode: %v", id, err)
			}
			if r := fx.do("GET", "/v1/users/"+url.PathEscape(id), ""); r.Code != 200 {
				t.Fatalf("user %q after accepted batch %q: %d %s", id, body, r.Code, r.Body)
			}
		}
	})
}

// FuzzScores posts arbitrary bodies to /v1/scores and arbitrary ids to
// GET /v1/users/{id}: never a 5xx or a panic, always the JSON error shape
// on failure.
func FuzzScores(f *testing.F) {
	f.Add([]byte(`{"user_ids":["alice","bob","nobody"]}`), "alice")
	f.Add([]byte(`{"user_ids":[1,2]}`), "a%2Fb")
	f.Add([]byte(`{"user_ids":["\u0000"]}`), "\x00")
	f.Add([]byte(`{"user_ids":null}`), "..")
	f.Add([]byte(`[]`), "%")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		fx := newFixture(t, Config{MaxScoreIDs: 20})
		w := fx.do("POST", "/v1/scores", string(body))
		if w.Code >= 500 {
			t.Fatalf("POST /v1/scores %q: %d %s", body, w.Code, w.Body)
		}
		if w.Code != 200 {
			decodeError(t, w)
		}
		w = fx.do("GET", "/v1/users/"+url.PathEscape(id), "")
		if w.Code >= 500 {
			t.Fatalf("GET user %q: %d %s", id, w.Code, w.Body)
		}
		if w.Code != 200 {
			decodeError(t, w)
		}
	})
}

// FuzzSegmentQuery sends arbitrary limit and cursor parameters.
func FuzzSegmentQuery(f *testing.F) {
	f.Add("4", "czAx", "high")
	f.Add("-1", "!!!", "")
	f.Add("99999999999999999999", "", "At risk")
	f.Fuzz(func(t *testing.T, limit, cursor, name string) {
		fx := newFixture(t, Config{})
		q := url.Values{"limit": {limit}, "cursor": {cursor}}
		w := fx.do("GET", "/v1/segments/risk_band/"+url.PathEscape(name)+"/users?"+q.Encode(), "")
		if w.Code >= 500 {
			t.Fatalf("limit %q cursor %q name %q: %d %s", limit, cursor, name, w.Code, w.Body)
		}
		if w.Code != 200 {
			decodeError(t, w)
		}
	})
}
