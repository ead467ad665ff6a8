package btyd

import (
	"errors"
	"math"
	"testing"
)

func TestHyp2F1(t *testing.T) {
	// Reference values: testdata/reference.py, scipy.special.hyp2f1
	// (scipy 1.10.1). The first two are also closed forms checked by hand:
	// 2F1(1,1;2;z) = -ln(1-z)/z = 2 ln 2 at z = 1/2, and
	// 2F1(1/2,1/2;3/2;z²) = asin(z)/z = π/3 at z = 1/2.
	cases := []struct {
		name       string
		a, b, c, z float64
		want       float64
	}{
		{"log closed form", 1, 1, 2, 0.5, 2 * math.Ln2},
		{"asin closed form", 0.5, 0.5, 1.5, 0.25, math.Pi / 3},
		{"cdnow conditional", 2.242593, 4.425752, 4.218638, 0.4734, 4.5613647050843316},
		{"cdnow unconditional z near 1", 0.2426, 2.4259, 2.2188, 0.9465, 2.3878017891073227},
		{"polynomial", 3.5, -2.0, 1.25, 0.8, 0.10400000000000009},
		{"negative z", 1.5, 2.5, 3.7, -0.6, 0.61067373127141455},
		{"negative z near -1", 1.5, 2.5, 3.7, -0.95, 0.49131731350380481},
		{"large parameters", 20.24, 22.43, 22.22, 0.3, 1463.0585607379128},
		{"z 0.99", 0.3, 0.7, 0.1, 0.99, 162.49380591550252},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Hyp2F1(tc.a, tc.b, tc.c, tc.z)
			if err != nil {
				t.Fatalf("Hyp2F1(%g, %g, %g, %g): %v", tc.a, tc.b, tc.c, tc.z, err)
			}
			if math.Abs(got-tc.want) > 1e-12*math.Abs(tc.want) {
				t.Errorf("Hyp2F1(%g, %g, %g, %g) = %.17g, want %.17g", tc.a, tc.b, tc.c, tc.z, got, tc.want)
			}
		})
	}
}

func TestHyp2F1Domain(t *testing.T) {
	cases := []struct {
		name       string
		a, b, c, z float64
		want       error
	}{
		{"z = 1", 1, 1, 2, 1, ErrDomain},
		{"z < -1", 1, 1, 2, -1.5, ErrDomain},
		{"c = 0", 1, 1, 0, 0.5, ErrDomain},
		{"c = -3", 1, 1, -3, 0.5, ErrDomain},
		{"NaN", math.NaN(), 1, 2, 0.5, ErrDomain},
		// Ratio → z = 1 - 1e-9: a million terms cannot reach 1e-15.
		{"too close to 1", 1, 1, 2, 1 - 1e-9, ErrNoConvergence},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Hyp2F1(tc.a, tc.b, tc.c, tc.z)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Hyp2F1(%g, %g, %g, %g) = %g, %v; want error %v", tc.a, tc.b, tc.c, tc.z, got, err, tc.want)
			}
			if !math.IsNaN(got) {
				t.Errorf("value with error = %g, want NaN", got)
			}
		})
	}
}

// TestEuler1m checks the transformed bracket used by the expectations
// against the untransformed definition summed by Hyp2F1:
// [1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]/(a-1).
func TestEuler1m(t *testing.T) {
	cases := []struct{ r, a, b, x, z float64 }{
		{0.2426, 0.7929, 2.4259, 0, 0.5},
		{0.2426, 0.7929, 2.4259, 2, 0.4734},
		{0.2426, 0.7929, 2.4259, 30, 0.9},
		{1.3, 3.1, 0.4, 5, 0.7},
		{0.5, 1.0000001, 2, 3, 0.6},
	}
	for _, tc := range cases {
		c := tc.a + tc.b + tc.x - 1
		f, err := Hyp2F1(tc.r+tc.x, tc.b+tc.x, c, tc.z)
		if err != nil {
			t.Fatal(err)
		}
		want := (1 - math.Pow(1-tc.z, tc.r+tc.x)*f) / (tc.a - 1)
		got, err := euler1m(c-tc.r-tc.x, tc.a-1, c, tc.z)
		if err != nil {
			t.Fatal(err)
		}
		// The untransformed form loses digits to cancellation near a = 1.
		tol := 1e-11
		if math.Abs(tc.a-1) < 1e-3 {
			tol = 1e-6
		}
		if math.Abs(got-want) > tol*math.Abs(want) {
			t.Errorf("euler1m for %+v = %.15g, want %.15g", tc, got, want)
		}
	}
}

// FuzzHyp2F1 checks that Hyp2F1 never panics, returns a finite value or an
// error, and is symmetric in a and b; for 0 <= z < 0.9 it also checks Euler's
// transformation 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z).
func FuzzHyp2F1(f *testing.F) {
	f.Add(1.0, 1.0, 2.0, 0.5)
	f.Add(0.2426, 2.4259, 2.2188, 0.8)
	f.Add(1.5, 2.5, 3.7, -0.6)
	f.Add(-3.0, 2.0, 1.5, 0.3)
	f.Fuzz(func(t *testing.T, a, b, c, z float64) {
		if math.Abs(a) > 50 || math.Abs(b) > 50 || math.Abs(c) > 50 || c < 0.5 {
			t.Skip()
		}
		v1, err1 := Hyp2F1(a, b, c, z)
		v2, err2 := Hyp2F1(b, a, c, z)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("asymmetric errors: %v / %v", err1, err2)
		}
		if err1 != nil {
			if !math.IsNaN(v1) {
				t.Fatalf("error %v with value %g", err1, v1)
			}
			return
		}
		if math.IsNaN(v1) || math.IsInf(v1, 0) {
			t.Fatalf("Hyp2F1(%g,%g,%g,%g) = %g without error", a, b, c, z, v1)
		}
		if math.Abs(v1-v2) > 1e-9*math.Max(1, math.Abs(v1)) {
			t.Fatalf("asymmetric: %g vs %g", v1, v2)
		}
		// Only where both series have positive terms: otherwise either can
		// lose all its digits to cancellation (the fuzzer found
		// 2F1(38.24, 2.43; 17.75; 0.8), whose transform 2F1(-20.5, 15.3;
		// 17.75; 0.8) alternates through terms near 1e15).
		if z >= 0 && z < 0.9 && a > 0 && b > 0 && c-a > 0 && c-b > 0 {
			e, err := Hyp2F1(c-a, c-b, c, z)
			if err != nil {
				return
			}
			v3 := math.Pow(1-z, c-a-b) * e
			if math.Abs(v1-v3) > 1e-10*math.Abs(v1) {
				t.Fatalf("Euler transform: %g vs %g", v1, v3)
			}
		}
	})
}
