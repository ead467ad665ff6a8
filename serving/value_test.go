package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/btyd"
)

// valueModel is testModel with a customer-value part: BG/NBD and
// Gamma-Gamma at the published CDNOW sample fits (weeks), 12 months of CLV
// at 1% a month, the model's 30-day horizon.
func valueModel(tb testing.TB, version string) *model.Model {
	tb.Helper()
	m := testModel(tb, version)
	m.Value = &model.CustomerValue{
		Unit: btyd.Week, UnitDays: 7,
		BGNBD:      btyd.BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259},
		GammaGamma: &btyd.GammaGamma{P: 6.25, Q: 3.74, V: 15.44},
		CLVMonths:  12, MonthlyDiscount: 0.01, HorizonDays: 30,
	}
	if err := m.Prepare(); err != nil {
		tb.Fatal(err)
	}
	return m
}

// valueFixture is a server at testNow whose active model has a
// customer-value part; bob has a stored record with values.
func valueFixture(tb testing.TB) *fixture {
	tb.Helper()
	st := newMemStore()
	st.addModel(valueModel(tb, "cv1"), true)
	pa, ey, clv := 0.25, 0.125, 3.5
	st.putScore("cv1", "bob", model.Prediction{ChurnProbability: 0.7, RiskBand: "high",
		UserValue: model.UserValue{PAlive: &pa, ExpectedPurchases: &ey, CLV: &clv}})
	var logs bytes.Buffer
	srv := New(Config{Now: func() time.Time { return testNow }}, st.deps(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err := srv.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &fixture{store: st, srv: srv, h: srv.Handler(), logs: &logs}
}

func bitsEqual(a *float64, b float64) bool {
	return a != nil && math.Float64bits(*a) == math.Float64bits(b)
}

// TestUserValueLive: after POST /v1/events, GET /v1/users/{id} and POST
// /v1/scores compute p_alive, expected_purchases_30d and clv from the
// stored state as of the request time, equal to the BG/NBD and
// Gamma-Gamma formulas on the (x, t_x, T) and zbar worked out by hand from
// the events: the purchase two years back was folded out of the state's
// daily cells, the two orders of one day are one transaction, the return
// is none, and the page view is no purchase.
func TestUserValueLive(t *testing.T) {
	f := valueFixture(t)
	first := testNow.AddDate(0, 0, -700) // folded: older than the 365-day retention
	evs := []string{
		fmt.Sprintf(`{"user_id":"carol","event":"purchase","timestamp":%q,"amount":12}`, first.Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"carol","event":"order","timestamp":%q,"amount":10}`, testNow.AddDate(0, 0, -40).Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"carol","event":"purchase","timestamp":%q,"amount":5}`, testNow.AddDate(0, 0, -40).Add(time.Hour).Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"carol","event":"purchase","timestamp":%q,"amount":20}`, testNow.AddDate(0, 0, -10).Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"carol","event":"purchase","timestamp":%q,"amount":-20}`, testNow.AddDate(0, 0, -5).Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"carol","event":"page_view","timestamp":%q}`, testNow.AddDate(0, 0, -1).Format(time.RFC3339)),
		fmt.Sprintf(`{"user_id":"dave","event":"page_view","timestamp":%q}`, testNow.AddDate(0, 0, -1).Format(time.RFC3339)),
	}
	if w := f.do("POST", "/v1/events", strings.Join(evs, "\n"), "Content-Type", "application/x-ndjson"); w.Code != 200 {
		t.Fatalf("POST /v1/events: %d %s", w.Code, w.Body)
	}
	// By hand: purchase days at −700, −40 and −10 days: x = 2, t_x = 690
	// days, T = calibration end (testNow's day, testNow being mid-day) −
	// first day = 700 days; zbar = (10 + 5 + 20) / 2.
	x, tx, T, zbar := 2.0, 690.0/7, 700.0/7, 17.5
	v := valueModel(t, "cv1").Value
	wantPA := v.BGNBD.PAlive(x, tx, T)
	wantEY, err := v.BGNBD.ExpectedPurchases(30.0/7, x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	wantCLV, err := btyd.CLV(v.BGNBD, *v.GammaGamma, x, tx, T, zbar, &btyd.CLVOptions{Months: 12, MonthlyDiscount: 0.01, Unit: btyd.Week})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, u *UserScore) {
		t.Helper()
		if u.Source != SourceLive || u.HorizonDays != 30 {
			t.Errorf("%s: source %q, horizon %d", what, u.Source, u.HorizonDays)
		}
		if !bitsEqual(u.PAlive, wantPA) || !bitsEqual(u.ExpectedPurchases, wantEY) || u.CLV == nil || math.Abs(*u.CLV-wantCLV) > 1e-12*wantCLV {
			t.Errorf("%s: p_alive %v, expected %v, clv %v; want %v, %v, %v", what, u.PAlive, u.ExpectedPurchases, u.CLV, wantPA, wantEY, wantCLV)
		}
	}
	w := f.do("GET", "/v1/users/carol", "")
	if w.Code != 200 {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), `"expected_purchases_30d":`) || strings.Contains(w.Body.String(), `"expected_purchases":`) {
		t.Errorf("body lacks expected_purchases_30d: %s", w.Body)
	}
	var u UserScore
	mustJSON(t, w, &u)
	check("GET", &u)
	w = f.do("POST", "/v1/scores", `{"user_ids":["carol","dave","bob"]}`, "Content-Type", "application/json")
	var r ScoresResponse
	mustJSON(t, w, &r)
	if len(r.Scores) != 3 {
		t.Fatalf("scores %s", w.Body)
	}
	check("POST", r.Scores[0])
	// dave never purchased: not a customer yet.
	if d := r.Scores[1]; d.PAlive != nil || d.ExpectedPurchases != nil || d.CLV != nil || !strings.Contains(w.Body.String(), `"expected_purchases_30d":null`) {
		t.Errorf("dave: %+v", d)
	}
	// bob has only training's record: its values, as of the model's T.
	if b := r.Scores[2]; b.Source != SourceStored || !bitsEqual(b.PAlive, 0.25) || !bitsEqual(b.ExpectedPurchases, 0.125) || !bitsEqual(b.CLV, 3.5) {
		t.Errorf("bob: %+v", b)
	}
}

// TestUserValueWithoutValueModel: a model without a customer-value part
// (the fit failed in training) serves null values.
func TestUserValueWithoutValueModel(t *testing.T) {
	f := newFixture(t, Config{})
	ev := fmt.Sprintf(`{"user_id":"erin","event":"purchase","timestamp":%q,"amount":12}`, testNow.AddDate(0, 0, -3).Format(time.RFC3339))
	if w := f.do("POST", "/v1/events", ev, "Content-Type", "application/x-ndjson"); w.Code != 200 {
		t.Fatalf("POST /v1/events: %d %s", w.Code, w.Body)
	}
	w := f.do("GET", "/v1/users/erin", "")
	var u UserScore
	mustJSON(t, w, &u)
	if u.PAlive != nil || u.ExpectedPurchases != nil || u.CLV != nil || !strings.Contains(w.Body.String(), `"p_alive":null,"expected_purchases_30d":null,"clv":null`) {
		t.Errorf("body %s", w.Body)
	}
}

// TestUserValueFormat1State: a state stored in the format-1 encoding
// after its purchases were folded has lost its purchase days; it still
// scores, with null values.
func TestUserValueFormat1State(t *testing.T) {
	f := valueFixture(t)
	// A purchase folded 400 days back and one 10 days back.
	spec := testSpec(t)
	st, err := features.NewState(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{-400, -10} {
		e := features.Event{UserID: "frank", Name: "purchase", Time: testNow.AddDate(0, 0, d), Amount: 9}
		if err := st.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Prune(testNow); err != nil {
		t.Fatal(err)
	}
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v1 := toFormat1(t, b)
	f.store.putState("cv1", "frank", v1)
	w := f.do("GET", "/v1/users/frank", "")
	if w.Code != 200 {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	var u UserScore
	mustJSON(t, w, &u)
	if u.PAlive != nil || u.CLV != nil || u.Source != SourceLive {
		t.Errorf("format-1 state: %+v", u)
	}
	// The same state in format 2 has values.
	f.store.putState("cv1", "frank", b)
	mustJSON(t, f.do("GET", "/v1/users/frank", ""), &u)
	if u.PAlive == nil || u.CLV == nil {
		t.Errorf("format-2 state: %+v", u)
	}
}

// toFormat1 rewrites a format-2 State encoding with folded purchase days as
// format 1: the version byte 1 and without the folded purchase days, which
// follow the folded revenue in features' AppendBinary layout (version,
// fingerprint, retention, flags, times, fold day, folded events, orders,
// revenue, [purchase days: count, first, span, first revenue], ...).
func toFormat1(tb testing.TB, b []byte) []byte {
	tb.Helper()
	if b[0] != 2 {
		tb.Fatalf("format %d", b[0])
	}
	off := 9
	uv := func() { // skip one varint
		for b[off]&0x80 != 0 {
			off++
		}
		off++
	}
	uv() // retention
	has := b[off]
	off++
	if has&1 != 0 {
		uv() // max time
	}
	if has&2 != 0 {
		uv() // first, last activity
		uv()
	}
	if has&4 != 0 {
		uv() // last purchase
	}
	uv() // fold day
	uv() // folded events
	uv() // folded orders
	uv() // folded revenue
	start := off
	n := b[off] // folded purchase days (< 128 here)
	uv()
	if n == 0 {
		tb.Fatal("no folded purchase days to drop")
	}
	uv() // first
	uv() // span
	uv() // first revenue
	out := append([]byte{1}, b[1:start]...)
	return append(out, b[off:]...)
}

// TestUserScoreJSON: the expected purchases are named after the horizon,
// sit between p_alive and clv, are null when absent, and decode back.
func TestUserScoreJSON(t *testing.T) {
	pa, ey := 0.5, 1.25
	u := UserScore{UserID: `a"b`, RiskBand: "low", PAlive: &pa, ExpectedPurchases: &ey, Reasons: []model.Reason{{Text: `,"clv":1`}},
		ModelVersion: "v", AsOf: testNow, Source: SourceLive, HorizonDays: 90}
	b, err := json.Marshal(&u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"p_alive":0.5,"expected_purchases_90d":1.25,"clv":null,"reasons"`) {
		t.Errorf("encoding %s", b)
	}
	var back UserScore
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.HorizonDays != 90 || back.ExpectedPurchases == nil || *back.ExpectedPurchases != 1.25 || back.UserID != u.UserID || back.CLV != nil {
		t.Errorf("decoded %+v", back)
	}
	u.ExpectedPurchases = nil
	b, _ = json.Marshal(u)
	if !strings.Contains(string(b), `"expected_purchases_90d":null`) {
		t.Errorf("encoding %s", b)
	}
}
