package btyd

import (
	"errors"
	"math"
	"testing"
)

func TestCLV(t *testing.T) {
	// References: testdata/reference.py, lifetimes' customer_lifetime_value
	// construction re-typed with scipy (month = 30.4375/7 weeks), at
	// CLVTools' BG/NBD estimates and Gamma-Gamma p = 6.25, q = 3.74, v = 15.44.
	g := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	cases := []struct {
		x, tx, T, zbar float64
		def, undisc24  float64
	}{
		{2, 30.43, 38.86, 29.73, 45.2188214060378, 82.1913506280449},
		{0, 0, 38.86, 0, 8.36096848957, 16.0019364403642},
		{7, 29.43, 35.0, 45.2, 231.150620876794, 403.762287902203},
	}
	for _, tc := range cases {
		got, err := CLV(cdnow, g, tc.x, tc.tx, tc.T, tc.zbar, nil)
		if err != nil || !close(got, tc.def, 1e-11) {
			t.Errorf("CLV(%v, defaults) = %.15g, %v; want %.15g", tc, got, err, tc.def)
		}
		got, err = CLV(cdnow, g, tc.x, tc.tx, tc.T, tc.zbar, &CLVOptions{Months: 24, Unit: Week})
		if err != nil || !close(got, tc.undisc24, 1e-11) {
			t.Errorf("CLV(%v, 24 months undiscounted) = %.15g, %v; want %.15g", tc, got, err, tc.undisc24)
		}
		// Without discounting the monthly sums telescope (by hand):
		// CLV = E[M] · E[Y(24 months)].
		ey, _ := cdnow.ExpectedPurchases(24*DaysPerMonth/7, tc.x, tc.tx, tc.T)
		if want := g.ConditionalExpectedSpend(tc.x, tc.zbar) * ey; !close(got, want, 1e-12) {
			t.Errorf("undiscounted CLV %.15g, want E[M]·E[Y] = %.15g", got, want)
		}
	}
	// The same customer in days: α scales with the unit (α_day = 7·α_week)
	// and so do t_x and T; the value must not change.
	day := BGNBD{R: cdnow.R, Alpha: 7 * cdnow.Alpha, A: cdnow.A, B: cdnow.B}
	got, err := CLV(day, g, 2, 7*30.43, 7*38.86, 29.73, &CLVOptions{Months: 12, MonthlyDiscount: 0.01, Unit: Day})
	if err != nil || !close(got, 45.2188214060378, 1e-11) {
		t.Errorf("CLV in days = %.15g, %v; want 45.2188214060378", got, err)
	}
}

func TestCLVOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		opts *CLVOptions
		ok   bool
	}{
		{"nil", nil, true},
		{"defaults", DefaultCLVOptions(), true},
		{"zero value", &CLVOptions{}, true},
		{"negative months", &CLVOptions{Months: -1}, false},
		{"negative discount", &CLVOptions{MonthlyDiscount: -0.1}, false},
		{"NaN discount", &CLVOptions{MonthlyDiscount: math.NaN()}, false},
		{"unknown unit", &CLVOptions{Unit: "fortnight"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	_, err := CLV(cdnow, GammaGamma{1, 2, 3}, 1, 1, 2, 3, &CLVOptions{Months: -5, Unit: "year"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("CLV with bad options: %v", err)
	}
}

func TestUnitDays(t *testing.T) {
	for u, want := range map[Unit]float64{Day: 1, Week: 7, Month: 30.4375} {
		if got, err := u.Days(); err != nil || got != want {
			t.Errorf("%s.Days() = %g, %v; want %g", u, got, err, want)
		}
	}
	if _, err := Unit("year").Days(); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("unknown unit: %v", err)
	}
}
