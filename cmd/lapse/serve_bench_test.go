package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
)

// benchUsers is the store size of the serving load benchmark.
const benchUsers = 1_000_000

// benchStore trains on the committed sample, then saves a version with
// benchUsers users whose states and score records are the sample users',
// round robin (user ids b0000000..), and activates it.
func benchStore(b *testing.B) (path string, ids []string) {
	b.Helper()
	db := trainedStore(b)
	st, err := store.Open(db, &store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	m, err := st.ActiveModel(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var states [][]byte
	var scores []*model.Prediction
	err = st.EachState(ctx, m.Version, func(id string, s []byte) error {
		states = append(states, slices.Clone(s))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	err = st.EachScore(ctx, m.Version, "", func(id string, p *model.Prediction) error {
		scores = append(scores, p)
		return nil
	})
	if err != nil || len(states) == 0 || len(states) != len(scores) {
		b.Fatalf("%d states, %d scores, %v", len(states), len(scores), err)
	}
	ids = make([]string, benchUsers)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%07d", i)
	}
	users := func(yield func(store.UserRecord) error) error {
		for i, id := range ids {
			if err := yield(store.UserRecord{ID: id, Score: scores[i%len(scores)], State: states[i%len(states)]}); err != nil {
				return err
			}
		}
		return nil
	}
	big := *m
	big.Version = m.Version + "-1m"
	start := time.Now()
	if err := st.SaveModel(ctx, &big, nil, users, true); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d users in %v", benchUsers, time.Since(start).Round(time.Millisecond))
	// The save skipped fsync; flush its 1.3 GB now, or the kernel writes it
	// back during the measurements and stalls the server's reads.
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return db, ids
}

// loadResult is what one wrk run measured.
type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// runWrk runs wrk with the Lua script for d with conns connections on two
// threads against url, and parses its --latency report.
func runWrk(b *testing.B, script, url string, conns int, d time.Duration) loadResult {
	b.Helper()
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())),
		"--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	var r loadResult
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.rps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			r.p50 = parseWrkDuration(b, f[1])
		case len(f) == 2 && f[0] == "99%":
			r.p99 = parseWrkDuration(b, f[1])
		case len(f) >= 4 && f[0] == "Non-2xx":
			r.errors, _ = strconv.Atoi(f[len(f)-1])
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			r.errors++
		}
	}
	if r.rps == 0 || r.p99 == 0 {
		b.Fatalf("cannot read wrk's report:\n%s", out)
	}
	return r
}

// parseWrkDuration reads wrk's "1.23ms", "850.00us", "1.02s".
func parseWrkDuration(b *testing.B, s string) time.Duration {
	s = strings.Replace(s, "us", "µs", 1)
	d, err := time.ParseDuration(s)
	if err != nil {
		b.Fatalf("wrk latency %q: %v", s, err)
	}
	return d
}

// bareGinEnv, when set to a score's JSON, makes the test binary a bare gin
// server answering GET /v1/users/:id with that score (BenchmarkServeLoad's
// baseline), instead of running the tests.
const bareGinEnv = "LAPSE_BENCH_BARE_GIN"

func TestMain(m *testing.M) {
	if score := os.Getenv(bareGinEnv); score != "" {
		if err := serveBareGin(score); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveBareGin serves the constant score on a free loopback port with gin
// in release mode, the way lapse serve does (an http.Server with the same
// timeouts), printing "listening on http://ADDR" first, until it is killed.
func serveBareGin(score string) error {
	var constant serving.UserScore
	if err := json.Unmarshal([]byte(score), &constant); err != nil {
		return fmt.Errorf("%s: %w", bareGinEnv, err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/v1/users/:id", func(c *gin.Context) { c.JSON(http.StatusOK, &constant) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on http://%s\n", ln.Addr())
	cfg := serving.DefaultConfig()
	srv := &http.Server{Handler: e, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout}
	return srv.Serve(ln)
}

// BenchmarkServeLoad measures the real lapse serve process over loopback
// with wrk (Debian's package; make bench-serve installs it), which shares
// the two cores with the server: GET /v1/users/{id} for random users of a
// store of 1M users, against a bare gin handler that returns a constant
// score JSON in a process of its own, measured the same way in the same
// run, at 8 and 32 connections; then POST /v1/events in batches of 1,000
// events.
//
//	make bench-serve
//	go test ./cmd/lapse -run '^$' -bench BenchmarkServeLoad -benchtime 1x
func BenchmarkServeLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-user store")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed: make bench-serve installs it (apt-get install wrk)")
	}
	bin := lapseBinary(b)
	db, ids := benchStore(b)
	lapse := startServe(b, bin, db)
	lapseURL := lapse.base

	// The bare gin handler: what any JSON answer costs on this machine. It
	// runs in a process of its own, like lapse serve, and answers with the
	// score lapse gave the first user.
	code, constant := lapse.do(b, http.MethodGet, "/v1/users/"+ids[0], "")
	if code != http.StatusOK {
		b.Fatalf("GET /v1/users/%s: %d %s", ids[0], code, constant)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	bareCmd := exec.Command(self)
	bareCmd.Env = append(os.Environ(), bareGinEnv+"="+constant)
	bareURL := startProcess(b, bareCmd, "bare gin").base

	dir := b.TempDir()
	getScript := filepath.Join(dir, "get.lua")
	lua := fmt.Sprintf(`math.randomseed(7)
request = function()
  return wrk.format("GET", string.format("/v1/users/b%%07d", math.random(0, %d)))
end
`, len(ids)-1)
	if err := os.WriteFile(getScript, []byte(lua), 0o644); err != nil {
		b.Fatal(err)
	}
	// Event batches of 1,000: "sessions" has 100 users with 10 events each
	// (how apps send: a user's session at a time), "uniform" 1,000
	// different users; users at random from the 1M, events an hour ago.
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Now().UTC().Add(-time.Hour)
	eventScript := func(name string, perUser int) string {
		var ev strings.Builder
		ev.WriteString("local bodies = {\n")
		for range 10 {
			ev.WriteString("[==[")
			for range 1000 / perUser {
				id := ids[rng.IntN(len(ids))]
				for k := range perUser {
					fmt.Fprintf(&ev, `{"user_id":%q,"event":"page_view","timestamp":%q}`+"\n", id, at.Add(time.Duration(k)*time.Second).Format(time.RFC3339))
				}
			}
			ev.WriteString("]==],\n")
		}
		ev.WriteString(`}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/x-ndjson"}, bodies[i % #bodies + 1])
end
`)
		path := filepath.Join(dir, name+".lua")
		if err := os.WriteFile(path, []byte(ev.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		return path
	}
	sessions, uniform := eventScript("sessions", 10), eventScript("uniform", 1)

	const d = 5 * time.Second
	// Warm both servers up (connections, the map's pages, the heap) so the
	// first measurement is not also the cold start.
	runWrk(b, getScript, lapseURL, 8, 2*time.Second)
	runWrk(b, getScript, bareURL, 8, 2*time.Second)
	for b.Loop() {
		for _, conns := range []int{8, 32} {
			l := runWrk(b, getScript, lapseURL, conns, d)
			g := runWrk(b, getScript, bareURL, conns, d)
			b.Logf("GET /v1/users/{id}, %d connections: lapse %.0f req/s p50 %v p99 %v; bare gin %.0f req/s p50 %v p99 %v; p99 ratio %.2f",
				conns, l.rps, l.p50, l.p99, g.rps, g.p50, g.p99, float64(l.p99)/float64(g.p99))
			if l.errors > 0 {
				b.Errorf("%d failed requests", l.errors)
			}
			b.ReportMetric(l.rps, fmt.Sprintf("req/s@%d", conns))
			b.ReportMetric(float64(l.p99)/1e6, fmt.Sprintf("p99-ms@%d", conns))
			b.ReportMetric(g.rps, fmt.Sprintf("bare-req/s@%d", conns))
			b.ReportMetric(float64(g.p99)/1e6, fmt.Sprintf("bare-p99-ms@%d", conns))
		}
		for _, ev := range []struct{ name, script string }{{"sessions", sessions}, {"uniform", uniform}} {
			e := runWrk(b, ev.script, lapseURL, 4, d)
			if e.errors > 0 {
				b.Errorf("%d failed event batches", e.errors)
			}
			b.Logf("POST /v1/events, batches of 1,000 (%s), 4 connections: %.0f events/s, p50 %v p99 %v", ev.name, e.rps*1000, e.p50, e.p99)
			b.ReportMetric(e.rps*1000, "events/s-"+ev.name)
		}
	}
}

// BenchmarkGetUserHandler is the CPU and allocations of one GET
// /v1/users/{id} through the handler (no network), on the store trained on
// the committed sample: state decode, vector, both classifiers, reasons,
// segments, customer values and the JSON answer.
//
// LAPSE_BENCH_STORE=FILE measures a store of your own instead (e.g. the
// run/lapse.db of make run); it is copied, never written.
func BenchmarkGetUserHandler(b *testing.B) {
	var db string
	if src := os.Getenv("LAPSE_BENCH_STORE"); src != "" {
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		db = filepath.Join(b.TempDir(), "copy.db")
		if err := os.WriteFile(db, data, 0o600); err != nil {
			b.Fatal(err)
		}
	} else {
		db = trainedStore(b)
	}
	st, err := store.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := serving.New(serving.Config{}, servingDeps(st), nil)
	if err := srv.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	var ids []string
	st.EachState(context.Background(), srv.ActiveVersion(), func(id string, _ []byte) error {
		ids = append(ids, id)
		return nil
	})
	reqs := make([]*http.Request, len(ids))
	for i, id := range ids {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/users/"+id, nil)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
