package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/training"
)

func TestReadUserIDs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
		err  string
	}{
		{"plain", "u1\nu2\n\n  u3  \n", []string{"u1", "u2", "u3"}, ""},
		{"comments and CRLF", "# campaign list\r\nu1\r\n#u9\r\nu2\r\n", []string{"u1", "u2"}, ""},
		{"BOM", "\xef\xbb\xbfu1\nu2\n", []string{"u1", "u2"}, ""},
		{"duplicates kept", "u1\nu1\n", []string{"u1", "u1"}, ""},
		{"ids with spaces", "Jane Doe\n17850.0\n", []string{"Jane Doe", "17850.0"}, ""},
		{"header only column", "user_id\nu1\nu2\n", []string{"u1", "u2"}, ""},
		{"assignments.csv", "user_id,group\nu1,treatment\nu2,control\n", []string{"u1", "u2"}, ""},
		{"segment export, user_id second", "rank,user_id,churn\n1,u7,0.9\n2,\"u,8\",0.8\n", []string{"u7", "u,8"}, ""},
		{"CSV without user_id is a plain list", "a,b\nc,d\n", []string{"a,b", "c,d"}, ""},
		{"ErrEmpty", "\n# nothing\n\n", nil, "no user ids"},
		{"ErrHeaderOnly", "user_id,group\n", nil, "no user ids under the user_id header"},
		{"ErrControlChar", "u1\nu\x012\n", nil, "users.txt:2: user id has the unprintable character"},
		{"ErrTooLong", "u1\n" + strings.Repeat("x", 300) + "\n", nil, "users.txt:2: user id is 300 bytes long"},
		{"ErrCSVShortRow", "user_id,group\nu1,treatment\n\"\",control\n", nil, "users.txt:3: user id is empty"},
		{"ErrCSVQuote", "user_id,group\n\"u1,treatment\n", nil, "users.txt"},
		{"ErrMissingColumn", "group,user_id\ncontrol\n", nil, "users.txt:2: 1 fields, no user_id column"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readUserIDs(strings.NewReader(c.in), "users.txt")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, c.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// FuzzReadUserIDs: the reader never panics; every id it returns passes
// serving.CheckID; and the ids it returns, written one per line, read back
// the same (the plain form round-trips).
func FuzzReadUserIDs(f *testing.F) {
	for _, s := range []string{"u1\nu2\n", "user_id,group\nu1,treatment\n", "# x\n\n a \n", "user_id\n\"q\"\"x\"\n",
		"a,user_id\n1,\"b\nc\"\n", "\xef\xbb\xbfuser_id\nz\n", "\x00", "user_id,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ids, err := readUserIDs(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		if len(ids) == 0 {
			t.Fatalf("no ids and no error for %q", in)
		}
		var b strings.Builder
		for _, id := range ids {
			if err := serving.CheckID("id", id); err != nil {
				t.Fatalf("returned id %q fails CheckID: %v", id, err)
			}
			if strings.HasPrefix(id, "#") || id == "user_id" {
				return // would read back as a comment or a header
			}
			b.WriteString(id + "\n")
		}
		back, err := readUserIDs(strings.NewReader(b.String()), "f")
		if strings.Contains(ids[0], ",") && strings.Contains(ids[0], "user_id") {
			return // the first line would read back as a CSV header
		}
		if err != nil || !slices.Equal(back, ids) {
			t.Fatalf("%q: ids %q read back as %q, %v", in, ids, back, err)
		}
	})
}

func TestExperimentUsage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "none.db")
	users := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(users, []byte("u\x01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "a.csv")
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"create/ErrNoStore", []string{"experiment", "create", "--name", "x", "--risk-band", "high", "--out", out}, 2, "--store, --name and --out are required"},
		{"create/ErrNoRule", []string{"experiment", "create", "--store", db, "--name", "x", "--out", out}, 2, "exactly one targeting rule (--segment, --risk-band, --min-churn or --users)"},
		{"create/ErrTwoRules", []string{"experiment", "create", "--store", db, "--name", "x", "--risk-band", "high", "--min-churn", "0.5", "--out", out}, 2, "got 2"},
		{"create/ErrHoldout", []string{"experiment", "create", "--store", db, "--name", "x", "--risk-band", "high", "--holdout", "1", "--out", out}, 2, "--holdout 1"},
		{"create/ErrBand", []string{"experiment", "create", "--store", db, "--name", "x", "--risk-band", "hot", "--out", out}, 2, "--risk-band \"hot\""},
		{"create/ErrName", []string{"experiment", "create", "--store", db, "--name", "a/b", "--risk-band", "high", "--out", out}, 2, `--name "a/b": '/' is not a letter`},
		{"create/ErrStratify", []string{"experiment", "create", "--store", db, "--name", "x", "--risk-band", "high", "--stratify", "country", "--out", out}, 2, "--stratify"},
		{"create/ErrUsersFile", []string{"experiment", "create", "--store", db, "--name", "x", "--users", users, "--out", out}, 2, "users.txt:1"},
		{"create/ErrMinChurn", []string{"experiment", "create", "--store", db, "--name", "x", "--min-churn", "high", "--out", out}, 2, "want a number"},
		{"create/ErrStart", []string{"experiment", "create", "--store", db, "--name", "x", "--risk-band", "high", "--start", "soon", "--out", out}, 2, "want a date"},
		{"create/ErrStoreMissing", []string{"experiment", "create", "--store", filepath.Join(dir, "no", "such.db"), "--name", "x", "--risk-band", "high", "--out", out}, 1, "store"},
		{"list/ErrNoStore", []string{"experiment", "list"}, 2, "--store is required"},
		{"list/ErrMissingFile", []string{"experiment", "list", "--store", db}, 1, "no such file"},
		{"show/ErrNoName", []string{"experiment", "show", "--store", db}, 2, "want one experiment NAME"},
		{"show/ErrTwoNames", []string{"experiment", "show", "a", "b", "--store", db}, 2, "got 2 arguments"},
		{"show/ErrBadName", []string{"experiment", "show", "a b", "--store", db}, 2, "experiment name"},
		{"show/ErrGroup", []string{"experiment", "show", "a", "--store", db, "--group", "both"}, 2, "--group"},
		{"show/ErrFlag", []string{"experiment", "show", "a", "--nope"}, 2, "flag provided but not defined"},
		{"stop/ErrNoStore", []string{"experiment", "stop", "a"}, 2, "--store is required"},
		{"globalControl/ErrShare", []string{"experiment", "global-control", "--store", db, "--share", "1.5"}, 2, "--share 1.5"},
		{"globalControl/ErrBoth", []string{"experiment", "global-control", "--store", db, "--share", "0.1", "--remove"}, 2, "exclude each other"},
		{"plan/ErrNoMDE", []string{"experiment", "plan", "--baseline", "0.3"}, 2, "--mde is required"},
		{"plan/ErrNoBaseline", []string{"experiment", "plan", "--mde", "0.02"}, 2, "--baseline is required"},
		{"plan/ErrBaseline", []string{"experiment", "plan", "--mde", "0.02", "--baseline", "1.2"}, 2, "baseline 1.2 not in (0, 1)"},
		{"plan/ErrStoreWithoutRule", []string{"experiment", "plan", "--mde", "0.02", "--store", db}, 2, "go together"},
		{"plan/ErrSizeAndStore", []string{"experiment", "plan", "--mde", "0.02", "--store", db, "--risk-band", "high", "--size", "10"}, 2, "exclude each other"},
		{"lift/ErrNeither", []string{"lift", "--store", db, "--events", out}, 2, "exactly one of --experiment NAME and --model-lift"},
		{"lift/ErrBoth", []string{"lift", "--store", db, "--events", out, "--experiment", "x", "--model-lift"}, 2, "exactly one"},
		{"lift/ErrNoStore", []string{"lift", "--experiment", "x", "--events", out}, 2, "--store is required"},
		{"lift/ErrWindowModel", []string{"lift", "--store", db, "--model-lift", "--events", out, "--window", "7d"}, 2, "--window is for --experiment"},
		{"lift/ErrAsOfExperiment", []string{"lift", "--store", db, "--experiment", "x", "--events", out, "--as-of", "2025-01-01"}, 2, "--as-of and --horizon are for --model-lift"},
		{"lift/ErrWindowDays", []string{"lift", "--store", db, "--experiment", "x", "--events", out, "--window", "36h"}, 2, "--window"},
		{"lift/ErrArgs", []string{"lift", "--store", db, "--experiment", "x", "extra"}, 2, "unexpected arguments"},
		{"group/ErrNoCommand", []string{"experiment"}, 2, "Usage:\n  lapse experiment <command>"},
		{"group/ErrUnknown", []string{"experiment", "frob"}, 2, `lapse experiment: unknown command "frob"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustRun(t, c.code, c.args...)
			if !strings.Contains(r.stderr, c.err) {
				t.Errorf("stderr lacks %q:\n%s", c.err, r.stderr)
			}
		})
	}
	t.Run("help/Group", func(t *testing.T) {
		r := mustRun(t, 0, "help", "experiment")
		for _, sub := range []string{"create", "list", "show", "stop", "global-control", "plan"} {
			if !strings.Contains(r.stdout, "\n  "+sub+" ") {
				t.Errorf("help experiment does not list %s:\n%s", sub, r.stdout)
			}
		}
		a := mustRun(t, 0, "help", "experiment", "create").stdout
		b := mustRun(t, 0, "experiment", "create", "-h").stdout
		if a != b || !strings.Contains(a, "lapse experiment create --store lapse.db --name") {
			t.Errorf("help experiment create and experiment create -h differ:\n%s\n---\n%s", a, b)
		}
	})
}

// TestExperimentPlan checks the plan against lift.SampleSize and
// PlanHoldout, whose numbers model/lift tests against published
// references: 9,041 per group for 35% -> 37%.
func TestExperimentPlan(t *testing.T) {
	r := mustRun(t, 0, "experiment", "plan", "--baseline", "0.35", "--mde", "0.02")
	if !strings.Contains(r.stdout, "To detect +2.0 points on a baseline of 35.0% (two-sided alpha 0.05, power 80.0%):\n  9,041 users per group (18,082 in a 50/50 split).") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "experiment", "plan", "--baseline", "0.35", "--mde", "0.02", "--size", "100000")
	if !strings.Contains(r.stdout, "has 100,000 users:\n  hold out 4.8%: 4,767 control, 95,233 treatment") {
		t.Errorf("plan for 100,000:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "experiment", "plan", "--baseline", "0.35", "--mde", "0.02", "--size", "5000")
	if !strings.Contains(r.stdout, "too small: even a 50/50 split (2,500 and 2,500)") || !strings.Contains(r.stdout, "it detects +3.8 points") {
		t.Errorf("plan for 5,000:\n%s", r.stdout)
	}

	dir := t.TempDir()
	db := trainSample(t, dir)
	r = mustRun(t, 0, "experiment", "plan", "--store", db, "--risk-band", "high", "--mde", "0.2", "--json")
	var p planOutput
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	// The baseline is the high band's mean predicted retention, computed
	// here from the stored scores exported by lapse score.
	scores := filepath.Join(dir, "scores.csv")
	mustRun(t, 0, "score", "--store", db, "--out", scores)
	rows := readCSVFile(t, scores)
	var sum float64
	n := 0
	for _, row := range rows[1:] {
		if row[2] == "high" {
			c, err := strconv.ParseFloat(row[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += 1 - c
			n++
		}
	}
	if p.Segment != n || math.Abs(p.Baseline-sum/float64(n)) > 1e-12 || p.Plan == nil || p.Plan.Segment != n || p.Target != "risk band high" {
		t.Errorf("plan %+v, want %d users with baseline %v", p, n, sum/float64(n))
	}
}

// TestModelLiftCommand trains as of 2025-04-16 (14-day horizon) and checks
// the model against the rest of the sample: the stored scores and the
// scores recomputed from the events at the same T give the same report,
// and the outcome counts and AUC agree with labels and a ROC AUC computed
// here from the event file and the exported scores.
func TestModelLiftCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "m.db")
	mustRun(t, 0, "train", "--events", samplePath, "--horizon", "14d", "--as-of", "2025-04-16", "--min-users", "50",
		"--min-class", "1", "--seed", "1", "--store", db, "--report-dir", filepath.Join(dir, "report"))
	report := filepath.Join(dir, "ml")
	stored := mustRun(t, 0, "lift", "--store", db, "--model-lift", "--events", samplePath, "--json", "--report-dir", report)
	rescored := mustRun(t, 0, "lift", "--store", db, "--model-lift", "--events", samplePath, "--as-of", "2025-04-16", "--json")
	var a, b training.ModelLift
	if err := json.Unmarshal([]byte(stored.stdout), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(rescored.stdout), &b); err != nil {
		t.Fatal(err)
	}
	if a.Source != "stored" || b.Source != "rescored" || a.HorizonDays != 14 || !a.AsOf.Equal(time.Date(2025, 4, 16, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("stored %s/%d/%v, rescored %s", a.Source, a.HorizonDays, a.AsOf, b.Source)
	}
	a.Source, b.Source = "", ""
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("stored and rescored model lift differ:\n%s\n%s", ja, jb)
	}

	// Independent labels: a user churned when no event (every event is
	// activity in the default spec) falls in [2025-04-16, 2025-04-30).
	f, err := os.Open(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	t0, t1 := time.Date(2025, 4, 16, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC)
	active := map[string]bool{}
	for _, r := range rows[1:] {
		ts, err := time.Parse(time.RFC3339, r[2])
		if err != nil {
			t.Fatal(err)
		}
		if !ts.Before(t0) && ts.Before(t1) {
			active[r[0]] = true
		}
	}
	scores := filepath.Join(dir, "scores.csv")
	mustRun(t, 0, "score", "--store", db, "--out", scores)
	var y, p []float64
	churned := 0
	for _, r := range readCSVFile(t, scores)[1:] {
		c, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		p = append(p, c)
		if active[r[0]] {
			y = append(y, 0)
		} else {
			y = append(y, 1)
			churned++
		}
	}
	auc, err := training.ROCAUC(y, p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Users != len(p) || a.Churn.Positives != churned || math.Abs(a.Churn.AUC-auc) > 1e-12 || a.Unmatched != 0 {
		t.Errorf("model lift: %d users, %d churned, AUC %v; want %d, %d, %v", a.Users, a.Churn.Positives, a.Churn.AUC, len(p), churned, auc)
	}
	if a.Churn.AUC < 0.6 || len(a.Churn.Deciles) != 10 || a.Propensity == nil {
		t.Errorf("churn AUC %v, %d deciles, propensity %v", a.Churn.AUC, len(a.Churn.Deciles), a.Propensity != nil)
	}
	html, err := os.ReadFile(filepath.Join(report, "lift.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Cumulative gains, churn") || !strings.Contains(string(html), "<svg") {
		t.Error("lift.html lacks the gains chart")
	}
	text := mustRun(t, 0, "lift", "--store", db, "--model-lift", "--events", samplePath)
	if !strings.Contains(text.stdout, "Churn: "+thousands(churned)+" of "+thousands(len(p))+" users churned") {
		t.Errorf("text:\n%s", text.stdout)
	}
	// The whole sample ends 2025-04-30: a 30-day check of T = 04-16 is
	// not possible yet.
	r := mustRun(t, 1, "lift", "--store", db, "--model-lift", "--events", samplePath, "--horizon", "30d")
	if !strings.Contains(r.stderr, "is not known yet") {
		t.Errorf("stderr: %s", r.stderr)
	}
}
