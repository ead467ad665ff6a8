package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

func init() { register(scoreCommand) }

var scoreCommand = &Command{
	Name:     "score",
	Summary:  "export the active model's scores, or rescore new events with it",
	Synopsis: "score --store lapse.db [--events FILE... [mapping flags] [--as-of T]] --out scores.csv|scores.jsonl|-",
	Description: `Without --events, writes the scores the active model stored when it was
trained (as of its T). With --events, reads them and scores every user
eligible at --as-of (default: the midnight UTC after the last event) with the
active model and its stored feature spec.

One row per user, sorted by user id: user_id, churn_probability, risk_band,
purchase_probability (empty without a propensity model), segment,
rfm_segment, lifecycle_stage, usage_tier, p_alive, expected_purchases (purchase
days expected in the model's horizon) and clv (the model's BG/NBD and
Gamma-Gamma values as of the scores' T; empty for users who never purchased
and when training could not fit them), top_reasons ("text; text; text" in
CSV, an array in JSON Lines, which also carries each reason's feature, value
and contribution). The format follows the file name (.jsonl or .ndjson, with
or without .gz, is JSON Lines; anything else and - are CSV) unless
--out-format says otherwise.`,
	Examples: []string{
		"lapse score --store lapse.db --out scores.csv",
		"lapse score --store lapse.db --events new_events.csv --as-of 2026-01-01 --out scores.jsonl",
	},
	Setup: setupScore,
}

func setupScore(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	in := addInputFlags(fs)
	path := fs.String("store", "", "model store `file` (required)")
	var asOf time.Time
	fs.Var(timeFlag{&asOf}, "as-of", "with --events: score as of `T` (default: midnight UTC after the last event)")
	out := fs.String("out", "", "output `file` (.csv, .jsonl, .gz to compress) or - for stdout (required)")
	outFormat := fs.String("out-format", "auto", "output `format`: csv, jsonl or auto (by the --out name)")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q (input files go after --events)", args)
		}
		if *path == "" || *out == "" {
			return usagef("--store and --out are required")
		}
		if !asOf.IsZero() && len(in.events) == 0 {
			return usagef("--as-of needs --events (stored scores are as of the model's T)")
		}
		format, err := scoreFormat(*out, *outFormat)
		if err != nil {
			return err
		}
		st, err := openStore(*path)
		if err != nil {
			return err
		}
		defer st.Close()
		m, err := st.ActiveModel(ctx)
		if err != nil {
			return err
		}
		o, err := createOutput(*out, env.Stdout)
		if err != nil {
			return err
		}
		defer o.Abort()
		w, err := newScoreWriter(o, format)
		if err != nil {
			return err
		}
		n := 0
		if len(in.events) == 0 {
			err = st.EachScore(ctx, m.Version, func(user string, p *model.Prediction) error {
				n++
				return w.Write(user, p)
			})
		} else {
			n, err = rescore(ctx, env, in, asOf, m, w)
		}
		if err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := o.Commit(); err != nil {
			return err
		}
		env.Log.Info("wrote scores", "file", *out, "users", n, "model_version", m.Version)
		return nil
	}
}

// rescore reads the events and scores every user eligible at asOf (zero:
// the midnight after the last event) with m and its stored spec.
func rescore(ctx context.Context, env *Env, in *inputFlags, asOf time.Time, m *model.Model, w *scoreWriter) (int, error) {
	spec, err := features.ParseSpec(m.Spec)
	if err != nil {
		return 0, fmt.Errorf("model %s: stored spec: %w", m.Version, err)
	}
	log, _, err := readLog(ctx, env, in, asOf)
	if err != nil {
		return 0, err
	}
	if log.Len() == 0 {
		return 0, errors.New("no events were read")
	}
	if asOf.IsZero() {
		asOf = log.MaxTime().Truncate(24 * time.Hour).Add(24 * time.Hour)
		env.Log.Info("as-of set from the data", "as_of", asOf.Format(time.RFC3339))
	}
	ds, err := log.Build(features.BuilderConfig{Cutoff: asOf, Spec: spec, Workers: runtime.GOMAXPROCS(0)})
	if err != nil {
		return 0, err
	}
	values, err := userValues(log, spec, asOf, m, ds.Vectors)
	if err != nil {
		return 0, err
	}
	for i, v := range ds.Vectors {
		p, err := m.Score(v.Values)
		if err != nil {
			return 0, fmt.Errorf("score %q: %w", v.UserID, err)
		}
		p.UserValue = values[i]
		if err := w.Write(v.UserID, &p); err != nil {
			return 0, err
		}
	}
	return len(ds.Vectors), nil
}

// userValues computes the customer values as of asOf of the users of vecs
// (sorted by user id) from their purchase days in log, as training does for
// its stored scores; all nil when m has no customer-value part.
func userValues(log *features.Log, spec *features.Spec, asOf time.Time, m *model.Model, vecs []features.Vector) ([]model.UserValue, error) {
	out := make([]model.UserValue, len(vecs))
	if m.Value == nil {
		return out, nil
	}
	i := 0
	err := log.PurchaseSummaries(asOf, spec.PurchaseEvents, func(id string, s features.PurchaseSummary) error {
		for i < len(vecs) && vecs[i].UserID < id {
			i++
		}
		if i == len(vecs) || vecs[i].UserID != id {
			return nil
		}
		v, err := m.UserValue(model.Purchases{Days: s.Days, First: s.First, Last: s.Last, RepeatRevenue: s.RepeatRevenue}, asOf)
		if err != nil {
			return fmt.Errorf("customer value of %q: %w", id, err)
		}
		out[i] = v
		return nil
	})
	return out, err
}
