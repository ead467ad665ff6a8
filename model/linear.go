package model

import (
	"fmt"
	"math"
)

// Logistic is a fitted binary logistic regression as plain data. It scores
// vectors that are already in the model's input space (usually the output
// of Transform.Apply): the log-odds are Bias + Σ Weights[j]·x[j].
//
// Mean holds the (weighted) training mean of each input column. It is only
// used by Contributions and BaseLogit, which explain a score relative to an
// average training row. A Logistic with a nil Mean explains relative to the
// zero vector, which equals the training mean when inputs are standardised.
type Logistic struct {
	// Weights has one coefficient per input column.
	Weights []float64 `json:"weights"`
	// Bias is the intercept on the logit scale.
	Bias float64 `json:"bias"`
	// Mean is the training mean of each input column (len(Weights)), or nil.
	Mean []float64 `json:"mean,omitempty"`
}

// Logit returns the log-odds Bias + Σ Weights[j]·x[j]. It panics if len(x)
// differs from len(m.Weights), which is a programming error.
func (m *Logistic) Logit(x []float64) float64 {
	if len(x) != len(m.Weights) {
		panic(fmt.Sprintf("model: logistic got %d inputs, want %d", len(x), len(m.Weights)))
	}
	z := m.Bias
	for j, w := range m.Weights {
		z += w * x[j]
	}
	return z
}

// Prob returns the probability 1/(1+exp(−Logit(x))) of the positive class.
func (m *Logistic) Prob(x []float64) float64 { return linSigmoid(m.Logit(x)) }

// BaseLogit returns the logit of the training-mean row, Bias + Σ w[j]·Mean[j]
// (just Bias when Mean is nil). For every x,
// Logit(x) == BaseLogit() + Σ Contributions(x) up to rounding.
func (m *Logistic) BaseLogit() float64 {
	z := m.Bias
	if m.Mean != nil {
		for j, w := range m.Weights {
			z += w * m.Mean[j]
		}
	}
	return z
}

// Contributions returns the signed contribution of each input to the logit
// relative to the training mean: Weights[j]·(x[j] − Mean[j]). A positive
// value pushes the probability up. It panics if len(x) differs from
// len(m.Weights).
func (m *Logistic) Contributions(x []float64) []float64 {
	if len(x) != len(m.Weights) {
		panic(fmt.Sprintf("model: logistic got %d inputs, want %d", len(x), len(m.Weights)))
	}
	return m.contributions(make([]float64, len(x)), x)
}

// contributions writes Contributions(x) into c (len(x)) and returns it.
func (m *Logistic) contributions(c, x []float64) []float64 {
	for j, w := range m.Weights {
		v := x[j]
		if m.Mean != nil {
			v -= m.Mean[j]
		}
		c[j] = w * v
	}
	return c
}

// linSigmoid returns 1/(1+e^−z), computed without overflow for large |z|.
// (The exported Sigmoid lives in tree.go; this copy keeps linear.go and
// calibrate.go self-contained.)
func linSigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Logit returns log(p/(1−p)) with p first clipped to [ProbEpsilon,
// 1−ProbEpsilon], so that 0 and 1 map to finite values (about ±34.5).
func Logit(p float64) float64 {
	p = ClipProb(p)
	return math.Log(p / (1 - p))
}

// ProbEpsilon is the clipping bound used by ClipProb and Logit; it matches
// the eps=1e-15 that scikit-learn's log_loss used before version 1.5.
const ProbEpsilon = 1e-15

// ClipProb clips p to [ProbEpsilon, 1−ProbEpsilon]. NaN is returned as is.
func ClipProb(p float64) float64 {
	if p < ProbEpsilon {
		return ProbEpsilon
	}
	if p > 1-ProbEpsilon {
		return 1 - ProbEpsilon
	}
	return p
}
