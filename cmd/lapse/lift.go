package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/internal/chart"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/training"
)

func init() { register(liftCommand) }

var liftCommand = &Command{
	Name:    "lift",
	Summary: "measure an experiment's incremental effect from the events after its start, or check the model against what happened",
	Synopsis: "lift --store lapse.db --experiment NAME --events FILE... [mapping flags] [--window 30d] [--json] [--report-dir DIR]\n" +
		"lift --store lapse.db --model-lift --events FILE... [mapping flags] [--as-of T] [--horizon H] [--json] [--report-dir DIR]",
	Description: `With --experiment: reads the events and, for every user assigned to the
experiment, what they did in the outcome window (whole UTC days from the
first midnight at or after the start): retention (any activity event),
conversion (a target event with a non-negative amount) and revenue per user
(positive amounts of purchase events; refunds are not subtracted), with the
activity, purchase and target events of the model the experiment targeted.
Prints, per metric, both groups' n and rate (or mean), the absolute lift
treatment - control with its 95% interval (Newcombe's hybrid score interval
for proportions, Welch's t interval for revenue), the relative lift with its
interval, the two-sided p-value and a sample-ratio-mismatch check (a loud
warning below p = 0.001); then the same per risk band and segment at
assignment time. Users count in the group they were assigned to, whether or
not the campaign reached them.

With --model-lift: the active model's stored scores as of its T (or, with
--as-of, the users rescored from the events at that time with the model's
feature spec) against what happened in [T, T+H): churn and purchase deciles,
cumulative gains, top-decile lift and AUC.

--json prints the JSON report instead of text (schema: README "Experiments
and lift"); --report-dir writes lift.json and lift.html (group rates with 95%
error bars, or the gains curve and decile lift).`,
	Examples: []string{
		"lapse lift --store lapse.db --experiment winback-june --events events-june.csv --window 30d",
		"lapse lift --store lapse.db --experiment winback-june --events events-june.csv --json --report-dir lift-report",
		"lapse lift --store lapse.db --model-lift --events events.csv",
	},
	Setup: setupLift,
}

type liftFlags struct {
	in         *inputFlags
	store      string
	experiment string
	modelLift  bool
	window     time.Duration
	asOf       time.Time
	horizon    time.Duration
	json       bool
	reportDir  string
}

func setupLift(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	f := &liftFlags{in: addInputFlags(fs), window: serving.DefaultLiftWindow * 24 * time.Hour}
	fs.StringVar(&f.store, "store", "", "store `file` with the experiment or the model (required)")
	fs.StringVar(&f.experiment, "experiment", "", "measure the experiment `NAME`")
	fs.BoolVar(&f.modelLift, "model-lift", false, "check the active model's scores against the outcomes that followed")
	fs.Var(durationFlag{&f.window}, "window", "experiment outcome `window` in whole days, e.g. 30d or 4w")
	fs.Var(timeFlag{&f.asOf}, "as-of", "with --model-lift: rescore the users from the events as of `T` (default: the stored scores, as of the model's T)")
	fs.Var(durationFlag{&f.horizon}, "horizon", "with --model-lift: outcome `period` H after T (default: the model's horizon)")
	fs.BoolVar(&f.json, "json", false, "print the JSON report instead of text")
	fs.StringVar(&f.reportDir, "report-dir", "", "write lift.json and lift.html to `directory`")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q (input files go after --events)", args)
		}
		if f.store == "" {
			return usagef("--store is required")
		}
		if (f.experiment == "") == !f.modelLift {
			return usagef("give exactly one of --experiment NAME and --model-lift")
		}
		if f.modelLift {
			if flagSet(fs, "window") {
				return usagef("--window is for --experiment; --model-lift uses --horizon")
			}
			return runModelLift(ctx, env, f)
		}
		if !f.asOf.IsZero() || f.horizon != 0 {
			return usagef("--as-of and --horizon are for --model-lift; an experiment's outcomes start at its start (--window sets the length)")
		}
		return runExperimentLift(ctx, env, f)
	}
}

// runExperimentLift is lapse lift --experiment.
func runExperimentLift(ctx context.Context, env *Env, f *liftFlags) error {
	days, err := wholeDays(f.window)
	if err != nil {
		return usagef("--window: %v", err)
	}
	if err := lift.CheckName(f.experiment); err != nil {
		return &usageError{errors.New(strings.TrimPrefix(err.Error(), "lift: "))}
	}
	st, exp, err := loadExperiment(ctx, f.store, f.experiment, true)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.Model(ctx, exp.ModelVersion)
	if err != nil {
		return err
	}
	if m == nil {
		if m, err = st.ActiveModel(ctx); err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("model %s of experiment %s is not stored and no model is active", exp.ModelVersion, exp.Name)
		}
		env.Log.Warn("the experiment's model is not stored; its outcomes use the active model's event classes",
			"experiment_model", exp.ModelVersion, "model_version", m.Version)
	}
	spec, err := features.ParseSpec(m.Spec)
	if err != nil {
		return fmt.Errorf("model %s: stored spec: %w", m.Version, err)
	}
	w, err := features.NewOutcomeWindow(exp.Start, days)
	if err != nil {
		return usagef("--window: %v", err)
	}
	as, err := assignmentsOf(ctx, st, exp.Name)
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return fmt.Errorf("experiment %s has no assignments", exp.Name)
	}
	members := make(map[string]struct{}, len(as))
	for i := range as {
		members[as[i].UserID] = struct{}{}
	}
	oc, err := features.NewOutcomeCounter(spec, w)
	if err != nil {
		return err
	}
	src, err := openEvents(ctx, env, f.in, time.Time{})
	if err != nil {
		return err
	}
	defer src.Close()
	var through time.Time
	var rejected rejectCounter
	err = src.each(func(e *features.Event) error {
		if e.Time.After(through) {
			through = e.Time
		}
		if _, ok := members[e.UserID]; !ok {
			return nil
		}
		return rejected.note(oc.Add(e))
	})
	if err != nil {
		return err
	}
	rejected.report(env)
	if through.IsZero() {
		return errors.New("no events were read")
	}
	if through.Before(w.First()) {
		return fmt.Errorf("the events end at %s, before the outcome window of experiment %s starts (%s): give the events after the start",
			through.UTC().Format(time.RFC3339), exp.Name, w.First().Format(time.DateOnly))
	}
	outs := make([]lift.Outcome, len(as))
	for i := range as {
		o := oc.Outcome(as[i].UserID)
		outs[i] = lift.Outcome{Retained: o.Active, Converted: o.Converted, Revenue: o.Revenue}
	}
	win := &lift.Window{Start: w.First(), End: w.End(), Days: w.Days(), DataThrough: through.UTC(),
		Complete: !through.Before(w.End().Add(-24 * time.Hour)), Source: "events", ModelVersion: m.Version}
	rep, err := lift.Measure(exp, as, outs, &lift.MeasureOptions{Conversion: exp.TargetEvent != "", Window: win})
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "lift: "))
	}
	env.Log.Info("measured experiment", "experiment", exp.Name, "users", len(as), "users_with_events", oc.Users(),
		"events_in_window", oc.Inside)
	if f.reportDir != "" {
		if err := writeExperimentLiftReport(f.reportDir, exp, rep, env.Stdout); err != nil {
			return err
		}
	}
	if f.json {
		return writeJSONTo(env.Stdout, rep)
	}
	return rep.WriteText(env.Stdout)
}

// writeExperimentLiftReport writes DIR/lift.json and DIR/lift.html.
func writeExperimentLiftReport(dir string, exp *lift.Experiment, rep *lift.Report, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	var js bytes.Buffer
	if err := writeJSONTo(&js, rep); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "lift.json"), js.Bytes(), stdout); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := experimentLiftPage(exp, rep).WriteHTML(&page); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "lift.html"), page.Bytes(), stdout)
}

// experimentLiftPage lays out the lift report: the sentences, each
// group's rate and revenue per user with 95% error bars, the result
// table, the breakdowns and the methods.
func experimentLiftPage(exp *lift.Experiment, rep *lift.Report) *chart.Page {
	var lines []string
	for _, r := range rep.Metrics {
		lines = append(lines, r.Sentence())
	}
	sub := fmt.Sprintf("target %s; holdout %s%s; model %s", targetDescription(&exp.Target), pct(exp.Holdout), stratText(exp), exp.ModelVersion)
	if w := rep.Window; w != nil {
		sub += fmt.Sprintf("; outcomes %s to %s (%d days, from %s)", w.Start.Format(time.DateOnly),
			w.End.Add(-time.Nanosecond).Format(time.DateOnly), w.Days, w.Source)
		if !w.Complete {
			lines = append(lines, "Interim: the data reach "+w.DataThrough.Format("2006-01-02 15:04Z")+", before the window ends.")
		}
	}
	if rep.SRMWarning() {
		lines = append(lines, "WARNING: sample ratio mismatch: the group sizes do not match the configured holdout; assignment or logging is broken and these results cannot be trusted.")
	}
	page := &chart.Page{
		Title:    "Experiment " + exp.Name + ": measured lift",
		Subtitle: sub,
		Footer:   "lapse lift: Wilson intervals per group, Newcombe (hybrid score) or Welch intervals for the difference, Katz or delta-method intervals for the relative lift, pooled z or Welch p-values, chi-square sample-ratio check.",
	}
	var figs chart.Figures
	var props, means []lift.Result
	for _, r := range rep.Metrics {
		if r.Kind == lift.KindMean {
			means = append(means, r)
		} else {
			props = append(props, r)
		}
	}
	groupBars := func(rs []lift.Result, percent bool, title, ylabel string) chart.Figure {
		cats := make([]string, len(rs))
		var t, c chart.BarSeries
		t.Name, c.Name = "treatment", "control"
		t.Color, c.Color = chart.Palette[0], chart.Palette[1]
		for i, r := range rs {
			cats[i] = metricTitle(r)
			t.Values = append(t.Values, r.Treatment.Mean)
			t.Low = append(t.Low, r.Treatment.CI95.Lo)
			t.High = append(t.High, r.Treatment.CI95.Hi)
			c.Values = append(c.Values, r.Control.Mean)
			c.Low = append(c.Low, r.Control.CI95.Lo)
			c.High = append(c.High, r.Control.CI95.Hi)
		}
		return chart.Figure{Chart: &chart.BarChart{
			Title: title, Desc: "Each group's value with its 95% confidence interval as an error bar.",
			X: chart.Axis{Label: "metric"}, Y: chart.Axis{Label: ylabel, Percent: percent},
			Categories: cats, Series: []chart.BarSeries{t, c}, Width: 520, Height: 400,
		}, Caption: "Error bars: 95% intervals (Wilson for rates, Student t for means)."}
	}
	if len(props) > 0 {
		figs = append(figs, groupBars(props, true, "Rates by group", "share of users"))
	}
	if len(means) > 0 {
		figs = append(figs, groupBars(means, false, "Revenue per user by group", "revenue per user"))
	}
	page.Sections = append(page.Sections, chart.Section{Title: "Result", Blocks: []chart.Block{
		chart.Headline{Lines: lines, Warn: rep.SRMWarning()}, figs,
		resultTable("Per metric", "metric", rep.Metrics, nil),
	}})
	names := make([]string, 0, len(rep.Breakdowns))
	for n := range rep.Breakdowns {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		segs := rep.Breakdowns[n]
		keys := make([]string, 0, len(segs))
		for k := range segs {
			keys = append(keys, k)
		}
		sortBands(keys)
		var rs []lift.Result
		var labels []string
		for _, k := range keys {
			for _, r := range segs[k] {
				rs = append(rs, r)
				labels = append(labels, k)
			}
		}
		blocks := []chart.Block{resultTable("By "+n+" at assignment", n, rs, labels)}
		if om := rep.Omitted[n]; len(om) > 0 {
			blocks = append(blocks, chart.Text(fmt.Sprintf("Left out (a group has fewer than %d users): %s.", lift.MinBreakdownGroup, strings.Join(om, ", "))))
		}
		blocks = append(blocks, chart.Text("No correction for multiple comparisons: with many segments, some show p < 0.05 by chance."))
		page.Sections = append(page.Sections, chart.Section{Title: "By " + n, Blocks: blocks})
	}
	return page
}

func metricTitle(r lift.Result) string {
	s := strings.ReplaceAll(r.Metric, "_", " ")
	if r.Kind == lift.KindMean && !strings.HasSuffix(s, "per user") {
		s += " per user"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// resultTable lists results; labels, when set, name each row's segment.
func resultTable(caption, first string, rs []lift.Result, labels []string) chart.Table {
	header := []string{"metric", "treatment", "control", "abs. lift (95% CI)", "rel. lift (95% CI)", "p", "SRM p"}
	if labels != nil {
		header = append([]string{first}, header...)
	}
	t := chart.Table{Caption: caption, Header: header}
	for i, r := range rs {
		val := func(g lift.GroupStats) string {
			if r.Kind == lift.KindMean {
				return fmt.Sprintf("%.2f (n %s)", g.Mean, thousands(g.N))
			}
			return fmt.Sprintf("%s (%s of %s)", pct(g.Mean), thousands(g.Successes), thousands(g.N))
		}
		abs := fmt.Sprintf("%s (%s to %s)", signedPts(r, r.AbsLift), signedPts(r, r.AbsLiftCI95.Lo), signedPts(r, r.AbsLiftCI95.Hi))
		rel := fmt.Sprintf("%s (%s to %s)", signedPct(r.RelLift), signedPct(r.RelLiftCI95.Lo), signedPct(r.RelLiftCI95.Hi))
		row := []string{metricTitle(r), val(r.Treatment), val(r.Control), abs, rel, pValue(r.PValue), pValue(r.SRMPValue)}
		if labels != nil {
			row = append([]string{labels[i]}, row...)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func signedPts(r lift.Result, x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	if r.Kind == lift.KindMean {
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return fmt.Sprintf("%+.1f pts", 100*x)
}

func signedPct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.001:
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// runModelLift is lapse lift --model-lift.
func runModelLift(ctx context.Context, env *Env, f *liftFlags) error {
	st, err := openExperimentStore(f.store, true)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.ActiveModel(ctx)
	if err != nil {
		return err
	}
	if m == nil {
		return errNoActiveModel
	}
	spec, err := features.ParseSpec(m.Spec)
	if err != nil {
		return fmt.Errorf("model %s: stored spec: %w", m.Version, err)
	}
	h := f.horizon
	if h == 0 {
		h = time.Duration(m.HorizonDays) * 24 * time.Hour
	}
	hDays, err := wholeDays(h)
	if err != nil {
		return usagef("--horizon: %v", err)
	}
	asOf, source := m.AsOf.UTC(), "stored"
	if !f.asOf.IsZero() {
		asOf, source = f.asOf, "rescored"
	}
	log, _, err := readLog(ctx, env, f.in, asOf)
	if err != nil {
		return err
	}
	if log.Len() == 0 {
		return errors.New("no events were read")
	}
	ds, err := log.Build(features.BuilderConfig{Cutoff: asOf, Horizon: h, Spec: spec, Workers: runtime.GOMAXPROCS(0)})
	if err != nil {
		return err
	}
	if !ds.Labelled {
		return fmt.Errorf("the events end at %s, before T + H = %s: what happened in the %d days after %s is not known yet",
			log.MaxTime().UTC().Format(time.RFC3339), asOf.Add(h).Format(time.RFC3339), hDays, asOf.Format(time.DateOnly))
	}
	in := &training.ModelLiftInput{ModelVersion: m.Version, AsOf: asOf, HorizonDays: hDays, Source: source, TargetEvent: spec.TargetEvent}
	withProp := m.Propensity != nil
	add := func(p *model.Prediction, i int) {
		in.Churn = append(in.Churn, p.ChurnProbability)
		in.Churned = append(in.Churned, ds.Churn[i])
		if withProp && p.PurchaseProbability != nil {
			in.Purchase = append(in.Purchase, *p.PurchaseProbability)
			in.Converted = append(in.Converted, ds.Propensity[i])
		}
	}
	if source == "rescored" {
		for i, v := range ds.Vectors {
			p, err := m.Score(v.Values)
			if err != nil {
				return fmt.Errorf("score %q: %w", v.UserID, err)
			}
			add(&p, i)
		}
	} else {
		// The stored scores and the eligible users at T are both in
		// user-id order: merge them.
		i := 0
		err := st.EachScore(ctx, m.Version, "", func(id string, p *model.Prediction) error {
			for i < len(ds.Vectors) && ds.Vectors[i].UserID < id {
				i++
			}
			if i < len(ds.Vectors) && ds.Vectors[i].UserID == id {
				add(p, i)
				i++
			} else {
				in.Unmatched++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if withProp && len(in.Purchase) != len(in.Churn) {
		in.Purchase, in.Converted = nil, nil
	}
	ml, err := training.NewModelLift(in)
	if err != nil {
		return err
	}
	if f.reportDir != "" {
		if err := os.MkdirAll(f.reportDir, 0o755); err != nil {
			return fmt.Errorf("report directory: %w", err)
		}
		var js, page bytes.Buffer
		if err := writeJSONTo(&js, ml); err != nil {
			return err
		}
		if err := ml.WriteHTML(&page); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(f.reportDir, "lift.json"), js.Bytes(), env.Stdout); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(f.reportDir, "lift.html"), page.Bytes(), env.Stdout); err != nil {
			return err
		}
	}
	if f.json {
		return writeJSONTo(env.Stdout, ml)
	}
	return ml.WriteText(env.Stdout)
}
