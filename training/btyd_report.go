package training

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/model/btyd"
)

// BTYDReport is the content of the customer-base model page written by
// WriteBTYDReport. BGNBD is required; GammaGamma and Forecast are optional.
type BTYDReport struct {
	// Title heads the page; empty means "Customer-base model".
	Title string
	// Unit is the time unit of the fit; empty means btyd.Week.
	Unit btyd.Unit
	// CalibrationEnd and HoldoutEnd are the last days of the periods (Unix
	// day numbers; HoldoutEnd 0 when there is none), shown as dates.
	CalibrationEnd, HoldoutEnd int32
	// BGNBD is the fitted purchase model.
	BGNBD *BGNBDFit
	// GammaGamma is the fitted spend model, or nil.
	GammaGamma *GammaGammaFit
	// Forecast is the holdout check, or nil.
	Forecast *BTYDForecast
}

// WriteBTYDReport writes r as a self-contained HTML page: parameter tables
// with standard errors and, with a forecast, actual vs predicted holdout
// transactions by calibration frequency (bars) and cumulative weekly repeat
// transactions, actual vs expected (lines). Charts are inline SVG; the page
// has no script and loads nothing.
func WriteBTYDReport(w io.Writer, r *BTYDReport) error {
	if r == nil || r.BGNBD == nil {
		return fmt.Errorf("training: btyd report needs a BG/NBD fit: %w", ErrBTYDInput)
	}
	unit := r.Unit
	if unit == "" {
		unit = btyd.Week
	}
	v := btydReportView{
		Title: btydOr(r.Title, "Customer-base model"),
		Unit:  string(unit),
		Cal:   btydDate(r.CalibrationEnd),
		BG:    r.BGNBD,
		GG:    r.GammaGamma,
		FC:    r.Forecast,
	}
	if r.HoldoutEnd != 0 {
		v.Hold = btydDate(r.HoldoutEnd)
	}
	p, se := r.BGNBD.Params, r.BGNBD.StdErr
	v.BGRows = []btydParamRow{
		{"r", "shape of purchase rates", p.R, se.R},
		{"α", "scale of purchase rates (" + string(unit) + "s)", p.Alpha, se.Alpha},
		{"a", "dropout Beta shape a", p.A, se.A},
		{"b", "dropout Beta shape b", p.B, se.B},
	}
	if g := r.GammaGamma; g != nil {
		v.GGRows = []btydParamRow{
			{"p", "shape of order values", g.Params.P, g.StdErr.P},
			{"q", "shape of customers' value scale", g.Params.Q, g.StdErr.Q},
			{"v", "rate of customers' value scale", g.Params.V, g.StdErr.V},
		}
		v.MeanSpend = g.Params.MeanSpend()
	}
	if fc := r.Forecast; fc != nil {
		labels := make([]string, len(fc.ByFrequency))
		act := make([]float64, len(fc.ByFrequency))
		pred := make([]float64, len(fc.ByFrequency))
		for i, row := range fc.ByFrequency {
			labels[i] = row.Label
			act[i] = float64(row.Actual)
			pred[i] = row.Predicted
		}
		v.Bars = template.HTML(btydSVGBars(labels, []btydSeries{{"actual", act}, {"predicted", pred}},
			"repeat transactions in the calibration period", "holdout transactions"))
		xs := make([]float64, len(fc.Weekly))
		wa := make([]float64, len(fc.Weekly))
		we := make([]float64, len(fc.Weekly))
		for i, wk := range fc.Weekly {
			xs[i] = float64(wk.Week)
			wa[i] = float64(wk.Actual)
			we[i] = wk.Expected
		}
		v.Lines = template.HTML(btydSVGLines(xs, []btydSeries{{"actual", wa}, {"expected", we}},
			float64(fc.CalibrationWeeks), "week", "cumulative repeat transactions"))
		if fc.ActualTotal > 0 {
			v.Gap = 100 * (fc.PredictedTotal - float64(fc.ActualTotal)) / float64(fc.ActualTotal)
		}
	}
	return btydPage.Execute(w, v)
}

func btydOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func btydDate(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format("2006-01-02")
}

type btydParamRow struct {
	Name, Meaning string
	Value, SE     float64
}

type btydReportView struct {
	Title, Unit, Cal, Hold string
	BG                     *BGNBDFit
	GG                     *GammaGammaFit
	FC                     *BTYDForecast
	BGRows, GGRows         []btydParamRow
	MeanSpend, Gap         float64
	Bars, Lines            template.HTML
}

var btydPage = template.Must(template.New("btyd").Funcs(template.FuncMap{
	"f": func(prec int, x float64) string {
		if math.IsNaN(x) {
			return "–"
		}
		return fmt.Sprintf("%.*f", prec, x)
	},
	"div":  func(a, b int) float64 { return float64(a) / float64(b) },
	"divf": func(a float64, b int) float64 { return a / float64(b) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child,.l{text-align:left}.note{color:#666;font-size:.9em}.warn{color:#a40}
svg{display:block;margin:.5em 0}svg text{font:12px system-ui,sans-serif;fill:#333}
</style></head><body>
<h1>{{.Title}}</h1>
<p>BG/NBD purchase model{{if .GG}} and Gamma-Gamma spend model{{end}}, fitted on
{{f 0 .BG.Customers}} customers ({{.BG.Patterns}} distinct (x, t<sub>x</sub>, T)), calibration period ending {{.Cal}}{{if .Hold}}, holdout to {{.Hold}}{{end}}; time unit: {{.Unit}}.</p>
<h2>BG/NBD parameters</h2>
<table><tr><th>parameter</th><th class="l">meaning</th><th>estimate</th><th>std. error</th></tr>
{{range .BGRows}}<tr><td>{{.Name}}</td><td class="l">{{.Meaning}}</td><td>{{f 4 .Value}}</td><td>{{f 4 .SE}}</td></tr>
{{end}}</table>
<p>Log-likelihood {{f 2 .BG.LogLikelihood}}; {{.BG.Iterations}} iterations, gradient {{printf "%.1e" .BG.GradNorm}}.</p>
{{range .BG.Warnings}}<p class="warn">{{.}}</p>{{end}}
{{if .GG}}<h2>Gamma-Gamma parameters</h2>
<table><tr><th>parameter</th><th class="l">meaning</th><th>estimate</th><th>std. error</th></tr>
{{range .GGRows}}<tr><td>{{.Name}}</td><td class="l">{{.Meaning}}</td><td>{{f 4 .Value}}</td><td>{{f 4 .SE}}</td></tr>
{{end}}</table>
<p>{{.GG.Customers}} repeat customers{{if .GG.Skipped}} ({{.GG.Skipped}} skipped: no positive spend){{end}}; mean order value p·v/(q−1) = {{f 2 .MeanSpend}}; log-likelihood {{f 2 .GG.LogLikelihood}}.</p>
{{range .GG.Warnings}}<p class="warn">{{.}}</p>{{end}}{{end}}
{{with .FC}}<h2>Holdout: actual vs predicted transactions by calibration frequency</h2>
<p>{{.Customers}} customers, holdout of {{f 1 .HoldoutLength}} {{$.Unit}}s: {{.ActualTotal}} transactions observed, {{f 1 .PredictedTotal}} predicted ({{printf "%+.1f" $.Gap}}%).</p>
{{$.Bars}}
<table><tr><th>repeat transactions in calibration</th><th>customers</th><th>actual</th><th>predicted</th><th>actual / customer</th><th>predicted / customer</th></tr>
{{range .ByFrequency}}<tr><td>{{.Label}}</td><td>{{.Customers}}</td><td>{{.Actual}}</td><td>{{f 1 .Predicted}}</td><td>{{if .Customers}}{{f 3 (div .Actual .Customers)}}{{end}}</td><td>{{if .Customers}}{{f 3 (divf .Predicted .Customers)}}{{end}}</td></tr>
{{end}}</table>
<h2>Cumulative repeat transactions by week</h2>
<p class="note">Expected: Σ over customers of E[X(t)] from each customer's first purchase day. The dashed line marks the end of calibration (week {{.CalibrationWeeks}}).</p>
{{$.Lines}}{{end}}
</body></html>
`))

// btydSeries is one named data series of a chart.
type btydSeries struct {
	Name   string
	Values []float64
}

// Chart geometry and colours shared by the two charts.
const (
	btydSVGW, btydSVGH                                   = 900, 340
	btydSVGLeft, btydSVGRight, btydSVGTop, btydSVGBottom = 70, 20, 30, 50
)

var btydSVGColors = []string{"#4269d0", "#efb118", "#ff725c", "#6cc5b0"}

// btydSVGNiceMax returns a round axis maximum >= max and its tick step.
func btydSVGNiceMax(max float64) (top, step float64) {
	if !(max > 0) {
		return 1, 0.25
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(max/step) * step, step
}

func btydSVGNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%g", x)
}

// btydSVGFrame writes the opening tag, y grid with labels and axis titles.
func btydSVGFrame(b *strings.Builder, top, step float64, xTitle, yTitle string) (plotW, plotH float64) {
	plotW, plotH = btydSVGW-btydSVGLeft-btydSVGRight, btydSVGH-btydSVGTop-btydSVGBottom
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, btydSVGW, btydSVGH, btydSVGW, btydSVGH)
	for v := 0.0; v <= top+step/2; v += step {
		y := btydSVGTop + plotH*(1-v/top)
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, btydSVGLeft, btydSVGLeft+plotW, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, btydSVGLeft-6, y+4, btydSVGNum(v))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>`, btydSVGLeft, btydSVGLeft+plotW, btydSVGTop+plotH, btydSVGTop+plotH)
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, btydSVGLeft+plotW/2, btydSVGH-8, html.EscapeString(xTitle))
	fmt.Fprintf(b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, btydSVGTop+plotH/2, html.EscapeString(yTitle))
	return plotW, plotH
}

// btydSVGLegend writes one coloured key per series along the top: a line
// sample (dashed after the first series) when lines, else a swatch.
func btydSVGLegend(b *strings.Builder, series []btydSeries, lines bool) {
	for i, s := range series {
		x := btydSVGLeft + 10 + 130*i
		if lines {
			dash := ""
			if i > 0 {
				dash = ` stroke-dasharray="6 4"`
			}
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="14" y2="14" stroke="%s" stroke-width="2.5"%s/>`, x, x+22, btydSVGColors[i%len(btydSVGColors)], dash)
		} else {
			fmt.Fprintf(b, `<rect x="%d" y="8" width="22" height="12" fill="%s"/>`, x, btydSVGColors[i%len(btydSVGColors)])
		}
		fmt.Fprintf(b, `<text x="%d" y="18">%s</text>`, x+28, html.EscapeString(s.Name))
	}
}

// btydSVGBars draws one group of bars per label, one bar per series.
func btydSVGBars(labels []string, series []btydSeries, xTitle, yTitle string) string {
	var max float64
	for _, s := range series {
		for _, v := range s.Values {
			max = math.Max(max, v)
		}
	}
	top, step := btydSVGNiceMax(max)
	var b strings.Builder
	plotW, plotH := btydSVGFrame(&b, top, step, xTitle, yTitle)
	groupW := plotW / float64(btydMax1(len(labels)))
	barW := groupW * 0.8 / float64(btydMax1(len(series)))
	for g, lab := range labels {
		x0 := btydSVGLeft + groupW*float64(g) + groupW*0.1
		for i, s := range series {
			v := s.Values[g]
			h := plotH * v / top
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x0+barW*float64(i), btydSVGTop+plotH-h, barW-1, h, btydSVGColors[i%len(btydSVGColors)],
				html.EscapeString(s.Name), html.EscapeString(lab), strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), "."))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x0+groupW*0.4, btydSVGTop+plotH+16, html.EscapeString(lab))
	}
	btydSVGLegend(&b, series, false)
	b.WriteString(`</svg>`)
	return b.String()
}

// btydSVGLines draws each series as a polyline over xs, the second and later
// series dashed, with a dashed vertical marker at vline (if > 0).
func btydSVGLines(xs []float64, series []btydSeries, vline float64, xTitle, yTitle string) string {
	var max float64
	for _, s := range series {
		for _, v := range s.Values {
			max = math.Max(max, v)
		}
	}
	top, step := btydSVGNiceMax(max)
	var b strings.Builder
	plotW, plotH := btydSVGFrame(&b, top, step, xTitle, yTitle)
	xmax := 1.0
	if len(xs) > 0 {
		xmax = xs[len(xs)-1]
	}
	px := func(x float64) float64 { return btydSVGLeft + plotW*x/xmax }
	py := func(v float64) float64 { return btydSVGTop + plotH*(1-v/top) }
	xtop, xstep := btydSVGNiceMax(xmax)
	for x := xstep; x <= math.Min(xtop, xmax)+xstep/2; x += xstep {
		if x > xmax {
			break
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, px(x), btydSVGTop+plotH+16, btydSVGNum(x))
	}
	if vline > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#888" stroke-dasharray="4 4"/>`, px(vline), px(vline), btydSVGTop, btydSVGTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">calibration end</text>`, px(vline)+4, btydSVGTop+12)
	}
	for i, s := range series {
		var pts strings.Builder
		for j, v := range s.Values {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(xs[j]), py(v))
		}
		dash := ""
		if i > 0 {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline class="line" fill="none" stroke="%s" stroke-width="2.5"%s points="%s"/>`,
			btydSVGColors[i%len(btydSVGColors)], dash, strings.TrimSpace(pts.String()))
	}
	btydSVGLegend(&b, series, true)
	b.WriteString(`</svg>`)
	return b.String()
}

func btydMax1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}
