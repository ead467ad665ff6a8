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
