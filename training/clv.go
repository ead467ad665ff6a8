package training

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/btyd"
)

// BTYDCustomersFromLog returns the purchase history of every user of log
// with at least one purchase before cutoff, in user id order: the days of
// the events named in purchase (nil means features.DefaultSpec's purchase
// events) with a non-negative amount, several on one UTC day merged into
// one with their amounts summed (features.Log.PurchaseDays). Amounts are
// always set; they are all 0 when the input had no amount column.
func BTYDCustomersFromLog(log *features.Log, cutoff time.Time, purchase []string) ([]BTYDCustomer, error) {
	if purchase == nil {
		purchase = features.DefaultSpec().PurchaseEvents
	}
	var out []BTYDCustomer
	err := log.PurchaseDays(cutoff, purchase, func(id string, days []features.PurchaseDay) error {
		c := BTYDCustomer{ID: id, Days: make([]int32, len(days)), Amounts: make([]float64, len(days))}
		for i, d := range days {
			c.Days[i], c.Amounts[i] = d.Day, d.Revenue
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("training: btyd customers: %w", err)
	}
	return out, nil
}

// BTYDCalibrationEnd returns the last calibration day (a Unix day number,
// inclusive, as in BTYDSummaryOptions.CalibrationEnd) of a cutoff: with
// D = the first UTC day starting at or after cutoff (docs/DESIGN.md; to the
// nanosecond, as the features package counts), the purchases before cutoff
// are those on days up to D-1, and T is measured to the start of day D-1,
// the convention of the published CDNOW results (cutoff 1997-10-01 00:00
// UTC: calibration end 1997-09-30, T = 38.86 weeks for a 1997-01-01
// customer). It is model.CalibrationEnd, which serving uses.
func BTYDCalibrationEnd(cutoff time.Time) int32 {
	return model.CalibrationEnd(cutoff)
}

// CustomerValueOptions says how CustomerValues fits and scores. A nil
// *CustomerValueOptions means the defaults of every field.
type CustomerValueOptions struct {
	// PurchaseEvents names the purchase events; nil means
	// features.DefaultSpec().PurchaseEvents (purchase, order).
	PurchaseEvents []string
	// Unit is the time unit of the BG/NBD fit; empty means btyd.Week.
	Unit btyd.Unit
	// Horizon is the period after the calibration end over which
	// ExpectedPurchases and PNoPurchase are computed; zero means the CLV
	// horizon (CLV.Months months of 30.4375 days).
	Horizon time.Duration
	// CLV sets the CLV horizon and discount rate; nil means
	// btyd.DefaultCLVOptions() (12 months, 1% a month). Its Unit is
	// ignored: the fit's Unit is used.
	CLV *btyd.CLVOptions
	// BGNBD and GammaGamma are passed to FitBGNBD and FitGammaGamma.
	BGNBD      *BGNBDOptions
	GammaGamma *GammaGammaOptions
	// Workers is the number of goroutines computing per-customer values;
	// zero means runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
}

// CustomerValue is one customer's statistics and model outputs as of the
// calibration end.
type CustomerValue struct {
	// UserID is the customer's id.
	UserID string `json:"user_id"`
	// X, Tx, T and Zbar are the calibration statistics (BTYDSummary) in the
	// result's Unit.
	X    int     `json:"x"`
	Tx   float64 `json:"t_x"`
	T    float64 `json:"T"`
	Zbar float64 `json:"zbar"`
	// PAlive is P(still active at the calibration end).
	PAlive float64 `json:"p_alive"`
	// ExpectedPurchases is the expected number of purchase days in the
	// result's Horizon after the calibration end.
	ExpectedPurchases float64 `json:"expected_purchases"`
	// PNoPurchase is P(no purchase in the Horizon), the model's churn
	// probability.
	PNoPurchase float64 `json:"p_no_purchase"`
	// CLV is the discounted expected revenue over the CLV horizon, or nil
	// when there is no Gamma-Gamma fit or the customer's expected order
	// value is undefined (q <= 1 with no repeat purchase).
	CLV *float64 `json:"clv"`
}

// CustomerValueResult holds the fits and every customer's values.
type CustomerValueResult struct {
	// CalibrationEnd is the last calibration day (Unix day number,
	// inclusive); see BTYDCalibrationEnd.
	CalibrationEnd int32 `json:"calibration_end_day"`
	// Unit is the time unit of x, t_x, T, Horizon and the BG/NBD α.
	Unit btyd.Unit `json:"unit"`
	// Horizon is the horizon of ExpectedPurchases and PNoPurchase in Unit.
	Horizon float64 `json:"horizon"`
	// CLV holds the CLV horizon and discount rate used.
	CLV btyd.CLVOptions `json:"clv"`
	// BGNBD is the purchase model fit.
	BGNBD *BGNBDFit `json:"bgnbd"`
	// GammaGamma is the spend model fit, or nil (see GammaGammaNote).
	GammaGamma *GammaGammaFit `json:"gamma_gamma"`
	// GammaGammaNote says why GammaGamma is nil; empty when it is set.
	GammaGammaNote string `json:"gamma_gamma_note,omitempty"`
	// SpendCorrelation is the Pearson correlation of x and zbar among the
	// repeat customers with positive spend: Gamma-Gamma assumes spend is
	// independent of purchase frequency, so a large value (|ρ| > 0.3) is
	// a warning. NaN (encoded as null) without a Gamma-Gamma fit.
	SpendCorrelation *float64 `json:"spend_frequency_correlation"`
	// Warnings are caveats for the report.
	Warnings []string `json:"warnings,omitempty"`
	// Users holds one value per customer with a purchase on or before
	// the calibration end, sorted by user id.
	Users []CustomerValue `json:"-"`
}

// Lookup returns the values of userID, and false when the user made no
// purchase before the cutoff.
func (r *CustomerValueResult) Lookup(userID string) (CustomerValue, bool) {
	i, ok := slices.BinarySearchFunc(r.Users, userID, func(v CustomerValue, id string) int { return cmp.Compare(v.UserID, id) })
	if !ok {
		return CustomerValue{}, false
	}
	return r.Users[i], true
}

// CustomerValues fits BG/NBD, and Gamma-Gamma when there are order amounts,
// on the purchases in log before cutoff, and returns every purchaser's
// P(alive), expected purchases and P(no purchase) over opts.Horizon, and
// CLV, all as of the calibration end BTYDCalibrationEnd(cutoff). Users with
// no purchase before cutoff are not BG/NBD customers yet and get no values
// (Lookup returns false). See CustomerValuesOf for the errors.
func CustomerValues(ctx context.Context, log *features.Log, cutoff time.Time, opts *CustomerValueOptions) (*CustomerValueResult, error) {
	if opts == nil {
		opts = &CustomerValueOptions{}
	}
	cs, err := BTYDCustomersFromLog(log, cutoff, opts.PurchaseEvents)
	if err != nil {
		return nil, err
	}
	return CustomerValuesOf(ctx, cs, BTYDCalibrationEnd(cutoff), opts)
}

// CustomerValuesOf is CustomerValues on purchase histories: the customers
// with a purchase on or before calibrationEnd (a Unix day number,
// inclusive) are summarised with SummarizeBTYD (later days are ignored, so
// the same histories can feed BTYDHoldoutCheck), BG/NBD is fitted on all
// of them and Gamma-Gamma on the repeat customers with positive spend.
// opts.PurchaseEvents is not used.
//
// A BG/NBD fit that fails is an error (wrapping ErrBTYDNotConverged or
// ErrBTYDInput, with what to try); a Gamma-Gamma fit that fails is not:
// the result then has no CLV and says why in GammaGammaNote. Other errors
// wrap ErrBTYDInput (bad options or histories), btyd.ErrInvalidOptions or
// btyd.ErrNoConvergence (a horizon far beyond the data), or the context's.
func CustomerValuesOf(ctx context.Context, customers []BTYDCustomer, calibrationEnd int32, opts *CustomerValueOptions) (*CustomerValueResult, error) {
	return customerValuesOf(ctx, customers, calibrationEnd, opts, cvFull)
}

// What customerValuesOf computes.
type cvMode int

const (
	// cvFull fits both models and computes every customer's values.
	cvFull cvMode = iota
	// cvPAlive fits BG/NBD only and computes only P(alive)
	// (ExpectedPurchases, PNoPurchase and CLV stay zero).
	cvPAlive
	// cvFitOnly fits both models and leaves Users nil.
	cvFitOnly
)

// customerValuesOf is CustomerValuesOf with a choice of what to compute.
func customerValuesOf(ctx context.Context, customers []BTYDCustomer, calibrationEnd int32, opts *CustomerValueOptions, mode cvMode) (*CustomerValueResult, error) {
	if opts == nil {
		opts = &CustomerValueOptions{}
	}
	unit := opts.Unit
	if unit == "" {
		unit = btyd.Week
	}
	unitDays, err := unit.Days()
	if err != nil {
		return nil, fmt.Errorf("training: customer values: %w", err)
	}
	clv := btyd.DefaultCLVOptions()
	if opts.CLV != nil {
		c := *opts.CLV
		clv = &c
	}
	clv.Unit = unit
	if clv.Months == 0 {
		clv.Months = 12
	}
	if err := clv.Validate(); err != nil {
		return nil, fmt.Errorf("training: customer values: %w", err)
	}
	if opts.Horizon < 0 {
		return nil, fmt.Errorf("training: customer values: negative horizon %v: %w", opts.Horizon, ErrBTYDInput)
	}
	horizonDays := float64(clv.Months) * btyd.DaysPerMonth
	if opts.Horizon > 0 {
		horizonDays = opts.Horizon.Hours() / 24
	}
	res := &CustomerValueResult{
		CalibrationEnd: calibrationEnd,
		Unit:           unit,
		Horizon:        horizonDays / unitDays,
		CLV:            *clv,
	}
	sums, err := SummarizeBTYD(customers, &BTYDSummaryOptions{CalibrationEnd: calibrationEnd, Unit: unit})
	if err != nil {
		return nil, fmt.Errorf("training: customer values: %w", err)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("training: customer values: no purchase on or before %s: %w", btydDate(calibrationEnd), ErrBTYDInput)
	}
	res.BGNBD, err = FitBGNBD(ctx, sums, opts.BGNBD)
	if err != nil {
		return nil, fmt.Errorf("training: customer values as of %s: %w", btydDate(calibrationEnd), err)
	}
	if mode == cvPAlive {
		res.GammaGammaNote = "not asked for"
	} else if err := res.fitSpend(ctx, sums, opts.GammaGamma); err != nil {
		return nil, err
	}
	if mode == cvFitOnly {
		return res, nil
	}
	if err := res.score(ctx, sums, opts.Workers, mode == cvFull); err != nil {
		return nil, err
	}
	return res, nil
}

// fitSpend fits Gamma-Gamma when some repeat customer has positive spend,
// recording why not otherwise.
func (r *CustomerValueResult) fitSpend(ctx context.Context, sums []BTYDSummary, opts *GammaGammaOptions) error {
	var xs, zs []float64
	for _, s := range sums {
		if s.X > 0 && s.Zbar > 0 {
			xs = append(xs, float64(s.X))
			zs = append(zs, s.Zbar)
		}
	}
	if len(xs) == 0 {
		r.GammaGammaNote = "no repeat purchase has a positive amount (is there an amount column?): no Gamma-Gamma spend model, so no CLV"
		return nil
	}
	gg, err := FitGammaGamma(ctx, sums, opts)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("training: customer values: %w", ctx.Err())
	case err != nil:
		r.GammaGammaNote = "no CLV: " + err.Error()
		return nil
	}
	r.GammaGamma = gg
	if rho := btydPearson(xs, zs); !math.IsNaN(rho) {
		r.SpendCorrelation = &rho
		if math.Abs(rho) > 0.3 {
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"order value and purchase frequency are correlated among repeat customers (ρ = %.2f): the Gamma-Gamma model assumes they are independent, so CLV is less reliable", rho))
		}
	}
	if gg.Params.Q <= 1 {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"gamma-gamma q = %.3g <= 1: customers without a repeat purchase have no expected order value and get no CLV", gg.Params.Q))
	}
	return nil
}

// btydPearson returns the Pearson correlation of a and b (NaN when either
// is constant or there are fewer than 2 points).
func btydPearson(a, b []float64) float64 {
	n := float64(len(a))
	if len(a) < 2 {
		return math.NaN()
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/n, mb/n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}

// cvPattern holds the model outputs shared by every customer with one
// (x, t_x, T): P(alive), E[Y(h)], P(no purchase in h) and the CLV discount
// factor Σ_i (E[Y(i·m)] − E[Y((i−1)·m)]) / (1+d)^i, which times the
// expected order value is the CLV (btyd.CLV).
type cvPattern struct {
	x, tx, T          float64
	pAlive, ey, pNone float64
	discounted        float64
	err               error
}

// score fills r.Users from the summaries, computing the model outputs once
// per distinct (x, t_x, T), in parallel.
func (r *CustomerValueResult) score(ctx context.Context, sums []BTYDSummary, workers int, full bool) error {
	type key struct {
		x     int
		tx, T float64
	}
	idx := make(map[key]int32, len(sums)/4+16)
	pidx := make([]int32, len(sums))
	var pats []cvPattern
	for i, s := range sums {
		k := key{s.X, s.Tx, s.T}
		j, ok := idx[k]
		if !ok {
			j = int32(len(pats))
			idx[k] = j
			pats = append(pats, cvPattern{x: float64(s.X), tx: s.Tx, T: s.T})
		}
		pidx[i] = j
	}
	bg := r.BGNBD.Params
	unitDays, _ := r.Unit.Days()
	perMonth := btyd.DaysPerMonth / unitDays
	months := r.CLV.Months
	withCLV := r.GammaGamma != nil
	one := func(p *cvPattern) {
		p.pAlive = bg.PAlive(p.x, p.tx, p.T)
		if !full {
			return
		}
		p.pNone = bg.PNoPurchase(r.Horizon, p.x, p.tx, p.T)
		p.ey, p.err = bg.ExpectedPurchases(r.Horizon, p.x, p.tx, p.T)
		if p.err != nil || !withCLV {
			return
		}
		var prev float64
		for i := 1; i <= months; i++ {
			cum, err := bg.ExpectedPurchases(float64(i)*perMonth, p.x, p.tx, p.T)
			if err != nil {
				p.err = fmt.Errorf("clv month %d: %w", i, err)
				return
			}
			p.discounted += (cum - prev) / math.Pow(1+r.CLV.MonthlyDiscount, float64(i))
			prev = cum
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(pats)/256))
	const chunk = 256
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= len(pats) {
					return
				}
				for j := lo; j < min(lo+chunk, len(pats)); j++ {
					one(&pats[j])
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("training: customer values: %w", err)
	}
	for i := range pats {
		if p := &pats[i]; p.err != nil {
			return fmt.Errorf("training: customer values for x=%g t_x=%g T=%g with r=%.4g alpha=%.4g a=%.4g b=%.4g: %w; "+
				"a very large a or b means the fit sits near the boundary where every customer has the same dropout probability; "+
				"try a shorter horizon, a longer calibration period or more customers with repeat purchases",
				p.x, p.tx, p.T, bg.R, bg.Alpha, bg.A, bg.B, p.err)
		}
	}
	r.Users = make([]CustomerValue, len(sums))
	for i, s := range sums {
		p := &pats[pidx[i]]
		v := CustomerValue{
			UserID: s.ID, X: s.X, Tx: s.Tx, T: s.T, Zbar: s.Zbar,
			PAlive: p.pAlive, ExpectedPurchases: p.ey, PNoPurchase: p.pNone,
		}
		if withCLV {
			if spend := r.GammaGamma.Params.ConditionalExpectedSpend(float64(s.X), s.Zbar); !math.IsNaN(spend) {
				c := spend * p.discounted
				v.CLV = &c
			}
		}
		r.Users[i] = v
	}
	if !slices.IsSortedFunc(r.Users, func(a, b CustomerValue) int { return cmp.Compare(a.UserID, b.UserID) }) {
		slices.SortFunc(r.Users, func(a, b CustomerValue) int { return cmp.Compare(a.UserID, b.UserID) })
	}
	return nil
}

// ErrAblation is returned by PAliveAblation for datasets it cannot compare:
// none to fit on, unlabelled ones, or feature lists that differ.
var ErrAblation = errors.New("training: bad p_alive ablation input")

// PAliveAblationOptions controls PAliveAblation. A nil
// *PAliveAblationOptions means defaults.
type PAliveAblationOptions struct {
	// PurchaseEvents names the purchase events of the BG/NBD fits; nil
	// means features.DefaultSpec().PurchaseEvents.
	PurchaseEvents []string
	// Unit is the BG/NBD time unit; empty means btyd.Week.
	Unit btyd.Unit
	// Logistic configures both classifiers; nil means
	// DefaultLogisticOptions().
	Logistic *LogisticOptions
	// MaxFitRows caps the fitting rows, keeping evenly spaced ones (no
	// randomness); zero means 200,000, negative means no cap.
	MaxFitRows int
	// MaxEvalRows caps the out-of-time rows scored, keeping the users
	// first by a keyed hash of the user id and Seed (as Train samples its
	// evaluation sets); zero means DefaultMaxEvalRows, negative means no
	// cap.
	MaxEvalRows int
	// Seed keys the evaluation sample.
	Seed uint64
	// MinAUCGain is the out-of-time AUC gain that counts as helping (the
	// log loss must not get worse either); zero means 0.002.
	MinAUCGain float64
}

// AblationMetrics are one classifier's out-of-time scores.
type AblationMetrics struct {
	// AUC is the ROC AUC of the churn probability.
	AUC float64 `json:"auc"`
	// LogLoss is the mean log loss of the churn probability.
	LogLoss float64 `json:"log_loss"`
}

// PAliveSnapshotFit is the BG/NBD fit behind the p_alive column of one
// snapshot.
type PAliveSnapshotFit struct {
	// Cutoff is the snapshot's cutoff (RFC 3339).
	Cutoff string `json:"cutoff"`
	// Customers is the number of purchasers before the cutoff.
	Customers int `json:"customers"`
	// Params and LogLikelihood are the fit's.
	Params        btyd.BGNBD `json:"params"`
	LogLikelihood float64    `json:"log_likelihood"`
	// RowsWithoutPurchase counts the snapshot's users with no purchase
	// before the cutoff; their p_alive is 0.
	RowsWithoutPurchase int `json:"rows_without_purchase"`
}

// PAliveAblationResult says whether BG/NBD's P(alive) helps the churn
// classifier, for the training report.
type PAliveAblationResult struct {
	// Method describes the comparison in one sentence.
	Method string `json:"method"`
	// FitRows and EvalRows count the fitting and out-of-time rows used;
	// EvalRowsTotal counts the out-of-time rows, of which EvalRows were
	// scored (see MaxEvalRows).
	FitRows       int `json:"fit_rows"`
	EvalRows      int `json:"eval_rows"`
	EvalRowsTotal int `json:"eval_rows_total"`
	// EvalChurnRate is the churn rate of the out-of-time rows.
	EvalChurnRate float64 `json:"eval_churn_rate"`
	// Without and With score the classifier without and with p_alive.
	Without AblationMetrics `json:"without_p_alive"`
	With    AblationMetrics `json:"with_p_alive"`
	// AUCGain is With.AUC − Without.AUC; LogLossGain is
	// Without.LogLoss − With.LogLoss (positive is better for both).
	AUCGain     float64 `json:"auc_gain"`
	LogLossGain float64 `json:"log_loss_gain"`
	// Helps is true when AUCGain >= MinAUCGain and LogLossGain >= 0.
	Helps bool `json:"helps"`
	// MinAUCGain is the threshold used.
	MinAUCGain float64 `json:"min_auc_gain"`
	// Snapshots are the BG/NBD fits, fitting snapshots first, the
	// out-of-time snapshot last.
	Snapshots []PAliveSnapshotFit `json:"snapshots"`
}

// PAliveAblation compares two logistic churn classifiers: one on the
// snapshot features, one on the same features plus a column p_alive, the
// BG/NBD P(alive) of each user fitted on log's purchases before that
// snapshot's cutoff (CustomerValues; users with no purchase before it get
// 0, and the ever_purchased feature tells the classifier who they are).
// Both are fitted (FitTransform with the Spec's transforms, then
// FitLogistic) on the rows of the fitting datasets and scored on the
// out-of-time dataset oot. Every dataset must be labelled and follow one
// Spec. Errors wrap ErrAblation, ErrBTYDNotConverged or ErrBTYDInput (a
// snapshot where BG/NBD cannot be fitted), ErrNotConverged, or the
// context's.
func PAliveAblation(ctx context.Context, log *features.Log, fitting []*features.Dataset, oot *features.Dataset, opts *PAliveAblationOptions) (*PAliveAblationResult, error) {
	if opts == nil {
		opts = &PAliveAblationOptions{}
	}
	return pAliveAblation(ctx, func(cutoff time.Time) ([]BTYDCustomer, error) {
		return BTYDCustomersFromLog(log, cutoff, opts.PurchaseEvents)
	}, fitting, oot, opts)
}

// pAliveAblation is PAliveAblation with the purchase histories before each
// cutoff from customers (BTYDCustomersFromLog's result).
func pAliveAblation(ctx context.Context, customers func(cutoff time.Time) ([]BTYDCustomer, error), fitting []*features.Dataset, oot *features.Dataset, opts *PAliveAblationOptions) (*PAliveAblationResult, error) {
	if len(fitting) == 0 || oot == nil {
		return nil, fmt.Errorf("training: p_alive ablation: need fitting datasets and an out-of-time dataset: %w", ErrAblation)
	}
	all := append(slices.Clone(fitting), oot)
	names := oot.Spec.Names()
	for _, ds := range all {
		if !ds.Labelled || len(ds.Churn) != len(ds.Vectors) {
			return nil, fmt.Errorf("training: p_alive ablation: snapshot %s has no churn labels: %w", ds.Cutoff.Format(time.DateOnly), ErrAblation)
		}
		if !slices.Equal(ds.Spec.Names(), names) {
			return nil, fmt.Errorf("training: p_alive ablation: snapshot %s has other features than the out-of-time one: %w", ds.Cutoff.Format(time.DateOnly), ErrAblation)
		}
	}
	kinds := make([]string, len(names)+1)
	for j, f := range oot.Spec.Features {
		kinds[j] = string(f.Transform)
	}
	kinds[len(names)] = model.KindNone
	extNames := append(slices.Clone(names), "p_alive")

	res := &PAliveAblationResult{MinAUCGain: opts.MinAUCGain}
	if res.MinAUCGain == 0 {
		res.MinAUCGain = 0.002
	}
	// p_alive per snapshot.
	palive := make([][]float64, len(all))
	for k, ds := range all {
		cs, err := customers(ds.Cutoff)
		if err != nil {
			return nil, fmt.Errorf("training: p_alive ablation, snapshot %s: %w", ds.Cutoff.Format(time.DateOnly), err)
		}
		cv, err := customerValuesOf(ctx, cs, BTYDCalibrationEnd(ds.Cutoff), &CustomerValueOptions{Unit: opts.Unit}, cvPAlive)
		if err != nil {
			return nil, fmt.Errorf("training: p_alive ablation, snapshot %s: %w", ds.Cutoff.Format(time.DateOnly), err)
		}
		fit := PAliveSnapshotFit{
			Cutoff: ds.Cutoff.UTC().Format(time.RFC3339), Customers: len(cv.Users),
			Params: cv.BGNBD.Params, LogLikelihood: cv.BGNBD.LogLikelihood,
		}
		palive[k] = make([]float64, len(ds.Vectors))
		// Both lists are sorted by user id (Lookup otherwise).
		j := 0
		for i, v := range ds.Vectors {
			var u CustomerValue
			ok := false
			if i > 0 && v.UserID < ds.Vectors[i-1].UserID {
				u, ok = cv.Lookup(v.UserID)
			} else {
				for j < len(cv.Users) && cv.Users[j].UserID < v.UserID {
					j++
				}
				if j < len(cv.Users) && cv.Users[j].UserID == v.UserID {
					u, ok = cv.Users[j], true
				}
			}
			if ok {
				palive[k][i] = u.PAlive
			} else {
				fit.RowsWithoutPurchase++
			}
		}
		res.Snapshots = append(res.Snapshots, fit)
	}
	// Rows: fitting snapshots in order (evenly thinned to the cap), then oot.
	nFit := 0
	for _, ds := range fitting {
		nFit += len(ds.Vectors)
	}
	limit := opts.MaxFitRows
	if limit == 0 {
		limit = 200_000
	}
	keep := func(int) bool { return true }
	if limit > 0 && nFit > limit {
		keep = func(g int) bool { return g*limit/nFit != (g+1)*limit/nFit } // exactly limit rows, evenly spaced
	}
	d := len(names)
	build := func(sets []int, keepRow func(int) bool) (x Matrix, y []float64) {
		n, g := 0, 0
		for _, k := range sets {
			for range all[k].Vectors {
				if keepRow(g) {
					n++
				}
				g++
			}
		}
		x, y = NewMatrix(n, d+1), make([]float64, 0, n)
		g = 0
		for _, k := range sets {
			ds := all[k]
			for i, v := range ds.Vectors {
				if keepRow(g) {
					r := x.Data[len(y)*(d+1) : (len(y)+1)*(d+1)]
					copy(r, v.Values)
					r[d] = palive[k][i]
					y = append(y, b2f(ds.Churn[i]))
				}
				g++
			}
		}
		return x, y
	}
	fitIdx := make([]int, len(fitting))
	for k := range fitIdx {
		fitIdx[k] = k
	}
	xf, yf := build(fitIdx, keep)
	// The out-of-time rows (at most MaxEvalRows of them, by user hash) are
	// scored one at a time from the vectors, so that a large snapshot is
	// never copied into matrices.
	eval, evalPA := all[len(all)-1], palive[len(all)-1]
	evalLimit := opts.MaxEvalRows
	if evalLimit == 0 {
		evalLimit = DefaultMaxEvalRows
	}
	evalIdx := evalSample(len(eval.Vectors), evalLimit, opts.Seed, func(i int) string { return eval.Vectors[i].UserID })
	if evalIdx == nil {
		evalIdx = make([]int, len(eval.Vectors))
		for i := range evalIdx {
			evalIdx[i] = i
		}
	}
	ye := make([]float64, len(evalIdx))
	for k, i := range evalIdx {
		ye[k] = b2f(eval.Churn[i])
		res.EvalChurnRate += ye[k]
	}
	res.FitRows, res.EvalRows, res.EvalRowsTotal = xf.Rows, len(ye), len(eval.Vectors)
	if xf.Rows == 0 || len(ye) == 0 {
		return nil, fmt.Errorf("training: p_alive ablation: %d fitting rows, %d out-of-time rows: %w", xf.Rows, len(ye), ErrAblation)
	}
	res.EvalChurnRate /= float64(len(ye))

	score := func(cols int) (AblationMetrics, error) {
		xf := btydColumns(xf, cols)
		tr, err := FitTransform(&xf, extNames[:cols], kinds[:cols])
		if err != nil {
			return AblationMetrics{}, err
		}
		zf, err := ApplyTransform(tr, &xf)
		if err != nil {
			return AblationMetrics{}, err
		}
		m, err := FitLogistic(ctx, zf, yf, nil, opts.Logistic)
		if err != nil {
			return AblationMetrics{}, err
		}
		p := make([]float64, len(ye))
		threads := runtime.GOMAXPROCS(0)
		if opts.Logistic != nil && opts.Logistic.Threads > 0 {
			threads = opts.Logistic.Threads
		}
		parallelRows(len(p), threads, func(lo, hi int) {
			row, z := make([]float64, d+1), make([]float64, cols)
			for k := lo; k < hi; k++ {
				i := evalIdx[k]
				copy(row, eval.Vectors[i].Values)
				row[d] = evalPA[i]
				z = tr.Apply(z, row[:cols])
				p[k] = m.Prob(z)
			}
		})
		var out AblationMetrics
		if out.AUC, err = ROCAUC(ye, p); err != nil {
			return AblationMetrics{}, err
		}
		if out.LogLoss, err = LogLoss(ye, p); err != nil {
			return AblationMetrics{}, err
		}
		return out, nil
	}
	var err error
	if res.Without, err = score(d); err != nil {
		return nil, fmt.Errorf("training: p_alive ablation without p_alive: %w", err)
	}
	if res.With, err = score(d + 1); err != nil {
		return nil, fmt.Errorf("training: p_alive ablation with p_alive: %w", err)
	}
	res.AUCGain = res.With.AUC - res.Without.AUC
	res.LogLossGain = res.Without.LogLoss - res.With.LogLoss
	res.Helps = res.AUCGain >= res.MinAUCGain && res.LogLossGain >= 0
	scored := fmt.Sprintf("the %d rows", res.EvalRows)
	if res.EvalRows < res.EvalRowsTotal {
		scored = fmt.Sprintf("%d of the %d rows (whole users by a keyed hash of the user id)", res.EvalRows, res.EvalRowsTotal)
	}
	res.Method = fmt.Sprintf("logistic churn model (standardised features, L2) fitted on %d rows of %d snapshots and scored on %s of the out-of-time snapshot, without and with BG/NBD P(alive) fitted as of each snapshot's cutoff; helps = AUC gain >= %g and log loss not worse",
		res.FitRows, len(fitting), scored, res.MinAUCGain)
	return res, nil
}

// btydColumns returns the first cols columns of x (x itself when it has
// exactly cols).
func btydColumns(x Matrix, cols int) Matrix {
	if cols == x.Cols {
		return x
	}
	out := NewMatrix(x.Rows, cols)
	for i := range x.Rows {
		copy(out.Data[i*cols:(i+1)*cols], x.Row(i)[:cols])
	}
	return out
}
