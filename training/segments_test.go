package training

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model"
)

// sgMatrix builds a matrix from named columns (all of the same length), in
// the order of names.
func sgMatrix(tb testing.TB, names []string, cols map[string][]float64) *Matrix {
	tb.Helper()
	n := -1
	for _, name := range names {
		c, ok := cols[name]
		if !ok {
			tb.Fatalf("column %q missing", name)
		}
		if n >= 0 && len(c) != n {
			tb.Fatalf("column %q has %d values, want %d", name, len(c), n)
		}
		n = len(c)
	}
	m := NewMatrix(n, len(names))
	for j, name := range names {
		for i, v := range cols[name] {
			m.Data[i*len(names)+j] = v
		}
	}
	return &m
}

func sgClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol || (math.IsNaN(a) && math.IsNaN(b))
}

func TestPercentile(t *testing.T) {
	// References: NumPy 1.24.2 np.percentile(a, q) (default method
	// "linear"), run outside the suite.
	cases := []struct {
		name string
		a    []float64
		want map[float64]float64 // q -> percentile
	}{
		{"Distinct", []float64{1, 2, 3, 4, 5}, map[float64]float64{0: 1, 20: 1.8, 40: 2.6, 50: 3, 60: 3.4, 80: 4.2, 100: 5}},
		{"Ties", []float64{1, 1, 1, 2, 3, 3, 10}, map[float64]float64{0: 1, 20: 1, 40: 1.4, 50: 2, 60: 2.6, 80: 3, 100: 10}},
		{"Single", []float64{5}, map[float64]float64{0: 5, 20: 5, 80: 5, 100: 5}},
		{"TwoValues", []float64{1, 1, 1, 1, 2, 2, 2, 2, 2, 2}, map[float64]float64{20: 1, 40: 1.6, 50: 2, 60: 2, 80: 2}},
		{"MostlyZero", []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, map[float64]float64{20: 0, 80: 0, 100: 7}},
		{"Unsorted", []float64{3, 1, 4, 1, 5, 9, 2, 6}, map[float64]float64{20: 1.4, 40: 2.8, 50: 3.5, 60: 4.2, 80: 5.6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := slices.Clone(c.a)
			slices.Sort(s)
			for q, want := range c.want {
				if got := Percentile(s, q); !sgClose(got, want, 1e-12) {
					t.Errorf("Percentile(%v, %v) = %v, want %v", c.a, q, got, want)
				}
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		if got := Percentile(nil, 50); !math.IsNaN(got) {
			t.Errorf("Percentile(nil) = %v, want NaN", got)
		}
	})
}

func TestDeriveRFM(t *testing.T) {
	names := []string{"recency_days", "events_total", "revenue_total", "orders_total"}
	rec := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	events := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	zeros := make([]float64, 10)

	t.Run("OrdersAndRevenue", func(t *testing.T) {
		orders := []float64{1, 2, 1, 2, 2, 1, 2, 2, 1, 2}
		rev := []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
		x := sgMatrix(t, names, map[string][]float64{"recency_days": rec, "events_total": events, "revenue_total": rev, "orders_total": orders})
		r := DeriveRFM(names, x)
		// Edges: NumPy 1.24.2 np.percentile(col, [20, 40, 60, 80]).
		want := model.RFMRules{
			RecencyFeature: "recency_days", FrequencyFeature: "orders_total", MonetaryFeature: "revenue_total",
			Recency:   [4]float64{1.8, 3.0, 4.4, 5.2},
			Frequency: [4]float64{1, 1.6, 2, 2},
			Monetary:  [4]float64{0, 0, 0, 0},
		}
		sgCheckRFM(t, r, want)
		// Ties: every 2-order user is above the edges 1 and 1.6 only (F = 3),
		// every 1-order user above none (F = 1). Hand-read scores and the
		// segment from model's 11-segment grid.
		cases := []struct {
			i       int
			score   model.RFMScore
			segment string
		}{
			{9, model.RFMScore{R: 4, F: 3, M: 5}, model.RFMChampions},          // rec 3 (> 1.8 only), FM = 4
			{5, model.RFMScore{R: 1, F: 1, M: 1}, model.RFMLost},               // rec 9 above all edges
			{1, model.RFMScore{R: 5, F: 3, M: 1}, model.RFMPotentialLoyalists}, // FM = 2
			{4, model.RFMScore{R: 2, F: 3, M: 1}, model.RFMHibernating},        // rec 5 above 3 edges; FM = 2
		}
		for _, c := range cases {
			s := r.Score(rec[c.i], orders[c.i], rev[c.i])
			if s != c.score || model.RFMSegment(s) != c.segment {
				t.Errorf("user %d: score %+v %q, want %+v %q", c.i, s, model.RFMSegment(s), c.score, c.segment)
			}
		}
	})
	t.Run("NoPurchases", func(t *testing.T) {
		x := sgMatrix(t, names, map[string][]float64{"recency_days": rec, "events_total": events, "revenue_total": zeros, "orders_total": zeros})
		r := DeriveRFM(names, x)
		// np.percentile([10, 20, ..., 100], [20, 40, 60, 80]) = 28, 46, 64, 82.
		sgCheckRFM(t, r, model.RFMRules{
			RecencyFeature: "recency_days", FrequencyFeature: "events_total", MonetaryFeature: "events_total",
			Recency:   [4]float64{1.8, 3.0, 4.4, 5.2},
			Frequency: [4]float64{28, 46, 64, 82},
			Monetary:  [4]float64{28, 46, 64, 82},
		})
	})
	t.Run("OrdersWithoutAmounts", func(t *testing.T) {
		orders := []float64{0, 1, 0, 2, 0, 1, 0, 3, 0, 1}
		x := sgMatrix(t, names, map[string][]float64{"recency_days": rec, "events_total": events, "revenue_total": zeros, "orders_total": orders})
		r := DeriveRFM(names, x)
		if r.FrequencyFeature != "orders_total" || r.MonetaryFeature != "orders_total" {
			t.Errorf("features %q %q, want orders_total twice", r.FrequencyFeature, r.MonetaryFeature)
		}
		// Sorted 0 0 0 0 0 1 1 1 2 3: positions 1.8, 3.6, 5.4, 7.2 give
		// 0, 0, 1, 1 + 0.2·(2 − 1) = 1.2 (hand computation).
		if want := [4]float64{0, 0, 1, 1.2}; !sgEdgesClose(r.Frequency, want) || r.Monetary != r.Frequency {
			t.Errorf("edges %v %v, want %v", r.Frequency, r.Monetary, want)
		}
	})
	t.Run("MissingColumns", func(t *testing.T) {
		n2 := []string{"events_total"}
		r := DeriveRFM(n2, sgMatrix(t, n2, map[string][]float64{"events_total": events}))
		sgCheckRFM(t, r, model.RFMRules{FrequencyFeature: "events_total", MonetaryFeature: "events_total",
			Frequency: [4]float64{28, 46, 64, 82}, Monetary: [4]float64{28, 46, 64, 82}})
		if s := r.Score(math.NaN(), 50, 50); model.RFMSegment(s) != "" || s.R != 0 {
			t.Errorf("score without recency %+v %q, want R = 0 and no segment", s, model.RFMSegment(s))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		m := NewMatrix(0, len(names))
		sgCheckRFM(t, DeriveRFM(names, &m), model.RFMRules{RecencyFeature: "recency_days", FrequencyFeature: "events_total",
			MonetaryFeature: "events_total"})
	})
}

func sgEdgesClose(a, b [4]float64) bool {
	for k := range a {
		if !sgClose(a[k], b[k], 1e-9) {
			return false
		}
	}
	return true
}

func sgCheckRFM(t *testing.T, got, want model.RFMRules) {
	t.Helper()
	if got.RecencyFeature != want.RecencyFeature || got.FrequencyFeature != want.FrequencyFeature || got.MonetaryFeature != want.MonetaryFeature {
		t.Errorf("features (%q, %q, %q), want (%q, %q, %q)", got.RecencyFeature, got.FrequencyFeature, got.MonetaryFeature,
			want.RecencyFeature, want.FrequencyFeature, want.MonetaryFeature)
	}
	if !sgEdgesClose(got.Recency, want.Recency) || !sgEdgesClose(got.Frequency, want.Frequency) || !sgEdgesClose(got.Monetary, want.Monetary) {
		t.Errorf("edges R %v F %v M %v, want R %v F %v M %v", got.Recency, got.Frequency, got.Monetary,
			want.Recency, want.Frequency, want.Monetary)
	}
}

func TestDeriveLifecycle(t *testing.T) {
	names := []string{"recency_days", "gap_mean_days"}
	mk := func(gaps ...float64) *Matrix {
		return sgMatrix(t, names, map[string][]float64{"recency_days": make([]float64, len(gaps)), "gap_mean_days": gaps})
	}
	// Thresholds by hand from the documented rule: A = clamp(round(2g), 7,
	// max(7, H)), at risk 2A, dormant 4A, new max(30, 2A), reactivated 2A.
	cases := []struct {
		name    string
		names   []string
		x       *Matrix
		horizon int
		want    model.LifecycleRules
	}{
		// Users with < 2 active days (gap 0) are left out: median of
		// 2 3 4 5 6 100 is 4.5 (np.median), 2g = 9.
		{"Median", names, mk(0, 0, 2, 3, 4, 5, 6, 100), 30, model.LifecycleRules{NewDays: 30, ActiveDays: 9, AtRiskDays: 18, DormantDays: 36, ReactivatedGapDays: 18}},
		// g = 20: 2g = 40 is capped at the 30-day horizon.
		{"HorizonCap", names, mk(20, 20, 20, 20, 20), 30, model.LifecycleRules{NewDays: 60, ActiveDays: 30, AtRiskDays: 60, DormantDays: 120, ReactivatedGapDays: 60}},
		{"NoHorizon", names, mk(20, 20, 20, 20, 20), 0, model.LifecycleRules{NewDays: 80, ActiveDays: 40, AtRiskDays: 80, DormantDays: 160, ReactivatedGapDays: 80}},
		// A horizon under a week still leaves a week.
		{"ShortHorizon", names, mk(20, 20, 20, 20, 20), 3, model.LifecycleRules{NewDays: 30, ActiveDays: 7, AtRiskDays: 14, DormantDays: 28, ReactivatedGapDays: 14}},
		// Daily users: 2g = 2 is raised to a week.
		{"Daily", names, mk(1, 1, 1, 1, 1, 1), 30, model.LifecycleRules{NewDays: 30, ActiveDays: 7, AtRiskDays: 14, DormantDays: 28, ReactivatedGapDays: 14}},
		// Four users with gaps are too few: g = 7 (fallback), A = 14.
		{"FewUsers", names, mk(0, 0, 50, 50, 50, 50), 30, model.LifecycleRules{NewDays: 30, ActiveDays: 14, AtRiskDays: 28, DormantDays: 56, ReactivatedGapDays: 28}},
		{"NoGaps", names, mk(0, 0, 0, 0, 0, 0, 0), 30, model.LifecycleRules{NewDays: 30, ActiveDays: 14, AtRiskDays: 28, DormantDays: 56, ReactivatedGapDays: 28}},
		{"NoGapColumn", []string{"recency_days"}, sgMatrix(t, []string{"recency_days"}, map[string][]float64{"recency_days": {1, 2, 3}}), 30,
			model.LifecycleRules{NewDays: 30, ActiveDays: 14, AtRiskDays: 28, DormantDays: 56, ReactivatedGapDays: 28}},
		// 2g = 12.6 rounds to 13.
		{"Rounding", names, mk(6.3, 6.3, 6.3, 6.3, 6.3), 90, model.LifecycleRules{NewDays: 30, ActiveDays: 13, AtRiskDays: 26, DormantDays: 52, ReactivatedGapDays: 26}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DeriveLifecycle(c.names, c.x, c.horizon); got != c.want {
				t.Errorf("DeriveLifecycle = %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("Monotone", func(t *testing.T) {
		for _, g := range []float64{0.5, 1, 3, 3.5, 10, 45, 200} {
			for _, h := range []int{0, 1, 7, 30, 90} {
				r := DeriveLifecycle(names, mk(g, g, g, g, g), h)
				if !(r.ActiveDays >= 7 && r.ActiveDays < r.AtRiskDays && r.AtRiskDays < r.DormantDays &&
					r.NewDays >= 30 && r.NewDays >= r.ActiveDays && r.ReactivatedGapDays > r.ActiveDays) {
					t.Errorf("g=%v H=%d: %+v not ordered", g, h, r)
				}
				if h >= 7 && r.ActiveDays > float64(h) {
					t.Errorf("g=%v H=%d: active %v beyond the horizon", g, h, r.ActiveDays)
				}
			}
		}
	})
}

func TestDeriveTiers(t *testing.T) {
	one := func(name string, v ...float64) ([]string, *Matrix) {
		n := []string{"recency_days", name}
		return n, sgMatrix(t, n, map[string][]float64{"recency_days": make([]float64, len(v)), name: v})
	}
	cases := []struct {
		name   string
		feat   string
		values []float64
		want   model.TierRules
		tiers  map[float64]string
	}{
		// Active values 1 1 1 1 2 2 3 3 4 6 (n = 10): share at or above 2 is
		// 0.6, above 3 0.4, above 4 0.2, above 6 0.1 (hand count). Power at
		// 4 (exactly 20%), regular at 2 (60%).
		{"Exact", "active_days_30d", []float64{0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6}, model.TierRules{Feature: "active_days_30d", PowerAt: 4, RegularAt: 2},
			map[float64]string{0: model.TierExUser, 1: model.TierLight, 2: model.TierRegular, 3: model.TierRegular, 4: model.TierPower, 6: model.TierPower}},
		// 1 1 1 1 2 2 2 3 3 5: at or above 3 is 0.3, above 5 0.1; both 0.1
		// from 20%, so the higher value (smaller tier) wins: power at 5;
		// regular among 2 (0.6) and 3 (0.3) is 2.
		{"TieGoesHigher", "active_days_30d", []float64{0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 5}, model.TierRules{Feature: "active_days_30d", PowerAt: 5, RegularAt: 2},
			map[float64]string{1: model.TierLight, 3: model.TierRegular, 5: model.TierPower}},
		// Only two active values: power at 2, nothing left for regular.
		{"TwoValues", "active_days_30d", []float64{1, 1, 1, 1, 1, 1, 1, 1, 2, 2}, model.TierRules{Feature: "active_days_30d", PowerAt: 2, RegularAt: 2},
			map[float64]string{1: model.TierLight, 2: model.TierPower}},
		// Everyone active the same: nobody stands out, all light.
		{"AllEqual", "active_days_30d", []float64{0, 3, 3, 3}, model.TierRules{Feature: "active_days_30d", PowerAt: 4, RegularAt: 4},
			map[float64]string{0: model.TierExUser, 3: model.TierLight}},
		{"NoneActive", "active_days_30d", []float64{0, 0, 0}, model.TierRules{Feature: "active_days_30d", PowerAt: 1, RegularAt: 1},
			map[float64]string{0: model.TierExUser}},
		{"OtherWindow", "active_days_28d", []float64{1, 2, 3, 4, 5}, model.TierRules{Feature: "active_days_28d", PowerAt: 5, RegularAt: 3}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names, x := one(c.feat, c.values...)
			got := DeriveTiers(names, x)
			if got != c.want {
				t.Fatalf("DeriveTiers = %+v, want %+v", got, c.want)
			}
			for v, tier := range c.tiers {
				if g := got.Tier(v); g != tier {
					t.Errorf("Tier(%v) = %q, want %q", v, g, tier)
				}
			}
		})
	}
	t.Run("NearestWindow", func(t *testing.T) {
		cases := []struct {
			names []string
			want  string
		}{
			{[]string{"active_days_7d", "active_days_28d", "active_days_90d"}, "active_days_28d"},
			{[]string{"active_days_40d", "active_days_20d"}, "active_days_20d"}, // tie: shorter
			{[]string{"active_days_7d", "active_days_30d", "active_days_90d", "active_days_xd"}, "active_days_30d"},
			{[]string{"events_30d"}, ""},
		}
		for _, c := range cases {
			m := NewMatrix(0, len(c.names))
			if got := DeriveTiers(c.names, &m).Feature; got != c.want {
				t.Errorf("DeriveTiers(%v).Feature = %q, want %q", c.names, got, c.want)
			}
		}
	})
}

func TestDeriveBands(t *testing.T) {
	// References: NumPy 1.24.2 np.mean and np.percentile(p, 80).
	cases := []struct {
		name string
		p    []float64
		want model.RiskBands
	}{
		// b = 0.29, P80 = 0.42, 2b = 0.58 < (1+b)/2 = 0.645: high = 0.58.
		{"TwiceBaseRate", []float64{0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.9}, model.RiskBands{Medium: 0.29, High: 0.58}},
		// b = 0.8: halfway to certain is 0.9, P80 = 0.92 is stricter.
		{"HighBaseRate", []float64{0.6, 0.7, 0.8, 0.9, 1.0}, model.RiskBands{Medium: 0.8, High: 0.92}},
		// Sorted 0 0 0 0 0 0 0 0 0.5 0.5: b = 0.1, P80 (position 7.2) =
		// 0 + 0.2·0.5 = 0.1, 2b = 0.2 is stricter: high = 0.2.
		{"SparseScores", []float64{0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5}, model.RiskBands{Medium: 0.1, High: 0.2}},
		{"Constant", []float64{0.3, 0.3, 0.3}, model.RiskBands{Medium: 0.3, High: 0.6}},
		{"NaNIgnored", []float64{0.3, math.NaN(), 0.3, 0.3}, model.RiskBands{Medium: 0.3, High: 0.6}},
		{"Empty", nil, model.RiskBands{Medium: 0.5, High: 0.75}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := DeriveBands(c.p)
			if !sgClose(got.Medium, c.want.Medium, 1e-12) || !sgClose(got.High, c.want.High, 1e-12) {
				t.Errorf("DeriveBands(%v) = %+v, want %+v", c.p, got, c.want)
			}
			if got.Medium > got.High {
				t.Errorf("medium %v above high %v", got.Medium, got.High)
			}
		})
	}
	t.Run("HighAtMostAFifth", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 20 {
			p := make([]float64, 500)
			for i := range p {
				p[i] = rng.Float64() * rng.Float64()
			}
			b := DeriveBands(p)
			high := 0
			for _, v := range p {
				if b.Band(v) == model.BandHigh {
					high++
				}
			}
			if high > 100 {
				t.Errorf("%d of 500 users high, want at most 100", high)
			}
		}
	})
}

// sgNameFeats are the columns of the constructed centroids.
var sgNameFeats = []string{
	"events_30d", "events_365d", "active_days_30d", "active_days_365d", "revenue_365d", "orders_365d",
	"n_page_view_30d", "n_purchase_30d", "distinct_types_30d", "support_tickets_30d",
	"weekend_share", "trend_30d", "recency_days", "tenure_days",
}

// sgCentroid builds a centroid in sgNameFeats order from group values:
// "act" sets the four activity columns, "spend" revenue and orders, and
// any column can be set by name.
func sgCentroid(set map[string]float64) []float64 {
	c := make([]float64, len(sgNameFeats))
	for j, f := range sgNameFeats {
		switch {
		case strings.HasPrefix(f, "events_") || strings.HasPrefix(f, "active_days_"):
			c[j] = set["act"]
		case strings.HasPrefix(f, "revenue_") || strings.HasPrefix(f, "orders_"):
			c[j] = set["spend"]
		}
		if v, ok := set[f]; ok {
			c[j] = v
		}
	}
	return c
}

func TestNameClusters(t *testing.T) {
	// Each centroid is built so that exactly the intended rule is its
	// first firing rule; the expected names follow the documented table.
	rules := []struct {
		want string
		set  map[string]float64
	}{
		{"power users", map[string]float64{"act": 1.5, "recency_days": -1}},
		{"lapsing big spenders", map[string]float64{"spend": 1.5, "recency_days": 1.0}},
		{"big spenders", map[string]float64{"spend": 1.2, "recency_days": -0.2}},
		{"weekend browsers", map[string]float64{"weekend_share": 1.2, "n_page_view_30d": 0.6, "spend": -0.4}},
		{"new explorers", map[string]float64{"tenure_days": -1.2, "distinct_types_30d": 1.0}},
		{"dormant", map[string]float64{"recency_days": 1.5, "act": -1.0}},
		{"support-heavy", map[string]float64{"support_tickets_30d": 2.0}},
		{"new users", map[string]float64{"tenure_days": -1.0}},
		{"weekend users", map[string]float64{"weekend_share": 1.0, "n_page_view_30d": -1.0}},
		{"casual users", map[string]float64{"act": -0.8}},
	}
	for _, r := range rules {
		t.Run("Alone/"+r.want, func(t *testing.T) {
			got := NameClusters(sgNameFeats, [][]float64{sgCentroid(r.set)})
			if got[0] != r.want {
				t.Errorf("name %q, want %q", got[0], r.want)
			}
		})
	}
	t.Run("AllTogether", func(t *testing.T) {
		var cs [][]float64
		var want []string
		for _, r := range rules {
			cs = append(cs, sgCentroid(r.set))
			want = append(want, r.want)
		}
		got := NameClusters(sgNameFeats, cs)
		if !slices.Equal(got, want) {
			t.Errorf("names %q, want %q", got, want)
		}
		// Deterministic, and it follows the centroids when they are
		// reordered.
		rev := slices.Clone(cs)
		slices.Reverse(rev)
		got2 := NameClusters(sgNameFeats, rev)
		slices.Reverse(got2)
		if !slices.Equal(got2, want) {
			t.Errorf("reversed centroids: names %q, want %q", got2, want)
		}
	})
	t.Run("StrongestGetsTheName", func(t *testing.T) {
		// Two dormant-like clusters: the stronger (min(recency, −activity) =
		// 1.2 vs 0.8) is "dormant", the other falls back and says why.
		cs := [][]float64{
			sgCentroid(map[string]float64{"recency_days": 0.8, "act": -0.9}),
			sgCentroid(map[string]float64{"recency_days": 1.2, "act": -1.3}),
		}
		got := NameClusters(sgNameFeats, cs)
		want := []string{"cluster 1: high recency_days, low events_30d", "dormant"}
		if !slices.Equal(got, want) {
			t.Errorf("names %q, want %q", got, want)
		}
	})
	t.Run("Fallbacks", func(t *testing.T) {
		cs := [][]float64{
			sgCentroid(map[string]float64{"trend_30d": 1.2, "n_purchase_30d": -0.9}),
			sgCentroid(nil),
			sgCentroid(map[string]float64{"trend_30d": 0.7}),
			sgCentroid(map[string]float64{"n_purchase_30d": -2}),
		}
		got := NameClusters(sgNameFeats, cs)
		want := []string{"cluster 1: high trend_30d, low n_purchase_30d", "cluster 2: near average",
			"cluster 3: high trend_30d", "cluster 4: low n_purchase_30d"}
		if !slices.Equal(got, want) {
			t.Errorf("names %q, want %q", got, want)
		}
	})
	t.Run("MissingGroups", func(t *testing.T) {
		// Without revenue columns no spend rule can fire; without a
		// recency column "power users" only needs activity.
		feats := []string{"events_30d", "active_days_30d", "weekend_share"}
		got := NameClusters(feats, [][]float64{{2, 2, 0}, {0, 0, 2}, {-1, -1, 0}})
		want := []string{"power users", "weekend users", "casual users"}
		if !slices.Equal(got, want) {
			t.Errorf("names %q, want %q", got, want)
		}
	})
	t.Run("UniqueOnRandomCentroids", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for trial := range 200 {
			k := 2 + trial%9
			cs := make([][]float64, k)
			for q := range cs {
				cs[q] = make([]float64, len(sgNameFeats))
				for j := range cs[q] {
					cs[q][j] = 1.5 * rng.NormFloat64()
				}
			}
			names := NameClusters(sgNameFeats, cs)
			seen := map[string]bool{}
			for _, n := range names {
				if n == "" || seen[n] {
					t.Fatalf("trial %d: names %q not unique and non-empty", trial, names)
				}
				seen[n] = true
			}
			if again := NameClusters(sgNameFeats, cs); !slices.Equal(again, names) {
				t.Fatalf("trial %d: names %q then %q", trial, names, again)
			}
		}
	})
}

// sgUsageNames are the columns of the synthetic usage data.
var sgUsageNames = []string{
	"recency_days", "tenure_days", "events_30d", "events_365d", "active_days_30d", "active_days_365d",
	"revenue_365d", "orders_365d", "n_page_view_30d", "n_purchase_30d", "distinct_types_30d",
	"trend_30d", "gap_mean_days", "weekend_share",
}

// sgPersona is one synthetic behaviour: the typical raw value of each
// column of sgUsageNames (trend_30d is left constant and gap_mean_days is
// not clustered).
type sgPersona struct {
	name string
	mean map[string]float64
}

var sgPersonas = []sgPersona{
	{"power users", map[string]float64{"recency_days": 0.5, "tenure_days": 300, "events_30d": 200, "events_365d": 2000,
		"active_days_30d": 25, "active_days_365d": 250, "revenue_365d": 100, "orders_365d": 3, "n_page_view_30d": 150,
		"n_purchase_30d": 1, "distinct_types_30d": 6, "weekend_share": 0.28}},
	{"dormant", map[string]float64{"recency_days": 60, "tenure_days": 200, "events_30d": 0, "events_365d": 20,
		"active_days_30d": 0, "active_days_365d": 5, "revenue_365d": 0, "orders_365d": 0, "n_page_view_30d": 0,
		"n_purchase_30d": 0, "distinct_types_30d": 0, "weekend_share": 0.28}},
	{"big spenders", map[string]float64{"recency_days": 3, "tenure_days": 300, "events_30d": 30, "events_365d": 300,
		"active_days_30d": 8, "active_days_365d": 80, "revenue_365d": 3000, "orders_365d": 20, "n_page_view_30d": 10,
		"n_purchase_30d": 3, "distinct_types_30d": 4, "weekend_share": 0.28}},
	{"weekend browsers", map[string]float64{"recency_days": 3, "tenure_days": 200, "events_30d": 40, "events_365d": 300,
		"active_days_30d": 8, "active_days_365d": 60, "revenue_365d": 0, "orders_365d": 0, "n_page_view_30d": 35,
		"n_purchase_30d": 0, "distinct_types_30d": 3, "weekend_share": 0.95}},
}

// sgUsage returns n users of the first k personas (user i has persona
// i mod k) with multiplicative log-normal noise (σ = 0.15) on counts,
// amounts and days and ±0.03 on the weekend share.
func sgUsage(n, k int, seed uint64) (*Matrix, []int) {
	rng := rand.New(rand.NewPCG(seed, 17))
	x := NewMatrix(n, len(sgUsageNames))
	truth := make([]int, n)
	for i := range n {
		p := i % k
		truth[i] = p
		row := x.Row(i)
		for j, name := range sgUsageNames {
			m := sgPersonas[p].mean[name]
			switch name {
			case "trend_30d":
				row[j] = 1
			case "gap_mean_days":
				row[j] = 3 + rng.Float64()
			case "weekend_share":
				row[j] = min(1, max(0, m+0.03*(2*rng.Float64()-1)))
			default:
				row[j] = m * math.Exp(0.15*rng.NormFloat64())
			}
		}
	}
	return &x, truth
}

func TestFitClusters(t *testing.T) {
	trSkipUnderRace(t)
	x, truth := sgUsage(2000, 4, 1)
	opts := &ClusterOptions{Seed: 7}
	cl, rep, err := FitClusters(t.Context(), sgUsageNames, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The four personas are far apart after log1p: the silhouette must pick
	// k = 4 and recover them exactly (adjusted Rand index 1; the helper is
	// checked against scikit-learn in TestAdjustedRand).
	if rep.K != 4 || rep.Method != "silhouette" || len(rep.Scores) != 9 {
		t.Fatalf("k = %d by %q with %d scores, want 4 by silhouette over k = 2..10", rep.K, rep.Method, len(rep.Scores))
	}
	labels := sgAssignAll(cl, x)
	if ari := adjustedRand(labels, truth); ari != 1 {
		t.Fatalf("adjusted Rand index %v, want 1", ari)
	}
	// trend_30d is constant and gap_mean_days is not a usage feature.
	if !slices.Equal(rep.Dropped, []string{"trend_30d"}) || slices.Contains(rep.Features, "gap_mean_days") ||
		!slices.Equal(cl.Features, rep.Features) || cl.Transform.Len() != len(cl.Features) {
		t.Errorf("features %v dropped %v (clusters %v)", rep.Features, rep.Dropped, cl.Features)
	}
	// Names: each persona's cluster carries the persona's name.
	for p, persona := range sgPersonas {
		q := labels[p] // user p has persona p
		if got := cl.Name(q); got != persona.name {
			t.Errorf("persona %q named %q (z %v)", persona.name, got, cl.Profiles[q].Z)
		}
	}
	// Profiles: share 1/4 each; raw means equal the personas' own means
	// over their users, computed here directly from the data.
	for q, prof := range cl.Profiles {
		if prof.Name != cl.KMeans.Names[q] || !sgClose(prof.Share, 0.25, 1e-12) {
			t.Errorf("profile %d: name %q share %v, want %q 0.25", q, prof.Name, prof.Share, cl.KMeans.Names[q])
		}
		for c, f := range cl.Features {
			j := sgIndex(sgUsageNames, f)
			var s float64
			n := 0
			for i := range x.Rows {
				if labels[i] == q {
					s += x.At(i, j)
					n++
				}
			}
			if want := s / float64(n); !sgClose(prof.Means[f], want, 1e-9*math.Max(1, math.Abs(want))) {
				t.Errorf("profile %d mean %s = %v, want %v", q, f, prof.Means[f], want)
			}
			if prof.Z[f] != cl.KMeans.Centroids[q][c] {
				t.Errorf("profile %d z %s = %v, centroid %v", q, f, prof.Z[f], cl.KMeans.Centroids[q][c])
			}
		}
	}
	if b, err := json.Marshal(cl); err != nil || len(b) == 0 {
		t.Errorf("clusters do not encode: %v", err)
	}

	t.Run("Deterministic", func(t *testing.T) {
		cl2, rep2, err := FitClusters(t.Context(), sgUsageNames, x, &ClusterOptions{Seed: 7, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cl, cl2) || !reflect.DeepEqual(rep, rep2) {
			t.Error("same data and seed gave a different clustering (threads 1 vs default)")
		}
	})
	t.Run("FixedKAndSample", func(t *testing.T) {
		// k fixed at 4, fitted on 300 of the 2000 rows, every row assigned.
		cl3, rep3, err := FitClusters(t.Context(), sgUsageNames, x, &ClusterOptions{K: 4, MaxFitRows: 300, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep3.Method != "fixed" || len(rep3.Scores) != 0 || rep3.FitRows != 300 || rep3.Users != 2000 {
			t.Errorf("report %+v, want fixed k, no scores, 300 fit rows, 2000 users", rep3)
		}
		if ari := adjustedRand(sgAssignAll(cl3, x), truth); ari != 1 {
			t.Errorf("adjusted Rand index %v on a 300-row fit, want 1", ari)
		}
		var share float64
		for _, p := range cl3.Profiles {
			share += p.Share
		}
		if !sgClose(share, 1, 1e-12) {
			t.Errorf("shares sum to %v", share)
		}
	})
	t.Run("FixedKTwo", func(t *testing.T) {
		cl4, _, err := FitClusters(t.Context(), sgUsageNames, x, &ClusterOptions{K: 2, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		if cl4.KMeans.K() != 2 || cl4.Profiles[0].Share < cl4.Profiles[1].Share {
			t.Errorf("k = %d, shares %v %v, want 2 clusters, largest first", cl4.KMeans.K(), cl4.Profiles[0].Share, cl4.Profiles[1].Share)
		}
	})
}

// sgAssignAll assigns every row of x with the fitted clusters, as scoring
// does.
func sgAssignAll(cl *model.Clusters, x *Matrix) []int {
	col := func(name string) int { return sgIndex(sgUsageNames, name) }
	out := make([]int, x.Rows)
	for i := range out {
		out[i] = cl.Assign(col, x.Row(i))
	}
	return out
}

func TestFitClustersErrors(t *testing.T) {
	x, _ := sgUsage(200, 4, 3)
	small, _ := sgUsage(40, 4, 3)
	nan, _ := sgUsage(200, 4, 3)
	nan.Data[5*nan.Cols+2] = math.NaN()
	flat := NewMatrix(200, len(sgUsageNames))
	cases := []struct {
		name  string
		names []string
		x     *Matrix
		opts  *ClusterOptions
		want  error
	}{
		{"TooFewRows", sgUsageNames, small, nil, ErrTooFewToCluster}, // 40 < 5·10
		{"TooFewForFixedK", sgUsageNames, small, &ClusterOptions{K: 9}, ErrTooFewToCluster},
		{"Constant", sgUsageNames, &flat, nil, ErrTooFewToCluster},
		{"NaN", sgUsageNames, nan, nil, ErrNotFinite},
		{"NamesMismatch", sgUsageNames[:3], x, nil, ErrShape},
		{"UnknownFeature", sgUsageNames, x, &ClusterOptions{Features: []string{"events_30d", "nope"}}, ErrShape},
		{"KOne", sgUsageNames, x, &ClusterOptions{K: 1}, ErrShape},
		{"NilMatrix", sgUsageNames, nil, nil, ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := FitClusters(t.Context(), c.names, c.x, c.opts)
			if !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	t.Run("SmallButEnoughForFixedK", func(t *testing.T) {
		if _, _, err := FitClusters(t.Context(), sgUsageNames, small, &ClusterOptions{K: 4}); err != nil {
			t.Errorf("40 rows with k = 4: %v", err)
		}
	})
}

func TestClusterFeatures(t *testing.T) {
	names := []string{"recency_days", "recency_purchase_days", "ever_purchased", "tenure_days",
		"events_7d", "events_30d", "events_90d", "active_days_7d", "active_days_30d", "active_days_90d", "events_total",
		"revenue_7d", "revenue_30d", "revenue_90d", "orders_7d", "orders_30d", "orders_90d", "refunds_30d",
		"n_a_7d", "n_a_30d", "n_a_90d", "n_b_30d", "n_c_30d", "n_d_30d", "n_e_30d", "n_f_30d", "n_g_30d", "n_h_30d", "n_i_30d", "n_other_30d",
		"distinct_types_7d", "distinct_types_30d", "trend_30d", "gap_mean_days", "support_tickets_7d", "support_tickets_30d",
		"weekend_share", "peak_hour"}
	want := []string{"events_30d", "events_90d", "active_days_30d", "active_days_90d", "revenue_90d", "orders_90d",
		"n_a_30d", "n_b_30d", "n_c_30d", "n_d_30d", "n_e_30d", "n_f_30d", "n_g_30d", "n_h_30d",
		"distinct_types_30d", "support_tickets_30d", "weekend_share", "trend_30d", "recency_days", "tenure_days"}
	if got := ClusterFeatures(names); !slices.Equal(got, want) {
		t.Errorf("ClusterFeatures =\n%q\nwant\n%q", got, want)
	}
}

func TestSegmentUsers(t *testing.T) {
	names := []string{"recency_days", "tenure_days", "prev_gap_days", "orders_total", "revenue_total", "active_days_30d"}
	rows := [][]float64{
		// recency tenure prev_gap orders revenue active_days_30d
		{2, 100, 30, 5, 50, 10}, // reactivated; R5 F5 M5 Champions; power
		{2, 10, 0, 1, 5, 1},     // new; R5 F1 M1 New; light
		{20, 100, 0, 2, 15, 0},  // dormant; R2 F2 M2 Hibernating; ex-user
		{40, 100, 0, 1, 5, 0},   // churned; R1 F1 M1 Lost; ex-user
		{10, 100, 0, 4, 35, 3},  // at-risk; R3 F4 M4 Loyal; regular
		{5, 100, 3, 3, 25, 2},   // active; R4 F3 M3 Loyal; regular
	}
	x, err := MatrixFromRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	rules := SegmentRules{
		RFM: model.RFMRules{RecencyFeature: "recency_days", FrequencyFeature: "orders_total", MonetaryFeature: "revenue_total",
			Recency: [4]float64{2, 5, 10, 20}, Frequency: [4]float64{1, 2, 3, 4}, Monetary: [4]float64{10, 20, 30, 40}},
		Lifecycle: model.LifecycleRules{NewDays: 30, ActiveDays: 9, AtRiskDays: 18, DormantDays: 36, ReactivatedGapDays: 18},
		Tiers:     model.TierRules{Feature: "active_days_30d", PowerAt: 4, RegularAt: 2},
		Bands:     model.RiskBands{Medium: 0.3, High: 0.6},
		Clusters: &model.Clusters{Features: []string{"recency_days"},
			Transform: &model.Transform{Features: []model.FeatureTransform{{Name: "recency_days", Kind: model.KindNone, Mean: 0, Std: 1}}},
			KMeans:    &model.KMeans{Centroids: [][]float64{{3}, {30}}, Names: []string{"recent", "gone"}}},
	}
	users := []string{"a", "b", "c", "d", "e", "f"}
	cut := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := []float64{0.1, 0.3, 0.7, 0.9, 0.5, 0.2}
	s, err := SegmentUsers(names, &x, users, cut, rules, p)
	if err != nil {
		t.Fatal(err)
	}
	// Hand-read from the rules above and model's RFM grid.
	want := map[string][]string{
		FamilyCluster:   {"recent", "recent", "gone", "gone", "recent", "recent"},
		FamilyRFM:       {model.RFMChampions, model.RFMNew, model.RFMHibernating, model.RFMLost, model.RFMLoyal, model.RFMLoyal},
		FamilyLifecycle: {model.StageReactivated, model.StageNew, model.StageDormant, model.StageChurned, model.StageAtRisk, model.StageActive},
		FamilyUsageTier: {model.TierPower, model.TierLight, model.TierExUser, model.TierExUser, model.TierRegular, model.TierRegular},
		FamilyRiskBand:  {model.BandLow, model.BandMedium, model.BandHigh, model.BandHigh, model.BandMedium, model.BandLow},
	}
	var fams []string
	for _, f := range s.Families {
		fams = append(fams, f.Family)
		if !slices.Equal(f.Labels, want[f.Family]) {
			t.Errorf("%s: %q, want %q", f.Family, f.Labels, want[f.Family])
		}
	}
	if !slices.Equal(fams, []string{FamilyCluster, FamilyRFM, FamilyLifecycle, FamilyUsageTier, FamilyRiskBand}) {
		t.Errorf("families %v", fams)
	}

	t.Run("WithoutPrevGap", func(t *testing.T) {
		// Without prev_gap_days nobody is reactivated: user a is active.
		n2 := []string{"recency_days", "tenure_days", "orders_total", "revenue_total", "active_days_30d"}
		x2 := NewMatrix(len(rows), len(n2))
		for i, r := range rows {
			copy(x2.Row(i), []float64{r[0], r[1], r[3], r[4], r[5]})
		}
		r2 := rules
		r2.Clusters = nil
		s2, err := SegmentUsers(n2, &x2, users, cut, r2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s2.Families) != 3 {
			t.Fatalf("%d families without clusters and probabilities, want 3", len(s2.Families))
		}
		life := sgFamily(s2, FamilyLifecycle).Labels
		wantLife := slices.Clone(want[FamilyLifecycle])
		wantLife[0] = model.StageActive
		if !slices.Equal(life, wantLife) {
			t.Errorf("lifecycle %q, want %q", life, wantLife)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		if _, err := SegmentUsers(names, &x, users[:2], cut, rules, nil); !errors.Is(err, ErrShape) {
			t.Errorf("short users: %v, want ErrShape", err)
		}
		if _, err := SegmentUsers(names, &x, users, cut, rules, p[:1]); !errors.Is(err, ErrShape) {
			t.Errorf("short probabilities: %v, want ErrShape", err)
		}
	})
}

// sgHealthFixture is a hand-checkable pair of segmentations: six users at
// c1 (u5 gone, u6 and u7 new, u7 without a lifecycle stage).
func sgHealthFixture() (c0, c1 *Segmentation, churned []bool, prob []float64) {
	d0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d1 := d0.AddDate(0, 1, 0)
	c0 = &Segmentation{Cutoff: d0, Users: []string{"u1", "u2", "u3", "u4", "u5"}, Families: []FamilyLabels{
		{Family: FamilyLifecycle, Order: model.LifecycleStages, Labels: []string{"active", "active", "at-risk", "dormant", "new"}},
		{Family: FamilyUsageTier, Order: model.UsageTiers, Labels: []string{"power", "regular", "light", "light", "light"}},
	}}
	// Users listed in another order at c1: matching is by id.
	c1 = &Segmentation{Cutoff: d1, Users: []string{"u7", "u1", "u2", "u3", "u4", "u6"}, Families: []FamilyLabels{
		{Family: FamilyLifecycle, Order: model.LifecycleStages, Labels: []string{"", "active", "at-risk", "at-risk", "churned", "new"}},
		{Family: FamilyUsageTier, Order: model.UsageTiers, Labels: []string{"light", "power", "light", "light", "ex-user", "light"}},
	}}
	churned = []bool{true, false, true, false, true, false}
	prob = []float64{0.5, 0.1, 0.6, 0.4, 0.9, 0.2}
	return c0, c1, churned, prob
}

func TestSegmentHealthOf(t *testing.T) {
	c0, c1, churned, prob := sgHealthFixture()
	h, err := SegmentHealthOf([]*Segmentation{c0, c1}, churned, prob)
	if err != nil {
		t.Fatal(err)
	}
	if h.Users != 6 || !h.Cutoff.Equal(c1.Cutoff) || len(h.Families) != 2 || len(h.Overlaps) != 1 {
		t.Fatalf("health: %d users at %v, %d families, %d overlaps", h.Users, h.Cutoff, len(h.Families), len(h.Overlaps))
	}
	rate := func(v float64) *float64 { return &v }
	type size struct {
		name    string
		users   int
		churned int
		rate    *float64
		meanP   *float64
	}
	// Hand counts at c1 (n = 6).
	wantSizes := map[string][]size{
		FamilyLifecycle: {
			{"new", 1, 0, rate(0), rate(0.2)},
			{"active", 1, 0, rate(0), rate(0.1)},
			{"reactivated", 0, 0, nil, nil},
			{"at-risk", 2, 1, rate(0.5), rate(0.5)},
			{"dormant", 0, 0, nil, nil},
			{"churned", 1, 1, rate(1), rate(0.9)},
		},
		FamilyUsageTier: {
			{"power", 1, 0, rate(0), rate(0.1)},
			{"regular", 0, 0, nil, nil},
			{"light", 4, 2, rate(0.5), rate(0.425)}, // u7 u2 u3 u6: (.5+.6+.4+.2)/4
			{"ex-user", 1, 1, rate(1), rate(0.9)},
		},
	}
	ptrClose := func(a, b *float64) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return sgClose(*a, *b, 1e-12)
	}
	for _, f := range h.Families {
		ws := wantSizes[f.Family]
		if len(f.Segments) != len(ws) {
			t.Fatalf("%s: %d segments, want %d", f.Family, len(f.Segments), len(ws))
		}
		for k, w := range ws {
			g := f.Segments[k]
			if g.Name != w.name || g.Users != w.users || g.Churned != w.churned || !sgClose(g.Share, float64(w.users)/6, 1e-12) ||
				!ptrClose(g.ChurnRate, w.rate) || !ptrClose(g.MeanChurnProbability, w.meanP) {
				t.Errorf("%s segment %d: %+v, want %+v", f.Family, k, g, w)
			}
		}
	}
	if u := h.Families[0].Unsegmented; u != 1 {
		t.Errorf("lifecycle unsegmented %d, want 1 (u7)", u)
	}

	// Transitions c0 -> c1 over u1..u4 (u5 left, u6 and u7 arrived).
	// Lifecycle: u1 active->active, u2 active->at-risk, u3 at-risk->at-risk,
	// u4 dormant->churned: 2 of 4 stay.
	lt := h.Families[0].Transitions
	if len(lt) != 1 {
		t.Fatalf("%d lifecycle transitions, want 1", len(lt))
	}
	tr := lt[0]
	if tr.Users != 4 || tr.Stayed != 2 || tr.Stability != 0.5 || !slices.Equal(tr.Segments, model.LifecycleStages) {
		t.Errorf("lifecycle transition: users %d stayed %d stability %v segments %v", tr.Users, tr.Stayed, tr.Stability, tr.Segments)
	}
	// Order: new active reactivated at-risk dormant churned.
	wantCounts := [][]int{
		{0, 0, 0, 0, 0, 0},
		{0, 1, 0, 1, 0, 0},
		{0, 0, 0, 0, 0, 0},
		{0, 0, 0, 1, 0, 0},
		{0, 0, 0, 0, 0, 1},
		{0, 0, 0, 0, 0, 0},
	}
	wantShares := [][]float64{
		{0, 0, 0, 0, 0, 0},
		{0, 0.5, 0, 0.5, 0, 0},
		{0, 0, 0, 0, 0, 0},
		{0, 0, 0, 1, 0, 0},
		{0, 0, 0, 0, 0, 1},
		{0, 0, 0, 0, 0, 0},
	}
	if !reflect.DeepEqual(tr.Counts, wantCounts) || !reflect.DeepEqual(tr.RowShares, wantShares) {
		t.Errorf("lifecycle counts %v shares %v, want %v %v", tr.Counts, tr.RowShares, wantCounts, wantShares)
	}
	// Tiers: u1 power->power, u2 regular->light, u3 light->light, u4
	// light->ex-user: 2 of 4 stay.
	tt := h.Families[1].Transitions[0]
	wantTier := [][]int{{1, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 1, 1}, {0, 0, 0, 0}}
	wantTierShares := [][]float64{{1, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 0.5, 0.5}, {0, 0, 0, 0}}
	if tt.Users != 4 || tt.Stayed != 2 || !reflect.DeepEqual(tt.Counts, wantTier) || !reflect.DeepEqual(tt.RowShares, wantTierShares) {
		t.Errorf("tier transition %+v, want counts %v shares %v", tt, wantTier, wantTierShares)
	}

	// Overlap lifecycle x tier at c1 over the five users with a stage (u7
	// has none): new-light u6, active-power u1, at-risk-light u2 u3,
	// churned-ex-user u4. Jaccard by hand: |new ∩ light| = 1, |new| = 1,
	// |light| = 3 -> 1/3; at-risk vs light 2/(2+3−2) = 2/3.
	o := h.Overlaps[0]
	wantO := [][]int{
		{0, 0, 1, 0},
		{1, 0, 0, 0},
		{0, 0, 0, 0},
		{0, 0, 2, 0},
		{0, 0, 0, 0},
		{0, 0, 0, 1},
	}
	if o.A != FamilyLifecycle || o.B != FamilyUsageTier || o.Users != 5 || !reflect.DeepEqual(o.Counts, wantO) {
		t.Errorf("overlap %s x %s over %d users: %v, want lifecycle x usage_tier over 5: %v", o.A, o.B, o.Users, o.Counts, wantO)
	}
	wantBestB := []BestOverlap{
		{"new", "light", 1, 1.0 / 3},
		{"active", "power", 1, 1},
		{"at-risk", "light", 2, 2.0 / 3},
		{"churned", "ex-user", 1, 1},
	}
	wantBestA := []BestOverlap{
		{"power", "active", 1, 1},
		{"light", "at-risk", 2, 2.0 / 3},
		{"ex-user", "churned", 1, 1},
	}
	sgCheckBest(t, "best_b", o.BestB, wantBestB)
	sgCheckBest(t, "best_a", o.BestA, wantBestA)

	t.Run("Report", func(t *testing.T) {
		s := h.ReportSegments(nil)
		if s.Cluster != nil || s.RFM != nil || s.Lifecycle == nil || s.UsageTier == nil || len(s.Overlap) != 1 {
			t.Fatalf("report families: %+v", s)
		}
		if st := s.Lifecycle.Stability; len(st) != 1 || st[0].Same != 0.5 || st[0].Users != 4 {
			t.Errorf("report stability %+v, want one pair, 0.5 of 4", st)
		}
		if c := s.Lifecycle.Transitions; c == nil || !reflect.DeepEqual(c.Counts, wantCounts) || c.Diagonal != 0.5 {
			t.Errorf("report transitions %+v", c)
		}
		// Cramér's V references: SciPy 1.10.1
		// scipy.stats.contingency.association(table, method="cramer") on the
		// non-empty rows and columns: [[1,1,0],[0,1,0],[0,0,1]] gives
		// 0.7905694150420949, the overlap [[0,1,0],[1,0,0],[0,2,0],[0,0,1]] 1.
		if v := s.Lifecycle.Transitions.CramersV; !sgClose(v, 0.7905694150420949, 1e-12) {
			t.Errorf("transition Cramér's V %v", v)
		}
		if v := s.Overlap[0].CramersV; !sgClose(v, 1, 1e-12) {
			t.Errorf("overlap Cramér's V %v", v)
		}
		if s.Lifecycle.Segments[3].Name != "at-risk" || *s.Lifecycle.Segments[3].ChurnRate != 0.5 {
			t.Errorf("report segment %+v", s.Lifecycle.Segments[3])
		}
		if _, err := json.Marshal(h); err != nil {
			t.Errorf("health does not encode: %v", err)
		}
	})
}

func sgCheckBest(t *testing.T, what string, got, want []BestOverlap) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Segment != w.Segment || g.With != w.With || g.Both != w.Both || !sgClose(g.Jaccard, w.Jaccard, 1e-12) {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}

func TestSegmentHealthSequences(t *testing.T) {
	c0, c1, churned, _ := sgHealthFixture()
	t.Run("ThreeCutoffs", func(t *testing.T) {
		// c2 keeps everyone of c1 in the same lifecycle stage and tier.
		c2 := &Segmentation{Cutoff: c1.Cutoff.AddDate(0, 1, 0), Users: c1.Users, Families: c1.Families}
		h, err := SegmentHealthOf([]*Segmentation{c0, c1, c2}, churned, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := h.Families[0].Transitions
		// c1 -> c2: the five users with a stage at both (u7 has none) stay.
		if len(tr) != 2 || tr[0].Stability != 0.5 || tr[1].Users != 5 || tr[1].Stability != 1 {
			t.Errorf("transitions %+v", tr)
		}
		if h.Families[0].Segments[3].MeanChurnProbability != nil {
			t.Error("mean probability without probabilities")
		}
	})
	t.Run("FamilyMissingEarlier", func(t *testing.T) {
		// Tiers are missing at c1, so only c1 -> c2 ... is counted for
		// lifecycle and nothing for tiers.
		c1b := &Segmentation{Cutoff: c1.Cutoff, Users: c1.Users, Families: c1.Families[:1]}
		c2 := &Segmentation{Cutoff: c1.Cutoff.AddDate(0, 1, 0), Users: c1.Users, Families: c1.Families}
		h, err := SegmentHealthOf([]*Segmentation{c0, c1b, c2}, churned, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(h.Families[0].Transitions); n != 2 {
			t.Errorf("lifecycle: %d transitions, want 2", n)
		}
		if n := len(h.Families[1].Transitions); n != 0 {
			t.Errorf("tiers: %d transitions, want 0", n)
		}
		if s := h.ReportSegments(nil); s.UsageTier.Transitions != nil || len(s.UsageTier.Stability) != 0 {
			t.Errorf("report tiers: %+v", s.UsageTier)
		}
	})
	t.Run("UnknownLabel", func(t *testing.T) {
		// A name outside Order follows the order, sorted.
		odd := &Segmentation{Cutoff: c1.Cutoff, Users: []string{"a", "b"}, Families: []FamilyLabels{
			{Family: FamilyRiskBand, Order: RiskBandOrder, Labels: []string{"zeta", "high"}}}}
		h, err := SegmentHealthOf([]*Segmentation{odd}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range h.Families[0].Segments {
			got = append(got, fmt.Sprintf("%s:%d", s.Name, s.Users))
			if s.ChurnRate != nil {
				t.Errorf("churn rate without outcomes: %+v", s)
			}
		}
		if want := []string{"high:1", "medium:0", "low:0", "zeta:1"}; !slices.Equal(got, want) {
			t.Errorf("segments %v, want %v", got, want)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		dup := &Segmentation{Users: []string{"a", "a"}, Families: []FamilyLabels{{Family: FamilyRFM, Labels: []string{"x", "y"}}}}
		if _, err := SegmentHealthOf([]*Segmentation{dup}, nil, nil); !errors.Is(err, ErrDuplicateUser) {
			t.Errorf("duplicate user: %v", err)
		}
		if _, err := SegmentHealthOf(nil, nil, nil); !errors.Is(err, ErrEmpty) {
			t.Errorf("no snapshots: %v", err)
		}
		if _, err := SegmentHealthOf([]*Segmentation{c0, c1}, churned[:2], nil); !errors.Is(err, ErrShape) {
			t.Errorf("short outcomes: %v", err)
		}
		bad := &Segmentation{Users: []string{"a"}, Families: []FamilyLabels{{Family: FamilyRFM, Labels: []string{"x", "y"}}}}
		if _, err := SegmentHealthOf([]*Segmentation{bad}, nil, nil); !errors.Is(err, ErrShape) {
			t.Errorf("ragged labels: %v", err)
		}
	})
}

// The risk bands of ten calibrated churn scores: medium from the mean
// (0.29), high from the stricter of the 80th percentile (0.42) and twice the
// mean (0.58).
func ExampleDeriveBands() {
	b := DeriveBands([]float64{0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.9})
	fmt.Printf("medium >= %.2f, high >= %.2f\n", b.Medium, b.High)
	fmt.Println(b.Band(0.5), b.Band(0.6))
	// Output:
	// medium >= 0.29, high >= 0.58
	// medium high
}

// Names from centroids in standardised units: a cluster far above average
// on activity and recently seen, one long gone with little activity, and
// one that fits no rule.
func ExampleNameClusters() {
	feats := []string{"events_30d", "active_days_30d", "recency_days", "trend_30d"}
	names := NameClusters(feats, [][]float64{
		{1.4, 1.1, -0.8, 0.1},
		{-1.2, -1.0, 1.6, -0.2},
		{0.1, 0.2, -0.1, 0.9},
	})
	fmt.Printf("%q\n", names)
	// Output:
	// ["power users" "dormant" "cluster 3: high trend_30d"]
}
