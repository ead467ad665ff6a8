package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lapse-dev/lapse/features"
)

const (
	cliBegin = "<!-- cli:begin -->\n"
	cliEnd   = "<!-- cli:end -->"
)

// cliReference is the README's CLI section: the overview and every
// command's usage text, as `lapse help` prints them.
func cliReference() string {
	var b strings.Builder
	b.WriteString("```text\n$ lapse help\n")
	b.WriteString(overview())
	b.WriteString("```\n")
	for _, name := range commandNames() {
		b.WriteString("\n### lapse " + name + "\n\n```text\n")
		b.WriteString(usageText(commands[name]))
		b.WriteString("```\n")
	}
	return b.String()
}

// TestREADMEUsage fails when the README's CLI reference differs from the
// current usage text; -update rewrites the section between the markers.
func TestREADMEUsage(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, cliBegin)
	j := strings.Index(readme, cliEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, strings.TrimSpace(cliBegin), cliEnd)
	}
	got := readme[i+len(cliBegin) : j]
	want := cliReference()
	if got == want {
		return
	}
	if *update {
		readme = readme[:i+len(cliBegin)] + want + readme[j:]
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := 0; k < min(len(gl), len(wl)); k++ {
		if gl[k] != wl[k] {
			t.Fatalf("README CLI reference is stale at its line %d:\n got: %q\nwant: %q\n"+
				"run go test ./cmd/lapse -run TestREADMEUsage -update", k+1, gl[k], wl[k])
		}
	}
	t.Fatalf("README CLI reference has %d lines, usage text %d; run go test ./cmd/lapse -run TestREADMEUsage -update", len(gl), len(wl))
}

// TestREADMEFeatures fails when a feature the builder computes is missing
// from the README's feature reference. Names are matched as written there:
// per-window names as `events_{w}d`, usage as `n_{t}_{w}d`, the intent
// families as `pricing_views_{7,30}d`.
func TestREADMEFeatures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	spec := features.DefaultSpec()
	spec.Vocabulary = []string{"page_view"}
	spec.Derive()
	windows := map[string]bool{}
	for _, w := range spec.Windows {
		windows[strconv.Itoa(w)] = true
	}
	families := []string{"cart_without_purchase_", "pricing_views_", "cancel_views_", "support_tickets_"}
	documented := func(name string) bool { return strings.Contains(readme, "`"+name+"`") }
	for _, name := range spec.Names() {
		if documented(name) {
			continue
		}
		pattern := name
		switch {
		case strings.HasPrefix(name, "n_"):
			pattern = "n_{t}_{w}d"
		default:
			for _, f := range families {
				if strings.HasPrefix(name, f) {
					pattern = f + "{7,30}d"
				}
			}
			if pattern == name {
				if i := strings.LastIndex(name, "_"); i > 0 && strings.HasSuffix(name, "d") && windows[name[i+1:len(name)-1]] {
					pattern = name[:i] + "_{w}d"
				}
			}
		}
		if !documented(pattern) {
			t.Errorf("feature %s (as %s) is not in the README's feature reference", name, pattern)
		}
	}
}
