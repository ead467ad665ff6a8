package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// References: "published" numbers are FHL 2005 / CLVTools as listed in
// shared/data/cdnow/README.md; "cdnow_reference.py" and
// "clv_reference.py" are the independent scipy scripts in
// model/btyd/testdata and training/testdata/clv (outputs quoted in their
// comments and in clv_reference.out).

const cdnowData = "../../../shared/data/cdnow"

// cdnowPath returns a CDNOW file, skipping the test when it is absent.
func cdnowPath(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(cdnowData, name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("CDNOW data absent: %v", err)
	}
	return p
}

func relNear(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// clvSampleArgs are the flags for the CDNOW sample, calibration to
// 1997-09-30 inclusive and holdout to 1998-06-30, in weeks.
func clvSampleArgs(tb testing.TB, extra ...string) []string {
	return append([]string{"clv", "--events", cdnowPath(tb, "cdnow_sample_events.csv"),
		"--user-col", "customer_id", "--time-col", "date", "--event-col", "event_type",
		"--calibration-end", "1997-09-30", "--unit", "week", "--holdout-end", "1998-06-30"}, extra...)
}

// readCustomerCSV reads the --out file into rows by user id.
func readCustomerCSV(tb testing.TB, path string) (header []string, rows map[string][]string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	rows = map[string][]string{}
	for _, r := range recs[1:] {
		rows[r[0]] = r
	}
	return recs[0], rows
}

func parseF(tb testing.TB, s string) float64 {
	tb.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		tb.Fatalf("number %q: %v", s, err)
	}
	return v
}

// TestCLVCDNOWSample runs lapse clv on the CDNOW sample and checks the
// published fit, the holdout figures, the JSON schema, the report files and
// the per-customer CSV.
func TestCLVCDNOWSample(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "customers.csv")
	rep := filepath.Join(dir, "report")
	r := mustRun(t, 0, clvSampleArgs(t, "--json", "--report-dir", rep, "--out", out)...)

	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	// Every documented top-level field is present.
	for _, k := range []string{"schema_version", "calibration_end", "holdout_end", "unit", "purchase_events", "horizon",
		"clv_options", "customers", "first_purchase", "bgnbd", "gamma_gamma", "spend_frequency_correlation",
		"warnings", "totals", "holdout"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var o clvOutput
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatal(err)
	}
	if o.SchemaVersion != 1 || o.CalibrationEnd != "1997-09-30" || o.HoldoutEnd == nil || *o.HoldoutEnd != "1998-06-30" ||
		o.Unit != "week" || o.Customers != 2357 || o.FirstPurchase != "1997-01-01" || o.Horizon != 39 {
		t.Errorf("header fields %+v", o)
	}
	// Published BG/NBD (within 0.1%) and log-likelihood (within 0.01).
	p := o.BGNBD.Params
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", p.R, 0.2426}, {"alpha", p.Alpha, 4.4136}, {"a", p.A, 0.7929}, {"b", p.B, 2.4259}} {
		if !relNear(c.got, c.want, 1e-3) {
			t.Errorf("%s = %.6f, want %.4f within 0.1%%", c.name, c.got, c.want)
		}
	}
	if math.Abs(o.BGNBD.LogLikelihood+9582.43) > 0.01 {
		t.Errorf("log-likelihood %.4f, want -9582.43", o.BGNBD.LogLikelihood)
	}
	// Standard errors: lifetimes' documentation (data README) lists
	// 0.012557, 0.378221, 0.185719, 0.705345; within 1%.
	se := o.BGNBD.StdErr
	for _, c := range [][2]float64{{se.R, 0.012557}, {se.Alpha, 0.378221}, {se.A, 0.185719}, {se.B, 0.705345}} {
		if !relNear(c[0], c[1], 0.01) {
			t.Errorf("standard error %.6f, want %.6f within 1%%", c[0], c[1])
		}
	}
	if g := o.GammaGamma; g == nil || math.Abs(g.Params.P-6.25) > 0.01 || math.Abs(g.Params.Q-3.74) > 0.01 || math.Abs(g.Params.V-15.44) > 0.01 {
		t.Errorf("gamma-gamma %+v, want p 6.25 q 3.74 v 15.44 (lifetimes)", o.GammaGamma)
	}
	// Holdout: actual 1,882 and 334 for the 1,411 zero-repeat customers
	// (data README); predicted 1653.408706 and 317.598220
	// (cdnow_reference.py); cumulative repeats 2,457 after week 39 and
	// 4,339 after week 78.
	h := o.Holdout
	if h == nil {
		t.Fatal("no holdout check")
	}
	z := h.ByFrequency[0]
	if h.ActualTotal != 1882 || z.Customers != 1411 || z.Actual != 334 || h.Customers != 2357 || len(h.ByFrequency) != 8 || h.ByFrequency[7].Label != "7+" {
		t.Errorf("holdout actual %d, zero group %d customers %d transactions, %d groups; want 1882, 1411, 334, 8", h.ActualTotal, z.Customers, z.Actual, len(h.ByFrequency))
	}
	if math.Abs(h.PredictedTotal-1653.408706) > 0.05 || math.Abs(z.Predicted-317.598220) > 0.02 {
		t.Errorf("predicted total %.4f, zero group %.4f; want 1653.4087, 317.5982", h.PredictedTotal, z.Predicted)
	}
	if len(h.Weekly) != 78 || h.CalibrationWeeks != 39 || h.Weekly[38].Actual != 2457 || h.Weekly[38].End != "1997-09-30" ||
		h.Weekly[77].Actual != 4339 || h.Weekly[77].End != "1998-06-30" || math.Abs(h.Weekly[77].Expected-4160.609129) > 0.05 {
		t.Errorf("weekly curve: %d weeks, %d in calibration, week 39 %+v, week 78 %+v", len(h.Weekly), h.CalibrationWeeks, h.Weekly[38], h.Weekly[77])
	}
	if o.Totals.CLV == nil || math.Abs(o.Totals.ExpectedPurchases-h.PredictedTotal) > 1e-6 {
		t.Errorf("totals %+v: want a CLV total and expected purchases = the holdout prediction", o.Totals)
	}

	// Per-customer CSV as of 1997-09-30, horizon = the 39-week holdout.
	header, rows := readCustomerCSV(t, out)
	if got := strings.Join(header, ","); got != "user_id,x,t_x,T,p_alive,expected_purchases,p_no_purchase,clv" {
		t.Errorf("header %q", got)
	}
	if len(rows) != 2357 {
		t.Errorf("%d rows, want 2357", len(rows))
	}
	row := rows["1"]
	x, tx, T := row[1], parseF(t, row[2]), parseF(t, row[3])
	pa, ey, pn, clv := parseF(t, row[4]), parseF(t, row[5]), parseF(t, row[6]), parseF(t, row[7])
	// The customer of lifetimes' test from Hardie's spreadsheet: x = 2,
	// t_x = 30.43, T = 38.86, E[purchases in 39 weeks] = 1.226 (±0.001);
	// clv_reference.py: p_alive 0.72662032, 1.225994, P(none) 0.44537204,
	// 12-month CLV 36.296016.
	if x != "2" || math.Abs(tx-30.43) > 0.005 || math.Abs(T-38.86) > 0.005 {
		t.Errorf("customer 1: x %s t_x %g T %g; want 2, 30.43, 38.86", x, tx, T)
	}
	if math.Abs(ey-1.226) > 0.001 || !relNear(ey, 1.225994, 1e-5) || !relNear(pa, 0.72662032, 1e-5) ||
		!relNear(pn, 0.44537204, 1e-5) || !relNear(clv, 36.296016, 1e-5) {
		t.Errorf("customer 1: p_alive %g expected %g p_none %g clv %g", pa, ey, pn, clv)
	}
	for _, name := range []string{"clv.html", "clv.json"} {
		data, err := os.ReadFile(filepath.Join(rep, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "clv.json" && string(data) != r.stdout {
			t.Error("clv.json differs from the --json output")
		}
		if name == "clv.html" && (!strings.Contains(string(data), "<svg") || !strings.Contains(string(data), "1882 transactions observed")) {
			t.Error("clv.html lacks the charts or the holdout total")
		}
	}
}

// TestCLVText checks the text output on the CDNOW sample.
func TestCLVText(t *testing.T) {
	r := mustRun(t, 0, clvSampleArgs(t)...)
	for _, want := range []string{
		"BG/NBD on 2357 customers (first purchases from 1997-01-01, calibration to 1997-09-30 inclusive",
		"      r    0.2426      0.0126",
		"  alpha    4.4136      0.3782",
		"log-likelihood -9582.43",
		"Gamma-Gamma on 946 repeat customers",
		"Holdout 1997-10-01 .. 1998-06-30 (39 weeks): 1882 transactions, 1653.4 predicted (-12.1%)",
		"     0       1411     334      317.6",
		"    78  1998-06-30    4339    4160.6",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestCLVMaster runs the CDNOW master (whitespace-separated, with a header)
// end to end and reports the time.
func TestCLVMaster(t *testing.T) {
	path := cdnowPath(t, "CDNOW_master.txt")
	start := time.Now()
	r := mustRun(t, 0, "clv", "--events", path, "--user-col", "customer_id", "--time-col", "date",
		"--amount-col", "dollar_value", "--event-name", "purchase", "--calibration-end", "1997-09-30",
		"--holdout-end", "1998-06-30", "--json", "--out", filepath.Join(t.TempDir(), "c.csv"))
	t.Logf("CDNOW master end to end (reading included): %v", time.Since(start))
	var o clvOutput
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatal(err)
	}
	// cdnow_reference.py: 0.2516240, 4.7889431, 0.7234334, 2.1610880, LL
	// -95368.443933; data README: 19,684 holdout transactions.
	p := o.BGNBD.Params
	for _, c := range [][2]float64{{p.R, 0.2516240}, {p.Alpha, 4.7889431}, {p.A, 0.7234334}, {p.B, 2.1610880}} {
		if !relNear(c[0], c[1], 1e-5) {
			t.Errorf("parameter %.7f, want %.7f", c[0], c[1])
		}
	}
	if math.Abs(o.BGNBD.LogLikelihood+95368.443933) > 1e-3 || o.Customers != 23570 || o.Holdout.ActualTotal != 19684 {
		t.Errorf("LL %.6f, %d customers, %d holdout transactions; want -95368.443933, 23570, 19684", o.BGNBD.LogLikelihood, o.Customers, o.Holdout.ActualTotal)
	}
}

// TestCLVCommittedSample: on testdata/sample_events.csv (4 months) purchases
// alone show no dropout, so the fit fails with advice; with carts counted
// as transactions it converges, and without order values on carts there is
// no spend model and no CLV.
func TestCLVCommittedSample(t *testing.T) {
	const sample = "../../testdata/sample_events.csv"
	t.Run("ErrNotConverged", func(t *testing.T) {
		r := mustRun(t, 1, "clv", "--events", sample, "--calibration-end", "2025-04-30")
		for _, want := range []string{"lapse clv: ", "did not converge", "ran off", "try a longer calibration period"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if r.stdout != "" {
			t.Errorf("stdout %q, want nothing", r.stdout)
		}
	})
	t.Run("CartsAndPurchases", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "c.csv")
		r := mustRun(t, 0, "clv", "--events", sample, "--calibration-end", "2025-04-30",
			"--purchase-events", "purchase,add_to_cart", "--json", "--out", out)
		var o clvOutput
		if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
			t.Fatal(err)
		}
		// clv_reference.py: r 0.8202510821, α 2.6973889472, a
		// 0.1008856428, b 1.6062670855, LL -1045.076773; no Gamma-Gamma
		// maximum.
		p := o.BGNBD.Params
		if !relNear(p.R, 0.8202510821, 1e-5) || !relNear(p.B, 1.6062670855, 1e-5) || math.Abs(o.BGNBD.LogLikelihood+1045.076773) > 1e-5 {
			t.Errorf("fit %+v LL %.6f", p, o.BGNBD.LogLikelihood)
		}
		if o.GammaGamma != nil || o.GammaGammaNote == "" || o.Totals.CLV != nil || o.HoldoutEnd != nil || o.Holdout != nil {
			t.Errorf("gamma-gamma %v note %q clv total %v holdout %v; want none, a note, none, none", o.GammaGamma, o.GammaGammaNote, o.Totals.CLV, o.Holdout)
		}
		if !strings.Contains(r.stdout, `"holdout_end": null`) || !strings.Contains(r.stdout, `"gamma_gamma": null`) {
			t.Error("holdout_end and gamma_gamma are not null in the JSON")
		}
		_, rows := readCustomerCSV(t, out)
		// u001 over the default 12 months (clv_reference.py): p_alive
		// 0.99081698, E 36.82650182, P(none) 0.00918303, no CLV.
		row := rows["u001"]
		if len(rows) != 183 || row[1] != "13" || !relNear(parseF(t, row[4]), 0.99081698, 1e-5) ||
			!relNear(parseF(t, row[5]), 36.82650182, 1e-5) || !relNear(parseF(t, row[6]), 0.00918303, 1e-4) || row[7] != "" {
			t.Errorf("%d rows; u001 %q", len(rows), row)
		}
	})
}

func TestCLVUsageErrors(t *testing.T) {
	const sample = "../../testdata/sample_events.csv"
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCalibrationEnd", nil, "--calibration-end is required"},
		{"TimeOfDay", []string{"--calibration-end", "2025-04-30T12:00:00Z"}, "want a date"},
		{"HoldoutBeforeCalibration", []string{"--calibration-end", "2025-04-30", "--holdout-end", "2025-04-01"}, "is not after"},
		{"BadUnit", []string{"--calibration-end", "2025-04-30", "--unit", "fortnight"}, `--unit "fortnight"`},
		{"BadMonths", []string{"--calibration-end", "2025-04-30", "--months", "0"}, "--months 0"},
		{"BadDiscount", []string{"--calibration-end", "2025-04-30", "--discount", "2"}, "monthly discount"},
		{"ExtraArgs", []string{"--calibration-end", "2025-04-30", "x.csv"}, "unexpected arguments"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mustRun(t, 2, append([]string{"clv", "--events", sample}, c.args...)...)
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "Usage:") {
				t.Errorf("stderr lacks %q and the usage:\n%s", c.want, r.stderr)
			}
		})
	}
}

// BenchmarkCLVMaster times lapse clv on the CDNOW master end to end
// (reading 69,659 rows included), with the holdout check and the CSV.
func BenchmarkCLVMaster(b *testing.B) {
	path := cdnowPath(b, "CDNOW_master.txt")
	out := filepath.Join(b.TempDir(), "c.csv")
	args := []string{"clv", "--events", path, "--user-col", "customer_id", "--time-col", "date",
		"--amount-col", "dollar_value", "--event-name", "purchase", "--calibration-end", "1997-09-30",
		"--holdout-end", "1998-06-30", "--json", "--out", out, "--log-level", "warn"}
	for b.Loop() {
		if r := runLapse(b, "", args...); r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
	b.ReportMetric(23570*float64(b.N)/b.Elapsed().Seconds(), "customers/s")
}
