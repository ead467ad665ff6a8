package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
)

// buildOnce builds the real lapse binary once per test process.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "lapse-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "lapse")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// lapseBinary returns the path of the built binary, skipping in -short.
func lapseBinary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds and runs the lapse binary")
	}
	bin, err := buildOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// trainedStore trains on the committed sample into a bbolt store in a
// fresh directory and returns its path.
func trainedStore(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	db := filepath.Join(dir, "lapse.db")
	mustRun(tb, 0, sampleTrainArgs(db, filepath.Join(dir, "report"))...)
	return db
}

// server is a running `lapse serve` process.
type server struct {
	cmd    *exec.Cmd
	base   string
	stderr *strings.Builder
	mu     *sync.Mutex
	done   chan error
}

// startServe runs the binary's serve command on a free port and waits for
// its "listening on" line.
func startServe(tb testing.TB, bin, db string, extra ...string) *server {
	tb.Helper()
	return startProcess(tb, exec.Command(bin, append([]string{"serve", "--store", db, "--addr", "127.0.0.1:0"}, extra...)...), "lapse serve")
}

// startProcess starts cmd, a server that prints "listening on URL" on
// stderr, and waits for that line; name is what errors call it. The
// process is killed when the test ends, if it still runs.
func startProcess(tb testing.TB, cmd *exec.Cmd, name string) *server {
	tb.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				addr <- a
			}
		}
		s.done <- cmd.Wait()
	}()
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.base = <-addr:
	case err := <-s.done:
		tb.Fatalf("%s exited before listening: %v\n%s", name, err, s.log())
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s did not listen within 20 s\n%s", name, s.log())
	}
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// do sends a request and returns the status and body.
func (s *server) do(tb testing.TB, method, path, body string, hdr ...string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", method, path, err, s.log())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(tb testing.TB, sig os.Signal) error {
	tb.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(20 * time.Second):
		tb.Fatalf("lapse serve did not stop on %v\n%s", sig, s.log())
		return nil
	}
}

// storedLastEvent reopens the store and returns the time of the user's
// latest event in the active version's stored state.
func storedLastEvent(tb testing.TB, db, user string) time.Time {
	tb.Helper()
	st, err := store.Open(db, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(context.Background()); err != nil {
		tb.Fatalf("store consistency check: %v", err)
	}
	m, err := st.ActiveModel(context.Background())
	if err != nil || m == nil {
		tb.Fatalf("active model: %v, %v", m, err)
	}
	var spec features.Spec
	if err := json.Unmarshal(m.Spec, &spec); err != nil {
		tb.Fatal(err)
	}
	f, err := features.NewFeaturizer(&spec)
	if err != nil {
		tb.Fatal(err)
	}
	var last time.Time
	err = st.LoadUsers(context.Background(), m.Version, []string{user}, func(_ int, b []byte, _ *model.Prediction) error {
		if b == nil {
			return fmt.Errorf("no state stored for %s", user)
		}
		s := f.NewState()
		if err := s.UnmarshalBinary(b); err != nil {
			return err
		}
		last, _ = s.LastTime()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return last
}

// TestServeEndToEnd runs the real binary against a store trained on the
// committed sample: scores, live events, segments, models, health and
// metrics over HTTP; a second process is refused the store at once; SIGTERM
// shuts down cleanly and the ingested event is in the store afterwards.
func TestServeEndToEnd(t *testing.T) {
	bin := lapseBinary(t)
	db := trainedStore(t)
	srv := startServe(t, bin, db)

	code, body := srv.do(t, "GET", "/readyz", "")
	if code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	code, body = srv.do(t, "GET", "/v1/users/u001", "")
	if code != 200 {
		t.Fatalf("GET /v1/users/u001: %d %s", code, body)
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user_id", "churn_probability", "risk_band", "purchase_probability", "segment",
		"rfm_segment", "lifecycle_stage", "usage_tier", "reasons", "model_version", "as_of"} {
		if _, ok := u[k]; !ok {
			t.Errorf("user response lacks %s: %s", k, body)
		}
	}
	if code, body = srv.do(t, "GET", "/v1/users/nobody-at-all", ""); code != 404 || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown user: %d %s", code, body)
	}

	// A live event moves the user's recency to under a day.
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ev := fmt.Sprintf(`[{"user_id":"u001","event":"purchase","timestamp":%q,"amount":19.5}]`, at.Format(time.RFC3339))
	if code, body = srv.do(t, "POST", "/v1/events", ev, "Content-Type", "application/json"); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("POST /v1/events: %d %s", code, body)
	}
	_, body = srv.do(t, "GET", "/v1/users/u001", "")
	var after map[string]any
	if err := json.Unmarshal([]byte(body), &after); err != nil {
		t.Fatal(err)
	}
	if b, a := u["churn_probability"].(float64), after["churn_probability"].(float64); !(a < b) {
		t.Errorf("churn probability %v before a purchase an hour ago, %v after: want lower", b, a)
	}
	if st := after["lifecycle_stage"]; st != "active" && st != "reactivated" && st != "new" {
		t.Errorf("lifecycle stage after a purchase an hour ago: %v (before: %v)", st, u["lifecycle_stage"])
	}
	code, body = srv.do(t, "POST", "/v1/scores", `{"user_ids":["u001","u002","ghost"]}`, "Content-Type", "application/json")
	if code != 200 || !strings.Contains(body, `"ghost"`) || !strings.Contains(body, `"u002"`) {
		t.Errorf("POST /v1/scores: %d %s", code, body)
	}
	if code, body = srv.do(t, "GET", "/v1/segments", ""); code != 200 || !strings.Contains(body, `"risk_band"`) {
		t.Errorf("GET /v1/segments: %d %s", code, body)
	}
	code, body = srv.do(t, "GET", "/v1/segments/risk_band/low/users?limit=3", "", "Accept", "text/csv")
	if lines := strings.Split(strings.TrimSpace(body), "\n"); code != 200 || len(lines) != 4 || !strings.HasPrefix(lines[0], "user_id,") {
		t.Errorf("CSV export: %d %q", code, body)
	}
	if code, body = srv.do(t, "GET", "/v1/models", ""); code != 200 || !strings.Contains(body, `"active":true`) {
		t.Errorf("GET /v1/models: %d %s", code, body)
	}
	// Experiments are wired to the store: create one, export its treatment
	// send list, see its control users suppressed from a segment export.
	code, body = srv.do(t, "POST", "/v1/experiments", `{"name":"e2e","risk_band":"low","holdout":0.5}`, "Content-Type", "application/json")
	if code != 200 && code != 201 {
		t.Fatalf("POST /v1/experiments: %d %s", code, body)
	}
	code, body = srv.do(t, "GET", "/v1/experiments/e2e/assignments", "")
	if code != 200 || !strings.HasPrefix(body, "user_id,group\n") || !strings.Contains(body, ",control\n") {
		t.Fatalf("GET assignments: %d %.300s", code, body)
	}
	control := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n")[1:] {
		if id, ok := strings.CutSuffix(line, ",control"); ok {
			control[id] = true
		}
	}
	_, body = srv.do(t, "GET", "/v1/segments/risk_band/low/users?limit=10000", "", "Accept", "text/csv")
	for _, line := range strings.Split(strings.TrimSpace(body), "\n")[1:] {
		if id, _, _ := strings.Cut(line, ","); control[id] {
			t.Errorf("control user %s is in the low-risk export", id)
		}
	}
	if code, body = srv.do(t, "GET", "/metrics", ""); code != 200 || !strings.Contains(body, "lapse_events_ingested_total 1") {
		t.Errorf("metrics: %d, lacks lapse_events_ingested_total 1:\n%.2000s", code, body)
	}

	// A second process is refused the store within about a second.
	start := time.Now()
	out, err := exec.Command(bin, "models", "--store", db).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another process") {
		t.Errorf("lapse models while serving: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the second process took %v to give up", d)
	}

	if err := srv.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("lapse serve exited with %v after SIGTERM\n%s", err, srv.log())
	}
	if !strings.Contains(srv.log(), "msg=stopped") {
		t.Errorf("no clean-stop log line:\n%s", srv.log())
	}
	if got := storedLastEvent(t, db, "u001"); !got.Equal(at) {
		t.Errorf("after shutdown the stored last event of u001 is %v, want %v", got, at)
	}
}

// TestServeKillDurability ingests events, kills the server without any
// shutdown, and finds the events in the reopened store, which passes
// bbolt's consistency check.
func TestServeKillDurability(t *testing.T) {
	bin := lapseBinary(t)
	db := trainedStore(t)
	srv := startServe(t, bin, db)
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	for i, user := range []string{"u003", "u004", "u005"} {
		ev := fmt.Sprintf(`{"user_id":%q,"event":"session_start","timestamp":%q}`, user, at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
		if code, body := srv.do(t, "POST", "/v1/events", ev, "Content-Type", "application/x-ndjson"); code != 200 {
			t.Fatalf("POST /v1/events: %d %s", code, body)
		}
	}
	if err := srv.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("a killed process reported success")
	}
	for i, user := range []string{"u003", "u004", "u005"} {
		if got, want := storedLastEvent(t, db, user), at.Add(time.Duration(i)*time.Minute); !got.Equal(want) {
			t.Errorf("%s: stored last event %v, want %v", user, got, want)
		}
	}
	// The store serves again after the crash.
	srv = startServe(t, bin, db)
	if code, body := srv.do(t, "GET", "/v1/users/u003", ""); code != 200 {
		t.Errorf("after the crash: %d %s", code, body)
	}
	srv.stop(t, syscall.SIGTERM)
}

// TestServeRefusesPublicWithoutTokens: no tokens, a non-loopback address.
func TestServeRefusesPublicWithoutTokens(t *testing.T) {
	db := trainedStore(t)
	r := runLapse(t, "", "serve", "--store", db, "--addr", "0.0.0.0:0")
	if r.code != 1 || !strings.Contains(r.stderr, "listen on 127.0.0.1 or configure tokens") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runLapse(t, "", "serve", "--store", filepath.Join(t.TempDir(), "missing.db"))
	if r.code != 1 || !strings.Contains(r.stderr, "lapse train --store") {
		t.Errorf("missing store: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestServeTokens: with a tokens file, roles are enforced by the real
// binary on a non-loopback-capable listener.
func TestServeTokens(t *testing.T) {
	bin := lapseBinary(t)
	db := trainedStore(t)
	toks := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(toks, []byte("# test tokens\nreader-token-0123456789abcdef read\nadmin-token-0123456789abcdefg admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, db, "--tokens-file", toks)
	if code, _ := srv.do(t, "GET", "/v1/users/u001", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := srv.do(t, "GET", "/v1/users/u001", "", "Authorization", "Bearer reader-token-0123456789abcdef"); code != 200 {
		t.Errorf("read token on a read route: %d, want 200", code)
	}
	if code, _ := srv.do(t, "GET", "/v1/models", "", "Authorization", "Bearer reader-token-0123456789abcdef"); code != 403 {
		t.Errorf("read token on an admin route: %d, want 403", code)
	}
	if code, _ := srv.do(t, "GET", "/v1/models", "", "Authorization", "Bearer admin-token-0123456789abcdefg"); code != 200 {
		t.Errorf("admin token on an admin route: %d, want 200", code)
	}
	srv.stop(t, syscall.SIGTERM)
}

// TestServeConcurrentBolt runs parallel ingestion and scoring through the
// API over the real bbolt store (run it with -race): every accepted event
// ends up in its user's stored state.
func TestServeConcurrentBolt(t *testing.T) {
	db := trainedStore(t)
	st, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := serving.New(serving.Config{}, servingDeps(st), nil)
	if err := srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	users := []string{"u010", "u011", "u012", "u013"}
	base := time.Now().UTC().Add(-8 * time.Hour).Truncate(time.Second) // the last event is 5.2 h later
	const perWriter = 15
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w, user := range users {
		wg.Add(2)
		go func() { // writer: one event a request, a minute apart
			defer wg.Done()
			for i := range perWriter {
				ev := fmt.Sprintf(`{"user_id":%q,"event":"page_view","timestamp":%q}`, user, base.Add(time.Duration(w*100+i)*time.Minute).Format(time.RFC3339))
				resp, err := http.Post(ts.URL+"/v1/events", "application/x-ndjson", strings.NewReader(ev))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("POST /v1/events: %d", resp.StatusCode)
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			for range perWriter {
				resp, err := http.Post(ts.URL+"/v1/scores", "application/json", strings.NewReader(`{"user_ids":["u010","u011","u012","u013"]}`))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("POST /v1/scores: %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st.Close()
	for w, user := range users {
		if got, want := storedLastEvent(t, db, user), base.Add(time.Duration(w*100+perWriter-1)*time.Minute); !got.Equal(want) {
			t.Errorf("%s: last stored event %v, want %v", user, got, want)
		}
	}
}
