package btyd

import (
	"math"
	"testing"
)

func TestGammaGamma(t *testing.T) {
	// References: testdata/reference.py (scipy gammaln), at lifetimes' rounded
	// CDNOW estimates p = 6.25, q = 3.74, v = 15.44. For x = 0 the expected
	// spend is the population mean p·v/(q-1) = 96.5/2.74 = 35.2189... (by hand).
	g := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	cases := []struct {
		x, zbar, ll, spend float64
	}{
		{1, 20.0, -3.5941964929492, 24.6384872080089},
		{2, 29.73, -3.83435242481751, 30.7168635170604},
		{10, 5.5, -8.77445885863148, 6.74816063764562},
		{0, 0, math.NaN(), 35.2189781021898},
	}
	for _, tc := range cases {
		ll := g.LogLikelihood(tc.x, tc.zbar)
		if math.IsNaN(tc.ll) != math.IsNaN(ll) || (!math.IsNaN(ll) && !close(ll, tc.ll, 1e-12)) {
			t.Errorf("LogLikelihood(%g, %g) = %.15g, want %.15g", tc.x, tc.zbar, ll, tc.ll)
		}
		if got := g.ConditionalExpectedSpend(tc.x, tc.zbar); !close(got, tc.spend, 1e-12) {
			t.Errorf("ConditionalExpectedSpend(%g, %g) = %.15g, want %.15g", tc.x, tc.zbar, got, tc.spend)
		}
	}
	if got := g.MeanSpend(); !close(got, 6.25*15.44/2.74, 1e-15) {
		t.Errorf("MeanSpend = %g", got)
	}
	if got := (GammaGamma{1, 0.5, 1}).MeanSpend(); !math.IsInf(got, 1) {
		t.Errorf("MeanSpend with q <= 1 = %g, want +Inf", got)
	}
}

func TestGammaGammaGrad(t *testing.T) {
	// Checked against central differences of LogLikelihood (step 1e-6 relative).
	g := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	grad := make([]float64, 3)
	for _, s := range [][2]float64{{1, 20}, {2, 29.73}, {10, 5.5}, {4, 250}} {
		g.LogLikelihoodGrad(grad, s[0], s[1])
		base := []float64{g.P, g.Q, g.V}
		for i := range base {
			up, dn := append([]float64(nil), base...), append([]float64(nil), base...)
			h := 1e-6 * base[i]
			up[i] += h
			dn[i] -= h
			num := (GammaGamma{up[0], up[1], up[2]}.LogLikelihood(s[0], s[1]) -
				GammaGamma{dn[0], dn[1], dn[2]}.LogLikelihood(s[0], s[1])) / (2 * h)
			if math.Abs(num-grad[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Errorf("%v: d/dθ%d = %.10g, central difference %.10g", s, i, grad[i], num)
			}
		}
	}
}
