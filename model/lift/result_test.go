package lift

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func mustProportions(tb testing.TB, metric string, t, c Proportion, holdout float64) Result {
	tb.Helper()
	r, err := CompareProportions(metric, t, c, holdout)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func mustMeans(tb testing.TB, metric string, t, c Moments, holdout float64) Result {
	tb.Helper()
	r, err := CompareMeans(metric, t, c, holdout)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// The figures in the expected sentences were computed offline in Python:
// Newcombe intervals from scipy.stats.norm.ppf(0.975) and the method-10
// formula, p-values from scipy.stats.chi2_contingency(correction=False) or
// scipy.stats.ttest_ind_from_stats(equal_var=False), SRM p from
// scipy.stats.chisquare. The first case reproduces the sentence in issue 5.
func TestSentence(t *testing.T) {
	cases := []struct {
		name string
		r    Result
		want string
	}{
		{"issue example", // abs +0.0310 [+0.01157, +0.05015], p = 0.001826
			mustProportions(t, "retention", Proportion{10000, 3810}, Proportion{3100, 1085}, 0.24),
			"Retention +3.1 points (95% CI +1.2 to +5.0), p = 0.002: the campaign kept about 310 of 10,000 targeted users."},
		{"negative", // abs -0.060 [-0.080, -0.040], p = 1.66e-9
			mustProportions(t, "retention", Proportion{10000, 3400}, Proportion{3000, 1200}, 0.23),
			"Retention -6.0 points (95% CI -8.0 to -4.0), p < 0.001: the campaign lost about 600 of 10,000 targeted users."},
		{"not significant", // abs +0.002 [-0.018, +0.021], p = 0.8405
			mustProportions(t, "retention", Proportion{10000, 3520}, Proportion{3000, 1050}, 0.23),
			"Retention +0.2 points (95% CI -1.8 to +2.1), p = 0.84: no detectable effect; the data fit anything from -1.8 to +2.1 points."},
		{"conversion", // abs +0.012 [+0.002, +0.021], p = 0.01460
			mustProportions(t, "conversion", Proportion{10000, 620}, Proportion{3000, 150}, 0.23),
			"Conversion +1.2 points (95% CI +0.2 to +2.1), p = 0.015: the campaign converted about 120 more of 10,000 targeted users."},
		{"other proportion", // as above
			mustProportions(t, "upgrade_rate", Proportion{10000, 620}, Proportion{3000, 150}, 0.23),
			"Upgrade rate +1.2 points (95% CI +0.2 to +2.1), p = 0.015: about 120 more of 10,000 targeted users than without the campaign."},
		{"revenue", // diff 1.20 [0.03799, 2.3620], p = 0.04297
			mustMeans(t, "revenue", MomentsFromSummary(10000, 12.40, 30), MomentsFromSummary(3000, 11.20, 28), 0.23),
			"Revenue per user +1.20 (95% CI +0.04 to +2.36), p = 0.043: about 12,000 more in total across 10,000 targeted users."},
		{"revenue down", // mirror image of the case above
			mustMeans(t, "revenue_per_user", MomentsFromSummary(10000, 11.20, 30), MomentsFromSummary(3000, 12.40, 28), 0.23),
			"Revenue per user -1.20 (95% CI -2.36 to -0.04), p = 0.043: about 12,000 less in total across 10,000 targeted users."},
		{"revenue not significant", // diff -1.20 [-2.40597, +0.00597], p = 0.05114
			mustMeans(t, "revenue", MomentsFromSummary(10000, 11.20, 28), MomentsFromSummary(3000, 12.40, 30), 0.23),
			"Revenue per user -1.20 (95% CI -2.41 to +0.01), p = 0.051: no detectable effect; the data fit anything from -2.41 to +0.01 per user."},
		{"sample ratio mismatch", // abs +0.0076 [-0.013, +0.027], p = 0.4624; SRM p = 4.2e-21
			mustProportions(t, "retention", Proportion{17600, 6000}, Proportion{2400, 800}, 0.1),
			"Retention +0.8 points (95% CI -1.3 to +2.7), p = 0.46: no detectable effect; the data fit anything from -1.3 to +2.7 points. " +
				"WARNING: sample ratio mismatch (SRM p < 0.001): the groups are not split as configured, so this comparison cannot be trusted."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.r.Sentence(); got != c.want {
				t.Errorf("Sentence():\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestResultJSONSchema(t *testing.T) {
	prop := mustProportions(t, "retention", Proportion{10000, 3810}, Proportion{3100, 1085}, 0.24)
	mean := mustMeans(t, "revenue", MomentsOf(welchA1), MomentsOf(welchA2), 0.5)
	undefined := mustProportions(t, "conversion", Proportion{20, 3}, Proportion{25, 0}, 0.5)

	decode := func(r Result) map[string]any {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	get := func(m map[string]any, path ...string) (any, bool) {
		var v any = m
		for _, p := range path {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = mm[p]; !ok {
				return nil, false
			}
		}
		return v, true
	}

	t.Run("proportion", func(t *testing.T) {
		m := decode(prop)
		// Wilson bounds: scipy binomtest(3810, 10000).proportion_ci("wilson").
		want := map[string]any{
			"metric": "retention", "kind": "proportion",
			"treatment.n": 10000.0, "treatment.successes": 3810.0, "treatment.rate": 0.381,
			"control.n": 3100.0, "control.rate": 0.35,
			"treatment.ci95": []any{0.3715291901528419, 0.39056220145937914},
			"srm_warning":    false, "holdout": 0.24,
			"methods.abs_lift_ci95": MethodNewcombe, "methods.rel_lift_ci95": MethodKatz,
		}
		for k, w := range want {
			got, ok := get(m, strings.Split(k, ".")...)
			if !ok {
				t.Errorf("missing %s", k)
				continue
			}
			if gs, ok := got.([]any); ok {
				ws := w.([]any)
				if len(gs) != 2 || !near(gs[0].(float64), ws[0].(float64), 1e-12) || !near(gs[1].(float64), ws[1].(float64), 1e-12) {
					t.Errorf("%s = %v, want %v", k, got, w)
				}
			} else if got != w {
				t.Errorf("%s = %v, want %v", k, got, w)
			}
		}
		for _, k := range []string{"abs_lift", "rel_lift", "p_value", "srm_p_value"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s = %v, want a number", k, m[k])
			}
		}
		for _, k := range []string{"abs_lift_ci95", "rel_lift_ci95"} {
			if a, ok := m[k].([]any); !ok || len(a) != 2 {
				t.Errorf("%s = %v, want [lo, hi]", k, m[k])
			}
		}
		for _, k := range [][]string{{"treatment", "mean"}, {"treatment", "sd"}, {"df"}} {
			if _, ok := get(m, k...); ok {
				t.Errorf("proportion JSON has %v", k)
			}
		}
	})
	t.Run("mean", func(t *testing.T) {
		m := decode(mean)
		for _, k := range [][]string{{"treatment", "mean"}, {"treatment", "sd"}, {"control", "mean"}, {"df"}} {
			if v, ok := get(m, k...); !ok || v == nil {
				t.Errorf("mean JSON lacks %v", k)
			}
		}
		if _, ok := get(m, "treatment", "rate"); ok {
			t.Errorf("mean JSON has treatment.rate")
		}
		if got, _ := get(m, "methods", "p_value"); got != MethodWelch {
			t.Errorf("methods.p_value = %v, want %s", got, MethodWelch)
		}
	})
	t.Run("undefined is null", func(t *testing.T) {
		m := decode(undefined)
		if v, ok := m["rel_lift"]; !ok || v != nil {
			t.Errorf("rel_lift = %v, want null", v)
		}
		if a := m["rel_lift_ci95"].([]any); a[0] != nil || a[1] != nil {
			t.Errorf("rel_lift_ci95 = %v, want [null, null]", a)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		for _, r := range []Result{prop, mean, undefined} {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !sameResult(back, r) {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", r.Metric, back, r)
			}
		}
	})
	t.Run("bad kind", func(t *testing.T) {
		var r Result
		if err := json.Unmarshal([]byte(`{"kind":"median"}`), &r); err == nil {
			t.Errorf("kind median decoded without error")
		}
	})
}

// sameResult compares results treating NaN as equal to NaN.
func sameResult(a, b Result) bool {
	eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	iv := func(x, y Interval) bool { return eq(x.Lo, y.Lo) && eq(x.Hi, y.Hi) }
	g := func(x, y GroupStats) bool {
		return x.N == y.N && x.Successes == y.Successes && eq(x.Mean, y.Mean) && eq(x.SD, y.SD) && iv(x.CI95, y.CI95)
	}
	return a.Metric == b.Metric && a.Kind == b.Kind && g(a.Treatment, b.Treatment) && g(a.Control, b.Control) &&
		eq(a.AbsLift, b.AbsLift) && iv(a.AbsLiftCI95, b.AbsLiftCI95) && eq(a.RelLift, b.RelLift) &&
		iv(a.RelLiftCI95, b.RelLiftCI95) && eq(a.PValue, b.PValue) && eq(a.DF, b.DF) && eq(a.Holdout, b.Holdout) &&
		eq(a.SRMPValue, b.SRMPValue) && a.SRMWarning == b.SRMWarning
}

func TestReport(t *testing.T) {
	rep := &Report{
		Experiment: "winback",
		Holdout:    0.24,
		Metrics: []Result{
			mustProportions(t, "retention", Proportion{10000, 3810}, Proportion{3100, 1085}, 0.24),
		},
		Breakdowns: map[string]map[string][]Result{
			"risk_band": {
				"low":  {mustProportions(t, "retention", Proportion{10000, 3520}, Proportion{3000, 1050}, 0.24)},
				"high": {mustProportions(t, "retention", Proportion{10000, 3400}, Proportion{3000, 1200}, 0.24)},
			},
		},
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	// Group rates and Wilson bounds: scipy binomtest(...).proportion_ci
	// ("wilson") for 3810/10000, 1085/3100, 3400/10000, 1200/3000,
	// 3520/10000 and 1050/3000, as percentages with one decimal.
	want := `Experiment winback (holdout 24.0%)
  Retention +3.1 points (95% CI +1.2 to +5.0), p = 0.002: the campaign kept about 310 of 10,000 targeted users.
    treatment 10,000 users: 38.1% (95% CI 37.2% to 39.1%), control 3,100 users: 35.0% (95% CI 33.3% to 36.7%)
By risk_band:
  high:
    Retention -6.0 points (95% CI -8.0 to -4.0), p < 0.001: the campaign lost about 600 of 10,000 targeted users.
      treatment 10,000 users: 34.0% (95% CI 33.1% to 34.9%), control 3,000 users: 40.0% (95% CI 38.3% to 41.8%)
  low:
    Retention +0.2 points (95% CI -1.8 to +2.1), p = 0.84: no detectable effect; the data fit anything from -1.8 to +2.1 points.
      treatment 10,000 users: 35.2% (95% CI 34.3% to 36.1%), control 3,000 users: 35.0% (95% CI 33.3% to 36.7%)
`
	if got := buf.String(); got != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, want)
	}
	if rep.SRMWarning() {
		t.Errorf("SRMWarning() = true for a correct split")
	}

	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Metrics) != 1 || !sameResult(back.Metrics[0], rep.Metrics[0]) ||
		!sameResult(back.Breakdowns["risk_band"]["high"][0], rep.Breakdowns["risk_band"]["high"][0]) {
		t.Errorf("report JSON round trip lost data: %s", b)
	}

	t.Run("SRM warning", func(t *testing.T) {
		bad := &Report{Experiment: "x", Holdout: 0.1, Metrics: []Result{
			mustProportions(t, "retention", Proportion{17600, 6000}, Proportion{2400, 800}, 0.1)}}
		var buf bytes.Buffer
		if err := bad.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		if !bad.SRMWarning() || !strings.Contains(buf.String(), "\nWARNING: sample ratio mismatch") {
			t.Errorf("no loud SRM warning in:\n%s", buf.String())
		}
	})
}

func TestFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{signed(0.04, 1), "0.0"}, {signed(-0.04, 1), "0.0"}, {signed(-0.05001, 1), "-0.1"}, {signed(2.345, 2), "+2.35"},
		{signed(math.NaN(), 1), "n/a"},
		{pText(0.0009), "p < 0.001"}, {pText(0.001), "p = 0.001"}, {pText(0.0449), "p = 0.045"}, {pText(0.5), "p = 0.50"},
		{thousands(0), "0"}, {thousands(999.4), "999"}, {thousands(1000), "1,000"}, {thousands(1234567.8), "1,234,568"},
		{thousands(-12345), "-12,345"},
		{metricLabel("revenue_per_user"), "Revenue per user"}, {metricLabel(""), "Metric"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// FuzzResultJSON checks that decoding never panics and that encoding a
// decoded result is stable: decode(encode(decode(b))) encodes to the same
// bytes as decode(b).
func FuzzResultJSON(f *testing.F) {
	for _, r := range []Result{
		mustProportions(f, "retention", Proportion{10000, 3810}, Proportion{3100, 1085}, 0.24),
		mustMeans(f, "revenue", MomentsOf(welchA1), MomentsOf(welchA2), 0.5),
		mustProportions(f, "conversion", Proportion{20, 3}, Proportion{25, 0}, 0.5),
	} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"mean","treatment":{"n":3,"rate":0.5,"successes":2},"abs_lift_ci95":[null,1]}`))
	f.Add([]byte(`{"kind":"proportion","abs_lift_ci95":[1]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		b1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("encode decoded %q: %v", b, err)
		}
		var r2 Result
		if err := json.Unmarshal(b1, &r2); err != nil {
			t.Fatalf("decode %s: %v", b1, err)
		}
		b2, err := json.Marshal(r2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("unstable encoding:\n%s\n%s", b1, b2)
		}
	})
}
