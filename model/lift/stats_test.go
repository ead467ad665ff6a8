package lift

import (
	"errors"
	"math"
	"testing"
)

func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol
}

func nearIv(got, want Interval, tol float64) bool {
	return near(got.Lo, want.Lo, tol) && near(got.Hi, want.Hi, tol)
}

func TestWilsonCI(t *testing.T) {
	cases := []struct {
		name string
		p    Proportion
		want Interval
		tol  float64
	}{
		// Newcombe (1998a), "Two-sided confidence intervals for the single
		// proportion", Statist. Med. 17:857-872, worked example 81/263:
		// Wilson score interval 0.2553 to 0.3662 (4 decimals published).
		{"Newcombe1998a 81/263 published", Proportion{263, 81}, Interval{0.2553, 0.3662}, 5e-5},
		// Full precision: scipy 1.10 binomtest(81, 263).proportion_ci(method="wilson").
		{"81/263 scipy", Proportion{263, 81}, Interval{0.2552885198782742, 0.36620957698280004}, 1e-12},
		// scipy binomtest(0, 10) and (10, 10), method="wilson".
		{"0/10", Proportion{10, 0}, Interval{0, 0.27753279986288926}, 1e-12},
		{"10/10", Proportion{10, 10}, Interval{0.7224672001371109, 1}, 1e-12},
		// scipy binomtest(3810, 10000) and (385, 1100), method="wilson".
		{"3810/10000", Proportion{10000, 3810}, Interval{0.3715291901528419, 0.39056220145937914}, 1e-12},
		{"385/1100", Proportion{1100, 385}, Interval{0.3223796748419953, 0.37866434976588587}, 1e-12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := WilsonCI(c.p)
			if err != nil {
				t.Fatal(err)
			}
			if !nearIv(got, c.want, c.tol) {
				t.Errorf("WilsonCI(%d/%d) = %v, want %v ± %g", c.p.Successes, c.p.N, got, c.want, c.tol)
			}
		})
	}
}

func TestNewcombeCI(t *testing.T) {
	cases := []struct {
		name string
		t, c Proportion
		want Interval
		tol  float64
	}{
		// Newcombe (1998b), "Interval estimation for the difference between
		// independent proportions: comparison of eleven methods", Statist.
		// Med. 17:873-890, Table II, method 10 (hybrid score), 4 decimals;
		// the same values are asserted by the R package propint's test
		// "ci.two.indep.props produces the results reported in Newcombe1998".
		{"Newcombe Table II (a) 56/70-48/80", Proportion{70, 56}, Proportion{80, 48}, Interval{0.0524, 0.3339}, 5e-5},
		{"Newcombe Table II (b) 9/10-3/10", Proportion{10, 9}, Proportion{10, 3}, Interval{0.1705, 0.8090}, 5e-5},
		// Boundary cases of Table II, recomputed offline in Python from
		// scipy's Wilson intervals (binomtest(...).proportion_ci("wilson"))
		// and the method-10 formula; rounded to 4 decimals.
		{"(d) 5/56-0/29", Proportion{56, 5}, Proportion{29, 0}, Interval{-0.0381, 0.1926}, 5e-5},
		{"(e) 0/10-0/20", Proportion{10, 0}, Proportion{20, 0}, Interval{-0.1611, 0.2775}, 5e-5},
		{"(f) 0/10-0/10", Proportion{10, 0}, Proportion{10, 0}, Interval{-0.2775, 0.2775}, 5e-5},
		{"(g) 10/10-0/20", Proportion{10, 10}, Proportion{20, 0}, Interval{0.6791, 1}, 5e-5},
		{"(h) 10/10-0/10", Proportion{10, 10}, Proportion{10, 0}, Interval{0.6075, 1}, 5e-5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NewcombeCI(c.t, c.c)
			if err != nil {
				t.Fatal(err)
			}
			if !nearIv(got, c.want, c.tol) {
				t.Errorf("NewcombeCI(%v, %v) = %v, want %v ± %g", c.t, c.c, got, c.want, c.tol)
			}
		})
	}
}

func TestCompareProportions(t *testing.T) {
	cases := []struct {
		name       string
		t, c       Proportion
		absLift    float64
		relLift    float64
		rel        Interval // Katz
		p          float64  // pooled z
		relTol     float64
		holdout    float64
		srm        float64
		srmWarning bool
	}{
		// Relative lift: scipy.stats.contingency.relative_risk(56, 70, 48,
		// 80).confidence_interval(0.95) (Katz log interval) minus 1.
		// p: scipy.stats.chi2_contingency([[56, 14], [48, 32]],
		// correction=False).pvalue. SRM: scipy.stats.chisquare([70, 80],
		// f_exp=[75, 75]).pvalue = 0.4142161782425251.
		{"56/70 vs 48/80", Proportion{70, 56}, Proportion{80, 48}, 0.2, 1.0 / 3,
			Interval{0.07662642276319298, 0.651248511266387}, 0.008045081368196585, 1e-12,
			0.5, 0.4142161782425251, false},
		// scipy relative_risk(9, 10, 3, 10), chi2_contingency([[9,1],[3,7]],
		// correction=False). SRM of 10 vs 10 at 50%: chi-square 0, p = 1.
		{"9/10 vs 3/10", Proportion{10, 9}, Proportion{10, 3}, 0.6, 2,
			Interval{0.1383503574476701, 6.906177514784792}, 0.0061698993205441645, 1e-12,
			0.5, 1, false},
		// scipy relative_risk(3810, 10000, 385, 1100),
		// chi2_contingency([[3810, 6190], [385, 715]], correction=False);
		// SRM: chisquare([10000, 1100], f_exp=[9990, 1110]).pvalue.
		{"3810/10000 vs 385/1100", Proportion{10000, 3810}, Proportion{1100, 385}, 0.381 - 0.35, 0.381/0.35 - 1,
			Interval{0.0005473876469062056, 0.1843394623106287}, 0.04414978260702846, 1e-12,
			0.1, 0.751709543078071, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := CompareProportions("retention", c.t, c.c, c.holdout)
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.AbsLift, c.absLift, 1e-12) {
				t.Errorf("abs lift %v, want %v", r.AbsLift, c.absLift)
			}
			if !near(r.RelLift, c.relLift, 1e-12) {
				t.Errorf("rel lift %v, want %v", r.RelLift, c.relLift)
			}
			if !nearIv(r.RelLiftCI95, c.rel, c.relTol) {
				t.Errorf("rel lift CI %v, want %v", r.RelLiftCI95, c.rel)
			}
			if !near(r.PValue, c.p, 1e-12) {
				t.Errorf("p %v, want %v", r.PValue, c.p)
			}
			if !near(r.SRMPValue, c.srm, 1e-12) || r.SRMWarning != c.srmWarning {
				t.Errorf("srm p %v warning %v, want %v %v", r.SRMPValue, r.SRMWarning, c.srm, c.srmWarning)
			}
			wantAbs := newcombe(c.t, c.c)
			if r.AbsLiftCI95 != wantAbs {
				t.Errorf("abs lift CI %v, want Newcombe %v", r.AbsLiftCI95, wantAbs)
			}
			for _, g := range []struct {
				got  GroupStats
				want Proportion
			}{{r.Treatment, c.t}, {r.Control, c.c}} {
				w, _ := WilsonCI(g.want)
				if g.got.N != g.want.N || g.got.Successes != g.want.Successes || g.got.Mean != g.want.Rate() || g.got.CI95 != w {
					t.Errorf("group %+v, want counts %+v with Wilson %v", g.got, g.want, w)
				}
			}
		})
	}

	t.Run("ZeroTreatmentSuccesses", func(t *testing.T) {
		// 0/20 vs 5/25. scipy relative_risk gives [0, nan] here; lift uses
		// the Haldane–Anscombe correction for the upper bound, hand-computed:
		// RR' = (0.5/21)/(5.5/26) = 0.112554..., se = sqrt(1/0.5 - 1/21 +
		// 1/5.5 - 1/26) = 1.4897..., upper = RR'·exp(1.959964·se) − 1.
		// p: scipy chi2_contingency([[0, 20], [5, 20]], correction=False).
		r, err := CompareProportions("conversion", Proportion{20, 0}, Proportion{25, 5}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		rr := (0.5 / 21) / (5.5 / 26)
		se := math.Sqrt(1/0.5 - 1.0/21 + 1/5.5 - 1.0/26)
		wantHi := rr*math.Exp(1.959963984540054*se) - 1
		if r.RelLift != -1 || r.RelLiftCI95.Lo != -1 || !near(r.RelLiftCI95.Hi, wantHi, 1e-9) {
			t.Errorf("rel lift %v CI %v, want -1 [-1, %v]", r.RelLift, r.RelLiftCI95, wantHi)
		}
		if !near(r.PValue, 0.03389485352468936, 1e-12) {
			t.Errorf("p %v, want 0.03389485352468936", r.PValue)
		}
	})
	t.Run("ZeroControlSuccesses", func(t *testing.T) {
		r, err := CompareProportions("conversion", Proportion{20, 3}, Proportion{25, 0}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(r.RelLift) || !math.IsNaN(r.RelLiftCI95.Lo) || !math.IsNaN(r.RelLiftCI95.Hi) {
			t.Errorf("rel lift %v CI %v, want NaN (undefined)", r.RelLift, r.RelLiftCI95)
		}
	})
	t.Run("AllZero", func(t *testing.T) {
		r, err := CompareProportions("conversion", Proportion{20, 0}, Proportion{25, 0}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue != 1 || r.AbsLift != 0 {
			t.Errorf("p %v abs %v, want 1 and 0", r.PValue, r.AbsLift)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		cases := []struct {
			name    string
			t, c    Proportion
			holdout float64
			want    error
		}{
			{"ErrEmptyGroup", Proportion{}, Proportion{10, 1}, 0.5, ErrEmptyGroup},
			{"ErrCounts", Proportion{10, 11}, Proportion{10, 1}, 0.5, ErrCounts},
			{"ErrCountsNegative", Proportion{10, 1}, Proportion{10, -1}, 0.5, ErrCounts},
			{"ErrShare", Proportion{10, 1}, Proportion{10, 1}, 0, ErrShare},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := CompareProportions("m", c.t, c.c, c.holdout); !errors.Is(err, c.want) {
					t.Errorf("got %v, want %v", err, c.want)
				}
			})
		}
	})
}

// Welch's t-test example 1 of the Wikipedia article "Welch's t-test"
// (A1, A2 below): published t = -2.46, ν = 25.0, p = 0.021.
var (
	welchA1 = []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	welchA2 = []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	// A zero-inflated, revenue-like pair.
	revB1 = []float64{0, 0, 12.5, 0, 40, 7.25, 0, 0, 3, 19.99, 0, 55, 0, 0, 8}
	revB2 = []float64{0, 5, 0, 0, 0, 2.5, 0, 30, 0, 0, 0, 4, 0, 0}
)

func TestCompareMeans(t *testing.T) {
	type want struct {
		meanT, meanC, sdT, sdC float64
		ciT, ciC               Interval
		diff, df               float64
		abs                    Interval
		p                      float64
		rel                    float64
		relCI                  Interval
	}
	// All numbers computed offline with scipy 1.10 and numpy: means and
	// sd(ddof=1); group intervals stats.t.interval(0.95, n-1, mean, sem);
	// df by the Welch–Satterthwaite formula; the difference interval
	// diff ± stats.t.ppf(0.975, df)·se; p from stats.ttest_ind(x, y,
	// equal_var=False); relative interval by the delta-method formula in
	// deltaRatioCI with stats.norm.ppf(0.975).
	cases := []struct {
		name string
		x, y []float64
		want want
	}{
		{"Wikipedia Welch example 1", welchA1, welchA2, want{
			20.819999999999997, 22.986666666666665, 2.8048936827317665, 1.9526050974702152,
			Interval{19.266701652451875, 22.37329834754812}, Interval{21.90535000572263, 24.067983327610698},
			-2.166666666666668, 24.988529290231416,
			Interval{-3.9840962671409264, -0.34923706619240935}, 0.021378001462866985,
			-0.09425754060324831, Interval{-0.16725848813187208, -0.021256593074624547}}},
		{"zero-inflated revenue", revB1, revB2, want{
			9.716000000000001, 2.9642857142857144, 16.669910360543977, 7.962566955917702,
			Interval{0.4845113427935672, 18.947488657206435}, Interval{-1.6331635704464782, 7.561734999017907},
			6.751714285714287, 20.370467147703035,
			Interval{-3.25239068198523, 16.755819253413804}, 0.174746529060212,
			2.277686746987952, Interval{-3.1416377506499003, 7.697011244625804}}},
	}
	const tol = 1e-9
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := CompareMeans("revenue", MomentsOf(c.x), MomentsOf(c.y), 0.5)
			if err != nil {
				t.Fatal(err)
			}
			w := c.want
			checks := []struct {
				what      string
				got, want float64
			}{
				{"treatment mean", r.Treatment.Mean, w.meanT}, {"control mean", r.Control.Mean, w.meanC},
				{"treatment sd", r.Treatment.SD, w.sdT}, {"control sd", r.Control.SD, w.sdC},
				{"treatment ci lo", r.Treatment.CI95.Lo, w.ciT.Lo}, {"treatment ci hi", r.Treatment.CI95.Hi, w.ciT.Hi},
				{"control ci lo", r.Control.CI95.Lo, w.ciC.Lo}, {"control ci hi", r.Control.CI95.Hi, w.ciC.Hi},
				{"abs lift", r.AbsLift, w.diff}, {"df", r.DF, w.df},
				{"abs ci lo", r.AbsLiftCI95.Lo, w.abs.Lo}, {"abs ci hi", r.AbsLiftCI95.Hi, w.abs.Hi},
				{"p", r.PValue, w.p}, {"rel lift", r.RelLift, w.rel},
				{"rel ci lo", r.RelLiftCI95.Lo, w.relCI.Lo}, {"rel ci hi", r.RelLiftCI95.Hi, w.relCI.Hi},
			}
			for _, ch := range checks {
				if !near(ch.got, ch.want, tol) {
					t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
				}
			}
		})
	}
	t.Run("Wikipedia published rounding", func(t *testing.T) {
		r, err := CompareMeans("m", MomentsOf(welchA1), MomentsOf(welchA2), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		tStat := r.AbsLift / ((r.AbsLiftCI95.Hi - r.AbsLiftCI95.Lo) / 2 / tQuantile975(r.DF))
		if !near(tStat, -2.46, 0.005) || !near(r.DF, 25.0, 0.05) || !near(r.PValue, 0.021, 0.0005) {
			t.Errorf("t %.3f df %.2f p %.4f, want -2.46, 25.0, 0.021", tStat, r.DF, r.PValue)
		}
	})
	t.Run("ZeroVariance", func(t *testing.T) {
		r, err := CompareMeans("m", MomentsOf([]float64{2, 2, 2}), MomentsOf([]float64{1, 1}), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue != 0 || r.AbsLiftCI95 != (Interval{1, 1}) || !math.IsNaN(r.DF) {
			t.Errorf("p %v CI %v df %v, want 0, [1, 1], NaN", r.PValue, r.AbsLiftCI95, r.DF)
		}
	})
	t.Run("ZeroControlMean", func(t *testing.T) {
		r, err := CompareMeans("m", MomentsOf([]float64{1, 2}), MomentsOf([]float64{-1, 1}), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(r.RelLift) || !math.IsNaN(r.RelLiftCI95.Lo) {
			t.Errorf("rel lift %v CI %v, want NaN", r.RelLift, r.RelLiftCI95)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		ok := MomentsOf([]float64{1, 2, 3})
		cases := []struct {
			name string
			t, c Moments
			want error
		}{
			{"ErrTooFew", MomentsOf([]float64{1}), ok, ErrTooFew},
			{"ErrNotFiniteMean", Moments{N: 3, Mean: math.NaN()}, ok, ErrNotFinite},
			{"ErrNotFiniteM2", ok, Moments{N: 3, M2: math.Inf(1)}, ErrNotFinite},
			{"ErrNotFiniteNegative", ok, Moments{N: 3, M2: -1}, ErrNotFinite},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := CompareMeans("m", c.t, c.c, 0.5); !errors.Is(err, c.want) {
					t.Errorf("got %v, want %v", err, c.want)
				}
			})
		}
	})
}

func TestMoments(t *testing.T) {
	x := append(append([]float64{}, welchA1...), revB1...)
	want := MomentsOf(x)
	// numpy: mean and var(ddof=1) of welchA1 + revB1 concatenated.
	const wantMean, wantVar = 15.268, 169.83751310344823
	if !near(want.Mean, wantMean, 1e-12) || !near(want.Variance(), wantVar, 1e-9) {
		t.Fatalf("MomentsOf: mean %v var %v, want %v %v", want.Mean, want.Variance(), wantMean, wantVar)
	}
	var added Moments
	for _, v := range x {
		added.Add(v)
	}
	a, b := MomentsOf(welchA1), MomentsOf(revB1)
	merged := a
	merged.Merge(b)
	var fromEmpty Moments
	fromEmpty.Merge(want)
	fromEmpty.Merge(Moments{})
	for name, got := range map[string]Moments{"Add": added, "Merge": merged, "Merge into empty": fromEmpty} {
		if got.N != want.N || !near(got.Mean, want.Mean, 1e-12) || !near(got.M2, want.M2, 1e-9) {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	s := MomentsFromSummary(15, 20.82, 2.8048936827317665)
	if !near(s.Variance(), MomentsOf(welchA1).Variance(), 1e-9) {
		t.Errorf("MomentsFromSummary variance %v, want %v", s.Variance(), MomentsOf(welchA1).Variance())
	}
	if !math.IsNaN(MomentsOf([]float64{3}).Variance()) {
		t.Errorf("variance of one value should be NaN")
	}
}

func TestSRMPValue(t *testing.T) {
	cases := []struct {
		name    string
		nt, nc  int
		holdout float64
		want    float64
		warn    bool
	}{
		// scipy.stats.chisquare(observed, f_exp=expected).pvalue for each.
		// 10% configured, 12% observed at n = 20,000: chi-square 88.89.
		{"broken 10% split", 17600, 2400, 0.1, 4.176224919260252e-21, true},
		{"fine 10% split", 18050, 1950, 0.1, 0.2385928293164321, false},
		{"50/50 at the 5% edge", 5100, 4900, 0.5, 0.04550026389635857, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SRMPValue(c.nt, c.nc, c.holdout)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.want) > 1e-9*c.want { // relative: p spans 20 orders of magnitude
				t.Errorf("SRMPValue(%d, %d, %v) = %v, want %v", c.nt, c.nc, c.holdout, got, c.want)
			}
			if (got < SRMThreshold) != c.warn {
				t.Errorf("warning %v, want %v", got < SRMThreshold, c.warn)
			}
		})
	}
	for _, bad := range []struct {
		nt, nc  int
		holdout float64
		want    error
	}{{10, 10, 0, ErrShare}, {10, 10, 1, ErrShare}, {10, 10, math.NaN(), ErrShare}, {0, 0, 0.5, ErrEmptyGroup}, {-1, 5, 0.5, ErrCounts}} {
		if _, err := SRMPValue(bad.nt, bad.nc, bad.holdout); !errors.Is(err, bad.want) {
			t.Errorf("SRMPValue(%d, %d, %v): got %v, want %v", bad.nt, bad.nc, bad.holdout, err, bad.want)
		}
	}
}
