package serving

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestOpenAPIMatchesRoutes keeps openapi.yaml true: the document has
// exactly the registered routes (path and method), each with the role the
// route table gives it (x-lapse-role), every path parameter declared, and
// every $ref resolving. When it fails after adding a route, describe the
// route in openapi.yaml.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml is not valid YAML: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	f := newFixture(t, Config{})
	type op struct{ method, path, role string }
	var registered, documented []op
	for _, r := range f.srv.Routes() {
		registered = append(registered, op{r.Method, r.Path, r.Role.String()})
	}
	// gin's own view of its routes must match the table too.
	var gin []string
	for _, r := range f.srv.engine.Routes() {
		gin = append(gin, r.Method+" "+openAPIPath(r.Path))
	}
	var table []string
	for _, r := range registered {
		table = append(table, r.method+" "+r.path)
	}
	slices.Sort(gin)
	slices.Sort(table)
	if !slices.Equal(gin, table) {
		t.Errorf("gin routes %v, table %v", gin, table)
	}
	params := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths {
		declared := map[string]bool{}
		collect := func(v any) {
			list, _ := v.([]any)
			for _, p := range list {
				m, _ := p.(map[string]any)
				if m["in"] == "path" {
					declared[m["name"].(string)] = true
				}
				if ref, ok := m["$ref"].(string); ok && ref == "#/components/parameters/UserID" {
					declared["id"] = true
				}
			}
		}
		collect(item["parameters"])
		for method, o := range item {
			if method == "parameters" {
				continue
			}
			om, _ := o.(map[string]any)
			role, _ := om["x-lapse-role"].(string)
			documented = append(documented, op{strings.ToUpper(method), path, role})
			collect(om["parameters"])
		}
		for _, m := range params.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared", path, m[1])
			}
		}
	}
	key := func(a, b op) int { return strings.Compare(a.method+a.path, b.method+b.path) }
	slices.SortFunc(registered, key)
	slices.SortFunc(documented, key)
	if !slices.Equal(registered, documented) {
		t.Errorf("routes and openapi.yaml differ (describe new routes in serving/openapi.yaml):\nregistered %v\ndocumented %v",
			registered, documented)
	}
	// Every $ref points at a defined component.
	var all map[string]any
	if err := yaml.Unmarshal(openAPI, &all); err != nil {
		t.Fatal(err)
	}
	comps, _ := all["components"].(map[string]any)
	for _, m := range regexp.MustCompile(`\$ref: "#/components/([a-zA-Z]+)/([a-zA-Z]+)"`).FindAllStringSubmatch(string(openAPI), -1) {
		sect, _ := comps[m[1]].(map[string]any)
		if _, ok := sect[m[2]]; !ok {
			t.Errorf("$ref #/components/%s/%s is not defined", m[1], m[2])
		}
	}
}
