package lift

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The metric names Measure reports, in this order.
const (
	MetricRetention  = "retention"
	MetricConversion = "conversion"
	MetricRevenue    = "revenue"
)

// Breakdowns are the attributes Measure breaks results down by when
// MeasureOptions.Breakdowns is nil: the assignment-time risk band and
// behavioural segment.
var Breakdowns = []string{"risk_band", "segment"}

// Attributes are the assignment attributes that stratify and break down an
// experiment: the segment families of the stored scores.
var Attributes = []string{"risk_band", "segment", "rfm_segment", "lifecycle_stage", "usage_tier"}

// Unscored is the attribute value of a user without a stored score at
// assignment time (e.g. listed in a user file).
const Unscored = "unscored"

// ErrAttribute is returned for an attribute name not in Attributes.
var ErrAttribute = errors.New("unknown attribute")

// Attribute returns the user's value of attr at assignment time (one of
// Attributes), Unscored for a user without a score or an empty value, and
// an error wrapping ErrAttribute for an unknown attr.
func (a *Assignment) Attribute(attr string) (string, error) {
	var v string
	switch attr {
	case "risk_band":
		v = a.RiskBand
	case "segment":
		v = a.Segment
	case "rfm_segment":
		v = a.RFMSegment
	case "lifecycle_stage":
		v = a.LifecycleStage
	case "usage_tier":
		v = a.UsageTier
	default:
		return "", fmt.Errorf("lift: attribute %q: %w: want one of %v", attr, ErrAttribute, Attributes)
	}
	if v == "" || !a.Scored {
		return Unscored, nil
	}
	return v, nil
}

// CheckAttribute returns an error wrapping ErrAttribute unless attr is one
// of Attributes.
func CheckAttribute(attr string) error {
	if !slices.Contains(Attributes, attr) {
		return fmt.Errorf("lift: attribute %q: %w: want one of %v", attr, ErrAttribute, Attributes)
	}
	return nil
}

// Outcome is what one assigned user did in the outcome window.
type Outcome struct {
	// Retained: any activity event in the window.
	Retained bool
	// Converted: a target event (with a non-negative amount) in the window.
	Converted bool
	// Revenue: the positive amounts of purchase events in the window
	// (gross; refunds are not subtracted).
	Revenue float64
}

// Window says which period and which data a Report's outcomes come from.
type Window struct {
	// Start and End bound the outcome period [Start, End): whole UTC days,
	// Start the first midnight at or after the experiment's start.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Days is the window length in days.
	Days int `json:"days"`
	// DataThrough is how far the outcome data reach: the latest event read
	// from files, or the server clock for stored states.
	DataThrough time.Time `json:"data_through"`
	// Complete is true when DataThrough is at or after End; otherwise the
	// results are interim.
	Complete bool `json:"complete"`
	// Source is "events" (files) or "states" (per-user states stored by
	// the server, updated by ingested events).
	Source string `json:"source"`
	// ModelVersion is the model version whose event classes (activity,
	// purchase and target events) define the outcomes.
	ModelVersion string `json:"model_version,omitempty"`
}

// MeasureOptions tunes Measure. The zero value measures retention and
// revenue, broken down by Breakdowns.
type MeasureOptions struct {
	// Conversion adds the conversion metric (the experiment has a target
	// event).
	Conversion bool
	// Breakdowns lists the attributes to break results down by (see
	// Attributes); nil means Breakdowns, an empty non-nil slice none.
	Breakdowns []string
	// Window, when not nil, is copied into the report.
	Window *Window
}

// MinBreakdownGroup is the least number of users each group of a
// breakdown segment needs to be reported (a mean needs two for its
// variance); smaller segments are listed in Report.Omitted.
const MinBreakdownGroup = 2

// groupTally accumulates the outcomes of one group.
type groupTally struct {
	retained, converted Proportion
	revenue             Moments
}

func (g *groupTally) add(o Outcome) {
	g.retained.Add(o.Retained)
	g.converted.Add(o.Converted)
	g.revenue.Add(o.Revenue)
}

// armTally holds both groups.
type armTally [2]groupTally // Treatment, Control

func (t *armTally) add(g Group, o Outcome) {
	if g == Control {
		t[1].add(o)
	} else {
		t[0].add(o)
	}
}

func (t *armTally) results(holdout float64, conversion bool) ([]Result, error) {
	tr, ct := &t[0], &t[1]
	var out []Result
	r, err := CompareProportions(MetricRetention, tr.retained, ct.retained, holdout)
	if err != nil {
		return nil, err
	}
	out = append(out, r)
	if conversion {
		if r, err = CompareProportions(MetricConversion, tr.converted, ct.converted, holdout); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if r, err = CompareMeans(MetricRevenue, tr.revenue, ct.revenue, holdout); err != nil {
		return nil, err
	}
	return append(out, r), nil
}

// Measure compares the outcomes of an experiment's groups: out[i] is the
// outcome of the user of as[i]. It reports retention, conversion (with
// MeasureOptions.Conversion) and revenue per user, each with the
// statistics of CompareProportions or CompareMeans against the configured
// exp.Holdout, overall and for every segment of each breakdown attribute
// (segments where a group has fewer than MinBreakdownGroup users are
// listed in Report.Omitted instead). Users are analysed in the group they
// were assigned to (intention to treat), whether or not an export reached
// them.
func Measure(exp *Experiment, as []Assignment, out []Outcome, opts *MeasureOptions) (*Report, error) {
	if len(as) != len(out) {
		panic(fmt.Sprintf("lift: measure: %d assignments, %d outcomes", len(as), len(out)))
	}
	var o MeasureOptions
	if opts != nil {
		o = *opts
	}
	if o.Breakdowns == nil {
		o.Breakdowns = Breakdowns
	}
	for _, b := range o.Breakdowns {
		if err := CheckAttribute(b); err != nil {
			return nil, err
		}
	}
	if !(exp.Holdout > 0 && exp.Holdout < 1) {
		return nil, fmt.Errorf("lift: measure %s: holdout %v: %w: want a value in (0, 1)", exp.Name, exp.Holdout, ErrShare)
	}
	var total armTally
	segs := make([]map[string]*armTally, len(o.Breakdowns))
	for j := range segs {
		segs[j] = map[string]*armTally{}
	}
	for i := range as {
		a := &as[i]
		total.add(a.Group, out[i])
		for j, b := range o.Breakdowns {
			v, _ := a.Attribute(b)
			t := segs[j][v]
			if t == nil {
				t = new(armTally)
				segs[j][v] = t
			}
			t.add(a.Group, out[i])
		}
	}
	metrics, err := total.results(exp.Holdout, o.Conversion)
	if err != nil {
		return nil, fmt.Errorf("lift: measure %s: %w", exp.Name, err)
	}
	rep := &Report{Experiment: exp.Name, Holdout: exp.Holdout, Metrics: metrics, Window: o.Window}
	for j, b := range o.Breakdowns {
		names := make([]string, 0, len(segs[j]))
		for v := range segs[j] {
			names = append(names, v)
		}
		slices.Sort(names)
		for _, v := range names {
			t := segs[j][v]
			if t[0].retained.N < MinBreakdownGroup || t[1].retained.N < MinBreakdownGroup {
				if rep.Omitted == nil {
					rep.Omitted = map[string][]string{}
				}
				rep.Omitted[b] = append(rep.Omitted[b], v)
				continue
			}
			rs, err := t.results(exp.Holdout, o.Conversion)
			if err != nil {
				return nil, fmt.Errorf("lift: measure %s: %s %s: %w", exp.Name, b, v, err)
			}
			if rep.Breakdowns == nil {
				rep.Breakdowns = map[string]map[string][]Result{}
			}
			if rep.Breakdowns[b] == nil {
				rep.Breakdowns[b] = map[string][]Result{}
			}
			rep.Breakdowns[b][v] = rs
		}
	}
	return rep, nil
}
