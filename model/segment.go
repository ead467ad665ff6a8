package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Names of the features that segment rules and reasons read. They are the
// names features.Spec gives these columns.
const (
	FeatRecency         = "recency_days"
	FeatRecencyPurchase = "recency_purchase_days"
	FeatTenure          = "tenure_days"
	FeatPrevGap         = "prev_gap_days"
	FeatGapMean         = "gap_mean_days"
	FeatOrdersTotal     = "orders_total"
	FeatRevenueTotal    = "revenue_total"
	FeatEventsTotal     = "events_total"
	FeatActiveDays30    = "active_days_30d"
)

// Clusters are the behavioural segments: k-means centroids over a subset of
// the features, after their own log1p and standardisation, each with a
// readable name and a profile for reports.
type Clusters struct {
	// Features names the columns clustered on, in the order of Transform.
	Features []string `json:"features"`
	// Transform maps those columns into the space of the centroids.
	Transform *Transform `json:"transform"`
	// KMeans holds the centroids and their names.
	KMeans *KMeans `json:"kmeans"`
	// Profiles describes each cluster (same order as the centroids).
	Profiles []ClusterProfile `json:"profiles"`
}

// ClusterProfile describes one behavioural cluster in the data's own units.
type ClusterProfile struct {
	// Name is the readable name, e.g. "power users".
	Name string `json:"name"`
	// Share is the fraction of training users in the cluster.
	Share float64 `json:"share"`
	// Means holds the cluster mean of each clustered feature in raw units.
	Means map[string]float64 `json:"means"`
	// Z holds the centroid in standardised units (how unusual each feature is).
	Z map[string]float64 `json:"z"`
}

// Assign returns the cluster of the raw feature vector x, given a function
// that maps a feature name to its column in x (or -1). Missing columns are
// treated as the training mean.
func (c *Clusters) Assign(col func(string) int, x []float64) int {
	return c.assign(col, x, make([]float64, len(c.Features)))
}

// assign is Assign with v (len(c.Features)) as its buffer.
func (c *Clusters) assign(col func(string) int, x, v []float64) int {
	for i, name := range c.Features {
		if j := col(name); j >= 0 {
			v[i] = x[j]
		} else {
			v[i] = math.NaN() // FeatureTransform.Apply imputes the mean
		}
	}
	return c.KMeans.Assign(c.Transform.Apply(v, v))
}

// Name returns the name of cluster k.
func (c *Clusters) Name(k int) string {
	if k >= 0 && k < len(c.KMeans.Names) {
		return c.KMeans.Names[k]
	}
	return fmt.Sprintf("cluster %d", k+1)
}

func (c *Clusters) validate(known map[string]bool) error {
	var errs []error
	if c.KMeans == nil || c.KMeans.K() == 0 || c.Transform == nil {
		return errors.New("missing centroids or transform")
	}
	if c.Transform.Len() != len(c.Features) {
		errs = append(errs, fmt.Errorf("%d transforms for %d features", c.Transform.Len(), len(c.Features)))
	}
	for _, f := range c.Features {
		if !known[f] {
			errs = append(errs, fmt.Errorf("unknown feature %q", f))
		}
	}
	for k, ctr := range c.KMeans.Centroids {
		if len(ctr) != len(c.Features) {
			errs = append(errs, fmt.Errorf("centroid %d has %d values, want %d", k, len(ctr), len(c.Features)))
		}
	}
	if n := len(c.KMeans.Names); n != 0 && n != c.KMeans.K() {
		errs = append(errs, fmt.Errorf("%d names for %d clusters", n, c.KMeans.K()))
	}
	if err := c.Transform.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RFMScore holds 1-5 quintile scores; 5 is best (most recent, most
// frequent, highest spend). A zero field means the feature was missing.
type RFMScore struct {
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
}

// RFMRules scores recency, frequency and monetary value into quintiles.
// Each edge array holds the 20th, 40th, 60th and 80th percentiles of the
// feature over the users scored at training time.
type RFMRules struct {
	// RecencyFeature is the recency column (days; lower is better).
	RecencyFeature string `json:"recency_feature"`
	// FrequencyFeature is the frequency column (orders, or events when the
	// data has no purchases).
	FrequencyFeature string `json:"frequency_feature"`
	// MonetaryFeature is the monetary column (revenue, or the frequency
	// column again when the data has no amounts).
	MonetaryFeature string     `json:"monetary_feature"`
	Recency         [4]float64 `json:"recency_edges"`
	Frequency       [4]float64 `json:"frequency_edges"`
	Monetary        [4]float64 `json:"monetary_edges"`
}

// Score returns the quintile scores of one user. A value above k edges
// scores 1+k for frequency and monetary value; recency is reversed (a value
// above k edges scores 5−k). NaN scores 0.
func (r RFMRules) Score(recency, frequency, monetary float64) RFMScore {
	above := func(v float64, edges [4]float64) int {
		n := 0
		for _, e := range edges {
			if v > e {
				n++
			}
		}
		return n
	}
	var s RFMScore
	if !math.IsNaN(recency) {
		s.R = 5 - above(recency, r.Recency)
	}
	if !math.IsNaN(frequency) {
		s.F = 1 + above(frequency, r.Frequency)
	}
	if !math.IsNaN(monetary) {
		s.M = 1 + above(monetary, r.Monetary)
	}
	return s
}

func (r RFMRules) validate() error {
	var errs []error
	for name, e := range map[string][4]float64{"recency": r.Recency, "frequency": r.Frequency, "monetary": r.Monetary} {
		if !sort.Float64sAreSorted(e[:]) {
			errs = append(errs, fmt.Errorf("%s edges %v not sorted", name, e))
		}
		for _, v := range e {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				errs = append(errs, fmt.Errorf("%s edges %v not finite", name, e))
				break
			}
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// The named RFM segments.
const (
	RFMChampions          = "Champions"
	RFMLoyal              = "Loyal"
	RFMPotentialLoyalists = "Potential loyalists"
	RFMNew                = "New"
	RFMPromising          = "Promising"
	RFMNeedAttention      = "Need attention"
	RFMAboutToSleep       = "About to sleep"
	RFMAtRisk             = "At risk"
	RFMCantLose           = "Can't lose them"
	RFMHibernating        = "Hibernating"
	RFMLost               = "Lost"
)

// RFMSegmentNames lists the named RFM segments from best to worst.
var RFMSegmentNames = []string{
	RFMChampions, RFMLoyal, RFMPotentialLoyalists, RFMNew, RFMPromising, RFMNeedAttention,
	RFMAboutToSleep, RFMAtRisk, RFMCantLose, RFMHibernating, RFMLost,
}

// rfmGrid maps (R, FM) to a segment, with FM = ⌊(F+M)/2⌋. Rows are R = 5
// down to 1, columns FM = 1 to 5. It follows the widely used 11-segment
// RFM map (recent and valuable = Champions; valuable but long gone = Can't
// lose them; low on everything and long gone = Lost), made total so every
// score pair has exactly one segment.
var rfmGrid = [5][5]string{
	/* R=5 */ {RFMNew, RFMPotentialLoyalists, RFMPotentialLoyalists, RFMChampions, RFMChampions},
	/* R=4 */ {RFMPromising, RFMPotentialLoyalists, RFMLoyal, RFMChampions, RFMChampions},
	/* R=3 */ {RFMAboutToSleep, RFMAboutToSleep, RFMNeedAttention, RFMLoyal, RFMLoyal},
	/* R=2 */ {RFMHibernating, RFMHibernating, RFMAtRisk, RFMAtRisk, RFMCantLose},
	/* R=1 */ {RFMLost, RFMLost, RFMAtRisk, RFMCantLose, RFMCantLose},
}

// RFMSegment returns the named segment of a score, or "" when a score is
// missing (zero).
func RFMSegment(s RFMScore) string {
	if s.R < 1 || s.R > 5 || s.F < 1 || s.F > 5 || s.M < 1 || s.M > 5 {
		return ""
	}
	fm := (s.F + s.M) / 2
	return rfmGrid[5-s.R][fm-1]
}

// Lifecycle stages.
const (
	StageNew         = "new"
	StageActive      = "active"
	StageAtRisk      = "at-risk"
	StageDormant     = "dormant"
	StageChurned     = "churned"
	StageReactivated = "reactivated"
)

// LifecycleStages lists the stages in lifecycle order.
var LifecycleStages = []string{StageNew, StageActive, StageReactivated, StageAtRisk, StageDormant, StageChurned}

// LifecycleRules holds the day thresholds of the lifecycle stages, derived
// by training from the data's typical inter-activity gaps.
//
// A user whose recency (days since the last activity) is at most ActiveDays
// is recently active: "new" when tenure is at most NewDays, "reactivated"
// when the gap before the latest return was at least ReactivatedGapDays,
// otherwise "active". Beyond ActiveDays the user is "at-risk" up to
// AtRiskDays, "dormant" up to DormantDays and "churned" beyond.
type LifecycleRules struct {
	NewDays            float64 `json:"new_days"`
	ActiveDays         float64 `json:"active_days"`
	AtRiskDays         float64 `json:"at_risk_days"`
	DormantDays        float64 `json:"dormant_days"`
	ReactivatedGapDays float64 `json:"reactivated_gap_days"`
}

// Stage returns the lifecycle stage. prevGap may be NaN (unknown), in which
// case the user is never "reactivated".
func (l LifecycleRules) Stage(tenure, recency, prevGap float64) string {
	switch {
	case math.IsNaN(recency):
		return ""
	case recency > l.DormantDays:
		return StageChurned
	case recency > l.AtRiskDays:
		return StageDormant
	case recency > l.ActiveDays:
		return StageAtRisk
	case tenure <= l.NewDays:
		return StageNew
	case prevGap >= l.ReactivatedGapDays:
		return StageReactivated
	}
	return StageActive
}

// Usage tiers.
const (
	TierPower   = "power"
	TierRegular = "regular"
	TierLight   = "light"
	TierExUser  = "ex-user"
)

// UsageTiers lists the tiers from most to least engaged.
var UsageTiers = []string{TierPower, TierRegular, TierLight, TierExUser}

// TierRules holds the usage-tier cut points on one usage feature (by
// default active days in the last 30 days): at least PowerAt is "power", at
// least RegularAt is "regular", above zero is "light", zero is "ex-user".
type TierRules struct {
	Feature   string  `json:"feature"`
	PowerAt   float64 `json:"power_at"`
	RegularAt float64 `json:"regular_at"`
}

// Tier returns the usage tier of a usage value ("" for NaN).
func (t TierRules) Tier(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case v >= t.PowerAt && v > 0:
		return TierPower
	case v >= t.RegularAt && v > 0:
		return TierRegular
	case v > 0:
		return TierLight
	}
	return TierExUser
}
