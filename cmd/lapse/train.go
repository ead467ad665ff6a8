package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/training"
)

func init() { register(trainCommand) }

var trainCommand = &Command{
	Name:     "train",
	Summary:  "fit, evaluate and store the churn and propensity models, segments and scores",
	Synopsis: "train --events FILE... [mapping flags] --horizon H [--as-of T] [--store lapse.db] --report-dir DIR",
	Description: `Reads the events into a compact columnar log and trains as of T (default:
the midnight UTC after the last event). The newest training cutoff is
T1 = T - H; fitting snapshots lie at T1 - H, T1 - 2H, ... (--snapshots, while
the data reaches back). Models are fitted on the snapshots before T1 and
evaluated on T1 (out of time: labels from [T1, T)) and on a fixed 20% of users
never fitted on; then the chosen model is refitted on every snapshot through
T1 and every user eligible at T is scored.

Writes DIR/report.json and DIR/report.html, stores the model version with its
report, the per-user scores and the user states in the store, activates it
(unless --no-activate) and prints a summary. Too little data (users, positives
or negatives, history for the horizon) ends the run with exit code 1 and a
message saying what is missing.`,
	Examples: []string{
		"lapse train --events run/sample_events.csv --horizon 30d --min-users 50 --min-class 1 --store lapse.db --report-dir report",
		"lapse train --events CDNOW_master.txt --user-col customer_id --time-col date --amount-col dollar_value --event-name purchase --as-of 1997-10-01 --horizon 13w --store cdnow.db --report-dir cdnow-report",
	},
	Setup: setupTrain,
}

// kFlag is --k: "auto" (0) or a number of clusters.
type kFlag struct{ k *int }

func (f kFlag) String() string {
	if f.k == nil || *f.k == 0 {
		return "auto"
	}
	return strconv.Itoa(*f.k)
}

func (f kFlag) Set(v string) error {
	if v == "auto" {
		*f.k = 0
		return nil
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 2 || k > 50 {
		return fmt.Errorf("want auto or a number of clusters from 2 to 50")
	}
	*f.k = k
	return nil
}

// trainFlags are the flags of lapse train.
type trainFlags struct {
	in        *inputFlags
	ff        *featureFlags
	snapshots int
	seed      *uint64
	k         int
	minUsers  int
	minClass  int
	exclude   bool
	store     string
	reportDir string
	noActive  bool
}

func setupTrain(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	tf := &trainFlags{in: addInputFlags(fs), ff: addFeatureFlags(fs)}
	fs.IntVar(&tf.snapshots, "snapshots", training.DefaultSnapshots, "fitting snapshots before T1 = T - H, at T1 - H, T1 - 2H, ... (fewer when the data does not reach back)")
	tf.seed = addSeedFlag(fs, 1)
	fs.Var(kFlag{&tf.k}, "k", "behavioural clusters: `auto` (2..10 by silhouette) or a number")
	fs.IntVar(&tf.minUsers, "min-users", training.DefaultMinUsers, "fail with fewer eligible users than this at T1 (negative: no minimum)")
	fs.IntVar(&tf.minClass, "min-class", training.DefaultMinClass, "fail with fewer positives or negatives than this in any fitting or evaluation set")
	fs.BoolVar(&tf.exclude, "exclude-anomalies", false, "leave the users flagged by the isolation-forest screen out of fitting (they are always reported and scored)")
	fs.StringVar(&tf.store, "store", "", "model store `file` (bbolt), created if missing; without it the run only evaluates and writes the report")
	fs.StringVar(&tf.reportDir, "report-dir", "", "`directory` for report.json and report.html, created if missing (required)")
	fs.BoolVar(&tf.noActive, "no-activate", false, "store the new model version without making it the active one")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q (input files go after --events)", args)
		}
		return runTrain(ctx, env, fs, tf)
	}
}

// runTrain is lapse train after flag parsing.
func runTrain(ctx context.Context, env *Env, fs *flag.FlagSet, tf *trainFlags) error {
	if tf.ff.horizon <= 0 {
		return usagef("--horizon is required (e.g. 30d)")
	}
	if tf.reportDir == "" {
		return usagef("--report-dir is required")
	}
	spec, err := tf.ff.spec()
	if err != nil {
		return err
	}
	var st modelStore
	if tf.store != "" {
		if st, err = openStore(tf.store); err != nil {
			return err
		}
		defer st.Close()
	}

	log, stats, err := readLog(ctx, env, tf.in, tf.ff.asOf)
	if err != nil {
		return err
	}
	cfg := &training.Config{
		AsOf:             tf.ff.asOf,
		Horizon:          tf.ff.horizon,
		Snapshots:        tf.snapshots,
		Spec:             spec,
		Seed:             *tf.seed,
		K:                tf.k,
		MinUsers:         tf.minUsers,
		MinClass:         tf.minClass,
		ExcludeAnomalies: tf.exclude,
		Workers:          runtime.GOMAXPROCS(0),
		Progress:         env.Stderr,
		DataFingerprint:  fingerprint(tf.in.events, trainFlagMap(fs)),
		States:           st != nil,
	}
	res, err := training.Train(ctx, log, cfg)
	if err != nil {
		var de *training.DataError
		if errors.As(err, &de) {
			return fmt.Errorf("not enough data to train (%s check)%s", de.Check, bulletList(de.Problems))
		}
		return err
	}
	rep := res.Report
	rep.Flags = trainFlagMap(fs)
	rep.Data = training.NewDataSummary(&stats)

	if err := os.MkdirAll(tf.reportDir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(tf.reportDir, "report.json"), js.Bytes(), env.Stdout); err != nil {
		return err
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(tf.reportDir, "report.html"), html.Bytes(), env.Stdout); err != nil {
		return err
	}
	if st != nil {
		fmt.Fprintf(env.Stderr, "train: storing model %s with %d user scores in %s\n", res.Model.Version, len(res.Scores), tf.store)
		if err := storeResult(ctx, st, res, js.Bytes(), !tf.noActive); err != nil {
			return err
		}
	}
	if err := rep.WriteSummary(env.Stdout); err != nil {
		return err
	}
	act := "activated"
	switch {
	case st == nil:
		act = "evaluated, not stored (no --store)"
	case tf.noActive:
		act = "stored, not activated (lapse models --activate " + res.Model.Version + ")"
	}
	fmt.Fprintf(env.Stdout, "model %s %s; report: %s\n", res.Model.Version, act, filepath.Join(tf.reportDir, "report.html"))
	return nil
}

// bulletList formats problems as indented lines after a colon.
func bulletList(lines []string) string {
	var b bytes.Buffer
	b.WriteString(":")
	for _, l := range lines {
		b.WriteString("\n  - ")
		b.WriteString(l)
	}
	return b.String()
}

// readLog reads every event into a columnar Log. Events at or after asOf
// are kept (the reader counts them) but training never reads them.
func readLog(ctx context.Context, env *Env, in *inputFlags, asOf time.Time) (*features.Log, features.ReadStats, error) {
	src, err := openEvents(ctx, env, in, asOf)
	if err != nil {
		return nil, features.ReadStats{}, err
	}
	defer src.Close()
	var log features.Log
	var rejected rejectCounter
	if err := src.each(func(e *features.Event) error { return rejected.note(log.Append(e)) }); err != nil {
		return nil, features.ReadStats{}, err
	}
	rejected.report(env)
	return &log, src.Stats(), nil
}

// trainFlagMap returns the flags that shape a run, by name, as set or
// defaulted; paths of outputs and logging flags are left out so that the
// report does not depend on where it is written.
func trainFlagMap(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "store", "report-dir", "log-format", "log-level", "no-activate":
			return
		}
		m[f.Name] = f.Value.String()
	})
	return m
}

// fingerprint hashes the input file names and sizes and the flags.
func fingerprint(files []string, flags map[string]string) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "file %q", filepath.Base(f))
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, " %d", fi.Size())
		}
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\x00", k, flags[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// writeFile writes data to path atomically (temporary file, then rename).
func writeFile(path string, data []byte, stdout io.Writer) error {
	o, err := createOutput(path, stdout)
	if err != nil {
		return err
	}
	defer o.Abort()
	if _, err := o.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return o.Commit()
}
