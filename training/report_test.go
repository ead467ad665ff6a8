package training

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/btyd"
)

// The -update flag rewrites golden files. Another test file of the package
// may define it the same way; whichever registers first wins and all read it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func rptUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// rptGolden compares got with testdata/report/name, or rewrites it with
// -update.
func rptGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
	if rptUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./training/ -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (%d vs %d bytes): review the change, then rerun with -update", path, len(want), len(got))
	}
}

func rptSigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// rptTask draws n users with a latent risk x, labels with P(y=1) =
// sigmoid(a + b·x), a model probability close to the truth, and two weaker
// baseline scores oriented as NewTaskEval wants (higher = positive more
// likely, so they follow the sign of b), and evaluates them.
func rptTask(t testing.TB, rng *rand.Rand, n int, a, b float64, kind string) (*TaskEval, []float64, []float64) {
	t.Helper()
	y, p, rec, rfm := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range y {
		x := rng.NormFloat64()
		if rng.Float64() < rptSigmoid(a+b*x) {
			y[i] = 1
		}
		p[i] = rptSigmoid(a + 0.9*b*x + 0.2*rng.NormFloat64())
		sx := x
		if b < 0 {
			sx = -x
		}
		rec[i] = math.Round(10 * (sx + 1.2*rng.NormFloat64()))
		rfm[i] = math.Round(2 * (0.5*sx + rng.NormFloat64()))
	}
	te, err := NewTaskEval(kind, y, p, rec, rfm, rptSigmoid(a))
	if err != nil {
		t.Fatal(err)
	}
	return te, y, p
}

func rptDay(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func rptF(v float64) *float64 { return &v }

// rptSampleReport builds a complete report from metrics computed on seeded
// synthetic scores. withTarget false leaves propensity out, as for data
// without a target event.
func rptSampleReport(t testing.TB, withTarget bool) *Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	oot, y, p := rptTask(t, rng, 300, -0.4, 1.6, model.KindGBDT)
	hou, _, _ := rptTask(t, rng, 120, -0.4, 1.6, model.KindGBDT)
	r := &Report{
		CreatedAt:    time.Date(2025, 12, 2, 9, 30, 0, 0, time.UTC),
		ModelVersion: "2025-12-01-3fa2c9d1",
		Seed:         1,
		Flags:        map[string]string{"horizon": "30d", "snapshots": "3", "events": "events.csv"},
		AsOf:         rptDay("2025-12-01"),
		HorizonDays:  30,
		Cutoffs: []Cutoff{
			{Date: rptDay("2025-09-02"), Role: RoleFit, Users: 1400, ChurnRate: rptF(0.41)},
			{Date: rptDay("2025-10-02"), Role: RoleValidation, Users: 1450, ChurnRate: rptF(0.42)},
			{Date: rptDay("2025-11-01"), Role: RoleOutOfTime, Users: 1500, ChurnRate: rptF(oot.BaseRate)},
			{Date: rptDay("2025-12-01"), Role: RoleScore, Users: 1530},
		},
		NUsers:   1530,
		BaseRate: oot.BaseRate,
		Holdout: Holdout{
			OutOfTime:    HoldoutSet{Description: "snapshot 2025-11-01, labels from the following 30 days", Churn: oot},
			HeldOutUsers: HoldoutSet{Description: "20% of users by hash of the id, never fitted on", Churn: hou},
		},
		Models: Models{Churn: &ModelChoice{
			Candidates: []Candidate{
				{Kind: model.KindLogistic, ValidLogLoss: 0.5312, ValidAUC: 0.801, TrainRows: 2850, ValidRows: 1450, Params: map[string]float64{"l2": 1}},
				{Kind: model.KindGBDT, ValidLogLoss: 0.5207, ValidAUC: 0.812, TrainRows: 2850, ValidRows: 1450, Params: map[string]float64{"trees": 87, "learning_rate": 0.1}},
			},
			Chosen: model.KindGBDT, Reason: "lowest validation log loss (0.5207 vs 0.5312)", Calibration: "isotonic",
		}},
		Checks: []Check{
			{Name: "min_users", Passed: true, Value: "1500", Need: ">= 500"},
			{Name: "min_positives_churn", Passed: true, Value: "612", Need: ">= 50"},
			{Name: "horizon_covered", Passed: true, Value: "2025-12-01", Need: ">= 2025-12-01"},
		},
		Anomalies: &AnomalyScreen{Method: "golearn isolation forest", Trees: 100, SampleSize: 256, Threshold: 0.62,
			Scored: 1530, Flagged: 3, ExcludedFromFit: true, Examples: []string{"bot-1", "<script>x</script>", "test-9"}},
		Rules: Rules{
			RiskBands: model.RiskBands{Medium: 0.3, High: 0.6},
			Lifecycle: model.LifecycleRules{NewDays: 14, ActiveDays: 7, AtRiskDays: 21, DormantDays: 60, ReactivatedGapDays: 30},
			RFM: model.RFMRules{RecencyFeature: model.FeatRecency, FrequencyFeature: model.FeatOrdersTotal, MonetaryFeature: model.FeatRevenueTotal,
				Recency: [4]float64{3, 9, 20, 45}, Frequency: [4]float64{1, 2, 4, 8}, Monetary: [4]float64{20, 55, 120, 300}},
			UsageTiers: model.TierRules{Feature: model.FeatActiveDays30, PowerAt: 15, RegularAt: 4},
		},
	}
	stats := &features.ReadStats{
		Sources: []features.SourceStats{{Name: "events.csv"}}, Rows: 250_012, Events: 249_990, Users: 1600,
		MinTime: rptDay("2024-12-01"), MaxTime: rptDay("2025-11-30").Add(23 * time.Hour),
		EventTypes: map[string]int64{"login": 200_000, "purchase": 9_990, "view": 40_000},
		Bad:        12, BadByReason: map[error]int64{features.ErrBadTime: 10, features.ErrMissingUser: 2},
		DuplicatesDropped: 10, Refunds: 31,
	}
	r.Data = NewDataSummary(stats)
	names := []string{"recency_days", "active_days_30d", "events_90d", "trend_30d", "aov", "tenure_days"}
	fi, err := NewFeatureImportance(model.KindGBDT, ImportanceGain, names, []float64{0.41, 0.22, 0.15, 0.12, 0.02, 0.08})
	if err != nil {
		t.Fatal(err)
	}
	r.Importance.Churn = fi
	for i, c := range r.Cutoffs[:3] {
		te, _, _ := rptTask(t, rng, 200, -0.4, 1.2+0.2*float64(i), model.KindGBDT)
		if c.Role == RoleOutOfTime {
			te = oot
		}
		r.Backtest = append(r.Backtest, BacktestPoint{Cutoff: c.Date, Churn: NewBacktestMetrics(te)})
	}
	if withTarget {
		r.TargetEvent = "purchase"
		po, _, _ := rptTask(t, rng, 300, -1.2, -1.1, model.KindLogistic)
		ph, _, _ := rptTask(t, rng, 120, -1.2, -1.1, model.KindLogistic)
		r.Holdout.OutOfTime.Propensity, r.Holdout.HeldOutUsers.Propensity = po, ph
		r.PropensityBaseRate = rptF(po.BaseRate)
		r.Cutoffs[2].PropensityRate = rptF(po.BaseRate)
		r.Models.Propensity = &ModelChoice{Candidates: []Candidate{{Kind: model.KindLogistic, ValidLogLoss: 0.41, ValidAUC: 0.77, TrainRows: 2850, ValidRows: 1450}},
			Chosen: model.KindLogistic, Reason: "only candidate", Calibration: "platt"}
		r.Importance.Propensity, err = NewFeatureImportance(model.KindLogistic, ImportanceCoef, names, []float64{0.1, 0.3, 0.25, 0.05, 0.2, 0.1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.Backtest {
			r.Backtest[i].Propensity = NewBacktestMetrics(po)
		}
	}

	// Segments of the out-of-time users: risk bands from the predicted
	// probability, the other families from it with noise, and the previous
	// snapshot's segments as a noisy copy.
	fams := []struct {
		name  string
		order []string
		dst   **SegmentFamily
	}{
		{FamilyCluster, []string{"power users", "weekend browsers", "lapsing big spenders"}, &r.Segments.Cluster},
		{FamilyRFM, []string{"Champions", "Loyal", "At risk", "Hibernating", "Lost"}, &r.Segments.RFM},
		{FamilyLifecycle, []string{model.StageNew, model.StageActive, model.StageReactivated, model.StageAtRisk, model.StageDormant, model.StageChurned}, &r.Segments.Lifecycle},
		{FamilyUsageTier, model.UsageTiers, &r.Segments.UsageTier},
		{FamilyRiskBand, []string{model.BandHigh, model.BandMedium, model.BandLow}, &r.Segments.RiskBand},
	}
	labels := map[string][]string{}
	t1, t0 := rptDay("2025-11-01"), rptDay("2025-10-02")
	for _, f := range fams {
		now, prev := make([]string, len(p)), make([]string, len(p))
		for i, pi := range p {
			k := len(f.order) - 1 - int(math.Min(float64(len(f.order)-1), (pi+0.15*rng.NormFloat64())*float64(len(f.order))))
			if f.name == FamilyRiskBand {
				k = map[string]int{model.BandHigh: 0, model.BandMedium: 1, model.BandLow: 2}[r.Rules.RiskBands.Band(pi)]
			}
			k = max(0, min(len(f.order)-1, k))
			if f.name == FamilyLifecycle && k == 2 {
				k = 1 // nobody reactivated: an empty segment
			}
			now[i] = f.order[k]
			j := k
			if rng.Float64() < 0.25 {
				j = rng.IntN(len(f.order))
			}
			prev[i] = f.order[j]
		}
		labels[f.name] = now
		stats, err := NewSegmentStats(f.order, now, y, p)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewContingency(f.name, f.name, t0, t1, f.order, f.order, prev, now)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = &SegmentFamily{Family: f.name, Snapshot: t1, Segments: stats, Transitions: tr,
			Stability: []Stability{{From: t0, To: t1, Users: tr.Users, Same: tr.Diagonal}}}
	}
	ov, err := NewContingency(FamilyRFM, FamilyLifecycle, t1, t1, fams[1].order, fams[2].order, labels[FamilyRFM], labels[FamilyLifecycle])
	if err != nil {
		t.Fatal(err)
	}
	r.Segments.Overlap = []Contingency{*ov}
	r.CustomerValue = rptSampleValue(rng, withTarget)
	r.Segments.ClusterProfiles = []model.ClusterProfile{
		{Name: "power users", Share: 0.2, Means: map[string]float64{"events_90d": 310, "aov": 42.5}, Z: map[string]float64{"events_90d": 1.9, "aov": 0.3}},
		{Name: "weekend browsers", Share: 0.5, Means: map[string]float64{"events_90d": 40, "aov": 12}, Z: map[string]float64{"events_90d": -0.2, "aov": -0.4}},
		{Name: "lapsing big spenders", Share: 0.3, Means: map[string]float64{"events_90d": 9, "aov": 140}, Z: map[string]float64{"events_90d": -1.1, "aov": 2.2}},
	}
	return r
}

// rptSampleValue builds the customer-value part: with fit, the CDNOW
// sample's published parameters and standard errors, seeded value
// distributions and an ablation that does not help; without, the note of
// a fit that ran into a boundary.
func rptSampleValue(rng *rand.Rand, fit bool) *CustomerValueReport {
	cv := &CustomerValueReport{
		CalibrationEnd: "2025-11-30", Unit: btyd.Week, UnitDays: 7, HorizonDays: 30, CLVMonths: 12, MonthlyDiscount: 0.01,
		PurchaseEvents: []string{"purchase", "order"}, Customers: 1210, Warnings: []string{}, ScoredUsers: 1530,
	}
	if !fit {
		cv.Note = "no BG/NBD fit, so p_alive, expected purchases and CLV are null: bg/nbd fit: a ran off to 4.72e-11 (r=0.544 alpha=3.3 a=4.72e-11 b=4.9e-10, log-likelihood -524.285); the likelihood keeps rising towards a boundary, so the data cannot pin the model down"
		cv.Verdict = "P(alive) was not tried as a churn-model feature: bg/nbd fit: b ran off to 1.26e+07 (r=0.395 alpha=2.09 a=2.99e+05 b=1.26e+07, log-likelihood -332.714)"
		cv.AblationNote = "training: p_alive ablation, snapshot 2025-11-01: training: customer values as of 2025-10-31: training: bg/nbd fit: b ran off to 1.26e+07 (r=0.395 alpha=2.09 a=2.99e+05 b=1.26e+07, log-likelihood -332.714): training: btyd fit did not converge"
		return cv
	}
	cv.BGNBD = &BGNBDFit{Params: btyd.BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259},
		StdErr:        btyd.BGNBD{R: 0.012557, Alpha: 0.378221, A: 0.185719, B: 0.705345},
		LogLikelihood: -9582.43, Customers: 1210, Patterns: 640, Iterations: 24, FuncEvals: 31, GradNorm: 9.2e-11}
	cv.GammaGamma = &GammaGammaFit{Params: btyd.GammaGamma{P: 6.25, Q: 3.74, V: 15.44},
		StdErr:        btyd.GammaGamma{P: 1.19, Q: 0.29, V: 4.16},
		LogLikelihood: -4012.5, Customers: 480, Iterations: 18, FuncEvals: 25}
	rho := 0.11
	cv.SpendCorrelation = &rho
	var pa, ey, clv []float64
	for range 1100 {
		x := rng.Float64()
		pa = append(pa, 1-x*x*x)
		ey = append(ey, 0.6*rng.ExpFloat64())
		clv = append(clv, 35*rng.ExpFloat64())
	}
	cv.WithPAlive, cv.WithCLV = len(pa), len(clv)
	cv.PAlive, cv.ExpectedPurchases, cv.CLV = newValueDistribution(pa, 1), newValueDistribution(ey, 0), newValueDistribution(clv, 0)
	cv.Ablation = &PAliveAblationResult{
		Method:  "logistic churn model (standardised features, L2) fitted on 2850 rows of 2 snapshots and scored on the 300 rows of the out-of-time snapshot, without and with BG/NBD P(alive) fitted as of each snapshot's cutoff; helps = AUC gain >= 0.002 and log loss not worse",
		FitRows: 2850, EvalRows: 300, EvalRowsTotal: 300, EvalChurnRate: 0.41,
		Without: AblationMetrics{AUC: 0.8788, LogLoss: 0.3171}, With: AblationMetrics{AUC: 0.8792, LogLoss: 0.3173},
		MinAUCGain: 0.002,
		Snapshots:  []PAliveSnapshotFit{{Cutoff: "2025-11-01T00:00:00Z", Customers: 1100, Params: btyd.BGNBD{R: 0.25, Alpha: 4.1, A: 0.8, B: 2.5}, LogLikelihood: -8000, RowsWithoutPurchase: 200}},
	}
	a := cv.Ablation
	a.AUCGain, a.LogLossGain = a.With.AUC-a.Without.AUC, a.Without.LogLoss-a.With.LogLoss
	cv.Verdict = ablationVerdict(a)
	return cv
}

func TestReportJSONGolden(t *testing.T) {
	for _, c := range []struct {
		name   string
		target bool
	}{{"report.golden.json", true}, {"report_no_target.golden.json", false}} {
		t.Run(c.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := rptSampleReport(t, c.target).WriteJSON(&a); err != nil {
				t.Fatal(err)
			}
			if err := rptSampleReport(t, c.target).WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two writes of the same report differ")
			}
			rptGolden(t, c.name, a.Bytes())
		})
	}
}

// rptPath walks a decoded JSON value along a dotted path; found is false
// when a key is missing (a present null is found).
func rptPath(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestReportJSONPaths checks that every field issue 3 names is at its JSON
// path, with the right kind of value.
func TestReportJSONPaths(t *testing.T) {
	var buf bytes.Buffer
	if err := rptSampleReport(t, true).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	type kind int
	const (
		num kind = iota
		str
		arr
		obj
		boolean
	)
	want := map[string]kind{
		"schema_version": num, "created_at": str, "model_version": str, "seed": num, "flags": obj,
		"as_of": str, "horizon_days": num, "cutoffs": arr, "n_users": num, "base_rate": num,
		"propensity_base_rate": num, "target_event": str,
		"models.churn.candidates": arr, "models.churn.chosen": str, "models.churn.reason": str,
		"models.churn.calibration": str, "models.propensity.chosen": str,
		"backtest": arr, "feature_importance.churn.features": arr, "feature_importance.churn.method": str,
		"feature_importance.propensity.features": arr,
		"data.files":                             arr, "data.rows": num, "data.bad_rows": num, "data.bad_rows_by_reason": obj, "data.events": num,
		"data.users": num, "data.first_event": str, "data.last_event": str, "data.event_types": obj,
		"checks": arr, "anomalies.flagged": num, "anomalies.scored": num, "anomalies.excluded_from_fit": boolean,
		"segments.overlap": arr, "segments.cluster_profiles": arr,
		"rules.risk_bands.high": num, "rules.risk_bands.medium": num, "rules.lifecycle.active_days": num,
		"rules.lifecycle.dormant_days": num, "rules.rfm.recency_edges": arr, "rules.rfm.monetary_edges": arr,
		"rules.usage_tiers.power_at":    num,
		"customer_value.bgnbd.params.r": num, "customer_value.bgnbd.std_err.b": num, "customer_value.gamma_gamma.params.v": num,
		"customer_value.gamma_gamma.std_err.p": num, "customer_value.note": str, "customer_value.verdict": str,
		"customer_value.p_alive.median": num, "customer_value.p_alive.bins": arr, "customer_value.clv.p90": num,
		"customer_value.expected_purchases.mean": num, "customer_value.ablation.with_p_alive.auc": num,
		"customer_value.ablation.without_p_alive.log_loss": num, "customer_value.ablation.auc_gain": num,
		"customer_value.ablation.helps": boolean, "customer_value.with_p_alive": num, "customer_value.with_clv": num,
		"customer_value.unit": str, "customer_value.horizon_days": num, "customer_value.clv_months": num,
	}
	for _, h := range []string{"out_of_time", "held_out_users"} {
		want["holdout."+h+".description"] = str
		for _, task := range []string{"churn", "propensity"} {
			pre := "holdout." + h + "." + task + "."
			for _, k := range []string{"auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift", "base_rate", "n",
				"baselines.recency.auc", "baselines.rfm.auc", "baselines.base_rate.log_loss",
				"baselines.recency.auc_gain", "baselines.rfm.auc_gain", "baselines.base_rate.log_loss_gain", "baselines.base_rate.skill"} {
				want[pre+k] = num
			}
			for _, k := range []string{"deciles", "calibration", "top", "roc", "gains", "baselines.recency.roc", "baselines.rfm.gains"} {
				want[pre+k] = arr
			}
			want[pre+"model"] = str
		}
	}
	for _, f := range []string{"cluster", "rfm", "lifecycle", "usage_tier", "risk_band"} {
		want["segments."+f+".segments"] = arr
		want["segments."+f+".stability"] = arr
		want["segments."+f+".transitions.counts"] = arr
		want["segments."+f+".transitions.rows"] = arr
		want["segments."+f+".snapshot"] = str
	}
	for path, k := range want {
		v, ok := rptPath(doc, path)
		if !ok {
			t.Errorf("%s: missing", path)
			continue
		}
		var good bool
		switch k {
		case num:
			_, good = v.(float64)
		case str:
			_, good = v.(string)
		case arr:
			_, good = v.([]any)
		case obj:
			_, good = v.(map[string]any)
		case boolean:
			_, good = v.(bool)
		}
		if !good {
			t.Errorf("%s: got %T %v, want kind %d", path, v, v, k)
		}
	}
	// Precision and recall at the top 5, 10 and 20%.
	top, _ := rptPath(doc, "holdout.out_of_time.churn.top")
	var fr []float64
	for _, e := range top.([]any) {
		m := e.(map[string]any)
		fr = append(fr, m["fraction"].(float64))
		for _, k := range []string{"precision", "recall", "rows"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("top entry lacks %s: %v", k, m)
			}
		}
	}
	if len(fr) != 3 || fr[0] != 0.05 || fr[1] != 0.1 || fr[2] != 0.2 {
		t.Errorf("top fractions %v, want [0.05 0.1 0.2]", fr)
	}
	// A segment's fields.
	segs, _ := rptPath(doc, "segments.risk_band.segments")
	for _, k := range []string{"name", "users", "share", "churn_rate", "mean_churn_probability"} {
		if _, ok := segs.([]any)[0].(map[string]any)[k]; !ok {
			t.Errorf("segment entry lacks %s", k)
		}
	}
}

// TestReportNoTarget: without a target event the propensity parts are
// present and null, and the page and summary say so.
func TestReportNoTarget(t *testing.T) {
	r := rptSampleReport(t, false)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"holdout.out_of_time.propensity", "holdout.held_out_users.propensity", "models.propensity",
		"feature_importance.propensity", "propensity_base_rate", "cutoffs"} {
		v, ok := rptPath(doc, p)
		if !ok {
			t.Errorf("%s missing", p)
		} else if v != nil && p != "cutoffs" {
			t.Errorf("%s = %v, want null", p, v)
		}
	}
	var html, sum bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "No propensity model: the data has no target event.") {
		t.Error("page does not say there is no propensity model")
	}
	if err := r.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "propensity: no target event, no model") {
		t.Errorf("summary does not say there is no propensity model:\n%s", sum.String())
	}
}

func TestReportJSONRejectsNaN(t *testing.T) {
	r := rptSampleReport(t, false)
	r.BaseRate = math.NaN()
	err := r.WriteJSON(io.Discard)
	if !errors.Is(err, ErrReport) {
		t.Fatalf("WriteJSON with a NaN: got %v, want ErrReport", err)
	}
	var nilReport *Report
	for name, f := range map[string]func(io.Writer) error{"json": nilReport.WriteJSON, "html": nilReport.WriteHTML, "summary": nilReport.WriteSummary} {
		if err := f(io.Discard); !errors.Is(err, ErrReport) {
			t.Errorf("%s of a nil report: got %v, want ErrReport", name, err)
		}
	}
}

func TestReportHTML(t *testing.T) {
	r := rptSampleReport(t, true)
	var a, b bytes.Buffer
	if err := r.WriteHTML(&a); err != nil {
		t.Fatal(err)
	}
	if err := rptSampleReport(t, true).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := a.String()
	if s != b.String() {
		t.Fatal("two renderings of the same report differ")
	}
	rptGolden(t, "report.golden.html", a.Bytes())
	for _, bad := range []string{"http://", "https://", "src=", "<script", "<link", "url(", "@import"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	oot := r.Holdout.OutOfTime.Churn
	headline := "churn model: AUC " + rptFixed(oot.AUC, 2) + " out-of-time vs " + rptFixed(oot.Baselines.Recency.AUC, 2) +
		" for recency alone; top decile catches " + rptFixed(oot.TopDecileLift, 1) + "× the base rate"
	for _, want := range []string{
		headline, "ROC curve, churn (out-of-time)", "Cumulative gains, churn (out-of-time)", "Calibration, churn (out-of-time)",
		"Lift by decile, churn (out-of-time)", "Feature importance, churn (gbdt)", "Segment sizes: risk band",
		"Transitions: lifecycle stage", "Overlap: RFM segment × lifecycle stage", "Churn AUC by snapshot",
		"ROC curve, propensity (out-of-time)", "Data checks", "Bad rows by reason", "lapsing big spenders",
		"&lt;script&gt;x&lt;/script&gt;", "precision at top 5%", "recall at top 20%",
		"Customer value (BG/NBD)", "P(alive) of the scored customers", "12-month CLV of the scored customers",
		"P(alive) does not help the churn model: AUC +0.0004 (0.8788 → 0.8792), log loss +0.0002 (0.3171 → 0.3173)",
		"without p_alive", "Gamma-Gamma",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Charts: 2 tasks × (ROC, gains, calibration, lift, importance) +
	// backtest + 2 customer-value histograms + 5 families × (sizes +
	// transitions) + 1 overlap = 24.
	if n := strings.Count(s, "<svg "); n != 24 {
		t.Errorf("page has %d charts, want 24", n)
	}
	for rest := s; ; {
		i := strings.Index(rest, "<svg ")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>") + i + len("</svg>")
		d := xml.NewDecoder(strings.NewReader(rest[i:j]))
		for {
			if _, err := d.Token(); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("chart is not well-formed XML: %v", err)
			}
		}
		rest = rest[j:]
	}
}

func TestReportSummary(t *testing.T) {
	r := rptSampleReport(t, true)
	var buf bytes.Buffer
	if err := r.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	rptGolden(t, "summary.golden.txt", buf.Bytes())
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 10 || len(lines) > 20 {
		t.Errorf("summary has %d lines, want 10 to 20:\n%s", len(lines), s)
	}
	oot := r.Holdout.OutOfTime.Churn
	for _, want := range []string{
		"AUC " + rptF3(oot.AUC) + " (recency " + rptF3(oot.Baselines.Recency.AUC),
		"top decile lift " + rptFixed(oot.TopDecileLift, 1) + "×",
		"checks: 3 passed; anomaly screen flagged 3 of 1,530 users (left out of fitting)",
		"scored 1,530 users as of 2025-12-01",
		"customer value: BG/NBD (weeks) r 0.2426, alpha 4.414, a 0.7929, b 2.426 on 1,210 customers; Gamma-Gamma p 6.25, q 3.74, v 15.44",
		"  P(alive) does not help the churn model: AUC +0.0004 (0.8788 → 0.8792), log loss +0.0002 (0.3171 → 0.3173) out of time\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// A model that does not beat recency is called out.
	r.Holdout.OutOfTime.Churn.Baselines.Recency.AUC = oot.AUC + 0.01
	buf.Reset()
	if err := r.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "WARNING: the churn model does not beat recency alone") {
		t.Errorf("no warning:\n%s", buf.String())
	}
}

// TestNewTaskEvalBaselines checks the baselines on a hand-sized case whose
// reference values come from scikit-learn 1.2.1 (roc_auc_score,
// average_precision_score, log_loss, brier_score_loss):
//
//	y   = [1 0 1 1 0 0 1 0]
//	p   = [.9 .2 .6 .7 .4 .1 .35 .55]   auc 0.875, log_loss 0.45756507435212823
//	rec = [30 2 10 25 12 1 8 9]         auc 0.8125, ap 0.8541666666666666
//	rfm = [-3 -12 -6 -5 -9 -14 -10 -6]  auc 0.84375, ap 0.8541666666666666
//	constant 0.4: log_loss 0.7135581778200728, brier 0.26
//
// The recency top-decile lift is by hand: ceil(0.1·8) = 1 row flagged, the
// highest recency (30) is a positive, precision 1 over base rate 0.5 = 2.
func TestRptGain(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0.0004, "+0.0004"}, {-0.0123, "-0.0123"}, {0, "0.0000"}, {-5.634e-06, "-5.6e-06"}, {3.5e-05, "+3.5e-05"}, {0.00005, "+0.0001"}} {
		if got := rptGain(c.v); got != c.want {
			t.Errorf("rptGain(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestNewTaskEvalBaselines(t *testing.T) {
	y := []float64{1, 0, 1, 1, 0, 0, 1, 0}
	p := []float64{0.9, 0.2, 0.6, 0.7, 0.4, 0.1, 0.35, 0.55}
	rec := []float64{30, 2, 10, 25, 12, 1, 8, 9}
	rfm := []float64{-3, -12, -6, -5, -9, -14, -10, -6}
	te, err := NewTaskEval(model.KindLogistic, y, p, rec, rfm, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-12
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"model auc", te.AUC, 0.875},
		{"recency auc", te.Baselines.Recency.AUC, 0.8125},
		{"recency pr auc", te.Baselines.Recency.PRAUC, 0.8541666666666666},
		{"recency auc gain", te.Baselines.Recency.AUCGain, 0.875 - 0.8125},
		{"recency top decile lift", te.Baselines.Recency.TopDecileLift, 2},
		{"rfm auc", te.Baselines.RFM.AUC, 0.84375},
		{"rfm pr auc", te.Baselines.RFM.PRAUC, 0.8541666666666666},
		{"constant log loss", te.Baselines.BaseRate.LogLoss, 0.7135581778200728},
		{"constant brier", te.Baselines.BaseRate.Brier, 0.26},
		{"log loss gain", te.Baselines.BaseRate.LogLossGain, 0.7135581778200728 - 0.45756507435212823},
		{"skill", te.Baselines.BaseRate.Skill, 1 - 0.45756507435212823/0.7135581778200728},
	} {
		if math.Abs(c.got-c.want) > tol {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
	if te.Model != model.KindLogistic || len(te.Baselines.Recency.ROC) == 0 || len(te.Baselines.RFM.Gains) == 0 {
		t.Errorf("kind %q, curves %d/%d", te.Model, len(te.Baselines.Recency.ROC), len(te.Baselines.RFM.Gains))
	}

	bad := []struct {
		name string
		rec  []float64
		rate float64
		want error
	}{
		{"ShortBaseline", rec[:3], 0.4, ErrShape},
		{"NaNBaseline", append([]float64{math.NaN()}, rec[1:]...), 0.4, ErrScore},
		{"BadRate", rec, 1.5, ErrScore},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewTaskEval("x", y, p, c.rec, rfm, c.rate); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := NewTaskEval("x", []float64{1, 1}, []float64{0.5, 0.6}, []float64{1, 2}, []float64{1, 2}, 0.5); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: got %v, want ErrOneClass", err)
	}
}

// TestNewContingency checks counts, the diagonal share and Cramér's V
// against scipy 1.10.1: scipy.stats.contingency.crosstab of
// rows = "aabbbcacba", cols = "xyxxyyxyxx" is [[3 1] [3 1] [0 2]], and
// association(table, method="cramer") = 0.6123724356957945.
func TestNewContingency(t *testing.T) {
	rows := strings.Split("aabbbcacba", "")
	cols := strings.Split("xyxxyyxyxx", "")
	c, err := NewContingency("r", "c", time.Time{}, time.Time{}, []string{"a", "b", "c", "d"}, nil, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := [][]int{{3, 1}, {3, 1}, {0, 2}, {0, 0}}
	if len(c.Counts) != 4 || strings.Join(c.Rows, "") != "abcd" || strings.Join(c.Cols, "") != "xy" {
		t.Fatalf("rows %v cols %v counts %v", c.Rows, c.Cols, c.Counts)
	}
	for i := range wantCounts {
		for j := range wantCounts[i] {
			if c.Counts[i][j] != wantCounts[i][j] {
				t.Errorf("counts %v, want %v", c.Counts, wantCounts)
			}
		}
	}
	// The empty row "d" does not change V.
	if math.Abs(c.CramersV-0.6123724356957945) > 1e-12 {
		t.Errorf("Cramér's V = %.17g, want 0.6123724356957945", c.CramersV)
	}
	if c.Users != 10 || c.Diagonal != 0 {
		t.Errorf("users %d diagonal %v, want 10 and 0 (no names shared)", c.Users, c.Diagonal)
	}
	// A transition matrix: 3 of 4 users stay (hand count), and a perfect
	// association has V = 1.
	tr, err := NewContingency("f", "f", time.Time{}, time.Time{}, []string{"lo", "hi"}, []string{"lo", "hi"},
		[]string{"lo", "lo", "hi", "hi"}, []string{"lo", "lo", "hi", "lo"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Diagonal != 0.75 {
		t.Errorf("diagonal %v, want 0.75", tr.Diagonal)
	}
	id, _ := NewContingency("f", "f", time.Time{}, time.Time{}, nil, nil, []string{"a", "b", "a"}, []string{"a", "b", "a"})
	if math.Abs(id.CramersV-1) > 1e-12 || id.Diagonal != 1 {
		t.Errorf("identical labels: V %v diagonal %v, want 1 and 1", id.CramersV, id.Diagonal)
	}
	one, _ := NewContingency("f", "g", time.Time{}, time.Time{}, nil, nil, []string{"a", "a"}, []string{"x", "y"})
	if one.CramersV != 0 {
		t.Errorf("single row: V %v, want 0", one.CramersV)
	}
	if _, err := NewContingency("f", "g", time.Time{}, time.Time{}, nil, nil, []string{"a"}, nil); !errors.Is(err, ErrShape) {
		t.Errorf("length mismatch: got %v, want ErrShape", err)
	}
}

// TestNewSegmentStats checks sizes and rates against a hand count.
func TestNewSegmentStats(t *testing.T) {
	labels := []string{"low", "high", "high", "low", "zeta", "high", "alpha"}
	churn := []float64{0, 1, 1, 0, 1, 0, 0}
	prob := []float64{0.1, 0.8, 0.6, 0.2, 0.5, 0.7, 0.3}
	got, err := NewSegmentStats([]string{"high", "medium", "low"}, labels, churn, prob)
	if err != nil {
		t.Fatal(err)
	}
	// high: 3 users, 2 churned, mean prob (0.8+0.6+0.7)/3 = 0.7; medium:
	// empty; low: 2 users, 0 churned, mean 0.15; then alpha and zeta by
	// name, one user each.
	want := []struct {
		name  string
		users int
		rate  float64
		mean  float64
	}{{"high", 3, 2.0 / 3, 0.7}, {"medium", 0, math.NaN(), math.NaN()}, {"low", 2, 0, 0.15}, {"alpha", 1, 0, 0.3}, {"zeta", 1, 1, 0.5}}
	if len(got) != len(want) {
		t.Fatalf("got %d segments, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Users != w.users || math.Abs(g.Share-float64(w.users)/7) > 1e-15 {
			t.Errorf("segment %d = %+v, want %s with %d users", i, g, w.name, w.users)
		}
		if math.IsNaN(w.rate) {
			if g.ChurnRate != nil || g.MeanChurnProbability != nil {
				t.Errorf("empty segment %s has rates", g.Name)
			}
			continue
		}
		if g.ChurnRate == nil || math.Abs(*g.ChurnRate-w.rate) > 1e-15 || math.Abs(*g.MeanChurnProbability-w.mean) > 1e-15 {
			t.Errorf("segment %s rates %v %v, want %v %v", g.Name, g.ChurnRate, g.MeanChurnProbability, w.rate, w.mean)
		}
	}
	if _, err := NewSegmentStats(nil, labels, churn[:2], nil); !errors.Is(err, ErrShape) {
		t.Errorf("length mismatch: got %v, want ErrShape", err)
	}
	if _, err := NewSegmentStats(nil, []string{"a"}, []float64{2}, nil); !errors.Is(err, ErrLabel) {
		t.Errorf("label 2: got %v, want ErrLabel", err)
	}
}

func TestNewFeatureImportance(t *testing.T) {
	names := make([]string, 25)
	imp := make([]float64, 25)
	for i := range names {
		names[i] = string(rune('a'+i%26)) + "_f"
		imp[i] = float64(i % 5) // ties broken by name
	}
	fi, err := NewFeatureImportance(model.KindGBDT, ImportanceGain, names, imp)
	if err != nil {
		t.Fatal(err)
	}
	if len(fi.Features) != MaxReportImportance {
		t.Fatalf("kept %d, want %d", len(fi.Features), MaxReportImportance)
	}
	// Importance 4: e, j, o, t, y (indices 4, 9, 14, 19, 24) in name order.
	var first []string
	for _, f := range fi.Features[:5] {
		first = append(first, f.Feature)
		if f.Importance != 4 {
			t.Errorf("%s importance %v, want 4", f.Feature, f.Importance)
		}
	}
	if strings.Join(first, " ") != "e_f j_f o_f t_f y_f" {
		t.Errorf("top five %v", first)
	}
	if _, err := NewFeatureImportance("x", "y", names[:2], imp); !errors.Is(err, ErrShape) {
		t.Errorf("length mismatch: got %v", err)
	}
	if _, err := NewFeatureImportance("x", "y", names[:1], []float64{math.NaN()}); !errors.Is(err, ErrScore) {
		t.Errorf("NaN: got %v", err)
	}
}

func TestNewDataSummary(t *testing.T) {
	s := &features.ReadStats{
		Sources: []features.SourceStats{{Name: "a.csv"}, {Name: "b.jsonl"}}, Rows: 100, Events: 95, Users: 7,
		Bad: 5, BadByReason: map[error]int64{features.ErrBadTime: 3, features.ErrMissingUser: 2},
		EventTypes: map[string]int64{"view": 90, "purchase": 5}, AfterAsOf: 4, DuplicatesDropped: 1, Refunds: 2,
	}
	d := NewDataSummary(s)
	if strings.Join(d.Files, ",") != "a.csv,b.jsonl" || d.Rows != 100 || d.Events != 95 || d.Users != 7 || d.BadRows != 5 ||
		d.AfterAsOf != 4 || d.DuplicatesDropped != 1 || d.Refunds != 2 || d.EventTypes["purchase"] != 5 {
		t.Errorf("summary %+v", d)
	}
	if d.BadRowsByReason[features.ErrBadTime.Error()] != 3 || d.BadRowsByReason[features.ErrMissingUser.Error()] != 2 {
		t.Errorf("bad rows by reason %v", d.BadRowsByReason)
	}
}

// BenchmarkReportWrite writes the sample report (both tasks, five segment
// families) as JSON, HTML and summary.
func BenchmarkReportWrite(b *testing.B) {
	r := rptSampleReport(b, true)
	var buf bytes.Buffer
	var htmlBytes, jsonBytes int
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := r.WriteJSON(&buf); err != nil {
			b.Fatal(err)
		}
		jsonBytes = buf.Len()
		buf.Reset()
		if err := r.WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
		htmlBytes = buf.Len()
		if err := r.WriteSummary(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(jsonBytes), "json_bytes")
	b.ReportMetric(float64(htmlBytes), "html_bytes")
}
