package btyd

import (
	"fmt"
	"math"
)

// seriesTol is the relative size of the neglected tail at which the
// hypergeometric series stop.
const seriesTol = 1e-15

// seriesMaxTerms bounds the number of terms summed before a series is
// declared not convergent. With ratio z per term this allows z up to about
// 0.9999 at double precision.
const seriesMaxTerms = 1_000_000

// Hyp2F1 returns the Gaussian hypergeometric function
//
//	2F1(a, b; c; z) = Σ_{n≥0} (a)_n (b)_n / ((c)_n n!) z^n
//
// for real arguments with -1 < z < 1. It sums two equivalent series and
// keeps the better conditioned one (the smaller ratio of the sum of the
// terms' magnitudes to the magnitude of the sum): for 0 <= z < 1 the
// definition and Euler's transformation
// (1-z)^(c-a-b) 2F1(c-a, c-b; c; z); for -1 < z < 0 the two Pfaff
// transformations (1-z)^(-a) 2F1(a, c-b; c; z/(z-1)) and
// (1-z)^(-b) 2F1(c-a, b; c; z/(z-1)), whose argument lies in (0, 1/2).
// Summation stops when a bound on the remaining tail is below 1e-15 of the
// sum. It returns ErrNoConvergence if that does not happen within a
// million terms or the sum overflows, and ErrDomain for |z| >= 1, c a
// non-positive integer, or a non-finite argument.
//
// Accuracy is about 1e-15 times the condition ratio above, which is 1 when
// a, b, c > 0 and z >= 0 (all terms positive) and can be large for
// negative parameters whose terms alternate in sign.
func Hyp2F1(a, b, c, z float64) (float64, error) {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(c) || math.IsNaN(z) ||
		math.IsInf(a, 0) || math.IsInf(b, 0) || math.IsInf(c, 0) {
		return math.NaN(), fmt.Errorf("btyd: hyp2f1(%g, %g; %g; %g): %w", a, b, c, z, ErrDomain)
	}
	if !(z > -1 && z < 1) {
		return math.NaN(), fmt.Errorf("btyd: hyp2f1 at z = %g, need |z| < 1: %w", z, ErrDomain)
	}
	if c <= 0 && c == math.Floor(c) {
		return math.NaN(), fmt.Errorf("btyd: hyp2f1 with c = %g, a non-positive integer: %w", c, ErrDomain)
	}
	type candidate struct {
		a, b, w, pre float64
	}
	var cands [2]candidate
	if z >= 0 {
		cands[0] = candidate{a, b, z, 1}
		cands[1] = candidate{c - a, c - b, z, math.Pow(1-z, c-a-b)}
	} else {
		w := z / (z - 1)
		cands[0] = candidate{a, c - b, w, math.Pow(1-z, -a)}
		cands[1] = candidate{c - a, b, w, math.Pow(1-z, -b)}
	}
	best, bestCond := math.NaN(), math.Inf(1)
	var firstErr error
	for _, cd := range cands {
		s, abs, err := hypSeries(cd.a, cd.b, c, cd.w)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		cond := math.Inf(1)
		if s != 0 {
			cond = abs / math.Abs(s)
		}
		v := cd.pre * s
		if math.IsNaN(best) || cond < bestCond {
			best, bestCond = v, cond
		}
	}
	if math.IsNaN(best) || math.IsInf(best, 0) {
		if firstErr == nil {
			firstErr = ErrNoConvergence
		}
		return math.NaN(), fmt.Errorf("btyd: hyp2f1(%g, %g; %g; %g): %w", a, b, c, z, firstErr)
	}
	return best, nil
}

// hypSeries sums Σ_{n≥0} (a)_n (b)_n / ((c)_n n!) z^n for 0 <= z < 1 and
// returns the sum and the sum of the terms' magnitudes.
func hypSeries(a, b, c, z float64) (sum, abs float64, err error) {
	sum, abs = 1, 1
	term := 1.0
	for n := 0; n < seriesMaxTerms; n++ {
		fn := float64(n)
		term *= (a + fn) * (b + fn) / ((c + fn) * (fn + 1)) * z
		sum += term
		abs += math.Abs(term)
		if term == 0 {
			return sum, abs, nil // a or b a non-positive integer: a polynomial
		}
		if math.IsInf(abs, 0) || math.IsNaN(sum) {
			return math.NaN(), math.NaN(), ErrNoConvergence
		}
		if tailSmall(term, sum, (a+fn+1)*(b+fn+1)/((c+fn+1)*(fn+2))*z, z) {
			return sum, abs, nil
		}
	}
	return math.NaN(), math.NaN(), ErrNoConvergence
}

// tailSmall reports whether the tail after the latest term is negligible.
// next is the ratio of the following term to term; the ratios of a
// hypergeometric series tend to z, so max(|next|, z) bounds them once the
// terms have started to shrink and the tail is at most |term|·ρ/(1-ρ).
func tailSmall(term, sum, next, z float64) bool {
	rho := math.Max(math.Abs(next), z)
	if rho >= 1 {
		return false
	}
	return math.Abs(term)*rho/(1-rho) <= seriesTol*math.Abs(sum)
}

// euler1m returns
//
//	[1 - (1-z)^ε 2F1(A, ε; C; z)] / ε
//
// for 0 <= z < 1 without cancellation for small ε, with its limit at ε = 0.
// Writing 2F1(A, ε; C; z) = 1 + ε·G with
// G = Σ_{n≥1} (A)_n (ε+1)_{n-1} / ((C)_n n!) z^n, the value is
// -expm1(εL)/ε - e^{εL}·G with L = ln(1-z).
func euler1m(A, eps, C, z float64) (float64, error) {
	L := math.Log1p(-z)
	var head float64
	if eps == 0 {
		head = -L
	} else {
		head = -math.Expm1(eps*L) / eps
	}
	if z == 0 {
		return head, nil
	}
	term := A / C * z
	g := term
	for n := 1; n < seriesMaxTerms; n++ {
		if term == 0 {
			return head - math.Exp(eps*L)*g, nil
		}
		fn := float64(n)
		ratio := (A + fn) * (eps + fn) / ((C + fn) * (fn + 1)) * z
		if tailSmall(term, math.Abs(g)+math.Abs(head), ratio, z) {
			return head - math.Exp(eps*L)*g, nil
		}
		term *= ratio
		g += term
		if math.IsInf(g, 0) || math.IsNaN(g) {
			return math.NaN(), ErrNoConvergence
		}
	}
	return math.NaN(), ErrNoConvergence
}
