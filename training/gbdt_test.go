package training

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
	"gonum.org/v1/gonum/mat"
)

// Side-by-side with scikit-learn, run outside the suite (commands in
// testdata/gbdt/sklearn_check.py): gbSynth data, 100,000 training rows
// (seed 1) and 50,000 test rows (seed 2) × 20 features, default settings on
// both sides (100 rounds, early stopping on a 10% split, neither stopped),
// measured 2026-11-22 on this 2-core machine while other jobs ran:
//
//	                                        test AUC  test log loss  fit time
//	FitGBDT (defaults)                       0.85186      0.45867    1.9 s (1 core), 2.1 s (2)
//	sklearn 1.2.1 HistGradientBoosting       0.85272      0.45783    1.7 s (1 thread), 1.3–52 s (2)
//	Bayes-optimal (true probabilities)       0.86908      0.43107
//
// AUC -0.0009 (bar: -0.005) and log loss ×1.0018 (bar: ×1.01). On three
// more seed pairs (3/4, 5/6, 7/8) the AUC differences were -0.0019,
// -0.0001 and +0.0017 and the log-loss ratios 1.0046, 1.0008 and 0.9962.
// With MaxIter 300 FitGBDT reaches 0.8578 / 0.4487 on seeds 1/2 (206 trees).
// sklearn's two-thread times vary with the other load (OpenMP spinning);
// the single-thread figures are the comparable ones. At 1M × 40 rows (the
// shape of BenchmarkFitGBDT; sklearn on the same generating function drawn
// in NumPy, sklearn_check.py --timing-1m), 100 rounds, FitGBDT took 13.7 s
// on one core and sklearn 27.2 s with one thread.
var gbSklearnDir = flag.String("gbdt.sklearn-dir", "", "write the synthetic train/test CSVs for testdata/gbdt/sklearn_check.py into this directory and report FitGBDT's figures on them")

// gbSynthFeatures is the number of informative-or-noise columns the
// generating function defines; wider matrices repeat the column kinds as
// pure noise.
const gbSynthFeatures = 20

// gbSynth draws n rows × d columns (d >= 20) of synthetic churn-like data
// with a known logit that has interactions and non-linearities, and returns
// the rows, Bernoulli labels and the true probabilities. Columns 0–7 are
// standard normal, 8–11 uniform on [0,1), 12–15 heavy-tailed counts with
// many ties, 16–19 binary; columns from 20 on repeat those kinds as noise.
func gbSynth(n, d int, seed uint64) (Matrix, []float64, []float64) {
	if d < gbSynthFeatures {
		panic("gbSynth: need at least 20 columns")
	}
	rng := rand.New(rand.NewPCG(seed, 0x73796e7468))
	X := NewMatrix(n, d)
	y := make([]float64, n)
	p := make([]float64, n)
	b := func(c bool) float64 {
		if c {
			return 1
		}
		return 0
	}
	for i := range n {
		r := X.Row(i)
		for j := range r {
			switch k := j % gbSynthFeatures; {
			case k < 8:
				r[j] = rng.NormFloat64()
			case k < 12:
				r[j] = rng.Float64()
			case k < 16:
				r[j] = math.Floor(math.Exp(1.2 * rng.NormFloat64()))
			default:
				r[j] = b(rng.IntN(2) == 1)
			}
		}
		z := -0.7 +
			1.5*math.Sin(2*r[0]) + // non-monotone
			1.0*r[1]*r[2] + // interaction
			1.2*b(r[3] > 0.5)*r[4] + // gated effect
			-0.6*r[5]*r[5] + // U-shape
			0.8*r[6] + // linear
			4*(r[8]-0.5)*(r[9]-0.5) + // XOR-like on uniforms
			0.7*math.Log1p(r[12]) - 0.5*b(r[13] > 3) + // counts
			0.9*r[16]*b(r[1] > 0) - 0.4*r[17] // binary
		// Columns 7, 10, 11, 14, 15, 18, 19 are noise.
		p[i] = model.Sigmoid(z)
		y[i] = b(rng.Float64() < p[i])
	}
	return X, y, p
}

// gbAUC is the ROC AUC of scores s for labels y by the Mann–Whitney
// statistic with average ranks for ties.
func gbAUC(y, s []float64) float64 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s[idx[a]] < s[idx[b]] })
	var rankSum, npos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && s[idx[j]] == s[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg := float64(len(y)) - npos
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

func gbMeanLogLoss(y, p []float64) float64 {
	l := 0.0
	for i := range y {
		q := math.Min(math.Max(p[i], 1e-15), 1-1e-15)
		l -= y[i]*math.Log(q) + (1-y[i])*math.Log(1-q)
	}
	return l / float64(len(y))
}

func TestGBDTAUCHelper(t *testing.T) {
	// By hand: pairs (pos, neg) = (0.8,0.1) win, (0.8,0.4) win, (0.4,0.1) win,
	// (0.4,0.4) tie = 1/2 → 3.5/4.
	got := gbAUC([]float64{1, 0, 1, 0}, []float64{0.8, 0.1, 0.4, 0.4})
	if math.Abs(got-0.875) > 1e-15 {
		t.Fatalf("gbAUC = %v, want 0.875", got)
	}
}

func gbPredict(tr *model.Trees, X Matrix) []float64 {
	p := make([]float64, X.Rows)
	for i := range p {
		p[i] = tr.Prob(X.Row(i))
	}
	return p
}

// gbLogistic fits an unpenalised logistic regression by Newton's method
// (IRLS) with gonum and returns test-set probabilities: the linear baseline.
func gbLogistic(t *testing.T, X Matrix, y []float64, test Matrix) []float64 {
	t.Helper()
	d := X.Cols + 1
	beta := make([]float64, d)
	for range 25 {
		H := mat.NewSymDense(d, nil)
		g := mat.NewVecDense(d, nil)
		xi := make([]float64, d)
		for i := range X.Rows {
			xi[0] = 1
			copy(xi[1:], X.Row(i))
			z := 0.0
			for j := range d {
				z += beta[j] * xi[j]
			}
			p := model.Sigmoid(z)
			v := mat.NewVecDense(d, xi)
			g.AddScaledVec(g, y[i]-p, v)
			H.SymRankOne(H, p*(1-p), v)
		}
		var step mat.VecDense
		if err := step.SolveVec(H, g); err != nil {
			t.Fatalf("logistic baseline: %v", err)
		}
		for j := range d {
			beta[j] += step.AtVec(j)
		}
	}
	out := make([]float64, test.Rows)
	for i := range out {
		z := beta[0]
		for j, v := range test.Row(i) {
			z += beta[j+1] * v
		}
		out[i] = model.Sigmoid(z)
	}
	return out
}

// gbSynthSteps draws n rows × 8 columns whose true logit is a sum of steps
// and axis-aligned interactions, a truth trees can represent exactly.
// Columns 0–5 are standard normal (5 is noise), 6 binary, 7 uniform.
func gbSynthSteps(n int, seed uint64) (Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 0x7374657073))
	X := NewMatrix(n, 8)
	y := make([]float64, n)
	p := make([]float64, n)
	b := func(c bool) float64 {
		if c {
			return 1
		}
		return 0
	}
	for i := range n {
		r := X.Row(i)
		for j := range 6 {
			r[j] = rng.NormFloat64()
		}
		r[6] = b(rng.IntN(2) == 1)
		r[7] = rng.Float64()
		z := -1 + 1.5*b(r[0] > 0) + 1.5*b(r[1] > 0.5)*b(r[2] < 0) - 1.2*b(r[3] > 1) +
			1.0*b(r[4] > -0.5)*r[6] - 1.0*b(r[7] > 0.7)
		p[i] = model.Sigmoid(z)
		y[i] = b(rng.Float64() < p[i])
	}
	return X, y, p
}

func TestFitGBDTNearBayesOnStepTruth(t *testing.T) {
	X, y, _ := gbSynthSteps(20_000, 1)
	Xt, yt, pt := gbSynthSteps(40_000, 2)
	tr, rep, err := FitGBDT(t.Context(), &X, y, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := gbPredict(tr, Xt)
	auc, bayes := gbAUC(yt, p), gbAUC(yt, pt)
	lin := gbAUC(yt, gbLogistic(t, X, y, Xt))
	ll, bayesLL := gbMeanLogLoss(yt, p), gbMeanLogLoss(yt, pt)
	t.Logf("AUC %.4f (Bayes %.4f, linear %.4f), log loss %.4f (Bayes %.4f), %d trees",
		auc, bayes, lin, ll, bayesLL, rep.NumTrees)
	// The Bayes-optimal AUC is that of the true generating probabilities on
	// the same test rows; no classifier beats it in expectation.
	if auc < bayes-0.01 {
		t.Errorf("AUC %.4f more than 0.01 below the Bayes-optimal %.4f", auc, bayes)
	}
	if ll > bayesLL*1.02 {
		t.Errorf("log loss %.4f more than 2%% above the Bayes log loss %.4f", ll, bayesLL)
	}
	// The truth has interactions, so the trees must clearly beat the best
	// linear score.
	if auc < lin+0.03 {
		t.Errorf("AUC %.4f not 0.03 above the logistic baseline %.4f", auc, lin)
	}
	// Column 5 is noise: it must get less than half the gain importance of
	// the weakest informative column.
	weakest := 1.0
	for j, v := range rep.Importance {
		if j != 5 {
			weakest = min(weakest, v)
		}
	}
	if rep.Importance[5] > weakest/2 {
		t.Errorf("noise column 5 holds %.3f of the importance, the weakest informative column %.3f: %v",
			rep.Importance[5], weakest, rep.Importance)
	}
}

// Reference figures of scikit-learn 1.2.1 HistGradientBoostingClassifier
// (default settings, random_state=0) on the gbSynth rows of
// TestFitGBDTMatchesSklearn (20,000 training rows with seed 1, 20,000 test
// rows with seed 2), from testdata/gbdt/sklearn_check.py on the "suite"
// CSVs written with -gbdt.sklearn-dir.
const (
	gbSklearnSuiteAUC     = 0.84189
	gbSklearnSuiteLogLoss = 0.47272
)

// TestFitGBDTMatchesSklearn is the issue's quality bar in the suite, on the
// smooth non-linear gbSynth truth: test AUC at least scikit-learn's minus
// 0.005 and log loss at most 1% above it.
func TestFitGBDTMatchesSklearn(t *testing.T) {
	trSkipUnderRace(t)
	X, y, _ := gbSynth(20_000, gbSynthFeatures, 1)
	Xt, yt, _ := gbSynth(20_000, gbSynthFeatures, 2)
	tr, rep, err := FitGBDT(t.Context(), &X, y, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := gbPredict(tr, Xt)
	auc, ll := gbAUC(yt, p), gbMeanLogLoss(yt, p)
	lin := gbAUC(yt, gbLogistic(t, X, y, Xt))
	t.Logf("AUC %.4f (sklearn %.4f, linear %.4f), log loss %.4f (sklearn %.4f), %d trees",
		auc, gbSklearnSuiteAUC, lin, ll, gbSklearnSuiteLogLoss, rep.NumTrees)
	if auc < gbSklearnSuiteAUC-0.005 {
		t.Errorf("AUC %.4f more than 0.005 below scikit-learn's %.4f", auc, gbSklearnSuiteAUC)
	}
	if ll > gbSklearnSuiteLogLoss*1.01 {
		t.Errorf("log loss %.4f more than 1%% above scikit-learn's %.4f", ll, gbSklearnSuiteLogLoss)
	}
	if auc < lin+0.05 {
		t.Errorf("AUC %.4f not 0.05 above the logistic baseline %.4f", auc, lin)
	}
	// The informative columns must dominate the gain importance: noise
	// columns (see gbSynth) get a small share.
	noise := 0.0
	for _, j := range []int{7, 10, 11, 14, 15, 18, 19} {
		noise += rep.Importance[j]
	}
	if noise > 0.1 {
		t.Errorf("noise columns hold %.3f of the importance, want < 0.1: %v", noise, rep.Importance)
	}
}

// TestFitGBDTSklearnData writes the data for the scikit-learn side of the
// comparison and prints FitGBDT's figures on it. It runs only with
// -gbdt.sklearn-dir: "big" is the report's 100,000/50,000-row comparison,
// "suite" the rows of TestFitGBDTMatchesSklearn.
func TestFitGBDTSklearnData(t *testing.T) {
	if *gbSklearnDir == "" {
		t.Skip("set -gbdt.sklearn-dir to write the comparison data")
	}
	for _, set := range []struct {
		name          string
		nTrain, nTest int
	}{{"big", 100_000, 50_000}, {"suite", 20_000, 20_000}} {
		dir := filepath.Join(*gbSklearnDir, set.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		X, y, _ := gbSynth(set.nTrain, gbSynthFeatures, 1)
		Xt, yt, pt := gbSynth(set.nTest, gbSynthFeatures, 2)
		gbWriteCSV(t, filepath.Join(dir, "train.csv"), X, y, nil)
		gbWriteCSV(t, filepath.Join(dir, "test.csv"), Xt, yt, pt)
		start := time.Now()
		tr, rep, err := FitGBDT(t.Context(), &X, y, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		p := gbPredict(tr, Xt)
		fmt.Printf("%-5s lapse FitGBDT  auc=%.5f logloss=%.5f fit_s=%.2f trees=%d rounds=%d\n",
			set.name, gbAUC(yt, p), gbMeanLogLoss(yt, p), el.Seconds(), rep.NumTrees, rep.Iterations)
		fmt.Printf("%-5s bayes          auc=%.5f logloss=%.5f\n", set.name, gbAUC(yt, pt), gbMeanLogLoss(yt, pt))
	}
}

func gbWriteCSV(t *testing.T, path string, X Matrix, y, p []float64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range X.Rows {
		for _, v := range X.Row(i) {
			w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			w.WriteByte(',')
		}
		w.WriteString(strconv.FormatFloat(y[i], 'g', -1, 64))
		if p != nil {
			w.WriteByte(',')
			w.WriteString(strconv.FormatFloat(p[i], 'g', -1, 64))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFitGBDTDeterministic(t *testing.T) {
	trSkipUnderRace(t)
	X, y, _ := gbSynth(12_000, gbSynthFeatures, 3)
	fit := func(workers int) []byte {
		o := DefaultGBDTOptions()
		o.Seed, o.Workers, o.MaxIter, o.BinSubsample = 7, workers, 30, 5000
		tr, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(struct {
			T *model.Trees
			R *GBDTReport
		}{tr, rep})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := fit(1)
	for _, w := range []int{1, 2, 5} {
		if b := fit(w); !bytes.Equal(a, b) {
			t.Fatalf("fit with %d workers differs from fit with 1 worker", w)
		}
	}
	// A different seed changes the validation split and the bin subsample,
	// so the model must change: the seed is really used.
	o := DefaultGBDTOptions()
	o.Seed, o.MaxIter, o.BinSubsample = 8, 30, 5000
	tr, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		T *model.Trees
		R *GBDTReport
	}{tr, rep})
	if bytes.Equal(a, b) {
		t.Fatal("fits with seeds 7 and 8 are identical")
	}
}

func TestFitGBDTContributionsSumToMargin(t *testing.T) {
	X, y, _ := gbSynth(5000, gbSynthFeatures, 4)
	o := &GBDTOptions{MaxIter: 20, EarlyStopping: EarlyStoppingOff}
	tr, _, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		x := X.Row(i)
		m := tr.Margin(x)
		for name, phi := range map[string][]float64{"shap": tr.SHAPContributions(x), "saabas": tr.Contributions(x)} {
			s := tr.Bias()
			for _, v := range phi {
				s += v
			}
			if math.Abs(s-m) > 1e-9 {
				t.Fatalf("row %d: Bias + sum(%s) = %v, Margin = %v", i, name, s, m)
			}
		}
	}
}

// TestFitGBDTModelReproducesTrainingScores checks that the real-valued
// thresholds stored in the model route every training row exactly as the
// bins did during fitting: the final training loss in the report, computed
// from the binned scores, equals the loss of Margin on the raw rows.
func TestFitGBDTModelReproducesTrainingScores(t *testing.T) {
	X, y, _ := gbSynth(8000, gbSynthFeatures, 5)
	o := &GBDTOptions{MaxIter: 15, EarlyStopping: EarlyStoppingOff, MaxBins: 16, BinSubsample: 3000}
	tr, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	l := 0.0
	for i := range X.Rows {
		l += gbLogLoss(tr.Margin(X.Row(i)), y[i])
	}
	l /= float64(X.Rows)
	if got := rep.TrainLoss[len(rep.TrainLoss)-1]; math.Abs(got-l) > 1e-12 {
		t.Fatalf("report training loss %v, loss of Margin on the training rows %v", got, l)
	}
	if len(rep.TrainLoss) != 16 || rep.NumTrees != 15 || len(tr.Trees) != 15 || rep.ValidLoss != nil {
		t.Fatalf("got %d train losses, %d trees kept, %d in model, valid %v; want 16, 15, 15, nil",
			len(rep.TrainLoss), rep.NumTrees, len(tr.Trees), rep.ValidLoss)
	}
	for i := 1; i < len(rep.TrainLoss); i++ {
		if rep.TrainLoss[i] > rep.TrainLoss[i-1]+1e-12 {
			t.Fatalf("training loss rose at round %d: %v", i, rep.TrainLoss)
		}
	}
}

func TestFitGBDTSeparable(t *testing.T) {
	// y = 1 exactly when x0 > 0; x1 is noise.
	rng := rand.New(rand.NewPCG(9, 9))
	X := NewMatrix(1000, 2)
	y := make([]float64, 1000)
	for i := range X.Rows {
		X.Data[2*i] = rng.NormFloat64()
		X.Data[2*i+1] = rng.NormFloat64()
		if X.Data[2*i] > 0 {
			y[i] = 1
		}
	}
	tr, _, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, &GBDTOptions{EarlyStopping: EarlyStoppingOff})
	if err != nil {
		t.Fatal(err)
	}
	for i := range X.Rows {
		p := tr.Prob(X.Row(i))
		if math.Abs(p-y[i]) > 0.01 {
			t.Fatalf("row %d (x0 = %v, y = %v): p = %v, want within 0.01 of the label", i, X.Data[2*i], y[i], p)
		}
	}
	imp := tr.Importance()
	if imp[0] < 0.99 {
		t.Fatalf("importance %v, want feature 0 to hold > 0.99", imp)
	}
}

func TestFitGBDTWeightsEqualDuplicates(t *testing.T) {
	// Integer weights are equivalent to repeating rows when the bins do not
	// depend on the sample (few distinct values) and every leaf is allowed
	// (MinSamplesLeaf 1): the gradient and hessian sums are the same.
	rng := rand.New(rand.NewPCG(11, 11))
	n := 600
	X := NewMatrix(n, 3)
	y := make([]float64, n)
	w := make([]float64, n)
	var dupRows [][]float64
	var dupY []float64
	for i := range n {
		r := X.Row(i)
		for j := range r {
			r[j] = float64(rng.IntN(12))
		}
		if rng.Float64() < model.Sigmoid(0.3*r[0]-0.2*r[1]-1) {
			y[i] = 1
		}
		w[i] = float64(1 + rng.IntN(3))
		for range int(w[i]) {
			dupRows = append(dupRows, slices.Clone(r))
			dupY = append(dupY, y[i])
		}
	}
	D, err := MatrixFromRows(dupRows)
	if err != nil {
		t.Fatal(err)
	}
	o := &GBDTOptions{MaxIter: 10, MinSamplesLeaf: 1, MaxLeafNodes: 8, EarlyStopping: EarlyStoppingOff}
	tw, _, err := FitGBDT(context.Background(), &X, y, w, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	td, _, err := FitGBDT(context.Background(), &D, dupY, nil, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if a, b := tw.Margin(X.Row(i)), td.Margin(X.Row(i)); math.Abs(a-b) > 1e-9 {
			t.Fatalf("row %d: weighted margin %v, duplicated margin %v", i, a, b)
		}
	}
}

func TestFitGBDTEarlyStopping(t *testing.T) {
	t.Run("NoiseStopsEarly", func(t *testing.T) {
		// Labels independent of the features: no tree helps the validation
		// loss for long.
		rng := rand.New(rand.NewPCG(12, 12))
		X := NewMatrix(20_000, 4)
		for i := range X.Data {
			X.Data[i] = rng.NormFloat64()
		}
		y := make([]float64, X.Rows)
		for i := range y {
			if rng.IntN(3) == 0 {
				y[i] = 1
			}
		}
		tr, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.StoppedEarly || rep.Iterations >= 100 {
			t.Fatalf("did not stop early on noise: %d rounds", rep.Iterations)
		}
		if rep.TrainRows != 18_000 || rep.ValidRows != 2000 {
			t.Fatalf("split %d/%d rows, want 18000/2000 (10%% held out)", rep.TrainRows, rep.ValidRows)
		}
		if len(tr.Trees) != rep.NumTrees || len(rep.ValidLoss) != rep.Iterations+1 {
			t.Fatalf("%d trees, NumTrees %d, %d validation losses for %d rounds", len(tr.Trees), rep.NumTrees, len(rep.ValidLoss), rep.Iterations)
		}
		best := slices.Min(rep.ValidLoss)
		if rep.ValidLoss[rep.NumTrees] != best {
			t.Fatalf("kept %d trees with validation loss %v, best is %v", rep.NumTrees, rep.ValidLoss[rep.NumTrees], best)
		}
	})
	t.Run("GivenValidationSet", func(t *testing.T) {
		X, y, _ := gbSynth(3000, gbSynthFeatures, 13)
		V, vy, _ := gbSynth(1000, gbSynthFeatures, 14)
		tr, rep, err := FitGBDT(context.Background(), &X, y, nil, &V, vy, &GBDTOptions{MaxIter: 300})
		if err != nil {
			t.Fatal(err)
		}
		if rep.TrainRows != 3000 || rep.ValidRows != 1000 {
			t.Fatalf("rows %d/%d, want all 3000 fitted and 1000 given for validation", rep.TrainRows, rep.ValidRows)
		}
		// The reported validation loss of the kept trees is the loss of the
		// model itself on the validation rows.
		want := 0.0
		for i := range V.Rows {
			want += gbLogLoss(tr.Margin(V.Row(i)), vy[i])
		}
		want /= float64(V.Rows)
		if got := rep.ValidLoss[rep.NumTrees]; math.Abs(got-want) > 1e-12 {
			t.Fatalf("ValidLoss[%d] = %v, model's validation loss %v", rep.NumTrees, got, want)
		}
		if !rep.StoppedEarly {
			t.Fatalf("3000 rows, 300 rounds allowed: expected to stop early, ran %d", rep.Iterations)
		}
	})
	t.Run("SmallDataAutoOff", func(t *testing.T) {
		X, y, _ := gbSynth(2000, gbSynthFeatures, 15)
		_, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, &GBDTOptions{MaxIter: 12})
		if err != nil {
			t.Fatal(err)
		}
		if rep.ValidLoss != nil || rep.Iterations != 12 || rep.TrainRows != 2000 {
			t.Fatalf("auto early stopping on 2000 rows: valid %v, %d rounds, %d rows; want off", rep.ValidLoss, rep.Iterations, rep.TrainRows)
		}
	})
}

func TestGBShouldStop(t *testing.T) {
	// scikit-learn's _should_stop with patience 2, tol 0.01, on losses
	// (scores are their negatives), worked by hand.
	cases := []struct {
		name   string
		losses []float64
		want   bool
	}{
		{"too-few", []float64{1, 1}, false},
		{"flat", []float64{1, 1, 1}, true},
		{"improves", []float64{1, 1, 0.98}, false},
		{"improves-below-tol", []float64{1, 0.995, 0.992}, true},
		{"earlier-improvement-ignored", []float64{2, 1, 1, 1}, true},
		{"rising", []float64{1, 1.1, 1.2}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := gbShouldStop(tc.losses, 2, 0.01); got != tc.want {
				t.Fatalf("gbShouldStop(%v) = %v, want %v", tc.losses, got, tc.want)
			}
		})
	}
}

func TestGBBinThresholds(t *testing.T) {
	// References: scikit-learn 1.2.1
	// sklearn.ensemble._hist_gradient_boosting.binning._find_binning_thresholds
	// on the same columns (run by hand with /usr/bin/python3), with equal
	// thresholds removed and thresholds at the column maximum dropped.
	cases := []struct {
		name    string
		col     []float64
		maxBins int
		want    []float64
	}{
		{"distinct-midpoints", []float64{3, 1, 2, 2}, 255, []float64{1.5, 2.5}},
		{"constant", []float64{4, 4, 4}, 255, []float64{}},
		{"quantiles", []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, []float64{2.5, 4.5, 6.5}},
		{"quantiles-ties", []float64{0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, 4, []float64{0, 1.5}},
		{"quantiles-max-tie", []float64{0, 1, 2, 3, 5, 5, 5, 5, 5, 5}, 4, []float64{2.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := gbBinThresholds(slices.Clone(tc.col), tc.maxBins)
			if len(got) != len(tc.want) {
				t.Fatalf("gbBinThresholds(%v, %d) = %v, want %v", tc.col, tc.maxBins, got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Fatalf("gbBinThresholds(%v, %d) = %v, want %v", tc.col, tc.maxBins, got, tc.want)
				}
			}
			for _, v := range tc.col {
				b := gbBinOf(gbPad(got), v)
				if (b > 0 && !(got[b-1] < v)) || (int(b) < len(got) && !(v <= got[b])) {
					t.Fatalf("value %v in bin %d of %v", v, b, got)
				}
			}
		})
	}
}

func TestFitGBDTErrors(t *testing.T) {
	X, y, _ := gbSynth(100, gbSynthFeatures, 16)
	V, vy, _ := gbSynth(50, gbSynthFeatures, 17)
	narrow := NewMatrix(50, 3)
	nanX := NewMatrix(2, 1)
	nanX.Data[1] = math.NaN()
	ragged := Matrix{Rows: 3, Cols: 2, Data: make([]float64, 5)}
	ones := make([]float64, 100)
	for i := range ones {
		ones[i] = 1
	}
	badLabel := slices.Clone(y)
	badLabel[5] = 2
	negW := slices.Clone(ones)
	negW[3] = -1
	zeroW := make([]float64, 100)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		X    *Matrix
		y, w []float64
		V    *Matrix
		vy   []float64
		o    *GBDTOptions
		want error
	}{
		{"NilMatrix", nil, nil, y, nil, nil, nil, nil, ErrShape},
		{"Ragged", nil, &ragged, []float64{0, 1, 0}, nil, nil, nil, nil, ErrShape},
		{"Empty", nil, &Matrix{}, nil, nil, nil, nil, nil, ErrEmpty},
		{"LabelCount", nil, &X, y[:99], nil, nil, nil, nil, ErrShape},
		{"WeightCount", nil, &X, y, ones[:5], nil, nil, nil, ErrShape},
		{"BadLabel", nil, &X, badLabel, nil, nil, nil, nil, ErrLabel},
		{"OneClass", nil, &X, ones, nil, nil, nil, nil, ErrOneClass},
		{"NegativeWeight", nil, &X, y, negW, nil, nil, nil, ErrSampleWeight},
		{"ZeroWeights", nil, &X, y, zeroW, nil, nil, nil, ErrSampleWeight},
		{"NaNFeature", nil, &nanX, []float64{0, 1}, nil, nil, nil, nil, ErrFeatureValue},
		{"ValidationColumns", nil, &X, y, nil, &narrow, vy, nil, ErrShape},
		{"ValidationLabelsOnly", nil, &X, y, nil, nil, vy, nil, ErrShape},
		{"ValidationLabelCount", nil, &X, y, nil, &V, vy[:10], nil, ErrShape},
		{"BadOptions", nil, &X, y, nil, nil, nil, &GBDTOptions{MaxBins: 300, L2: -1}, ErrGBDTOptions},
		{"Canceled", canceled, &X, y, nil, nil, nil, nil, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			tr, rep, err := FitGBDT(ctx, tc.X, tc.y, tc.w, tc.V, tc.vy, tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("FitGBDT error = %v, want %v", err, tc.want)
			}
			if tr != nil || rep != nil {
				t.Fatal("FitGBDT returned a model with an error")
			}
		})
	}
}

func TestGBDTOptionsValidate(t *testing.T) {
	if err := DefaultGBDTOptions().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if err := (&GBDTOptions{}).Validate(); err != nil {
		t.Fatalf("zero options invalid: %v", err)
	}
	bad := &GBDTOptions{MaxIter: -1, LearningRate: math.NaN(), MaxLeafNodes: 1, MaxDepth: -1, MinSamplesLeaf: -1,
		L2: -1, MaxBins: 256, BinSubsample: -1, EarlyStopping: 7, ValidationFraction: 1, NIterNoChange: -1, Tol: -1, Workers: -1}
	err := bad.Validate()
	// Every one of the 13 fields is reported.
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 13 || !errors.Is(err, ErrGBDTOptions) {
		t.Fatalf("Validate() = %v, want 13 joined ErrGBDTOptions errors", err)
	}
	// The zero value and DefaultGBDTOptions fit the same model.
	X, y, _ := gbSynth(3000, gbSynthFeatures, 18)
	a, _, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, &GBDTOptions{MaxIter: 5})
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultGBDTOptions()
	d.MaxIter = 5
	b, _, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("zero options and DefaultGBDTOptions fit different models")
	}
}

// ExampleFitGBDT fits trees to an exclusive-or pattern, which no linear
// model can represent, and scores the four corners.
func ExampleFitGBDT() {
	rng := rand.New(rand.NewPCG(1, 1))
	X := NewMatrix(2000, 2)
	y := make([]float64, X.Rows)
	for i := range X.Rows {
		a, b := rng.Float64(), rng.Float64()
		X.Data[2*i], X.Data[2*i+1] = a, b
		if (a > 0.5) != (b > 0.5) {
			y[i] = 1
		}
	}
	opts := DefaultGBDTOptions()
	opts.EarlyStopping = EarlyStoppingOff
	trees, rep, err := FitGBDT(context.Background(), &X, y, nil, nil, nil, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("trees:", rep.NumTrees)
	for _, x := range [][]float64{{0.2, 0.2}, {0.2, 0.8}, {0.8, 0.2}, {0.8, 0.8}} {
		fmt.Printf("P(y=1 | %v) = %.2f\n", x, trees.Prob(x))
	}
	// Output:
	// trees: 100
	// P(y=1 | [0.2 0.2]) = 0.00
	// P(y=1 | [0.2 0.8]) = 1.00
	// P(y=1 | [0.8 0.2]) = 1.00
	// P(y=1 | [0.8 0.8]) = 0.00
}
