package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// memStore is an in-memory Deps for handler tests: the same contracts as
// the bbolt store (copies in and out, all-or-nothing UpdateStates), plus
// hooks that inject failures.
type memStore struct {
	mu       sync.Mutex
	models   map[string]*model.Model
	order    []string // newest first
	active   string
	states   map[string]map[string][]byte // version -> user -> state
	scores   map[string]map[string]model.Prediction
	optedOut map[string]bool
	control  map[string]bool // held out by an experiment or the global control

	// fail, when set, is returned by every method.
	fail error
	// panicOn makes LoadUsers panic, to test recovery.
	panicOn bool
	// updates counts committed UpdateStates calls.
	updates int
}

var (
	_ ModelStore   = (*memStore)(nil)
	_ UserStore    = (*memStore)(nil)
	_ SegmentStore = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{
		models:   map[string]*model.Model{},
		states:   map[string]map[string][]byte{},
		scores:   map[string]map[string]model.Prediction{},
		optedOut: map[string]bool{},
		control:  map[string]bool{},
	}
}

// addModel stores m (and activates it when activate is set).
func (s *memStore) addModel(m *model.Model, activate bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[m.Version] = m
	s.order = append([]string{m.Version}, s.order...)
	if activate {
		s.active = m.Version
	}
}

func (s *memStore) putScore(version, id string, p model.Prediction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scores[version] == nil {
		s.scores[version] = map[string]model.Prediction{}
	}
	s.scores[version][id] = p
}

func (s *memStore) putState(version, id string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states[version] == nil {
		s.states[version] = map[string][]byte{}
	}
	s.states[version][id] = slices.Clone(b)
}

func (s *memStore) state(version, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.states[version][id])
}

func (s *memStore) ActiveModel(ctx context.Context) (*model.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if s.active == "" {
		return nil, nil
	}
	return s.models[s.active], nil
}

func (s *memStore) Model(ctx context.Context, version string) (*model.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	return s.models[version], nil
}

func (s *memStore) ListModels(ctx context.Context) ([]ModelInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []ModelInfo
	for _, v := range s.order {
		m := s.models[v]
		out = append(out, ModelInfo{Version: v, CreatedAt: m.CreatedAt, AsOf: m.AsOf, HorizonDays: m.HorizonDays,
			Users: len(s.scores[v]), Metrics: m.Metrics, Active: v == s.active})
	}
	return out, nil
}

func (s *memStore) Activate(ctx context.Context, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.models[version] == nil {
		return errors.New("memstore: no such version")
	}
	s.active = version
	return nil
}

func (s *memStore) LoadUsers(ctx context.Context, version string, ids []string, fn func(i int, state []byte, score *model.Prediction) error) error {
	s.mu.Lock()
	if s.fail != nil {
		s.mu.Unlock()
		return s.fail
	}
	if s.panicOn {
		s.mu.Unlock()
		panic("memstore: injected panic")
	}
	type rec struct {
		state []byte
		score *model.Prediction
	}
	recs := make([]rec, len(ids))
	for i, id := range ids {
		if b, ok := s.states[version][id]; ok {
			recs[i].state = slices.Clone(b)
		} else if p, ok := s.scores[version][id]; ok {
			recs[i].score = &p // as the bbolt store: only without a state
		}
	}
	s.mu.Unlock()
	for i := range ids {
		if err := fn(i, recs[i].state, recs[i].score); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) LoadScores(ctx context.Context, version string, ids []string, fn func(i int, score *model.Prediction) error) error {
	s.mu.Lock()
	if s.fail != nil {
		s.mu.Unlock()
		return s.fail
	}
	recs := make([]*model.Prediction, len(ids))
	for i, id := range ids {
		if p, ok := s.scores[version][id]; ok {
			recs[i] = &p
		}
	}
	s.mu.Unlock()
	for i := range ids {
		if err := fn(i, recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) UpdateStates(ctx context.Context, version string, ids []string, fn func(i int, old []byte) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	next := make([][]byte, len(ids))
	for i, id := range ids {
		var old []byte
		if b, ok := s.states[version][id]; ok {
			old = slices.Clone(b)
		}
		b, err := fn(i, old)
		if err != nil {
			return err // nothing written
		}
		next[i] = slices.Clone(b)
	}
	if s.states[version] == nil {
		s.states[version] = map[string][]byte{}
	}
	for i, id := range ids {
		s.states[version][id] = next[i]
	}
	s.updates++
	return nil
}

func (s *memStore) DeleteUser(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	found := s.optedOut[id] || s.control[id]
	for _, m := range s.states {
		if _, ok := m[id]; ok {
			found = true
			delete(m, id)
		}
	}
	for _, m := range s.scores {
		if _, ok := m[id]; ok {
			found = true
			delete(m, id)
		}
	}
	delete(s.optedOut, id)
	delete(s.control, id)
	return found, nil
}

func (s *memStore) OptOut(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.optedOut[id] = true
	return nil
}

func (s *memStore) EachScore(ctx context.Context, version, after string, fn func(id string, p *model.Prediction) error) error {
	s.mu.Lock()
	if s.fail != nil {
		s.mu.Unlock()
		return s.fail
	}
	ids := make([]string, 0, len(s.scores[version]))
	for id := range s.scores[version] {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	preds := make([]model.Prediction, len(ids))
	for i, id := range ids {
		preds[i] = s.scores[version][id]
	}
	s.mu.Unlock()
	for i, id := range ids {
		if err := fn(id, &preds[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) Suppressed(ctx context.Context, ids []string, out []bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for i, id := range ids {
		out[i] = s.optedOut[id] || s.control[id]
	}
	return nil
}

func (s *memStore) deps() Deps { return Deps{Models: s, Users: s, Segments: s} }

// Times of the hand-computed cases: the model's as-of time t0, and the
// request clock ten days later.
var (
	t0      = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	testNow = t0.Add(10 * 24 * time.Hour)
)

// testSpec is the default spec with a two-event vocabulary.
func testSpec(tb testing.TB) *features.Spec {
	tb.Helper()
	spec := features.DefaultSpec()
	spec.Vocabulary = []string{"login", "purchase"}
	spec.Derive()
	if err := spec.Validate(); err != nil {
		tb.Fatal(err)
	}
	return spec
}

// testModel is a hand-built logistic model whose scores can be computed by
// hand: churn = σ(−2 + 0.1·recency_days) and purchase = σ(−1 +
// 2·ever_purchased), on raw features (kind none, mean 0, std 1), no
// calibration; bands at 0.3 and 0.6; two behavioural clusters on
// recency_days ("recent" at 0, "lapsed" at 60).
func testModel(tb testing.TB, version string) *model.Model {
	tb.Helper()
	spec := testSpec(tb)
	names := spec.Names()
	col := func(name string) int {
		i := slices.Index(names, name)
		if i < 0 {
			tb.Fatalf("no feature %s", name)
		}
		return i
	}
	tf := &model.Transform{Features: make([]model.FeatureTransform, len(names))}
	for i, n := range names {
		tf.Features[i] = model.FeatureTransform{Name: n, Kind: model.KindNone, Mean: 0, Std: 1}
	}
	cw := make([]float64, len(names))
	cw[col("recency_days")] = 0.1
	pw := make([]float64, len(names))
	pw[col("ever_purchased")] = 2
	specJSON, err := json.Marshal(spec)
	if err != nil {
		tb.Fatal(err)
	}
	m := &model.Model{
		Format:      model.FormatVersion,
		Version:     version,
		CreatedAt:   t0,
		AsOf:        t0,
		HorizonDays: 30,
		TargetEvent: "purchase",
		Spec:        specJSON,
		Features:    names,
		Churn:       &model.Classifier{Kind: model.KindLogistic, Transform: tf, Logistic: &model.Logistic{Weights: cw, Bias: -2}},
		Propensity:  &model.Classifier{Kind: model.KindLogistic, Transform: tf, Logistic: &model.Logistic{Weights: pw, Bias: -1}},
		Bands:       model.RiskBands{Medium: 0.3, High: 0.6},
		Clusters: &model.Clusters{
			Features:  []string{"recency_days"},
			Transform: &model.Transform{Features: []model.FeatureTransform{{Name: "recency_days", Kind: model.KindNone, Std: 1}}},
			KMeans:    &model.KMeans{Centroids: [][]float64{{0}, {60}}, Names: []string{"recent", "lapsed"}},
		},
		RFM: model.RFMRules{
			RecencyFeature: "recency_days", FrequencyFeature: "orders_total", MonetaryFeature: "revenue_total",
			Recency: [4]float64{7, 14, 30, 60}, Frequency: [4]float64{0, 1, 2, 5}, Monetary: [4]float64{0, 10, 50, 100},
		},
		Lifecycle: model.LifecycleRules{NewDays: 30, ActiveDays: 14, AtRiskDays: 30, DormantDays: 60, ReactivatedGapDays: 30},
		Tiers:     model.TierRules{Feature: "active_days_30d", PowerAt: 15, RegularAt: 5},
		Metrics:   map[string]float64{"churn_auc_oot": 0.8},
	}
	if err := m.Prepare(); err != nil {
		tb.Fatal(err)
	}
	return m
}

// stateOf builds the encoded state of events under spec, pruned at asOf.
func stateOf(tb testing.TB, spec *features.Spec, asOf time.Time, evs ...features.Event) []byte {
	tb.Helper()
	st, err := features.NewState(spec)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range evs {
		if err := st.Add(&evs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := st.Prune(asOf); err != nil {
		tb.Fatal(err)
	}
	b, err := st.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixture is a Server over a memStore holding model v1 (active) and v2,
// user "alice" with one login at t0 − 1 h... see newFixture.
type fixture struct {
	store *memStore
	srv   *Server
	h     http.Handler
	logs  *bytes.Buffer
}

// newFixture returns a server at clock testNow over a store with model v1
// (active) and v2, user "alice" with a stored state (one login at t0), user
// "bob" with only a stored score, and 30 scored users s00..s29 spread over
// the risk bands (every third high, medium, low) for segment exports.
func newFixture(tb testing.TB, cfg Config) *fixture {
	tb.Helper()
	st := newMemStore()
	m1 := testModel(tb, "v1")
	st.addModel(testModel(tb, "v2"), false)
	st.addModel(m1, true)
	spec := testSpec(tb)
	st.putState("v1", "alice", stateOf(tb, spec, t0, features.Event{UserID: "alice", Name: "login", Time: t0}))
	st.putScore("v1", "bob", model.Prediction{ChurnProbability: 0.7, RiskBand: "high", RFMSegment: "Lost",
		LifecycleStage: "churned", UsageTier: "ex-user", Segment: "lapsed"})
	bands := []string{"high", "medium", "low"}
	probs := []float64{0.9, 0.6, 0.3}
	for i := 0; i < 30; i++ {
		id := "s" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		st.putScore("v1", id, model.Prediction{ChurnProbability: probs[i%3], RiskBand: bands[i%3],
			RFMSegment: "At risk", LifecycleStage: "at-risk", UsageTier: "light", Segment: "recent"})
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	var logs bytes.Buffer
	srv := New(cfg, st.deps(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err := srv.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &fixture{store: st, srv: srv, h: srv.Handler(), logs: &logs}
}

// do sends one request through the handler.
func (f *fixture) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	return serveRequest(f.h, method, target, body, hdr...)
}

// serveRequest sends one request through h: body "" sends none, hdr holds
// header name and value pairs.
func serveRequest(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// decodeError parses the JSON error shape, failing the test when the body
// does not have it.
func decodeError(tb testing.TB, w *httptest.ResponseRecorder) errorDetail {
	tb.Helper()
	var b struct {
		Error *errorDetail `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		tb.Fatalf("status %d: body %q is not the error shape (%v)", w.Code, w.Body.String(), err)
	}
	return *b.Error
}
