package training

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/lapse-dev/lapse/model"
)

// simLogistic draws n rows of d independent standard normal features and
// labels from a logistic model with the given weights and bias (seeded), and
// returns the true probabilities too.
func simLogistic(n int, weights []float64, bias float64, seed uint64) (*Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 17))
	d := len(weights)
	x := NewMatrix(n, d)
	y := make([]float64, n)
	p := make([]float64, n)
	for i := range n {
		row := x.Row(i)
		z := bias
		for j := range row {
			row[j] = rng.NormFloat64()
			z += weights[j] * row[j]
		}
		p[i] = model.Sigmoid(z)
		if rng.Float64() < p[i] {
			y[i] = 1
		}
	}
	return &x, y, p
}

// TestFitLogisticRecoversTruth simulates 50,000 rows from known weights and
// checks that the fit recovers them (the standard error of each weight is
// about 0.015 here, the tolerance is 0.05) and that the holdout AUC is
// within 0.003 of the Bayes AUC, the AUC of the true probabilities on the
// same holdout rows.
func TestFitLogisticRecoversTruth(t *testing.T) {
	truth := []float64{1.0, -0.5, 0.25, 0, 2.0, -1.5}
	const bias = -1.0
	x, y, _ := simLogistic(50_000, truth, bias, 1)
	m, err := FitLogistic(t.Context(), x, y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j, w := range truth {
		if math.Abs(m.Weights[j]-w) > 0.05 {
			t.Errorf("weight %d = %.4f, want %.4f ± 0.05", j, m.Weights[j], w)
		}
	}
	if math.Abs(m.Bias-bias) > 0.05 {
		t.Errorf("bias = %.4f, want %.4f ± 0.05", m.Bias, bias)
	}

	hx, hy, hp := simLogistic(20_000, truth, bias, 2)
	bayes, err := ROCAUC(hy, hp)
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, hx.Rows)
	for i := range scores {
		scores[i] = m.Prob(hx.Row(i))
	}
	auc, err := ROCAUC(hy, scores)
	if err != nil {
		t.Fatal(err)
	}
	if auc < bayes-0.003 {
		t.Errorf("holdout AUC %.4f, Bayes AUC %.4f", auc, bayes)
	}
	t.Logf("weights %.3f bias %.3f; AUC %.4f vs Bayes %.4f", m.Weights, m.Bias, auc, bayes)
}

var logisticCSV = flag.String("logistic-csv", "", "write the sklearn reference data set of TestFitLogisticSklearn to this file")

// sklearnCase is the data of TestFitLogisticSklearn: 400 rows, 4 correlated
// features, weights 1, 2 or 3.
func sklearnCase() (*Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(42, 7))
	n, d := 400, 4
	x := NewMatrix(n, d)
	y := make([]float64, n)
	w := make([]float64, n)
	for i := range n {
		r := x.Row(i)
		base := rng.NormFloat64()
		r[0] = base + 0.5*rng.NormFloat64()
		r[1] = rng.NormFloat64()
		r[2] = 0.8*base + 0.6*rng.NormFloat64()
		r[3] = 2 * rng.Float64()
		z := 0.3 + 1.2*r[0] - 0.7*r[1] + 0.4*r[2] - 0.5*r[3]
		if rng.Float64() < model.Sigmoid(z) {
			y[i] = 1
		}
		w[i] = float64(1 + rng.IntN(3))
	}
	return &x, y, w
}

// TestFitLogisticSklearn compares coefficients with scikit-learn 1.2.1
// LogisticRegression(C=1/(λ·Σw), solver="newton-cg", tol=1e-14) fitted
// offline on the same rows (max gradient of the reference ≤ 4e-12; the
// lbfgs solver stops ~1e-6 short, see the script). To regenerate:
//
//	go test ./training -run TestFitLogisticSklearn -logistic-csv=/tmp/lr.csv
//	/usr/bin/python3 training/testdata/logistic/sklearn_ref.py /tmp/lr.csv
func TestFitLogisticSklearn(t *testing.T) {
	x, y, w := sklearnCase()
	if *logisticCSV != "" {
		var b strings.Builder
		for i := range x.Rows {
			for _, v := range x.Row(i) {
				fmt.Fprintf(&b, "%.17g,", v)
			}
			fmt.Fprintf(&b, "%g,%g\n", y[i], w[i])
		}
		if err := os.WriteFile(*logisticCSV, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Output of sklearn_ref.py (coef_ then intercept_).
	cases := []struct {
		name     string
		weighted bool
		l2       float64
		want     []float64
	}{
		{"Unweighted_L2_1e-2", false, 1e-2, []float64{1.3114381658, -0.6962640381, -0.0328604570, -0.3408578552, 0.2564875057}},
		{"Weighted_L2_1e-3", true, 1e-3, []float64{1.4385053343, -0.8019652204, -0.0891990637, -0.5536751734, 0.5448168628}},
		{"Unweighted_NoPenalty", false, 0, []float64{1.5155065289, -0.7748836832, -0.1396294229, -0.4463329027, 0.3509095467}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sw []float64
			if c.weighted {
				sw = w
			}
			m, err := FitLogistic(t.Context(), x, y, sw, &LogisticOptions{L2: c.l2, GradTol: 1e-10})
			if err != nil {
				t.Fatal(err)
			}
			got := append(append([]float64(nil), m.Weights...), m.Bias)
			for j := range got {
				if math.Abs(got[j]-c.want[j]) > 1e-6 {
					t.Errorf("param %d = %.10f, want %.10f (sklearn)", j, got[j], c.want[j])
				}
			}
		})
	}
}

// TestFitLogisticDeterministic checks that the fit is bit-identical for any
// number of threads (blocks are summed in a fixed order) and across runs.
func TestFitLogisticDeterministic(t *testing.T) {
	x, y, _ := simLogistic(20_000, []float64{0.5, -1, 0.3}, 0.2, 3)
	var first *model.Logistic
	for _, threads := range []int{1, 2, 3, 1} {
		m, err := FitLogistic(t.Context(), x, y, nil, &LogisticOptions{L2: DefaultL2, Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = m
			continue
		}
		for j := range m.Weights {
			if m.Weights[j] != first.Weights[j] {
				t.Errorf("threads=%d: weight %d = %v, first run %v", threads, j, m.Weights[j], first.Weights[j])
			}
		}
		if m.Bias != first.Bias {
			t.Errorf("threads=%d: bias %v, first run %v", threads, m.Bias, first.Bias)
		}
	}
}

// TestFitLogisticWeightsEqualReplication checks the weight semantics: a row
// with weight 2 must count exactly like the same row twice (the objective
// is a weighted mean, so both fits have the same optimum).
func TestFitLogisticWeightsEqualReplication(t *testing.T) {
	x, y, _ := simLogistic(3000, []float64{1, -0.5}, 0, 4)
	w := make([]float64, x.Rows)
	var rows [][]float64
	var ry []float64
	for i := range w {
		w[i] = float64(1 + i%2)
		for range int(w[i]) {
			rows = append(rows, x.Row(i))
			ry = append(ry, y[i])
		}
	}
	rx, err := MatrixFromRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	opts := &LogisticOptions{L2: 1e-3, GradTol: 1e-10}
	a, err := FitLogistic(t.Context(), x, y, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitLogistic(t.Context(), &rx, ry, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	for j := range a.Weights {
		if math.Abs(a.Weights[j]-b.Weights[j]) > 1e-7 {
			t.Errorf("weight %d: weighted %v, replicated %v", j, a.Weights[j], b.Weights[j])
		}
	}
	if math.Abs(a.Bias-b.Bias) > 1e-7 {
		t.Errorf("bias: weighted %v, replicated %v", a.Bias, b.Bias)
	}
	for j := range a.Mean {
		if math.Abs(a.Mean[j]-b.Mean[j]) > 1e-12 {
			t.Errorf("mean %d: weighted %v, replicated %v", j, a.Mean[j], b.Mean[j])
		}
	}
}

// TestTuneL2 checks TuneL2 against independent cold-start fits: each
// λ's validation loss must match LogLoss of FitLogistic's model, and the
// chosen model must be the one with the smallest of those losses.
func TestTuneL2(t *testing.T) {
	// 300 rows, 30 features of which 2 matter: heavy penalties help here.
	truth := make([]float64, 30)
	truth[0], truth[1] = 1, -1
	x, y, _ := simLogistic(300, truth, 0, 5)
	vx, vy, _ := simLogistic(2000, truth, 0, 6)
	grid := []float64{1e-4, 1e-1, 1e-2, 1}
	best, scores, err := TuneL2(t.Context(), x, y, nil, vx, vy, nil, grid, &LogisticOptions{GradTol: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	bestLoss, bestL2 := math.Inf(1), 0.0
	for i, l2 := range grid {
		m, err := FitLogistic(t.Context(), x, y, nil, &LogisticOptions{L2: l2, GradTol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]float64, vx.Rows)
		for r := range p {
			p[r] = m.Prob(vx.Row(r))
		}
		ll, err := LogLoss(vy, p)
		if err != nil {
			t.Fatal(err)
		}
		if scores[i].L2 != l2 || math.Abs(scores[i].LogLoss-ll) > 1e-6 {
			t.Errorf("score %d = %+v, want L2 %v log loss %v", i, scores[i], l2, ll)
		}
		if ll < bestLoss {
			bestLoss, bestL2 = ll, l2
		}
	}
	// The chosen model's validation loss is the minimum.
	p := make([]float64, vx.Rows)
	for r := range p {
		p[r] = best.Prob(vx.Row(r))
	}
	ll, _ := LogLoss(vy, p)
	if math.Abs(ll-bestLoss) > 1e-6 {
		t.Errorf("chosen model loss %v, best λ=%v has %v", ll, bestL2, bestLoss)
	}
	t.Logf("scores %+v, best λ %v", scores, bestL2)
}

func TestFitLogisticErrors(t *testing.T) {
	good := NewMatrix(2, 1)
	good.Data[0], good.Data[1] = -1, 1
	nan := NewMatrix(2, 1)
	nan.Data[1] = math.NaN()
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		x    *Matrix
		y, w []float64
		opts *LogisticOptions
		want error
	}{
		{"NilMatrix", ctx, nil, nil, nil, nil, ErrShape},
		{"Empty", ctx, &Matrix{}, nil, nil, nil, ErrEmpty},
		{"BadShape", ctx, &Matrix{Rows: 2, Cols: 2, Data: make([]float64, 3)}, []float64{0, 1}, nil, nil, ErrShape},
		{"LabelCount", ctx, &good, []float64{0}, nil, nil, ErrShape},
		{"LabelValue", ctx, &good, []float64{0, 2}, nil, nil, ErrLabel},
		{"WeightCount", ctx, &good, []float64{0, 1}, []float64{1}, nil, ErrShape},
		{"NegativeWeight", ctx, &good, []float64{0, 1}, []float64{1, -1}, nil, ErrWeight},
		{"ZeroWeights", ctx, &good, []float64{0, 1}, []float64{0, 0}, nil, ErrWeight},
		{"NaNFeature", ctx, &nan, []float64{0, 1}, nil, nil, ErrNotFinite},
		{"NegativeL2", ctx, &good, []float64{0, 1}, nil, &LogisticOptions{L2: -1}, ErrShape},
		{"Cancelled", cancelled, &good, []float64{0, 1}, nil, nil, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := FitLogistic(c.ctx, c.x, c.y, c.w, c.opts)
			if !errors.Is(err, c.want) || m != nil {
				t.Errorf("FitLogistic = %v, %v; want nil, %v", m, err, c.want)
			}
		})
	}
}

// TestLBFGSRosenbrock checks the optimiser on the Rosenbrock function, whose
// minimum (1, 1) is known in closed form.
func TestLBFGSRosenbrock(t *testing.T) {
	fg := func(x, g []float64) float64 {
		a, b := 1-x[0], x[1]-x[0]*x[0]
		g[0] = -2*a - 400*x[0]*b
		g[1] = 200 * b
		return a*a + 100*b*b
	}
	x, f, err := lbfgs(t.Context(), fg, []float64{-1.2, 1}, 1000, 1e-9)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(x[0]-1) > 1e-6 || math.Abs(x[1]-1) > 1e-6 || f > 1e-12 {
		t.Errorf("minimum at %v with f = %g, want (1, 1) and 0", x, f)
	}
}
