package btyd

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the four parameters of the BG/NBD model. While active, a
// customer buys as a Poisson process with rate λ ~ Gamma(shape R, rate
// Alpha); after each repeat purchase the customer drops out with
// probability p ~ Beta(A, B). Alpha is in the time unit of the data it was
// fitted on.
type BGNBD struct {
	// R is the shape of the Gamma distribution of purchase rates.
	R float64 `json:"r"`
	// Alpha is the rate (inverse scale) of the Gamma distribution of
	// purchase rates, in time units.
	Alpha float64 `json:"alpha"`
	// A is the first shape of the Beta distribution of dropout probabilities.
	A float64 `json:"a"`
	// B is the second shape of the Beta distribution of dropout probabilities.
	B float64 `json:"b"`
}

// Validate returns an error wrapping ErrInvalidParams unless all four
// parameters are finite and positive.
func (p BGNBD) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"r", p.R}, {"alpha", p.Alpha}, {"a", p.A}, {"b", p.B}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("btyd: bg/nbd %s = %g, want a finite positive number: %w", f.name, f.v, ErrInvalidParams)
		}
	}
	return nil
}

func (p BGNBD) valid() bool { return p.Validate() == nil }

// validStats reports whether (x, tx, T) is inside the model's domain.
func validStats(x, tx, T float64) bool {
	if !(x >= 0) || !(T >= 0) || math.IsInf(x, 0) || math.IsInf(T, 0) {
		return false
	}
	if x == 0 {
		return true
	}
	return tx >= 0 && tx <= T
}

// LogLikelihood returns the log of the BG/NBD likelihood of one customer
// with x repeat purchases, the last at t_x, observed until T (FHL 2005,
// equation 6):
//
//	L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
//	  + [x > 0] B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)).
//
// It returns NaN for invalid parameters or statistics.
func (p BGNBD) LogLikelihood(x, tx, T float64) float64 {
	return p.LogLikelihoodGrad(nil, x, tx, T)
}

// LogLikelihoodGrad returns LogLikelihood(x, tx, T) and, when grad is not
// nil, stores its partial derivatives with respect to (r, alpha, a, b) in
// grad[0:4]. It panics if grad is not nil and shorter than 4.
func (p BGNBD) LogLikelihoodGrad(grad []float64, x, tx, T float64) float64 {
	if grad != nil && len(grad) < 4 {
		panic("btyd: gradient slice shorter than 4")
	}
	if !p.valid() || !validStats(x, tx, T) {
		for i := range grad {
			grad[i] = math.NaN()
		}
		return math.NaN()
	}
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	lgrx, _ := math.Lgamma(r + x)
	lgr, _ := math.Lgamma(r)
	lgab, _ := math.Lgamma(a + b)
	lgbx, _ := math.Lgamma(b + x)
	lgb, _ := math.Lgamma(b)
	lgabx, _ := math.Lgamma(a + b + x)
	a1 := lgrx - lgr + r*math.Log(alpha)
	a2 := lgab + lgbx - lgb - lgabx
	a3 := -(r + x) * math.Log(alpha+T)
	ll := a1 + a2
	var w3, w4 float64
	if x > 0 {
		a4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(alpha+tx)
		m := math.Max(a3, a4)
		e3, e4 := math.Exp(a3-m), math.Exp(a4-m)
		ll += m + math.Log(e3+e4)
		w3, w4 = e3/(e3+e4), e4/(e3+e4)
	} else {
		ll += a3
		w3 = 1
	}
	if grad == nil {
		return ll
	}
	psiAB := mathext.Digamma(a + b)
	psiABX := mathext.Digamma(a + b + x)
	grad[0] = mathext.Digamma(r+x) - mathext.Digamma(r) + math.Log(alpha) - w3*math.Log(alpha+T)
	grad[1] = r/alpha - w3*(r+x)/(alpha+T)
	grad[2] = psiAB - psiABX
	grad[3] = psiAB + mathext.Digamma(b+x) - mathext.Digamma(b) - psiABX
	if x > 0 {
		grad[0] -= w4 * math.Log(alpha+tx)
		grad[1] -= w4 * (r + x) / (alpha + tx)
		grad[2] += w4 / a
		grad[3] -= w4 / (b + x - 1)
	}
	return ll
}

// PAlive returns the probability that a customer with statistics
// (x, t_x, T) is still active at T (FHL 2005, equation 12):
//
//	P(alive) = 1 / (1 + [x > 0] a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)).
//
// A customer who has made no repeat purchase cannot have dropped out in
// this model, so P(alive) = 1 when x = 0.
func (p BGNBD) PAlive(x, tx, T float64) float64 {
	if !p.valid() || !validStats(x, tx, T) {
		return math.NaN()
	}
	if x == 0 {
		return 1
	}
	return 1 / (1 + p.A/(p.B+x-1)*math.Exp((p.R+x)*(math.Log(p.Alpha+T)-math.Log(p.Alpha+tx))))
}

// ExpectedPurchases returns the expected number of purchases in (T, T+t]
// of a customer with statistics (x, t_x, T) (FHL 2005, equation 10):
//
//	E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) ·
//	  [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
//	  / (1 + [x > 0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).
//
// The bracket is evaluated through Euler's transformation (see the package
// documentation), which is exact and also covers a = 1. It returns an error
// wrapping ErrInvalidParams, ErrInvalidInput or ErrNoConvergence.
func (p BGNBD) ExpectedPurchases(t, x, tx, T float64) (float64, error) {
	if err := p.Validate(); err != nil {
		return math.NaN(), err
	}
	if !validStats(x, tx, T) || !(t >= 0) || math.IsInf(t, 0) {
		return math.NaN(), fmt.Errorf("btyd: expected purchases for t=%g x=%g t_x=%g T=%g: %w", t, x, tx, T, ErrInvalidInput)
	}
	if t == 0 {
		return 0, nil
	}
	z := t / (p.Alpha + T + t)
	c := p.A + p.B + x - 1
	h, err := euler1m(c-p.R-x, p.A-1, c, z)
	if err != nil {
		return math.NaN(), fmt.Errorf("btyd: expected purchases for t=%g x=%g t_x=%g T=%g: %w", t, x, tx, T, err)
	}
	return c * h * p.PAlive(x, tx, T), nil
}

// ExpectedPurchasesNew returns the unconditional expected number of
// repeat purchases in (0, t] of a customer who made a first purchase at
// time 0 (FHL 2005, equation 9):
//
//	E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))].
func (p BGNBD) ExpectedPurchasesNew(t float64) (float64, error) {
	if err := p.Validate(); err != nil {
		return math.NaN(), err
	}
	if !(t >= 0) || math.IsInf(t, 0) {
		return math.NaN(), fmt.Errorf("btyd: unconditional expected purchases for t=%g: %w", t, ErrInvalidInput)
	}
	if t == 0 {
		return 0, nil
	}
	c := p.A + p.B - 1
	h, err := euler1m(c-p.R, p.A-1, c, t/(p.Alpha+t))
	if err != nil {
		return math.NaN(), fmt.Errorf("btyd: unconditional expected purchases for t=%g: %w", t, err)
	}
	return c * h, nil
}

// PNoPurchase returns the probability that a customer with statistics
// (x, t_x, T) makes no purchase in (T, T+t]: either the customer has
// dropped out, or is alive and the Poisson process, whose rate has the
// posterior Gamma(r+x, α+T), stays silent for t:
//
//	P = 1 - P(alive) + P(alive) · ((α+T)/(α+T+t))^(r+x).
//
// This is the model's probability of churn over a horizon t.
func (p BGNBD) PNoPurchase(t, x, tx, T float64) float64 {
	if !(t >= 0) || math.IsInf(t, 0) {
		return math.NaN()
	}
	pa := p.PAlive(x, tx, T)
	if math.IsNaN(pa) {
		return pa
	}
	silent := math.Exp((p.R + x) * (math.Log(p.Alpha+T) - math.Log(p.Alpha+T+t)))
	return 1 - pa + pa*silent
}
