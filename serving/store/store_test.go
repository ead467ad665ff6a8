package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
)

// mustOpen opens a store under tb.TempDir and closes it at cleanup.
func mustOpen(tb testing.TB, opts *Options) (*Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "lapse.db")
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, path
}

// testModel is a minimal valid model: one feature, logistic churn.
func testModel(tb testing.TB, version string, created time.Time) *model.Model {
	tb.Helper()
	tf := &model.Transform{Features: []model.FeatureTransform{{Name: "recency_days", Kind: model.KindNone, Std: 1}}}
	m := &model.Model{
		Format:      model.FormatVersion,
		Version:     version,
		CreatedAt:   created,
		AsOf:        time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		HorizonDays: 30,
		Spec:        []byte(`{}`),
		Features:    []string{"recency_days"},
		Churn:       &model.Classifier{Kind: model.KindLogistic, Transform: tf, Logistic: &model.Logistic{Weights: []float64{0.1}, Bias: -2}},
		Bands:       model.RiskBands{Medium: 0.3, High: 0.6},
		Metrics:     map[string]float64{"churn_auc_oot": 0.81},
	}
	if err := m.Prepare(); err != nil {
		tb.Fatal(err)
	}
	return m
}

// records yields n users u000..u(n-1) with a score and a state "state-i".
func records(n int) func(yield func(UserRecord) error) error {
	return func(yield func(UserRecord) error) error {
		for i := range n {
			p := model.Prediction{ChurnProbability: float64(i) / float64(n), RiskBand: []string{"low", "medium", "high"}[i%3]}
			if err := yield(UserRecord{ID: fmt.Sprintf("u%03d", i), Score: &p, State: []byte(fmt.Sprintf("state-%d", i))}); err != nil {
				return err
			}
		}
		return nil
	}
}

var ctx = context.Background()

func TestSaveModelAndRead(t *testing.T) {
	s, path := mustOpen(t, &Options{BatchSize: 7}) // several batches
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if m, err := s.ActiveModel(ctx); m != nil || err != nil {
		t.Fatalf("empty store: ActiveModel = %v, %v; want nil, nil", m, err)
	}
	if err := s.SaveModel(ctx, testModel(t, "v1", t0), []byte(`{"r":1}`), records(20), true); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveModel(ctx, testModel(t, "v2", t0.Add(time.Hour)), []byte(`{"r":2}`), records(5), false); err != nil {
		t.Fatal(err)
	}

	list, err := s.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Version != "v2" || list[1].Version != "v1" {
		t.Fatalf("ListModels = %+v, want v2 then v1", list)
	}
	if list[0].Active || !list[1].Active || list[1].Users != 20 || list[0].Users != 5 || list[1].Metrics["churn_auc_oot"] != 0.81 {
		t.Errorf("ListModels = %+v", list)
	}
	m, err := s.ActiveModel(ctx)
	if err != nil || m == nil || m.Version != "v1" {
		t.Fatalf("ActiveModel = %v, %v", m, err)
	}
	if p, err := m.Score([]float64{10}); err != nil || p.ChurnProbability <= 0 {
		t.Errorf("the decoded model does not score: %v %v", p, err)
	}
	if rep, err := s.Report(ctx, "v2"); err != nil || string(rep) != `{"r":2}` {
		t.Errorf("Report(v2) = %q, %v", rep, err)
	}
	if _, err := s.Report(ctx, "v9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Report(v9) error = %v, want ErrNotFound", err)
	}
	if m, err := s.Model(ctx, "v9"); m != nil || err != nil {
		t.Errorf("Model(v9) = %v, %v; want nil, nil", m, err)
	}

	// Scores in user-id order, resuming after a cursor.
	var ids []string
	err = s.EachScore(ctx, "v1", "u014", func(id string, p *model.Prediction) error {
		ids = append(ids, id)
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"u015", "u016", "u017", "u018", "u019"}) {
		t.Errorf("EachScore after u014 = %v, %v", ids, err)
	}
	ids = ids[:0]
	if err := s.EachScore(ctx, "v1", "u0145", func(id string, _ *model.Prediction) error { ids = append(ids, id); return nil }); err != nil || ids[0] != "u015" {
		t.Errorf("EachScore after a cursor between ids starts at %v, %v", ids, err)
	}
	n := 0
	if err := s.EachState(ctx, "v1", func(id string, st []byte) error {
		if want := "state-" + fmt.Sprint(n); string(st) != want || id != fmt.Sprintf("u%03d", n) {
			t.Errorf("EachState %d: %s = %q, want %q", n, id, st, want)
		}
		n++
		return nil
	}); err != nil || n != 20 {
		t.Errorf("EachState visited %d (%v), want 20", n, err)
	}

	// LoadUsers in the order asked, with misses.
	var got []string
	err = s.LoadUsers(ctx, "v1", []string{"u003", "nobody", "u001"}, func(i int, st []byte, p *model.Prediction) error {
		got = append(got, fmt.Sprintf("%d:%s:%v", i, st, p != nil))
		return nil
	})
	if want := []string{"0:state-3:false", "1::false", "2:state-1:false"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("LoadUsers = %v, %v; want %v (a stored state supersedes the record)", got, err, want)
	}
	// Without a state, the stored record is given.
	scoreOnly := func(yield func(UserRecord) error) error {
		return yield(UserRecord{ID: "u003", Score: &model.Prediction{ChurnProbability: 0.25, RiskBand: "low"}})
	}
	if err := s.SaveModel(ctx, testModel(t, "v0", t0.Add(-time.Hour)), nil, scoreOnly, false); err != nil {
		t.Fatal(err)
	}
	err = s.LoadUsers(ctx, "v0", []string{"u003"}, func(i int, st []byte, p *model.Prediction) error {
		if st != nil || p == nil || p.ChurnProbability != 0.25 || p.RiskBand != "low" {
			t.Errorf("LoadUsers of a stateless user: state %q, record %+v", st, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Persisted across reopen; activation moves the pointer.
	if err := s.Activate(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, "v9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate(v9) = %v, want ErrNotFound", err)
	}
	s.Close()
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, _ := s2.ActiveVersion(ctx); v != "v2" {
		t.Errorf("after reopen the active version is %q, want v2", v)
	}
	if err := s2.Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestSaveModelImmutable(t *testing.T) {
	s, _ := mustOpen(t, &Options{BatchSize: 3})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SaveModel(ctx, testModel(t, "v1", t0), nil, records(10), true); err != nil {
		t.Fatal(err)
	}
	err := s.SaveModel(ctx, testModel(t, "v1", t0), nil, records(4), true)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "v1 exists") {
		t.Fatalf("second save of v1 = %v, want ErrExists", err)
	}
	n := 0
	s.EachScore(ctx, "v1", "", func(string, *model.Prediction) error { n++; return nil })
	list, _ := s.ListModels(ctx)
	if n != 10 || len(list) != 1 || list[0].Users != 10 || !list[0].Active {
		t.Errorf("after a refused second save: %d scores, list %+v", n, list)
	}
}

// An interrupted save leaves no visible version, keeps the previous active
// one, and its partial buckets are gone after the next Open.
func TestSaveModelInterrupted(t *testing.T) {
	s, path := mustOpen(t, &Options{BatchSize: 5})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SaveModel(ctx, testModel(t, "v1", t0), nil, records(3), true); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	users := func(yield func(UserRecord) error) error {
		if err := records(12)(yield); err != nil {
			return err
		}
		return boom
	}
	if err := s.SaveModel(ctx, testModel(t, "v2", t0), nil, users, true); !errors.Is(err, boom) {
		t.Fatalf("SaveModel = %v, want boom", err)
	}
	if list, _ := s.ListModels(ctx); len(list) != 1 || list[0].Version != "v1" || !list[0].Active {
		t.Errorf("after a failed save: %+v", list)
	}
	partial := 0
	s.EachScore(ctx, "v2", "", func(string, *model.Prediction) error { partial++; return nil })
	if partial == 0 {
		t.Fatal("expected the two committed batches of the failed save to exist before reopen")
	}
	s.Close()
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = s2.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bScores).Bucket([]byte("v2")) != nil || tx.Bucket(bStates).Bucket([]byte("v2")) != nil {
			return errors.New("orphan buckets of v2 survived Open")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestSaveModelBadInput(t *testing.T) {
	s, _ := mustOpen(t, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		m     *model.Model
		users func(yield func(UserRecord) error) error
	}{
		{"NilModel", nil, records(1)},
		{"EmptyVersion", func() *model.Model { m := testModel(t, "x", t0); m.Version = ""; return m }(), records(1)},
		{"EmptyUserID", testModel(t, "v1", t0), func(yield func(UserRecord) error) error { return yield(UserRecord{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SaveModel(ctx, tc.m, nil, tc.users, true); err == nil {
				t.Fatal("SaveModel succeeded")
			}
			if list, _ := s.ListModels(ctx); len(list) != 0 {
				t.Errorf("a failed save stored %+v", list)
			}
		})
	}
}

func TestUpdateStatesAllOrNothing(t *testing.T) {
	s, _ := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(3), true); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.UpdateStates(ctx, "v1", []string{"u000", "new", "u002"}, func(i int, old []byte) ([]byte, error) {
		if i == 2 {
			return nil, boom
		}
		return append(old, '+'), nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateStates = %v, want boom", err)
	}
	get := func(id string) string {
		var out string
		s.LoadUsers(ctx, "v1", []string{id}, func(_ int, st []byte, _ *model.Prediction) error { out = string(st); return nil })
		return out
	}
	if got := get("u000"); got != "state-0" {
		t.Errorf("a failed batch changed u000 to %q", got)
	}
	if got := get("new"); got != "" {
		t.Errorf("a failed batch created user new: %q", got)
	}
	err = s.UpdateStates(ctx, "v1", []string{"u000", "new"}, func(i int, old []byte) ([]byte, error) {
		return append(old, '+'), nil
	})
	if err != nil || get("u000") != "state-0+" || get("new") != "+" {
		t.Errorf("UpdateStates: %v; u000 %q, new %q", err, get("u000"), get("new"))
	}
	if err := s.UpdateStates(ctx, "v9", []string{"a"}, func(int, []byte) ([]byte, error) { return []byte("x"), nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateStates on an unknown version = %v, want ErrNotFound", err)
	}
	if err := s.UpdateStates(ctx, "v1", []string{""}, func(int, []byte) ([]byte, error) { return []byte("x"), nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateStates with an empty id = %v, want ErrInvalid", err)
	}
}

func TestExperimentsAndSuppression(t *testing.T) {
	s, _ := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(6), true); err != nil {
		t.Fatal(err)
	}
	exp := &lift.Experiment{Name: "winback", Holdout: 0.5, Active: true, Treatment: 99}
	as := []lift.Assignment{
		{UserID: "u001", Group: lift.Control}, {UserID: "u000", Group: lift.Treatment}, {UserID: "u002", Group: lift.Control},
	}
	if err := s.CreateExperiment(ctx, exp, as); err != nil {
		t.Fatal(err)
	}
	if exp.Treatment != 1 || exp.Control != 2 {
		t.Errorf("counts %d/%d, want 1 treatment, 2 control", exp.Treatment, exp.Control)
	}
	if err := s.CreateExperiment(ctx, &lift.Experiment{Name: "winback"}, nil); !errors.Is(err, ErrExists) {
		t.Errorf("second create = %v, want ErrExists", err)
	}
	for _, bad := range []struct {
		name string
		as   []lift.Assignment
	}{
		{"bad/name", nil},
		{"dup", []lift.Assignment{{UserID: "a", Group: lift.Control}, {UserID: "a", Group: lift.Treatment}}},
		{"group", []lift.Assignment{{UserID: "a", Group: "both"}}},
		{"noid", []lift.Assignment{{Group: lift.Control}}},
	} {
		if err := s.CreateExperiment(ctx, &lift.Experiment{Name: bad.name}, bad.as); !errors.Is(err, ErrInvalid) {
			t.Errorf("create %s = %v, want ErrInvalid", bad.name, err)
		}
		if e, _ := s.Experiment(ctx, bad.name); e != nil {
			t.Errorf("a rejected create stored %s", bad.name)
		}
	}
	var order []string
	if err := s.EachAssignment(ctx, "winback", func(a *lift.Assignment) error {
		order = append(order, a.UserID+"="+string(a.Group))
		return nil
	}); err != nil || !slices.Equal(order, []string{"u000=treatment", "u001=control", "u002=control"}) {
		t.Errorf("EachAssignment = %v, %v", order, err)
	}
	if err := s.EachAssignment(ctx, "nope", func(*lift.Assignment) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("EachAssignment(nope) = %v, want ErrNotFound", err)
	}

	suppressed := func() []bool {
		ids := []string{"u000", "u001", "u002", "u003", "u004", "u005"}
		out := make([]bool, len(ids))
		if err := s.Suppressed(ctx, ids, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := suppressed(), []bool{false, true, true, false, false, false}; !slices.Equal(got, want) {
		t.Errorf("with the experiment active: %v, want %v", got, want)
	}
	if err := s.OptOut(ctx, "u004"); err != nil {
		t.Fatal(err)
	}
	if err := s.OptOut(ctx, "u004"); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := s.SetExperimentActive(ctx, "winback", false); err != nil {
		t.Fatal(err)
	}
	if got, want := suppressed(), []bool{false, false, false, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("experiment stopped, u004 opted out: %v, want %v", got, want)
	}
	// The global control group: users whose hash falls under the share.
	g := &lift.GlobalControl{Share: 0.5, Salt: "s"}
	if err := s.SetGlobalControl(ctx, g); err != nil {
		t.Fatal(err)
	}
	got := suppressed()
	for i, id := range []string{"u000", "u001", "u002", "u003", "u004", "u005"} {
		if want := id == "u004" || lift.InGlobalControl("s", id, 0.5); got[i] != want {
			t.Errorf("global control: %s suppressed %v, want %v", id, got[i], want)
		}
	}
	if err := s.SetGlobalControl(ctx, &lift.GlobalControl{Share: 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("share 2 = %v, want ErrInvalid", err)
	}
	if err := s.SetGlobalControl(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GlobalControl(ctx); g != nil || err != nil {
		t.Errorf("after removal GlobalControl = %v, %v", g, err)
	}
	if list, err := s.ListExperiments(ctx); err != nil || len(list) != 1 || list[0].Active {
		t.Errorf("ListExperiments = %+v, %v", list, err)
	}
}

func TestDeleteUser(t *testing.T) {
	s, _ := mustOpen(t, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []string{"v1", "v2"} {
		if err := s.SaveModel(ctx, testModel(t, v, t0), nil, records(4), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateExperiment(ctx, &lift.Experiment{Name: "e", Active: true},
		[]lift.Assignment{{UserID: "u001", Group: lift.Control}, {UserID: "u002", Group: lift.Treatment}}); err != nil {
		t.Fatal(err)
	}
	s.OptOut(ctx, "u001")
	found, err := s.DeleteUser(ctx, "u001")
	if err != nil || !found {
		t.Fatalf("DeleteUser(u001) = %v, %v", found, err)
	}
	for _, v := range []string{"v1", "v2"} {
		s.LoadUsers(ctx, v, []string{"u001"}, func(_ int, st []byte, p *model.Prediction) error {
			if st != nil || p != nil {
				t.Errorf("%s still holds u001", v)
			}
			return nil
		})
	}
	if ok, _ := s.OptedOut(ctx, "u001"); ok {
		t.Error("the opt-out survived erasure")
	}
	e, _ := s.Experiment(ctx, "e")
	if e.Control != 0 || e.Treatment != 1 {
		t.Errorf("experiment counts after erasure: %d control, %d treatment", e.Control, e.Treatment)
	}
	list, _ := s.ListModels(ctx)
	for _, m := range list {
		if m.Users != 3 {
			t.Errorf("%s counts %d users after erasure, want 3", m.Version, m.Users)
		}
	}
	if found, err := s.DeleteUser(ctx, "u001"); err != nil || found {
		t.Errorf("second DeleteUser = %v, %v; want false", found, err)
	}
	// An opt-out alone is something stored.
	s.OptOut(ctx, "stranger")
	if found, _ := s.DeleteUser(ctx, "stranger"); !found {
		t.Error("DeleteUser did not report the opt-out it removed")
	}
	if err := s.Check(ctx); err != nil {
		t.Error(err)
	}
}

// A second Open of a file another handle holds fails with ErrLocked after
// the timeout instead of hanging (bbolt's flock is per open file, so this
// holds within one process as it does across processes).
func TestOpenLocked(t *testing.T) {
	_, path := mustOpen(t, nil)
	start := time.Now()
	_, err := Open(path, &Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestOpenForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bMeta)
		return b.Put(kFormat, []byte("99"))
	})
	db.Close()
	if _, err := Open(path, nil); !errors.Is(err, ErrFormat) {
		t.Errorf("Open of a layout-99 file = %v, want ErrFormat", err)
	}
}

func TestReadOnly(t *testing.T) {
	s, path := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(2), true); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if m, err := r.ActiveModel(ctx); err != nil || m.Version != "v1" {
		t.Errorf("read-only ActiveModel = %v, %v", m, err)
	}
	if err := r.OptOut(ctx, "x"); err == nil {
		t.Error("a read-only store accepted a write")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), &Options{ReadOnly: true}); err == nil {
		t.Error("read-only Open created a missing file")
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := mustOpen(t, nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.SaveModel(cctx, testModel(t, "v1", time.Now()), nil, records(2), true); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveModel with a cancelled context = %v", err)
	}
	if _, err := s.ListModels(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListModels with a cancelled context = %v", err)
	}
}

// Concurrent UpdateStates calls are committed in groups; every update of
// every caller is applied exactly once in the end.
func TestUpdateStatesConcurrent(t *testing.T) {
	s, _ := mustOpen(t, nil)
	if err := s.SaveModel(ctx, testModel(t, "v1", time.Now()), nil, records(0), true); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for r := range rounds {
				ids := []string{"shared", fmt.Sprintf("own-%d", w)}
				err := s.UpdateStates(ctx, "v1", ids, func(i int, old []byte) ([]byte, error) {
					return append(slices.Clone(old), byte('a'+w)), nil
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s.LoadUsers(ctx, "v1", []string{"shared", "own-3"}, func(i int, st []byte, _ *model.Prediction) error {
		want := workers * rounds
		if i == 1 {
			want = rounds
		}
		if len(st) != want {
			t.Errorf("user %d: %d updates applied, want %d", i, len(st), want)
		}
		return nil
	})
}

// Cancelling during a save stops it with the context's error; the version
// is not visible.
func TestSaveModelCancelledMidway(t *testing.T) {
	s, _ := mustOpen(t, &Options{BatchSize: 4})
	cctx, cancel := context.WithCancel(ctx)
	users := func(yield func(UserRecord) error) error {
		return records(40)(func(r UserRecord) error {
			if r.ID == "u010" {
				cancel()
			}
			return yield(r)
		})
	}
	if err := s.SaveModel(cctx, testModel(t, "v1", time.Now()), nil, users, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveModel = %v, want context.Canceled", err)
	}
	if list, _ := s.ListModels(ctx); len(list) != 0 {
		t.Errorf("a cancelled save is visible: %+v", list)
	}
	if v, _ := s.ActiveVersion(ctx); v != "" {
		t.Errorf("a cancelled save activated %q", v)
	}
}
