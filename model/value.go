package model

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lapse-dev/lapse/model/btyd"
)

// ErrPurchases is returned for a purchase summary that cannot be: no
// purchase day, days out of order or after the cutoff, more days than the
// span holds, or a negative or non-finite revenue.
var ErrPurchases = errors.New("model: invalid purchase summary")

// CustomerValue is the optional customer-base part of a Model: the BG/NBD
// purchase model and, when repeat purchases carry amounts, the Gamma-Gamma
// spend model, fitted on the purchases before the model's as-of time
// (training.CustomerValues). From a user's purchase days it gives
// P(alive), the expected number of purchase days over the model's horizon
// and the discounted customer lifetime value (see Score).
//
// Customer values are computed as of any cutoff, not only the model's
// as-of time: serving recomputes them from each user's state at request
// time with the same parameters.
type CustomerValue struct {
	// Unit is the time unit of the BG/NBD fit: btyd.Day, btyd.Week or
	// btyd.Month. BGNBD.Alpha is in this unit.
	Unit btyd.Unit `json:"unit"`
	// UnitDays is the length of Unit in days (7 for weeks).
	UnitDays float64 `json:"unit_days"`
	// BGNBD holds the purchase model's r, α, a and b.
	BGNBD btyd.BGNBD `json:"bgnbd"`
	// GammaGamma holds the spend model's p, q and v; nil when no repeat
	// purchase had a positive amount or the spend fit failed, and then
	// there is no CLV.
	GammaGamma *btyd.GammaGamma `json:"gamma_gamma,omitempty"`
	// CLVMonths is the CLV horizon in months of 30.4375 days.
	CLVMonths int `json:"clv_months"`
	// MonthlyDiscount is the CLV discount rate per month: revenue expected
	// in month i is divided by (1+MonthlyDiscount)^i.
	MonthlyDiscount float64 `json:"monthly_discount"`
	// HorizonDays is the period after the cutoff that ExpectedPurchases
	// covers: the model's label horizon H (Model.HorizonDays).
	HorizonDays int `json:"horizon_days"`
}

// Purchases is a user's purchase history before a cutoff as CustomerValue
// reads it: distinct UTC purchase days (purchase events with an amount >=
// 0, several on one day merged). It has the fields of
// features.PurchaseSummary, which computes it; model imports nothing of
// lapse.
type Purchases struct {
	// Days is the number of distinct purchase days (0: never purchased).
	Days int
	// First and Last are the first and last purchase day, as UTC day
	// numbers (unix seconds / 86400, rounded down).
	First, Last int32
	// RepeatRevenue is the summed amount of the purchases on the days after
	// the first.
	RepeatRevenue float64
}

// UserValue holds one user's customer-value outputs. Each is nil when it
// is not available: the model has no customer-value part, the user never
// purchased before the cutoff (not yet a customer in the BG/NBD sense), or,
// for CLV, there is no spend model (or no expected order value: q <= 1 and
// no repeat purchase).
type UserValue struct {
	// PAlive is BG/NBD's probability that the user is still active at the
	// cutoff.
	PAlive *float64 `json:"p_alive"`
	// ExpectedPurchases is the expected number of purchase days in the
	// HorizonDays after the cutoff (the serving API names it
	// expected_purchases_<H>d).
	ExpectedPurchases *float64 `json:"expected_purchases"`
	// CLV is the expected discounted revenue over CLVMonths months.
	CLV *float64 `json:"clv"`
}

// ValueStats are a user's sufficient statistics in the fit's unit: x
// repeat purchase days, t_x from the first to the last purchase day, T from
// the first purchase day to the calibration end, and zbar, the mean amount
// of the repeat purchase days (0 when x = 0).
type ValueStats struct {
	X, Tx, T, Zbar float64
}

// ValuePattern holds the outputs shared by every user with one
// (x, t_x, T): P(alive), the expected purchases over the horizon (NaN when
// its series did not converge) and the CLV discount factor
// Σ_{i=1..M} (E[Y(i·m)] − E[Y((i−1)·m)]) / (1+d)^i, which times the
// expected order value is the CLV (NaN without a spend model or when a
// series did not converge).
type ValuePattern struct {
	PAlive, ExpectedPurchases, Discount float64
}

// CalibrationEnd returns the last day, as a UTC day number, whose
// purchases count as of cutoff: the day before D, the first UTC day
// starting at or after cutoff (docs/DESIGN.md). T is measured to the start
// of that day, the convention of the published CDNOW results (cutoff
// 1997-10-01 00:00 UTC: calibration end 1997-09-30, T = 38.86 weeks for a
// 1997-01-01 customer).
func CalibrationEnd(cutoff time.Time) int32 {
	sec := cutoff.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	if sec-d*86400 != 0 || cutoff.Nanosecond() != 0 {
		d++ // D is the next midnight
	}
	return int32(d - 1)
}

// validate reports every inconsistency of v for a model with the given
// label horizon.
func (v *CustomerValue) validate(horizonDays int) error {
	var errs []error
	days, err := v.Unit.Days()
	if err != nil {
		errs = append(errs, err)
	} else if v.UnitDays != days {
		errs = append(errs, fmt.Errorf("unit_days %g, but a %s is %g days", v.UnitDays, v.Unit, days))
	}
	if err := v.BGNBD.Validate(); err != nil {
		errs = append(errs, err)
	}
	if v.GammaGamma != nil {
		if err := v.GammaGamma.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if v.CLVMonths < 1 || v.CLVMonths > 1200 {
		errs = append(errs, fmt.Errorf("clv months %d, want 1 to 1200", v.CLVMonths))
	}
	if !(v.MonthlyDiscount >= 0 && v.MonthlyDiscount <= 1) {
		errs = append(errs, fmt.Errorf("monthly discount %g, want 0 to 1", v.MonthlyDiscount))
	}
	if v.HorizonDays != horizonDays || v.HorizonDays <= 0 {
		errs = append(errs, fmt.Errorf("horizon %d days, want the model's %d (> 0)", v.HorizonDays, horizonDays))
	}
	return errors.Join(errs...)
}

// Stats converts a user's purchase summary as of cutoff to the BG/NBD and
// Gamma-Gamma statistics in v's unit: x = Days − 1, t_x = Last − First,
// T = CalibrationEnd(cutoff) − First, zbar = RepeatRevenue / x. It returns
// an error wrapping ErrPurchases for a summary that cannot be, including
// one with a purchase day after the calibration end.
func (v *CustomerValue) Stats(p Purchases, cutoff time.Time) (ValueStats, error) {
	end := CalibrationEnd(cutoff)
	switch {
	case p.Days < 1:
		return ValueStats{}, fmt.Errorf("%w: %d purchase days", ErrPurchases, p.Days)
	case p.First > p.Last || p.Last > end:
		return ValueStats{}, fmt.Errorf("%w: first day %d, last %d, calibration end %d", ErrPurchases, p.First, p.Last, end)
	case int64(p.Days) > int64(p.Last)-int64(p.First)+1 || (p.Days == 1) != (p.First == p.Last):
		return ValueStats{}, fmt.Errorf("%w: %d purchase days from day %d to %d", ErrPurchases, p.Days, p.First, p.Last)
	case !(p.RepeatRevenue >= 0) || math.IsInf(p.RepeatRevenue, 0):
		return ValueStats{}, fmt.Errorf("%w: repeat revenue %g", ErrPurchases, p.RepeatRevenue)
	}
	s := ValueStats{
		X:  float64(p.Days - 1),
		Tx: float64(int64(p.Last)-int64(p.First)) / v.UnitDays,
		T:  float64(int64(end)-int64(p.First)) / v.UnitDays,
	}
	if s.X > 0 {
		s.Zbar = p.RepeatRevenue / s.X
	}
	return s, nil
}

// Pattern computes the outputs shared by every user with statistics
// (x, t_x, T) (see ValuePattern).
func (v *CustomerValue) Pattern(x, tx, T float64) ValuePattern {
	bg := v.BGNBD
	pat := ValuePattern{PAlive: bg.PAlive(x, tx, T), ExpectedPurchases: math.NaN(), Discount: math.NaN()}
	if ey, err := bg.ExpectedPurchases(float64(v.HorizonDays)/v.UnitDays, x, tx, T); err == nil {
		pat.ExpectedPurchases = ey
	}
	if v.GammaGamma == nil {
		return pat
	}
	perMonth := btyd.DaysPerMonth / v.UnitDays
	var disc, prev float64
	for i := 1; i <= v.CLVMonths; i++ {
		cum, err := bg.ExpectedPurchases(float64(i)*perMonth, x, tx, T)
		if err != nil {
			return pat
		}
		disc += (cum - prev) / math.Pow(1+v.MonthlyDiscount, float64(i))
		prev = cum
	}
	pat.Discount = disc
	return pat
}

// Value combines a user's statistics with the outputs of their pattern:
// the CLV is the Gamma-Gamma expected order value E[M | x, zbar] times the
// discount factor.
func (v *CustomerValue) Value(s ValueStats, pat ValuePattern) UserValue {
	out := UserValue{PAlive: finitePtr(pat.PAlive), ExpectedPurchases: finitePtr(pat.ExpectedPurchases)}
	if v.GammaGamma != nil && !math.IsNaN(pat.Discount) {
		out.CLV = finitePtr(v.GammaGamma.ConditionalExpectedSpend(s.X, s.Zbar) * pat.Discount)
	}
	return out
}

// Score returns the customer values of a user with purchase summary p as
// of cutoff: Stats, then Pattern and Value. Batch callers with many users
// share one Pattern per distinct (x, t_x, T) and get the same numbers.
func (v *CustomerValue) Score(p Purchases, cutoff time.Time) (UserValue, error) {
	s, err := v.Stats(p, cutoff)
	if err != nil {
		return UserValue{}, err
	}
	return v.Value(s, v.Pattern(s.X, s.Tx, s.T)), nil
}

// UserValue returns the customer values of a user with purchase summary p
// as of cutoff: all nil when m has no customer-value part or the user
// never purchased (p.Days == 0), otherwise CustomerValue.Score.
func (m *Model) UserValue(p Purchases, cutoff time.Time) (UserValue, error) {
	if m.Value == nil || p.Days == 0 {
		return UserValue{}, nil
	}
	return m.Value.Score(p, cutoff)
}

// finitePtr returns &v, or nil when v is NaN or infinite.
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
