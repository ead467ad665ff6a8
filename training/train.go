package training

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// Errors returned by Train.
var (
	// ErrNotEnoughData means the data cannot support an honest model: too
	// few eligible users, too few positives or negatives, a horizon the
	// data cannot cover, or no snapshot before the out-of-time cutoff. Train
	// returns a *DataError that wraps it and says what is missing.
	ErrNotEnoughData = errors.New("training: not enough data")
	// ErrTrainConfig means a Config field is out of range; the wrapping
	// error lists every bad field.
	ErrTrainConfig = errors.New("training: invalid train config")
)

// DataError is the error Train returns when a data check fails. It wraps
// ErrNotEnoughData.
type DataError struct {
	// Check names the failed check: "users", "classes", "horizon",
	// "snapshots" or "events".
	Check string
	// Problems says, one line each, what is missing and what would fix it.
	Problems []string
}

// Error returns "training: not enough data: <problems joined by "; ">".
func (e *DataError) Error() string {
	return ErrNotEnoughData.Error() + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns ErrNotEnoughData.
func (e *DataError) Unwrap() error { return ErrNotEnoughData }

func dataErr(check string, format string, args ...any) *DataError {
	return &DataError{Check: check, Problems: []string{fmt.Sprintf(format, args...)}}
}

// Defaults of Config. They follow the published minimums of comparable
// products: GA4's predictive audiences need 1,000 positive and 1,000
// negative examples, Klaviyo's predictive analytics 500 customers with
// orders and 180 days of history; lapse fails on less than half of GA4's
// class rule by default and lets the user lower it for small tests.
const (
	// DefaultSnapshots is the number of fitting snapshots before T1.
	DefaultSnapshots = 3
	// DefaultMinUsers is the minimum number of eligible users at T1.
	DefaultMinUsers = 500
	// DefaultMinClass is the minimum number of positives and of negatives
	// in the fitting rows and in each evaluation set.
	DefaultMinClass = 50
	// DefaultMaxFitRows caps the rows a classifier is fitted on; larger
	// fitting sets are subsampled by user hash (deterministic). Past a few
	// hundred thousand rows the out-of-time AUC of either kind changes in
	// the third decimal while the fitting time keeps growing linearly.
	DefaultMaxFitRows = 200_000
)

// Config configures Train. A nil *Config means DefaultConfig(), which still
// needs a Horizon; zero fields mean their defaults.
type Config struct {
	// AsOf is T, the cutoff of the stored scores. Zero means the midnight
	// (UTC) after the last event. Events at or after T are never read.
	AsOf time.Time
	// Horizon is H, the label horizon (required, whole days).
	Horizon time.Duration
	// Snapshots is the number of fitting snapshots before T1 = T − H, at
	// T1 − H, T1 − 2H, ...; fewer are used when the data does not reach
	// back (a snapshot at c needs events from c − H on). Zero means
	// DefaultSnapshots.
	Snapshots int
	// Spec is the feature spec template (windows, event lists, vocabulary
	// size, eligibility). Its vocabulary and intent families are learned
	// from the events before T1 and the learned Spec is used for every
	// snapshot and for scoring. Nil means features.DefaultSpec().
	Spec *features.Spec
	// Seed seeds every random choice: user roles, GBDT binning, k-means,
	// the anomaly screen.
	Seed uint64
	// K is the number of behavioural clusters; zero means chosen
	// automatically (2..10 by silhouette).
	K int
	// MinUsers is the minimum number of eligible users at T1; zero means
	// DefaultMinUsers, a negative value means no minimum.
	MinUsers int
	// MinClass is the minimum number of positives and of negatives per
	// fitting and evaluation set; zero means DefaultMinClass, negative none.
	MinClass int
	// MaxFitRows caps the rows each classifier is fitted on; zero means
	// DefaultMaxFitRows, negative means no cap. The backtest refits use at
	// most 100,000 rows whatever it is.
	MaxFitRows int
	// MaxEvalRows caps the rows of each evaluation set (out of time,
	// held-out users, each backtest snapshot, the P(alive) ablation's
	// out-of-time rows); larger sets are evaluated on a sample of whole
	// users chosen by a keyed hash of the user id and Seed. Zero means
	// DefaultMaxEvalRows, negative means no cap.
	MaxEvalRows int
	// ExcludeAnomalies drops the users flagged by the anomaly screen from
	// the fitting rows. They are always counted and reported, and always
	// scored.
	ExcludeAnomalies bool
	// GBDT configures the tree ensemble; nil means DefaultGBDTOptions. Its
	// Seed is replaced by Seed.
	GBDT *GBDTOptions
	// L2Grid is the grid of logistic penalties; nil means TrainL2Grid.
	L2Grid []float64
	// Workers is the number of goroutines; zero means GOMAXPROCS.
	Workers int
	// Progress receives one line per long step; nil means none.
	Progress io.Writer
	// Now returns the creation time stamped on the model; nil means
	// time.Now. It is the only wall-clock input.
	Now func() time.Time
	// States makes Train return every scored user's features.State as of
	// T in Result.States (the serving layer needs them to add live
	// events), taken from the scoring snapshot's build.
	States bool
	// DataFingerprint identifies the input (files, sizes, flags); it is
	// stored in the model and the report as given.
	DataFingerprint string
	// CustomerValue sets the BG/NBD time unit, the CLV horizon and discount
	// and the fits' options of the customer-value part; nil means the
	// defaults (weeks, 12 months at 1% a month). Its PurchaseEvents,
	// Horizon and Workers are replaced by the Spec's purchase events, H and
	// Workers.
	CustomerValue *CustomerValueOptions
}

// DefaultConfig returns a fresh Config with every default filled in except
// Horizon.
func DefaultConfig() *Config {
	return &Config{
		Snapshots:   DefaultSnapshots,
		Spec:        features.DefaultSpec(),
		MinUsers:    DefaultMinUsers,
		MinClass:    DefaultMinClass,
		MaxFitRows:  DefaultMaxFitRows,
		MaxEvalRows: DefaultMaxEvalRows,
		Workers:     runtime.GOMAXPROCS(0),
	}
}

// withDefaults returns a copy of c with zero fields replaced.
func (c *Config) withDefaults() Config {
	d := DefaultConfig()
	if c == nil {
		return *d
	}
	o := *c
	if o.Snapshots == 0 {
		o.Snapshots = d.Snapshots
	}
	if o.Spec == nil {
		o.Spec = d.Spec
	}
	if o.MinUsers == 0 {
		o.MinUsers = d.MinUsers
	}
	if o.MinClass == 0 {
		o.MinClass = d.MinClass
	}
	if o.MaxFitRows == 0 {
		o.MaxFitRows = d.MaxFitRows
	}
	if o.MaxEvalRows == 0 {
		o.MaxEvalRows = d.MaxEvalRows
	}
	if o.Workers <= 0 {
		o.Workers = d.Workers
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports every bad field, wrapped around ErrTrainConfig.
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("%w: horizon is required", ErrTrainConfig)
	}
	var bad []string
	if c.Horizon <= 0 || c.Horizon%(24*time.Hour) != 0 {
		bad = append(bad, fmt.Sprintf("horizon %v: want a positive whole number of days", c.Horizon))
	}
	if c.Snapshots < 0 {
		bad = append(bad, fmt.Sprintf("snapshots %d: want >= 1 (0 = default)", c.Snapshots))
	}
	if c.K < 0 || c.K == 1 || c.K > 50 {
		bad = append(bad, fmt.Sprintf("k %d: want 0 (auto) or 2..50", c.K))
	}
	if c.Spec != nil {
		s := c.Spec.Clone()
		s.Derive()
		if err := s.Validate(); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if err := c.GBDT.Validate(); err != nil {
		bad = append(bad, err.Error())
	}
	if v := c.CustomerValue; v != nil {
		if v.Unit != "" {
			if _, err := v.Unit.Days(); err != nil {
				bad = append(bad, err.Error())
			}
		}
		if err := v.CLV.Validate(); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrTrainConfig, strings.Join(bad, "; "))
}

// Result is what Train produces.
type Result struct {
	// Model is the production model: fitted on every snapshot through T1,
	// prepared, with its version set.
	Model *model.Model
	// Report is the evaluation report (see docs/report-schema.md).
	Report *Report
	// Scores holds one prediction per user eligible at T, by user id.
	Scores []UserScore
	// States holds the features.State as of T of each scored user, by user
	// id; nil unless Config.States was set.
	States []UserState
}

// UserScore is one user's prediction as of T.
type UserScore struct {
	UserID     string
	Prediction model.Prediction
}

// UserState is one user's point-in-time state as of T.
type UserState struct {
	UserID string
	State  *features.State
}

// Targets.
const (
	targetChurn      = "churn"
	targetPropensity = "propensity"
)

// trainer carries one Train run.
type trainer struct {
	cfg      Config
	log      *features.Log
	asOf     time.Time
	t1       time.Time
	spec     *features.Spec
	names    []string
	kinds    []string
	snaps    []*snapshot // oldest first; the last is T1 (the OOT holdout)
	fitting  []int       // indices of the snapshots before T1
	oot      int         // index of the T1 snapshot
	excluded map[string]bool
	rep      *Report
	step     int
	// purchasers are the purchase histories before T (fitValue), which
	// customersBefore cuts at earlier cutoffs.
	purchasers []BTYDCustomer
	// sets holds the row sets both targets use, by name (rowSet).
	sets map[string]*cachedRows
	// mu guards sets and progress while the targets run side by side.
	mu sync.Mutex
}

// rowSet returns the row set named key, building it from refs the first
// time: the churn and propensity models are fitted and evaluated on the
// same rows.
func (tr *trainer) rowSet(key string, refs func() []rowRef) *rowSet {
	return tr.cachedSet(key, func() *rowSet { return rowsOf(tr.snaps, refs(), tr.cfg.Workers) })
}

// evalSet is rowSet for an evaluation set: the rows all returns, sampled by
// evalRefs, with total set to their number before sampling.
func (tr *trainer) evalSet(key string, all func() []rowRef) *rowSet {
	return tr.cachedSet(key, func() *rowSet {
		refs := all()
		r := rowsOf(tr.snaps, tr.evalRefs(refs), tr.cfg.Workers)
		r.total = len(refs)
		return r
	})
}

// cachedSet returns the row set named key, built once by build even when
// both targets ask at the same time.
func (tr *trainer) cachedSet(key string, build func() *rowSet) *rowSet {
	tr.mu.Lock()
	if tr.sets == nil {
		tr.sets = map[string]*cachedRows{}
	}
	e := tr.sets[key]
	if e == nil {
		e = &cachedRows{}
		tr.sets[key] = e
	}
	tr.mu.Unlock()
	e.once.Do(func() { e.rows = build() })
	return e.rows
}

// cachedRows is one entry of trainer.sets.
type cachedRows struct {
	once sync.Once
	rows *rowSet
}

// progress writes one progress line (safe for concurrent use).
func (tr *trainer) progress(format string, args ...any) {
	if tr.cfg.Progress == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.step++
	fmt.Fprintf(tr.cfg.Progress, "train: "+format+"\n", args...)
}

// Train fits, evaluates and refits the churn and propensity models on the
// events in log, derives the segments, fits the customer-value models
// (BG/NBD and Gamma-Gamma on the purchases before T; a fit that fails is
// reported, not an error), tries P(alive) as a churn feature
// (PAliveAblation), and scores every user eligible at T, with p_alive,
// expected purchases over H and CLV for those who purchased.
//
// Cutoffs: T = cfg.AsOf, T1 = T − H, fitting snapshots at T1 − H,
// T1 − 2H, ... (cfg.Snapshots while the data reaches back). One feature
// Spec, learned from the events before T1, serves every snapshot: the
// vocabulary then never depends on the holdout period, and the scored
// vectors at T have the columns the model was fitted on.
//
// Splits: every user gets a role from a keyed hash of the user id (see
// userRole): 20% are never fitted on (the held-out-user check), 10% tune
// (GBDT early stopping, logistic λ, calibration), 10% select (calibration
// method and classifier kind by log loss), 60% fit. The out-of-time
// holdout is every user of the T1 snapshot, whose labels come from [T1, T).
// After evaluation the chosen kind is refitted with the same
// hyper-parameters on all snapshots through T1 (all roles but tune) and
// recalibrated on the tune users' rows.
//
// Data checks return a *DataError wrapping ErrNotEnoughData.
func Train(ctx context.Context, log *features.Log, cfg *Config) (*Result, error) {
	tr, err := newTrainer(log, cfg)
	if err != nil {
		return nil, err
	}
	if err := tr.cutoffs(); err != nil {
		return nil, err
	}
	if err := tr.buildSnapshots(ctx); err != nil {
		return nil, err
	}
	if err := tr.checkUsers(); err != nil {
		return nil, err
	}
	tr.screenAnomalies()

	// The two targets are fitted side by side (each is a function of the
	// data and seed alone; their checks are recorded in order below), so
	// that one's serial steps overlap the other's parallel ones.
	var churnChecks, propChecks []Check
	var prop *targetOutcome
	var propErr error
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if tr.hasTarget() {
		wg.Go(func() { prop, propErr = tr.target(tctx, targetPropensity, &propChecks) })
	}
	churn, err := tr.target(tctx, targetChurn, &churnChecks)
	if err != nil {
		cancel()
	}
	wg.Wait()
	tr.report().Checks = append(tr.report().Checks, churnChecks...)
	if err != nil {
		return nil, err
	}
	tr.report().Checks = append(tr.report().Checks, propChecks...)
	if tr.hasTarget() {
		var de *DataError
		if errors.As(propErr, &de) {
			tr.note("propensity", "propensity model skipped: %s", strings.Join(de.Problems, "; "))
			prop, propErr = nil, nil
		}
		if propErr != nil {
			return nil, propErr
		}
	} else {
		tr.note("propensity", "propensity model skipped: target event %q does not occur in the data", tr.spec.TargetEvent)
	}
	tr.sets = nil // the row sets are no longer needed
	return tr.finish(ctx, churn, prop)
}

// newTrainer validates cfg and fills in its defaults.
func newTrainer(log *features.Log, cfg *Config) (*trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	c.Spec = c.Spec.Clone()
	if c.GBDT != nil {
		g := *c.GBDT
		c.GBDT = &g
	} else {
		c.GBDT = DefaultGBDTOptions()
	}
	c.GBDT.Seed = c.Seed
	c.GBDT.Workers = c.Workers
	if log == nil || log.Len() == 0 {
		return nil, dataErr("events", "no events were read")
	}
	return &trainer{cfg: c, log: log}, nil
}

// day formats a cutoff as a date, or as RFC 3339 when not at midnight.
func day(t time.Time) string {
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format(time.RFC3339)
}

// note records a warning as a failed, non-fatal check in the report.
func (tr *trainer) note(name, format string, args ...any) {
	tr.report().Checks = append(tr.report().Checks, noteCheck(name, format, args...))
}

// noteCheck is the failed, non-fatal check of a warning.
func noteCheck(name, format string, args ...any) Check {
	return Check{Name: name, Passed: false, Value: "", Need: "", Message: fmt.Sprintf(format, args...)}
}

// report returns the report under construction.
func (tr *trainer) report() *Report {
	if tr.rep == nil {
		tr.rep = &Report{}
	}
	return tr.rep
}

// cutoffs fixes T, T1 and the fitting cutoffs, and checks the horizon.
func (tr *trainer) cutoffs() error {
	c := &tr.cfg
	// Spans count from the start of the first event's UTC day.
	minT := tr.log.MinTime().Truncate(24 * time.Hour)
	tr.asOf = c.AsOf.UTC()
	if tr.asOf.IsZero() {
		tr.asOf = tr.log.MaxTime().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	// The labels at T1 read [T1, T): data that stops well before T would
	// make everyone look churned.
	if last := tr.log.MaxTime(); last.Before(tr.asOf.Add(-24 * time.Hour)) {
		return dataErr("horizon", "as-of %s is %.0f days after the last event (%s): the labels of the out-of-time holdout would treat the missing days as churn; pass an earlier --as-of",
			day(tr.asOf), tr.asOf.Sub(last).Hours()/24, last.Format(time.RFC3339))
	}
	H := c.Horizon
	L := time.Duration(c.Spec.EligibilityDays) * 24 * time.Hour
	hd, ld := int(H/(24*time.Hour)), c.Spec.EligibilityDays
	span := tr.asOf.Sub(minT)
	if !tr.asOf.After(minT) {
		return dataErr("horizon", "as-of %s is not after the first event (%s)", day(tr.asOf), minT.Format(time.RFC3339))
	}
	if span < H+L {
		return dataErr("horizon",
			"the events before %s span %.0f days (from %s) but a %d-day horizon needs at least %d days: %d for the labels of the out-of-time holdout plus the %d-day eligibility window before it; use a shorter --horizon or more history",
			day(tr.asOf), span.Hours()/24, minT.Format("2006-01-02"), hd, hd+ld, hd, ld)
	}
	tr.report().Checks = append(tr.report().Checks, Check{Name: "horizon_covered", Passed: true,
		Value: fmt.Sprintf("%.0f days of events before %s", span.Hours()/24, day(tr.asOf)),
		Need:  fmt.Sprintf(">= %d days (horizon %d + eligibility %d)", hd+ld, hd, ld)})
	tr.t1 = tr.asOf.Add(-H)
	var cuts []time.Time
	for k := 1; k <= c.Snapshots; k++ {
		cut := tr.t1.Add(-time.Duration(k) * H)
		if cut.Add(-H).Before(minT) {
			break
		}
		cuts = append(cuts, cut)
	}
	if len(cuts) == 0 {
		return dataErr("snapshots",
			"no fitting snapshot before the out-of-time cutoff %s: a snapshot at %s needs events from %s on, but the data starts %s; with a %d-day horizon the data must span at least %d days before %s",
			day(tr.t1), day(tr.t1.Add(-H)), day(tr.t1.Add(-2*H)), minT.Format("2006-01-02"), hd, 3*hd, day(tr.asOf))
	}
	slices.Reverse(cuts)
	tr.report().Checks = append(tr.report().Checks, Check{Name: "fitting_snapshots", Passed: true,
		Value: fmt.Sprintf("%d before %s", len(cuts), day(tr.t1)), Need: ">= 1",
		Message: map[bool]string{true: "", false: fmt.Sprintf("%d of the %d asked for: the data does not reach further back", len(cuts), c.Snapshots)}[len(cuts) == c.Snapshots]})
	for _, cut := range cuts {
		tr.snaps = append(tr.snaps, &snapshot{cutoff: cut})
	}
	tr.snaps = append(tr.snaps, &snapshot{cutoff: tr.t1})
	tr.oot = len(tr.snaps) - 1
	for k := range tr.oot {
		tr.fitting = append(tr.fitting, k)
	}
	return nil
}

// buildSnapshots builds T1 first (learning the Spec from the events before
// it), then the fitting snapshots with that Spec.
func (tr *trainer) buildSnapshots(ctx context.Context) error {
	build := func(s *snapshot, spec *features.Spec, learn bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tr.progress("building the snapshot at %s", day(s.cutoff))
		ds, err := tr.log.Build(features.BuilderConfig{
			Cutoff:  s.cutoff,
			Horizon: tr.cfg.Horizon,
			DataEnd: tr.asOf,
			Spec:    spec,
			Learn:   learn,
			Workers: tr.cfg.Workers,
		})
		if err != nil {
			return fmt.Errorf("training: snapshot %s: %w", day(s.cutoff), err)
		}
		if !ds.Labelled {
			return fmt.Errorf("training: snapshot %s: labels not covered by data ending %s: %w", day(s.cutoff), day(tr.asOf), ErrNotEnoughData)
		}
		s.ds = ds
		s.roles = make([]userRole, len(ds.Vectors))
		for i, v := range ds.Vectors {
			s.roles[i] = roleOf(v.UserID, tr.cfg.Seed)
		}
		return nil
	}
	if err := build(tr.snaps[tr.oot], tr.cfg.Spec, true); err != nil {
		return err
	}
	tr.spec = tr.snaps[tr.oot].ds.Spec
	tr.names = tr.spec.Names()
	tr.kinds = make([]string, len(tr.spec.Features))
	for j, f := range tr.spec.Features {
		tr.kinds[j] = string(f.Transform)
	}
	for _, k := range tr.fitting {
		if err := build(tr.snaps[k], tr.spec, false); err != nil {
			return err
		}
	}
	return nil
}

// checkUsers applies the eligible-user minimum to the T1 snapshot and to
// the fitting snapshots together.
func (tr *trainer) checkUsers() error {
	min := tr.cfg.MinUsers
	if min < 0 {
		return nil
	}
	n := len(tr.snaps[tr.oot].ds.Vectors)
	fit := 0
	for _, k := range tr.fitting {
		fit += len(tr.snaps[k].ds.Vectors)
	}
	tr.report().Checks = append(tr.report().Checks,
		Check{Name: "min_users_out_of_time", Passed: n >= min, Value: fmt.Sprint(n), Need: fmt.Sprintf(">= %d", min)},
		Check{Name: "min_users_fitting", Passed: fit >= min, Value: fmt.Sprint(fit), Need: fmt.Sprintf(">= %d", min)})
	var probs []string
	if n < min {
		probs = append(probs, fmt.Sprintf(
			"%d users are eligible at the out-of-time cutoff %s (an activity event in the %d days before it), at least %d are needed (--min-users)",
			n, day(tr.t1), tr.spec.EligibilityDays, min))
	}
	if fit < min {
		probs = append(probs, fmt.Sprintf("the fitting snapshots (%s) hold %d user rows, at least %d are needed (--min-users)",
			tr.cutoffList(tr.fitting), fit, min))
	}
	if len(probs) > 0 {
		return &DataError{Check: "users", Problems: probs}
	}
	return nil
}

func (tr *trainer) cutoffList(idx []int) string {
	s := make([]string, len(idx))
	for i, k := range idx {
		s[i] = day(tr.snaps[k].cutoff)
	}
	return strings.Join(s, ", ")
}

// hasTarget reports whether the target event occurs in the data at all
// (the Log knows every name; the vocabulary only the frequent ones). A
// target that only appears after T1 fails the class checks instead.
func (tr *trainer) hasTarget() bool {
	return slices.Contains(tr.log.Types(), tr.spec.TargetEvent)
}

// screenAnomalies fits the isolation forest on the rows of the latest
// fitting snapshot (features after the model transform's pre-map: log1p
// for counts and money), flags unusual users and, when configured,
// excludes them from fitting. One snapshot suffices: an account that
// behaves like a bot, a test or a bulk account does so at every cutoff.
func (tr *trainer) screenAnomalies() {
	tr.progress("screening for anomalous users (isolation forest, %d trees)", isoTrees)
	last := tr.fitting[len(tr.fitting)-1]
	vs := tr.snaps[last].ds.Vectors
	log1p := make([]bool, len(tr.kinds))
	for j, k := range tr.kinds {
		log1p[j] = k == model.KindLog1p
	}
	pre := NewMatrix(len(vs), len(tr.names))
	parallelRows(pre.Rows, tr.cfg.Workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := pre.Row(i)
			for j, v := range vs[i].Values {
				if log1p[j] {
					o[j] = model.FeatureTransform{Kind: model.KindLog1p}.Pre(v)
				} else {
					o[j] = v
				}
			}
		}
	})
	forest := fitIsoForest(&pre, isoTrees, isoSample, tr.cfg.Seed)
	scores := forest.scores(&pre, tr.cfg.Workers)
	flagged := flagAnomalies(scores, AnomalyThreshold, anomalyMaxShare)
	users := map[string]float64{}
	for _, i := range flagged {
		id := vs[i].UserID
		users[id] = max(users[id], scores[i])
	}
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := cmp.Compare(users[b], users[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	an := &AnomalyScreen{
		Method:          fmt.Sprintf("isolation forest (seeded PCG; Liu, Ting and Zhou 2008) on the latest fitting snapshot; flagged: score >= %.2f, at most %.0f%% of rows", AnomalyThreshold, 100*anomalyMaxShare),
		Trees:           isoTrees,
		SampleSize:      isoSample,
		Threshold:       AnomalyThreshold,
		Scored:          pre.Rows,
		Flagged:         len(ids),
		ExcludedFromFit: tr.cfg.ExcludeAnomalies,
		Examples:        []string{},
	}
	for i, id := range ids {
		if i == 10 {
			break
		}
		an.Examples = append(an.Examples, id)
	}
	tr.report().Anomalies = an
	if tr.cfg.ExcludeAnomalies && len(ids) > 0 {
		tr.excluded = make(map[string]bool, len(ids))
		for _, id := range ids {
			tr.excluded[id] = true
		}
	}
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// fitted is one calibrated classifier with how it was chosen.
type fitted struct {
	clf        *model.Classifier
	l2         float64 // logistic only
	trees      int     // gbdt only
	importance []float64
	// selectLoss is the log loss of the calibrated classifier on the select
	// rows, selectAUC its AUC there.
	selectLoss, selectAUC float64
	fitRows, selectRows   int
}

// targetOutcome is everything Train learned about one target.
type targetOutcome struct {
	target     string
	choice     *ModelChoice
	chosen     *fitted
	oot, held  *TaskEval
	backtest   map[int]*BacktestMetrics // by snapshot index
	importance *FeatureImportance
	production *model.Classifier
	ootProb    []float64 // the chosen model's probabilities on the T1 rows
}

// classCheck returns the checks that sets have enough positives and
// negatives for target, and a DataError when any fails.
func (tr *trainer) classCheck(target string, names []string, sets []*rowSet) ([]Check, error) {
	need := tr.cfg.MinClass
	if need < 1 {
		need = 1 // both classes are always needed
	}
	var checks []Check
	var probs []string
	for k, r := range sets {
		pos := r.positives(target)
		neg := len(r.refs) - pos
		ch := Check{
			Name:   fmt.Sprintf("min_classes_%s_%s", target, strings.ReplaceAll(names[k], "-", "_")),
			Passed: pos >= need && neg >= need,
			Value:  fmt.Sprintf("%d positives, %d negatives", pos, neg),
			Need:   fmt.Sprintf(">= %d of each", need),
		}
		if !ch.Passed {
			ch.Message = fmt.Sprintf("%s %s rows: %d positives and %d negatives, at least %d of each are needed (--min-class)",
				target, names[k], pos, neg, need)
			probs = append(probs, ch.Message)
		}
		checks = append(checks, ch)
	}
	if len(probs) > 0 {
		return checks, &DataError{Check: "classes", Problems: probs}
	}
	return checks, nil
}

// target fits both candidate kinds for one target on the fitting
// snapshots, chooses one, evaluates it out of time, on the held-out users
// and in the backtest, and refits the production classifier.
func (tr *trainer) target(ctx context.Context, target string, checks *[]Check) (*targetOutcome, error) {
	fit := tr.rowSet("fit", func() []rowRef {
		return tr.capRefs(selectRows(tr.snaps, tr.fitting, byRole(tr.excluded, roleFit)), tr.cfg.MaxFitRows)
	})
	tune := tr.rowSet("tune", func() []rowRef { return selectRows(tr.snaps, tr.fitting, byRole(nil, roleTune)) })
	sel := tr.rowSet("select", func() []rowRef { return selectRows(tr.snaps, tr.fitting, byRole(nil, roleSelect)) })
	// The evaluation sets, capped at MaxEvalRows by user hash.
	oot := tr.evalSet("oot", func() []rowRef { return selectRows(tr.snaps, []int{tr.oot}, allRows) })
	held := tr.evalSet("held", func() []rowRef { return selectRows(tr.snaps, tr.fitting, byRole(nil, roleHeldOut)) })
	cc, err := tr.classCheck(target, []string{"fitting", "tuning", "selection", "out-of-time", "held-out-user"},
		[]*rowSet{fit, tune, sel, oot, held})
	*checks = append(*checks, cc...)
	if err != nil {
		return nil, err
	}
	out := &targetOutcome{target: target}
	// The two candidates are fitted side by side.
	var lr, gb *fitted
	var lrErr, gbErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		tr.progress("%s: fitting gradient-boosted trees on %d rows", target, len(fit.refs))
		gb, gbErr = tr.fitGBDT(ctx, target, fit, tune, sel, nil)
	})
	tr.progress("%s: fitting logistic regression on %d rows", target, len(fit.refs))
	lr, lrErr = tr.fitLogistic(ctx, target, fit, tune, sel, nil)
	wg.Wait()
	if lrErr != nil {
		return nil, lrErr
	}
	if gbErr != nil {
		return nil, gbErr
	}
	// Ties keep the logistic regression: simpler, and its reasons are exact.
	other := gb
	out.chosen = lr
	if gb.selectLoss < lr.selectLoss {
		out.chosen, other = gb, lr
	}
	tr.progress("%s: chose %s (selection log loss %.5f vs %.5f); evaluating", target, out.chosen.clf.Kind,
		out.chosen.selectLoss, other.selectLoss)
	out.choice = &ModelChoice{
		Chosen:      out.chosen.clf.Kind,
		Calibration: out.chosen.clf.Calibration.Method,
		Reason: fmt.Sprintf("lowest log loss of calibrated probabilities on the selection users (%.5f vs %.5f for %s)",
			out.chosen.selectLoss, other.selectLoss, other.clf.Kind),
	}
	for _, f := range []*fitted{lr, gb} {
		c := Candidate{Kind: f.clf.Kind, ValidLogLoss: f.selectLoss, ValidAUC: f.selectAUC,
			TrainRows: f.fitRows, ValidRows: f.selectRows, Params: map[string]float64{}}
		if f.clf.Kind == model.KindLogistic {
			c.Params["l2"] = f.l2
		} else {
			c.Params["trees"] = float64(f.trees)
			c.Params["learning_rate"] = tr.cfg.GBDT.withDefaults().LearningRate
			c.Params["max_leaf_nodes"] = float64(tr.cfg.GBDT.withDefaults().MaxLeafNodes)
		}
		out.choice.Candidates = append(out.choice.Candidates, c)
	}
	rules := tr.rfmRules(fit)
	rate := fit.mean(target)
	// The evaluations, the backtest and the production refit are
	// independent of each other and run side by side.
	var evalErr, btErr, prodErr error
	wg.Go(func() { evalErr = tr.evaluate(target, out, oot, held, rate, rules) })
	wg.Go(func() { out.backtest, btErr = tr.backtest(ctx, target, out.chosen, rules, checks) })
	var prod *fitted
	wg.Go(func() {
		// Production: every snapshot through T1, all roles but tune; the
		// same kind and hyper-parameters; calibration on the tune users'
		// rows.
		all := make([]int, len(tr.snaps))
		for k := range all {
			all[k] = k
		}
		pfit := tr.rowSet("production fit", func() []rowRef {
			return tr.capRefs(selectRows(tr.snaps, all, byRole(tr.excluded, roleFit, roleHeldOut, roleSelect)), tr.cfg.MaxFitRows)
		})
		ptune := tr.rowSet("production tune", func() []rowRef { return selectRows(tr.snaps, all, byRole(nil, roleTune)) })
		tr.progress("%s: refitting %s on %d rows of %d snapshots for production", target, out.chosen.clf.Kind, len(pfit.refs), len(all))
		if prod, prodErr = tr.refit(ctx, target, out.chosen, pfit, ptune); prodErr != nil {
			prodErr = fmt.Errorf("training: %s production refit: %w", target, prodErr)
		}
	})
	wg.Wait()
	for _, err := range []error{evalErr, btErr, prodErr} {
		if err != nil {
			return nil, err
		}
	}
	out.backtest[tr.oot] = NewBacktestMetrics(out.oot)
	out.production = prod.clf
	return out, nil
}

// evaluate sets out's out-of-time and held-out-user evaluations of the
// chosen classifier (on the sampled rows oot and held; for churn also the
// probabilities of every T1 user, which segment health needs) and its
// feature importance.
func (tr *trainer) evaluate(target string, out *targetOutcome, oot, held *rowSet, rate float64, rules model.RFMRules) error {
	var ootP []float64
	if target == targetChurn {
		out.ootProb = tr.predictVectors(out.chosen.clf, tr.snaps[tr.oot].ds.Vectors)
		ootP = make([]float64, len(oot.refs))
		for k, ref := range oot.refs {
			ootP[k] = out.ootProb[ref.i]
		}
	}
	var err error
	if out.oot, err = tr.taskEval(target, out.chosen.clf, oot, ootP, rate, rules, oot.total); err != nil {
		return fmt.Errorf("training: %s out-of-time evaluation: %w", target, err)
	}
	if out.held, err = tr.taskEval(target, out.chosen.clf, held, nil, rate, rules, held.total); err != nil {
		return fmt.Errorf("training: %s held-out-user evaluation: %w", target, err)
	}
	out.importance, err = tr.importance(out.chosen)
	return err
}

// refit fits like's kind with like's hyper-parameters and calibration
// method on fit, calibrating on tune.
func (tr *trainer) refit(ctx context.Context, target string, like *fitted, fit, tune *rowSet) (*fitted, error) {
	if like.clf.Kind == model.KindLogistic {
		return tr.fitLogistic(ctx, target, fit, tune, nil, like)
	}
	return tr.fitGBDT(ctx, target, fit, tune, nil, like)
}

// mean returns the positive rate of target in r.
func (r *rowSet) mean(target string) float64 {
	if len(r.refs) == 0 {
		return 0
	}
	return float64(r.positives(target)) / float64(len(r.refs))
}

// TrainL2Grid is the grid of logistic penalties Train searches by default:
// with the tens of thousands of rows Train needs, penalties below 1e−4 on
// standardised features change the validation loss by less than the noise
// and converge slowly on the nearly collinear count columns.
var TrainL2Grid = []float64{1e-1, 1e-2, 1e-3, 1e-4}

// lrOptions are the logistic settings of the pipeline: gradient tolerance
// 1e−5 on the mean log loss (a change in loss of order 1e−10) and at most
// 300 L-BFGS iterations.
func (tr *trainer) lrOptions(l2 float64) *LogisticOptions {
	return &LogisticOptions{L2: l2, MaxIter: 300, GradTol: 1e-5, Threads: tr.cfg.Workers}
}

// fitLogistic fits the transform and a logistic regression on fit, tunes λ
// on tune (or uses like's λ), calibrates on tune and, with sel, chooses the
// calibration method by log loss on sel; without sel it uses like's method.
func (tr *trainer) fitLogistic(ctx context.Context, target string, fit, tune, sel *rowSet, like *fitted) (*fitted, error) {
	t, err := FitTransform(&fit.x, tr.names, tr.kinds)
	if err != nil {
		return nil, err
	}
	xt, err := ApplyTransform(t, &fit.x)
	if err != nil {
		return nil, err
	}
	y := fit.label(target)
	var lr *model.Logistic
	l2 := 0.0
	if like == nil {
		vt, err := ApplyTransform(t, &tune.x)
		if err != nil {
			return nil, err
		}
		// A λ too small for the data (separable rows) does not converge;
		// drop the smallest λ until the rest do.
		grid := slices.Clone(tr.cfg.L2Grid)
		if grid == nil {
			grid = slices.Clone(TrainL2Grid)
		}
		slices.Sort(grid)
		slices.Reverse(grid)
		// λ is chosen on at most lrTuneRows of the fitting rows (whole
		// users by hash); the model is then fitted on all of them from
		// that solution.
		gx, gy := xt, y
		sub := tr.lrTuneSample(fit)
		if sub != nil {
			m := NewMatrix(len(sub), xt.Cols)
			gy = make([]float64, len(sub))
			for k, i := range sub {
				copy(m.Row(k), xt.Row(i))
				gy[k] = y[i]
			}
			gx = &m
		}
		var scores []L2Score
		for {
			lr, scores, err = TuneL2(ctx, gx, gy, nil, vt, tune.label(target), nil, grid, tr.lrOptions(0))
			if err == nil || !errors.Is(err, ErrNotConverged) || len(grid) == 1 {
				break
			}
			grid = grid[:len(grid)-1]
		}
		if err != nil {
			return nil, fmt.Errorf("training: %s logistic: %w", target, err)
		}
		best := math.Inf(1)
		for _, s := range scores {
			if s.LogLoss < best || (s.LogLoss == best && s.L2 > l2) {
				best, l2 = s.LogLoss, s.L2
			}
		}
		if sub != nil {
			init := append(slices.Clone(lr.Weights), lr.Bias)
			for try := 0; ; try++ {
				lr, _, err = fitLogisticFrom(ctx, xt, y, nil, tr.lrOptions(l2), init)
				if err == nil || !errors.Is(err, ErrNotConverged) || try == 3 {
					break
				}
				l2 *= 10
			}
			if err != nil {
				return nil, fmt.Errorf("training: %s logistic: %w", target, err)
			}
		}
	} else {
		// The same λ; should it not converge on these rows, a 10× larger
		// one (at most three times) is used and the report shows it.
		l2 = like.l2
		for try := 0; ; try++ {
			lr, err = FitLogistic(ctx, xt, y, nil, tr.lrOptions(l2))
			if err == nil || !errors.Is(err, ErrNotConverged) || try == 3 {
				break
			}
			l2 *= 10
		}
		if err != nil {
			return nil, fmt.Errorf("training: %s logistic: %w", target, err)
		}
	}
	clf := &model.Classifier{Kind: model.KindLogistic, Transform: t, Logistic: lr, BaseRate: fit.mean(target)}
	f := &fitted{clf: clf, l2: l2, fitRows: len(fit.refs)}
	return f, tr.calibrate(target, f, tune, sel, like)
}

// lrTuneRows caps the fitting rows the logistic λ is chosen on: a λ grid
// costs hundreds of passes over the rows, and the validation loss orders
// the λ values the same well before the production row counts.
const lrTuneRows = 50_000

// lrTuneSample returns the positions in fit of the rows λ is tuned on,
// about lrTuneRows of them by a keyed hash of the user id, or nil when
// fit has at most lrTuneRows rows (all are used).
func (tr *trainer) lrTuneSample(fit *rowSet) []int {
	if len(fit.refs) <= lrTuneRows {
		return nil
	}
	share := float64(lrTuneRows) / float64(len(fit.refs))
	var idx []int
	for i, ref := range fit.refs {
		if userUnit(userID(tr.snaps, ref), tr.cfg.Seed^lrTuneKey) < share {
			idx = append(idx, i)
		}
	}
	return idx
}

// fitGBDT fits trees on fit with early stopping on tune (or like's number
// of trees without early stopping), then calibrates as fitLogistic does.
func (tr *trainer) fitGBDT(ctx context.Context, target string, fit, tune, sel *rowSet, like *fitted) (*fitted, error) {
	opts := *tr.cfg.GBDT
	var valX *Matrix
	var valY []float64
	if like == nil {
		valX, valY = &tune.x, tune.label(target)
	} else {
		opts.MaxIter = max(1, like.trees)
		opts.EarlyStopping = EarlyStoppingOff
	}
	trees, rep, err := FitGBDT(ctx, &fit.x, fit.label(target), nil, valX, valY, &opts)
	if err != nil {
		return nil, fmt.Errorf("training: %s gbdt: %w", target, err)
	}
	clf := &model.Classifier{Kind: model.KindGBDT, Trees: trees, BaseRate: fit.mean(target)}
	f := &fitted{clf: clf, trees: rep.NumTrees, importance: rep.Importance, fitRows: len(fit.refs)}
	return f, tr.calibrate(target, f, tune, sel, like)
}

// calibrate fits the calibrations on the raw probabilities of the tune
// rows; with sel it keeps the method (none, Platt or isotonic) with the
// lowest log loss on sel (ties keep the simpler, earlier one), otherwise
// like's method.
func (tr *trainer) calibrate(target string, f *fitted, tune, sel *rowSet, like *fitted) error {
	raw := tr.predictRaw(f.clf, &tune.x)
	y := tune.label(target)
	methods := []string{model.CalibrationNone, model.CalibrationPlatt, model.CalibrationIsotonic}
	if like != nil {
		methods = []string{like.clf.Calibration.Method}
	}
	cals := make([]*model.Calibration, len(methods))
	for k, m := range methods {
		cal, err := FitCalibration(m, raw, y, nil)
		if err != nil {
			return fmt.Errorf("training: %s %s calibration: %w", target, m, err)
		}
		if cal == nil {
			cal = &model.Calibration{}
		}
		if cal.Method == "" {
			cal.Method = model.CalibrationNone
		}
		cals[k] = cal
	}
	f.clf.Calibration = cals[0]
	if sel == nil {
		return nil
	}
	sraw := tr.predictRaw(f.clf, &sel.x)
	sy := sel.label(target)
	f.selectLoss = math.Inf(1)
	f.selectRows = len(sy)
	p := make([]float64, len(sraw))
	for k := range methods {
		for i, r := range sraw {
			p[i] = cals[k].Apply(r)
		}
		ll, err := LogLoss(sy, p)
		if err != nil {
			return fmt.Errorf("training: %s calibration selection: %w", target, err)
		}
		if ll < f.selectLoss {
			f.selectLoss = ll
			f.clf.Calibration = cals[k]
		}
	}
	auc, err := ROCAUC(sy, sraw)
	if err != nil {
		return fmt.Errorf("training: %s selection auc: %w", target, err)
	}
	f.selectAUC = auc
	return nil
}

// predictRaw returns the uncalibrated probability of every row of x.
func (tr *trainer) predictRaw(c *model.Classifier, x *Matrix) []float64 {
	out := make([]float64, x.Rows)
	rawRows(c, x.Rows, func(i int) []float64 { return x.Row(i) }, out, tr.cfg.Workers)
	return out
}

// predictVectors returns the calibrated probability of every vector.
func (tr *trainer) predictVectors(c *model.Classifier, vs []features.Vector) []float64 {
	return calibrated(c, tr.rawVectors(c, vs))
}

// calibrated returns c's calibrated probabilities of the raw ones.
func calibrated(c *model.Classifier, raw []float64) []float64 {
	p := make([]float64, len(raw))
	for i, r := range raw {
		p[i] = c.Calibration.Apply(r)
	}
	return p
}

// rawVectors returns c.Raw(v.Values, nil) for every vector of vs.
func (tr *trainer) rawVectors(c *model.Classifier, vs []features.Vector) []float64 {
	out := make([]float64, len(vs))
	rawRows(c, len(vs), func(i int) []float64 { return vs[i].Values }, out, tr.cfg.Workers)
	return out
}

// rawChunk is the number of rows rawRows hands Trees.Margins at a time.
const rawChunk = 4096

// rawRows sets out[i] to c.Raw(row(i), nil) for i < n on workers
// goroutines, the trees' margins a chunk of rows at a time
// (model.Trees.Margins, the same bits as one row at a time).
func rawRows(c *model.Classifier, n int, row func(i int) []float64, out []float64, workers int) {
	if c.Kind != model.KindGBDT {
		parallelRows(n, workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i] = c.Raw(row(i), nil)
			}
		})
		return
	}
	gbParallel(workers, (n+rawChunk-1)/rawChunk, func(k int) {
		lo, hi := k*rawChunk, min((k+1)*rawChunk, n)
		rows := make([][]float64, hi-lo)
		for i := range rows {
			rows[i] = row(lo + i)
		}
		m := out[lo:hi]
		c.Trees.Margins(rows, m)
		for i, z := range m {
			m[i] = model.Sigmoid(z)
		}
	})
}

// predict returns the calibrated probability of every row of x.
func (tr *trainer) predict(c *model.Classifier, x *Matrix) []float64 {
	p := tr.predictRaw(c, x)
	for i := range p {
		p[i] = c.Calibration.Apply(p[i])
	}
	return p
}

// baselineScores returns the recency and RFM baseline scores of rows for
// target, oriented so that higher means a positive label is more likely:
// churn ranks by recency_days and −(R+F+M), propensity by
// −recency_purchase_days and R+F+M, with the RFM quintile edges of the
// fitting rows.
func (tr *trainer) baselineScores(target string, rows *rowSet, rules model.RFMRules) (rec, rfm []float64) {
	col := func(name string) int { return slices.Index(tr.names, name) }
	rj, fj, mj := col(rules.RecencyFeature), col(rules.FrequencyFeature), col(rules.MonetaryFeature)
	recJ, sign := col(model.FeatRecency), 1.0
	if target == targetPropensity {
		recJ, sign = col(model.FeatRecencyPurchase), -1
	}
	rec = make([]float64, rows.x.Rows)
	rfm = make([]float64, rows.x.Rows)
	for i := range rec {
		x := rows.x.Row(i)
		rec[i] = sign * x[recJ]
		s := rules.Score(x[rj], x[fj], x[mj])
		rfm[i] = -sign * float64(s.R+s.F+s.M)
	}
	return rec, rfm
}

// taskEval evaluates c on rows (p: its probabilities, computed when nil),
// a sample of total rows, with the baselines on the same rows.
func (tr *trainer) taskEval(target string, c *model.Classifier, rows *rowSet, p []float64, rate float64, rules model.RFMRules, total int) (*TaskEval, error) {
	if p == nil {
		p = tr.predict(c, &rows.x)
	}
	rec, rfm := tr.baselineScores(target, rows, rules)
	te, err := NewTaskEval(c.Kind, rows.label(target), p, rec, rfm, rate)
	if err != nil {
		return nil, err
	}
	te.NTotal = total
	return te, nil
}

// importance returns the chosen classifier's feature importance: gain
// share for trees, |weight| on standardised inputs for logistic regression.
func (tr *trainer) importance(f *fitted) (*FeatureImportance, error) {
	if f.clf.Kind == model.KindGBDT {
		imp := f.importance
		if imp == nil {
			imp = f.clf.Trees.Importance()
		}
		return NewFeatureImportance(model.KindGBDT, ImportanceGain, tr.names, imp)
	}
	imp := make([]float64, len(f.clf.Logistic.Weights))
	sum := 0.0
	for j, w := range f.clf.Logistic.Weights {
		imp[j] = math.Abs(w)
		sum += imp[j]
	}
	if sum > 0 {
		for j := range imp {
			imp[j] /= sum
		}
	}
	return NewFeatureImportance(model.KindLogistic, ImportanceCoef, tr.names, imp)
}

// backtest fits the chosen kind with its hyper-parameters on the snapshots
// before each fitting snapshot k >= 1 (fit and select users; calibrated on
// the tune users) and evaluates it on all of k's users. T1 is the
// out-of-time evaluation itself and is added by the caller.
func (tr *trainer) backtest(ctx context.Context, target string, chosen *fitted, rules model.RFMRules, checks *[]Check) (map[int]*BacktestMetrics, error) {
	// The snapshots are backtested side by side; notes and errors are
	// taken in snapshot order.
	n := max(tr.oot-1, 0)
	pts := make([]*BacktestMetrics, n)
	notes := make([]*Check, n)
	errs := make([]error, n)
	gbParallel(n, n, func(i int) {
		k := i + 1
		before := make([]int, k)
		for i := range before {
			before[i] = i
		}
		fitRows := tr.cfg.MaxFitRows
		if fitRows < 0 || fitRows > backtestMaxFitRows {
			fitRows = backtestMaxFitRows
		}
		key := fmt.Sprintf("backtest %d ", k)
		fit := tr.rowSet(key+"fit", func() []rowRef {
			return tr.capRefs(selectRows(tr.snaps, before, byRole(tr.excluded, roleFit, roleSelect)), fitRows)
		})
		tune := tr.rowSet(key+"tune", func() []rowRef { return selectRows(tr.snaps, before, byRole(nil, roleTune)) })
		eval := tr.evalSet(key+"eval", func() []rowRef { return selectRows(tr.snaps, []int{k}, allRows) })
		// The tune rows only calibrate here (no choice is made), so both
		// classes suffice; the fitting and evaluation rows need MinClass.
		_, err := tr.classCheck(target, []string{"fitting", "evaluation"}, []*rowSet{fit, eval})
		if err == nil && (tune.positives(target) == 0 || tune.positives(target) == len(tune.refs)) {
			err = fmt.Errorf("the tuning rows hold one class")
		}
		if err != nil {
			c := noteCheck("backtest_"+target, "%s backtest at %s skipped: %v", target, day(tr.snaps[k].cutoff), err)
			notes[i] = &c
			return
		}
		tr.progress("%s: backtest at %s", target, day(tr.snaps[k].cutoff))
		f, err := tr.refit(ctx, target, chosen, fit, tune)
		if err != nil {
			errs[i] = fmt.Errorf("training: %s backtest at %s: %w", target, day(tr.snaps[k].cutoff), err)
			return
		}
		te, err := tr.taskEval(target, f.clf, eval, nil, fit.mean(target), rules, eval.total)
		if err != nil {
			errs[i] = fmt.Errorf("training: %s backtest at %s: %w", target, day(tr.snaps[k].cutoff), err)
			return
		}
		pts[i] = NewBacktestMetrics(te)
	})
	out := map[int]*BacktestMetrics{}
	for i := range n {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if notes[i] != nil {
			*checks = append(*checks, *notes[i])
		}
		if pts[i] != nil {
			out[i+1] = pts[i]
		}
	}
	return out, nil
}

// finish derives the segments, assembles and versions the model, scores
// every user eligible at T and completes the report.
func (tr *trainer) finish(ctx context.Context, churn, prop *targetOutcome) (*Result, error) {
	specJSON, err := json.Marshal(tr.spec)
	if err != nil {
		return nil, fmt.Errorf("training: encode spec: %w", err)
	}
	m := &model.Model{
		Format:          model.FormatVersion,
		AsOf:            tr.asOf,
		HorizonDays:     int(tr.cfg.Horizon / (24 * time.Hour)),
		DataFingerprint: tr.cfg.DataFingerprint,
		Spec:            specJSON,
		Features:        slices.Clone(tr.names),
		Churn:           churn.production,
	}
	if prop != nil {
		m.Propensity = prop.production
		m.TargetEvent = tr.spec.TargetEvent
	}

	// Segment rules come from the T1 snapshot: the latest view of the
	// users whose churn is known, all of it before T1.
	// The scoring snapshot at T is built meanwhile.
	var ds *features.Dataset
	var dsErr error
	var churnRaw []float64 // the production churn model's raw probabilities at T
	var wg sync.WaitGroup
	wg.Go(func() {
		tr.progress("building the scoring snapshot at %s", day(tr.asOf))
		ds, dsErr = tr.log.Build(features.BuilderConfig{Cutoff: tr.asOf, DataEnd: tr.asOf, Spec: tr.spec, Workers: tr.cfg.Workers, KeepStates: tr.cfg.States})
		if dsErr == nil {
			// Risk bands cut the production model's probabilities at T.
			churnRaw = tr.rawVectors(m.Churn, ds.Vectors)
			m.Bands = DeriveBands(calibrated(m.Churn, churnRaw))
		}
	})
	ootRows := rowsOf(tr.snaps, selectRows(tr.snaps, []int{tr.oot}, allRows), tr.cfg.Workers)
	err = tr.segmentRules(ctx, m, ootRows)
	ootRows = nil
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if dsErr != nil {
		return nil, fmt.Errorf("training: scoring snapshot %s: %w", day(tr.asOf), dsErr)
	}

	m.Metrics = map[string]float64{
		"churn_auc_oot":         churn.oot.AUC,
		"churn_log_loss_oot":    churn.oot.LogLoss,
		"churn_auc_held_out":    churn.held.AUC,
		"churn_recency_auc_oot": churn.oot.Baselines.Recency.AUC,
		"churn_top_decile_lift": churn.oot.TopDecileLift,
		"churn_base_rate_oot":   churn.oot.BaseRate,
	}
	if prop != nil {
		m.Metrics["propensity_auc_oot"] = prop.oot.AUC
		m.Metrics["propensity_auc_held_out"] = prop.held.AUC
	}
	if err := tr.fitValue(ctx, m); err != nil {
		return nil, err
	}
	if err := setVersion(m); err != nil {
		return nil, err
	}

	// Scoring, the P(alive) ablation and the segment health depend on the
	// finished model only, not on each other; they run side by side and
	// write disjoint parts of the report.
	var scores []UserScore
	var scoreErr, ablationErr, healthErr error
	var health Segments
	wg.Go(func() {
		tr.progress("scoring %d users with reasons and segments", len(ds.Vectors))
		scores = make([]UserScore, len(ds.Vectors))
		errs := make([]error, len(ds.Vectors))
		// The margins come in batches (Model.Score's bits, faster).
		var propRaw []float64
		if m.Propensity != nil {
			propRaw = tr.rawVectors(m.Propensity, ds.Vectors)
		}
		parallelRows(len(scores), tr.cfg.Workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				var q float64 // ignored without a propensity model
				if propRaw != nil {
					q = propRaw[i]
				}
				p, err := m.ScoreRaw(ds.Vectors[i].Values, churnRaw[i], q)
				scores[i], errs[i] = UserScore{UserID: ds.Vectors[i].UserID, Prediction: p}, err
			}
		})
		if err := errors.Join(errs...); err != nil {
			scoreErr = fmt.Errorf("training: score: %w", err)
			return
		}
		scoreErr = tr.scoreValues(ctx, m, scores)
	})
	wg.Go(func() { ablationErr = tr.ablation(ctx, churn) })
	wg.Go(func() {
		tr.progress("segment health on %d snapshots", len(tr.snaps))
		if health, healthErr = tr.segmentHealth(m, churn.chosen.clf, churn.ootProb); healthErr != nil {
			healthErr = fmt.Errorf("training: segment health: %w", healthErr)
		}
	})
	wg.Wait()
	for _, err := range []error{scoreErr, ablationErr, healthErr} {
		if err != nil {
			return nil, err
		}
	}
	res := &Result{Model: m, Scores: scores}
	if tr.cfg.States {
		res.States = make([]UserState, len(ds.Vectors))
		for i, v := range ds.Vectors {
			res.States[i] = UserState{UserID: v.UserID, State: ds.States[i]}
		}
		ds.States = nil
	}
	if err := tr.completeReport(m, churn, prop, len(ds.Vectors), health); err != nil {
		return nil, err
	}
	m.CreatedAt = tr.cfg.Now().UTC()
	tr.rep.CreatedAt = m.CreatedAt
	res.Report = tr.rep
	return res, nil
}

// completeReport fills the parts of the report that need the final model.
func (tr *trainer) completeReport(m *model.Model, churn, prop *targetOutcome, scored int, seg Segments) error {
	r := tr.report()
	r.SchemaVersion = ReportSchemaVersion
	r.ModelVersion = m.Version
	r.Seed = int64(tr.cfg.Seed)
	if r.Flags == nil {
		r.Flags = map[string]string{}
	}
	r.AsOf = tr.asOf
	r.HorizonDays = m.HorizonDays
	r.TargetEvent = m.TargetEvent
	r.NUsers = scored
	for k, s := range tr.snaps {
		c := Cutoff{Date: s.cutoff, Role: RoleFit, Users: len(s.ds.Vectors)}
		if k == tr.oot {
			c.Role = RoleOutOfTime
		}
		n := float64(len(s.ds.Vectors))
		if n > 0 {
			cr, pr := 0.0, 0.0
			for i := range s.ds.Churn {
				cr += b2f(s.ds.Churn[i])
				pr += b2f(s.ds.Propensity[i])
			}
			cr /= n
			c.ChurnRate = &cr
			if prop != nil {
				pr /= n
				c.PropensityRate = &pr
			}
		}
		r.Cutoffs = append(r.Cutoffs, c)
		// The base rates are the whole T1 snapshot's, also when the
		// evaluation sampled it.
		if k == tr.oot {
			if c.ChurnRate != nil {
				r.BaseRate = *c.ChurnRate
			}
			if c.PropensityRate != nil {
				b := *c.PropensityRate
				r.PropensityBaseRate = &b
			}
		}
	}
	r.Cutoffs = append(r.Cutoffs, Cutoff{Date: tr.asOf, Role: RoleScore, Users: scored})

	h := int(tr.cfg.Horizon / (24 * time.Hour))
	r.Holdout.OutOfTime = HoldoutSet{
		Description: fmt.Sprintf("every user eligible at %s, labels from the following %d days (to %s); models fitted on the snapshots %s",
			day(tr.t1), h, day(tr.asOf), tr.cutoffList(tr.fitting)) + sampleNote(churn.oot),
		Churn: churn.oot,
	}
	r.Holdout.HeldOutUsers = HoldoutSet{
		Description: fmt.Sprintf("the %.0f%% of users (keyed hash of the user id and seed) never fitted on, at the fitting snapshots %s",
			100*heldOutShare, tr.cutoffList(tr.fitting)) + sampleNote(churn.held),
		Churn: churn.held,
	}
	r.Models.Churn = churn.choice
	r.Importance.Churn = churn.importance
	if prop != nil {
		r.Holdout.OutOfTime.Propensity = prop.oot
		r.Holdout.HeldOutUsers.Propensity = prop.held
		r.Models.Propensity = prop.choice
		r.Importance.Propensity = prop.importance
	}
	r.Backtest = []BacktestPoint{}
	for k := 1; k < len(tr.snaps); k++ {
		bp := BacktestPoint{Cutoff: tr.snaps[k].cutoff, Churn: churn.backtest[k]}
		if prop != nil {
			bp.Propensity = prop.backtest[k]
		}
		r.Backtest = append(r.Backtest, bp)
	}
	if r.Data.Files == nil {
		r.Data = DataSummary{
			Files: []string{}, Events: int64(tr.log.Len()), Users: tr.log.NumUsers(),
			FirstEvent: tr.log.MinTime(), LastEvent: tr.log.MaxTime(),
			BadRowsByReason: map[string]int64{}, EventTypes: map[string]int64{},
		}
	}
	r.Segments = seg
	r.Rules = Rules{RiskBands: m.Bands, Lifecycle: m.Lifecycle, RFM: m.RFM, UsageTiers: m.Tiers}
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	return nil
}

// sampleNote is the description's note on an evaluation sample: "" when
// every row was evaluated.
func sampleNote(te *TaskEval) string {
	if te == nil || te.N == te.NTotal {
		return ""
	}
	return fmt.Sprintf("; evaluated on %d of these %d rows, whole users chosen by a keyed hash of the user id and seed", te.N, te.NTotal)
}

// setVersion sets m.Version to the as-of date and the first 8 hex digits
// of the SHA-256 of the encoded model with CreatedAt and Version zeroed,
// then prepares m.
func setVersion(m *model.Model) error {
	created := m.CreatedAt
	m.CreatedAt, m.Version = time.Time{}, ""
	b, err := model.Encode(m)
	m.CreatedAt = created
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	m.Version = m.AsOf.UTC().Format("2006-01-02") + "-" + hex.EncodeToString(sum[:4])
	if err := m.Prepare(); err != nil {
		return fmt.Errorf("training: assembled model: %w", err)
	}
	return nil
}
