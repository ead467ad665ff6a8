package training

import (
	"fmt"
	"math"

	"github.com/lapse-dev/lapse/model"
)

// FitTransform learns the per-column transform of x: column j is first
// mapped by kinds[j] (model.KindLog1p or model.KindNone; nil kinds means
// none for every column), then standardised with the mean and population
// standard deviation (ddof 0, as scikit-learn's StandardScaler) of the
// mapped training values. A column whose standard deviation is below
// 1e−12·max(1, |mean|) is recorded with Std 0 and then maps to 0. names
// (nil or one per column) label the features.
func FitTransform(x *Matrix, names, kinds []string) (*model.Transform, error) {
	if err := kmCheck(x); err != nil {
		return nil, fmt.Errorf("training: transform: %w", err)
	}
	if names != nil && len(names) != x.Cols {
		return nil, fmt.Errorf("training: transform: %d names for %d columns: %w", len(names), x.Cols, ErrShape)
	}
	if kinds != nil && len(kinds) != x.Cols {
		return nil, fmt.Errorf("training: transform: %d kinds for %d columns: %w", len(kinds), x.Cols, ErrShape)
	}
	t := &model.Transform{Features: make([]model.FeatureTransform, x.Cols)}
	for j := range t.Features {
		f := &t.Features[j]
		f.Kind = model.KindNone
		if kinds != nil {
			switch kinds[j] {
			case "", model.KindNone:
			case model.KindLog1p:
				f.Kind = model.KindLog1p
			default:
				return nil, fmt.Errorf("training: transform: column %d: kind %q: %w", j, kinds[j], model.ErrInvalidTransform)
			}
		}
		if names != nil {
			f.Name = names[j]
		}
	}
	n := float64(x.Rows)
	mean := make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			mean[j] += t.Features[j].Pre(v)
		}
	}
	for j := range mean {
		mean[j] /= n
	}
	ss := make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			e := t.Features[j].Pre(v) - mean[j]
			ss[j] += e * e
		}
	}
	for j := range t.Features {
		f := &t.Features[j]
		f.Mean = mean[j]
		f.Std = math.Sqrt(ss[j] / n)
		if f.Std <= 1e-12*math.Max(1, math.Abs(f.Mean)) {
			f.Std = 0
		}
	}
	return t, nil
}

// ApplyTransform returns a new matrix holding t applied to every row of x.
func ApplyTransform(t *model.Transform, x *Matrix) (*Matrix, error) {
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("training: apply transform: %w", err)
	}
	if t.Len() != x.Cols {
		return nil, fmt.Errorf("training: apply transform: %d transforms for %d columns: %w", t.Len(), x.Cols, ErrShape)
	}
	out := NewMatrix(x.Rows, x.Cols)
	for i := range x.Rows {
		t.Apply(out.Row(i), x.Row(i))
	}
	return &out, nil
}
