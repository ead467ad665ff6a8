package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Calibration methods, the values of Calibration.Method.
const (
	// CalibrationNone leaves probabilities unchanged.
	CalibrationNone = "none"
	// CalibrationPlatt uses a Platt sigmoid on the logit of the score.
	CalibrationPlatt = "platt"
	// CalibrationIsotonic uses a monotone piecewise-linear table.
	CalibrationIsotonic = "isotonic"
)

// ErrInvalidCalibration is returned by Calibration.Validate when the method
// is unknown, its parameters are missing, or an isotonic table is not
// sorted, not monotone or not finite.
var ErrInvalidCalibration = errors.New("model: invalid calibration")

// Platt is a fitted Platt scaling: it maps a probability p to
// Sigmoid(A·Logit(p) + B). A = 1, B = 0 is the identity. (Platt's paper
// writes 1/(1+exp(A'f+B')) with f the raw score; here A = −A', B = −B' and
// f = Logit(p), so that the calibrated value increases with p when A > 0.)
type Platt struct {
	// A is the slope on the logit scale.
	A float64 `json:"a"`
	// B is the offset on the logit scale.
	B float64 `json:"b"`
}

// Apply returns the calibrated probability of p. Scores outside [0, 1] are
// clipped by Logit.
func (c Platt) Apply(p float64) float64 { return linSigmoid(c.A*Logit(p) + c.B) }

// Isotonic is a fitted isotonic calibration: a non-decreasing
// piecewise-linear function through the points (X[i], Y[i]). Between points
// it interpolates linearly; outside [X[0], X[len−1]] it is constant (the
// same as scikit-learn's IsotonicRegression with out_of_bounds="clip").
type Isotonic struct {
	// X holds the score breakpoints, strictly increasing.
	X []float64 `json:"x"`
	// Y holds the calibrated probabilities at X, non-decreasing.
	Y []float64 `json:"y"`
}

// Apply returns the calibrated probability of p. An empty table returns p.
func (c Isotonic) Apply(p float64) float64 {
	n := len(c.X)
	switch {
	case n == 0:
		return p
	case math.IsNaN(p):
		return p
	case p <= c.X[0]:
		return c.Y[0]
	case p >= c.X[n-1]:
		return c.Y[n-1]
	}
	// c.X[i-1] < p <= c.X[i]
	i := sort.SearchFloat64s(c.X, p)
	x0, x1 := c.X[i-1], c.X[i]
	y0, y1 := c.Y[i-1], c.Y[i]
	return y0 + (y1-y0)*(p-x0)/(x1-x0)
}

// Calibration is the probability calibration stored with a classifier. The
// zero value (and Method CalibrationNone) is the identity.
type Calibration struct {
	// Method is CalibrationNone, CalibrationPlatt or CalibrationIsotonic;
	// "" means none.
	Method string `json:"method"`
	// Platt holds the parameters when Method is CalibrationPlatt.
	Platt *Platt `json:"platt,omitempty"`
	// Isotonic holds the table when Method is CalibrationIsotonic.
	Isotonic *Isotonic `json:"isotonic,omitempty"`
}

// Apply returns the calibrated probability of p. An unknown method or a
// method without its parameters returns p unchanged; Validate catches both.
func (c *Calibration) Apply(p float64) float64 {
	switch {
	case c == nil:
		return p
	case c.Method == CalibrationPlatt && c.Platt != nil:
		return c.Platt.Apply(p)
	case c.Method == CalibrationIsotonic && c.Isotonic != nil:
		return c.Isotonic.Apply(p)
	}
	return p
}

// Validate checks that the method is known and that its parameters are
// present and well formed, wrapping ErrInvalidCalibration.
func (c *Calibration) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidCalibration, fmt.Sprintf(format, a...))
	}
	switch c.Method {
	case "", CalibrationNone:
		return nil
	case CalibrationPlatt:
		if c.Platt == nil {
			return bad("platt parameters missing")
		}
		if !calFinite(c.Platt.A) || !calFinite(c.Platt.B) {
			return bad("platt a=%v b=%v", c.Platt.A, c.Platt.B)
		}
		return nil
	case CalibrationIsotonic:
		t := c.Isotonic
		if t == nil || len(t.X) == 0 {
			return bad("isotonic table missing")
		}
		if len(t.X) != len(t.Y) {
			return bad("isotonic table has %d x and %d y", len(t.X), len(t.Y))
		}
		for i := range t.X {
			if !calFinite(t.X[i]) || !calFinite(t.Y[i]) {
				return bad("isotonic point %d (%v, %v) not finite", i, t.X[i], t.Y[i])
			}
			if i > 0 && !(t.X[i] > t.X[i-1]) {
				return bad("isotonic x not increasing at %d", i)
			}
			if i > 0 && t.Y[i] < t.Y[i-1] {
				return bad("isotonic y decreasing at %d", i)
			}
		}
		return nil
	}
	return bad("unknown method %q", c.Method)
}

func calFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
