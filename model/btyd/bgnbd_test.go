package btyd

import (
	"errors"
	"math"
	"testing"
)

// cdnow holds CLVTools' maximum-likelihood estimates on the CDNOW sample
// (weeks), used as fixed parameters for the formula tests.
var cdnow = BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}

func close(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestBGNBDFormulas(t *testing.T) {
	// Reference values: testdata/reference.py, the FHL (2005) formulas in
	// their original form with scipy.special.hyp2f1 and gammaln.
	cases := []struct {
		name                       string
		x, tx, T                   float64
		ll, palive, ey39, p13, p52 float64
	}{
		{"no repeat", 0, 0, 38.86, -0.553807261820687, 1, 0.194781947124182, 0.938262620263699, 0.825754305835142},
		{"lifetimes example", 2, 30.43, 38.86, -9.45969326794542, 0.726608610768208, 1.22590570451004, 0.676536704949487, 0.397171911056298},
		{"one early repeat", 1, 1.71, 38.86, -4.47044793011804, 0.212231100945888, 0.203253944153487, 0.940895898731641, 0.867368398175924},
		{"frequent", 7, 29.43, 35.0, -21.3818874607442, 0.779000785912154, 4.36933647800676, 0.319836326849966, 0.222758553207451},
		{"very frequent", 25, 38.0, 38.5, -42.2022841914185, 0.961229029480582, 17.0431073561853, 0.0399784639102944, 0.0387709724286525},
		{"lapsed", 3, 5.0, 30.0, -9.59693672791283, 0.0769974980988272, 0.223357432189554, 0.95024178027652, 0.92689222594189},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cdnow.LogLikelihood(tc.x, tc.tx, tc.T); !close(got, tc.ll, 1e-12) {
				t.Errorf("LogLikelihood(%g, %g, %g) = %.15g, want %.15g", tc.x, tc.tx, tc.T, got, tc.ll)
			}
			if got := cdnow.PAlive(tc.x, tc.tx, tc.T); !close(got, tc.palive, 1e-12) {
				t.Errorf("PAlive = %.15g, want %.15g", got, tc.palive)
			}
			got, err := cdnow.ExpectedPurchases(39, tc.x, tc.tx, tc.T)
			if err != nil || !close(got, tc.ey39, 1e-11) {
				t.Errorf("ExpectedPurchases(39) = %.15g, %v, want %.15g", got, err, tc.ey39)
			}
			if got := cdnow.PNoPurchase(13, tc.x, tc.tx, tc.T); !close(got, tc.p13, 1e-12) {
				t.Errorf("PNoPurchase(13) = %.15g, want %.15g", got, tc.p13)
			}
			if got := cdnow.PNoPurchase(52, tc.x, tc.tx, tc.T); !close(got, tc.p52, 1e-12) {
				t.Errorf("PNoPurchase(52) = %.15g, want %.15g", got, tc.p52)
			}
		})
	}
}

func TestExpectedPurchasesHard(t *testing.T) {
	// References: testdata/reference.py, 50-digit mpmath evaluation of the
	// untransformed formula.
	cases := []struct {
		name        string
		p           BGNBD
		t, x, tx, T float64
		want        float64
	}{
		{"500 repeat purchases", cdnow, 39, 500, 38, 38.5, 222.56158807947518},
		{"ten-year horizon", cdnow, 520, 2, 30.43, 38.86, 7.3193446770772197},
		{"a exactly 1", BGNBD{R: cdnow.R, Alpha: cdnow.Alpha, A: 1, B: cdnow.B}, 20, 3, 10, 30, 0.33308871640845176},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.ExpectedPurchases(tc.t, tc.x, tc.tx, tc.T)
			if err != nil || !close(got, tc.want, 1e-11) {
				t.Errorf("ExpectedPurchases(%g, %g, %g, %g) = %.17g, %v; want %.17g", tc.t, tc.x, tc.tx, tc.T, got, err, tc.want)
			}
		})
	}
}

func TestExpectedPurchasesNew(t *testing.T) {
	// References: testdata/reference.py (scipy) at CLVTools' estimates; the
	// "published" column is lifetimes' test_expected_number_of_purchases_up_to_time
	// (Hardie's spreadsheet, at the FHL estimates), asserted to 3 decimals.
	cases := []struct {
		t, want, published float64
	}{
		{0.1429, 0.00781599974449294, 0.0078},
		{1, 0.0531842816897486, 0.0532},
		{3, 0.150630783977734, 0.1506},
		{31.8571, 1.04048798468299, 1.0405},
		{32, 1.04373088144044, 1.0437},
		{78, 1.85795600911804, 1.8576},
		{520, 4.96863623275684, math.NaN()},
	}
	for _, tc := range cases {
		got, err := cdnow.ExpectedPurchasesNew(tc.t)
		if err != nil || !close(got, tc.want, 1e-11) {
			t.Errorf("ExpectedPurchasesNew(%g) = %.15g, %v; want %.15g", tc.t, got, err, tc.want)
		}
		if !math.IsNaN(tc.published) && math.Abs(got-tc.published) > 1e-3 {
			t.Errorf("ExpectedPurchasesNew(%g) = %.4f, published %.4f", tc.t, got, tc.published)
		}
	}
	// A newcomer's unconditional expectation is the conditional one at
	// x = 0, T = 0 (hand derivation: both reduce to FHL equation 9).
	for _, tt := range []float64{1, 10, 100} {
		u, _ := cdnow.ExpectedPurchasesNew(tt)
		c, _ := cdnow.ExpectedPurchases(tt, 0, 0, 0)
		if !close(u, c, 1e-13) {
			t.Errorf("t=%g: unconditional %.15g, conditional at T=0 %.15g", tt, u, c)
		}
	}
}

func TestLogLikelihoodGrad(t *testing.T) {
	// Reference for the first case: central differences computed in
	// testdata/reference.py. The others are checked against central
	// differences of LogLikelihood itself (step 1e-6 relative).
	g := make([]float64, 4)
	cdnow.LogLikelihoodGrad(g, 2, 30.43, 38.86)
	want := []float64{2.7032576847022254, -0.00028623054577890927, -0.2029171147997351, 0.07660588017625965}
	for i := range g {
		if math.Abs(g[i]-want[i]) > 1e-7 {
			t.Errorf("grad[%d] = %.12g, want %.12g", i, g[i], want[i])
		}
	}
	for _, s := range [][3]float64{{0, 0, 38.86}, {1, 1.71, 38.86}, {7, 29.43, 35}, {25, 38, 38.5}, {3, 5, 30}} {
		ll := cdnow.LogLikelihoodGrad(g, s[0], s[1], s[2])
		if ll != cdnow.LogLikelihood(s[0], s[1], s[2]) {
			t.Errorf("%v: LogLikelihoodGrad value %g differs from LogLikelihood", s, ll)
		}
		base := []float64{cdnow.R, cdnow.Alpha, cdnow.A, cdnow.B}
		for i := range base {
			up, dn := append([]float64(nil), base...), append([]float64(nil), base...)
			h := 1e-6 * base[i]
			up[i] += h
			dn[i] -= h
			fu := BGNBD{up[0], up[1], up[2], up[3]}.LogLikelihood(s[0], s[1], s[2])
			fd := BGNBD{dn[0], dn[1], dn[2], dn[3]}.LogLikelihood(s[0], s[1], s[2])
			num := (fu - fd) / (2 * h)
			if math.Abs(num-g[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Errorf("%v: d/dθ%d = %.10g, central difference %.10g", s, i, g[i], num)
			}
		}
	}
}

func TestPNoPurchaseLimits(t *testing.T) {
	// Hand derivation: nothing can happen in an empty interval, and over an
	// infinite one only the dead stay silent.
	for _, s := range [][3]float64{{0, 0, 10}, {2, 30.43, 38.86}, {3, 5, 30}} {
		if got := cdnow.PNoPurchase(0, s[0], s[1], s[2]); got != 1 {
			t.Errorf("%v: PNoPurchase(0) = %g, want 1", s, got)
		}
		pa := cdnow.PAlive(s[0], s[1], s[2])
		if got := cdnow.PNoPurchase(1e40, s[0], s[1], s[2]); math.Abs(got-(1-pa)) > 1e-6 {
			t.Errorf("%v: PNoPurchase(∞) = %g, want 1-P(alive) = %g", s, got, 1-pa)
		}
	}
}

func TestBGNBDInvalid(t *testing.T) {
	cases := []struct {
		name     string
		p        BGNBD
		x, tx, T float64
		want     error
	}{
		{"zero r", BGNBD{0, 1, 1, 1}, 1, 1, 2, ErrInvalidParams},
		{"negative b", BGNBD{1, 1, 1, -1}, 1, 1, 2, ErrInvalidParams},
		{"infinite alpha", BGNBD{1, math.Inf(1), 1, 1}, 1, 1, 2, ErrInvalidParams},
		{"t_x > T", cdnow, 1, 3, 2, ErrInvalidInput},
		{"negative x", cdnow, -1, 0, 2, ErrInvalidInput},
		{"NaN T", cdnow, 1, 1, math.NaN(), ErrInvalidInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.p.ExpectedPurchases(10, tc.x, tc.tx, tc.T); !errors.Is(err, tc.want) {
				t.Errorf("ExpectedPurchases error = %v, want %v", err, tc.want)
			}
			for name, v := range map[string]float64{
				"LogLikelihood": tc.p.LogLikelihood(tc.x, tc.tx, tc.T),
				"PAlive":        tc.p.PAlive(tc.x, tc.tx, tc.T),
				"PNoPurchase":   tc.p.PNoPurchase(10, tc.x, tc.tx, tc.T),
			} {
				if !math.IsNaN(v) {
					t.Errorf("%s = %g, want NaN", name, v)
				}
			}
		})
	}
}
