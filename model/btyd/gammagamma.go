package btyd

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the parameters of the Gamma-Gamma model of spend. The
// value of each of a customer's transactions is Gamma(P, ν) with the
// customer's ν ~ Gamma(Q, V); the average value zbar of x transactions is
// then Gamma(P·x, ν·x). Spend is assumed independent of the purchase
// process.
type GammaGamma struct {
	// P is the shape of the per-transaction spend distribution.
	P float64 `json:"p"`
	// Q is the shape of the Gamma distribution of the customers' ν.
	Q float64 `json:"q"`
	// V is the rate of the Gamma distribution of the customers' ν, in
	// currency units.
	V float64 `json:"v"`
}

// Validate returns an error wrapping ErrInvalidParams unless all three
// parameters are finite and positive.
func (g GammaGamma) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"p", g.P}, {"q", g.Q}, {"v", g.V}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("btyd: gamma-gamma %s = %g, want a finite positive number: %w", f.name, f.v, ErrInvalidParams)
		}
	}
	return nil
}

// LogLikelihood returns the log density of a customer's average spend
// zbar over x > 0 transactions (Fader, Hardie & Lee 2005, "RFM and CLV",
// equation 1, with the average's density):
//
//	ln f = lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln v + (px-1) ln zbar
//	       + px ln x - (px+q) ln(v + x·zbar).
//
// It returns NaN unless x > 0, zbar > 0 and the parameters are valid.
func (g GammaGamma) LogLikelihood(x, zbar float64) float64 {
	return g.LogLikelihoodGrad(nil, x, zbar)
}

// LogLikelihoodGrad returns LogLikelihood(x, zbar) and, when grad is not
// nil, stores its partial derivatives with respect to (p, q, v) in
// grad[0:3]. It panics if grad is not nil and shorter than 3.
func (g GammaGamma) LogLikelihoodGrad(grad []float64, x, zbar float64) float64 {
	if grad != nil && len(grad) < 3 {
		panic("btyd: gradient slice shorter than 3")
	}
	if g.Validate() != nil || !(x > 0) || !(zbar > 0) || math.IsInf(x, 0) || math.IsInf(zbar, 0) {
		for i := range grad {
			grad[i] = math.NaN()
		}
		return math.NaN()
	}
	p, q, v := g.P, g.Q, g.V
	px := p * x
	lgpxq, _ := math.Lgamma(px + q)
	lgpx, _ := math.Lgamma(px)
	lgq, _ := math.Lgamma(q)
	lvxz := math.Log(v + x*zbar)
	ll := lgpxq - lgpx - lgq + q*math.Log(v) + (px-1)*math.Log(zbar) + px*math.Log(x) - (px+q)*lvxz
	if grad != nil {
		psi := mathext.Digamma(px + q)
		grad[0] = x * (psi - mathext.Digamma(px) + math.Log(zbar) + math.Log(x) - lvxz)
		grad[1] = psi - mathext.Digamma(q) + math.Log(v) - lvxz
		grad[2] = q/v - (px+q)/(v+x*zbar)
	}
	return ll
}

// MeanSpend returns the population mean transaction value p·v/(q-1), or
// +Inf when q <= 1 (the mean does not exist).
func (g GammaGamma) MeanSpend() float64 {
	if g.Validate() != nil {
		return math.NaN()
	}
	if g.Q <= 1 {
		return math.Inf(1)
	}
	return g.P * g.V / (g.Q - 1)
}

// ConditionalExpectedSpend returns the expected average transaction value
// of a customer whose x transactions averaged zbar (Hardie 2013, eq. 6):
//
//	E[M | x, zbar] = (p·v + p·x·zbar) / (p·x + q - 1),
//
// a weighted mean of the population mean p·v/(q-1) and zbar. For x = 0 it
// is the population mean. It returns NaN for invalid parameters, x < 0,
// zbar < 0, or p·x + q <= 1.
func (g GammaGamma) ConditionalExpectedSpend(x, zbar float64) float64 {
	if g.Validate() != nil || !(x >= 0) || math.IsInf(x, 0) || !(zbar >= 0) || math.IsInf(zbar, 0) {
		return math.NaN()
	}
	den := g.P*x + g.Q - 1
	if !(den > 0) {
		return math.NaN()
	}
	return (g.P*g.V + g.P*x*zbar) / den
}
