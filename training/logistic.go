package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/floats"

	"github.com/lapse-dev/lapse/model"
)

// ErrNotConverged is returned by FitLogistic and FitPlatt when the optimiser
// stops before the gradient is small, for example on perfectly separable
// data without an L2 penalty.
var ErrNotConverged = errors.New("training: optimiser did not converge")

// ErrWeight is returned when a sample weight is negative or not finite, or
// all weights are zero.
var ErrWeight = errors.New("training: bad sample weight")

// ErrNotFinite is returned when an input value is NaN or infinite.
var ErrNotFinite = errors.New("training: value is NaN or infinite")

// DefaultL2 is the default L2 strength λ of FitLogistic. With the objective
// (1/W)·Σ wᵢ·lossᵢ + (λ/2)·‖β‖² on standardised inputs, λ = 1e-4 equals
// scikit-learn's C = 1/(λ·W), i.e. C = 1 at 10,000 rows. At the row counts
// lapse trains on (thousands to millions of users) it shrinks coefficients
// by well under 1%, so it costs no accuracy, yet it keeps the problem
// strictly convex when features are collinear (revenue_30d and orders_30d)
// or a feature separates the classes. TuneL2 picks λ on validation data
// instead.
const DefaultL2 = 1e-4

// DefaultL2Grid is the grid TuneL2 searches when given none.
var DefaultL2Grid = []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6}

// LogisticOptions configures FitLogistic. A nil *LogisticOptions means
// DefaultLogisticOptions().
type LogisticOptions struct {
	// L2 is the penalty strength λ in (1/W)·Σ wᵢ·lossᵢ + (λ/2)·‖β‖², where
	// W = Σ wᵢ; the intercept is not penalised. Zero means no penalty (not
	// the default: use DefaultLogisticOptions or DefaultL2).
	L2 float64
	// MaxIter caps the L-BFGS iterations; 0 means 1000.
	MaxIter int
	// GradTol stops when the largest gradient component is below it;
	// 0 means 1e-7.
	GradTol float64
	// Threads is the number of goroutines evaluating the loss; 0 means
	// runtime.GOMAXPROCS(0). The result does not depend on it: rows are
	// summed in fixed blocks in a fixed order.
	Threads int
}

// DefaultLogisticOptions returns the defaults: L2 = DefaultL2 and zero
// (default) values for the rest.
func DefaultLogisticOptions() *LogisticOptions {
	return &LogisticOptions{L2: DefaultL2}
}

// lrBlock is the number of rows one goroutine sums before its partial
// result is stored; fixed so that results are independent of Threads.
const lrBlock = 4096

// lrProblem evaluates the penalised, weighted mean logistic loss and its
// gradient over a Matrix, in parallel over fixed row blocks.
type lrProblem struct {
	x       *Matrix
	y, w    []float64
	invW    float64 // 1/Σw
	l2      float64
	threads int

	partF []float64 // per block loss
	partG []float64 // per block gradient, (d+1) each: weights then bias

	evals int // number of loss evaluations, for tests
}

func newLRProblem(x *Matrix, y, w []float64, l2 float64, threads int) *lrProblem {
	d := x.Cols
	nb := (x.Rows + lrBlock - 1) / lrBlock
	sw := float64(x.Rows)
	if w != nil {
		sw = floats.Sum(w)
	}
	return &lrProblem{
		x: x, y: y, w: w, invW: 1 / sw, l2: l2, threads: threads,
		partF: make([]float64, nb),
		partG: make([]float64, nb*(d+1)),
	}
}

// eval returns the objective at params = (β₁..β_d, b) and writes its
// gradient into g (len d+1).
func (p *lrProblem) eval(params, g []float64) float64 {
	p.evals++
	d := p.x.Cols
	beta, bias := params[:d], params[d]
	nb := len(p.partF)
	var wg sync.WaitGroup
	next := make(chan int, nb)
	for b := range nb {
		next <- b
	}
	close(next)
	for range min(p.threads, nb) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				p.block(b, beta, bias)
			}
		}()
	}
	wg.Wait()
	var f float64
	clear(g)
	for b := range nb {
		f += p.partF[b]
		floats.Add(g, p.partG[b*(d+1):(b+1)*(d+1)])
	}
	f *= p.invW
	floats.Scale(p.invW, g)
	for j, v := range beta {
		f += 0.5 * p.l2 * v * v
		g[j] += p.l2 * v
	}
	return f
}

// block sums the weighted loss and gradient of rows in block b.
func (p *lrProblem) block(b int, beta []float64, bias float64) {
	d := p.x.Cols
	lo, hi := b*lrBlock, min((b+1)*lrBlock, p.x.Rows)
	g := p.partG[b*(d+1) : (b+1)*(d+1)]
	clear(g)
	gw := g[:d]
	var f, gb float64
	for i := lo; i < hi; i++ {
		row := p.x.Data[i*d : (i+1)*d]
		z := bias + floats.Dot(row, beta)
		// loss = log(1+e^z) − y·z, computed stably; r = σ(z) − y.
		var loss, prob float64
		if z >= 0 {
			e := math.Exp(-z)
			loss = z + math.Log1p(e)
			prob = 1 / (1 + e)
		} else {
			e := math.Exp(z)
			loss = math.Log1p(e)
			prob = e / (1 + e)
		}
		yi := p.y[i]
		loss -= yi * z
		r := prob - yi
		if p.w != nil {
			wi := p.w[i]
			loss *= wi
			r *= wi
		}
		f += loss
		gb += r
		floats.AddScaled(gw, r, row)
	}
	g[d] = gb
	p.partF[b] = f
}

// lrCheck validates the inputs shared by the fitters: matrix shape, label
// and weight lengths, finite values, labels in [0, 1], weights >= 0 with a
// positive sum.
func lrCheck(x *Matrix, y, w []float64) error {
	if x == nil {
		return fmt.Errorf("training: nil matrix: %w", ErrShape)
	}
	if err := x.Validate(); err != nil {
		return err
	}
	if x.Rows == 0 {
		return ErrEmpty
	}
	if len(y) != x.Rows {
		return fmt.Errorf("training: %d labels for %d rows: %w", len(y), x.Rows, ErrShape)
	}
	if w != nil && len(w) != x.Rows {
		return fmt.Errorf("training: %d weights for %d rows: %w", len(w), x.Rows, ErrShape)
	}
	for i, v := range x.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("training: row %d column %d: %w", i/max(x.Cols, 1), i%max(x.Cols, 1), ErrNotFinite)
		}
	}
	for i, v := range y {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("training: row %d: label %v: %w", i, v, ErrLabel)
		}
	}
	if w != nil {
		var s float64
		for i, v := range w {
			if !(v >= 0) || math.IsInf(v, 0) {
				return fmt.Errorf("training: row %d: weight %v: %w", i, v, ErrWeight)
			}
			s += v
		}
		if s == 0 {
			return fmt.Errorf("training: all weights are zero: %w", ErrWeight)
		}
	}
	return nil
}

// FitLogistic fits an L2-regularised logistic regression of labels y (in
// [0, 1], usually 0 or 1) on the rows of x, minimising
//
//	(1/W)·Σᵢ wᵢ·[log(1+e^{zᵢ}) − yᵢ·zᵢ] + (λ/2)·‖β‖²,  zᵢ = b + β·xᵢ, W = Σ wᵢ
//
// by L-BFGS with the analytic gradient (see lbfgs). The intercept b is not
// penalised. w holds optional sample weights (nil means all 1). This is
// scikit-learn's LogisticRegression(C = 1/(λ·W)) objective divided by C·W.
//
// x should be standardised (model.Transform) so that one λ suits every
// column; FitLogistic itself does not transform. The returned model's Mean
// is the weighted column mean of x. ctx is checked before every loss
// evaluation.
func FitLogistic(ctx context.Context, x *Matrix, y, w []float64, opts *LogisticOptions) (*model.Logistic, error) {
	if err := lrCheck(x, y, w); err != nil {
		return nil, fmt.Errorf("training: logistic: %w", err)
	}
	if opts == nil {
		opts = DefaultLogisticOptions()
	}
	if !(opts.L2 >= 0) || math.IsInf(opts.L2, 0) {
		return nil, fmt.Errorf("training: logistic: L2 %v must be a finite number >= 0: %w", opts.L2, ErrShape)
	}
	init := make([]float64, x.Cols+1)
	init[x.Cols] = lrInitialBias(y, w)
	m, _, err := fitLogisticFrom(ctx, x, y, w, opts, init)
	if err != nil {
		return nil, fmt.Errorf("training: logistic: %w", err)
	}
	return m, nil
}

// lrInitialBias is the logit of the weighted mean label, the optimum when
// all weights are zero; starting there saves several iterations.
func lrInitialBias(y, w []float64) float64 {
	var sy, sw float64
	for i, v := range y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		sy += wi * v
		sw += wi
	}
	return model.Logit(sy / sw)
}

// fitLogisticFrom minimises from init (len Cols+1, bias last) and returns the
// model and the final parameter vector.
func fitLogisticFrom(ctx context.Context, x *Matrix, y, w []float64, opts *LogisticOptions, init []float64) (*model.Logistic, []float64, error) {
	maxIter := opts.MaxIter
	if maxIter <= 0 {
		maxIter = 1000
	}
	gtol := opts.GradTol
	if gtol <= 0 {
		gtol = 1e-7
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := newLRProblem(x, y, w, opts.L2, threads)
	params, _, err := lbfgs(ctx, p.eval, init, maxIter, gtol)
	if err != nil {
		return nil, nil, err
	}
	d := x.Cols
	m := &model.Logistic{
		Weights: slices.Clone(params[:d]),
		Bias:    params[d],
		Mean:    lrColumnMeans(x, w),
	}
	return m, params, nil
}

// lrColumnMeans returns the weighted mean of each column of x.
func lrColumnMeans(x *Matrix, w []float64) []float64 {
	mean := make([]float64, x.Cols)
	var sw float64
	for i := range x.Rows {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		floats.AddScaled(mean, wi, x.Row(i))
		sw += wi
	}
	floats.Scale(1/sw, mean)
	return mean
}

// L2Score is the validation result of one λ in TuneL2.
type L2Score struct {
	// L2 is the penalty strength λ.
	L2 float64 `json:"l2"`
	// LogLoss is the (weighted) validation log loss of the model fitted
	// with L2.
	LogLoss float64 `json:"log_loss"`
}

// TuneL2 fits FitLogistic on (x, y, w) for each λ in grid (nil means
// DefaultL2Grid), from the largest λ down with warm starts, and returns the
// model with the lowest log loss on the validation rows (vx, vy, vw; vw may
// be nil), its λ, and every λ's score in grid order. opts supplies the other
// settings; its L2 is ignored. Ties go to the larger λ.
func TuneL2(ctx context.Context, x *Matrix, y, w []float64, vx *Matrix, vy, vw []float64, grid []float64, opts *LogisticOptions) (*model.Logistic, []L2Score, error) {
	if err := lrCheck(x, y, w); err != nil {
		return nil, nil, fmt.Errorf("training: tune L2: train: %w", err)
	}
	if err := lrCheck(vx, vy, vw); err != nil {
		return nil, nil, fmt.Errorf("training: tune L2: validation: %w", err)
	}
	if vx.Cols != x.Cols {
		return nil, nil, fmt.Errorf("training: tune L2: validation has %d columns, train %d: %w", vx.Cols, x.Cols, ErrShape)
	}
	if grid == nil {
		grid = DefaultL2Grid
	}
	if len(grid) == 0 {
		return nil, nil, fmt.Errorf("training: tune L2: empty grid: %w", ErrShape)
	}
	for _, l := range grid {
		if !(l >= 0) || math.IsInf(l, 0) {
			return nil, nil, fmt.Errorf("training: tune L2: λ %v must be a finite number >= 0: %w", l, ErrShape)
		}
	}
	base := LogisticOptions{}
	if opts != nil {
		base = *opts
	}
	order := make([]int, len(grid))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case grid[a] > grid[b]:
			return -1
		case grid[a] < grid[b]:
			return 1
		}
		return 0
	})
	scores := make([]L2Score, len(grid))
	params := make([]float64, x.Cols+1)
	params[x.Cols] = lrInitialBias(y, w)
	var best *model.Logistic
	bestLoss := math.Inf(1)
	for _, gi := range order {
		o := base
		o.L2 = grid[gi]
		m, next, err := fitLogisticFrom(ctx, x, y, w, &o, params)
		if err != nil {
			return nil, nil, fmt.Errorf("training: tune L2: λ=%g: %w", grid[gi], err)
		}
		params = next
		loss := lrValLoss(m, vx, vy, vw)
		scores[gi] = L2Score{L2: grid[gi], LogLoss: loss}
		if loss < bestLoss {
			best, bestLoss = m, loss
		}
	}
	return best, scores, nil
}

// lrValLoss is the weighted mean log loss of m on (x, y, w).
func lrValLoss(m *model.Logistic, x *Matrix, y, w []float64) float64 {
	var s, sw float64
	for i := range x.Rows {
		p := model.ClipProb(m.Prob(x.Row(i)))
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		s -= wi * (y[i]*math.Log(p) + (1-y[i])*math.Log1p(-p))
		sw += wi
	}
	return s / sw
}

// lbfgs minimises a smooth function by limited-memory BFGS (Nocedal and
// Wright, Numerical Optimization, 2nd ed., Algorithm 7.4: the two-loop
// recursion with memory 10 and the initial Hessian scaled by sᵀy/yᵀy)
// with a backtracking Armijo line search (sufficient decrease 1e-4,
// quadratic-interpolation step shrinking). fg returns f(x) and writes ∇f(x)
// into g. It stops when ‖∇f‖∞ < gtol, or when neither the line search nor
// five consecutive iterations can lower f by more than rounding; in that
// case the point is accepted only if ‖∇f‖∞ <= max(100·gtol, 1e-5).
//
// (gonum's optimize.LBFGS would do, but importing gonum/optimize pulls in
// gonum/stat/distmv and with it golang.org/x/tools, which go.mod does not
// list; this 80-line version avoids a go.mod change and the goroutine and
// channel round trip per evaluation.)
func lbfgs(ctx context.Context, fg func(x, g []float64) float64, x0 []float64, maxIter int, gtol float64) ([]float64, float64, error) {
	const mem = 10
	n := len(x0)
	x := slices.Clone(x0)
	g := make([]float64, n)
	f := fg(x, g)
	xn := make([]float64, n)
	gn := make([]float64, n)
	dir := make([]float64, n)
	sMem := make([][]float64, 0, mem)
	yMem := make([][]float64, 0, mem)
	rho := make([]float64, 0, mem)
	alpha := make([]float64, mem)
	stall := 0
	accept := func(reason string) ([]float64, float64, error) {
		if gmax := floats.Norm(g, math.Inf(1)); gmax > math.Max(100*gtol, 1e-5) {
			return nil, 0, fmt.Errorf("%w: %s with max gradient %.3g", ErrNotConverged, reason, gmax)
		}
		return x, f, nil
	}
	for iter := 0; ; iter++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if !(f > math.Inf(-1)) || math.IsNaN(f) {
			return nil, 0, fmt.Errorf("%w: objective is %v", ErrNotConverged, f)
		}
		if floats.Norm(g, math.Inf(1)) < gtol {
			return x, f, nil
		}
		if iter >= maxIter {
			return accept(fmt.Sprintf("%d iterations", maxIter))
		}
		// Two-loop recursion: dir = −H·g.
		copy(dir, g)
		for i := len(sMem) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * floats.Dot(sMem[i], dir)
			floats.AddScaled(dir, -alpha[i], yMem[i])
		}
		step := 1.0
		if k := len(sMem) - 1; k >= 0 {
			floats.Scale(floats.Dot(sMem[k], yMem[k])/floats.Dot(yMem[k], yMem[k]), dir)
		} else {
			// No curvature yet: a first step of length at most 1.
			step = math.Min(1, 1/floats.Norm(g, 2))
		}
		for i := range sMem {
			beta := rho[i] * floats.Dot(yMem[i], dir)
			floats.AddScaled(dir, alpha[i]-beta, sMem[i])
		}
		floats.Scale(-1, dir)
		dg := floats.Dot(g, dir)
		if !(dg < 0) {
			// Not a descent direction (rounding): restart from steepest descent.
			sMem, yMem, rho = sMem[:0], yMem[:0], rho[:0]
			copy(dir, g)
			floats.Scale(-1, dir)
			dg = -floats.Dot(g, g)
			step = math.Min(1, 1/floats.Norm(g, 2))
		}
		var fn float64
		ok := false
		for range 60 {
			floats.AddScaledTo(xn, x, step, dir)
			fn = fg(xn, gn)
			if fn <= f+1e-4*step*dg {
				ok = true
				break
			}
			// Minimise the quadratic through f, dg and fn; shrink by 0.1..0.5.
			t := -dg * step * step / (2 * (fn - f - dg*step))
			if math.IsNaN(t) || math.IsInf(fn, 0) {
				t = 0.5 * step
			}
			step = math.Min(math.Max(t, 0.1*step), 0.5*step)
		}
		if !ok {
			return accept("line search found no decrease")
		}
		// Store the curvature pair, recycling the oldest slot when full.
		var s, yv []float64
		if len(sMem) == mem {
			s, yv = sMem[0], yMem[0]
			sMem, yMem, rho = append(sMem[:0], sMem[1:]...), append(yMem[:0], yMem[1:]...), append(rho[:0], rho[1:]...)
		} else {
			s, yv = make([]float64, n), make([]float64, n)
		}
		floats.SubTo(s, xn, x)
		floats.SubTo(yv, gn, g)
		if sy := floats.Dot(s, yv); sy > 1e-12*floats.Dot(yv, yv) && sy > 0 {
			sMem, yMem, rho = append(sMem, s), append(yMem, yv), append(rho, 1/sy)
		}
		if f-fn <= 1e-15*math.Max(1, math.Abs(f)) {
			stall++
		} else {
			stall = 0
		}
		copy(x, xn)
		copy(g, gn)
		f = fn
		if stall >= 5 {
			return accept("no progress in 5 iterations")
		}
	}
}
