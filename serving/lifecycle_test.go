package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// gateStore blocks LoadUsers until released, to hold a request in flight.
type gateStore struct {
	*memStore
	entered chan struct{}
	release chan struct{}
}

func (g *gateStore) LoadUsers(ctx context.Context, version string, ids []string, fn func(int, []byte, *model.Prediction) error) error {
	g.entered <- struct{}{}
	<-g.release
	return g.memStore.LoadUsers(ctx, version, ids, fn)
}

// TestActivateInFlight activates v2 while a score request is in flight: the
// request finishes on v1, the model it started with; later requests use v2.
func TestActivateInFlight(t *testing.T) {
	f := newFixture(t, Config{})
	g := &gateStore{memStore: f.store, entered: make(chan struct{}), release: make(chan struct{})}
	srv := New(Config{Now: func() time.Time { return testNow }}, Deps{Models: f.store, Users: g, Segments: f.store}, nil)
	if err := srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	f.h = h
	done := make(chan UserScore)
	go func() {
		var u UserScore
		w := f.do("GET", "/v1/users/alice", "")
		json := w.Body.Bytes()
		if err := jsonUnmarshal(json, &u); err != nil {
			t.Error(err)
		}
		done <- u
	}()
	<-g.entered
	if w := f.do("POST", "/v1/models/v2/activate", ""); w.Code != 200 {
		t.Fatalf("activate: %d %s", w.Code, w.Body)
	}
	if srv.ActiveVersion() != "v2" {
		t.Fatalf("active %q after activation", srv.ActiveVersion())
	}
	close(g.release) // let both requests pass the gate from now on
	if u := <-done; u.ModelVersion != "v1" {
		t.Errorf("in-flight request finished on %q, want v1", u.ModelVersion)
	}
	go func() { <-g.entered }()
	var u UserScore
	mustJSON(t, f.do("GET", "/v1/users/bob", ""), &u)
	// bob has a stored score for v1 only, so under v2 he is unknown.
	if u.UserID != "" {
		t.Errorf("after activation bob scored on %q, want 404 under v2", u.ModelVersion)
	}
	metrics := f.do("GET", "/metrics", "").Body.String()
	if !strings.Contains(metrics, `lapse_active_model_info{version="v2"} 1`) || strings.Contains(metrics, `version="v1"`) {
		t.Errorf("the model gauge does not show only v2:\n%s", grep(metrics, "lapse_active_model_info"))
	}
}

// TestConcurrentIngestAndScore runs writers and readers in parallel (run
// with -race): every accepted event must be in the final states, and every
// read must see a consistent state.
func TestConcurrentIngestAndScore(t *testing.T) {
	f := newFixture(t, Config{})
	const writers, batches, perBatch, readers = 4, 25, 20, 4
	var wg sync.WaitGroup
	errc := make(chan error, writers+readers)
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := 0; b < batches; b++ {
				var lines []string
				for k := 0; k < perBatch; k++ {
					// distinct times so no event is an exact duplicate
					ts := t0.Add(time.Duration(w*batches*perBatch+b*perBatch+k) * time.Second)
					lines = append(lines, fmt.Sprintf(`{"user_id":"c%d","event":"login","timestamp":%q}`, rng.IntN(10), ts.Format(time.RFC3339)))
				}
				if r := f.do("POST", "/v1/events", strings.Join(lines, "\n")); r.Code != 200 {
					errc <- fmt.Errorf("ingest: %d %s", r.Code, r.Body)
					return
				}
			}
		}(w)
	}
	var rwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func(r int) {
			defer rwg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w := f.do("POST", "/v1/scores", fmt.Sprintf(`{"user_ids":["c%d","c%d","alice"]}`, i%10, (i+r)%10))
				if w.Code != 200 {
					errc <- fmt.Errorf("score: %d %s", w.Code, w.Body)
					return
				}
			}
		}(r)
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// Every event counted once: the users' lifetime event counts add up.
	total := 0.0
	var r ScoresResponse
	mustJSON(t, f.do("POST", "/v1/scores", `{"user_ids":["c0","c1","c2","c3","c4","c5","c6","c7","c8","c9"]}`), &r)
	for _, id := range []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"} {
		total += eventsTotal(t, f, id)
	}
	if want := float64(writers * batches * perBatch); total != want {
		t.Errorf("stored events %v, want %v", total, want)
	}
	if got := metricValue(t, f, "lapse_events_ingested_total"); got != writers*batches*perBatch {
		t.Errorf("lapse_events_ingested_total %v", got)
	}
}

// TestServeGracefulShutdown serves on a real listener, cancels while a
// request is in flight, and checks that the request completes, Serve
// returns, and the port no longer accepts.
func TestServeGracefulShutdown(t *testing.T) {
	f := newFixture(t, Config{})
	g := &gateStore{memStore: f.store, entered: make(chan struct{}), release: make(chan struct{})}
	srv := New(Config{Now: func() time.Time { return testNow }}, Deps{Models: f.store, Users: g, Segments: f.store}, nil)
	if err := srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/v1/users/alice")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	<-g.entered
	cancel()
	time.Sleep(50 * time.Millisecond) // Shutdown closes the listener first
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts after cancel")
	}
	close(g.release)
	if r := <-got; !strings.HasPrefix(r, "200 ") {
		t.Errorf("in-flight request: %s", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestServeRefusesOpenAddrWithoutTokens(t *testing.T) {
	f := newFixture(t, Config{})
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	err = f.srv.Serve(context.Background(), ln)
	if !errors.Is(err, ErrInsecureAddr) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Serve on 0.0.0.0 without tokens: %v", err)
	}
}

// TestMetrics checks the request counters and histograms by route and
// status, and the scores-served counter.
func TestMetrics(t *testing.T) {
	f := newFixture(t, Config{})
	f.do("GET", "/v1/users/alice", "")
	f.do("GET", "/v1/users/alice", "")
	f.do("GET", "/v1/users/nobody", "")
	f.do("GET", "/no/such/path", "")
	f.do("POST", "/v1/scores", `{"user_ids":["alice","bob","nobody"]}`)
	m := f.do("GET", "/metrics", "").Body.String()
	for _, want := range []string{
		`lapse_http_requests_total{method="GET",route="/v1/users/:id",status="200"} 2`,
		`lapse_http_requests_total{method="GET",route="/v1/users/:id",status="404"} 1`,
		`lapse_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`lapse_http_request_duration_seconds_count{method="GET",route="/v1/users/:id",status="200"} 2`,
		`lapse_scores_served_total 4`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(m, "lapse_"))
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricValue reads an unlabelled series from /metrics.
func metricValue(tb testing.TB, f *fixture, name string) int {
	tb.Helper()
	for _, l := range strings.Split(f.do("GET", "/metrics", "").Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	tb.Fatalf("no series %s", name)
	return 0
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// eventsTotal decodes a user's stored state and returns its lifetime
// activity count.
func eventsTotal(tb testing.TB, f *fixture, id string) float64 {
	tb.Helper()
	fz, err := features.NewFeaturizer(testSpec(tb))
	if err != nil {
		tb.Fatal(err)
	}
	st := fz.NewState()
	if err := st.UnmarshalBinary(f.store.state("v1", id)); err != nil {
		tb.Fatalf("user %s: %v", id, err)
	}
	x, err := fz.Vector(st, testNow)
	if err != nil {
		tb.Fatal(err)
	}
	return x[indexOf(fz.Names(), "events_total")]
}
