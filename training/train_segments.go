package training

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/lapse-dev/lapse/model"
)

// This file holds the pipeline's side of the segments: which rows the rules
// are derived from, and the segment health on the holdout.

// quantile returns the q-quantile of sorted values by linear interpolation
// between closest ranks (NumPy's default "linear" method): position
// q·(n−1), 0 for an empty slice.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// column returns a sorted copy of column name of x, or nil when absent.
func (tr *trainer) column(x *Matrix, name string) []float64 {
	j := slices.Index(tr.names, name)
	if j < 0 {
		return nil
	}
	v := make([]float64, x.Rows)
	for i := range v {
		v[i] = x.At(i, j)
	}
	slices.Sort(v)
	return v
}

// rfmRules derives the RFM quintile edges from rows: recency_days;
// frequency orders_total when any user has an order, else events_total;
// monetary revenue_total when any user has revenue, else the frequency
// column. Edges are the 20/40/60/80th percentiles (see quantile).
func (tr *trainer) rfmRules(r *rowSet) model.RFMRules {
	rules := model.RFMRules{RecencyFeature: model.FeatRecency, FrequencyFeature: model.FeatOrdersTotal,
		MonetaryFeature: model.FeatRevenueTotal}
	orders := tr.column(&r.x, model.FeatOrdersTotal)
	if len(orders) == 0 || orders[len(orders)-1] <= 0 {
		rules.FrequencyFeature = model.FeatEventsTotal
	}
	rev := tr.column(&r.x, model.FeatRevenueTotal)
	if len(rev) == 0 || rev[len(rev)-1] <= 0 {
		rules.MonetaryFeature = rules.FrequencyFeature
	}
	edges := func(name string) [4]float64 {
		v := tr.column(&r.x, name)
		return [4]float64{quantile(v, .2), quantile(v, .4), quantile(v, .6), quantile(v, .8)}
	}
	rules.Recency = edges(rules.RecencyFeature)
	rules.Frequency = edges(rules.FrequencyFeature)
	rules.Monetary = edges(rules.MonetaryFeature)
	return rules
}

// lifecycleRules derives the lifecycle thresholds from the typical gap g
// between active days (median gap_mean_days over users with at least two
// active days): recently active within max(7, 2g) days (at most the
// horizon), at risk up to twice that, dormant up to four times that, then
// churned; "new" within the first 30 days (or the active threshold when
// larger); "reactivated" when the user returned after a gap longer than
// the at-risk threshold, i.e. after having been dormant.
func (tr *trainer) lifecycleRules(r *rowSet) model.LifecycleRules {
	gaps := tr.column(&r.x, model.FeatGapMean)
	gaps = slices.DeleteFunc(gaps, func(v float64) bool { return v <= 0 })
	g := 7.0
	if len(gaps) > 0 {
		g = quantile(gaps, .5)
	}
	h := float64(tr.cfg.Horizon.Hours() / 24)
	active := math.Min(math.Max(7, math.Round(2*g)), math.Max(7, h))
	return model.LifecycleRules{
		NewDays:            math.Max(30, active),
		ActiveDays:         active,
		AtRiskDays:         2 * active,
		DormantDays:        4 * active,
		ReactivatedGapDays: 2 * active,
	}
}

// tierRules cuts active days in the last 30 days (or the window closest to
// 30 days): among users active in the window the top 20% are "power", the
// next 40% "regular", the rest "light"; users not active in it "ex-user".
func (tr *trainer) tierRules(r *rowSet) model.TierRules {
	feat := model.FeatActiveDays30
	if !slices.Contains(tr.names, feat) {
		best := math.Inf(1)
		for _, w := range tr.spec.Windows {
			if d := math.Abs(float64(w) - 30); d < best {
				best, feat = d, fmt.Sprintf("active_days_%dd", w)
			}
		}
	}
	v := tr.column(&r.x, feat)
	v = slices.DeleteFunc(v, func(x float64) bool { return x <= 0 })
	t := model.TierRules{Feature: feat, PowerAt: 1, RegularAt: 1}
	if len(v) > 0 {
		t.PowerAt = math.Max(1, math.Ceil(quantile(v, .8)))
		t.RegularAt = math.Max(1, math.Ceil(quantile(v, .4)))
	}
	return t
}

// riskBands cuts calibrated churn probabilities p with base rate b: "high"
// from the stricter of the top 20% of scores and 2·b (capped below 1),
// "medium" from b.
func riskBands(p []float64, b float64) model.RiskBands {
	s := slices.Clone(p)
	slices.Sort(s)
	high := math.Max(quantile(s, .8), math.Min(2*b, (1+b)/2))
	return model.RiskBands{Medium: math.Min(b, high), High: high}
}

// clusterFeatures are the usage columns clustered on, those present in the
// Spec: activity and money in the 30-day window (or the window nearest 30),
// per-type counts in that window, variety, timing, trend and recency.
func (tr *trainer) clusterFeatures() []string {
	w := 30
	if !slices.Contains(tr.spec.Windows, 30) {
		best := math.Inf(1)
		for _, x := range tr.spec.Windows {
			if d := math.Abs(float64(x) - 30); d < best {
				best, w = d, x
			}
		}
	}
	sfx := fmt.Sprintf("_%dd", w)
	var out []string
	for _, n := range tr.names {
		switch {
		case n == "events"+sfx, n == "active_days"+sfx, n == "revenue"+sfx, n == "orders"+sfx,
			n == "distinct_types"+sfx, strings.HasPrefix(n, "n_") && strings.HasSuffix(n, sfx),
			n == "weekend_share", n == "trend_30d", n == model.FeatRecency:
			out = append(out, n)
		}
	}
	return out
}

// maxClusterRows caps the rows k-means is fitted on (a seeded sample).
const maxClusterRows = 200_000

// clusters fits the behavioural clusters on the T1 rows: log1p (counts,
// money, days) and standardisation, k by silhouette (2..10) unless set,
// k-means++ with restarts, and a readable unique name per cluster.
func (tr *trainer) clusters(ctx context.Context, r *rowSet) (*model.Clusters, error) {
	feats := tr.clusterFeatures()
	if len(feats) < 2 || r.x.Rows < 50 {
		return nil, nil
	}
	cols := make([]int, len(feats))
	kinds := make([]string, len(feats))
	for i, f := range feats {
		cols[i] = slices.Index(tr.names, f)
		kinds[i] = tr.kinds[cols[i]]
	}
	sub := NewMatrix(r.x.Rows, len(feats))
	for i := range r.x.Rows {
		row := r.x.Row(i)
		for k, j := range cols {
			sub.Data[i*len(feats)+k] = row[j]
		}
	}
	t, err := FitTransform(&sub, feats, kinds)
	if err != nil {
		return nil, fmt.Errorf("training: clusters: %w", err)
	}
	z, err := ApplyTransform(t, &sub)
	if err != nil {
		return nil, fmt.Errorf("training: clusters: %w", err)
	}
	fitX := z
	if z.Rows > maxClusterRows {
		keep := NewMatrix(0, z.Cols)
		for i := range z.Rows {
			ref := r.refs[i]
			if userUnit(tr.snaps[ref.s].ds.Vectors[ref.i].UserID, tr.cfg.Seed^0xc1a57e55) < float64(maxClusterRows)/float64(z.Rows) {
				keep.Data = append(keep.Data, z.Row(i)...)
				keep.Rows++
			}
		}
		fitX = &keep
	}
	km := &KMeansOptions{Seed: tr.cfg.Seed}
	k := tr.cfg.K
	if k == 0 {
		if fitX.Rows <= 10 {
			return nil, nil
		}
		if k, _, err = ChooseK(ctx, fitX, &ChooseKOptions{KMeans: km}); err != nil {
			return nil, fmt.Errorf("training: clusters: %w", err)
		}
	}
	if fitX.Rows <= k {
		return nil, nil
	}
	fit, err := FitKMeans(ctx, fitX, k, km)
	if err != nil {
		return nil, fmt.Errorf("training: clusters: %w", err)
	}
	c := &model.Clusters{Features: feats, Transform: t, KMeans: fit.Model}
	// Profiles on every row, in raw units.
	counts := make([]int, k)
	sums := make([][]float64, k)
	for i := range sums {
		sums[i] = make([]float64, len(feats))
	}
	for i := range z.Rows {
		a := c.KMeans.Assign(z.Row(i))
		counts[a]++
		for f, v := range sub.Row(i) {
			sums[a][f] += v
		}
	}
	c.Profiles = make([]model.ClusterProfile, k)
	for a := range k {
		p := model.ClusterProfile{Share: float64(counts[a]) / float64(z.Rows), Means: map[string]float64{}, Z: map[string]float64{}}
		for f, name := range feats {
			if counts[a] > 0 {
				p.Means[name] = round6(sums[a][f] / float64(counts[a]))
			}
			p.Z[name] = round6(c.KMeans.Centroids[a][f])
		}
		c.Profiles[a] = p
	}
	c.KMeans.Names = clusterNames(feats, c.KMeans.Centroids)
	for a := range c.Profiles {
		c.Profiles[a].Name = c.KMeans.Names[a]
	}
	return c, nil
}

// clusterNames names each centroid (standardised units) from its profile:
// the first rule that fires, in order, gives the name; a name already taken
// falls back to "cluster k: high X, low Y" with the centroid's most extreme
// features, so names are unique and say what sets the cluster apart.
//
//	dormant             recency z > 0.8 and activity z < −0.3
//	lapsing big spenders revenue z > 0.8 and recency z > 0.3
//	big spenders        revenue z > 0.8
//	power users         activity z > 0.8
//	weekend users       weekend_share z > 0.8
//	explorers           distinct types z > 0.8
//	occasional users    activity z < −0.3
//	regular users       otherwise
//
// Activity is the mean z of the events and active-days columns; revenue the
// mean z of the revenue and orders columns.
func clusterNames(feats []string, centroids [][]float64) []string {
	mean := func(c []float64, pred func(string) bool) (float64, bool) {
		s, n := 0.0, 0
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
	has := func(prefix string) func(string) bool {
		return func(f string) bool { return strings.HasPrefix(f, prefix) }
	}
	names := make([]string, len(centroids))
	taken := map[string]bool{}
	for a, c := range centroids {
		act, _ := mean(c, func(f string) bool { return strings.HasPrefix(f, "events_") || strings.HasPrefix(f, "active_days_") })
		rev, okRev := mean(c, func(f string) bool { return strings.HasPrefix(f, "revenue_") || strings.HasPrefix(f, "orders_") })
		rec, _ := mean(c, func(f string) bool { return f == model.FeatRecency })
		wk, _ := mean(c, has("weekend_share"))
		dt, _ := mean(c, has("distinct_types_"))
		var name string
		switch {
		case rec > 0.8 && act < -0.3:
			name = "dormant"
		case okRev && rev > 0.8 && rec > 0.3:
			name = "lapsing big spenders"
		case okRev && rev > 0.8:
			name = "big spenders"
		case act > 0.8:
			name = "power users"
		case wk > 0.8:
			name = "weekend users"
		case dt > 0.8:
			name = "explorers"
		case act < -0.3:
			name = "occasional users"
		default:
			name = "regular users"
		}
		if taken[name] {
			name = fallbackName(a, feats, c)
		}
		taken[name] = true
		names[a] = name
	}
	return names
}

// fallbackName is "cluster k: high X, low Y" from the centroid's largest
// and smallest z.
func fallbackName(a int, feats []string, c []float64) string {
	hi, lo := 0, 0
	for j := range c {
		if c[j] > c[hi] {
			hi = j
		}
		if c[j] < c[lo] {
			lo = j
		}
	}
	return fmt.Sprintf("cluster %d: high %s, low %s", a+1, feats[hi], feats[lo])
}

// segmentLabels returns, for every row of r, its segment in each family
// (cluster, rfm, lifecycle, usage tier, risk band) under m's rules, with
// churn probabilities p for the risk band.
func (tr *trainer) segmentLabels(m *model.Model, r *rowSet, p []float64) [5][]string {
	var out [5][]string
	for f := range out {
		out[f] = make([]string, r.x.Rows)
	}
	idx := make(map[string]int, len(tr.names))
	for j, n := range tr.names {
		idx[n] = j
	}
	col := func(name string) int {
		if j, ok := idx[name]; ok {
			return j
		}
		return -1
	}
	val := func(x []float64, name string) float64 {
		if j := col(name); j >= 0 {
			return x[j]
		}
		return math.NaN()
	}
	for i := range r.x.Rows {
		x := r.x.Row(i)
		if m.Clusters != nil {
			out[0][i] = m.Clusters.Name(m.Clusters.Assign(col, x))
		}
		out[1][i] = model.RFMSegment(m.RFM.Score(val(x, m.RFM.RecencyFeature), val(x, m.RFM.FrequencyFeature), val(x, m.RFM.MonetaryFeature)))
		out[2][i] = m.Lifecycle.Stage(val(x, model.FeatTenure), val(x, model.FeatRecency), val(x, model.FeatPrevGap))
		out[3][i] = m.Tiers.Tier(val(x, m.Tiers.Feature))
		out[4][i] = m.Bands.Band(p[i])
	}
	return out
}

// segmentHealth measures every family on the T1 rows (sizes, observed
// churn, mean predicted churn), its stability and transitions between
// consecutive snapshots (users present in both), and overlaps between
// families at T1. p are the out-of-time churn probabilities of the model
// evaluated at T1; earlier snapshots use the same model.
func (tr *trainer) segmentHealth(m *model.Model, evalClf *model.Classifier, ootProb []float64) (Segments, error) {
	var seg Segments
	families := []string{FamilyCluster, FamilyRFM, FamilyLifecycle, FamilyUsageTier, FamilyRiskBand}
	orders := [5][]string{nil, model.RFMSegmentNames, model.LifecycleStages, model.UsageTiers,
		{model.BandHigh, model.BandMedium, model.BandLow}}
	if m.Clusters != nil {
		orders[0] = m.Clusters.KMeans.Names
	}
	labels := make([][5][]string, len(tr.snaps))
	users := make([][]string, len(tr.snaps))
	for k, s := range tr.snaps {
		r := gather(tr.snaps, []int{k}, allRows)
		p := ootProb
		if k != tr.oot {
			p = tr.predict(evalClf, &r.x)
		}
		labels[k] = tr.segmentLabels(m, r, p)
		users[k] = make([]string, len(s.ds.Vectors))
		for i, v := range s.ds.Vectors {
			users[k][i] = v.UserID
		}
	}
	oot := tr.snaps[tr.oot]
	churned := make([]float64, len(oot.ds.Churn))
	for i, c := range oot.ds.Churn {
		churned[i] = b2f(c)
	}
	dst := []**SegmentFamily{&seg.Cluster, &seg.RFM, &seg.Lifecycle, &seg.UsageTier, &seg.RiskBand}
	for f, fam := range families {
		if f == 0 && m.Clusters == nil {
			continue
		}
		stats, err := NewSegmentStats(orders[f], labels[tr.oot][f], churned, ootProb)
		if err != nil {
			return seg, err
		}
		sf := &SegmentFamily{Family: fam, Snapshot: oot.cutoff, Segments: stats, Stability: []Stability{}}
		for k := 1; k < len(tr.snaps); k++ {
			a, b := pairLabels(users[k-1], labels[k-1][f], users[k], labels[k][f])
			st := Stability{From: tr.snaps[k-1].cutoff, To: tr.snaps[k].cutoff, Users: len(a)}
			same := 0
			for i := range a {
				if a[i] == b[i] {
					same++
				}
			}
			if len(a) > 0 {
				st.Same = float64(same) / float64(len(a))
			}
			sf.Stability = append(sf.Stability, st)
			if k == tr.oot {
				if sf.Transitions, err = NewContingency(fam, fam, tr.snaps[k-1].cutoff, tr.snaps[k].cutoff,
					orders[f], orders[f], a, b); err != nil {
					return seg, err
				}
			}
		}
		*dst[f] = sf
	}
	pairs := [][2]int{{1, 2}, {2, 4}, {1, 4}, {3, 2}}
	if m.Clusters != nil {
		pairs = append(pairs, [2]int{0, 4}, [2]int{0, 1})
	}
	seg.Overlap = []Contingency{}
	for _, pr := range pairs {
		c, err := NewContingency(families[pr[0]], families[pr[1]], oot.cutoff, oot.cutoff, orders[pr[0]], orders[pr[1]],
			labels[tr.oot][pr[0]], labels[tr.oot][pr[1]])
		if err != nil {
			return seg, err
		}
		seg.Overlap = append(seg.Overlap, *c)
	}
	seg.ClusterProfiles = []model.ClusterProfile{}
	if m.Clusters != nil {
		seg.ClusterProfiles = m.Clusters.Profiles
	}
	return seg, nil
}

// pairLabels returns the labels of the users present in both sorted id
// lists, in id order.
func pairLabels(idsA, labA, idsB, labB []string) (a, b []string) {
	i, j := 0, 0
	for i < len(idsA) && j < len(idsB) {
		switch {
		case idsA[i] < idsB[j]:
			i++
		case idsA[i] > idsB[j]:
			j++
		default:
			a = append(a, labA[i])
			b = append(b, labB[j])
			i++
			j++
		}
	}
	return a, b
}
