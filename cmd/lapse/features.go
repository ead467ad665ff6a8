package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/lapse-dev/lapse/features"
)

func init() { register(featuresCommand) }

var featuresCommand = &Command{
	Name:     "features",
	Summary:  "write one point-in-time feature vector per eligible user, with labels when asked",
	Synopsis: "features --events FILE... [mapping flags] [--as-of T] [--horizon H] --out FILE",
	Description: `Reads the events, builds every eligible user's features as of T (only
events before T count; a user is eligible with an activity event in the
--eligibility days before T) and writes them as CSV, one row per user sorted
by user id. With --horizon H and data that reaches T+H, the label columns
churn (no activity in [T, T+H)) and propensity (a --target-event in
[T, T+H)) follow; otherwise stderr says why there are none.

With --as-of the events stream through the builder, which keeps per-user
state only (plus, unless --dedupe off, a fingerprint of 8 to 16 bytes a row
to find exact duplicates). Without it T is the midnight (UTC) after the last
event, which is only known at the end, so the events are first read into a
compact columnar log (16 to 21 bytes an event) and the snapshot is built
from it.`,
	Examples: []string{
		"lapse features --events run/sample_events.csv --as-of 2025-12-01 --horizon 30d --out features.csv",
		"lapse features --events a.csv --events b.jsonl.gz --windows 7d,28d --top-k 10 --spec-out spec.json --out -",
		"lapse features --events orders.csv --user-col customer_id --time-col order_date --event-name purchase --quantity-col qty --price-col unit_price --order-col order_id --out features.csv",
	},
	Setup: setupFeatures,
}

// featureFlags are the snapshot flags shared by commands that build features.
type featureFlags struct {
	asOf        time.Time
	horizon     time.Duration
	windows     []int
	topK        int
	activity    commaList
	purchase    commaList
	target      string
	eligibility time.Duration
}

// addFeatureFlags registers the snapshot flags on fs with the defaults of
// features.DefaultSpec.
func addFeatureFlags(fs *flag.FlagSet) *featureFlags {
	def := features.DefaultSpec()
	f := &featureFlags{
		windows:     def.Windows,
		eligibility: time.Duration(def.EligibilityDays) * 24 * time.Hour,
		purchase:    commaList(def.PurchaseEvents),
	}
	fs.Var(timeFlag{&f.asOf}, "as-of", "cutoff `T`: a date (midnight UTC) or RFC 3339 time; only events before T feed features (default: midnight after the last event)")
	fs.Var(durationFlag{&f.horizon}, "horizon", "label horizon `H` (30d, 13w, 720h): churn and propensity over [T, T+H); none without it")
	fs.Var(windowsFlag{&f.windows}, "windows", "feature `windows`, whole days")
	fs.IntVar(&f.topK, "top-k", def.VocabularySize, "event types with their own usage columns (the rest is other)")
	fs.Var(&f.activity, "activity-events", "`types` that count as activity, comma-separated (default: every event type)")
	fs.Var(&f.purchase, "purchase-events", "`types` whose amounts are orders and revenue, comma-separated")
	fs.StringVar(&f.target, "target-event", def.TargetEvent, "event `type` that propensity predicts")
	fs.Var(durationFlag{&f.eligibility}, "eligibility", "a user is eligible with an activity event in this `window` before T")
	return f
}

// spec returns the feature spec the flags describe, validated.
func (f *featureFlags) spec() (*features.Spec, error) {
	s := features.DefaultSpec()
	s.Windows = append([]int(nil), f.windows...)
	s.VocabularySize = f.topK
	s.ActivityEvents = append([]string(nil), f.activity...)
	s.PurchaseEvents = append([]string(nil), f.purchase...)
	s.TargetEvent = f.target
	days, err := wholeDays(f.eligibility)
	if err != nil {
		return nil, usagef("--eligibility: %v", err)
	}
	s.EligibilityDays = days
	s.Derive()
	if err := s.Validate(); err != nil {
		return nil, &usageError{err}
	}
	return s, nil
}

func setupFeatures(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	in := addInputFlags(fs)
	ff := addFeatureFlags(fs)
	out := fs.String("out", "", "output CSV `file` (.gz to compress) or - for stdout (required)")
	specOut := fs.String("spec-out", "", "also write the feature spec as JSON to this `file`")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q (input files go after --events)", args)
		}
		if *out == "" {
			return usagef("--out is required")
		}
		spec, err := ff.spec()
		if err != nil {
			return err
		}
		ds, err := buildSnapshot(ctx, env, in, ff, spec)
		if err != nil {
			return err
		}
		if *specOut != "" {
			if err := writeSpec(*specOut, ds.Spec, env.Stdout); err != nil {
				return err
			}
		}
		o, err := createOutput(*out, env.Stdout)
		if err != nil {
			return err
		}
		defer o.Abort()
		if err := features.WriteCSV(o, ds); err != nil {
			return err
		}
		if err := o.Commit(); err != nil {
			return err
		}
		logSnapshot(env, ds, *out)
		return nil
	}
}

// buildSnapshot reads the events and builds the Dataset as of ff.asOf (or
// the midnight after the last event).
func buildSnapshot(ctx context.Context, env *Env, in *inputFlags, ff *featureFlags, spec *features.Spec) (*features.Dataset, error) {
	src, err := openEvents(ctx, env, in, ff.asOf)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	cfg := features.BuilderConfig{
		Cutoff:  ff.asOf,
		Horizon: ff.horizon,
		Spec:    spec,
		Learn:   true,
		Workers: runtime.GOMAXPROCS(0),
	}
	var rejected rejectCounter
	if !ff.asOf.IsZero() {
		b, err := features.NewBuilder(cfg)
		if err != nil {
			return nil, &usageError{err}
		}
		add := func(e *features.Event) error {
			user, name := src.r.EventIndex()
			return rejected.note(b.AddIndexed(e, user, name))
		}
		if err := src.each(add); err != nil {
			return nil, err
		}
		rejected.report(env)
		ds, err := b.Build()
		if err != nil {
			return nil, err
		}
		noteLabels(env, ds, ff)
		return ds, nil
	}
	var log features.Log
	if err := src.each(func(e *features.Event) error { return rejected.note(log.Append(e)) }); err != nil {
		return nil, err
	}
	rejected.report(env)
	if log.Len() == 0 {
		return nil, errors.New("no events were read, so there is no last event to set --as-of from")
	}
	last := log.MaxTime()
	cfg.Cutoff = time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	env.Log.Info("as-of set from the data", "as_of", cfg.Cutoff.Format(time.RFC3339), "last_event", last.Format(time.RFC3339))
	ds, err := log.Build(cfg)
	if err != nil {
		return nil, err
	}
	noteLabels(env, ds, ff)
	return ds, nil
}

// rejectCounter counts events the builder refused (times or amounts it
// cannot represent) and keeps the first few messages.
type rejectCounter struct {
	n     int64
	first []string
}

// note records err, if any, and always returns nil: a refused event does not
// stop the read.
func (r *rejectCounter) note(err error) error {
	if err != nil {
		r.n++
		if len(r.first) < 5 {
			r.first = append(r.first, err.Error())
		}
	}
	return nil
}

func (r *rejectCounter) report(env *Env) {
	if r.n == 0 {
		return
	}
	env.Log.Warn("events refused by the feature builder", "events", r.n)
	for _, m := range r.first {
		fmt.Fprintf(env.Stderr, "  %s\n", m)
	}
}

// noteLabels explains on stderr why a snapshot asked for labels has none.
func noteLabels(env *Env, ds *features.Dataset, ff *featureFlags) {
	if ff.horizon <= 0 || ds.Labelled {
		return
	}
	end := ds.Counts.MaxTime
	need := ds.Cutoff.Add(ff.horizon)
	msg := fmt.Sprintf("note: no label columns: labels over [%s, %s) need data up to %s, but the last event is at %s",
		ds.Cutoff.Format(time.RFC3339), need.Format(time.RFC3339), need.Format(time.RFC3339), end.Format(time.RFC3339))
	if ff.asOf.IsZero() {
		msg += "; --as-of defaults to the day after the last event, so pass an earlier --as-of"
	}
	latest := end.Add(-ff.horizon)
	if !end.IsZero() {
		msg += fmt.Sprintf(" (the latest cutoff with complete labels is %s)", latest.Format(time.RFC3339))
	}
	fmt.Fprintln(env.Stderr, msg)
}

// logSnapshot logs what a snapshot holds.
func logSnapshot(env *Env, ds *features.Dataset, out string) {
	c := ds.Counts
	attrs := []any{
		"file", out, "as_of", ds.Cutoff.Format(time.RFC3339), "users", c.Users,
		"eligible", c.Eligible, "features", len(ds.Spec.Features),
		"events_before_as_of", c.BeforeCutoff, "events_after_as_of", c.AfterCutoff,
		"labelled", ds.Labelled,
	}
	if ds.Labelled && len(ds.Churn) > 0 {
		var churn, prop int
		for i := range ds.Churn {
			if ds.Churn[i] {
				churn++
			}
			if ds.Propensity[i] {
				prop++
			}
		}
		n := float64(len(ds.Churn))
		attrs = append(attrs, "horizon", formatDays(ds.Horizon),
			"churn_rate", round4(float64(churn)/n), "propensity_rate", round4(float64(prop)/n))
	}
	env.Log.Info("wrote features", attrs...)
}

func round4(x float64) float64 { return float64(int64(x*1e4+0.5)) / 1e4 }

// writeSpec writes spec as indented JSON to path ("-" is stdout).
func writeSpec(path string, spec *features.Spec, stdout io.Writer) error {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	o, err := createOutput(path, stdout)
	if err != nil {
		return err
	}
	defer o.Abort()
	if _, err := o.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	return o.Commit()
}
