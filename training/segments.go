package training

// Segment derivation and segment health (issue 3, "Segments").
//
// Every rule here is a function of a feature matrix whose rows are the
// users at one cutoff and whose columns are named by the features.Spec
// (docs/DESIGN.md). Rules are plain model types (model.RFMRules,
// model.LifecycleRules, model.TierRules, model.RiskBands, model.Clusters),
// stored with the model and applied per user by model.(*Model).Score.
// Segment health measures the resulting segments on the out-of-time
// holdout: sizes, observed churn, stability between consecutive cutoffs
// and the overlap between families.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// ErrTooFewToCluster is returned (wrapped) by FitClusters when the matrix has
// too few rows for the candidate k or fewer than two usable (present and
// non-constant) usage features. Callers leave model.Model.Clusters nil.
var ErrTooFewToCluster = errors.New("training: too few users or usage features to cluster")

// ErrDuplicateUser is returned (wrapped) by SegmentHealthOf when a user id
// appears twice in one Segmentation.
var ErrDuplicateUser = errors.New("training: user listed twice in a segmentation")

// Percentile returns the p-th percentile (0 <= p <= 100) of sorted, an
// ascending slice without NaN, by linear interpolation between closest
// ranks: position h = (n−1)·p/100, value sorted[⌊h⌋] + (h−⌊h⌋)·(sorted[⌊h⌋+1]
// − sorted[⌊h⌋]). This is Hyndman and Fan's definition 7, the default of
// NumPy's percentile and R's quantile, so the edges can be checked with
// either. It returns NaN for an empty slice.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// sgIndex returns the column of name in names, or -1.
func sgIndex(names []string, name string) int {
	return slices.Index(names, name)
}

// sgValues returns the finite values of column j of x, sorted ascending
// (nil when j < 0 or x is nil).
func sgValues(x *Matrix, j int) []float64 {
	if j < 0 || x == nil || j >= x.Cols {
		return nil
	}
	v := make([]float64, 0, x.Rows)
	for i := range x.Rows {
		if e := x.At(i, j); !math.IsNaN(e) && !math.IsInf(e, 0) {
			v = append(v, e)
		}
	}
	slices.Sort(v)
	return v
}

// sgQuintiles returns the 20/40/60/80th percentiles of sorted (zeros when
// empty).
func sgQuintiles(sorted []float64) [4]float64 {
	var e [4]float64
	if len(sorted) == 0 {
		return e
	}
	for k := range e {
		e[k] = Percentile(sorted, float64(20*(k+1)))
	}
	return e
}

// DeriveRFM returns the RFM quintile rules of the users in x (columns named
// by names):
//
//   - recency is recency_days;
//   - frequency is orders_total when any user has an order (orders_total >
//     0), else events_total (data without purchases);
//   - monetary is revenue_total when any user has revenue > 0, else the
//     frequency column again (data without amounts).
//
// Each edge array holds the 20th, 40th, 60th and 80th percentiles of the
// column over all users (Percentile: linear interpolation, NumPy's
// default). With ties, edges coincide and model.RFMRules.Score, which counts
// the edges a value lies strictly above, puts every tied user in the same
// quintile. A column absent from names leaves its feature name empty and
// its edges zero; scoring then yields 0 for that letter and no segment.
func DeriveRFM(names []string, x *Matrix) model.RFMRules {
	r := model.RFMRules{RecencyFeature: model.FeatRecency}
	if sgIndex(names, model.FeatRecency) < 0 {
		r.RecencyFeature = ""
	}
	orders := sgValues(x, sgIndex(names, model.FeatOrdersTotal))
	switch {
	case len(orders) > 0 && orders[len(orders)-1] > 0:
		r.FrequencyFeature = model.FeatOrdersTotal
	case sgIndex(names, model.FeatEventsTotal) >= 0:
		r.FrequencyFeature = model.FeatEventsTotal
	}
	rev := sgValues(x, sgIndex(names, model.FeatRevenueTotal))
	if len(rev) > 0 && rev[len(rev)-1] > 0 {
		r.MonetaryFeature = model.FeatRevenueTotal
	} else {
		r.MonetaryFeature = r.FrequencyFeature
	}
	edges := func(feat string) [4]float64 {
		if feat == "" {
			return [4]float64{}
		}
		return sgQuintiles(sgValues(x, sgIndex(names, feat)))
	}
	r.Recency = edges(r.RecencyFeature)
	r.Frequency = edges(r.FrequencyFeature)
	r.Monetary = edges(r.MonetaryFeature)
	return r
}

// Lifecycle derivation constants (see DeriveLifecycle).
const (
	// LifecycleMinActiveDays is the floor of the active threshold: a week,
	// the shortest rhythm day-resolution data can show.
	LifecycleMinActiveDays = 7
	// LifecycleMinNewDays is the floor of the "new" tenure threshold: the
	// usual onboarding month.
	LifecycleMinNewDays = 30
	// LifecycleFallbackGap is the typical gap assumed when fewer than
	// LifecycleMinGapUsers users have two or more active days.
	LifecycleFallbackGap = 7
	// LifecycleMinGapUsers is the number of users with a measured gap
	// needed before their median is trusted.
	LifecycleMinGapUsers = 5
)

// DeriveLifecycle returns the lifecycle thresholds of the users in x from
// their typical rhythm. horizonDays is the label horizon H (0 or less: no
// cap).
//
// The typical gap g is the median of gap_mean_days over the users with at
// least two active days (gap_mean_days > 0); with fewer than
// LifecycleMinGapUsers such users (or no gap column) g is
// LifecycleFallbackGap, a weekly rhythm. Then, in whole days:
//
//	ActiveDays A         = round(2g), at least 7 and at most max(7, H)
//	AtRiskDays           = 2A
//	DormantDays          = 4A
//	NewDays              = max(30, 2A)
//	ReactivatedGapDays   = 2A (the at-risk threshold)
//
// Reasons. A user seen within two typical gaps has at most missed one
// visit: active. A never reaches past the horizon, because a silence of H
// days is a churn by the label's own definition, and never drops below a
// week, the shortest rhythm day-resolution data shows. Missing two to four
// expected visits is at risk, four to eight dormant, more than eight
// churned: fixed multiples keep the stages in the data's own time scale and
// always ordered (A < 2A < 4A). A user is new for the first two active
// windows (at least the usual 30-day onboarding month): before that there
// are too few visits to show a rhythm. A recently active user whose gap
// before the latest return was at least the at-risk threshold had gone
// quiet long enough to be dormant and came back: reactivated. That test
// reads prev_gap_days; without that feature model.LifecycleRules.Stage gets
// NaN and nobody is reactivated, so the thresholds do not depend on it.
//
// Caveat: gap_mean_days only sees the longest window, and eligible users
// are active within the eligibility window, so with a slow rhythm (4A
// beyond the eligibility window) no scored user is "churned".
func DeriveLifecycle(names []string, x *Matrix, horizonDays int) model.LifecycleRules {
	gaps := sgValues(x, sgIndex(names, model.FeatGapMean))
	gaps = slices.DeleteFunc(gaps, func(v float64) bool { return !(v > 0) })
	g := float64(LifecycleFallbackGap)
	if len(gaps) >= LifecycleMinGapUsers {
		g = Percentile(gaps, 50)
	}
	a := math.Max(LifecycleMinActiveDays, math.Round(2*g))
	if horizonDays > 0 {
		a = math.Min(a, math.Max(LifecycleMinActiveDays, float64(horizonDays)))
	}
	return model.LifecycleRules{
		NewDays:            math.Max(LifecycleMinNewDays, 2*a),
		ActiveDays:         a,
		AtRiskDays:         2 * a,
		DormantDays:        4 * a,
		ReactivatedGapDays: 2 * a,
	}
}

// Usage-tier target shares among the users active in the tier window.
const (
	// TierPowerShare is the target share of "power" users.
	TierPowerShare = 0.2
	// TierRegularShare is the target share of "power" and "regular" users
	// together (power 20%, regular the next 40%).
	TierRegularShare = 0.6
)

// sgWindowed returns the name prefix+"{w}d" in names whose window w is
// nearest to want (ties: the shorter window), or "".
func sgWindowed(names []string, prefix string, want int) string {
	best, bestD, bestW := "", math.MaxInt, 0
	for _, n := range names {
		w, ok := sgWindowOf(n, prefix)
		if !ok {
			continue
		}
		d := w - want
		if d < 0 {
			d = -d
		}
		if d < bestD || (d == bestD && w < bestW) {
			best, bestD, bestW = n, d, w
		}
	}
	return best
}

// sgWindowOf parses prefix+"{w}d" and returns w.
func sgWindowOf(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "d")
	if !ok {
		return 0, false
	}
	w, err := strconv.Atoi(num)
	if err != nil || w <= 0 {
		return 0, false
	}
	return w, true
}

// DeriveTiers returns the usage-tier cut points on active_days_30d (or the
// active_days_{w}d window nearest 30 days, the shorter on a tie). Among the
// users active in the window (value > 0), "power" is the top 20%, "regular"
// the next 40% and "light" the rest; users with no active day are
// "ex-user".
//
// Active days are small integers with many ties, so exact shares are rarely
// possible. The cut points are values present in the data: PowerAt is the
// value v whose share of active users at or above it is nearest 20%,
// RegularAt the value below PowerAt whose share at or above it is nearest
// 60% (ties: the higher value, the smaller tier). Neither is ever the lowest
// active value, so users at the minimum are always "light": when every
// active user has the same value, PowerAt = RegularAt = that value + 1 and
// all of them are light (no one stands out). Without active users or
// without the column the cuts are 1 and 1.
func DeriveTiers(names []string, x *Matrix) model.TierRules {
	t := model.TierRules{Feature: sgWindowed(names, "active_days_", 30), PowerAt: 1, RegularAt: 1}
	if t.Feature == "" {
		return t
	}
	v := sgValues(x, sgIndex(names, t.Feature))
	v = slices.DeleteFunc(v, func(e float64) bool { return !(e > 0) })
	if len(v) == 0 {
		return t
	}
	n := float64(len(v))
	// Distinct values above the minimum with the number of users at or
	// above them, in ascending order.
	type cut struct {
		v    float64
		tail int
	}
	var cuts []cut
	for i := 1; i < len(v); i++ {
		if v[i] != v[i-1] {
			cuts = append(cuts, cut{v[i], len(v) - i})
		}
	}
	if len(cuts) == 0 {
		t.PowerAt, t.RegularAt = v[0]+1, v[0]+1
		return t
	}
	nearest := func(cs []cut, share float64) int {
		target := share * n
		best := -1
		for i, c := range cs {
			// Ascending values: on an equal distance the later (higher) wins.
			if best < 0 || math.Abs(float64(c.tail)-target) <= math.Abs(float64(cs[best].tail)-target) {
				best = i
			}
		}
		return best
	}
	p := nearest(cuts, TierPowerShare)
	t.PowerAt = cuts[p].v
	t.RegularAt = t.PowerAt
	if p > 0 {
		t.RegularAt = cuts[nearest(cuts[:p], TierRegularShare)].v
	}
	return t
}

// DeriveBands returns the risk-band cut points on calibrated churn
// probabilities p (NaN values are ignored). With b the mean of p (the base
// rate, for calibrated scores):
//
//	high   p >= max(P80, min(2b, (1+b)/2))
//	medium p >= b
//	low    otherwise
//
// where P80 is the 80th percentile of p (Percentile). In words: "high" is
// the top fifth of users, and only those whose risk is at least twice the
// average (or, when the average is above 1/3 and doubling it would pass
// certainty, at least halfway from the average to certain churn), whichever
// is stricter; "medium" is above-average risk; "low" is below average. Both
// conditions are ones a user can check: a band never contains users below
// the average, and "high" is never more than a fifth of the users. Without
// scores the base rate is taken as 1/2 (medium 0.5, high 0.75).
func DeriveBands(p []float64) model.RiskBands {
	s := make([]float64, 0, len(p))
	var sum float64
	for _, v := range p {
		if !math.IsNaN(v) {
			s = append(s, v)
			sum += v
		}
	}
	if len(s) == 0 {
		return model.RiskBands{Medium: 0.5, High: 0.75}
	}
	slices.Sort(s)
	b := sum / float64(len(s))
	high := math.Max(Percentile(s, 80), math.Min(2*b, (1+b)/2))
	return model.RiskBands{Medium: b, High: high}
}

// ClusterOptions configures FitClusters. A nil *ClusterOptions means
// DefaultClusterOptions(); zero fields mean their defaults.
type ClusterOptions struct {
	// K fixes the number of clusters (the --k flag); 0 means chosen by
	// ChooseK in [MinK, MaxK].
	K int
	// MinK and MaxK bound the automatic choice; 0 means 2 and 10.
	MinK, MaxK int
	// MaxFitRows caps the rows k-means is fitted on (a seeded sample);
	// every row is assigned afterwards. 0 means 200,000.
	MaxFitRows int
	// Features lists the columns to cluster on; nil means
	// ClusterFeatures(names).
	Features []string
	// Seed seeds the sample, the k search and k-means++.
	Seed uint64
	// Restarts is the number of k-means++ initialisations of the final fit
	// and of each candidate k; 0 means 4.
	Restarts int
	// Threads is the number of goroutines; 0 means GOMAXPROCS. The result
	// does not depend on it.
	Threads int
}

// DefaultClusterOptions returns the default options (automatic k in 2..10,
// 200,000 fitting rows, 4 restarts, seed 0).
func DefaultClusterOptions() *ClusterOptions {
	return &ClusterOptions{MinK: 2, MaxK: 10, MaxFitRows: 200_000, Restarts: 4}
}

func (o *ClusterOptions) withDefaults() ClusterOptions {
	r := *DefaultClusterOptions()
	if o != nil {
		r.K, r.Seed, r.Threads, r.Features = o.K, o.Seed, o.Threads, o.Features
		if o.MinK > 0 {
			r.MinK = o.MinK
		}
		if o.MaxK > 0 {
			r.MaxK = o.MaxK
		}
		if o.MaxFitRows > 0 {
			r.MaxFitRows = o.MaxFitRows
		}
		if o.Restarts > 0 {
			r.Restarts = o.Restarts
		}
	}
	if r.Threads <= 0 {
		r.Threads = runtime.GOMAXPROCS(0)
	}
	return r
}

// ClusterReport says how FitClusters chose and fitted the clusters.
type ClusterReport struct {
	// K is the number of clusters.
	K int `json:"k"`
	// Method is "silhouette" (k chosen by ChooseK) or "fixed" (--k).
	Method string `json:"method"`
	// Scores holds every candidate k's silhouette and inertia; empty when
	// k was fixed.
	Scores []KScore `json:"scores"`
	// Silhouette is the chosen k's mean silhouette on the ChooseK sample
	// (0 when k was fixed).
	Silhouette float64 `json:"silhouette"`
	// Features are the columns clustered on.
	Features []string `json:"features"`
	// Dropped are candidate columns left out because they were constant on
	// the fitting sample.
	Dropped []string `json:"dropped"`
	// Users is the number of users assigned; FitRows those fitted on.
	Users   int `json:"users"`
	FitRows int `json:"fit_rows"`
	// Inertia is the final fit's within-cluster sum of squares on the
	// fitting sample (standardised units); Iterations its Lloyd iterations.
	Inertia    float64 `json:"inertia"`
	Iterations int     `json:"iterations"`
}

// maxClusterTypes caps the per-type count columns clustered on.
const maxClusterTypes = 8

// ClusterFeatures returns the usage columns FitClusters clusters on by
// default, those of names that exist, in this order:
//
//   - events and active days in the window nearest 30 days and in the
//     longest window;
//   - revenue and orders in the longest window (spending is sparse);
//   - per-type counts n_{t}_{w}d in the window nearest 30 days, at most 8
//     (the first in names: the most frequent types);
//   - distinct types in that window, support tickets in 30 days;
//   - weekend_share, trend_30d, recency_days, tenure_days.
func ClusterFeatures(names []string) []string {
	short := sgWindowed(names, "events_", 30)
	w30, _ := sgWindowOf(short, "events_")
	wl := 0
	for _, n := range names {
		if w, ok := sgWindowOf(n, "events_"); ok {
			wl = max(wl, w)
		}
	}
	ws := func(prefix string) []string {
		var out []string
		for _, w := range []int{w30, wl} {
			if w == 0 {
				continue
			}
			n := prefix + strconv.Itoa(w) + "d"
			if sgIndex(names, n) >= 0 && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out
	}
	var out []string
	out = append(out, ws("events_")...)
	out = append(out, ws("active_days_")...)
	for _, p := range []string{"revenue_", "orders_"} {
		if n := p + strconv.Itoa(wl) + "d"; wl > 0 && sgIndex(names, n) >= 0 {
			out = append(out, n)
		}
	}
	if w30 > 0 {
		sfx := "_" + strconv.Itoa(w30) + "d"
		types := 0
		for _, n := range names {
			if types < maxClusterTypes && strings.HasPrefix(n, "n_") && strings.HasSuffix(n, sfx) {
				out = append(out, n)
				types++
			}
		}
		if n := "distinct_types" + sfx; sgIndex(names, n) >= 0 {
			out = append(out, n)
		}
	}
	for _, n := range []string{"support_tickets_30d", "weekend_share", "trend_30d", model.FeatRecency, model.FeatTenure} {
		if sgIndex(names, n) >= 0 {
			out = append(out, n)
		}
	}
	return out
}

// sgClusterKind is the pre-transform of a clustered column: none for
// shares and bounded counts of types, log1p for every heavy-tailed count,
// amount, day count and ratio.
func sgClusterKind(name string) string {
	if name == "weekend_share" || strings.HasPrefix(name, "distinct_types_") {
		return model.KindNone
	}
	return model.KindLog1p
}

// FitClusters fits the behavioural clusters on the users in x (columns
// named by names):
//
//  1. the columns of opts.Features (default ClusterFeatures), each log1p
//     mapped except shares and distinct-type counts, then standardised
//     (FitTransform) on a seeded sample of at most MaxFitRows rows; columns
//     constant on the sample are dropped;
//  2. k = opts.K, or ChooseK over [MinK, MaxK] by mean silhouette on a
//     seeded sub-sample of the sample;
//  3. FitKMeans (k-means++ with restarts) on the sample;
//  4. every row of x is assigned to its nearest centroid; clusters are
//     ordered by size (largest first) and named by NameClusters from their
//     centroids (z-scores); profiles hold each cluster's share of all
//     users, raw means and z.
//
// The same x, names and options give the same result. It returns an error
// wrapping ErrTooFewToCluster when there are fewer than max(20, 5·k) rows
// for the largest k tried or fewer than two usable columns, and one
// wrapping ErrNotFinite for a NaN or infinite value in a clustered column.
// ctx is checked between steps and k-means iterations.
func FitClusters(ctx context.Context, names []string, x *Matrix, opts *ClusterOptions) (*model.Clusters, *ClusterReport, error) {
	o := opts.withDefaults()
	if x == nil {
		return nil, nil, fmt.Errorf("training: clusters: nil matrix: %w", ErrShape)
	}
	if err := x.Validate(); err != nil {
		return nil, nil, fmt.Errorf("training: clusters: %w", err)
	}
	if len(names) != x.Cols {
		return nil, nil, fmt.Errorf("training: clusters: %d names for %d columns: %w", len(names), x.Cols, ErrShape)
	}
	if o.K < 0 || o.K == 1 || o.MinK < 2 || o.MaxK < o.MinK {
		return nil, nil, fmt.Errorf("training: clusters: k=%d in [%d, %d] (want k=0 or k>=2, 2 <= MinK <= MaxK): %w",
			o.K, o.MinK, o.MaxK, ErrShape)
	}
	feats := o.Features
	if feats == nil {
		feats = ClusterFeatures(names)
	}
	cols := make([]int, len(feats))
	for i, f := range feats {
		if cols[i] = sgIndex(names, f); cols[i] < 0 {
			return nil, nil, fmt.Errorf("training: clusters: feature %q not in the matrix: %w", f, ErrShape)
		}
	}
	kMax := o.MaxK
	if o.K > 0 {
		kMax = o.K
	}
	if need := max(20, 5*kMax); x.Rows < need {
		return nil, nil, fmt.Errorf("training: clusters: %d users, need at least %d for k up to %d: %w",
			x.Rows, need, kMax, ErrTooFewToCluster)
	}
	for i := range x.Rows {
		row := x.Row(i)
		for c, j := range cols {
			if v := row[j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("training: clusters: row %d feature %q is %v: %w", i, feats[c], v, ErrNotFinite)
			}
		}
	}

	// 1. The seeded fitting sample, in row order.
	idx := make([]int, x.Rows)
	for i := range idx {
		idx[i] = i
	}
	if x.Rows > o.MaxFitRows {
		rng := rand.New(rand.NewPCG(o.Seed, 0x7365676d656e7473)) // "segments"
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:o.MaxFitRows]
		slices.Sort(idx)
	}
	raw := NewMatrix(len(idx), len(cols))
	for r, i := range idx {
		row, dst := x.Row(i), raw.Row(r)
		for c, j := range cols {
			dst[c] = row[j]
		}
	}
	kinds := make([]string, len(feats))
	for i, f := range feats {
		kinds[i] = sgClusterKind(f)
	}
	t, err := FitTransform(&raw, feats, kinds)
	if err != nil {
		return nil, nil, fmt.Errorf("training: clusters: %w", err)
	}
	rep := &ClusterReport{Users: x.Rows, FitRows: len(idx), Scores: []KScore{}, Dropped: []string{}}
	var keep []int // positions in feats of the non-constant columns
	for c, f := range t.Features {
		if f.Std > 0 {
			keep = append(keep, c)
		} else {
			rep.Dropped = append(rep.Dropped, feats[c])
		}
	}
	if len(keep) < 2 {
		return nil, nil, fmt.Errorf("training: clusters: %d of %d usage features vary: %w", len(keep), len(feats), ErrTooFewToCluster)
	}
	if len(keep) < len(feats) {
		t2 := &model.Transform{}
		var f2 []string
		var c2 []int
		for _, c := range keep {
			t2.Features = append(t2.Features, t.Features[c])
			f2 = append(f2, feats[c])
			c2 = append(c2, cols[c])
		}
		sub := NewMatrix(raw.Rows, len(keep))
		for r := range raw.Rows {
			src, dst := raw.Row(r), sub.Row(r)
			for c, k := range keep {
				dst[c] = src[k]
			}
		}
		t, feats, cols, raw = t2, f2, c2, sub
	}
	rep.Features = slices.Clone(feats)
	z, err := ApplyTransform(t, &raw)
	if err != nil {
		return nil, nil, fmt.Errorf("training: clusters: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	// 2. k.
	km := &KMeansOptions{Restarts: o.Restarts, Seed: o.Seed, Threads: o.Threads}
	k := o.K
	if k == 0 {
		rep.Method = "silhouette"
		var scores []KScore
		k, scores, err = ChooseK(ctx, z, &ChooseKOptions{MinK: o.MinK, MaxK: o.MaxK, KMeans: km})
		if err != nil {
			return nil, nil, fmt.Errorf("training: clusters: %w", err)
		}
		rep.Scores = scores
		for _, s := range scores {
			if s.K == k {
				rep.Silhouette = s.Silhouette
			}
		}
	} else {
		rep.Method = "fixed"
	}

	// 3. The final fit on the sample.
	fit, err := FitKMeans(ctx, z, k, km)
	if err != nil {
		return nil, nil, fmt.Errorf("training: clusters: %w", err)
	}
	rep.K, rep.Inertia, rep.Iterations = k, fit.Inertia, fit.Iterations

	// 4. Assign every user; sizes and raw sums per block, reduced in block
	// order so the sums do not depend on the thread count.
	d := len(cols)
	nb := (x.Rows + kmBlock - 1) / kmBlock
	counts := make([]int, nb*k)
	sums := make([]float64, nb*k*d)
	kmParallel(x.Rows, o.Threads, func(lo, hi, b int) {
		v := make([]float64, d)
		zz := make([]float64, d)
		cnt := counts[b*k : (b+1)*k]
		s := sums[b*k*d : (b+1)*k*d]
		for i := lo; i < hi; i++ {
			row := x.Row(i)
			for c, j := range cols {
				v[c] = row[j]
			}
			a := fit.Model.Assign(t.Apply(zz, v))
			cnt[a]++
			acc := s[a*d : (a+1)*d]
			for c, e := range v {
				acc[c] += e
			}
		}
	})
	size := make([]int, k)
	tot := make([]float64, k*d)
	for b := range nb {
		for q := range k {
			size[q] += counts[b*k+q]
		}
		for j, e := range sums[b*k*d : (b+1)*k*d] {
			tot[j] += e
		}
	}
	// Largest cluster first; ties keep the k-means order.
	order := make([]int, k)
	for q := range order {
		order[q] = q
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(size[b], size[a]) })
	cl := &model.Clusters{Features: slices.Clone(feats), Transform: t, KMeans: &model.KMeans{}}
	for _, q := range order {
		cl.KMeans.Centroids = append(cl.KMeans.Centroids, slices.Clone(fit.Model.Centroids[q]))
	}
	cl.KMeans.Names = NameClusters(feats, cl.KMeans.Centroids)
	cl.Profiles = make([]model.ClusterProfile, k)
	for r, q := range order {
		p := model.ClusterProfile{
			Name:  cl.KMeans.Names[r],
			Share: float64(size[q]) / float64(x.Rows),
			Means: make(map[string]float64, d),
			Z:     make(map[string]float64, d),
		}
		for c, f := range feats {
			if size[q] > 0 {
				p.Means[f] = tot[q*d+c] / float64(size[q])
			} else {
				p.Means[f] = t.Features[c].Invert(cl.KMeans.Centroids[r][c])
			}
			p.Z[f] = cl.KMeans.Centroids[r][c]
		}
		cl.Profiles[r] = p
	}
	return cl, rep, nil
}

// NameThreshold is the centroid z-score (in training standard deviations)
// from which NameClusters calls a feature group "high" (and below whose
// negative it calls it "low").
const NameThreshold = 0.5

// sgBrowseWords mark browse-type event names (per-type counts n_{t}_{w}d
// whose t contains one of them).
var sgBrowseWords = []string{"view", "page", "browse", "search", "visit", "screen", "click", "scroll", "session"}

// sgGroups are a centroid's feature-group means (z units); ok[g] says
// whether group g has any column.
type sgGroups struct {
	act, spend, rec, ten, wk, div, sup, browse float64
	minAct                                     float64 // the lowest activity column
	hasAct, hasSpend, hasRec, hasTen           bool
	hasWk, hasDiv, hasSup, hasBrowse           bool
}

func sgGroupsOf(feats []string, c []float64) sgGroups {
	var g sgGroups
	mean := func(pred func(string) bool) (float64, bool) {
		var s float64
		n := 0
		for j, f := range feats {
			if pred(f) {
				s += c[j]
				n++
			}
		}
		if n == 0 {
			return 0, false
		}
		return s / float64(n), true
	}
	isAct := func(f string) bool {
		_, e := sgWindowOf(f, "events_")
		_, a := sgWindowOf(f, "active_days_")
		return e || a
	}
	g.act, g.hasAct = mean(isAct)
	g.minAct = math.Inf(1)
	for j, f := range feats {
		if isAct(f) {
			g.minAct = math.Min(g.minAct, c[j])
		}
	}
	g.spend, g.hasSpend = mean(func(f string) bool {
		return strings.HasPrefix(f, "revenue_") || strings.HasPrefix(f, "orders_") || f == "aov"
	})
	g.rec, g.hasRec = mean(func(f string) bool { return f == model.FeatRecency })
	g.ten, g.hasTen = mean(func(f string) bool { return f == model.FeatTenure })
	g.wk, g.hasWk = mean(func(f string) bool { return f == "weekend_share" })
	g.div, g.hasDiv = mean(func(f string) bool { return strings.HasPrefix(f, "distinct_types_") })
	g.sup, g.hasSup = mean(func(f string) bool { return strings.HasPrefix(f, "support_tickets_") })
	g.browse, g.hasBrowse = mean(func(f string) bool {
		if !strings.HasPrefix(f, "n_") {
			return false
		}
		for _, w := range sgBrowseWords {
			if strings.Contains(f, w) {
				return true
			}
		}
		return false
	})
	return g
}

// sgNameRule is one naming rule: when fires reports whether it applies to
// a centroid's groups and how strongly (in z units, > 0).
type sgNameRule struct {
	name  string
	fires func(g sgGroups) (float64, bool)
}

// sgNameRules are the naming rules in the order they are handed out.
// τ = NameThreshold.
var sgNameRules = []sgNameRule{
	// High activity in every window, and recently seen.
	{"power users", func(g sgGroups) (float64, bool) {
		return g.minAct, g.hasAct && g.minAct >= NameThreshold && (!g.hasRec || g.rec <= 0)
	}},
	// High spend, gone quiet.
	{"lapsing big spenders", func(g sgGroups) (float64, bool) {
		return math.Min(g.spend, g.rec), g.hasSpend && g.hasRec && g.spend >= NameThreshold && g.rec >= NameThreshold
	}},
	// High spend, still around.
	{"big spenders", func(g sgGroups) (float64, bool) {
		return g.spend, g.hasSpend && g.spend >= NameThreshold && (!g.hasRec || g.rec < NameThreshold)
	}},
	// Weekend activity, browsing at least as much as usual, buying less.
	{"weekend browsers", func(g sgGroups) (float64, bool) {
		return g.wk, g.hasWk && g.wk >= NameThreshold && g.hasBrowse && g.browse >= 0 && (!g.hasSpend || g.spend <= 0)
	}},
	// Recent arrivals trying many kinds of things.
	{"new explorers", func(g sgGroups) (float64, bool) {
		return math.Min(-g.ten, g.div), g.hasTen && g.hasDiv && g.ten <= -NameThreshold && g.div >= NameThreshold
	}},
	// Long gone, little activity.
	{"dormant", func(g sgGroups) (float64, bool) {
		return math.Min(g.rec, -g.act), g.hasRec && g.hasAct && g.rec >= NameThreshold && g.act <= -NameThreshold
	}},
	// Many support tickets.
	{"support-heavy", func(g sgGroups) (float64, bool) {
		return g.sup, g.hasSup && g.sup >= NameThreshold
	}},
	// Recent arrivals.
	{"new users", func(g sgGroups) (float64, bool) {
		return -g.ten, g.hasTen && g.ten <= -NameThreshold
	}},
	// Weekend activity without the browsing pattern.
	{"weekend users", func(g sgGroups) (float64, bool) {
		return g.wk, g.hasWk && g.wk >= NameThreshold
	}},
	// Low activity, but not gone.
	{"casual users", func(g sgGroups) (float64, bool) {
		return -g.act, g.hasAct && g.act <= -NameThreshold && (!g.hasRec || g.rec < NameThreshold)
	}},
}

// NameClusters gives each centroid (standardised units, columns named by
// feats) a readable name that is unique among the centroids. Feature groups
// are averaged per centroid: activity (events_{w}d, active_days_{w}d),
// spend (revenue_*, orders_*, aov), recency_days, tenure_days,
// weekend_share, variety (distinct_types_*), support (support_tickets_*)
// and browsing (n_{t}_* whose type t contains view, page, browse, search,
// visit, screen, click, scroll or session). With τ = NameThreshold:
//
//	power users           every activity column >= τ, recency <= 0
//	lapsing big spenders  spend >= τ and recency >= τ
//	big spenders          spend >= τ, recency < τ
//	weekend browsers      weekend >= τ, browsing >= 0, spend <= 0
//	new explorers         tenure <= −τ and variety >= τ
//	dormant               recency >= τ and activity <= −τ
//	support-heavy         support >= τ
//	new users             tenure <= −τ
//	weekend users         weekend >= τ
//	casual users          activity <= −τ, recency < τ
//
// A rule's strength is the smallest margin in its conditions (e.g.
// min(spend, recency) for lapsing big spenders). Rules are taken in the
// order above, specific before generic, and each names the not yet named
// cluster where it fires most strongly (ties: the lower index), so a name is
// used at most once and goes to its clearest example. A cluster no rule
// fits gets a descriptive fallback with its 1-based index, which keeps names
// unique: "cluster 3: high n_page_view_30d, low revenue_365d" from its
// highest and lowest z beyond ±τ, or "cluster 3: near average" when none is.
// The result depends only on feats and centroids.
func NameClusters(feats []string, centroids [][]float64) []string {
	groups := make([]sgGroups, len(centroids))
	for q, c := range centroids {
		groups[q] = sgGroupsOf(feats, c)
	}
	names := make([]string, len(centroids))
	for _, rule := range sgNameRules {
		best, bestS := -1, 0.0
		for q, g := range groups {
			if names[q] != "" {
				continue
			}
			if s, ok := rule.fires(g); ok && (best < 0 || s > bestS) {
				best, bestS = q, s
			}
		}
		if best >= 0 {
			names[best] = rule.name
		}
	}
	for q, c := range centroids {
		if names[q] == "" {
			names[q] = sgFallbackName(q, feats, c)
		}
	}
	return names
}

// sgFallbackName is "cluster k: high X, low Y" from the highest z >= τ and
// the lowest z <= −τ of centroid q.
func sgFallbackName(q int, feats []string, c []float64) string {
	hi, lo := -1, -1
	for j, v := range c {
		if v >= NameThreshold && (hi < 0 || v > c[hi]) {
			hi = j
		}
		if v <= -NameThreshold && (lo < 0 || v < c[lo]) {
			lo = j
		}
	}
	var parts []string
	if hi >= 0 {
		parts = append(parts, "high "+feats[hi])
	}
	if lo >= 0 {
		parts = append(parts, "low "+feats[lo])
	}
	if len(parts) == 0 {
		parts = append(parts, "near average")
	}
	return fmt.Sprintf("cluster %d: %s", q+1, strings.Join(parts, ", "))
}

// SegmentRules are the fitted rules of every segment family, as stored in
// model.Model.
type SegmentRules struct {
	// Clusters are the behavioural clusters; nil leaves the cluster family
	// out.
	Clusters *model.Clusters
	// RFM, Lifecycle, Tiers and Bands are the other families' rules.
	RFM       model.RFMRules
	Lifecycle model.LifecycleRules
	Tiers     model.TierRules
	Bands     model.RiskBands
}

// FamilyLabels is every user's segment in one family at one cutoff.
type FamilyLabels struct {
	// Family is one of the Family* names.
	Family string
	// Order lists the family's segments in display order, empty ones
	// included.
	Order []string
	// Labels holds one segment per user; "" means not segmented (a
	// feature the rule needs is missing).
	Labels []string
}

// Segmentation is the segment of every user in each family at one cutoff.
type Segmentation struct {
	// Cutoff is the snapshot's cutoff.
	Cutoff time.Time
	// Users are the user ids, one per row.
	Users []string
	// Families are in report order: cluster (when fitted), rfm, lifecycle,
	// usage_tier, risk_band (when churn probabilities were given).
	Families []FamilyLabels
}

// RiskBandOrder lists the risk bands from high to low.
var RiskBandOrder = []string{model.BandHigh, model.BandMedium, model.BandLow}

// SegmentUsers applies rules to every row of x (columns named by names;
// users[i] is row i's id) exactly as model.(*Model).Score does: a column
// absent from names reads as NaN, so, for example, without prev_gap_days
// nobody is "reactivated". churnProb holds the calibrated churn
// probabilities of the rows for the risk band; nil leaves that family out.
func SegmentUsers(names []string, x *Matrix, users []string, cutoff time.Time, rules SegmentRules, churnProb []float64) (*Segmentation, error) {
	if x == nil {
		return nil, fmt.Errorf("training: segment users: nil matrix: %w", ErrShape)
	}
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("training: segment users: %w", err)
	}
	if len(names) != x.Cols || len(users) != x.Rows || (churnProb != nil && len(churnProb) != x.Rows) {
		return nil, fmt.Errorf("training: segment users: %d names, %d users, %d probabilities for a %d×%d matrix: %w",
			len(names), len(users), len(churnProb), x.Rows, x.Cols, ErrShape)
	}
	return segmentRows(names, x.Rows, x.Row, users, cutoff, rules, churnProb)
}

// segmentRows is SegmentUsers on n rows given by row (each of len(names)
// values), so that a snapshot's vectors need not be copied into a Matrix.
func segmentRows(names []string, n int, row func(i int) []float64, users []string, cutoff time.Time, rules SegmentRules, churnProb []float64) (*Segmentation, error) {
	index := make(map[string]int, len(names))
	for j, n := range names {
		index[n] = j
	}
	col := func(name string) int {
		if j, ok := index[name]; ok {
			return j
		}
		return -1
	}
	val := func(row []float64, j int) float64 {
		if j < 0 {
			return math.NaN()
		}
		return row[j]
	}
	s := &Segmentation{Cutoff: cutoff, Users: slices.Clone(users)}
	add := func(fam string, order []string) []string {
		l := make([]string, n)
		s.Families = append(s.Families, FamilyLabels{Family: fam, Order: slices.Clone(order), Labels: l})
		return l
	}
	var cluster []string
	if rules.Clusters != nil {
		cluster = add(FamilyCluster, rules.Clusters.KMeans.Names)
	}
	rfm := add(FamilyRFM, model.RFMSegmentNames)
	life := add(FamilyLifecycle, model.LifecycleStages)
	tier := add(FamilyUsageTier, model.UsageTiers)
	var band []string
	if churnProb != nil {
		band = add(FamilyRiskBand, RiskBandOrder)
	}
	jR, jF, jM := col(rules.RFM.RecencyFeature), col(rules.RFM.FrequencyFeature), col(rules.RFM.MonetaryFeature)
	jTen, jRec, jGap := col(model.FeatTenure), col(model.FeatRecency), col(model.FeatPrevGap)
	jTier := col(rules.Tiers.Feature)
	var cCols []int
	if c := rules.Clusters; c != nil {
		if c.Transform == nil || c.KMeans == nil || c.KMeans.K() == 0 || c.Transform.Len() != len(c.Features) {
			return nil, fmt.Errorf("training: segment users: clusters without centroids or with %d features for their transform: %w",
				len(c.Features), ErrShape)
		}
		for _, f := range c.Features {
			cCols = append(cCols, col(f))
		}
	}
	kmParallel(n, runtime.GOMAXPROCS(0), func(lo, hi, _ int) {
		// The cluster assignment of model.Clusters.Assign (a missing column
		// is NaN, imputed with the training mean), without its allocations.
		v := make([]float64, len(cCols))
		z := make([]float64, len(cCols))
		for i := lo; i < hi; i++ {
			row := row(i)
			if cluster != nil {
				for c, j := range cCols {
					v[c] = val(row, j)
				}
				cluster[i] = rules.Clusters.Name(rules.Clusters.KMeans.Assign(rules.Clusters.Transform.Apply(z, v)))
			}
			rfm[i] = model.RFMSegment(rules.RFM.Score(val(row, jR), val(row, jF), val(row, jM)))
			life[i] = rules.Lifecycle.Stage(val(row, jTen), val(row, jRec), val(row, jGap))
			tier[i] = rules.Tiers.Tier(val(row, jTier))
			if band != nil {
				band[i] = rules.Bands.Band(churnProb[i])
			}
		}
	})
	return s, nil
}

// SegmentHealth is how the segments behave on the holdout: every family's
// sizes and observed churn at the last cutoff, its stability across
// consecutive cutoffs, and the overlap between families.
type SegmentHealth struct {
	// Cutoff is the cutoff sizes and churn are measured at (the holdout).
	Cutoff time.Time `json:"cutoff"`
	// Users is the number of users at Cutoff.
	Users int `json:"users"`
	// Families are in the order of the Segmentation.
	Families []FamilyHealth `json:"families"`
	// Overlaps holds one table per pair of families at Cutoff, in family
	// order (cluster×rfm, cluster×lifecycle, ...).
	Overlaps []Overlap `json:"overlaps"`
}

// FamilyHealth is one family on the holdout.
type FamilyHealth struct {
	// Family is one of the Family* names.
	Family string `json:"family"`
	// Segments are the family's segments in display order, empty ones
	// included.
	Segments []SegmentSize `json:"segments"`
	// Unsegmented counts users with no segment in this family.
	Unsegmented int `json:"unsegmented"`
	// Transitions holds one matrix per pair of consecutive cutoffs, oldest
	// first, over the run of cutoffs ending at the holdout at which the
	// family exists; the last ends at the holdout. Empty with one cutoff or
	// when the family is missing at the cutoff before the holdout.
	Transitions []Transition `json:"transitions"`
}

// SegmentSize is one segment's size and observed churn.
type SegmentSize struct {
	// Name is the segment.
	Name string `json:"name"`
	// Users is the number of users in it; Share is Users over all users
	// at the cutoff (unsegmented ones included).
	Users int     `json:"users"`
	Share float64 `json:"share"`
	// Churned is the number of them who churned in the horizon.
	Churned int `json:"churned"`
	// ChurnRate is Churned / Users; nil for an empty segment or without
	// churn labels.
	ChurnRate *float64 `json:"churn_rate"`
	// MeanChurnProbability is the mean predicted churn probability; nil
	// for an empty segment or without probabilities.
	MeanChurnProbability *float64 `json:"mean_churn_probability"`
}

// Transition is the segment-to-segment matrix of one family between two
// cutoffs, over the users segmented at both.
type Transition struct {
	// From and To are the cutoffs of rows and columns.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Users is the number of users segmented at both cutoffs; Stayed those
	// in a segment of the same name at both.
	Users  int `json:"users"`
	Stayed int `json:"stayed"`
	// Stability is Stayed / Users (0 without users).
	Stability float64 `json:"stability"`
	// Segments names the rows (segment at From) and the columns (segment
	// at To): the family's display order, then any other names in order.
	Segments []string `json:"segments"`
	// Counts[i][j] is the number of users in Segments[i] at From and
	// Segments[j] at To.
	Counts [][]int `json:"counts"`
	// RowShares[i][j] is Counts[i][j] over row i's total (all zero for an
	// empty row): where the users of a segment went.
	RowShares [][]float64 `json:"row_shares"`
}

// Overlap is the contingency table of two families at one cutoff, over
// the users segmented in both.
type Overlap struct {
	// A and B name the families of rows and columns.
	A string `json:"a"`
	B string `json:"b"`
	// Users is the number of users segmented in both.
	Users int `json:"users"`
	// Rows and Cols are the segments of A and B in display order.
	Rows []string `json:"rows"`
	Cols []string `json:"cols"`
	// Counts[i][j] is the number of users in Rows[i] and Cols[j].
	Counts [][]int `json:"counts"`
	// BestB holds, for each non-empty segment of A, the segment of B it is
	// most similar to; BestA the same for each non-empty segment of B.
	BestB []BestOverlap `json:"best_b"`
	BestA []BestOverlap `json:"best_a"`
}

// BestOverlap names the segment of the other family that a segment
// overlaps most with, by Jaccard similarity |S∩T| / |S∪T| (ties: the
// earlier in display order).
type BestOverlap struct {
	// Segment is the segment; With the most similar segment of the other
	// family.
	Segment string `json:"segment"`
	With    string `json:"with"`
	// Both is the number of users in both.
	Both int `json:"both"`
	// Jaccard is Both / (|Segment| + |With| − Both).
	Jaccard float64 `json:"jaccard"`
}

// SegmentHealthOf measures the segments. snaps are the segmentations at
// consecutive cutoffs, oldest first; the last is the holdout, and churned
// (and prob, when not nil) are the churn outcomes and predicted churn
// probabilities of its users, in its row order (churned may be nil: no
// rates). Users are matched across cutoffs by id; users present at only
// one cutoff, or unsegmented at either, do not enter a transition. A
// family's transitions start after the latest snapshot that lacks it.
func SegmentHealthOf(snaps []*Segmentation, churned []bool, prob []float64) (*SegmentHealth, error) {
	if len(snaps) == 0 || snaps[len(snaps)-1] == nil {
		return nil, fmt.Errorf("training: segment health: no segmentation: %w", ErrEmpty)
	}
	for k, s := range snaps {
		if s == nil {
			return nil, fmt.Errorf("training: segment health: snapshot %d is nil: %w", k, ErrShape)
		}
		for _, f := range s.Families {
			if len(f.Labels) != len(s.Users) {
				return nil, fmt.Errorf("training: segment health: %s at %s: %d labels for %d users: %w",
					f.Family, day(s.Cutoff), len(f.Labels), len(s.Users), ErrShape)
			}
		}
	}
	last := snaps[len(snaps)-1]
	n := len(last.Users)
	if (churned != nil && len(churned) != n) || (prob != nil && len(prob) != n) {
		return nil, fmt.Errorf("training: segment health: %d users, %d outcomes, %d probabilities: %w",
			n, len(churned), len(prob), ErrShape)
	}
	// match[k][i] is the row at snapshot k−1 of user i of snapshot k, or −1.
	match := make([][]int32, len(snaps))
	var prev map[string]int32
	for k, s := range snaps {
		pos := make(map[string]int32, len(s.Users))
		for i, id := range s.Users {
			if _, dup := pos[id]; dup {
				return nil, fmt.Errorf("training: segment health: user %q at %s: %w", id, day(s.Cutoff), ErrDuplicateUser)
			}
			pos[id] = int32(i)
		}
		if k > 0 {
			match[k] = make([]int32, len(s.Users))
			for i, id := range s.Users {
				j, ok := prev[id]
				if !ok {
					j = -1
				}
				match[k][i] = j
			}
		}
		prev = pos
	}
	h := &SegmentHealth{Cutoff: last.Cutoff, Users: n, Families: []FamilyHealth{}, Overlaps: []Overlap{}}
	coded := make([]sgCoded, len(last.Families))
	for fi := range last.Families {
		f := &last.Families[fi]
		coded[fi] = sgCode(f.Order, f.Labels)
		fh := FamilyHealth{Family: f.Family, Transitions: []Transition{}}
		names := coded[fi].names
		users := make([]int, len(names))
		churn := make([]int, len(names))
		psum := make([]float64, len(names))
		for i, q := range coded[fi].codes {
			if q < 0 {
				fh.Unsegmented++
				continue
			}
			users[q]++
			if churned != nil && churned[i] {
				churn[q]++
			}
			if prob != nil {
				psum[q] += prob[i]
			}
		}
		for q, name := range names {
			sz := SegmentSize{Name: name, Users: users[q], Churned: churn[q]}
			if n > 0 {
				sz.Share = float64(users[q]) / float64(n)
			}
			if users[q] > 0 && churned != nil {
				r := float64(churn[q]) / float64(users[q])
				sz.ChurnRate = &r
			}
			if users[q] > 0 && prob != nil {
				m := psum[q] / float64(users[q])
				sz.MeanChurnProbability = &m
			}
			fh.Segments = append(fh.Segments, sz)
		}
		for k := 1; k < len(snaps); k++ {
			from := sgFamily(snaps[k-1], f.Family)
			to := sgFamily(snaps[k], f.Family)
			if from == nil || to == nil {
				fh.Transitions = fh.Transitions[:0]
				continue
			}
			fh.Transitions = append(fh.Transitions, sgTransition(snaps[k-1].Cutoff, snaps[k].Cutoff, from, to, match[k], f.Order))
		}
		h.Families = append(h.Families, fh)
	}
	for a := range last.Families {
		for b := a + 1; b < len(last.Families); b++ {
			h.Overlaps = append(h.Overlaps, sgOverlap(last.Families[a].Family, last.Families[b].Family, coded[a], coded[b]))
		}
	}
	return h, nil
}

// sgCoded is one family's labels as indices into names (−1: unsegmented).
type sgCoded struct {
	names []string
	codes []int32
}

// sgCode codes labels against order followed by the other non-empty
// labels in name order (the order of segOrder).
func sgCode(order []string, labels ...[]string) sgCoded {
	names := slices.Clone(order)
	at := sgPositions(names)
	var extra []string
	for _, ls := range labels {
		for _, l := range ls {
			if _, ok := at[l]; !ok && l != "" {
				at[l] = -1
				extra = append(extra, l)
			}
		}
	}
	slices.Sort(extra)
	for _, l := range extra {
		at[l] = len(names)
		names = append(names, l)
	}
	c := sgCoded{names: names}
	if len(labels) == 1 {
		c.codes = make([]int32, len(labels[0]))
		for i, l := range labels[0] {
			c.codes[i] = -1
			if l != "" {
				c.codes[i] = int32(at[l])
			}
		}
	}
	return c
}

// sgCodes codes labels against c.names (every non-empty label must be in
// them).
func (c sgCoded) sgCodes(labels []string) []int32 {
	at := sgPositions(c.names)
	out := make([]int32, len(labels))
	for i, l := range labels {
		out[i] = -1
		if l != "" {
			out[i] = int32(at[l])
		}
	}
	return out
}

// sgPositions maps each name to its index.
func sgPositions(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// sgFamily returns the family's labels in s, or nil.
func sgFamily(s *Segmentation, family string) *FamilyLabels {
	for i := range s.Families {
		if s.Families[i].Family == family {
			return &s.Families[i]
		}
	}
	return nil
}

// sgTransition counts the users of the later snapshot (labels to) by
// their segment at the earlier one (labels from); match[i] is the earlier
// row of later user i, or −1.
func sgTransition(fromCut, toCut time.Time, from, to *FamilyLabels, match []int32, order []string) Transition {
	c := sgCode(order, from.Labels, to.Labels)
	ca, cb := c.sgCodes(from.Labels), c.sgCodes(to.Labels)
	k := len(c.names)
	t := Transition{From: fromCut, To: toCut, Segments: c.names,
		Counts: make([][]int, k), RowShares: make([][]float64, k)}
	for i := range k {
		t.Counts[i] = make([]int, k)
		t.RowShares[i] = make([]float64, k)
	}
	for i, j := range match {
		if j < 0 {
			continue
		}
		r, q := ca[j], cb[i]
		if r < 0 || q < 0 {
			continue
		}
		t.Counts[r][q]++
		t.Users++
		if r == q {
			t.Stayed++
		}
	}
	for i, row := range t.Counts {
		tot := 0
		for _, v := range row {
			tot += v
		}
		if tot > 0 {
			for j, v := range row {
				t.RowShares[i][j] = float64(v) / float64(tot)
			}
		}
	}
	if t.Users > 0 {
		t.Stability = float64(t.Stayed) / float64(t.Users)
	}
	return t
}

// sgOverlap is the contingency table of families a and b (coded labels of
// the same users) over the users segmented in both, with each segment's
// most similar segment of the other family.
func sgOverlap(fa, fb string, a, b sgCoded) Overlap {
	o := Overlap{A: fa, B: fb, Rows: a.names, Cols: b.names, Counts: make([][]int, len(a.names))}
	for i := range o.Counts {
		o.Counts[i] = make([]int, len(b.names))
	}
	rowTot := make([]int, len(a.names))
	colTot := make([]int, len(b.names))
	for i, r := range a.codes {
		q := b.codes[i]
		if r < 0 || q < 0 {
			continue
		}
		o.Counts[r][q]++
		rowTot[r]++
		colTot[q]++
		o.Users++
	}
	jac := func(both, s, t int) float64 {
		if u := s + t - both; u > 0 {
			return float64(both) / float64(u)
		}
		return 0
	}
	o.BestB, o.BestA = []BestOverlap{}, []BestOverlap{}
	for r, name := range o.Rows {
		if rowTot[r] == 0 {
			continue
		}
		best := BestOverlap{Segment: name, Jaccard: -1}
		for q, with := range o.Cols {
			if j := jac(o.Counts[r][q], rowTot[r], colTot[q]); j > best.Jaccard {
				best = BestOverlap{Segment: name, With: with, Both: o.Counts[r][q], Jaccard: j}
			}
		}
		o.BestB = append(o.BestB, best)
	}
	for q, name := range o.Cols {
		if colTot[q] == 0 {
			continue
		}
		best := BestOverlap{Segment: name, Jaccard: -1}
		for r, with := range o.Rows {
			if j := jac(o.Counts[r][q], rowTot[r], colTot[q]); j > best.Jaccard {
				best = BestOverlap{Segment: name, With: with, Both: o.Counts[r][q], Jaccard: j}
			}
		}
		o.BestA = append(o.BestA, best)
	}
	return o
}

// ReportSegments converts h into the report's segments section: one
// SegmentFamily per family (stability for every pair of cutoffs, the last
// transition matrix), every overlap as a Contingency, and the cluster
// profiles (nil means none).
func (h *SegmentHealth) ReportSegments(profiles []model.ClusterProfile) Segments {
	s := Segments{Overlap: []Contingency{}, ClusterProfiles: []model.ClusterProfile{}}
	if profiles != nil {
		s.ClusterProfiles = profiles
	}
	for i := range h.Families {
		f := &h.Families[i]
		sf := &SegmentFamily{Family: f.Family, Snapshot: h.Cutoff, Stability: []Stability{}}
		for _, z := range f.Segments {
			sf.Segments = append(sf.Segments, SegmentStat{Name: z.Name, Users: z.Users, Share: z.Share,
				ChurnRate: z.ChurnRate, MeanChurnProbability: z.MeanChurnProbability})
		}
		for _, t := range f.Transitions {
			sf.Stability = append(sf.Stability, Stability{From: t.From, To: t.To, Users: t.Users, Same: t.Stability})
		}
		if len(f.Transitions) > 0 {
			t := f.Transitions[len(f.Transitions)-1]
			sf.Transitions = &Contingency{RowFamily: f.Family, ColFamily: f.Family, From: t.From, To: t.To,
				Rows: t.Segments, Cols: t.Segments, Counts: t.Counts, Users: t.Users, Diagonal: t.Stability,
				CramersV: cramersV(t.Counts, t.Users)}
		}
		switch f.Family {
		case FamilyCluster:
			s.Cluster = sf
		case FamilyRFM:
			s.RFM = sf
		case FamilyLifecycle:
			s.Lifecycle = sf
		case FamilyUsageTier:
			s.UsageTier = sf
		case FamilyRiskBand:
			s.RiskBand = sf
		}
	}
	for _, o := range h.Overlaps {
		same := 0
		for r, rn := range o.Rows {
			for c, cn := range o.Cols {
				if rn == cn {
					same += o.Counts[r][c]
				}
			}
		}
		c := Contingency{RowFamily: o.A, ColFamily: o.B, From: h.Cutoff, To: h.Cutoff, Rows: o.Rows, Cols: o.Cols,
			Counts: o.Counts, Users: o.Users, CramersV: cramersV(o.Counts, o.Users)}
		if o.Users > 0 {
			c.Diagonal = float64(same) / float64(o.Users)
		}
		s.Overlap = append(s.Overlap, c)
	}
	return s
}
