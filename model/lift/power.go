package lift

import (
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Defaults for the planning functions, used when power or alpha is 0.
const (
	DefaultPower = 0.8
	DefaultAlpha = 0.05
)

// planParams validates and defaults the planning parameters.
func planParams(baseline, mde, power, alpha float64) (float64, float64, error) {
	if power == 0 {
		power = DefaultPower
	}
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	var bad []string
	if !(baseline > 0 && baseline < 1) {
		bad = append(bad, fmt.Sprintf("baseline %v not in (0, 1)", baseline))
	}
	if !(mde != 0 && baseline+mde > 0 && baseline+mde < 1) {
		bad = append(bad, fmt.Sprintf("mde %v: want nonzero with baseline+mde in (0, 1)", mde))
	}
	if !(power > 0 && power < 1) {
		bad = append(bad, fmt.Sprintf("power %v not in (0, 1)", power))
	}
	if !(alpha > 0 && alpha < 1) {
		bad = append(bad, fmt.Sprintf("alpha %v not in (0, 1)", alpha))
	}
	if len(bad) > 0 {
		return 0, 0, fmt.Errorf("lift: plan: %v: %w", bad, ErrPlan)
	}
	return power, alpha, nil
}

// SampleSize returns the users needed per group (equal groups) for a
// two-sided two-proportion z-test at level alpha to detect a change from
// baseline to baseline+mde with the given power. It uses the normal
// approximation with the pooled variance under the null hypothesis and the
// unpooled variance under the alternative, without continuity correction
// (Fleiss, Levin & Paik 2003, eq. 4.14 without the correction term):
//
//	n = ⌈(z(1−α/2)·sqrt(2·p̄·(1−p̄)) + z(power)·sqrt(p0(1−p0) + p1(1−p1)))² / mde²⌉,
//
// with p0 = baseline, p1 = baseline+mde, p̄ = (p0+p1)/2. mde is an
// absolute difference (0.02 is two points) and may be negative. power and
// alpha of 0 mean DefaultPower and DefaultAlpha.
func SampleSize(baseline, mde, power, alpha float64) (int, error) {
	power, alpha, err := planParams(baseline, mde, power, alpha)
	if err != nil {
		return 0, err
	}
	return int(math.Ceil(sampleSize(baseline, mde, power, alpha))), nil
}

// sampleSize is SampleSize before rounding up.
func sampleSize(baseline, mde, power, alpha float64) float64 {
	p0, p1 := baseline, baseline+mde
	pbar := (p0 + p1) / 2
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	zb := distuv.UnitNormal.Quantile(power)
	s := za*math.Sqrt(2*pbar*(1-pbar)) + zb*math.Sqrt(p0*(1-p0)+p1*(1-p1))
	return s * s / (mde * mde)
}

// Power returns the power of the two-sided pooled two-proportion z-test at
// level alpha with nTreatment and nControl users when the true rates are
// baseline (control) and baseline+mde (treatment):
//
//	Φ((|mde| − z(1−α/2)·sqrt(p̄(1−p̄)(1/n1 + 1/n0))) / sqrt(p1(1−p1)/n1 + p0(1−p0)/n0)),
//
// with p̄ = (n1·p1 + n0·p0)/(n1 + n0), ignoring the negligible chance of
// rejecting in the wrong direction (the approximation behind SampleSize).
// alpha of 0 means DefaultAlpha.
func Power(baseline, mde float64, nTreatment, nControl int, alpha float64) (float64, error) {
	_, alpha, err := planParams(baseline, mde, DefaultPower, alpha)
	if err != nil {
		return 0, err
	}
	if nTreatment < 1 || nControl < 1 {
		return 0, fmt.Errorf("lift: power: group sizes %d, %d: %w", nTreatment, nControl, ErrEmptyGroup)
	}
	return power(baseline, mde, float64(nTreatment), float64(nControl), distuv.UnitNormal.Quantile(1-alpha/2)), nil
}

func power(p0, mde, n1, n0, za float64) float64 {
	p1 := p0 + mde
	pbar := (n1*p1 + n0*p0) / (n1 + n0)
	null := math.Sqrt(pbar * (1 - pbar) * (1/n1 + 1/n0))
	alt := math.Sqrt(p1*(1-p1)/n1 + p0*(1-p0)/n0)
	return distuv.UnitNormal.CDF((math.Abs(mde) - za*null) / alt)
}

// DetectableMDE returns the smallest absolute increase over baseline that
// the groups detect with the given power at level alpha (the inverse of
// Power in mde, by bisection to 1e-9). For a decrease use the symmetry of
// the test under p → 1−p: the detectable decrease from b equals
// DetectableMDE(1−b, ...). It returns an error wrapping ErrPlan when even a
// rise to a rate of 1 is not detectable. power and alpha of 0 mean the
// defaults.
func DetectableMDE(baseline float64, nTreatment, nControl int, power, alpha float64) (float64, error) {
	power, alpha, err := planParams(baseline, (1-baseline)/2, power, alpha)
	if err != nil {
		return 0, err
	}
	if nTreatment < 1 || nControl < 1 {
		return 0, fmt.Errorf("lift: detectable mde: group sizes %d, %d: %w", nTreatment, nControl, ErrEmptyGroup)
	}
	return detectable(baseline, float64(nTreatment), float64(nControl), power, alpha)
}

func detectable(baseline, n1, n0, target, alpha float64) (float64, error) {
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	lo, hi := 0.0, 1-baseline
	if power(baseline, hi*(1-1e-12), n1, n0, za) < target {
		return math.NaN(), fmt.Errorf("lift: detectable mde: %v and %v users cannot reach power %v: %w", n1, n0, target, ErrPlan)
	}
	for hi-lo > 1e-9 {
		mid := (lo + hi) / 2
		if power(baseline, mid, n1, n0, za) >= target {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// HoldoutPlan says how to split a targeted segment for an experiment.
type HoldoutPlan struct {
	// Segment is the number of targeted users.
	Segment int `json:"segment"`
	// PerGroup is SampleSize: users per group for a 50/50 split.
	PerGroup int `json:"per_group"`
	// Feasible is true when some control share up to 1/2 reaches the
	// requested power for the requested mde.
	Feasible bool `json:"feasible"`
	// Holdout is the smallest control share Control/Segment reaching the
	// requested power, or 1/2 (the most powerful split of practical use)
	// when the segment is too small. With plain hash assignment the control
	// size varies around Holdout·Segment, so round the share up a little.
	Holdout float64 `json:"holdout"`
	// Control and Treatment are the group sizes of that split.
	Control   int `json:"control"`
	Treatment int `json:"treatment"`
	// Power is the power of that split for the requested mde.
	Power float64 `json:"power"`
	// DetectableMDE is the smallest absolute change (signed like the
	// requested mde) detectable with that split at the requested power;
	// NaN (null in JSON) when none is.
	DetectableMDE float64 `json:"detectable_mde"`
}

// PlanHoldout finds the smallest control share of a segment of the given
// size that detects a change from baseline to baseline+mde with the given
// power at level alpha (two-sided pooled z-test, see Power), searching
// control sizes from 1 to Segment/2. When even a 50/50 split is too weak,
// the plan is not Feasible and reports the change a 50/50 split can
// detect. target (the power) and alpha of 0 mean the defaults.
func PlanHoldout(segment int, baseline, mde, target, alpha float64) (HoldoutPlan, error) {
	perGroup, err := SampleSize(baseline, mde, target, alpha)
	if err != nil {
		return HoldoutPlan{}, err
	}
	target, alpha, _ = planParams(baseline, mde, target, alpha)
	if segment < 2 {
		return HoldoutPlan{}, fmt.Errorf("lift: plan holdout: segment of %d users: %w", segment, ErrEmptyGroup)
	}
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	N := float64(segment)
	pw := func(nc int) float64 { return power(baseline, mde, N-float64(nc), float64(nc), za) }
	plan := HoldoutPlan{Segment: segment, PerGroup: perGroup}
	nc := segment / 2
	if pw(nc) >= target {
		plan.Feasible = true
		// Power rises with the control size up to about half the segment;
		// find the smallest control size that reaches the target.
		lo, hi := 0, nc // pw(lo) < target (or lo = 0), pw(hi) >= target
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if pw(mid) >= target {
				hi = mid
			} else {
				lo = mid
			}
		}
		nc = hi
	}
	plan.Control, plan.Treatment = nc, segment-nc
	plan.Holdout = float64(nc) / N
	plan.Power = pw(nc)
	b, sign := baseline, 1.0
	if mde < 0 {
		b, sign = 1-baseline, -1
	}
	d, err := detectable(b, float64(plan.Treatment), float64(plan.Control), target, alpha)
	plan.DetectableMDE = sign * d
	if err != nil {
		plan.DetectableMDE = math.NaN()
	}
	return plan, nil
}

// MarshalJSON encodes the plan with the field names shown in its
// declaration; an undefined DetectableMDE is null.
func (p HoldoutPlan) MarshalJSON() ([]byte, error) {
	type plain HoldoutPlan
	return json.Marshal(struct {
		plain
		DetectableMDE jsonFloat `json:"detectable_mde"`
	}{plain(p), jsonFloat(p.DetectableMDE)})
}
