package training

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/internal/chart"
)

// ModelLiftInput is what ModelLift compares: a deployed model's scores as
// of a past time against what then happened. Churn and Churned are
// parallel, one entry per user; so are Purchase and Converted, which may
// be nil (no propensity model).
type ModelLiftInput struct {
	// ModelVersion, AsOf and HorizonDays describe the scores and the
	// outcome period [AsOf, AsOf + HorizonDays).
	ModelVersion string
	AsOf         time.Time
	HorizonDays  int
	// Source says where the scores come from: "stored" (as training
	// stored them) or "rescored" (recomputed from the events at AsOf).
	Source string
	// TargetEvent names the conversion event.
	TargetEvent string
	// Churn is each user's churn probability; Churned whether the user
	// then had no activity event in the period.
	Churn   []float64
	Churned []bool
	// Purchase is each user's purchase probability; Converted whether the
	// user then had a target event in the period.
	Purchase  []float64
	Converted []bool
	// Unmatched counts scored users without an outcome (not eligible in
	// the events given) and is reported, not used.
	Unmatched int
}

// ModelLift is the check of a deployed model against reality: deciles,
// gains, top-decile lift and AUC of its churn and purchase scores for the
// outcomes that followed. Its JSON is described in docs/report-schema.md
// (the Evaluation objects are those of report.json).
type ModelLift struct {
	ModelVersion string    `json:"model_version"`
	AsOf         time.Time `json:"as_of"`
	HorizonDays  int       `json:"horizon_days"`
	Source       string    `json:"source"`
	Users        int       `json:"users"`
	Unmatched    int       `json:"unmatched"`
	TargetEvent  string    `json:"target_event,omitempty"`
	// Churn evaluates the churn probabilities against churn.
	Churn *Evaluation `json:"churn"`
	// Propensity evaluates the purchase probabilities against conversion;
	// nil without a propensity model or when every user did the same.
	Propensity *Evaluation `json:"propensity"`
	// Notes say what could not be evaluated, and why.
	Notes []string `json:"notes,omitempty"`
}

// ErrModelLift is returned by NewModelLift when the churn scores cannot be
// evaluated (no users, or every user churned or every user stayed).
var ErrModelLift = errors.New("training: model lift cannot be computed")

// NewModelLift evaluates the scores of in with Evaluate (the metrics of
// the training report).
func NewModelLift(in *ModelLiftInput) (*ModelLift, error) {
	if len(in.Churn) != len(in.Churned) || len(in.Purchase) != len(in.Converted) {
		return nil, fmt.Errorf("training: model lift: %d churn scores for %d outcomes, %d purchase scores for %d: %w",
			len(in.Churn), len(in.Churned), len(in.Purchase), len(in.Converted), ErrShape)
	}
	out := &ModelLift{ModelVersion: in.ModelVersion, AsOf: in.AsOf.UTC(), HorizonDays: in.HorizonDays, Source: in.Source,
		Users: len(in.Churn), Unmatched: in.Unmatched, TargetEvent: in.TargetEvent}
	ev, err := Evaluate(boolLabels(in.Churned), in.Churn)
	if err != nil {
		return nil, fmt.Errorf("%w: churn of %d users: %w", ErrModelLift, len(in.Churn), err)
	}
	out.Churn = ev
	switch {
	case in.Purchase == nil:
		out.Notes = append(out.Notes, "no propensity model: purchase scores not evaluated")
	default:
		ev, err := Evaluate(boolLabels(in.Converted), in.Purchase)
		if err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("purchase scores not evaluated: %v", err))
		} else {
			out.Propensity = ev
		}
	}
	return out, nil
}

func boolLabels(b []bool) []float64 {
	y := make([]float64, len(b))
	for i, v := range b {
		if v {
			y[i] = 1
		}
	}
	return y
}

// WriteText writes the check as sentences and decile tables.
func (m *ModelLift) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Model %s, %s scores as of %s, against the %d days that followed (%s users",
		m.ModelVersion, m.Source, m.AsOf.Format(time.DateOnly), m.HorizonDays, mlThousands(m.Users))
	if m.Unmatched > 0 {
		fmt.Fprintf(&b, "; %s scored users without events to judge them by are left out", mlThousands(m.Unmatched))
	}
	b.WriteString(")\n")
	writeLiftEval(&b, "Churn", "churned", "churned", "churners", "churn probability", m.Churn)
	if m.Propensity != nil {
		ev := "a target event"
		if m.TargetEvent != "" {
			ev = "a " + m.TargetEvent + " event"
		}
		writeLiftEval(&b, "Purchase", "had "+ev, "had one", "converters", "purchase probability", m.Propensity)
	}
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLiftEval(b *strings.Builder, title, did, short, who, by string, e *Evaluation) {
	top := e.Top[1] // TopFractions[1] = 0.10
	fmt.Fprintf(b, "\n%s: %s of %s users %s (%s); AUC %.3f. The top 10%% by %s: %s %s, %.1f× the average rate",
		title, mlThousands(e.Positives), mlThousands(e.N), did, mlPct(e.BaseRate), e.AUC, by, mlPct(top.Precision), short, e.TopDecileLift)
	if len(e.Deciles) >= 3 {
		fmt.Fprintf(b, "; the top 30%% held %.1f%% of all %s", e.Deciles[2].CumGainsPct, who)
	}
	b.WriteString(".\n")
	fmt.Fprintf(b, "  %-6s %7s %10s %7s %6s %8s  %s\n", "decile", "users", who, "rate", "lift", "cum. %", "scores")
	for _, d := range e.Deciles {
		fmt.Fprintf(b, "  %-6d %7d %10d %7s %6s %7.1f%%  %.3f–%.3f\n", d.Decile, d.Users, d.Positives, mlPct(d.Rate),
			strconv.FormatFloat(d.Lift, 'f', 2, 64)+"×", d.CumGainsPct, d.MinScore, d.MaxScore)
	}
}

// WriteHTML writes a self-contained page: the findings, the gains curve
// and decile lift of each score, and the decile tables.
func (m *ModelLift) WriteHTML(w io.Writer) error {
	var text strings.Builder
	if err := m.WriteText(&text); err != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(l, "Churn:") || strings.HasPrefix(l, "Purchase:") {
			lines = append(lines, l)
		}
	}
	page := &chart.Page{
		Title: "Model lift: " + m.ModelVersion,
		Subtitle: fmt.Sprintf("%s scores as of %s against the %d days that followed; %s users",
			m.Source, m.AsOf.Format(time.DateOnly), m.HorizonDays, mlThousands(m.Users)),
		Sections: []chart.Section{{Title: "Findings", Blocks: []chart.Block{chart.Headline{Lines: lines}}}},
		Footer:   "lapse lift --model-lift: deciles, gains and AUC as in the training report (training.Evaluate).",
	}
	add := func(title, who string, e *Evaluation) {
		if e == nil {
			return
		}
		x := make([]float64, len(e.Gains))
		y := make([]float64, len(e.Gains))
		for i, p := range e.Gains {
			x[i], y[i] = p.X, p.Y
		}
		cats := make([]string, len(e.Deciles))
		lifts := make([]float64, len(e.Deciles))
		rows := make([][]string, len(e.Deciles))
		for i, d := range e.Deciles {
			cats[i] = strconv.Itoa(d.Decile)
			lifts[i] = d.Lift
			rows[i] = []string{strconv.Itoa(d.Decile), mlThousands(d.Users), mlThousands(d.Positives), mlPct(d.Rate),
				strconv.FormatFloat(d.Lift, 'f', 2, 64) + "×", strconv.FormatFloat(d.CumGainsPct, 'f', 1, 64) + "%",
				fmt.Sprintf("%.3f–%.3f", d.MinScore, d.MaxScore)}
		}
		page.Sections = append(page.Sections, chart.Section{Title: title, Blocks: []chart.Block{
			chart.Figures{
				{Chart: &chart.LineChart{
					Title:    "Cumulative gains, " + strings.ToLower(title),
					Desc:     "Share of all " + who + " found against the share of users targeted, highest scores first.",
					X:        chart.Axis{Label: "share of users targeted", Min: 0, Max: 1, Percent: true},
					Y:        chart.Axis{Label: "share of " + who + " found", Min: 0, Max: 1, Percent: true},
					Series:   []chart.Series{{Name: "model", X: x, Y: y, Note: "AUC " + strconv.FormatFloat(e.AUC, 'f', 3, 64)}},
					Diagonal: true, DiagonalLabel: "random targeting", Width: 560, Height: 420,
				}, Caption: fmt.Sprintf("AUC %.3f; top-decile lift %.2f×.", e.AUC, e.TopDecileLift)},
				{Chart: &chart.BarChart{
					Title:      "Lift by decile, " + strings.ToLower(title),
					Desc:       "Rate in each decile of scores divided by the overall rate.",
					X:          chart.Axis{Label: "decile (1 = highest scores)"},
					Y:          chart.Axis{Label: "lift"},
					Categories: cats,
					Series:     []chart.BarSeries{{Name: "lift", Values: lifts}},
					Ref:        &chart.RefLine{Value: 1, Label: "average"},
					Width:      560, Height: 420,
				}},
			},
			chart.Table{Caption: title + " by decile",
				Header: []string{"decile", "users", who, "rate", "lift", "cumulative share", "scores"}, Rows: rows},
		}})
	}
	add("Churn", "churners", m.Churn)
	add("Purchase", "converters", m.Propensity)
	if len(m.Notes) > 0 {
		page.Sections = append(page.Sections, chart.Section{Title: "Notes", Blocks: []chart.Block{chart.List(m.Notes)}})
	}
	return page.WriteHTML(w)
}

func mlPct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
}

func mlThousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
