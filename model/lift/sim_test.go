package lift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The simulation tests run 2,000 seeded experiments per scenario. With
// 2,000 runs the standard error of a 95% coverage is 0.49 points and of a
// 5% rejection rate 0.49 points, so the bands 93–97% and 3–7% are about
// four standard errors wide on each side: a correct method fails them with
// negligible probability. Checked by mutation: scaling every interval's
// half-width by 0.85 or by 1.15 makes all eight coverage checks fail.
const simRuns = 2000

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x1a5e)) }

type propScenario struct {
	name   string
	nt, nc int
	pt, pc float64
}

func simulateProportions(sc propScenario, seed uint64, f func(Result)) error {
	r := newRand(seed)
	bt := distuv.Binomial{N: float64(sc.nt), P: sc.pt, Src: r}
	bc := distuv.Binomial{N: float64(sc.nc), P: sc.pc, Src: r}
	for range simRuns {
		t := Proportion{N: sc.nt, Successes: int(bt.Rand())}
		c := Proportion{N: sc.nc, Successes: int(bc.Rand())}
		res, err := CompareProportions("retention", t, c, float64(sc.nc)/float64(sc.nt+sc.nc))
		if err != nil {
			return err
		}
		f(res)
	}
	return nil
}

func TestSimulatedProportionCoverage(t *testing.T) {
	scenarios := []propScenario{
		{"10% holdout, +3 points on 30%", 4500, 500, 0.33, 0.30},
		{"small groups, low rate, +3 points on 5%", 400, 200, 0.08, 0.05},
		{"50/50, -2 points on 60%", 3000, 3000, 0.58, 0.60},
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			trueAbs, trueRel := sc.pt-sc.pc, sc.pt/sc.pc-1
			var absCover, relCover int
			err := simulateProportions(sc, uint64(100+i), func(r Result) {
				if r.AbsLiftCI95.Contains(trueAbs) {
					absCover++
				}
				if r.RelLiftCI95.Contains(trueRel) {
					relCover++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			abs, rel := float64(absCover)/simRuns, float64(relCover)/simRuns
			t.Logf("Newcombe coverage %.4f, Katz coverage %.4f", abs, rel)
			if abs < 0.93 || abs > 0.97 {
				t.Errorf("Newcombe interval covered the true difference %.4f in %.2f%% of %d runs, want 93–97%%", trueAbs, 100*abs, simRuns)
			}
			if rel < 0.93 || rel > 0.97 {
				t.Errorf("Katz interval covered the true relative lift %.4f in %.2f%% of %d runs, want 93–97%%", trueRel, 100*rel, simRuns)
			}
		})
	}
}

func TestSimulatedProportionTypeI(t *testing.T) {
	for i, sc := range []propScenario{
		{"10% holdout at 30%", 4500, 500, 0.30, 0.30},
		{"50/50 at 8%", 1000, 1000, 0.08, 0.08},
	} {
		t.Run(sc.name, func(t *testing.T) {
			var rejected, excluded int
			err := simulateProportions(sc, uint64(200+i), func(r Result) {
				if r.PValue < 0.05 {
					rejected++
				}
				if !r.AbsLiftCI95.Contains(0) {
					excluded++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			rate := float64(rejected) / simRuns
			t.Logf("p < 0.05 in %.4f, interval excludes 0 in %.4f", rate, float64(excluded)/simRuns)
			if rate < 0.03 || rate > 0.07 {
				t.Errorf("p < 0.05 in %.2f%% of %d runs with no effect, want 3–7%%", 100*rate, simRuns)
			}
		})
	}
}

// revenueDraw draws one user's revenue: with probability buy a lognormal
// amount exp(N(mu, 1)), else 0. Its mean is buy·exp(mu + 1/2).
func revenueDraw(r *rand.Rand, buy, mu float64) float64 {
	if r.Float64() >= buy {
		return 0
	}
	return math.Exp(mu + r.NormFloat64())
}

func simulateMeans(nt, nc int, buyT, buyC, mu float64, seed uint64, f func(Result)) error {
	r := newRand(seed)
	for range simRuns {
		var t, c Moments
		for range nt {
			t.Add(revenueDraw(r, buyT, mu))
		}
		for range nc {
			c.Add(revenueDraw(r, buyC, mu))
		}
		res, err := CompareMeans("revenue", t, c, float64(nc)/float64(nt+nc))
		if err != nil {
			return err
		}
		f(res)
	}
	return nil
}

func TestSimulatedRevenueCoverage(t *testing.T) {
	// Zero-inflated lognormal revenue: 25% vs 20% of users buy, amounts
	// exp(N(3, 1)); true means 0.25·e^3.5 and 0.20·e^3.5.
	const nt, nc, buyT, buyC, mu = 2000, 1000, 0.25, 0.20, 3.0
	trueAbs := (buyT - buyC) * math.Exp(mu+0.5)
	trueRel := buyT/buyC - 1
	var absCover, relCover int
	err := simulateMeans(nt, nc, buyT, buyC, mu, 300, func(r Result) {
		if r.AbsLiftCI95.Contains(trueAbs) {
			absCover++
		}
		if r.RelLiftCI95.Contains(trueRel) {
			relCover++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	abs, rel := float64(absCover)/simRuns, float64(relCover)/simRuns
	t.Logf("Welch coverage %.4f, delta-method coverage %.4f", abs, rel)
	if abs < 0.93 || abs > 0.97 {
		t.Errorf("Welch interval covered the true difference %.3f in %.2f%% of %d runs, want 93–97%%", trueAbs, 100*abs, simRuns)
	}
	if rel < 0.93 || rel > 0.97 {
		t.Errorf("delta-method interval covered the true relative lift %.3f in %.2f%% of %d runs, want 93–97%%", trueRel, 100*rel, simRuns)
	}
}

func TestSimulatedRevenueTypeI(t *testing.T) {
	var rejected int
	err := simulateMeans(2000, 1000, 0.2, 0.2, 3.0, 400, func(r Result) {
		if r.PValue < 0.05 {
			rejected++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rate := float64(rejected) / simRuns
	t.Logf("p < 0.05 in %.4f", rate)
	if rate < 0.03 || rate > 0.07 {
		t.Errorf("Welch p < 0.05 in %.2f%% of %d runs with no effect, want 3–7%%", 100*rate, simRuns)
	}
}

// TestSimulatedPower checks SampleSize end to end: at the computed size
// per group the pooled z-test detects the planned effect (p < 0.05 in the
// right direction) in 80% ± 4 standard errors (0.89 points) of the runs.
func TestSimulatedPower(t *testing.T) {
	n, err := SampleSize(0.35, 0.02, 0.8, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	var detected int
	err = simulateProportions(propScenario{"power", n, n, 0.37, 0.35}, 500, func(r Result) {
		if r.PValue < 0.05 && r.AbsLift > 0 {
			detected++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got := float64(detected) / simRuns
	se := math.Sqrt(0.8 * 0.2 / simRuns)
	t.Logf("power %.4f at n = %d per group", got, n)
	if math.Abs(got-0.8) > 4*se {
		t.Errorf("detected the effect in %.2f%% of %d runs at n = %d, want 80%% ± %.2f", 100*got, simRuns, n, 400*se)
	}
}

func TestSimulatedSRM(t *testing.T) {
	const n, holdout = 20_000, 0.1
	t.Run("hash assignment is not flagged", func(t *testing.T) {
		a := NewAssigner("srm-check", "salt")
		nc := 0
		for i := range n {
			if a.Group(fmt.Sprintf("user-%d", i), holdout) == Control {
				nc++
			}
		}
		p, err := SRMPValue(n-nc, nc, holdout)
		if err != nil {
			t.Fatal(err)
		}
		if p < SRMThreshold {
			t.Errorf("correct split %d/%d flagged: p = %g", n-nc, nc, p)
		}
	})
	t.Run("broken split is flagged", func(t *testing.T) {
		// 12% observed in control against 10% configured, e.g. because
		// the treatment arm lost users to a logging bug.
		r, err := CompareProportions("retention", Proportion{N: n - 2400, Successes: 6000}, Proportion{N: 2400, Successes: 800}, holdout)
		if err != nil {
			t.Fatal(err)
		}
		if !r.SRMWarning {
			t.Errorf("12%% control against 10%% configured not flagged: p = %g", r.SRMPValue)
		}
	})
	t.Run("rates over random splits", func(t *testing.T) {
		r := newRand(600)
		correct := distuv.Binomial{N: n, P: holdout, Src: r}
		broken := distuv.Binomial{N: n, P: 0.12, Src: r}
		var falseAlarms, caught int
		for range simRuns {
			nc := int(correct.Rand())
			if p, _ := SRMPValue(n-nc, nc, holdout); p < SRMThreshold {
				falseAlarms++
			}
			nc = int(broken.Rand())
			if p, _ := SRMPValue(n-nc, nc, holdout); p < SRMThreshold {
				caught++
			}
		}
		// Expected false alarms 0.1% (2 of 2,000); 4 standard errors
		// allow up to 0.38%, i.e. 7 runs.
		if falseAlarms > 7 {
			t.Errorf("correct splits flagged in %d of %d runs, want about 2", falseAlarms, simRuns)
		}
		if caught != simRuns {
			t.Errorf("12%% splits flagged in %d of %d runs, want all", caught, simRuns)
		}
	})
}
