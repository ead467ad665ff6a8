package training

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/btyd"
)

// valueOptions returns the customer-value options of the run:
// Config.CustomerValue with the Spec's purchase events, the horizon H and
// every default filled in.
func (tr *trainer) valueOptions() *CustomerValueOptions {
	var o CustomerValueOptions
	if tr.cfg.CustomerValue != nil {
		o = *tr.cfg.CustomerValue
	}
	o.PurchaseEvents = slices.Clone(tr.spec.PurchaseEvents)
	o.Horizon = tr.cfg.Horizon
	if o.Unit == "" {
		o.Unit = btyd.Week
	}
	clv := btyd.DefaultCLVOptions()
	if o.CLV != nil {
		c := *o.CLV
		clv = &c
	}
	if clv.Months == 0 {
		clv.Months = 12
	}
	clv.Unit = o.Unit
	o.CLV = clv
	o.Workers = tr.cfg.Workers
	return &o
}

// fitValue fits BG/NBD and, with order amounts, Gamma-Gamma on the
// purchases before T, and sets m.Value and the report's customer-value
// part. A fit that fails is no error: the report says why (also as a failed
// check) and m.Value stays nil, so every customer value is null.
func (tr *trainer) fitValue(ctx context.Context, m *model.Model) error {
	o := tr.valueOptions()
	unitDays, _ := o.Unit.Days()
	end := BTYDCalibrationEnd(tr.asOf)
	rep := &CustomerValueReport{
		CalibrationEnd: btydDate(end), Unit: o.Unit, UnitDays: unitDays, HorizonDays: m.HorizonDays,
		CLVMonths: o.CLV.Months, MonthlyDiscount: o.CLV.MonthlyDiscount,
		PurchaseEvents: o.PurchaseEvents, Warnings: []string{},
	}
	tr.report().CustomerValue = rep
	cs, err := BTYDCustomersFromLog(tr.log, tr.asOf, o.PurchaseEvents)
	if err != nil {
		return err
	}
	tr.purchasers = cs
	rep.Customers = len(cs)
	tr.progress("customer value: fitting BG/NBD and Gamma-Gamma on the %d purchasers before %s", len(cs), day(tr.asOf))
	res, err := customerValuesOf(ctx, cs, end, o, cvFitOnly)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, ErrBTYDNotConverged) && !errors.Is(err, ErrBTYDInput) {
			return fmt.Errorf("training: customer value: %w", err)
		}
		rep.Note = "no BG/NBD fit, so p_alive, expected purchases and CLV are null: " + btydReason(err)
		tr.note("customer_value", "%s", rep.Note)
		return nil
	}
	rep.BGNBD, rep.GammaGamma, rep.SpendCorrelation = res.BGNBD, res.GammaGamma, res.SpendCorrelation
	rep.Warnings = append(append(rep.Warnings, res.BGNBD.Warnings...), res.Warnings...)
	if res.GammaGamma == nil {
		rep.Note = res.GammaGammaNote
	} else {
		rep.Warnings = append(rep.Warnings, res.GammaGamma.Warnings...)
	}
	v := &model.CustomerValue{
		Unit: o.Unit, UnitDays: unitDays, BGNBD: res.BGNBD.Params,
		CLVMonths: o.CLV.Months, MonthlyDiscount: o.CLV.MonthlyDiscount, HorizonDays: m.HorizonDays,
	}
	if g := res.GammaGamma; g != nil {
		p := g.Params
		v.GammaGamma = &p
	}
	m.Value = v
	return nil
}

// scoreValues sets the customer values of the scored users (sorted by user
// id) as of T with m's customer-value part, computing each distinct
// (x, t_x, T) once: the same numbers Model.UserValue gives serving from the
// users' States. It fills the report's counts and distributions.
func (tr *trainer) scoreValues(ctx context.Context, m *model.Model, scores []UserScore) error {
	rep := tr.report().CustomerValue
	rep.ScoredUsers = len(scores)
	if m.Value == nil {
		return nil
	}
	stats := make([]model.ValueStats, len(scores))
	has := make([]bool, len(scores))
	i := 0
	err := tr.log.PurchaseSummaries(tr.asOf, tr.spec.PurchaseEvents, func(id string, s features.PurchaseSummary) error {
		for i < len(scores) && scores[i].UserID < id {
			i++
		}
		if i == len(scores) || scores[i].UserID != id {
			return nil
		}
		st, err := m.Value.Stats(model.Purchases{Days: s.Days, First: s.First, Last: s.Last, RepeatRevenue: s.RepeatRevenue}, tr.asOf)
		if err != nil {
			return fmt.Errorf("training: customer value of %q: %w", id, err)
		}
		stats[i], has[i] = st, true
		return nil
	})
	if err != nil {
		return err
	}
	type key struct{ x, tx, T float64 }
	idx := map[key]int{}
	var keys []key
	pat := make([]int, len(scores))
	for i, s := range stats {
		if !has[i] {
			continue
		}
		k := key{s.X, s.Tx, s.T}
		j, ok := idx[k]
		if !ok {
			j = len(keys)
			idx[k] = j
			keys = append(keys, k)
		}
		pat[i] = j
	}
	tr.progress("customer value: scoring the customers among the %d users (%d distinct purchase patterns)", len(scores), len(keys))
	pats := make([]model.ValuePattern, len(keys))
	parallelRows(len(keys), tr.cfg.Workers, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			if j%1024 == 0 && ctx.Err() != nil {
				return
			}
			pats[j] = m.Value.Pattern(keys[j].x, keys[j].tx, keys[j].T)
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var pa, ey, clv []float64
	for i := range scores {
		if !has[i] {
			continue
		}
		v := m.Value.Value(stats[i], pats[pat[i]])
		scores[i].Prediction.UserValue = v
		if v.PAlive != nil {
			pa = append(pa, *v.PAlive)
		}
		if v.ExpectedPurchases != nil {
			ey = append(ey, *v.ExpectedPurchases)
		}
		if v.CLV != nil {
			clv = append(clv, *v.CLV)
		}
	}
	rep.WithPAlive, rep.WithCLV = len(pa), len(clv)
	rep.PAlive = newValueDistribution(pa, 1)
	rep.ExpectedPurchases = newValueDistribution(ey, 0)
	rep.CLV = newValueDistribution(clv, 0)
	return nil
}

// ablationMaxFitRows caps the fitting rows of Train's P(alive) ablation
// (evenly spaced, as PAliveAblation thins): two logistic fits on 46 or so
// columns are settled well before that, and the comparison should not
// cost as much as the production fits.
const ablationMaxFitRows = 50_000

// ablation runs PAliveAblation on the fitting and out-of-time snapshots
// with the churn logistic regression's λ (on at most ablationMaxFitRows
// fitting rows, and Config.MaxFitRows when smaller) and records the
// verdict. Only the
// context's end is an error; any other failure (a snapshot where BG/NBD
// cannot be fitted, one class) becomes a note.
func (tr *trainer) ablation(ctx context.Context, churn *targetOutcome) error {
	rep := tr.report().CustomerValue
	l2 := DefaultL2
	for _, c := range churn.choice.Candidates {
		if c.Kind == model.KindLogistic {
			l2 = c.Params["l2"]
		}
	}
	fitting := make([]*features.Dataset, len(tr.fitting))
	for i, k := range tr.fitting {
		fitting[i] = tr.snaps[k].ds
	}
	tr.progress("customer value: churn model without and with P(alive) on %d fitting snapshots", len(fitting))
	o := tr.valueOptions()
	rows := tr.cfg.MaxFitRows
	if rows < 0 || rows > ablationMaxFitRows {
		rows = ablationMaxFitRows
	}
	res, err := pAliveAblation(ctx, tr.customersBefore, fitting, tr.snaps[tr.oot].ds, &PAliveAblationOptions{
		PurchaseEvents: o.PurchaseEvents, Unit: o.Unit, Logistic: tr.lrOptions(l2), MaxFitRows: rows,
		MaxEvalRows: tr.cfg.MaxEvalRows, Seed: tr.cfg.Seed,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.AblationNote = err.Error()
		rep.Verdict = "P(alive) was not tried as a churn-model feature: " + btydReason(err)
		return nil
	}
	rep.Ablation = res
	rep.Verdict = ablationVerdict(res)
	return nil
}

// customersBefore returns BTYDCustomersFromLog(tr.log, cutoff, the Spec's
// purchase events) without reading the Log again when it can: for a cutoff
// at midnight UTC, no later than T, the purchase days before it are those
// of the purchasers before T (read once by fitValue) up to the day before,
// every day whole.
func (tr *trainer) customersBefore(cutoff time.Time) ([]BTYDCustomer, error) {
	if tr.purchasers == nil || !cutoff.Equal(cutoff.Truncate(24*time.Hour)) || cutoff.After(tr.asOf) {
		return BTYDCustomersFromLog(tr.log, cutoff, tr.spec.PurchaseEvents)
	}
	d := BTYDDay(cutoff)
	var out []BTYDCustomer
	for _, c := range tr.purchasers {
		n, _ := slices.BinarySearch(c.Days, d)
		if n == 0 {
			continue
		}
		out = append(out, BTYDCustomer{ID: c.ID, Days: c.Days[:n:n], Amounts: c.Amounts[:n:n]})
	}
	return out, nil
}

// btydReason shortens a BTYD fit error for the report: the innermost
// message (after the last "training: " of the wrapping chain) without the
// sentinels' texts, keeping what failed and what to try.
func btydReason(err error) string {
	s := err.Error()
	for _, e := range []error{ErrBTYDNotConverged, ErrBTYDInput, ErrAblation} {
		s = strings.ReplaceAll(s, ": "+e.Error(), "")
	}
	if i := strings.LastIndex(s, "training: "); i >= 0 {
		s = s[i+len("training: "):]
	}
	return s
}
