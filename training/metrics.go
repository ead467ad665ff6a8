package training

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/lapse-dev/lapse/model"
	"github.com/sjwhitworth/golearn/evaluation"
)

// These errors are returned by the metrics in this file for bad inputs.
var (
	// ErrLabel is returned when a label is not 0 or 1.
	ErrLabel = errors.New("training: label is not 0 or 1")
	// ErrOneClass is returned by metrics that need both classes (ROC AUC,
	// average precision, lift) when every label is the same.
	ErrOneClass = errors.New("training: labels contain a single class")
	// ErrScore is returned when a score is NaN or infinite, or when a
	// probability lies outside [0, 1].
	ErrScore = errors.New("training: bad score")
	// ErrEmpty is returned when there are no rows to fit or evaluate.
	ErrEmpty = errors.New("training: no rows")
)

// CalibrationBins is the number of equal-width probability bins used for the
// expected calibration error and the calibration table.
const CalibrationBins = 10

// MaxCurvePoints bounds the number of points in the ROC and gains curves of
// an Evaluation, enough to plot them without bloating the report.
const MaxCurvePoints = 200

// TopFractions are the population shares at which Evaluate reports
// precision and recall: the top 5, 10 and 20% of rows by score.
var TopFractions = []float64{0.05, 0.10, 0.20}

// Evaluation holds the holdout metrics of a probabilistic binary classifier.
// Field names follow the report.json schema.
type Evaluation struct {
	// N is the number of rows.
	N int `json:"n"`
	// Positives is the number of rows with label 1.
	Positives int `json:"positives"`
	// BaseRate is Positives / N.
	BaseRate float64 `json:"base_rate"`
	// AUC is the ROC AUC (Mann–Whitney, ties count one half).
	AUC float64 `json:"auc"`
	// PRAUC is the average precision, scikit-learn's definition.
	PRAUC float64 `json:"pr_auc"`
	// LogLoss is the mean negative log-likelihood, probabilities clipped to
	// [model.ProbEpsilon, 1−model.ProbEpsilon].
	LogLoss float64 `json:"log_loss"`
	// Brier is the mean squared difference between probability and label.
	Brier float64 `json:"brier"`
	// ECE is the expected calibration error over CalibrationBins bins.
	ECE float64 `json:"ece"`
	// Calibration is the calibration table behind ECE.
	Calibration []CalibrationBin `json:"calibration"`
	// Deciles is the decile table, highest scores first.
	Deciles []Decile `json:"deciles"`
	// TopDecileLift is the precision in the top 10% of rows divided by
	// BaseRate (see AtTop for how ties at the boundary are counted).
	TopDecileLift float64 `json:"top_decile_lift"`
	// Top holds precision and recall at each of TopFractions.
	Top []TopK `json:"top"`
	// ROC holds at most MaxCurvePoints points of the ROC curve.
	ROC []CurvePoint `json:"roc"`
	// Gains holds at most MaxCurvePoints points of the cumulative gains
	// curve: share of rows targeted (X) against share of positives found (Y).
	Gains []CurvePoint `json:"gains"`
}

// CalibrationBin is one row of a calibration table: the rows whose
// predicted probability falls in [Lower, Upper) (the last bin includes 1).
type CalibrationBin struct {
	// Bin is the 1-based bin number.
	Bin int `json:"bin"`
	// Lower is the bin's lower edge.
	Lower float64 `json:"lower"`
	// Upper is the bin's upper edge.
	Upper float64 `json:"upper"`
	// N is the number of rows in the bin.
	N int `json:"n"`
	// MeanPredicted is the mean probability in the bin (0 when N is 0).
	MeanPredicted float64 `json:"mean_predicted"`
	// ObservedRate is the share of positives in the bin (0 when N is 0).
	ObservedRate float64 `json:"observed_rate"`
}

// Decile is one row of a decile table. Rows are sorted by score, highest
// first, and cut into ten groups of (nearly) equal size; rows with equal
// scores always share a decile (see Deciles).
type Decile struct {
	// Decile is 1 for the highest scores, 10 for the lowest.
	Decile int `json:"decile"`
	// Users is the number of rows in the decile.
	Users int `json:"users"`
	// Positives is the number of positives in the decile.
	Positives int `json:"positives"`
	// Rate is Positives / Users (0 for an empty decile).
	Rate float64 `json:"rate"`
	// Lift is Rate divided by the overall positive rate.
	Lift float64 `json:"lift"`
	// CumGainsPct is the percentage of all positives found in deciles
	// 1..Decile.
	CumGainsPct float64 `json:"cum_gains_pct"`
	// MinScore is the lowest score in the decile (0 when empty).
	MinScore float64 `json:"min_score"`
	// MaxScore is the highest score in the decile (0 when empty).
	MaxScore float64 `json:"max_score"`
}

// TopK is precision and recall when the top Fraction of rows by score are
// flagged.
type TopK struct {
	// Fraction is the share of rows flagged, e.g. 0.1.
	Fraction float64 `json:"fraction"`
	// Rows is the number of rows flagged, ceil(Fraction·N).
	Rows int `json:"rows"`
	// Precision is the expected share of positives among the flagged rows.
	Precision float64 `json:"precision"`
	// Recall is the expected share of all positives that are flagged.
	Recall float64 `json:"recall"`
}

// CurvePoint is a point of a ROC or gains curve.
type CurvePoint struct {
	// X is the false positive rate (ROC) or the share of rows (gains).
	X float64 `json:"x"`
	// Y is the true positive rate, the share of positives found.
	Y float64 `json:"y"`
}

// metTieGroup is a run of rows with the same score.
type metTieGroup struct {
	score    float64
	n, pos   int
	startPos int // rank of the group's first row, 0-based, highest score first
}

// metRanking is the rows sorted by score, highest first, as tie groups.
type metRanking struct {
	n, pos int
	groups []metTieGroup
}

// metCheck validates y and s: equal lengths, at least one row, labels in
// {0, 1}, scores finite (and in [0, 1] when prob is true).
func metCheck(y, s []float64, prob bool) error {
	if len(y) != len(s) {
		return fmt.Errorf("training: %d labels and %d scores: %w", len(y), len(s), ErrShape)
	}
	if len(y) == 0 {
		return ErrEmpty
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("training: row %d: label %v: %w", i, v, ErrLabel)
		}
	}
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) || (prob && (v < 0 || v > 1)) {
			return fmt.Errorf("training: row %d: score %v: %w", i, v, ErrScore)
		}
	}
	return nil
}

// rank sorts rows by score, highest first, and groups ties. Inputs must have
// been checked.
func metRank(y, s []float64) metRanking {
	type row struct{ s, y float64 }
	rows := make([]row, len(s))
	for i := range s {
		rows[i] = row{s[i], y[i]}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.s, a.s) })
	r := metRanking{n: len(rows)}
	for i, rw := range rows {
		if i == 0 || rw.s != rows[i-1].s {
			r.groups = append(r.groups, metTieGroup{score: rw.s, startPos: i})
		}
		g := &r.groups[len(r.groups)-1]
		g.n++
		if rw.y == 1 {
			g.pos++
			r.pos++
		}
	}
	return r
}

func (r *metRanking) needBothClasses() error {
	if r.pos == 0 || r.pos == r.n {
		return fmt.Errorf("training: %d positives in %d rows: %w", r.pos, r.n, ErrOneClass)
	}
	return nil
}

// auc is the Mann–Whitney statistic: the probability that a random positive
// scores above a random negative, ties counting one half.
func (r *metRanking) auc() float64 {
	neg := r.n - r.pos
	var sum float64
	negAbove := 0
	for _, g := range r.groups {
		gneg := g.n - g.pos
		negBelow := neg - negAbove - gneg
		sum += float64(g.pos) * (float64(negBelow) + 0.5*float64(gneg))
		negAbove += gneg
	}
	return sum / (float64(r.pos) * float64(neg))
}

// averagePrecision is Σ (R_k − R_{k−1}) P_k over the distinct thresholds,
// highest first, as in scikit-learn's average_precision_score.
func (r *metRanking) averagePrecision() float64 {
	var ap, prevRecall float64
	tp, seen := 0, 0
	for _, g := range r.groups {
		tp += g.pos
		seen += g.n
		recall := float64(tp) / float64(r.pos)
		ap += (recall - prevRecall) * float64(tp) / float64(seen)
		prevRecall = recall
	}
	return ap
}

// deciles cuts the metRanking into ten groups. A tie group goes, whole, to the
// decile that contains its midpoint rank: decile floor(10·m/n) with
// m = start + size/2, so without ties row i (0-based) is in decile
// floor(10·(i+½)/n) and decile sizes differ by at most one.
func (r *metRanking) deciles() []Decile {
	out := make([]Decile, 10)
	for d := range out {
		out[d].Decile = d + 1
	}
	for _, g := range r.groups {
		mid := float64(g.startPos) + float64(g.n)/2
		d := min(int(10*mid/float64(r.n)), 9)
		o := &out[d]
		if o.Users == 0 {
			o.MaxScore = g.score
		}
		o.MinScore = g.score
		o.Users += g.n
		o.Positives += g.pos
	}
	base := float64(r.pos) / float64(r.n)
	cum := 0
	for d := range out {
		o := &out[d]
		cum += o.Positives
		if o.Users > 0 {
			o.Rate = float64(o.Positives) / float64(o.Users)
		}
		if base > 0 {
			o.Lift = o.Rate / base
		}
		if r.pos > 0 {
			o.CumGainsPct = 100 * float64(cum) / float64(r.pos)
		}
	}
	return out
}

// atTop flags the top ceil(frac·n) rows. When the boundary cuts a tie group,
// the group's positives are counted in proportion to the share of the group
// that is flagged: the expected count under random tie-breaking, so the
// result does not depend on the input order.
func (r *metRanking) atTop(frac float64) TopK {
	m := int(math.Ceil(frac*float64(r.n) - 1e-9))
	m = max(1, min(m, r.n))
	var tp float64
	taken := 0
	for _, g := range r.groups {
		if taken+g.n <= m {
			tp += float64(g.pos)
			taken += g.n
			if taken == m {
				break
			}
			continue
		}
		tp += float64(g.pos) * float64(m-taken) / float64(g.n)
		break
	}
	t := TopK{Fraction: frac, Rows: m, Precision: tp / float64(m)}
	if r.pos > 0 {
		t.Recall = tp / float64(r.pos)
	}
	return t
}

// curves returns the ROC curve (FPR, TPR) and the gains curve (share of rows,
// TPR), one point per distinct score plus the origin, downsampled to at most
// maxPoints each.
func (r *metRanking) curves(maxPoints int) (roc, gains []CurvePoint) {
	neg := r.n - r.pos
	roc = make([]CurvePoint, 0, len(r.groups)+1)
	gains = make([]CurvePoint, 0, len(r.groups)+1)
	roc = append(roc, CurvePoint{})
	gains = append(gains, CurvePoint{})
	tp, seen := 0, 0
	for _, g := range r.groups {
		tp += g.pos
		seen += g.n
		tpr := float64(tp) / float64(r.pos)
		roc = append(roc, CurvePoint{X: float64(seen-tp) / float64(neg), Y: tpr})
		gains = append(gains, CurvePoint{X: float64(seen) / float64(r.n), Y: tpr})
	}
	return metDownsample(roc, maxPoints), metDownsample(gains, maxPoints)
}

// metDownsample keeps at most k points, evenly spaced by index, always keeping
// the first and the last.
func metDownsample(p []CurvePoint, k int) []CurvePoint {
	if len(p) <= k {
		return p
	}
	out := make([]CurvePoint, k)
	for i := range out {
		out[i] = p[int(math.Round(float64(i)*float64(len(p)-1)/float64(k-1)))]
	}
	return out
}

// ROCAUC returns the area under the ROC curve of scores s for labels y
// (0 or 1): the Mann–Whitney probability that a random positive scores
// higher than a random negative, with ties counted as one half. This equals
// scikit-learn's roc_auc_score. Scores may be any finite numbers.
func ROCAUC(y, s []float64) (float64, error) {
	if err := metCheck(y, s, false); err != nil {
		return 0, err
	}
	r := metRank(y, s)
	if err := r.needBothClasses(); err != nil {
		return 0, err
	}
	return r.auc(), nil
}

// AveragePrecision returns the area under the precision-recall curve as
// scikit-learn's average_precision_score defines it: Σ (R_k − R_{k−1})·P_k
// over the distinct score thresholds taken from the highest down, with tied
// scores entering together. Scores may be any finite numbers.
func AveragePrecision(y, s []float64) (float64, error) {
	if err := metCheck(y, s, false); err != nil {
		return 0, err
	}
	r := metRank(y, s)
	if err := r.needBothClasses(); err != nil {
		return 0, err
	}
	return r.averagePrecision(), nil
}

// LogLoss returns −mean(y·log p + (1−y)·log(1−p)) with p clipped to
// [model.ProbEpsilon, 1−model.ProbEpsilon], so a confident mistake costs
// about 34.5 rather than infinity.
func LogLoss(y, p []float64) (float64, error) {
	if err := metCheck(y, p, true); err != nil {
		return 0, err
	}
	return metLogLoss(y, p), nil
}

func metLogLoss(y, p []float64) float64 {
	var s float64
	for i, v := range p {
		v = model.ClipProb(v)
		if y[i] == 1 {
			s -= math.Log(v)
		} else {
			s -= math.Log1p(-v)
		}
	}
	return s / float64(len(p))
}

// Brier returns the Brier score mean((p − y)²).
func Brier(y, p []float64) (float64, error) {
	if err := metCheck(y, p, true); err != nil {
		return 0, err
	}
	return metBrier(y, p), nil
}

func metBrier(y, p []float64) float64 {
	var s float64
	for i, v := range p {
		e := v - y[i]
		s += e * e
	}
	return s / float64(len(p))
}

// Calibration returns the expected calibration error and the calibration
// table of probabilities p for labels y, with CalibrationBins equal-width
// bins: bin b holds p in [b/10, (b+1)/10), the last bin also holds 1.
// ECE = Σ_b (n_b/n)·|mean p in b − positive rate in b|.
func Calibration(y, p []float64) (float64, []CalibrationBin, error) {
	if err := metCheck(y, p, true); err != nil {
		return 0, nil, err
	}
	ece, bins := metCalibration(y, p)
	return ece, bins, nil
}

func metCalibration(y, p []float64) (float64, []CalibrationBin) {
	const k = CalibrationBins
	bins := make([]CalibrationBin, k)
	sumP := make([]float64, k)
	sumY := make([]float64, k)
	for i, v := range p {
		b := min(int(v*k), k-1)
		bins[b].N++
		sumP[b] += v
		sumY[b] += y[i]
	}
	var ece float64
	for b := range bins {
		c := &bins[b]
		c.Bin = b + 1
		c.Lower = float64(b) / k
		c.Upper = float64(b+1) / k
		if c.N > 0 {
			c.MeanPredicted = sumP[b] / float64(c.N)
			c.ObservedRate = sumY[b] / float64(c.N)
			ece += float64(c.N) / float64(len(p)) * math.Abs(c.MeanPredicted-c.ObservedRate)
		}
	}
	return ece, bins
}

// Deciles returns the decile table of scores s for labels y. Rows are sorted
// by score, highest first; rows with equal scores are never split: a run of
// ties goes, whole, to the decile containing its middle rank (decile
// floor(10·m/n) for midpoint rank m), so the table depends only on the
// scores and labels, not on the row order. Without ties the ten sizes differ
// by at most one; with heavy ties some deciles may be empty.
func Deciles(y, s []float64) ([]Decile, error) {
	if err := metCheck(y, s, false); err != nil {
		return nil, err
	}
	r := metRank(y, s)
	return r.deciles(), nil
}

// AtTop returns precision and recall when the top ceil(frac·n) rows by score
// are flagged (at least one row). When the cut falls inside a run of tied
// scores, that run's positives count in proportion to the share of it that
// is flagged: the expected value under random tie-breaking.
func AtTop(y, s []float64, frac float64) (TopK, error) {
	if !(frac > 0 && frac <= 1) {
		return TopK{}, fmt.Errorf("training: top fraction %v not in (0, 1]: %w", frac, ErrShape)
	}
	if err := metCheck(y, s, false); err != nil {
		return TopK{}, err
	}
	r := metRank(y, s)
	return r.atTop(frac), nil
}

// Evaluate computes every holdout metric of probabilities p for labels y,
// sorting the rows once. It needs both classes.
func Evaluate(y, p []float64) (*Evaluation, error) {
	if err := metCheck(y, p, true); err != nil {
		return nil, err
	}
	r := metRank(y, p)
	if err := r.needBothClasses(); err != nil {
		return nil, err
	}
	e := &Evaluation{
		N:         r.n,
		Positives: r.pos,
		BaseRate:  float64(r.pos) / float64(r.n),
		AUC:       r.auc(),
		PRAUC:     r.averagePrecision(),
		LogLoss:   metLogLoss(y, p),
		Brier:     metBrier(y, p),
		Deciles:   r.deciles(),
	}
	e.ECE, e.Calibration = metCalibration(y, p)
	for _, f := range TopFractions {
		e.Top = append(e.Top, r.atTop(f))
	}
	e.TopDecileLift = r.atTop(0.10).Precision / e.BaseRate
	e.ROC, e.Gains = r.curves(MaxCurvePoints)
	return e, nil
}

// ThresholdMetrics is the confusion matrix and the derived rates when rows
// with probability >= Threshold are predicted positive.
type ThresholdMetrics struct {
	// Threshold is the decision threshold.
	Threshold float64 `json:"threshold"`
	// TP, FP, TN and FN are the confusion-matrix counts.
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
	// Precision is TP/(TP+FP), 0 when nothing is predicted positive.
	Precision float64 `json:"precision"`
	// Recall is TP/(TP+FN), 0 when there are no positives.
	Recall float64 `json:"recall"`
	// F1 is the harmonic mean of Precision and Recall, 0 when both are 0.
	F1 float64 `json:"f1"`
	// Accuracy is (TP+TN)/N.
	Accuracy float64 `json:"accuracy"`
}

// Threshold reports the confusion matrix, precision, recall, F1 and accuracy
// when rows with p >= threshold are predicted positive. The counts go into a
// golearn evaluation.ConfusionMatrix (reference class → predicted class →
// count, classes "1" and "0") and the rates come from golearn's evaluation
// package, which is pure Go; undefined ratios (0/0) are reported as 0, as
// scikit-learn does with zero_division=0.
func Threshold(y, p []float64, threshold float64) (*ThresholdMetrics, error) {
	if err := metCheck(y, p, false); err != nil {
		return nil, err
	}
	cm := evaluation.ConfusionMatrix{
		"1": {"1": 0, "0": 0},
		"0": {"1": 0, "0": 0},
	}
	for i, v := range p {
		ref, gen := "0", "0"
		if y[i] == 1 {
			ref = "1"
		}
		if v >= threshold {
			gen = "1"
		}
		cm[ref][gen]++
	}
	zeroNaN := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	return &ThresholdMetrics{
		Threshold: threshold,
		TP:        int(evaluation.GetTruePositives("1", cm)),
		FP:        int(evaluation.GetFalsePositives("1", cm)),
		TN:        int(evaluation.GetTrueNegatives("1", cm)),
		FN:        int(evaluation.GetFalseNegatives("1", cm)),
		Precision: zeroNaN(evaluation.GetPrecision("1", cm)),
		Recall:    zeroNaN(evaluation.GetRecall("1", cm)),
		F1:        zeroNaN(evaluation.GetF1Score("1", cm)),
		Accuracy:  zeroNaN(evaluation.GetAccuracy(cm)),
	}, nil
}
