package training

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// tvServingState feeds one user's events to a State the way the serving
// layer does: batches of about a month in time order, shuffled within the
// batch, each followed by Prune at the batch's last event and an
// encode/decode round trip.
func tvServingState(tb testing.TB, f *features.Featurizer, evs []features.Event, r *rand.Rand) *features.State {
	tb.Helper()
	st := f.NewState()
	for lo := 0; lo < len(evs); {
		hi := lo
		for hi < len(evs) && evs[hi].Time.Before(evs[lo].Time.AddDate(0, 1, 0)) {
			hi++
		}
		batch := slices.Clone(evs[lo:hi])
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		now := evs[hi-1].Time
		for i := range batch {
			if err := st.Add(&batch[i]); err != nil {
				tb.Fatal(err)
			}
		}
		if err := st.Prune(now); err != nil {
			tb.Fatal(err)
		}
		b, err := st.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		st = f.NewState()
		if err := st.UnmarshalBinary(b); err != nil {
			tb.Fatal(err)
		}
		lo = hi
	}
	return st
}

// tvSame reports whether two optional values are both nil or have the
// same bits.
func tvSame(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Float64bits(*a) == math.Float64bits(*b)
}

// tvValue computes a user's customer values from a State as serving does.
func tvValue(tb testing.TB, m *model.Model, f *features.Featurizer, st *features.State, at time.Time) model.UserValue {
	tb.Helper()
	s, err := f.PurchaseSummary(st, at)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := m.UserValue(model.Purchases{Days: s.Days, First: s.First, Last: s.Last, RepeatRevenue: s.RepeatRevenue}, at)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestTrainCustomerValueLiveMatchesBatch is the live-versus-batch check of
// the customer values: for every user scored at T, the p_alive,
// expected_purchases and clv training stores (computed from the event log)
// equal, bit for bit, what serving computes from the user's features.State
// as of the same T, whether the State is training's own (Result.States,
// which seeds the store) or one fed event batches the way POST /v1/events
// does; and they are training.CustomerValues' values on the same log and
// cutoff (P(alive) and expected purchases exactly, CLV to 1e-12: the mean
// order value is summed in another order). The spec's longest window is 30
// days (60 days of cells), so most purchase days of the 240-day history
// have been folded into the States' lifetime totals.
func TestTrainCustomerValueLiveMatchesBatch(t *testing.T) {
	evs := trSynthEvents(t, 700, 240, 21)
	spec := features.DefaultSpec()
	spec.Windows = []int{7, 30}
	spec.Derive()
	cfg := &Config{Horizon: 28 * trDay, Seed: 3, Workers: 2, MinUsers: 100, MinClass: 10, Now: trFixedNow, Spec: spec,
		States: true}
	log := trLog(t, evs)
	res, err := Train(context.Background(), log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.Value == nil {
		t.Fatalf("no customer-value part: %s", res.Report.CustomerValue.Note)
	}
	asOf := m.AsOf
	ref, err := CustomerValues(context.Background(), log, asOf, &CustomerValueOptions{Horizon: cfg.Horizon})
	if err != nil {
		t.Fatal(err)
	}
	if ref.BGNBD.Params != m.Value.BGNBD || ref.GammaGamma == nil || ref.GammaGamma.Params != *m.Value.GammaGamma {
		t.Fatalf("model parameters %+v %+v, CustomerValues %+v %+v", m.Value.BGNBD, m.Value.GammaGamma, ref.BGNBD.Params, ref.GammaGamma)
	}
	f, err := features.NewFeaturizer(tvSpec(t, m))
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[string][]features.Event{}
	for _, e := range evs {
		if e.Time.Before(asOf) {
			byUser[e.UserID] = append(byUser[e.UserID], e)
		}
	}
	if len(res.States) != len(res.Scores) {
		t.Fatalf("%d states for %d scores", len(res.States), len(res.Scores))
	}
	r := rand.New(rand.NewPCG(4, 5))
	customers, folded := 0, 0
	foldDay := model.CalibrationEnd(asOf) + 1 - 60
	for i, sc := range res.Scores {
		got := sc.Prediction.UserValue
		u, isCustomer := ref.Lookup(sc.UserID)
		if !isCustomer {
			if got.PAlive != nil || got.ExpectedPurchases != nil || got.CLV != nil {
				t.Errorf("user %s never purchased but has values %+v", sc.UserID, got)
			}
		} else {
			customers++
			if u.T*7 > float64(model.CalibrationEnd(asOf)-foldDay) {
				folded++
			}
			if got.PAlive == nil || *got.PAlive != u.PAlive || got.ExpectedPurchases == nil || *got.ExpectedPurchases != u.ExpectedPurchases {
				t.Fatalf("user %s: stored %+v, CustomerValues %+v", sc.UserID, got, u)
			}
			if (got.CLV == nil) != (u.CLV == nil) || got.CLV != nil && math.Abs(*got.CLV-*u.CLV) > 1e-12*math.Abs(*u.CLV) {
				t.Fatalf("user %s: stored clv %v, CustomerValues %v", sc.UserID, got.CLV, u.CLV)
			}
		}
		if res.States[i].UserID != sc.UserID {
			t.Fatalf("state %d is user %s, score user %s", i, res.States[i].UserID, sc.UserID)
		}
		live := map[string]model.UserValue{
			"training state": tvValue(t, m, f, res.States[i].State, asOf),
			"serving state":  tvValue(t, m, f, tvServingState(t, f, byUser[sc.UserID], r), asOf),
		}
		for name, v := range live {
			if !tvSame(v.PAlive, got.PAlive) || !tvSame(v.ExpectedPurchases, got.ExpectedPurchases) || !tvSame(v.CLV, got.CLV) {
				t.Fatalf("user %s: %s gives %+v, stored %+v", sc.UserID, name, v, got)
			}
		}
	}
	rep := res.Report.CustomerValue
	if rep.WithPAlive != customers || rep.ScoredUsers != len(res.Scores) || rep.PAlive == nil || rep.PAlive.Users != customers {
		t.Errorf("report counts: %d with p_alive of %d scored (distribution %+v); want %d customers", rep.WithPAlive, rep.ScoredUsers, rep.PAlive, customers)
	}
	t.Logf("%d customers among %d scored users, %d with purchases older than the cells", customers, len(res.Scores), folded)
	if customers < 200 || folded < customers/2 {
		t.Errorf("weak test: %d customers among %d scored, %d with purchases older than the 60 days of cells", customers, len(res.Scores), folded)
	}
}

// tvSpec parses the model's stored Spec.
func tvSpec(tb testing.TB, m *model.Model) *features.Spec {
	tb.Helper()
	s, err := features.ParseSpec(m.Spec)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestTrainCustomerValueReport: on the 4,000-user synthetic history the
// report's customer-value part holds both fits with standard errors, the
// value distributions of the scored users and the P(alive) ablation with a
// verdict that matches its numbers, and encodes as JSON.
func TestTrainCustomerValueReport(t *testing.T) {
	res := trSynthTrain(t)
	cv := res.Report.CustomerValue
	if cv == nil || cv.BGNBD == nil || cv.GammaGamma == nil || cv.Note != "" {
		t.Fatalf("customer value part %+v", cv)
	}
	for _, se := range []float64{cv.BGNBD.StdErr.R, cv.BGNBD.StdErr.Alpha, cv.BGNBD.StdErr.A, cv.BGNBD.StdErr.B, cv.GammaGamma.StdErr.P} {
		if !(se > 0) {
			t.Errorf("standard error %v", se)
		}
	}
	if cv.Unit != "week" || cv.UnitDays != 7 || cv.HorizonDays != 30 || cv.CLVMonths != 12 || cv.MonthlyDiscount != 0.01 || cv.CalibrationEnd != "2025-12-31" {
		t.Errorf("settings %+v", cv)
	}
	n := 0
	var pa []float64
	for _, s := range res.Scores {
		if s.Prediction.PAlive != nil {
			n++
			pa = append(pa, *s.Prediction.PAlive)
		}
	}
	slices.Sort(pa)
	if cv.WithPAlive != n || cv.PAlive.Users != n || cv.PAlive.Min != pa[0] || cv.PAlive.Max != pa[n-1] {
		t.Errorf("p_alive distribution %+v for %d users (min %v, max %v)", cv.PAlive, n, pa[0], pa[n-1])
	}
	sum := 0
	for _, b := range cv.PAlive.Bins {
		sum += b.Users
	}
	if sum != n || cv.PAlive.Bins[9].Upper != 1 {
		t.Errorf("p_alive bins %+v hold %d of %d users", cv.PAlive.Bins, sum, n)
	}
	a := cv.Ablation
	if a == nil || a.EvalRows != res.Report.Holdout.OutOfTime.Churn.N || len(a.Snapshots) != 4 {
		t.Fatalf("ablation %+v", a)
	}
	if a.AUCGain != a.With.AUC-a.Without.AUC || a.Helps != (a.AUCGain >= a.MinAUCGain && a.LogLossGain >= 0) {
		t.Errorf("ablation gains %+v", a)
	}
	prefix := map[bool]string{true: "P(alive) helps the churn model: AUC ", false: "P(alive) does not help the churn model: AUC "}[a.Helps]
	if !strings.HasPrefix(cv.Verdict, prefix+rptGain(a.AUCGain)) {
		t.Errorf("verdict %q, want prefix %q", cv.Verdict, prefix)
	}
	var buf bytes.Buffer
	if err := res.Report.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"customer_value.bgnbd.params.r", "customer_value.bgnbd.std_err.alpha", "customer_value.gamma_gamma.params.q",
		"customer_value.ablation.with_p_alive.auc", "customer_value.ablation.without_p_alive.log_loss", "customer_value.p_alive.median",
		"customer_value.clv.p90", "customer_value.expected_purchases.mean"} {
		if v, ok := rptPath(doc, p); !ok {
			t.Errorf("%s missing", p)
		} else if _, isNum := v.(float64); !isNum {
			t.Errorf("%s = %v, want a number", p, v)
		}
	}
}

// TestTrainSampleNoValueFit: on the committed sample (4 months, 135
// purchasers) BG/NBD runs into a boundary. Training still succeeds; the
// model has no customer-value part, every stored value is null, and the
// report and summary say why.
func TestTrainSampleNoValueFit(t *testing.T) {
	log := trReadLog(t, filepath.Clean(trSamplePath), nil)
	res, err := Train(context.Background(), log, &Config{Horizon: 30 * trDay, MinUsers: 50, MinClass: -1, Now: trFixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Model.Value != nil {
		t.Fatalf("customer-value part %+v, want none", res.Model.Value)
	}
	for _, s := range res.Scores {
		if v := s.Prediction.UserValue; v.PAlive != nil || v.ExpectedPurchases != nil || v.CLV != nil {
			t.Fatalf("user %s: values %+v, want null", s.UserID, v)
		}
	}
	cv := res.Report.CustomerValue
	if cv.BGNBD != nil || cv.Ablation != nil || cv.PAlive != nil || cv.WithPAlive != 0 || cv.Customers != 135 {
		t.Errorf("customer value part %+v", cv)
	}
	if !strings.HasPrefix(cv.Note, "no BG/NBD fit, so p_alive, expected purchases and CLV are null: bg/nbd fit: a ran off to") ||
		!strings.Contains(cv.Note, "try a longer calibration period") {
		t.Errorf("note %q", cv.Note)
	}
	if !strings.HasPrefix(cv.Verdict, "P(alive) was not tried as a churn-model feature: bg/nbd fit: ") {
		t.Errorf("verdict %q", cv.Verdict)
	}
	found := false
	for _, c := range res.Report.Checks {
		found = found || (c.Name == "customer_value" && !c.Passed && c.Message == cv.Note)
	}
	if !found {
		t.Error("no failed customer_value check")
	}
	var js, sum, page bytes.Buffer
	if err := res.Report.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := res.Report.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if err := res.Report.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "customer value: no BG/NBD fit, so p_alive, expected purchases and CLV are null: bg/nbd fit: a ran off to") {
		t.Errorf("summary:\n%s", sum.String())
	}
	if !strings.Contains(page.String(), "no BG/NBD fit") {
		t.Error("page does not say there is no fit")
	}
}
