// Package lift owns the statistics of lapse experiments: deterministic
// holdout assignment, incrementality estimates with confidence intervals,
// the sample-ratio-mismatch check and experiment planning. It imports the
// standard library and gonum only; storage (serving/store), the CLI
// (lapse experiment, lapse lift) and the HTTP endpoints build on it. Model
// lift (deciles, gains) belongs to training.
//
// # Assignment
//
// A user's group is a pure function of (experiment, salt, user id): the
// first 64 bits of HMAC-SHA256, keyed with the experiment name and salt,
// of the user id, mapped to a number u in [0, 1) (see Assigner.Unit). The
// user is in Control when u < holdout. So a user lands in the same group
// on every machine and after every restart, raising the holdout only moves
// users into Control, and the splits of different experiments are
// independent because their keys differ. Assign and Assigner implement the
// rule; InGlobalControl and NewGlobalControl apply it with a key reserved
// for the global control group, which segment and treatment exports
// suppress.
//
// AssignStratified gives every stratum (e.g. risk band) exactly
// round(holdout·n) control users: those with the smallest u in the
// stratum. Its result depends on the whole membership of a stratum, so
// only the plain rule is stable when users are added later; experiments
// store their assignments at creation either way.
//
// # Statistics
//
// CompareProportions (retention, conversion) reports per group the rate
// with its Wilson score interval; the absolute lift treatment − control
// with Newcombe's hybrid score interval (method 10 of Newcombe 1998); the
// relative lift treatment/control − 1 with the Katz log risk-ratio
// interval; and the two-sided p-value of the pooled two-proportion z-test
// (Pearson's chi-square without continuity correction).
//
// CompareMeans (revenue per user) reports per group the mean with a
// Student t interval; the difference with Welch's t interval and
// Welch–Satterthwaite degrees of freedom; the relative lift with a
// delta-method interval on the ratio of means; and the two-sided Welch
// t-test p-value.
//
// Both check the sample ratio: a chi-square goodness-of-fit test of the
// group sizes against the configured holdout, with SRMWarning set when its
// p-value is below SRMThreshold (0.001). All intervals are 95%.
//
// Breakdowns (per segment, per risk band) are the same comparisons on the
// users of each segment, by the attributes the users had at assignment
// time (Assignment.Attribute).
//
// # Measuring an experiment
//
// Measure turns an experiment's stored assignments and one Outcome per
// assigned user (retained, converted, revenue in the outcome window) into
// a Report: retention and conversion by CompareProportions, revenue per
// user by CompareMeans, overall and per breakdown segment (segments where
// a group has fewer than MinBreakdownGroup users are listed in
// Report.Omitted). Users count in the group they were assigned to
// (intention to treat), whether or not an export reached them. The
// outcomes themselves come from features (State.Outcome for stored
// states, OutcomeCounter for event files); Report.Window records the
// period and source.
//
// # Text
//
// Result.Sentence and Report.WriteText read like a result, not a dump:
//
//	Retention +3.1 points (95% CI +1.2 to +5.0), p = 0.002: the campaign kept about 310 of 10,000 targeted users.
//
// A result is called an effect only when p < 0.05 and the interval
// excludes 0; otherwise the sentence says "no detectable effect" and gives
// the range the data allow. A sample ratio mismatch adds a loud warning.
//
// # JSON schema
//
// A Result is encoded as follows (values are examples; numbers that are
// undefined, such as a relative lift over a zero control rate, are null).
// Rates and lifts are fractions, not percentage points.
//
//	{
//	  "metric": "retention",            // name given by the caller
//	  "kind": "proportion",             // or "mean"
//	  "treatment": {
//	    "n": 10000,                     // users in the group
//	    "successes": 3810,              // proportions only
//	    "rate": 0.381,                  // proportions; means have "mean" and "sd"
//	    "ci95": [0.3715, 0.3906]        // Wilson (rate) or Student t (mean)
//	  },
//	  "control": {"n": 3100, "successes": 1085, "rate": 0.35, "ci95": [0.3334, 0.3670]},
//	  "abs_lift": 0.031,                // treatment − control
//	  "abs_lift_ci95": [0.0116, 0.0502],
//	  "rel_lift": 0.0886,               // treatment / control − 1
//	  "rel_lift_ci95": [0.0313, 0.1491],
//	  "p_value": 0.0018,                // two-sided
//	  "df": 1290.4,                     // means only: Welch–Satterthwaite
//	  "holdout": 0.24,                  // configured control share
//	  "srm_p_value": 0.368,
//	  "srm_warning": false,             // srm_p_value < 0.001
//	  "methods": {                      // informational, fixed per kind
//	    "group_ci95": "wilson",                   // "student-t" for means
//	    "abs_lift_ci95": "newcombe-hybrid-score", // "welch-t"
//	    "rel_lift_ci95": "katz-log-risk-ratio",   // "delta-ratio"
//	    "p_value": "pooled-z",                    // "welch-t"
//	    "srm_p_value": "chi-square-gof"
//	  }
//	}
//
// A Report is {"experiment", "holdout", "metrics": [Result...],
// "breakdowns": {"risk_band": {"high": [Result...], ...}, ...},
// "omitted": {"segment": ["unscored"]}, "window": {"start", "end", "days",
// "data_through", "complete", "source", "model_version"}} (breakdowns,
// omitted and window may be absent). A
// HoldoutPlan is {"segment", "per_group", "feasible", "holdout",
// "control", "treatment", "power", "detectable_mde"}.
//
// # Planning
//
// SampleSize gives the users per group for a two-sided two-proportion test
// (pooled variance under the null, unpooled under the alternative); Power
// and DetectableMDE are its companions for unequal groups; PlanHoldout
// finds the smallest control share of a targeted segment that reaches the
// requested power, or reports what a 50/50 split could detect.
//
// # Caveats
//
// The intervals and tests are large-sample approximations. Newcombe's and
// Wilson's intervals behave well even for small counts; Welch's interval
// for a skewed outcome such as revenue needs enough users per group for
// the mean to be near normal (hundreds for typical revenue data; a few
// large spenders can dominate). The relative-lift intervals are undefined
// when the control rate or mean is 0. No function corrects for looking at
// many metrics or breakdowns: with 20 segments, one is expected to show
// p < 0.05 by chance.
package lift
