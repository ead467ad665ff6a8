package features

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The -update flag rewrites golden files. Another test file of the package
// may define it too; whichever registers first wins and both read it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updateBuilderGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goldenEvents is a small history of five users around the golden cutoff
// 2024-03-01 12:00 UTC, with purchases, a return, a refund, carts, pricing
// views, a support ticket and events inside and after a 14-day horizon.
func goldenEvents() []Event {
	d := func(m time.Month, day, h, min int) time.Time { return time.Date(2024, m, day, h, min, 0, 0, time.UTC) }
	return []Event{
		tev("alice", "login", d(1, 5, 9, 0), 0),
		tev("alice", "page_view", d(1, 5, 9, 5), 0),
		tev("alice", "add_to_cart", d(1, 5, 9, 7), 0),
		tev("alice", "purchase", d(1, 5, 9, 10), 49.9),
		tev("alice", "login", d(2, 20, 18, 30), 0),
		tev("alice", "page_view", d(2, 20, 18, 31), 0),
		tev("alice", "add_to_cart", d(2, 28, 21, 0), 0),
		tev("alice", "login", d(3, 1, 11, 59), 0),
		tev("alice", "purchase", d(3, 4, 10, 0), 20), // in the horizon
		tev("bob", "login", d(2, 3, 7, 0), 0),        // Saturday
		tev("bob", "view_pricing", d(2, 3, 7, 2), 0),
		tev("bob", "purchase", d(2, 4, 8, 0), 120), // Sunday
		tev("bob", "purchase", d(2, 10, 8, 0), -40),
		tev("bob", "refund", d(2, 11, 8, 0), -15.5),
		tev("bob", "support_ticket", d(2, 26, 8, 0), 0),
		tev("bob", "page_view", d(2, 27, 8, 0), 0),
		tev("carol", "page_view", d(1, 2, 23, 0), 0),
		tev("carol", "search", d(1, 2, 23, 10), 0),
		tev("carol", "page_view", d(1, 16, 23, 0), 0),
		tev("carol", "search", d(1, 30, 22, 0), 0),
		tev("carol", "page_view", d(3, 20, 9, 0), 0), // after the horizon
		tev("dave", "login", d(3, 2, 9, 0), 0),       // after T only: not eligible
		tev("erin", "login", d(1, 5, 12, 0), 0),
		tev("erin", "order", d(1, 5, 12, 5), 15),
		tev("erin", "order", d(1, 5, 13, 0), 5),
		tev("erin", "email_open", d(2, 29, 6, 0), 0),
		tev("erin", "login", d(3, 14, 12, 0), 0), // at T+H exactly: outside
	}
}

// TestGoldenSnapshot pins the CSV and learned Spec of the golden history.
// Rewrite with: go test ./features/ -run TestGoldenSnapshot -update
//
// Every value of the committed snapshot was checked by hand when it was
// written, e.g. bob: last event 02-27 08:00, so recency 3 d 4 h = 3.1667;
// active days at ages 4, 5, 20, 21, 27, 28 give gaps 1, 15, 1, 6, 1 with
// mean 4.8 and population std sqrt(29.76) = 5.4553; 5 of his 7 events fall
// on a weekend (0.7143); refunds_30d = 40 + 15.5. carol's last event is at
// age 32 (outside 30 days): trend (0+1)/(4+1) = 0.2, gaps 14, 14.
func TestGoldenSnapshot(t *testing.T) {
	tmpl := DefaultSpec()
	tmpl.VocabularySize = 5
	cfg := BuilderConfig{
		Cutoff:  time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		Horizon: 13 * 24 * time.Hour,
		Spec:    tmpl,
		Learn:   true,
	}
	ds := buildSnapshot(t, cfg, goldenEvents())
	var csvOut bytes.Buffer
	if err := WriteCSV(&csvOut, ds); err != nil {
		t.Fatal(err)
	}
	specOut, err := json.MarshalIndent(ds.Spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	specOut = append(specOut, '\n')
	checkBuilderGolden(t, "snapshot.csv.golden", csvOut.Bytes())
	checkBuilderGolden(t, "spec.json.golden", specOut)

	// The horizon is covered (erin's login is at T+H), so the CSV has labels;
	// without a horizon it has none.
	header, _, _ := strings.Cut(csvOut.String(), "\n")
	if !strings.HasSuffix(header, ",churn,propensity") || !strings.HasPrefix(header, "user_id,recency_days,") {
		t.Errorf("header %q", header)
	}
	cfg.Horizon = 0
	var noLabels bytes.Buffer
	if err := WriteCSV(&noLabels, buildSnapshot(t, cfg, goldenEvents())); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := strings.Cut(noLabels.String(), "\n"); strings.Contains(h, "churn") {
		t.Errorf("labels without a horizon: %q", h)
	}
}

func checkBuilderGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "builder", name)
	if updateBuilderGoldens() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./features/ -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; review the diff and rerun with -update if intended.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
