package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/training"
)

// memStore is an in-memory modelStore for the command tests: versions with
// their encoded model, report and scores, and the active pointer, shared by
// every command that opens the same path within a test.
type memStore struct {
	mu       sync.Mutex
	versions []memVersion
	active   string
}

type memVersion struct {
	info   modelInfo
	model  []byte
	report []byte
	users  []string
	scores map[string][]byte
	states int
}

func (s *memStore) SaveModel(ctx context.Context, res *training.Result, report []byte, activate bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.versions {
		if v.info.Version == res.Model.Version {
			return fmt.Errorf("version %s exists", res.Model.Version)
		}
	}
	mb, err := model.Encode(res.Model)
	if err != nil {
		return err
	}
	v := memVersion{model: mb, report: report, scores: map[string][]byte{}, states: len(res.States),
		info: modelInfo{Version: res.Model.Version, Created: res.Model.CreatedAt, AsOf: res.Model.AsOf,
			HorizonDays: res.Model.HorizonDays, ChurnAUC: res.Model.Metrics["churn_auc_oot"], Users: len(res.Scores)}}
	for _, sc := range res.Scores {
		b, err := json.Marshal(sc.Prediction)
		if err != nil {
			return err
		}
		v.users = append(v.users, sc.UserID)
		v.scores[sc.UserID] = b
	}
	s.versions = append(s.versions, v)
	if activate {
		s.active = v.info.Version
	}
	return nil
}

func (s *memStore) ListModels(ctx context.Context) ([]modelInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []modelInfo
	for i := len(s.versions) - 1; i >= 0; i-- {
		info := s.versions[i].info
		info.Active = info.Version == s.active
		out = append(out, info)
	}
	return out, nil
}

func (s *memStore) find(version string) (*memVersion, error) {
	for i := range s.versions {
		if s.versions[i].info.Version == version {
			return &s.versions[i], nil
		}
	}
	return nil, fmt.Errorf("no model version %q", version)
}

func (s *memStore) ActiveModel(ctx context.Context) (*model.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == "" {
		return nil, errNoActiveModel
	}
	v, err := s.find(s.active)
	if err != nil {
		return nil, err
	}
	return model.Decode(v.model)
}

func (s *memStore) Activate(ctx context.Context, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.find(version); err != nil {
		return err
	}
	s.active = version
	return nil
}

func (s *memStore) EachScore(ctx context.Context, version string, fn func(string, *model.Prediction) error) error {
	s.mu.Lock()
	v, err := s.find(version)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, u := range v.users {
		var p model.Prediction
		if err := json.Unmarshal(v.scores[u], &p); err != nil {
			return err
		}
		if err := fn(u, &p); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) Close() error { return nil }

// useMemStores makes openStore return one memStore per path for the test.
func useMemStores(t *testing.T) map[string]*memStore {
	t.Helper()
	stores := map[string]*memStore{}
	var mu sync.Mutex
	old := openModelStore
	openModelStore = func(path string) (modelStore, error) {
		mu.Lock()
		defer mu.Unlock()
		if stores[path] == nil {
			stores[path] = &memStore{}
		}
		return stores[path], nil
	}
	t.Cleanup(func() { openModelStore = old })
	return stores
}

// sampleTrainArgs trains on the committed sample (300 users, lowered
// minimums) as of 2025-05-01 with a 30-day horizon.
func sampleTrainArgs(db, dir string) []string {
	return []string{"train", "--events", samplePath, "--horizon", "30d", "--min-users", "50", "--min-class", "1",
		"--seed", "1", "--store", db, "--report-dir", dir}
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestTrainScoreModels(t *testing.T) {
	stores := useMemStores(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "lapse.db")
	rep := filepath.Join(dir, "report")
	r := mustRun(t, 0, sampleTrainArgs(db, rep)...)
	st := stores[db]
	if st == nil || len(st.versions) != 1 || st.active == "" {
		t.Fatalf("store after train: %+v", st)
	}
	v := st.versions[0]
	if !strings.Contains(r.stdout, "model "+v.info.Version+" activated") {
		t.Errorf("stdout lacks the activation line:\n%s", r.stdout)
	}
	if v.states != v.info.Users || v.states == 0 {
		t.Errorf("%d states stored for %d scored users", v.states, v.info.Users)
	}

	t.Run("Report", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(rep, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(v.report) {
			t.Error("report.json differs from the stored report")
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"as_of", "horizon_days", "cutoffs", "n_users", "base_rate",
			"holdout.out_of_time.churn.auc", "holdout.held_out_users.churn.auc",
			"holdout.out_of_time.churn.baselines.recency.auc", "holdout.out_of_time.propensity.auc",
			"segments.rfm", "data.rows", "flags.horizon"} {
			var cur any = m
			for _, k := range strings.Split(path, ".") {
				obj, ok := cur.(map[string]any)
				if !ok {
					t.Fatalf("report.json: %s: %q is not an object", path, k)
				}
				if cur, ok = obj[k]; !ok || cur == nil {
					t.Errorf("report.json lacks %s", path)
					break
				}
			}
		}
		if m["flags"].(map[string]any)["horizon"] != "30d" || m["data"].(map[string]any)["rows"].(float64) != 25016 {
			t.Errorf("flags %v, data rows %v", m["flags"], m["data"].(map[string]any)["rows"])
		}
		html, err := os.ReadFile(filepath.Join(rep, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), "<svg") || strings.Contains(string(html), "http://") && !strings.Contains(string(html), "http://www.w3.org/2000/svg") {
			t.Error("report.html is not a self-contained page with charts")
		}
	})

	t.Run("Models", func(t *testing.T) {
		r := mustRun(t, 0, "models", "--store", db)
		if !strings.Contains(r.stdout, "*  "+v.info.Version) || !strings.Contains(r.stdout, fmt.Sprintf("%.4f", v.info.ChurnAUC)) {
			t.Errorf("models output:\n%s", r.stdout)
		}
		r = mustRun(t, 1, "models", "--store", db, "--activate", "2025-01-01-deadbeef")
		if !strings.Contains(r.stderr, "deadbeef") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	var stored [][]string
	t.Run("ScoreStored", func(t *testing.T) {
		out := filepath.Join(dir, "scores.csv")
		mustRun(t, 0, "score", "--store", db, "--out", out)
		stored = readCSVFile(t, out)
		if !slices.Equal(stored[0], scoreColumns) || len(stored)-1 != v.info.Users {
			t.Fatalf("header %v, %d rows for %d users", stored[0], len(stored)-1, v.info.Users)
		}
		reasons := slices.Index(scoreColumns, "top_reasons")
		values := slices.Index(scoreColumns, "p_alive")
		for _, row := range stored[1:] {
			if row[2] == "" || row[3] == "" || row[5] == "" || row[6] == "" || row[7] == "" || row[reasons] == "" {
				t.Fatalf("incomplete row %v", row)
			}
			if len(strings.Split(row[reasons], "; ")) > model.NumReasons {
				t.Fatalf("top_reasons %q", row[reasons])
			}
			// BG/NBD cannot be fitted on the sample: no customer values.
			if row[values] != "" || row[values+1] != "" || row[values+2] != "" {
				t.Fatalf("customer values in %v", row)
			}
		}
	})

	// Rescoring the same events as of the same T with the stored model
	// gives the stored scores, byte for byte.
	t.Run("Rescore", func(t *testing.T) {
		out := filepath.Join(dir, "rescored.csv")
		mustRun(t, 0, "score", "--store", db, "--events", samplePath, "--as-of", "2025-05-01", "--out", out)
		got := readCSVFile(t, out)
		if !slices.EqualFunc(got, stored, slices.Equal) {
			t.Errorf("rescored CSV differs from the stored scores (%d vs %d rows)", len(got), len(stored))
		}
	})

	t.Run("JSONL", func(t *testing.T) {
		out := filepath.Join(dir, "scores.jsonl")
		mustRun(t, 0, "score", "--store", db, "--out", out)
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			var row scoreRow
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatal(err)
			}
			n++
			want := stored[n]
			if row.UserID != want[0] || strings.Join(row.TopReasons, "; ") != want[slices.Index(scoreColumns, "top_reasons")] || len(row.Reasons) != len(row.TopReasons) {
				t.Fatalf("line %d: %+v, CSV row %v", n, row, want)
			}
		}
		if n != v.info.Users {
			t.Errorf("%d lines for %d users", n, v.info.Users)
		}
	})

	// Same data, flags and seed: the same version, so storing it again is
	// refused (versions are immutable); the report differs only in
	// created_at.
	t.Run("Deterministic", func(t *testing.T) {
		rep2 := filepath.Join(dir, "report2")
		r := mustRun(t, 1, sampleTrainArgs(db, rep2)...)
		if !strings.Contains(r.stderr, v.info.Version+" exists") {
			t.Errorf("second identical train: %s", r.stderr)
		}
		a, _ := os.ReadFile(filepath.Join(rep, "report.json"))
		b, _ := os.ReadFile(filepath.Join(rep2, "report.json"))
		strip := func(s []byte) string {
			var lines []string
			for _, l := range strings.Split(string(s), "\n") {
				if !strings.Contains(l, `"created_at"`) {
					lines = append(lines, l)
				}
			}
			return strings.Join(lines, "\n")
		}
		if strip(a) != strip(b) {
			t.Error("two identical runs wrote different reports")
		}
	})
}

// TestTrainScoreCustomerValues: on a synthetic history, where BG/NBD and
// Gamma-Gamma fit, lapse score writes every purchaser's p_alive,
// expected_purchases and clv (empty for users who never purchased), the
// same in CSV and JSON Lines; rescoring the events as of the same T gives
// the stored values byte for byte.
func TestTrainScoreCustomerValues(t *testing.T) {
	skipUnderRace(t)
	useMemStores(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events.csv")
	mustRun(t, 0, "gen", "--users", "1200", "--days", "240", "--seed", "4", "--out", events)
	db := filepath.Join(dir, "lapse.db")
	r := mustRun(t, 0, "train", "--events", events, "--horizon", "30d", "--min-users", "100", "--min-class", "10",
		"--seed", "2", "--store", db, "--report-dir", filepath.Join(dir, "report"))
	if !strings.Contains(r.stdout, "customer value: BG/NBD (weeks)") || !strings.Contains(r.stdout, "\n  P(alive) ") {
		t.Errorf("summary lacks the customer-value lines:\n%s", r.stdout)
	}
	out := filepath.Join(dir, "scores.csv")
	mustRun(t, 0, "score", "--store", db, "--out", out)
	stored := readCSVFile(t, out)
	pa, ey, clv := slices.Index(scoreColumns, "p_alive"), slices.Index(scoreColumns, "expected_purchases"), slices.Index(scoreColumns, "clv")
	withValues := 0
	for _, row := range stored[1:] {
		if (row[pa] == "") != (row[ey] == "") || (row[pa] == "") != (row[clv] == "") {
			t.Fatalf("partial customer values in %v", row)
		}
		if row[pa] == "" {
			continue
		}
		withValues++
		p, err1 := strconv.ParseFloat(row[pa], 64)
		e, err2 := strconv.ParseFloat(row[ey], 64)
		c, err3 := strconv.ParseFloat(row[clv], 64)
		if err1 != nil || err2 != nil || err3 != nil || p <= 0 || p > 1 || e < 0 || c < 0 {
			t.Fatalf("customer values in %v", row)
		}
	}
	if withValues < (len(stored)-1)/3 {
		t.Errorf("%d of %d users have customer values", withValues, len(stored)-1)
	}
	rescored := filepath.Join(dir, "rescored.csv")
	mustRun(t, 0, "score", "--store", db, "--events", events, "--out", rescored)
	if got := readCSVFile(t, rescored); !slices.EqualFunc(got, stored, slices.Equal) {
		t.Errorf("rescored CSV differs from the stored scores (%d vs %d rows)", len(got), len(stored))
	}
	jl := filepath.Join(dir, "scores.jsonl")
	mustRun(t, 0, "score", "--store", db, "--out", jl)
	data, err := os.ReadFile(jl)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var row scoreRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		want := stored[i+1]
		if row.UserID != want[0] || csvFloat(row.PAlive) != want[pa] || csvFloat(row.ExpectedPurchases) != want[ey] || csvFloat(row.CLV) != want[clv] {
			t.Fatalf("JSONL line %d %+v, CSV row %v", i+1, row, want)
		}
		if !strings.Contains(line, `"p_alive":`) || !strings.Contains(line, `"expected_purchases":`) || !strings.Contains(line, `"clv":`) {
			t.Fatalf("JSONL line %s lacks a customer-value key", line)
		}
	}
}

func TestTrainNotEnoughData(t *testing.T) {
	useMemStores(t)
	dir := t.TempDir()
	r := mustRun(t, 1, "train", "--events", samplePath, "--horizon", "30d", "--store", filepath.Join(dir, "db"), "--report-dir", dir)
	for _, want := range []string{"not enough data to train (users check)", "at least 500 are needed (--min-users)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = mustRun(t, 1, "train", "--events", samplePath, "--horizon", "13w", "--min-users", "10", "--store", filepath.Join(dir, "db"), "--report-dir", dir)
	if !strings.Contains(r.stderr, "horizon check") || !strings.Contains(r.stderr, "a 91-day horizon needs at least 181 days") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	mustRun(t, 2, "train", "--events", samplePath, "--store", "x", "--report-dir", dir)
	mustRun(t, 2, "score", "--store", "x")
	mustRun(t, 1, "score", "--store", filepath.Join(dir, "empty"), "--out", "-")
}
