package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lapse-dev/lapse/model"
)

// These errors are returned by FitGBDT for bad inputs, besides ErrShape,
// ErrEmpty, ErrLabel and ErrOneClass.
var (
	// ErrSampleWeight is returned when a sample weight is negative, NaN or
	// infinite, or when all weights are zero.
	ErrSampleWeight = errors.New("training: bad sample weight")
	// ErrFeatureValue is returned when a feature value is NaN or infinite;
	// the tree fitter needs finite inputs.
	ErrFeatureValue = errors.New("training: non-finite feature value")
	// ErrGBDTOptions is returned (joined, one per bad field) by
	// (*GBDTOptions).Validate and FitGBDT when an option is out of range.
	ErrGBDTOptions = errors.New("training: invalid gbdt options")
)

// EarlyStopping says when FitGBDT stops adding trees because the validation
// loss stopped improving.
type EarlyStopping int

const (
	// EarlyStoppingAuto (the zero value) stops early when a validation set
	// is given or the training set has more than 10,000 rows, like
	// scikit-learn's early_stopping="auto".
	EarlyStoppingAuto EarlyStopping = iota
	// EarlyStoppingOn always stops early, holding out ValidationFraction of
	// the rows when no validation set is given.
	EarlyStoppingOn
	// EarlyStoppingOff always fits MaxIter trees on all training rows. A
	// given validation set is still scored in the report.
	EarlyStoppingOff
)

// GBDTOptions configures FitGBDT. A nil *GBDTOptions, and any zero field,
// means the default, which follows scikit-learn's
// HistGradientBoostingClassifier.
type GBDTOptions struct {
	// MaxIter is the maximum number of boosting rounds (trees). Zero means 100.
	MaxIter int
	// LearningRate shrinks every leaf value. Zero means 0.1.
	LearningRate float64
	// MaxLeafNodes is the maximum number of leaves per tree; trees grow
	// leaf-wise, best split first. Zero means 31.
	MaxLeafNodes int
	// MaxDepth limits the depth of every leaf (the root has depth 0). Zero
	// means no limit.
	MaxDepth int
	// MinSamplesLeaf is the minimum number of training rows in a leaf. Zero
	// means 20.
	MinSamplesLeaf int
	// L2 is the L2 penalty on leaf values: a leaf's value is
	// -LearningRate·G/(H+L2) for gradient and hessian sums G and H. Zero
	// means no penalty (the default).
	L2 float64
	// MaxBins is the maximum number of quantile bins per feature, at most
	// 255. Zero means 255.
	MaxBins int
	// BinSubsample is the number of training rows, drawn at random with
	// Seed, used to find the bin thresholds. Zero means 200,000.
	BinSubsample int
	// EarlyStopping says when to stop on validation loss; see the constants.
	EarlyStopping EarlyStopping
	// ValidationFraction is the share of rows held out (stratified by label,
	// drawn with Seed) for early stopping when no validation set is given.
	// Zero means 0.1.
	ValidationFraction float64
	// NIterNoChange is the patience: fitting stops when none of the last
	// NIterNoChange rounds lowered the validation log loss by more than Tol
	// below its value NIterNoChange+1 rounds back. Zero means 10.
	NIterNoChange int
	// Tol is the minimum improvement in validation log loss that counts.
	// Zero means 1e-7.
	Tol float64
	// Seed seeds the validation split and the binning subsample. The fitted
	// model is a deterministic function of the inputs and Seed.
	Seed uint64
	// Workers is the number of goroutines used for histograms, gradients
	// and binning. Zero means runtime.GOMAXPROCS(0). The result does not
	// depend on it.
	Workers int
}

// DefaultGBDTOptions returns the default options with every field set
// explicitly.
func DefaultGBDTOptions() *GBDTOptions {
	return &GBDTOptions{
		MaxIter:            100,
		LearningRate:       0.1,
		MaxLeafNodes:       31,
		MinSamplesLeaf:     20,
		MaxBins:            255,
		BinSubsample:       200_000,
		ValidationFraction: 0.1,
		NIterNoChange:      10,
		Tol:                1e-7,
	}
}

// withDefaults returns a copy of o (nil allowed) with zero fields replaced
// by their defaults.
func (o *GBDTOptions) withDefaults() GBDTOptions {
	d := *DefaultGBDTOptions()
	if o == nil {
		d.Workers = runtime.GOMAXPROCS(0)
		return d
	}
	c := *o
	if c.MaxIter == 0 {
		c.MaxIter = d.MaxIter
	}
	if c.LearningRate == 0 {
		c.LearningRate = d.LearningRate
	}
	if c.MaxLeafNodes == 0 {
		c.MaxLeafNodes = d.MaxLeafNodes
	}
	if c.MinSamplesLeaf == 0 {
		c.MinSamplesLeaf = d.MinSamplesLeaf
	}
	if c.MaxBins == 0 {
		c.MaxBins = d.MaxBins
	}
	if c.BinSubsample == 0 {
		c.BinSubsample = d.BinSubsample
	}
	if c.ValidationFraction == 0 {
		c.ValidationFraction = d.ValidationFraction
	}
	if c.NIterNoChange == 0 {
		c.NIterNoChange = d.NIterNoChange
	}
	if c.Tol == 0 {
		c.Tol = d.Tol
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// Validate reports every out-of-range field, each as an error wrapping
// ErrGBDTOptions, joined. Zero fields are valid (they mean the default).
func (o *GBDTOptions) Validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	bad := func(field string, v any, want string) {
		errs = append(errs, fmt.Errorf("training: gbdt option %s = %v, want %s: %w", field, v, want, ErrGBDTOptions))
	}
	if o.MaxIter < 0 {
		bad("MaxIter", o.MaxIter, ">= 0")
	}
	if o.LearningRate < 0 || math.IsNaN(o.LearningRate) || math.IsInf(o.LearningRate, 0) {
		bad("LearningRate", o.LearningRate, "finite and >= 0")
	}
	if o.MaxLeafNodes < 0 || o.MaxLeafNodes == 1 {
		bad("MaxLeafNodes", o.MaxLeafNodes, "0 or >= 2")
	}
	if o.MaxDepth < 0 {
		bad("MaxDepth", o.MaxDepth, ">= 0")
	}
	if o.MinSamplesLeaf < 0 {
		bad("MinSamplesLeaf", o.MinSamplesLeaf, ">= 0")
	}
	if o.L2 < 0 || math.IsNaN(o.L2) || math.IsInf(o.L2, 0) {
		bad("L2", o.L2, "finite and >= 0")
	}
	if o.MaxBins < 0 || o.MaxBins == 1 || o.MaxBins > 255 {
		bad("MaxBins", o.MaxBins, "0 or in [2, 255]")
	}
	if o.BinSubsample < 0 {
		bad("BinSubsample", o.BinSubsample, ">= 0")
	}
	if o.EarlyStopping < EarlyStoppingAuto || o.EarlyStopping > EarlyStoppingOff {
		bad("EarlyStopping", int(o.EarlyStopping), "one of the EarlyStopping constants")
	}
	if !(o.ValidationFraction >= 0 && o.ValidationFraction < 1) {
		bad("ValidationFraction", o.ValidationFraction, "in [0, 1)")
	}
	if o.NIterNoChange < 0 {
		bad("NIterNoChange", o.NIterNoChange, ">= 0")
	}
	if o.Tol < 0 || math.IsNaN(o.Tol) {
		bad("Tol", o.Tol, ">= 0")
	}
	if o.Workers < 0 {
		bad("Workers", o.Workers, ">= 0")
	}
	return errors.Join(errs...)
}

// GBDTReport describes a FitGBDT run.
type GBDTReport struct {
	// TrainLoss[k] is the weighted mean log loss on the training rows with
	// the first k trees (TrainLoss[0] is the base rate alone), for k up to
	// Iterations.
	TrainLoss []float64
	// ValidLoss is the same on the validation rows; nil without validation.
	ValidLoss []float64
	// Iterations is the number of boosting rounds run.
	Iterations int
	// NumTrees is the number of trees kept: the round with the lowest
	// validation loss when stopping early, otherwise Iterations.
	NumTrees int
	// StoppedEarly is true when fitting stopped before MaxIter rounds.
	StoppedEarly bool
	// Importance is the gain-based feature importance of the kept trees,
	// normalised to sum to 1 (see model.Trees.Importance).
	Importance []float64
	// Bins is the number of bins found for each feature (1 for a constant
	// feature, which is never split).
	Bins []int
	// TrainRows and ValidRows are the numbers of rows fitted on and used for
	// validation.
	TrainRows, ValidRows int
}

// FitGBDT fits a histogram gradient-boosted tree classifier with binary log
// loss, in the manner of scikit-learn's HistGradientBoostingClassifier and
// LightGBM: features are cut into at most MaxBins quantile bins; each round
// fits one tree to the gradients and hessians of the loss, grown leaf-wise
// (best gain first) up to MaxLeafNodes leaves with at least MinSamplesLeaf
// rows per leaf, building the histogram of the smaller child of each split
// and deriving its sibling by subtraction.
//
// X holds the training rows, y their labels (0 or 1) and w optional
// non-negative sample weights (nil means all 1). valX and valY, both nil or
// both given, are a validation set for early stopping and the report
// (valX must have X's columns); without them a stratified ValidationFraction
// of X is held out when early stopping applies. opts nil means
// DefaultGBDTOptions. ctx is checked before every round.
//
// Inputs are never modified. Bad data returns an error wrapping ErrShape,
// ErrEmpty, ErrLabel, ErrOneClass, ErrSampleWeight or ErrFeatureValue.
func FitGBDT(ctx context.Context, X *Matrix, y, w []float64, valX *Matrix, valY []float64, opts *GBDTOptions) (*model.Trees, *GBDTReport, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	o := opts.withDefaults()
	if err := gbCheckInput(X, y, w, valX, valY); err != nil {
		return nil, nil, err
	}

	// Decide the training and validation rows.
	n := X.Rows
	early := o.EarlyStopping == EarlyStoppingOn ||
		(o.EarlyStopping == EarlyStoppingAuto && (valX != nil || n > 10_000))
	trainIdx, valIdx := []int(nil), []int(nil)
	if valX == nil && early {
		trainIdx, valIdx = gbStratifiedSplit(y, o.ValidationFraction, o.Seed)
		if len(valIdx) == 0 {
			early = false
			trainIdx, valIdx = nil, nil
		}
	}
	if trainIdx == nil {
		trainIdx = make([]int, n)
		for i := range trainIdx {
			trainIdx[i] = i
		}
	}
	trY, trW := gbGather(y, trainIdx), gbGatherWeights(w, trainIdx)
	pos, tot := 0.0, 0.0
	for i, v := range trY {
		pos += trW[i] * v
		tot += trW[i]
	}
	if !(tot > 0) {
		return nil, nil, fmt.Errorf("training: gbdt: training weights sum to %v: %w", tot, ErrSampleWeight)
	}
	if pos == 0 || pos == tot {
		return nil, nil, fmt.Errorf("training: gbdt: training rows (with positive weight) hold one class: %w", ErrOneClass)
	}

	f := &gbFit{o: o, nf: X.Cols}
	if err := f.fitBins(ctx, X, trainIdx); err != nil {
		return nil, nil, err
	}
	f.train = f.binRows(X, trainIdx)
	f.y, f.w, f.wSum = trY, trW, tot
	switch {
	case valX != nil:
		idx := make([]int, valX.Rows)
		for i := range idx {
			idx[i] = i
		}
		f.val = f.binRows(valX, idx)
		f.valY, f.valW = valY, gbGatherWeights(nil, idx)
	case valIdx != nil:
		f.val = f.binRows(X, valIdx)
		f.valY, f.valW = gbGather(y, valIdx), gbGatherWeights(w, valIdx)
	}
	return f.boost(ctx, pos/tot, early)
}

// gbCheckInput validates shapes, labels, weights and feature values.
func gbCheckInput(X *Matrix, y, w []float64, valX *Matrix, valY []float64) error {
	if X == nil {
		return fmt.Errorf("training: gbdt: nil training matrix: %w", ErrShape)
	}
	if err := X.Validate(); err != nil {
		return fmt.Errorf("training: gbdt: training matrix: %w", err)
	}
	if X.Rows == 0 || X.Cols == 0 {
		return fmt.Errorf("training: gbdt: training matrix is %d×%d: %w", X.Rows, X.Cols, ErrEmpty)
	}
	if X.Rows > math.MaxUint32 {
		return fmt.Errorf("training: gbdt: %d training rows, at most %d supported: %w", X.Rows, uint32(math.MaxUint32), ErrShape)
	}
	if len(y) != X.Rows {
		return fmt.Errorf("training: gbdt: %d labels for %d rows: %w", len(y), X.Rows, ErrShape)
	}
	if w != nil && len(w) != X.Rows {
		return fmt.Errorf("training: gbdt: %d weights for %d rows: %w", len(w), X.Rows, ErrShape)
	}
	if err := gbCheckLabels("training", y); err != nil {
		return err
	}
	for i, v := range w {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("training: gbdt: weight %d is %v: %w", i, v, ErrSampleWeight)
		}
	}
	if err := gbCheckFinite("training", X); err != nil {
		return err
	}
	if (valX == nil) != (valY == nil) {
		return fmt.Errorf("training: gbdt: validation matrix and labels must both be given or both nil: %w", ErrShape)
	}
	if valX == nil {
		return nil
	}
	if err := valX.Validate(); err != nil {
		return fmt.Errorf("training: gbdt: validation matrix: %w", err)
	}
	if valX.Rows == 0 {
		return fmt.Errorf("training: gbdt: validation matrix has no rows: %w", ErrEmpty)
	}
	if valX.Cols != X.Cols {
		return fmt.Errorf("training: gbdt: validation matrix has %d columns, want %d: %w", valX.Cols, X.Cols, ErrShape)
	}
	if len(valY) != valX.Rows {
		return fmt.Errorf("training: gbdt: %d validation labels for %d rows: %w", len(valY), valX.Rows, ErrShape)
	}
	if err := gbCheckLabels("validation", valY); err != nil {
		return err
	}
	return gbCheckFinite("validation", valX)
}

func gbCheckLabels(set string, y []float64) error {
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("training: gbdt: %s label %d is %v: %w", set, i, v, ErrLabel)
		}
	}
	return nil
}

func gbCheckFinite(set string, X *Matrix) error {
	for k, v := range X.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("training: gbdt: %s row %d column %d is %v: %w", set, k/X.Cols, k%X.Cols, v, ErrFeatureValue)
		}
	}
	return nil
}

func gbGather(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, k := range idx {
		out[i] = v[k]
	}
	return out
}

// gbGatherWeights returns w at idx, or ones when w is nil.
func gbGatherWeights(w []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, k := range idx {
		if w == nil {
			out[i] = 1
		} else {
			out[i] = w[k]
		}
	}
	return out
}

// gbStratifiedSplit holds out round(frac·n_c) rows of each class c, chosen by
// a seeded shuffle, and returns the remaining and held-out row indices, each
// in increasing order.
func gbStratifiedSplit(y []float64, frac float64, seed uint64) (train, val []int) {
	rng := rand.New(rand.NewPCG(seed, 0x6762647476616c)) // "gbdtval"
	isVal := make([]bool, len(y))
	for _, class := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if v == class {
				idx = append(idx, i)
			}
		}
		k := int(math.Round(frac * float64(len(idx))))
		if k >= len(idx) {
			k = len(idx) - 1
		}
		// Partial Fisher–Yates: the first k entries are a uniform sample.
		for i := 0; i < k; i++ {
			j := i + rng.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
			isVal[idx[i]] = true
		}
	}
	for i, v := range isVal {
		if v {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val
}

// gbBinned is a set of rows with every feature replaced by its bin, stored
// row-major: row i's bins are data[i*stride : i*stride+nf], with stride the
// feature count rounded up to a multiple of 8.
type gbBinned struct {
	n, nf, stride int
	data          []uint8
}

// at returns the bin of feature j in row i.
func (b *gbBinned) at(i, j int) uint8 { return b.data[i*b.stride+j] }

// gbFit holds the state of one FitGBDT call.
type gbFit struct {
	o          GBDTOptions
	nf         int
	thresholds [][]float64 // per feature, strictly increasing; bin b holds v with thresholds[b-1] < v <= thresholds[b]
	nbins      []int       // bins per feature: len(thresholds[f])+1
	blocks     [][2]int    // contiguous feature ranges, one per histogram task

	train      gbBinned
	y, w       []float64
	wSum       float64
	val        gbBinned
	valY, valW []float64
}

// fitBins finds each feature's bin thresholds from a seeded subsample of the
// training rows: midpoints between consecutive distinct values when there
// are at most MaxBins of them, otherwise midpoint-interpolated quantiles at
// 1/MaxBins, ..., (MaxBins-1)/MaxBins (NumPy's percentile method
// "midpoint", as scikit-learn does), with duplicates removed.
func (f *gbFit) fitBins(ctx context.Context, X *Matrix, trainIdx []int) error {
	sample := trainIdx
	if len(trainIdx) > f.o.BinSubsample {
		rng := rand.New(rand.NewPCG(f.o.Seed, 0x67626474626e73)) // "gbdtbns"
		sample = slices.Clone(trainIdx)
		for i := 0; i < f.o.BinSubsample; i++ {
			j := i + rng.IntN(len(sample)-i)
			sample[i], sample[j] = sample[j], sample[i]
		}
		sample = sample[:f.o.BinSubsample]
		slices.Sort(sample)
	}
	f.thresholds = make([][]float64, f.nf)
	gbParallel(f.o.Workers, f.nf, func(j int) {
		if ctx.Err() != nil {
			return
		}
		col := make([]float64, len(sample))
		for i, r := range sample {
			col[i] = X.Data[r*X.Cols+j]
		}
		f.thresholds[j] = gbBinThresholds(col, f.o.MaxBins)
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("training: gbdt: binning: %w", err)
	}
	f.nbins = make([]int, f.nf)
	for j, th := range f.thresholds {
		f.nbins[j] = len(th) + 1
	}
	nb := min(f.o.Workers, f.nf)
	for k := range nb {
		f.blocks = append(f.blocks, [2]int{k * f.nf / nb, (k + 1) * f.nf / nb})
	}
	return nil
}

// gbBinThresholds returns the strictly increasing bin thresholds of col
// (which it sorts) for at most maxBins bins.
func gbBinThresholds(col []float64, maxBins int) []float64 {
	slices.Sort(col)
	distinct := slices.Compact(slices.Clone(col))
	var th []float64
	if len(distinct) <= maxBins {
		th = make([]float64, 0, len(distinct)-1)
		for i := 1; i < len(distinct); i++ {
			th = append(th, distinct[i-1]+(distinct[i]-distinct[i-1])/2)
		}
	} else {
		th = make([]float64, 0, maxBins-1)
		n1 := float64(len(col) - 1)
		for k := 1; k < maxBins; k++ {
			pos := float64(k) / float64(maxBins) * n1
			lo := math.Floor(pos)
			v := col[int(lo)]
			if pos != lo {
				hi := col[int(lo)+1]
				v += (hi - v) / 2
			}
			th = append(th, v)
		}
		th = slices.Compact(th)
	}
	// A threshold equal to the largest value would leave its right bin empty.
	for len(th) > 0 && th[len(th)-1] >= col[len(col)-1] {
		th = th[:len(th)-1]
	}
	return th
}

// gbPadded holds a feature's thresholds padded to 256 entries with +Inf, for
// gbBinOf.
type gbPadded [256]float64

func gbPad(th []float64) *gbPadded {
	var p gbPadded
	for i := range p {
		p[i] = math.Inf(1)
	}
	copy(p[:], th)
	return &p
}

// gbBinOf returns the bin of a finite v: the number of thresholds below v,
// by a branch-free binary search over the padded thresholds.
func gbBinOf(t *gbPadded, v float64) uint8 {
	i := 0
	for step := 128; step > 0; step >>= 1 {
		var lt int
		if t[(i+step-1)&255] < v {
			lt = 1
		}
		i += lt * step
	}
	return uint8(i)
}

// binRows bins the rows idx of X, in that order, in parallel over chunks of
// rows.
func (f *gbFit) binRows(X *Matrix, idx []int) gbBinned {
	stride := (f.nf + 7) &^ 7
	b := gbBinned{n: len(idx), nf: f.nf, stride: stride, data: make([]uint8, len(idx)*stride)}
	pad := make([]*gbPadded, f.nf)
	for j, th := range f.thresholds {
		pad[j] = gbPad(th)
	}
	const chunk = 1 << 13
	gbParallel(f.o.Workers, (len(idx)+chunk-1)/chunk, func(c int) {
		lo, hi := c*chunk, min((c+1)*chunk, len(idx))
		for i := lo; i < hi; i++ {
			row := X.Data[idx[i]*X.Cols : (idx[i]+1)*X.Cols]
			out := b.data[i*stride : i*stride+f.nf]
			for j, v := range row {
				out[j] = gbBinOf(pad[j], v)
			}
		}
	})
	return b
}

// gbParallel runs fn(0), ..., fn(n-1) on up to workers goroutines. Callers
// keep results deterministic by writing each task's output to its own slot.
func gbParallel(workers, n int, fn func(i int)) {
	if workers <= 1 || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// gbGrad is the gradient and hessian of one row's loss.
type gbGrad struct{ g, h float64 }

// gbBin is one histogram bin: sums of gradients and hessians and the row
// count. A histogram holds gbHistStride bins per feature, so a uint8 bin
// indexes a feature's bins without a bounds check.
type gbBin struct {
	g, h float64
	n    int
}

// gbHistStride is the number of bins reserved per feature in a histogram.
const gbHistStride = 256

// gbSplit is a candidate split of a node on a feature at a bin: rows with
// bin <= bin go left.
type gbSplit struct {
	feature int
	bin     int
	gain    float64
	gl, hl  float64
	nl      int
}

// gbCand is a node of the tree being grown that is still a leaf.
type gbCand struct {
	node       int // index into the tree's nodes
	set        int // the row set holding its rows
	start, end int // its rows are that set's [start, end)
	g, h       float64
	depth      int
	hist       []gbBin // nil when the node will not be split
	best       gbSplit // valid when best.gain > 0
}

// gbRowSet holds training rows in some order: their original ids, gradient
// pairs and binned features (stride bytes per row), aligned.
type gbRowSet struct {
	rows []uint32
	gh   []gbGrad
	work []uint8
}

// gbGrower grows one tree per round; its buffers are reused across rounds.
//
// The rows are kept physically partitioned by node, so that histograms and
// partitions read memory sequentially: a node owns the range [start, end)
// of one of three row sets. Set 0 holds the round's input in row order (its
// features are the binned training matrix itself); splitting a node copies
// its rows from its set into the same range of set 1 or 2 (whichever it is
// not in), left child first, each side in the original order.
type gbGrower struct {
	f        *gbFit
	sets     [3]gbRowSet
	free     [][]gbBin
	perFeat  []gbSplit
	nodes    []model.Node
	nodeBins []int // split bin per node (-1 for leaves)
}

// newHist returns a zeroed histogram, reusing a released one when it can.
// Only the bins a feature uses are cleared: no other bin is ever read or
// written.
func (g *gbGrower) newHist() []gbBin {
	if k := len(g.free); k > 0 {
		h := g.free[k-1]
		g.free = g.free[:k-1]
		for j, nb := range g.f.nbins {
			clear(featHist(h, j)[:nb])
		}
		return h
	}
	return make([]gbBin, g.f.nf*gbHistStride)
}

// release returns a histogram for reuse; nil is ignored.
func (g *gbGrower) release(h []gbBin) {
	if h != nil {
		g.free = append(g.free, h)
	}
}

// gbMinParallelWork is the number of row×feature updates below which a
// histogram is built on one goroutine.
const gbMinParallelWork = 1 << 15

// gbChunkRows is the number of rows whose features buildHist reads per
// pass, and gbFeatGroup the number of features it accumulates per pass, so
// that the rows (chunk × stride bytes) and the histograms being filled stay
// in the L1 or L2 cache.
const (
	gbChunkRows = 512
	gbFeatGroup = 8
)

// featHist returns feature j's bins in hist.
func featHist(hist []gbBin, j int) *[gbHistStride]gbBin {
	return (*[gbHistStride]gbBin)(hist[j*gbHistStride : (j+1)*gbHistStride])
}

// buildHist fills c.hist from the rows of c and finds the best split of each
// feature. Each task covers a block of features; a feature's sums are always
// taken in row order, whatever the number of workers.
func (g *gbGrower) buildHist(c *gbCand) {
	f := g.f
	n := c.end - c.start
	s := f.train.stride
	set := &g.sets[c.set]
	data, gh := set.work[c.start*s:c.end*s], set.gh[c.start:c.end]
	blocks := f.blocks
	if n*f.nf < gbMinParallelWork {
		blocks = [][2]int{{0, f.nf}}
	}
	gbParallel(len(blocks), len(blocks), func(k int) {
		f0, f1 := blocks[k][0], blocks[k][1]
		hs := make([]*[gbHistStride]gbBin, f1-f0)
		for j := range hs {
			hs[j] = featHist(c.hist, f0+j)
		}
		for lo := 0; lo < n; lo += gbChunkRows {
			hi := min(lo+gbChunkRows, n)
			for j0 := f0; j0 < f1; j0 += gbFeatGroup {
				j1 := min(j0+gbFeatGroup, f1)
				hg := hs[j0-f0 : j1-f0]
				for i, p := range gh[lo:hi] {
					off := (lo + i) * s
					rb := data[off+j0 : off+j1]
					rb = rb[:len(hg)]
					for j, h := range hg {
						e := &h[rb[j]]
						e.g += p.g
						e.h += p.h
						e.n++
					}
				}
			}
		}
		for j := f0; j < f1; j++ {
			g.perFeat[j] = g.bestSplit(c, j)
		}
	})
}

// subtractHist turns the parent's histogram (owned by c) into c's own by
// subtracting its sibling's, then finds c's best split per feature.
func (g *gbGrower) subtractHist(c *gbCand, sibling []gbBin) {
	f := g.f
	gbParallel(len(f.blocks), len(f.blocks), func(k int) {
		for j := f.blocks[k][0]; j < f.blocks[k][1]; j++ {
			h, s := featHist(c.hist, j), featHist(sibling, j)
			for b := range f.nbins[j] {
				h[b].g -= s[b].g
				h[b].h -= s[b].h
				h[b].n -= s[b].n
			}
			g.perFeat[j] = g.bestSplit(c, j)
		}
	})
}

// gbMinHessian is the smallest hessian sum allowed in a child, as
// scikit-learn's min_hessian_to_split.
const gbMinHessian = 1e-3

// bestSplit scans feature j's histogram of c for the split with the largest
// gain GL²/(HL+λ) + GR²/(HR+λ) - G²/(H+λ) that leaves at least
// MinSamplesLeaf rows and gbMinHessian hessian on each side.
func (g *gbGrower) bestSplit(c *gbCand, j int) gbSplit {
	f := g.f
	h := featHist(c.hist, j)[:f.nbins[j]]
	lambda := f.o.L2
	minLeaf := f.o.MinSamplesLeaf
	n := c.end - c.start
	best := gbSplit{feature: j, bin: -1}
	parent := c.g * c.g / (c.h + lambda)
	var gl, hl float64
	nl := 0
	for b := 0; b < len(h)-1; b++ {
		gl += h[b].g
		hl += h[b].h
		nl += h[b].n
		if nl < minLeaf || hl < gbMinHessian {
			continue
		}
		nr := n - nl
		if nr < minLeaf {
			break
		}
		gr, hr := c.g-gl, c.h-hl
		if hr < gbMinHessian {
			continue
		}
		gain := gl*gl/(hl+lambda) + gr*gr/(hr+lambda) - parent
		if gain > best.gain {
			best = gbSplit{feature: j, bin: b, gain: gain, gl: gl, hl: hl, nl: nl}
		}
	}
	return best
}

// pickSplit stores in c the best of the per-feature splits (lowest feature
// on ties).
func (g *gbGrower) pickSplit(c *gbCand) {
	c.best = gbSplit{bin: -1}
	for _, s := range g.perFeat {
		if s.bin >= 0 && s.gain > c.best.gain {
			c.best = s
		}
	}
}

// canSplit reports whether a node with n rows at depth d may be split.
func (g *gbGrower) canSplit(n, d int) bool {
	o := &g.f.o
	return n >= 2*o.MinSamplesLeaf && n >= 2 && (o.MaxDepth == 0 || d < o.MaxDepth)
}

// gbMinParallelRows is the node size from which partition uses two
// goroutines.
const gbMinParallelRows = 1 << 14

// partition copies the rows of c into the same range of another row set,
// those going left (c.best.nl of them) first, keeping the order within each
// side, and returns that set. With two or more workers the first half of
// the rows is copied forwards and the second half backwards from the ends
// of the two sides, so both halves know where to write without counting.
func (g *gbGrower) partition(c *gbCand) int {
	dst := 1
	if c.set == 1 {
		dst = 2
	}
	src, d := &g.sets[c.set], &g.sets[dst]
	s := g.f.train.stride
	feat, bin := c.best.feature, uint8(c.best.bin)
	mid := c.end
	if g.f.o.Workers > 1 && c.end-c.start >= gbMinParallelRows {
		mid = c.start + (c.end-c.start)/2
	}
	move := func(i, to int) {
		d.rows[to] = src.rows[i]
		d.gh[to] = src.gh[i]
		copy(d.work[to*s:(to+1)*s], src.work[i*s:(i+1)*s])
	}
	gbParallel(2, 1+gbBtoi(mid < c.end), func(k int) {
		if k == 0 {
			l, r := c.start, c.start+c.best.nl
			for i := c.start; i < mid; i++ {
				if src.work[i*s+feat] <= bin {
					move(i, l)
					l++
				} else {
					move(i, r)
					r++
				}
			}
			return
		}
		l, r := c.start+c.best.nl, c.end
		for i := c.end - 1; i >= mid; i-- {
			if src.work[i*s+feat] <= bin {
				l--
				move(i, l)
			} else {
				r--
				move(i, r)
			}
		}
	})
	return dst
}

func gbBtoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func gbLeafNode(cover float64) model.Node {
	return model.Node{Feature: -1, Left: -1, Right: -1, Cover: cover}
}

// grow fits one tree to the gradients in g.sets[0].gh (row order, with sums
// G and H) and returns its leaves as candidates (with value set in the
// nodes) for the raw-score update.
func (g *gbGrower) grow(G, H float64) []gbCand {
	f := g.f
	n := f.train.n
	g.nodes = append(g.nodes[:0], gbLeafNode(float64(n)))
	g.nodeBins = append(g.nodeBins[:0], -1)
	root := gbCand{node: 0, start: 0, end: n, g: G, h: H, best: gbSplit{bin: -1}}
	if g.canSplit(n, 0) && f.o.MaxLeafNodes > 1 {
		root.hist = g.newHist()
		g.buildHist(&root)
		g.pickSplit(&root)
	}
	leaves := []gbCand{root}
	for len(leaves) < f.o.MaxLeafNodes {
		// Split the leaf with the largest gain (the first one on ties).
		k := -1
		for i := range leaves {
			if leaves[i].best.bin >= 0 && (k < 0 || leaves[i].best.gain > leaves[k].best.gain) {
				k = i
			}
		}
		if k < 0 {
			break
		}
		p := leaves[k]
		s := p.best
		nl := s.nl
		set := g.partition(&p)
		li, ri := len(g.nodes), len(g.nodes)+1
		nr := p.end - p.start - nl
		g.nodes = append(g.nodes, gbLeafNode(float64(nl)), gbLeafNode(float64(nr)))
		g.nodeBins = append(g.nodeBins, -1, -1)
		pn := &g.nodes[p.node]
		pn.Feature, pn.Left, pn.Right, pn.Gain = s.feature, li, ri, s.gain
		pn.Threshold = f.thresholds[s.feature][s.bin]
		g.nodeBins[p.node] = s.bin
		left := gbCand{node: li, set: set, start: p.start, end: p.start + nl, g: s.gl, h: s.hl, depth: p.depth + 1, best: gbSplit{bin: -1}}
		right := gbCand{node: ri, set: set, start: p.start + nl, end: p.end, g: p.g - s.gl, h: p.h - s.hl, depth: p.depth + 1, best: gbSplit{bin: -1}}

		// The tree is full after this split: no child needs a histogram.
		full := len(leaves)+1 >= f.o.MaxLeafNodes
		small, large := &left, &right
		if nr < nl {
			small, large = &right, &left
		}
		splitSmall := !full && g.canSplit(small.end-small.start, small.depth)
		splitLarge := !full && g.canSplit(large.end-large.start, large.depth)
		if splitSmall || splitLarge {
			small.hist = g.newHist()
			g.buildHist(small)
			if splitSmall {
				g.pickSplit(small)
			}
			if splitLarge {
				large.hist = p.hist
				p.hist = nil
				g.subtractHist(large, small.hist)
				g.pickSplit(large)
			}
			if !splitSmall {
				g.release(small.hist)
				small.hist = nil
			}
		}
		g.release(p.hist)
		leaves[k] = left
		leaves = append(leaves, right)
	}
	for i := range leaves {
		g.release(leaves[i].hist)
		leaves[i].hist = nil
		c := &leaves[i]
		g.nodes[c.node].Value = -f.o.LearningRate * c.g / (c.h + f.o.L2 + 1e-15)
	}
	// Internal values: cover-weighted means of the children, bottom-up
	// (children always have larger indices).
	for k := len(g.nodes) - 1; k >= 0; k-- {
		nd := &g.nodes[k]
		if nd.Feature < 0 {
			continue
		}
		l, r := &g.nodes[nd.Left], &g.nodes[nd.Right]
		nd.Value = (l.Value*l.Cover + r.Value*r.Cover) / nd.Cover
	}
	return leaves
}

// gbBinnedLeafValue returns the value of the leaf that binned row i of b
// reaches in the tree given by nodes and their split bins.
func gbBinnedLeafValue(nodes []model.Node, bins []int, b *gbBinned, i int) float64 {
	k := 0
	for nodes[k].Feature >= 0 {
		if int(b.at(i, nodes[k].Feature)) <= bins[k] {
			k = nodes[k].Left
		} else {
			k = nodes[k].Right
		}
	}
	return nodes[k].Value
}

// gbLogLoss is the log loss of raw score z for label y: log(1+e^z) - y·z.
func gbLogLoss(z, y float64) float64 {
	sp := math.Log1p(math.Exp(-math.Abs(z)))
	if z > 0 {
		sp += z
	}
	return sp - y*z
}

// gbChunk is the number of rows per task in the gradient pass; the loss
// is summed per chunk and then over chunks in order, so it does not depend
// on Workers.
const gbChunk = 1 << 14

// gradients fills gh from the raw scores and returns the weighted mean log
// loss and the gradient and hessian sums.
func (f *gbFit) gradients(raw []float64, gh []gbGrad) (loss, G, H float64) {
	nc := (len(raw) + gbChunk - 1) / gbChunk
	part := make([][3]float64, nc)
	gbParallel(f.o.Workers, nc, func(c int) {
		lo, hi := c*gbChunk, min((c+1)*gbChunk, len(raw))
		var l, sg, sh float64
		for i := lo; i < hi; i++ {
			z, y, w := raw[i], f.y[i], f.w[i]
			// One exponential serves the sigmoid and the loss. The loss is
			// only reported (TrainLoss), so log(1+e) stands in for the
			// slower log1p: for e in (0, 1] they differ by less than 1e-16
			// in absolute terms.
			e := math.Exp(-math.Abs(z))
			p, sp := 1/(1+e), math.Log(1+e)
			if z < 0 {
				p = e / (1 + e)
			} else {
				sp += z
			}
			gr, he := w*(p-y), w*p*(1-p)
			gh[i] = gbGrad{gr, he}
			l += w * (sp - y*z)
			sg += gr
			sh += he
		}
		part[c] = [3]float64{l, sg, sh}
	})
	for _, p := range part {
		loss += p[0]
		G += p[1]
		H += p[2]
	}
	return loss / f.wSum, G, H
}

// gbMeanLoss is the weighted mean log loss of raw scores.
func gbMeanLoss(raw, y, w []float64) float64 {
	var l, tot float64
	for i, z := range raw {
		l += w[i] * gbLogLoss(z, y[i])
		tot += w[i]
	}
	if tot == 0 {
		return 0
	}
	return l / tot
}

// gbShouldStop applies scikit-learn's rule to the validation losses so far
// (losses[0] is before the first tree): stop when none of the last patience
// losses is more than tol below the loss patience+1 rounds back.
func gbShouldStop(losses []float64, patience int, tol float64) bool {
	if len(losses) < patience+1 {
		return false
	}
	ref := losses[len(losses)-patience-1]
	for _, l := range losses[len(losses)-patience:] {
		if l < ref-tol {
			return false
		}
	}
	return true
}

// boost runs the boosting rounds.
func (f *gbFit) boost(ctx context.Context, baseRate float64, early bool) (*model.Trees, *GBDTReport, error) {
	o := &f.o
	n := f.train.n
	base := math.Log(baseRate / (1 - baseRate))
	raw := make([]float64, n)
	for i := range raw {
		raw[i] = base
	}
	var valRaw []float64
	if f.valY != nil {
		valRaw = make([]float64, f.val.n)
		for i := range valRaw {
			valRaw[i] = base
		}
	}
	g := &gbGrower{f: f, perFeat: make([]gbSplit, f.nf)}
	for k := range g.sets {
		g.sets[k] = gbRowSet{rows: make([]uint32, n), gh: make([]gbGrad, n), work: f.train.data}
		if k > 0 {
			g.sets[k].work = make([]uint8, len(f.train.data))
		}
	}
	for i := range g.sets[0].rows {
		g.sets[0].rows[i] = uint32(i)
	}
	rep := &GBDTReport{TrainRows: n, ValidRows: f.val.n, Bins: make([]int, f.nf)}
	for j, th := range f.thresholds {
		rep.Bins[j] = len(th) + 1
	}
	if valRaw != nil {
		rep.ValidLoss = append(rep.ValidLoss, gbMeanLoss(valRaw, f.valY, f.valW))
	}
	trees := &model.Trees{Format: model.TreesFormat, NumFeatures: f.nf, BaseScore: base, LearningRate: o.LearningRate}
	for it := 0; it < o.MaxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("training: gbdt: round %d: %w", it, err)
		}
		loss, G, H := f.gradients(raw, g.sets[0].gh)
		rep.TrainLoss = append(rep.TrainLoss, loss)
		leaves := g.grow(G, H)
		// Leaves hold disjoint rows, so they can be updated concurrently.
		gbParallel(o.Workers, len(leaves), func(k int) {
			c := &leaves[k]
			v := g.nodes[c.node].Value
			for _, r := range g.sets[c.set].rows[c.start:c.end] {
				raw[r] += v
			}
		})
		nodes := slices.Clone(g.nodes)
		trees.Trees = append(trees.Trees, model.Tree{Nodes: nodes})
		rep.Iterations++
		if valRaw != nil {
			bins := g.nodeBins
			gbParallel(o.Workers, (f.val.n+gbChunk-1)/gbChunk, func(c int) {
				for i := c * gbChunk; i < min((c+1)*gbChunk, f.val.n); i++ {
					valRaw[i] += gbBinnedLeafValue(nodes, bins, &f.val, i)
				}
			})
			rep.ValidLoss = append(rep.ValidLoss, gbMeanLoss(valRaw, f.valY, f.valW))
			if early && gbShouldStop(rep.ValidLoss, o.NIterNoChange, o.Tol) {
				rep.StoppedEarly = it+1 < o.MaxIter
				break
			}
		}
	}
	rep.TrainLoss = append(rep.TrainLoss, gbMeanLoss(raw, f.y, f.w))
	rep.NumTrees = rep.Iterations
	if early && valRaw != nil {
		rep.NumTrees = 0
		for k, l := range rep.ValidLoss {
			if l < rep.ValidLoss[rep.NumTrees] {
				rep.NumTrees = k
			}
		}
		trees.Trees = trees.Trees[:rep.NumTrees]
	}
	rep.Importance = trees.Importance()
	return trees, rep, nil
}
