package training

import (
	"errors"
	"math"
	"testing"

	"github.com/lapse-dev/lapse/model"
)

func TestFitTransform(t *testing.T) {
	// Hand computation. Column 0 (log1p): values e−1, e²−1, e³−1 map to
	// 1, 2, 3: mean 2, population std √(2/3). Column 1 (none): 2, 4, 9:
	// mean 5, std √((9+1+16)/3) = √(26/3). Column 2 is constant → Std 0.
	e := math.E
	rows := [][]float64{{e - 1, 2, 7}, {e*e - 1, 4, 7}, {e*e*e - 1, 9, 7}}
	x, err := MatrixFromRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := FitTransform(&x, []string{"a", "b", "c"}, []string{model.KindLog1p, model.KindNone, ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []model.FeatureTransform{
		{Name: "a", Kind: model.KindLog1p, Mean: 2, Std: math.Sqrt(2.0 / 3)},
		{Name: "b", Kind: model.KindNone, Mean: 5, Std: math.Sqrt(26.0 / 3)},
		{Name: "c", Kind: model.KindNone, Mean: 7, Std: 0},
	}
	for j, w := range want {
		g := tr.Features[j]
		if g.Name != w.Name || g.Kind != w.Kind || math.Abs(g.Mean-w.Mean) > 1e-12 || math.Abs(g.Std-w.Std) > 1e-12 {
			t.Errorf("feature %d = %+v, want %+v", j, g, w)
		}
	}
	// Transformed columns have mean 0 and std 1 (or are all 0).
	z, err := ApplyTransform(tr, &x)
	if err != nil {
		t.Fatal(err)
	}
	for j := range 3 {
		var s, ss float64
		for i := range z.Rows {
			s += z.At(i, j)
			ss += z.At(i, j) * z.At(i, j)
		}
		wantSS := 3.0
		if j == 2 {
			wantSS = 0
		}
		if math.Abs(s) > 1e-12 || math.Abs(ss-wantSS) > 1e-12 {
			t.Errorf("column %d: sum %v, sum of squares %v (want 0, %v)", j, s, ss, wantSS)
		}
	}
}

func TestFitTransformErrors(t *testing.T) {
	x := NewMatrix(2, 2)
	cases := []struct {
		name         string
		names, kinds []string
		want         error
	}{
		{"NamesCount", []string{"a"}, nil, ErrShape},
		{"KindsCount", nil, []string{"none"}, ErrShape},
		{"BadKind", nil, []string{"none", "sqrt"}, model.ErrInvalidTransform},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := FitTransform(&x, c.names, c.kinds); !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}
