package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/trees"
)

// trOutliers returns n ordinary rows (4 correlated Gaussian columns) and
// k planted outliers (one column 10–15 standard deviations out), with labels
// 1 for the outliers.
func trOutliers(n, k int, seed uint64) (*Matrix, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := NewMatrix(n+k, 4)
	y := make([]float64, n+k)
	for i := range n + k {
		row := x.Row(i)
		base := r.NormFloat64()
		for j := range row {
			row[j] = base + 0.5*r.NormFloat64()
		}
		if i >= n {
			y[i] = 1
			row[r.IntN(4)] += 10 + 5*r.Float64()
		}
	}
	return &x, y
}

// The seeded forest ranks planted outliers first, flags them, and gives
// the same scores for the same seed. golearn's trees.IsolationForest is the
// reference: on the same rows it must rank them about as well (its scores
// vary from run to run, which is why the pipeline does not use it).
func TestIsoForest(t *testing.T) {
	x, y := trOutliers(2000, 20, 3)
	f := fitIsoForest(x, 100, 256, 9)
	s := f.scores(x, 2)
	auc, err := ROCAUC(y, s)
	if err != nil {
		t.Fatal(err)
	}
	if auc < 0.98 {
		t.Errorf("outlier AUC %.4f < 0.98", auc)
	}
	flagged := flagAnomalies(s, AnomalyThreshold, 0.01)
	hits := 0
	for _, i := range flagged {
		if y[i] == 1 {
			hits++
		}
	}
	if len(flagged) == 0 || hits < len(flagged)*3/4 || len(flagged) > 20 {
		t.Errorf("flagged %d rows, %d planted outliers among them", len(flagged), hits)
	}
	if s2 := fitIsoForest(x, 100, 256, 9).scores(x, 1); !slices.Equal(s, s2) {
		t.Error("same seed, different scores")
	}
	if s3 := fitIsoForest(x, 100, 256, 10).scores(x, 2); slices.Equal(s, s3) {
		t.Error("another seed gave identical scores")
	}

	// golearn on the same rows, with the constant dummy class column its
	// isolation forest needs (it treats the class as a feature).
	inst := base.NewDenseInstances()
	specs := make([]base.AttributeSpec, 4)
	for j := range specs {
		specs[j] = inst.AddAttribute(base.NewFloatAttribute("x" + string(rune('0'+j))))
	}
	cls := base.NewFloatAttribute("class")
	cs := inst.AddAttribute(cls)
	if err := inst.AddClassAttribute(cls); err != nil {
		t.Fatal(err)
	}
	if err := inst.Extend(x.Rows); err != nil {
		t.Fatal(err)
	}
	for i := range x.Rows {
		for j, sp := range specs {
			inst.Set(sp, i, base.PackFloatToBytes(x.At(i, j)))
		}
		inst.Set(cs, i, base.PackFloatToBytes(0))
	}
	gf := trees.NewIsolationForest(100, 8, 256)
	gf.Fit(inst)
	gs := gf.Predict(inst)
	gauc, err := ROCAUC(y, gs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outlier AUC: lapse %.4f, golearn %.4f", auc, gauc)
	if gauc < 0.95 || auc < gauc-0.02 {
		t.Errorf("golearn reference AUC %.4f, lapse %.4f", gauc, auc)
	}
}

func TestAvgPath(t *testing.T) {
	// c(n) = 2H(n−1) − 2(n−1)/n with H(i) ≈ ln i + γ (Liu et al. 2008);
	// c(256) ≈ 10.2448 (hand computation: 2(ln 255 + 0.5772) − 510/256).
	for _, tc := range []struct {
		n, want float64
	}{{1, 0}, {2, 1}, {256, 10.244770920}} {
		if got := avgPath(tc.n); got-tc.want > 1e-6 || tc.want-got > 1e-6 {
			t.Errorf("c(%v) = %.9f, want %.9f", tc.n, got, tc.want)
		}
	}
}

// TestIsoScoresMatchScore checks that the blocked walk of scores gives the
// one-row score's bits, for row counts around its block and four-row step,
// with repeated values (thresholds between them), NaN and infinities, on
// one and two workers.
func TestIsoScoresMatchScore(t *testing.T) {
	x, _ := trOutliers(900, 9, 4)
	r := rand.New(rand.NewPCG(8, 8))
	for i := range x.Rows {
		row := x.Row(i)
		switch r.IntN(20) {
		case 0:
			row[r.IntN(4)] = math.NaN()
		case 1:
			row[r.IntN(4)] = math.Inf(1 - 2*r.IntN(2))
		case 2:
			row[r.IntN(4)] = 0
		}
	}
	f := fitIsoForest(x, 20, 64, 3)
	for _, n := range []int{0, 1, 3, 4, 5, 63, 64, 65, x.Rows} {
		sub := NewMatrix(n, x.Cols)
		copy(sub.Data, x.Data[:n*x.Cols])
		for _, w := range []int{1, 2} {
			got := f.scores(&sub, w)
			for i := range n {
				if want := f.score(sub.Row(i)); math.Float64bits(got[i]) != math.Float64bits(want) {
					t.Fatalf("rows %d workers %d: scores[%d] = %v, score = %v", n, w, i, got[i], want)
				}
			}
		}
	}
	if got := (&isoForest{}).scores(x, 2); got[0] != 0.5 {
		t.Errorf("empty forest: score %v, want 0.5", got[0])
	}
}
