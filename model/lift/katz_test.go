package lift

import "testing"

// TestKatzTextbook checks the relative-lift interval against the worked
// example of the scipy.stats.contingency.relative_risk documentation:
// coronary heart disease in 27 of 122 men with high catecholamine (CAT)
// against 44 of 487 with low CAT; relative risk 2.4495 with the 95% Katz
// log interval (1.5836990926700116, 3.7886786315466354). By hand:
// RR = (27/122)/(44/487) = 2.44949..., se(log RR) = sqrt(1/27 − 1/122 +
// 1/44 − 1/487) = 0.222519..., RR·exp(±1.959964·se) = 1.58370, 3.78868.
// The relative lift is RR − 1.
func TestKatzTextbook(t *testing.T) {
	got := katz(Proportion{N: 122, Successes: 27}, Proportion{N: 487, Successes: 44})
	want := Interval{1.5836990926700116 - 1, 3.7886786315466354 - 1}
	if !nearIv(got, want, 1e-9) {
		t.Errorf("katz(27/122, 44/487) = %v, want %v", got, want)
	}
	r := mustProportions(t, "conversion", Proportion{N: 122, Successes: 27}, Proportion{N: 487, Successes: 44}, 487.0/609)
	if !near(r.RelLift, 27.0/122/(44.0/487)-1, 1e-12) || !nearIv(r.RelLiftCI95, want, 1e-9) {
		t.Errorf("CompareProportions: rel lift %v %v, want %v", r.RelLift, r.RelLiftCI95, want)
	}
}
