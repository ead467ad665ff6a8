package serving

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
)

// expStore adds experiments and the global control group to memStore,
// with the store's contracts: atomic creation refused for a taken name,
// copies in and out, assignments in user-id order, and Suppressed covering
// opt-outs, the global control group and the control users of active
// experiments.
type expStore struct {
	*memStore
	emu     sync.Mutex
	exps    map[string]lift.Experiment
	assigns map[string][]lift.Assignment
	global  *lift.GlobalControl
	// efail, when set, is returned by every experiment method.
	efail error
	// beforeCreate, when set, runs at the start of CreateExperiment.
	beforeCreate func()
}

var (
	_ ExperimentStore   = (*expStore)(nil)
	_ ExperimentCreator = (*expStore)(nil)
	_ SegmentStore      = (*expStore)(nil)
)

var errExists = errors.New("expstore: experiment exists")

func newExpStore() *expStore {
	return &expStore{memStore: newMemStore(), exps: map[string]lift.Experiment{}, assigns: map[string][]lift.Assignment{}}
}

func (s *expStore) CreateExperiment(ctx context.Context, exp *lift.Experiment, as []lift.Assignment) error {
	if s.beforeCreate != nil {
		s.beforeCreate()
	}
	s.emu.Lock()
	defer s.emu.Unlock()
	if s.efail != nil {
		return s.efail
	}
	if _, ok := s.exps[exp.Name]; ok {
		return errExists
	}
	cp := slices.Clone(as)
	slices.SortFunc(cp, func(a, b lift.Assignment) int { return strings.Compare(a.UserID, b.UserID) })
	s.exps[exp.Name] = *exp
	s.assigns[exp.Name] = cp
	return nil
}

func (s *expStore) Experiment(ctx context.Context, name string) (*lift.Experiment, error) {
	s.emu.Lock()
	defer s.emu.Unlock()
	if s.efail != nil {
		return nil, s.efail
	}
	e, ok := s.exps[name]
	if !ok {
		return nil, nil
	}
	return &e, nil
}

func (s *expStore) ListExperiments(ctx context.Context) ([]lift.Experiment, error) {
	s.emu.Lock()
	defer s.emu.Unlock()
	if s.efail != nil {
		return nil, s.efail
	}
	var out []lift.Experiment
	for _, e := range s.exps {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b lift.Experiment) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *expStore) EachAssignment(ctx context.Context, name string, fn func(a *lift.Assignment) error) error {
	s.emu.Lock()
	if s.efail != nil {
		s.emu.Unlock()
		return s.efail
	}
	as := slices.Clone(s.assigns[name])
	s.emu.Unlock()
	for i := range as {
		if err := fn(&as[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *expStore) SetExperimentActive(ctx context.Context, name string, active bool) error {
	s.emu.Lock()
	defer s.emu.Unlock()
	if s.efail != nil {
		return s.efail
	}
	e, ok := s.exps[name]
	if !ok {
		return errors.New("expstore: no such experiment")
	}
	e.Active = active
	s.exps[name] = e
	return nil
}

func (s *expStore) Suppressed(ctx context.Context, ids []string, out []bool) error {
	if err := s.memStore.Suppressed(ctx, ids, out); err != nil {
		return err
	}
	s.emu.Lock()
	defer s.emu.Unlock()
	for i, id := range ids {
		if s.global.Holds(id) {
			out[i] = true
		}
		for name, e := range s.exps {
			if !e.Active {
				continue
			}
			as := s.assigns[name]
			if j, ok := slices.BinarySearchFunc(as, id, func(a lift.Assignment, id string) int { return strings.Compare(a.UserID, id) }); ok && as[j].Group == lift.Control {
				out[i] = true
			}
		}
	}
	return nil
}

// expFixture is a server over an expStore holding the active model v1 and
// 300 scored users u000..u299 with a stored state each (one login two
// days before the model's as-of time t0). User i is in risk band high,
// medium or low for i%3 = 0, 1, 2 (churn 0.9, 0.5, 0.1), segment "lapsed"
// for even i and "recent" for odd i, lifecycle stage at-risk when i%5 = 0
// (60 users) and active otherwise.
type expFixture struct {
	st    *expStore
	srv   *Server
	h     http.Handler
	clock *time.Time
}

func userID(i int) string { return fmt.Sprintf("u%03d", i) }

func newExpFixture(tb testing.TB, cfg Config, noExperiments bool) *expFixture {
	tb.Helper()
	st := newExpStore()
	st.addModel(testModel(tb, "v1"), true)
	spec := testSpec(tb)
	bands := []string{model.BandHigh, model.BandMedium, model.BandLow}
	probs := []float64{0.9, 0.5, 0.1}
	for i := range 300 {
		id := userID(i)
		stage := "active"
		if i%5 == 0 {
			stage = "at-risk"
		}
		seg := "recent"
		if i%2 == 0 {
			seg = "lapsed"
		}
		st.putScore("v1", id, model.Prediction{ChurnProbability: probs[i%3], RiskBand: bands[i%3], Segment: seg,
			RFMSegment: "Lost", LifecycleStage: stage, UsageTier: "light"})
		st.putState("v1", id, stateOf(tb, spec, t0, features.Event{UserID: id, Name: "login", Time: t0.Add(-48 * time.Hour)}))
	}
	clock := t0.Add(24 * time.Hour)
	cfg.Now = func() time.Time { return clock }
	deps := Deps{Models: st, Users: st, Segments: st, Experiments: st}
	if noExperiments {
		deps.Experiments = nil
	}
	srv := New(cfg, deps, slog.New(slog.DiscardHandler))
	if err := srv.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &expFixture{st: st, srv: srv, h: srv.Handler(), clock: &clock}
}

func (f *expFixture) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	return serveRequest(f.h, method, target, body, hdr...)
}

// create posts an experiment and fails the test unless it is created.
func (f *expFixture) create(tb testing.TB, body string) ExperimentCreated {
	tb.Helper()
	w := f.do("POST", "/v1/experiments", body, "Content-Type", "application/json")
	if w.Code != http.StatusCreated {
		tb.Fatalf("create %s: status %d: %s", body, w.Code, w.Body)
	}
	var res ExperimentCreated
	mustJSON(tb, w, &res)
	return res
}

// assignments reads the CSV export of an experiment as user -> group.
func (f *expFixture) assignments(tb testing.TB, name, group string) map[string]lift.Group {
	tb.Helper()
	target := "/v1/experiments/" + name + "/assignments"
	if group != "" {
		target += "?group=" + group
	}
	w := f.do("GET", target, "")
	if w.Code != 200 {
		tb.Fatalf("GET %s: status %d: %s", target, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		tb.Errorf("Content-Type %q, want text/csv", ct)
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], []string{"user_id", "group"}) {
		tb.Fatalf("header %v, want user_id,group", recs)
	}
	out := map[string]lift.Group{}
	prev := ""
	for _, r := range recs[1:] {
		g, err := lift.ParseGroup(r[1])
		if err != nil {
			tb.Fatal(err)
		}
		if r[0] <= prev {
			tb.Errorf("rows not in user-id order: %q after %q", r[0], prev)
		}
		prev = r[0]
		out[r[0]] = g
	}
	return out
}

func TestCreateExperiment(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *expFixture)
		body   string
		ctype  string
		status int
		code   Code
		msg    string // substring of the error message
		check  func(t *testing.T, f *expFixture, res ExperimentCreated)
	}{
		{name: "segment/OK", body: `{"name":"wb-1","segment":"lifecycle_stage/at-risk","holdout":0.2,"start":"2025-06-03T00:00:00Z"}`,
			status: 201, check: func(t *testing.T, f *expFixture, res ExperimentCreated) {
				e := res.Experiment
				if res.Targeted != 60 || res.Suppressed != 0 || e.Treatment+e.Control != 60 || e.ModelVersion != "v1" ||
					e.TargetEvent != "purchase" || !e.Active || e.Holdout != 0.2 || e.Target.Segment != "lifecycle_stage/at-risk" ||
					!e.Start.Equal(time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)) || !e.CreatedAt.Equal(*f.clock) {
					t.Errorf("got %+v", res)
				}
				got := f.assignments(t, "wb-1", "")
				if len(got) != 60 {
					t.Fatalf("%d assignments, want 60", len(got))
				}
				ctrl := 0
				for id, g := range got {
					if want := lift.Assign("wb-1", "", id, 0.2); g != want {
						t.Errorf("user %s: %s, want %s (lift.Assign)", id, g, want)
					}
					if g == lift.Control {
						ctrl++
					}
				}
				if ctrl != e.Control {
					t.Errorf("%d control rows, experiment says %d", ctrl, e.Control)
				}
				// Scores at assignment time are stored with each user.
				as := f.st.assigns["wb-1"]
				if a := as[0]; a.UserID != "u000" || a.RiskBand != "high" || a.ChurnProbability != 0.9 || a.Segment != "lapsed" ||
					a.LifecycleStage != "at-risk" || a.RFMSegment != "Lost" || a.UsageTier != "light" || !a.Scored || a.Stratum != "" {
					t.Errorf("first assignment %+v", a)
				}
			}},
		{name: "riskBand/OKStratified", body: `{"name":"hb","risk_band":"high","stratify":"segment","holdout":0.1,"salt":"s1"}`,
			status: 201, check: func(t *testing.T, f *expFixture, res ExperimentCreated) {
				// 100 high-band users, 50 lapsed and 50 recent: exactly
				// round(0.1·50) = 5 control users in each stratum.
				ctrl := map[string]int{}
				for _, a := range f.st.assigns["hb"] {
					if a.RiskBand != "high" || a.Stratum != a.Segment {
						t.Fatalf("assignment %+v", a)
					}
					if a.Group == lift.Control {
						ctrl[a.Stratum]++
					}
				}
				if res.Targeted != 100 || ctrl["lapsed"] != 5 || ctrl["recent"] != 5 || res.Experiment.Control != 10 || res.Experiment.Salt != "s1" {
					t.Errorf("targeted %d, control by stratum %v, experiment %+v", res.Targeted, ctrl, res.Experiment)
				}
				if !res.Experiment.Start.Equal(*f.clock) {
					t.Errorf("start %v, want the clock %v (default now)", res.Experiment.Start, *f.clock)
				}
			}},
		{name: "minChurn/OK", body: `{"name":"mc","min_churn":0.5}`, status: 201,
			check: func(t *testing.T, f *expFixture, res ExperimentCreated) {
				if res.Targeted != 200 || res.Experiment.Holdout != DefaultHoldout || *res.Experiment.Target.MinChurn != 0.5 {
					t.Errorf("got %+v, want the 200 users with churn >= 0.5 at the default holdout", res)
				}
			}},
		{name: "users/OK", body: `{"name":"list","holdout":0.5,"users":["u001","u002","u003","u004","u005","u006","u007","u008","u009","u010","u011","u012","nobody","u001"]}`,
			status: 201, check: func(t *testing.T, f *expFixture, res ExperimentCreated) {
				if res.Targeted != 13 || res.Unscored != 1 || res.Duplicates != 1 || res.Experiment.Target.Users != "request (14 ids)" {
					t.Errorf("got %+v", res)
				}
				for _, a := range f.st.assigns["list"] {
					if (a.UserID == "nobody") == a.Scored {
						t.Errorf("assignment %+v: scored should be false only for nobody", a)
					}
				}
			}},
		{name: "ErrSyntax", body: `{"name":`, status: 400, code: CodeInvalid},
		{name: "ErrUnknownField", body: `{"name":"x","risk_band":"high","color":"red"}`, status: 400, code: CodeInvalid, msg: `unknown field "color"`},
		{name: "ErrName", body: `{"name":"a b","risk_band":"high"}`, status: 400, code: CodeInvalid, msg: `name "a b": ' ' is not a letter`},
		{name: "ErrNoRule", body: `{"name":"x"}`, status: 400, code: CodeInvalid, msg: "exactly one targeting rule"},
		{name: "ErrTwoRules", body: `{"name":"x","risk_band":"high","min_churn":0.5}`, status: 400, code: CodeInvalid, msg: "got 2"},
		{name: "ErrFamily", body: `{"name":"x","segment":"country/de"}`, status: 400, code: CodeInvalid, msg: "FAMILY/NAME"},
		{name: "ErrSegmentNoName", body: `{"name":"x","segment":"risk_band"}`, status: 400, code: CodeInvalid, msg: "FAMILY/NAME"},
		{name: "ErrBand", body: `{"name":"x","risk_band":"extreme"}`, status: 400, code: CodeInvalid, msg: "high, medium or low"},
		{name: "ErrMinChurn", body: `{"name":"x","min_churn":1.5}`, status: 400, code: CodeInvalid, msg: "min_churn"},
		{name: "ErrHoldoutOne", body: `{"name":"x","risk_band":"high","holdout":1}`, status: 400, code: CodeInvalid, msg: "holdout"},
		{name: "ErrHoldoutZero", body: `{"name":"x","risk_band":"high","holdout":0}`, status: 400, code: CodeInvalid, msg: "holdout"},
		{name: "ErrStratify", body: `{"name":"x","risk_band":"high","stratify":"country"}`, status: 400, code: CodeInvalid, msg: "stratify"},
		{name: "ErrUsersEmpty", body: `{"name":"x","users":[]}`, status: 400, code: CodeInvalid, msg: "empty"},
		{name: "ErrUserID", body: `{"name":"x","users":["ok","bad\u0001"]}`, status: 400, code: CodeInvalid, msg: "users[1]"},
		{name: "ErrSalt", body: `{"name":"x","risk_band":"high","salt":"` + strings.Repeat("s", 300) + `"}`, status: 400, code: CodeInvalid, msg: "salt"},
		{name: "ErrStart", body: `{"name":"x","risk_band":"high","start":"0001-01-01T00:00:00Z"}`, status: 400, code: CodeInvalid, msg: "start"},
		{name: "ErrManyErrors", body: `{"name":"","risk_band":"x","holdout":2}`, status: 400, code: CodeInvalid, msg: `name "": want 1 to 128 characters`},
		{name: "ErrSelectsNone", body: `{"name":"x","segment":"lifecycle_stage/nope"}`, status: 400, code: CodeInvalid, msg: "selects no user"},
		{name: "ErrEmptyGroup", body: `{"name":"x","users":["u001"]}`, status: 400, code: CodeInvalid, msg: "group empty"},
		{name: "ErrTaken", setup: func(f *expFixture) { f.create(t, `{"name":"dup","risk_band":"low"}`) },
			body: `{"name":"dup","risk_band":"high"}`, status: 409, code: CodeConflict, msg: "exists"},
		{name: "ErrTakenRace", setup: func(f *expFixture) {
			// Another request creates the name between the check and the
			// store's atomic create.
			f.st.beforeCreate = func() {
				f.st.beforeCreate = nil
				f.st.exps["race"] = lift.Experiment{Name: "race"}
			}
		}, body: `{"name":"race","risk_band":"high"}`, status: 409, code: CodeConflict},
		{name: "ErrTooLarge", body: `{"name":"big","users":["` + strings.Repeat("u", 11<<20) + `"]}`,
			status: 413, code: CodeTooLarge},
		{name: "ErrContentType", body: `{"name":"x","risk_band":"high"}`, ctype: "text/plain", status: 415, code: CodeUnsupportedMedia},
		{name: "ErrNoModel", setup: func(f *expFixture) {
			f.st.active = ""
			if err := f.srv.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, body: `{"name":"x","risk_band":"high"}`, status: 503, code: CodeNoModel},
		{name: "ErrStore", setup: func(f *expFixture) { f.st.efail = errors.New("disk on fire") },
			body: `{"name":"x","risk_band":"high"}`, status: 500, code: CodeInternal},
		{name: "ErrScoreStore", setup: func(f *expFixture) { f.st.fail = errors.New("disk on fire") },
			body: `{"name":"x","risk_band":"high"}`, status: 500, code: CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newExpFixture(t, Config{}, false)
			if tc.setup != nil {
				tc.setup(f)
			}
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			w := f.do("POST", "/v1/experiments", tc.body, "Content-Type", ctype)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status >= 400 {
				e := decodeError(t, w)
				if e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
					t.Errorf("error %+v, want code %s with %q", e, tc.code, tc.msg)
				}
				if tc.status == 500 && strings.Contains(w.Body.String(), "disk on fire") {
					t.Errorf("500 leaks the cause: %s", w.Body)
				}
				return
			}
			var res ExperimentCreated
			mustJSON(t, w, &res)
			if tc.check != nil {
				tc.check(t, f, res)
			}
		})
	}
	t.Run("ErrNoExperimentStore", func(t *testing.T) {
		f := newExpFixture(t, Config{}, true)
		for _, r := range []struct{ method, target string }{
			{"POST", "/v1/experiments"}, {"GET", "/v1/experiments"}, {"GET", "/v1/experiments/x"},
			{"GET", "/v1/experiments/x/assignments"}, {"GET", "/v1/experiments/x/lift"}, {"POST", "/v1/experiments/x/stop"},
		} {
			w := f.do(r.method, r.target, `{"name":"x","risk_band":"high"}`, "Content-Type", "application/json")
			if w.Code != 503 || decodeError(t, w).Code != CodeUnavailable {
				t.Errorf("%s %s: status %d, want 503 unavailable: %s", r.method, r.target, w.Code, w.Body)
			}
		}
	})
}

// TestCreateDropsSuppressed checks that opted-out users, the global
// control group and the control users of an active experiment are left
// out of a new experiment, and that they are counted.
func TestCreateDropsSuppressed(t *testing.T) {
	f := newExpFixture(t, Config{}, false)
	ctx := context.Background()
	if err := f.st.OptOut(ctx, "u000"); err != nil {
		t.Fatal(err)
	}
	f.st.global = &lift.GlobalControl{Share: 0.2, Salt: "g"}
	first := f.create(t, `{"name":"first","segment":"lifecycle_stage/at-risk","holdout":0.3}`)
	second := f.create(t, `{"name":"second","segment":"lifecycle_stage/at-risk","holdout":0.3}`)

	firstCtrl := map[string]bool{}
	for _, a := range f.st.assigns["first"] {
		if a.Group == lift.Control {
			firstCtrl[a.UserID] = true
		}
	}
	wantFirst, wantSecond := 0, 0
	for i := 0; i < 300; i += 5 { // the 60 at-risk users
		id := userID(i)
		if id == "u000" || f.st.global.Holds(id) {
			continue
		}
		wantFirst++
		if !firstCtrl[id] {
			wantSecond++
		}
	}
	if n := first.Experiment.Treatment + first.Experiment.Control; n != wantFirst || first.Suppressed != 60-wantFirst {
		t.Errorf("first: %d assigned, %d suppressed; want %d and %d", n, first.Suppressed, wantFirst, 60-wantFirst)
	}
	if n := second.Experiment.Treatment + second.Experiment.Control; n != wantSecond || second.Suppressed != 60-wantSecond {
		t.Errorf("second: %d assigned, %d suppressed; want %d (first's control users left out) and %d", n, second.Suppressed, wantSecond, 60-wantSecond)
	}
	for _, a := range f.st.assigns["second"] {
		if a.UserID == "u000" || f.st.global.Holds(a.UserID) || firstCtrl[a.UserID] {
			t.Errorf("suppressed user %s assigned to second", a.UserID)
		}
	}
	if wantFirst == 59 || wantSecond == wantFirst {
		t.Fatalf("degenerate fixture: %d, %d", wantFirst, wantSecond)
	}
}

// TestAssignmentDeterministic creates the same experiment on two separate
// stores (two machines) and gets the same split; another name gives an
// independent one.
func TestAssignmentDeterministic(t *testing.T) {
	body := `{"name":"same","min_churn":0,"holdout":0.5,"salt":"k"}`
	a, b, c := newExpFixture(t, Config{}, false), newExpFixture(t, Config{}, false), newExpFixture(t, Config{}, false)
	a.create(t, body)
	b.create(t, body)
	// On its own store: on a or b, "same" being active would suppress its
	// control users from "other".
	c.create(t, `{"name":"other","min_churn":0,"holdout":0.5,"salt":"k"}`)
	ga, gb, other := a.assignments(t, "same", ""), b.assignments(t, "same", ""), c.assignments(t, "other", "")
	if len(ga) != 300 || len(gb) != 300 {
		t.Fatalf("%d and %d assignments, want 300", len(ga), len(gb))
	}
	both := 0
	for id, g := range ga {
		if gb[id] != g {
			t.Errorf("user %s: %s on one store, %s on the other", id, g, gb[id])
		}
		if g == lift.Control && other[id] == lift.Control {
			both++
		}
	}
	// Independent 50% controls overlap in a quarter of the users: 75 of
	// 300, standard deviation sqrt(300·0.25·0.75) = 7.5; allow 4σ.
	if math.Abs(float64(both)-75) > 30 {
		t.Errorf("%d users in both controls, want about 75", both)
	}
}

func TestExperimentRoutes(t *testing.T) {
	setup := func(t *testing.T) *expFixture {
		f := newExpFixture(t, Config{}, false)
		f.create(t, `{"name":"hb","risk_band":"high","holdout":0.2}`)
		f.create(t, `{"name":"at-risk","segment":"lifecycle_stage/at-risk","holdout":0.2}`)
		return f
	}
	cases := []struct {
		name          string
		method        string
		target        string
		hdr           []string
		status        int
		code          Code
		check         func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder)
		setup         func(f *expFixture)
		noExperiments bool
	}{
		{name: "list/OK", method: "GET", target: "/v1/experiments", status: 200, check: func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder) {
			var r ExperimentsResponse
			mustJSON(t, w, &r)
			if len(r.Experiments) != 2 || r.Experiments[0].Name != "at-risk" || r.Experiments[1].Name != "hb" || r.Experiments[1].Treatment+r.Experiments[1].Control != 100 {
				t.Errorf("got %+v, want at-risk and hb by name", r)
			}
		}},
		{name: "list/OKEmpty", setup: func(f *expFixture) { clear(f.st.exps) }, method: "GET", target: "/v1/experiments", status: 200,
			check: func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder) {
				if strings.TrimSpace(w.Body.String()) != `{"experiments":[]}` {
					t.Errorf("body %s, want an empty list", w.Body)
				}
			}},
		{name: "list/ErrStore", setup: func(f *expFixture) { f.st.efail = errors.New("x") }, method: "GET", target: "/v1/experiments", status: 500, code: CodeInternal},
		{name: "get/OK", method: "GET", target: "/v1/experiments/hb", status: 200, check: func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder) {
			var e lift.Experiment
			mustJSON(t, w, &e)
			if e.Name != "hb" || e.Target.RiskBand != "high" || !e.Active || e.Holdout != 0.2 {
				t.Errorf("got %+v", e)
			}
		}},
		{name: "get/ErrNotFound", method: "GET", target: "/v1/experiments/nope", status: 404, code: CodeNotFound},
		{name: "get/ErrName", method: "GET", target: "/v1/experiments/a%20b", status: 400, code: CodeInvalid},
		{name: "get/ErrStore", setup: func(f *expFixture) { f.st.efail = errors.New("x") }, method: "GET", target: "/v1/experiments/hb", status: 500, code: CodeInternal},
		{name: "assignments/OK", method: "GET", target: "/v1/experiments/hb/assignments", status: 200,
			check: func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder) {
				if !strings.HasPrefix(w.Body.String(), "user_id,group\nu000,") {
					t.Errorf("body starts %q", w.Body.String()[:30])
				}
				if n := strings.Count(w.Body.String(), "\n"); n != 101 {
					t.Errorf("%d lines, want a header and 100 rows", n)
				}
			}},
		{name: "assignments/OKAcceptCSV", method: "GET", target: "/v1/experiments/hb/assignments", hdr: []string{"Accept", "text/csv"}, status: 200},
		{name: "assignments/OKAcceptAny", method: "GET", target: "/v1/experiments/hb/assignments", hdr: []string{"Accept", "*/*"}, status: 200},
		{name: "assignments/ErrAccept", method: "GET", target: "/v1/experiments/hb/assignments", hdr: []string{"Accept", "application/json"}, status: 406, code: CodeNotAcceptable},
		{name: "assignments/ErrGroup", method: "GET", target: "/v1/experiments/hb/assignments?group=both", status: 400, code: CodeInvalid},
		{name: "assignments/ErrNotFound", method: "GET", target: "/v1/experiments/nope/assignments", status: 404, code: CodeNotFound},
		{name: "assignments/ErrSuppressedStore", setup: func(f *expFixture) { f.st.fail = errors.New("x") },
			method: "GET", target: "/v1/experiments/hb/assignments?group=treatment", status: 500, code: CodeInternal},
		{name: "stop/OK", method: "POST", target: "/v1/experiments/hb/stop", status: 200, check: func(t *testing.T, f *expFixture, w *httptest.ResponseRecorder) {
			var e lift.Experiment
			mustJSON(t, w, &e)
			if e.Active || f.st.exps["hb"].Active {
				t.Errorf("still active: %+v", e)
			}
			if w2 := f.do("POST", "/v1/experiments/hb/stop", ""); w2.Code != 200 {
				t.Errorf("second stop: status %d, want 200 (idempotent)", w2.Code)
			}
		}},
		{name: "stop/ErrNotFound", method: "POST", target: "/v1/experiments/nope/stop", status: 404, code: CodeNotFound},
		{name: "stop/ErrName", method: "POST", target: "/v1/experiments/a%2Fb/stop", status: 400, code: CodeInvalid},
		{name: "stop/ErrStore", setup: func(f *expFixture) { f.st.efail = errors.New("x") }, method: "POST", target: "/v1/experiments/hb/stop", status: 500, code: CodeInternal},
		{name: "lift/ErrName", method: "GET", target: "/v1/experiments/a%20b/lift", status: 400, code: CodeInvalid},
		{name: "assignments/ErrName", method: "GET", target: "/v1/experiments/a%20b/assignments", status: 400, code: CodeInvalid},
		{name: "stop/ErrMethod", method: "GET", target: "/v1/experiments/hb/stop", status: 405, code: CodeMethodNotAllowed},
		{name: "lift/ErrNotFound", method: "GET", target: "/v1/experiments/nope/lift", status: 404, code: CodeNotFound},
		{name: "lift/ErrWindow", method: "GET", target: "/v1/experiments/hb/lift?window=0d", status: 400, code: CodeInvalid},
		{name: "lift/ErrWindowSyntax", method: "GET", target: "/v1/experiments/hb/lift?window=30h", status: 400, code: CodeInvalid},
		{name: "lift/ErrNotStarted", setup: func(f *expFixture) { *f.clock = f.clock.Add(-time.Minute) },
			method: "GET", target: "/v1/experiments/hb/lift", status: 409, code: CodeConflict},
		{name: "lift/ErrNoModel", setup: func(f *expFixture) {
			f.st.active = ""
			if err := f.srv.Load(context.Background()); err != nil {
				panic(err)
			}
		}, method: "GET", target: "/v1/experiments/hb/lift", status: 503, code: CodeNoModel},
		{name: "lift/ErrStore", setup: func(f *expFixture) {
			*f.clock = f.clock.Add(72 * time.Hour)
			f.st.fail = errors.New("x")
		}, method: "GET", target: "/v1/experiments/hb/lift", status: 500, code: CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			w := f.do(tc.method, tc.target, "", tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status >= 400 {
				if e := decodeError(t, w); e.Code != tc.code {
					t.Errorf("code %s, want %s: %s", e.Code, tc.code, e.Message)
				}
				return
			}
			if tc.check != nil {
				tc.check(t, f, w)
			}
		})
	}
}

func TestExperimentAuth(t *testing.T) {
	cfg := Config{Tokens: []Token{{readTok, RoleRead}, {writeTok, RoleWrite}, {adminTok, RoleAdmin}}}
	body := `{"name":"x","risk_band":"high"}`
	for _, tc := range []struct {
		name, method, target, token string
		status                      int
	}{
		{"create/ErrNoToken", "POST", "/v1/experiments", "", 401},
		{"create/ErrWrite", "POST", "/v1/experiments", writeTok, 403},
		{"create/OKAdmin", "POST", "/v1/experiments", adminTok, 201},
		{"list/ErrNoToken", "GET", "/v1/experiments", "", 401},
		{"list/ErrUnknownToken", "GET", "/v1/experiments", "nope-nope-nope-nope", 401},
		{"list/OKRead", "GET", "/v1/experiments", readTok, 200},
		{"assignments/ErrNoToken", "GET", "/v1/experiments/hb/assignments", "", 401},
		{"get/OKRead", "GET", "/v1/experiments/hb", readTok, 200},
		{"assignments/OKRead", "GET", "/v1/experiments/hb/assignments", readTok, 200},
		{"lift/ErrNoToken", "GET", "/v1/experiments/hb/lift", "", 401},
		{"stop/ErrRead", "POST", "/v1/experiments/hb/stop", readTok, 403},
		{"stop/OKAdmin", "POST", "/v1/experiments/hb/stop", adminTok, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExpFixture(t, cfg, false)
			if w := f.do("POST", "/v1/experiments", `{"name":"hb","risk_band":"high"}`, "Authorization", "Bearer "+adminTok); w.Code != 201 {
				t.Fatalf("setup: %d %s", w.Code, w.Body)
			}
			hdr := []string{"Content-Type", "application/json"}
			if tc.token != "" {
				hdr = append(hdr, "Authorization", "Bearer "+tc.token)
			}
			if w := f.do(tc.method, tc.target, body, hdr...); w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
		})
	}
}

// TestExportsSuppressControl checks the exports an active experiment
// changes: segment exports leave its control users out until it stops,
// and its treatment export leaves out the control users and everyone
// suppressed since (opted out, the global control group).
func TestExportsSuppressControl(t *testing.T) {
	f := newExpFixture(t, Config{}, false)
	f.create(t, `{"name":"hb","risk_band":"high","holdout":0.3}`)
	all := f.assignments(t, "hb", "")
	segment := func() map[string]bool {
		w := f.do("GET", "/v1/segments/risk_band/high/users?limit=1000", "")
		var r SegmentUsersResponse
		mustJSON(t, w, &r)
		out := map[string]bool{}
		for _, u := range r.Users {
			out[u.UserID] = true
		}
		return out
	}
	seg := segment()
	nCtrl := 0
	for id, g := range all {
		if g == lift.Control {
			nCtrl++
		}
		if seg[id] == (g == lift.Control) {
			t.Errorf("user %s (%s): in the segment export %v", id, g, seg[id])
		}
	}
	if nCtrl == 0 || len(seg) != 100-nCtrl {
		t.Fatalf("segment export has %d users, want %d", len(seg), 100-nCtrl)
	}

	// A treatment user opts out; the global control group appears.
	var optedOut string
	for id, g := range all {
		if g == lift.Treatment {
			optedOut = id
			break
		}
	}
	if w := f.do("POST", "/v1/users/"+optedOut+"/opt-out", ""); w.Code != 200 {
		t.Fatalf("opt-out: %d", w.Code)
	}
	f.st.global = &lift.GlobalControl{Share: 0.1, Salt: "gc"}
	treat := f.assignments(t, "hb", "treatment")
	want := 0
	for id, g := range all {
		keep := g == lift.Treatment && id != optedOut && !f.st.global.Holds(id)
		if keep {
			want++
		}
		if _, ok := treat[id]; ok != keep {
			t.Errorf("user %s (%s): in the treatment export %v, want %v", id, g, ok, keep)
		}
	}
	if len(treat) != want || want == 100-nCtrl-1 {
		t.Errorf("treatment export %d users, want %d (and some global-control users)", len(treat), want)
	}
	ctrl := f.assignments(t, "hb", "control")
	if len(ctrl) != nCtrl {
		t.Errorf("control export %d users, want %d", len(ctrl), nCtrl)
	}
	// The stored membership does not change.
	if got := f.assignments(t, "hb", ""); len(got) != 100 {
		t.Errorf("membership %d users after opt-outs, want 100", len(got))
	}

	if w := f.do("POST", "/v1/experiments/hb/stop", ""); w.Code != 200 {
		t.Fatalf("stop: %d", w.Code)
	}
	f.st.global = nil
	if seg := segment(); len(seg) != 99 {
		t.Errorf("after stop, the segment export has %d users, want 99 (all but the opted-out user)", len(seg))
	}
}

// TestLiftFromStates runs an experiment end to end through the API:
// create it, ingest events after its start with a planted effect, and
// measure. The outcomes follow the planted rule exactly, so the report
// must equal lift.CompareProportions and CompareMeans on hand tallies.
func TestLiftFromStates(t *testing.T) {
	f := newExpFixture(t, Config{}, false)
	// Start 2025-06-02 18:00: the window is the 30 days from 06-03.
	start := t0.Add(30 * time.Hour)
	res := f.create(t, fmt.Sprintf(`{"name":"winback","min_churn":0,"holdout":0.3,"start":%q}`, start.Format(time.RFC3339)))
	first := time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)
	end := first.AddDate(0, 0, 30)
	*f.clock = end.Add(5 * 24 * time.Hour)

	groups := map[string]lift.Group{}
	for _, a := range f.st.assigns["winback"] {
		groups[a.UserID] = a.Group
	}
	// Treatment user i logs in during the window when i%10 < 6, control
	// when i%10 < 3; retained users with i%4 = 0 also buy for 20.
	// Events that must not count: a login between the start and the
	// first midnight and one at the window's end, for every user.
	var evs []string
	var tr, ct lift.Proportion
	var trConv, ctConv lift.Proportion
	var trRev, ctRev lift.Moments
	ev := func(id, name string, at time.Time, amt float64) {
		evs = append(evs, fmt.Sprintf(`{"user_id":%q,"event":%q,"timestamp":%q,"amount":%v}`, id, name, at.Format(time.RFC3339), amt))
	}
	for i := range 300 {
		id := userID(i)
		g := groups[id]
		ev(id, "login", start.Add(time.Hour), 0)
		ev(id, "login", end, 0)
		cut := 6
		if g == lift.Control {
			cut = 3
		}
		retained := i%10 < cut
		buys := retained && i%4 == 0
		if retained {
			ev(id, "login", first.Add(time.Duration(i%30)*24*time.Hour+time.Hour), 0)
		}
		if buys {
			ev(id, "purchase", first.Add(48*time.Hour), 20)
		}
		p, c, m := &tr, &trConv, &trRev
		if g == lift.Control {
			p, c, m = &ct, &ctConv, &ctRev
		}
		p.Add(retained)
		c.Add(buys)
		if buys {
			m.Add(20)
		} else {
			m.Add(0)
		}
	}
	w := f.do("POST", "/v1/events", "["+strings.Join(evs, ",")+"]", "Content-Type", "application/json")
	if w.Code != 200 {
		t.Fatalf("ingest: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/v1/experiments/winback/lift?window=30d", "")
	if w.Code != 200 {
		t.Fatalf("lift: %d %s", w.Code, w.Body)
	}
	var rep lift.Report
	mustJSON(t, w, &rep)
	h := res.Experiment.Holdout
	want := []lift.Result{}
	for _, r := range []struct {
		name string
		t, c lift.Proportion
	}{{lift.MetricRetention, tr, ct}, {lift.MetricConversion, trConv, ctConv}} {
		x, err := lift.CompareProportions(r.name, r.t, r.c, h)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, x)
	}
	if len(rep.Metrics) != 3 {
		t.Fatalf("%d metrics, want retention, conversion, revenue", len(rep.Metrics))
	}
	for i, wr := range want {
		g := rep.Metrics[i]
		if g.Metric != wr.Metric || g.Treatment.N != wr.Treatment.N || g.Treatment.Successes != wr.Treatment.Successes ||
			g.Control.Successes != wr.Control.Successes || math.Abs(g.AbsLift-wr.AbsLift) > 1e-12 ||
			math.Abs(g.PValue-wr.PValue) > 1e-12 || math.Abs(g.AbsLiftCI95.Lo-wr.AbsLiftCI95.Lo) > 1e-12 {
			t.Errorf("%s: got %+v\nwant %+v", wr.Metric, g, wr)
		}
	}
	rev := rep.Metrics[2]
	if rev.Metric != lift.MetricRevenue || math.Abs(rev.Treatment.Mean-trRev.Mean) > 1e-9 || math.Abs(rev.Control.Mean-ctRev.Mean) > 1e-9 {
		t.Errorf("revenue %+v, want means %v and %v", rev, trRev.Mean, ctRev.Mean)
	}
	if !rep.Metrics[0].Significant() || rep.Metrics[0].AbsLift < 0.2 {
		t.Errorf("planted +30 points not detected: %s", rep.Metrics[0].Sentence())
	}
	if rep.Window == nil || !rep.Window.Start.Equal(first) || !rep.Window.End.Equal(end) || !rep.Window.Complete ||
		rep.Window.Source != "states" || rep.Window.ModelVersion != "v1" {
		t.Errorf("window %+v", rep.Window)
	}
	if len(rep.Breakdowns["risk_band"]) != 3 || len(rep.Breakdowns["segment"]) != 2 {
		t.Errorf("breakdowns %v, want 3 risk bands and 2 segments", rep.Breakdowns)
	}
	// The schema, by name.
	var raw struct {
		Metrics []map[string]any `json:"metrics"`
	}
	mustJSON(t, w, &raw)
	for _, k := range []string{"treatment", "control", "abs_lift", "abs_lift_ci95", "rel_lift", "p_value", "srm_p_value"} {
		if _, ok := raw.Metrics[0][k]; !ok {
			t.Errorf("metric JSON lacks %q", k)
		}
	}
	tg := raw.Metrics[0]["treatment"].(map[string]any)
	if tg["n"] != float64(tr.N) || tg["rate"] != tr.Rate() {
		t.Errorf("treatment %v, want n %d rate %v", tg, tr.N, tr.Rate())
	}

	t.Run("Interim", func(t *testing.T) {
		*f.clock = first.Add(10 * 24 * time.Hour)
		var rep lift.Report
		mustJSON(t, f.do("GET", "/v1/experiments/winback/lift", ""), &rep)
		if rep.Window == nil || rep.Window.Complete || !rep.Window.DataThrough.Equal(*f.clock) {
			t.Errorf("window %+v, want an interim window through the clock", rep.Window)
		}
	})
	t.Run("ErrPruned", func(t *testing.T) {
		// A year and more later, ingesting an event prunes the user's
		// state past the window: the server can no longer measure it.
		*f.clock = end.AddDate(1, 1, 0)
		one := fmt.Sprintf(`{"user_id":"u000","event":"login","timestamp":%q}`, f.clock.Add(-time.Hour).Format(time.RFC3339))
		if w := f.do("POST", "/v1/events", one); w.Code != 200 {
			t.Fatalf("ingest: %d %s", w.Code, w.Body)
		}
		w := f.do("GET", "/v1/experiments/winback/lift", "")
		if w.Code != 409 || !strings.Contains(decodeError(t, w).Message, "lapse lift --events") {
			t.Errorf("status %d %s, want 409 pointing at lapse lift --events", w.Code, w.Body)
		}
	})
}

func TestParseWindowDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"30d", 30, true}, {"30", 30, true}, {"4w", 28, true}, {"1", 1, true}, {"3660d", 3660, true},
		{"0d", 0, false}, {"3661", 0, false}, {"", 0, false}, {"d", 0, false}, {"30h", 0, false},
		{"-1d", 0, false}, {"1.5d", 0, false}, {" 30d", 0, false}, {"999999w", 0, false},
	} {
		got, err := parseWindowDays(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseWindowDays(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseWindowDays(f *testing.F) {
	for _, s := range []string{"30d", "4w", "7", "", "0", "99999w", "1e3d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseWindowDays(s)
		if err != nil {
			return
		}
		if n < 1 || n > features.MaxWindowDays {
			t.Fatalf("parseWindowDays(%q) = %d, outside 1..%d", s, n, features.MaxWindowDays)
		}
		if back, err := parseWindowDays(strconv.Itoa(n) + "d"); err != nil || back != n {
			t.Fatalf("%d days does not read back: %d, %v", n, back, err)
		}
	})
}

// FuzzExperimentRequest posts arbitrary bodies to POST /v1/experiments:
// the server never fails with a 500 or panics, a 201 holds a valid
// experiment, and everything else is a 400 or a 409 in the error shape.
func FuzzExperimentRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","risk_band":"high"}`,
		`{"name":"b","segment":"lifecycle_stage/at-risk","holdout":0.5,"stratify":"risk_band"}`,
		`{"name":"c","min_churn":0.5,"start":"2025-06-03T00:00:00Z","salt":"x"}`,
		`{"name":"d","users":["u001","u002","u003","u004","nobody"],"holdout":0.5}`,
		`{"name":"e","users":null}`, `{"name":1}`, `[]`, `null`, `{"holdout":1e400}`,
	} {
		f.Add([]byte(s))
	}
	fx := newExpFixture(f, Config{}, false)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := fx.do("POST", "/v1/experiments", string(body), "Content-Type", "application/json")
		switch w.Code {
		case 201:
			var res ExperimentCreated
			mustJSON(t, w, &res)
			e := res.Experiment
			if lift.CheckName(e.Name) != nil || e.Treatment < 1 || e.Control < 1 || !(e.Holdout > 0 && e.Holdout < 1) {
				t.Fatalf("created an invalid experiment %+v from %q", e, body)
			}
			// Free the name and the users for the next input.
			fx.st.emu.Lock()
			delete(fx.st.exps, e.Name)
			delete(fx.st.assigns, e.Name)
			fx.st.emu.Unlock()
		case 400, 409:
			decodeError(t, w)
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}

// TestCreateExperimentDirect calls CreateExperiment as lapse experiment
// create does, with the store itself as the ExperimentCreator, and checks
// that the assignments it returns are the ones stored.
func TestCreateExperimentDirect(t *testing.T) {
	f := newExpFixture(t, Config{}, false)
	h := 0.25
	req := &ExperimentRequest{Name: "cli", Users: []string{"u010", "u011", "u012", "u013", "u014", "u015", "u016", "u017"},
		UsersSource: "users.csv", Holdout: &h}
	res, as, err := CreateExperiment(context.Background(), f.st, req, *f.clock)
	if err != nil {
		t.Fatal(err)
	}
	if res.Experiment.Target.Users != "users.csv" || len(as) != 8 {
		t.Errorf("got %+v with %d assignments", res.Experiment, len(as))
	}
	var stored bytes.Buffer
	if err := json.NewEncoder(&stored).Encode(f.st.assigns["cli"]); err != nil {
		t.Fatal(err)
	}
	var returned bytes.Buffer
	if err := json.NewEncoder(&returned).Encode(as); err != nil {
		t.Fatal(err)
	}
	if stored.String() != returned.String() {
		t.Errorf("stored %s\nreturned %s", stored.String(), returned.String())
	}
	// CreateExperiment with a nil start uses now; an error from the
	// store's CreateExperiment that is not a taken name passes through.
	f.st.efail = nil
	f.st.beforeCreate = func() { f.st.efail = errors.New("disk on fire") }
	req.Name = "cli2"
	if _, _, err := CreateExperiment(context.Background(), f.st, req, *f.clock); err == nil || ErrorCode(err) != CodeInternal {
		t.Errorf("got %v, want the store's error", err)
	}
}
