package model

import (
	"errors"
	"math"
	"testing"
)

func TestPlattApply(t *testing.T) {
	// Hand computation: A=1, B=0 is the identity; A=2, B=0 at p=0.75 gives
	// σ(2 ln 3) = 9/10; A=1, B=ln 2 at p=0.5 gives σ(ln 2) = 2/3.
	cases := []struct {
		name    string
		c       Platt
		p, want float64
	}{
		{"Identity", Platt{A: 1}, 0.3, 0.3},
		{"Sharpen", Platt{A: 2}, 0.75, 0.9},
		{"Shift", Platt{A: 1, B: math.Ln2}, 0.5, 2.0 / 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.Apply(c.p); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Apply(%v) = %v, want %v", c.p, got, c.want)
			}
		})
	}
}

func TestIsotonicApply(t *testing.T) {
	// Hand computation: linear between (0.2, 0.1) and (0.4, 0.3); a flat
	// block from 0.4 to 0.6; clipped outside [0.2, 0.8].
	iso := Isotonic{X: []float64{0.2, 0.4, 0.6, 0.8}, Y: []float64{0.1, 0.3, 0.3, 0.9}}
	cases := []struct{ p, want float64 }{
		{0, 0.1}, {0.2, 0.1}, {0.3, 0.2}, {0.4, 0.3}, {0.5, 0.3}, {0.7, 0.6}, {0.8, 0.9}, {1, 0.9},
	}
	for _, c := range cases {
		if got := iso.Apply(c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Apply(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (Isotonic{}).Apply(0.42); got != 0.42 {
		t.Errorf("empty table Apply(0.42) = %v", got)
	}
}

func TestCalibrationDispatch(t *testing.T) {
	var nilCal *Calibration
	cases := []struct {
		name    string
		c       *Calibration
		p, want float64
	}{
		{"Nil", nilCal, 0.3, 0.3},
		{"None", &Calibration{Method: CalibrationNone}, 0.3, 0.3},
		{"Platt", &Calibration{Method: CalibrationPlatt, Platt: &Platt{A: 2}}, 0.75, 0.9},
		{"Isotonic", &Calibration{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{0, 1}, Y: []float64{0.2, 0.4}}}, 0.5, 0.3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.Apply(c.p); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Apply(%v) = %v, want %v", c.p, got, c.want)
			}
		})
	}
}

func TestCalibrationValidate(t *testing.T) {
	cases := []struct {
		name string
		c    Calibration
		ok   bool
	}{
		{"Empty", Calibration{}, true},
		{"Platt", Calibration{Method: CalibrationPlatt, Platt: &Platt{A: 1}}, true},
		{"PlattMissing", Calibration{Method: CalibrationPlatt}, false},
		{"PlattNaN", Calibration{Method: CalibrationPlatt, Platt: &Platt{A: math.NaN()}}, false},
		{"Isotonic", Calibration{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{0, 1}, Y: []float64{0, 1}}}, true},
		{"IsotonicLengths", Calibration{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{0, 1}, Y: []float64{0}}}, false},
		{"IsotonicUnsorted", Calibration{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{1, 0}, Y: []float64{0, 1}}}, false},
		{"IsotonicDecreasing", Calibration{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{0, 1}, Y: []float64{1, 0}}}, false},
		{"Unknown", Calibration{Method: "beta"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidCalibration)) {
				t.Errorf("Validate = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
