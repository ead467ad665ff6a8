package model

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// testModel builds a small logistic model by hand: churn log-odds are
// 0.5·z(recency) − 0.25·z(events_30d) with identity transforms (mean 0,
// std 1), so every number below can be worked out on paper.
func testModel(t testing.TB) *Model {
	t.Helper()
	feats := []string{FeatRecency, "events_30d", FeatTenure, FeatPrevGap, FeatGapMean,
		FeatOrdersTotal, FeatRevenueTotal, FeatActiveDays30}
	tr := &Transform{}
	for _, f := range feats {
		tr.Features = append(tr.Features, FeatureTransform{Name: f, Kind: KindNone, Mean: 0, Std: 1})
	}
	w := make([]float64, len(feats))
	w[0], w[1] = 0.5, -0.25
	m := &Model{
		Format:   FormatVersion,
		Version:  "test-1",
		Features: feats,
		Churn: &Classifier{
			Kind: KindLogistic, Transform: tr, Logistic: &Logistic{Weights: w, Bias: -1},
			Calibration: &Calibration{Method: CalibrationPlatt, Platt: &Platt{A: 1, B: 0}},
		},
		Bands: RiskBands{Medium: 0.3, High: 0.6},
		RFM: RFMRules{
			RecencyFeature: FeatRecency, FrequencyFeature: FeatOrdersTotal, MonetaryFeature: FeatRevenueTotal,
			Recency: [4]float64{3, 7, 14, 30}, Frequency: [4]float64{1, 2, 3, 5}, Monetary: [4]float64{10, 50, 100, 500},
		},
		Lifecycle: LifecycleRules{NewDays: 14, ActiveDays: 7, AtRiskDays: 21, DormantDays: 60, ReactivatedGapDays: 60},
		Tiers:     TierRules{Feature: FeatActiveDays30, PowerAt: 15, RegularAt: 5},
	}
	if err := m.Prepare(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelScore(t *testing.T) {
	m := testModel(t)
	// recency 4, events 2, tenure 200, prev gap 2, gap mean 3, 4 orders, 120 spent, 6 active days.
	x := []float64{4, 2, 200, 2, 3, 4, 120, 6}
	p, err := m.Score(x)
	if err != nil {
		t.Fatal(err)
	}
	// logit = -1 + 0.5·4 − 0.25·2 = 0.5; sigmoid(0.5) = 0.622459331.
	if want := 0.6224593312018546; math.Abs(p.ChurnProbability-want) > 1e-12 {
		t.Errorf("churn = %v, want %v", p.ChurnProbability, want)
	}
	if p.RiskBand != BandHigh {
		t.Errorf("band = %q, want high", p.RiskBand)
	}
	if p.PurchaseProbability != nil {
		t.Errorf("purchase probability = %v, want nil without a propensity model", *p.PurchaseProbability)
	}
	// R: 4 is above 1 edge (3) → 5−1 = 4; F: 4 above 3 edges → 4; M: 120 above 3 edges → 4.
	if (p.RFM != RFMScore{R: 4, F: 4, M: 4}) {
		t.Errorf("rfm = %+v, want 4/4/4", p.RFM)
	}
	if p.RFMSegment != RFMChampions {
		t.Errorf("rfm segment = %q, want Champions", p.RFMSegment)
	}
	if p.LifecycleStage != StageActive || p.UsageTier != TierRegular {
		t.Errorf("stage/tier = %q/%q, want active/regular", p.LifecycleStage, p.UsageTier)
	}
	// Contributions: recency 0.5·4 = 2, events −0.25·2 = −0.5; others 0 and dropped.
	if len(p.Reasons) != 2 || p.Reasons[0].Feature != FeatRecency || p.Reasons[1].Feature != "events_30d" {
		t.Fatalf("reasons = %+v", p.Reasons)
	}
	if got, want := p.Reasons[0].Text, "no activity for 4 days (usually every 3)"; got != want {
		t.Errorf("reason text = %q, want %q", got, want)
	}
	if p.Reasons[1].Contribution != -0.5 {
		t.Errorf("events contribution = %v, want -0.5", p.Reasons[1].Contribution)
	}
	if _, err := m.Score(x[:3]); !errors.Is(err, ErrVectorLength) {
		t.Errorf("short vector: err = %v, want ErrVectorLength", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := testModel(t)
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{40, 0, 100, 0, 10, 1, 20, 0}
	p1, _ := m.Score(x)
	p2, _ := got.Score(x)
	if p1.ChurnProbability != p2.ChurnProbability || p1.RFMSegment != p2.RFMSegment || p1.LifecycleStage != p2.LifecycleStage {
		t.Errorf("decoded model scores %+v, original %+v", p2, p1)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid, err := Encode(testModel(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"NotJSON", "{", ErrFormat},
		{"OldFormat", `{"format": 0}`, ErrFormat},
		{"FutureFormat", `{"format": 99}`, ErrFormat},
		{"NoClassifier", `{"format": 1, "version": "v", "features": ["a"]}`, ErrInvalid},
		{"WrongWeights", strings.Replace(string(valid), `"weights":[0.5,-0.25,0,0,0,0,0,0]`, `"weights":[0.5]`, 1), ErrInvalid},
		{"UnsortedEdges", strings.Replace(string(valid), `"recency_edges":[3,7,14,30]`, `"recency_edges":[30,7,14,3]`, 1), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.input == string(valid) {
				t.Fatal("test input was not modified; fix the replacement")
			}
			_, err := Decode([]byte(tt.input))
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode: err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRFMSegmentGridIsTotal(t *testing.T) {
	seen := map[string]bool{}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				s := RFMSegment(RFMScore{R: r, F: f, M: m})
				if s == "" {
					t.Fatalf("no segment for %d%d%d", r, f, m)
				}
				seen[s] = true
			}
		}
	}
	for _, name := range RFMSegmentNames {
		if !seen[name] {
			t.Errorf("segment %q is unreachable", name)
		}
	}
	if RFMSegment(RFMScore{R: 0, F: 3, M: 3}) != "" {
		t.Error("missing score should give no segment")
	}
}

func TestRFMSegmentExamples(t *testing.T) {
	tests := []struct {
		s    RFMScore
		want string
	}{
		{RFMScore{5, 5, 5}, RFMChampions},
		{RFMScore{5, 1, 1}, RFMNew},
		{RFMScore{5, 1, 2}, RFMNew}, // FM = ⌊3/2⌋ = 1
		{RFMScore{4, 1, 1}, RFMPromising},
		{RFMScore{3, 3, 3}, RFMNeedAttention},
		{RFMScore{3, 1, 2}, RFMAboutToSleep},
		{RFMScore{2, 4, 3}, RFMAtRisk},
		{RFMScore{1, 5, 5}, RFMCantLose},
		{RFMScore{2, 1, 2}, RFMHibernating},
		{RFMScore{1, 1, 1}, RFMLost},
		{RFMScore{4, 3, 3}, RFMLoyal},
		{RFMScore{4, 2, 2}, RFMPotentialLoyalists},
	}
	for _, tt := range tests {
		if got := RFMSegment(tt.s); got != tt.want {
			t.Errorf("RFMSegment(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestRFMRulesScoreTies(t *testing.T) {
	// Frequency edges collapse when most users have one order: a value equal
	// to an edge is not above it.
	r := RFMRules{Recency: [4]float64{1, 2, 3, 4}, Frequency: [4]float64{1, 1, 1, 2}, Monetary: [4]float64{0, 0, 0, 0}}
	tests := []struct {
		rec, freq, mon float64
		want           RFMScore
	}{
		{0.5, 1, 0, RFMScore{5, 1, 1}},
		{4, 2, 1, RFMScore{2, 4, 5}},
		{10, 3, 0, RFMScore{1, 5, 1}},
		{math.NaN(), 1, 1, RFMScore{0, 1, 5}},
	}
	for _, tt := range tests {
		if got := r.Score(tt.rec, tt.freq, tt.mon); got != tt.want {
			t.Errorf("Score(%v, %v, %v) = %+v, want %+v", tt.rec, tt.freq, tt.mon, got, tt.want)
		}
	}
}

func TestLifecycleStage(t *testing.T) {
	l := LifecycleRules{NewDays: 14, ActiveDays: 7, AtRiskDays: 21, DormantDays: 60, ReactivatedGapDays: 45}
	tests := []struct {
		name                     string
		tenure, recency, prevGap float64
		want                     string
	}{
		{"New", 10, 1, 0, StageNew},
		{"Active", 100, 7, 3, StageActive},
		{"Reactivated", 200, 2, 50, StageReactivated},
		{"AtRisk", 100, 7.5, 3, StageAtRisk},
		{"Dormant", 100, 30, 3, StageDormant},
		{"Churned", 100, 61, 3, StageChurned},
		{"NewButSilentIsAtRisk", 10, 9, 0, StageAtRisk},
		{"UnknownGapNotReactivated", 200, 2, math.NaN(), StageActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Stage(tt.tenure, tt.recency, tt.prevGap); got != tt.want {
				t.Errorf("Stage(%v, %v, %v) = %q, want %q", tt.tenure, tt.recency, tt.prevGap, got, tt.want)
			}
		})
	}
}

func TestTier(t *testing.T) {
	tr := TierRules{PowerAt: 15, RegularAt: 5}
	for v, want := range map[float64]string{0: TierExUser, 1: TierLight, 5: TierRegular, 14: TierRegular, 15: TierPower, 30: TierPower} {
		if got := tr.Tier(v); got != want {
			t.Errorf("Tier(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	m := testModel(t)
	x := make([]float64, len(m.Features))
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"events_30d", 12, "12 events in the last 30 days"},
		{"events_30d", 1, "1 event in the last 30 days"},
		{"events_30d", 1.02, "1 event in the last 30 days"},
		{"events_30d", 1.5, "1.5 events in the last 30 days"},
		{"orders_90d", 1, "1 order in the last 90 days"},
		{"orders_total", 1, "1 order in total"},
		{"events_total", 0, "0 events in total"},
		{"cancel_views_30d", 1, "1 cancel page view in the last 30 days"},
		{"support_tickets_7d", 1, "1 support ticket in the last 7 days"},
		{"active_days_7d", 3, "active on 3 of the last 7 days"},
		{"trend_30d", 0.6, "activity down 40% on the previous 30 days"},
		{"support_tickets_7d", 2, "2 support tickets in the last 7 days"},
		{"n_add_to_cart_30d", 3, "3 × add_to_cart in the last 30 days"},
		{"cart_without_purchase_30d", 1, "left a cart without buying in the last 30 days"},
		{"revenue_90d", 12.5, "spent 12.50 in the last 90 days"},
		{"weekend_share", 0.25, "25% of activity at weekends"},
		{FeatTenure, 1, "customer for 1 day"},
		{"mystery", 1.5, "mystery = 1.5"},
	}
	for _, tt := range tests {
		if got := m.describe(tt.name, tt.v, x); got != tt.want {
			t.Errorf("describe(%q, %v) = %q, want %q", tt.name, tt.v, got, tt.want)
		}
	}
}

// FuzzDecode checks that no input makes Decode panic and that whatever it
// accepts can be scored.
func FuzzDecode(f *testing.F) {
	valid, err := Encode(testModel(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	withValue := testModel(f)
	withValue.HorizonDays = 273
	withValue.Value = cdnowValue()
	if b, err := Encode(withValue); err == nil {
		f.Add(b)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":1,"version":"v","features":["a"],"churn":{"kind":"gbdt","trees":{"num_features":1,"trees":[{"nodes":[{"feature":0,"left":5,"right":6}]}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		x := make([]float64, len(m.Features))
		if _, err := m.Score(x); err != nil {
			t.Fatalf("decoded model cannot score a zero vector: %v", err)
		}
		// A decoded customer-value part scores any valid purchase summary.
		cut := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
		p := Purchases{Days: 3, First: CalibrationEnd(cut) - 400, Last: CalibrationEnd(cut) - 10, RepeatRevenue: 30}
		if _, err := m.UserValue(p, cut); err != nil {
			t.Fatalf("decoded model cannot compute customer values: %v", err)
		}
	})
}
