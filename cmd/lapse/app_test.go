package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the golden files (the committed sample, the features
// golden, the README's CLI section) instead of comparing with them.
var update = flag.Bool("update", false, "rewrite golden files and the README CLI section")

// result is what one in-process run of the program produced.
type result struct {
	code           int
	stdout, stderr string
}

// runLapse runs the program in-process with args and stdin.
func runLapse(tb testing.TB, stdin string, args ...string) result {
	tb.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// mustRun runs the program and fails the test unless it exits with want.
func mustRun(tb testing.TB, want int, args ...string) result {
	tb.Helper()
	r := runLapse(tb, "", args...)
	if r.code != want {
		tb.Fatalf("lapse %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func TestHelp(t *testing.T) {
	t.Run("Overview", func(t *testing.T) {
		r := mustRun(t, 0, "help")
		for _, name := range commandNames() {
			if !strings.Contains(r.stdout, "\n  "+name+" ") {
				t.Errorf("lapse help does not list %s:\n%s", name, r.stdout)
			}
		}
	})
	t.Run("NoArgs", func(t *testing.T) {
		r := mustRun(t, 2)
		if !strings.Contains(r.stderr, "Commands:") {
			t.Errorf("lapse with no arguments printed %q", r.stderr)
		}
	})
	t.Run("UnknownCommand", func(t *testing.T) {
		r := mustRun(t, 2, "frobnicate")
		if !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "Commands:") {
			t.Errorf("stderr = %q", r.stderr)
		}
		mustRun(t, 2, "help", "frobnicate")
	})
	// Every command's usage lists every flag with its default and has an
	// example; `help <cmd>` and `<cmd> -h` print the same text.
	for _, name := range commandNames() {
		t.Run("Command/"+name, func(t *testing.T) {
			a := mustRun(t, 0, "help", name).stdout
			b := mustRun(t, 0, name, "-h").stdout
			c := mustRun(t, 0, name, "--help").stdout
			if a != b || a != c {
				t.Fatalf("help %s, %s -h and %s --help differ:\n%s\n---\n%s", name, name, name, a, b)
			}
			if !strings.Contains(a, "Examples:\n  $ lapse "+name) {
				t.Errorf("usage of %s has no example:\n%s", name, a)
			}
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			commands[name].Setup(fs)
			addLogFlags(fs)
			fs.VisitAll(func(f *flag.Flag) {
				i := strings.Index(a, "\n  --"+f.Name)
				if i < 0 {
					t.Errorf("usage of %s does not list --%s", name, f.Name)
					return
				}
				entry := a[i+1:]
				if j := strings.Index(entry[1:], "\n  --"); j >= 0 {
					entry = entry[:j+1]
				}
				if !strings.Contains(entry, "(default") && !strings.Contains(entry, "(required)") {
					t.Errorf("usage of %s: --%s has neither a default nor (required): %q", name, f.Name, entry)
				}
			})
		})
	}
	// A command's own flag named like an event-input flag (gen's output
	// --format) is listed with the command's flags, the input flags of
	// the readers in their own section.
	t.Run("FlagGroups", func(t *testing.T) {
		section := func(usage, flagName string) string {
			i := strings.Index(usage, "\n  --"+flagName+" ")
			if i < 0 {
				return ""
			}
			j := strings.LastIndex(usage[:i], "\n\n")
			return strings.TrimSpace(usage[j : j+strings.Index(usage[j+2:], "\n")+2])
		}
		tests := []struct{ cmd, flag, want string }{
			{"gen", "format", "Flags:"},
			{"gen", "log-level", "Logging flags:"},
			{"features", "format", "Event input flags:"},
			{"features", "events", "Event input flags:"},
			{"features", "as-of", "Flags:"},
		}
		for _, tt := range tests {
			if got := section(usageText(commands[tt.cmd]), tt.flag); got != tt.want {
				t.Errorf("lapse %s: --%s is under %q, want %q", tt.cmd, tt.flag, got, tt.want)
			}
		}
	})
	t.Run("BadFlag", func(t *testing.T) {
		r := mustRun(t, 2, "gen", "--no-such-flag")
		if !strings.Contains(r.stderr, "no-such-flag") || !strings.Contains(r.stderr, "Usage:") {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
}

func TestVersion(t *testing.T) {
	old := version
	version = "v9.8.7"
	defer func() { version = old }()
	r := mustRun(t, 0, "version")
	if r.stdout != "lapse v9.8.7\n" {
		t.Errorf("lapse version = %q", r.stdout)
	}
}

func TestLogFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "e.csv")
	r := mustRun(t, 0, "gen", "--users", "3", "--days", "2", "--out", out, "--log-format", "json")
	if !strings.HasPrefix(r.stderr, `{"time":`) || !strings.Contains(r.stderr, `"msg":"generated history"`) {
		t.Errorf("json log = %q", r.stderr)
	}
	r = mustRun(t, 0, "gen", "--users", "3", "--days", "2", "--out", out, "--log-level", "warn")
	if r.stderr != "" {
		t.Errorf("--log-level warn still logged %q", r.stderr)
	}
	mustRun(t, 2, "gen", "--users", "3", "--days", "2", "--out", out, "--log-level", "loud")
	mustRun(t, 2, "gen", "--users", "3", "--days", "2", "--out", out, "--log-format", "xml")
}

func TestGen(t *testing.T) {
	dir := t.TempDir()
	t.Run("Formats", func(t *testing.T) {
		csvPath := filepath.Join(dir, "a.csv")
		mustRun(t, 0, "gen", "--users", "40", "--days", "10", "--seed", "3", "--out", csvPath)
		data, err := os.ReadFile(csvPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "user_id,event,timestamp,amount\nu") {
			t.Errorf("CSV starts %q", data[:min(60, len(data))])
		}
		// Stdout gets the same bytes.
		r := mustRun(t, 0, "gen", "--users", "40", "--days", "10", "--seed", "3", "--out", "-")
		if r.stdout != string(data) {
			t.Error("--out - differs from --out a.csv")
		}
		r = mustRun(t, 0, "gen", "--users", "40", "--days", "10", "--seed", "3", "--out", "-", "--format", "jsonl")
		if !strings.HasPrefix(r.stdout, `{"user_id":"u`) {
			t.Errorf("JSONL starts %q", r.stdout[:min(60, len(r.stdout))])
		}
		gz := filepath.Join(dir, "a.jsonl.gz")
		mustRun(t, 0, "gen", "--users", "40", "--days", "10", "--seed", "3", "--out", gz)
		raw, err := os.ReadFile(gz)
		if err != nil || len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
			t.Errorf("%s is not gzip: %v", gz, err)
		}
	})
	t.Run("UsageErrors", func(t *testing.T) {
		for _, args := range [][]string{
			{"gen", "--users", "10"},                                      // no --out
			{"gen", "--users", "0", "--out", "-"},                         // no users
			{"gen", "--out", filepath.Join(dir, "x.parquet")},             // unknown format
			{"gen", "--out", "-", "--format", "xml"},                      // unknown format
			{"gen", "--out", "-", "extra"},                                // stray argument
			{"gen", "--out", "-", "--start", "1900-01-01", "--days", "1"}, // out of range
		} {
			if r := runLapse(t, "", args...); r.code != 2 {
				t.Errorf("lapse %q: exit %d, want 2; stderr %q", args, r.code, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "x.parquet")); err == nil {
			t.Error("a failed gen left its output file")
		}
	})
	t.Run("UnwritableOutput", func(t *testing.T) {
		r := runLapse(t, "", "gen", "--users", "3", "--days", "2", "--out", filepath.Join(dir, "no", "such", "dir.csv"))
		if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// The committed sample is exactly what `lapse gen` writes with the
// documented arguments; -update regenerates it.
func TestSampleGolden(t *testing.T) {
	golden := filepath.Join("..", "..", "testdata", "sample_events.csv")
	out := filepath.Join(t.TempDir(), "sample_events.csv")
	if *update {
		out = golden
	}
	mustRun(t, 0, sampleArgs(out)...)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/lapse -run TestSampleGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("lapse %s differs from %s (%d vs %d bytes); if the generator changed on purpose, "+
			"run go test ./cmd/lapse -run TestSampleGolden -update and review the diff", strings.Join(sampleArgs(golden), " "), golden, len(got), len(want))
	}
	if len(want) >= 1<<20 {
		t.Errorf("%s is %d bytes, want under 1 MiB", golden, len(want))
	}
}

// sampleArgs are the arguments that produce testdata/sample_events.csv.
func sampleArgs(out string) []string {
	return []string{"gen", "--users", "300", "--days", "120", "--seed", "7", "--start", "2025-01-01", "--out", out}
}
