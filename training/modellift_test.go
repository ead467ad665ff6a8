package training

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestModelLift checks the model-lift check on ten users scored by hand:
// churn probabilities 0.9, 0.8, ..., 0.0 and churners at ranks 1, 2 and 4.
// AUC by hand: of the 3·7 = 21 (churner, stayer) pairs the churners at
// ranks 1 and 2 win 7 each and the one at rank 4 wins 6 (it loses to
// rank 3): 20/21. The top 10% is one user, a churner: lift 1/0.3.
func TestModelLift(t *testing.T) {
	in := &ModelLiftInput{
		ModelVersion: "2025-04-16-abc", AsOf: time.Date(2025, 4, 16, 0, 0, 0, 0, time.UTC), HorizonDays: 14,
		Source: "stored", TargetEvent: "purchase", Unmatched: 2,
		Churn:     []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0},
		Churned:   []bool{true, true, false, true, false, false, false, false, false, false},
		Purchase:  []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95},
		Converted: []bool{false, false, false, false, false, false, false, false, true, true},
	}
	ml, err := NewModelLift(in)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ml.Churn.AUC-20.0/21) > 1e-12 || math.Abs(ml.Churn.TopDecileLift-1/0.3) > 1e-12 || ml.Churn.Positives != 3 {
		t.Errorf("churn AUC %v, top-decile lift %v, positives %d; want 20/21, 3.33, 3", ml.Churn.AUC, ml.Churn.TopDecileLift, ml.Churn.Positives)
	}
	if d := ml.Churn.Deciles[2]; d.Users != 1 || math.Abs(d.CumGainsPct-200.0/3) > 1e-9 {
		t.Errorf("decile 3 %+v, want 1 user and 66.7%% of churners", d)
	}
	if ml.Propensity == nil || ml.Propensity.AUC != 1 || ml.Users != 10 || ml.Unmatched != 2 {
		t.Errorf("propensity %+v, users %d", ml.Propensity, ml.Users)
	}
	var buf bytes.Buffer
	if err := ml.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Model 2025-04-16-abc, stored scores as of 2025-04-16, against the 14 days that followed (10 users; 2 scored users without events to judge them by are left out)",
		"Churn: 3 of 10 users churned (30.0%); AUC 0.952. The top 10% by churn probability: 100.0% churned, 3.3× the average rate; the top 30% held 66.7% of all churners.",
		"Purchase: 2 of 10 users had a purchase event (20.0%); AUC 1.000.",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := ml.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Count(html, "<svg") != 4 || !strings.Contains(html, "Cumulative gains, churn") || strings.Contains(html, "<script") {
		t.Errorf("HTML: %d charts", strings.Count(html, "<svg"))
	}

	t.Run("NoPropensity", func(t *testing.T) {
		in2 := *in
		in2.Purchase, in2.Converted = nil, nil
		ml, err := NewModelLift(&in2)
		if err != nil || ml.Propensity != nil || len(ml.Notes) != 1 {
			t.Errorf("got %+v, %v; want churn only with a note", ml, err)
		}
	})
	t.Run("PurchaseOneClass", func(t *testing.T) {
		in2 := *in
		in2.Converted = make([]bool, 10)
		ml, err := NewModelLift(&in2)
		if err != nil || ml.Propensity != nil || len(ml.Notes) != 1 || !strings.Contains(ml.Notes[0], "single class") {
			t.Errorf("got %+v, %v; want a note on the single class", ml, err)
		}
	})
	t.Run("ErrChurnOneClass", func(t *testing.T) {
		in2 := *in
		in2.Churned = make([]bool, 10)
		if _, err := NewModelLift(&in2); !errors.Is(err, ErrModelLift) || !errors.Is(err, ErrOneClass) {
			t.Errorf("got %v, want ErrModelLift wrapping ErrOneClass", err)
		}
	})
	t.Run("ErrShape", func(t *testing.T) {
		in2 := *in
		in2.Churned = in2.Churned[:3]
		if _, err := NewModelLift(&in2); !errors.Is(err, ErrShape) {
			t.Errorf("got %v, want ErrShape", err)
		}
	})
}
