package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// featureRow runs lapse features with args (plus --out -) and returns the
// row of user, by column name, and stderr.
func featureRow(t *testing.T, stdin string, user string, args ...string) (map[string]string, string) {
	t.Helper()
	r := runLapse(t, stdin, append(args, "--out", "-")...)
	if r.code != 0 {
		t.Fatalf("lapse %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	col, rows := readCSV(t, []byte(r.stdout))
	for _, row := range rows {
		if row[0] == user {
			m := map[string]string{}
			for name, i := range col {
				m[name] = row[i]
			}
			return m, r.stderr
		}
	}
	t.Fatalf("no row for user %s in\n%s", user, r.stdout)
	return nil, ""
}

// writeTestFile writes data to name in dir and returns the path.
func writeTestFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every timestamp form of the README, read by lapse features: one login
// by u1 at 2025-03-08 12:00 UTC (or at midnight for the date-only forms),
// as of 2025-03-10, so recency_days is 1.5 (or 2) by hand; unix
// 1741435200 is 2025-03-08T12:00:00Z (Python:
// datetime(2025,3,8,12,tzinfo=timezone.utc).timestamp()).
func TestFeaturesTimestampForms(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, ts string
		flags    []string
		recency  string
	}{
		{"RFC 3339 Z", "2025-03-08T12:00:00Z", nil, "1.5"},
		{"RFC 3339 offset", "2025-03-08T14:00:00+02:00", nil, "1.5"},
		{"RFC 3339 fraction", "2025-03-08T11:59:59.5Z", nil, "1.5000057870370371"},
		{"ISO without zone", "2025-03-08T12:00:00", nil, "1.5"},
		{"ISO without seconds", "2025-03-08T12:00", nil, "1.5"},
		{"space separator", "2025-03-08 12:00:00", nil, "1.5"},
		{"date", "2025-03-08", nil, "2"},
		{"compact date", "20250308", nil, "2"},
		{"US date and time", "3/8/2025 12:00", nil, "1.5"},
		{"US date, time with seconds", "03/08/2025 12:00:00", nil, "1.5"},
		{"US date", "3/8/2025", nil, "2"},
		{"unix seconds", "1741435200", nil, "1.5"},
		{"unix milliseconds", "1741435200000", nil, "1.5"},
		// America/New_York is UTC-5 until 2025-03-09 (DST): 07:00 is 12:00 UTC.
		{"--tz", "2025-03-08 07:00:00", []string{"--tz", "America/New_York"}, "1.5"},
		{"--tz leaves a zone alone", "2025-03-08T12:00:00Z", []string{"--tz", "America/New_York"}, "1.5"},
		{"--tz date", "2025-03-08", []string{"--tz", "Asia/Tokyo"}, "2.375"}, // midnight in Tokyo is 15:00 UTC the day before
		{"--time-format day-first", "08/03/2025 12:00", []string{"--time-format", "02/01/2006 15:04"}, "1.5"},
		{"--time-format with --tz", "08/03/2025 07:00", []string{"--time-format", "02/01/2006 15:04", "--tz", "America/New_York"}, "1.5"},
		{"--time-format unix", "1741435200.5", []string{"--time-format", "unix"}, "1.4999942129629629"},
		// 86400 is below the auto-detected range (1e8 on): only "unix"
		// reads it, as 1970-01-02; a later --as-of wins over the first.
		{"--time-format unix, small number", "86400", []string{"--time-format", "unix", "--as-of", "1970-01-03"}, "1"},
		{"--time-format unixms", "1741435200000", []string{"--time-format", "unixms"}, "1.5"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.name, "--tz") || strings.Contains(tt.name, "--tz") {
				if _, err := time.LoadLocation("America/New_York"); err != nil {
					t.Skipf("no tz database: %v", err)
				}
			}
			path := writeTestFile(t, dir, fmt.Sprintf("t%d.csv", i), "user_id,event,timestamp\nu1,login,\""+tt.ts+"\"\n")
			row, _ := featureRow(t, "", "u1", append([]string{"features", "--events", path, "--as-of", "2025-03-10"}, tt.flags...)...)
			if row["recency_days"] != tt.recency {
				t.Errorf("%s read as recency_days %s, want %s", tt.ts, row["recency_days"], tt.recency)
			}
		})
	}
	// A value in another form than --time-format is a bad row, with its
	// location, and a layout without a date is a usage error.
	path := writeTestFile(t, dir, "mixed.csv", "user_id,event,timestamp\nu1,login,08/03/2025 12:00\nu1,login,2025-03-08T12:00:00Z\n")
	r := runLapse(t, "", "features", "--events", path, "--time-format", "02/01/2006 15:04", "--as-of", "2025-03-10", "--out", "-")
	if r.code != 2 || !strings.Contains(r.stderr, path+`:3: timestamp: unparsable timestamp: "2025-03-08T12:00:00Z"`) {
		t.Errorf("mixed forms: exit %d, stderr\n%s", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"--time-format", "15:04"}, {"--tz", "Mars/Olympus"}} {
		if r := runLapse(t, "", append([]string{"features", "--events", path, "--out", "-"}, bad...)...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, r.code)
		}
	}
}

// The column-mapping flags, on a CSV, a JSON Lines and a gzipped TSV
// export read together with stdin, each with its own column names where
// the flags allow one mapping for all: user cust, event kind, time ts,
// amount value.
func TestFeaturesColumnMapping(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeTestFile(t, dir, "a.csv", "ts,cust,kind,value,plan\n"+
		"2025-03-01T10:00:00Z,c1,purchase,20.5,pro\n"+
		"2025-03-02T10:00:00Z,c1,refund,-5,pro\n")
	jsonPath := writeTestFile(t, dir, "b.jsonl", `{"cust":"c1","kind":"purchase","ts":"2025-03-03T10:00:00Z","value":"4.5"}`+"\n"+
		`{"cust":"c2","kind":"session_start","ts":1741000000}`+"\n")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("cust\tkind\tts\tvalue\nc2\tpurchase\t2025-03-05 08:00:00\t10\n"))
	zw.Close()
	tsvPath := filepath.Join(dir, "c.tsv.gz")
	if err := os.WriteFile(tsvPath, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := "cust,kind,ts,value\nc3,session_start,2025-03-09,\n"
	mapping := []string{"--user-col", "cust", "--event-col", "kind", "--time-col", "ts", "--amount-col", "value"}
	args := append([]string{"features", "--events", csvPath, "--events", jsonPath, "--events", tsvPath, "--events", "-", "--as-of", "2025-03-10"}, mapping...)
	r := runLapse(t, stdin, append(args, "--out", "-")...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	col, rows := readCSV(t, []byte(r.stdout))
	// By hand: c1 bought 20.5 + 4.5 = 25 in 2 orders and refunded 5; c2
	// bought 10 once (the TSV) and started a session; c3 only started one.
	want := map[string][3]string{ // revenue_total, orders_total, refunds_30d
		"c1": {"25", "2", "5"},
		"c2": {"10", "1", "0"},
		"c3": {"0", "0", "0"},
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3:\n%s", len(rows), r.stdout)
	}
	for _, row := range rows {
		w := want[row[0]]
		if got := [3]string{row[col["revenue_total"]], row[col["orders_total"]], row[col["refunds_30d"]]}; got != w {
			t.Errorf("user %s: revenue, orders, refunds = %v, want %v", row[0], got, w)
		}
	}
	for _, s := range []string{
		"read 4 inputs: " + csvPath + " (csv, 2 rows), " + jsonPath + " (jsonl, 2 rows), " + tsvPath + " (tsv, gzip, 1 row), - (csv, 1 row)",
		"rows: 6 read, 6 events, 3 users",
		"revenue: 35.00; refunds: 1 (5.00)",
	} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	// A mapped column the header lacks is a usage error naming it.
	r = runLapse(t, "", "features", "--events", csvPath, "--user-col", "customer", "--time-col", "ts", "--event-col", "kind", "--out", "-")
	if r.code != 2 || !strings.Contains(r.stderr, csvPath+`:1: customer: missing required column`) {
		t.Errorf("missing column: exit %d\n%s", r.code, r.stderr)
	}
	// Without an event column every row is --event-name; without it, the
	// header must have one.
	orders := writeTestFile(t, dir, "orders.csv", "cust,ts,value\nc1,2025-03-01,7\nc1,2025-03-02,3\n")
	row, _ := featureRow(t, "", "c1", "features", "--events", orders, "--user-col", "cust", "--time-col", "ts", "--amount-col", "value",
		"--event-name", "purchase", "--as-of", "2025-03-10")
	if row["orders_total"] != "2" || row["revenue_total"] != "10" || row["n_purchase_30d"] != "2" {
		t.Errorf("--event-name purchase: orders %s revenue %s n_purchase_30d %s; want 2, 10, 2", row["orders_total"], row["revenue_total"], row["n_purchase_30d"])
	}
	if r := runLapse(t, "", "features", "--events", orders, "--user-col", "cust", "--time-col", "ts", "--out", "-"); r.code != 2 || !strings.Contains(r.stderr, "event: missing required column") {
		t.Errorf("no event column, no --event-name: exit %d\n%s", r.code, r.stderr)
	}
}

// User ids are opaque: 17850.0 and 17850 are two users, with a warning,
// unless --user-trim-float; surrounding spaces never count.
func TestFeaturesUserIDs(t *testing.T) {
	dir := t.TempDir()
	path := writeTestFile(t, dir, "ids.csv", "user_id,event,timestamp\n"+
		"17850.0,login,2025-03-01T10:00:00Z\n"+
		" 17850 ,login,2025-03-02T10:00:00Z\n"+
		"00042,login,2025-03-03T10:00:00Z\n"+
		"42,login,2025-03-04T10:00:00Z\n")
	tests := []struct {
		trim  bool
		users []string
		note  string
	}{
		{false, []string{"00042", "17850", "17850.0", "42"}, `warning: 1 rows (25.00%) have user ids that look like floats (e.g. "17850.0")`},
		{true, []string{"00042", "17850", "42"}, `note: 1 user ids looked like floats (e.g. "17850.0") and lost their .0 tail`},
	}
	for _, tt := range tests {
		args := []string{"features", "--events", path, "--as-of", "2025-03-10", "--out", "-"}
		if tt.trim {
			args = append(args, "--user-trim-float")
		}
		r := mustRun(t, 0, args...)
		_, rows := readCSV(t, []byte(r.stdout))
		var users []string
		for _, row := range rows {
			users = append(users, row[0])
		}
		if !slices.Equal(users, tt.users) || !strings.Contains(r.stderr, tt.note) {
			t.Errorf("trim %v: users %v, want %v; stderr\n%s", tt.trim, users, tt.users, r.stderr)
		}
	}
}

// The read summary on stderr: refunds, events at or after the as-of time
// (kept for labels, counted), duplicates by the --dedupe rule, and every
// bad-row reason located as file:line: field: reason. Counts by hand from
// the rows below.
func TestFeaturesReadSummary(t *testing.T) {
	dir := t.TempDir()
	path := writeTestFile(t, dir, "ev.csv", "user_id,event,timestamp,amount\n"+
		"a,purchase,2025-03-01T10:00:00Z,30\n"+ // 2
		"a,purchase,2025-03-01T10:00:00Z,30\n"+ // 3: duplicate with a time of day
		"a,refund,2025-03-02T10:00:00Z,-10\n"+ // 4: a refund
		"b,purchase,2025-03-03,5\n"+ // 5
		"b,purchase,2025-03-03,5\n"+ // 6: date-only duplicate, kept
		"b,login,2025-03-11T00:00:00Z,\n"+ // 7: after the as-of time, in [T, T+2d)
		"c,login,2025-03-12T00:00:00Z,\n"+ // 8: at T+2d: the data covers the horizon
		",login,2025-03-01T00:00:00Z,\n"+ // 9: no user
		"d,,2025-03-01T00:00:00Z,\n"+ // 10: no event
		"d,login,someday,\n"+ // 11: bad time
		"d,purchase,2025-03-01T00:00:00Z,1O\n"+ // 12: bad amount
		"d,login,2025-03-01T00:00:00Z\n"+ // 13: field count
		"d,login,2100-01-01T00:00:00Z,\n"+ // 14: clock skew
		"d,\"login,2025-03-01T00:00:00Z,\n"+ // 15: open quote
		"d,login,2025-03-01T00:00:00Z,\n") // 16: read again after it
	base := []string{"features", "--events", path, "--as-of", "2025-03-10", "--horizon", "2d", "--max-bad-rows", "7", "--out", "-"}
	r := mustRun(t, 0, base...)
	for _, s := range []string{
		"rows: 15 read, 7 events, 4 users",
		"revenue: 40.00; refunds: 1 (10.00)",
		"at or after the as-of time 2025-03-10T00:00:00Z: 2 events (labels only, not features)",
		"exact duplicate rows: 1 dropped (timestamp with a time of day), 1 kept (date-only timestamp)",
		"bad rows: 7 (46.67% of rows; allowed: 7 rows)",
		path + ":9: user_id: missing user id",
		path + ":10: event: missing event name",
		path + `:11: timestamp: unparsable timestamp: "someday"`,
		path + `:12: amount: unparsable amount: "1O"`,
		path + ":13: wrong number of fields: 3, the header has 4",
		path + ":14: timestamp: timestamp later than the current clock: 2100-01-01T00:00:00Z is after ",
		path + `:15: event: syntax error: extraneous or missing " in quoted field`,
		"events_before_as_of=5 events_after_as_of=2",
	} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	// The events after T set labels only: a, b and d have vectors (c's
	// only event is after T), b is active in [T, T+2d), a and d are not.
	col, rows := readCSV(t, []byte(r.stdout))
	got := map[string]string{}
	for _, row := range rows {
		got[row[0]] = row[col["churn"]] + "/" + row[col["events_total"]]
	}
	if want := map[string]string{"a": "1/2", "b": "0/2", "d": "1/1"}; !maps.Equal(got, want) {
		t.Errorf("churn/events_total by user %v, want %v", got, want)
	}
	// --dedupe on drops the date-only duplicate too, off keeps both.
	for mode, want := range map[string]string{"on": "rows: 15 read, 6 events", "off": "rows: 15 read, 8 events"} {
		r := mustRun(t, 0, append(base, "--dedupe", mode)...)
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--dedupe %s: stderr lacks %q:\n%s", mode, want, r.stderr)
		}
	}
	// One bad row fewer than allowed, as a fraction: 7/15 = 46.67%.
	mustRun(t, 0, append(base[:len(base)-4], "--max-bad-rows", "47%", "--out", "-")...)
	r = mustRun(t, 2, append(base[:len(base)-4], "--max-bad-rows", "0.46", "--out", "-")...)
	if !strings.Contains(r.stderr, "too many bad rows: 7 of 15 rows rejected (46.67%), above the limit of 46%") {
		t.Errorf("fraction limit message:\n%s", r.stderr)
	}
	r = mustRun(t, 2, append(base[:len(base)-4], "--max-bad-rows", "6", "--out", "-")...)
	if !strings.Contains(r.stderr, "too many bad rows: 7 of 14 rows rejected") || !strings.Contains(r.stderr, "stopped early") {
		t.Errorf("count limit message:\n%s", r.stderr)
	}
}

// The snapshot flags on a hand-made history, as of T = 2025-03-10: u1
// logs in at T-10d, buys at T-40d, opens a ticket at T-2d and logs in at
// T+1d; u2 opens an email at T-5d and buys at T+3d; u3 logs in at T-100d
// and at T+7d (so the data reaches T+1w, not T+2w).
func TestFeaturesSnapshotFlags(t *testing.T) {
	path := writeTestFile(t, t.TempDir(), "h.csv", "user_id,event,timestamp,amount\n"+
		"u1,purchase,2025-01-29T00:00:00Z,20\n"+
		"u3,login,2024-11-30T00:00:00Z,\n"+
		"u1,login,2025-02-28T00:00:00Z,\n"+
		"u2,email_open,2025-03-05T00:00:00Z,\n"+
		"u1,support_ticket,2025-03-08T00:00:00Z,\n"+
		"u1,login,2025-03-11T00:00:00Z,\n"+
		"u2,purchase,2025-03-13T00:00:00Z,15\n"+
		"u3,login,2025-03-17T00:00:00Z,\n")
	base := []string{"features", "--events", path, "--as-of", "2025-03-10", "--out", "-"}
	tests := []struct {
		name  string
		flags []string
		want  map[string]map[string]string // user -> column -> value; "" = column absent
		users []string                     // eligible users, in order
		note  string                       // on stderr
	}{
		{
			name:  "defaults: 90 days, every event is activity",
			users: []string{"u1", "u2"},
			want: map[string]map[string]string{
				"u1": {"recency_days": "2", "events_7d": "1", "events_30d": "2", "events_90d": "3", "support_tickets_7d": "1", "churn": ""},
				"u2": {"recency_days": "5", "recency_purchase_days": "730"},
			},
		},
		{
			name:  "--eligibility 15w reaches u3 at 100 days",
			flags: []string{"--eligibility", "15w"},
			users: []string{"u1", "u2", "u3"},
			want:  map[string]map[string]string{"u3": {"recency_days": "100", "events_90d": "0", "events_365d": "1"}},
		},
		{
			name:  "--eligibility 13w does not",
			flags: []string{"--eligibility", "13w"},
			users: []string{"u1", "u2"},
		},
		{
			name:  "--activity-events login,purchase",
			flags: []string{"--activity-events", "login,purchase"},
			users: []string{"u1"}, // u2's email is not activity
			want:  map[string]map[string]string{"u1": {"recency_days": "10", "events_30d": "1", "n_support_ticket_7d": "1"}},
		},
		{
			name:  "--windows 1w,2w",
			flags: []string{"--windows", "2w,1w"},
			users: []string{"u1", "u2"},
			want:  map[string]map[string]string{"u1": {"events_7d": "1", "events_14d": "2", "events_30d": "", "recency_purchase_days": "40"}},
		},
		{
			name:  "--horizon 1w: labels",
			flags: []string{"--horizon", "1w"},
			users: []string{"u1", "u2"},
			want: map[string]map[string]string{
				"u1": {"churn": "0", "propensity": "0"},
				"u2": {"churn": "0", "propensity": "1"},
			},
		},
		{
			name:  "--horizon 1w --target-event login",
			flags: []string{"--horizon", "1w", "--target-event", "login"},
			users: []string{"u1", "u2"},
			want: map[string]map[string]string{
				"u1": {"churn": "0", "propensity": "1"},
				"u2": {"churn": "0", "propensity": "0"},
			},
		},
		{
			name:  "--horizon 2w: the data ends first",
			flags: []string{"--horizon", "14d"},
			users: []string{"u1", "u2"},
			want:  map[string]map[string]string{"u1": {"churn": "", "propensity": ""}},
			note:  "note: no label columns: labels over [2025-03-10T00:00:00Z, 2025-03-24T00:00:00Z) need data up to 2025-03-24T00:00:00Z, but the last event is at 2025-03-17T00:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, 0, append(base, tt.flags...)...)
			col, rows := readCSV(t, []byte(r.stdout))
			var users []string
			for _, row := range rows {
				users = append(users, row[0])
				for name, want := range tt.want[row[0]] {
					i, ok := col[name]
					switch {
					case want == "" && ok:
						t.Errorf("user %s: column %s present, want none", row[0], name)
					case want != "" && !ok:
						t.Errorf("user %s: no column %s", row[0], name)
					case ok && row[i] != want:
						t.Errorf("user %s: %s = %s, want %s", row[0], name, row[i], want)
					}
				}
			}
			if !slices.Equal(users, tt.users) {
				t.Errorf("eligible users %v, want %v", users, tt.users)
			}
			if !strings.Contains(r.stderr, tt.note) {
				t.Errorf("stderr lacks %q:\n%s", tt.note, r.stderr)
			}
		})
	}
}
