package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model/btyd"
	"github.com/lapse-dev/lapse/training"
)

func init() { register(clvCommand) }

var clvCommand = &Command{
	Name:     "clv",
	Summary:  "fit BG/NBD and Gamma-Gamma customer-base models: P(alive), expected purchases, CLV, holdout check",
	Synopsis: "clv --events FILE... [mapping flags] --calibration-end T [--unit week] [--holdout-end T2] [--json] [--report-dir DIR] [--out customers.csv]",
	Description: `For shops without subscriptions, where nobody cancels and churn is latent.
Reads the purchase events (--purchase-events with an amount >= 0; several on
one UTC day count as one transaction, their amounts summed) and summarises
every customer who bought on or before the calibration end T (a date,
inclusive) by x (repeat transactions), t_x (last minus first purchase day)
and T (calibration end minus first purchase day), in --unit. Fits the BG/NBD
purchase model by maximum likelihood and, when repeat transactions carry
amounts, the Gamma-Gamma spend model, and prints the parameters with standard
errors and the log-likelihood. A fit that does not converge ends the run with
exit code 1 and says what to try.

With --holdout-end T2 it also checks the forecast: actual vs predicted
transactions in (T, T2] in total and by calibration frequency 0, 1, ..., 7+,
and the cumulative repeat transactions by week. --report-dir writes clv.html
(charts) and clv.json there. --out writes one CSV row per customer as of T:
user_id,x,t_x,T,p_alive,expected_purchases,p_no_purchase,clv, where
expected_purchases and p_no_purchase cover --horizon and clv the next --months
months discounted by --discount a month (empty without a spend model).

--json prints one object: schema_version (1), calibration_end, holdout_end
(null without), unit, purchase_events, horizon (in unit), clv_options
{months, monthly_discount, unit}, customers, first_purchase,
bgnbd {params {r, alpha, a, b}, std_err, log_likelihood, customers, patterns,
iterations, func_evals, grad_norm, warnings}, gamma_gamma {params {p, q, v},
std_err, log_likelihood, customers, skipped, iterations, func_evals,
warnings} or null, gamma_gamma_note, spend_frequency_correlation, warnings,
totals {p_alive_mean, expected_purchases, p_no_purchase_mean, clv (null
without a spend model)}, holdout {holdout_length, customers, actual_total,
predicted_total, by_frequency [{x, label, customers, actual, predicted}],
weekly [{week, end, actual, expected}], calibration_weeks} or null.`,
	Examples: []string{
		"lapse clv --events cdnow_sample_events.csv --user-col customer_id --time-col date --event-col event_type --calibration-end 1997-09-30 --holdout-end 1998-06-30 --out customers.csv",
		"lapse clv --events CDNOW_master.txt --user-col customer_id --time-col date --amount-col dollar_value --event-name purchase --calibration-end 1997-09-30 --holdout-end 1998-06-30 --json --report-dir clv",
	},
	Setup: setupCLV,
}

// clvFlags are the flags of lapse clv.
type clvFlags struct {
	in         *inputFlags
	calEnd     time.Time
	holdEnd    time.Time
	unit       string
	purchase   commaList
	months     int
	discount   float64
	horizon    time.Duration
	json       bool
	reportDir  string
	out        string
	calEndDay  int32
	holdEndDay int32
}

func setupCLV(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	def := btyd.DefaultCLVOptions()
	f := &clvFlags{in: addInputFlags(fs), purchase: commaList(features.DefaultSpec().PurchaseEvents)}
	fs.Var(timeFlag{&f.calEnd}, "calibration-end", "last `day` of the calibration period, inclusive, e.g. 1997-09-30 (required)")
	fs.StringVar(&f.unit, "unit", string(btyd.Week), "time `unit` of the model: week, day or month (30.4375 days)")
	fs.Var(timeFlag{&f.holdEnd}, "holdout-end", "last `day` of the holdout period, inclusive: compare the forecast with what customers did after the calibration end (default: no check)")
	fs.Var(&f.purchase, "purchase-events", "`types` that are purchases, comma-separated")
	fs.IntVar(&f.months, "months", def.Months, "CLV horizon in `months` of 30.4375 days")
	fs.Float64Var(&f.discount, "discount", def.MonthlyDiscount, "monthly discount `rate` of the CLV")
	fs.Var(durationFlag{&f.horizon}, "horizon", "`period` of expected_purchases and p_no_purchase in --out (30d, 13w) (default: the holdout's length with --holdout-end, else --months months)")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON (schema above) instead of text")
	fs.StringVar(&f.reportDir, "report-dir", "", "`directory` for clv.html and clv.json, created if missing")
	fs.StringVar(&f.out, "out", "", "per-customer CSV `file` (.gz to compress) or - for stdout")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q (input files go after --events)", args)
		}
		return runCLV(ctx, env, f)
	}
}

// check validates the flags and fills the day numbers.
func (f *clvFlags) check() (*training.CustomerValueOptions, error) {
	if f.calEnd.IsZero() {
		return nil, usagef("--calibration-end is required (the last day of calibration, e.g. 1997-09-30)")
	}
	if !isMidnight(f.calEnd) {
		return nil, usagef("--calibration-end %s: want a date (the last day of calibration, inclusive)", f.calEnd.Format(time.RFC3339))
	}
	f.calEndDay = training.BTYDDay(f.calEnd)
	if !f.holdEnd.IsZero() {
		if !isMidnight(f.holdEnd) {
			return nil, usagef("--holdout-end %s: want a date (the last day of the holdout, inclusive)", f.holdEnd.Format(time.RFC3339))
		}
		if !f.holdEnd.After(f.calEnd) {
			return nil, usagef("--holdout-end %s is not after --calibration-end %s", f.holdEnd.Format(time.DateOnly), f.calEnd.Format(time.DateOnly))
		}
		f.holdEndDay = training.BTYDDay(f.holdEnd)
	}
	unit := btyd.Unit(f.unit)
	if _, err := unit.Days(); err != nil {
		return nil, usagef("--unit %q: want week, day or month", f.unit)
	}
	if len(f.purchase) == 0 {
		return nil, usagef("--purchase-events is empty")
	}
	opts := &training.CustomerValueOptions{
		PurchaseEvents: f.purchase,
		Unit:           unit,
		Horizon:        f.horizon,
		CLV:            &btyd.CLVOptions{Months: f.months, MonthlyDiscount: f.discount, Unit: unit},
	}
	if f.months <= 0 {
		return nil, usagef("--months %d: want a positive number of months", f.months)
	}
	if err := opts.CLV.Validate(); err != nil {
		return nil, usagef("--months/--discount: %v", err)
	}
	if opts.Horizon == 0 && f.holdEndDay != 0 {
		opts.Horizon = time.Duration(f.holdEndDay-f.calEndDay) * 24 * time.Hour
	}
	return opts, nil
}

func isMidnight(t time.Time) bool { return t.Equal(t.Truncate(24 * time.Hour)) }

// runCLV is lapse clv after flag parsing.
func runCLV(ctx context.Context, env *Env, f *clvFlags) error {
	opts, err := f.check()
	if err != nil {
		return err
	}
	calCutoff := f.calEnd.AddDate(0, 0, 1)
	log, _, err := readLog(ctx, env, f.in, time.Time{})
	if err != nil {
		return err
	}
	if log.Len() == 0 {
		return fmt.Errorf("no events were read")
	}
	start := time.Now()
	end := calCutoff
	if f.holdEndDay != 0 {
		end = f.holdEnd.AddDate(0, 0, 1)
		if last := log.MaxTime(); last.Before(f.holdEnd) {
			env.Log.Warn("the data end before the holdout does: its actual counts are incomplete",
				"last_event", last.Format(time.RFC3339), "holdout_end", f.holdEnd.Format(time.DateOnly))
		}
	}
	customers, err := training.BTYDCustomersFromLog(log, end, f.purchase)
	if err != nil {
		return err
	}
	res, err := training.CustomerValuesOf(ctx, customers, f.calEndDay, opts)
	if err != nil {
		return err
	}
	var fc *training.BTYDForecast
	if f.holdEndDay != 0 {
		fc, err = training.BTYDHoldoutCheck(ctx, customers, res.BGNBD.Params,
			&training.BTYDSummaryOptions{CalibrationEnd: f.calEndDay, HoldoutEnd: f.holdEndDay, Unit: res.Unit})
		if err != nil {
			return err
		}
	}
	env.Log.Debug("clv computed", "seconds", time.Since(start).Seconds(), "customers", len(res.Users))
	out := newCLVOutput(f, res, fc)

	if f.json {
		if err := writeJSONTo(env.Stdout, out); err != nil {
			return err
		}
	} else if err := writeCLVText(env.Stdout, out, res); err != nil {
		return err
	}
	if f.reportDir != "" {
		if err := writeCLVReport(f, res, fc, out, env.Stdout); err != nil {
			return err
		}
		env.Log.Info("wrote the customer-base report", "html", filepath.Join(f.reportDir, "clv.html"), "json", filepath.Join(f.reportDir, "clv.json"))
	}
	if f.out != "" {
		if err := writeCustomerCSV(f.out, res, env.Stdout); err != nil {
			return err
		}
		env.Log.Info("wrote customer values", "file", f.out, "customers", len(res.Users), "horizon", fmt.Sprintf("%.4g %ss", res.Horizon, res.Unit))
	}
	return nil
}

// clvOutput is the --json document (schema_version 1).
type clvOutput struct {
	SchemaVersion    int                     `json:"schema_version"`
	CalibrationEnd   string                  `json:"calibration_end"`
	HoldoutEnd       *string                 `json:"holdout_end"`
	Unit             btyd.Unit               `json:"unit"`
	PurchaseEvents   []string                `json:"purchase_events"`
	Horizon          float64                 `json:"horizon"`
	CLVOptions       btyd.CLVOptions         `json:"clv_options"`
	Customers        int                     `json:"customers"`
	FirstPurchase    string                  `json:"first_purchase"`
	BGNBD            *training.BGNBDFit      `json:"bgnbd"`
	GammaGamma       *training.GammaGammaFit `json:"gamma_gamma"`
	GammaGammaNote   string                  `json:"gamma_gamma_note,omitempty"`
	SpendCorrelation *float64                `json:"spend_frequency_correlation"`
	Warnings         []string                `json:"warnings"`
	Totals           clvTotals               `json:"totals"`
	Holdout          *clvHoldout             `json:"holdout"`
}

// clvTotals summarise the per-customer values.
type clvTotals struct {
	PAliveMean        float64  `json:"p_alive_mean"`
	ExpectedPurchases float64  `json:"expected_purchases"`
	PNoPurchaseMean   float64  `json:"p_no_purchase_mean"`
	CLV               *float64 `json:"clv"`
}

// clvHoldout is training.BTYDForecast with dates instead of day numbers.
type clvHoldout struct {
	HoldoutLength    float64                     `json:"holdout_length"`
	Customers        int                         `json:"customers"`
	ActualTotal      int                         `json:"actual_total"`
	PredictedTotal   float64                     `json:"predicted_total"`
	ByFrequency      []training.BTYDFrequencyRow `json:"by_frequency"`
	Weekly           []clvWeek                   `json:"weekly"`
	CalibrationWeeks int                         `json:"calibration_weeks"`
}

// clvWeek is one point of the cumulative repeat-transaction curve.
type clvWeek struct {
	Week     int     `json:"week"`
	End      string  `json:"end"`
	Actual   int     `json:"actual"`
	Expected float64 `json:"expected"`
}

func dayString(d int32) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

func newCLVOutput(f *clvFlags, res *training.CustomerValueResult, fc *training.BTYDForecast) *clvOutput {
	o := &clvOutput{
		SchemaVersion:    1,
		CalibrationEnd:   dayString(f.calEndDay),
		Unit:             res.Unit,
		PurchaseEvents:   []string(f.purchase),
		Horizon:          res.Horizon,
		CLVOptions:       res.CLV,
		Customers:        len(res.Users),
		BGNBD:            res.BGNBD,
		GammaGamma:       res.GammaGamma,
		GammaGammaNote:   res.GammaGammaNote,
		SpendCorrelation: res.SpendCorrelation,
		Warnings:         append(append([]string{}, res.BGNBD.Warnings...), res.Warnings...),
	}
	if f.holdEndDay != 0 {
		s := dayString(f.holdEndDay)
		o.HoldoutEnd = &s
	}
	first := f.calEndDay
	var clvSum float64
	allCLV := res.GammaGamma != nil
	for _, v := range res.Users {
		first = min(first, f.calEndDay-int32(math.Round(v.T*unitDays(res.Unit))))
		o.Totals.PAliveMean += v.PAlive
		o.Totals.ExpectedPurchases += v.ExpectedPurchases
		o.Totals.PNoPurchaseMean += v.PNoPurchase
		if v.CLV != nil {
			clvSum += *v.CLV
		} else {
			allCLV = false
		}
	}
	o.FirstPurchase = dayString(first)
	if n := float64(len(res.Users)); n > 0 {
		o.Totals.PAliveMean /= n
		o.Totals.PNoPurchaseMean /= n
	}
	if allCLV {
		o.Totals.CLV = &clvSum
	}
	if fc != nil {
		h := &clvHoldout{
			HoldoutLength: fc.HoldoutLength, Customers: fc.Customers, ActualTotal: fc.ActualTotal,
			PredictedTotal: fc.PredictedTotal, ByFrequency: fc.ByFrequency, CalibrationWeeks: fc.CalibrationWeeks,
		}
		for _, w := range fc.Weekly {
			h.Weekly = append(h.Weekly, clvWeek{Week: w.Week, End: dayString(w.Day), Actual: w.Actual, Expected: w.Expected})
		}
		o.Holdout = h
	}
	return o
}

func unitDays(u btyd.Unit) float64 {
	d, _ := u.Days()
	return d
}

// writeJSONTo writes v as indented JSON with a final newline.
func writeJSONTo(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// writeCLVText prints the fits, totals and holdout check for a terminal.
func writeCLVText(w io.Writer, o *clvOutput, res *training.CustomerValueResult) error {
	bw := bufio.NewWriter(w)
	bg := o.BGNBD
	fmt.Fprintf(bw, "BG/NBD on %d customers (first purchases from %s, calibration to %s inclusive; %d distinct (x, t_x, T)); time unit: %s\n",
		o.Customers, o.FirstPurchase, o.CalibrationEnd, bg.Patterns, o.Unit)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "parameter\testimate\tstd. error\t")
	for _, r := range []struct {
		name  string
		v, se float64
	}{{"r", bg.Params.R, bg.StdErr.R}, {"alpha", bg.Params.Alpha, bg.StdErr.Alpha}, {"a", bg.Params.A, bg.StdErr.A}, {"b", bg.Params.B, bg.StdErr.B}} {
		fmt.Fprintf(tw, "%s\t%.4f\t%s\t\n", r.name, r.v, fmtSE(r.se))
	}
	tw.Flush()
	fmt.Fprintf(bw, "log-likelihood %.2f (%d iterations, gradient %.1e)\n", bg.LogLikelihood, bg.Iterations, bg.GradNorm)
	if gg := o.GammaGamma; gg != nil {
		fmt.Fprintf(bw, "\nGamma-Gamma on %d repeat customers", gg.Customers)
		if gg.Skipped > 0 {
			fmt.Fprintf(bw, " (%d without positive spend skipped)", gg.Skipped)
		}
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "parameter\testimate\tstd. error\t")
		for _, r := range []struct {
			name  string
			v, se float64
		}{{"p", gg.Params.P, gg.StdErr.P}, {"q", gg.Params.Q, gg.StdErr.Q}, {"v", gg.Params.V, gg.StdErr.V}} {
			fmt.Fprintf(tw, "%s\t%.4f\t%s\t\n", r.name, r.v, fmtSE(r.se))
		}
		tw.Flush()
		fmt.Fprintf(bw, "mean order value p·v/(q−1) = %.2f; log-likelihood %.2f\n", gg.Params.MeanSpend(), gg.LogLikelihood)
		if o.SpendCorrelation != nil {
			fmt.Fprintf(bw, "correlation of order value and frequency among repeat customers: %.3f\n", *o.SpendCorrelation)
		}
	} else {
		fmt.Fprintf(bw, "\nNo spend model: %s\n", o.GammaGammaNote)
	}
	for _, wn := range o.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", wn)
	}
	fmt.Fprintf(bw, "\nAs of %s, over the next %.4g %ss: mean P(alive) %.4f, expected transactions %.1f, mean P(no purchase) %.4f",
		o.CalibrationEnd, o.Horizon, o.Unit, o.Totals.PAliveMean, o.Totals.ExpectedPurchases, o.Totals.PNoPurchaseMean)
	if o.Totals.CLV != nil {
		fmt.Fprintf(bw, "; CLV over %d months at %g%% a month: total %.2f, mean %.2f", o.CLVOptions.Months, 100*o.CLVOptions.MonthlyDiscount,
			*o.Totals.CLV, *o.Totals.CLV/float64(o.Customers))
	}
	fmt.Fprintln(bw)
	if h := o.Holdout; h != nil {
		gap := math.NaN()
		if h.ActualTotal > 0 {
			gap = 100 * (h.PredictedTotal - float64(h.ActualTotal)) / float64(h.ActualTotal)
		}
		fmt.Fprintf(bw, "\nHoldout %s .. %s (%.4g %ss): %d transactions, %.1f predicted (%+.1f%%)\n",
			dayString(res.CalibrationEnd+1), *o.HoldoutEnd, h.HoldoutLength, o.Unit, h.ActualTotal, h.PredictedTotal, gap)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "repeat transactions in calibration\tcustomers\tactual\tpredicted\t")
		for _, r := range h.ByFrequency {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t\n", r.Label, r.Customers, r.Actual, r.Predicted)
		}
		fmt.Fprintf(tw, "total\t%d\t%d\t%.1f\t\n", h.Customers, h.ActualTotal, h.PredictedTotal)
		tw.Flush()
		fmt.Fprintf(bw, "\nCumulative repeat transactions by week (calibration ends with week %d)\n", h.CalibrationWeeks)
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "week\tending\tactual\texpected\t")
		for _, wk := range h.Weekly {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t\n", wk.Week, wk.End, wk.Actual, wk.Expected)
		}
		tw.Flush()
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

func fmtSE(se float64) string {
	if math.IsNaN(se) {
		return "–"
	}
	return fmt.Sprintf("%.4f", se)
}

// writeCLVReport writes DIR/clv.html and DIR/clv.json.
func writeCLVReport(f *clvFlags, res *training.CustomerValueResult, fc *training.BTYDForecast, o *clvOutput, stdout io.Writer) error {
	if err := os.MkdirAll(f.reportDir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	var page bytes.Buffer
	err := training.WriteBTYDReport(&page, &training.BTYDReport{
		Title:          "Customer-base model: calibration to " + o.CalibrationEnd,
		Unit:           res.Unit,
		CalibrationEnd: f.calEndDay,
		HoldoutEnd:     f.holdEndDay,
		BGNBD:          res.BGNBD,
		GammaGamma:     res.GammaGamma,
		Forecast:       fc,
	})
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(f.reportDir, "clv.html"), page.Bytes(), stdout); err != nil {
		return err
	}
	var js bytes.Buffer
	if err := writeJSONTo(&js, o); err != nil {
		return err
	}
	return writeFile(filepath.Join(f.reportDir, "clv.json"), js.Bytes(), stdout)
}

// writeCustomerCSV writes one row per customer.
func writeCustomerCSV(path string, res *training.CustomerValueResult, stdout io.Writer) error {
	o, err := createOutput(path, stdout)
	if err != nil {
		return err
	}
	defer o.Abort()
	bw := bufio.NewWriter(o)
	bw.WriteString("user_id,x,t_x,T,p_alive,expected_purchases,p_no_purchase,clv\n")
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, v := range res.Users {
		bw.WriteString(csvField(v.UserID))
		for _, s := range []string{strconv.Itoa(v.X), num(v.Tx), num(v.T), num(v.PAlive), num(v.ExpectedPurchases), num(v.PNoPurchase)} {
			bw.WriteByte(',')
			bw.WriteString(s)
		}
		bw.WriteByte(',')
		if v.CLV != nil {
			bw.WriteString(num(*v.CLV))
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return o.Commit()
}

// csvField quotes s when it holds a comma, quote or line break.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
