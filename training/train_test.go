package training

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/features/synth"
	"github.com/lapse-dev/lapse/model"
)

const trDay = 24 * time.Hour

// trReadLog reads an event file into a Log.
func trReadLog(tb testing.TB, path string, opts *features.ReadOptions) *features.Log {
	tb.Helper()
	var log features.Log
	trEachEvent(tb, path, opts, func(e *features.Event) {
		if err := log.Append(e); err != nil {
			tb.Fatal(err)
		}
	})
	return &log
}

// trEachEvent streams the events of a file.
func trEachEvent(tb testing.TB, path string, opts *features.ReadOptions, fn func(e *features.Event)) {
	tb.Helper()
	srcs, closeAll, err := features.OpenSources([]string{path}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer closeAll()
	if opts == nil {
		opts = &features.ReadOptions{Mapping: features.DefaultMapping()}
	}
	r, err := features.NewReader(context.Background(), srcs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var e features.Event
	for {
		err := r.Read(&e)
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		fn(&e)
	}
}

// trSynthEvents generates a seeded synthetic history.
func trSynthEvents(tb testing.TB, users, days int, seed uint64) []features.Event {
	tb.Helper()
	g, err := synth.New(&synth.Config{Users: users, Days: days, Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	var evs []features.Event
	for {
		e, err := g.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, e)
	}
}

// trLog appends events to a new Log.
func trLog(tb testing.TB, evs []features.Event) *features.Log {
	tb.Helper()
	var log features.Log
	for i := range evs {
		if err := log.Append(&evs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return &log
}

const trSamplePath = "../testdata/sample_events.csv"

func trFixedNow() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

// trSynthCached is a 4,000-user, one-year synthetic history shared by the
// tests (generated once).
var trSynthCached []features.Event

func trSynth(tb testing.TB) []features.Event {
	if trSynthCached == nil {
		trSynthCached = trSynthEvents(tb, 4000, 365, 3)
	}
	return trSynthCached
}

// trSynthConfig is the configuration the synthetic tests train with.
func trSynthConfig() *Config {
	return &Config{Horizon: 30 * trDay, Seed: 7, Now: trFixedNow, Workers: 2}
}

// trSynthResult trains once on trSynth and caches the result.
var trSynthRes *Result

func trSynthTrain(tb testing.TB) *Result {
	tb.Helper()
	if trSynthRes == nil {
		res, err := Train(context.Background(), trLog(tb, trSynth(tb)), trSynthConfig())
		if err != nil {
			tb.Fatal(err)
		}
		trSynthRes = res
	}
	return trSynthRes
}

// The chosen model must beat every baseline out of time and on the held-out
// users. The baselines are computed by the pipeline on the same rows; the
// recency baseline's AUC is recomputed here from the T1 snapshot built
// independently with a streaming features.Builder, so the rows really are
// the eligible users at T1 and their labels.
func TestTrainSynthBeatsBaselines(t *testing.T) {
	trSkipUnderRace(t)
	res := trSynthTrain(t)
	r := res.Report
	for _, hs := range []struct {
		name string
		h    HoldoutSet
	}{{"out_of_time", r.Holdout.OutOfTime}, {"held_out_users", r.Holdout.HeldOutUsers}} {
		for _, te := range []struct {
			task string
			e    *TaskEval
		}{{"churn", hs.h.Churn}, {"propensity", hs.h.Propensity}} {
			t.Run(hs.name+"/"+te.task, func(t *testing.T) {
				e := te.e
				if e == nil {
					t.Fatal("missing evaluation")
				}
				if e.AUC <= e.Baselines.Recency.AUC+0.01 {
					t.Errorf("AUC %.4f does not beat recency %.4f by 0.01", e.AUC, e.Baselines.Recency.AUC)
				}
				if e.AUC <= e.Baselines.RFM.AUC {
					t.Errorf("AUC %.4f does not beat RFM %.4f", e.AUC, e.Baselines.RFM.AUC)
				}
				if e.Baselines.BaseRate.LogLossGain <= 0 {
					t.Errorf("log loss %.4f not below the base rate's %.4f", e.LogLoss, e.Baselines.BaseRate.LogLoss)
				}
				// Calibrated on other users of the same period: out of time
				// the error stays small (10-bin ECE).
				if e.ECE > 0.05 {
					t.Errorf("ECE %.4f > 0.05", e.ECE)
				}
				t.Logf("auc %.4f recency %.4f rfm %.4f log loss %.4f (base %.4f) ece %.4f lift %.2f",
					e.AUC, e.Baselines.Recency.AUC, e.Baselines.RFM.AUC, e.LogLoss, e.Baselines.BaseRate.LogLoss, e.ECE, e.TopDecileLift)
			})
		}
	}
	// Independent rows: stream the same events through a Builder at T1.
	t1 := r.AsOf.Add(-30 * trDay)
	spec, err := features.ParseSpec(res.Model.Spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := features.NewBuilder(features.BuilderConfig{Cutoff: t1, Horizon: 30 * trDay, DataEnd: r.AsOf, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range trSynth(t) {
		e := e
		if e.Time.Before(r.AsOf) {
			if err := b.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
	}
	ds, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	rec := slices.Index(ds.Names(), "recency_days")
	y, s := make([]float64, len(ds.Vectors)), make([]float64, len(ds.Vectors))
	for i, v := range ds.Vectors {
		y[i], s[i] = b2f(ds.Churn[i]), v.Values[rec]
	}
	auc := trMannWhitney(y, s)
	if got := r.Holdout.OutOfTime.Churn.Baselines.Recency.AUC; math.Abs(got-auc) > 1e-12 || r.Holdout.OutOfTime.Churn.N != len(y) {
		t.Errorf("recency baseline AUC %.6f on %d rows, independent %.6f on %d", got, r.Holdout.OutOfTime.Churn.N, auc, len(y))
	}
}

// trMannWhitney is the AUC by brute force over all pairs (ties one half).
func trMannWhitney(y, s []float64) float64 {
	num, den := 0.0, 0.0
	for i := range y {
		if y[i] != 1 {
			continue
		}
		for j := range y {
			if y[j] != 0 {
				continue
			}
			den++
			switch {
			case s[i] > s[j]:
				num++
			case s[i] == s[j]:
				num += 0.5
			}
		}
	}
	return num / den
}

// The stored scores are the model applied to the users eligible at T,
// computed again here with a streaming Builder and model.Score.
func TestTrainScoresMatchModel(t *testing.T) {
	res := trSynthTrain(t)
	spec, err := features.ParseSpec(res.Model.Spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := features.NewBuilder(features.BuilderConfig{Cutoff: res.Model.AsOf, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range trSynth(t) {
		e := e
		if err := b.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Vectors) != len(res.Scores) || res.Report.NUsers != len(ds.Vectors) {
		t.Fatalf("%d scores, report n_users %d, %d eligible users", len(res.Scores), res.Report.NUsers, len(ds.Vectors))
	}
	m, err := model.Decode(trMustEncode(t, res.Model))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ds.Vectors {
		p, err := m.Score(v.Values)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Scores[i]
		if got.UserID != v.UserID || got.Prediction.ChurnProbability != p.ChurnProbability ||
			*got.Prediction.PurchaseProbability != *p.PurchaseProbability || got.Prediction.Segment != p.Segment {
			t.Fatalf("user %s: stored %+v, rescored %+v", v.UserID, got.Prediction, p)
		}
	}
}

func trMustEncode(tb testing.TB, m *model.Model) []byte {
	tb.Helper()
	b, err := model.Encode(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// trStable returns the encoded model and report with the creation time
// zeroed: the only fields allowed to differ between two runs.
func trStable(tb testing.TB, res *Result) (mb, rb []byte) {
	tb.Helper()
	m := *res.Model
	m.CreatedAt = time.Time{}
	r := *res.Report
	r.CreatedAt = time.Time{}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		tb.Fatal(err)
	}
	return trMustEncode(tb, &m), buf.Bytes()
}

// Same data, config and seed give the same model and report bytes (except
// created_at), whatever the number of workers; another seed gives another
// model (the roles of the users change).
func TestTrainDeterministic(t *testing.T) {
	trSkipUnderRace(t)
	evs := trSynthEvents(t, 700, 240, 11)
	run := func(seed uint64, workers int, now time.Time) *Result {
		cfg := &Config{Horizon: 28 * trDay, Seed: seed, Workers: workers, MinUsers: 100, MinClass: 10,
			Now: func() time.Time { return now }}
		res, err := Train(context.Background(), trLog(t, evs), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a := run(5, 2, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	b := run(5, 1, time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC))
	am, ar := trStable(t, a)
	bm, br := trStable(t, b)
	if !bytes.Equal(am, bm) {
		t.Error("model bytes differ between two identical runs")
	}
	if !bytes.Equal(ar, br) {
		t.Error("report bytes differ between two identical runs")
	}
	if a.Model.Version != b.Model.Version || !strings.HasPrefix(a.Model.Version, a.Model.AsOf.Format("2006-01-02")+"-") {
		t.Errorf("versions %q and %q", a.Model.Version, b.Model.Version)
	}
	if a.Model.CreatedAt.Equal(b.Model.CreatedAt) {
		t.Error("created_at should follow Now")
	}
	c := run(6, 2, trFixedNow())
	if cm, _ := trStable(t, c); bytes.Equal(am, cm) {
		t.Error("a different seed gave the same model")
	}
}

// Leakage: events at or after T never reach the model (appending a burst of
// late events changes nothing), and every snapshot's features depend only on
// the events before its cutoff (rebuilding each snapshot from a log cut at
// the cutoff, plus the labels' window, gives the same vectors).
func TestTrainNoLeakage(t *testing.T) {
	trSkipUnderRace(t)
	evs := trSynthEvents(t, 700, 240, 12)
	asOf := evs[len(evs)-1].Time.Truncate(trDay).Add(-20 * trDay)
	cfg := &Config{Horizon: 28 * trDay, AsOf: asOf, Seed: 1, MinUsers: 100, MinClass: 10, Now: trFixedNow}
	base, err := Train(context.Background(), trLog(t, evs), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Late events: every user buys big and stays active after T.
	late := slices.Clone(evs)
	for i := 0; i < 1000; i++ {
		late = append(late, features.Event{UserID: evs[i].UserID, Name: "purchase", Time: asOf.Add(time.Duration(i) * time.Minute), Amount: 999})
	}
	res, err := Train(context.Background(), trLog(t, late), cfg)
	if err != nil {
		t.Fatal(err)
	}
	bm, _ := trStable(t, base)
	lm, _ := trStable(t, res)
	if !bytes.Equal(bm, lm) {
		t.Error("events after T changed the model")
	}
	// Per snapshot: features from a log with only the events before the
	// cutoff must equal those of the full log.
	tr, err := newTrainer(trLog(t, late), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cutoffs(); err != nil {
		t.Fatal(err)
	}
	if err := tr.buildSnapshots(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range tr.snaps {
		var before []features.Event
		for _, e := range late {
			if e.Time.Before(s.cutoff) {
				before = append(before, e)
			}
		}
		ds, err := trLog(t, before).Build(features.BuilderConfig{Cutoff: s.cutoff, Spec: tr.spec})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Vectors) != len(s.ds.Vectors) {
			t.Fatalf("snapshot %s: %d vs %d users", day(s.cutoff), len(ds.Vectors), len(s.ds.Vectors))
		}
		for i := range ds.Vectors {
			if !slices.Equal(ds.Vectors[i].Values, s.ds.Vectors[i].Values) {
				t.Fatalf("snapshot %s user %s: features depend on events after the cutoff", day(s.cutoff), ds.Vectors[i].UserID)
			}
		}
	}
}

// Each data check fails with a DataError naming what is missing.
func TestTrainDataChecks(t *testing.T) {
	evs := trSynthEvents(t, 800, 200, 13)
	for _, tc := range []struct {
		name  string
		cfg   Config
		check string
		want  string
	}{
		{"ErrFewUsers", Config{Horizon: 28 * trDay, MinUsers: 5000}, "users", "at least 5000 are needed (--min-users)"},
		{"ErrHorizon", Config{Horizon: 120 * trDay, MinUsers: 10}, "horizon", "a 120-day horizon needs at least 210 days"},
		{"ErrNoSnapshot", Config{Horizon: 70 * trDay, MinUsers: 10}, "snapshots", "no fitting snapshot before the out-of-time cutoff"},
		{"ErrFewClasses", Config{Horizon: 28 * trDay, MinUsers: 10, MinClass: 100000}, "classes", "at least 100000 of each are needed (--min-class)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			_, err := Train(context.Background(), trLog(t, evs), &cfg)
			var de *DataError
			if !errors.As(err, &de) || !errors.Is(err, ErrNotEnoughData) {
				t.Fatalf("got %v, want a DataError", err)
			}
			if de.Check != tc.check || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got check %q: %v\nwant check %q containing %q", de.Check, err, tc.check, tc.want)
			}
		})
	}
	t.Run("ErrAsOfAfterData", func(t *testing.T) {
		asOf := evs[len(evs)-1].Time.Add(10 * trDay)
		_, err := Train(context.Background(), trLog(t, evs), &Config{Horizon: 28 * trDay, AsOf: asOf, MinUsers: 10})
		var de *DataError
		if !errors.As(err, &de) || de.Check != "horizon" || !strings.Contains(err.Error(), "days after the last event") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ErrNoEvents", func(t *testing.T) {
		_, err := Train(context.Background(), &features.Log{}, &Config{Horizon: trDay})
		if !errors.Is(err, ErrNotEnoughData) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ErrConfig", func(t *testing.T) {
		_, err := Train(context.Background(), trLog(t, evs), &Config{Horizon: 36 * time.Hour, K: 1})
		if !errors.Is(err, ErrTrainConfig) || !strings.Contains(err.Error(), "whole number of days") || !strings.Contains(err.Error(), "k 1") {
			t.Errorf("got %v", err)
		}
	})
}

var (
	trRecencyText = regexp.MustCompile(`^no activity for (\d+) days? \(usually every ([\d.]+)\)$`)
	trOverdueText = regexp.MustCompile(`^([\d.]+)× their usual gap since the last activity$`)
)

// Reasons: every score carries up to three drivers whose contributions are
// sorted by size; the churn drivers of the riskiest users push the risk up;
// and a recency reason states the user's own recency and usual gap.
func TestTrainReasons(t *testing.T) {
	res := trSynthTrain(t)
	m := res.Model
	rj, gj := slices.Index(m.Features, model.FeatRecency), slices.Index(m.Features, model.FeatGapMean)
	scores := slices.Clone(res.Scores)
	slices.SortFunc(scores, func(a, b UserScore) int {
		return -cmpFloat(a.Prediction.ChurnProbability, b.Prediction.ChurnProbability)
	})
	recencyTexts := 0
	for k, s := range scores {
		rs := s.Prediction.Reasons
		if len(rs) == 0 || len(rs) > model.NumReasons {
			t.Fatalf("user %s has %d reasons", s.UserID, len(rs))
		}
		for i := 1; i < len(rs); i++ {
			if math.Abs(rs[i].Contribution) > math.Abs(rs[i-1].Contribution) {
				t.Fatalf("user %s: reasons not sorted by |contribution|: %+v", s.UserID, rs)
			}
		}
		if k < 20 && rs[0].Contribution <= 0 {
			t.Errorf("riskiest user %s (p=%.3f): top reason %+v lowers the risk", s.UserID, s.Prediction.ChurnProbability, rs[0])
		}
		x := trVector(t, res, s.UserID)
		for _, r := range rs {
			switch r.Feature {
			case model.FeatRecency:
				mt := trRecencyText.FindStringSubmatch(r.Text)
				if mt == nil {
					if r.Value >= 1 && x[gj] > 0 {
						t.Errorf("user %s: recency reason %q", s.UserID, r.Text)
					}
					continue
				}
				recencyTexts++
				d, _ := strconv.Atoi(mt[1])
				g, _ := strconv.ParseFloat(mt[2], 64)
				if d != int(math.Round(r.Value)) || r.Value != x[rj] || math.Abs(g-x[gj]) > 0.051 {
					t.Errorf("user %s: %q for recency %.2f, gap %.2f", s.UserID, r.Text, x[rj], x[gj])
				}
			case "overdue":
				// overdue = recency_days / max(gap_mean_days, 1) (DESIGN.md).
				want := x[rj] / math.Max(x[gj], 1)
				mt := trOverdueText.FindStringSubmatch(r.Text)
				if mt == nil {
					t.Fatalf("user %s: overdue reason %q", s.UserID, r.Text)
				}
				recencyTexts++
				if got, _ := strconv.ParseFloat(mt[1], 64); math.Abs(got-want) > 0.051 || math.Abs(r.Value-want) > 1e-9 {
					t.Errorf("user %s: %q, recency %.2f / gap %.2f = %.2f", s.UserID, r.Text, x[rj], x[gj], want)
				}
			}
		}
	}
	if recencyTexts == 0 {
		t.Error("no user has a recency or overdue reason")
	}
	t.Logf("riskiest user: %s %+v", scores[0].UserID, scores[0].Prediction.Reasons)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// trVectors caches the vectors at T of the synthetic run.
var trVectors map[string][]float64

func trVector(tb testing.TB, res *Result, id string) []float64 {
	tb.Helper()
	if trVectors == nil {
		spec, err := features.ParseSpec(res.Model.Spec)
		if err != nil {
			tb.Fatal(err)
		}
		ds, err := trLog(tb, trSynth(tb)).Build(features.BuilderConfig{Cutoff: res.Model.AsOf, Spec: spec})
		if err != nil {
			tb.Fatal(err)
		}
		trVectors = map[string][]float64{}
		for _, v := range ds.Vectors {
			trVectors[v.UserID] = v.Values
		}
	}
	return trVectors[id]
}

// The report of the synthetic run has every part issue 3 names, with the
// cutoffs in order and the segment health measured on the T1 users.
func TestTrainReportComplete(t *testing.T) {
	res := trSynthTrain(t)
	r := res.Report
	if len(r.Cutoffs) != 5 || r.Cutoffs[3].Role != RoleOutOfTime || r.Cutoffs[4].Role != RoleScore {
		t.Fatalf("cutoffs %+v", r.Cutoffs)
	}
	for i := 1; i < len(r.Cutoffs); i++ {
		if got := r.Cutoffs[i].Date.Sub(r.Cutoffs[i-1].Date); got != 30*trDay {
			t.Errorf("cutoff %d is %v after the previous one", i, got)
		}
	}
	if r.ModelVersion != res.Model.Version || r.NUsers != len(res.Scores) || r.HorizonDays != 30 {
		t.Errorf("version %q n_users %d horizon %d", r.ModelVersion, r.NUsers, r.HorizonDays)
	}
	if len(r.Backtest) != 3 || r.Backtest[2].Churn.AUC != r.Holdout.OutOfTime.Churn.AUC {
		t.Errorf("backtest %+v", r.Backtest)
	}
	for _, bp := range r.Backtest {
		if bp.Churn == nil || bp.Churn.AUC < 0.75 {
			t.Errorf("backtest at %s: %+v", bp.Cutoff, bp.Churn)
		}
	}
	if r.Models.Churn == nil || len(r.Models.Churn.Candidates) != 2 || r.Importance.Churn == nil {
		t.Errorf("models %+v", r.Models.Churn)
	}
	if r.Anomalies == nil || r.Anomalies.Scored == 0 {
		t.Errorf("anomalies %+v", r.Anomalies)
	}
	fams := r.Segments.Families()
	if len(fams) != 5 {
		t.Fatalf("%d segment families", len(fams))
	}
	for _, f := range fams {
		n := 0
		for _, s := range f.Segments {
			n += s.Users
		}
		if n != r.Holdout.OutOfTime.Churn.N {
			t.Errorf("%s: %d users, T1 has %d", f.Family, n, r.Holdout.OutOfTime.Churn.N)
		}
		if f.Transitions == nil || len(f.Stability) != 3 {
			t.Errorf("%s: stability %v", f.Family, f.Stability)
		}
	}
	// Does "high" risk churn more than "low"? (observed, on T1)
	var high, low float64
	for _, s := range r.Segments.RiskBand.Segments {
		switch s.Name {
		case model.BandHigh:
			high = *s.ChurnRate
		case model.BandLow:
			low = *s.ChurnRate
		}
	}
	if !(high > 2*low) {
		t.Errorf("observed churn: high band %.3f, low band %.3f", high, low)
	}
}

// On the committed sample (300 users, four months, 259 eligible at T1 of
// whom 41 churn) the pipeline runs with lowered minimums. With so few users
// the result depends on which users the seed puts in the fitting, tuning
// and selection roles, so the claim is made over the seeds 0..7: the mean
// out-of-time AUC beats the recency baseline on the same rows (which does
// not depend on the seed).
func TestTrainSample(t *testing.T) {
	log := trReadLog(t, filepath.Clean(trSamplePath), nil)
	sum, recency := 0.0, 0.0
	const seeds = 8
	for seed := range uint64(seeds) {
		res, err := Train(context.Background(), log, &Config{Horizon: 30 * trDay, MinUsers: 50, MinClass: -1, Seed: seed, Now: trFixedNow})
		if err != nil {
			t.Fatal(err)
		}
		e := res.Report.Holdout.OutOfTime.Churn
		t.Logf("seed %d: chosen %s, OOT AUC %.4f, recency %.4f, rfm %.4f, n %d, positives %d", seed, e.Model, e.AUC,
			e.Baselines.Recency.AUC, e.Baselines.RFM.AUC, e.N, e.Positives)
		sum += e.AUC
		recency = e.Baselines.Recency.AUC
		// Reasons read as sentences: the riskiest users' strongest driver
		// raises the risk, and no driver falls back to "name = value".
		sc := slices.Clone(res.Scores)
		slices.SortFunc(sc, func(a, b UserScore) int {
			return -cmpFloat(a.Prediction.ChurnProbability, b.Prediction.ChurnProbability)
		})
		for _, u := range sc[:5] {
			rs := u.Prediction.Reasons
			if len(rs) == 0 || rs[0].Contribution <= 0 {
				t.Errorf("seed %d: riskiest user %s: reasons %+v", seed, u.UserID, rs)
			}
			for _, r := range rs {
				if strings.Contains(r.Text, " = ") || r.Text == "" {
					t.Errorf("seed %d: user %s: reason text %q", seed, u.UserID, r.Text)
				}
			}
		}
		if seed == 0 {
			t.Logf("riskiest sample user %s (p=%.2f): %q", sc[0].UserID, sc[0].Prediction.ChurnProbability, reasonTextsOf(sc[0].Prediction.Reasons))
		}
	}
	if mean := sum / seeds; mean <= recency {
		t.Errorf("mean OOT AUC %.4f over %d seeds does not beat recency %.4f", mean, seeds, recency)
	}
}

// CDNOW (Fader and Hardie's purchase log, 23,570 customers, 1997-01 to
// 1998-06), skipped when ../../shared/data is absent: trained as of
// 1997-10-01 with a 13-week horizon, the model beats recency out of time,
// and its stored scores predict what really happened in the following 13
// weeks, which the file also holds (no purchase in 1997-10-01 .. 1997-12-30
// = churn). The outcome is read from the raw file here, not from the Log.
func TestTrainCDNOW(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "cdnow", "CDNOW_master.txt")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("CDNOW data absent: %v", err)
	}
	if trRace {
		t.Skip("CDNOW run skipped under the race detector (about 25 s); the plain test run covers it")
	}
	opts := &features.ReadOptions{Mapping: features.Mapping{UserCol: "customer_id", TimeCol: "date", AmountCol: "dollar_value", EventName: "purchase"}}
	log := trReadLog(t, path, opts)
	asOf := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)
	res, err := Train(context.Background(), log, &Config{AsOf: asOf, Horizon: 13 * 7 * trDay, Now: trFixedNow})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Report.Holdout.OutOfTime.Churn
	t.Logf("CDNOW OOT: chosen %s, AUC %.4f, recency %.4f, RFM %.4f, log loss %.4f (base %.4f), ECE %.4f, n %d",
		e.Model, e.AUC, e.Baselines.Recency.AUC, e.Baselines.RFM.AUC, e.LogLoss, e.Baselines.BaseRate.LogLoss, e.ECE, e.N)
	if e.AUC <= e.Baselines.Recency.AUC {
		t.Errorf("OOT AUC %.4f does not beat recency %.4f", e.AUC, e.Baselines.Recency.AUC)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bought := map[string]bool{}
	last := map[string]string{} // last purchase date before 1997-10-01
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		if f[1] >= "19971001" && f[1] <= "19971230" {
			bought[f[0]] = true
		}
		if f[1] < "19971001" && f[1] > last[f[0]] {
			last[f[0]] = f[1]
		}
	}
	rec := make([]float64, len(res.Scores))
	for i, s := range res.Scores {
		d, err := time.Parse("20060102", last[s.UserID])
		if err != nil {
			t.Fatalf("user %s: %v", s.UserID, err)
		}
		rec[i] = asOf.Sub(d).Hours() / 24
	}
	y, p := make([]float64, len(res.Scores)), make([]float64, len(res.Scores))
	for i, s := range res.Scores {
		y[i] = b2f(!bought[s.UserID])
		p[i] = s.Prediction.ChurnProbability
	}
	ev, err := Evaluate(y, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CDNOW stored scores as of 1997-10-01 vs the next 13 weeks: %d users, churn rate %.4f, AUC %.4f, log loss %.4f, ECE %.4f, Brier %.4f",
		ev.N, ev.BaseRate, ev.AUC, ev.LogLoss, ev.ECE, ev.Brier)
	recAUC, err := ROCAUC(y, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recency alone on the same users and outcome: AUC %.4f", recAUC)
	if ev.AUC <= recAUC || ev.ECE > 0.05 {
		t.Errorf("future check: AUC %.4f (recency %.4f), ECE %.4f", ev.AUC, recAUC, ev.ECE)
	}

	// Customer values: the BG/NBD fit as of 1997-10-01 is the master's
	// published-calibration fit (README: r 0.25162, alpha 4.78894, a
	// 0.72343, b 2.16109, an independent scipy fit), and the stored
	// expected purchases of the scored users over the 13 weeks are checked
	// against their purchase days in those weeks, which the file holds.
	v := res.Model.Value
	if v == nil {
		t.Fatalf("no customer-value part: %s", res.Report.CustomerValue.Note)
	}
	for _, c := range []struct{ got, want float64 }{{v.BGNBD.R, 0.2516240}, {v.BGNBD.Alpha, 4.7889431}, {v.BGNBD.A, 0.7234334}, {v.BGNBD.B, 2.1610880}} {
		if math.Abs(c.got-c.want) > 1e-4*c.want {
			t.Errorf("BG/NBD parameter %v, want %v", c.got, c.want)
		}
	}
	days := map[string]map[string]bool{} // purchase days in 1997-10-01 .. 1997-12-30
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] >= "19971001" && f[1] <= "19971230" && !strings.HasPrefix(f[3], "-") {
			if days[f[0]] == nil {
				days[f[0]] = map[string]bool{}
			}
			days[f[0]][f[1]] = true
		}
	}
	var predicted float64
	actual := 0
	for _, s := range res.Scores {
		if s.Prediction.ExpectedPurchases == nil {
			t.Fatalf("user %s has no expected purchases", s.UserID)
		}
		predicted += *s.Prediction.ExpectedPurchases
		actual += len(days[s.UserID])
	}
	cv := res.Report.CustomerValue
	t.Logf("CDNOW customer values as of 1997-10-01: %d scored users, expected purchase days in the next 13 weeks %.1f, actual %d (%+.1f%%); median p_alive %.3f, median CLV %.2f; %s",
		len(res.Scores), predicted, actual, 100*(predicted-float64(actual))/float64(actual), cv.PAlive.Median, cv.CLV.Median, cv.Verdict)
	if math.Abs(predicted-float64(actual)) > 0.25*float64(actual) {
		t.Errorf("expected purchases %.1f vs actual %d", predicted, actual)
	}
}

func reasonTextsOf(rs []model.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Text
	}
	return out
}
