package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/lapse-dev/lapse"

// importRules is the import direction of docs/DESIGN.md. A package follows
// the rule with the longest matching prefix (so features/synth follows its
// own rule, serving/store its own, and a new serving/x follows serving's).
// project lists the project packages (by prefix) it may import; third the
// third-party module paths (by prefix). The standard library is always fine.
var importRules = []struct {
	pkg     string
	project []string
	third   []string
}{
	{"features", nil, nil},
	{"features/synth", []string{"features"}, nil},
	{"model", []string{"model"}, []string{"gonum.org/v1/gonum"}},
	{"model/lift", nil, []string{"gonum.org/v1/gonum"}},
	{"model/btyd", nil, []string{"gonum.org/v1/gonum"}},
	{"internal/chart", nil, nil},
	{"internal/benchdata", []string{"features"}, nil},
	{"training", []string{"features", "model", "internal/chart"},
		[]string{"gonum.org/v1/gonum", "github.com/sjwhitworth/golearn"}},
	{"serving", []string{"features", "model", "serving", "internal/chart"},
		[]string{"github.com/gin-gonic/gin", "github.com/prometheus/"}},
	{"serving/store", []string{"features", "model"}, []string{"go.etcd.io/bbolt"}},
	{"internal", nil, nil},
}

// hasPathPrefix reports whether p is prefix or below it.
func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/") || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(p, prefix))
}

// TestImports checks the import direction of every non-main package with
// `go list -json ./...` (non-test imports). `make lint` runs it.
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Standard,Name", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type pkg struct {
		ImportPath string
		Name       string
		Imports    []string
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		rel, ok := strings.CutPrefix(p.ImportPath, modulePath+"/")
		if !ok || p.Name == "main" || strings.HasPrefix(rel, "cmd/") {
			continue
		}
		best := -1
		for i, r := range importRules {
			if hasPathPrefix(rel, r.pkg) && (best < 0 || len(r.pkg) > len(importRules[best].pkg)) {
				best = i
			}
		}
		if best < 0 {
			t.Errorf("package %s has no import rule: add one to importRules and docs/DESIGN.md", rel)
			continue
		}
		rule := importRules[best]
		checked++
		var bad []string
		for _, imp := range p.Imports {
			if irel, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
				allowed := false
				for _, a := range rule.project {
					allowed = allowed || hasPathPrefix(irel, a)
				}
				if !allowed && !hasPathPrefix(irel, rel) { // a package's own subpackages are its business
					bad = append(bad, irel)
				}
				continue
			}
			if first, _, _ := strings.Cut(imp, "/"); !strings.Contains(first, ".") {
				continue // standard library
			}
			allowed := false
			for _, a := range rule.third {
				allowed = allowed || hasPathPrefix(imp, a)
			}
			if !allowed {
				bad = append(bad, imp)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("%s imports %s; its rule (%q) allows project %v and third-party %v (docs/DESIGN.md)",
				rel, strings.Join(bad, ", "), rule.pkg, rule.project, rule.third)
		}
	}
	if checked == 0 {
		t.Fatal("go list found no project packages")
	}
}

// The checker itself: a violation is reported, an allowed import is not.
func TestHasPathPrefix(t *testing.T) {
	tests := []struct {
		p, prefix string
		want      bool
	}{
		{"model", "model", true},
		{"model/lift", "model", true},
		{"modelx", "model", false},
		{"serving/store", "serving", true},
		{"github.com/prometheus/client_golang/prometheus", "github.com/prometheus/", true},
		{"gonum.org/v1/gonum/mat", "gonum.org/v1/gonum", true},
		{"gonum.org/v1/gonumx", "gonum.org/v1/gonum", false},
	}
	for _, tt := range tests {
		if got := hasPathPrefix(tt.p, tt.prefix); got != tt.want {
			t.Errorf("hasPathPrefix(%q, %q) = %v, want %v", tt.p, tt.prefix, got, tt.want)
		}
	}
}
