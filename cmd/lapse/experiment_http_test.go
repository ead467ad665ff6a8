package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/model/lift"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
)

// TestExperimentHTTPMatchesCLI runs one experiment through both paths on
// a real bbolt store trained on the sample: created with POST
// /v1/experiments, its May events ingested with POST /v1/events and
// measured with GET .../lift (outcomes from the stored states), then the
// same events measured by lapse lift from a file (outcomes from the
// events). The two reports must agree on every number.
func TestExperimentHTTPMatchesCLI(t *testing.T) {
	dir := t.TempDir()
	db := trainSample(t, dir)
	st, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := servingDeps(st)
	now := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
	srv := serving.New(serving.Config{Now: func() time.Time { return now }}, deps, nil)
	if err := srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	do := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w
	}
	w := do("POST", "/v1/experiments", `{"name":"may","min_churn":0,"holdout":0.3,"stratify":"risk_band","start":"2025-05-01T00:00:00Z"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	w = do("GET", "/v1/experiments/may/assignments", "")
	if w.Code != 200 {
		t.Fatalf("assignments: %d %s", w.Code, w.Body)
	}
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")[1:]

	// May for every assigned user: treatment users at odd positions come
	// back, control users at positions divisible by 4; those with a
	// position divisible by 3 also buy (and a few return part of it).
	var evs []string
	var csvRows strings.Builder
	csvRows.WriteString("user_id,event,timestamp,amount\n")
	add := func(id, name string, at time.Time, amt float64) {
		evs = append(evs, fmt.Sprintf(`{"user_id":%q,"event":%q,"timestamp":%q,"amount":%v}`, id, name, at.Format(time.RFC3339), amt))
		fmt.Fprintf(&csvRows, "%s,%s,%s,%v\n", id, name, at.Format(time.RFC3339), amt)
	}
	may := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, l := range lines {
		id, group, _ := strings.Cut(l, ",")
		back := (group == "treatment" && i%2 == 1) || (group == "control" && i%4 == 0)
		if back {
			add(id, "session_start", may.Add(time.Duration(i%29)*24*time.Hour+3*time.Hour), 0)
		}
		if back && i%3 == 0 {
			add(id, "purchase", may.Add(time.Duration(i%20)*24*time.Hour+5*time.Hour), float64(10+i%7))
			if i%9 == 0 {
				add(id, "purchase", may.Add(time.Duration(i%20)*24*time.Hour+6*time.Hour), -4)
			}
		}
		add(id, "page_view", time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC), 0) // after the 30-day window
	}
	for lo := 0; lo < len(evs); lo += 5000 {
		batch := "[" + strings.Join(evs[lo:min(lo+5000, len(evs))], ",") + "]"
		if w := do("POST", "/v1/events", batch); w.Code != 200 {
			t.Fatalf("ingest: %d %s", w.Code, w.Body)
		}
	}
	w = do("GET", "/v1/experiments/may/lift?window=30d", "")
	if w.Code != 200 {
		t.Fatalf("lift: %d %s", w.Code, w.Body)
	}
	var api lift.Report
	if err := json.Unmarshal(w.Body.Bytes(), &api); err != nil {
		t.Fatal(err)
	}
	// No other experiment, opt-out or global control group: the send list
	// is the whole treatment group.
	if w := do("GET", "/v1/experiments/may/assignments?group=treatment", ""); strings.Count(w.Body.String(), "\n")-1 != api.Metrics[0].Treatment.N {
		t.Errorf("send list %d rows, treatment %d", strings.Count(w.Body.String(), "\n")-1, api.Metrics[0].Treatment.N)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	post := filepath.Join(dir, "may.csv")
	if err := os.WriteFile(post, []byte(csvRows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 0, "lift", "--store", db, "--experiment", "may", "--events", post, "--json")
	var cli lift.Report
	if err := json.Unmarshal([]byte(r.stdout), &cli); err != nil {
		t.Fatal(err)
	}
	if api.Window.Source != "states" || cli.Window.Source != "events" || !api.Window.Complete || !cli.Window.Complete {
		t.Errorf("windows %+v and %+v", api.Window, cli.Window)
	}
	api.Window, cli.Window = nil, nil
	a, _ := json.Marshal(api)
	c, _ := json.Marshal(cli)
	if string(a) != string(c) {
		t.Errorf("the API (states) and the CLI (events) disagree:\n%s\n%s", a, c)
	}
	if m := api.Metrics[0]; !m.Significant() || m.SRMPValue < 0.5 {
		t.Errorf("retention %s (SRM p %v): want a clear effect and a stratified split", m.Sentence(), m.SRMPValue)
	}
}
