package training

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/lapse-dev/lapse/model/btyd"
)

// cdnowDir holds the CDNOW reference data (see its README.md).
const cdnowDir = "../../shared/data/cdnow"

// Reference numbers marked "cdnow_reference.py" below come from
// model/btyd/testdata/cdnow_reference.py: an independent Python/scipy
// implementation (own parser, own likelihood from the FHL 2005 formulas,
// Nelder-Mead then BFGS, scipy.special.hyp2f1) run on the same files.

func cdnowFile(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(cdnowDir, name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("CDNOW data not available: %v", err)
	}
	return p
}

func btydMustDay(tb testing.TB, s string) int32 {
	tb.Helper()
	layout := "2006-01-02"
	if len(s) == 8 {
		layout = "20060102"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		tb.Fatalf("date %q: %v", s, err)
	}
	return BTYDDay(t)
}

// readCDNOWTxt parses CDNOW_master.txt / CDNOW_sample.txt: whitespace
// separated, CRLF, YYYYMMDD dates; idCol, dateCol and amountCol are field
// indexes. Rows are grouped by customer in first-seen order and are sorted
// by date within a customer in both files.
func readCDNOWTxt(tb testing.TB, name string, header bool, idCol, dateCol, amountCol int) []BTYDCustomer {
	tb.Helper()
	f, err := os.Open(cdnowFile(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return parseCustomerRows(tb, bufio.NewScanner(f), header, strings.Fields, idCol, dateCol, amountCol)
}

func parseCustomerRows(tb testing.TB, sc *bufio.Scanner, header bool, split func(string) []string, idCol, dateCol, amountCol int) []BTYDCustomer {
	tb.Helper()
	idx := map[string]int{}
	var out []BTYDCustomer
	line := 0
	for sc.Scan() {
		line++
		if header && line == 1 {
			continue
		}
		p := split(strings.TrimRight(sc.Text(), "\r"))
		if len(p) <= max(idCol, dateCol, amountCol) {
			tb.Fatalf("line %d: %d fields", line, len(p))
		}
		amt, err := strconv.ParseFloat(strings.Trim(p[amountCol], `"`), 64)
		if err != nil {
			tb.Fatalf("line %d: amount: %v", line, err)
		}
		id := strings.Trim(p[idCol], `"`)
		i, ok := idx[id]
		if !ok {
			i = len(out)
			idx[id] = i
			out = append(out, BTYDCustomer{ID: id})
		}
		out[i].Days = append(out[i].Days, btydMustDay(tb, strings.Trim(p[dateCol], `"`)))
		out[i].Amounts = append(out[i].Amounts, amt)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// readCBS parses cdnow_customers_summary.csv (ID,frequency,recency,T) or,
// with zbar, cdnow_customers_summary_with_transactions.csv (ID,x,t_x,T,zbar).
func readCBS(tb testing.TB, name string) []BTYDSummary {
	tb.Helper()
	f, err := os.Open(cdnowFile(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out []BTYDSummary
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue
		}
		p := strings.Split(strings.TrimRight(sc.Text(), "\r"), ",")
		var v [4]float64
		for j := 1; j < len(p); j++ {
			if v[j-1], err = strconv.ParseFloat(p[j], 64); err != nil {
				tb.Fatalf("%s line %d: %v", name, line, err)
			}
		}
		out = append(out, BTYDSummary{ID: p[0], X: int(v[0]), Tx: v[1], T: v[2], Zbar: v[3]})
	}
	return out
}

var cdnowOpts = func(tb testing.TB) *BTYDSummaryOptions {
	return &BTYDSummaryOptions{
		CalibrationEnd: btydMustDay(tb, "1997-09-30"),
		HoldoutEnd:     btydMustDay(tb, "1998-06-30"),
		Unit:           btyd.Week,
	}
}

func relClose(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestSummarizeBTYD(t *testing.T) {
	d := func(s string) int32 { return btydMustDay(t, s) }
	opts := &BTYDSummaryOptions{CalibrationEnd: d("1997-09-30"), HoldoutEnd: d("1998-06-30")}
	cases := []struct {
		name string
		c    BTYDCustomer
		want *BTYDSummary // nil: left out
	}{
		{
			// T by hand: 1997-01-01 to 1997-09-30 is 272 days = 38.857 weeks
			// (the README's 38.86). zbar = (29.73 + 14.96)/2.
			name: "cdnow customer 1",
			c:    BTYDCustomer{ID: "1", Days: []int32{d("1997-01-01"), d("1997-01-18"), d("1997-08-02"), d("1997-12-12")}, Amounts: []float64{29.33, 29.73, 14.96, 26.48}},
			want: &BTYDSummary{ID: "1", X: 2, Tx: 213.0 / 7, T: 272.0 / 7, Zbar: 22.345, HoldoutX: 1, First: d("1997-01-01")},
		},
		{
			// Same-day orders merge: the first day's second order is not a
			// repeat, the repeat day's two orders sum to 30.
			name: "same-day merge",
			c:    BTYDCustomer{ID: "m", Days: []int32{d("1997-02-01"), d("1997-02-01"), d("1997-03-01"), d("1997-03-01"), d("1997-10-01"), d("1997-10-01")}, Amounts: []float64{5, 7, 10, 20, 1, 1}},
			want: &BTYDSummary{ID: "m", X: 1, Tx: 28.0 / 7, T: 241.0 / 7, Zbar: 30, HoldoutX: 1, First: d("1997-02-01")},
		},
		{
			name: "one purchase on the calibration end, holdout after its end ignored",
			c:    BTYDCustomer{ID: "e", Days: []int32{d("1997-09-30"), d("1998-07-01")}},
			want: &BTYDSummary{ID: "e", X: 0, Tx: 0, T: 0, First: d("1997-09-30")},
		},
		{
			name: "first purchase after calibration",
			c:    BTYDCustomer{ID: "late", Days: []int32{d("1997-10-01")}},
		},
		{
			name: "no purchases",
			c:    BTYDCustomer{ID: "none"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SummarizeBTYD([]BTYDCustomer{tc.c}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("got %+v, want the customer left out", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d summaries, want 1", len(got))
			}
			g, w := got[0], *tc.want
			if g.ID != w.ID || g.X != w.X || g.HoldoutX != w.HoldoutX || g.First != w.First ||
				math.Abs(g.Tx-w.Tx) > 1e-12 || math.Abs(g.T-w.T) > 1e-12 || math.Abs(g.Zbar-w.Zbar) > 1e-12 {
				t.Errorf("got %+v, want %+v", g, w)
			}
		})
	}

	t.Run("units", func(t *testing.T) {
		c := []BTYDCustomer{{ID: "u", Days: []int32{d("1997-01-01"), d("1997-03-02")}}}
		for unit, wantT := range map[btyd.Unit]float64{btyd.Day: 272, btyd.Week: 272.0 / 7, btyd.Month: 272 / 30.4375} {
			o := *opts
			o.Unit = unit
			got, err := SummarizeBTYD(c, &o)
			if err != nil || math.Abs(got[0].T-wantT) > 1e-12 || math.Abs(got[0].Tx-wantT*60/272) > 1e-12 {
				t.Errorf("unit %s: got %+v, %v; want T = %g", unit, got, err, wantT)
			}
		}
	})

	errCases := []struct {
		name string
		c    []BTYDCustomer
		opts *BTYDSummaryOptions
	}{
		{"nil options", nil, nil},
		{"no calibration end", nil, &BTYDSummaryOptions{}},
		{"holdout before calibration end", nil, &BTYDSummaryOptions{CalibrationEnd: 100, HoldoutEnd: 50}},
		{"unknown unit", nil, &BTYDSummaryOptions{CalibrationEnd: 100, Unit: "year"}},
		{"unsorted days", []BTYDCustomer{{ID: "x", Days: []int32{5, 3}}}, &BTYDSummaryOptions{CalibrationEnd: 100}},
		{"amounts mismatch", []BTYDCustomer{{ID: "x", Days: []int32{5, 6}, Amounts: []float64{1}}}, &BTYDSummaryOptions{CalibrationEnd: 100}},
	}
	for _, tc := range errCases {
		t.Run("Err "+tc.name, func(t *testing.T) {
			if _, err := SummarizeBTYD(tc.c, tc.opts); !errors.Is(err, ErrBTYDInput) {
				t.Errorf("err = %v, want ErrBTYDInput", err)
			}
		})
	}
}

// TestSummarizeBTYDCDNOW derives the calibration summary from the raw
// sample files and compares it with lifetimes' published table (weeks
// rounded to 2 decimals) and with the totals in the data README.
func TestSummarizeBTYDCDNOW(t *testing.T) {
	ref := readCBS(t, "cdnow_customers_summary_with_transactions.csv")
	sources := map[string][]BTYDCustomer{
		"CDNOW_sample.txt": readCDNOWTxt(t, "CDNOW_sample.txt", false, 1, 2, 4),
		"clvtools daymerged": func() []BTYDCustomer {
			f, err := os.Open(cdnowFile(t, "cdnow_sample_daymerged_clvtools.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			return parseCustomerRows(t, bufio.NewScanner(f), true, func(s string) []string { return strings.Split(s, ",") }, 0, 1, 3)
		}(),
	}
	for name, cs := range sources {
		t.Run(name, func(t *testing.T) {
			sums, err := SummarizeBTYD(cs, cdnowOpts(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(sums) != len(ref) {
				t.Fatalf("%d customers, want %d", len(sums), len(ref))
			}
			byID := map[int]BTYDSummary{}
			for _, r := range ref {
				id, _ := strconv.Atoi(r.ID)
				byID[id] = r
			}
			var rep, zero, hold, zeroHold int
			for _, s := range sums {
				id, err := strconv.Atoi(s.ID) // "0001" in the .txt, "1" in the csv files
				r, ok := byID[id]
				if err != nil || !ok {
					t.Fatalf("customer %q not in the reference table", s.ID)
				}
				if s.X != r.X || math.Abs(s.Tx-r.Tx) > 0.005+1e-9 || math.Abs(s.T-r.T) > 0.005+1e-9 || math.Abs(s.Zbar-r.Zbar) > 0.005+1e-9 {
					t.Fatalf("customer %s: got %+v, want %+v (2-decimal rounding)", s.ID, s, r)
				}
				rep += s.X
				hold += s.HoldoutX
				if s.X == 0 {
					zero++
					zeroHold += s.HoldoutX
				}
			}
			// Totals from the data README (measured there independently).
			if rep != 2457 || zero != 1411 || hold != 1882 || zeroHold != 334 {
				t.Errorf("repeats %d, zero-repeat customers %d, holdout %d, zero-group holdout %d; want 2457, 1411, 1882, 334", rep, zero, hold, zeroHold)
			}
		})
	}
}

// TestFitBGNBDCDNOW reproduces the published BG/NBD fit on the CDNOW sample
// from the published summary and from the raw files.
func TestFitBGNBDCDNOW(t *testing.T) {
	// FHL 2005 / CLVTools (data README): r 0.2426, α 4.4136, a 0.7929,
	// b 2.4259, LL -9582.43, asserted within 0.1% relative.
	published := btyd.BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259}
	cbs := readCBS(t, "cdnow_customers_summary.csv")
	sample := readCDNOWTxt(t, "CDNOW_sample.txt", false, 1, 2, 4)
	sampleSums, err := SummarizeBTYD(sample, cdnowOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		data  []BTYDSummary
		exact btyd.BGNBD // an independent MLE on the same input
		ll    float64
	}{
		// Data README's own pure-Python check on the 2-decimal summary:
		// r 0.2426, α 4.4135, a 0.7929, b 2.4258, LL -9582.4256; to more
		// digits lifetimes' docs: 0.242593, 4.413532, 0.792886, 2.425752.
		{"published summary", cbs, btyd.BGNBD{R: 0.242593, Alpha: 4.413532, A: 0.792886, B: 2.425752}, -9582.4256},
		// cdnow_reference.py on unrounded weeks: 0.2425945, 4.4136023,
		// 0.7929220, 2.4259065, LL -9582.429207 (CLVTools: -9582.429).
		{"from CDNOW_sample.txt", sampleSums, btyd.BGNBD{R: 0.2425945, Alpha: 4.4136023, A: 0.7929220, B: 2.4259065}, -9582.429207},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fit, err := FitBGNBD(t.Context(), tc.data, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := fit.Params
			t.Logf("r %.7f α %.7f a %.7f b %.7f LL %.6f (se %.6f %.6f %.6f %.6f), %d patterns, %d iterations, %d evaluations",
				p.R, p.Alpha, p.A, p.B, fit.LogLikelihood, fit.StdErr.R, fit.StdErr.Alpha, fit.StdErr.A, fit.StdErr.B,
				fit.Patterns, fit.Iterations, fit.FuncEvals)
			for _, c := range []struct {
				name           string
				got, pub, want float64
			}{
				{"r", p.R, published.R, tc.exact.R},
				{"alpha", p.Alpha, published.Alpha, tc.exact.Alpha},
				{"a", p.A, published.A, tc.exact.A},
				{"b", p.B, published.B, tc.exact.B},
				{"LL", fit.LogLikelihood, -9582.43, tc.ll},
			} {
				if !relClose(c.got, c.pub, 1e-3) {
					t.Errorf("%s = %.6f, published %.4f (0.1%%)", c.name, c.got, c.pub)
				}
				if !relClose(c.got, c.want, 2e-5) {
					t.Errorf("%s = %.7f, independent MLE %.7f", c.name, c.got, c.want)
				}
			}
			if math.Abs(fit.LogLikelihood-tc.ll) > 1e-3 {
				t.Errorf("LL = %.6f, want %.6f ± 0.001", fit.LogLikelihood, tc.ll)
			}
			// Standard errors, lifetimes docs/Quickstart.md: r 0.012557,
			// α 0.378221, a 0.185719, b 0.705345 (on the published summary).
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"r", fit.StdErr.R, 0.012557}, {"alpha", fit.StdErr.Alpha, 0.378221}, {"a", fit.StdErr.A, 0.185719}, {"b", fit.StdErr.B, 0.705345}} {
				if !relClose(c.got, c.want, 5e-3) {
					t.Errorf("se(%s) = %.6f, lifetimes %.6f", c.name, c.got, c.want)
				}
			}
			// lifetimes test_conditional_expectation_returns_same_value_as_Hardie_excel_sheet:
			// x = 2, t_x = 30.43, T = 38.86, t = 39 → 1.226 (abs 0.001).
			ey, err := p.ExpectedPurchases(39, 2, 30.43, 38.86)
			if err != nil || math.Abs(ey-1.226) > 1e-3 {
				t.Errorf("E[Y(39) | 2, 30.43, 38.86] = %.5f, %v; want 1.226 ± 0.001", ey, err)
			}
			// lifetimes test_expectation_returns_same_value_Hardie_excel_sheet
			// (3 decimals).
			for _, c := range [][2]float64{{0.1429, 0.0078}, {1, 0.0532}, {3, 0.1506}, {31.8571, 1.0405}, {32, 1.0437}, {78, 1.8576}} {
				e, err := p.ExpectedPurchasesNew(c[0])
				if err != nil || math.Abs(e-c[1]) > 1e-3 {
					t.Errorf("E[X(%g)] = %.5f, %v; want %.4f", c[0], e, err, c[1])
				}
			}
		})
	}
}

// TestCompressBGNBD checks that the grouped likelihood and gradient used by
// the fit equal the per-customer sums of btyd.BGNBD.LogLikelihoodGrad.
func TestCompressBGNBD(t *testing.T) {
	data := simulateBGNBD(3000, btyd.BGNBD{R: 0.3, Alpha: 3, A: 0.9, B: 2.2}, 84, 364, 7, true)
	data = append(data, data[:500]...) // duplicates merge
	pats := CompressBGNBD(data)
	var w float64
	for _, q := range pats {
		w += q.Weight
	}
	if int(w) != len(data) || len(pats) >= len(data) {
		t.Fatalf("%d patterns of total weight %g from %d customers", len(pats), w, len(data))
	}
	pr, err := newBTYDBGProblem(pats)
	if err != nil {
		t.Fatal(err)
	}
	par := btyd.BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}
	g := make([]float64, 4)
	ll := pr.eval([]float64{par.R, par.Alpha, par.A, par.B}, g)
	var want float64
	wantG := make([]float64, 4)
	gi := make([]float64, 4)
	for _, s := range data {
		want += par.LogLikelihoodGrad(gi, float64(s.X), s.Tx, s.T)
		for j := range gi {
			wantG[j] += gi[j]
		}
	}
	if !relClose(ll, want, 1e-12) {
		t.Errorf("grouped LL %.12f, per-customer sum %.12f", ll, want)
	}
	for j := range g {
		if math.Abs(g[j]-wantG[j]) > 1e-9*math.Max(1, math.Abs(wantG[j])) {
			t.Errorf("grad[%d] grouped %.12g, per-customer %.12g", j, g[j], wantG[j])
		}
	}
}

func TestFitBGNBDErrors(t *testing.T) {
	t.Run("ErrNoCustomers", func(t *testing.T) {
		if _, err := FitBGNBD(t.Context(), nil, nil); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
	t.Run("ErrNoRepeats", func(t *testing.T) {
		data := []BTYDSummary{{X: 0, T: 10}, {X: 0, T: 20}}
		if _, err := FitBGNBD(t.Context(), data, nil); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
	t.Run("ErrBadPattern", func(t *testing.T) {
		data := []BTYDSummary{{X: 1, Tx: 30, T: 20}}
		if _, err := FitBGNBD(t.Context(), data, nil); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
	t.Run("ErrNotConverged", func(t *testing.T) {
		data := readCBS(t, "cdnow_customers_summary.csv")
		_, err := FitBGNBD(t.Context(), data, &BGNBDOptions{MaxIterations: 3})
		if !errors.Is(err, ErrBTYDNotConverged) || !strings.Contains(err.Error(), "try another time unit") {
			t.Errorf("err = %v, want ErrBTYDNotConverged with advice", err)
		}
	})
	t.Run("ErrNoDropoutInformation", func(t *testing.T) {
		// Everyone bought on the last day: nobody looks dropped out, so the
		// likelihood keeps rising as the dropout probability goes to 0.
		var data []BTYDSummary
		for i := range 200 {
			data = append(data, BTYDSummary{X: 1 + i%5, Tx: 30, T: 30})
		}
		fit, err := FitBGNBD(t.Context(), data, nil)
		if !errors.Is(err, ErrBTYDNotConverged) || !strings.Contains(err.Error(), "ran off") {
			t.Errorf("fit %+v, err = %v; want ErrBTYDNotConverged (ran off)", fit, err)
		}
	})
	t.Run("ErrCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		data := simulateBGNBD(1000, btyd.BGNBD{R: 0.3, Alpha: 3, A: 0.9, B: 2.2}, 84, 364, 1, false)
		if _, err := FitBGNBD(ctx, data, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// TestFitGammaGammaCDNOW reproduces lifetimes' Gamma-Gamma fit on the 946
// repeat customers of the CDNOW sample.
func TestFitGammaGammaCDNOW(t *testing.T) {
	data := readCBS(t, "cdnow_customers_summary_with_transactions.csv")
	fit, err := FitGammaGamma(t.Context(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := fit.Params
	t.Logf("p %.6f q %.6f v %.6f (se %.4f %.4f %.4f) LL %.4f, %d customers, %d iterations",
		p.P, p.Q, p.V, fit.StdErr.P, fit.StdErr.Q, fit.StdErr.V, fit.LogLikelihood, fit.Customers, fit.Iterations)
	if fit.Customers != 946 || fit.Skipped != 0 {
		t.Errorf("%d customers, %d skipped; want 946, 0", fit.Customers, fit.Skipped)
	}
	// lifetimes TestGammaGammaFitter.test_params_out_is_close_to_Hardie_paper:
	// p 6.25, q 3.74, v 15.44 (±0.01); cdnow_reference.py: 6.2488027,
	// 3.7445884, 15.4477472, LL -4055.923244, SE 1.18967, 0.29016, 4.15995.
	for _, c := range []struct {
		name               string
		got, pub, want, se float64
		gotSE              float64
	}{
		{"p", p.P, 6.25, 6.2488027, 1.18967, fit.StdErr.P},
		{"q", p.Q, 3.74, 3.7445884, 0.29016, fit.StdErr.Q},
		{"v", p.V, 15.44, 15.4477472, 4.15995, fit.StdErr.V},
	} {
		if math.Abs(c.got-c.pub) > 0.01 {
			t.Errorf("%s = %.4f, published %.2f ± 0.01", c.name, c.got, c.pub)
		}
		if !relClose(c.got, c.want, 1e-5) {
			t.Errorf("%s = %.7f, independent MLE %.7f", c.name, c.got, c.want)
		}
		if !relClose(c.gotSE, c.se, 1e-3) {
			t.Errorf("se(%s) = %.5f, independent %.5f", c.name, c.gotSE, c.se)
		}
	}
	if math.Abs(fit.LogLikelihood-(-4055.923244)) > 1e-4 {
		t.Errorf("LL = %.6f, want -4055.923244", fit.LogLikelihood)
	}
	// lifetimes test_conditional_expected_average_profit (atol 0.1).
	want := []float64{24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17}
	for i, w := range want {
		got := p.ConditionalExpectedSpend(float64(data[i].X), data[i].Zbar)
		if math.Abs(got-w) > 0.1 {
			t.Errorf("customer %s: E[M] = %.4f, want %.2f", data[i].ID, got, w)
		}
	}
	t.Run("ErrTooFewRepeaters", func(t *testing.T) {
		_, err := FitGammaGamma(t.Context(), data[:3], nil)
		if !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
}

// TestBTYDHoldoutCheckCDNOW is the calibration/holdout check of FHL 2005 on
// the sample: weeks 40-78.
func TestBTYDHoldoutCheckCDNOW(t *testing.T) {
	cs := readCDNOWTxt(t, "CDNOW_sample.txt", false, 1, 2, 4)
	opts := cdnowOpts(t)
	sums, err := SummarizeBTYD(cs, opts)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitBGNBD(t.Context(), sums, nil)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := BTYDHoldoutCheck(t.Context(), cs, fit.Params, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holdout transactions: actual %d, predicted %.1f (gap %+.1f, %+.1f%%)",
		fc.ActualTotal, fc.PredictedTotal, fc.PredictedTotal-float64(fc.ActualTotal),
		100*(fc.PredictedTotal-float64(fc.ActualTotal))/float64(fc.ActualTotal))
	for _, r := range fc.ByFrequency {
		t.Logf("  x=%-3s customers %4d actual %4d predicted %7.1f", r.Label, r.Customers, r.Actual, r.Predicted)
	}
	// Actuals from the data README (measured there): 1,882 holdout
	// transactions; 334 by the 1,411 customers with no calibration repeat.
	if fc.ActualTotal != 1882 || fc.ByFrequency[0].Customers != 1411 || fc.ByFrequency[0].Actual != 334 || fc.Customers != 2357 {
		t.Errorf("actual total %d, zero group %d customers / %d transactions; want 1882, 1411 / 334", fc.ActualTotal, fc.ByFrequency[0].Customers, fc.ByFrequency[0].Actual)
	}
	if math.Abs(fc.HoldoutLength-39) > 1e-12 {
		t.Errorf("holdout length %g weeks, want 39", fc.HoldoutLength)
	}
	// Predicted, cdnow_reference.py: total 1653.408706; by frequency
	// 317.598220, 229.654581, 223.444701, 152.027952, 134.159681,
	// 100.846145, 101.617228, 394.060198 (7+). The model under-forecasts the
	// holdout by about 12% (BG/NBD's known under-prediction on CDNOW's
	// second year); the zero group is predicted within 5% (317.6 vs 334).
	wantBy := []float64{317.598220, 229.654581, 223.444701, 152.027952, 134.159681, 100.846145, 101.617228, 394.060198}
	if math.Abs(fc.PredictedTotal-1653.408706) > 0.05 {
		t.Errorf("predicted total %.4f, want 1653.4087", fc.PredictedTotal)
	}
	for i, w := range wantBy {
		if math.Abs(fc.ByFrequency[i].Predicted-w) > 0.02 {
			t.Errorf("x=%s predicted %.4f, want %.4f", fc.ByFrequency[i].Label, fc.ByFrequency[i].Predicted, w)
		}
	}
	if z := fc.ByFrequency[0].Predicted; z < 300 || z > 370 {
		t.Errorf("zero group predicted %.1f, outside the band 300-370 around the 334 observed", z)
	}
	// Weekly curve: 78 weeks, 39 of them in calibration; actual cumulative
	// repeats 2457 at week 39 and 2457+1882 = 4339 at week 78 (README);
	// expected, cdnow_reference.py: week 1 3.208788, 10 427.121404,
	// 39 2493.956824, 52 3127.678452, 78 4160.609129.
	if len(fc.Weekly) != 78 || fc.CalibrationWeeks != 39 {
		t.Fatalf("%d weeks, %d in calibration; want 78, 39", len(fc.Weekly), fc.CalibrationWeeks)
	}
	if fc.Weekly[38].Actual != 2457 || fc.Weekly[77].Actual != 4339 || fc.Weekly[38].Day != opts.CalibrationEnd || fc.Weekly[77].Day != opts.HoldoutEnd {
		t.Errorf("weekly actual %d at week 39 (day %d), %d at week 78 (day %d); want 2457, 4339", fc.Weekly[38].Actual, fc.Weekly[38].Day, fc.Weekly[77].Actual, fc.Weekly[77].Day)
	}
	for _, c := range []struct {
		week int
		want float64
	}{{1, 3.208788}, {10, 427.121404}, {39, 2493.956824}, {52, 3127.678452}, {78, 4160.609129}} {
		if got := fc.Weekly[c.week-1].Expected; math.Abs(got-c.want) > 0.05 {
			t.Errorf("week %d expected %.4f, want %.4f", c.week, got, c.want)
		}
	}
	t.Run("ErrNoHoldout", func(t *testing.T) {
		o := *opts
		o.HoldoutEnd = 0
		if _, err := BTYDHoldoutCheck(t.Context(), cs, fit.Params, &o); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
}

// TestFitBGNBDMaster fits the full CDNOW cohort (23,570 customers) parsed
// from CDNOW_master.txt and checks time and an independent fit.
func TestFitBGNBDMaster(t *testing.T) {
	cs := readCDNOWTxt(t, "CDNOW_master.txt", true, 0, 1, 3)
	opts := cdnowOpts(t)
	start := time.Now()
	sums, err := SummarizeBTYD(cs, opts)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitBGNBD(t.Context(), sums, nil)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	p := fit.Params
	t.Logf("master: %d customers, %d patterns, summary+fit %v, %d iterations: r %.6f α %.6f a %.6f b %.6f LL %.4f",
		len(sums), fit.Patterns, elapsed, fit.Iterations, p.R, p.Alpha, p.A, p.B, fit.LogLikelihood)
	// Counts from the data README; fit from cdnow_reference.py:
	// 0.2516240, 4.7889431, 0.7234334, 2.1610880, LL -95368.443933.
	var rep, hold, none int
	for _, s := range sums {
		rep += s.X
		hold += s.HoldoutX
		if s.HoldoutX == 0 {
			none++
		}
	}
	if len(sums) != 23570 || rep != 24337 || hold != 19684 || none != 16512 {
		t.Errorf("customers %d, repeats %d, holdout %d, silent %d; want 23570, 24337, 19684, 16512", len(sums), rep, hold, none)
	}
	for _, c := range [][2]float64{{p.R, 0.2516240}, {p.Alpha, 4.7889431}, {p.A, 0.7234334}, {p.B, 2.1610880}, {fit.LogLikelihood, -95368.443933}} {
		if !relClose(c[0], c[1], 2e-5) {
			t.Errorf("got %.7f, independent %.7f", c[0], c[1])
		}
	}
	// The target is under 1 s on the 2-core machine; the bound is generous
	// because other processes share it. BenchmarkFitBGNBDMaster measures.
	if elapsed > 3*time.Second {
		t.Errorf("summary + fit took %v, want well under 1 s", elapsed)
	}
}

// simulateBGNBD draws n customers from the BG/NBD generative process:
// first purchases on days uniform over the first birthDays days,
// calibration ending with day calDays (inclusive), λ ~ Gamma(r, α) per
// week, dropout p ~ Beta(a, b) after each repeat purchase. Times are in
// weeks. With dayRes the data look like a shop's: the first purchase falls
// at a uniform time within its day, the process runs to the end of the
// calibration end day, and only purchase days are kept, same-day purchases
// merged, t_x and T counted in whole days as SummarizeBTYD does. Otherwise
// the first purchase is at the start of its day and t_x is exact. The
// generator is seeded.
func simulateBGNBD(n int, p btyd.BGNBD, birthDays, calDays int, seed uint64, dayRes bool) []BTYDSummary {
	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	rng := rand.New(src)
	lam := distuv.Gamma{Alpha: p.R, Beta: p.Alpha, Src: src}
	drop := distuv.Beta{Alpha: p.A, Beta: p.B, Src: src}
	out := make([]BTYDSummary, n)
	for i := range out {
		birth := rng.IntN(birthDays)
		T := float64(calDays-birth) / 7
		var u float64 // time of the first purchase within its day, in days
		horizon := T
		if dayRes {
			u = rng.Float64()
			horizon = (float64(calDays-birth) + 1 - u) / 7
		}
		l, q := lam.Rand(), drop.Rand()
		x, t, tx := 0, 0.0, 0.0
		lastDay := 0.0
		for {
			t += rng.ExpFloat64() / l
			if t > horizon {
				break
			}
			if dayRes {
				d := math.Floor(u + 7*t) // purchase day, counted from the first
				if d > lastDay {
					x++
					lastDay = d
					tx = d / 7
				}
			} else {
				x++
				tx = t
			}
			if rng.Float64() < q {
				break
			}
		}
		out[i] = BTYDSummary{X: x, Tx: tx, T: T}
	}
	return out
}

// TestFitBGNBDRecoversSimulated fits customers simulated from known
// parameters. Short mode uses 100,000 customers and a bound of 4 standard
// errors; the full run uses 1,000,000 and the 2% target.
func TestFitBGNBDRecoversSimulated(t *testing.T) {
	trSkipUnderRace(t)
	n, rel := 1_000_000, 0.02
	if testing.Short() {
		n, rel = 100_000, math.NaN()
	}
	truth := btydSimTruth
	data := simulateBGNBD(n, truth, btydSimBirthDays, btydSimCalDays, 1, false)
	start := time.Now()
	fit, err := FitBGNBD(t.Context(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d customers, %d patterns, fit %v: %+v (se %+v)", n, fit.Patterns, time.Since(start), fit.Params, fit.StdErr)
	for _, c := range []struct {
		name          string
		got, want, se float64
	}{
		{"r", fit.Params.R, truth.R, fit.StdErr.R},
		{"alpha", fit.Params.Alpha, truth.Alpha, fit.StdErr.Alpha},
		{"a", fit.Params.A, truth.A, fit.StdErr.A},
		{"b", fit.Params.B, truth.B, fit.StdErr.B},
	} {
		if math.Abs(c.got-c.want) > 4*c.se {
			t.Errorf("%s = %.5f, true %.5f: more than 4 standard errors (%.5f)", c.name, c.got, c.want, c.se)
		}
		if !math.IsNaN(rel) && !relClose(c.got, c.want, rel) {
			t.Errorf("%s = %.5f, true %.5f: off by more than %.0f%%", c.name, c.got, c.want, 100*rel)
		}
	}
}

// The simulation design of the recovery test and benchmark: CDNOW-like
// dropout (a, b) with twice CDNOW's r, first purchases over 12 weeks, a
// 104-week calibration. At 1,000,000 customers the standard errors are
// about 0.16% (r), 0.26% (α), 0.40% (a) and 0.56% (b) of the values, so
// the 2% target is at least 3.5 standard errors.
var btydSimTruth = btyd.BGNBD{R: 0.5, Alpha: 4, A: 0.8, B: 2.5}

const (
	btydSimBirthDays = 84
	btydSimCalDays   = 728
)

func TestWriteBTYDReport(t *testing.T) {
	cs := readCDNOWTxt(t, "CDNOW_sample.txt", false, 1, 2, 4)
	opts := cdnowOpts(t)
	sums, err := SummarizeBTYD(cs, opts)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := FitBGNBD(t.Context(), sums, nil)
	if err != nil {
		t.Fatal(err)
	}
	gg, err := FitGammaGamma(t.Context(), sums, nil)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := BTYDHoldoutCheck(t.Context(), cs, bg.Params, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	r := &BTYDReport{Title: "CDNOW <sample>", CalibrationEnd: opts.CalibrationEnd, HoldoutEnd: opts.HoldoutEnd, BGNBD: bg, GammaGamma: gg, Forecast: fc}
	if err := WriteBTYDReport(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"escaped title", strings.Contains(page, "<h1>CDNOW &lt;sample&gt;</h1>")},
		{"two charts", strings.Count(page, "<svg ") == 2},
		{"16 bars", strings.Count(page, `class="bar"`) == 16},
		{"two curves of 78 points", strings.Count(page, `class="line"`) == 2 && strings.Count(page, ",") > 2*78},
		{"no script", !strings.Contains(page, "<script")},
		{"loads nothing", !strings.Contains(page, "http:") && !strings.Contains(page, "https:") && !strings.Contains(page, "src=")},
		{"r", strings.Contains(page, "<td>0.2426</td>")},
		{"alpha", strings.Contains(page, "<td>4.4136</td>")},
		{"dates", strings.Contains(page, "1997-09-30") && strings.Contains(page, "1998-06-30")},
		{"zero group bar", strings.Contains(page, "<title>actual 0: 334</title>")},
		{"holdout total", strings.Contains(page, "1882 transactions observed, 1653.4 predicted (-12.1%)")},
		{"gamma-gamma", strings.Contains(page, "Gamma-Gamma parameters")},
	} {
		if !c.ok {
			t.Errorf("page check %q failed", c.name)
		}
	}
	t.Run("ErrNoFit", func(t *testing.T) {
		if err := WriteBTYDReport(io.Discard, &BTYDReport{}); !errors.Is(err, ErrBTYDInput) {
			t.Errorf("err = %v, want ErrBTYDInput", err)
		}
	})
}

func TestBTYDSVGNiceMax(t *testing.T) {
	// Hand-computed: the smallest 1/2/2.5/5·10^k step >= max/5, and the
	// top rounded up to a multiple of it.
	cases := []struct{ max, top, step float64 }{
		{4339, 5000, 1000},
		{407, 500, 100},
		{0.9, 1, 0.2},
		{12, 12.5, 2.5},
		{0, 1, 0.25},
	}
	for _, c := range cases {
		top, step := btydSVGNiceMax(c.max)
		if math.Abs(top-c.top) > 1e-12 || math.Abs(step-c.step) > 1e-12 {
			t.Errorf("btydSVGNiceMax(%g) = %g, %g; want %g, %g", c.max, top, step, c.top, c.step)
		}
	}
}
