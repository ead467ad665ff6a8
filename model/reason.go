package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Reason is one signed driver of a churn score.
type Reason struct {
	// Feature is the feature's name.
	Feature string `json:"feature"`
	// Value is the user's raw value of the feature.
	Value float64 `json:"value"`
	// Contribution is the feature's signed contribution to the log-odds of
	// churn: positive raises the risk, negative lowers it.
	Contribution float64 `json:"contribution"`
	// Text says the same in words, e.g. "no activity for 24 days (usually every 3)".
	Text string `json:"text"`
}

// reasons returns the n features with the largest absolute contribution,
// strongest first; ties break by feature order so the result is stable.
func (m *Model) reasons(x, contrib []float64, n int) []Reason {
	// Keep the n strongest in a small sorted array: one pass, no sort of
	// every feature (scoring calls this for every request).
	var buf [8]int
	idx := buf[:0]
	if n+1 > len(buf) {
		idx = make([]int, 0, n+1)
	}
	for j, c := range contrib {
		if c == 0 || math.IsNaN(c) {
			continue
		}
		a := math.Abs(c)
		k := len(idx)
		for k > 0 && a > math.Abs(contrib[idx[k-1]]) { // strictly: earlier features win ties
			k--
		}
		if k >= n {
			continue
		}
		idx = append(idx, 0)
		copy(idx[k+1:], idx[k:])
		idx[k] = j
		if len(idx) > n {
			idx = idx[:n]
		}
	}
	out := make([]Reason, len(idx))
	for i, j := range idx {
		out[i] = Reason{
			Feature:      m.Features[j],
			Value:        x[j],
			Contribution: contrib[j],
			Text:         m.describe(m.Features[j], x[j], x),
		}
	}
	return out
}

// describe puts one feature value into words. Unknown features fall back
// to "name = value".
func (m *Model) describe(name string, v float64, x []float64) string {
	base, window := splitWindow(name)
	in := ""
	if window != "" {
		in = " in the last " + window + " days"
	}
	switch base {
	case FeatRecency:
		s := "no activity for " + days(v)
		if v < 1 {
			s = "active within the last day"
		}
		if g := m.value(x, FeatGapMean); g > 0 && !math.IsNaN(g) {
			s += fmt.Sprintf(" (usually every %s)", roundStr(g))
		}
		return s
	case FeatRecencyPurchase:
		if m.value(x, "ever_purchased") == 0 {
			return "never purchased"
		}
		return "last purchase " + days(v) + " ago"
	case "ever_purchased":
		if v > 0 {
			return "has purchased before"
		}
		return "never purchased"
	case FeatTenure:
		return "customer for " + days(v)
	case "events":
		return count(v, "event", "events") + in
	case "active_days":
		return fmt.Sprintf("active on %s of the last %s days", roundStr(v), window)
	case "revenue":
		return fmt.Sprintf("spent %s%s", money(v), in)
	case "orders":
		return count(v, "order", "orders") + in
	case "refunds":
		return fmt.Sprintf("refunds of %s%s", money(v), in)
	case "distinct_types":
		return count(v, "different event type", "different event types") + in
	case "trend":
		switch {
		case v < 0.95:
			return fmt.Sprintf("activity down %.0f%% on the previous 30 days", 100*(1-v))
		case v > 1.05:
			return fmt.Sprintf("activity up %.0f%% on the previous 30 days", 100*(v-1))
		}
		return "activity steady on the previous 30 days"
	case FeatGapMean:
		return "usually active every " + days(v)
	case "gap_std":
		return "active-day gaps vary by " + days(v)
	case FeatPrevGap:
		return "returned after a gap of " + days(v)
	case "overdue":
		return fmt.Sprintf("%.1f× their usual gap since the last activity", v)
	case "cart_without_purchase":
		if v > 0 {
			return "left a cart without buying" + in
		}
		return "no abandoned cart" + in
	case "pricing_views":
		return count(v, "pricing page view", "pricing page views") + in
	case "cancel_views":
		return count(v, "cancel page view", "cancel page views") + in
	case "support_tickets":
		return count(v, "support ticket", "support tickets") + in
	case "weekend_share":
		return fmt.Sprintf("%.0f%% of activity at weekends", 100*v)
	case "peak_hour":
		return fmt.Sprintf("most active around %02d:00 UTC", int(v))
	case "events_total":
		return count(v, "event", "events") + " in total"
	case "orders_total":
		return count(v, "order", "orders") + " in total"
	case "revenue_total":
		return "spent " + money(v) + " in total"
	case "aov":
		return "average order " + money(v)
	}
	if strings.HasPrefix(base, "n_") {
		return fmt.Sprintf("%s × %s%s", roundStr(v), strings.TrimPrefix(base, "n_"), in)
	}
	return name + " = " + strconv.FormatFloat(v, 'g', 4, 64)
}

// splitWindow splits "events_30d" into ("events", "30"); names without a
// trailing window return (name, "").
func splitWindow(name string) (base, window string) {
	i := strings.LastIndexByte(name, '_')
	if i < 0 || !strings.HasSuffix(name, "d") {
		return name, ""
	}
	w := name[i+1 : len(name)-1]
	if _, err := strconv.Atoi(w); err != nil || w == "" {
		return name, ""
	}
	return name[:i], w
}

func days(v float64) string {
	r := math.Round(v)
	if r == 1 {
		return "1 day"
	}
	return roundStr(r) + " days"
}

// count writes v with the singular noun when it rounds to exactly 1:
// "1 event", "2 events", "1.5 events".
func count(v float64, one, many string) string {
	r := roundStr(v)
	if r == "1" {
		return r + " " + one
	}
	return r + " " + many
}

func roundStr(v float64) string {
	if math.Abs(v-math.Round(v)) < 0.05 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
