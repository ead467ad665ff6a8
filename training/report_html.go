package training

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/internal/chart"
	"github.com/lapse-dev/lapse/model"
)

// Colours of the report's series: the model and its baselines keep the same
// colour on every chart.
var (
	rptModelColor   = chart.Palette[0]
	rptRecencyColor = chart.Palette[1]
	rptRFMColor     = chart.Palette[2]
)

// WriteHTML writes r as one self-contained HTML page (inline SVG and CSS, no
// script, nothing loaded): a headline box, ROC and gains curves of the
// model against its baselines, the calibration plot and decile lift of each
// holdout, the candidate models, feature importance, the backtest, the
// customer-value fits with the P(alive) and CLV histograms and the P(alive)
// ablation, segment sizes with churn rates, transition matrices and
// overlap, the fitted rules, and the data summary with its checks. The same
// report gives the same bytes.
func (r *Report) WriteHTML(w io.Writer) error {
	if r == nil {
		return fmt.Errorf("training: write report html: nil report: %w", ErrReport)
	}
	p := &chart.Page{
		Title:    "lapse training report",
		Subtitle: rptSubtitle(r),
		Footer:   rptFooter(r),
	}
	p.Sections = append(p.Sections, chart.Section{Title: "Summary", Blocks: []chart.Block{rptHeadline(r), rptCutoffTable(r)}})
	for _, t := range []struct {
		name     string
		oot, hou *TaskEval
		choice   *ModelChoice
		imp      *FeatureImportance
	}{
		{"churn", r.Holdout.OutOfTime.Churn, r.Holdout.HeldOutUsers.Churn, r.Models.Churn, r.Importance.Churn},
		{"propensity", r.Holdout.OutOfTime.Propensity, r.Holdout.HeldOutUsers.Propensity, r.Models.Propensity, r.Importance.Propensity},
	} {
		title := "Churn model"
		if t.name == "propensity" {
			title = "Propensity model"
			if r.TargetEvent != "" {
				title += " (" + r.TargetEvent + ")"
			}
			if t.oot == nil && t.hou == nil && t.choice == nil {
				p.Sections = append(p.Sections, chart.Section{Title: title, Blocks: []chart.Block{
					chart.Text("No propensity model: the data has no target event."),
				}})
				continue
			}
		}
		p.Sections = append(p.Sections, chart.Section{Title: title, Blocks: rptTaskBlocks(t.name, t.oot, t.hou, t.choice, t.imp, r)})
	}
	p.Sections = append(p.Sections, chart.Section{Title: "Backtest", Blocks: rptBacktest(r)})
	p.Sections = append(p.Sections, chart.Section{Title: "Customer value (BG/NBD)", Blocks: rptValue(r)})
	p.Sections = append(p.Sections, chart.Section{Title: "Segments", Blocks: rptSegments(r)})
	p.Sections = append(p.Sections, chart.Section{Title: "Segment rules", Blocks: rptRules(r)})
	p.Sections = append(p.Sections, chart.Section{Title: "Data", Blocks: rptData(r)})
	p.Sections = append(p.Sections, chart.Section{Title: "Run", Blocks: rptRun(r)})
	if err := p.WriteHTML(w); err != nil {
		return fmt.Errorf("training: write report html: %w", err)
	}
	return nil
}

// Number formats of the report (fixed precision, so output is stable).

func rptF3(v float64) string { return rptFixed(v, 3) }

func rptFixed(v float64, d int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// rptPct formats a share as a percentage with one decimal.
func rptPct(v float64) string { return rptFixed(v*100, 1) + "%" }

// rptPctPtr formats an optional share; nil is "n/a".
func rptPctPtr(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return rptPct(*v)
}

// rptSigned formats a difference with its sign.
func rptSigned(v float64, d int) string {
	s := rptFixed(v, d)
	if v > 0 && s != rptFixed(0, d) {
		return "+" + s
	}
	return s
}

// rptInt formats a count with thousands separators.
func rptInt[T int | int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rptLift formats a lift as "3.1×".
func rptLift(v float64) string { return rptFixed(v, 1) + "×" }

func rptDate(t time.Time) string {
	if t.IsZero() {
		return "n/a"
	}
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func rptSubtitle(r *Report) string {
	parts := []string{"as of " + rptDate(r.AsOf), fmt.Sprintf("horizon %d days", r.HorizonDays),
		rptInt(r.NUsers) + " users scored"}
	if r.ModelVersion != "" {
		parts = append(parts, "model "+r.ModelVersion)
	}
	parts = append(parts, fmt.Sprintf("seed %d", r.Seed))
	return strings.Join(parts, " · ")
}

func rptFooter(r *Report) string {
	s := fmt.Sprintf("report.json schema %d", max(r.SchemaVersion, ReportSchemaVersion))
	if !r.CreatedAt.IsZero() {
		s += " · created " + r.CreatedAt.UTC().Format(time.RFC3339)
	}
	return s + " · written by lapse train"
}

// rptHeadlineLine is the one-sentence verdict for one task, e.g. "churn
// model: AUC 0.81 out-of-time vs 0.71 for recency alone; top decile catches
// 3.1× the base rate". ok is false when the model does not beat recency.
func rptHeadlineLine(task string, te *TaskEval) (line string, ok bool) {
	if te == nil {
		return task + " model: not evaluated", false
	}
	line = fmt.Sprintf("%s model: AUC %s out-of-time vs %s for recency alone; top decile catches %s the base rate",
		task, rptFixed(te.AUC, 2), rptFixed(te.Baselines.Recency.AUC, 2), rptLift(te.TopDecileLift))
	return line, te.AUC > te.Baselines.Recency.AUC
}

func rptHeadline(r *Report) chart.Block {
	var h chart.Headline
	line, ok := rptHeadlineLine("churn", r.Holdout.OutOfTime.Churn)
	h.Lines = append(h.Lines, line)
	h.Warn = !ok
	if te := r.Holdout.OutOfTime.Churn; te != nil {
		h.Lines = append(h.Lines, fmt.Sprintf("Base rate %s churn; log loss %s vs %s for the base rate alone (%s of it removed); RFM score alone reaches AUC %s.",
			rptPct(te.BaseRate), rptF3(te.LogLoss), rptF3(te.Baselines.BaseRate.LogLoss),
			rptPct(te.Baselines.BaseRate.Skill), rptFixed(te.Baselines.RFM.AUC, 2)))
		if !ok {
			h.Lines = append(h.Lines, "Warning: the churn model does not beat recency alone on the out-of-time holdout.")
		}
	}
	if te := r.Holdout.OutOfTime.Propensity; te != nil {
		line, pok := rptHeadlineLine("propensity", te)
		h.Lines = append(h.Lines, line)
		h.Warn = h.Warn || !pok
	}
	if hu := r.Holdout.HeldOutUsers.Churn; hu != nil {
		h.Lines = append(h.Lines, fmt.Sprintf("Held-out users: churn AUC %s, log loss %s.", rptF3(hu.AUC), rptF3(hu.LogLoss)))
	}
	return h
}

func rptCutoffTable(r *Report) chart.Block {
	t := chart.Table{Caption: "Snapshots", Header: []string{"cutoff", "role", "eligible users", "churn rate", "target rate"}}
	for _, c := range r.Cutoffs {
		t.Rows = append(t.Rows, []string{rptDate(c.Date), strings.ReplaceAll(c.Role, "_", " "), rptInt(c.Users),
			rptPctPtr(c.ChurnRate), rptPctPtr(c.PropensityRate)})
	}
	return t
}

func rptCurve(pts []CurvePoint) (x, y []float64) {
	x, y = make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		x[i], y[i] = p.X, p.Y
	}
	return x, y
}

// rptCurves draws the ROC and gains charts of te against its baselines.
func rptCurves(task, holdout string, te *TaskEval) chart.Figures {
	series := func(gains bool) []chart.Series {
		var out []chart.Series
		add := func(name string, pts []CurvePoint, auc float64, color string, dashed bool) {
			x, y := rptCurve(pts)
			note := "AUC " + rptF3(auc)
			if gains {
				note = ""
			}
			out = append(out, chart.Series{Name: name, X: x, Y: y, Color: color, Dashed: dashed, Note: note})
		}
		if gains {
			add("model", te.Gains, te.AUC, rptModelColor, false)
			add("recency", te.Baselines.Recency.Gains, te.Baselines.Recency.AUC, rptRecencyColor, true)
			add("RFM", te.Baselines.RFM.Gains, te.Baselines.RFM.AUC, rptRFMColor, true)
		} else {
			add("model", te.ROC, te.AUC, rptModelColor, false)
			add("recency", te.Baselines.Recency.ROC, te.Baselines.Recency.AUC, rptRecencyColor, true)
			add("RFM", te.Baselines.RFM.ROC, te.Baselines.RFM.AUC, rptRFMColor, true)
		}
		return out
	}
	unit := rptPositives(task)
	return chart.Figures{
		{Chart: &chart.LineChart{
			Title:  fmt.Sprintf("ROC curve, %s (%s)", task, holdout),
			Desc:   fmt.Sprintf("True positive rate against false positive rate for the %s model and the recency and RFM baselines.", task),
			X:      chart.Axis{Label: "false positive rate", Min: 0, Max: 1},
			Y:      chart.Axis{Label: "true positive rate", Min: 0, Max: 1},
			Series: series(false), Diagonal: true, DiagonalLabel: "chance", Width: 560, Height: 420,
		}, Caption: fmt.Sprintf("AUC %s; recency %s, RFM %s.", rptF3(te.AUC), rptF3(te.Baselines.Recency.AUC), rptF3(te.Baselines.RFM.AUC))},
		{Chart: &chart.LineChart{
			Title:  fmt.Sprintf("Cumulative gains, %s (%s)", task, holdout),
			Desc:   fmt.Sprintf("Share of %s found against share of users targeted, highest scores first.", unit),
			X:      chart.Axis{Label: "share of users targeted", Min: 0, Max: 1, Percent: true},
			Y:      chart.Axis{Label: "share of " + unit + " found", Min: 0, Max: 1, Percent: true},
			Series: series(true), Diagonal: true, DiagonalLabel: "random targeting", Width: 560, Height: 420,
		}, Caption: fmt.Sprintf("Targeting the top 10%% finds %s of all %s.", rptPct(rptTop(te, 0.10).Recall), unit)},
	}
}

func rptPositives(task string) string {
	if task == "churn" {
		return "churners"
	}
	return "buyers"
}

// rptTop returns the TopK at fraction f (zero value when absent).
func rptTop(te *TaskEval, f float64) TopK {
	for _, t := range te.Top {
		if math.Abs(t.Fraction-f) < 1e-9 {
			return t
		}
	}
	return TopK{}
}

func rptCalibration(task, holdout string, te *TaskEval) chart.Figures {
	bins := make([]chart.CalBin, len(te.Calibration))
	for i, b := range te.Calibration {
		bins[i] = chart.CalBin{Lower: b.Lower, Upper: b.Upper, Predicted: b.MeanPredicted, Observed: b.ObservedRate, N: b.N}
	}
	cats := make([]string, len(te.Deciles))
	lift := make([]float64, len(te.Deciles))
	for i, d := range te.Deciles {
		cats[i] = strconv.Itoa(d.Decile)
		lift[i] = d.Lift
	}
	return chart.Figures{
		{Chart: &chart.CalibrationPlot{
			Title: fmt.Sprintf("Calibration, %s (%s)", task, holdout),
			Desc:  "Observed rate against mean predicted probability in ten equal-width bins; the strip shows the rows per bin.",
			Bins:  bins, Width: 560,
		}, Caption: fmt.Sprintf("ECE %s (mean |observed − predicted| weighted by rows).", rptF3(te.ECE))},
		{Chart: &chart.BarChart{
			Title:      fmt.Sprintf("Lift by decile, %s (%s)", task, holdout),
			Desc:       "Positive rate in each score decile divided by the overall rate; decile 1 has the highest scores.",
			X:          chart.Axis{Label: "score decile (1 = highest)"},
			Y:          chart.Axis{Label: "lift over base rate"},
			Categories: cats,
			Series:     []chart.BarSeries{{Name: "lift", Values: lift, Color: rptModelColor}},
			Ref:        &chart.RefLine{Value: 1, Label: "base rate"},
			Width:      560, Height: 420,
		}, Caption: fmt.Sprintf("Top decile lift %s.", rptLift(te.TopDecileLift))},
	}
}

func rptMetricsTable(task string, oot, hou *TaskEval) chart.Table {
	t := chart.Table{Caption: "Holdout metrics, " + task, Header: []string{"metric", "out-of-time", "held-out users"}}
	row := func(name string, f func(*TaskEval) string) {
		r := []string{name}
		for _, te := range []*TaskEval{oot, hou} {
			if te == nil {
				r = append(r, "n/a")
			} else {
				r = append(r, f(te))
			}
		}
		t.Rows = append(t.Rows, r)
	}
	row("rows", func(te *TaskEval) string { return rptInt(te.N) })
	row("base rate", func(te *TaskEval) string { return rptPct(te.BaseRate) })
	row("model", func(te *TaskEval) string { return te.Model })
	row("ROC AUC", func(te *TaskEval) string { return rptF3(te.AUC) })
	row("  recency AUC (model gain)", func(te *TaskEval) string {
		return rptF3(te.Baselines.Recency.AUC) + " (" + rptSigned(te.Baselines.Recency.AUCGain, 3) + ")"
	})
	row("  RFM AUC (model gain)", func(te *TaskEval) string {
		return rptF3(te.Baselines.RFM.AUC) + " (" + rptSigned(te.Baselines.RFM.AUCGain, 3) + ")"
	})
	row("PR AUC", func(te *TaskEval) string { return rptF3(te.PRAUC) })
	row("log loss", func(te *TaskEval) string { return rptF3(te.LogLoss) })
	row("  base-rate log loss (skill)", func(te *TaskEval) string {
		return rptF3(te.Baselines.BaseRate.LogLoss) + " (" + rptPct(te.Baselines.BaseRate.Skill) + ")"
	})
	row("Brier score", func(te *TaskEval) string { return rptF3(te.Brier) })
	row("ECE", func(te *TaskEval) string { return rptF3(te.ECE) })
	row("top decile lift", func(te *TaskEval) string { return rptLift(te.TopDecileLift) })
	for _, f := range TopFractions {
		pct := rptFixed(f*100, 0) + "%"
		row("precision at top "+pct, func(te *TaskEval) string { return rptPct(rptTop(te, f).Precision) })
		row("recall at top "+pct, func(te *TaskEval) string { return rptPct(rptTop(te, f).Recall) })
	}
	return t
}

func rptDecileTable(task string, te *TaskEval) chart.Table {
	t := chart.Table{Caption: "Deciles, " + task + " (out-of-time)",
		Header: []string{"decile", "users", rptPositives(task), "rate", "lift", "cumulative gains", "score range"}}
	for _, d := range te.Deciles {
		t.Rows = append(t.Rows, []string{strconv.Itoa(d.Decile), rptInt(d.Users), rptInt(d.Positives), rptPct(d.Rate),
			rptLift(d.Lift), rptFixed(d.CumGainsPct, 1) + "%", rptF3(d.MinScore) + "–" + rptF3(d.MaxScore)})
	}
	return t
}

func rptCandidates(c *ModelChoice) []chart.Block {
	if c == nil {
		return nil
	}
	t := chart.Table{Caption: "Candidate models", Header: []string{"model", "chosen", "validation log loss", "validation AUC", "rows fitted", "rows validated", "parameters"}}
	for _, cd := range c.Candidates {
		chosen := ""
		if cd.Kind == c.Chosen {
			chosen = "✓"
		}
		keys := make([]string, 0, len(cd.Params))
		for k := range cd.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, k+"="+strconv.FormatFloat(cd.Params[k], 'g', 4, 64))
		}
		t.Rows = append(t.Rows, []string{cd.Kind, chosen, rptFixed(cd.ValidLogLoss, 4), rptF3(cd.ValidAUC),
			rptInt(cd.TrainRows), rptInt(cd.ValidRows), strings.Join(ps, ", ")})
	}
	text := "Chosen: " + c.Chosen
	if c.Reason != "" {
		text += ", " + c.Reason
	}
	if c.Calibration != "" {
		text += "; calibration: " + c.Calibration
	}
	return []chart.Block{chart.Text(text + "."), t}
}

func rptImportance(task string, fi *FeatureImportance) []chart.Block {
	if fi == nil {
		return nil
	}
	bars := make([]chart.HBar, len(fi.Features))
	for i, f := range fi.Features {
		bars[i] = chart.HBar{Label: f.Feature, Value: f.Importance}
	}
	method := "share of total split gain"
	if fi.Method == ImportanceCoef {
		method = "share of |standardised coefficient|"
	}
	return []chart.Block{chart.Figure{Chart: &chart.HBarChart{
		Title: fmt.Sprintf("Feature importance, %s (%s)", task, fi.Model),
		Desc:  fmt.Sprintf("The %d most important features of the chosen %s model.", len(bars), task),
		X:     chart.Axis{Label: method, Percent: true},
		Bars:  bars, Color: rptModelColor, Width: 720,
	}}}
}

func rptTaskBlocks(task string, oot, hou *TaskEval, c *ModelChoice, fi *FeatureImportance, r *Report) []chart.Block {
	var b []chart.Block
	if oot != nil {
		desc := r.Holdout.OutOfTime.Description
		if desc != "" {
			b = append(b, chart.Text("Out-of-time holdout: "+desc+"."))
		}
		b = append(b, rptCurves(task, "out-of-time", oot), rptCalibration(task, "out-of-time", oot))
	} else {
		b = append(b, chart.Text("No out-of-time evaluation."))
	}
	b = append(b, rptMetricsTable(task, oot, hou))
	if hou != nil && r.Holdout.HeldOutUsers.Description != "" {
		b = append(b, chart.Text("Held-out users: "+r.Holdout.HeldOutUsers.Description+"."))
	}
	if oot != nil {
		b = append(b, rptDecileTable(task, oot))
	}
	b = append(b, rptCandidates(c)...)
	b = append(b, rptImportance(task, fi)...)
	return b
}

func rptBacktest(r *Report) []chart.Block {
	if len(r.Backtest) == 0 {
		return []chart.Block{chart.Text("No backtest: a single snapshot.")}
	}
	t := chart.Table{Caption: "Metrics at each snapshot (models fitted on earlier snapshots)",
		Header: []string{"cutoff", "rows", "churn rate", "AUC", "recency AUC", "PR AUC", "log loss", "Brier", "ECE", "top decile lift", "target AUC", "target log loss"}}
	var cats []string
	var auc, rec []float64
	lo := 0.5
	for _, p := range r.Backtest {
		row := []string{rptDate(p.Cutoff)}
		if m := p.Churn; m != nil {
			row = append(row, rptInt(m.N), rptPct(m.BaseRate), rptF3(m.AUC), rptF3(m.RecencyAUC), rptF3(m.PRAUC),
				rptF3(m.LogLoss), rptF3(m.Brier), rptF3(m.ECE), rptLift(m.TopDecileLift))
			auc, rec = append(auc, m.AUC), append(rec, m.RecencyAUC)
			lo = min(lo, m.AUC, m.RecencyAUC)
		} else {
			row = append(row, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a")
			auc, rec = append(auc, math.NaN()), append(rec, math.NaN())
		}
		if m := p.Propensity; m != nil {
			row = append(row, rptF3(m.AUC), rptF3(m.LogLoss))
		} else {
			row = append(row, "n/a", "n/a")
		}
		t.Rows = append(t.Rows, row)
		cats = append(cats, rptDate(p.Cutoff))
	}
	fig := chart.Figure{Chart: &chart.BarChart{
		Title:      "Churn AUC by snapshot",
		Desc:       "Out-of-time ROC AUC of the churn model and of recency alone at each snapshot.",
		X:          chart.Axis{Label: "snapshot"},
		Y:          chart.Axis{Label: "ROC AUC", Min: math.Floor(lo*10) / 10, Max: 1},
		Categories: cats,
		Series: []chart.BarSeries{
			{Name: "model", Values: auc, Color: rptModelColor},
			{Name: "recency", Values: rec, Color: rptRecencyColor},
		},
		Width: 720, Height: 360,
	}, Caption: "Stable bars mean the model's quality does not depend on the period it is tested on."}
	return []chart.Block{fig, t}
}

// rptSegmentOrder lists the families with their display titles.
func rptFamilyTitle(f string) string {
	switch f {
	case FamilyCluster:
		return "behavioural cluster"
	case FamilyRFM:
		return "RFM segment"
	case FamilyLifecycle:
		return "lifecycle stage"
	case FamilyUsageTier:
		return "usage tier"
	case FamilyRiskBand:
		return "risk band"
	}
	return f
}

func rptSegments(r *Report) []chart.Block {
	fams := r.Segments.Families()
	if len(fams) == 0 {
		return []chart.Block{chart.Text("No segments were computed.")}
	}
	var out []chart.Block
	summary := chart.Table{Caption: "Segment families", Header: []string{"family", "snapshot", "segments", "users", "stability (latest)", "users in both snapshots"}}
	for _, f := range fams {
		n := 0
		for _, s := range f.Segments {
			n += s.Users
		}
		stab, both := "n/a", "n/a"
		if k := len(f.Stability); k > 0 {
			stab, both = rptPct(f.Stability[k-1].Same), rptInt(f.Stability[k-1].Users)
		}
		summary.Rows = append(summary.Rows, []string{rptFamilyTitle(f.Family), rptDate(f.Snapshot), strconv.Itoa(len(f.Segments)), rptInt(n), stab, both})
	}
	out = append(out, chart.Text("Sizes and observed churn are measured at the out-of-time snapshot, whose outcomes are known. Stability is the share of users in the same segment at two consecutive snapshots."), summary)
	for _, f := range fams {
		title := rptFamilyTitle(f.Family)
		bars := make([]chart.HBar, len(f.Segments))
		t := chart.Table{Caption: title, Header: []string{"segment", "users", "share", "observed churn", "mean predicted churn"}}
		for i, s := range f.Segments {
			note := "churn " + rptPctPtr(s.ChurnRate)
			bars[i] = chart.HBar{Label: s.Name, Value: s.Share, Note: note + " · " + rptInt(s.Users)}
			mp := "n/a"
			if s.MeanChurnProbability != nil {
				mp = rptPct(*s.MeanChurnProbability)
			}
			t.Rows = append(t.Rows, []string{s.Name, rptInt(s.Users), rptPct(s.Share), rptPctPtr(s.ChurnRate), mp})
		}
		figs := chart.Figures{{Chart: &chart.HBarChart{
			Title: "Segment sizes: " + title,
			Desc:  "Share of users in each segment, with its observed churn rate and size.",
			X:     chart.Axis{Label: "share of users", Percent: true},
			Bars:  bars, Color: rptModelColor, Width: 560,
		}}}
		if tr := f.Transitions; tr != nil {
			figs = append(figs, rptHeatmap(tr, "Transitions: "+title,
				fmt.Sprintf("segment on %s", rptDate(tr.From)), fmt.Sprintf("segment on %s", rptDate(tr.To)), true))
		}
		out = append(out, figs, t)
		if len(f.Stability) > 0 {
			st := chart.Table{Caption: "Stability: " + title, Header: []string{"from", "to", "users in both", "same segment"}}
			for _, s := range f.Stability {
				st.Rows = append(st.Rows, []string{rptDate(s.From), rptDate(s.To), rptInt(s.Users), rptPct(s.Same)})
			}
			out = append(out, st)
		}
	}
	if len(r.Segments.Overlap) > 0 {
		var figs chart.Figures
		for i := range r.Segments.Overlap {
			c := &r.Segments.Overlap[i]
			figs = append(figs, rptHeatmap(c, "Overlap: "+rptFamilyTitle(c.RowFamily)+" × "+rptFamilyTitle(c.ColFamily),
				rptFamilyTitle(c.RowFamily), rptFamilyTitle(c.ColFamily), false))
		}
		out = append(out, chart.Text("Overlap between families: cells count users in both segments, coloured by the share of the row. Cramér's V is 0 when the families are unrelated and 1 when one determines the other."), figs)
	}
	if len(r.Segments.ClusterProfiles) > 0 {
		out = append(out, rptProfiles(r.Segments.ClusterProfiles))
	}
	return out
}

// rptHeatmap draws a contingency table coloured by row share; cells read
// "count (row share)".
func rptHeatmap(c *Contingency, title, rowTitle, colTitle string, transition bool) chart.Figure {
	vals := make([][]float64, len(c.Rows))
	cells := make([][]string, len(c.Rows))
	for i := range c.Rows {
		sum := 0
		for _, v := range c.Counts[i] {
			sum += v
		}
		vals[i] = make([]float64, len(c.Cols))
		cells[i] = make([]string, len(c.Cols))
		for j, v := range c.Counts[i] {
			share := math.NaN()
			if sum > 0 {
				share = float64(v) / float64(sum)
			}
			vals[i][j] = share
			cells[i][j] = rptInt(v)
			if sum > 0 {
				cells[i][j] += " (" + rptFixed(share*100, 0) + "%)"
			}
		}
	}
	caption := fmt.Sprintf("%s users; Cramér's V %s.", rptInt(c.Users), rptFixed(c.CramersV, 2))
	if transition {
		caption = fmt.Sprintf("%s users in both snapshots; %s stayed in the same segment.", rptInt(c.Users), rptPct(c.Diagonal))
	}
	width := max(560, 150+90*len(c.Cols))
	return chart.Figure{Chart: &chart.Heatmap{
		Title: title, Desc: "Counts of users by row and column segment; colour is the share of the row.",
		RowTitle: rowTitle, ColTitle: colTitle, Rows: c.Rows, Cols: c.Cols,
		Values: vals, Cells: cells, Percent: true, Width: min(width, 1200),
	}, Caption: caption}
}

func rptProfiles(ps []model.ClusterProfile) chart.Table {
	feats := map[string]bool{}
	for _, p := range ps {
		for f := range p.Means {
			feats[f] = true
		}
	}
	names := make([]string, 0, len(feats))
	for f := range feats {
		names = append(names, f)
	}
	slices.Sort(names)
	t := chart.Table{Caption: "Behavioural cluster profiles (mean in raw units, z-score in brackets)", Header: append([]string{"cluster", "share"}, names...)}
	for _, p := range ps {
		row := []string{p.Name, rptPct(p.Share)}
		for _, f := range names {
			m, ok := p.Means[f]
			if !ok {
				row = append(row, "n/a")
				continue
			}
			cell := chart.FormatValue(m, false)
			if z, ok := p.Z[f]; ok {
				cell += " (" + rptSigned(z, 1) + ")"
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func rptRules(r *Report) []chart.Block {
	ru := r.Rules
	band := chart.Table{Caption: "Risk bands (calibrated churn probability)", Header: []string{"band", "from", "to"},
		Rows: [][]string{
			{model.BandHigh, rptPct(ru.RiskBands.High), "100.0%"},
			{model.BandMedium, rptPct(ru.RiskBands.Medium), rptPct(ru.RiskBands.High)},
			{model.BandLow, "0.0%", rptPct(ru.RiskBands.Medium)},
		}}
	l := ru.Lifecycle
	life := chart.Table{Caption: "Lifecycle thresholds (days)", Header: []string{"stage", "rule"},
		Rows: [][]string{
			{model.StageNew, fmt.Sprintf("active in the last %s days and first seen at most %s days ago", rptFixed(l.ActiveDays, 1), rptFixed(l.NewDays, 1))},
			{model.StageReactivated, fmt.Sprintf("active in the last %s days after a gap of at least %s days", rptFixed(l.ActiveDays, 1), rptFixed(l.ReactivatedGapDays, 1))},
			{model.StageActive, fmt.Sprintf("active in the last %s days", rptFixed(l.ActiveDays, 1))},
			{model.StageAtRisk, fmt.Sprintf("last active %s to %s days ago", rptFixed(l.ActiveDays, 1), rptFixed(l.AtRiskDays, 1))},
			{model.StageDormant, fmt.Sprintf("last active %s to %s days ago", rptFixed(l.AtRiskDays, 1), rptFixed(l.DormantDays, 1))},
			{model.StageChurned, fmt.Sprintf("last active more than %s days ago", rptFixed(l.DormantDays, 1))},
		}}
	edges := func(e [4]float64) []string {
		out := make([]string, 4)
		for i, v := range e {
			out[i] = chart.FormatValue(v, false)
		}
		return out
	}
	rfm := chart.Table{Caption: "RFM quintile edges (20th, 40th, 60th, 80th percentiles)", Header: []string{"score", "feature", "p20", "p40", "p60", "p80"},
		Rows: [][]string{
			append([]string{"recency (lower is better)", ru.RFM.RecencyFeature}, edges(ru.RFM.Recency)...),
			append([]string{"frequency", ru.RFM.FrequencyFeature}, edges(ru.RFM.Frequency)...),
			append([]string{"monetary", ru.RFM.MonetaryFeature}, edges(ru.RFM.Monetary)...),
		}}
	ti := ru.UsageTiers
	tier := chart.Table{Caption: "Usage tiers (" + ti.Feature + ")", Header: []string{"tier", "rule"},
		Rows: [][]string{
			{model.TierPower, "at least " + chart.FormatValue(ti.PowerAt, false)},
			{model.TierRegular, "at least " + chart.FormatValue(ti.RegularAt, false)},
			{model.TierLight, "above 0"},
			{model.TierExUser, "0"},
		}}
	return []chart.Block{band, life, rfm, tier}
}

func rptData(r *Report) []chart.Block {
	d := r.Data
	badShare := 0.0
	if d.Rows > 0 {
		badShare = float64(d.BadRows) / float64(d.Rows)
	}
	sum := chart.Table{Caption: "Input", Header: []string{"what", "value"}, Rows: [][]string{
		{"files", strings.Join(d.Files, ", ")},
		{"rows read", rptInt(d.Rows)},
		{"bad rows", rptInt(d.BadRows) + " (" + rptFixed(badShare*100, 2) + "%)"},
		{"duplicates dropped", rptInt(d.DuplicatesDropped)},
		{"events", rptInt(d.Events)},
		{"users", rptInt(d.Users)},
		{"first event", rptDate(d.FirstEvent)},
		{"last event", rptDate(d.LastEvent)},
		{"events at or after as-of (labels only)", rptInt(d.AfterAsOf)},
		{"refunds", rptInt(d.Refunds)},
	}}
	out := []chart.Block{sum}
	if len(d.BadRowsByReason) > 0 {
		t := chart.Table{Caption: "Bad rows by reason", Header: []string{"reason", "rows"}}
		for _, k := range rptSortedKeys(d.BadRowsByReason) {
			t.Rows = append(t.Rows, []string{k, rptInt(d.BadRowsByReason[k])})
		}
		out = append(out, t)
	}
	if len(d.EventTypes) > 0 {
		keys := rptSortedKeys(d.EventTypes)
		slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(d.EventTypes[b], d.EventTypes[a]) })
		t := chart.Table{Caption: "Events by type", Header: []string{"event", "count"}}
		for _, k := range keys {
			t.Rows = append(t.Rows, []string{k, rptInt(d.EventTypes[k])})
		}
		out = append(out, t)
	}
	if len(r.Checks) > 0 {
		t := chart.Table{Caption: "Data checks", Header: []string{"check", "result", "value", "needed", "note"}}
		for _, c := range r.Checks {
			res := "✓ passed"
			if !c.Passed {
				res = "✗ failed"
			}
			t.Rows = append(t.Rows, []string{c.Name, res, c.Value, c.Need, c.Message})
		}
		out = append(out, t)
	}
	if a := r.Anomalies; a != nil {
		excl := "kept in fitting"
		if a.ExcludedFromFit {
			excl = "excluded from fitting (still scored)"
		}
		out = append(out, chart.Text(fmt.Sprintf("Anomaly screen (%s, %d trees, sample %d): %s of %s users flagged at score ≥ %s, %s.",
			a.Method, a.Trees, a.SampleSize, rptInt(a.Flagged), rptInt(a.Scored), rptF3(a.Threshold), excl)))
		if len(a.Examples) > 0 {
			out = append(out, chart.Text("Examples: "+strings.Join(a.Examples, ", ")))
		}
	} else {
		out = append(out, chart.Text("Anomaly screen: not run."))
	}
	return out
}

func rptSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func rptRun(r *Report) []chart.Block {
	t := chart.Table{Caption: "Run", Header: []string{"setting", "value"}, Rows: [][]string{
		{"model version", r.ModelVersion},
		{"seed", strconv.FormatInt(r.Seed, 10)},
		{"as of", rptDate(r.AsOf)},
		{"horizon", fmt.Sprintf("%d days", r.HorizonDays)},
		{"target event", r.TargetEvent},
	}}
	for _, k := range rptSortedKeys(r.Flags) {
		t.Rows = append(t.Rows, []string{"--" + k, r.Flags[k]})
	}
	return []chart.Block{t}
}
