package lift

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the lift report of one experiment: one Result per metric and
// the same results per segment of each breakdown. The caller computes the
// results (grouping users by segment for breakdowns); Report only holds and
// renders them.
type Report struct {
	// Experiment is the experiment name.
	Experiment string `json:"experiment"`
	// Holdout is the configured control share.
	Holdout float64 `json:"holdout"`
	// Metrics holds one result per metric, in display order.
	Metrics []Result `json:"metrics"`
	// Breakdowns maps a breakdown name (e.g. "risk_band", "segment") to
	// its segments, each with one result per metric. nil means none.
	Breakdowns map[string]map[string][]Result `json:"breakdowns,omitempty"`
	// Omitted lists, per breakdown, the segments left out because a group
	// had fewer than MinBreakdownGroup users. nil means none.
	Omitted map[string][]string `json:"omitted,omitempty"`
	// Window, when not nil, says which period and data the outcomes come
	// from (set by Measure's caller).
	Window *Window `json:"window,omitempty"`
}

// SRMWarning reports whether any overall result has a sample ratio
// mismatch.
func (rep *Report) SRMWarning() bool {
	return slices.ContainsFunc(rep.Metrics, func(r Result) bool { return r.SRMWarning })
}

// WriteText writes the report as readable text: a sentence per metric
// (see Result.Sentence) with each group's value and interval, then the
// breakdowns in sorted order.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Experiment %s (holdout %s)\n", rep.Experiment, percent(rep.Holdout))
	if w := rep.Window; w != nil {
		fmt.Fprintf(&b, "Outcomes from %s to %s (%d days, from %s)\n", w.Start.UTC().Format(time.DateOnly),
			w.End.UTC().Add(-time.Nanosecond).Format(time.DateOnly), w.Days, w.Source)
		if !w.Complete {
			fmt.Fprintf(&b, "NOTE: the window is not over (the data reach %s): these are interim results.\n",
				w.DataThrough.UTC().Format("2006-01-02 15:04Z"))
		}
	}
	if rep.SRMWarning() {
		b.WriteString("WARNING: sample ratio mismatch: the group sizes do not match the configured holdout; assignment or logging is broken and the results below cannot be trusted.\n")
	}
	writeResults(&b, rep.Metrics, "  ")
	names := make([]string, 0, len(rep.Breakdowns))
	for name := range rep.Breakdowns {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		segs := rep.Breakdowns[name]
		keys := make([]string, 0, len(segs))
		for k := range segs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "By %s:\n", name)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s:\n", k)
			writeResults(&b, segs[k], "    ")
		}
	}
	omitted := make([]string, 0, len(rep.Omitted))
	for name := range rep.Omitted {
		omitted = append(omitted, name)
	}
	slices.Sort(omitted)
	for _, name := range omitted {
		fmt.Fprintf(&b, "Not broken down by %s (a group has fewer than %d users): %s\n", name, MinBreakdownGroup,
			strings.Join(rep.Omitted[name], ", "))
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("lift: write report: %w", err)
	}
	return nil
}

func writeResults(b *strings.Builder, rs []Result, indent string) {
	for _, r := range rs {
		fmt.Fprintf(b, "%s%s\n", indent, r.Sentence())
		fmt.Fprintf(b, "%s  treatment %s, control %s\n", indent, r.groupText(r.Treatment), r.groupText(r.Control))
	}
}

func (r Result) groupText(g GroupStats) string {
	if r.Kind == KindMean {
		return fmt.Sprintf("%s users: %.2f per user (95%% CI %.2f to %.2f)",
			thousands(float64(g.N)), g.Mean, g.CI95.Lo, g.CI95.Hi)
	}
	return fmt.Sprintf("%s users: %s (95%% CI %s to %s)",
		thousands(float64(g.N)), percent(g.Mean), percent(g.CI95.Lo), percent(g.CI95.Hi))
}

// Sentence describes the result in one line of plain English, e.g.
//
//	Retention +3.1 points (95% CI +1.2 to +5.0), p = 0.002: the campaign kept about 310 of 10,000 targeted users.
//
// The user count is the absolute lift times the treatment group size. A
// result that is not Significant reads "no detectable effect" with the
// range the data allow; a negative effect says so ("lost", "fewer",
// "less"); a sample ratio mismatch appends a warning.
func (r Result) Sentence() string {
	var b strings.Builder
	label := metricLabel(r.Metric)
	targeted := thousands(float64(r.Treatment.N))
	users := thousands(math.Abs(r.AbsLift) * float64(r.Treatment.N))
	up := r.AbsLift > 0
	if r.Kind == KindMean {
		if !strings.HasSuffix(strings.ToLower(label), "per user") {
			label += " per user"
		}
		fmt.Fprintf(&b, "%s %s (95%% CI %s to %s), %s: ", label,
			signed(r.AbsLift, 2), signed(r.AbsLiftCI95.Lo, 2), signed(r.AbsLiftCI95.Hi, 2), pText(r.PValue))
		switch {
		case !r.Significant():
			fmt.Fprintf(&b, "no detectable effect; the data fit anything from %s to %s per user.",
				signed(r.AbsLiftCI95.Lo, 2), signed(r.AbsLiftCI95.Hi, 2))
		case up:
			fmt.Fprintf(&b, "about %s more in total across %s targeted users.", users, targeted)
		default:
			fmt.Fprintf(&b, "about %s less in total across %s targeted users.", users, targeted)
		}
	} else {
		fmt.Fprintf(&b, "%s %s points (95%% CI %s to %s), %s: ", label,
			signed(100*r.AbsLift, 1), signed(100*r.AbsLiftCI95.Lo, 1), signed(100*r.AbsLiftCI95.Hi, 1), pText(r.PValue))
		more := "more"
		if !up {
			more = "fewer"
		}
		switch {
		case !r.Significant():
			fmt.Fprintf(&b, "no detectable effect; the data fit anything from %s to %s points.",
				signed(100*r.AbsLiftCI95.Lo, 1), signed(100*r.AbsLiftCI95.Hi, 1))
		case r.Metric == "retention" && up:
			fmt.Fprintf(&b, "the campaign kept about %s of %s targeted users.", users, targeted)
		case r.Metric == "retention":
			fmt.Fprintf(&b, "the campaign lost about %s of %s targeted users.", users, targeted)
		case r.Metric == "conversion":
			fmt.Fprintf(&b, "the campaign converted about %s %s of %s targeted users.", users, more, targeted)
		default:
			fmt.Fprintf(&b, "about %s %s of %s targeted users than without the campaign.", users, more, targeted)
		}
	}
	if r.SRMWarning {
		fmt.Fprintf(&b, " WARNING: sample ratio mismatch (%s): the groups are not split as configured, so this comparison cannot be trusted.",
			strings.Replace(pText(r.SRMPValue), "p", "SRM p", 1))
	}
	return b.String()
}

// metricLabel turns "revenue_per_user" into "Revenue per user".
func metricLabel(metric string) string {
	s := strings.ReplaceAll(metric, "_", " ")
	if s == "" {
		return "Metric"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// signed formats x with a leading sign and the given decimals; a value
// that rounds to zero is written without a sign.
func signed(x float64, decimals int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', decimals, 64)
	if strings.Trim(s, "0.") == "" {
		return s
	}
	if x < 0 {
		return "-" + s
	}
	return "+" + s
}

// pText formats a p-value as "p = 0.002", "p = 0.41" or "p < 0.001".
func pText(p float64) string {
	switch {
	case math.IsNaN(p):
		return "p = n/a"
	case p < 0.001:
		return "p < 0.001"
	case p < 0.1:
		return "p = " + strconv.FormatFloat(p, 'f', 3, 64)
	}
	return "p = " + strconv.FormatFloat(p, 'f', 2, 64)
}

// percent formats a fraction as a percentage with one decimal.
func percent(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
}

// thousands rounds x to an integer and writes it with comma separators.
func thousands(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	s := strconv.FormatFloat(math.Abs(math.Round(x)), 'f', 0, 64)
	var b strings.Builder
	if x <= -0.5 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
