package serving

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// referenceUserScoreJSON is the encoding/json encoding of u with the
// expected purchases inserted before "clv": what appendJSON must write.
func referenceUserScoreJSON(tb testing.TB, u *UserScore) []byte {
	tb.Helper()
	type plain UserScore
	b, err := json.Marshal((*plain)(u))
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.Index(b, []byte(`,"clv":`))
	if i < 0 {
		tb.Fatalf("no clv key in %s", b)
	}
	ev := []byte("null")
	if u.ExpectedPurchases != nil {
		ev, _ = json.Marshal(*u.ExpectedPurchases)
	}
	out := append([]byte{}, b[:i]...)
	out = append(out, `,"`+expectedKey(u.HorizonDays)+`":`...)
	out = append(out, ev...)
	return append(out, b[i:]...)
}

func fptr(f float64) *float64 { return &f }

func TestUserScoreJSONMatchesEncodingJSON(t *testing.T) {
	base := func() *UserScore {
		return &UserScore{UserID: "u1", ChurnProbability: 0.25, RiskBand: "low", Segment: "power users",
			RFMSegment: "Can't lose them", LifecycleStage: "at-risk", UsageTier: "light", ModelVersion: "2025-05-01-198c0447",
			AsOf: time.Date(2026, 12, 3, 13, 52, 34, 471744523, time.UTC), Source: SourceLive, HorizonDays: 30,
			Reasons: []model.Reason{{Feature: "recency_days", Value: 26.648205497511423, Contribution: 1.3062229785011652, Text: "no activity for 27 days (usually every 14.7)"}}}
	}
	cases := []struct {
		name string
		edit func(u *UserScore)
	}{
		{"Plain", func(*UserScore) {}},
		{"Values", func(u *UserScore) {
			u.PurchaseProbability, u.PAlive, u.ExpectedPurchases, u.CLV = fptr(0.0975609756097561), fptr(1), fptr(0.294), fptr(115.06)
		}},
		{"NoReasons", func(u *UserScore) { u.Reasons = nil }},
		{"EmptyReasons", func(u *UserScore) { u.Reasons = []model.Reason{} }},
		{"TinyAndHugeNumbers", func(u *UserScore) {
			u.ChurnProbability, u.CLV, u.PAlive = 1e-7, fptr(1.5e21), fptr(-0.0000012345)
			u.Reasons[0].Value, u.Reasons[0].Contribution = 0.0000061912753472222224, -123456789012345678901234.0
		}},
		{"Zeros", func(u *UserScore) { u.ChurnProbability, u.Reasons[0].Value, u.CLV = 0, math.Copysign(0, -1), fptr(0) }},
		{"Escapes", func(u *UserScore) {
			u.UserID = "a\"b\\c\n\t\r\b\f\x00\x1f<>&\u2028\u2029é😀\xff\xfe"
			u.Reasons[0].Text = "1 × cancel_page in the last 90 days </script>"
		}},
		{"Stored", func(u *UserScore) {
			u.Source, u.AsOf, u.HorizonDays = SourceStored, time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), 91
		}},
		{"Zone", func(u *UserScore) { u.AsOf = time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := base()
			tc.edit(u)
			got, err := u.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceUserScoreJSON(t, u); !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			var back UserScore
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("does not decode: %v", err)
			}
		})
	}
	t.Run("ScoresResponse", func(t *testing.T) {
		r := &ScoresResponse{ModelVersion: "v1", Scores: []*UserScore{base(), base()}, Unknown: []string{"ghost", "<x>"}}
		got, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, u := range r.Scores {
			parts = append(parts, string(referenceUserScoreJSON(t, u)))
		}
		want := `{"model_version":"v1","scores":[` + strings.Join(parts, ",") + `],"unknown":["ghost","\u003cx\u003e"]}`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		empty, _ := (&ScoresResponse{ModelVersion: "v1", Scores: []*UserScore{}, Unknown: []string{}}).MarshalJSON()
		if string(empty) != `{"model_version":"v1","scores":[],"unknown":[]}` {
			t.Errorf("empty response: %s", empty)
		}
	})
	t.Run("NaN", func(t *testing.T) {
		u := base()
		u.ChurnProbability = math.NaN()
		if _, err := u.MarshalJSON(); err == nil {
			t.Error("a NaN encoded without an error")
		}
	})
}

// FuzzUserScoreJSON: for any strings and numbers, the hand encoder writes
// what encoding/json writes (or both refuse a non-finite number).
func FuzzUserScoreJSON(f *testing.F) {
	f.Add("u1", "no activity for 27 days", 0.25, 26.6, 1e-9, int64(0), 30)
	f.Add("a\"\\\n<>&\u2028\xff", "é😀\x00", -1e22, math.MaxFloat64, math.SmallestNonzeroFloat64, int64(1700000000123456789), 7)
	f.Fuzz(func(t *testing.T, id, text string, p, v, c float64, ns int64, h int) {
		u := &UserScore{UserID: id, ChurnProbability: p, RiskBand: text, CLV: &v, HorizonDays: h,
			AsOf: time.Unix(0, ns).UTC(), Reasons: []model.Reason{{Feature: id, Value: v, Contribution: c, Text: text}}}
		got, err := u.MarshalJSON()
		type plain UserScore
		_, refErr := json.Marshal((*plain)(u))
		if (err != nil) != (refErr != nil) {
			t.Fatalf("hand encoder error %v, encoding/json error %v", err, refErr)
		}
		if err != nil {
			return
		}
		if want := referenceUserScoreJSON(t, u); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
