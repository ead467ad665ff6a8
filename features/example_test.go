package features_test

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// A batch snapshot: events in any order, vectors at the cutoff, labels from
// the 7 days after it.
func ExampleBuilder() {
	cutoff := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return cutoff.AddDate(0, 0, d) }
	events := []features.Event{
		{UserID: "u1", Name: "purchase", Time: day(-3), Amount: 25},
		{UserID: "u1", Name: "login", Time: day(-1).Add(6 * time.Hour)},
		{UserID: "u2", Name: "login", Time: day(-20)},
		{UserID: "u1", Name: "login", Time: day(2)}, // after the cutoff: labels only
		{UserID: "u2", Name: "purchase", Time: day(8), Amount: 9},
	}
	b, err := features.NewBuilder(features.BuilderConfig{Cutoff: cutoff, Horizon: 7 * 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	for i := range events {
		if err := b.Add(&events[i]); err != nil {
			panic(err)
		}
	}
	ds, err := b.Build()
	if err != nil {
		panic(err)
	}
	names := ds.Names()
	col := func(n string) int { return slices.Index(names, n) }
	for i, v := range ds.Vectors {
		fmt.Printf("%s recency=%.2f revenue_30d=%g churn=%v propensity=%v\n", v.UserID,
			v.Values[col("recency_days")], v.Values[col("revenue_30d")], ds.Churn[i], ds.Propensity[i])
	}
	fmt.Println("vocabulary:", ds.Spec.Vocabulary, "labelled:", ds.Labelled)
	// Output:
	// u1 recency=0.75 revenue_30d=25 churn=false propensity=false
	// u2 recency=20.00 revenue_30d=0 churn=true propensity=false
	// vocabulary: [login purchase] labelled: true
}

// Serving keeps one encoded State per user: decode, add the new event,
// prune, encode, and score the vector, which equals the batch one.
func ExampleFeaturizer() {
	f, err := features.NewFeaturizer(features.DefaultSpec())
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	st := f.NewState()
	var stored []byte
	for _, e := range []features.Event{
		{UserID: "u1", Name: "login", Time: now.Add(-48 * time.Hour)},
		{UserID: "u1", Name: "purchase", Time: now.Add(-time.Hour), Amount: 12.5},
	} {
		if len(stored) > 0 {
			if err := st.UnmarshalBinary(stored); err != nil {
				panic(err)
			}
		}
		if err := st.Add(&e); err != nil {
			panic(err)
		}
		if err := st.Prune(now); err != nil {
			panic(err)
		}
		if stored, err = st.MarshalBinary(); err != nil {
			panic(err)
		}
	}
	v, err := f.Vector(st, now)
	if err != nil {
		panic(err)
	}
	names := f.Names()
	for _, n := range []string{"recency_days", "recency_purchase_days", "events_7d", "revenue_total", "aov"} {
		fmt.Printf("%s=%g\n", n, v[slices.Index(names, n)])
	}
	// Output:
	// recency_days=0.041666666666666664
	// recency_purchase_days=0.041666666666666664
	// events_7d=2
	// revenue_total=12.5
	// aov=12.5
}

func ExampleWriteCSV() {
	cutoff := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	spec := features.DefaultSpec()
	spec.Windows = []int{7}
	spec.CartEvents, spec.PricingEvents, spec.CancelEvents, spec.SupportEvents = nil, nil, nil, nil
	spec.Derive()
	b, err := features.NewBuilder(features.BuilderConfig{Cutoff: cutoff, Spec: spec})
	if err != nil {
		panic(err)
	}
	e := features.Event{UserID: "u1", Name: "purchase", Time: cutoff.Add(-36 * time.Hour), Amount: 30}
	if err := b.Add(&e); err != nil {
		panic(err)
	}
	ds, err := b.Build()
	if err != nil {
		panic(err)
	}
	if err := features.WriteCSV(os.Stdout, ds); err != nil {
		panic(err)
	}
	// Output:
	// user_id,recency_days,recency_purchase_days,ever_purchased,tenure_days,events_7d,active_days_7d,events_total,revenue_7d,orders_7d,refunds_7d,revenue_total,orders_total,aov,n_other_7d,distinct_types_7d,trend_30d,gap_mean_days,gap_std_days,overdue,prev_gap_days,weekend_share,peak_hour
	// u1,1.5,1.5,1,1.5,1,1,1,30,1,0,30,1,30,1,1,2,0,0,1.5,0,0,12
}
