package training

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lapse-dev/lapse/internal/chart"
	"github.com/lapse-dev/lapse/model/btyd"
)

// CustomerValueReport is the customer-value part of the report: the
// BG/NBD and Gamma-Gamma fits as of T behind the stored p_alive,
// expected_purchases and clv, how those are distributed among the scored
// users, and whether P(alive) helps the churn model.
type CustomerValueReport struct {
	// CalibrationEnd is the last day whose purchases the fits read (the day
	// before T's day), as a date.
	CalibrationEnd string `json:"calibration_end"`
	// Unit is the BG/NBD time unit; UnitDays its length in days.
	Unit     btyd.Unit `json:"unit"`
	UnitDays float64   `json:"unit_days"`
	// HorizonDays is the horizon of expected_purchases (H).
	HorizonDays int `json:"horizon_days"`
	// CLVMonths and MonthlyDiscount set the CLV.
	CLVMonths       int     `json:"clv_months"`
	MonthlyDiscount float64 `json:"monthly_discount"`
	// PurchaseEvents are the events counted as purchases (amount >= 0,
	// several on one UTC day are one transaction).
	PurchaseEvents []string `json:"purchase_events"`
	// Customers is the number of users with a purchase before T: the
	// BG/NBD customers.
	Customers int `json:"customers"`
	// BGNBD is the purchase model; nil when it could not be fitted (Note
	// says why, and every customer value is null).
	BGNBD *BGNBDFit `json:"bgnbd"`
	// GammaGamma is the spend model; nil when there is no BG/NBD fit or no
	// spend fit (Note says why, and clv is null).
	GammaGamma *GammaGammaFit `json:"gamma_gamma"`
	// Note says why a fit is missing; "" when both were fitted.
	Note string `json:"note"`
	// SpendCorrelation is the correlation of repeat purchases and mean
	// order value among repeat customers (Gamma-Gamma assumes none); null
	// without a spend fit.
	SpendCorrelation *float64 `json:"spend_frequency_correlation"`
	// Warnings are caveats about the fits.
	Warnings []string `json:"warnings"`
	// ScoredUsers is the number of users scored as of T; WithPAlive and
	// WithCLV count those with a p_alive (customers) and with a clv.
	ScoredUsers int `json:"scored_users"`
	WithPAlive  int `json:"with_p_alive"`
	WithCLV     int `json:"with_clv"`
	// PAlive, ExpectedPurchases and CLV are the distributions of the values
	// among the scored users who have them; null when nobody has.
	PAlive            *ValueDistribution `json:"p_alive"`
	ExpectedPurchases *ValueDistribution `json:"expected_purchases"`
	CLV               *ValueDistribution `json:"clv"`
	// Ablation compares the churn model without and with P(alive) as a
	// feature; null when the comparison could not run (AblationNote says
	// why).
	Ablation     *PAliveAblationResult `json:"ablation"`
	AblationNote string                `json:"ablation_note"`
	// Verdict says in one sentence whether P(alive) helps the churn model.
	Verdict string `json:"verdict"`
}

// ValueDistribution summarises one customer value among the users who have
// it. Quantiles interpolate linearly between order statistics.
type ValueDistribution struct {
	Users  int     `json:"users"`
	Mean   float64 `json:"mean"`
	Min    float64 `json:"min"`
	P10    float64 `json:"p10"`
	P25    float64 `json:"p25"`
	Median float64 `json:"median"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	Max    float64 `json:"max"`
	// Bins is a histogram of ten equal bins: [Lower, Upper), the last one
	// closed. For p_alive they cover [0, 1]; for the others [0, a round
	// number at or above the 95th percentile], and the last bin also holds
	// the values above it.
	Bins []ValueBin `json:"bins"`
}

// ValueBin is one histogram bin.
type ValueBin struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	Users int     `json:"users"`
}

// newValueDistribution summarises v (sorted in place); hi is the upper end
// of the bins, or 0 for a round number at or above the 95th percentile.
// It returns nil for no values.
func newValueDistribution(v []float64, hi float64) *ValueDistribution {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	q := func(p float64) float64 {
		h := p * float64(len(v)-1)
		i := int(h)
		if i+1 >= len(v) {
			return v[len(v)-1]
		}
		return v[i] + (h-float64(i))*(v[i+1]-v[i])
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	d := &ValueDistribution{Users: len(v), Mean: sum / float64(len(v)), Min: v[0], Max: v[len(v)-1],
		P10: q(0.1), P25: q(0.25), Median: q(0.5), P75: q(0.75), P90: q(0.9)}
	if hi == 0 {
		hi = rptRoundUp(q(0.95))
	}
	const nBins = 10
	d.Bins = make([]ValueBin, nBins)
	for k := range d.Bins {
		d.Bins[k] = ValueBin{Lower: hi * float64(k) / nBins, Upper: hi * float64(k+1) / nBins}
	}
	for _, x := range v {
		k := int(math.Floor(x / hi * nBins))
		d.Bins[max(0, min(k, nBins-1))].Users++
	}
	return d
}

// rptRoundUp returns the smallest of 1, 2, 2.5 and 5 times a power of ten
// that is at least v (1 for v <= 0).
func rptRoundUp(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// ablationVerdict is the one-sentence result of the P(alive) ablation.
func ablationVerdict(a *PAliveAblationResult) string {
	helps := "does not help"
	if a.Helps {
		helps = "helps"
	}
	s := fmt.Sprintf("P(alive) %s the churn model: AUC %s (%s → %s), log loss %s (%s → %s) out of time",
		helps, rptGain(a.AUCGain), rptFixed(a.Without.AUC, 4), rptFixed(a.With.AUC, 4),
		rptGain(-a.LogLossGain), rptFixed(a.Without.LogLoss, 4), rptFixed(a.With.LogLoss, 4))
	if !a.Helps {
		s += fmt.Sprintf("; helping needs an AUC gain of at least %s and a log loss no worse", rptFixed(a.MinAUCGain, 4))
	}
	return s
}

// rptValueSummary returns the summary lines of the customer-value part.
func rptValueSummary(cv *CustomerValueReport) []string {
	if cv == nil {
		return nil
	}
	var lines []string
	if cv.BGNBD == nil {
		lines = append(lines, "customer value: "+rptFirstClause(cv.Note))
	} else {
		p := cv.BGNBD.Params
		line := fmt.Sprintf("customer value: BG/NBD (%ss) r %s, alpha %s, a %s, b %s on %s customers", cv.Unit,
			rptSig(p.R), rptSig(p.Alpha), rptSig(p.A), rptSig(p.B), rptInt(cv.Customers))
		if g := cv.GammaGamma; g != nil {
			line += fmt.Sprintf("; Gamma-Gamma p %s, q %s, v %s", rptSig(g.Params.P), rptSig(g.Params.Q), rptSig(g.Params.V))
		} else {
			line += "; no CLV (no spend model)"
		}
		lines = append(lines, line)
		if d := cv.PAlive; d != nil {
			line := fmt.Sprintf("  %s of %s scored users have values: median p_alive %s, expected purchases in %d days %s",
				rptInt(cv.WithPAlive), rptInt(cv.ScoredUsers), rptFixed(d.Median, 3), cv.HorizonDays, rptFixedPtr(cv.ExpectedPurchases, 3))
			if c := cv.CLV; c != nil {
				line += fmt.Sprintf(", CLV %s (%d months)", rptFixed(c.Median, 2), cv.CLVMonths)
			}
			lines = append(lines, line)
		}
	}
	if cv.Verdict != "" {
		lines = append(lines, "  "+rptFirstClause(cv.Verdict))
	}
	return lines
}

// rptFirstClause returns s up to its first "; " (the what-to-try advice
// stays in the report).
func rptFirstClause(s string) string {
	if i := strings.Index(s, "; "); i >= 0 {
		return s[:i]
	}
	return s
}

// rptGain formats a metric difference with its sign and 4 decimals, or in
// exponent form when it is not 0 but rounds to 0 there.
func rptGain(v float64) string {
	if v != 0 && math.Abs(v) < 0.00005 {
		return fmt.Sprintf("%+.1e", v)
	}
	return rptSigned(v, 4)
}

// rptSig formats a parameter with 4 significant digits.
func rptSig(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// rptFixedPtr formats the median of an optional distribution.
func rptFixedPtr(d *ValueDistribution, dec int) string {
	if d == nil {
		return "n/a"
	}
	return rptFixed(d.Median, dec)
}

// rptValue returns the blocks of the customer-value section.
func rptValue(r *Report) []chart.Block {
	cv := r.CustomerValue
	if cv == nil {
		return []chart.Block{chart.Text("No customer-value models in this report.")}
	}
	b := []chart.Block{chart.Text(fmt.Sprintf(
		"BG/NBD (Fader, Hardie & Lee 2005) on the purchase days (%s, amount ≥ 0, one transaction per UTC day) of the %s users who bought before %s, time unit %s; "+
			"Gamma-Gamma on the repeat customers' mean order value. Each scored user's p_alive, expected purchases in the next %d days and %d-month CLV (discounted %s a month) come from these fits.",
		strings.Join(cv.PurchaseEvents, ", "), rptInt(cv.Customers), r.AsOf.UTC().Format("2006-01-02"), cv.Unit,
		cv.HorizonDays, cv.CLVMonths, rptPct(cv.MonthlyDiscount)))}
	if cv.Note != "" {
		b = append(b, chart.Headline{Lines: []string{cv.Note}, Warn: cv.BGNBD == nil})
	}
	if cv.BGNBD != nil {
		t := chart.Table{Caption: "Fitted parameters (standard errors from the observed information)",
			Header: []string{"model", "parameter", "estimate", "std. error"}}
		p, se := cv.BGNBD.Params, cv.BGNBD.StdErr
		for _, row := range []struct {
			name   string
			v, err float64
		}{{"r", p.R, se.R}, {"alpha (" + string(cv.Unit) + "s)", p.Alpha, se.Alpha}, {"a", p.A, se.A}, {"b", p.B, se.B}} {
			t.Rows = append(t.Rows, []string{"BG/NBD", row.name, rptFixed(row.v, 4), rptFixed(row.err, 4)})
		}
		t.Rows = append(t.Rows, []string{"BG/NBD", "log-likelihood", rptFixed(cv.BGNBD.LogLikelihood, 2), ""})
		if g := cv.GammaGamma; g != nil {
			for _, row := range []struct {
				name   string
				v, err float64
			}{{"p", g.Params.P, g.StdErr.P}, {"q", g.Params.Q, g.StdErr.Q}, {"v", g.Params.V, g.StdErr.V}} {
				t.Rows = append(t.Rows, []string{"Gamma-Gamma", row.name, rptFixed(row.v, 4), rptFixed(row.err, 4)})
			}
			t.Rows = append(t.Rows, []string{"Gamma-Gamma", "repeat customers", rptInt(g.Customers), ""})
		}
		b = append(b, t)
	}
	if len(cv.Warnings) > 0 {
		b = append(b, chart.List(cv.Warnings))
	}
	if cv.PAlive != nil {
		b = append(b, rptValueFigures(cv), rptValueTable(cv))
	}
	if a := cv.Ablation; a != nil {
		b = append(b, chart.Headline{Lines: []string{cv.Verdict}, Warn: false})
		b = append(b, chart.Table{Caption: "Churn model without and with p_alive as a feature (out of time, " + rptInt(a.EvalRows) + " rows)",
			Header: []string{"churn model", "AUC", "log loss"},
			Rows: [][]string{
				{"without p_alive", rptFixed(a.Without.AUC, 4), rptFixed(a.Without.LogLoss, 4)},
				{"with p_alive", rptFixed(a.With.AUC, 4), rptFixed(a.With.LogLoss, 4)},
				{"change", rptGain(a.AUCGain), rptGain(-a.LogLossGain)},
			}})
		b = append(b, chart.Text(a.Method+"."))
	} else if cv.Verdict != "" {
		b = append(b, chart.Text(cv.Verdict))
	}
	return b
}

// rptValueFigures draws the histograms of p_alive and CLV.
func rptValueFigures(cv *CustomerValueReport) chart.Figures {
	hist := func(title, desc, label string, d *ValueDistribution, open bool) chart.Figure {
		cats := make([]string, len(d.Bins))
		n := make([]float64, len(d.Bins))
		for k, bin := range d.Bins {
			cats[k] = rptEdge(bin.Lower) + "–" + rptEdge(bin.Upper)
			if open && k == len(d.Bins)-1 {
				cats[k] = "≥ " + rptEdge(bin.Lower)
			}
			n[k] = float64(bin.Users)
		}
		return chart.Figure{Chart: &chart.BarChart{
			Title: title, Desc: desc,
			X:          chart.Axis{Label: label},
			Y:          chart.Axis{Label: "users"},
			Categories: cats,
			Series:     []chart.BarSeries{{Name: "users", Values: n, Color: rptModelColor}},
			Width:      640, Height: 320,
		}}
	}
	figs := chart.Figures{hist("P(alive) of the scored customers",
		"Histogram of BG/NBD P(alive) as of T among the scored users with a purchase.", "p_alive", cv.PAlive, false)}
	if d := cv.CLV; d != nil {
		figs = append(figs, hist(fmt.Sprintf("%d-month CLV of the scored customers", cv.CLVMonths),
			"Histogram of the discounted customer lifetime value as of T among the scored users with one; the last bar holds everything above.", "clv", d, true))
	}
	return figs
}

// rptEdge formats a bin edge in its shortest form (edges are multiples of
// a round number, so at most a few digits).
func rptEdge(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// rptValueTable lists the distributions' quantiles.
func rptValueTable(cv *CustomerValueReport) chart.Table {
	t := chart.Table{Caption: "Customer values of the scored users",
		Header: []string{"value", "users", "mean", "min", "p10", "p25", "median", "p75", "p90", "max"}}
	for _, row := range []struct {
		name string
		d    *ValueDistribution
	}{{"p_alive", cv.PAlive}, {fmt.Sprintf("expected purchases in %d days", cv.HorizonDays), cv.ExpectedPurchases}, {"clv", cv.CLV}} {
		if row.d == nil {
			t.Rows = append(t.Rows, []string{row.name, "0", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"})
			continue
		}
		d := row.d
		r := []string{row.name, rptInt(d.Users)}
		for _, v := range []float64{d.Mean, d.Min, d.P10, d.P25, d.Median, d.P75, d.P90, d.Max} {
			r = append(r, rptFixed(v, 3))
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}
