package lift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// measureFixture builds an experiment of 40 users: 30 treatment and 10
// control, in two risk bands, plus 2 unscored users from a file; outcomes
// are planted so that every tally can be counted by hand.
func measureFixture() (*Experiment, []Assignment, []Outcome) {
	exp := &Experiment{Name: "winback", Holdout: 0.25, TargetEvent: "purchase"}
	var as []Assignment
	var out []Outcome
	add := func(n int, g Group, band, seg string, o Outcome) {
		for range n {
			as = append(as, Assignment{UserID: fmt.Sprintf("u%03d", len(as)), Group: g, RiskBand: band, Segment: seg, Scored: band != ""})
			out = append(out, o)
		}
	}
	// high band: treatment 20 (12 retained, 6 of them converted with 10.0
	// each), control 6 (2 retained, none converted).
	add(6, Treatment, "high", "lapsed", Outcome{Retained: true, Converted: true, Revenue: 10})
	add(6, Treatment, "high", "lapsed", Outcome{Retained: true})
	add(8, Treatment, "high", "lapsed", Outcome{})
	add(2, Control, "high", "lapsed", Outcome{Retained: true})
	add(4, Control, "high", "lapsed", Outcome{})
	// low band: treatment 8 (8 retained, 2 converted with 5.0), control 4
	// (3 retained, 1 converted with 5.0).
	add(2, Treatment, "low", "recent", Outcome{Retained: true, Converted: true, Revenue: 5})
	add(6, Treatment, "low", "recent", Outcome{Retained: true})
	add(1, Control, "low", "recent", Outcome{Retained: true, Converted: true, Revenue: 5})
	add(2, Control, "low", "recent", Outcome{Retained: true})
	add(1, Control, "low", "recent", Outcome{})
	// Two unscored users, both treatment: too few for a breakdown.
	add(2, Treatment, "", "", Outcome{Retained: true})
	return exp, as, out
}

func TestMeasure(t *testing.T) {
	exp, as, out := measureFixture()
	rep, err := Measure(exp, as, out, &MeasureOptions{Conversion: true})
	if err != nil {
		t.Fatal(err)
	}
	// Hand counts: treatment 30 users, retained 6+6+2+6+2 = 22, converted
	// 6+2 = 8, revenue 6·10 + 2·5 = 70; control 10 users, retained
	// 2+1+2 = 5, converted 1, revenue 5.
	// Revenue moments by Welford's updates in input order, as Measure
	// adds them (the two-pass MomentsOf differs in the last bits).
	moments := func(runs ...[2]float64) Moments {
		var m Moments
		for _, r := range runs {
			for range int(r[1]) {
				m.Add(r[0])
			}
		}
		return m
	}
	tRev := moments([2]float64{10, 6}, [2]float64{0, 14}, [2]float64{5, 2}, [2]float64{0, 8})
	cRev := moments([2]float64{0, 6}, [2]float64{5, 1}, [2]float64{0, 3})
	if two := MomentsOf(append(append(make([]float64, 22), 10, 10, 10, 10, 10, 10), 5, 5)); math.Abs(two.Mean-tRev.Mean) > 1e-12 || math.Abs(two.M2-tRev.M2) > 1e-9 {
		t.Fatalf("hand moments %+v differ from the two-pass %+v", tRev, two)
	}
	want := []Result{
		mustProportions(t, MetricRetention, Proportion{30, 22}, Proportion{10, 5}, 0.25),
		mustProportions(t, MetricConversion, Proportion{30, 8}, Proportion{10, 1}, 0.25),
		mustMeans(t, MetricRevenue, tRev, cRev, 0.25),
	}
	if len(rep.Metrics) != len(want) {
		t.Fatalf("%d metrics, want %d", len(rep.Metrics), len(want))
	}
	for i := range want {
		if !sameResult(rep.Metrics[i], want[i]) {
			t.Errorf("metric %d:\n got %+v\nwant %+v", i, rep.Metrics[i], want[i])
		}
	}
	if m := rep.Metrics[2]; math.Abs(m.Treatment.Mean-70.0/30) > 1e-12 || math.Abs(m.Control.Mean-0.5) > 1e-12 {
		t.Errorf("revenue means %v, %v; want 70/30 and 0.5", m.Treatment.Mean, m.Control.Mean)
	}
	high := rep.Breakdowns["risk_band"]["high"]
	if len(high) != 3 || !sameResult(high[0], mustProportions(t, MetricRetention, Proportion{20, 12}, Proportion{6, 2}, 0.25)) {
		t.Errorf("high band retention %+v, want 12/20 vs 2/6", high)
	}
	low := rep.Breakdowns["risk_band"]["low"]
	if len(low) != 3 || !sameResult(low[1], mustProportions(t, MetricConversion, Proportion{8, 2}, Proportion{4, 1}, 0.25)) {
		t.Errorf("low band conversion %+v, want 2/8 vs 1/4", low)
	}
	if got := rep.Breakdowns["segment"]["lapsed"]; len(got) != 3 || got[0].Treatment.N != 20 {
		t.Errorf("segment lapsed %+v, want the high band's users", got)
	}
	if got := rep.Omitted; len(got) != 2 || got["risk_band"][0] != Unscored || got["segment"][0] != Unscored {
		t.Errorf("omitted %v, want unscored in both breakdowns", got)
	}
	if _, ok := rep.Breakdowns["risk_band"][Unscored]; ok {
		t.Error("unscored segment with no control users was reported")
	}

	t.Run("NoConversion", func(t *testing.T) {
		rep, err := Measure(exp, as, out, &MeasureOptions{Breakdowns: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Metrics) != 2 || rep.Metrics[0].Metric != MetricRetention || rep.Metrics[1].Metric != MetricRevenue || rep.Breakdowns != nil {
			t.Errorf("got %d metrics and breakdowns %v, want retention and revenue only", len(rep.Metrics), rep.Breakdowns)
		}
	})
	t.Run("ErrAttribute", func(t *testing.T) {
		if _, err := Measure(exp, as, out, &MeasureOptions{Breakdowns: []string{"country"}}); !errors.Is(err, ErrAttribute) {
			t.Errorf("got %v, want ErrAttribute", err)
		}
	})
	t.Run("ErrShare", func(t *testing.T) {
		bad := *exp
		bad.Holdout = 0
		if _, err := Measure(&bad, as, out, nil); !errors.Is(err, ErrShare) {
			t.Errorf("got %v, want ErrShare", err)
		}
	})
	t.Run("ErrEmptyGroup", func(t *testing.T) {
		if _, err := Measure(exp, as[:20], out[:20], nil); !errors.Is(err, ErrEmptyGroup) {
			t.Errorf("got %v, want ErrEmptyGroup", err)
		}
	})
}

func TestAttribute(t *testing.T) {
	a := Assignment{RiskBand: "high", Segment: "lapsed", RFMSegment: "Lost", LifecycleStage: "churned", UsageTier: "light", Scored: true}
	for attr, want := range map[string]string{"risk_band": "high", "segment": "lapsed", "rfm_segment": "Lost",
		"lifecycle_stage": "churned", "usage_tier": "light"} {
		if got, err := a.Attribute(attr); err != nil || got != want {
			t.Errorf("Attribute(%q) = %q, %v; want %q", attr, got, err, want)
		}
		if err := CheckAttribute(attr); err != nil {
			t.Errorf("CheckAttribute(%q) = %v", attr, err)
		}
	}
	if got, _ := (&Assignment{UserID: "x"}).Attribute("risk_band"); got != Unscored {
		t.Errorf("unscored user: got %q, want %q", got, Unscored)
	}
	if _, err := a.Attribute("country"); !errors.Is(err, ErrAttribute) {
		t.Errorf("got %v, want ErrAttribute", err)
	}
}

func TestReportWindow(t *testing.T) {
	exp, as, out := measureFixture()
	w := &Window{Start: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC), Days: 30,
		DataThrough: time.Date(2025, 6, 20, 8, 30, 0, 0, time.UTC), Source: "states", ModelVersion: "v1"}
	rep, err := Measure(exp, as, out, &MeasureOptions{Breakdowns: []string{"risk_band"}, Window: w})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if lines[1] != "Outcomes from 2025-06-02 to 2025-07-01 (30 days, from states)" {
		t.Errorf("window line %q", lines[1])
	}
	if lines[2] != "NOTE: the window is not over (the data reach 2025-06-20 08:30Z): these are interim results." {
		t.Errorf("interim line %q", lines[2])
	}
	if !strings.HasSuffix(buf.String(), "Not broken down by risk_band (a group has fewer than 2 users): unscored\n") {
		t.Errorf("no omitted line at the end:\n%s", buf.String())
	}
	w.Complete = true
	buf.Reset()
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "interim") {
		t.Errorf("complete window called interim:\n%s", buf.String())
	}

	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Window == nil || *back.Window != *w || back.Omitted["risk_band"][0] != Unscored || len(back.Metrics) != 2 {
		t.Errorf("round trip lost the window or omitted list: %s", b)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	win := raw["window"].(map[string]any)
	for _, k := range []string{"start", "end", "days", "data_through", "complete", "source", "model_version"} {
		if _, ok := win[k]; !ok {
			t.Errorf("window JSON lacks %q: %s", k, b)
		}
	}
}
