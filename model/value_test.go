package model

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model/btyd"
)

func day(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func TestCalibrationEnd(t *testing.T) {
	cases := []struct {
		cutoff time.Time
		want   int32
	}{
		{time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC), day(1997, 9, 30)},
		{time.Date(1997, 10, 1, 0, 0, 0, 1, time.UTC), day(1997, 10, 1)},
		{time.Date(1997, 10, 1, 13, 30, 0, 0, time.UTC), day(1997, 10, 1)},
		{time.Date(1997, 10, 1, 23, 0, 0, 0, time.FixedZone("UTC-2", -2*3600)), day(1997, 10, 2)},
		{time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC), day(1969, 12, 31)},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), day(1969, 12, 30)},
	}
	for _, c := range cases {
		if got := CalibrationEnd(c.cutoff); got != c.want {
			t.Errorf("CalibrationEnd(%v) = %d, want %d", c.cutoff, got, c.want)
		}
	}
}

// cdnowValue is the customer-value part with the published CDNOW sample
// fits (Fader, Hardie & Lee 2005; Gamma-Gamma from lifetimes' docs), in
// weeks, with a 39-week horizon and the default CLV settings.
func cdnowValue() *CustomerValue {
	return &CustomerValue{
		Unit: btyd.Week, UnitDays: 7,
		BGNBD:      btyd.BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259},
		GammaGamma: &btyd.GammaGamma{P: 6.25, Q: 3.74, V: 15.44},
		CLVMonths:  12, MonthlyDiscount: 0.01, HorizonDays: 273,
	}
}

// TestCustomerValueCDNOW: a customer who first bought on 1997-01-01, bought
// on two more days, the last 213 days (30.43 weeks) later, scored as of
// 1997-10-01: T = 272 days = 38.86 weeks, and the expected purchases in
// the next 39 weeks are the published 1.226 (Hardie's spreadsheet, for
// t_x = 30.43). P(alive) and CLV are btyd's formulas on the same
// statistics.
func TestCustomerValueCDNOW(t *testing.T) {
	v := cdnowValue()
	cutoff := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)
	p := Purchases{Days: 3, First: day(1997, 1, 1), Last: day(1997, 1, 1) + 213, RepeatRevenue: 50}
	s, err := v.Stats(p, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if s.X != 2 || s.Tx != 213.0/7 || s.T != 272.0/7 || s.Zbar != 25 {
		t.Fatalf("stats %+v, want x 2, t_x 30.43, T 38.86, zbar 25", s)
	}
	got, err := v.Score(p, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if got.PAlive == nil || got.ExpectedPurchases == nil || got.CLV == nil {
		t.Fatalf("values %+v, want all three", got)
	}
	if want := v.BGNBD.PAlive(2, 213.0/7, 272.0/7); *got.PAlive != want {
		t.Errorf("p_alive %v, want %v", *got.PAlive, want)
	}
	if math.Abs(*got.ExpectedPurchases-1.226) > 0.001 {
		t.Errorf("expected purchases in 39 weeks %.6f, want 1.226 (±0.001)", *got.ExpectedPurchases)
	}
	// E[M | x=2, zbar=25] = (p·v + p·x·zbar) / (p·x + q − 1) = 409 / 15.24.
	if spend := v.GammaGamma.ConditionalExpectedSpend(2, 25); math.Abs(spend-409/15.24) > 1e-12 {
		t.Errorf("expected order value %v, want %v", spend, 409/15.24)
	}
	want, err := btyd.CLV(v.BGNBD, *v.GammaGamma, 2, 213.0/7, 272.0/7, 25, &btyd.CLVOptions{Months: 12, MonthlyDiscount: 0.01, Unit: btyd.Week})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(*got.CLV-want) > 1e-12*want {
		t.Errorf("clv %v, btyd.CLV %v", *got.CLV, want)
	}
	// A mid-day cutoff counts the cutoff's own day: T is a day longer.
	s2, err := v.Stats(p, cutoff.Add(12*time.Hour))
	if err != nil || s2.T != 273.0/7 {
		t.Errorf("mid-day cutoff: T %v (%v), want 39 weeks", s2.T, err)
	}
}

// TestUserValueUnavailable: the values are nil, not zero, when they do not
// exist.
func TestUserValueUnavailable(t *testing.T) {
	cutoff := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)
	once := Purchases{Days: 1, First: day(1997, 3, 1), Last: day(1997, 3, 1)}
	noSpend := cdnowValue()
	noSpend.GammaGamma = nil
	lowQ := cdnowValue()
	lowQ.GammaGamma = &btyd.GammaGamma{P: 2, Q: 0.8, V: 10}
	cases := []struct {
		name                    string
		value                   *CustomerValue
		p                       Purchases
		pAlive, expected, hasCL bool
	}{
		{"NoValueModel", nil, once, false, false, false},
		{"NeverPurchased", cdnowValue(), Purchases{}, false, false, false},
		{"OneTimeBuyer", cdnowValue(), once, true, true, true},
		{"NoSpendModel", noSpend, once, true, true, false},
		// q <= 1: no mean order value for a customer without repeat purchases.
		{"NoExpectedOrderValue", lowQ, once, true, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Model{HorizonDays: 273, Value: c.value}
			got, err := m.UserValue(c.p, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			if (got.PAlive != nil) != c.pAlive || (got.ExpectedPurchases != nil) != c.expected || (got.CLV != nil) != c.hasCL {
				t.Errorf("got %+v, want p_alive %v, expected %v, clv %v", got, c.pAlive, c.expected, c.hasCL)
			}
			// A customer without repeat purchases cannot have dropped out.
			if got.PAlive != nil && *got.PAlive != 1 {
				t.Errorf("p_alive %v, want 1 for x = 0", *got.PAlive)
			}
		})
	}
}

func TestCustomerValueStatsErrors(t *testing.T) {
	v := cdnowValue()
	cutoff := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)
	d := day(1997, 5, 1)
	for name, p := range map[string]Purchases{
		"NoDays":          {Days: -1},
		"LastBeforeFirst": {Days: 2, First: d, Last: d - 1},
		"AfterCutoff":     {Days: 2, First: d, Last: day(1997, 10, 1)},
		"TooManyDays":     {Days: 4, First: d, Last: d + 2},
		"OneDaySpan":      {Days: 1, First: d, Last: d + 2},
		"NegativeRevenue": {Days: 2, First: d, Last: d + 2, RepeatRevenue: -1},
		"NaNRevenue":      {Days: 2, First: d, Last: d + 2, RepeatRevenue: math.NaN()},
	} {
		if _, err := v.Score(p, cutoff); !errors.Is(err, ErrPurchases) {
			t.Errorf("%s: %v, want ErrPurchases", name, err)
		}
	}
}

func TestValidateCustomerValue(t *testing.T) {
	cases := []struct {
		name string
		mod  func(v *CustomerValue)
		want string
	}{
		{"BadUnit", func(v *CustomerValue) { v.Unit = "fortnight" }, "unit"},
		{"UnitDaysMismatch", func(v *CustomerValue) { v.UnitDays = 1 }, "unit_days 1, but a week is 7 days"},
		{"BadBGNBD", func(v *CustomerValue) { v.BGNBD.A = 0 }, "bg/nbd a"},
		{"BadGammaGamma", func(v *CustomerValue) { v.GammaGamma.V = math.Inf(1) }, "gamma-gamma v"},
		{"NoMonths", func(v *CustomerValue) { v.CLVMonths = 0 }, "clv months"},
		{"BadDiscount", func(v *CustomerValue) { v.MonthlyDiscount = -0.1 }, "monthly discount"},
		{"HorizonMismatch", func(v *CustomerValue) { v.HorizonDays = 30 }, "horizon 30 days"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testModel(t)
			m.HorizonDays = 273
			m.Value = cdnowValue()
			if err := m.Validate(); err != nil {
				t.Fatalf("valid model: %v", err)
			}
			c.mod(m.Value)
			err := m.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "customer value: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

// TestCustomerValueEncoding: the part survives Encode/Decode; predictions
// encode the three values under fixed keys, null when unavailable.
func TestCustomerValueEncoding(t *testing.T) {
	m := testModel(t)
	m.HorizonDays = 273
	m.Value = cdnowValue()
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Value == nil || *d.Value.GammaGamma != *m.Value.GammaGamma || d.Value.BGNBD != m.Value.BGNBD || d.Value.HorizonDays != 273 {
		t.Fatalf("decoded customer value %+v", d.Value)
	}
	var p Prediction
	js, _ := json.Marshal(p)
	for _, k := range []string{`"p_alive":null`, `"expected_purchases":null`, `"clv":null`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("prediction JSON %s lacks %s", js, k)
		}
	}
	x := 0.5
	p.PAlive = &x
	js, _ = json.Marshal(p)
	var back Prediction
	if err := json.Unmarshal(js, &back); err != nil || back.PAlive == nil || *back.PAlive != 0.5 {
		t.Errorf("round trip %s: %+v %v", js, back, err)
	}
	// Without the part, the encoding has no customer_value key.
	m.Value = nil
	b, _ = Encode(m)
	if strings.Contains(string(b), "customer_value") {
		t.Error("customer_value encoded for a model without it")
	}
}
