package lift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// SRMThreshold is the sample-ratio-mismatch p-value below which a result
// carries SRMWarning: the observed group sizes are too far from the
// configured split to be chance, so assignment or logging is broken.
const SRMThreshold = 0.001

// z975 is the 97.5% quantile of the standard normal distribution, the
// multiplier of every normal-theory 95% interval in this package.
var z975 = distuv.UnitNormal.Quantile(0.975)

// Interval is a two-sided confidence interval [Lo, Hi]. It is encoded in
// JSON as [lo, hi], with null for a bound that is undefined (NaN) or
// infinite.
type Interval struct {
	Lo, Hi float64
}

// Contains reports whether x lies in the closed interval.
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// Proportion holds the counts of a 0/1 outcome (retained, converted) in
// one group.
type Proportion struct {
	// N is the number of users in the group.
	N int
	// Successes is the number of users with the outcome.
	Successes int
}

// Add counts one user with outcome success.
func (p *Proportion) Add(success bool) {
	p.N++
	if success {
		p.Successes++
	}
}

// Rate returns Successes/N (NaN when N is 0).
func (p Proportion) Rate() float64 { return float64(p.Successes) / float64(p.N) }

// Validate returns an error wrapping ErrEmptyGroup when N is 0 or ErrCounts
// when the counts are negative or Successes exceeds N.
func (p Proportion) Validate() error {
	switch {
	case p.N < 0 || p.Successes < 0 || p.Successes > p.N:
		return fmt.Errorf("lift: %d successes of %d: %w", p.Successes, p.N, ErrCounts)
	case p.N == 0:
		return fmt.Errorf("lift: proportion: %w", ErrEmptyGroup)
	}
	return nil
}

// WilsonCI returns the 95% Wilson score interval for a proportion (Wilson
// 1927; method 3 of Newcombe 1998a), without continuity correction:
//
//	(2x + z² ± z·sqrt(z² + 4x(1 - x/n))) / (2(n + z²))
func WilsonCI(p Proportion) (Interval, error) {
	if err := p.Validate(); err != nil {
		return Interval{}, err
	}
	return wilson(float64(p.Successes), float64(p.N)), nil
}

func wilson(x, n float64) Interval {
	z2 := z975 * z975
	c := 2*x + z2
	d := z975 * math.Sqrt(z2+4*x*(1-x/n))
	den := 2 * (n + z2)
	iv := Interval{(c - d) / den, (c + d) / den}
	// The formula gives exactly 0 and 1 at x = 0 and x = n in exact
	// arithmetic; pin them against rounding.
	if x == 0 {
		iv.Lo = 0
	}
	if x == n {
		iv.Hi = 1
	}
	return iv
}

// NewcombeCI returns the 95% interval for the difference of rates
// treatment − control by Newcombe's hybrid score method (method 10 of
// Newcombe 1998b): with rates p1, p2 and Wilson intervals (l1, u1), (l2, u2),
//
//	[d − sqrt((p1−l1)² + (u2−p2)²), d + sqrt((u1−p1)² + (p2−l2)²)],  d = p1 − p2.
func NewcombeCI(treatment, control Proportion) (Interval, error) {
	if err := treatment.Validate(); err != nil {
		return Interval{}, fmt.Errorf("treatment: %w", err)
	}
	if err := control.Validate(); err != nil {
		return Interval{}, fmt.Errorf("control: %w", err)
	}
	return newcombe(treatment, control), nil
}

func newcombe(t, c Proportion) Interval {
	p1, p2 := t.Rate(), c.Rate()
	w1 := wilson(float64(t.Successes), float64(t.N))
	w2 := wilson(float64(c.Successes), float64(c.N))
	d := p1 - p2
	return Interval{
		Lo: d - math.Hypot(p1-w1.Lo, w2.Hi-p2),
		Hi: d + math.Hypot(w1.Hi-p1, p2-w2.Lo),
	}
}

// katz returns the 95% interval of the relative lift p1/p2 − 1 from the
// log risk-ratio interval of Katz et al. (1978):
// exp(log(p1/p2) ± z·sqrt(1/x1 − 1/n1 + 1/x2 − 1/n2)) − 1.
// When x1 is 0 the ratio is 0: the lower bound is −1 and the upper bound
// comes from the Haldane–Anscombe correction (0.5 added to every cell).
// When x2 is 0 the ratio is undefined and both bounds are NaN.
func katz(t, c Proportion) Interval {
	if c.Successes == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	x1, n1 := float64(t.Successes), float64(t.N)
	x2, n2 := float64(c.Successes), float64(c.N)
	corrected := t.Successes == 0
	if corrected {
		x1, n1, x2, n2 = x1+0.5, n1+1, x2+0.5, n2+1
	}
	logRR := math.Log((x1 / n1) / (x2 / n2))
	se := math.Sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)
	iv := Interval{math.Expm1(logRR - z975*se), math.Expm1(logRR + z975*se)}
	if corrected {
		iv.Lo = -1
	}
	return iv
}

// pooledZPValue returns the two-sided p-value of the pooled two-proportion
// z-test, equal to Pearson's chi-square test of the 2×2 table without
// continuity correction. It is 1 when both groups are all 0 or all 1.
func pooledZPValue(t, c Proportion) float64 {
	n1, n2 := float64(t.N), float64(c.N)
	pool := float64(t.Successes+c.Successes) / (n1 + n2)
	se := math.Sqrt(pool * (1 - pool) * (1/n1 + 1/n2))
	d := t.Rate() - c.Rate()
	if se == 0 {
		return 1
	}
	return 2 * distuv.UnitNormal.CDF(-math.Abs(d/se))
}

// Moments summarizes a numeric outcome (revenue per user) in one group:
// count, mean and the sum of squared deviations from the mean. The zero
// value is an empty summary; Add and Merge update it with Welford's and
// Chan's stable formulas.
type Moments struct {
	// N is the number of users.
	N int
	// Mean is the mean outcome per user.
	Mean float64
	// M2 is the sum of squared deviations from Mean, (N−1)·variance.
	M2 float64
}

// MomentsOf returns the Moments of x (two passes).
func MomentsOf(x []float64) Moments {
	m := Moments{N: len(x)}
	if len(x) == 0 {
		return m
	}
	var s float64
	for _, v := range x {
		s += v
	}
	m.Mean = s / float64(len(x))
	for _, v := range x {
		d := v - m.Mean
		m.M2 += d * d
	}
	return m
}

// MomentsFromSummary returns the Moments of n users with the given mean
// and sample standard deviation (divisor n−1), for published summaries.
func MomentsFromSummary(n int, mean, sd float64) Moments {
	return Moments{N: n, Mean: mean, M2: sd * sd * float64(n-1)}
}

// Add adds one user's outcome x.
func (m *Moments) Add(x float64) {
	m.N++
	d := x - m.Mean
	m.Mean += d / float64(m.N)
	m.M2 += d * (x - m.Mean)
}

// Merge adds the users summarized by o.
func (m *Moments) Merge(o Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = o
		return
	}
	n := float64(m.N + o.N)
	d := o.Mean - m.Mean
	m.M2 += o.M2 + d*d*float64(m.N)*float64(o.N)/n
	m.Mean += d * float64(o.N) / n
	m.N += o.N
}

// Variance returns the sample variance M2/(N−1) (NaN when N < 2).
func (m Moments) Variance() float64 {
	if m.N < 2 {
		return math.NaN()
	}
	return m.M2 / float64(m.N-1)
}

// SD returns the sample standard deviation (NaN when N < 2).
func (m Moments) SD() float64 { return math.Sqrt(m.Variance()) }

// Validate returns an error wrapping ErrTooFew when N < 2 or ErrNotFinite
// when Mean or M2 is not finite or M2 is negative.
func (m Moments) Validate() error {
	switch {
	case m.N < 2:
		return fmt.Errorf("lift: moments of %d users: %w", m.N, ErrTooFew)
	case math.IsNaN(m.Mean) || math.IsInf(m.Mean, 0) || math.IsNaN(m.M2) || math.IsInf(m.M2, 0) || m.M2 < 0:
		return fmt.Errorf("lift: moments mean %v, m2 %v: %w", m.Mean, m.M2, ErrNotFinite)
	}
	return nil
}

// tCI returns the 95% Student t interval of one group's mean.
func tCI(m Moments) Interval {
	half := tQuantile975(float64(m.N-1)) * math.Sqrt(m.Variance()/float64(m.N))
	return Interval{m.Mean - half, m.Mean + half}
}

// tQuantile975 returns the 97.5% quantile of Student's t with df degrees
// of freedom.
func tQuantile975(df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975)
}

// welch holds Welch's unequal-variance comparison of two means.
type welch struct {
	diff float64  // mean difference treatment − control
	se   float64  // standard error of diff
	df   float64  // Welch–Satterthwaite degrees of freedom (NaN when se is 0)
	ci   Interval // 95% t interval of diff
	p    float64  // two-sided p-value
}

// welchTest computes Welch's t interval and test: se² = s1²/n1 + s2²/n2,
// df = se⁴ / ((s1²/n1)²/(n1−1) + (s2²/n2)²/(n2−1)). When both variances are
// 0 the interval is the point difference and p is 1 for no difference,
// else 0.
func welchTest(t, c Moments) welch {
	v1 := t.Variance() / float64(t.N)
	v2 := c.Variance() / float64(c.N)
	w := welch{diff: t.Mean - c.Mean, se: math.Sqrt(v1 + v2)}
	if w.se == 0 {
		w.df = math.NaN()
		w.ci = Interval{w.diff, w.diff}
		w.p = 0
		if w.diff == 0 {
			w.p = 1
		}
		return w
	}
	w.df = (v1 + v2) * (v1 + v2) / (v1*v1/float64(t.N-1) + v2*v2/float64(c.N-1))
	half := tQuantile975(w.df) * w.se
	w.ci = Interval{w.diff - half, w.diff + half}
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: w.df}
	w.p = 2 * st.CDF(-math.Abs(w.diff/w.se))
	return w
}

// deltaRatioCI returns the 95% interval of the relative lift
// m1/m2 − 1 by the delta method on the ratio of independent means
// (Deng, Knoblich & Lu 2018, "Applying the delta method in metric
// analytics", KDD): Var ≈ s1²/(n1·m2²) + m1²·s2²/(n2·m2⁴), with a normal
// quantile. It is NaN when m2 is 0.
func deltaRatioCI(t, c Moments) Interval {
	if c.Mean == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	r := t.Mean/c.Mean - 1
	m2 := c.Mean * c.Mean
	v := t.Variance()/(float64(t.N)*m2) + t.Mean*t.Mean*c.Variance()/(float64(c.N)*m2*m2)
	half := z975 * math.Sqrt(v)
	return Interval{r - half, r + half}
}

// SRMPValue returns the p-value of Pearson's chi-square goodness-of-fit
// test (1 degree of freedom) of the observed group sizes against the
// configured control share holdout: expected sizes (1−holdout)·N and
// holdout·N with N = nTreatment + nControl. Values below SRMThreshold mean
// a sample ratio mismatch. holdout must be in (0, 1).
func SRMPValue(nTreatment, nControl int, holdout float64) (float64, error) {
	if !(holdout > 0 && holdout < 1) {
		return math.NaN(), fmt.Errorf("lift: srm: holdout %v: %w: want a value in (0, 1)", holdout, ErrShare)
	}
	if nTreatment < 0 || nControl < 0 {
		return math.NaN(), fmt.Errorf("lift: srm: group sizes %d, %d: %w", nTreatment, nControl, ErrCounts)
	}
	n := float64(nTreatment + nControl)
	if n == 0 {
		return math.NaN(), fmt.Errorf("lift: srm: %w", ErrEmptyGroup)
	}
	et, ec := (1-holdout)*n, holdout*n
	dt, dc := float64(nTreatment)-et, float64(nControl)-ec
	chi2 := dt*dt/et + dc*dc/ec
	return distuv.ChiSquared{K: 1}.Survival(chi2), nil
}
