package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/features/synth"
	"github.com/lapse-dev/lapse/model/btyd"
)

// Reference numbers marked "clv_reference.py" come from
// testdata/clv/clv_reference.py (its output is kept next to it in
// clv_reference.out): an independent Python/scipy implementation of the
// BG/NBD and Gamma-Gamma likelihoods and expectations with its own CSV
// parser, run on the same files.

// cvReadLog reads an event file with the given column mapping into a Log.
func cvReadLog(tb testing.TB, path string, m features.Mapping) *features.Log {
	tb.Helper()
	srcs, closeAll, err := features.OpenSources([]string{path}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer closeAll()
	r, err := features.NewReader(context.Background(), srcs, &features.ReadOptions{Mapping: m})
	if err != nil {
		tb.Fatal(err)
	}
	var log features.Log
	var e features.Event
	for {
		err := r.Read(&e)
		if err == io.EOF {
			return &log
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := log.Append(&e); err != nil {
			tb.Fatal(err)
		}
	}
}

// cvCDNOWSample reads cdnow_sample_events.csv (skipping when absent).
func cvCDNOWSample(tb testing.TB) *features.Log {
	m := features.DefaultMapping()
	m.UserCol, m.TimeCol, m.EventCol = "customer_id", "date", "event_type"
	return cvReadLog(tb, cdnowFile(tb, "cdnow_sample_events.csv"), m)
}

// cvUTC returns midnight UTC of an ISO date.
func cvUTC(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// cvWant is one customer's reference values.
type cvWant struct {
	id                     string
	x                      int
	tx, T                  float64
	pAlive, ey, pNone, clv float64
	noCLV                  bool
}

func cvCheckUsers(t *testing.T, res *CustomerValueResult, rel float64, want []cvWant) {
	t.Helper()
	for _, w := range want {
		t.Run("user"+w.id, func(t *testing.T) {
			v, ok := res.Lookup(w.id)
			if !ok {
				t.Fatalf("user %s has no values", w.id)
			}
			if v.X != w.x || math.Abs(v.Tx-w.tx) > 5e-7 || math.Abs(v.T-w.T) > 5e-7 {
				t.Errorf("x, t_x, T = %d, %.6f, %.6f; want %d, %.6f, %.6f", v.X, v.Tx, v.T, w.x, w.tx, w.T)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"p_alive", v.PAlive, w.pAlive}, {"expected_purchases", v.ExpectedPurchases, w.ey}, {"p_no_purchase", v.PNoPurchase, w.pNone}} {
				if !relClose(c.got, c.want, rel) {
					t.Errorf("%s = %.8f, want %.8f (rel %g)", c.name, c.got, c.want, rel)
				}
			}
			switch {
			case w.noCLV && v.CLV != nil:
				t.Errorf("clv = %g, want none", *v.CLV)
			case !w.noCLV && v.CLV == nil:
				t.Errorf("clv missing, want %.6f", w.clv)
			case !w.noCLV && !relClose(*v.CLV, w.clv, rel):
				t.Errorf("clv = %.6f, want %.6f", *v.CLV, w.clv)
			}
		})
	}
}

// TestCustomerValuesCDNOW reproduces the published BG/NBD and Gamma-Gamma
// fits on the CDNOW sample read through the event reader, and the
// per-customer values against clv_reference.py.
func TestCustomerValuesCDNOW(t *testing.T) {
	log := cvCDNOWSample(t)
	cutoff := cvUTC(t, "1997-10-01") // calibration end 1997-09-30 inclusive
	res, err := CustomerValues(t.Context(), log, cutoff, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := btydDate(res.CalibrationEnd), "1997-09-30"; got != want {
		t.Errorf("calibration end %s, want %s", got, want)
	}
	if len(res.Users) != 2357 {
		t.Errorf("%d customers, want 2357 (data README)", len(res.Users))
	}
	// Published: FHL 2005 / CLVTools (data README), within 0.1%; LL
	// -9582.43 within 0.01.
	p := res.BGNBD.Params
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", p.R, 0.2426}, {"alpha", p.Alpha, 4.4136}, {"a", p.A, 0.7929}, {"b", p.B, 2.4259}} {
		if !relClose(c.got, c.want, 1e-3) {
			t.Errorf("%s = %.6f, want %.4f within 0.1%%", c.name, c.got, c.want)
		}
	}
	if math.Abs(res.BGNBD.LogLikelihood+9582.43) > 0.01 {
		t.Errorf("log-likelihood %.4f, want -9582.43", res.BGNBD.LogLikelihood)
	}
	// Gamma-Gamma on the 946 repeaters: lifetimes' p 6.25, q 3.74, v 15.44.
	if res.GammaGamma == nil {
		t.Fatalf("no gamma-gamma fit: %s", res.GammaGammaNote)
	}
	g := res.GammaGamma.Params
	if res.GammaGamma.Customers != 946 || math.Abs(g.P-6.25) > 0.01 || math.Abs(g.Q-3.74) > 0.01 || math.Abs(g.V-15.44) > 0.01 {
		t.Errorf("gamma-gamma %d customers %+v; want 946, p 6.25 q 3.74 v 15.44", res.GammaGamma.Customers, g)
	}
	// Default horizon: 12 months of 30.4375 days = 52.1786 weeks.
	if math.Abs(res.Horizon-365.25/7) > 1e-12 || res.CLV.Months != 12 || res.CLV.MonthlyDiscount != 0.01 {
		t.Errorf("horizon %g weeks, clv %+v; want 52.1786, 12 months at 1%%", res.Horizon, res.CLV)
	}
	// clv_reference.py; the fits agree to about 1e-7, so 1e-5 relative.
	cvCheckUsers(t, res, 1e-5, []cvWant{
		{"1", 2, 30.428571, 38.857143, 0.72662032, 1.56306511, 0.39663350, 36.296016, false},
		{"10", 0, 0, 38.857143, 1, 0.25244159, 0.82537204, 8.349919, false},
		{"100", 1, 23.857143, 38.285714, 0.64699248, 0.80359065, 0.59291121, 21.901367, false},
		{"1000", 4, 24.428571, 33.571429, 0.68026769, 2.96705945, 0.33710752, 50.722131, false},
		{"2357", 0, 0, 27, 1, 0.33304287, 0.78865255, 11.023957, false},
	})
	var sa, se, sn, sc float64
	for _, v := range res.Users {
		sa += v.PAlive
		se += v.ExpectedPurchases
		sn += v.PNoPurchase
		// The per-pattern CLV must equal the package formula btyd.CLV.
		want, err := btyd.CLV(p, g, float64(v.X), v.Tx, v.T, v.Zbar, &res.CLV)
		if err != nil || v.CLV == nil || !relClose(*v.CLV, want, 1e-12) {
			t.Fatalf("user %s clv %v, btyd.CLV %g (%v)", v.UserID, v.CLV, want, err)
		}
		sc += *v.CLV
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p_alive", sa, 1917.277682}, {"expected_purchases", se, 2095.114366}, {"p_no_purchase", sn, 1669.124573}, {"clv", sc, 71550.202495}} {
		if !relClose(c.got, c.want, 1e-6) {
			t.Errorf("sum of %s = %.6f, want %.6f (clv_reference.py)", c.name, c.got, c.want)
		}
	}
	if _, ok := res.Lookup("2358"); ok {
		t.Error("Lookup found an id that is not in the data")
	}

	t.Run("Horizon39Weeks", func(t *testing.T) {
		res, err := CustomerValues(t.Context(), log, cutoff, &CustomerValueOptions{Horizon: 39 * 7 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := res.Lookup("1")
		// lifetimes' test from Hardie's spreadsheet: 1.226 (abs 0.001);
		// clv_reference.py: 1.225994, P(no purchase) 0.44537204.
		if math.Abs(v.ExpectedPurchases-1.226) > 0.001 || !relClose(v.ExpectedPurchases, 1.225994, 1e-5) || !relClose(v.PNoPurchase, 0.44537204, 1e-5) {
			t.Errorf("x=%d t_x=%.2f T=%.2f: E[Y(39)] = %.6f, P(none) = %.8f; want 1.226, 0.44537204", v.X, v.Tx, v.T, v.ExpectedPurchases, v.PNoPurchase)
		}
	})
	t.Run("BeforeFirstPurchases", func(t *testing.T) {
		// Cutoff 1997-01-15: only customers whose first purchase came
		// before it are customers; the rest get no values.
		cut := cvUTC(t, "1997-01-15")
		cs, err := BTYDCustomersFromLog(log, cutoff, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, c := range cs {
			if c.Days[0] < BTYDDay(cut) {
				want++
			}
		}
		res, err := CustomerValues(t.Context(), log, cut, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Users) != want || want == 0 || want == len(cs) {
			t.Errorf("%d customers before %s, want %d of %d", len(res.Users), cut.Format(time.DateOnly), want, len(cs))
		}
	})
}

// TestCustomerValuesSample runs CustomerValues on the committed sample
// (testdata/sample_events.csv: 4 months, 135 purchasers).
func TestCustomerValuesSample(t *testing.T) {
	log := cvReadLog(t, "../testdata/sample_events.csv", features.DefaultMapping())
	cutoff := cvUTC(t, "2025-05-01") // the midnight after the last event

	t.Run("ErrNoDropoutInformation", func(t *testing.T) {
		// With purchases alone the sample is too short to show dropout:
		// clv_reference.py's profile likelihood keeps rising as a -> 0
		// (max LL -524.8148 at a = 0.1, -524.2854 at 1e-4, -524.285092 at
		// 1e-8, with b/a -> 10.4), so there is no maximum to report.
		_, err := CustomerValues(t.Context(), log, cutoff, nil)
		if !errors.Is(err, ErrBTYDNotConverged) {
			t.Fatalf("err = %v, want ErrBTYDNotConverged", err)
		}
		for _, s := range []string{"as of 2025-04-30", "ran off", "log-likelihood -524.285", "try a longer calibration period"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	})
	t.Run("CartsAndPurchases", func(t *testing.T) {
		// Counting carts as transactions gives an interior maximum
		// (clv_reference.py, four starting points agree): r 0.8202510821,
		// α 2.6973889472, a 0.1008856428, b 1.6062670855, LL -1045.076773.
		opts := &CustomerValueOptions{PurchaseEvents: []string{"purchase", "add_to_cart"}}
		res, err := CustomerValues(t.Context(), log, cutoff, opts)
		if err != nil {
			t.Fatal(err)
		}
		p := res.BGNBD.Params
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"r", p.R, 0.8202510821}, {"alpha", p.Alpha, 2.6973889472}, {"a", p.A, 0.1008856428}, {"b", p.B, 1.6062670855}} {
			if !relClose(c.got, c.want, 1e-5) {
				t.Errorf("%s = %.8f, want %.8f", c.name, c.got, c.want)
			}
		}
		if len(res.Users) != 183 || math.Abs(res.BGNBD.LogLikelihood+1045.076773) > 1e-5 {
			t.Errorf("%d customers, LL %.6f; want 183, -1045.076773", len(res.Users), res.BGNBD.LogLikelihood)
		}
		// Carts carry no amount, so many repeat days average to little and
		// the Gamma-Gamma likelihood has no maximum (clv_reference.py: its
		// profile rises with p: -363.3816 at 1e2, -363.3375 at 1e6): no
		// CLV, with the reason.
		if res.GammaGamma != nil || !strings.Contains(res.GammaGammaNote, "no CLV") {
			t.Errorf("gamma-gamma %+v, note %q; want none with a reason", res.GammaGamma, res.GammaGammaNote)
		}
		cvCheckUsers(t, res, 1e-5, []cvWant{
			{"u001", 13, 14.857143, 15.142857, 0.99081698, 36.82650182, 0.00918303, 0, true},
			{"u002", 0, 0, 13.285714, 1, 2.43836098, 0.30432732, 0, true},
			{"u160", 29, 16.142857, 16.857143, 0.98976942, 72.78150482, 0.01023058, 0, true},
		})
		var sa, se, sn float64
		for _, v := range res.Users {
			sa, se, sn = sa+v.PAlive, se+v.ExpectedPurchases, sn+v.PNoPurchase
		}
		if !relClose(sa, 167.594572, 1e-6) || !relClose(se, 2224.394125, 1e-5) || !relClose(sn, 29.614983, 1e-5) {
			t.Errorf("sums p_alive %.6f expected %.6f p_none %.6f; want 167.594572, 2224.394125, 29.614983", sa, se, sn)
		}
	})
}

// cvHistory simulates n BG/NBD customers in days: first purchase on a
// uniform day in [start, start+births), purchase rate λ ~ Gamma(r, α) per
// day, dropout with probability p ~ Beta(a, b) after each repeat purchase,
// observed to the day before end; amounts are Gamma(6, ν) with ν ~
// Gamma(4, 15) per customer. Several purchases on one day stay separate
// events (merged by the Log).
func cvHistory(n int, bg btyd.BGNBD, start time.Time, births, days int, seed uint64) []features.Event {
	rng := rand.New(rand.NewPCG(seed, 17))
	gamma := func(shape float64) float64 { // Marsaglia-Tsang, shape >= 1 via boost
		boost := 1.0
		if shape < 1 {
			boost = math.Pow(rng.Float64(), 1/shape)
			shape++
		}
		d := shape - 1.0/3
		c := 1 / math.Sqrt(9*d)
		for {
			x := rng.NormFloat64()
			v := 1 + c*x
			if v <= 0 {
				continue
			}
			v = v * v * v
			u := rng.Float64()
			if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
				return boost * d * v
			}
		}
	}
	var evs []features.Event
	for i := range n {
		id := fmt.Sprintf("c%07d", i)
		lambda := gamma(bg.R) / bg.Alpha
		ga, gb := gamma(bg.A), gamma(bg.B)
		p := ga / (ga + gb)
		nu := gamma(4) / 15
		t := float64(rng.IntN(births))
		first := true
		for t < float64(days) {
			evs = append(evs, features.Event{UserID: id, Name: "purchase", Time: start.Add(time.Duration(t * float64(24*time.Hour))), Amount: math.Round(100*gamma(6)/nu) / 100})
			if !first && rng.Float64() < p {
				break
			}
			first = false
			t += rng.ExpFloat64() / lambda
		}
	}
	return evs
}

// TestCustomerValuesOfEdges checks the rules around the calibration end on
// a seeded simulated history plus hand-made users.
func TestCustomerValuesOfEdges(t *testing.T) {
	start := cvUTC(t, "2024-01-01")
	bg := btyd.BGNBD{R: 0.8, Alpha: 20, A: 0.8, B: 2.5} // α in days
	evs := cvHistory(3000, bg, start, 90, 365, 5)
	cut := start.AddDate(0, 0, 300).Add(12 * time.Hour) // mid-day: calibration end is that day
	evs = append(evs,
		// Two orders on one day, a refund and a cart: one transaction of 30.
		features.Event{UserID: "zz-same-day", Name: "purchase", Time: start.Add(10 * time.Hour), Amount: 10},
		features.Event{UserID: "zz-same-day", Name: "order", Time: start.Add(20 * time.Hour), Amount: 20},
		features.Event{UserID: "zz-same-day", Name: "purchase", Time: start.AddDate(0, 0, 3), Amount: -10},
		features.Event{UserID: "zz-same-day", Name: "add_to_cart", Time: start.AddDate(0, 0, 4)},
		// Browsing only: not a customer.
		features.Event{UserID: "zz-browser", Name: "page_view", Time: start.AddDate(0, 0, 5)},
		// First purchase after the cutoff (same day, later hour): not yet a customer.
		features.Event{UserID: "zz-late", Name: "purchase", Time: cut.Add(time.Hour), Amount: 5},
	)
	var log features.Log
	for i := range evs {
		if err := log.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Hand computed: the cutoff 2024-10-27 12:00 lies in day D-1 with D
	// 2024-10-28, so the calibration end is 2024-10-27 (day 20023).
	if got := BTYDCalibrationEnd(cut); got != 20023 || btydDate(got) != "2024-10-27" {
		t.Errorf("calibration end of %v = %d (%s), want 20023 (2024-10-27)", cut, got, btydDate(got))
	}
	if got := BTYDCalibrationEnd(start.AddDate(0, 0, 301)); got != 20023 {
		t.Errorf("calibration end of midnight 2024-10-28 = %d, want 20023", got)
	}
	res, err := CustomerValues(t.Context(), &log, cut, &CustomerValueOptions{Unit: btyd.Day, Horizon: 30 * 24 * time.Hour, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit %+v (simulated from %+v), gamma-gamma %+v", res.BGNBD.Params, bg, res.GammaGamma.Params)
	for _, id := range []string{"zz-browser", "zz-late"} {
		if _, ok := res.Lookup(id); ok {
			t.Errorf("%s has values, want none (no purchase before the cutoff)", id)
		}
	}
	v, ok := res.Lookup("zz-same-day")
	if !ok {
		t.Fatal("zz-same-day missing")
	}
	// One purchase day (x = 0), first on day 2024-01-01 = 19723: T = 300 days.
	if v.X != 0 || v.T != 300 || v.PAlive != 1 {
		t.Errorf("same-day user: x=%d T=%g p_alive=%g; want 0, 300, 1", v.X, v.T, v.PAlive)
	}
	// The fit recovers the simulation's parameters roughly: 3,000
	// customers leave sampling errors of tens of percent on a and b, so
	// only r and α are checked, within 25%.
	if !relClose(res.BGNBD.Params.R, bg.R, 0.25) || !relClose(res.BGNBD.Params.Alpha, bg.Alpha, 0.25) {
		t.Errorf("fit %+v, simulated %+v", res.BGNBD.Params, bg)
	}
	if math.Abs(res.Horizon-30) > 1e-12 {
		t.Errorf("horizon %g days, want 30", res.Horizon)
	}
	// Same result with one worker.
	one, err := CustomerValues(t.Context(), &log, cut, &CustomerValueOptions{Unit: btyd.Day, Horizon: 30 * 24 * time.Hour, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Users {
		a, b := res.Users[i], one.Users[i]
		if a.UserID != b.UserID || a.ExpectedPurchases != b.ExpectedPurchases || *a.CLV != *b.CLV {
			t.Fatalf("workers change user %d: %+v vs %+v", i, a, b)
		}
	}

	t.Run("NoAmounts", func(t *testing.T) {
		var log features.Log
		for _, e := range evs {
			e.Amount = 0
			if err := log.Append(&e); err != nil {
				t.Fatal(err)
			}
		}
		res, err := CustomerValues(t.Context(), &log, cut, &CustomerValueOptions{Unit: btyd.Day})
		if err != nil {
			t.Fatal(err)
		}
		if res.GammaGamma != nil || !strings.Contains(res.GammaGammaNote, "amount") || res.Users[0].CLV != nil {
			t.Errorf("gamma-gamma %v note %q clv %v; want none, a note about amounts", res.GammaGamma, res.GammaGammaNote, res.Users[0].CLV)
		}
	})
	for _, c := range []struct {
		name string
		opts *CustomerValueOptions
		want error
	}{
		{"ErrNegativeHorizon", &CustomerValueOptions{Horizon: -time.Hour}, ErrBTYDInput},
		{"ErrBadUnit", &CustomerValueOptions{Unit: "fortnight"}, btyd.ErrInvalidOptions},
		{"ErrBadDiscount", &CustomerValueOptions{CLV: &btyd.CLVOptions{MonthlyDiscount: 2}}, btyd.ErrInvalidOptions},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := CustomerValues(t.Context(), &log, cut, c.opts); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("ErrNoCustomers", func(t *testing.T) {
		if _, err := CustomerValues(t.Context(), &log, start, nil); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
	t.Run("ErrCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := CustomerValues(ctx, &log, cut, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// cvSynthSnapshots builds labelled snapshots of a seeded synthetic history:
// fitting cutoffs at days 150 and 180, out of time at 210, horizon 30 days.
func cvSynthSnapshots(tb testing.TB, users int) (*features.Log, []*features.Dataset, *features.Dataset) {
	tb.Helper()
	g, err := synth.New(&synth.Config{Users: users, Days: 240, Seed: 11})
	if err != nil {
		tb.Fatal(err)
	}
	var log features.Log
	for {
		e, err := g.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := log.Append(&e); err != nil {
			tb.Fatal(err)
		}
	}
	start := g.Config().Start
	build := func(day int, spec *features.Spec) *features.Dataset {
		ds, err := log.Build(features.BuilderConfig{
			Cutoff:  start.AddDate(0, 0, day),
			Horizon: 30 * 24 * time.Hour,
			Spec:    spec,
			Learn:   spec == nil,
			DataEnd: start.AddDate(0, 0, 240), // the history covers 240 whole days
			Workers: 2,
		})
		if err != nil {
			tb.Fatal(err)
		}
		return ds
	}
	oot := build(210, nil)
	return &log, []*features.Dataset{build(150, oot.Spec), build(180, oot.Spec)}, oot
}

// TestPAliveAblation runs the ablation on a synthetic history.
func TestPAliveAblation(t *testing.T) {
	log, fitting, oot := cvSynthSnapshots(t, 1500)
	res, err := PAliveAblation(t.Context(), log, fitting, oot, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without %+v with %+v gain %.4f helps %v; %d fit rows, %d eval rows", res.Without, res.With, res.AUCGain, res.Helps, res.FitRows, res.EvalRows)
	rows := len(fitting[0].Vectors) + len(fitting[1].Vectors)
	if res.FitRows != rows || res.EvalRows != len(oot.Vectors) || len(res.Snapshots) != 3 {
		t.Errorf("%d fit rows, %d eval rows, %d snapshots; want %d, %d, 3", res.FitRows, res.EvalRows, len(res.Snapshots), rows, len(oot.Vectors))
	}
	// A constant prediction at the churn rate has log loss
	// -(ρ ln ρ + (1-ρ) ln(1-ρ)); both models must beat it and rank well
	// above chance (the synthetic churn is learnable).
	var churn float64
	for _, c := range oot.Churn {
		if c {
			churn++
		}
	}
	rho := churn / float64(len(oot.Churn))
	base := -(rho*math.Log(rho) + (1-rho)*math.Log(1-rho))
	if math.Abs(res.EvalChurnRate-rho) > 1e-15 {
		t.Errorf("eval churn rate %g, want %g", res.EvalChurnRate, rho)
	}
	for _, m := range []AblationMetrics{res.Without, res.With} {
		if !(m.AUC > 0.6 && m.AUC <= 1) || !(m.LogLoss > 0 && m.LogLoss < base) {
			t.Errorf("metrics %+v: want AUC in (0.6, 1], log loss in (0, %.4f)", m, base)
		}
	}
	if res.AUCGain != res.With.AUC-res.Without.AUC || res.LogLossGain != res.Without.LogLoss-res.With.LogLoss ||
		res.Helps != (res.AUCGain >= 0.002 && res.LogLossGain >= 0) {
		t.Errorf("gains %+v inconsistent", res)
	}
	// The p_alive of the out-of-time snapshot: users without a purchase
	// before 210 get 0, the others the BG/NBD value, checked against
	// CustomerValues at that cutoff.
	cv, err := CustomerValues(t.Context(), log, oot.Cutoff, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := res.Snapshots[2]
	if last.Customers != len(cv.Users) || last.Params != cv.BGNBD.Params || last.RowsWithoutPurchase == 0 || last.RowsWithoutPurchase >= len(oot.Vectors) {
		t.Errorf("out-of-time fit %+v; CustomerValues %d customers %+v", last, len(cv.Users), cv.BGNBD.Params)
	}

	t.Run("RowCap", func(t *testing.T) {
		capped, err := PAliveAblation(t.Context(), log, fitting, oot, &PAliveAblationOptions{MaxFitRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if capped.FitRows != 1000 {
			t.Errorf("%d fit rows, want 1000", capped.FitRows)
		}
	})
	t.Run("ErrUnlabelled", func(t *testing.T) {
		bad := *oot
		bad.Labelled = false
		if _, err := PAliveAblation(t.Context(), log, fitting, &bad, nil); !errors.Is(err, ErrAblation) {
			t.Errorf("err = %v, want ErrAblation", err)
		}
	})
	t.Run("ErrNoFitting", func(t *testing.T) {
		if _, err := PAliveAblation(t.Context(), log, nil, oot, nil); !errors.Is(err, ErrAblation) {
			t.Errorf("err = %v, want ErrAblation", err)
		}
	})
}

// BenchmarkCustomerValues times CustomerValues (purchase days from the Log,
// both fits, every customer's values and 12-month CLV) on the CDNOW master
// (23,570 customers) and on simulated histories.
func BenchmarkCustomerValues(b *testing.B) {
	b.Run("cdnow_master", func(b *testing.B) {
		m := features.DefaultMapping()
		m.UserCol, m.TimeCol, m.EventCol = "customer_id", "date", "event_type"
		log := cvReadLog(b, cdnowFile(b, "cdnow_master_events.csv"), m)
		cut := cvUTC(b, "1997-10-01")
		var n int
		for b.Loop() {
			res, err := CustomerValues(b.Context(), log, cut, nil)
			if err != nil {
				b.Fatal(err)
			}
			n = len(res.Users)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "customers/s")
	})
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("simulated_"+strconv.Itoa(n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("1M customers: skipped with -short")
			}
			start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			evs := cvHistory(n, btyd.BGNBD{R: 0.8, Alpha: 20, A: 0.8, B: 2.5}, start, 180, 540, 9)
			var log features.Log
			for i := range evs {
				if err := log.Append(&evs[i]); err != nil {
					b.Fatal(err)
				}
			}
			evs = nil
			cut := start.AddDate(0, 0, 365)
			for b.Loop() {
				if _, err := CustomerValues(b.Context(), &log, cut, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "customers/s")
		})
	}
}

// TestFitJSONNullStdErr: standard errors that are NaN (no positive-definite
// information) encode as null, which encoding/json would otherwise refuse.
func TestFitJSONNullStdErr(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"BGNBD", BGNBDFit{Params: btyd.BGNBD{R: 1, Alpha: 2, A: 3, B: 4}, StdErr: btyd.BGNBD{R: 0.5, Alpha: nan, A: nan, B: nan}},
			`"params":{"r":1,"alpha":2,"a":3,"b":4}`},
		{"GammaGamma", GammaGammaFit{Params: btyd.GammaGamma{P: 1, Q: 2, V: 3}, StdErr: btyd.GammaGamma{P: nan, Q: 0.25, V: nan}, Customers: 7},
			`"params":{"p":1,"q":2,"v":3}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			s := string(data)
			wantSE := `"std_err":{"r":0.5,"alpha":null,"a":null,"b":null}`
			if c.name == "GammaGamma" {
				wantSE = `"std_err":{"p":null,"q":0.25,"v":null}`
			}
			if !strings.Contains(s, c.want) || !strings.Contains(s, wantSE) || strings.Count(s, `"std_err"`) != 1 {
				t.Errorf("json %s, want %s and %s", s, c.want, wantSE)
			}
		})
	}
}

// ExampleCustomerValues fits the customer-base models on a seeded
// simulated shop (3,000 customers, purchase rates and dropout drawn from
// known BG/NBD parameters, α in days) and reads one customer's values.
func ExampleCustomerValues() {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := cvHistory(3000, btyd.BGNBD{R: 0.8, Alpha: 20, A: 0.8, B: 2.5}, start, 90, 365, 5)
	var log features.Log
	for i := range evs {
		if err := log.Append(&evs[i]); err != nil {
			panic(err)
		}
	}
	res, err := CustomerValues(context.Background(), &log, start.AddDate(0, 0, 300), &CustomerValueOptions{
		Unit:    btyd.Day,
		Horizon: 90 * 24 * time.Hour,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d customers, r %.2f, alpha %.1f days\n", len(res.Users), res.BGNBD.Params.R, res.BGNBD.Params.Alpha)
	v, _ := res.Lookup("c0000000")
	fmt.Printf("x=%d t_x=%.0f T=%.0f: P(alive) %.3f, %.2f purchases expected in 90 days, P(none) %.3f, 12-month CLV %.2f\n",
		v.X, v.Tx, v.T, v.PAlive, v.ExpectedPurchases, v.PNoPurchase, *v.CLV)
	// Output:
	// 3000 customers, r 0.79, alpha 22.3 days
	// x=1 t_x=8 T=217: P(alive) 0.083, 0.05 purchases expected in 90 days, P(none) 0.964, 12-month CLV 3.87
}
