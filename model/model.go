package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// FormatVersion is the version of the encoded Model written by Encode.
// Decode accepts this version only; a change to the meaning of any field
// bumps it.
const FormatVersion = 1

// Classifier kinds, the values of Classifier.Kind.
const (
	// KindLogistic is an L2-regularised logistic regression on transformed
	// (log1p, standardised) features.
	KindLogistic = "logistic"
	// KindGBDT is a histogram gradient-boosted tree ensemble on raw features.
	KindGBDT = "gbdt"
)

// Errors returned by Decode, Validate and Score.
var (
	// ErrFormat means the encoded model is not valid JSON or has an
	// unsupported format version.
	ErrFormat = errors.New("model: unsupported or corrupt model encoding")
	// ErrInvalid means a decoded or assembled model is inconsistent.
	ErrInvalid = errors.New("model: invalid model")
	// ErrVectorLength means a feature vector does not match the model's
	// feature list.
	ErrVectorLength = errors.New("model: feature vector has the wrong length")
)

// Model is one trained, immutable model version: everything needed to turn
// a point-in-time feature vector into a churn score, a purchase score,
// segment labels and the reasons behind the score.
//
// A Model is plain data. It is safe for concurrent use once Prepare (or
// Decode, which calls it) has returned.
type Model struct {
	// Format is FormatVersion for models written by this code.
	Format int `json:"format"`
	// Version identifies the model: the as-of date and a hash of the fitted
	// content, e.g. "2026-11-21-3fa2c9d1". Training sets it.
	Version string `json:"version"`
	// CreatedAt is when training finished (wall clock; the only field that
	// differs between two runs on the same data and seed).
	CreatedAt time.Time `json:"created_at"`
	// AsOf is the cutoff T the stored scores are computed at.
	AsOf time.Time `json:"as_of"`
	// HorizonDays is the label horizon H: churn means no activity in [T, T+H).
	HorizonDays int `json:"horizon_days"`
	// TargetEvent is the event whose occurrence the propensity model scores.
	TargetEvent string `json:"target_event,omitempty"`
	// DataFingerprint is a hash of the training inputs (files, sizes, flags).
	DataFingerprint string `json:"data_fingerprint"`
	// Spec is the features.Spec (JSON) the feature vectors are built with.
	// The model package keeps it opaque so that it imports nothing of lapse.
	Spec json.RawMessage `json:"spec"`
	// Features names the columns of the feature vectors, in order.
	Features []string `json:"features"`
	// Churn is the calibrated churn classifier.
	Churn *Classifier `json:"churn"`
	// Propensity is the calibrated classifier for the target event; nil when
	// the data has no target event.
	Propensity *Classifier `json:"propensity,omitempty"`
	// Bands are the risk-band cut points on the calibrated churn probability.
	Bands RiskBands `json:"risk_bands"`
	// Clusters are the behavioural segments; nil when too few users to cluster.
	Clusters *Clusters `json:"clusters,omitempty"`
	// RFM holds the quintile edges for recency, frequency and monetary value.
	RFM RFMRules `json:"rfm"`
	// Lifecycle holds the day thresholds of the lifecycle stages.
	Lifecycle LifecycleRules `json:"lifecycle"`
	// Tiers holds the usage-tier cut points.
	Tiers TierRules `json:"usage_tiers"`
	// Value is the customer-base part (BG/NBD, Gamma-Gamma) behind each
	// user's P(alive), expected purchases and CLV; nil when the data has
	// no purchases before AsOf or the BG/NBD fit failed (the training
	// report says why).
	Value *CustomerValue `json:"customer_value,omitempty"`
	// Metrics holds headline evaluation numbers for listings
	// (e.g. "churn_auc_oot"); the full report is stored beside the model.
	Metrics map[string]float64 `json:"metrics,omitempty"`

	index map[string]int // feature name -> column, built by Prepare
}

// Classifier is one calibrated binary classifier.
type Classifier struct {
	// Kind is KindLogistic or KindGBDT.
	Kind string `json:"kind"`
	// Transform maps raw features into the logistic model's input space;
	// nil for trees, which split raw values.
	Transform *Transform `json:"transform,omitempty"`
	// Logistic holds the weights when Kind is KindLogistic.
	Logistic *Logistic `json:"logistic,omitempty"`
	// Trees holds the ensemble when Kind is KindGBDT.
	Trees *Trees `json:"trees,omitempty"`
	// Calibration maps the raw probability to a calibrated one.
	Calibration *Calibration `json:"calibration,omitempty"`
	// BaseRate is the positive rate of the rows the classifier was fitted on.
	BaseRate float64 `json:"base_rate"`
}

// Raw returns the uncalibrated probability of x and the signed per-feature
// contributions to its log-odds (positive pushes the probability up).
// contrib may be nil; when not, it must have len(x) and is filled in.
func (c *Classifier) Raw(x, contrib []float64) float64 {
	return c.raw(x, contrib, nil)
}

// raw is Raw with z (len(x), or nil) as the buffer of the transformed
// inputs.
func (c *Classifier) raw(x, contrib, z []float64) float64 {
	switch c.Kind {
	case KindLogistic:
		z = c.Transform.Apply(z, x)
		if contrib != nil {
			c.Logistic.contributions(contrib, z)
		}
		return c.Logistic.Prob(z)
	case KindGBDT:
		if contrib != nil {
			c.Trees.contributions(contrib, x)
		}
		return c.Trees.Prob(x)
	}
	panic("model: unknown classifier kind " + c.Kind)
}

// contributions sets contrib to the per-feature contributions Raw(x,
// contrib) gives, without the probability.
func (c *Classifier) contributions(x, contrib []float64) {
	switch c.Kind {
	case KindLogistic:
		c.Logistic.contributions(contrib, c.Transform.Apply(nil, x))
	case KindGBDT:
		c.Trees.contributions(contrib, x)
	default:
		panic("model: unknown classifier kind " + c.Kind)
	}
}

// Prob returns the calibrated probability of x.
func (c *Classifier) Prob(x []float64) float64 {
	return c.Calibration.Apply(c.Raw(x, nil))
}

func (c *Classifier) validate(n int) error {
	var errs []error
	switch c.Kind {
	case KindLogistic:
		if c.Transform == nil || c.Logistic == nil {
			errs = append(errs, errors.New("logistic classifier needs transform and weights"))
			break
		}
		if c.Transform.Len() != n || len(c.Logistic.Weights) != n {
			errs = append(errs, fmt.Errorf("logistic classifier has %d transforms and %d weights, want %d",
				c.Transform.Len(), len(c.Logistic.Weights), n))
		}
		if err := c.Transform.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.Logistic.Mean != nil && len(c.Logistic.Mean) != n {
			errs = append(errs, fmt.Errorf("logistic classifier has %d means, want %d", len(c.Logistic.Mean), n))
		}
		for j, w := range c.Logistic.Weights {
			if math.IsNaN(w) || math.IsInf(w, 0) {
				errs = append(errs, fmt.Errorf("logistic weight %d is %v", j, w))
			}
		}
	case KindGBDT:
		if c.Trees == nil {
			errs = append(errs, errors.New("gbdt classifier has no trees"))
			break
		}
		if c.Trees.NumFeatures != n {
			errs = append(errs, fmt.Errorf("gbdt classifier scores %d features, want %d", c.Trees.NumFeatures, n))
		}
		if err := c.Trees.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("unknown classifier kind %q", c.Kind))
	}
	if c.Calibration != nil {
		if err := c.Calibration.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RiskBands holds the cut points on calibrated churn probability:
// p >= High is "high", p >= Medium is "medium", anything lower is "low".
type RiskBands struct {
	Medium float64 `json:"medium"`
	High   float64 `json:"high"`
}

// Risk band names.
const (
	BandLow    = "low"
	BandMedium = "medium"
	BandHigh   = "high"
)

// Band returns the risk band of a calibrated churn probability.
func (b RiskBands) Band(p float64) string {
	switch {
	case p >= b.High:
		return BandHigh
	case p >= b.Medium:
		return BandMedium
	}
	return BandLow
}

// Prediction is everything lapse says about one user.
type Prediction struct {
	// ChurnProbability is the calibrated probability of no activity in the horizon.
	ChurnProbability float64 `json:"churn_probability"`
	// RiskBand is "high", "medium" or "low".
	RiskBand string `json:"risk_band"`
	// PurchaseProbability is the calibrated probability of the target event
	// in the horizon; nil when the model has no propensity classifier.
	PurchaseProbability *float64 `json:"purchase_probability"`
	// Segment is the behavioural cluster's name ("" without clusters).
	Segment string `json:"segment"`
	// RFMSegment is the named RFM segment, e.g. "Champions".
	RFMSegment string `json:"rfm_segment"`
	// RFM holds the 1-5 quintile scores.
	RFM RFMScore `json:"rfm"`
	// LifecycleStage is new, active, at-risk, dormant, churned or reactivated.
	LifecycleStage string `json:"lifecycle_stage"`
	// UsageTier is power, regular, light or ex-user.
	UsageTier string `json:"usage_tier"`
	// Reasons are the top signed drivers of the churn score, strongest first.
	Reasons []Reason `json:"reasons"`
	// UserValue holds P(alive), the expected purchase days over the
	// model's horizon and CLV (JSON p_alive, expected_purchases, clv; each
	// null when unavailable). Score leaves them nil: they need the user's
	// purchase days (Model.UserValue), which a feature vector does not
	// carry.
	UserValue
}

// NumReasons is how many drivers Score returns.
const NumReasons = 3

// Prepare validates m and builds its lookup tables. Decode calls it; a
// Model assembled in memory must call it before Score.
func (m *Model) Prepare() error {
	if err := m.Validate(); err != nil {
		return err
	}
	m.index = make(map[string]int, len(m.Features))
	for j, name := range m.Features {
		m.index[name] = j
	}
	return nil
}

// Validate reports every inconsistency in m, wrapped around ErrInvalid.
func (m *Model) Validate() error {
	var errs []error
	if m.Format != FormatVersion {
		errs = append(errs, fmt.Errorf("format %d, want %d", m.Format, FormatVersion))
	}
	if m.Version == "" {
		errs = append(errs, errors.New("empty version"))
	}
	if len(m.Features) == 0 {
		errs = append(errs, errors.New("no features"))
	}
	seen := make(map[string]bool, len(m.Features))
	for _, f := range m.Features {
		if seen[f] {
			errs = append(errs, fmt.Errorf("feature %q listed twice", f))
		}
		seen[f] = true
	}
	if m.Churn == nil {
		errs = append(errs, errors.New("no churn classifier"))
	} else if err := m.Churn.validate(len(m.Features)); err != nil {
		errs = append(errs, fmt.Errorf("churn: %w", err))
	}
	if m.Propensity != nil {
		if err := m.Propensity.validate(len(m.Features)); err != nil {
			errs = append(errs, fmt.Errorf("propensity: %w", err))
		}
	}
	if !(m.Bands.Medium <= m.Bands.High) || math.IsNaN(m.Bands.Medium) {
		errs = append(errs, fmt.Errorf("risk bands medium %v > high %v", m.Bands.Medium, m.Bands.High))
	}
	if m.Clusters != nil {
		if err := m.Clusters.validate(seen); err != nil {
			errs = append(errs, fmt.Errorf("clusters: %w", err))
		}
	}
	if err := m.RFM.validate(); err != nil {
		errs = append(errs, fmt.Errorf("rfm: %w", err))
	}
	if m.Value != nil {
		if err := m.Value.validate(m.HorizonDays); err != nil {
			errs = append(errs, fmt.Errorf("customer value: %w", err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

// Score computes the full prediction for one raw feature vector, in the
// order of m.Features. It returns ErrVectorLength for a vector of the wrong
// length; m must have been prepared.
func (m *Model) Score(x []float64) (Prediction, error) {
	return m.ScoreWith(x, nil)
}

// Scratch is the working memory of one Score at a time. A server that
// keeps one per goroutine (a sync.Pool of them) scores without allocating
// beyond the Prediction's own reasons. The zero Scratch is ready to use.
type Scratch struct {
	contrib, z, seg []float64
}

// grow returns buf resized to n, reallocated only when too small.
func grow(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}

// ScoreWith is Score using s's buffers (a nil s allocates new ones). It
// returns the same Prediction bit for bit; s must not be used by two calls
// at once.
func (m *Model) ScoreWith(x []float64, s *Scratch) (Prediction, error) {
	if len(x) != len(m.Features) {
		return Prediction{}, fmt.Errorf("%w: got %d values, want %d", ErrVectorLength, len(x), len(m.Features))
	}
	if m.index == nil {
		panic("model: Score called before Prepare")
	}
	if s == nil {
		s = &Scratch{}
	}
	s.contrib, s.z = grow(s.contrib, len(x)), grow(s.z, len(x))
	var q *float64
	if m.Propensity != nil {
		v := m.Propensity.Calibration.Apply(m.Propensity.raw(x, nil, s.z))
		q = &v
	}
	churnRaw := m.Churn.raw(x, s.contrib, s.z)
	if m.Clusters != nil {
		s.seg = grow(s.seg, len(m.Clusters.Features))
	}
	return m.predict(x, churnRaw, s.contrib, q, s.seg), nil
}

// ScoreRaw is Score with the classifiers' raw (uncalibrated) probabilities
// computed by the caller, as a batch does (for trees, Trees.Margins over
// many rows is several times faster than one row at a time): churnRaw must
// be m.Churn.Raw(x, nil) and propRaw m.Propensity.Raw(x, nil) (ignored
// without a propensity model). Given those, it returns Score's prediction,
// bit for bit.
func (m *Model) ScoreRaw(x []float64, churnRaw, propRaw float64) (Prediction, error) {
	if len(x) != len(m.Features) {
		return Prediction{}, fmt.Errorf("%w: got %d values, want %d", ErrVectorLength, len(x), len(m.Features))
	}
	if m.index == nil {
		panic("model: ScoreRaw called before Prepare")
	}
	contrib := make([]float64, len(x))
	m.Churn.contributions(x, contrib)
	var q *float64
	if m.Propensity != nil {
		v := m.Propensity.Calibration.Apply(propRaw)
		q = &v
	}
	var seg []float64
	if m.Clusters != nil {
		seg = make([]float64, len(m.Clusters.Features))
	}
	return m.predict(x, churnRaw, contrib, q, seg), nil
}

// predict assembles a Prediction from x, the churn model's raw probability
// and contributions, and the purchase probability (nil without a
// propensity model); seg (len(m.Clusters.Features)) is the segment
// assignment's buffer.
func (m *Model) predict(x []float64, churnRaw float64, contrib []float64, q *float64, seg []float64) Prediction {
	p := m.Churn.Calibration.Apply(churnRaw)
	pred := Prediction{
		ChurnProbability:    p,
		RiskBand:            m.Bands.Band(p),
		Reasons:             m.reasons(x, contrib, NumReasons),
		PurchaseProbability: q,
	}
	if m.Clusters != nil {
		pred.Segment = m.Clusters.Name(m.Clusters.assign(m.lookup, x, seg))
	}
	pred.RFM = m.RFM.Score(m.value(x, m.RFM.RecencyFeature), m.value(x, m.RFM.FrequencyFeature), m.value(x, m.RFM.MonetaryFeature))
	pred.RFMSegment = RFMSegment(pred.RFM)
	pred.LifecycleStage = m.Lifecycle.Stage(m.value(x, FeatTenure), m.value(x, FeatRecency), m.value(x, FeatPrevGap))
	pred.UsageTier = m.Tiers.Tier(m.value(x, m.Tiers.Feature))
	return pred
}

// lookup returns the column of a feature, or -1.
func (m *Model) lookup(name string) int {
	if j, ok := m.index[name]; ok {
		return j
	}
	return -1
}

// value returns x's value of the named feature, or NaN when the model has
// no such feature.
func (m *Model) value(x []float64, name string) float64 {
	if j, ok := m.index[name]; ok {
		return x[j]
	}
	return math.NaN()
}

// Encode returns the JSON encoding of m.
func Encode(m *Model) ([]byte, error) {
	if m.Format == 0 {
		m.Format = FormatVersion
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("model: encode %s: %w", m.Version, err)
	}
	return b, nil
}

// Decode parses and prepares a model written by Encode. Corrupt input, an
// unknown format version or an inconsistent model is an error, never a panic.
func Decode(b []byte) (*Model, error) {
	var probe struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if probe.Format != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d", ErrFormat, probe.Format, FormatVersion)
	}
	m := new(Model)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err := m.Prepare(); err != nil {
		return nil, err
	}
	return m, nil
}
