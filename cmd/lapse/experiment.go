package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
	"github.com/lapse-dev/lapse/serving"
)

func init() {
	register(experimentCreateCommand)
	register(experimentListCommand)
	register(experimentShowCommand)
	register(experimentStopCommand)
	register(experimentGlobalControlCommand)
	register(experimentPlanCommand)
}

var experimentCreateCommand = &Command{
	Name:     "experiment create",
	Summary:  "create a campaign experiment: target users from the stored scores and hold out a random control group",
	Synopsis: "experiment create --store lapse.db --name NAME (--segment FAMILY/NAME | --risk-band BAND | --min-churn P | --users FILE)\n    [--holdout 0.1] [--stratify risk_band] [--start T] [--salt S] --out assignments.csv",
	Description: `Selects the targeted users from the active model's stored scores (a segment
such as lifecycle_stage/at-risk, a risk band, a minimum churn probability, or
a file of user ids), leaves out suppressed users (opted out, the global
control group, control users of active experiments), and assigns each of the
others to treatment or control by a keyed hash (HMAC-SHA256) of the name, the
salt and the user id: the same user always lands in the same group, and two
experiments split independently. --stratify gives every stratum (e.g. each
risk band) exactly the holdout share of control users. The experiment is
stored with each user's scores at assignment time and never changes
membership; while active, its control users are left out of segment and
treatment exports. Writes assignments.csv (user_id,group, group treatment or
control) and prints a summary.

Segment families: risk_band, segment, rfm_segment, lifecycle_stage,
usage_tier. A --users file is one id per line, or a CSV with a user_id column.
Outcomes are measured from the first UTC midnight at or after --start.`,
	Examples: []string{
		"lapse experiment create --store lapse.db --name winback-june --segment lifecycle_stage/at-risk --holdout 0.1 --start 2025-06-01 --out assignments.csv",
		"lapse experiment create --store lapse.db --name high-risk-call --risk-band high --stratify segment --holdout 0.2 --out call-list.csv",
	},
	Setup: setupExperimentCreate,
}

// optFloat is a float flag that knows whether it was set.
type optFloat struct {
	v   float64
	set bool
}

func (f *optFloat) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.v, 'g', -1, 64)
}

// Set parses a finite number.
func (f *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("want a number, got %q", s)
	}
	f.v, f.set = v, true
	return nil
}

// targetFlags are the targeting rule flags of create and plan.
type targetFlags struct {
	segment, riskBand, users string
	minChurn                 optFloat
}

func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	t := &targetFlags{}
	fs.StringVar(&t.segment, "segment", "", "target one segment of the stored scores: `FAMILY/NAME`, e.g. lifecycle_stage/at-risk or rfm_segment/\"At risk\"")
	fs.StringVar(&t.riskBand, "risk-band", "", "target a risk `band`: high, medium or low")
	fs.Var(&t.minChurn, "min-churn", "target users whose stored churn probability is at least `P`")
	fs.StringVar(&t.users, "users", "", "target the user ids in `FILE` (one per line, or a CSV with a user_id column; - for stdin)")
	return t
}

// any reports whether a rule was given.
func (t *targetFlags) any() bool {
	return t.segment != "" || t.riskBand != "" || t.minChurn.set || t.users != ""
}

// fill sets the rule of req, reading the users file.
func (t *targetFlags) fill(env *Env, req *serving.ExperimentRequest) error {
	req.Segment, req.RiskBand = t.segment, t.riskBand
	if t.minChurn.set {
		v := t.minChurn.v
		req.MinChurn = &v
	}
	if t.users == "" {
		return nil
	}
	var r io.Reader = env.Stdin
	name := "stdin"
	if t.users != "-" {
		f, err := os.Open(t.users)
		if err != nil {
			return fmt.Errorf("--users: %w", err)
		}
		defer f.Close()
		r, name = f, t.users
	}
	ids, err := readUserIDs(r, name)
	if err != nil {
		return &usageError{fmt.Errorf("--users: %w", err)}
	}
	req.Users, req.UsersSource = ids, name
	return nil
}

// flagNames renames the request fields in serving's messages to flags;
// at one position the first (longest) pattern wins.
var flagNames = strings.NewReplacer(
	"(segment, risk_band, min_churn or users)", "(--segment, --risk-band, --min-churn or --users)",
	"risk_band ", "--risk-band ", "min_churn ", "--min-churn ", "users:", "--users:", "users[", "--users[",
	"segment ", "--segment ", "holdout ", "--holdout ", "stratify ", "--stratify ", "name \"", "--name \"",
	"salt:", "--salt:", "start ", "--start ")

// requestError turns the validation error of a request into a usage
// error that names flags rather than JSON fields.
func requestError(err error) error {
	var e *serving.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := flagNames.Replace(e.Message)
	if e.Code == serving.CodeInvalid {
		return &usageError{errors.New(msg)}
	}
	return errors.New(msg)
}

// serviceError strips the API error code from an error of package serving.
func serviceError(err error) error {
	var e *serving.Error
	if errors.As(err, &e) {
		return errors.New(e.Message)
	}
	return err
}

func setupExperimentCreate(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	path := fs.String("store", "", "store `file` with the active model's scores (required)")
	name := fs.String("name", "", "experiment `name`: letters, digits, '-', '_', '.'; part of the assignment key (required)")
	tf := addTargetFlags(fs)
	holdout := fs.Float64("holdout", serving.DefaultHoldout, "control `share` in (0, 1)")
	stratify := fs.String("stratify", "", "equal control share within each stratum of this `attribute`: risk_band, segment, rfm_segment, lifecycle_stage or usage_tier (default plain hash assignment)")
	var start time.Time
	fs.Var(timeFlag{&start}, "start", "campaign start `T`: a date or RFC 3339 time; outcomes count from the first UTC midnight at or after it (default now)")
	salt := fs.String("salt", "", "`salt` mixed into the assignment key with the name")
	out := fs.String("out", "", "assignments `file` (user_id,group CSV; .gz compresses; - for stdout) (required)")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *path == "" || *name == "" || *out == "" {
			return usagef("--store, --name and --out are required")
		}
		req := &serving.ExperimentRequest{Name: *name, Salt: *salt, Holdout: holdout, Stratify: *stratify}
		if !start.IsZero() {
			req.Start = &start
		}
		if err := tf.fill(env, req); err != nil {
			return err
		}
		if err := req.Validate(); err != nil {
			return requestError(err)
		}
		st, err := openExperimentStore(*path, false)
		if err != nil {
			return err
		}
		defer st.Close()
		o, err := createOutput(*out, env.Stdout)
		if err != nil {
			return err
		}
		defer o.Abort()
		res, as, err := serving.CreateExperiment(ctx, st, req, time.Now())
		if err != nil {
			return serviceError(err)
		}
		w := csv.NewWriter(o)
		w.Write([]string{"user_id", "group"})
		for i := range as {
			w.Write([]string{as[i].UserID, string(as[i].Group)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
		if err := o.Commit(); err != nil {
			return err
		}
		summary := env.Stdout
		if *out == "-" {
			summary = env.Stderr
		}
		e := &res.Experiment
		fmt.Fprintf(summary, "experiment %s created on model %s: %s targeted", e.Name, e.ModelVersion, thousands(res.Targeted))
		if res.Suppressed > 0 {
			fmt.Fprintf(summary, ", %s suppressed (opted out, global control or control of an active experiment)", thousands(res.Suppressed))
		}
		if res.Unscored > 0 {
			fmt.Fprintf(summary, ", %s without a stored score", thousands(res.Unscored))
		}
		if res.Duplicates > 0 {
			fmt.Fprintf(summary, ", %s duplicate ids dropped", thousands(res.Duplicates))
		}
		fmt.Fprintf(summary, "\n  %s treatment, %s control (holdout %s%s); outcomes count from %s\n  assignments: %s\n",
			thousands(e.Treatment), thousands(e.Control), pct(e.Holdout), stratText(e), windowStart(e.Start), *out)
		return nil
	}
}

func stratText(e *lift.Experiment) string {
	if e.Stratify == "" {
		return ""
	}
	return ", stratified by " + e.Stratify
}

// windowStart is the first day outcomes count from.
func windowStart(start time.Time) string {
	w, err := features.NewOutcomeWindow(start, 1)
	if err != nil {
		return start.UTC().Format(time.RFC3339)
	}
	return w.First().Format(time.DateOnly)
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(max(n, -n))
	var b strings.Builder
	if n < 0 {
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

// pct formats a share as a percentage with one decimal.
func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

// targetDescription describes a stored targeting rule.
func targetDescription(t *lift.Target) string {
	switch {
	case t.Segment != "":
		return "segment " + t.Segment
	case t.RiskBand != "":
		return "risk band " + t.RiskBand
	case t.MinChurn != nil:
		return "churn >= " + strconv.FormatFloat(*t.MinChurn, 'g', -1, 64)
	case t.Users != "":
		return "users from " + t.Users
	}
	return "?"
}

// positionals parses flags that follow positional arguments, as in
// `lapse experiment show NAME --store S`, and returns the positionals.
func positionals(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if a := args[0]; a == "-" || !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{err}
		}
		args = fs.Args()
	}
	return pos, nil
}

// oneName returns the single positional experiment name.
func oneName(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := positionals(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("want one experiment NAME, got %d arguments", len(pos))
	}
	if err := lift.CheckName(pos[0]); err != nil {
		return "", &usageError{errors.New(strings.TrimPrefix(err.Error(), "lift: "))}
	}
	return pos[0], nil
}

// loadExperiment opens the store and reads one experiment.
func loadExperiment(ctx context.Context, path, name string, readOnly bool) (experimentStore, *lift.Experiment, error) {
	st, err := openExperimentStore(path, readOnly)
	if err != nil {
		return nil, nil, err
	}
	exp, err := st.Experiment(ctx, name)
	if err == nil && exp == nil {
		err = fmt.Errorf("no experiment %q in %s (lapse experiment list --store %s)", name, path, path)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, exp, nil
}

var experimentListCommand = &Command{
	Name:     "experiment list",
	Summary:  "list the stored experiments",
	Synopsis: "experiment list --store lapse.db",
	Description: `One line per experiment, by name: start, targeting rule, holdout, group
sizes, whether it is active (its control users suppressed from exports) and
the model whose scores it targeted.`,
	Examples: []string{"lapse experiment list --store lapse.db"},
	Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
		path := fs.String("store", "", "store `file` (required)")
		return func(ctx context.Context, env *Env, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			if *path == "" {
				return usagef("--store is required")
			}
			st, err := openExperimentStore(*path, true)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.ListExperiments(ctx)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(env.Stdout, "no experiments yet: lapse experiment create")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTART\tTARGET\tHOLDOUT\tTREATMENT\tCONTROL\tACTIVE\tMODEL")
			for _, e := range list {
				act := "no"
				if e.Active {
					act = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.Name, e.Start.UTC().Format("2006-01-02 15:04Z"),
					targetDescription(&e.Target), pct(e.Holdout), e.Treatment, e.Control, act, e.ModelVersion)
			}
			return tw.Flush()
		}
	},
}

var experimentShowCommand = &Command{
	Name:     "experiment show",
	Summary:  "show one experiment, its group sizes by stratum, and optionally export its assignments",
	Synopsis: "experiment show NAME --store lapse.db [--assignments FILE [--group all|treatment|control]]",
	Description: `Prints the experiment's rule, key, start, model and group sizes, with the
sizes per risk band (and per stratum when stratified) at assignment time.
--assignments writes user_id,group rows: all (the stored membership),
treatment (the send list: treatment users that are not suppressed now, i.e.
not opted out since, not in the global control group, not held out by
another active experiment) or control.`,
	Examples: []string{
		"lapse experiment show winback-june --store lapse.db",
		"lapse experiment show winback-june --store lapse.db --assignments send.csv --group treatment",
	},
	Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
		path := fs.String("store", "", "store `file` (required)")
		out := fs.String("assignments", "", "write the assignments to `file` (- for stdout)")
		group := fs.String("group", "all", "assignments to write: `group` all, treatment (without suppressed users) or control")
		return func(ctx context.Context, env *Env, args []string) error {
			name, err := oneName(fs, args)
			if err != nil {
				return err
			}
			if *path == "" {
				return usagef("--store is required")
			}
			if *group != "all" && *group != string(lift.Treatment) && *group != string(lift.Control) {
				return usagef("--group %q: want all, treatment or control", *group)
			}
			st, exp, err := loadExperiment(ctx, *path, name, true)
			if err != nil {
				return err
			}
			defer st.Close()
			as, err := assignmentsOf(ctx, st, name)
			if err != nil {
				return err
			}
			info := env.Stdout
			if *out == "-" {
				info = env.Stderr
			}
			if err := writeExperimentText(info, exp, as); err != nil {
				return err
			}
			if *out == "" {
				return nil
			}
			return writeAssignments(ctx, st, as, *group, *out, env.Stdout)
		}
	},
}

// assignmentsOf copies an experiment's assignments out of the store.
func assignmentsOf(ctx context.Context, st experimentStore, name string) ([]lift.Assignment, error) {
	var as []lift.Assignment
	err := st.EachAssignment(ctx, name, func(a *lift.Assignment) error {
		as = append(as, *a)
		return nil
	})
	return as, err
}

// writeExperimentText prints an experiment for lapse experiment show.
func writeExperimentText(w io.Writer, e *lift.Experiment, as []lift.Assignment) error {
	state := "active: its control users are suppressed from exports"
	if !e.Active {
		state = "stopped: its control users are no longer suppressed"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "experiment\t%s (%s)\n", e.Name, state)
	fmt.Fprintf(tw, "target\t%s\n", targetDescription(&e.Target))
	fmt.Fprintf(tw, "model\t%s (scores at assignment time are stored per user)\n", e.ModelVersion)
	fmt.Fprintf(tw, "holdout\t%s%s; key: name %q, salt %q\n", pct(e.Holdout), stratText(e), e.Name, e.Salt)
	fmt.Fprintf(tw, "start\t%s (outcomes count from %s)\n", e.Start.UTC().Format(time.RFC3339), windowStart(e.Start))
	fmt.Fprintf(tw, "created\t%s\n", e.CreatedAt.UTC().Format(time.RFC3339))
	if e.TargetEvent != "" {
		fmt.Fprintf(tw, "conversion\ta %s event\n", e.TargetEvent)
	}
	fmt.Fprintf(tw, "groups\t%s treatment, %s control\n", thousands(e.Treatment), thousands(e.Control))
	if err := tw.Flush(); err != nil {
		return err
	}
	attrs := []string{"risk_band"}
	if e.Stratify != "" && e.Stratify != "risk_band" {
		attrs = append(attrs, e.Stratify)
	}
	for _, attr := range attrs {
		counts := map[string]*[2]int{}
		var keys []string
		for i := range as {
			v, _ := as[i].Attribute(attr)
			c := counts[v]
			if c == nil {
				c = new([2]int)
				counts[v] = c
				keys = append(keys, v)
			}
			if as[i].Group == lift.Control {
				c[1]++
			} else {
				c[0]++
			}
		}
		sortBands(keys)
		fmt.Fprintf(w, "\nby %s at assignment:\n", attr)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\ttreatment\tcontrol\tcontrol share\t")
		for _, k := range keys {
			c := counts[k]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", k, c[0], c[1], pct(float64(c[1])/float64(c[0]+c[1])))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// sortBands sorts attribute values, risk bands in their natural order.
func sortBands(keys []string) {
	rank := map[string]int{"high": 0, "medium": 1, "low": 2}
	less := func(a, b string) bool {
		ra, oka := rank[a]
		rb, okb := rank[b]
		switch {
		case oka && okb:
			return ra < rb
		case oka != okb:
			return oka
		}
		return a < b
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

// writeAssignments writes the rows of one group (treatment leaves out
// the users suppressed now) as user_id,group CSV.
func writeAssignments(ctx context.Context, st experimentStore, as []lift.Assignment, group, path string, stdout io.Writer) error {
	var rows []lift.Assignment
	for i := range as {
		if group == "all" || string(as[i].Group) == group {
			rows = append(rows, as[i])
		}
	}
	if group == string(lift.Treatment) {
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].UserID
		}
		sup := make([]bool, len(ids))
		if len(ids) > 0 {
			if err := st.Suppressed(ctx, ids, sup); err != nil {
				return err
			}
		}
		keep := rows[:0]
		for i := range rows {
			if !sup[i] {
				keep = append(keep, rows[i])
			}
		}
		rows = keep
	}
	o, err := createOutput(path, stdout)
	if err != nil {
		return err
	}
	defer o.Abort()
	w := csv.NewWriter(o)
	w.Write([]string{"user_id", "group"})
	for i := range rows {
		w.Write([]string{rows[i].UserID, string(rows[i].Group)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return o.Commit()
}

var experimentStopCommand = &Command{
	Name:     "experiment stop",
	Summary:  "stop an experiment: its control users are no longer suppressed",
	Synopsis: "experiment stop NAME --store lapse.db",
	Description: `Marks the experiment inactive. Its assignments stay stored and it can still
be measured with lapse lift; its control users return to segment and
treatment exports. (With lapse serve running, use POST
/v1/experiments/{name}/stop instead: the store has one writer.)`,
	Examples: []string{"lapse experiment stop winback-june --store lapse.db"},
	Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
		path := fs.String("store", "", "store `file` (required)")
		return func(ctx context.Context, env *Env, args []string) error {
			name, err := oneName(fs, args)
			if err != nil {
				return err
			}
			if *path == "" {
				return usagef("--store is required")
			}
			st, exp, err := loadExperiment(ctx, *path, name, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if !exp.Active {
				fmt.Fprintf(env.Stdout, "experiment %s was already stopped\n", name)
				return nil
			}
			if err := st.SetExperimentActive(ctx, name, false); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "experiment %s stopped: its %s control users are no longer suppressed\n", name, thousands(exp.Control))
			return nil
		}
	},
}

var experimentGlobalControlCommand = &Command{
	Name:     "experiment global-control",
	Summary:  "set, show or remove the global control group held out of every campaign export",
	Synopsis: "experiment global-control --store lapse.db [--share 0.05 [--salt S] | --remove]",
	Description: `The global control group is a stable share of all users, chosen by a keyed
hash of the salt and the user id (independent of every experiment's split),
that segment and treatment exports always leave out, so that the long-run
effect of all campaigns together can be measured. New experiments leave its
members out too. Raising the share with the same salt only adds users.
Without --share or --remove, prints the current group and how many of the
active model's scored users it holds.`,
	Examples: []string{
		"lapse experiment global-control --store lapse.db --share 0.05",
		"lapse experiment global-control --store lapse.db",
	},
	Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
		path := fs.String("store", "", "store `file` (required)")
		var share optFloat
		fs.Var(&share, "share", "held-out `share` of all users, in [0, 1] (0 removes the group)")
		salt := fs.String("salt", "", "`salt` of the hash (default: the current group's salt, else none)")
		remove := fs.Bool("remove", false, "remove the global control group")
		return func(ctx context.Context, env *Env, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			if *path == "" {
				return usagef("--store is required")
			}
			if *remove && share.set {
				return usagef("--remove and --share exclude each other")
			}
			if share.set {
				if err := lift.CheckShare("--share", share.v); err != nil {
					return &usageError{errors.New(strings.TrimPrefix(err.Error(), "lift: "))}
				}
			}
			write := *remove || share.set
			st, err := openExperimentStore(*path, !write)
			if err != nil {
				return err
			}
			defer st.Close()
			g, err := st.GlobalControl(ctx)
			if err != nil {
				return err
			}
			switch {
			case *remove || (share.set && share.v == 0):
				if err := st.SetGlobalControl(ctx, nil); err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, "global control group removed: its users are no longer suppressed")
				return nil
			case share.set:
				s := *salt
				if g != nil && !flagSet(fs, "salt") {
					s = g.Salt
				}
				g = &lift.GlobalControl{Share: share.v, Salt: s, CreatedAt: time.Now().UTC()}
				if err := st.SetGlobalControl(ctx, g); err != nil {
					return err
				}
			}
			if g == nil {
				fmt.Fprintln(env.Stdout, "no global control group (set one with --share 0.05)")
				return nil
			}
			fmt.Fprintf(env.Stdout, "global control group: %s of all users (salt %q, set %s)\n", pct(g.Share), g.Salt,
				g.CreatedAt.UTC().Format(time.RFC3339))
			m, err := st.ActiveModel(ctx)
			if err != nil || m == nil {
				return err
			}
			in, n := 0, 0
			a := lift.NewGlobalControl(g.Salt)
			err = st.EachScore(ctx, m.Version, "", func(id string, _ *model.Prediction) error {
				n++
				if a.Unit(id) < g.Share {
					in++
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "it holds %s of the %s users scored by model %s (%s)\n", thousands(in), thousands(n), m.Version,
				pct(float64(in)/float64(max(n, 1))))
			return nil
		}
	},
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

var experimentPlanCommand = &Command{
	Name:     "experiment plan",
	Summary:  "users needed per group, and the holdout share a targeted segment's size allows",
	Synopsis: "experiment plan --mde 0.02 [--baseline 0.35] [--power 0.8] [--alpha 0.05]\n    [--store lapse.db (--segment FAMILY/NAME | --risk-band BAND | --min-churn P | --users FILE) | --size N] [--json]",
	Description: `Sample size for a two-sided two-proportion z-test (pooled variance under the
null hypothesis): the users needed per group to detect an absolute change of
--mde (0.02 = two points, negative for a drop) from the --baseline rate with
the given power. With a segment (its size after suppression, from the store)
or --size, also the smallest control share of that segment that reaches the
power, or, when even a 50/50 split is too small, the change a 50/50 split can
detect. Without --baseline, a segment's baseline is its predicted retention:
the mean of 1 - churn probability over its users.`,
	Examples: []string{
		"lapse experiment plan --baseline 0.35 --mde 0.02",
		"lapse experiment plan --store lapse.db --segment lifecycle_stage/at-risk --mde 0.03",
	},
	Setup: setupExperimentPlan,
}

func setupExperimentPlan(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	var baseline, mde optFloat
	fs.Var(&baseline, "baseline", "control `rate` expected without the campaign, in (0, 1) (default for a segment: its mean 1 - churn probability; else required)")
	fs.Var(&mde, "mde", "smallest absolute `change` worth detecting, e.g. 0.02 for two points (required)")
	power := fs.Float64("power", lift.DefaultPower, "`power` wanted")
	alpha := fs.Float64("alpha", lift.DefaultAlpha, "two-sided significance `level`")
	path := fs.String("store", "", "store `file` to size the targeted segment from")
	tf := addTargetFlags(fs)
	size := fs.Int("size", 0, "targeted segment size in `users`, instead of --store and a rule")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if !mde.set {
			return usagef("--mde is required")
		}
		if (*path != "") != tf.any() {
			return usagef("--store and a targeting rule (--segment, --risk-band, --min-churn or --users) go together")
		}
		if *size != 0 && *path != "" {
			return usagef("--size and --store exclude each other")
		}
		if *size < 0 {
			return usagef("--size %d: want a positive number of users", *size)
		}
		out := planOutput{MDE: mde.v, Power: *power, Alpha: *alpha, Segment: *size}
		if *path != "" {
			req := &serving.ExperimentRequest{Name: "plan"}
			if err := tf.fill(env, req); err != nil {
				return err
			}
			if err := req.Validate(); err != nil {
				return requestError(err)
			}
			st, err := openExperimentStore(*path, true)
			if err != nil {
				return err
			}
			defer st.Close()
			sel, err := serving.SelectUsers(ctx, st, req)
			if err != nil {
				return serviceError(err)
			}
			out.Target = targetDescription(&sel.Target)
			out.Segment = len(sel.Users)
			out.Suppressed = sel.Suppressed
			var sum float64
			n := 0
			for _, a := range sel.Users {
				if a.Scored {
					sum += 1 - a.ChurnProbability
					n++
				}
			}
			if !baseline.set {
				if n == 0 {
					return usagef("--baseline is required: the targeted users have no stored scores")
				}
				baseline.v, baseline.set = sum/float64(n), true
				out.BaselineFrom = "mean predicted retention (1 - churn probability) of the targeted users"
			}
		}
		if !baseline.set {
			return usagef("--baseline is required without a segment from --store")
		}
		out.Baseline = baseline.v
		perGroup, err := lift.SampleSize(baseline.v, mde.v, *power, *alpha)
		if err != nil {
			return &usageError{errors.New(strings.TrimPrefix(err.Error(), "lift: "))}
		}
		out.PerGroup = perGroup
		if out.Segment > 0 {
			p, err := lift.PlanHoldout(out.Segment, baseline.v, mde.v, *power, *alpha)
			if err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), "lift: "))
			}
			out.Plan = &p
		}
		if *asJSON {
			return writeJSONTo(env.Stdout, out)
		}
		return out.writeText(env.Stdout)
	}
}

// planOutput is lapse experiment plan's result; --json prints it.
type planOutput struct {
	Baseline     float64           `json:"baseline"`
	BaselineFrom string            `json:"baseline_from,omitempty"`
	MDE          float64           `json:"mde"`
	Power        float64           `json:"power"`
	Alpha        float64           `json:"alpha"`
	PerGroup     int               `json:"per_group"`
	Target       string            `json:"target,omitempty"`
	Segment      int               `json:"segment,omitempty"`
	Suppressed   int               `json:"suppressed,omitempty"`
	Plan         *lift.HoldoutPlan `json:"plan,omitempty"`
}

func (o *planOutput) writeText(w io.Writer) error {
	var b strings.Builder
	pts := func(x float64) string { return fmt.Sprintf("%+.1f points", 100*x) }
	fmt.Fprintf(&b, "To detect %s on a baseline of %s (two-sided alpha %g, power %s):\n", pts(o.MDE), pct(o.Baseline), o.Alpha, pct(o.Power))
	if o.BaselineFrom != "" {
		fmt.Fprintf(&b, "  (baseline: %s)\n", o.BaselineFrom)
	}
	fmt.Fprintf(&b, "  %s users per group (%s in a 50/50 split).\n", thousands(o.PerGroup), thousands(2*o.PerGroup))
	if p := o.Plan; p != nil {
		what := "The targeted segment"
		if o.Target != "" {
			what += " (" + o.Target + ")"
		}
		fmt.Fprintf(&b, "%s has %s users", what, thousands(p.Segment))
		if o.Suppressed > 0 {
			fmt.Fprintf(&b, " after suppression (%s suppressed)", thousands(o.Suppressed))
		}
		b.WriteString(":\n")
		if p.Feasible {
			fmt.Fprintf(&b, "  hold out %s: %s control, %s treatment, power %s.\n", pct(p.Holdout), thousands(p.Control), thousands(p.Treatment), pct(p.Power))
			fmt.Fprintf(&b, "  (round the share up a little: hash assignment varies the control size around it; or use --stratify)\n")
		} else {
			fmt.Fprintf(&b, "  too small: even a 50/50 split (%s and %s) has power %s for %s;", thousands(p.Control), thousands(p.Treatment), pct(p.Power), pts(o.MDE))
			if math.IsNaN(p.DetectableMDE) {
				b.WriteString(" no change is detectable with that power.\n")
			} else {
				fmt.Fprintf(&b, " it detects %s with power %s.\n", pts(p.DetectableMDE), pct(o.Power))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
