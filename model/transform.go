package model

import (
	"errors"
	"fmt"
	"math"
)

// Transform kinds, applied to a raw feature value before standardisation.
const (
	// KindNone leaves the value as it is.
	KindNone = "none"
	// KindLog1p maps v to sign(v)·log(1+|v|): log1p for counts and amounts,
	// extended to negative values (net revenue after refunds) so that the
	// map stays finite, odd and monotone on the whole real line.
	KindLog1p = "log1p"
)

// ErrInvalidTransform is returned by Transform.Validate when a feature has
// an unknown kind or a mean or standard deviation that is not a finite
// number (a negative standard deviation included).
var ErrInvalidTransform = errors.New("model: invalid feature transform")

// FeatureTransform turns one raw feature value into the model's input space:
// z = (Pre(v) − Mean) / Std. Std == 0 marks a feature that was constant in
// training; it carries no information, so it always maps to 0.
type FeatureTransform struct {
	// Name is the feature name, for reports and explanations.
	Name string `json:"name"`
	// Kind is KindNone or KindLog1p. The empty string means KindNone.
	Kind string `json:"kind"`
	// Mean is the training mean of Pre(v).
	Mean float64 `json:"mean"`
	// Std is the training standard deviation of Pre(v); 0 means constant.
	Std float64 `json:"std"`
}

// Pre returns v after the kind's transform and before standardisation.
func (f FeatureTransform) Pre(v float64) float64 {
	if f.Kind != KindLog1p {
		return v
	}
	if v < 0 {
		return -math.Log1p(-v)
	}
	return math.Log1p(v)
}

// Apply returns the standardised value (Pre(v) − Mean) / Std, or 0 when Std
// is 0 or v is NaN (a missing value is imputed with the training mean).
func (f FeatureTransform) Apply(v float64) float64 {
	if f.Std == 0 || math.IsNaN(v) {
		return 0
	}
	return (f.Pre(v) - f.Mean) / f.Std
}

// Invert maps a standardised value z back to raw units: the inverse of
// Apply for a feature with Std > 0, and the raw value of Mean otherwise.
// Reports use it to describe cluster centroids in the data's own units.
func (f FeatureTransform) Invert(z float64) float64 {
	u := f.Mean + z*f.Std
	if f.Kind != KindLog1p {
		return u
	}
	if u < 0 {
		return -math.Expm1(-u)
	}
	return math.Expm1(u)
}

// Transform is the per-feature transform of a model's input vector, in the
// order of the feature vector.
type Transform struct {
	// Features has one entry per input column.
	Features []FeatureTransform `json:"features"`
}

// Len returns the number of input columns.
func (t *Transform) Len() int { return len(t.Features) }

// Names returns the feature names in column order.
func (t *Transform) Names() []string {
	names := make([]string, len(t.Features))
	for j, f := range t.Features {
		names[j] = f.Name
	}
	return names
}

// Apply writes the transformed x into dst and returns it. dst is grown (or
// allocated when nil) to len(x); dst and x may be the same slice. It panics
// if len(x) differs from t.Len(), which is a programming error.
func (t *Transform) Apply(dst, x []float64) []float64 {
	if len(x) != len(t.Features) {
		panic(fmt.Sprintf("model: transform got %d values, want %d", len(x), len(t.Features)))
	}
	if cap(dst) < len(x) {
		dst = make([]float64, len(x))
	}
	dst = dst[:len(x)]
	for j, f := range t.Features {
		dst[j] = f.Apply(x[j])
	}
	return dst
}

// Validate reports every feature with an unknown kind or a non-finite or
// negative Mean or Std, wrapped around ErrInvalidTransform.
func (t *Transform) Validate() error {
	var errs []error
	for j, f := range t.Features {
		switch f.Kind {
		case "", KindNone, KindLog1p:
		default:
			errs = append(errs, fmt.Errorf("feature %d (%q): unknown kind %q", j, f.Name, f.Kind))
		}
		if math.IsNaN(f.Mean) || math.IsInf(f.Mean, 0) {
			errs = append(errs, fmt.Errorf("feature %d (%q): mean %v", j, f.Name, f.Mean))
		}
		if !(f.Std >= 0) || math.IsInf(f.Std, 0) {
			errs = append(errs, fmt.Errorf("feature %d (%q): std %v", j, f.Name, f.Std))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidTransform, errors.Join(errs...))
	}
	return nil
}
