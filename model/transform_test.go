package model

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestFeatureTransform(t *testing.T) {
	// Hand computation: log1p(e−1) = 1, so with mean 0.5 and std 0.25 the
	// value e−1 maps to (1 − 0.5)/0.25 = 2; −(e−1) maps to (−1 − 0.5)/0.25 = −6
	// (the log is extended as an odd function).
	e1 := math.E - 1
	cases := []struct {
		name string
		f    FeatureTransform
		v    float64
		want float64
	}{
		{"Log1p", FeatureTransform{Kind: KindLog1p, Mean: 0.5, Std: 0.25}, e1, 2},
		{"Log1pNegative", FeatureTransform{Kind: KindLog1p, Mean: 0.5, Std: 0.25}, -e1, -6},
		{"Log1pZero", FeatureTransform{Kind: KindLog1p, Mean: 0, Std: 1}, 0, 0},
		{"None", FeatureTransform{Kind: KindNone, Mean: 10, Std: 4}, 18, 2},
		{"EmptyKindIsNone", FeatureTransform{Mean: 10, Std: 4}, 2, -2},
		{"ZeroStd", FeatureTransform{Kind: KindNone, Mean: 3, Std: 0}, 1e6, 0},
		{"NaNIsMean", FeatureTransform{Kind: KindLog1p, Mean: 3, Std: 2}, math.NaN(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.f.Apply(c.v)
			if math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Apply(%v) = %v, want %v", c.v, got, c.want)
			}
			// Invert undoes Apply whenever the feature carries information.
			if c.f.Std > 0 && !math.IsNaN(c.v) {
				if back := c.f.Invert(got); math.Abs(back-c.v) > 1e-9*math.Max(1, math.Abs(c.v)) {
					t.Errorf("Invert(Apply(%v)) = %v", c.v, back)
				}
			}
		})
	}
}

func TestTransformApply(t *testing.T) {
	tr := &Transform{Features: []FeatureTransform{
		{Name: "orders", Kind: KindLog1p, Mean: math.Log(2), Std: 1},
		{Name: "recency", Kind: KindNone, Mean: 30, Std: 10},
	}}
	// Hand computation: log1p(1) − ln 2 = 0; (50 − 30)/10 = 2.
	x := []float64{1, 50}
	got := tr.Apply(nil, x)
	if math.Abs(got[0]) > 1e-15 || math.Abs(got[1]-2) > 1e-15 {
		t.Errorf("Apply = %v, want [0 2]", got)
	}
	// In place, reusing the input slice.
	if in := tr.Apply(x, x); &in[0] != &x[0] || math.Abs(x[1]-2) > 1e-15 {
		t.Errorf("in-place Apply = %v", in)
	}
	if names := tr.Names(); len(names) != 2 || names[0] != "orders" || names[1] != "recency" {
		t.Errorf("Names = %v", names)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Transform
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if r := back.Apply(nil, []float64{3, 10}); r[0] != tr.Apply(nil, []float64{3, 10})[0] {
		t.Errorf("decoded transform differs: %s", b)
	}
}

func TestTransformValidate(t *testing.T) {
	cases := []struct {
		name string
		f    FeatureTransform
		ok   bool
	}{
		{"OK", FeatureTransform{Kind: KindLog1p, Mean: 1, Std: 2}, true},
		{"ZeroStdOK", FeatureTransform{Kind: KindNone, Mean: 1, Std: 0}, true},
		{"UnknownKind", FeatureTransform{Kind: "sqrt", Std: 1}, false},
		{"NegativeStd", FeatureTransform{Std: -1}, false},
		{"NaNMean", FeatureTransform{Mean: math.NaN(), Std: 1}, false},
		{"InfStd", FeatureTransform{Std: math.Inf(1)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&Transform{Features: []FeatureTransform{c.f}}).Validate()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidTransform)) {
				t.Errorf("Validate = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
