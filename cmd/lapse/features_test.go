package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
)

const samplePath = "../../testdata/sample_events.csv"

// sampleFeatureArgs is the small golden case: the committed sample as of
// 2025-04-01 with 28-day labels (the sample ends on 2025-04-30).
func sampleFeatureArgs(out string) []string {
	return []string{"features", "--events", samplePath, "--as-of", "2025-04-01", "--horizon", "4w",
		"--windows", "7d,28d", "--top-k", "5", "--out", out}
}

// readCSV reads a whole CSV file into a header index and rows.
func readCSV(tb testing.TB, data []byte) (map[string]int, [][]string) {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	col := map[string]int{}
	for i, n := range recs[0] {
		col[n] = i
	}
	return col, recs[1:]
}

func TestFeaturesGolden(t *testing.T) {
	golden := filepath.Join("testdata", "features_sample.golden.csv")
	out := filepath.Join(t.TempDir(), "features.csv")
	mustRun(t, 0, sampleFeatureArgs(out)...)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/lapse -run TestFeaturesGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("lapse %s differs from %s; if that is intended, run go test ./cmd/lapse -run TestFeaturesGolden -update and review the diff",
			strings.Join(sampleFeatureArgs(out), " "), golden)
	}
	// The same history as JSON Lines gives the same vectors.
	jsonl := filepath.Join(t.TempDir(), "sample.jsonl")
	mustRun(t, 0, append(sampleArgs(jsonl)[:len(sampleArgs(jsonl))-2], "--out", jsonl)...)
	args := sampleFeatureArgs(out)
	args[2] = jsonl
	mustRun(t, 0, args...)
	if got, err = os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("features from %s differ from %s (%v)", jsonl, golden, err)
	}
}

// TestFeaturesSampleReference recomputes a few columns of every row of the
// golden case directly from the sample CSV, with the definitions of
// docs/DESIGN.md and nothing from package features: the wiring of --as-of,
// --windows, --horizon and eligibility must match.
func TestFeaturesSampleReference(t *testing.T) {
	out := filepath.Join(t.TempDir(), "features.csv")
	mustRun(t, 0, sampleFeatureArgs(out)...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	col, rows := readCSV(t, data)

	raw, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	_, events := readCSV(t, raw)
	asOf := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	horizonEnd := asOf.AddDate(0, 0, 28)
	type ref struct {
		last                 time.Time
		ev7, ev28, act28     float64
		rev28, ord28, ref28  float64
		tickets7, tickets30  float64
		activeInHorizon      bool
		purchaseInHorizon    bool
		days28               map[int64]bool
		eligible             bool
		weekend, activeTotal float64
	}
	refs := map[string]*ref{}
	for _, e := range events {
		ts, err := time.Parse(time.RFC3339, e[2])
		if err != nil {
			t.Fatal(err)
		}
		amt := 0.0
		if e[3] != "" {
			amt, _ = strconv.ParseFloat(e[3], 64)
		}
		r := refs[e[0]]
		if r == nil {
			r = &ref{days28: map[int64]bool{}}
			refs[e[0]] = r
		}
		if !ts.Before(asOf) {
			if ts.Before(horizonEnd) {
				r.activeInHorizon = true
				if e[1] == "purchase" && amt >= 0 {
					r.purchaseInHorizon = true
				}
			}
			continue
		}
		// As-of is midnight, so age a in days means ts in [asOf-a days, asOf-(a-1) days).
		age := int(asOf.Sub(ts)/(24*time.Hour)) + 1
		if ts.After(r.last) {
			r.last = ts
		}
		r.activeTotal++
		if wd := ts.Weekday(); wd == time.Saturday || wd == time.Sunday {
			r.weekend++
		}
		if age <= 90 {
			r.eligible = true
		}
		if age <= 7 {
			r.ev7++
			if e[1] == "support_ticket" {
				r.tickets7++
			}
		}
		if age <= 30 && e[1] == "support_ticket" {
			r.tickets30++
		}
		if age <= 28 {
			r.ev28++
			r.days28[ts.Unix()/86400] = true
			if e[1] == "purchase" && amt >= 0 {
				r.rev28 += amt
				r.ord28++
			}
			if amt < 0 {
				r.ref28 -= amt
			}
		}
	}
	nEligible := 0
	for _, r := range refs {
		if r.eligible {
			nEligible++
		}
	}
	if len(rows) != nEligible || nEligible < 50 {
		t.Fatalf("%d rows, want %d eligible users", len(rows), nEligible)
	}
	get := func(row []string, name string) float64 {
		i, ok := col[name]
		if !ok {
			t.Fatalf("no column %s", name)
		}
		v, err := strconv.ParseFloat(row[i], 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, row[i], err)
		}
		return v
	}
	const tol = 1e-9
	for _, row := range rows {
		r := refs[row[0]]
		if r == nil || !r.eligible {
			t.Fatalf("user %s is in the output but not eligible", row[0])
		}
		checks := []struct {
			name string
			want float64
		}{
			{"recency_days", asOf.Sub(r.last).Hours() / 24},
			{"events_7d", r.ev7},
			{"events_28d", r.ev28},
			{"active_days_28d", float64(len(r.days28))},
			{"revenue_28d", r.rev28},
			{"orders_28d", r.ord28},
			{"refunds_28d", r.ref28},
			{"support_tickets_7d", r.tickets7},
			{"support_tickets_30d", r.tickets30},
			{"events_total", r.activeTotal},
			{"weekend_share", r.weekend / r.activeTotal},
			{"churn", b2f(!r.activeInHorizon)},
			{"propensity", b2f(r.purchaseInHorizon)},
		}
		for _, c := range checks {
			if got := get(row, c.name); math.Abs(got-c.want) > tol*max(1, math.Abs(c.want)) {
				t.Errorf("user %s: %s = %v, want %v", row[0], c.name, got, c.want)
			}
		}
	}
}

func TestFeaturesDefaultAsOf(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f.csv")
	spec := filepath.Join(dir, "spec.json")
	r := mustRun(t, 0, "features", "--events", samplePath, "--horizon", "30d", "--out", out, "--spec-out", spec)
	// The sample's last event is on 2025-04-30, so T is 2025-05-01 and the
	// data cannot cover [T, T+30d): no labels, and stderr says why.
	if !strings.Contains(r.stderr, "as_of=2025-05-01T00:00:00Z") || !strings.Contains(r.stderr, "no label columns") {
		t.Errorf("stderr = %s", r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(string(data), "\n", 2)[0]
	if strings.Contains(header, "churn") || !strings.HasPrefix(header, "user_id,recency_days,") {
		t.Errorf("header = %s", header)
	}
	js, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := features.ParseSpec(js)
	if err != nil {
		t.Fatalf("--spec-out wrote an invalid spec: %v", err)
	}
	if got, want := "user_id,"+strings.Join(s.Names(), ","), header; got != want {
		t.Errorf("spec names %s\ndiffer from header %s", got, want)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil || raw["version"] == nil {
		t.Errorf("spec JSON %v: %s", err, js[:min(80, len(js))])
	}
}

func TestFeaturesStdinAndGzip(t *testing.T) {
	raw, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var errb bytes.Buffer
	args := []string{"features", "--events", "-", "--as-of", "2025-04-01", "--out", "-"}
	if code := Run(t.Context(), args, bytes.NewReader(raw), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	dir := t.TempDir()
	gz := filepath.Join(dir, "sample.csv.gz")
	mustRun(t, 0, "gen", "--users", "300", "--days", "120", "--seed", "7", "--out", gz)
	file := filepath.Join(dir, "f.csv")
	mustRun(t, 0, "features", "--events", gz, "--as-of", "2025-04-01", "--out", file)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, out.Bytes()) {
		t.Error("features from stdin (plain) and from a .gz file differ")
	}
}

func TestFeaturesUsageErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.csv")
	for _, args := range [][]string{
		{"features", "--out", out},                              // no --events
		{"features", "--events", samplePath},                    // no --out
		{"features", "--events", samplePath, "--out", out, "x"}, // stray argument
		{"features", "--events", samplePath, "--out", out, "--windows", "36h"},
		{"features", "--events", samplePath, "--out", out, "--eligibility", "36h"},
		{"features", "--events", samplePath, "--out", out, "--top-k", "-1"},
		{"features", "--events", samplePath, "--out", out, "--max-bad-rows", "lots"},
	} {
		if r := runLapse(t, "", args...); r.code != 2 {
			t.Errorf("lapse %q: exit %d, want 2; stderr %s", args, r.code, r.stderr)
		}
	}
	if r := runLapse(t, "", "features", "--events", "no/such/file.csv", "--out", out); r.code != 1 || !strings.Contains(r.stderr, "no/such/file.csv") {
		t.Errorf("missing file: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestFeaturesBadRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.csv")
	// 10 rows, 3 bad: line 3 has an unparsable timestamp, line 6 no user,
	// line 9 an unparsable amount.
	data := "user_id,event,timestamp,amount\n" +
		"a,login,2025-03-01T10:00:00Z,\n" +
		"a,login,yesterday,\n" +
		"b,purchase,2025-03-02T11:00:00Z,20.5\n" +
		"b,login,2025-03-03T11:00:00Z,\n" +
		",login,2025-03-03T12:00:00Z,\n" +
		"c,login,2025-03-04T09:00:00Z,\n" +
		"c,login,2025-03-05T09:00:00Z,\n" +
		"c,purchase,2025-03-05T09:01:00Z,ten\n" +
		"d,login,2025-03-06T09:00:00Z,\n" +
		"d,refund,2025-03-07T09:00:00Z,-5\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "f.csv")
	base := []string{"features", "--events", path, "--as-of", "2025-03-10", "--out", out}

	// The default limit is 1%: 3 of 10 rows fail the run with exit code 2.
	r := runLapse(t, "", base...)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{path + ":3: timestamp: ", path + ":6: user_id: ", path + ":9: amount: ", "--max-bad-rows"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run wrote its output")
	}
	// A count of 2 stops at the third bad row; 3 or 30% lets the run pass.
	mustRun(t, 2, append(base, "--max-bad-rows", "2")...)
	r = mustRun(t, 0, append(base, "--max-bad-rows", "3")...)
	if !strings.Contains(r.stderr, "bad rows: 3") {
		t.Errorf("summary does not report 3 bad rows:\n%s", r.stderr)
	}
	mustRun(t, 0, append(base, "--max-bad-rows", "30%")...)
	mustRun(t, 2, append(base, "--max-bad-rows", "29%")...)
	// Users a, b, c, d are active in the 90 days before 2025-03-10.
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, got)
	if len(rows) != 4 {
		t.Errorf("%d rows, want 4 users", len(rows))
	}
}

func TestFeaturesMissingColumn(t *testing.T) {
	r := runLapse(t, "", "features", "--events", samplePath, "--user-col", "customer", "--out", filepath.Join(t.TempDir(), "f.csv"))
	if r.code != 2 || !strings.Contains(r.stderr, "customer") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
}

// The CDNOW master file (Fader & Hardie): 69,659 purchases of 23,570
// customers, whitespace-separated with YYYYMMDD dates and no event column.
// Counts and the dollar total are from ../shared/data/cdnow/README.md.
func TestFeaturesCDNOW(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "cdnow", "CDNOW_master.txt")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("CDNOW data absent: %v", err)
	}
	out := filepath.Join(t.TempDir(), "cdnow.csv")
	r := mustRun(t, 0, "features", "--events", path, "--user-col", "customer_id", "--time-col", "date",
		"--amount-col", "dollar_value", "--event-name", "purchase", "--as-of", "1997-10-01", "--horizon", "13w",
		"--out", out)
	for _, want := range []string{
		"rows: 69,659 read, 69,659 events, 23,570 users",
		"time range: 1997-01-01T00:00:00Z .. 1998-06-30T00:00:00Z",
		"revenue: 2,500,315.63",
		"bad rows: 0",
		"labelled=true",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	col, rows := readCSV(t, data)
	// Every customer's first purchase is in Q1 1997, so with L = 90 days
	// only those who bought again in 1997-07-03 .. 1997-09-30 are eligible.
	// Independent count: the customers with a row dated 19970703..19970930.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	eligible := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] >= "19970703" && f[1] <= "19970930" {
			eligible[f[0]] = true
		}
	}
	if len(rows) != len(eligible) {
		t.Errorf("%d eligible customers, want %d", len(rows), len(eligible))
	}
	for _, row := range rows {
		if !eligible[row[0]] {
			t.Fatalf("customer %s is not eligible", row[0])
		}
		if row[col["ever_purchased"]] != "1" {
			t.Fatalf("customer %s: ever_purchased = %s", row[0], row[col["ever_purchased"]])
		}
	}
}

// An order-line export in the style of the UCI Online Retail data: no event
// column, amount = Quantity x UnitPrice, lines of one invoice merged, ids
// written as floats by a spreadsheet.
func TestFeaturesOrderLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "orders.csv")
	data := "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n" +
		"536365,85123A,6,12/1/2010 8:26,2.55,17850.0\n" +
		"536365,71053,6,12/1/2010 8:26,3.39,17850.0\n" +
		"536366,22633,6,12/1/2010 8:28,1.85,17850.0\n" +
		"536367,84879,32,12/1/2010 8:34,1.69,13047.0\n" +
		"C536379,D,-1,12/1/2010 9:41,27.5,14527.0\n" +
		"536380,22961,24,12/1/2010 9:41,1.45,17809\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 0, "features", "--events", path, "--user-col", "CustomerID", "--time-col", "InvoiceDate",
		"--event-name", "purchase", "--quantity-col", "Quantity", "--price-col", "UnitPrice", "--order-col", "InvoiceNo",
		"--user-trim-float", "--as-of", "2010-12-02", "--windows", "7d", "--out", "-")
	col, rows := readCSV(t, []byte(r.stdout))
	// Hand-computed: 17850 has orders 536365 (6 x 2.55 + 6 x 3.39 = 35.64)
	// and 536366 (6 x 1.85 = 11.10); 13047 one of 32 x 1.69 = 54.08; 14527 a
	// credit note of -1 x 27.50; 17809 (already an integer id) 24 x 1.45 = 34.80.
	want := map[string][3]float64{ // orders_7d, revenue_7d, refunds_7d
		"17850": {2, 46.74, 0},
		"13047": {1, 54.08, 0},
		"14527": {0, 0, 27.5},
		"17809": {1, 34.8, 0},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), r.stdout)
	}
	for _, row := range rows {
		w, ok := want[row[0]]
		if !ok {
			t.Fatalf("unexpected user %q", row[0])
		}
		for i, name := range []string{"orders_7d", "revenue_7d", "refunds_7d"} {
			got, err := strconv.ParseFloat(row[col[name]], 64)
			if err != nil || math.Abs(got-w[i]) > 1e-9 {
				t.Errorf("user %s: %s = %s, want %v", row[0], name, row[col[name]], w[i])
			}
		}
	}
	if !strings.Contains(r.stderr, "merged") {
		t.Errorf("stderr does not report the merged line:\n%s", r.stderr)
	}
}
