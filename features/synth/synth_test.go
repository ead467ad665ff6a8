package synth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mustWrite generates cfg as CSV into memory.
func mustWrite(tb testing.TB, cfg *Config, f Format) ([]byte, Summary) {
	tb.Helper()
	var buf bytes.Buffer
	sum, err := Write(context.Background(), &buf, cfg, f)
	if err != nil {
		tb.Fatalf("Write(%+v): %v", cfg, err)
	}
	return buf.Bytes(), sum
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
		bad  []string // substrings the error must contain; nil = valid
	}{
		{"Nil", nil, nil},
		{"ZeroMeansDefaults", &Config{}, nil},
		{"OK", &Config{Users: 10, Days: 3, Seed: 9}, nil},
		{"NegativeUsers", &Config{Users: -1}, []string{"Users (-1)"}},
		{"EveryFieldReported", &Config{Users: -1, Days: MaxDays + 1, Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
			[]string{"Users (-1)", "Days (20001)", "Start (1900-01-01T00:00:00Z)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.bad == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			for _, s := range tt.bad {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Validate() = %q, want it to mention %q", err, s)
				}
			}
			if _, err := New(tt.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New() error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	cfg := &Config{Users: 200, Days: 60, Seed: 42}
	a, _ := mustWrite(t, cfg, CSV)
	b, _ := mustWrite(t, cfg, CSV)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	c, _ := mustWrite(t, &Config{Users: 200, Days: 60, Seed: 43}, CSV)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 42 and 43 give the same history")
	}
}

// A user's history depends on the seed and its index only, not on how many
// users are generated.
func TestUserIndependentOfPopulation(t *testing.T) {
	small, _ := mustWrite(t, &Config{Users: 20, Days: 90, Seed: 5}, CSV)
	large, _ := mustWrite(t, &Config{Users: 99, Days: 90, Seed: 5}, CSV)
	pick := func(data []byte, id string) []string {
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, id+",") {
				out = append(out, line)
			}
		}
		return out
	}
	for _, ids := range [][2]string{{"u01", "u01"}, {"u07", "u07"}, {"u20", "u20"}} {
		a, b := pick(small, ids[0]), pick(large, ids[1])
		if len(a) == 0 {
			t.Fatalf("user %s has no events", ids[0])
		}
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("user %s: %d events with 20 users, %d with 99; histories differ", ids[0], len(a), len(b))
		}
	}
}

type row struct {
	user, event string
	t           time.Time
	amount      float64
}

func parseCSV(tb testing.TB, data []byte) []row {
	tb.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != "user_id,event,timestamp,amount" {
		tb.Fatalf("header = %q", sc.Text())
	}
	var rows []row
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 4 {
			tb.Fatalf("line %d: %d fields", len(rows)+2, len(f))
		}
		ts, err := time.Parse(time.RFC3339, f[2])
		if err != nil {
			tb.Fatalf("line %d: %v", len(rows)+2, err)
		}
		var amt float64
		if f[3] != "" {
			if amt, err = strconv.ParseFloat(f[3], 64); err != nil {
				tb.Fatalf("line %d: %v", len(rows)+2, err)
			}
		}
		rows = append(rows, row{f[0], f[1], ts, amt})
	}
	return rows
}

func TestOutputShape(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	cfg := &Config{Users: 500, Days: 120, Seed: 3, Start: start}
	data, sum := mustWrite(t, cfg, CSV)
	rows := parseCSV(t, data)
	if int64(len(rows)) != sum.Events {
		t.Fatalf("Summary.Events = %d, rows = %d", sum.Events, len(rows))
	}
	end := start.AddDate(0, 0, 120)
	seen := map[row]bool{}
	for i, r := range rows {
		if seen[r] {
			t.Fatalf("row %d is an exact duplicate: %+v", i+2, r)
		}
		seen[r] = true
	}
	users := map[string]bool{}
	byType := map[string]int64{}
	for i, r := range rows {
		if i > 0 && r.t.Before(rows[i-1].t) {
			t.Fatalf("row %d at %s is before row %d at %s", i+2, r.t, i+1, rows[i-1].t)
		}
		if r.t.Before(start) || !r.t.Before(end) {
			t.Fatalf("row %d at %s outside [%s, %s)", i+2, r.t, start, end)
		}
		users[r.user] = true
		byType[r.event]++
		switch r.event {
		case "purchase":
			if r.amount <= 0 {
				t.Errorf("row %d: purchase amount %v, want > 0", i+2, r.amount)
			}
		case "refund":
			if r.amount >= 0 {
				t.Errorf("row %d: refund amount %v, want < 0", i+2, r.amount)
			}
		default:
			if r.amount != 0 {
				t.Errorf("row %d: %s has amount %v", i+2, r.event, r.amount)
			}
		}
	}
	if sum.Users != len(users) || !sum.First.Equal(rows[0].t) || !sum.Last.Equal(rows[len(rows)-1].t) {
		t.Errorf("Summary = %d users, %s..%s; data has %d users, %s..%s",
			sum.Users, sum.First, sum.Last, len(users), rows[0].t, rows[len(rows)-1].t)
	}
	for _, name := range EventTypes() {
		if byType[name] == 0 {
			t.Errorf("no %s events in 500 users x 120 days", name)
		}
		if byType[name] != sum.ByType[name] {
			t.Errorf("Summary.ByType[%s] = %d, counted %d", name, sum.ByType[name], byType[name])
		}
	}
}

// Next and Write produce the same events.
func TestNextMatchesWrite(t *testing.T) {
	cfg := &Config{Users: 50, Days: 30, Seed: 11}
	data, _ := mustWrite(t, cfg, CSV)
	rows := parseCSV(t, data)
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		e, err := g.Next()
		if err == io.EOF {
			if i != len(rows) {
				t.Fatalf("Next gave %d events, Write %d", i, len(rows))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(rows) {
			t.Fatalf("Next gave more than %d events", len(rows))
		}
		r := rows[i]
		if e.UserID != r.user || e.Name != r.event || !e.Time.Equal(r.t) || e.Amount != r.amount {
			t.Fatalf("event %d: Next = %+v, Write = %+v", i, e, r)
		}
	}
}

func TestJSONL(t *testing.T) {
	cfg := &Config{Users: 30, Days: 20, Seed: 2}
	csvData, _ := mustWrite(t, cfg, CSV)
	jsonData, sum := mustWrite(t, cfg, JSONL)
	rows := parseCSV(t, csvData)
	lines := strings.Split(strings.TrimSuffix(string(jsonData), "\n"), "\n")
	if len(lines) != len(rows) || int64(len(lines)) != sum.Events {
		t.Fatalf("JSONL has %d lines, CSV %d rows, summary %d", len(lines), len(rows), sum.Events)
	}
	for i, r := range rows {
		want := fmt.Sprintf(`{"user_id":%q,"event":%q,"timestamp":%q`, r.user, r.event, r.t.Format(time.RFC3339))
		if r.amount != 0 {
			want += `,"amount":` + strconv.FormatFloat(r.amount, 'f', 2, 64)
		}
		want += "}"
		if lines[i] != want {
			t.Fatalf("line %d = %s, want %s", i+1, lines[i], want)
		}
	}
}

// The behaviour the model promises: weekly rhythm, heterogeneous users, and
// churn precursors. The thresholds are loose multiples of what the model's
// constants imply, so that they hold for any seed.
func TestBehaviour(t *testing.T) {
	cfg := &Config{Users: 3000, Days: 240, Seed: 8}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string][]struct {
		day  int
		name string
	}{}
	start := g.Config().Start
	for {
		e, err := g.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d := int(e.Time.Sub(start) / (24 * time.Hour))
		events[e.UserID] = append(events[e.UserID], struct {
			day  int
			name string
		}{d, e.Name})
	}
	truth := g.Truth()

	t.Run("TiersDiffer", func(t *testing.T) {
		// Sessions per user-day while healthy: power users' median rate is
		// 0.9/0.07 ~ 13 times light users'; require at least 5 times.
		var sess, days [3]float64
		for _, u := range truth {
			end := cfg.Days
			if len(u.Declines) > 0 {
				end = int(u.Declines[0].Sub(start) / (24 * time.Hour))
			}
			s := int(u.Signup.Sub(start) / (24 * time.Hour))
			if end <= s {
				continue
			}
			days[u.Tier] += float64(end - s)
			for _, e := range events[u.UserID] {
				if e.name == "session_start" && e.day < end {
					sess[u.Tier]++
				}
			}
		}
		p, l := sess[Power]/days[Power], sess[Light]/days[Light]
		if p < 5*l {
			t.Errorf("sessions per day: power %.3f, light %.3f; want power >= 5x light", p, l)
		}
	})

	t.Run("PrecursorsBeforeChurn", func(t *testing.T) {
		// Friction events (support tickets, cancel-page and pricing views)
		// per active event in the 30 days before a churn, against the same
		// ratio over all other user-days. Decliners' friction share rises
		// several-fold (0.35p per session for pricing alone); require 3x.
		friction := map[string]bool{"support_ticket": true, "cancel_page": true, "view_pricing": true}
		var preF, preN, restF, restN float64
		for _, u := range truth {
			pre := map[int]bool{}
			for _, c := range u.Churns {
				cd := int(c.Sub(start) / (24 * time.Hour))
				for d := cd - 30; d < cd; d++ {
					pre[d] = true
				}
			}
			for _, e := range events[u.UserID] {
				f := 0.0
				if friction[e.name] {
					f = 1
				}
				if pre[e.day] {
					preF += f
					preN++
				} else {
					restF += f
					restN++
				}
			}
		}
		if preN < 1000 {
			t.Fatalf("only %v events in pre-churn windows", preN)
		}
		pre, rest := preF/preN, restF/restN
		if pre < 3*rest {
			t.Errorf("friction share before churn %.4f, elsewhere %.4f; want >= 3x", pre, rest)
		}
	})

	t.Run("ChurnedUsersAreSilent", func(t *testing.T) {
		// Between a churn and the next reactivation a user emits nothing but
		// refunds of earlier purchases.
		n := 0
		for _, u := range truth {
			for _, c := range u.Churns {
				cd := int(c.Sub(start) / (24 * time.Hour))
				end := cfg.Days
				for _, r := range u.Reactivations {
					if rd := int(r.Sub(start) / (24 * time.Hour)); rd > cd {
						end = rd
						break
					}
				}
				n++
				for _, e := range events[u.UserID] {
					if e.day >= cd && e.day < end && e.name != "refund" {
						t.Fatalf("user %s churned on day %d but has %s on day %d", u.UserID, cd, e.name, e.day)
					}
				}
			}
		}
		if n == 0 {
			t.Fatal("no churns in 3000 users x 240 days")
		}
	})

	t.Run("WeeklyRhythm", func(t *testing.T) {
		// Email opens happen only on campaign days (Tuesday and Friday).
		for id, evs := range events {
			for _, e := range evs {
				wd := start.AddDate(0, 0, e.day).Weekday()
				if e.name == "email_open" && wd != time.Tuesday && wd != time.Friday {
					t.Fatalf("user %s opened an email on a %s", id, wd)
				}
			}
		}
	})
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Write(ctx, io.Discard, &Config{Users: 10, Days: 10}, CSV)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestPoissonMean(t *testing.T) {
	// The sample mean of n Poisson(lambda) draws has standard error
	// sqrt(lambda/n); allow 5 standard errors.
	g, _ := New(&Config{Users: 1, Days: 1})
	r := g.users[0].rng
	for _, lambda := range []float64{0.05, 1.2, 7, 45} {
		const n = 200_000
		s := 0
		for range n {
			s += poisson(r, lambda)
		}
		mean := float64(s) / n
		if tol := 5 * math.Sqrt(lambda/n); math.Abs(mean-lambda) > tol {
			t.Errorf("poisson(%v) mean = %v, want within %v", lambda, mean, tol)
		}
	}
}

func benchmarkWrite(b *testing.B, users, days int, f Format) {
	cfg := &Config{Users: users, Days: days, Seed: 1}
	var events int64
	var bytesOut countWriter
	for b.Loop() {
		bytesOut = 0
		sum, err := Write(context.Background(), &bytesOut, cfg, f)
		if err != nil {
			b.Fatal(err)
		}
		events = sum.Events
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytesOut)/float64(events), "bytes/event")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func BenchmarkWriteCSVSmall(b *testing.B)   { benchmarkWrite(b, 1000, 90, CSV) }
func BenchmarkWriteCSVMedium(b *testing.B)  { benchmarkWrite(b, 20000, 365, CSV) }
func BenchmarkWriteJSONLSmall(b *testing.B) { benchmarkWrite(b, 1000, 90, JSONL) }
