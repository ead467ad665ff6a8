package training_test

import (
	"context"
	"fmt"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/training"
)

// ROC AUC counts the pairs (positive, negative) in which the positive
// scores higher; ties count one half. Here 3 of 4 pairs are ordered.
func ExampleROCAUC() {
	auc, err := training.ROCAUC([]float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8})
	if err != nil {
		panic(err)
	}
	fmt.Println(auc)
	// Output: 0.75
}

// Transform raw features, fit a logistic regression and score new rows.
func ExampleFitLogistic() {
	raw, _ := training.MatrixFromRows([][]float64{
		{0, 40}, {1, 30}, {2, 35}, {3, 2}, {5, 3}, {8, 1}, {0, 3}, {6, 20}, {4, 5}, {0, 38},
	}) // orders_30d, recency_days
	churned := []float64{1, 1, 1, 0, 0, 0, 1, 0, 1, 0}
	tr, err := training.FitTransform(&raw, []string{"orders_30d", "recency_days"},
		[]string{model.KindLog1p, model.KindNone})
	if err != nil {
		panic(err)
	}
	x, _ := training.ApplyTransform(tr, &raw)
	m, err := training.FitLogistic(context.Background(), x, churned, nil, training.DefaultLogisticOptions())
	if err != nil {
		panic(err)
	}
	active := tr.Apply(nil, []float64{4, 2})
	lapsed := tr.Apply(nil, []float64{0, 45})
	fmt.Printf("active %.2f, lapsed %.2f\n", m.Prob(active), m.Prob(lapsed))
	// scikit-learn 1.2.1 on the same standardised log1p/none features,
	// LogisticRegression(C=1/(1e-4·10), solver="newton-cg"), gives
	// 0.3128 and 0.8332.

	// Output: active 0.31, lapsed 0.83
}

// Isotonic calibration maps raw scores to observed rates, monotonically.
func ExampleFitCalibration() {
	raw := []float64{0.1, 0.2, 0.3, 0.4}
	y := []float64{0, 1, 0, 1}
	cal, err := training.FitCalibration(model.CalibrationIsotonic, raw, y, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.2f %.2f %.2f %.2f\n", cal.Apply(0.1), cal.Apply(0.25), cal.Apply(0.35), cal.Apply(0.9))
	// Output: 0.00 0.50 0.75 1.00
}
