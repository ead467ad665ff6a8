package training

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"

	"github.com/lapse-dev/lapse/model/btyd"
)

// ErrBTYDInput is returned by SummarizeBTYD and the BTYD fits for bad
// customer data or options: unsorted or mismatched purchase days and
// amounts, a missing calibration end, a holdout end before it, or no
// customer to fit.
var ErrBTYDInput = errors.New("training: bad btyd input")

// ErrBTYDNotConverged is returned by FitBGNBD and FitGammaGamma when the
// optimiser stops before the gradient is small or a parameter runs off to
// 0 or infinity. The message says what to try.
var ErrBTYDNotConverged = errors.New("training: btyd fit did not converge")

// BTYDCustomer is one customer's purchase history, the input of the
// customer-base models. It depends on nothing in features; the CLI builds
// it from the event reader.
type BTYDCustomer struct {
	// ID is the customer's id, copied to the summary.
	ID string
	// Days are the purchase days as Unix day numbers (days since
	// 1970-01-01 UTC, see BTYDDay), ascending. Repeated days are allowed
	// and are merged: several orders on one day count as one transaction.
	Days []int32
	// Amounts are the order values, parallel to Days, or nil when spend is
	// not modelled. Amounts on a merged day are summed.
	Amounts []float64
}

// BTYDDay returns the Unix day number of t's UTC calendar date.
func BTYDDay(t time.Time) int32 {
	return int32(math.Floor(float64(t.Unix()) / 86400))
}

// BTYDSummaryOptions says how purchase histories are summarised. A nil
// *BTYDSummaryOptions is an error: the calibration end has no default.
type BTYDSummaryOptions struct {
	// CalibrationEnd is the last day of the calibration period (a Unix
	// day number, inclusive). Required. T is measured from a customer's
	// first purchase day to this day, so a 1997-01-01 customer has
	// T = 272 days = 38.86 weeks at 1997-09-30.
	CalibrationEnd int32
	// HoldoutEnd is the last day of the holdout period (inclusive), or 0
	// for no holdout. Purchases on days after CalibrationEnd up to
	// HoldoutEnd are counted in HoldoutX.
	HoldoutEnd int32
	// Unit is the time unit of t_x and T; empty means btyd.Week.
	Unit btyd.Unit
}

func (o *BTYDSummaryOptions) unitDays() (float64, error) {
	u := o.Unit
	if u == "" {
		u = btyd.Week
	}
	return u.Days()
}

// Validate returns an error wrapping ErrBTYDInput that lists every bad field.
func (o *BTYDSummaryOptions) Validate() error {
	if o == nil {
		return fmt.Errorf("training: btyd summary options are required (calibration end): %w", ErrBTYDInput)
	}
	var errs []error
	if o.CalibrationEnd == 0 {
		errs = append(errs, errors.New("calibration end not set"))
	}
	if o.HoldoutEnd != 0 && o.HoldoutEnd <= o.CalibrationEnd {
		errs = append(errs, fmt.Errorf("holdout end day %d not after calibration end day %d", o.HoldoutEnd, o.CalibrationEnd))
	}
	if _, err := o.unitDays(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("training: btyd summary options: %w: %w", errors.Join(errs...), ErrBTYDInput)
	}
	return nil
}

// BTYDSummary is a customer's sufficient statistics for BG/NBD and
// Gamma-Gamma over the calibration period, plus the holdout count.
type BTYDSummary struct {
	// ID is the customer's id.
	ID string `json:"id"`
	// X is the number of repeat transactions in calibration: distinct
	// purchase days up to CalibrationEnd, minus one.
	X int `json:"x"`
	// Tx is the time from the first to the last calibration purchase day.
	Tx float64 `json:"t_x"`
	// T is the time from the first purchase day to CalibrationEnd.
	T float64 `json:"T"`
	// Zbar is the mean value of the X repeat transactions (0 when X = 0
	// or when no amounts were given).
	Zbar float64 `json:"zbar"`
	// HoldoutX is the number of distinct purchase days in the holdout.
	HoldoutX int `json:"holdout_x"`
	// First is the first purchase day (Unix day number).
	First int32 `json:"first_day"`
}

// SummarizeBTYD computes each customer's (x, t_x, T), zbar and holdout
// count. Customers with no purchase on or before CalibrationEnd are left
// out (they were not yet customers); the result keeps the input order of
// the others. It returns an error wrapping ErrBTYDInput for invalid options
// or a customer whose days are unsorted or whose amounts do not match.
func SummarizeBTYD(customers []BTYDCustomer, opts *BTYDSummaryOptions) ([]BTYDSummary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	unit, _ := opts.unitDays()
	out := make([]BTYDSummary, 0, len(customers))
	for i := range customers {
		s, ok, err := btydSummarizeOne(&customers[i], opts, unit)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func btydSummarizeOne(c *BTYDCustomer, o *BTYDSummaryOptions, unit float64) (BTYDSummary, bool, error) {
	if c.Amounts != nil && len(c.Amounts) != len(c.Days) {
		return BTYDSummary{}, false, fmt.Errorf("training: btyd customer %q: %d amounts for %d days: %w", c.ID, len(c.Amounts), len(c.Days), ErrBTYDInput)
	}
	if len(c.Days) == 0 || c.Days[0] > o.CalibrationEnd {
		return BTYDSummary{}, false, nil
	}
	s := BTYDSummary{ID: c.ID, First: c.Days[0]}
	last := c.Days[0]
	var repeatSum, dayAmount float64
	for j := 1; j < len(c.Days); j++ {
		d := c.Days[j]
		if d < c.Days[j-1] {
			return BTYDSummary{}, false, fmt.Errorf("training: btyd customer %q: purchase days not ascending at index %d: %w", c.ID, j, ErrBTYDInput)
		}
		if d > o.CalibrationEnd {
			if o.HoldoutEnd != 0 && d <= o.HoldoutEnd && d != c.Days[j-1] {
				s.HoldoutX++
			}
			continue
		}
		if c.Amounts != nil {
			dayAmount = c.Amounts[j]
		}
		if d == c.Days[j-1] {
			if s.X > 0 { // same day as a repeat purchase: add to it
				repeatSum += dayAmount
			}
			continue
		}
		s.X++
		repeatSum += dayAmount
		last = d
	}
	s.Tx = float64(last-s.First) / unit
	s.T = float64(o.CalibrationEnd-s.First) / unit
	if s.X > 0 {
		s.Zbar = repeatSum / float64(s.X)
	}
	return s, true, nil
}

// BGNBDPattern is a distinct (x, t_x, T) with the number of customers who
// share it: the BG/NBD likelihood depends on a customer only through these.
type BGNBDPattern struct {
	X      int     `json:"x"`
	Tx     float64 `json:"t_x"`
	T      float64 `json:"T"`
	Weight float64 `json:"weight"`
}

// CompressBGNBD merges customers with equal (x, t_x, T) into weighted
// patterns, sorted by x, then T, then t_x. t_x is ignored (set to 0) when
// x = 0.
func CompressBGNBD(data []BTYDSummary) []BGNBDPattern {
	type key struct {
		x     int
		tx, T float64
	}
	idx := make(map[key]int, len(data)/4+16)
	var pats []BGNBDPattern
	for i := range data {
		k := key{data[i].X, data[i].Tx, data[i].T}
		if k.x == 0 {
			k.tx = 0
		}
		if j, ok := idx[k]; ok {
			pats[j].Weight++
			continue
		}
		idx[k] = len(pats)
		pats = append(pats, BGNBDPattern{X: k.x, Tx: k.tx, T: k.T, Weight: 1})
	}
	slices.SortFunc(pats, func(a, b BGNBDPattern) int {
		return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.T, b.T), cmp.Compare(a.Tx, b.Tx))
	})
	return pats
}

// BGNBDOptions controls FitBGNBD. A nil *BGNBDOptions means defaults.
type BGNBDOptions struct {
	// Init is the starting point; nil means r = 1, α = 1/(Σx/ΣT), a = 1,
	// b = 1, and a second start at r = α = a = b = 1 if the first fails.
	Init *btyd.BGNBD
	// MaxIterations bounds the BFGS iterations; zero means 1000.
	MaxIterations int
	// GradTol is the convergence threshold on the infinity norm of the
	// gradient of the mean log-likelihood per customer with respect to
	// the log-parameters; zero means 1e-9.
	GradTol float64
}

// BGNBDFit is a fitted BG/NBD model with its diagnostics.
type BGNBDFit struct {
	// Params are the maximum-likelihood estimates.
	Params btyd.BGNBD `json:"params"`
	// StdErr are the standard errors of Params from the inverse of the
	// observed information (the negated Hessian of the log-likelihood in
	// the natural parameters); NaN when that is not positive definite.
	StdErr btyd.BGNBD `json:"std_err"`
	// LogLikelihood is the maximised total log-likelihood.
	LogLikelihood float64 `json:"log_likelihood"`
	// Customers is the number of customers (total weight).
	Customers float64 `json:"customers"`
	// Patterns is the number of distinct (x, t_x, T).
	Patterns int `json:"patterns"`
	// Iterations and FuncEvals count the optimiser's work.
	Iterations int `json:"iterations"`
	FuncEvals  int `json:"func_evals"`
	// GradNorm is the infinity norm of the mean-log-likelihood gradient in
	// log-parameters at the solution.
	GradNorm float64 `json:"grad_norm"`
	// Warnings are caveats about the fit, for the report.
	Warnings []string `json:"warnings,omitempty"`
}

// FitBGNBD fits the BG/NBD model by maximum likelihood to the customers'
// (x, t_x, T); it compresses them with CompressBGNBD and calls
// FitBGNBDPatterns.
func FitBGNBD(ctx context.Context, data []BTYDSummary, opts *BGNBDOptions) (*BGNBDFit, error) {
	return FitBGNBDPatterns(ctx, CompressBGNBD(data), opts)
}

// FitBGNBDPatterns fits the BG/NBD model by maximum likelihood to weighted
// patterns. It minimises the mean negative log-likelihood over
// log(r, α, a, b) with BFGS and the analytic gradient; the Lgamma and
// digamma terms, which depend only on x, are computed once per distinct x
// and evaluation. It returns an error wrapping ErrBTYDInput for invalid
// patterns and ErrBTYDNotConverged when the optimiser does not reach a small
// gradient or a parameter runs off to 0 or infinity; the message says what
// to try.
func FitBGNBDPatterns(ctx context.Context, pats []BGNBDPattern, opts *BGNBDOptions) (*BGNBDFit, error) {
	if opts == nil {
		opts = &BGNBDOptions{}
	}
	pr, err := newBTYDBGProblem(pats)
	if err != nil {
		return nil, err
	}
	starts := [][]float64{}
	if opts.Init != nil {
		if err := opts.Init.Validate(); err != nil {
			return nil, fmt.Errorf("training: bg/nbd initial values: %w", err)
		}
		starts = append(starts, []float64{math.Log(opts.Init.R), math.Log(opts.Init.Alpha), math.Log(opts.Init.A), math.Log(opts.Init.B)})
	} else {
		alpha := 1.0
		if pr.sumX > 0 {
			alpha = pr.sumT / pr.sumX
		}
		starts = append(starts, []float64{0, math.Log(alpha), 0, 0}, []float64{0, 0, 0, 0})
	}
	maxIter := opts.MaxIterations
	if maxIter <= 0 {
		maxIter = 1000
	}
	gtol := opts.GradTol
	if gtol <= 0 {
		gtol = 1e-9
	}
	var fit *BGNBDFit
	for _, x0 := range starts {
		fit, err = pr.minimize(ctx, x0, maxIter, gtol)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	fit.Patterns = len(pats)
	fit.Customers = pr.sumW
	pr.stdErrors(fit)
	return fit, nil
}

// btydBGProblem is the BG/NBD negative mean log-likelihood on patterns grouped
// by x, with the log(α+t) terms looked up in a table of distinct times.
type btydBGProblem struct {
	xs     []float64 // distinct x values
	groups []int     // pats[groups[k]:groups[k+1]] have x = xs[k]
	wx     []float64 // total weight per distinct x
	ti, ri []int32   // per pattern: index of T and of t_x in times
	w      []float64 // per pattern weight
	times  []float64 // distinct values of T and t_x
	sumW   float64
	sumX   float64
	sumT   float64

	// scratch
	logAt, invAt []float64
}

func newBTYDBGProblem(pats []BGNBDPattern) (*btydBGProblem, error) {
	if len(pats) == 0 {
		return nil, fmt.Errorf("training: bg/nbd fit: no customers: %w", ErrBTYDInput)
	}
	p := &btydBGProblem{}
	tidx := map[float64]int32{}
	lookup := func(v float64) int32 {
		if i, ok := tidx[v]; ok {
			return i
		}
		tidx[v] = int32(len(p.times))
		p.times = append(p.times, v)
		return int32(len(p.times) - 1)
	}
	sorted := slices.IsSortedFunc(pats, func(a, b BGNBDPattern) int { return cmp.Compare(a.X, b.X) })
	if !sorted {
		pats = slices.Clone(pats)
		slices.SortStableFunc(pats, func(a, b BGNBDPattern) int { return cmp.Compare(a.X, b.X) })
	}
	for i, q := range pats {
		tx := q.Tx
		if q.X == 0 {
			tx = q.T // unused
		}
		if q.X < 0 || !(q.T >= 0) || math.IsInf(q.T, 0) || !(tx >= 0) || tx > q.T || !(q.Weight > 0) || math.IsInf(q.Weight, 0) {
			return nil, fmt.Errorf("training: bg/nbd pattern %d (x=%d t_x=%g T=%g weight=%g): want x >= 0, 0 <= t_x <= T, weight > 0: %w",
				i, q.X, q.Tx, q.T, q.Weight, ErrBTYDInput)
		}
		if len(p.xs) == 0 || float64(q.X) != p.xs[len(p.xs)-1] {
			p.xs = append(p.xs, float64(q.X))
			p.groups = append(p.groups, i)
			p.wx = append(p.wx, 0)
		}
		p.wx[len(p.wx)-1] += q.Weight
		p.ti = append(p.ti, lookup(q.T))
		p.ri = append(p.ri, lookup(tx))
		p.w = append(p.w, q.Weight)
		p.sumW += q.Weight
		p.sumX += q.Weight * float64(q.X)
		p.sumT += q.Weight * q.T
	}
	p.groups = append(p.groups, len(pats))
	if p.sumX == 0 {
		return nil, fmt.Errorf("training: bg/nbd fit: no customer made a repeat purchase, so dropout cannot be estimated; use a longer calibration period: %w", ErrBTYDInput)
	}
	if p.sumT == 0 {
		return nil, fmt.Errorf("training: bg/nbd fit: every customer has T = 0 (first purchase on the calibration end day): %w", ErrBTYDInput)
	}
	p.logAt = make([]float64, len(p.times))
	p.invAt = make([]float64, len(p.times))
	return p, nil
}

// eval returns the total log-likelihood at natural parameters
// (r, α, a, b) and, if grad is not nil, its gradient in those parameters.
func (p *btydBGProblem) eval(par []float64, grad []float64) float64 {
	r, alpha, a, b := par[0], par[1], par[2], par[3]
	for i, t := range p.times {
		p.logAt[i] = math.Log(alpha + t)
		p.invAt[i] = 1 / (alpha + t)
	}
	lgr, _ := math.Lgamma(r)
	lgab, _ := math.Lgamma(a + b)
	lgb, _ := math.Lgamma(b)
	logAlpha, logA := math.Log(alpha), math.Log(a)
	var psiR, psiAB, psiB float64
	if grad != nil {
		psiR, psiAB, psiB = mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
		clear(grad[:4])
	}
	var ll float64
	for k, x := range p.xs {
		lgrx, _ := math.Lgamma(r + x)
		lgbx, _ := math.Lgamma(b + x)
		lgabx, _ := math.Lgamma(a + b + x)
		wx := p.wx[k]
		ll += wx * (lgrx - lgr + r*logAlpha + lgab + lgbx - lgb - lgabx)
		rx := r + x
		// Per-pattern mixture of the "alive at T" and "dropped after t_x"
		// terms: sums of w·w3·∂A3 and w·w4·∂A4.
		var sW3L, sW3I, sW4L, sW4I, sW4 float64
		lo, hi := p.groups[k], p.groups[k+1]
		if x == 0 {
			for i := lo; i < hi; i++ {
				ll -= p.w[i] * rx * p.logAt[p.ti[i]]
				if grad != nil {
					sW3L += p.w[i] * p.logAt[p.ti[i]]
					sW3I += p.w[i] * p.invAt[p.ti[i]]
				}
			}
		} else {
			c4 := logA - math.Log(b+x-1)
			for i := lo; i < hi; i++ {
				lT, lR := p.logAt[p.ti[i]], p.logAt[p.ri[i]]
				a3 := -rx * lT
				a4 := c4 - rx*lR
				var m, d float64
				if a3 >= a4 {
					m, d = a3, a4-a3
				} else {
					m, d = a4, a3-a4
				}
				e := math.Exp(d)
				ll += p.w[i] * (m + math.Log1p(e))
				if grad != nil {
					w3 := 1 / (1 + e) // weight of the larger term
					if a3 < a4 {
						w3 = e / (1 + e)
					}
					w4 := 1 - w3
					sW3L += p.w[i] * w3 * lT
					sW3I += p.w[i] * w3 * p.invAt[p.ti[i]]
					sW4L += p.w[i] * w4 * lR
					sW4I += p.w[i] * w4 * p.invAt[p.ri[i]]
					sW4 += p.w[i] * w4
				}
			}
		}
		if grad != nil {
			psiABX := mathext.Digamma(a + b + x)
			grad[0] += wx*(mathext.Digamma(r+x)-psiR+logAlpha) - sW3L - sW4L
			grad[1] += wx*r/alpha - rx*(sW3I+sW4I)
			grad[2] += wx * (psiAB - psiABX)
			grad[3] += wx * (psiAB + mathext.Digamma(b+x) - psiB - psiABX)
			if x > 0 {
				grad[2] += sW4 / a
				grad[3] -= sW4 / (b + x - 1)
			}
		}
	}
	return ll
}

// btydExtremeLogParam is the |log θ| beyond which a converged fit is
// reported as running off to 0 or infinity (θ outside about [3e-7, 3e6]).
const btydExtremeLogParam = 15

// btydMaxLogParam bounds |log θ| during the search: beyond it a parameter is
// treated as running off to 0 or infinity.
const btydMaxLogParam = 25

func (p *btydBGProblem) minimize(ctx context.Context, x0 []float64, maxIter int, gtol float64) (*BGNBDFit, error) {
	nat := make([]float64, 4)
	g := make([]float64, 4)
	toNat := func(th []float64) bool {
		for i := range th {
			if math.Abs(th[i]) > btydMaxLogParam || math.IsNaN(th[i]) {
				return false
			}
			nat[i] = math.Exp(th[i])
		}
		return true
	}
	fg := func(th, grad []float64) float64 {
		if !toNat(th) {
			return math.Inf(1)
		}
		f := -p.eval(nat, g) / p.sumW
		for i := range grad {
			grad[i] = -g[i] * nat[i] / p.sumW
		}
		if math.IsNaN(f) {
			return math.Inf(1)
		}
		return f
	}
	res, err := btydBFGS(ctx, fg, x0, maxIter, gtol)
	if err != nil {
		return nil, fmt.Errorf("training: bg/nbd fit: %w", err)
	}
	if !res.converged {
		return nil, fmt.Errorf("training: bg/nbd fit stopped after %d iterations (gradient %.3g, log-parameters %.3g): %w; "+
			"try another time unit (alpha should come out between about 0.1 and 1000 units), a longer calibration period, "+
			"or more customers with repeat purchases: a parameter heading to 0 or infinity means the data say little about dropout",
			res.iters, res.gmax, res.x, ErrBTYDNotConverged)
	}
	toNat(res.x)
	gmax := res.gmax
	fit := &BGNBDFit{
		Params:     btyd.BGNBD{R: nat[0], Alpha: nat[1], A: nat[2], B: nat[3]},
		Iterations: res.iters,
		FuncEvals:  res.evals,
		GradNorm:   gmax,
	}
	fit.LogLikelihood = p.eval(nat, nil)
	for i, name := range []string{"r", "alpha", "a", "b"} {
		if math.Abs(res.x[i]) > btydExtremeLogParam {
			return nil, fmt.Errorf("training: bg/nbd fit: %s ran off to %.3g (r=%.3g alpha=%.3g a=%.3g b=%.3g, log-likelihood %.6g): %w; "+
				"the likelihood keeps rising towards a boundary, so the data cannot pin the model down: "+
				"if a -> 0 or b -> infinity almost nobody looks dropped out (try a longer calibration period), "+
				"if r and alpha both grow purchase rates look alike across customers (try another time unit or more data)",
				name, nat[i], nat[0], nat[1], nat[2], nat[3], fit.LogLikelihood, ErrBTYDNotConverged)
		}
	}
	return fit, nil
}

// stdErrors sets fit.StdErr from a central-difference Hessian of the
// analytic gradient in the natural parameters.
func (p *btydBGProblem) stdErrors(fit *BGNBDFit) {
	par := []float64{fit.Params.R, fit.Params.Alpha, fit.Params.A, fit.Params.B}
	se, ok := btydHessianStdErr(par, func(g, x []float64) { p.eval(x, g) })
	fit.StdErr = btyd.BGNBD{R: se[0], Alpha: se[1], A: se[2], B: se[3]}
	if !ok {
		fit.Warnings = append(fit.Warnings, "the observed information is not positive definite: standard errors unavailable")
	}
}

// btydHessianStdErr returns sqrt(diag(inv(-H))) where H is the Hessian of a
// log-likelihood at its maximum par, from central differences of its
// gradient (relative step 1e-5), symmetrised. ok is false, with NaN
// errors, when -H is not positive definite.
func btydHessianStdErr(par []float64, grad func(g, x []float64)) (se []float64, ok bool) {
	n := len(par)
	h := mat.NewSymDense(n, nil)
	x := slices.Clone(par)
	gp, gm := make([]float64, n), make([]float64, n)
	rows := make([][]float64, n)
	for j := range n {
		step := 1e-5 * par[j]
		x[j] = par[j] + step
		grad(gp, x)
		x[j] = par[j] - step
		grad(gm, x)
		x[j] = par[j]
		rows[j] = make([]float64, n)
		for i := range n {
			rows[j][i] = (gp[i] - gm[i]) / (2 * step)
		}
	}
	for i := range n {
		for j := i; j < n; j++ {
			h.SetSym(i, j, -(rows[i][j]+rows[j][i])/2)
		}
	}
	se = make([]float64, n)
	var chol mat.Cholesky
	if !chol.Factorize(h) {
		for i := range se {
			se[i] = math.NaN()
		}
		return se, false
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		for i := range se {
			se[i] = math.NaN()
		}
		return se, false
	}
	for i := range n {
		se[i] = math.Sqrt(cov.At(i, i))
	}
	return se, true
}

// GammaGammaOptions controls FitGammaGamma. A nil *GammaGammaOptions means
// defaults.
type GammaGammaOptions struct {
	// Init is the starting point; nil means p = 1, q = 1 and v = the mean
	// zbar.
	Init *btyd.GammaGamma
	// MaxIterations bounds the BFGS iterations; zero means 1000.
	MaxIterations int
	// GradTol is as in BGNBDOptions; zero means 1e-9.
	GradTol float64
}

// GammaGammaFit is a fitted Gamma-Gamma spend model.
type GammaGammaFit struct {
	// Params are the maximum-likelihood estimates.
	Params btyd.GammaGamma `json:"params"`
	// StdErr are the standard errors from the observed information.
	StdErr btyd.GammaGamma `json:"std_err"`
	// LogLikelihood is the maximised total log-likelihood (of the zbar
	// densities, so it depends on the currency unit).
	LogLikelihood float64 `json:"log_likelihood"`
	// Customers is the number of repeat customers fitted on.
	Customers int `json:"customers"`
	// Skipped counts repeat customers left out because zbar <= 0.
	Skipped int `json:"skipped"`
	// Iterations and FuncEvals count the optimiser's work.
	Iterations int `json:"iterations"`
	FuncEvals  int `json:"func_evals"`
	// Warnings are caveats about the fit, for the report.
	Warnings []string `json:"warnings,omitempty"`
}

// FitGammaGamma fits the Gamma-Gamma spend model by maximum likelihood on
// the customers with X > 0 and Zbar > 0 (others are skipped and counted),
// on log(p, q, v) with BFGS and the analytic gradient. It returns an
// error wrapping ErrBTYDInput when fewer than 3 customers qualify and
// ErrBTYDNotConverged when the fit fails.
func FitGammaGamma(ctx context.Context, data []BTYDSummary, opts *GammaGammaOptions) (*GammaGammaFit, error) {
	if opts == nil {
		opts = &GammaGammaOptions{}
	}
	type key struct{ x, z float64 }
	idx := map[key]int{}
	var xs, zs, ws []float64
	fit := &GammaGammaFit{}
	var sumZ float64
	for i := range data {
		if data[i].X <= 0 {
			continue
		}
		z := data[i].Zbar
		if !(z > 0) || math.IsInf(z, 0) {
			fit.Skipped++
			continue
		}
		fit.Customers++
		sumZ += z
		k := key{float64(data[i].X), z}
		if j, ok := idx[k]; ok {
			ws[j]++
			continue
		}
		idx[k] = len(xs)
		xs, zs, ws = append(xs, k.x), append(zs, z), append(ws, 1)
	}
	if fit.Customers < 3 {
		return nil, fmt.Errorf("training: gamma-gamma fit: %d repeat customers with positive spend, need at least 3: %w", fit.Customers, ErrBTYDInput)
	}
	n := float64(fit.Customers)
	eval := func(par, grad []float64) float64 {
		g := btyd.GammaGamma{P: par[0], Q: par[1], V: par[2]}
		var ll float64
		var gi [3]float64
		if grad != nil {
			clear(grad[:3])
		}
		for i := range xs {
			if grad == nil {
				ll += ws[i] * g.LogLikelihood(xs[i], zs[i])
				continue
			}
			ll += ws[i] * g.LogLikelihoodGrad(gi[:], xs[i], zs[i])
			for j := range 3 {
				grad[j] += ws[i] * gi[j]
			}
		}
		return ll
	}
	x0 := []float64{0, 0, math.Log(sumZ / n)}
	if opts.Init != nil {
		if err := opts.Init.Validate(); err != nil {
			return nil, fmt.Errorf("training: gamma-gamma initial values: %w", err)
		}
		x0 = []float64{math.Log(opts.Init.P), math.Log(opts.Init.Q), math.Log(opts.Init.V)}
	}
	maxIter := opts.MaxIterations
	if maxIter <= 0 {
		maxIter = 1000
	}
	gtol := opts.GradTol
	if gtol <= 0 {
		gtol = 1e-9
	}
	nat := make([]float64, 3)
	g := make([]float64, 3)
	toNat := func(th []float64) bool {
		for i := range th {
			if math.Abs(th[i]) > btydMaxLogParam || math.IsNaN(th[i]) {
				return false
			}
			nat[i] = math.Exp(th[i])
		}
		return true
	}
	fg := func(th, grad []float64) float64 {
		if !toNat(th) {
			return math.Inf(1)
		}
		f := -eval(nat, g) / n
		for i := range grad {
			grad[i] = -g[i] * nat[i] / n
		}
		if math.IsNaN(f) {
			return math.Inf(1)
		}
		return f
	}
	res, err := btydBFGS(ctx, fg, x0, maxIter, gtol)
	if err != nil {
		return nil, fmt.Errorf("training: gamma-gamma fit: %w", err)
	}
	if !res.converged {
		return nil, fmt.Errorf("training: gamma-gamma fit stopped after %d iterations (gradient %.3g, log-parameters %.3g): %w; "+
			"check that amounts are order values in one currency and not all equal; more repeat customers help",
			res.iters, res.gmax, res.x, ErrBTYDNotConverged)
	}
	toNat(res.x)
	fit.Params = btyd.GammaGamma{P: nat[0], Q: nat[1], V: nat[2]}
	fit.Iterations, fit.FuncEvals = res.iters, res.evals
	fit.LogLikelihood = eval(nat, nil)
	se, sok := btydHessianStdErr([]float64{nat[0], nat[1], nat[2]}, func(gr, x []float64) { eval(x, gr) })
	fit.StdErr = btyd.GammaGamma{P: se[0], Q: se[1], V: se[2]}
	if !sok {
		fit.Warnings = append(fit.Warnings, "the observed information is not positive definite: standard errors unavailable")
	}
	if fit.Params.Q <= 1 {
		fit.Warnings = append(fit.Warnings, fmt.Sprintf("q = %.3g <= 1: the population mean order value does not exist", fit.Params.Q))
	}
	return fit, nil
}

// BTYDMaxFrequency is the last calibration-frequency group of the holdout
// check: customers with this many repeat purchases or more form one group.
const BTYDMaxFrequency = 7

// BTYDFrequencyRow compares predicted and actual holdout purchases of the
// customers with one calibration frequency.
type BTYDFrequencyRow struct {
	// X is the calibration repeat count; the last row holds X or more.
	X int `json:"x"`
	// Label is X as text, with a "+" on the last row.
	Label string `json:"label"`
	// Customers is the number of customers in the group.
	Customers int `json:"customers"`
	// Actual is their number of holdout transactions (distinct days).
	Actual int `json:"actual"`
	// Predicted is the sum of their conditional expected purchases over
	// the holdout.
	Predicted float64 `json:"predicted"`
}

// BTYDWeek is one point of the cumulative repeat-purchase curve.
type BTYDWeek struct {
	// Week counts 7-day weeks from the first purchase day of the cohort.
	Week int `json:"week"`
	// Day is the last day of the week (Unix day number).
	Day int32 `json:"day"`
	// Actual is the number of repeat transactions up to and including Day.
	Actual int `json:"actual"`
	// Expected is Σ over customers of E[X(Day - first day)], the
	// unconditional expectation given each customer's first purchase day.
	Expected float64 `json:"expected"`
}

// BTYDForecast is the calibration/holdout check of a fitted BG/NBD model.
type BTYDForecast struct {
	// Unit is the time unit of the model.
	Unit btyd.Unit `json:"unit"`
	// HoldoutLength is the holdout's length in Unit.
	HoldoutLength float64 `json:"holdout_length"`
	// Customers is the number of customers in the calibration cohort.
	Customers int `json:"customers"`
	// ActualTotal and PredictedTotal are holdout transactions of all
	// customers, observed and expected.
	ActualTotal    int     `json:"actual_total"`
	PredictedTotal float64 `json:"predicted_total"`
	// ByFrequency splits the totals by calibration frequency 0, 1, ..., 7+.
	ByFrequency []BTYDFrequencyRow `json:"by_frequency"`
	// Weekly is the cumulative repeat-purchase curve from the cohort's first
	// day through the end of the holdout.
	Weekly []BTYDWeek `json:"weekly"`
	// CalibrationWeeks is the number of weeks of Weekly that end on or
	// before the calibration end.
	CalibrationWeeks int `json:"calibration_weeks"`
}

// BTYDHoldoutCheck compares the BG/NBD model p, fitted on the calibration
// period of opts, with what the customers did in the holdout: the total of
// holdout transactions against the sum of conditional expectations
// E[Y(holdout) | x, t_x, T], the same split by calibration frequency, and
// the weekly cumulative repeat-purchase curve against the unconditional
// E[X(t)] summed over customers by first purchase day. opts.HoldoutEnd must
// be set. Errors wrap ErrBTYDInput, btyd.ErrInvalidParams or
// btyd.ErrNoConvergence.
func BTYDHoldoutCheck(ctx context.Context, customers []BTYDCustomer, p btyd.BGNBD, opts *BTYDSummaryOptions) (*BTYDForecast, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.HoldoutEnd == 0 {
		return nil, fmt.Errorf("training: btyd holdout check needs a holdout end: %w", ErrBTYDInput)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("training: btyd holdout check: %w", err)
	}
	unitDays, _ := opts.unitDays()
	sums, err := SummarizeBTYD(customers, opts)
	if err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("training: btyd holdout check: no customer purchased by the calibration end: %w", ErrBTYDInput)
	}
	unit := opts.Unit
	if unit == "" {
		unit = btyd.Week
	}
	fc := &BTYDForecast{
		Unit:          unit,
		HoldoutLength: float64(opts.HoldoutEnd-opts.CalibrationEnd) / unitDays,
		Customers:     len(sums),
	}
	fc.ByFrequency = make([]BTYDFrequencyRow, BTYDMaxFrequency+1)
	for i := range fc.ByFrequency {
		fc.ByFrequency[i].X = i
		fc.ByFrequency[i].Label = fmt.Sprint(i)
	}
	fc.ByFrequency[BTYDMaxFrequency].Label += "+"
	// Conditional expectations per distinct (x, t_x, T).
	type key struct {
		x     int
		tx, T float64
	}
	memo := map[key]float64{}
	for i, s := range sums {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("training: btyd holdout check: %w", err)
			}
		}
		k := key{s.X, s.Tx, s.T}
		ey, ok := memo[k]
		if !ok {
			ey, err = p.ExpectedPurchases(fc.HoldoutLength, float64(s.X), s.Tx, s.T)
			if err != nil {
				return nil, fmt.Errorf("training: btyd holdout check, customer %q: %w", s.ID, err)
			}
			memo[k] = ey
		}
		row := &fc.ByFrequency[min(s.X, BTYDMaxFrequency)]
		row.Customers++
		row.Actual += s.HoldoutX
		row.Predicted += ey
		fc.ActualTotal += s.HoldoutX
		fc.PredictedTotal += ey
	}
	fc.Weekly, fc.CalibrationWeeks, err = btydWeekly(ctx, customers, sums, p, opts, unitDays)
	if err != nil {
		return nil, err
	}
	return fc, nil
}

// btydWeekly builds the cumulative weekly repeat-purchase curve.
func btydWeekly(ctx context.Context, customers []BTYDCustomer, sums []BTYDSummary, p btyd.BGNBD, o *BTYDSummaryOptions, unitDays float64) ([]BTYDWeek, int, error) {
	start := sums[0].First
	births := map[int32]int{}
	for _, s := range sums {
		start = min(start, s.First)
		births[s.First]++
	}
	end := o.HoldoutEnd
	nDays := int(end-start) + 1
	weeks := (nDays + 6) / 7
	perDay := make([]int, weeks*7)
	for i := range customers {
		d := customers[i].Days
		if len(d) == 0 || d[0] > o.CalibrationEnd {
			continue
		}
		for j := 1; j < len(d) && d[j] <= end; j++ {
			if d[j] != d[j-1] && d[j] != d[0] {
				perDay[d[j]-start]++
			}
		}
	}
	firsts := make([]int32, 0, len(births))
	for f := range births {
		firsts = append(firsts, f)
	}
	slices.Sort(firsts)
	out := make([]BTYDWeek, weeks)
	cum := 0
	calWeeks := 0
	for k := range weeks {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("training: btyd weekly curve: %w", err)
		}
		day := start + int32(7*k+6)
		for _, c := range perDay[7*k : 7*k+7] {
			cum += c
		}
		var exp float64
		for _, f := range firsts {
			if f > day {
				break
			}
			e, err := p.ExpectedPurchasesNew(float64(day-f) / unitDays)
			if err != nil {
				return nil, 0, fmt.Errorf("training: btyd weekly curve, week %d: %w", k+1, err)
			}
			exp += float64(births[f]) * e
		}
		out[k] = BTYDWeek{Week: k + 1, Day: day, Actual: cum, Expected: exp}
		if day <= o.CalibrationEnd {
			calWeeks = k + 1
		}
	}
	return out, calWeeks, nil
}

// btydBFGSResult is the outcome of btydBFGS.
type btydBFGSResult struct {
	x         []float64
	f, gmax   float64
	iters     int
	evals     int
	converged bool
}

// btydBFGS minimises fg (which returns f(x) and writes ∇f(x) into g; +Inf
// marks points outside the domain) by BFGS with a dense inverse-Hessian
// approximation (Nocedal & Wright, Numerical Optimization, 2nd ed.,
// Algorithm 6.1; the first step scaled by sᵀy/yᵀy as in their eq. 6.20)
// and a backtracking Armijo line search whose steps are capped at 5 in the
// log-parameters. The problems here have 3 or 4 parameters, so the dense
// update costs nothing next to one evaluation. It stops when ‖∇f‖∞ < gtol;
// when no step lowers f any more it reports convergence only if
// ‖∇f‖∞ <= max(100·gtol, 1e-6). The error is non-nil only when ctx ends.
//
// (gonum's optimize.LBFGS would do, but importing gonum/optimize pulls in
// gonum/stat/distmv and golang.org/x/tools, which go.sum does not list.)
func btydBFGS(ctx context.Context, fg func(x, g []float64) float64, x0 []float64, maxIter int, gtol float64) (btydBFGSResult, error) {
	const maxStep = 5.0
	n := len(x0)
	x := slices.Clone(x0)
	g := make([]float64, n)
	f := fg(x, g)
	res := btydBFGSResult{evals: 1}
	if math.IsInf(f, 1) {
		res.x, res.f, res.gmax = x, f, math.Inf(1)
		return res, nil
	}
	H := make([]float64, n*n) // row-major inverse Hessian approximation
	for i := range n {
		H[i*n+i] = 1
	}
	d, xn, gn, s, y, hy := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	norm := func(v []float64) float64 {
		var m float64
		for _, e := range v {
			m = math.Max(m, math.Abs(e))
		}
		return m
	}
	first := true
	for res.iters = 0; res.iters < maxIter; res.iters++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.gmax = norm(g)
		if res.gmax < gtol {
			res.converged = true
			break
		}
		var slope float64
		for i := range n {
			d[i] = 0
			for j := range n {
				d[i] -= H[i*n+j] * g[j]
			}
			slope += d[i] * g[i]
		}
		if !(slope < 0) { // not a descent direction: restart from steepest descent
			for i := range n {
				for j := range n {
					H[i*n+j] = 0
				}
				H[i*n+i] = 1
				d[i] = -g[i]
			}
			slope = -btydDot(g, g)
			first = true
		}
		step := 1.0
		if dm := norm(d); dm > maxStep {
			step = maxStep / dm
		}
		var fn float64
		accepted := false
		for range 60 {
			for i := range n {
				xn[i] = x[i] + step*d[i]
			}
			fn = fg(xn, gn)
			res.evals++
			if fn <= f+1e-4*step*slope {
				accepted = true
				break
			}
			// Quadratic interpolation of the step, kept within [0.1, 0.5].
			next := 0.5 * step
			if !math.IsInf(fn, 1) {
				q := -slope * step * step / (2 * (fn - f - slope*step))
				next = math.Min(math.Max(q, 0.1*step), 0.5*step)
			}
			step = next
		}
		if !accepted || f-fn <= 1e-16*math.Abs(f) && norm(gn) >= gtol {
			// No further decrease at double precision.
			if accepted && fn <= f {
				copy(x, xn)
				copy(g, gn)
				f = fn
			}
			res.gmax = norm(g)
			res.converged = res.gmax <= math.Max(100*gtol, 1e-6)
			break
		}
		for i := range n {
			s[i] = xn[i] - x[i]
			y[i] = gn[i] - g[i]
		}
		copy(x, xn)
		copy(g, gn)
		f = fn
		sy := btydDot(s, y)
		if sy <= 1e-12*math.Sqrt(btydDot(s, s)*btydDot(y, y)) {
			continue // curvature condition fails: keep H
		}
		if first {
			scale := sy / btydDot(y, y)
			for i := range H {
				H[i] *= scale
			}
			first = false
		}
		// H ← (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ
		//   = H - ρ (s (Hy)ᵀ + (Hy) sᵀ) + (ρ² yᵀHy + ρ) s sᵀ.
		rho := 1 / sy
		for i := range n {
			hy[i] = 0
			for j := range n {
				hy[i] += H[i*n+j] * y[j]
			}
		}
		yhy := btydDot(y, hy)
		for i := range n {
			for j := range n {
				H[i*n+j] += -rho*(s[i]*hy[j]+hy[i]*s[j]) + (rho*rho*yhy+rho)*s[i]*s[j]
			}
		}
	}
	if res.iters == maxIter {
		res.gmax = norm(g)
		res.converged = res.gmax < gtol
	}
	res.x, res.f = x, f
	return res, nil
}

func btydDot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// btydNullable returns v, or nil when v is NaN (encoded as JSON null).
func btydNullable(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON encodes f with standard errors that are NaN (the observed
// information was not positive definite) as null: encoding/json rejects
// NaN.
func (f BGNBDFit) MarshalJSON() ([]byte, error) {
	type plain BGNBDFit
	v := struct {
		plain
		StdErr struct {
			R     *float64 `json:"r"`
			Alpha *float64 `json:"alpha"`
			A     *float64 `json:"a"`
			B     *float64 `json:"b"`
		} `json:"std_err"`
	}{plain: plain(f)}
	v.StdErr.R, v.StdErr.Alpha = btydNullable(f.StdErr.R), btydNullable(f.StdErr.Alpha)
	v.StdErr.A, v.StdErr.B = btydNullable(f.StdErr.A), btydNullable(f.StdErr.B)
	return json.Marshal(v)
}

// MarshalJSON encodes f with NaN standard errors as null, as
// BGNBDFit.MarshalJSON.
func (f GammaGammaFit) MarshalJSON() ([]byte, error) {
	type plain GammaGammaFit
	v := struct {
		plain
		StdErr struct {
			P *float64 `json:"p"`
			Q *float64 `json:"q"`
			V *float64 `json:"v"`
		} `json:"std_err"`
	}{plain: plain(f)}
	v.StdErr.P, v.StdErr.Q, v.StdErr.V = btydNullable(f.StdErr.P), btydNullable(f.StdErr.Q), btydNullable(f.StdErr.V)
	return json.Marshal(v)
}
