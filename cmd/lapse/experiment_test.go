package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lapse-dev/lapse/model/lift"
)

// trainSample trains on the committed sample into a bbolt store under dir
// (as of 2025-05-01, 30-day horizon) and returns the store's path.
func trainSample(tb testing.TB, dir string) string {
	tb.Helper()
	db := filepath.Join(dir, "lapse.db")
	mustRun(tb, 0, sampleTrainArgs(db, filepath.Join(dir, "report"))...)
	return db
}

// readAssignments reads an assignments CSV (user_id,group).
func readAssignments(t *testing.T, path string) (ids []string, groups map[string]lift.Group) {
	t.Helper()
	rows := readCSVFile(t, path)
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"user_id", "group"}) {
		t.Fatalf("%s: header %v, want user_id,group", path, rows)
	}
	groups = map[string]lift.Group{}
	for _, r := range rows[1:] {
		g, err := lift.ParseGroup(r[1])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids = append(ids, r[0])
		groups[r[0]] = g
	}
	return ids, groups
}

// TestExperimentEndToEnd is issue 5 on the command line: train on the
// sample, create an experiment on the stored scores, write
// assignments.csv, then measure lift from a generated post-start event
// file with a planted effect and check the sentence and the JSON against
// counts taken by hand from the same rule.
func TestExperimentEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := trainSample(t, dir)
	out := filepath.Join(dir, "assignments.csv")
	r := mustRun(t, 0, "experiment", "create", "--store", db, "--name", "winback-may", "--min-churn", "0",
		"--holdout", "0.3", "--start", "2025-05-01", "--salt", "s1", "--out", out)
	if !strings.Contains(r.stdout, "experiment winback-may created on model 2025-05-01-") || !strings.Contains(r.stdout, "outcomes count from 2025-05-01") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	ids, groups := readAssignments(t, out)
	if len(ids) < 250 || !slices.IsSorted(ids) {
		t.Fatalf("%d assignments (want every scored user, in id order)", len(ids))
	}
	var nt, nc int
	for _, id := range ids {
		if want := lift.Assign("winback-may", "s1", id, 0.3); groups[id] != want {
			t.Errorf("user %s: %s, want %s (the keyed hash)", id, groups[id], want)
		}
		if groups[id] == lift.Control {
			nc++
		} else {
			nt++
		}
	}

	// The planted effect, by position in the id order: treatment users
	// with i%10 < 7 are active in May, control users with i%10 < 4; the
	// active users with i%3 = 0 buy for 25. Events the window must not
	// count: one on 2025-04-30 (before the start) and one on 2025-05-31
	// (after the 30 days) for everyone.
	var b strings.Builder
	b.WriteString("user_id,event,timestamp,amount\n")
	var tr, ct, trConv, ctConv lift.Proportion
	var trRev, ctRev float64
	for i, id := range ids {
		fmt.Fprintf(&b, "%s,session_start,2025-04-30T20:00:00Z,\n%s,purchase,2025-05-31T09:00:00Z,99\n", id, id)
		cut := 7
		p, c, rev := &tr, &trConv, &trRev
		if groups[id] == lift.Control {
			cut, p, c, rev = 4, &ct, &ctConv, &ctRev
		}
		active, buys := i%10 < cut, i%10 < cut && i%3 == 0
		if active {
			fmt.Fprintf(&b, "%s,page_view,2025-05-%02dT10:00:00Z,\n", id, 1+i%30)
		}
		if buys {
			fmt.Fprintf(&b, "%s,purchase,2025-05-%02dT11:00:00Z,25\n", id, 1+i%28)
			*rev += 25
		}
		p.Add(active)
		c.Add(buys)
	}
	post := filepath.Join(dir, "post.csv")
	if err := os.WriteFile(post, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	report := filepath.Join(dir, "lift")
	r = mustRun(t, 0, "lift", "--store", db, "--experiment", "winback-may", "--events", post, "--window", "30d", "--report-dir", report)
	want, err := lift.CompareProportions("retention", tr, ct, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	sentence := want.Sentence()
	if !strings.Contains(r.stdout, "\n  "+sentence+"\n") || !strings.HasPrefix(sentence, "Retention +") ||
		!strings.Contains(sentence, "the campaign kept about") {
		t.Errorf("lift text lacks the retention sentence %q:\n%s", sentence, r.stdout)
	}
	if !strings.Contains(r.stdout, "Outcomes from 2025-05-01 to 2025-05-30 (30 days, from events)") || strings.Contains(r.stdout, "interim") {
		t.Errorf("lift text lacks the window line:\n%s", r.stdout)
	}
	for _, sec := range []string{"By risk_band:", "By segment:"} {
		if !strings.Contains(r.stdout, sec) {
			t.Errorf("lift text lacks %q", sec)
		}
	}

	r = mustRun(t, 0, "lift", "--store", db, "--experiment", "winback-may", "--events", post, "--json")
	var rep struct {
		Experiment string  `json:"experiment"`
		Holdout    float64 `json:"holdout"`
		Metrics    []struct {
			Metric    string `json:"metric"`
			Treatment struct {
				N         int     `json:"n"`
				Successes int     `json:"successes"`
				Rate      float64 `json:"rate"`
				Mean      float64 `json:"mean"`
			} `json:"treatment"`
			Control struct {
				N    int     `json:"n"`
				Rate float64 `json:"rate"`
				Mean float64 `json:"mean"`
			} `json:"control"`
			AbsLift     float64    `json:"abs_lift"`
			AbsLiftCI95 [2]float64 `json:"abs_lift_ci95"`
			RelLift     float64    `json:"rel_lift"`
			PValue      float64    `json:"p_value"`
			SRMPValue   float64    `json:"srm_p_value"`
		} `json:"metrics"`
		Breakdowns map[string]map[string]json.RawMessage `json:"breakdowns"`
		Window     struct {
			Complete bool   `json:"complete"`
			Source   string `json:"source"`
			Days     int    `json:"days"`
		} `json:"window"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("lift --json: %v\n%s", err, r.stdout)
	}
	if len(rep.Metrics) != 3 || rep.Metrics[0].Metric != "retention" || rep.Metrics[1].Metric != "conversion" || rep.Metrics[2].Metric != "revenue" {
		t.Fatalf("metrics %+v", rep.Metrics)
	}
	m := rep.Metrics[0]
	if m.Treatment.N != nt || m.Control.N != nc || m.Treatment.Successes != tr.Successes || m.Treatment.Rate != tr.Rate() ||
		m.Control.Rate != ct.Rate() || math.Abs(m.AbsLift-want.AbsLift) > 1e-15 || m.AbsLiftCI95[0] != want.AbsLiftCI95.Lo ||
		m.AbsLiftCI95[1] != want.AbsLiftCI95.Hi || m.PValue != want.PValue || m.SRMPValue != want.SRMPValue {
		t.Errorf("retention %+v,\nwant %+v", m, want)
	}
	if c := rep.Metrics[1]; c.Treatment.Rate != trConv.Rate() || c.Control.Rate != ctConv.Rate() {
		t.Errorf("conversion %+v, want rates %v and %v", c, trConv.Rate(), ctConv.Rate())
	}
	if v := rep.Metrics[2]; math.Abs(v.Treatment.Mean-trRev/float64(nt)) > 1e-9 || math.Abs(v.Control.Mean-ctRev/float64(nc)) > 1e-9 {
		t.Errorf("revenue per user %v and %v, want %v and %v", v.Treatment.Mean, v.Control.Mean, trRev/float64(nt), ctRev/float64(nc))
	}
	if !rep.Window.Complete || rep.Window.Source != "events" || rep.Window.Days != 30 || len(rep.Breakdowns["risk_band"]) == 0 {
		t.Errorf("window %+v, breakdowns %v", rep.Window, rep.Breakdowns)
	}

	t.Run("Report", func(t *testing.T) {
		js, err := os.ReadFile(filepath.Join(report, "lift.json"))
		if err != nil {
			t.Fatal(err)
		}
		var back lift.Report
		if err := json.Unmarshal(js, &back); err != nil || back.Metrics[0].AbsLift != want.AbsLift {
			t.Errorf("lift.json: %v", err)
		}
		html, err := os.ReadFile(filepath.Join(report, "lift.html"))
		if err != nil {
			t.Fatal(err)
		}
		h := string(html)
		for _, s := range []string{"<svg", "Rates by group", "Revenue per user by group", "95% confidence interval", sentenceHTML(sentence), "By risk_band"} {
			if !strings.Contains(h, s) {
				t.Errorf("lift.html lacks %q", s)
			}
		}
		if strings.Contains(h, "<script") || strings.Contains(strings.ReplaceAll(h, "http://www.w3.org/2000/svg", ""), "http") {
			t.Error("lift.html is not self-contained")
		}
	})

	t.Run("ListShowStop", func(t *testing.T) {
		r := mustRun(t, 0, "experiment", "list", "--store", db)
		if !strings.Contains(r.stdout, "winback-may") || !strings.Contains(r.stdout, "churn >= 0") || !strings.Contains(r.stdout, "yes") {
			t.Errorf("list:\n%s", r.stdout)
		}
		r = mustRun(t, 0, "experiment", "show", "winback-may", "--store", db)
		for _, s := range []string{"experiment  winback-may (active", fmt.Sprintf("%s treatment, %s control", thousands(nt), thousands(nc)),
			`salt "s1"`, "by risk_band at assignment:"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("show lacks %q:\n%s", s, r.stdout)
			}
		}
		exported := filepath.Join(dir, "control.csv")
		mustRun(t, 0, "experiment", "show", "winback-may", "--store", db, "--assignments", exported, "--group", "control")
		got, _ := readAssignments(t, exported)
		if len(got) != nc {
			t.Errorf("control export %d rows, want %d", len(got), nc)
		}
		r = mustRun(t, 0, "experiment", "stop", "winback-may", "--store", db)
		if !strings.Contains(r.stdout, "stopped") {
			t.Errorf("stop: %s", r.stdout)
		}
		r = mustRun(t, 0, "experiment", "stop", "winback-may", "--store", db)
		if !strings.Contains(r.stdout, "already stopped") {
			t.Errorf("second stop: %s", r.stdout)
		}
		if r := mustRun(t, 0, "experiment", "list", "--store", db); !strings.Contains(r.stdout, " no ") {
			t.Errorf("list after stop:\n%s", r.stdout)
		}
		mustRun(t, 1, "experiment", "show", "nope", "--store", db)
		mustRun(t, 1, "experiment", "create", "--store", db, "--name", "winback-may", "--risk-band", "high", "--out", filepath.Join(dir, "x.csv"))
	})
}

// sentenceHTML escapes a sentence as html/template-free HTML escaping does
// for the page (only the characters the sentences can hold).
func sentenceHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// TestExperimentSuppression checks the store-level rules through the CLI:
// the global control group and an active experiment's control users are
// left out of a new experiment and of the treatment export; stopping the
// first experiment lets its control users into later ones.
func TestExperimentSuppression(t *testing.T) {
	dir := t.TempDir()
	db := trainSample(t, dir)
	r := mustRun(t, 0, "experiment", "global-control", "--store", db, "--share", "0.1", "--salt", "gc")
	if !strings.Contains(r.stdout, "global control group: 10.0% of all users (salt \"gc\"") || !strings.Contains(r.stdout, "it holds ") {
		t.Errorf("global-control:\n%s", r.stdout)
	}
	if r := mustRun(t, 0, "experiment", "global-control", "--store", db); !strings.Contains(r.stdout, "10.0%") {
		t.Errorf("global-control show: %s", r.stdout)
	}
	// Changing the share keeps the salt.
	if r := mustRun(t, 0, "experiment", "global-control", "--store", db, "--share", "0.12"); !strings.Contains(r.stdout, `salt "gc"`) {
		t.Errorf("share change lost the salt: %s", r.stdout)
	}
	mustRun(t, 0, "experiment", "global-control", "--store", db, "--share", "0.1")
	first := filepath.Join(dir, "first.csv")
	r = mustRun(t, 0, "experiment", "create", "--store", db, "--name", "first", "--min-churn", "0", "--holdout", "0.5", "--out", first)
	if !strings.Contains(r.stdout, "suppressed (opted out, global control or control of an active experiment)") {
		t.Errorf("create did not report suppressed users:\n%s", r.stdout)
	}
	firstIDs, firstGroups := readAssignments(t, first)
	for _, id := range firstIDs {
		if lift.InGlobalControl("gc", id, 0.1) {
			t.Errorf("global-control user %s assigned", id)
		}
	}
	second := filepath.Join(dir, "second.csv")
	mustRun(t, 0, "experiment", "create", "--store", db, "--name", "second", "--min-churn", "0", "--holdout", "0.2", "--out", second)
	secondIDs, _ := readAssignments(t, second)
	for _, id := range secondIDs {
		if firstGroups[id] == lift.Control {
			t.Errorf("user %s, control of the active experiment first, assigned to second", id)
		}
	}
	// The treatment export of first leaves out users suppressed since:
	// second's control users.
	send := filepath.Join(dir, "send.csv")
	mustRun(t, 0, "experiment", "show", "first", "--store", db, "--assignments", send, "--group", "treatment")
	sendIDs, sendGroups := readAssignments(t, send)
	_, secondGroups := readAssignments(t, second)
	nTreat := 0
	for _, id := range firstIDs {
		if firstGroups[id] == lift.Treatment {
			nTreat++
		}
	}
	for _, id := range sendIDs {
		if sendGroups[id] != lift.Treatment || secondGroups[id] == lift.Control {
			t.Errorf("send list holds %s (%s in first, %s in second)", id, firstGroups[id], secondGroups[id])
		}
	}
	if len(sendIDs) == nTreat || len(sendIDs) == 0 {
		t.Errorf("send list %d of %d treatment users: second's control users were not left out", len(sendIDs), nTreat)
	}
	mustRun(t, 0, "experiment", "stop", "first", "--store", db)
	mustRun(t, 0, "experiment", "global-control", "--store", db, "--remove")
	third := filepath.Join(dir, "third.csv")
	mustRun(t, 0, "experiment", "create", "--store", db, "--name", "third", "--min-churn", "0", "--out", third)
	thirdIDs, _ := readAssignments(t, third)
	var freed, gc int
	for _, id := range thirdIDs {
		if secondGroups[id] == lift.Control {
			t.Errorf("second is still active: its control user %s is in third", id)
		}
		if firstGroups[id] == lift.Control {
			freed++
		}
		if lift.InGlobalControl("gc", id, 0.1) {
			gc++
		}
	}
	if freed == 0 || gc == 0 {
		t.Errorf("third holds %d of first's control users (first stopped) and %d global-control users (removed); want some of each", freed, gc)
	}
}
