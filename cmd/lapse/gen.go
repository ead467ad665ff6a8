package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features/synth"
)

func init() { register(genCommand) }

var genCommand = &Command{
	Name:     "gen",
	Summary:  "write a synthetic behavioural event history (deterministic for a seed)",
	Synopsis: "gen --users N --days D [--seed S] [--start DATE] --out FILE",
	Description: `The history has ten event types (session_start, page_view, feature_use,
add_to_cart, purchase, refund, view_pricing, cancel_page, support_ticket,
email_open), power, regular and light users, a weekly rhythm, signups spread
over time, and churn preceded by declining use and more support tickets,
pricing and cancel-page views; some churned users come back. Rows are sorted
by time. The format follows the name: .csv or .jsonl, plus .gz to compress;
"-" writes CSV to stdout unless --format says otherwise.`,
	Examples: []string{
		"lapse gen --users 20000 --days 365 --seed 1 --out run/sample_events.csv",
		"lapse gen --users 300 --days 120 --seed 7 --start 2025-01-01 --out testdata/sample_events.csv",
		"lapse gen --users 1000 --days 90 --out events.jsonl.gz",
	},
	Setup: setupGen,
}

func setupGen(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	def := synth.DefaultConfig()
	users := fs.Int("users", def.Users, "`number` of users over the whole history")
	days := fs.Int("days", def.Days, "length of the history in `days`")
	seed := addSeedFlag(fs, def.Seed)
	start := def.Start
	fs.Var(timeFlag{&start}, "start", "first day of the history (`date`, UTC)")
	out := fs.String("out", "", "output `file` (.csv, .jsonl, optionally .gz) or - for stdout (required)")
	format := fs.String("format", "", "output `format`, csv or jsonl (default: from the file name, csv for -)")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *out == "" {
			return usagef("--out is required")
		}
		if *users <= 0 || *days <= 0 {
			return usagef("--users and --days must be positive")
		}
		f, err := genFormat(*format, *out)
		if err != nil {
			return err
		}
		cfg := &synth.Config{Users: *users, Days: *days, Seed: *seed, Start: start}
		if err := cfg.Validate(); err != nil {
			return &usageError{err}
		}
		o, err := createOutput(*out, env.Stdout)
		if err != nil {
			return err
		}
		defer o.Abort()
		t0 := time.Now()
		sum, err := synth.Write(ctx, o, cfg, f)
		if err != nil {
			return err
		}
		if err := o.Commit(); err != nil {
			return err
		}
		el := time.Since(t0)
		env.Log.Info("generated history", "file", *out, "format", f.String(), "users", sum.Users,
			"events", sum.Events, "first", sum.First, "last", sum.Last,
			"seconds", el.Round(time.Millisecond).Seconds(),
			"events_per_s", int64(float64(sum.Events)/max(el.Seconds(), 1e-9)))
		return nil
	}
}

// genFormat picks the output format from --format or the file name.
func genFormat(flagValue, path string) (synth.Format, error) {
	name := strings.TrimSuffix(strings.ToLower(path), ".gz")
	if flagValue == "" {
		switch {
		case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
			flagValue = "jsonl"
		case strings.HasSuffix(name, ".csv"), path == "-":
			flagValue = "csv"
		default:
			return 0, usagef("cannot tell the format of %q: name it .csv or .jsonl (optionally .gz), or pass --format", path)
		}
	}
	switch flagValue {
	case "csv":
		return synth.CSV, nil
	case "jsonl", "ndjson":
		return synth.JSONL, nil
	}
	return 0, usagef("--format %q: want csv or jsonl", flagValue)
}
