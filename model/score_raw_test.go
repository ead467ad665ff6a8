package model

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// ScoreRaw, given the classifiers' raw probabilities, returns Score's
// prediction exactly, with a logistic churn model and without propensity,
// and with tree churn and propensity models; it checks the vector length.
func TestScoreRawMatchesScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	trees := func() *Classifier {
		tr := &Trees{Format: TreesFormat, NumFeatures: 8, BaseScore: -0.2}
		for range 12 {
			tr.Trees = append(tr.Trees, Tree{Nodes: randomTree(rng, 8, 4)})
		}
		return &Classifier{Kind: KindGBDT, Trees: tr,
			Calibration: &Calibration{Method: CalibrationPlatt, Platt: &Platt{A: 0.9, B: 0.1}}}
	}
	logistic := testModel(t)
	gb := testModel(t)
	gb.Churn, gb.Propensity = trees(), trees()
	if err := gb.Prepare(); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Model{"logistic": logistic, "trees": gb} {
		for range 200 {
			x := make([]float64, len(m.Features))
			for j := range x {
				x[j] = float64(rng.IntN(9)) - 2 + rng.Float64()
			}
			want, err := m.Score(x)
			if err != nil {
				t.Fatal(err)
			}
			var propRaw float64
			if m.Propensity != nil {
				propRaw = m.Propensity.Raw(x, nil)
			}
			got, err := m.ScoreRaw(x, m.Churn.Raw(x, nil), propRaw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: ScoreRaw %+v, Score %+v", name, got, want)
			}
		}
		if _, err := m.ScoreRaw([]float64{1}, 0.5, 0.5); err == nil {
			t.Errorf("%s: short vector accepted", name)
		}
	}
}

// ScoreWith, with one Scratch reused across models of different sizes and
// kinds, returns Score's prediction exactly, and Score's matches one
// assembled from the exported parts (the calibrated probabilities of each
// classifier, contributions, the segment of Clusters.Assign). Once the
// Scratch has grown, only the reasons are allocated.
func TestScoreWithMatchesScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	logistic := testModel(t)
	gb := testModel(t)
	tr := &Trees{Format: TreesFormat, NumFeatures: len(gb.Features), BaseScore: 0.1}
	for range 10 {
		tr.Trees = append(tr.Trees, Tree{Nodes: randomTree(rng, len(gb.Features), 4)})
	}
	gb.Churn = &Classifier{Kind: KindGBDT, Trees: tr, Calibration: &Calibration{Method: CalibrationPlatt, Platt: &Platt{A: 1.1, B: -0.2}}}
	gb.Propensity = logistic.Churn
	ctr := &Transform{Features: []FeatureTransform{{Name: FeatRecency, Kind: KindLog1p, Mean: 1, Std: 2}, {Name: "events_30d", Kind: KindNone, Std: 3}}}
	gb.Clusters = &Clusters{Features: []string{FeatRecency, "events_30d"}, Transform: ctr,
		KMeans: &KMeans{Centroids: [][]float64{{-1, 0}, {0, 1}, {1, 2}}, Names: []string{"a", "b", "c"}}}
	if err := gb.Prepare(); err != nil {
		t.Fatal(err)
	}
	var s Scratch
	for i := range 300 {
		m := logistic
		if i%3 != 0 {
			m = gb
		}
		x := make([]float64, len(m.Features))
		for j := range x {
			x[j] = float64(rng.IntN(30)) + rng.Float64()
		}
		want, err := m.Score(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.ScoreWith(x, &s)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d: ScoreWith %+v, Score %+v", i, got, want)
		}
		if p := m.Churn.Prob(x); want.ChurnProbability != p {
			t.Fatalf("%d: churn %v, Classifier.Prob %v", i, want.ChurnProbability, p)
		}
		if m.Propensity != nil && *want.PurchaseProbability != m.Propensity.Prob(x) {
			t.Fatalf("%d: purchase %v, Classifier.Prob %v", i, *want.PurchaseProbability, m.Propensity.Prob(x))
		}
		var contrib []float64
		if m.Churn.Kind == KindGBDT {
			contrib = m.Churn.Trees.Contributions(x)
		} else {
			contrib = m.Churn.Logistic.Contributions(m.Churn.Transform.Apply(nil, x))
		}
		if r := m.reasons(x, contrib, NumReasons); !reflect.DeepEqual(want.Reasons, r) {
			t.Fatalf("%d: reasons %+v, want %+v", i, want.Reasons, r)
		}
		if m.Clusters != nil {
			if seg := m.Clusters.Name(m.Clusters.Assign(m.lookup, x)); want.Segment != seg {
				t.Fatalf("%d: segment %q, Clusters.Assign %q", i, want.Segment, seg)
			}
		}
	}
	x := make([]float64, len(gb.Features))
	for j := range x {
		x[j] = float64(j + 1)
	}
	p, _ := gb.ScoreWith(x, &s)
	if len(p.Reasons) == 0 {
		t.Fatal("no reasons to allocate")
	}
	// What is left: the reasons (their slice and texts) and the purchase
	// probability's pointer.
	contrib := gb.Churn.Trees.Contributions(x)
	reasons := testing.AllocsPerRun(50, func() { gb.reasons(x, contrib, NumReasons) })
	if n := testing.AllocsPerRun(50, func() { gb.ScoreWith(x, &s) }); n > reasons+1 && !raceEnabled {
		t.Errorf("ScoreWith with a grown Scratch: %v allocations, want at most %v (the reasons' and the purchase probability's)", n, reasons+1)
	}
}
