package features

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// tcut is the cutoff of the hand-computed tests: Friday 2024-03-01 00:00 UTC,
// so the window of w days is exactly [T − w·24h, T).
var tcut = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// before returns the time d days and h hours before tcut.
func beforeCut(d, h float64) time.Time {
	return tcut.Add(-time.Duration((d*24 + h) * float64(time.Hour)))
}

// ev is a short Event constructor for tests.
func tev(user, name string, t time.Time, amount float64) Event {
	return Event{UserID: user, Name: name, Time: t, Amount: amount}
}

// smallSpec is the fixed Spec of the family tests: windows 7 and 30 days
// (so the retention is 60 days), vocabulary login and purchase, the default
// purchase, target and intent events, every event is activity, L = 90.
func smallSpec() *Spec {
	s := DefaultSpec()
	s.Windows = []int{7, 30}
	s.Vocabulary = []string{"login", "purchase"}
	s.Derive()
	return s
}

// vectorOf computes the vector of one user's events at cutoff twice: through
// a State (events added in the given order, then in reverse) and through a
// Builder with the same fixed Spec. The three must agree bit for bit. It
// returns the values by feature name, and whether the Builder found the user
// eligible (an ineligible user has no Builder vector to compare).
func vectorOf(t *testing.T, spec *Spec, cutoff time.Time, evs []Event) (map[string]float64, bool) {
	t.Helper()
	f, err := NewFeaturizer(spec)
	if err != nil {
		t.Fatal(err)
	}
	st, st2 := f.NewState(), f.NewState()
	for i := range evs {
		if err := st.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
		if err := st2.Add(&evs[len(evs)-1-i]); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.Vector(st, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := f.Vector(st2, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v, v2) {
		t.Fatalf("vector depends on event order:\n%v\n%v", v, v2)
	}
	b, err := NewBuilder(BuilderConfig{Cutoff: cutoff, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := b.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	eligible := len(ds.Vectors) == 1
	if eligible && !slices.Equal(ds.Vectors[0].Values, v) {
		t.Fatalf("builder and state disagree:\nbuilder %v\nstate   %v", ds.Vectors[0].Values, v)
	}
	m := make(map[string]float64, len(v))
	for i, n := range f.Names() {
		m[n] = v[i]
	}
	return m, eligible
}

// featureCase is one hand-computed case: events of user "u" and the expected
// value of some features; the comment of each case shows the arithmetic.
type featureCase struct {
	name   string
	spec   *Spec     // nil = smallSpec()
	cutoff time.Time // zero = tcut
	events []Event
	want   map[string]float64
}

func runFeatureCases(t *testing.T, cases []featureCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = smallSpec()
			}
			cutoff := tc.cutoff
			if cutoff.IsZero() {
				cutoff = tcut
			}
			got, _ := vectorOf(t, spec, cutoff, tc.events)
			for name, want := range tc.want {
				g, ok := got[name]
				if !ok {
					t.Errorf("no feature %q; have %v", name, spec.Names())
					continue
				}
				// Hand references; 1e-12 absorbs only float rounding.
				if math.Abs(g-want) > 1e-12*math.Max(1, math.Abs(want)) {
					t.Errorf("%s = %v, want %v", name, g, want)
				}
			}
		})
	}
}

func TestRecencyTenure(t *testing.T) {
	upgrade := smallSpec()
	upgrade.TargetEvent = "upgrade"
	upgrade.Derive()
	runFeatureCases(t, []featureCase{
		{
			// Last activity 30 h before T: 30/24 = 1.25 days. First activity
			// 10 days before: tenure 10. Last purchase 3 d 12 h before: 3.5.
			name: "exact times",
			events: []Event{
				tev("u", "login", beforeCut(1, 6), 0),
				tev("u", "login", beforeCut(10, 0), 0),
				tev("u", "purchase", beforeCut(3, 12), 20),
			},
			want: map[string]float64{"recency_days": 1.25, "tenure_days": 10,
				"recency_purchase_days": 3.5, "ever_purchased": 1},
		},
		{
			// No purchase: recency_purchase_days = 2 × longest window = 60.
			name:   "never purchased",
			events: []Event{tev("u", "login", beforeCut(2, 0), 0)},
			want:   map[string]float64{"recency_days": 2, "tenure_days": 2, "recency_purchase_days": 60, "ever_purchased": 0},
		},
		{
			// A purchase with a negative amount is a return, not a purchase.
			name:   "return is not a purchase",
			events: []Event{tev("u", "purchase", beforeCut(1, 0), -5)},
			want:   map[string]float64{"recency_purchase_days": 60, "ever_purchased": 0, "recency_days": 1},
		},
		{
			// The target event counts as a purchase for recency: 2 days.
			name:   "target event",
			spec:   upgrade,
			events: []Event{tev("u", "login", beforeCut(1, 0), 0), tev("u", "upgrade", beforeCut(2, 0), 0)},
			want:   map[string]float64{"recency_purchase_days": 2, "ever_purchased": 1},
		},
	})
}

func TestFrequency(t *testing.T) {
	noon := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	runFeatureCases(t, []featureCase{
		{
			// Ages (T at midnight): 1, 2, 2, 7, 8, 30, 31.
			// events_7d = 1+2+1 = 4; events_30d = 4+1+1 = 6; total 7.
			// active_days_7d = {1,2,7} = 3; active_days_30d = {1,2,7,8,30} = 5.
			name: "midnight cutoff",
			events: []Event{
				tev("u", "login", beforeCut(0, 1), 0),  // age 1
				tev("u", "login", beforeCut(1, 1), 0),  // age 2
				tev("u", "search", beforeCut(1, 2), 0), // age 2
				tev("u", "login", beforeCut(6, 23), 0), // age 7
				tev("u", "login", beforeCut(7, 1), 0),  // age 8
				tev("u", "login", beforeCut(29, 23), 0),
				tev("u", "login", beforeCut(30, 23), 0), // age 31
			},
			want: map[string]float64{"events_7d": 4, "events_30d": 6, "events_total": 7,
				"active_days_7d": 3, "active_days_30d": 5},
		},
		{
			// T = 2024-03-01 12:00, so D = 2024-03-02 and the partial day of T
			// is age 1. 02-24 00:00 (6.5 days before T) has age 7 and is in
			// the 7-day window; 02-23 23:00 (6 d 13 h before) has age 8 and is
			// not. events_7d = 3 (03-01 11:00, 02-29 13:00, 02-24 00:00).
			name:   "mid-day cutoff",
			cutoff: noon,
			events: []Event{
				tev("u", "login", time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 29, 13, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 24, 0, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 23, 23, 0, 0, 0, time.UTC), 0),
			},
			want: map[string]float64{"events_7d": 3, "active_days_7d": 3, "events_30d": 4,
				"recency_days": 1.0 / 24, "tenure_days": 6 + 13.0/24},
		},
	})
}

func TestMonetary(t *testing.T) {
	events := []Event{
		tev("u", "purchase", beforeCut(0, 2), 10),    // age 1
		tev("u", "purchase", beforeCut(4, 2), 30),    // age 5
		tev("u", "purchase", beforeCut(2, 2), -8),    // age 3: a return, refund 8
		tev("u", "order", beforeCut(19, 2), 25.5),    // age 20
		tev("u", "refund", beforeCut(9, 2), -4),      // age 10
		tev("u", "purchase", beforeCut(39, 2), 100),  // age 40: total only
		tev("u", "login", beforeCut(1, 2), 7),        // not a purchase type: no revenue
		tev("u", "purchase", beforeCut(399, 2), 50),  // age 400: beyond retention
		tev("u", "purchase", beforeCut(399, 3), 0.1), // same day, tiny
	}
	runFeatureCases(t, []featureCase{{
		// revenue_7d = 10+30 = 40, orders_7d = 2 (the return is no order),
		// refunds_7d = 8; revenue_30d = 40+25.5 = 65.5, orders_30d = 3,
		// refunds_30d = 8+4 = 12; revenue_total = 65.5+100+50+0.1 = 215.6,
		// orders_total = 6, aov = 215.6/6 = 35.9333...
		name:   "revenue orders refunds aov",
		events: events,
		want: map[string]float64{"revenue_7d": 40, "orders_7d": 2, "refunds_7d": 8,
			"revenue_30d": 65.5, "orders_30d": 3, "refunds_30d": 12,
			"revenue_total": 215.6, "orders_total": 6, "aov": 215.6 / 6},
	}, {
		// Only a login with an amount: no orders, aov 0, revenue 0.
		name:   "no orders",
		events: []Event{tev("u", "login", beforeCut(1, 0), 12)},
		want:   map[string]float64{"revenue_total": 0, "orders_total": 0, "aov": 0, "revenue_7d": 0},
	}})
}

func TestUsage(t *testing.T) {
	runFeatureCases(t, []featureCase{{
		// Vocabulary login, purchase; page_view and search are other.
		// n_login_7d = 3 (age 1), n_login_30d = 4 (+age 10);
		// n_purchase_7d = n_purchase_30d = 1; n_other_7d = 2 page views,
		// n_other_30d = 3 (+search at age 20; the age-31 search is out).
		// distinct_types_7d = {login, purchase, page_view} = 3, 30d = 4.
		name: "vocabulary and other",
		events: []Event{
			tev("u", "login", beforeCut(0, 1), 0), tev("u", "login", beforeCut(0, 2), 0), tev("u", "login", beforeCut(0, 3), 0),
			tev("u", "login", beforeCut(9, 1), 0),
			tev("u", "purchase", beforeCut(1, 1), 5),
			tev("u", "page_view", beforeCut(4, 1), 0), tev("u", "page_view", beforeCut(4, 2), 0),
			tev("u", "search", beforeCut(19, 1), 0),
			tev("u", "search", beforeCut(30, 1), 0),
		},
		want: map[string]float64{"n_login_7d": 3, "n_login_30d": 4, "n_purchase_7d": 1, "n_purchase_30d": 1,
			"n_other_7d": 2, "n_other_30d": 3, "distinct_types_7d": 3, "distinct_types_30d": 4},
	}})
}

func TestTrendRhythm(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{
			// Ages 1,1,15,30,30 (5 events in 1..30), 31 and 60 (2 in 31..60),
			// 61 (neither): trend = (5+1)/(2+1) = 2.
			name: "trend",
			events: []Event{
				tev("u", "login", beforeCut(0, 1), 0), tev("u", "login", beforeCut(0, 2), 0),
				tev("u", "login", beforeCut(14, 1), 0), tev("u", "login", beforeCut(29, 1), 0),
				tev("u", "login", beforeCut(29, 2), 0), tev("u", "login", beforeCut(30, 1), 0),
				tev("u", "login", beforeCut(59, 1), 0), tev("u", "login", beforeCut(60, 1), 0),
			},
			want: map[string]float64{"trend_30d": 2},
		},
		{
			// Active days at ages 2, 5, 11, 20 (and 45, beyond the 30-day
			// longest window, ignored): gaps 3, 6, 9, mean 6, population std
			// sqrt((9+0+9)/3) = sqrt(6). Last activity 36 h before T: recency
			// 1.5, overdue = 1.5/6 = 0.25. Trend: 5 events in ages 1..30, 1
			// (age 45) in 31..60: (5+1)/(1+1) = 3. The newest gap (ages 2
			// and 5) is prev_gap_days = 3.
			name: "gaps and overdue",
			events: []Event{
				tev("u", "login", beforeCut(1, 12), 0), tev("u", "search", beforeCut(1, 13), 0),
				tev("u", "login", beforeCut(4, 1), 0), tev("u", "login", beforeCut(10, 1), 0),
				tev("u", "login", beforeCut(19, 1), 0), tev("u", "login", beforeCut(44, 1), 0),
			},
			want: map[string]float64{"gap_mean_days": 6, "gap_std_days": math.Sqrt(6), "overdue": 0.25, "trend_30d": 3, "prev_gap_days": 3},
		},
		{
			// One active day (age 3: 72 h and 60 h before T): no gap, so mean =
			// std = 0 and overdue = recency / max(0, 1) = 60/24 = 2.5; trend
			// (2+1)/(0+1) = 3.
			name:   "single active day",
			events: []Event{tev("u", "login", beforeCut(3, 0), 0), tev("u", "login", beforeCut(2, 12), 0)},
			want:   map[string]float64{"gap_mean_days": 0, "gap_std_days": 0, "overdue": 2.5, "trend_30d": 3, "prev_gap_days": 0},
		},
	})
}

func TestIntent(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{
			// Last purchase at age 5. Cart at age 2 is after it (counts), cart
			// at age 10 is before it (does not): cart_without_purchase 1, 1.
			// Pricing views at ages 3 and 20: 1 in 7 days, 2 in 30. Cancel
			// page at age 40: 0, 0. Two support tickets at age 1: 2, 2.
			name: "families",
			events: []Event{
				tev("u", "add_to_cart", beforeCut(1, 1), 0),
				tev("u", "add_to_cart", beforeCut(9, 1), 0),
				tev("u", "purchase", beforeCut(4, 1), 10),
				tev("u", "view_pricing", beforeCut(2, 1), 0),
				tev("u", "pricing", beforeCut(19, 1), 0),
				tev("u", "cancel_page", beforeCut(39, 1), 0),
				tev("u", "support_ticket", beforeCut(0, 1), 0),
				tev("u", "ticket", beforeCut(0, 2), 0),
			},
			want: map[string]float64{"cart_without_purchase_7d": 1, "cart_without_purchase_30d": 1,
				"pricing_views_7d": 1, "pricing_views_30d": 2, "cancel_views_7d": 0, "cancel_views_30d": 0,
				"support_tickets_7d": 2, "support_tickets_30d": 2},
		},
		{
			// Cart and purchase on the same day (age 2): the cart converted.
			// Two carts with no purchase ever at ages 8 and 30: 0 in 7 days,
			// 2 in 30 (a return at age 1 is not a purchase).
			name: "same day and never",
			events: []Event{
				tev("v", "cart", beforeCut(1, 1), 0), tev("v", "purchase", beforeCut(1, 5), 3),
			},
			want: map[string]float64{"cart_without_purchase_7d": 0, "cart_without_purchase_30d": 0},
		},
		{
			name: "no purchase ever",
			events: []Event{
				tev("w", "checkout_start", beforeCut(7, 1), 0), tev("w", "cart_add", beforeCut(29, 1), 0),
				tev("w", "purchase", beforeCut(0, 1), -3),
			},
			want: map[string]float64{"cart_without_purchase_7d": 0, "cart_without_purchase_30d": 2},
		},
	})
}

func TestTimeOfDay(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{
			// Sat 02-24 10:00, Sun 02-25 10:30, Mon 02-26 15:00, Tue 02-27
			// 10:59: weekend share 2/4 = 0.5; hour 10 has 3 events: peak 10.
			name: "weekend and peak",
			events: []Event{
				tev("u", "login", time.Date(2024, 2, 24, 10, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 25, 10, 30, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 26, 15, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(2024, 2, 27, 10, 59, 0, 0, time.UTC), 0),
			},
			want: map[string]float64{"weekend_share": 0.5, "peak_hour": 10},
		},
		{
			// A tie between hours 5 and 3 goes to the earlier hour; 1969
			// (negative unix time) is handled: 1969-12-28 was a Sunday.
			name: "tie and pre-1970",
			events: []Event{
				tev("u", "login", time.Date(2024, 2, 27, 5, 0, 0, 0, time.UTC), 0),
				tev("u", "login", time.Date(1969, 12, 28, 3, 0, 0, 0, time.UTC), 0),
			},
			want: map[string]float64{"weekend_share": 0.5, "peak_hour": 3},
		},
	})
}

func TestActivityEvents(t *testing.T) {
	s := smallSpec()
	s.ActivityEvents = []string{"login"}
	s.Derive()
	runFeatureCases(t, []featureCase{{
		// Only logins are activity: recency from the login 4 days ago, not the
		// page view 1 day ago; events_7d = 1; the page view still shows in
		// usage (n_other_7d = 1) and the purchase in revenue.
		name: "login only",
		spec: s,
		events: []Event{
			tev("u", "login", beforeCut(4, 0), 0),
			tev("u", "page_view", beforeCut(1, 0), 0),
			tev("u", "purchase", beforeCut(2, 0), 9),
		},
		want: map[string]float64{"recency_days": 4, "events_7d": 1, "active_days_7d": 1, "n_other_7d": 1,
			"revenue_7d": 9, "weekend_share": 0, "events_total": 1},
	}})
}

func TestLabelsEligibility(t *testing.T) {
	h := 7 * 24 * time.Hour
	evs := []Event{
		tev("u1", "login", beforeCut(1, 0), 0), tev("u1", "login", tcut.Add(48*time.Hour), 0),
		tev("u2", "login", beforeCut(5, 0), 0), tev("u2", "purchase", tcut.Add(h-time.Hour), 10),
		tev("u3", "login", beforeCut(10, 0), 0), tev("u3", "purchase", tcut.Add(h), 10), // at T+H: outside
		tev("u4", "login", beforeCut(90, 1), 0),                                                // age 91 > L = 90: not eligible
		tev("u5", "login", beforeCut(89, 23), 0),                                               // age 90: eligible
		tev("u6", "login", tcut, 0),                                                            // at T: labels only, not eligible
		tev("u7", "login", beforeCut(1, 0), 0), tev("u7", "purchase", tcut.Add(time.Hour), -5), // return
		tev("u8", "login", beforeCut(1, 0), 0), tev("u8", "email_open", tcut.Add(time.Hour), 0),
	}
	run := func(t *testing.T, spec *Spec, cfg BuilderConfig, evs []Event) *Dataset {
		t.Helper()
		cfg.Cutoff, cfg.Horizon, cfg.Spec = tcut, h, spec
		b, err := NewBuilder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if err := b.Add(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	type lab struct{ churn, prop bool }
	check := func(t *testing.T, ds *Dataset, want map[string]lab) {
		t.Helper()
		var ids []string
		for i, v := range ds.Vectors {
			ids = append(ids, v.UserID)
			w, ok := want[v.UserID]
			if !ok {
				continue
			}
			if got := (lab{ds.Churn[i], ds.Propensity[i]}); got != w {
				t.Errorf("%s: churn, propensity = %v, want %v", v.UserID, got, w)
			}
		}
		var wantIDs []string
		for id := range want {
			wantIDs = append(wantIDs, id)
		}
		slices.Sort(wantIDs)
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("eligible users %v, want %v", ids, wantIDs)
		}
	}
	t.Run("all activity", func(t *testing.T) {
		ds := run(t, smallSpec(), BuilderConfig{}, evs)
		// u1 active after T; u2 converts at T+H−1h; u3's purchase at T+H is
		// outside [T, T+H) so u3 churned; u5 is at age 90 = L; u7's return
		// is activity but no conversion; u8's email_open is activity.
		check(t, ds, map[string]lab{
			"u1": {false, false}, "u2": {false, true}, "u3": {true, false},
			"u5": {true, false}, "u7": {false, false}, "u8": {false, false},
		})
		// Latest event is u3's at exactly T+H: covered.
		if !ds.Labelled {
			t.Error("Labelled = false with data up to T+H")
		}
		c := ds.Counts
		// 13 events: 7 before T (one per user but u6), 6 at or after T, of
		// which 5 in [T, T+H) (u3's is at T+H).
		if c.Events != 13 || c.BeforeCutoff != 7 || c.AfterCutoff != 6 || c.InHorizon != 5 ||
			c.Users != 8 || c.UsersBeforeCutoff != 7 || c.Eligible != 6 {
			t.Errorf("counts %+v", c)
		}
	})
	t.Run("login activity", func(t *testing.T) {
		s := smallSpec()
		s.ActivityEvents = []string{"login"}
		s.Derive()
		ds := run(t, s, BuilderConfig{}, evs)
		// Purchases and email opens are no longer activity: u2, u7, u8 churn.
		check(t, ds, map[string]lab{
			"u1": {false, false}, "u2": {true, true}, "u3": {true, false},
			"u5": {true, false}, "u7": {true, false}, "u8": {true, false},
		})
	})
	t.Run("coverage", func(t *testing.T) {
		short := slices.DeleteFunc(slices.Clone(evs), func(e Event) bool { return e.UserID == "u3" })
		if ds := run(t, smallSpec(), BuilderConfig{}, short); ds.Labelled {
			t.Error("Labelled = true with data ending 1h before T+H")
		}
		if ds := run(t, smallSpec(), BuilderConfig{DataEnd: tcut.Add(h)}, short); !ds.Labelled {
			t.Error("Labelled = false with DataEnd = T+H")
		}
	})
}

func TestLearnedSpec(t *testing.T) {
	// Before T: page_view ×3, login ×2, add_to_cart ×2, purchase ×1,
	// "other" ×2, view_pricing ×1; after T: search ×5, support_ticket.
	// K = 3: page_view (3), then add_to_cart and login (2 each, by name);
	// "other" is never a vocabulary entry. The cart and pricing families keep
	// only the names seen; cancel and support (seen only after T) drop out.
	var evs []Event
	add := func(name string, n int, t time.Time) {
		for range n {
			evs = append(evs, tev("u", name, t, 0))
		}
	}
	add("page_view", 3, beforeCut(1, 0))
	add("login", 2, beforeCut(2, 0))
	add("add_to_cart", 2, beforeCut(3, 0))
	add("purchase", 1, beforeCut(3, 0))
	add("other", 2, beforeCut(3, 0))
	add("view_pricing", 1, beforeCut(100, 0))
	add("search", 5, tcut)
	add("support_ticket", 1, tcut)
	tmpl := DefaultSpec()
	tmpl.VocabularySize = 3
	b, err := NewBuilder(BuilderConfig{Cutoff: tcut, Spec: tmpl, Learn: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := b.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s := ds.Spec
	if want := []string{"page_view", "add_to_cart", "login"}; !slices.Equal(s.Vocabulary, want) {
		t.Errorf("vocabulary %v, want %v", s.Vocabulary, want)
	}
	if !slices.Equal(s.CartEvents, []string{"add_to_cart"}) || !slices.Equal(s.PricingEvents, []string{"view_pricing"}) ||
		len(s.CancelEvents) != 0 || len(s.SupportEvents) != 0 {
		t.Errorf("families cart %v pricing %v cancel %v support %v", s.CartEvents, s.PricingEvents, s.CancelEvents, s.SupportEvents)
	}
	names := s.Names()
	for _, n := range []string{"cart_without_purchase_7d", "pricing_views_30d", "n_login_365d", "n_other_7d"} {
		if !slices.Contains(names, n) {
			t.Errorf("missing feature %q", n)
		}
	}
	for _, n := range []string{"cancel_views_7d", "support_tickets_30d", "n_search_7d", "n_other_other_7d"} {
		if slices.Contains(names, n) {
			t.Errorf("unexpected feature %q", n)
		}
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	// The template is not modified.
	if len(tmpl.Vocabulary) != 0 || len(tmpl.SupportEvents) != 3 {
		t.Errorf("template changed: %+v", tmpl)
	}
}

func TestBuilderRejects(t *testing.T) {
	b, err := NewBuilder(BuilderConfig{Cutoff: tcut})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		e    Event
		err  error
	}{
		{"zero time", Event{UserID: "u", Name: "x"}, ErrTimeRange},
		{"year 3000", tev("u", "x", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 0), ErrTimeRange},
		{"NaN amount", tev("u", "x", beforeCut(1, 0), math.NaN()), ErrAmountRange},
		{"huge amount", tev("u", "x", beforeCut(1, 0), 2e12), ErrAmountRange},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.Add(&tc.e); !errors.Is(err, tc.err) {
				t.Errorf("Add = %v, want %v", err, tc.err)
			}
		})
	}
	if c := b.Counts(); c.Rejected != int64(len(bad)) || c.Events != 0 || c.Users != 0 {
		t.Errorf("counts %+v", c)
	}
	for _, cfg := range []BuilderConfig{{}, {Cutoff: tcut, Horizon: -1}, {Cutoff: tcut, Spec: &Spec{}}} {
		if _, err := NewBuilder(cfg); err == nil {
			t.Errorf("NewBuilder(%+v) succeeded", cfg)
		}
	}
}

// AddIndexed gives the Dataset of Add whatever the hints: the Reader's own
// indexes, hints that point at other users and types, negative and huge
// ones, and new strings under a known index.
func TestAddIndexedMatchesAdd(t *testing.T) {
	g := newPitEventGen(11, 40)
	evs := g.events(3000, tcut.AddDate(0, 0, -200), tcut.AddDate(0, 0, 40))
	users := map[string]int{}
	names := map[string]int{}
	index := func(m map[string]int, s string) int {
		i, ok := m[s]
		if !ok {
			i = len(m)
			m[s] = i
		}
		return i
	}
	type hint func(i int, e *Event) (user, name int)
	hints := []struct {
		name string
		h    hint
	}{
		{"dense indexes", func(_ int, e *Event) (int, int) { return index(users, e.UserID), index(names, e.Name) }},
		{"shifted", func(_ int, e *Event) (int, int) { return index(users, e.UserID) + 1, index(names, e.Name) + 2 }},
		{"one index for all", func(int, *Event) (int, int) { return 0, 0 }},
		{"by position", func(i int, _ *Event) (int, int) { return i % 7, i % 3 }},
		{"negative", func(int, *Event) (int, int) { return -1, -5 }},
		{"huge", func(int, *Event) (int, int) { return math.MaxInt, 1 << 40 }},
	}
	cfg := BuilderConfig{Cutoff: tcut, Horizon: 30 * 24 * time.Hour}
	ref, err := NewBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := ref.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want, err := ref.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Vectors) < 20 {
		t.Fatalf("only %d vectors", len(want.Vectors))
	}
	for _, tt := range hints {
		t.Run(tt.name, func(t *testing.T) {
			clear(users)
			clear(names)
			b, err := NewBuilder(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				u, n := tt.h(i, &evs[i])
				if err := b.AddIndexed(&evs[i], u, n); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("AddIndexed dataset differs from Add's (%d vs %d vectors, counts %+v vs %+v)",
					len(got.Vectors), len(want.Vectors), got.Counts, want.Counts)
			}
			if len(b.userHint) > 4096+len(evs) || len(b.typeHint) > 4096+len(evs) {
				t.Errorf("hint tables grew to %d and %d entries", len(b.userHint), len(b.typeHint))
			}
		})
	}
	// Rejected events are rejected the same way.
	b, err := NewBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := tev("u", "x", beforeCut(1, 0), math.NaN())
	if err := b.AddIndexed(&bad, 0, 0); !errors.Is(err, ErrAmountRange) || b.Counts().Rejected != 1 {
		t.Errorf("AddIndexed(NaN amount) = %v, rejected %d", err, b.Counts().Rejected)
	}
}
