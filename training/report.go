package training

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// ReportSchemaVersion is the version of the report.json schema written by
// (*Report).WriteJSON and documented in docs/report-schema.md. Adding a field
// keeps the version; renaming, removing or changing the meaning of one bumps
// it.
const ReportSchemaVersion = 1

// MaxReportImportance is the number of features kept in a feature
// importance list (the largest, see NewFeatureImportance).
const MaxReportImportance = 20

// ErrReport is returned (wrapped) when a Report cannot be written: a missing
// required part or a number JSON cannot encode (NaN or infinity).
var ErrReport = errors.New("training: invalid report")

// Report is everything a training run found out: what data it read, how the
// models did on data they never saw, against which baselines, and how the
// segments behave. It is written as report.json (WriteJSON, schema in
// docs/report-schema.md), report.html (WriteHTML) and a terminal summary
// (WriteSummary).
//
// Fields named by issue 3 are never omitted from the JSON: a part that does
// not apply is null (for example Holdout.OutOfTime.Propensity without a
// target event). Floats must be finite; use the pointer fields' nil for
// "undefined".
type Report struct {
	// SchemaVersion is ReportSchemaVersion; WriteJSON fills in 0.
	SchemaVersion int `json:"schema_version"`
	// CreatedAt is when training finished: the only wall-clock field.
	CreatedAt time.Time `json:"created_at"`
	// ModelVersion is model.Model.Version of the stored model.
	ModelVersion string `json:"model_version"`
	// Seed is the --seed every random step was derived from.
	Seed int64 `json:"seed"`
	// Flags are the command-line flags that shaped the run, by name without
	// dashes (e.g. "horizon": "30d"), as given or defaulted.
	Flags map[string]string `json:"flags"`

	// AsOf is T, the time the stored scores are computed at.
	AsOf time.Time `json:"as_of"`
	// HorizonDays is H in days.
	HorizonDays int `json:"horizon_days"`
	// TargetEvent is the propensity target; "" when there is none.
	TargetEvent string `json:"target_event"`
	// Cutoffs lists every snapshot, oldest first, with its role.
	Cutoffs []Cutoff `json:"cutoffs"`
	// NUsers is the number of eligible users scored as of AsOf (and stored).
	NUsers int `json:"n_users"`
	// BaseRate is the observed churn rate at the out-of-time snapshot T1
	// (eligible users at T1, labels from [T1, T1+H)).
	BaseRate float64 `json:"base_rate"`
	// PropensityBaseRate is the same for the target event; nil without one.
	PropensityBaseRate *float64 `json:"propensity_base_rate"`

	// Holdout holds the headline evaluation.
	Holdout Holdout `json:"holdout"`
	// Models lists the candidate classifiers of each task and the choice.
	Models Models `json:"models"`
	// Backtest holds the metrics at each snapshot, oldest first.
	Backtest []BacktestPoint `json:"backtest"`
	// Importance holds the feature importance of the chosen models.
	Importance Importances `json:"feature_importance"`

	// Data summarises the input events.
	Data DataSummary `json:"data"`
	// Checks are the data checks run before fitting, in the order run.
	Checks []Check `json:"checks"`
	// Anomalies is the isolation-forest screen; nil when it did not run.
	Anomalies *AnomalyScreen `json:"anomalies"`

	// Segments reports the segment families on the holdout.
	Segments Segments `json:"segments"`
	// Rules are the fitted segment rules stored with the model.
	Rules Rules `json:"rules"`

	// CustomerValue is the BG/NBD and Gamma-Gamma part: the fits behind
	// each user's p_alive, expected purchases and CLV, their distribution,
	// and whether P(alive) helps the churn model. Train always sets it
	// (with a note when a fit fails).
	CustomerValue *CustomerValueReport `json:"customer_value"`
}

// Snapshot roles, the values of Cutoff.Role.
const (
	// RoleFit marks a snapshot whose rows the candidate models are fitted on.
	RoleFit = "fit"
	// RoleValidation marks the snapshot used to early-stop, calibrate and
	// choose between candidates (the newest one before T1).
	RoleValidation = "validation"
	// RoleOutOfTime marks T1 = AsOf − H, the out-of-time evaluation snapshot.
	RoleOutOfTime = "out_of_time"
	// RoleScore marks AsOf itself: users scored, no labels yet.
	RoleScore = "score"
)

// Cutoff is one snapshot date and what it was used for.
type Cutoff struct {
	// Date is the snapshot cutoff.
	Date time.Time `json:"date"`
	// Role is RoleFit, RoleValidation, RoleOutOfTime or RoleScore.
	Role string `json:"role"`
	// Users is the number of eligible users at Date.
	Users int `json:"users"`
	// ChurnRate is the observed churn rate of those users; nil at RoleScore.
	ChurnRate *float64 `json:"churn_rate"`
	// PropensityRate is the observed target-event rate; nil without a
	// target event or at RoleScore.
	PropensityRate *float64 `json:"propensity_rate"`
}

// Holdout holds the two holdout evaluations.
type Holdout struct {
	// OutOfTime is the evaluation at T1 of models fitted on earlier snapshots.
	OutOfTime HoldoutSet `json:"out_of_time"`
	// HeldOutUsers is the evaluation on the deterministic share of users
	// never used in fitting.
	HeldOutUsers HoldoutSet `json:"held_out_users"`
}

// HoldoutSet is one holdout: the churn and propensity evaluations.
type HoldoutSet struct {
	// Description says which rows these are, e.g. "snapshot 2025-11-01,
	// labels from the following 30 days".
	Description string `json:"description"`
	// Churn is the churn model's evaluation; nil only when it was not run.
	Churn *TaskEval `json:"churn"`
	// Propensity is the propensity model's; nil without a target event.
	Propensity *TaskEval `json:"propensity"`
}

// TaskEval is the evaluation of one model on one holdout: every metric of
// Evaluation (flattened into the same JSON object: auc, pr_auc, log_loss,
// brier, ece, calibration, deciles, top_decile_lift, top, roc, gains), the
// classifier kind, and the baselines on the same rows.
type TaskEval struct {
	Evaluation
	// Model is the classifier kind evaluated (model.KindLogistic or
	// model.KindGBDT).
	Model string `json:"model"`
	// NTotal is the number of rows of the evaluation set; N of them were
	// evaluated (all when it is at most Config.MaxEvalRows, otherwise a
	// sample of whole users by a keyed hash of the user id). NewTaskEval
	// sets it to N.
	NTotal int `json:"n_total"`
	// Baselines are the simple scores the model is compared with.
	Baselines Baselines `json:"baselines"`
}

// Baselines are simple scores on the same rows as the model.
type Baselines struct {
	// Recency ranks by days since the last activity (churn) or since the
	// last purchase (propensity, fewest first).
	Recency ScoreBaseline `json:"recency"`
	// RFM ranks by the RFM score R+F+M.
	RFM ScoreBaseline `json:"rfm"`
	// BaseRate predicts the training base rate for everyone.
	BaseRate ConstantBaseline `json:"base_rate"`
}

// ScoreBaseline is a ranking baseline: a score that orders users but is no
// probability, so only ranking metrics apply.
type ScoreBaseline struct {
	// AUC is the baseline's ROC AUC.
	AUC float64 `json:"auc"`
	// PRAUC is its average precision.
	PRAUC float64 `json:"pr_auc"`
	// TopDecileLift is its top-decile lift.
	TopDecileLift float64 `json:"top_decile_lift"`
	// AUCGain is the model's AUC minus the baseline's.
	AUCGain float64 `json:"auc_gain"`
	// ROC and Gains are the baseline's curves, for plotting.
	ROC   []CurvePoint `json:"roc"`
	Gains []CurvePoint `json:"gains"`
}

// ConstantBaseline predicts one probability for every row.
type ConstantBaseline struct {
	// Rate is the constant probability (the base rate of the fitting rows).
	Rate float64 `json:"rate"`
	// LogLoss and Brier are its scores on the holdout rows.
	LogLoss float64 `json:"log_loss"`
	Brier   float64 `json:"brier"`
	// LogLossGain is the baseline's log loss minus the model's (positive
	// when the model is better).
	LogLossGain float64 `json:"log_loss_gain"`
	// Skill is 1 − model log loss / baseline log loss: the share of the
	// baseline's log loss the model removes (0 when the baseline's is 0).
	Skill float64 `json:"skill"`
}

// NewTaskEval evaluates calibrated probabilities p for labels y (see
// Evaluate) and compares them with the baselines on the same rows.
// recency and rfm are the baseline scores, oriented so that a higher score
// means a positive label is more likely (for churn: days since the last
// activity and −(R+F+M); for propensity: −days and R+F+M). trainRate is the
// positive rate of the rows the model was fitted on, the constant baseline.
// kind names the classifier.
func NewTaskEval(kind string, y, p, recency, rfm []float64, trainRate float64) (*TaskEval, error) {
	e, err := Evaluate(y, p)
	if err != nil {
		return nil, fmt.Errorf("training: evaluate %s model: %w", kind, err)
	}
	if math.IsNaN(trainRate) || trainRate < 0 || trainRate > 1 {
		return nil, fmt.Errorf("training: base rate %v not in [0, 1]: %w", trainRate, ErrScore)
	}
	te := &TaskEval{Evaluation: *e, Model: kind, NTotal: e.N}
	for _, b := range []struct {
		name string
		s    []float64
		dst  *ScoreBaseline
	}{{"recency", recency, &te.Baselines.Recency}, {"rfm", rfm, &te.Baselines.RFM}} {
		sb, err := newScoreBaseline(y, b.s, e.AUC)
		if err != nil {
			return nil, fmt.Errorf("training: %s baseline: %w", b.name, err)
		}
		*b.dst = sb
	}
	c := make([]float64, len(y))
	for i := range c {
		c[i] = trainRate
	}
	cb := ConstantBaseline{Rate: trainRate, LogLoss: metLogLoss(y, c), Brier: metBrier(y, c)}
	cb.LogLossGain = cb.LogLoss - e.LogLoss
	if cb.LogLoss > 0 {
		cb.Skill = 1 - e.LogLoss/cb.LogLoss
	}
	te.Baselines.BaseRate = cb
	return te, nil
}

func newScoreBaseline(y, s []float64, modelAUC float64) (ScoreBaseline, error) {
	if err := metCheck(y, s, false); err != nil {
		return ScoreBaseline{}, err
	}
	r := metRank(y, s)
	if err := r.needBothClasses(); err != nil {
		return ScoreBaseline{}, err
	}
	b := ScoreBaseline{AUC: r.auc(), PRAUC: r.averagePrecision()}
	b.TopDecileLift = r.atTop(0.10).Precision / (float64(r.pos) / float64(r.n))
	b.AUCGain = modelAUC - b.AUC
	b.ROC, b.Gains = r.curves(MaxCurvePoints)
	return b, nil
}

// Models lists the candidates of each task.
type Models struct {
	// Churn is the churn model choice.
	Churn *ModelChoice `json:"churn"`
	// Propensity is the propensity model choice; nil without a target event.
	Propensity *ModelChoice `json:"propensity"`
}

// ModelChoice is the candidates fitted for one task and the one kept.
type ModelChoice struct {
	// Candidates are the classifiers fitted, in the order fitted.
	Candidates []Candidate `json:"candidates"`
	// Chosen is the Kind of the candidate kept.
	Chosen string `json:"chosen"`
	// Reason says why, e.g. "lowest validation log loss (0.412 vs 0.431)".
	Reason string `json:"reason"`
	// Calibration is the calibrator of the chosen model: "platt",
	// "isotonic" or "none".
	Calibration string `json:"calibration"`
}

// Candidate is one fitted classifier, scored on the validation snapshot.
type Candidate struct {
	// Kind is model.KindLogistic or model.KindGBDT.
	Kind string `json:"kind"`
	// ValidLogLoss is the calibrated log loss on the validation rows: the
	// choice criterion.
	ValidLogLoss float64 `json:"valid_log_loss"`
	// ValidAUC is the ROC AUC on the validation rows.
	ValidAUC float64 `json:"valid_auc"`
	// TrainRows and ValidRows are the rows fitted on and validated on.
	TrainRows int `json:"train_rows"`
	ValidRows int `json:"valid_rows"`
	// Params are the fitted or chosen hyperparameters by name, e.g.
	// "l2", "trees", "learning_rate".
	Params map[string]float64 `json:"params"`
	// FitSeconds is the fitting time; 0 when not measured. It is the only
	// field besides created_at that differs between identical runs, so
	// deterministic callers leave it 0.
	FitSeconds float64 `json:"fit_seconds"`
}

// BacktestPoint is the evaluation at one snapshot, of a model fitted on the
// snapshots before it.
type BacktestPoint struct {
	// Cutoff is the snapshot date.
	Cutoff time.Time `json:"cutoff"`
	// Churn are the churn metrics; nil when the snapshot could not be
	// evaluated (one class only).
	Churn *BacktestMetrics `json:"churn"`
	// Propensity are the propensity metrics; nil without a target event.
	Propensity *BacktestMetrics `json:"propensity"`
}

// BacktestMetrics are the scalar metrics of one evaluation.
type BacktestMetrics struct {
	// N and BaseRate describe the rows evaluated, a sample of the NTotal
	// rows of the snapshot when there are more than Config.MaxEvalRows.
	N        int     `json:"n"`
	NTotal   int     `json:"n_total"`
	BaseRate float64 `json:"base_rate"`
	// AUC, PRAUC, LogLoss, Brier, ECE and TopDecileLift are as in
	// Evaluation.
	AUC           float64 `json:"auc"`
	PRAUC         float64 `json:"pr_auc"`
	LogLoss       float64 `json:"log_loss"`
	Brier         float64 `json:"brier"`
	ECE           float64 `json:"ece"`
	TopDecileLift float64 `json:"top_decile_lift"`
	// RecencyAUC is the recency baseline's AUC on the same rows.
	RecencyAUC float64 `json:"recency_auc"`
}

// NewBacktestMetrics takes the scalar metrics of a TaskEval.
func NewBacktestMetrics(te *TaskEval) *BacktestMetrics {
	if te == nil {
		return nil
	}
	return &BacktestMetrics{
		N: te.N, NTotal: te.NTotal, BaseRate: te.BaseRate, AUC: te.AUC, PRAUC: te.PRAUC,
		LogLoss: te.LogLoss, Brier: te.Brier, ECE: te.ECE,
		TopDecileLift: te.TopDecileLift, RecencyAUC: te.Baselines.Recency.AUC,
	}
}

// Importances holds the feature importance of each task's chosen model.
type Importances struct {
	// Churn is the churn model's; nil when not computed.
	Churn *FeatureImportance `json:"churn"`
	// Propensity is the propensity model's; nil without a target event.
	Propensity *FeatureImportance `json:"propensity"`
}

// Importance methods, the values of FeatureImportance.Method.
const (
	// ImportanceGain is the trees' total split gain share
	// (model.Trees.Importance).
	ImportanceGain = "gain"
	// ImportanceCoef is |weight| of the logistic regression on standardised
	// features, normalised to sum to 1.
	ImportanceCoef = "abs_std_coef"
)

// FeatureImportance is the top of a model's feature importance.
type FeatureImportance struct {
	// Model is the classifier kind.
	Model string `json:"model"`
	// Method is ImportanceGain or ImportanceCoef.
	Method string `json:"method"`
	// Features are the at most MaxReportImportance largest, largest first.
	Features []FeatureWeight `json:"features"`
}

// FeatureWeight is one feature's importance.
type FeatureWeight struct {
	Feature    string  `json:"feature"`
	Importance float64 `json:"importance"`
}

// NewFeatureImportance keeps the MaxReportImportance largest of the
// importances imp of features names (same length), largest first, ties by
// name. Zero importances are kept only to fill the list when fewer features
// have any.
func NewFeatureImportance(kind, method string, names []string, imp []float64) (*FeatureImportance, error) {
	if len(names) != len(imp) {
		return nil, fmt.Errorf("training: %d importances for %d features: %w", len(imp), len(names), ErrShape)
	}
	fw := make([]FeatureWeight, len(names))
	for i, n := range names {
		if math.IsNaN(imp[i]) || math.IsInf(imp[i], 0) {
			return nil, fmt.Errorf("training: importance of %q is %v: %w", n, imp[i], ErrScore)
		}
		fw[i] = FeatureWeight{n, imp[i]}
	}
	slices.SortStableFunc(fw, func(a, b FeatureWeight) int {
		if c := cmp.Compare(b.Importance, a.Importance); c != 0 {
			return c
		}
		return cmp.Compare(a.Feature, b.Feature)
	})
	if len(fw) > MaxReportImportance {
		fw = fw[:MaxReportImportance]
	}
	return &FeatureImportance{Model: kind, Method: method, Features: fw}, nil
}

// DataSummary describes the events read.
type DataSummary struct {
	// Files are the inputs, in order.
	Files []string `json:"files"`
	// Rows is the number of data rows read, rejected ones included.
	Rows int64 `json:"rows"`
	// Events is the number of events accepted.
	Events int64 `json:"events"`
	// Users is the number of distinct users among them.
	Users int `json:"users"`
	// FirstEvent and LastEvent bound the event times (zero without events).
	FirstEvent time.Time `json:"first_event"`
	LastEvent  time.Time `json:"last_event"`
	// BadRows is the number of rejected rows; BadRowsByReason splits it by
	// reason (the error text of the features sentinel).
	BadRows         int64            `json:"bad_rows"`
	BadRowsByReason map[string]int64 `json:"bad_rows_by_reason"`
	// DuplicatesDropped counts exact duplicate rows dropped.
	DuplicatesDropped int64 `json:"duplicates_dropped"`
	// AfterAsOf counts events at or after AsOf (labels only).
	AfterAsOf int64 `json:"after_as_of"`
	// Refunds counts negative-amount events.
	Refunds int64 `json:"refunds"`
	// EventTypes counts events by name.
	EventTypes map[string]int64 `json:"event_types"`
}

// NewDataSummary converts the reader's statistics.
func NewDataSummary(s *features.ReadStats) DataSummary {
	d := DataSummary{
		Files: []string{}, Rows: s.Rows, Events: s.Events, Users: s.Users,
		FirstEvent: s.MinTime, LastEvent: s.MaxTime, BadRows: s.Bad,
		BadRowsByReason: map[string]int64{}, DuplicatesDropped: s.DuplicatesDropped,
		AfterAsOf: s.AfterAsOf, Refunds: s.Refunds, EventTypes: map[string]int64{},
	}
	for _, src := range s.Sources {
		d.Files = append(d.Files, src.Name)
	}
	for err, n := range s.BadByReason {
		d.BadRowsByReason[err.Error()] += n
	}
	for name, n := range s.EventTypes {
		d.EventTypes[name] = n
	}
	return d
}

// Check is one data check run before fitting.
type Check struct {
	// Name identifies the check, e.g. "min_users", "min_positives_churn",
	// "horizon_covered".
	Name string `json:"name"`
	// Passed says whether the data met the requirement.
	Passed bool `json:"passed"`
	// Value is what the data has and Need what the check requires
	// (both as text, e.g. "12840" and ">= 1000").
	Value string `json:"value"`
	Need  string `json:"need"`
	// Message explains a failure or a warning ("" when nothing to say).
	Message string `json:"message"`
}

// AnomalyScreen is the isolation-forest screen for bot, test and bulk
// accounts before fitting.
type AnomalyScreen struct {
	// Method names the detector, e.g. "golearn isolation forest".
	Method string `json:"method"`
	// Trees and SampleSize are the forest's size.
	Trees      int `json:"trees"`
	SampleSize int `json:"sample_size"`
	// Threshold is the anomaly score at or above which a user is flagged.
	Threshold float64 `json:"threshold"`
	// Scored is the number of users screened; Flagged those flagged.
	Scored  int `json:"scored"`
	Flagged int `json:"flagged"`
	// ExcludedFromFit says whether flagged users were left out of fitting
	// (they are still scored).
	ExcludedFromFit bool `json:"excluded_from_fit"`
	// Examples are up to 10 flagged user ids, highest score first.
	Examples []string `json:"examples"`
}

// Segment family names, the values of SegmentFamily.Family.
const (
	FamilyCluster   = "cluster"
	FamilyRFM       = "rfm"
	FamilyLifecycle = "lifecycle"
	FamilyUsageTier = "usage_tier"
	FamilyRiskBand  = "risk_band"
)

// Segments reports each segment family on the holdout and how families
// overlap.
type Segments struct {
	// Cluster is the behavioural clusters; nil when there were too few
	// users to cluster.
	Cluster *SegmentFamily `json:"cluster"`
	// RFM is the named RFM segments.
	RFM *SegmentFamily `json:"rfm"`
	// Lifecycle is the lifecycle stages.
	Lifecycle *SegmentFamily `json:"lifecycle"`
	// UsageTier is the usage tiers.
	UsageTier *SegmentFamily `json:"usage_tier"`
	// RiskBand is the risk bands.
	RiskBand *SegmentFamily `json:"risk_band"`
	// Overlap holds contingency tables between pairs of families.
	Overlap []Contingency `json:"overlap"`
	// ClusterProfiles are the behavioural clusters' profiles; empty
	// without clusters.
	ClusterProfiles []model.ClusterProfile `json:"cluster_profiles"`
}

// Families returns the non-nil families in report order: cluster, rfm,
// lifecycle, usage_tier, risk_band.
func (s *Segments) Families() []*SegmentFamily {
	var out []*SegmentFamily
	for _, f := range []*SegmentFamily{s.Cluster, s.RFM, s.Lifecycle, s.UsageTier, s.RiskBand} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// SegmentFamily is one way of cutting users into segments, measured on the
// out-of-time snapshot T1 (whose churn labels are known).
type SegmentFamily struct {
	// Family is one of the Family* names.
	Family string `json:"family"`
	// Snapshot is the cutoff the sizes and rates are measured at (T1).
	Snapshot time.Time `json:"snapshot"`
	// Segments are the segments in the family's natural order (e.g. risk
	// band high, medium, low), including empty ones.
	Segments []SegmentStat `json:"segments"`
	// Stability is the share of users in the same segment at consecutive
	// snapshots, one entry per pair, oldest first; empty with one snapshot.
	Stability []Stability `json:"stability"`
	// Transitions is the transition matrix between the last two snapshots
	// before and at T1 (rows: segment at From; columns: segment at To); nil
	// with one snapshot.
	Transitions *Contingency `json:"transitions"`
}

// SegmentStat is one segment's size and observed outcome.
type SegmentStat struct {
	// Name is the segment's name.
	Name string `json:"name"`
	// Users is the number of users in it; Share is Users over the family's
	// total.
	Users int     `json:"users"`
	Share float64 `json:"share"`
	// ChurnRate is the observed churn rate in the horizon after the
	// snapshot; nil for an empty segment.
	ChurnRate *float64 `json:"churn_rate"`
	// MeanChurnProbability is the mean predicted (calibrated) churn
	// probability; nil for an empty segment.
	MeanChurnProbability *float64 `json:"mean_churn_probability"`
}

// NewSegmentStats counts users by segment and their observed churn rate
// and mean predicted probability. labels[i] is user i's segment, churned[i]
// its churn label (0 or 1) and prob[i] its predicted churn probability (prob
// may be nil). order lists the segments in display order; segments seen in
// labels but not in order follow in name order.
func NewSegmentStats(order, labels []string, churned, prob []float64) ([]SegmentStat, error) {
	if len(churned) != len(labels) || (prob != nil && len(prob) != len(labels)) {
		return nil, fmt.Errorf("training: %d labels, %d outcomes, %d probabilities: %w",
			len(labels), len(churned), len(prob), ErrShape)
	}
	names := segOrder(order, labels)
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	users := make([]int, len(names))
	pos := make([]float64, len(names))
	psum := make([]float64, len(names))
	for i, l := range labels {
		k := idx[l]
		users[k]++
		if churned[i] != 0 && churned[i] != 1 {
			return nil, fmt.Errorf("training: segment outcome %v: %w", churned[i], ErrLabel)
		}
		pos[k] += churned[i]
		if prob != nil {
			psum[k] += prob[i]
		}
	}
	out := make([]SegmentStat, len(names))
	for k, n := range names {
		out[k] = SegmentStat{Name: n, Users: users[k]}
		if len(labels) > 0 {
			out[k].Share = float64(users[k]) / float64(len(labels))
		}
		if users[k] > 0 {
			r := pos[k] / float64(users[k])
			out[k].ChurnRate = &r
			if prob != nil {
				m := psum[k] / float64(users[k])
				out[k].MeanChurnProbability = &m
			}
		}
	}
	return out, nil
}

// segOrder returns order followed by the labels not in it, sorted.
func segOrder(order, labels []string) []string {
	seen := make(map[string]bool, len(order))
	names := append([]string(nil), order...)
	for _, n := range order {
		seen[n] = true
	}
	var extra []string
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			extra = append(extra, l)
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// Stability is the share of users who stayed in the same segment between
// two snapshots.
type Stability struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Users is the number of users segmented at both snapshots.
	Users int `json:"users"`
	// Same is the share of them in the same segment at both (0 when Users
	// is 0).
	Same float64 `json:"same"`
}

// Contingency is a table of counts of users by two segmentations: a
// transition matrix (the same family at two snapshots) or an overlap table
// (two families at one snapshot).
type Contingency struct {
	// RowFamily and ColFamily name the segmentations (for a transition
	// matrix both are the family's name).
	RowFamily string `json:"row_family"`
	ColFamily string `json:"col_family"`
	// From and To are the snapshots of rows and columns (equal for an
	// overlap table).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Rows and Cols are the segment names.
	Rows []string `json:"rows"`
	Cols []string `json:"cols"`
	// Counts[i][j] is the number of users in Rows[i] and Cols[j].
	Counts [][]int `json:"counts"`
	// Users is the total count.
	Users int `json:"users"`
	// Diagonal is the share of users whose row and column segment have the
	// same name: the stability of a transition matrix.
	Diagonal float64 `json:"diagonal"`
	// CramersV measures the association of rows and columns, 0 (none) to 1
	// (one determines the other); 0 when a margin has a single non-empty
	// segment.
	CramersV float64 `json:"cramers_v"`
}

// NewContingency counts users by (rows[i], cols[i]). rowOrder and colOrder
// give the display order of the segments (others follow by name); the
// families and snapshot dates are only recorded.
func NewContingency(rowFamily, colFamily string, from, to time.Time, rowOrder, colOrder, rows, cols []string) (*Contingency, error) {
	if len(rows) != len(cols) {
		return nil, fmt.Errorf("training: contingency of %d and %d labels: %w", len(rows), len(cols), ErrShape)
	}
	c := &Contingency{
		RowFamily: rowFamily, ColFamily: colFamily, From: from, To: to,
		Rows: segOrder(rowOrder, rows), Cols: segOrder(colOrder, cols), Users: len(rows),
	}
	ri := make(map[string]int, len(c.Rows))
	for i, n := range c.Rows {
		ri[n] = i
	}
	ci := make(map[string]int, len(c.Cols))
	for j, n := range c.Cols {
		ci[n] = j
	}
	c.Counts = make([][]int, len(c.Rows))
	for i := range c.Counts {
		c.Counts[i] = make([]int, len(c.Cols))
	}
	same := 0
	for i := range rows {
		c.Counts[ri[rows[i]]][ci[cols[i]]]++
		if rows[i] == cols[i] {
			same++
		}
	}
	if c.Users > 0 {
		c.Diagonal = float64(same) / float64(c.Users)
	}
	c.CramersV = cramersV(c.Counts, c.Users)
	return c, nil
}

// cramersV is sqrt(χ² / (n · (min(r, c) − 1))) over the non-empty rows and
// columns.
func cramersV(counts [][]int, n int) float64 {
	if n == 0 {
		return 0
	}
	var rs, cs []float64
	rowSum := make([]float64, len(counts))
	var colSum []float64
	if len(counts) > 0 {
		colSum = make([]float64, len(counts[0]))
	}
	for i, row := range counts {
		for j, v := range row {
			rowSum[i] += float64(v)
			colSum[j] += float64(v)
		}
	}
	for _, v := range rowSum {
		if v > 0 {
			rs = append(rs, v)
		}
	}
	for _, v := range colSum {
		if v > 0 {
			cs = append(cs, v)
		}
	}
	k := min(len(rs), len(cs))
	if k < 2 {
		return 0
	}
	chi2 := 0.0
	N := float64(n)
	for i, row := range counts {
		if rowSum[i] == 0 {
			continue
		}
		for j, v := range row {
			if colSum[j] == 0 {
				continue
			}
			e := rowSum[i] * colSum[j] / N
			d := float64(v) - e
			chi2 += d * d / e
		}
	}
	return math.Sqrt(chi2 / (N * float64(k-1)))
}

// Rules are the fitted segment rules, as stored in the model.
type Rules struct {
	// RiskBands are the cut points on calibrated churn probability.
	RiskBands model.RiskBands `json:"risk_bands"`
	// Lifecycle are the lifecycle stage thresholds in days.
	Lifecycle model.LifecycleRules `json:"lifecycle"`
	// RFM are the quintile edges.
	RFM model.RFMRules `json:"rfm"`
	// UsageTiers are the usage-tier cut points.
	UsageTiers model.TierRules `json:"usage_tiers"`
}

// WriteJSON writes r as indented JSON (schema: docs/report-schema.md).
// Map keys are sorted, so the same report gives the same bytes.
func (r *Report) WriteJSON(w io.Writer) error {
	if r == nil {
		return fmt.Errorf("training: write report json: nil report: %w", ErrReport)
	}
	c := *r
	if c.SchemaVersion == 0 {
		c.SchemaVersion = ReportSchemaVersion
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("training: write report json: %w: %w", ErrReport, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("training: write report json: %w", err)
	}
	return nil
}

// WriteSummary writes the plain-text summary `lapse train` prints at the
// end: 10 to 20 lines with the model, the data, the headline metrics
// against the baselines, the segments, the customer-value fits with the
// P(alive) verdict, and how many users were scored.
func (r *Report) WriteSummary(w io.Writer) error {
	if r == nil {
		return fmt.Errorf("training: write summary: nil report: %w", ErrReport)
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	version := r.ModelVersion
	if version == "" {
		version = "(unversioned)"
	}
	p("lapse train: model %s, seed %d", version, r.Seed)
	var cuts []string
	for _, c := range r.Cutoffs {
		cuts = append(cuts, rptDate(c.Date)+" "+strings.ReplaceAll(c.Role, "_", "-"))
	}
	p("  as of %s, horizon %d days; snapshots: %s", rptDate(r.AsOf), r.HorizonDays, orNone(strings.Join(cuts, ", ")))
	d := r.Data
	line := fmt.Sprintf("  data: %s events, %s users, %s to %s", rptInt(d.Events), rptInt(d.Users), rptDate(d.FirstEvent), rptDate(d.LastEvent))
	if d.Rows > 0 {
		line += fmt.Sprintf("; %s bad rows of %s", rptInt(d.BadRows), rptInt(d.Rows))
	}
	p("%s", line)
	nPass, failed := 0, []string(nil)
	for _, c := range r.Checks {
		if c.Passed {
			nPass++
		} else {
			failed = append(failed, c.Name)
		}
	}
	line = fmt.Sprintf("  checks: %d passed", nPass)
	if len(failed) > 0 {
		line += fmt.Sprintf(", %d failed (%s)", len(failed), strings.Join(failed, ", "))
	}
	if a := r.Anomalies; a != nil {
		line += fmt.Sprintf("; anomaly screen flagged %s of %s users", rptInt(a.Flagged), rptInt(a.Scored))
		if a.ExcludedFromFit {
			line += " (left out of fitting)"
		}
	}
	p("%s", line)
	for _, t := range []struct {
		name     string
		oot, hou *TaskEval
		choice   *ModelChoice
	}{
		{"churn", r.Holdout.OutOfTime.Churn, r.Holdout.HeldOutUsers.Churn, r.Models.Churn},
		{"propensity", r.Holdout.OutOfTime.Propensity, r.Holdout.HeldOutUsers.Propensity, r.Models.Propensity},
	} {
		if t.oot == nil {
			if t.name == "propensity" && r.TargetEvent == "" {
				p("propensity: no target event, no model")
			} else {
				p("%s: not evaluated", t.name)
			}
			continue
		}
		head := t.name
		if t.name == "propensity" && r.TargetEvent != "" {
			head += " (" + r.TargetEvent + ")"
		}
		head += ": " + t.oot.Model
		if c := t.choice; c != nil && c.Reason != "" {
			head += ", " + c.Reason
		}
		p("%s", head)
		e := t.oot
		p("  out-of-time: AUC %s (recency %s, RFM %s), PR AUC %s, log loss %s (base rate alone %s), ECE %s",
			rptF3(e.AUC), rptF3(e.Baselines.Recency.AUC), rptF3(e.Baselines.RFM.AUC), rptF3(e.PRAUC),
			rptF3(e.LogLoss), rptF3(e.Baselines.BaseRate.LogLoss), rptF3(e.ECE))
		top := rptTop(e, 0.10)
		p("  top decile lift %s; top 10%%: precision %s, recall %s", rptLift(e.TopDecileLift), rptPct(top.Precision), rptPct(top.Recall))
		if t.hou != nil {
			p("  held-out users: AUC %s, log loss %s", rptF3(t.hou.AUC), rptF3(t.hou.LogLoss))
		}
		if !(e.AUC > e.Baselines.Recency.AUC) {
			p("  WARNING: the %s model does not beat recency alone out-of-time", t.name)
		}
	}
	if f := r.Segments.RiskBand; f != nil {
		var parts []string
		for _, s := range f.Segments {
			parts = append(parts, fmt.Sprintf("%s %s (churn %s)", s.Name, rptPct(s.Share), rptPctPtr(s.ChurnRate)))
		}
		p("risk bands: %s", orNone(strings.Join(parts, ", ")))
	}
	var stab []string
	for _, f := range r.Segments.Families() {
		if k := len(f.Stability); k > 0 {
			stab = append(stab, fmt.Sprintf("%s %s", f.Family, rptPct(f.Stability[k-1].Same)))
		}
	}
	if len(stab) > 0 {
		p("segment stability: %s", strings.Join(stab, ", "))
	}
	for _, line := range rptValueSummary(r.CustomerValue) {
		p("%s", line)
	}
	p("scored %s users as of %s", rptInt(r.NUsers), rptDate(r.AsOf))
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("training: write summary: %w", err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
