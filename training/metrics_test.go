package training

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// metricFormula returns 1000 rows whose values are exact in both Go and
// Python, so that scikit-learn can score the same data:
//
//	i = 0..999; s = (i*37 % 101)/100
//	"noise":    y = (i*7919 % 13) < 5              (s = 0 and 1 occur: log loss clips)
//	"informed": y = (i*7919 % 97)/97 < s
func metricFormula(kind string) (y, s []float64) {
	for i := range 1000 {
		si := float64((i*37)%101) / 100
		var yi float64
		switch kind {
		case "noise":
			if (i*7919)%13 < 5 {
				yi = 1
			}
		case "informed":
			if float64((i*7919)%97)/97 < si {
				yi = 1
			}
		}
		s = append(s, si)
		y = append(y, yi)
	}
	return y, s
}

// TestMetricsReference checks AUC, average precision, log loss, Brier and
// ECE against scikit-learn 1.2.1 (Debian python3-sklearn), computed offline
// with /tmp/metrics_ref.py:
//
//	roc_auc_score, average_precision_score, log_loss(eps=1e-15),
//	brier_score_loss; ECE with numpy: bins min(floor(10p), 9),
//	Σ n_b/n·|mean p_b − mean y_b|.
//
// The 4-row case is also the hand computation of the brief: positives 0.35
// and 0.8 beat negatives 0.1 and 0.4 in 3 of 4 pairs, AUC 0.75.
func TestMetricsReference(t *testing.T) {
	noiseY, noiseS := metricFormula("noise")
	infY, infS := metricFormula("informed")
	cases := []struct {
		name                         string
		y, s                         []float64
		auc, ap, logloss, brier, ece float64
	}{
		{"Simple", []float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8},
			0.75, 0.83333333333333326, 0.47228795380917615, 0.15812500000000002, 0.33749999999999997},
		{"AllTied", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5},
			0.5, 0.5, 0.69314718055994529, 0.25, 0},
		{"MixedTies", []float64{1, 1, 0, 1, 0, 0, 0}, []float64{0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.2},
			0.79166666666666663, 0.72222222222222221, 0.70367229761585004, 0.25714285714285717, 0.2857142857142857},
		{"Ties12", []float64{1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0},
			[]float64{0.9, 0.8, 0.8, 0.8, 0.5, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.1},
			0.79999999999999993, 0.72424242424242413, 0.53646363895051563, 0.17999999999999997, 0.10000000000000003},
		{"Formula1000Noise", noiseY, noiseS,
			0.49862527716186245, 0.38191757353399514, 1.3698628285317109, 0.33582459999999997, 0.26879999999999998},
		{"Formula1000Informed", infY, infS,
			0.84920339681358736, 0.8524248398125901, 0.4771484066167096, 0.15864460000000002, 0.018780000000000012},
	}
	const tol = 1e-12
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := func(what string, got, want float64) {
				t.Helper()
				if math.Abs(got-want) > tol {
					t.Errorf("%s = %.17g, want %.17g (sklearn)", what, got, want)
				}
			}
			auc, err := ROCAUC(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("ROCAUC", auc, c.auc)
			ap, err := AveragePrecision(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("AveragePrecision", ap, c.ap)
			ll, err := LogLoss(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("LogLoss", ll, c.logloss)
			br, err := Brier(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("Brier", br, c.brier)
			ece, _, err := Calibration(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("ECE", ece, c.ece)

			// Evaluate must agree with the single metrics.
			e, err := Evaluate(c.y, c.s)
			if err != nil {
				t.Fatal(err)
			}
			check("Evaluate.AUC", e.AUC, c.auc)
			check("Evaluate.PRAUC", e.PRAUC, c.ap)
			check("Evaluate.LogLoss", e.LogLoss, c.logloss)
			check("Evaluate.Brier", e.Brier, c.brier)
			check("Evaluate.ECE", e.ECE, c.ece)
		})
	}
}

// TestAUCOrderInvariant checks that shuffling rows changes nothing (ties are
// credited one half whatever their order), against the sklearn value above.
func TestAUCOrderInvariant(t *testing.T) {
	y, s := metricFormula("informed")
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 5 {
		rng.Shuffle(len(y), func(i, j int) { y[i], y[j] = y[j], y[i]; s[i], s[j] = s[j], s[i] })
		auc, err := ROCAUC(y, s)
		if err != nil {
			t.Fatal(err)
		}
		if want := 0.84920339681358736; math.Abs(auc-want) > 1e-12 {
			t.Errorf("trial %d: AUC %.17g, want %.17g", trial, auc, want)
		}
	}
}

func TestLogLossClipping(t *testing.T) {
	// References: scikit-learn 1.2.1 log_loss(eps=1e-15) for the clipped
	// cases (p = 1 clips to the double nearest 1−1e−15, so the y = 0 row costs
	// −ln(9.992e−16) = 34.5392 and the y = 1 row −ln(1e−15) = 34.5388);
	// the last case by hand.
	cases := []struct {
		name string
		y, p []float64
		want float64
	}{
		{"ConfidentWrong", []float64{1, 0}, []float64{0, 1}, 34.539176193625778},
		{"ConfidentRight", []float64{1, 0}, []float64{1, 0}, 9.9920072216264148e-16},
		{"Hand", []float64{1, 0}, []float64{0.8, 0.3}, -(math.Log(0.8) + math.Log(0.7)) / 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := LogLoss(c.y, c.p)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.want) > 1e-12*math.Max(1, c.want) {
				t.Errorf("LogLoss(%v, %v) = %.17g, want %.17g", c.y, c.p, got, c.want)
			}
		})
	}
}

func TestCalibrationTable(t *testing.T) {
	// Hand computation. p = 0.05 → bin 1 (mean .05, rate 0);
	// 0.15, 0.18 → bin 2 (mean .165, rate .5); 0.95, 1.0 → bin 10 (1 lands
	// in the last bin; mean .975, rate 1).
	// ECE = (1·.05 + 2·.335 + 2·.025)/5 = 0.154.
	y := []float64{0, 1, 0, 1, 1}
	p := []float64{0.05, 0.15, 0.18, 0.95, 1.0}
	ece, bins, err := Calibration(y, p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ece-0.154) > 1e-12 {
		t.Errorf("ECE = %.17g, want 0.154", ece)
	}
	want := map[int]CalibrationBin{
		1:  {Bin: 1, Lower: 0, Upper: 0.1, N: 1, MeanPredicted: 0.05, ObservedRate: 0},
		2:  {Bin: 2, Lower: 0.1, Upper: 0.2, N: 2, MeanPredicted: 0.165, ObservedRate: 0.5},
		10: {Bin: 10, Lower: 0.9, Upper: 1, N: 2, MeanPredicted: 0.975, ObservedRate: 1},
	}
	if len(bins) != CalibrationBins {
		t.Fatalf("%d bins, want %d", len(bins), CalibrationBins)
	}
	for _, b := range bins {
		w, ok := want[b.Bin]
		if !ok {
			w = CalibrationBin{Bin: b.Bin, Lower: float64(b.Bin-1) / 10, Upper: float64(b.Bin) / 10}
		}
		if b.N != w.N || math.Abs(b.MeanPredicted-w.MeanPredicted) > 1e-12 ||
			math.Abs(b.ObservedRate-w.ObservedRate) > 1e-12 ||
			math.Abs(b.Lower-w.Lower) > 1e-12 || math.Abs(b.Upper-w.Upper) > 1e-12 {
			t.Errorf("bin %d = %+v, want %+v", b.Bin, b, w)
		}
	}
}

func TestDeciles(t *testing.T) {
	type row struct {
		users, pos int
		rate, lift float64
		gains      float64
	}
	cases := []struct {
		name string
		y, s []float64
		want [10]row
	}{
		{
			// Hand computation. 15 distinct scores: row i (0-based, highest
			// first) is in decile floor(10(i+½)/15), giving sizes
			// 1,2,1,2,1,2,1,2,1,2. 5 positives, base rate 1/3.
			name: "NoTiesN15",
			y:    []float64{1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0},
			s:    []float64{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
			want: [10]row{
				{1, 1, 1, 3, 20}, {2, 1, 0.5, 1.5, 40}, {1, 1, 1, 3, 60}, {2, 0, 0, 0, 60},
				{1, 1, 1, 3, 80}, {2, 0, 0, 0, 80}, {1, 0, 0, 0, 80}, {2, 1, 0.5, 1.5, 100},
				{1, 0, 0, 0, 100}, {2, 0, 0, 0, 100},
			},
		},
		{
			// Hand computation. 12 rows, tie runs kept whole and placed by
			// their midpoint rank m: 0.9 (m=.5 → d1), 0.8×3 (m=2.5 → d3),
			// 0.5×2 (m=5 → d5), 0.4 (m=6.5 → d6), 0.3×4 (m=9 → d8),
			// 0.1 (m=11.5 → d10). Base rate 5/12.
			name: "TiesN12",
			y:    []float64{1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0},
			s:    []float64{0.9, 0.8, 0.8, 0.8, 0.5, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.1},
			want: [10]row{
				{1, 1, 1, 2.4, 20}, {0, 0, 0, 0, 20}, {3, 2, 2.0 / 3, 1.6, 60}, {0, 0, 0, 0, 60},
				{2, 1, 0.5, 1.2, 80}, {1, 0, 0, 0, 80}, {0, 0, 0, 0, 80}, {4, 1, 0.25, 0.6, 100},
				{0, 0, 0, 0, 100}, {1, 0, 0, 0, 100},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The table must not depend on the row order: check the given
			// order and a shuffled copy.
			y, s := append([]float64(nil), c.y...), append([]float64(nil), c.s...)
			rand.New(rand.NewPCG(3, 4)).Shuffle(len(y), func(i, j int) { y[i], y[j] = y[j], y[i]; s[i], s[j] = s[j], s[i] })
			for _, in := range [][2][]float64{{c.y, c.s}, {y, s}} {
				got, err := Deciles(in[0], in[1])
				if err != nil {
					t.Fatal(err)
				}
				for d, w := range c.want {
					g := got[d]
					if g.Decile != d+1 || g.Users != w.users || g.Positives != w.pos ||
						math.Abs(g.Rate-w.rate) > 1e-12 || math.Abs(g.Lift-w.lift) > 1e-12 ||
						math.Abs(g.CumGainsPct-w.gains) > 1e-12 {
						t.Errorf("decile %d = %+v, want %+v", d+1, g, w)
					}
				}
			}
		})
	}
}

func TestAtTop(t *testing.T) {
	// Hand computation on TiesN12 (5 positives). Top 5%: ceil(0.6) = 1 row,
	// the 0.9 positive. Top 10%: 2 rows, the 0.9 positive and 1 of the three
	// 0.8 rows (2 positives among them) → 1 + 2/3. Top 20%: 3 rows → 1 + 4/3.
	y := []float64{1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0}
	s := []float64{0.9, 0.8, 0.8, 0.8, 0.5, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.1}
	cases := []struct {
		frac    float64
		rows    int
		tp      float64
		wantErr bool
	}{
		{0.05, 1, 1, false},
		{0.10, 2, 1 + 2.0/3, false},
		{0.20, 3, 1 + 4.0/3, false},
		{1, 12, 5, false},
		{0, 0, 0, true},
		{1.5, 0, 0, true},
	}
	for _, c := range cases {
		got, err := AtTop(y, s, c.frac)
		if c.wantErr {
			if err == nil {
				t.Errorf("AtTop(%v): no error", c.frac)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows != c.rows || math.Abs(got.Precision-c.tp/float64(c.rows)) > 1e-12 || math.Abs(got.Recall-c.tp/5) > 1e-12 {
			t.Errorf("AtTop(%v) = %+v, want rows %d precision %v recall %v", c.frac, got, c.rows, c.tp/float64(c.rows), c.tp/5)
		}
	}
}

func TestCurves(t *testing.T) {
	// Hand computation for the 4-row case, sorted by score: 0.8(+) 0.4(−)
	// 0.35(+) 0.1(−).
	e, err := Evaluate([]float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8})
	if err != nil {
		t.Fatal(err)
	}
	wantROC := []CurvePoint{{0, 0}, {0, 0.5}, {0.5, 0.5}, {0.5, 1}, {1, 1}}
	wantGains := []CurvePoint{{0, 0}, {0.25, 0.5}, {0.5, 0.5}, {0.75, 1}, {1, 1}}
	if !equalPoints(e.ROC, wantROC) {
		t.Errorf("ROC = %v, want %v", e.ROC, wantROC)
	}
	if !equalPoints(e.Gains, wantGains) {
		t.Errorf("gains = %v, want %v", e.Gains, wantGains)
	}

	t.Run("Downsampled", func(t *testing.T) {
		// 5000 distinct scores give 5001 curve points; the trapezoidal area
		// under the kept ROC points must still be close to the exact AUC.
		rng := rand.New(rand.NewPCG(5, 6))
		n := 5000
		y, p := make([]float64, n), make([]float64, n)
		for i := range n {
			p[i] = rng.Float64()
			if rng.Float64() < p[i] {
				y[i] = 1
			}
		}
		e, err := Evaluate(y, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range [][]CurvePoint{e.ROC, e.Gains} {
			if len(c) > MaxCurvePoints {
				t.Errorf("%d points, want <= %d", len(c), MaxCurvePoints)
			}
			if c[0] != (CurvePoint{}) || c[len(c)-1] != (CurvePoint{1, 1}) {
				t.Errorf("curve ends %v … %v, want (0,0) … (1,1)", c[0], c[len(c)-1])
			}
			for i := 1; i < len(c); i++ {
				if c[i].X < c[i-1].X || c[i].Y < c[i-1].Y {
					t.Errorf("curve not monotone at %d: %v then %v", i, c[i-1], c[i])
				}
			}
		}
		var area float64
		for i := 1; i < len(e.ROC); i++ {
			area += (e.ROC[i].X - e.ROC[i-1].X) * (e.ROC[i].Y + e.ROC[i-1].Y) / 2
		}
		if math.Abs(area-e.AUC) > 0.002 {
			t.Errorf("trapezoidal area of downsampled ROC %v, AUC %v", area, e.AUC)
		}
	})
}

func equalPoints(a, b []CurvePoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i].X-b[i].X) > 1e-12 || math.Abs(a[i].Y-b[i].Y) > 1e-12 {
			return false
		}
	}
	return true
}

func TestEvaluateSummary(t *testing.T) {
	// Hand computation on TiesN12: base rate 5/12; top 10% precision
	// (1+2/3)/2 = 5/6, so top-decile lift = (5/6)/(5/12) = 2.
	y := []float64{1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0}
	s := []float64{0.9, 0.8, 0.8, 0.8, 0.5, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.1}
	e, err := Evaluate(y, s)
	if err != nil {
		t.Fatal(err)
	}
	if e.N != 12 || e.Positives != 5 || math.Abs(e.BaseRate-5.0/12) > 1e-15 {
		t.Errorf("N, Positives, BaseRate = %d, %d, %v; want 12, 5, 5/12", e.N, e.Positives, e.BaseRate)
	}
	if math.Abs(e.TopDecileLift-2) > 1e-12 {
		t.Errorf("TopDecileLift = %v, want 2", e.TopDecileLift)
	}
	if len(e.Top) != len(TopFractions) || len(e.Deciles) != 10 || len(e.Calibration) != CalibrationBins {
		t.Errorf("table sizes top %d deciles %d calibration %d", len(e.Top), len(e.Deciles), len(e.Calibration))
	}
	// The report is JSON: every number must be encodable (no NaN).
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("json.Marshal(Evaluation): %v", err)
	}
}

func TestThreshold(t *testing.T) {
	// Hand computation: y = 1 0 1 1 0, p = .9 .6 .4 .7 .2.
	y := []float64{1, 0, 1, 1, 0}
	p := []float64{0.9, 0.6, 0.4, 0.7, 0.2}
	cases := []struct {
		name           string
		thr            float64
		tp, fp, tn, fn int
		prec, rec, f1  float64
		acc            float64
	}{
		// >= 0.5 flags .9(+) .6(−) .7(+): TP 2, FP 1, FN 1 (.4), TN 1 (.2).
		{"Half", 0.5, 2, 1, 1, 1, 2.0 / 3, 2.0 / 3, 2.0 / 3, 3.0 / 5},
		// >= 0.7 is inclusive: .9 and .7, both positive.
		{"Inclusive", 0.7, 2, 0, 2, 1, 1, 2.0 / 3, 0.8, 4.0 / 5},
		// Nothing flagged: precision 0/0 reported as 0 (zero_division=0).
		{"NoneFlagged", 0.95, 0, 0, 2, 3, 0, 0, 0, 2.0 / 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Threshold(y, p, c.thr)
			if err != nil {
				t.Fatal(err)
			}
			if m.TP != c.tp || m.FP != c.fp || m.TN != c.tn || m.FN != c.fn {
				t.Errorf("confusion TP %d FP %d TN %d FN %d, want %d %d %d %d", m.TP, m.FP, m.TN, m.FN, c.tp, c.fp, c.tn, c.fn)
			}
			for _, v := range [][3]any{{"precision", m.Precision, c.prec}, {"recall", m.Recall, c.rec}, {"f1", m.F1, c.f1}, {"accuracy", m.Accuracy, c.acc}} {
				if math.Abs(v[1].(float64)-v[2].(float64)) > 1e-12 {
					t.Errorf("%s = %v, want %v", v[0], v[1], v[2])
				}
			}
		})
	}
}

func TestMetricErrors(t *testing.T) {
	cases := []struct {
		name string
		y, s []float64
		want error
	}{
		{"LengthMismatch", []float64{0, 1}, []float64{0.5}, ErrShape},
		{"Empty", nil, nil, ErrEmpty},
		{"BadLabel", []float64{0, 2}, []float64{0.1, 0.2}, ErrLabel},
		{"NaNScore", []float64{0, 1}, []float64{0.1, math.NaN()}, ErrScore},
		{"OneClass", []float64{1, 1}, []float64{0.1, 0.2}, ErrOneClass},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ROCAUC(c.y, c.s); !errors.Is(err, c.want) {
				t.Errorf("ROCAUC error %v, want %v", err, c.want)
			}
			if _, err := Evaluate(c.y, c.s); !errors.Is(err, c.want) {
				t.Errorf("Evaluate error %v, want %v", err, c.want)
			}
		})
	}
	// Probabilities outside [0, 1] are rejected by the probability metrics
	// only; ranking metrics accept any finite score.
	if _, err := LogLoss([]float64{0, 1}, []float64{-0.1, 0.5}); !errors.Is(err, ErrScore) {
		t.Errorf("LogLoss(p<0) error %v, want ErrScore", err)
	}
	if _, err := ROCAUC([]float64{0, 1}, []float64{-3, 7}); err != nil {
		t.Errorf("ROCAUC on raw scores: %v", err)
	}
}
