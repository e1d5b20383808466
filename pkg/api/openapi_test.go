package api

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	return doc
}

// The document is OpenAPI 3.1 and passes kin-openapi's validation, which
// checks the 3.1 forms (type arrays, const) against JSON Schema 2020-12.
func TestOpenAPIDocumentIsValid31(t *testing.T) {
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if doc.Info.License == nil || doc.Info.License.Identifier != "Apache-2.0" {
		t.Fatalf("licence %+v", doc.Info.License)
	}
	// Every error status refers to the one error shape (or API Gateway's
	// own, for the answers the stack leaves as they are).
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if code[0] == '2' {
					continue
				}
				if ref := resp.Ref; ref == "" || !strings.HasPrefix(ref, "#/components/responses/") {
					t.Errorf("%s %s: %s is not one of the shared error responses", method, path, code)
				}
			}
			if op.Responses.Value("401") == nil && op.Security == nil {
				t.Errorf("%s %s: authenticated, but no 401", method, path)
			}
		}
	}
}

// The route table (what the API serves and enforces), the README's route
// list and the document name the same routes with the same roles.
func TestRouteTableREADMEAndOpenAPIAgree(t *testing.T) {
	doc := loadOpenAPI(t)
	table := map[string]string{}
	for _, r := range Routes() {
		table[r.Method+" "+r.Path] = rolesText(r)
	}
	fromDoc := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var roles []string
			if raw, ok := op.Extensions["x-certctl-roles"].([]any); ok {
				for _, r := range raw {
					roles = append(roles, r.(string))
				}
			} else {
				t.Errorf("%s %s: no x-certctl-roles", method, path)
			}
			open := op.Security != nil && len(*op.Security) == 0
			if open != (len(roles) == 0) {
				t.Errorf("%s %s: security %v but roles %v", method, path, op.Security, roles)
			}
			fromDoc[method+" "+path] = orNone(roles)
		}
	}
	readme := readmeRoutes(t)
	for key, want := range table {
		if got, ok := fromDoc[key]; !ok || got != want {
			t.Errorf("%s: the API enforces %q, openapi.json says %q", key, want, got)
		}
		if got, ok := readme[key]; !ok || got != want {
			t.Errorf("%s: the API enforces %q, the README says %q", key, want, got)
		}
	}
	for key := range fromDoc {
		if _, ok := table[key]; !ok {
			t.Errorf("openapi.json has %s, the API does not", key)
		}
	}
	for key := range readme {
		if _, ok := table[key]; !ok {
			t.Errorf("the README has %s, the API does not", key)
		}
	}
}

// rolesText is a route's roles as the README writes them: admin last,
// always present, or "none" for an open route.
func rolesText(r Route) string {
	if r.Open {
		return "none"
	}
	var names []string
	for _, role := range r.Roles {
		names = append(names, string(role))
	}
	if !slices.Contains(names, "admin") {
		names = append(names, "admin")
	}
	return strings.Join(names, ", ")
}

func orNone(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}

// readmeRoutes reads the rows between the README's route-table markers:
// | `METHOD` | `path` | roles |
func readmeRoutes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "<!-- routes:begin -->"):
			in = true
		case strings.Contains(line, "<!-- routes:end -->"):
			in = false
		case in && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			out[strings.Trim(strings.TrimSpace(cells[1]), "`")+" "+strings.Trim(strings.TrimSpace(cells[2]), "`")] = strings.TrimSpace(cells[3])
		}
	}
	if len(out) == 0 {
		t.Fatal("no route table between the README's routes markers")
	}
	return out
}

// The query parameters openapi.json documents for an operation are exactly
// the ones the route takes (any other is a 400 before the handler runs).
func TestOpenAPIQueryParametersMatchRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, rt := range routeTable {
		item := doc.Paths.Find(rt.Path)
		if item == nil {
			t.Errorf("%s %s: not in openapi.json", rt.Method, rt.Path)
			continue
		}
		op := item.GetOperation(rt.Method)
		if op == nil {
			t.Errorf("%s %s: not in openapi.json", rt.Method, rt.Path)
			continue
		}
		var documented []string
		for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
			if p.Value != nil && p.Value.In == "query" {
				documented = append(documented, p.Value.Name)
			}
		}
		slices.Sort(documented)
		taken := slices.Sorted(slices.Values(rt.query))
		if !slices.Equal(documented, taken) {
			t.Errorf("%s %s: openapi.json documents query %v, the route takes %v", rt.Method, rt.Path, documented, taken)
		}
	}
}
