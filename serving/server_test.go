package serving

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// Hand-computed references for the fixture's user "alice" (one login at
// t0, scored at t0 + 10 days with the testModel): recency_days = 10, so
// churn = σ(−2 + 0.1·10) = σ(−1) and purchase = σ(−1 + 2·0) = σ(−1);
// σ(−1) = 1/(1+e) = 0.2689414213699951 (python3: 1/(1+math.exp(1))).
const sigmaMinus1 = 0.2689414213699951

func TestRoutes(t *testing.T) {
	const tol = 1e-12
	big := `{"user_ids":["` + strings.Repeat("x", 300) + `"]}`
	ids1001 := `{"user_ids":[` + strings.TrimSuffix(strings.Repeat(`"u",`, 1001), ",") + `]}`
	events1001 := strings.Repeat(`{"user_id":"u","event":"login","timestamp":"2025-06-05T00:00:00Z"}`+"\n", 1001)
	cases := []struct {
		name    string
		setup   func(f *fixture)
		method  string
		target  string
		body    string
		hdr     []string
		status  int
		code    Code // for error statuses
		check   func(t *testing.T, w *httptest.ResponseRecorder)
		cfgMods func(c *Config)
	}{
		{name: "healthz", method: "GET", target: "/healthz", status: 200},
		{name: "readyz", method: "GET", target: "/readyz", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var h HealthResponse
			mustJSON(t, w, &h)
			if h.Status != "ready" || h.ModelVersion != "v1" {
				t.Errorf("got %+v, want ready v1", h)
			}
		}},
		{name: "readyz/ErrNoModel", setup: noModel, method: "GET", target: "/readyz", status: 503, code: CodeNoModel},
		{name: "metrics", method: "GET", target: "/metrics", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), `lapse_active_model_info{version="v1"} 1`) {
				t.Errorf("metrics lack the active model gauge:\n%s", w.Body.String())
			}
		}},
		{name: "openapi", method: "GET", target: "/openapi.yaml", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			if !strings.HasPrefix(w.Body.String(), "openapi: 3") {
				t.Errorf("body starts %q", w.Body.String()[:20])
			}
		}},

		{name: "user/OK", method: "GET", target: "/v1/users/alice", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var u UserScore
			mustJSON(t, w, &u)
			want := UserScore{UserID: "alice", RiskBand: "low", Segment: "recent", RFMSegment: model.RFMPromising,
				LifecycleStage: model.StageNew, UsageTier: model.TierLight, ModelVersion: "v1", AsOf: testNow, Source: SourceLive}
			if u.UserID != want.UserID || u.RiskBand != want.RiskBand || u.Segment != want.Segment || u.RFMSegment != want.RFMSegment ||
				u.LifecycleStage != want.LifecycleStage || u.UsageTier != want.UsageTier || u.ModelVersion != want.ModelVersion ||
				!u.AsOf.Equal(want.AsOf) || u.Source != want.Source {
				t.Errorf("got %+v,\nwant %+v", u, want)
			}
			if math.Abs(u.ChurnProbability-sigmaMinus1) > tol || u.PurchaseProbability == nil || math.Abs(*u.PurchaseProbability-sigmaMinus1) > tol {
				t.Errorf("churn %v purchase %v, want σ(−1) = %v for both", u.ChurnProbability, u.PurchaseProbability, sigmaMinus1)
			}
			// Only recency has a weight: one reason, contribution 0.1·10.
			if len(u.Reasons) != 1 || u.Reasons[0].Feature != "recency_days" || math.Abs(u.Reasons[0].Contribution-1) > tol ||
				u.Reasons[0].Value != 10 || u.Reasons[0].Text != "no activity for 10 days" {
				t.Errorf("reasons %+v, want recency_days = 10 contributing +1", u.Reasons)
			}
		}},
		{name: "user/OKStored", method: "GET", target: "/v1/users/bob", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var u UserScore
			mustJSON(t, w, &u)
			if u.Source != SourceStored || !u.AsOf.Equal(t0) || u.ChurnProbability != 0.7 || u.RiskBand != "high" || u.Reasons == nil {
				t.Errorf("got %+v, want the stored record as of t0", u)
			}
		}},
		{name: "user/OKEscapedSlash", setup: func(f *fixture) {
			f.store.putScore("v1", "a/b c", model.Prediction{RiskBand: "low"})
		}, method: "GET", target: "/v1/users/a%2Fb%20c", status: 200},
		{name: "user/ErrNotFound", method: "GET", target: "/v1/users/nobody", status: 404, code: CodeNotFound},
		{name: "user/ErrControlChar", method: "GET", target: "/v1/users/a%01b", status: 400, code: CodeInvalid},
		{name: "user/ErrTooLong", method: "GET", target: "/v1/users/" + strings.Repeat("x", 257), status: 400, code: CodeInvalid},
		{name: "user/ErrInvalidUTF8", method: "GET", target: "/v1/users/%ff", status: 400, code: CodeInvalid},
		{name: "user/ErrNoModel", setup: noModel, method: "GET", target: "/v1/users/alice", status: 503, code: CodeNoModel,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if !strings.Contains(w.Body.String(), "lapse train") {
					t.Errorf("503 body %s does not say to run lapse train", w.Body)
				}
			}},
		{name: "user/ErrStore", setup: failStore, method: "GET", target: "/v1/users/alice", status: 500, code: CodeInternal,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if strings.Contains(w.Body.String(), "disk on fire") {
					t.Errorf("500 body leaks the cause: %s", w.Body)
				}
			}},
		{name: "user/ErrPanic", setup: func(f *fixture) { f.store.panicOn = true }, method: "GET", target: "/v1/users/alice", status: 500, code: CodeInternal},
		{name: "user/ErrMethod", method: "PUT", target: "/v1/users/alice", status: 405, code: CodeMethodNotAllowed},

		{name: "scores/OK", method: "POST", target: "/v1/scores", body: `{"user_ids":["alice","nobody","bob","alice"]}`,
			hdr: []string{"Content-Type", "application/json"}, status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
				var r ScoresResponse
				mustJSON(t, w, &r)
				if len(r.Scores) != 2 || r.Scores[0].UserID != "alice" || r.Scores[1].UserID != "bob" ||
					len(r.Unknown) != 1 || r.Unknown[0] != "nobody" || r.ModelVersion != "v1" {
					t.Errorf("got %+v, want alice and bob scored, nobody unknown", r)
				}
				if math.Abs(r.Scores[0].ChurnProbability-sigmaMinus1) > tol {
					t.Errorf("alice churn %v, want %v", r.Scores[0].ChurnProbability, sigmaMinus1)
				}
			}},
		{name: "scores/ErrSyntax", method: "POST", target: "/v1/scores", body: `{"user_ids":["a",}`, status: 400, code: CodeInvalid},
		{name: "scores/ErrFieldType", method: "POST", target: "/v1/scores", body: `{"user_ids":"alice"}`, status: 400, code: CodeInvalid,
			check: bodyContains(`\"user_ids\"`)},
		{name: "scores/ErrUnknownField", method: "POST", target: "/v1/scores", body: `{"users":["alice"]}`, status: 400, code: CodeInvalid,
			check: bodyContains(`\"users\"`)},
		{name: "scores/ErrMissingField", method: "POST", target: "/v1/scores", body: `{}`, status: 400, code: CodeInvalid},
		{name: "scores/ErrEmpty", method: "POST", target: "/v1/scores", body: `{"user_ids":[]}`, status: 400, code: CodeInvalid},
		{name: "scores/ErrNoBody", method: "POST", target: "/v1/scores", status: 400, code: CodeInvalid},
		{name: "scores/ErrTrailing", method: "POST", target: "/v1/scores", body: `{"user_ids":["a"]} {}`, status: 400, code: CodeInvalid},
		{name: "scores/ErrBadID", method: "POST", target: "/v1/scores", body: big, status: 400, code: CodeInvalid,
			check: bodyContains("user_ids[0]")},
		{name: "scores/ErrTooMany", method: "POST", target: "/v1/scores", body: ids1001, status: 413, code: CodeTooLarge},
		{name: "scores/ErrBodyTooLarge", cfgMods: func(c *Config) { c.MaxBodyBytes = 64 }, method: "POST", target: "/v1/scores",
			body: `{"user_ids":["` + strings.Repeat("a", 100) + `"]}`, status: 413, code: CodeTooLarge},
		{name: "scores/ErrMediaType", method: "POST", target: "/v1/scores", body: `{"user_ids":["a"]}`,
			hdr: []string{"Content-Type", "application/xml"}, status: 415, code: CodeUnsupportedMedia},
		{name: "scores/ErrNoModel", setup: noModel, method: "POST", target: "/v1/scores", body: `{"user_ids":["alice"]}`, status: 503, code: CodeNoModel},

		{name: "events/OK", method: "POST", target: "/v1/events",
			body:   `[{"user_id":"alice","event":"purchase","timestamp":"2025-06-06T12:00:00Z","amount":20}]`,
			hdr:    []string{"Content-Type", "application/json"},
			status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
				var r EventsResponse
				mustJSON(t, w, &r)
				if r.Accepted != 1 || r.Users != 1 || r.ModelVersion != "v1" {
					t.Errorf("got %+v, want 1 event of 1 user", r)
				}
			}},
		{name: "events/ErrBadEvent", method: "POST", target: "/v1/events",
			body: `{"user_id":"a","event":"login","timestamp":"yesterday"}`, status: 400, code: CodeInvalid},
		{name: "events/ErrEmpty", method: "POST", target: "/v1/events", body: "[]", status: 400, code: CodeInvalid},
		{name: "events/ErrTooMany", cfgMods: func(c *Config) { c.MaxEvents = 1000 }, method: "POST", target: "/v1/events",
			body: events1001, status: 413, code: CodeTooLarge},
		{name: "events/ErrBodyTooLarge", cfgMods: func(c *Config) { c.MaxBodyBytes = 100 }, method: "POST", target: "/v1/events",
			body: events1001, status: 413, code: CodeTooLarge},
		{name: "events/ErrMediaType", method: "POST", target: "/v1/events", body: "a,b", hdr: []string{"Content-Type", "text/csv"},
			status: 415, code: CodeUnsupportedMedia},
		{name: "events/ErrNoModel", setup: noModel, method: "POST", target: "/v1/events",
			body: `{"user_id":"a","event":"login","timestamp":"2025-06-05T00:00:00Z"}`, status: 503, code: CodeNoModel},
		{name: "events/ErrStore", setup: failStore, method: "POST", target: "/v1/events",
			body: `{"user_id":"a","event":"login","timestamp":"2025-06-05T00:00:00Z"}`, status: 500, code: CodeInternal},

		{name: "segments/OK", method: "GET", target: "/v1/segments", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r SegmentsResponse
			mustJSON(t, w, &r)
			// 30 users s00..s29, every third in each band, plus bob (high).
			got := map[string]int{}
			for _, f := range r.Families {
				if f.Family == "risk_band" {
					for _, s := range f.Segments {
						got[s.Name] = s.Users
					}
				}
			}
			if len(r.Families) != 5 || got["high"] != 11 || got["medium"] != 10 || got["low"] != 10 {
				t.Errorf("families %+v; risk bands %v, want high 11, medium 10, low 10", r.Families, got)
			}
		}},
		{name: "segments/ErrNoModel", setup: noModel, method: "GET", target: "/v1/segments", status: 503, code: CodeNoModel},
		{name: "segments/ErrStore", setup: failStore, method: "GET", target: "/v1/segments", status: 500, code: CodeInternal},
		{name: "segmentUsers/OK", method: "GET", target: "/v1/segments/risk_band/medium/users?limit=4", status: 200,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				var r SegmentUsersResponse
				mustJSON(t, w, &r)
				if len(r.Users) != 4 || r.Users[0].UserID != "s01" || r.Users[3].UserID != "s10" || r.NextCursor == "" {
					t.Errorf("got %+v, want s01 s04 s07 s10 and a cursor", r)
				}
			}},
		{name: "segmentUsers/OKCSV", method: "GET", target: "/v1/segments/rfm_segment/At%20risk/users?limit=2",
			hdr: []string{"Accept", "text/csv"}, status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
				want := "user_id,churn_probability,risk_band,purchase_probability,segment,rfm_segment,lifecycle_stage,usage_tier\n" +
					"s00,0.9,high,,recent,At risk,at-risk,light\ns01,0.6,medium,,recent,At risk,at-risk,light\n"
				if w.Body.String() != want || w.Header().Get("X-Next-Cursor") == "" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
					t.Errorf("got %q (headers %v), want %q", w.Body.String(), w.Header(), want)
				}
			}},
		{name: "segmentUsers/ErrFamily", method: "GET", target: "/v1/segments/colour/red/users", status: 404, code: CodeNotFound},
		{name: "segmentUsers/ErrName", method: "GET", target: "/v1/segments/risk_band/extreme/users", status: 404, code: CodeNotFound},
		{name: "segmentUsers/ErrLimit", method: "GET", target: "/v1/segments/risk_band/high/users?limit=0", status: 400, code: CodeInvalid,
			check: bodyContains(`\"limit\"`)},
		{name: "segmentUsers/ErrLimitHuge", method: "GET", target: "/v1/segments/risk_band/high/users?limit=10001", status: 400, code: CodeInvalid},
		{name: "segmentUsers/ErrCursor", method: "GET", target: "/v1/segments/risk_band/high/users?cursor=!!!", status: 400, code: CodeInvalid},
		{name: "segmentUsers/ErrFormat", method: "GET", target: "/v1/segments/risk_band/high/users?format=xml", status: 400, code: CodeInvalid},
		{name: "segmentUsers/ErrAccept", method: "GET", target: "/v1/segments/risk_band/high/users", hdr: []string{"Accept", "image/png"},
			status: 406, code: CodeNotAcceptable},
		{name: "segmentUsers/ErrNoModel", setup: noModel, method: "GET", target: "/v1/segments/risk_band/high/users", status: 503, code: CodeNoModel},

		{name: "optOut/OK", method: "POST", target: "/v1/users/s00/opt-out", status: 200},
		{name: "optOut/ErrBadID", method: "POST", target: "/v1/users/%20x/opt-out", status: 400, code: CodeInvalid},
		{name: "optOut/ErrStore", setup: failStore, method: "POST", target: "/v1/users/s00/opt-out", status: 500, code: CodeInternal},
		{name: "erase/OK", method: "DELETE", target: "/v1/users/alice", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r EraseResponse
			mustJSON(t, w, &r)
			if !r.Erased || r.UserID != "alice" {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "erase/ErrNotFound", method: "DELETE", target: "/v1/users/nobody", status: 404, code: CodeNotFound},
		{name: "erase/ErrBadID", method: "DELETE", target: "/v1/users/a%00", status: 400, code: CodeInvalid},

		{name: "models/OK", method: "GET", target: "/v1/models", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r ModelsResponse
			mustJSON(t, w, &r)
			if r.Active != "v1" || len(r.Models) != 2 || r.Models[0].Version != "v1" || !r.Models[0].Active || r.Models[1].Active {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "models/ErrStore", setup: failStore, method: "GET", target: "/v1/models", status: 500, code: CodeInternal},
		{name: "activate/OK", method: "POST", target: "/v1/models/v2/activate", status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var r ActivateResponse
			mustJSON(t, w, &r)
			if r.Active != "v2" || r.Previous != "v1" {
				t.Errorf("got %+v, want v2 after v1", r)
			}
		}},
		{name: "activate/ErrNotFound", method: "POST", target: "/v1/models/v9/activate", status: 404, code: CodeNotFound},
		{name: "activate/ErrMethod", method: "GET", target: "/v1/models/v2/activate", status: 405, code: CodeMethodNotAllowed},

		{name: "ErrNoRoute", method: "GET", target: "/v2/anything", status: 404, code: CodeNotFound},
		{name: "ErrTrailingSlash", method: "GET", target: "/v1/segments/", status: 404, code: CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if tc.cfgMods != nil {
				tc.cfgMods(&cfg)
			}
			f := newFixture(t, cfg)
			if tc.setup != nil {
				tc.setup(f)
			}
			w := f.do(tc.method, tc.target, tc.body, tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.target, w.Code, tc.status, w.Body)
			}
			if tc.status >= 400 {
				e := decodeError(t, w)
				if e.Code != tc.code {
					t.Errorf("code %q, want %q (message %q)", e.Code, tc.code, e.Message)
				}
				if tc.code == CodeInternal && e.Message != "internal error" {
					t.Errorf("500 message %q, want the generic one", e.Message)
				}
			} else if ct := w.Header().Get("Content-Type"); tc.check == nil && !strings.Contains(ct, "json") && !strings.Contains(ct, "yaml") {
				t.Errorf("content type %q", ct)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

func noModel(f *fixture) {
	f.store.active = ""
	if err := f.srv.Load(context.Background()); err != nil {
		panic(err)
	}
}

func failStore(f *fixture) { f.store.fail = errors.New("disk on fire") }

func mustJSON(tb testing.TB, w *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		tb.Fatalf("body %q: %v", w.Body.String(), err)
	}
}

func bodyContains(s string) func(t *testing.T, w *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("body %s does not contain %s", w.Body, s)
		}
	}
}

// TestInternalErrorLogged checks that a 500 logs its cause once, with the
// route, while the client sees only "internal error".
func TestInternalErrorLogged(t *testing.T) {
	f := newFixture(t, Config{})
	failStore(f)
	w := f.do("GET", "/v1/users/alice", "")
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	logs := f.logs.String()
	if strings.Count(logs, "disk on fire") != 1 || !strings.Contains(logs, "route=/v1/users/:id") {
		t.Errorf("logs %q, want the cause once with the route", logs)
	}
}

// TestEventsThenScore sends a purchase for alice and checks that her next
// score reflects it, against hand-computed values: recency 5 days, so
// churn = σ(−2 + 0.5) = σ(−1.5) = 0.18242552380635635, purchase =
// σ(−1 + 2) = σ(1) = 0.7310585786300049 (python3 math.exp); RFM R = 5
// (5 ≤ 7), F = 2 (1 order > 0), M = 3 (20 > 10), FM = ⌊5/2⌋ = 2, which the
// grid names "Potential loyalists".
func TestEventsThenScore(t *testing.T) {
	const tol = 1e-12
	f := newFixture(t, Config{})
	w := f.do("POST", "/v1/events", `{"user_id":"alice","event":"purchase","timestamp":"2025-06-06T12:00:00Z","amount":20}`,
		"Content-Type", "application/x-ndjson")
	if w.Code != 200 {
		t.Fatalf("events: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/v1/users/alice", "")
	var u UserScore
	mustJSON(t, w, &u)
	if math.Abs(u.ChurnProbability-0.18242552380635635) > tol || math.Abs(*u.PurchaseProbability-0.7310585786300049) > tol {
		t.Errorf("churn %v purchase %v, want σ(−1.5) and σ(1)", u.ChurnProbability, *u.PurchaseProbability)
	}
	if u.RFMSegment != model.RFMPotentialLoyalists || u.LifecycleStage != model.StageNew || u.UsageTier != model.TierLight {
		t.Errorf("segments %q %q %q, want Potential loyalists, new, light", u.RFMSegment, u.LifecycleStage, u.UsageTier)
	}
	// A brand-new user becomes scorable from her first event.
	w = f.do("POST", "/v1/events", `[{"user_id":"carol","event":"login","timestamp":"2025-06-10T12:00:00Z"}]`)
	if w.Code != 200 {
		t.Fatalf("events: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/v1/users/carol", "")
	mustJSON(t, w, &u)
	// recency 1 day: σ(−2 + 0.1) = σ(−1.9) = 0.13010847436299786 (python3).
	if w.Code != 200 || math.Abs(u.ChurnProbability-0.13010847436299786) > tol {
		t.Errorf("carol: %d churn %v, want σ(−1.9)", w.Code, u.ChurnProbability)
	}
}

// TestClockAhead: an event up to 5 minutes after the server clock is
// accepted (like the file readers), and the score is computed just after
// it instead of failing with ErrAfterCutoff.
func TestClockAhead(t *testing.T) {
	f := newFixture(t, Config{})
	ahead := testNow.Add(3 * time.Minute)
	w := f.do("POST", "/v1/events", `{"user_id":"dave","event":"login","timestamp":"`+ahead.Format(time.RFC3339)+`"}`)
	if w.Code != 200 {
		t.Fatalf("events: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/v1/users/dave", "")
	var u UserScore
	mustJSON(t, w, &u)
	if w.Code != 200 || !u.AsOf.Equal(ahead.Add(time.Nanosecond)) {
		t.Errorf("status %d as_of %v, want %v", w.Code, u.AsOf, ahead.Add(time.Nanosecond))
	}
	// Six minutes ahead is clock skew: rejected like a file row.
	w = f.do("POST", "/v1/events", `{"user_id":"dave","event":"login","timestamp":"`+testNow.Add(6*time.Minute).Format(time.RFC3339)+`"}`)
	if w.Code != 400 {
		t.Errorf("6 minutes ahead: status %d, want 400", w.Code)
	}
}
