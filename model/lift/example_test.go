package lift_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/lapse-dev/lapse/model/lift"
)

// The sentence of issue 5: 3,810 of 10,000 treated users retained against
// 1,085 of 3,100 held out.
func ExampleCompareProportions() {
	var treat, ctrl lift.Proportion
	for i := range 10000 {
		treat.Add(i < 3810)
	}
	for i := range 3100 {
		ctrl.Add(i < 1085)
	}
	r, err := lift.CompareProportions("retention", treat, ctrl, 0.24)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Sentence())
	// Output:
	// Retention +3.1 points (95% CI +1.2 to +5.0), p = 0.002: the campaign kept about 310 of 10,000 targeted users.
}

func ExampleResult_MarshalJSON() {
	r, err := lift.CompareProportions("retention", lift.Proportion{N: 10000, Successes: 3810},
		lift.Proportion{N: 3100, Successes: 1085}, 0.24)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		fmt.Println(err)
	}
}

func ExampleAssign() {
	// The same inputs give the same group on every machine.
	fmt.Println(lift.Assign("winback-2024", "s3cret", "u1", 0.1))
	fmt.Println(lift.Assign("winback-2024", "s3cret", "17850", 0.1))
	// Output:
	// control
	// treatment
}

func ExamplePlanHoldout() {
	n, _ := lift.SampleSize(0.35, 0.02, 0.8, 0.05)
	fmt.Printf("users per group for 35%% -> 37%%: %d\n", n)
	p, _ := lift.PlanHoldout(100_000, 0.35, 0.02, 0.8, 0.05)
	fmt.Printf("segment of 100,000: feasible %v, holdout %.2f%% (%d control users)\n", p.Feasible, 100*p.Holdout, p.Control)
	p, _ = lift.PlanHoldout(5_000, 0.35, 0.02, 0.8, 0.05)
	fmt.Printf("segment of 5,000: feasible %v, a 50/50 split detects %+.1f points\n", p.Feasible, 100*p.DetectableMDE)
	// Output:
	// users per group for 35% -> 37%: 9041
	// segment of 100,000: feasible true, holdout 4.77% (4767 control users)
	// segment of 5,000: feasible false, a 50/50 split detects +3.8 points
}
