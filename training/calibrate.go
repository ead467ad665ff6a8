package training

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/lapse-dev/lapse/model"
)

// FitCalibration fits the calibration named by method (model.CalibrationPlatt
// or model.CalibrationIsotonic; model.CalibrationNone or "" gives the
// identity) to raw probabilities p with labels y and optional weights w.
// p must come from rows the classifier was not fitted on, or the calibration
// learns the classifier's overfitting.
func FitCalibration(method string, p, y, w []float64) (*model.Calibration, error) {
	switch method {
	case "", model.CalibrationNone:
		return &model.Calibration{Method: model.CalibrationNone}, nil
	case model.CalibrationPlatt:
		c, err := FitPlatt(p, y, w)
		if err != nil {
			return nil, err
		}
		return &model.Calibration{Method: method, Platt: c}, nil
	case model.CalibrationIsotonic:
		c, err := FitIsotonic(p, y, w)
		if err != nil {
			return nil, err
		}
		return &model.Calibration{Method: method, Isotonic: c}, nil
	}
	return nil, fmt.Errorf("training: calibration: unknown method %q: %w", method, model.ErrInvalidCalibration)
}

// calCheck validates probabilities, 0/1 labels and optional weights.
func calCheck(p, y, w []float64) error {
	if err := metCheck(y, p, true); err != nil {
		return err
	}
	if w != nil {
		if len(w) != len(p) {
			return fmt.Errorf("training: %d weights for %d rows: %w", len(w), len(p), ErrShape)
		}
		var s float64
		for i, v := range w {
			if !(v >= 0) || math.IsInf(v, 0) {
				return fmt.Errorf("training: row %d: weight %v: %w", i, v, ErrWeight)
			}
			s += v
		}
		if s == 0 {
			return fmt.Errorf("training: all weights are zero: %w", ErrWeight)
		}
	}
	return nil
}

// FitPlatt fits Platt scaling q = σ(A·logit(p) + B) to raw probabilities p
// and labels y (0 or 1) with optional weights w, by Newton's method with a
// backtracking line search (Lin, Lin and Weng 2007, "A note on Platt's
// probabilistic outputs for support vector machines"). As in Platt (1999)
// the 0/1 targets are smoothed to t₊ = (N₊+1)/(N₊+2) and t₋ = 1/(N₋+2),
// where N₊ and N₋ are the (weighted) numbers of positives and negatives, so
// that a small calibration set cannot push probabilities to 0 or 1.
func FitPlatt(p, y, w []float64) (*model.Platt, error) {
	if err := calCheck(p, y, w); err != nil {
		return nil, fmt.Errorf("training: platt: %w", err)
	}
	n := len(p)
	f := make([]float64, n)
	t := make([]float64, n)
	wt := make([]float64, n)
	var npos, nneg float64
	for i := range p {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		wt[i] = wi
		if y[i] == 1 {
			npos += wi
		} else {
			nneg += wi
		}
	}
	hi, lo := (npos+1)/(npos+2), 1/(nneg+2)
	for i := range p {
		f[i] = model.Logit(p[i])
		if y[i] == 1 {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	sw := npos + nneg

	// obj is the weighted mean cross-entropy against the smoothed targets.
	obj := func(a, b float64) float64 {
		var s float64
		for i := range f {
			z := a*f[i] + b
			// log(1+e^z) − t·z, stable for both signs of z
			var l float64
			if z >= 0 {
				l = z + math.Log1p(math.Exp(-z))
			} else {
				l = math.Log1p(math.Exp(z))
			}
			s += wt[i] * (l - t[i]*z)
		}
		return s / sw
	}
	a, b := 0.0, model.Logit((npos+1)/(sw+2))
	fv := obj(a, b)
	for range 100 {
		var ga, gb, haa, hab, hbb float64
		for i := range f {
			q := cal01Sigmoid(a*f[i] + b)
			r := wt[i] * (q - t[i])
			h := wt[i] * q * (1 - q)
			ga += r * f[i]
			gb += r
			haa += h * f[i] * f[i]
			hab += h * f[i]
			hbb += h
		}
		ga, gb = ga/sw, gb/sw
		haa, hab, hbb = haa/sw+1e-12, hab/sw, hbb/sw+1e-12
		if math.Max(math.Abs(ga), math.Abs(gb)) < 1e-13 {
			return &model.Platt{A: a, B: b}, nil
		}
		det := haa*hbb - hab*hab
		da := -(hbb*ga - hab*gb) / det
		db := -(-hab*ga + haa*gb) / det
		step := 1.0
		decrease := ga*da + gb*db // directional derivative, < 0
		if -decrease < 1e-13*math.Max(1, fv) {
			// The predicted decrease is below what the objective can
			// resolve in floating point; Newton converges quadratically
			// here, so take the full step and stop.
			return &model.Platt{A: a + da, B: b + db}, nil
		}
		for ; step > 1e-10; step /= 2 {
			na, nb := a+step*da, b+step*db
			if nv := obj(na, nb); nv <= fv+1e-4*step*decrease {
				a, b, fv = na, nb, nv
				break
			}
		}
		if step <= 1e-10 {
			// No further decrease is possible in floating point: at the
			// optimum up to rounding.
			return &model.Platt{A: a, B: b}, nil
		}
	}
	return nil, fmt.Errorf("training: platt: %w after 100 Newton steps", ErrNotConverged)
}

func cal01Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// FitIsotonic fits a non-decreasing map from raw probability to observed
// rate by weighted pool-adjacent-violators (the least-squares isotonic
// regression of y on p). Rows with equal p are merged first (weighted mean
// label), as scikit-learn's IsotonicRegression does. Each pooled block
// contributes its lowest and highest p as breakpoints with the block's rate,
// and model.Isotonic interpolates linearly between blocks, so the result
// matches IsotonicRegression(out_of_bounds="clip").predict.
func FitIsotonic(p, y, w []float64) (*model.Isotonic, error) {
	if err := calCheck(p, y, w); err != nil {
		return nil, fmt.Errorf("training: isotonic: %w", err)
	}
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })

	// block is a pooled run of distinct scores [xlo, xhi] with weighted mean v.
	type block struct{ xlo, xhi, v, w float64 }
	var blocks []block
	for k := 0; k < len(idx); {
		x := p[idx[k]]
		var sy, sw float64
		for ; k < len(idx) && p[idx[k]] == x; k++ {
			wi := 1.0
			if w != nil {
				wi = w[idx[k]]
			}
			sy += wi * y[idx[k]]
			sw += wi
		}
		if sw == 0 {
			continue // zero-weight points carry no information
		}
		blocks = append(blocks, block{xlo: x, xhi: x, v: sy / sw, w: sw})
		// Pool while the last two blocks violate monotonicity.
		for len(blocks) > 1 {
			l := len(blocks)
			a, b := blocks[l-2], blocks[l-1]
			if a.v <= b.v {
				break
			}
			sw := a.w + b.w
			blocks[l-2] = block{xlo: a.xlo, xhi: b.xhi, v: (a.v*a.w + b.v*b.w) / sw, w: sw}
			blocks = blocks[:l-1]
		}
	}
	c := &model.Isotonic{}
	for _, b := range blocks {
		c.X = append(c.X, b.xlo)
		c.Y = append(c.Y, b.v)
		if b.xhi > b.xlo {
			c.X = append(c.X, b.xhi)
			c.Y = append(c.Y, b.v)
		}
	}
	return c, nil
}
