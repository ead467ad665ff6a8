package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
