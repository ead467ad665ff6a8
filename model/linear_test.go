package model

import (
	"encoding/json"
	"math"
	"testing"
)

func TestLogisticScore(t *testing.T) {
	// Hand computation: logit = 0.5 + 2·1 − 1·3 + 0.25·(−2) = −1.0,
	// p = 1/(1+e) = 0.2689414213699951.
	// Contributions relative to Mean (0.5, 1, 0): 2·0.5, −1·2, 0.25·(−2)
	// = 1, −2, −0.5; BaseLogit = 0.5 + 2·0.5 − 1·1 + 0 = 0.5, and
	// 0.5 + (1 − 2 − 0.5) = −1.0.
	cases := []struct {
		name    string
		m       Logistic
		x       []float64
		logit   float64
		prob    float64
		base    float64
		contrib []float64
	}{
		{"WithMean", Logistic{Weights: []float64{2, -1, 0.25}, Bias: 0.5, Mean: []float64{0.5, 1, 0}},
			[]float64{1, 3, -2}, -1, 0.2689414213699951, 0.5, []float64{1, -2, -0.5}},
		{"NilMean", Logistic{Weights: []float64{2, -1, 0.25}, Bias: 0.5},
			[]float64{1, 3, -2}, -1, 0.2689414213699951, 0.5, []float64{2, -3, -0.5}},
		// Large logits: σ(40) = 1 − 4.248e−18 rounds to 1, σ(−40) = 4.248354255291589e−18.
		{"FarNegative", Logistic{Weights: []float64{1}, Bias: 0}, []float64{-40}, -40, 4.248354255291589e-18, 0, []float64{-40}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.Logit(c.x); math.Abs(got-c.logit) > 1e-12 {
				t.Errorf("Logit = %v, want %v", got, c.logit)
			}
			if got := c.m.Prob(c.x); math.Abs(got-c.prob) > 1e-15*math.Max(1e-3, c.prob) {
				t.Errorf("Prob = %.17g, want %.17g", got, c.prob)
			}
			if got := c.m.BaseLogit(); math.Abs(got-c.base) > 1e-12 {
				t.Errorf("BaseLogit = %v, want %v", got, c.base)
			}
			contrib := c.m.Contributions(c.x)
			sum := c.m.BaseLogit()
			for j, v := range contrib {
				sum += v
				if math.Abs(v-c.contrib[j]) > 1e-12 {
					t.Errorf("contribution %d = %v, want %v", j, v, c.contrib[j])
				}
			}
			if math.Abs(sum-c.logit) > 1e-12 {
				t.Errorf("BaseLogit + Σ contributions = %v, want logit %v", sum, c.logit)
			}
		})
	}
}

func TestLogisticJSONRoundTrip(t *testing.T) {
	m := Logistic{Weights: []float64{0.1, -2.5}, Bias: 0.3, Mean: []float64{1, 2}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Logistic
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	x := []float64{0.7, -0.2}
	if back.Prob(x) != m.Prob(x) {
		t.Errorf("decoded model scores %v, original %v (json %s)", back.Prob(x), m.Prob(x), b)
	}
}

func TestLogitClip(t *testing.T) {
	// Hand computation: logit(0.75) = ln 3; 0 and 1 clip to about
	// ±ln((1−ε)/ε) = ±34.539 (1−ε is not exact in binary, so the two ends
	// differ by 4e−4; hence the loose tolerance).
	cases := []struct{ p, want float64 }{
		{0.75, math.Log(3)},
		{0.5, 0},
		{0, math.Log(ProbEpsilon / (1 - ProbEpsilon))},
		{1, -math.Log(ProbEpsilon / (1 - ProbEpsilon))},
	}
	for _, c := range cases {
		if got := Logit(c.p); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("Logit(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := ClipProb(-1); got != ProbEpsilon {
		t.Errorf("ClipProb(-1) = %v", got)
	}
}

func TestLogisticPanicsOnLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Prob with the wrong length did not panic")
		}
	}()
	(&Logistic{Weights: []float64{1, 2}}).Prob([]float64{1})
}
