package btyd

import (
	"errors"
	"fmt"
	"math"
)

// Unit is the time unit in which x, t_x, T and the BG/NBD α are expressed.
type Unit string

// The supported time units.
const (
	// Day is one calendar day.
	Day Unit = "day"
	// Week is seven days, the unit of the published CDNOW results.
	Week Unit = "week"
	// Month is 30.4375 days, a twelfth of a Julian year.
	Month Unit = "month"
)

// DaysPerMonth is the length of a Month in days (365.25/12).
const DaysPerMonth = 30.4375

// Days returns the length of the unit in days, or an error wrapping
// ErrInvalidOptions for an unknown unit.
func (u Unit) Days() (float64, error) {
	switch u {
	case Day:
		return 1, nil
	case Week:
		return 7, nil
	case Month:
		return DaysPerMonth, nil
	}
	return 0, fmt.Errorf("btyd: unit %q, want day, week or month: %w", string(u), ErrInvalidOptions)
}

// CLVOptions says how customer lifetime value is computed. A nil
// *CLVOptions means DefaultCLVOptions().
type CLVOptions struct {
	// Months is the horizon in months of 30.4375 days; zero means 12.
	Months int `json:"months"`
	// MonthlyDiscount is the discount rate per month: revenue expected in
	// month i is divided by (1+MonthlyDiscount)^i. Zero means no
	// discounting; DefaultCLVOptions uses 0.01.
	MonthlyDiscount float64 `json:"monthly_discount"`
	// Unit is the time unit the BG/NBD parameters were fitted in; empty
	// means Week.
	Unit Unit `json:"unit"`
}

// DefaultCLVOptions returns the defaults: 12 months, 1% a month, weeks.
func DefaultCLVOptions() *CLVOptions {
	return &CLVOptions{Months: 12, MonthlyDiscount: 0.01, Unit: Week}
}

// Validate returns an error wrapping ErrInvalidOptions that lists every bad
// field.
func (o *CLVOptions) Validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	if o.Months < 0 || o.Months > 1200 {
		errs = append(errs, fmt.Errorf("months = %d, want 0 (= 12) to 1200", o.Months))
	}
	if !(o.MonthlyDiscount >= 0) || o.MonthlyDiscount > 1 {
		errs = append(errs, fmt.Errorf("monthly discount = %g, want 0 to 1", o.MonthlyDiscount))
	}
	if o.Unit != "" {
		if _, err := o.Unit.Days(); err != nil {
			errs = append(errs, fmt.Errorf("unit = %q, want day, week or month", string(o.Unit)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("btyd: clv options: %w: %w", errors.Join(errs...), ErrInvalidOptions)
	}
	return nil
}

// CLV returns the expected discounted revenue of a customer with BG/NBD
// statistics (x, t_x, T) and average repeat order value zbar over the next
// opts.Months months:
//
//	CLV = Σ_{i=1..M} E[M | x, zbar] · (E[Y(i·m)] - E[Y((i-1)·m)]) / (1+d)^i,
//
// where E[Y(t)] is BGNBD.ExpectedPurchases, m the month in the fit's time
// unit and E[M | x, zbar] GammaGamma.ConditionalExpectedSpend: the
// purchases expected in month i are valued at the end of that month. This
// is the construction of lifetimes' customer_lifetime_value.
func CLV(bg BGNBD, gg GammaGamma, x, tx, T, zbar float64, opts *CLVOptions) (float64, error) {
	if opts == nil {
		opts = DefaultCLVOptions()
	}
	if err := opts.Validate(); err != nil {
		return math.NaN(), err
	}
	if err := bg.Validate(); err != nil {
		return math.NaN(), err
	}
	if err := gg.Validate(); err != nil {
		return math.NaN(), err
	}
	months := opts.Months
	if months == 0 {
		months = 12
	}
	unit := opts.Unit
	if unit == "" {
		unit = Week
	}
	days, _ := unit.Days()
	perMonth := DaysPerMonth / days
	spend := gg.ConditionalExpectedSpend(x, zbar)
	if math.IsNaN(spend) {
		return math.NaN(), fmt.Errorf("btyd: clv: expected spend for x=%g zbar=%g undefined: %w", x, zbar, ErrInvalidInput)
	}
	var clv, prev float64
	for i := 1; i <= months; i++ {
		cum, err := bg.ExpectedPurchases(float64(i)*perMonth, x, tx, T)
		if err != nil {
			return math.NaN(), fmt.Errorf("btyd: clv month %d: %w", i, err)
		}
		clv += spend * (cum - prev) / math.Pow(1+opts.MonthlyDiscount, float64(i))
		prev = cum
	}
	return clv, nil
}
