package lift

import (
	"encoding/json"
	"fmt"
	"math"
)

// Kind says whether a metric is a proportion (a 0/1 outcome per user) or a
// mean (a numeric outcome per user).
type Kind string

const (
	// KindProportion is a share of users with an outcome: retention,
	// conversion.
	KindProportion Kind = "proportion"
	// KindMean is a mean outcome per user: revenue per user.
	KindMean Kind = "mean"
)

// Method names recorded in a Result's JSON "methods" object.
const (
	MethodNewcombe = "newcombe-hybrid-score" // abs_lift_ci95 of proportions
	MethodKatz     = "katz-log-risk-ratio"   // rel_lift_ci95 of proportions
	MethodPooledZ  = "pooled-z"              // p_value of proportions
	MethodWilson   = "wilson"                // group ci95 of proportions
	MethodWelch    = "welch-t"               // abs_lift_ci95 and p_value of means
	MethodDelta    = "delta-ratio"           // rel_lift_ci95 of means
	MethodStudentT = "student-t"             // group ci95 of means
	MethodSRM      = "chi-square-gof"        // srm_p_value
)

// GroupStats describes one group for one metric.
type GroupStats struct {
	// N is the number of users in the group.
	N int
	// Successes is the number of users with the outcome (proportions only;
	// 0 for means).
	Successes int
	// Mean is the rate Successes/N for a proportion and the mean outcome
	// per user for a mean. JSON calls it "rate" or "mean" accordingly.
	Mean float64
	// SD is the sample standard deviation of the outcome (means only; 0 for
	// proportions).
	SD float64
	// CI95 is the 95% interval of Mean: Wilson for a proportion, Student t
	// for a mean.
	CI95 Interval
}

// Result compares treatment with control on one metric. The zero value is
// not meaningful; results come from CompareProportions and CompareMeans.
// Undefined values (a relative lift over a zero control, the degrees of
// freedom of a proportion) are NaN in Go and null in JSON.
type Result struct {
	// Metric names the metric, e.g. "retention", "conversion", "revenue".
	Metric string
	// Kind is KindProportion or KindMean.
	Kind Kind
	// Treatment and Control describe the two groups.
	Treatment, Control GroupStats
	// AbsLift is treatment − control (rates as fractions, not points).
	AbsLift float64
	// AbsLiftCI95 is the 95% interval of AbsLift: Newcombe's hybrid score
	// interval for proportions, Welch's t interval for means.
	AbsLiftCI95 Interval
	// RelLift is treatment/control − 1.
	RelLift float64
	// RelLiftCI95 is the 95% interval of RelLift: Katz's log risk-ratio
	// interval for proportions, the delta method for means.
	RelLiftCI95 Interval
	// PValue is the two-sided p-value of no difference: pooled z-test for
	// proportions, Welch's t-test for means.
	PValue float64
	// DF is the Welch–Satterthwaite degrees of freedom (means only).
	DF float64
	// Holdout is the configured control share the SRM check used.
	Holdout float64
	// SRMPValue is the chi-square goodness-of-fit p-value of the group
	// sizes against Holdout.
	SRMPValue float64
	// SRMWarning is true when SRMPValue < SRMThreshold.
	SRMWarning bool
}

// Significant reports whether the result shows an effect at the 5% level:
// p < 0.05 and the 95% interval of the absolute lift excludes 0. (The test
// and the interval use different approximations and can, rarely, disagree
// near the boundary; then the result is not called significant.)
func (r Result) Significant() bool {
	return r.PValue < 0.05 && !r.AbsLiftCI95.Contains(0)
}

// CompareProportions compares a 0/1 metric between treatment and control.
// holdout is the configured control share, in (0, 1), for the
// sample-ratio-mismatch check.
func CompareProportions(metric string, treatment, control Proportion, holdout float64) (Result, error) {
	if err := treatment.Validate(); err != nil {
		return Result{}, fmt.Errorf("lift: %s: treatment: %w", metric, err)
	}
	if err := control.Validate(); err != nil {
		return Result{}, fmt.Errorf("lift: %s: control: %w", metric, err)
	}
	srm, err := SRMPValue(treatment.N, control.N, holdout)
	if err != nil {
		return Result{}, fmt.Errorf("lift: %s: %w", metric, err)
	}
	group := func(p Proportion) GroupStats {
		return GroupStats{N: p.N, Successes: p.Successes, Mean: p.Rate(),
			CI95: wilson(float64(p.Successes), float64(p.N))}
	}
	r := Result{
		Metric:      metric,
		Kind:        KindProportion,
		Treatment:   group(treatment),
		Control:     group(control),
		AbsLift:     treatment.Rate() - control.Rate(),
		AbsLiftCI95: newcombe(treatment, control),
		RelLift:     math.NaN(),
		RelLiftCI95: katz(treatment, control),
		PValue:      pooledZPValue(treatment, control),
		DF:          math.NaN(),
		Holdout:     holdout,
		SRMPValue:   srm,
		SRMWarning:  srm < SRMThreshold,
	}
	if control.Successes > 0 {
		r.RelLift = treatment.Rate()/control.Rate() - 1
	}
	return r, nil
}

// CompareMeans compares a numeric metric per user between treatment and
// control; each group needs at least two users. holdout is the configured
// control share, in (0, 1), for the sample-ratio-mismatch check.
func CompareMeans(metric string, treatment, control Moments, holdout float64) (Result, error) {
	if err := treatment.Validate(); err != nil {
		return Result{}, fmt.Errorf("lift: %s: treatment: %w", metric, err)
	}
	if err := control.Validate(); err != nil {
		return Result{}, fmt.Errorf("lift: %s: control: %w", metric, err)
	}
	srm, err := SRMPValue(treatment.N, control.N, holdout)
	if err != nil {
		return Result{}, fmt.Errorf("lift: %s: %w", metric, err)
	}
	group := func(m Moments) GroupStats {
		return GroupStats{N: m.N, Mean: m.Mean, SD: m.SD(), CI95: tCI(m)}
	}
	w := welchTest(treatment, control)
	r := Result{
		Metric:      metric,
		Kind:        KindMean,
		Treatment:   group(treatment),
		Control:     group(control),
		AbsLift:     w.diff,
		AbsLiftCI95: w.ci,
		RelLift:     math.NaN(),
		RelLiftCI95: deltaRatioCI(treatment, control),
		PValue:      w.p,
		DF:          w.df,
		Holdout:     holdout,
		SRMPValue:   srm,
		SRMWarning:  srm < SRMThreshold,
	}
	if control.Mean != 0 {
		r.RelLift = treatment.Mean/control.Mean - 1
	}
	return r, nil
}

// jsonFloat is a float64 that is encoded as null when NaN or infinite and
// decoded from null as NaN.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// MarshalJSON encodes the interval as [lo, hi].
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]jsonFloat{jsonFloat(iv.Lo), jsonFloat(iv.Hi)})
}

// UnmarshalJSON decodes [lo, hi]; null bounds become NaN, and a null
// interval leaves iv unchanged.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var a []jsonFloat
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("lift: interval: %w", err)
	}
	if len(a) != 2 {
		return fmt.Errorf("lift: interval: got %d bounds, want 2", len(a))
	}
	iv.Lo, iv.Hi = float64(a[0]), float64(a[1])
	return nil
}

// groupJSON is the wire form of GroupStats. Exactly one of Rate and Mean
// is set, by the metric's kind.
type groupJSON struct {
	N         int        `json:"n"`
	Successes *int       `json:"successes,omitempty"`
	Rate      *jsonFloat `json:"rate,omitempty"`
	Mean      *jsonFloat `json:"mean,omitempty"`
	SD        *jsonFloat `json:"sd,omitempty"`
	CI95      Interval   `json:"ci95"`
}

type methodsJSON struct {
	GroupCI95   string `json:"group_ci95"`
	AbsLiftCI95 string `json:"abs_lift_ci95"`
	RelLiftCI95 string `json:"rel_lift_ci95"`
	PValue      string `json:"p_value"`
	SRMPValue   string `json:"srm_p_value"`
}

// resultJSON is the wire form of Result; doc.go documents it.
type resultJSON struct {
	Metric      string      `json:"metric"`
	Kind        Kind        `json:"kind"`
	Treatment   groupJSON   `json:"treatment"`
	Control     groupJSON   `json:"control"`
	AbsLift     jsonFloat   `json:"abs_lift"`
	AbsLiftCI95 Interval    `json:"abs_lift_ci95"`
	RelLift     jsonFloat   `json:"rel_lift"`
	RelLiftCI95 Interval    `json:"rel_lift_ci95"`
	PValue      jsonFloat   `json:"p_value"`
	DF          *jsonFloat  `json:"df,omitempty"`
	Holdout     jsonFloat   `json:"holdout"`
	SRMPValue   jsonFloat   `json:"srm_p_value"`
	SRMWarning  bool        `json:"srm_warning"`
	Methods     methodsJSON `json:"methods"`
}

func methodsFor(k Kind) methodsJSON {
	if k == KindMean {
		return methodsJSON{MethodStudentT, MethodWelch, MethodDelta, MethodWelch, MethodSRM}
	}
	return methodsJSON{MethodWilson, MethodNewcombe, MethodKatz, MethodPooledZ, MethodSRM}
}

func ptr[T any](v T) *T { return &v }

// MarshalJSON encodes the result in the schema documented in the package
// comment.
func (r Result) MarshalJSON() ([]byte, error) {
	group := func(g GroupStats) groupJSON {
		out := groupJSON{N: g.N, CI95: g.CI95}
		if r.Kind == KindMean {
			out.Mean = ptr(jsonFloat(g.Mean))
			out.SD = ptr(jsonFloat(g.SD))
		} else {
			out.Successes = ptr(g.Successes)
			out.Rate = ptr(jsonFloat(g.Mean))
		}
		return out
	}
	w := resultJSON{
		Metric:      r.Metric,
		Kind:        r.Kind,
		Treatment:   group(r.Treatment),
		Control:     group(r.Control),
		AbsLift:     jsonFloat(r.AbsLift),
		AbsLiftCI95: r.AbsLiftCI95,
		RelLift:     jsonFloat(r.RelLift),
		RelLiftCI95: r.RelLiftCI95,
		PValue:      jsonFloat(r.PValue),
		Holdout:     jsonFloat(r.Holdout),
		SRMPValue:   jsonFloat(r.SRMPValue),
		SRMWarning:  r.SRMWarning,
		Methods:     methodsFor(r.Kind),
	}
	if r.Kind == KindMean {
		w.DF = ptr(jsonFloat(r.DF))
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the schema written by MarshalJSON. The "methods"
// object is informational and ignored; absent numbers decode as NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	nan := jsonFloat(math.NaN())
	w := resultJSON{AbsLift: nan, RelLift: nan, PValue: nan, Holdout: nan, SRMPValue: nan}
	w.AbsLiftCI95 = Interval{math.NaN(), math.NaN()}
	w.RelLiftCI95 = w.AbsLiftCI95
	w.Treatment.CI95, w.Control.CI95 = w.AbsLiftCI95, w.AbsLiftCI95
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("lift: decode result: %w", err)
	}
	switch w.Kind {
	case KindProportion, KindMean:
	default:
		return fmt.Errorf("lift: decode result: kind %q: want %q or %q", w.Kind, KindProportion, KindMean)
	}
	group := func(g groupJSON) GroupStats {
		out := GroupStats{N: g.N, Mean: math.NaN(), CI95: g.CI95}
		v := g.Rate
		if w.Kind == KindMean {
			v = g.Mean
		}
		if v != nil {
			out.Mean = float64(*v)
		}
		if g.Successes != nil {
			out.Successes = *g.Successes
		}
		if g.SD != nil {
			out.SD = float64(*g.SD)
		}
		return out
	}
	*r = Result{
		Metric:      w.Metric,
		Kind:        w.Kind,
		Treatment:   group(w.Treatment),
		Control:     group(w.Control),
		AbsLift:     float64(w.AbsLift),
		AbsLiftCI95: w.AbsLiftCI95,
		RelLift:     float64(w.RelLift),
		RelLiftCI95: w.RelLiftCI95,
		PValue:      float64(w.PValue),
		DF:          math.NaN(),
		Holdout:     float64(w.Holdout),
		SRMPValue:   float64(w.SRMPValue),
		SRMWarning:  w.SRMWarning,
	}
	if w.DF != nil {
		r.DF = float64(*w.DF)
	}
	return nil
}
